//! Password hashes in PHC string format; the clear text is never stored.

use crate::settings::PasswordHash;
use argon2::password_hash::{PasswordHasher, SaltString};
use provisio_sdk::Error;
use rand_core::OsRng;

pub fn hash(algorithm: PasswordHash, password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let hashed = match algorithm {
        PasswordHash::Argon2id => argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string()),
        PasswordHash::Pbkdf2Sha256 => pbkdf2::Pbkdf2
            .hash_password_customized(
                password.as_bytes(),
                Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
                None,
                pbkdf2::Params {
                    // OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
                    rounds: 600_000,
                    output_length: 32,
                },
                &salt,
            )
            .map(|h| h.to_string()),
    };
    hashed.map_err(|e| Error::failed(format!("hashing the password failed: {e}")))
}
