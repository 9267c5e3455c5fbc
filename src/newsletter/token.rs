//! Signed tokens for links in mail: `<payload>.<signature>`, both base64url.
//!
//! The signature is HMAC-SHA256 over a purpose label and the payload, so a token
//! made for one purpose (unsubscribing) is useless for another, and verification
//! compares in constant time (`hmac`'s `verify_slice`). The secret comes from
//! `HERALD_SECRET`, else from `newsletter.secret_file`, else from a file Herald
//! generates once next to its state (mode 0600), so a fresh install works.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Environment variable that holds the signing secret.
pub(crate) const SECRET_ENV: &str = "HERALD_SECRET";
const MIN_SECRET_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the link is not valid (it was altered, truncated or not made by this newsletter)")]
    Invalid,
    #[error(
        "cannot read the token secret from {path}: {source}\n  hint: check `newsletter.secret_file`, or set HERALD_SECRET"
    )]
    ReadSecret {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the token secret from {origin} is shorter than {MIN_SECRET_BYTES} bytes\n  hint: use a long random value, e.g. `openssl rand -hex 32`"
    )]
    WeakSecret { origin: String },
    #[error("cannot create the token secret {path}: {source}")]
    CreateSecret {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a token is for; part of what is signed.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Unsubscribe,
    Confirm,
    /// The VERP tag of an envelope sender, naming an edition and a subscriber.
    Bounce,
    /// The suppression list's hash of a forgotten address.
    Suppression,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Unsubscribe => b"herald-unsubscribe-v1",
            Purpose::Confirm => b"herald-confirm-v1",
            Purpose::Bounce => b"herald-bounce-v1",
            Purpose::Suppression => b"herald-suppression-v1",
        }
    }
}

/// The signing key. Its bytes never appear in logs or errors (no `Debug` of them).
pub struct TokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

