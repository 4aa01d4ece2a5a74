use crate::clock::{self, Clock};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pasetors::keys::SymmetricKey;
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use pasetors::{Local, keys::Generate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

pub(crate) const MAX_TOKEN_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Signup,
    Password,
    Activation,
}

impl Purpose {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Password => "password",
            Self::Activation => "activation",
        }
    }

    fn implicit_assertion(self) -> &'static [u8] {
        match self {
            Self::Signup => b"usher:signup",
            Self::Password => b"usher:password",
            Self::Activation => b"usher:activation",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) purpose: Purpose,
    pub(crate) sub: String,
    pub(crate) iat: String,
    pub(crate) exp: String,
    pub(crate) jti: String,
}

impl Claims {
    pub(crate) fn id_hash(&self) -> String {
        id_hash(&self.jti)
    }
}

pub(crate) fn id_hash(jti: &str) -> String {
    let digest = Sha256::digest(jti.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

pub struct Issued {
    pub token: String,
    pub(crate) id_hash: String,
    pub(crate) issued_at_ms: i64,
    pub(crate) expires_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    Malformed,
    Undecryptable,
}

#[derive(Serialize, Deserialize)]
struct Footer {
    kid: String,
}

#[derive(Debug)]
pub(crate) struct Rotated {
    pub(crate) new_id: String,
    pub(crate) spec: crate::config::Secret,
    pub(crate) file: Option<std::path::PathBuf>,
}

pub struct KeyRing {
    keys: Vec<(String, SymmetricKey<V4>)>,
    /// Derived once from the signing key: every redeemed and every minted code uses them.
    codes: MailCodes,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("ids", &ids).finish()
    }
}

impl KeyRing {
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = entry.split_once(':').context("each key must be written ID:KEY")?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                bail!("key id `{id}` must be letters, digits, '-', '_' or '.'");
            }
            let bytes = URL_SAFE_NO_PAD.decode(key.trim_end_matches('=')).with_context(|| format!("key `{id}` is not base64url"))?;
            if bytes.len() != 32 {
                bail!("key `{id}` must be 32 bytes, it is {}", bytes.len());
            }
            let key = SymmetricKey::<V4>::from(&bytes).map_err(|_| anyhow::anyhow!("key `{id}` is not a valid v4.local key"))?;
            if keys.iter().any(|(other, _)| other == id) {
                bail!("key id `{id}` appears twice");
            }
            keys.push((id.to_owned(), key));
        }
        let (_, signing) = keys.first().context("the key ring is empty")?;
        let codes = MailCodes::from_signing_key(signing.as_bytes())?;
        Ok(Self { keys, codes })
    }

    /// HMAC-SHA-256(signing key, label): every instance sharing the ring derives the same key.
    pub(crate) fn derive(&self, label: &str) -> anyhow::Result<[u8; 32]> {
        let signing = self.keys.first().map(|(_, k)| k.as_bytes()).unwrap_or_default();
        derive(signing, label)
    }

    /// The keys of the codes printed next to links.
    pub(crate) fn codes(&self) -> &MailCodes {
        &self.codes
    }

    pub fn generate_entry(id: &str) -> anyhow::Result<String> {
        let key = SymmetricKey::<V4>::generate().map_err(|_| anyhow::anyhow!("generating a key"))?;
        Ok(format!("{id}:{}", URL_SAFE_NO_PAD.encode(key.as_bytes())))
    }

    pub(crate) fn load_or_generate(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(spec) = configured {
            return Self::parse(spec).context("USHER_KEYS");
        }
        let path = data_dir.join("usher-dev.keys");
        if let Ok(spec) = std::fs::read_to_string(&path) {
            tracing::warn!(path = %path.display(), "using the development token key from the data directory; set USHER_KEYS in production");
            if let Some((was, now)) =
                crate::private::close_to_others(&path).with_context(|| format!("closing {} to others", path.display()))?
            {
                tracing::warn!(path = %path.display(), was = format!("{was:o}"), now = format!("{now:o}"), "the development key file was readable by others; it no longer is");
            }
            return Self::parse(spec.trim()).with_context(|| format!("reading {}", path.display()));
        }
        let entry = Self::generate_entry("dev1")?;
        write_private(&path, &entry).with_context(|| format!("writing a development key to {}", path.display()))?;
        tracing::warn!(path = %path.display(), "generated a development token key; set USHER_KEYS in production");
        Self::parse(&entry)
    }

    pub(crate) fn rotate(configured: Option<&str>, data_dir: &Path, id: Option<&str>) -> anyhow::Result<Rotated> {
        let path = data_dir.join("usher-dev.keys");
        let (old, file) = match configured {
            Some(spec) => (Self::parse(spec).context("USHER_KEYS")?, None),
            None => (Self::load_or_generate(None, data_dir)?, Some(path)),
        };
        let new_id = match id {
            Some(id) => id.to_owned(),
            None => {
                // `k` and one more than the highest number that ends an id: dev1 → k2.
                let highest = old.ids().filter_map(|id| id.trim_start_matches(|c: char| !c.is_ascii_digit()).parse::<u64>().ok()).max();
                format!("k{}", highest.unwrap_or(0) + 1)
            }
        };
        let spec = std::iter::once(Self::generate_entry(&new_id)?).chain(old.entries()).collect::<Vec<_>>().join(",");
        // Parsing checks the id and refuses one already in the ring.
        Self::parse(&spec)?;
        if let Some(path) = &file {
            let tmp = path.with_extension("keys.new");
            let _ = std::fs::remove_file(&tmp);
            write_private(&tmp, &spec).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        }
        Ok(Rotated { new_id, spec: crate::config::Secret::new(spec), file })
    }

    fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.keys.iter().map(|(id, key)| format!("{id}:{}", URL_SAFE_NO_PAD.encode(key.as_bytes())))
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    pub fn issue(&self, clock: &Clock, purpose: Purpose, subject: &str, ttl: Duration) -> anyhow::Result<Issued> {
        let (kid, key) = self.keys.first().context("the key ring is empty")?;
        let now = clock.now_ms();
        let expires = now.saturating_add(clock::ms(ttl));
        let jti = random_id();
        let claims = Claims { purpose, sub: subject.to_owned(), iat: clock::rfc3339(now), exp: clock::rfc3339(expires), jti };
        let payload = serde_json::to_vec(&claims)?;
        let footer = serde_json::to_vec(&Footer { kid: kid.clone() })?;
        let token = LocalToken::encrypt(key, &payload, Some(&footer), Some(purpose.implicit_assertion()))
            .map_err(|e| anyhow::anyhow!("encrypting a token: {e:?}"))?;
        Ok(Issued { token, id_hash: claims.id_hash(), issued_at_ms: now, expires_at_ms: expires })
    }

    pub(crate) fn open(&self, purpose: Purpose, token: &str) -> Result<Claims, OpenError> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(OpenError::Malformed);
        }
        let untrusted = UntrustedToken::<Local, V4>::try_from(token).map_err(|_| OpenError::Malformed)?;
        let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer()).map_err(|_| OpenError::Malformed)?;
        let (_, key) = self.keys.iter().find(|(id, _)| *id == footer.kid).ok_or(OpenError::Malformed)?;
        let trusted =
            LocalToken::decrypt(key, &untrusted, None, Some(purpose.implicit_assertion())).map_err(|_| OpenError::Undecryptable)?;
        let claims: Claims = serde_json::from_str(trusted.payload()).map_err(|_| OpenError::Undecryptable)?;
        if claims.purpose != purpose {
            return Err(OpenError::Undecryptable);
        }
        Ok(claims)
    }
}

