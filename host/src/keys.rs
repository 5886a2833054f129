//! The host's secret key, kept in a file only the host reads (mode 0600).
//! Two keys are derived from it: one authenticates the audit log's hash
//! chain (HMAC-SHA256), so rows cannot be edited and re-chained without
//! it; the other encrypts password values of queued operations at rest
//! (ChaCha20-Poly1305), so the store never holds them in clear.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("host key {path}: {reason}")]
    File { path: String, reason: String },
    #[error("a sealed value could not be opened: it was altered or sealed with another host key")]
    Unseal,
}

/// The derived keys. `Debug` prints nothing secret.
#[derive(Clone)]
pub struct HostKey {
    /// HMAC keyed with the audit key, cloned for each MAC rather than keyed
    /// again (keying costs two SHA-256 blocks).
    audit: HmacSha256,
    payload: [u8; 32],
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostKey(***)")
    }
}

impl HostKey {
    /// Reads the key file, or creates it (64 random hex digits, mode 0600).
    pub fn load_or_create(path: &Path) -> Result<HostKey, KeyError> {
        Self::read(path, true)
    }

    /// Reads the key file, which must exist (to verify, not to start).
    pub fn load(path: &Path) -> Result<HostKey, KeyError> {
        Self::read(path, false)
    }

    fn read(path: &Path, create: bool) -> Result<HostKey, KeyError> {
        let fail = |reason: String| KeyError::File {
            path: path.display().to_string(),
            reason,
        };
        let hex_key = match std::fs::read_to_string(path) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if create && e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let hex_key = hex::encode(bytes);
                write_private(path, &hex_key).map_err(|e| fail(format!("cannot create: {e}")))?;
                tracing::info!(path = %path.display(), "created a new host key");
                hex_key
            }
            Err(e) => return Err(fail(format!("cannot read: {e}"))),
        };
        let bytes = hex::decode(&hex_key)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| fail("must hold 64 hex digits".into()))?;
        Ok(HostKey::from_master(&bytes))
    }

    /// Derives the keys from 32 bytes of key material.
    pub fn from_master(master: &[u8]) -> HostKey {
        let derive = |label: &[u8]| {
            let mut mac =
                <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes any key length");
            mac.update(label);
            let out: [u8; 32] = mac.finalize().into_bytes().into();
            out
        };
        let audit = derive(b"provisio audit chain v1");
        HostKey {
            audit: <HmacSha256 as Mac>::new_from_slice(&audit).expect("32-byte key"),
            payload: derive(b"provisio payload seal v1"),
        }
    }

    /// HMAC-SHA256 of `data` under the audit key, in hex.
    pub fn audit_mac(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.audit.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// Encrypts `plaintext`: a random nonce followed by the ciphertext.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let cipher = ChaCha20Poly1305::new(&self.payload.into());
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut sealed = nonce.to_vec();
        sealed.extend(
            cipher
                .encrypt(&nonce, plaintext)
                .expect("encryption cannot fail"),
        );
        sealed
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < 12 {
            return Err(KeyError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        ChaCha20Poly1305::new(&self.payload.into())
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| KeyError::Unseal)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_once_and_reads_it_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/provisio.key");
        let first = HostKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = HostKey::load_or_create(&path).unwrap();
        assert_eq!(first.audit_mac(&[b"x"]), second.audit_mac(&[b"x"]));
        assert_eq!(format!("{first:?}"), "HostKey(***)");
    }

    #[test]
    fn seals_and_detects_tampering() {
        let key = HostKey::from_master(&[7; 32]);
        let sealed = key.seal(b"hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(&sealed).unwrap(), b"hunter2");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(key.open(&bad).is_err());
        assert!(HostKey::from_master(&[8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn macs_separate_their_parts() {
        let key = HostKey::from_master(&[1; 32]);
        assert_ne!(key.audit_mac(&[b"ab", b"c"]), key.audit_mac(&[b"a", b"bc"]));
    }
}
