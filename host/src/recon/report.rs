//! A run as CSV, one row per item: what an auditor opens in a spreadsheet.

use super::model::Item;

pub const COLUMNS: [&str; 10] = [
    "seq",
    "situation",
    "uid",
    "name",
    "identity",
    "reaction",
    "why",
    "differences",
    "result",
    "detail",
];

/// A value as a person reads it: text as itself, no value as `(none)`.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(none)".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows for `items` (with the header when `header`).
pub fn csv_report(items: &[(i64, Item)], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(COLUMNS)?;
    }
    for (seq, item) in items {
        let differences: Vec<String> = item
            .diffs
            .iter()
            .map(|d| {
                format!(
                    "{}: {} -> {}",
                    d.attribute,
                    shown(&d.actual),
                    shown(&d.expected)
                )
            })
            .collect();
        let outcome = item.outcome.as_ref();
        writer.write_record([
            seq.to_string(),
            item.situation.as_str().to_owned(),
            item.uid.clone(),
            item.name.clone().unwrap_or_default(),
            item.identity.clone().unwrap_or_default(),
            item.reaction.as_str().to_owned(),
            item.why.clone(),
            differences.join("; "),
            outcome
                .map(|o| serde_json::to_value(o.result).unwrap_or_default())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            outcome.map(|o| o.detail.clone()).unwrap_or_default(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}
