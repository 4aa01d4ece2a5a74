use crate::domain::Invalid;
use crate::flows::{Error, Resource};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;
/// zxcvbn's cost grows with length, and past this many characters its estimate adds nothing.
const SCORED_PREFIX: usize = 100;

#[derive(Clone)]
pub struct Hasher {
    queue: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    sizes: (usize, usize),
    min_score: u8,
    pwned: Option<Arc<crate::pwned::PwnedCheck>>,
}

impl Hasher {
    pub fn new(workers: usize, queue: usize, min_score: u8) -> Self {
        Self {
            queue: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Semaphore::new(workers)),
            sizes: (workers, workers + queue),
            min_score,
            pwned: None,
        }
    }

    pub fn with_pwned_check(mut self, check: Option<crate::pwned::PwnedCheck>) -> Self {
        self.pwned = check.map(Arc::new);
        self
    }

    pub fn load(&self) -> (usize, usize) {
        let running = self.sizes.0.saturating_sub(self.workers.available_permits());
        let held = self.sizes.1.saturating_sub(self.queue.available_permits());
        (running, held.saturating_sub(running))
    }

    fn argon2() -> Argon2<'static> {
        // These constants are valid, so `new` cannot fail.
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// `personal`: words the password must not be built from; the email's local part is also refused as a substring.
    pub async fn check_and_hash(&self, field: &'static str, raw: String, local_part: &str, personal: Vec<String>) -> Result<String, Error> {
        check_length(field, &raw)?;
        if local_part.len() >= 3 && raw.to_lowercase().contains(&local_part.to_lowercase()) {
            return Err(Invalid::new(field, "must not contain the name part of your email address").into());
        }
        if let Some(pwned) = &self.pwned {
            if pwned.is_pwned(&raw).await {
                return Err(Invalid::new(field, "has appeared in a data breach (Have I Been Pwned); choose another").into());
            }
        }
        let min_score = self.min_score;
        let mut personal = personal;
        personal.push(local_part.to_owned());
        self.run(move || {
            if let Some(why) = guessable(&raw, &personal, min_score) {
                return Err(Error::from(Invalid::new(field, why)));
            }
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

    pub async fn verify(&self, raw: String, phc: String) -> Result<bool, Error> {
        self.run(move || match PasswordHash::new(&phc) {
            Ok(parsed) => Self::argon2().verify_password(raw.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let busy = || Error::Unavailable { what: Resource::PasswordQueue, retry_after: Duration::from_secs(1), cause: None };
        let _queued = self.queue.clone().try_acquire_owned().map_err(|_| {
            crate::metrics::hash_refused();
            busy()
        })?;
        let _running = self.workers.clone().acquire_owned().await.map_err(|_| busy())?;
        tokio::task::spawn_blocking(job).await.map_err(|e| Error::Internal(anyhow::anyhow!("password job failed: {e}")))
    }
}

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn is_common(lower: &str) -> bool {
    static LIST: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| COMMON.lines().collect());
    LIST.binary_search(&lower).is_ok()
}

pub fn guessable(raw: &str, personal: &[String], min_score: u8) -> Option<&'static str> {
    let lower = raw.to_lowercase();
    if is_common(&lower) {
        return Some("is too easy to guess: it is one of the most common passwords");
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic() && !matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$'));
    let core = core.trim_end_matches(|c: char| c.is_ascii_digit()).trim_start_matches(|c: char| c.is_ascii_digit());
    let base: String = core.chars().map(unleet).filter(|c| c.is_alphanumeric()).collect();
    if base.is_empty() {
        return None;
    }
    if is_common(&base) {
        return Some("is too easy to guess: it is a common password with a few characters added");
    }
    let words: Vec<String> = personal
        .iter()
        .map(|w| w.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect::<String>())
        .filter(|w| w.len() >= 2)
        .collect();
    if made_of(&base, &words) {
        return Some("is too easy to guess: it is built from your own names or address");
    }
    // What is left must be strong on its own: digits at the end and
    // look-alike letters are the first things a cracker tries.
    let inputs: Vec<&str> = personal.iter().map(String::as_str).collect();
    let prefix: String = base.chars().take(SCORED_PREFIX).collect();
    if u8::from(zxcvbn::zxcvbn(&prefix, &inputs).score()) < min_score {
        return Some("is too easy to guess: it is a common word or pattern with a few characters added");
    }
    if one_letter_from_a_word(&base) {
        return Some("is too easy to guess: it is a dictionary word, misspelt by a letter, with a few characters added");
    }
    None
}

/// A misspelling is the second thing a cracker tries (`troubador`). Only short all-letter bases are
/// tried, which bounds the work to a few hundred zxcvbn calls (~0.1 s).
fn one_letter_from_a_word(base: &str) -> bool {
    if !(4..=16).contains(&base.len()) || !base.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let is_word = |w: &str| matches!(zxcvbn::zxcvbn(w, &[]).sequence(), [m] if matches!(m.pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(_)));
    let deletions = (0..base.len()).map(|i| format!("{}{}", &base[..i], &base[i + 1..]));
    let insertions = (0..=base.len()).flat_map(|i| (b'a'..=b'z').map(move |c| format!("{}{}{}", &base[..i], c as char, &base[i..])));
    deletions.chain(insertions).any(|w| w.len() >= 4 && is_word(&w))
}

fn unleet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        other => other,
    }
}

fn made_of(s: &str, words: &[String]) -> bool {
    let mut reachable = vec![false; s.len() + 1];
    reachable[0] = true;
    for i in 0..s.len() {
        if !reachable[i] || !s.is_char_boundary(i) {
            continue;
        }
        for w in words {
            if s[i..].starts_with(w.as_str()) {
                reachable[i + w.len()] = true;
            }
        }
    }
    reachable[s.len()]
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
            assert!(err.to_string().contains(why), "{pw}: {err}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        assert!(hasher().check_and_hash("password", long, "x", vec![]).await.is_err());
    }

    #[test]
    fn common_passwords_and_names_with_digits_or_years_are_guessable() {
        let jane = ["Jane".to_owned(), "Doe".to_owned(), "acme".to_owned(), "jane.doe".to_owned()];
        for pw in ["Tr0ub4dor&3", "JaneDoe1990!", "janedoe2024", "JANE.DOE.99", "Acme2026!", "password123", "Sunshine2024!", "qwertyuiop"] {
            assert!(guessable(pw, &jane, 3).is_some(), "{pw}");
        }
        for pw in ["violet-Tractor-harbour-91", "correct horse battery staple 7", "another-Lantern-quarry-44"] {
            assert_eq!(guessable(pw, &jane, 3), None, "{pw}");
        }
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
