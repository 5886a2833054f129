//! The BER this capability reads and writes beyond what `ldap3` offers:
//! entries read without losing binary values, the paged-results response
//! and the server-side sort request. A malformed answer is an error here,
//! never a panic: `lber` itself (vendored, see `vendor/lber`) bounds the
//! nesting and length of what it parses.

use lber::structure::{PL, StructureTag};
use lber::structures::{ASNTag, Boolean, OctetString, Sequence, Tag};
use lber::write;
use ldap3::controls::RawControl;

pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
pub const SORT_REQUEST_OID: &str = "1.2.840.113556.1.4.473";
pub const POST_READ_OID: &str = "1.3.6.1.1.13.2";
pub const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// An entry as the server sent it: values stay bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    pub dn: String,
    pub attributes: Vec<(String, Vec<Vec<u8>>)>,
}

fn primitive(tag: StructureTag, what: &str) -> Result<Vec<u8>, String> {
    match tag.payload {
        PL::P(bytes) => Ok(bytes),
        PL::C(_) => Err(format!("the server sent a malformed {what}")),
    }
}

fn constructed(tag: StructureTag, what: &str) -> Result<Vec<StructureTag>, String> {
    match tag.payload {
        PL::C(tags) => Ok(tags),
        PL::P(_) => Err(format!("the server sent a malformed {what}")),
    }
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| format!("the server sent a {what} that is not UTF-8"))
}

