//! Changes since a token, by `uSNChanged`: the domain controller numbers
//! every change it commits, so the token is the last number reported. A
//! deleted object leaves a tombstone under `CN=Deleted Objects` (read with
//! the show-deleted control) carrying its objectGUID and the USN of the
//! delete. USNs are per domain controller: keep a target on one DC.

use crate::{AdConnector, Class, guid};
use provisio_sdk::ldap::{self, Connection, Scope, SearchRequest};
use provisio_sdk::{DeltaKind, Error, SyncBatch, SyncDelta, SyncRequest};

const PREFIX: &str = "v1|";

pub fn token(usn: u64) -> String {
    format!("{PREFIX}{usn}")
}

fn parse(token: &str) -> Result<u64, Error> {
    token
        .strip_prefix(PREFIX)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            Error::invalid(format!(
                "sync token {token:?} was not made by this connector"
            ))
        })
}

pub fn highest_usn(conn: &Connection) -> Result<u64, Error> {
    conn.root_dse()?
        .text("highestCommittedUSN")
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| Error::failed("the root DSE has no highestCommittedUSN"))
}

fn usn(entry: &ldap::Entry, name: &str) -> u64 {
    entry.text(name).and_then(|u| u.parse().ok()).unwrap_or(0)
}

pub fn changes(ad: &AdConnector, class: Class, request: SyncRequest) -> Result<SyncBatch, Error> {
    let since = request.token.as_deref().map(parse).transpose()?;
    // Read before scanning: anything committed later has a higher USN.
    let highest = highest_usn(&ad.conn)?;
    let after = since.unwrap_or(0);
    let mut found: Vec<(u64, SyncDelta)> = Vec::new();

    let filter = format!("(&{}(uSNChanged>={}))", class.filter(), after + 1);
    let mut attributes = AdConnector::read_attributes(class);
    attributes.extend(["uSNChanged", "uSNCreated"]);
    for entry in ad.search_all(&ad.settings.base_dn, &filter, &attributes)? {
        let changed = usn(&entry, "uSNChanged");
        let created = since.is_none() || usn(&entry, "uSNCreated") > after;
        let object = ad.object(class, &entry, &[])?;
        found.push((
            changed,
            SyncDelta {
                kind: if created {
                    DeltaKind::Create
                } else {
                    DeltaKind::Update
                },
                uid: object.uid.clone(),
                object: Some(object),
                token: String::new(),
            },
        ));
    }

    if since.is_some() {
        let deleted = format!("CN=Deleted Objects,{}", ad.settings.base_dn);
        let filter = format!(
            "(&(isDeleted=TRUE){}(uSNChanged>={}))",
            class.filter(),
            after + 1
        );
        let search = SearchRequest::new(&deleted, Scope::Subtree, &filter)
            .attributes(&["objectGUID", "uSNChanged"])
            .page_size(ad.settings.page_size)
            .show_deleted();
        for page in ad.conn.pages(search) {
            for tombstone in page? {
                if let Some(uid) = tombstone
                    .values("objectGUID")
                    .first()
                    .and_then(|b| guid::format(b))
                {
                    found.push((
                        usn(&tombstone, "uSNChanged"),
                        SyncDelta {
                            kind: DeltaKind::Delete,
                            uid,
                            object: None,
                            token: String::new(),
                        },
                    ));
                }
            }
        }
    }

    // Changes committed after `highest` was read may have been missed on
    // pages read earlier: they, and any seen with them, come next time.
    found.retain(|(usn, _)| *usn <= highest);
    found.sort_by_key(|(usn, _)| *usn);
    let max = request.max_deltas.max(1) as usize;
    let has_more = found.len() > max;
    found.truncate(max);
    let mut last = after;
    let deltas = found
        .into_iter()
        .map(|(usn, mut delta)| {
            last = usn;
            delta.token = token(usn);
            delta
        })
        .collect();
    // Without more to report, the next pass starts from what was committed
    // when this one began.
    let next = if has_more { last } else { after.max(highest) };
    Ok(SyncBatch {
        deltas,
        token: token(next),
        has_more,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_carry_the_usn_and_foreign_ones_are_refused() {
        assert_eq!(super::parse(&super::token(4711)).unwrap(), 4711);
        assert!(super::parse("v1|").is_err());
        assert!(super::parse("4711").is_err());
    }
}
