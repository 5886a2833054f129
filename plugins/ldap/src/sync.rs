//! Changes since a token: entries by `entryCSN`, deletes from OpenLDAP's
//! accesslog (when `sync.accesslog_base` is set).
//!
//! The token is `v1|<last entryCSN>|<last accesslog reqStart>`. A CSN is
//! unique per change and carries microseconds, so two changes in the same
//! second are two positions and neither is skipped. A change is reported
//! once it is more than a second old, so one whose CSN was taken before
//! another's but that was written after it is still seen.

use crate::directory::Directory;
use crate::settings::ClassSettings;
use provisio_sdk::ldap::{self, Scope, SearchRequest};
use provisio_sdk::{DeltaKind, Error, SyncBatch, SyncDelta, SyncRequest};

const PREFIX: &str = "v1|";
/// `YYYYMMDDhhmmss`: the part of a CSN or reqStart that is wall time.
const SECONDS: usize = 14;

#[derive(Clone, Default)]
struct Position {
    csn: String,
    log: String,
}

fn parse(token: Option<&str>) -> Result<Position, Error> {
    let Some(token) = token else {
        return Ok(Position::default());
    };
    let rest = token.strip_prefix(PREFIX).ok_or_else(|| {
        Error::invalid(format!(
            "sync token {token:?} was not made by this connector"
        ))
    })?;
    if rest.is_empty() {
        return Ok(Position::default());
    }
    let (csn, log) = rest
        .split_once('|')
        .ok_or_else(|| Error::invalid(format!("sync token {token:?} is damaged")))?;
    Ok(Position {
        csn: csn.to_owned(),
        log: log.to_owned(),
    })
}

fn token(p: &Position) -> String {
    format!("{PREFIX}{}|{}", p.csn, p.log)
}

