//! Bytes as a recording stores them: text when they are UTF-8 (so a
//! recording reads and diffs well), base64 otherwise.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Octets {
    Text(String),
    Binary { base64: String },
}

impl Octets {
    pub fn of(bytes: &[u8]) -> Octets {
        match std::str::from_utf8(bytes) {
            Ok(text) => Octets::Text(text.to_owned()),
            Err(_) => Octets::Binary {
                base64: STANDARD.encode(bytes),
            },
        }
    }

    /// The bytes; a recording edited into bad base64 reads as empty.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Octets::Text(text) => text.into_bytes(),
            Octets::Binary { base64 } => STANDARD.decode(base64).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_binary_round_trips() {
        assert_eq!(Octets::of(b"uid=a"), Octets::Text("uid=a".into()));
        let binary = vec![0xff, 0x00, 0x10];
        let stored = serde_json::to_string(&Octets::of(&binary)).unwrap();
        assert!(stored.contains("base64"), "{stored}");
        let back: Octets = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.into_bytes(), binary);
    }
}
