//! Password policy and hashing.
//!
//! Argon2id with 19 MiB, 2 passes, 1 lane (OWASP's minimum), run on the
//! blocking thread pool behind two limits: at most `workers` hashes at once,
//! and at most `queue` more waiting. A request beyond that is answered 503
//! at once, so a burst of signups can neither stall the async workers nor
//! pile up unbounded memory (each hash holds 19 MiB while it runs).

use crate::domain::Invalid;
use crate::error::Error;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;
/// zxcvbn's cost grows with length; past this many characters a password is
/// long enough that the estimate adds nothing, so only the prefix is scored.
const SCORED_PREFIX: usize = 100;

#[derive(Clone)]
pub struct Hasher {
    queue: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    min_score: u8,
}

impl Hasher {
    pub fn new(workers: usize, queue: usize, min_score: u8) -> Self {
        Self { queue: Arc::new(Semaphore::new(workers + queue)), workers: Arc::new(Semaphore::new(workers)), min_score }
    }

    fn argon2() -> Argon2<'static> {
        // 19 MiB = 19456 KiB, t = 2, p = 1. These constants are valid, so `new` cannot fail.
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Checks the policy and hashes, off the async workers. `personal` holds
    /// words the password must not be built from (the email's local part,
    /// names, the tenant); the local part is also refused as a substring.
    pub async fn check_and_hash(&self, field: &'static str, raw: String, local_part: &str, personal: Vec<String>) -> Result<String, Error> {
        check_length(field, &raw)?;
        if local_part.len() >= 3 && raw.to_lowercase().contains(&local_part.to_lowercase()) {
            return Err(Invalid::new(field, "must not contain the name part of your email address").into());
        }
        let min_score = self.min_score;
        self.run(move || {
            let prefix: String = raw.chars().take(SCORED_PREFIX).collect();
            let inputs: Vec<&str> = personal.iter().map(String::as_str).collect();
            let score: u8 = zxcvbn::zxcvbn(&prefix, &inputs).score().into();
            if score < min_score {
                return Err(Error::from(Invalid::new(
                    field,
                    "is too easy to guess: add more words or characters that are not common patterns",
                )));
            }
            let salt = SaltString::generate(&mut OsRng);
            Self::argon2()
                .hash_password(raw.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a password: {e}")))
        })
        .await?
    }

    /// Verifies a password against a stored PHC string, off the async workers.
    pub async fn verify(&self, raw: String, phc: String) -> Result<bool, Error> {
        self.run(move || match PasswordHash::new(&phc) {
            Ok(parsed) => Self::argon2().verify_password(raw.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let busy = || Error::Unavailable { reason: "too many passwords are being checked", retry_after: Duration::from_secs(1) };
        let _queued = self.queue.clone().try_acquire_owned().map_err(|_| busy())?;
        let _running = self.workers.clone().acquire_owned().await.map_err(|_| busy())?;
        tokio::task::spawn_blocking(job).await.map_err(|e| Error::Internal(anyhow::anyhow!("password job failed: {e}")))
    }
}

pub fn check_length(field: &'static str, raw: &str) -> Result<(), Invalid> {
    let len = raw.chars().count();
    if len < MIN_LEN {
        return Err(Invalid::new(field, format!("must be at least {MIN_LEN} characters")));
    }
    if len > MAX_LEN {
        return Err(Invalid::new(field, format!("must be at most {MAX_LEN} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(1, 1, 3)
    }

    #[tokio::test]
    async fn a_strong_password_hashes_to_argon2id_with_the_promised_parameters() {
        let phc = hasher().check_and_hash("password", "correct horse battery staple 7".into(), "jane", vec![]).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher().verify("correct horse battery staple 7".into(), phc.clone()).await.unwrap());
        assert!(!hasher().verify("wrong horse battery staple 7".into(), phc).await.unwrap());
    }

    #[tokio::test]
    async fn weak_short_long_and_personal_passwords_are_refused() {
        for (pw, why) in [("password1", "guess"), ("short", "at least"), ("Xy9$jane.doe!Qq", "email")] {
            let err = hasher().check_and_hash("password", pw.into(), "jane.doe", vec![]).await.unwrap_err();
            assert!(err.public_message().contains(why), "{pw}: {}", err.public_message());
        }
        let long = "a".repeat(MAX_LEN + 1);
        assert!(hasher().check_and_hash("password", long, "x", vec![]).await.is_err());
    }

    #[tokio::test]
    async fn a_full_queue_answers_unavailable_instead_of_waiting() {
        let h = Hasher::new(1, 0, 0);
        let held = h.queue.clone().try_acquire_owned().unwrap();
        let err = h.verify("x".into(), "y".into()).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }));
        drop(held);
        assert!(!h.verify("x".into(), "y".into()).await.unwrap());
    }
}
