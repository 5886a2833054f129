//! Dates in policy expressions. A date is text: RFC 3339 in UTC
//! (`2026-12-02T09:30:00Z`), so that dates compare as strings do
//! (`end_date < now`). Input may also be a calendar date (`2026-12-02`,
//! midnight UTC) or any layout given as a `time` format description
//! (`"[day]/[month]/[year]"`).

use minijinja::{Error, ErrorKind};
use time::format_description::{self, well_known::Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// A date (RFC 3339, a calendar date, or `format`) as RFC 3339 UTC.
pub fn parse(value: String, format: Option<String>) -> Result<String, Error> {
    Ok(canonical(read(&value, format.as_deref())?))
}

/// A date laid out with a `time` format description
/// (`"[year][month][day][hour][minute][second].0Z"` for LDAP's
/// GeneralizedTime).
pub fn format(value: String, layout: String) -> Result<String, Error> {
    let at = read(&value, None)?;
    let description = format_description::parse_borrowed::<2>(&layout).map_err(|e| {
        invalid(format!(
            "date_format: the layout {layout:?} is not valid: {e}"
        ))
    })?;
    at.format(&description)
        .map_err(|e| invalid(format!("date_format: cannot lay out {value:?}: {e}")))
}

/// A date moved by a duration (`"30d"`, `"12h"`, `"-90d"`).
pub fn add(value: String, by: String) -> Result<String, Error> {
    let at = read(&value, None)?;
    let (negative, amount) = match by.trim().strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, by.trim()),
    };
    let duration = humantime::parse_duration(amount).map_err(|e| {
        invalid(format!(
            "date_add: {by:?} is not a duration such as \"30d\" or \"-12h\": {e}"
        ))
    })?;
    let duration = time::Duration::try_from(duration)
        .map_err(|_| invalid(format!("date_add: {by:?} is too long")))?;
    let moved = if negative {
        at.checked_sub(duration)
    } else {
        at.checked_add(duration)
    };
    moved
        .map(canonical)
        .ok_or_else(|| invalid(format!("date_add: {value} moved by {by} is out of range")))
}

/// The canonical text of a moment: RFC 3339 in UTC, whole seconds.
pub fn canonical(at: OffsetDateTime) -> String {
    let at = at
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

/// Reads a moment: RFC 3339, a calendar date, or `layout`.
pub fn read(value: &str, layout: Option<&str>) -> Result<OffsetDateTime, Error> {
    let value = value.trim();
    if let Some(layout) = layout {
        let description = format_description::parse_borrowed::<2>(layout).map_err(|e| {
            invalid(format!(
                "date_parse: the layout {layout:?} is not valid: {e}"
            ))
        })?;
        if let Ok(at) = OffsetDateTime::parse(value, &description) {
            return Ok(at);
        }
        if let Ok(at) = PrimitiveDateTime::parse(value, &description) {
            return Ok(at.assume_utc());
        }
        return Date::parse(value, &description)
            .map(|d| d.midnight().assume_utc())
            .map_err(|e| {
                invalid(format!(
                    "date_parse: {value:?} does not match {layout:?}: {e}"
                ))
            });
    }
    if let Ok(at) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(at);
    }
    let calendar =
        format_description::parse_borrowed::<2>("[year]-[month]-[day]").expect("a valid layout");
    Date::parse(value, &calendar)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            invalid(format!(
                "{value:?} is not a date (RFC 3339 such as 2026-12-02T09:30:00Z, or 2026-12-02); give date_parse a layout for others"
            ))
        })
}
