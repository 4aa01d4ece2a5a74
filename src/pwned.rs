use sha1::{Digest, Sha1};
use std::time::Duration;

pub struct PwnedCheck {
    base: String,
    client: reqwest::Client,
}

impl PwnedCheck {
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Option<Self>> {
        let Some(url) = &settings.password_pwned_url else { return Ok(None) };
        Self::new(url, settings.password_pwned_timeout).map(Some)
    }

    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("usher/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the Have I Been Pwned client: {e}"))?;
        let base = if base.ends_with('/') { base.to_owned() } else { format!("{base}/") };
        Ok(Self { base, client })
    }

    pub async fn is_pwned(&self, password: &str) -> bool {
        let hex = hex_upper(&Sha1::digest(password.as_bytes()));
        let (prefix, suffix) = hex.split_at(5);
        // Padded answers are all about the same size: an observer cannot tell the prefix from the length.
        let answer = self.client.get(format!("{}{prefix}", self.base)).header("Add-Padding", "true").send().await;
        let text = match answer.and_then(reqwest::Response::error_for_status) {
            Ok(r) => r.text().await,
            Err(e) => Err(e),
        };
        match text {
            Ok(body) => listed(&body, suffix),
            Err(e) => {
                tracing::warn!(error = %e, "the Have I Been Pwned range check failed; the password was not checked against it");
                false
            }
        }
    }
}

/// `SUFFIX:COUNT` lines; padding lines have a count of 0.
fn listed(body: &str, suffix: &str) -> bool {
    body.lines().filter_map(|l| l.trim().split_once(':')).any(|(s, count)| s.eq_ignore_ascii_case(suffix) && count.trim() != "0")
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_answer_lists_a_suffix_unless_only_as_padding() {
        let hex = hex_upper(&Sha1::digest(b"password"));
        assert_eq!(hex, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8");
        let body = "003D68EB55068C33ACE09247EE4C639306B:3\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n";
        assert!(listed(body, &hex[5..]));
        assert!(!listed("1E4C9B93F3F0682250B6CF8331B7EE68FD8:0\r\n", &hex[5..]));
        assert!(!listed(body, "0000000000000000000000000000000000A"));
    }
}
