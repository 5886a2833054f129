//! The function library policy expressions call, beside minijinja's own
//! filters (`lower`, `upper`, `title`, `trim`, `replace`, `join`, `split`,
//! `default`, `first`, `last`, `length`, slicing `s[:3]`, …). Modelled on
//! Entra ID's attribute-mapping functions; each name is usable as a filter
//! (`last | left(5)`) and, where it reads better, as a function
//! (`coalesce(nickname, first)`). docs/identities.md lists them all.

use super::Tables;
use super::dates;
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Compiled regular expressions kept per environment (patterns are
/// literals in the configuration, so there are few).
const REGEX_CACHE: usize = 256;
/// Compiled size one pattern may reach (the regex crate's own bound; its
/// matching is linear in the input, so no pattern backtracks forever).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Names of the library's functions (not inputs when a value is explained).
pub const NAMES: &[&str] = &[
    "left",
    "right",
    "mid",
    "strip_spaces",
    "normalize_diacritics",
    "regex_replace",
    "coalesce",
    "switch",
    "lookup",
    "is_present",
    "date_parse",
    "date_format",
    "date_add",
];

pub fn register(env: &mut Environment<'static>, tables: &Tables) {
    env.add_filter("left", left);
    env.add_filter("right", right);
    env.add_filter("mid", mid);
    env.add_filter("strip_spaces", strip_spaces);
    env.add_filter("normalize_diacritics", normalize_diacritics);
    env.add_function("normalize_diacritics", normalize_diacritics);
    let cache: Arc<Mutex<HashMap<String, Regex>>> = Arc::default();
    env.add_filter(
        "regex_replace",
        move |value: String, pattern: String, replacement: String| {
            regex_replace(&cache, &value, &pattern, &replacement)
        },
    );
    env.add_function("coalesce", coalesce);
    env.add_function("switch", switch);
    env.add_filter("switch", switch);
    let tables = Arc::new(tables.clone());
    let for_filter = Arc::clone(&tables);
    env.add_filter(
        "lookup",
        move |key: Value, table: String, default: Option<Value>| {
            lookup(&for_filter, &key, &table, default)
        },
    );
    env.add_function(
        "lookup",
        move |table: String, key: Value, default: Option<Value>| {
            lookup(&tables, &key, &table, default)
        },
    );
    env.add_function("is_present", |value: Value| is_present(&value));
    env.add_test("present", |value: Value| is_present(&value));
    env.add_filter("date_parse", dates::parse);
    env.add_function("date_parse", dates::parse);
    env.add_filter("date_format", dates::format);
    env.add_function("date_format", dates::format);
    env.add_filter("date_add", dates::add);
    env.add_function("date_add", dates::add);
}

/// Whether a value is there: not undefined, none, blank text or empty.
pub fn is_present(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        ValueKind::String => value.as_str().is_some_and(|s| !s.trim().is_empty()),
        ValueKind::Seq | ValueKind::Map => value.len().is_some_and(|n| n > 0),
        _ => true,
    }
}

/// The first `n` characters.
fn left(value: String, n: usize) -> String {
    value.chars().take(n).collect()
}

/// The last `n` characters.
fn right(value: String, n: usize) -> String {
    let count = value.chars().count();
    value.chars().skip(count.saturating_sub(n)).collect()
}

/// `length` characters from `start`, counting from 1 (Entra's `Mid`).
fn mid(value: String, start: usize, length: usize) -> Result<String, Error> {
    if start == 0 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "mid counts from 1: the first character is mid(1, n)",
        ));
    }
    Ok(value.chars().skip(start - 1).take(length).collect())
}

/// Every whitespace character removed.
fn strip_spaces(value: String) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Accents and ligatures folded to ASCII letters (`Zoë Ødegård` →
/// `Zoe Odegard`, `Straße` → `Strasse`); other characters are kept.
pub fn normalize_diacritics(value: String) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => out.push_str("ss"),
            'Æ' => out.push_str("AE"),
            'æ' => out.push_str("ae"),
            'Œ' => out.push_str("OE"),
            'œ' => out.push_str("oe"),
            'Ø' => out.push('O'),
            'ø' => out.push('o'),
            'Đ' | 'Ð' => out.push('D'),
            'đ' | 'ð' => out.push('d'),
            'Ł' => out.push('L'),
            'ł' => out.push('l'),
            'Þ' => out.push_str("TH"),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(
    cache: &Mutex<HashMap<String, Regex>>,
    value: &str,
    pattern: &str,
    replacement: &str,
) -> Result<String, Error> {
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let regex = match cache.get(pattern) {
        Some(regex) => regex.clone(),
        None => {
            let regex = regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("regex_replace: the pattern {pattern:?} is not valid: {e}"),
                    )
                })?;
            if cache.len() >= REGEX_CACHE {
                cache.clear();
            }
            cache.insert(pattern.to_owned(), regex.clone());
            regex
        }
    };
    drop(cache);
    Ok(regex.replace_all(value, replacement).into_owned())
}

/// The first argument that is present (see [`is_present`]).
fn coalesce(values: Rest<Value>) -> Value {
    values
        .iter()
        .find(|v| is_present(v))
        .cloned()
        .unwrap_or(Value::from(()))
}

/// `switch(value, default, key1, result1, key2, result2, …)`: the result
/// paired with the first key equal to `value`, else `default` (Entra's
/// `Switch`).
fn switch(value: Value, default: Value, pairs: Rest<Value>) -> Result<Value, Error> {
    if !pairs.len().is_multiple_of(2) {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            "switch takes a value, a default, then keys and results in pairs",
        ));
    }
    Ok(pairs
        .chunks(2)
        .find(|pair| pair[0] == value)
        .map(|pair| pair[1].clone())
        .unwrap_or(default))
}

/// The value `key` has in the operator table `table` (`[tables.<name>]`),
/// else `default`, else undefined.
fn lookup(
    tables: &Tables,
    key: &Value,
    table: &str,
    default: Option<Value>,
) -> Result<Value, Error> {
    let Some(entries) = tables.get(table) else {
        let known: Vec<&str> = tables.keys().map(String::as_str).collect();
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "lookup: there is no table `{table}` (tables: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let key = key.to_string();
    Ok(match entries.get(&key) {
        Some(found) => Value::from(found.as_str()),
        None => default.unwrap_or(Value::UNDEFINED),
    })
}
