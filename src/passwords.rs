use crate::domain::{Invalid, Rule};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;
/// zxcvbn sees at most this many characters, and at most `SCORED_LOOK_ALIKES` different look-alike
/// symbols (`4@8(3…`, each a letter it tries as a substitution): its cost grows steeply with both, to
/// 2.6 s for 100 such characters and 170 ms for 24 holding all 21 (policy_cost, below). A password
/// is scored on its start; cutting it can only lower the score, so nothing weak gets through for it.
const SCORED_PREFIX: usize = 24;
const SCORED_LOOK_ALIKES: usize = 8;
/// The misspelling search calls zxcvbn about 27 times per letter of the base: 458 calls and ~200 ms
/// at 16 letters, 296 calls and 70–95 ms at this length, which still covers `troubador`.
const MISSPELT_MAX: usize = 10;

/// Why a password was not hashed or checked; `flows` maps it into its own error.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The policy refused it: the field and the reason, in the person's words.
    #[error("{0}")]
    Refused(Invalid),
    /// Both pools' queues were full: try again in a moment.
    #[error("the password pool and its queue are full")]
    Busy,
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl From<Invalid> for PasswordError {
    fn from(refused: Invalid) -> Self {
        Self::Refused(refused)
    }
}

#[derive(Clone)]
pub struct Hasher {
    /// Argon2 only: `verify_password` shares it, so nothing else may keep it busy.
    hashing: Pool,
    /// The policy's checks, on a pool of their own, so that passwords refused by the policy never hold
    /// a hashing slot.
    policy: Pool,
    min_score: u8,
    pwned: Option<Arc<crate::pwned::PwnedCheck>>,
}

/// Work on the blocking pool behind two semaphores: `workers` running, `queue` waiting. Past that,
/// `PasswordError::Busy` at once (a 503) instead of a growing wait.
#[derive(Clone)]
struct Pool {
    queue: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    sizes: (usize, usize),
    refused: fn(),
}

impl Pool {
    fn new(workers: usize, queue: usize, refused: fn()) -> Self {
        Self {
            queue: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Semaphore::new(workers)),
            sizes: (workers, workers + queue),
            refused,
        }
    }

    fn load(&self) -> (usize, usize) {
        let running = self.sizes.0.saturating_sub(self.workers.available_permits());
        let held = self.sizes.1.saturating_sub(self.queue.available_permits());
        (running, held.saturating_sub(running))
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        let _queued = self.queue.clone().try_acquire_owned().map_err(|_| {
            (self.refused)();
            PasswordError::Busy
        })?;
        let _running = self.workers.clone().acquire_owned().await.map_err(|_| PasswordError::Busy)?;
        tokio::task::spawn_blocking(job).await.map_err(|e| PasswordError::Failed(anyhow::anyhow!("password job failed: {e}")))
    }
}

impl Hasher {
    /// The policy gets half the hashing workers (at least one), so that it can take at most that share
    /// of the cores from the hashes.
    pub fn new(workers: usize, queue: usize, min_score: u8) -> Self {
        Self {
            hashing: Pool::new(workers, queue, crate::metrics::hash_refused),
            policy: Pool::new((workers / 2).max(1), queue, || crate::metrics::refused("password_policy")),
            min_score,
            pwned: None,
        }
    }

    pub fn with_pwned_check(mut self, check: Option<crate::pwned::PwnedCheck>) -> Self {
        self.pwned = check.map(Arc::new);
        self
    }

    /// The hashing pool's: what `verify_password` waits behind.
    pub fn load(&self) -> (usize, usize) {
        self.hashing.load()
    }

    fn argon2() -> Argon2<'static> {
        // These constants are valid, so `new` cannot fail.
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// `personal`: words the password must not be built from; the email's local part is also refused as a substring.
    pub async fn check_and_hash(
        &self,
        field: &'static str,
        raw: String,
        local_part: &str,
        personal: Vec<String>,
    ) -> Result<String, PasswordError> {
        check_length(field, &raw)?;
        if local_part.len() >= 3 && raw.to_lowercase().contains(&local_part.to_lowercase()) {
            return Err(Invalid::new(field, Rule::PasswordHasEmailName).into());
        }
        if let Some(pwned) = &self.pwned {
            if pwned.is_pwned(&raw).await {
                return Err(Invalid::new(field, Rule::PasswordBreached).into());
            }
        }
        let min_score = self.min_score;
        let mut personal = personal;
        personal.push(local_part.to_owned());
        let raw = self.policy.run(move || refuse_weak(field, &raw, &personal, min_score).map(|()| raw)).await??;
        self.hashing
            .run(move || {
                let salt = SaltString::generate(&mut OsRng);
                Self::argon2()
                    .hash_password(raw.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| PasswordError::Failed(anyhow::anyhow!("hashing a password: {e}")))
            })
            .await?
    }

