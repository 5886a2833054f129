//! Passwords for accounts the identity layer creates on targets that
//! enable an account only with one (Active Directory): strong, never
//! shown, and derived from the host key and the operation's idempotency
//! key, so a plan submitted again after a crash replays the same request.

use super::Engine;

/// Characters of the random part: no look-alikes (0/O, 1/l/I).
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const RANDOM_CHARS: usize = 24;

impl Engine {
    /// The initial password for the create submitted with `seed` (its
    /// idempotency key): 24 characters from 57 (about 140 bits), then one
    /// of each class complexity rules ask for.
    pub fn initial_password(&self, seed: &str) -> String {
        let mac = self
            .shared
            .key
            .audit_mac(&[b"provisio initial password v1", seed.as_bytes()]);
        let bytes = hex::decode(mac).unwrap_or_default();
        let mut password: String = bytes
            .iter()
            .take(RANDOM_CHARS)
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        password.push_str("-Aa7");
        password
    }
}
