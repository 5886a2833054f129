//! What changed between two configurations, key by key, and which of
//! those changes a running host can take without a restart.
//!
//! The comparison is on the file as written (its TOML), so a change is
//! named the way the operator wrote it: `targets.hr.retry.max_attempts`.

use super::Config;
use toml::{Table, Value};

/// The keys of a target a reload applies: its policies. Everything else
/// of a target (its connector, grants, secrets, class, concurrency, …)
/// shapes the instances it runs and needs a restart.
pub const LIVE_TARGET_KEYS: &[&str] = &[
    "approval",
    "protected",
    "retry",
    "quarantine",
    "rate_limit",
    "on_delete",
    "max_attributes",
    "membership",
    "health",
];

/// The changes from one configuration to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Every key added, removed or changed, sorted.
    pub keys: Vec<String>,
}

impl Changes {
    pub fn between(old: &Config, new: &Config) -> Changes {
        let mut keys = Vec::new();
        diff("", &old.raw, &new.raw, &mut keys);
        keys.sort();
        Changes { keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The changed keys a running host cannot apply.
    pub fn needing_restart(&self) -> Vec<&str> {
        self.keys
            .iter()
            .map(String::as_str)
            .filter(|key| !is_live(key))
            .collect()
    }
}

/// Whether a change of `key` can be applied while the host runs.
fn is_live(key: &str) -> bool {
    if key == "tokens" {
        return true;
    }
    let mut parts = key.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("targets"), Some(_), Some(rest)) => {
            let first = rest.split('.').next().unwrap_or(rest);
            LIVE_TARGET_KEYS.contains(&first)
        }
        _ => false,
    }
}

fn diff(prefix: &str, old: &Table, new: &Table, keys: &mut Vec<String>) {
    for (key, before) in old {
        let path = join(prefix, key);
        match (before, new.get(key)) {
            (_, None) => keys.push(path),
            (Value::Table(a), Some(Value::Table(b))) => diff(&path, a, b, keys),
            (a, Some(b)) if a != b => keys.push(path),
            _ => {}
        }
    }
    for key in new.keys().filter(|key| !old.contains_key(*key)) {
        keys.push(join(prefix, key));
    }
}

fn join(prefix: &str, key: &str) -> String {
    let key = if key.contains('.') || key.is_empty() {
        format!("{key:?}")
    } else {
        key.to_owned()
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("provisio.toml"), Path::new(".")).unwrap()
    }

    const BASE: &str = r#"
[server]
insecure_no_auth = true
[targets.hr]
connector = "bundled:csv"
approval = true
[targets.hr.retry]
max_attempts = 5
[targets.hr.config]
"account.key" = "id"
"#;

    #[test]
    fn names_each_changed_key_the_way_the_file_spells_it() {
        let changed = config(&BASE.replace("max_attempts = 5", "max_attempts = 9"));
        let changes = Changes::between(&config(BASE), &changed);
        assert_eq!(changes.keys, ["targets.hr.retry.max_attempts"]);
        assert!(changes.needing_restart().is_empty());
    }

    #[test]
    fn a_connector_setting_or_a_new_target_needs_a_restart() {
        let changed = config(&format!(
            "{}\"account.name\" = \"userName\"\n[targets.crm]\nconnector = \"bundled:csv\"\n",
            BASE.replace("approval = true", "approval = false")
        ));
        let changes = Changes::between(&config(BASE), &changed);
        assert_eq!(
            changes.keys,
            [
                "targets.crm",
                "targets.hr.approval",
                "targets.hr.config.\"account.name\""
            ]
        );
        assert_eq!(
            changes.needing_restart(),
            ["targets.crm", "targets.hr.config.\"account.name\""]
        );
    }

    #[test]
    fn the_same_file_changes_nothing() {
        assert!(Changes::between(&config(BASE), &config(BASE)).is_empty());
    }
}