impl TokenKey {
    pub fn from_secret(secret: &[u8]) -> Result<TokenKey, TokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret {
                origin: "the given secret".into(),
            });
        }
        Ok(TokenKey {
            secret: secret.to_vec(),
        })
    }

    /// The site's key: `newsletter.secret_file`, or a secret generated once beside
    /// the state file.
    pub(crate) fn for_site(config: &crate::config::Config) -> Result<TokenKey, TokenError> {
        let generated = config
            .paths
            .state
            .parent()
            .unwrap_or(Path::new("."))
            .join("secret");
        TokenKey::load(config.newsletter.secret_file.as_deref(), &generated)
    }

    /// `HERALD_SECRET`, else `secret_file`, else `generated` (created on first use).
    pub(crate) fn load(
        secret_file: Option<&Path>,
        generated: &Path,
    ) -> Result<TokenKey, TokenError> {
        if let Ok(value) = std::env::var(SECRET_ENV) {
            let value = value.trim();
            if value.len() < MIN_SECRET_BYTES {
                return Err(TokenError::WeakSecret {
                    origin: SECRET_ENV.into(),
                });
            }
            return Ok(TokenKey {
                secret: value.as_bytes().to_vec(),
            });
        }
        let path = secret_file.unwrap_or(generated);
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = text.trim();
                if text.len() < MIN_SECRET_BYTES {
                    return Err(TokenError::WeakSecret {
                        origin: path.display().to_string(),
                    });
                }
                crate::support::permissions::warn_if_readable_by_others(path);
                Ok(TokenKey {
                    secret: text.as_bytes().to_vec(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && secret_file.is_none() => {
                create_secret(generated)
            }
            Err(source) => Err(TokenError::ReadSecret {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn mac(&self, purpose: Purpose, payload: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(purpose.label());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    pub fn sign(&self, purpose: Purpose, payload: &str) -> String {
        let signature = self
            .mac(purpose, payload.as_bytes())
            .finalize()
            .into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// The payload of a token this key signed for `purpose`.
    pub(crate) fn verify(&self, purpose: Purpose, token: &str) -> Result<String, TokenError> {
        let (payload, signature) = token.trim().split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Invalid)?;
        self.mac(purpose, &payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::Invalid)?;
        String::from_utf8(payload).map_err(|_| TokenError::Invalid)
    }

    /// The token an unsubscribe link carries for `email` (already normalised).
    pub fn unsubscribe_token(&self, email: &str) -> String {
        self.sign(Purpose::Unsubscribe, email)
    }

    /// The VERP tag for `week`'s message to subscriber `subscriber_id`:
    /// `2026w04-31-<mac>`. Lower-case letters, digits and `-` only, because mail
    /// systems may change the case of a local part; 48 bits of HMAC, enough that a
    /// forged or altered tag is refused.
    pub(crate) fn bounce_tag(&self, week: &str, subscriber_id: i64) -> String {
        let mac = self.bounce_mac(week, subscriber_id).finalize().into_bytes();
        format!(
            "{}-{subscriber_id}-{}",
            week.to_ascii_lowercase().replace('-', ""),
            crate::support::fingerprint::to_hex(&mac[..BOUNCE_MAC_BYTES])
        )
    }

    /// The edition (`2026-W04`) and subscriber id a [`TokenKey::bounce_tag`] names.
    pub(crate) fn verify_bounce_tag(&self, tag: &str) -> Result<(String, i64), TokenError> {
        let tag = tag.trim().to_ascii_lowercase();
        let mut parts = tag.splitn(3, '-');
        let (Some(week), Some(id), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let week = match week.split_once('w') {
            Some((year, number)) if year.len() == 4 && number.len() == 2 => {
                format!("{year}-W{number}")
            }
            _ => return Err(TokenError::Invalid),
        };
        let subscriber_id: i64 = id.parse().map_err(|_| TokenError::Invalid)?;
        let mac = hex_bytes(mac).ok_or(TokenError::Invalid)?;
        if mac.len() != BOUNCE_MAC_BYTES {
            return Err(TokenError::Invalid);
        }
        self.bounce_mac(&week, subscriber_id)
            .verify_truncated_left(&mac)
            .map_err(|_| TokenError::Invalid)?;
        Ok((week, subscriber_id))
    }

    /// What a bounce tag's MAC covers: the edition and the subscriber.
    fn bounce_mac(&self, week: &str, subscriber_id: i64) -> HmacSha256 {
        self.mac(
            Purpose::Bounce,
            format!("{week}\n{subscriber_id}").as_bytes(),
        )
    }

    /// The suppression list's entry for `email` (normalised): a keyed hash, so the
    /// list reveals no address to someone who reads the state file without the
    /// secret, and cannot be checked against a list of guesses.
    pub(crate) fn address_hash(&self, email: &str) -> String {
        let mac = self
            .mac(Purpose::Suppression, email.as_bytes())
            .finalize()
            .into_bytes();
        crate::support::fingerprint::to_hex(&mac[..16])
    }

    /// The address an unsubscribe token was made for.
    pub(crate) fn verify_unsubscribe(&self, token: &str) -> Result<String, TokenError> {
        self.verify(Purpose::Unsubscribe, token)
    }
}

/// Bytes of HMAC a bounce tag carries.
const BOUNCE_MAC_BYTES: usize = 6;

/// Lower-case hexadecimal back to bytes; `None` for anything else.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn create_secret(path: &Path) -> Result<TokenKey, TokenError> {
    let wrap = |source| TokenError::CreateSecret {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| wrap(std::io::Error::other(e.to_string())))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(wrap)?;
    }
    // Written to a private temporary file first and linked into place only when
    // complete, so a crash never leaves an empty or partial secret behind.
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".secret-")
        .tempfile_in(dir)
        .map_err(wrap)?;
    {
        use std::io::Write;
        temp.write_all(hex.as_bytes()).map_err(wrap)?;
        temp.as_file().sync_all().map_err(wrap)?;
    }
    match temp.persist_noclobber(path) {
        Ok(_) => {
            tracing::info!(
                "created a new token secret in {} (keep it: unsubscribe links depend on it)",
                path.display()
            );
            Ok(TokenKey {
                secret: hex.into_bytes(),
            })
        }
        // Another process created it first: use theirs.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            TokenKey::load(Some(path), path)
        }
        Err(e) => Err(wrap(e.error)),
    }
}

/// `base` (a link from the config, which may carry a query already) with the
/// `token` parameter appended.
pub(crate) fn with_token(base: &str, token: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}token={token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret(b"a test secret of enough length").unwrap()
    }

    #[test]
    fn a_bounce_tag_names_its_edition_and_subscriber_and_nothing_else() {
        let k = key();
        let tag = k.bounce_tag("2026-W04", 31);
        assert!(tag.starts_with("2026w04-31-"), "{tag}");
        assert!(
            tag.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{tag}"
        );
        assert_eq!(k.verify_bounce_tag(&tag).unwrap(), ("2026-W04".into(), 31));
        assert_eq!(
            k.verify_bounce_tag(&tag.to_ascii_uppercase()).unwrap(),
            ("2026-W04".into(), 31),
            "a mail system may upper-case a local part"
        );
        let mac = tag.rsplit('-').next().unwrap();
        let forged = [
            format!("2026w04-32-{mac}"),
            format!("2026w05-31-{mac}"),
            tag[..tag.len() - 1].to_string(),
            format!("{}0", &tag[..tag.len() - 1]).replace("00", "01"),
            "2026w04-31".to_string(),
            "".to_string(),
            TokenKey::from_secret(b"another secret, also long")
                .unwrap()
                .bounce_tag("2026-W04", 31),
        ];
        for case in forged {
            if case != tag {
                assert!(k.verify_bounce_tag(&case).is_err(), "{case} accepted");
            }
        }
    }

    #[test]
    fn a_token_verifies_to_its_address() {
        let token = key().unsubscribe_token("reader@example.com");
        assert_eq!(
            key().verify_unsubscribe(&token).unwrap(),
            "reader@example.com"
        );
        assert!(!token.contains(['+', '/', '=']), "URL-safe: {token}");
    }

    #[test]
    fn forged_truncated_altered_and_foreign_tokens_are_refused() {
        let k = key();
        let token = k.unsubscribe_token("reader@example.com");
        let other = k.unsubscribe_token("other@example.com");
        let (_, other_sig) = other.split_once('.').unwrap();
        let (payload, _) = token.split_once('.').unwrap();
        let cases = [
            token[..token.len() - 3].to_string(),
            format!("{payload}.{other_sig}"),
            format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode("someone@example.com"),
                "AAAA"
            ),
            "garbage".to_string(),
            String::new(),
            TokenKey::from_secret(b"another secret, also long")
                .unwrap()
                .unsubscribe_token("reader@example.com"),
            k.sign(Purpose::Confirm, "reader@example.com"),
        ];
        for forged in cases {
            assert!(k.verify_unsubscribe(&forged).is_err(), "{forged}");
        }
    }

    #[test]
    fn a_generated_secret_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/secret");
        let first = TokenKey::load(None, &path).unwrap();
        let second = TokenKey::load(None, &path).unwrap();
        assert_eq!(first.secret, second.secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(TokenKey::from_secret(b"short").is_err());
    }
}
