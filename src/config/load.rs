//! Reading `config.toml`: parse, validate every value (naming the key), resolve
//! paths and fill in the defaults that depend on other keys.

use std::path::{Path, PathBuf};

use lettre::Address;
use lettre::message::Mailbox;

use super::diagnostics::{one_line_toml_error, unknown_key_warning};
use super::domain_of;
use super::{Config, ConfigError, PathsConfig, Processed, RawConfig, TlsMode, is_loopback};

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Config::from_toml(&text, path, &base)
    }

    /// Parses `text`; `path` is only used in messages, `base` resolves relative paths.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: one_line_toml_error(text, &e),
        };
        let mut unknown = Vec::new();
        let deserializer = toml::Deserializer::parse(text).map_err(syntax)?;
        let raw: RawConfig = serde_ignored::deserialize(deserializer, |key| {
            // Optional tables show up as `smtp.?.key`, array entries as
            // `smtp.relays.0.key` (written `smtp.relays[0].key`).
            let path = key.to_string().replace(".?", "");
            let parts: Vec<&str> = path.split('.').collect();
            let mut shown = String::new();
            for part in parts {
                if part.parse::<usize>().is_ok() {
                    shown += &format!("[{part}]");
                } else {
                    if !shown.is_empty() {
                        shown.push('.');
                    }
                    shown += part;
                }
            }
            unknown.push(shown);
        })
        .map_err(syntax)?;
        if unknown.iter().any(|k| k == "smtp.password") {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key: "smtp.password".into(),
                message: "the password never goes in config.toml; set HERALD_SMTP_PASSWORD or point smtp.password_file at a file only Herald can read".into(),
            });
        }
        let mut warnings: Vec<String> = unknown.iter().map(|k| unknown_key_warning(k)).collect();
        warnings.sort();
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let mut site = raw.site;
        if !(site.base_url.starts_with("https://") || site.base_url.starts_with("http://")) {
            return Err(invalid(
                "site.base_url",
                format!(
                    "`{}` must be an absolute http(s) URL such as `https://example.com/`",
                    site.base_url
                ),
            ));
        }
        if site.base_url.contains(['"', '<', '>', ' ', '\\']) {
            return Err(invalid(
                "site.base_url",
                "contains characters that are not allowed in a URL".into(),
            ));
        }
        if !site.base_url.ends_with('/') {
            site.base_url.push('/');
        }
        if site.publish_hour > 23 {
            return Err(invalid("site.publish_hour", "must be 0 to 23".into()));
        }
        if site.feed_items == 0 {
            return Err(invalid("site.feed_items", "must be at least 1".into()));
        }
        if site.index_items == 0 {
            return Err(invalid("site.index_items", "must be at least 1".into()));
        }
        if site.title.trim().is_empty() {
            return Err(invalid("site.title", "must not be empty".into()));
        }
        if site.author.trim().is_empty() {
            return Err(invalid("site.author", "must not be empty".into()));
        }
        if raw.seed.max_heading_chars == 0 {
            return Err(invalid(
                "seed.max_heading_chars",
                "must be at least 1".into(),
            ));
        }
        if raw.newsletter.send_hour > 23 {
            return Err(invalid("newsletter.send_hour", "must be 0 to 23".into()));
        }
        for hub in &raw.websub.hub {
            let ok = (hub.starts_with("https://") || hub.starts_with("http://"))
                && !hub.contains(['"', '<', '>', ' ', '\\']);
            if !ok {
                return Err(invalid(
                    "websub.hub",
                    format!(
                        "`{hub}` must be an absolute http(s) URL such as `https://pubsubhubbub.appspot.com/`"
                    ),
                ));
            }
        }
        if raw.websub.timeout_secs == 0 {
            return Err(invalid("websub.timeout_secs", "must be at least 1".into()));
        }
        if let Some(bounces) = &raw.bounces {
            match (&bounces.maildir, &bounces.host) {
                (None, None) => {
                    return Err(invalid(
                        "bounces",
                        "set `maildir` (a Maildir on this machine) or `host` (an IMAP server)"
                            .into(),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "bounces",
                        "set either `maildir` or `host`, not both".into(),
                    ));
                }
                _ => {}
            }
            if let Some(host) = &bounces.host {
                if bounces.tls == TlsMode::None && !is_loopback(host) {
                    return Err(invalid(
                        "bounces.tls",
                        format!(
                            "\"none\" would send the mailbox password to {host} unencrypted; use \"tls\" or \"starttls\""
                        ),
                    ));
                }
                if bounces.username.is_none() {
                    return Err(invalid(
                        "bounces.username",
                        "the IMAP login name is required with `host`".into(),
                    ));
                }
            }
            if bounces.processed == Processed::Move
                && (bounces.host.is_none() || bounces.move_to.is_none())
            {
                return Err(invalid(
                    "bounces.move_to",
                    "processed = \"move\" needs an IMAP `host` and the folder in `move_to`".into(),
                ));
            }
        }
        if raw.serve.confirm_hours == 0 {
            return Err(invalid("serve.confirm_hours", "must be at least 1".into()));
        }
        if raw.serve.max_body_bytes < 256 {
            return Err(invalid(
                "serve.max_body_bytes",
                "must be at least 256".into(),
            ));
        }
        if raw.newsletter.bounce_after == 0 {
            return Err(invalid(
                "newsletter.bounce_after",
                "must be at least 1".into(),
            ));
        }
        let mut newsletter = raw.newsletter;
        newsletter.from = match newsletter.given_from.take() {
            Some(mailbox)
                if mailbox
                    .name
                    .as_deref()
                    .is_some_and(|n| !n.trim().is_empty()) =>
            {
                mailbox
            }
            Some(mailbox) => Mailbox::new(Some(newsletter.title.clone()), mailbox.email),
            None => {
                let domain = domain_of(&site.base_url);
                let email = Address::new("newsletter", domain).map_err(|e| {
                    invalid(
                        "newsletter.from",
                        format!(
                            "not set, and `newsletter@{domain}` is not an address ({e}); set it"
                        ),
                    )
                })?;
                Mailbox::new(Some(newsletter.title.clone()), email)
            }
        };
        if let Some(mailto) = &newsletter.unsubscribe_mailto {
            let address = mailto.strip_prefix("mailto:").unwrap_or("");
            let address = address.split('?').next().unwrap_or("");
            if address.parse::<Address>().is_err() {
                return Err(invalid(
                    "newsletter.unsubscribe_mailto",
                    format!(
                        "`{mailto}` must be a mailto: URL such as `mailto:unsubscribe@news.example.com`"
                    ),
                ));
            }
        }
        if newsletter.unsubscribe_url.is_empty() {
            newsletter.unsubscribe_url = format!("{}unsubscribe", site.base_url);
        } else if !newsletter.unsubscribe_url.starts_with("https://")
            && !newsletter.unsubscribe_url.starts_with("http://")
        {
            return Err(invalid(
                "newsletter.unsubscribe_url",
                format!(
                    "`{}` must be an absolute http(s) URL",
                    newsletter.unsubscribe_url
                ),
            ));
        }
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let paths = PathsConfig {
            seeds: resolve(&raw.paths.seeds),
            templates: resolve(&raw.paths.templates),
            output: resolve(&raw.paths.output),
            state: resolve(&raw.paths.state),
            preview: resolve(&raw.paths.preview),
            outbox: resolve(&raw.paths.outbox),
            lock: resolve(&raw.paths.lock),
        };
        newsletter.secret_file = newsletter.secret_file.as_deref().map(resolve);
        let smtp = match raw.smtp {
            Some(smtp) => Some(
                smtp.resolve(resolve)
                    .map_err(|e| invalid(&e.key, e.message))?,
            ),
            None => None,
        };
        let dkim = raw.dkim.map(|mut d| {
            d.key_file = resolve(&d.key_file);
            d
        });
        Ok(Config {
            site,
            paths,
            seed: raw.seed,
            newsletter,
            smtp,
            dkim,
            serve: raw.serve,
            websub: raw.websub,
            bounces: raw.bounces.map(|mut b| {
                b.maildir = b.maildir.as_deref().map(resolve);
                b.password_file = b.password_file.as_deref().map(resolve);
                b
            }),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("config.toml"), Path::new("/srv/news"))
    }

    const MINIMAL: &str =
        "[site]\ntitle = \"T\"\nbase_url = \"https://example.com/news\"\nauthor = \"A\"\n";

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let config = load(MINIMAL).unwrap();
        assert_eq!(config.site.base_url, "https://example.com/news/");
        assert_eq!(config.site.timezone, chrono_tz::Asia::Taipei);
        assert_eq!(config.paths.seeds, PathBuf::from("/srv/news/seeds"));
        assert_eq!(config.site.feed_items, 50);
        assert_eq!(config.site_domain(), "example.com");
        assert_eq!(config.newsletter.send_weekday, chrono::Weekday::Mon);
        assert_eq!(
            config.newsletter.unsubscribe_url,
            "https://example.com/news/unsubscribe"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let bad_tz = format!("{MINIMAL}timezone = \"Mars/Base\"\n");
        let err = load(&bad_tz).unwrap_err().to_string();
        assert!(err.contains("site.timezone"), "{err}");
        let no_scheme = MINIMAL.replace("https://example.com/news", "example.com");
        let err = load(&no_scheme).unwrap_err().to_string();
        assert!(err.contains("site.base_url"), "{err}");
        let insecure = format!("{MINIMAL}[smtp]\nhost = \"mail.example.com\"\ntls = \"none\"\n");
        let err = load(&insecure).unwrap_err().to_string();
        assert!(err.contains("smtp.tls"), "{err}");
        let loopback = format!("{MINIMAL}[smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\n");
        assert!(load(&loopback).is_ok());
        let password = format!("{MINIMAL}[smtp]\nhost = \"127.0.0.1\"\npassword = \"hunter2\"\n");
        let err = load(&password).unwrap_err().to_string();
        assert!(
            err.contains("smtp.password") && !err.contains("hunter2"),
            "{err}"
        );
        let wrong_type = format!("{MINIMAL}feed_items = \"many\"\n");
        let err = load(&wrong_type).unwrap_err().to_string();
        assert!(err.contains("feed_items"), "{err}");
        let missing = MINIMAL.replace("author = \"A\"\n", "");
        let err = load(&missing).unwrap_err().to_string();
        assert!(err.contains("author"), "{err}");
    }

    #[test]
    fn unknown_keys_warn_with_the_closest_valid_key() {
        let config = load(&format!("{MINIMAL}titel = \"x\"\n[smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\npool_sise = 2\n[sevre]\n")).unwrap();
        assert_eq!(
            config.warnings,
            [
                "unknown key `sevre` ignored; did you mean `serve`?",
                "unknown key `site.titel` ignored; did you mean `site.title`?",
                "unknown key `smtp.pool_sise` ignored; did you mean `smtp.pool_size`?",
            ]
        );
    }

    #[test]
    fn relays_are_checked_with_their_keys_named() {
        let relays = format!(
            "{MINIMAL}[smtp]\ntimeout_secs = 5\n[[smtp.relays]]\nname = \"a\"\nhost = \"127.0.0.1\"\ntls = \"none\"\npool_sise = 2\n[[smtp.relays]]\nname = \"b\"\nhost = \"mx.example.com\"\nweight = 3\n"
        );
        let config = load(&relays).unwrap();
        assert_eq!(
            config.warnings,
            [
                "unknown key `smtp.relays[0].pool_sise` ignored; did you mean `smtp.relays[0].pool_size`?"
            ]
        );
        let smtp = config.smtp.unwrap();
        assert_eq!(smtp.relays.len(), 2);
        assert_eq!((smtp.relays[1].weight, smtp.relays[1].timeout_secs), (3, 5));
        let duplicate = relays.replace("name = \"b\"", "name = \"a\"");
        let err = load(&duplicate).unwrap_err().to_string();
        assert!(err.contains("key `smtp.relays[1].name`"), "{err}");
        let wrong_type = relays.replace("weight = 3", "weight = \"heavy\"");
        let err = load(&wrong_type).unwrap_err().to_string();
        assert!(
            err.contains("smtp.relays") && err.contains("weight"),
            "{err}"
        );
    }

    #[test]
    fn the_sender_is_the_newsletter_by_name_never_the_software() {
        let config = load(MINIMAL).unwrap();
        assert_eq!(
            config.newsletter.from.to_string(),
            "《華爾街聊什麼》週報 <newsletter@example.com>"
        );
        let bare = load(&format!(
            "{MINIMAL}[newsletter]\ntitle = \"Weekly\"\nfrom = \"news@example.org\"\n"
        ))
        .unwrap();
        assert_eq!(
            bare.newsletter.from.to_string(),
            "Weekly <news@example.org>"
        );
        let named = load(&format!(
            "{MINIMAL}[newsletter]\nfrom = \"Ed <ed@example.org>\"\n"
        ))
        .unwrap();
        assert_eq!(named.newsletter.from.to_string(), "Ed <ed@example.org>");
    }

    #[test]
    fn every_address_key_is_validated_by_name() {
        for (key, value) in [
            ("from", "not an address"),
            ("reply_to", "also <not"),
            ("bounce_address", "Name <bounces@example.com>"),
            ("bounce_address", "nobody"),
            ("unsubscribe_mailto", "unsubscribe@example.com"),
            ("unsubscribe_mailto", "mailto:nobody"),
        ] {
            let text = format!("{MINIMAL}[newsletter]\n{key} = \"{value}\"\n");
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(&format!("newsletter.{key}")), "{key}: {err}");
        }
        let good = format!(
            "{MINIMAL}[newsletter]\nbounce_address = \"bounces@example.com\"\nunsubscribe_mailto = \"mailto:leave@example.com?subject=unsubscribe\"\n"
        );
        assert!(load(&good).is_ok());
    }

    #[test]
    fn misaligned_sender_domains_are_warned_about() {
        let aligned = format!(
            "{MINIMAL}[newsletter]\nfrom = \"N <news@example.com>\"\nbounce_address = \"bounces@mail.example.com\"\n[dkim]\nselector = \"s\"\nkey_file = \"k.pem\"\n"
        );
        assert!(load(&aligned).unwrap().alignment_warnings().is_empty());
        let misaligned = format!(
            "{MINIMAL}[newsletter]\nfrom = \"N <news@example.org>\"\nbounce_address = \"bounces@bulk.example.net\"\n[dkim]\nselector = \"s\"\nkey_file = \"k.pem\"\n"
        );
        let warnings = load(&misaligned).unwrap().alignment_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("DKIM signing domain `example.com`"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].contains("bounce domain `bulk.example.net`"),
            "{}",
            warnings[1]
        );
    }
}