fn derive(signing: &[u8], label: &str) -> anyhow::Result<[u8; 32]> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(signing).context("deriving a key")?;
    mac.update(label.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// The short code an email prints next to its link, typed where the link cannot be followed.
/// Only its keyed hash is stored, and its link only sealed (see `mail_codes`).
pub(crate) struct MailCodes {
    mac: hmac::Hmac<Sha256>,
    seal: SymmetricKey<V4>,
}

/// Crockford's base32: no `I`, `L`, `O` or `U`, so that a code read aloud or copied by hand survives.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub(crate) const CODE_LEN: usize = 8;
/// Longer input is not a code; it is cut before it is hashed, so that no answer costs more.
const MAX_CODE_INPUT: usize = 64;
const SEALED_HEADER: &str = "v4.local.";

impl MailCodes {
    /// Derived from the signing key: a rotation kills the codes already mailed (their links still work).
    fn from_signing_key(signing: &[u8]) -> anyhow::Result<Self> {
        use hmac::Mac;
        let mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&derive(signing, "usher mail code v1")?).context("deriving the code key")?;
        let seal = SymmetricKey::<V4>::from(&derive(signing, "usher mail code link v1")?)
            .map_err(|_| anyhow::anyhow!("deriving the code's link key"))?;
        Ok(Self { mac, seal })
    }

    /// A new code from the OS's CSPRNG, in its normal form (8 symbols, no hyphen).
    pub(crate) fn generate() -> String {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        (0..CODE_LEN).map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())])).collect()
    }

    /// As the email prints it: `XXXX-XXXX`.
    pub(crate) fn printed(code: &str) -> String {
        let (a, b) = code.split_at(code.len().min(CODE_LEN / 2));
        format!("{a}-{b}")
    }

    /// What a person typed, in the code's normal form: case, hyphens and spaces do not count, and
    /// `I`/`L` are read as `1`, `O` as `0`. Anything else is kept, so it matches no code.
    pub(crate) fn normalise(typed: &str) -> String {
        typed
            .chars()
            .take(MAX_CODE_INPUT)
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'I' | 'L' => '1',
                'O' => '0',
                c => c,
            })
            .collect()
    }

    /// The stored key of a code: the code alone could be tried against every address.
    pub(crate) fn hash(&self, code: &str, email_norm: &str) -> String {
        use hmac::Mac;
        let mut mac = self.mac.clone();
        mac.update(code.as_bytes());
        mac.update(b"\0");
        mac.update(email_norm.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The link, encrypted (v4.local) and bound to its code's hash, so a row's link cannot be moved
    /// to another row. Stored without the `v4.local.` header, which the column implies: nothing stored
    /// looks like a link's token.
    pub(crate) fn seal(&self, link: &str, code_hash: &str) -> anyhow::Result<String> {
        let sealed = LocalToken::encrypt(&self.seal, link.as_bytes(), None, Some(code_hash.as_bytes()))
            .map_err(|e| anyhow::anyhow!("sealing a code's link: {e:?}"))?;
        Ok(sealed.strip_prefix(SEALED_HEADER).unwrap_or(&sealed).to_owned())
    }

    pub(crate) fn unseal(&self, sealed: &str, code_hash: &str) -> Option<String> {
        let untrusted = UntrustedToken::<Local, V4>::try_from(format!("{SEALED_HEADER}{sealed}").as_str()).ok()?;
        let trusted = LocalToken::decrypt(&self.seal, &untrusted, None, Some(code_hash.as_bytes())).ok()?;
        Some(trusted.payload().to_owned())
    }
}

pub(crate) fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = crate::private::new_file().open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

/// Where a token stands, from its row in `one_time_tokens` (which only `store` reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    Live,
    Used,
    Superseded,
    Expired,
    /// No row: never issued here, or pruned.
    Missing,
}

