//! Argon2id password hashes (the crate's default parameters, PHC string format).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use secrecy::{ExposeSecret, SecretString};

/// Rules for a new password; returns the message to show next to the field.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        Err("Password must be at least 10 characters.".into())
    } else if n > 256 {
        Err("Password must be at most 256 characters.".into())
    } else {
        Ok(())
    }
}

/// Hashing is deliberately slow: run it off the async workers.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    actix_web::rt::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

pub async fn verify(hash: String, password: SecretString) -> bool {
    actix_web::rt::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of a random password: checked against when the email is unknown, so a failed
/// sign-in takes the same time whether or not the account exists.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2UtkCSJGNv1lD3jG4Vj6D0K6yQnQ5b8jHEaOqmw3qPs";