/// A SearchResultEntry (RFC 4511 §4.5.2, application tag 4).
pub fn entry(tag: StructureTag) -> Result<RawEntry, String> {
    if tag.id != 4 {
        return Err(format!("expected a search entry, got tag {}", tag.id));
    }
    let mut parts = constructed(tag, "entry")?.into_iter();
    let dn = utf8(
        primitive(parts.next().ok_or("an entry without a DN")?, "DN")?,
        "DN",
    )?;
    let mut attributes = Vec::new();
    if let Some(list) = parts.next() {
        for attribute in constructed(list, "attribute list")? {
            let mut attribute = constructed(attribute, "attribute")?.into_iter();
            let name = utf8(
                primitive(
                    attribute.next().ok_or("an attribute without a name")?,
                    "attribute name",
                )?,
                "attribute name",
            )?;
            let values = match attribute.next() {
                Some(set) => constructed(set, "value set")?
                    .into_iter()
                    .map(|v| primitive(v, "value"))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            attributes.push((name, values));
        }
    }
    Ok(RawEntry { dn, attributes })
}

/// The cookie of a paged-results response control's value.
pub fn paged_cookie(value: &[u8]) -> Result<Vec<u8>, String> {
    let (_, tag) = lber::parse::parse_tag(value)
        .map_err(|_| "the server sent a malformed paged-results control".to_owned())?;
    let mut parts = constructed(tag, "paged-results control")?.into_iter();
    let _estimate = parts.next();
    let cookie = parts
        .next()
        .ok_or("the paged-results control has no cookie")?;
    primitive(cookie, "paged-results cookie")
}

/// The post-read request control (RFC 4527): the attributes to return.
pub fn post_read_control(attributes: &[String]) -> RawControl {
    let selection = Tag::Sequence(Sequence {
        inner: attributes
            .iter()
            .map(|a| {
                Tag::OctetString(OctetString {
                    inner: a.as_bytes().to_vec(),
                    ..Default::default()
                })
            })
            .collect(),
        ..Default::default()
    })
    .into_structure();
    let mut buf = bytes::BytesMut::new();
    write::encode_into(&mut buf, selection).expect("encoding into memory cannot fail");
    RawControl {
        ctype: POST_READ_OID.to_owned(),
        // Not critical: a server without it still writes, and the
        // connector reads the entry back itself.
        crit: false,
        val: Some(buf.to_vec()),
    }
}

/// The entry in a post-read response control's value.
pub fn post_read_entry(value: &[u8]) -> Result<RawEntry, String> {
    let (_, tag) = lber::parse::parse_tag(value)
        .map_err(|_| "the server sent a malformed post-read control".to_owned())?;
    entry(tag)
}

/// The server-side sort request control (RFC 2891): a SortKeyList of
/// `SEQUENCE { attributeType, reverseOrder [1] BOOLEAN DEFAULT FALSE }`.
pub fn sort_control(keys: &[(String, bool)]) -> RawControl {
    let keys = keys
        .iter()
        .map(|(attribute, reverse)| {
            let mut inner = vec![Tag::OctetString(OctetString {
                inner: attribute.as_bytes().to_vec(),
                ..Default::default()
            })];
            if *reverse {
                inner.push(Tag::Boolean(Boolean {
                    class: lber::common::TagClass::Context,
                    id: 1,
                    inner: true,
                }));
            }
            Tag::Sequence(Sequence {
                inner,
                ..Default::default()
            })
        })
        .collect();
    let list = Tag::Sequence(Sequence {
        inner: keys,
        ..Default::default()
    })
    .into_structure();
    let mut buf = bytes::BytesMut::new();
    write::encode_into(&mut buf, list).expect("encoding into memory cannot fail");
    RawControl {
        ctype: SORT_REQUEST_OID.to_owned(),
        // Not critical: a server without sort answers unsorted.
        crit: false,
        val: Some(buf.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_control_encodes_keys_and_reverse_order() {
        let control = sort_control(&[("sn".into(), false), ("cn".into(), true)]);
        assert_eq!(control.ctype, SORT_REQUEST_OID);
        assert_eq!(
            control.val.unwrap(),
            [
                0x30, 0x0f, // SortKeyList
                0x30, 0x04, 0x04, 0x02, b's', b'n', // sn
                0x30, 0x07, 0x04, 0x02, b'c', b'n', 0x81, 0x01, 0xff, // cn, reverse
            ]
        );
    }

    #[test]
    fn a_malformed_paged_control_is_an_error() {
        assert!(paged_cookie(&[0x30, 0x05, 0x02]).is_err());
        assert_eq!(
            paged_cookie(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x04, 0x02, 0xab, 0xcd]).unwrap(),
            vec![0xab, 0xcd]
        );
    }

    /// `depth` SEQUENCEs one inside the other, with long-form lengths.
    fn nested(depth: usize) -> Vec<u8> {
        (0..depth)
            .rev()
            .flat_map(|inside| {
                let mut header = vec![0x30, 0x84];
                header.extend_from_slice(&(6 * inside as u32).to_be_bytes());
                header
            })
            .collect()
    }

    #[test]
    fn a_deeply_nested_control_is_an_error_not_a_stack_overflow() {
        // 100,000 levels (600 KB): unbounded, lber's parser overflows a
        // 2 MiB stack at about 5,000.
        let deep = nested(100_000);
        assert!(post_read_entry(&deep).unwrap_err().contains("malformed"));
        assert!(paged_cookie(&deep).unwrap_err().contains("malformed"));
    }
}

/// Property tests over what a server sends: whatever the bytes, reading
/// them answers an error or a value, never a panic or a stack overflow,
/// and a value this module's shapes encode reads back as it was.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn octets(bytes: &[u8]) -> Tag {
        Tag::OctetString(OctetString {
            inner: bytes.to_vec(),
            ..Default::default()
        })
    }

    fn sequence(inner: Vec<Tag>) -> Tag {
        Tag::Sequence(Sequence {
            inner,
            ..Default::default()
        })
    }

    fn encode(tag: Tag) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        write::encode_into(&mut buf, tag.into_structure()).unwrap();
        buf.to_vec()
    }

    fn encode_entry(entry: &RawEntry) -> Vec<u8> {
        let attributes = entry
            .attributes
            .iter()
            .map(|(name, values)| {
                sequence(vec![
                    octets(name.as_bytes()),
                    Tag::Set(lber::structures::Set {
                        inner: values.iter().map(|v| octets(v)).collect(),
                        ..Default::default()
                    }),
                ])
            })
            .collect();
        encode(Tag::Sequence(Sequence {
            class: lber::common::TagClass::Application,
            id: 4,
            inner: vec![octets(entry.dn.as_bytes()), sequence(attributes)],
        }))
    }

    fn entries() -> impl Strategy<Value = RawEntry> {
        let value = proptest::collection::vec(any::<u8>(), 0..300);
        let attribute = (
            "[a-zA-Z][a-zA-Z0-9-]{0,20}",
            proptest::collection::vec(value, 0..4),
        );
        ("\\PC{0,80}", proptest::collection::vec(attribute, 0..6))
            .prop_map(|(dn, attributes)| RawEntry { dn, attributes })
    }

    /// Cases per property: bounded so the test command stays quick; set
    /// `PROVISIO_FUZZ_CASES` for a longer run.
    fn cases(default: u32) -> u32 {
        std::env::var("PROVISIO_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(512)))]

        #[test]
        fn any_bytes_read_as_an_error_or_a_value(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = paged_cookie(&bytes);
            let _ = post_read_entry(&bytes);
        }

        #[test]
        fn an_encoded_entry_reads_back_as_it_was(entry in entries()) {
            prop_assert_eq!(post_read_entry(&encode_entry(&entry)).unwrap(), entry);
        }

        #[test]
        fn a_cut_or_damaged_entry_is_an_error_not_a_panic(
            entry in entries(),
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let bytes = encode_entry(&entry);
            let at = cut.index(bytes.len());
            prop_assert!(post_read_entry(&bytes[..at]).is_err(), "a prefix of {} bytes parsed", at);
            let mut damaged = bytes.clone();
            for (index, byte) in flips {
                let i = index.index(damaged.len());
                damaged[i] = byte;
            }
            let _ = post_read_entry(&damaged);
        }

        #[test]
        fn a_paged_cookie_reads_back_as_it_was(size in 0i64..1_000_000, cookie in proptest::collection::vec(any::<u8>(), 0..64)) {
            let control = encode(sequence(vec![
                Tag::Integer(lber::structures::Integer { inner: size, ..Default::default() }),
                octets(&cookie),
            ]));
            prop_assert_eq!(paged_cookie(&control).unwrap(), cookie);
        }
    }
}