/// `YYYYMMDDhhmmss` of now minus `back_seconds`, UTC.
fn timestamp(back_seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(back_seconds);
    let days = (now / 86_400) as i64;
    let secs = now % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The position of "now": changes from here on are reported.
fn now() -> Position {
    let t = timestamp(1);
    Position {
        csn: format!("{t}.000000Z#000000#000#000000"),
        log: format!("{t}.000000Z"),
    }
}

/// The token of "now".
pub fn now_token() -> String {
    token(&now())
}

enum Change {
    Entry { csn: String, entry: ldap::Entry },
    Delete { start: String, uid: String },
}

impl Change {
    /// Orders by second, then entries before deletes (a deleted entry
    /// cannot also show up as changed), then by position.
    fn key(&self) -> (&str, u8, &str) {
        match self {
            Change::Entry { csn, .. } => (&csn[..SECONDS.min(csn.len())], 0, csn),
            Change::Delete { start, .. } => (&start[..SECONDS.min(start.len())], 1, start),
        }
    }
}

pub fn changes(
    dir: &Directory,
    class: &ClassSettings,
    request: SyncRequest,
) -> Result<SyncBatch, Error> {
    let position = parse(request.token.as_deref())?;
    let initial = position.csn.is_empty();
    let cutoff = timestamp(1);
    let mut changes = Vec::new();

    let filter = if initial {
        class.class_filter()
    } else {
        format!(
            "(&{}(entryCSN>={}))",
            class.class_filter(),
            ldap::escape_filter_value(&position.csn)
        )
    };
    let mut attributes = dir.read_attributes(class, &[]);
    attributes.extend([
        "entryCSN".into(),
        "createTimestamp".into(),
        "modifyTimestamp".into(),
    ]);
    let refs: Vec<&str> = attributes.iter().map(String::as_str).collect();
    let search = SearchRequest::new(&class.base, Scope::Subtree, &filter)
        .attributes(&refs)
        .page_size(dir.settings.page_size);
    for page in dir.conn.pages(search) {
        for entry in page? {
            let Some(csn) = entry.text("entryCSN") else {
                continue;
            };
            if csn.as_str() > position.csn.as_str() && csn[..SECONDS.min(csn.len())] < *cutoff {
                changes.push(Change::Entry { csn, entry });
            }
        }
    }

    if let Some(log_base) = &dir.settings.accesslog_base
        && !initial
        && class.uid.eq_ignore_ascii_case("entryUUID")
    {
        let filter = format!(
            "(&(objectClass=auditDelete)(reqResult=0)(reqStart>={}))",
            ldap::escape_filter_value(&position.log)
        );
        let search = SearchRequest::new(log_base, Scope::OneLevel, &filter)
            .attributes(&["reqStart", "reqDN", "reqEntryUUID", "reqOld"])
            .page_size(dir.settings.page_size);
        let structural = class.object_classes.last().map(|c| c.to_ascii_lowercase());
        for page in dir.conn.pages(search) {
            for record in page? {
                let (Some(start), Some(dn), Some(uid)) = (
                    record.text("reqStart"),
                    record.text("reqDN"),
                    record.text("reqEntryUUID"),
                ) else {
                    continue;
                };
                let under_base = dn
                    .to_ascii_lowercase()
                    .ends_with(&class.base.to_ascii_lowercase());
                // reqOld holds "objectClass: x" lines when the log keeps them.
                let old = record.texts("reqOld");
                let of_class = old.is_empty()
                    || old.iter().any(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("objectclass: ")
                            .is_some_and(|c| Some(c.trim()) == structural.as_deref())
                    });
                if start.as_str() > position.log.as_str()
                    && start[..SECONDS.min(start.len())] < *cutoff
                    && under_base
                    && of_class
                {
                    changes.push(Change::Delete { start, uid });
                }
            }
        }
    }

    changes.sort_by(|a, b| a.key().cmp(&b.key()));
    let max = request.max_deltas.max(1) as usize;
    let has_more = changes.len() > max;
    changes.truncate(max);
    let mut next = position.clone();
    let mut deltas = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            Change::Entry { csn, entry } => {
                let created =
                    initial || entry.text("createTimestamp") == entry.text("modifyTimestamp");
                let object = dir.object(class, &entry, &[])?;
                next.csn = csn;
                deltas.push(SyncDelta {
                    kind: if created {
                        DeltaKind::Create
                    } else {
                        DeltaKind::Update
                    },
                    uid: object.uid.clone(),
                    object: Some(object),
                    token: String::new(),
                });
            }
            Change::Delete { start, uid } => {
                next.log = start;
                deltas.push(SyncDelta {
                    kind: DeltaKind::Delete,
                    uid,
                    object: None,
                    token: String::new(),
                });
            }
        }
        if let Some(last) = deltas.last_mut() {
            last.token = token(&next);
        }
    }
    if initial && !has_more {
        // After the first full pass, later passes look for changes only:
        // start the log and the CSN at the cutoff unless an entry was newer.
        let now = now();
        if next.csn.is_empty() || next.csn < now.csn {
            next.csn = now.csn;
        }
        next.log = now.log;
    } else if initial && next.log.is_empty() {
        next.log = now().log;
    }
    Ok(SyncBatch {
        deltas,
        token: token(&next),
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        let position = Position {
            csn: "20261201103000.123456Z#000000#000#000000".into(),
            log: "20261201103000.000001Z".into(),
        };
        let parsed = parse(Some(&token(&position))).unwrap();
        assert_eq!((parsed.csn, parsed.log), (position.csn, position.log));
        assert!(
            parse(None).unwrap().csn.is_empty(),
            "no token starts from the beginning"
        );
        assert!(parse(Some("v2|x|y")).is_err());
        assert!(parse(Some("v1|no-separator")).is_err());
    }

    #[test]
    fn now_is_a_utc_timestamp_of_fourteen_digits() {
        let t = timestamp(0);
        assert_eq!(t.len(), SECONDS);
        assert!(t.bytes().all(|b| b.is_ascii_digit()), "{t}");
        assert!(t.as_str() > "20250101000000", "{t}");
        assert!(timestamp(86_400) < t, "a day back is earlier");
    }

    #[test]
    fn changes_order_by_second_then_entries_before_deletes() {
        let entry = |csn: &str| Change::Entry {
            csn: csn.into(),
            entry: ldap::Entry {
                dn: "uid=a".into(),
                attributes: vec![],
            },
        };
        let delete = |start: &str| Change::Delete {
            start: start.into(),
            uid: "u".into(),
        };
        let mut changes = [
            delete("20261201103000.000001Z"),
            entry("20261201103000.900000Z#0"),
            entry("20261201102959.000000Z#0"),
        ];
        changes.sort_by(|a, b| a.key().cmp(&b.key()));
        let kinds: Vec<u8> = changes.iter().map(|c| c.key().1).collect();
        assert_eq!(kinds, vec![0, 0, 1]);
        assert!(
            matches!(&changes[0], Change::Entry { csn, .. } if csn.starts_with("20261201102959"))
        );
    }
}
