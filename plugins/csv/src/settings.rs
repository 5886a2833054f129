//! The connector's configuration, read once per instance.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `classes` | `account,group` | object classes, one CSV file each |
//! | `<class>.file` | `<class>s.csv` | file name inside the granted directory |
//! | `<class>.key` | `id` | key column: the object's uid, unique, immutable |
//! | `<class>.name` | the key column | naming column (`__name__`), unique |
//! | `<class>.enable` | none | column holding `__enable__` |
//! | `<class>.multivalued` | none | columns holding several values |
//! | `<class>.references` | none | columns holding uids of other objects |
//! | `<class>.columns` | none | header used to create the file if missing |
//! | `separator` | `\|` | between the values of a multi-valued cell |
//! | `delimiter` | `,` | between cells |
//! | `true` / `false` | `true` / `false` | how booleans are written |
//! | `sync.keep` | `16` | sync snapshots kept per class |

use provisio_sdk::{Config, Error};

/// Where the host mounts the granted directory.
pub const DATA_DIR: &str = "/data";

#[derive(Debug, Clone)]
pub struct Settings {
    pub classes: Vec<ClassSettings>,
    pub separator: char,
    pub delimiter: u8,
    pub true_text: String,
    pub false_text: String,
    pub snapshots_kept: usize,
    /// The host run this instance serves, which its lock files name.
    pub host_run: Option<provisio_sdk::HostRun>,
}

#[derive(Debug, Clone)]
pub struct ClassSettings {
    pub class: String,
    pub file: String,
    pub key: String,
    pub name: String,
    pub enable: Option<String>,
    pub multivalued: Vec<String>,
    pub references: Vec<String>,
    pub columns: Vec<String>,
}

impl ClassSettings {
    pub fn path(&self) -> String {
        format!("{DATA_DIR}/{}", self.file)
    }

    pub fn is_multivalued(&self, column: &str) -> bool {
        self.multivalued
            .iter()
            .any(|c| c.eq_ignore_ascii_case(column))
            || self.is_reference(column)
    }

    pub fn is_reference(&self, column: &str) -> bool {
        self.references
            .iter()
            .any(|c| c.eq_ignore_ascii_case(column))
    }
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let mut classes = Vec::new();
        let class_names = match config.get("classes") {
            Some(_) => config.list("classes", ','),
            None => vec!["account".to_owned(), "group".to_owned()],
        };
        if class_names.is_empty() {
            return Err(Error::invalid("configuration key `classes` names no class"));
        }
        for class in class_names {
            let key = config
                .get(&format!("{class}.key"))
                .unwrap_or_else(|| "id".to_owned());
            let file = config
                .get(&format!("{class}.file"))
                .unwrap_or_else(|| format!("{class}s.csv"));
            if file.is_empty() || file.contains('/') || file.contains('\\') || file.starts_with('.')
            {
                return Err(Error::invalid(format!(
                    "configuration key `{class}.file`: {file:?} must be a plain file name inside the granted directory"
                )));
            }
            classes.push(ClassSettings {
                name: config
                    .get(&format!("{class}.name"))
                    .unwrap_or_else(|| key.clone()),
                enable: config
                    .get(&format!("{class}.enable"))
                    .filter(|s| !s.is_empty()),
                multivalued: config.list(&format!("{class}.multivalued"), ','),
                references: config.list(&format!("{class}.references"), ','),
                columns: config.list(&format!("{class}.columns"), ','),
                class,
                file,
                key,
            });
        }
        let separator = single_char(config, "separator", '|')?;
        let delimiter = single_char(config, "delimiter", ',')?;
        if !delimiter.is_ascii() || delimiter == separator || delimiter == '"' {
            return Err(Error::invalid(
                "configuration key `delimiter` must be one ASCII character other than `\"` and the separator",
            ));
        }
        let true_text = config.get("true").unwrap_or_else(|| "true".to_owned());
        let false_text = config.get("false").unwrap_or_else(|| "false".to_owned());
        if true_text.eq_ignore_ascii_case(&false_text) {
            return Err(Error::invalid(
                "configuration keys `true` and `false` must differ",
            ));
        }
        Ok(Settings {
            classes,
            separator,
            delimiter: delimiter as u8,
            true_text,
            false_text,
            snapshots_kept: config.parse_or("sync.keep", 16usize)?.max(1),
            host_run: config.host_run(),
        })
    }

    pub fn class(&self, class: &str) -> Result<&ClassSettings, Error> {
        self.classes
            .iter()
            .find(|c| c.class.eq_ignore_ascii_case(class))
            .ok_or_else(|| {
                let known: Vec<&str> = self.classes.iter().map(|c| c.class.as_str()).collect();
                Error::not_found(format!(
                    "no object class `{class}` (this target has: {})",
                    known.join(", ")
                ))
            })
    }
}

fn single_char(config: &Config, key: &str, default: char) -> Result<char, Error> {
    match config.get(key) {
        None => Ok(default),
        Some(raw) => {
            let mut chars = raw.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(Error::invalid(format!(
                    "configuration key `{key}` must be exactly one character, got {raw:?}"
                ))),
            }
        }
    }
}