impl TokenState {
    /// From a row's `(used_at, superseded_at, expires_at)`, if there is a row.
    pub(crate) fn of(row: Option<(Option<i64>, Option<i64>, i64)>, now: i64) -> Self {
        match row {
            None => Self::Missing,
            Some((Some(_), _, _)) => Self::Used,
            Some((None, Some(_), _)) => Self::Superseded,
            Some((None, None, expires)) if expires <= now => Self::Expired,
            Some(_) => Self::Live,
        }
    }
}

impl TokenState {
    /// The outcome of a try at spending a token in this state, as `/metrics` counts it.
    pub(crate) fn spend_outcome(self) -> &'static str {
        match self {
            Self::Live => "spent",
            Self::Used => "used",
            Self::Superseded => "superseded",
            Self::Expired => "expired",
            Self::Missing => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spend_outcome_is_counted_from_zero_in_the_metrics() {
        for state in [TokenState::Live, TokenState::Used, TokenState::Superseded, TokenState::Expired, TokenState::Missing] {
            assert!(crate::metrics::TOKEN_SPEND_OUTCOMES.contains(&state.spend_outcome()), "{}", state.spend_outcome());
        }
    }

    fn ring(spec: &str) -> KeyRing {
        KeyRing::parse(spec).unwrap()
    }

    fn entry(id: &str) -> String {
        KeyRing::generate_entry(id).unwrap()
    }

    #[test]
    fn a_token_opens_only_for_its_own_purpose() {
        let keys = ring(&entry("k1"));
        let issued = keys.issue(&Clock::default(), Purpose::Signup, "s-1", Duration::from_secs(60)).unwrap();
        let claims = keys.open(Purpose::Signup, &issued.token).unwrap();
        assert_eq!(claims.sub, "s-1");
        assert_eq!(claims.id_hash(), issued.id_hash);
        assert_eq!(keys.open(Purpose::Password, &issued.token).unwrap_err(), OpenError::Undecryptable);
    }

    #[test]
    fn rotated_keys_still_open_tokens_minted_before_the_rotation() {
        let old = entry("old");
        let new = entry("new");
        let before = ring(&old).issue(&Clock::default(), Purpose::Password, "u", Duration::from_secs(60)).unwrap();
        let rotated = ring(&format!("{new},{old}"));
        assert!(rotated.open(Purpose::Password, &before.token).is_ok());
        assert_eq!(ring(&new).open(Purpose::Password, &before.token).unwrap_err(), OpenError::Malformed);
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let keys = ring(&entry("k1"));
        let issued = keys.issue(&Clock::default(), Purpose::Signup, "s", Duration::from_secs(60)).unwrap();
        let mut tampered = issued.token.clone().into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(keys.open(Purpose::Signup, &tampered).unwrap_err(), OpenError::Undecryptable);
        assert_eq!(keys.open(Purpose::Signup, "example").unwrap_err(), OpenError::Malformed);
        assert_eq!(keys.open(Purpose::Signup, &"v4.local.".repeat(200)).unwrap_err(), OpenError::Malformed);
    }

    #[test]
    fn the_token_does_not_reveal_its_subject() {
        let keys = ring(&entry("k1"));
        let issued = keys.issue(&Clock::default(), Purpose::Signup, "jane@example.com", Duration::from_secs(60)).unwrap();
        assert!(!issued.token.contains("jane"));
        assert!(issued.token.len() < MAX_TOKEN_LEN);
    }

    #[test]
    fn a_mail_code_is_eight_unambiguous_symbols_and_forgives_sloppy_typing() {
        let code = MailCodes::generate();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        assert_eq!(MailCodes::printed("ABCD1234"), "ABCD-1234");
        assert_eq!(MailCodes::normalise(" abcd-efgh "), "ABCDEFGH");
        assert_eq!(MailCodes::normalise("iLo1 0ZzZ"), "11010ZZZ");
    }

    #[test]
    fn a_sealed_link_opens_only_under_its_own_code_hash() {
        let ring = ring(&entry("k1"));
        let codes = ring.codes();
        let hash = codes.hash("ABCD1234", "jo@example.com");
        assert_ne!(hash, codes.hash("ABCD1234", "al@example.com"));
        let sealed = codes.seal("https://x/signup?token=t", &hash).unwrap();
        assert!(!sealed.contains("token=t") && !sealed.contains("v4.local"));
        assert_eq!(codes.unseal(&sealed, &hash).as_deref(), Some("https://x/signup?token=t"));
        assert_eq!(codes.unseal(&sealed, "another"), None);
    }

    #[test]
    fn key_ring_specs_are_checked() {
        assert!(KeyRing::parse("").is_err());
        assert!(KeyRing::parse("k1:short").is_err());
        let e = entry("k1");
        assert!(KeyRing::parse(&format!("{e},{e}")).is_err());
    }
}