    pub async fn verify(&self, raw: String, phc: String) -> Result<bool, PasswordError> {
        self.hashing
            .run(move || match PasswordHash::new(&phc) {
                Ok(parsed) => Self::argon2().verify_password(raw.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            })
            .await
    }
}

/// The policy's checks that cost CPU, bounded whatever the input by `SCORED_PREFIX`,
/// `SCORED_LOOK_ALIKES` and `MISSPELT_MAX`: the misspelling search of a 10-letter base, the worst,
/// took 70–95 ms here; any other input under 16 ms (policy_cost, below).
fn refuse_weak(field: &'static str, raw: &str, personal: &[String], min_score: u8) -> Result<(), Invalid> {
    if let Some(why) = guessable(raw, personal, min_score) {
        return Err(Invalid::new(field, why));
    }
    let inputs: Vec<&str> = personal.iter().map(String::as_str).collect();
    let score: u8 = zxcvbn::zxcvbn(&scored(raw), &inputs).score().into();
    if score < min_score {
        return Err(Invalid::new(field, Rule::PasswordTooGuessable));
    }
    Ok(())
}

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn is_common(lower: &str) -> bool {
    static LIST: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| COMMON.lines().collect());
    LIST.binary_search(&lower).is_ok()
}

pub(crate) fn guessable(raw: &str, personal: &[String], min_score: u8) -> Option<Rule> {
    let lower = raw.to_lowercase();
    if is_common(&lower) {
        return Some(Rule::PasswordCommon);
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic() && !matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$'));
    let core = core.trim_end_matches(|c: char| c.is_ascii_digit()).trim_start_matches(|c: char| c.is_ascii_digit());
    let base: String = core.chars().map(unleet).filter(|c| c.is_alphanumeric()).collect();
    if base.is_empty() {
        return None;
    }
    if is_common(&base) {
        return Some(Rule::PasswordCommonWithAdditions);
    }
    let words: Vec<String> = personal
        .iter()
        .map(|w| w.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect::<String>())
        .filter(|w| w.len() >= 2)
        .collect();
    if made_of(&base, &words) {
        return Some(Rule::PasswordPersonal);
    }
    // What is left must be strong on its own: digits at the end and
    // look-alike letters are the first things a cracker tries.
    let inputs: Vec<&str> = personal.iter().map(String::as_str).collect();
    if u8::from(zxcvbn::zxcvbn(&scored(&base), &inputs).score()) < min_score {
        return Some(Rule::PasswordPatternWithAdditions);
    }
    if one_letter_from_a_word(&base) {
        return Some(Rule::PasswordMisspeltWord);
    }
    None
}

/// A misspelling is the second thing a cracker tries (`troubador`). Only all-letter bases of up to
/// `MISSPELT_MAX` letters are tried: at most 296 zxcvbn calls on 11 letters or fewer.
fn one_letter_from_a_word(base: &str) -> bool {
    if !(4..=MISSPELT_MAX).contains(&base.len()) || !base.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let is_word = |w: &str| matches!(zxcvbn::zxcvbn(w, &[]).sequence(), [m] if matches!(m.pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(_)));
    let deletions = (0..base.len()).map(|i| format!("{}{}", &base[..i], &base[i + 1..]));
    let insertions = (0..=base.len()).flat_map(|i| (b'a'..=b'z').map(move |c| format!("{}{}{}", &base[..i], c as char, &base[i..])));
    deletions.chain(insertions).any(|w| w.len() >= 4 && is_word(&w))
}

/// What zxcvbn is shown of a password: its start, within `SCORED_PREFIX` and `SCORED_LOOK_ALIKES`.
fn scored(raw: &str) -> String {
    let mut seen: Vec<char> = Vec::new();
    raw.chars()
        .take(SCORED_PREFIX)
        .take_while(|&c| {
            if "4@8({[<3691!|70$5+7%2".contains(c) && !seen.contains(&c) {
                seen.push(c);
            }
            seen.len() <= SCORED_LOOK_ALIKES
        })
        .collect()
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
        return Err(Invalid::new(field, Rule::TooShort { min: MIN_LEN }));
    }
    if len > MAX_LEN {
        return Err(Invalid::new(field, Rule::TooLong { max: MAX_LEN }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "correct horse battery staple 7";

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

    /// What the policy costs, per input, on the machine that runs it:
    /// `cargo test --lib policy_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn policy_cost() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut random = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()] as char
                })
                .collect()
        };
        let printable: Vec<u8> = (b'!'..=b'~').collect();
        let cases = [
            ("a common word misspelt", "Tr0ub4dor&3".to_owned()),
            ("10 random letters (longest search)", random(b"abcdefghijklmnopqrstuvwxyz", 10)),
            ("16 random letters", random(b"abcdefghijklmnopqrstuvwxyz", 16)),
            ("24 look-alikes, each once", "4@8({[<3691!|70$5+7%2".chars().cycle().take(24).collect()),
            ("24 of 8 look-alikes, then letters", format!("{}{}", "4@8({[<3".repeat(2), random(b"abcdefghijklmnopqrstuvwxyz", 8))),
            ("24 of 8 look-alikes", "4@8({[<3".repeat(3)),
            ("24 of 8 other look-alikes", "1|7!69$5".repeat(3)),
            ("1024 random printable", random(&printable, 1024)),
            ("1024 random letters", random(b"abcdefghijklmnopqrstuvwxyz", 1024)),
            ("1024 random digits", random(b"0123456789", 1024)),
            ("1024 look-alikes", random(b"4@8({[<3691!|70$5+7%2", 1024)),
            ("1024 a", "a".repeat(1024)),
            ("1024 keyboard walk", "qwertyuiopasdfghjklzxcvbnm".repeat(40)[..1024].to_owned()),
        ];
        let personal = vec!["Jane".to_owned(), "Saoirse".to_owned(), "acme".to_owned(), "jane.saoirse".to_owned()];
        for (what, pw) in cases {
            let runs = 5;
            let started = std::time::Instant::now();
            let mut refused = Ok(());
            for _ in 0..runs {
                refused = refuse_weak("password", &pw, &personal, 3);
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs);
            println!("{what:>32}: {ms:>8.2} ms  {:?}", refused.err().map(|e| e.to_string()));
        }
        // What SCORED_PREFIX and SCORED_LOOK_ALIKES bound: zxcvbn alone on look-alike symbols.
        for n in [16, 24, 32, 48, 100] {
            let pw = random(b"4@8({[<3691!|70$5+7%2", n);
            let started = std::time::Instant::now();
            std::hint::black_box(zxcvbn::zxcvbn(&pw, &[]).score());
            println!("zxcvbn on {n:>3} look-alikes: {:>9.2} ms", started.elapsed().as_secs_f64() * 1000.0);
        }
    }

    #[tokio::test]
    async fn a_full_hashing_pool_does_not_hold_up_the_policy() {
        let h = hasher();
        let held = h.hashing.queue.clone().try_acquire_many_owned(2).unwrap();
        let err = h.check_and_hash("password", "Tr0ub4dor&3".into(), "jane", vec![]).await.unwrap_err();
        assert!(matches!(err, PasswordError::Refused(_)), "refused by the policy without a hashing slot: {err}");
        let err = h.check_and_hash("password", STRONG.into(), "jane", vec![]).await.unwrap_err();
        assert!(matches!(err, PasswordError::Busy), "{err}");
        drop(held);
    }

    #[tokio::test]
    async fn a_full_queue_answers_unavailable_instead_of_waiting() {
        let h = Hasher::new(1, 0, 0);
        let held = h.hashing.queue.clone().try_acquire_owned().unwrap();
        let err = h.verify("x".into(), "y".into()).await.unwrap_err();
        assert!(matches!(err, PasswordError::Busy));
        drop(held);
        assert!(!h.verify("x".into(), "y".into()).await.unwrap());
    }
}
