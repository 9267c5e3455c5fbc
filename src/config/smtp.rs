//! `[smtp]` and `[[smtp.relays]]`: the relays mail leaves through, each resolved
//! from its own keys over the `[smtp]` defaults and validated with the key named.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{TlsMode, is_loopback};

/// The keys a relay may set and `[smtp]` may default, spelled once for both tables
/// (serde's `flatten` would hide their field lists from the unknown-key check).
macro_rules! relay_table {
    ($(#[$meta:meta])* struct $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, Deserialize)]
        pub(crate) struct $name {
            $($extra)*
            port: Option<u16>,
            tls: Option<TlsMode>,
            /// Allows `tls = "none"` towards a host that is not loopback.
            allow_insecure: Option<bool>,
            username: Option<String>,
            /// File holding the password; the relay's environment variable takes
            /// precedence. The password itself never goes in config.toml.
            password_file: Option<PathBuf>,
            /// Connections used in parallel.
            pool_size: Option<usize>,
            /// Messages per second over this relay's connections; unlimited when absent.
            rate_limit: Option<f64>,
            /// Limit for connecting and for every SMTP command, in seconds.
            timeout_secs: Option<u64>,
        }

        impl $name {
            fn keys(&self) -> RelayKeys {
                RelayKeys {
                    port: self.port,
                    tls: self.tls,
                    allow_insecure: self.allow_insecure,
                    username: self.username.clone(),
                    password_file: self.password_file.clone(),
                    pool_size: self.pool_size,
                    rate_limit: self.rate_limit,
                    timeout_secs: self.timeout_secs,
                }
            }
        }
    };
}

relay_table! {
    /// `[smtp]` as written. Its relay keys are defaults for every `[[smtp.relays]]`;
    /// with no relays listed, `host` makes it one relay of its own.
    struct SmtpConfig {
        host: Option<String>,
        /// Tries per message within one run (over any relays) before it is left
        /// for the next run.
        max_attempts: Option<u32>,
        /// First retry delay in milliseconds; doubles with each retry.
        retry_base_ms: Option<u64>,
        #[serde(default)]
        relays: Vec<RelayConfig>,
    }
}

relay_table! {
    /// One `[[smtp.relays]]` as written.
    struct RelayConfig {
        #[serde(default)]
        name: String,
        #[serde(default)]
        host: String,
        /// Share of the messages, relative to the other relays' weights.
        weight: Option<u32>,
    }
}

/// A relay's keys, before defaults.
#[derive(Debug, Clone, Default)]
struct RelayKeys {
    port: Option<u16>,
    tls: Option<TlsMode>,
    allow_insecure: Option<bool>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    pool_size: Option<usize>,
    rate_limit: Option<f64>,
    timeout_secs: Option<u64>,
}

impl RelayKeys {
    /// `self` where set, else `defaults`.
    fn over(&self, defaults: &RelayKeys) -> RelayKeys {
        RelayKeys {
            port: self.port.or(defaults.port),
            tls: self.tls.or(defaults.tls),
            allow_insecure: self.allow_insecure.or(defaults.allow_insecure),
            username: self.username.clone().or_else(|| defaults.username.clone()),
            password_file: (self.password_file.clone()).or_else(|| defaults.password_file.clone()),
            pool_size: self.pool_size.or(defaults.pool_size),
            rate_limit: self.rate_limit.or(defaults.rate_limit),
            timeout_secs: self.timeout_secs.or(defaults.timeout_secs),
        }
    }
}

/// The relays, resolved: what `send` and `run` deliver through.
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    /// At least one; names are unique.
    pub relays: Vec<Relay>,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
}

/// One relay with every key resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    /// What summaries, the journal and `herald report` call it: the configured
    /// name, or `host:port` for a plain `[smtp]`.
    pub name: String,
    /// Where its keys are in config.toml (`smtp`, `smtp.relays[1]`), for hints.
    pub key: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The environment variable that holds the password (before `password_file`).
    pub password_env: String,
    pub pool_size: usize,
    pub rate_limit: Option<f64>,
    pub weight: u32,
    pub timeout_secs: u64,
}

/// What [`SmtpConfig::resolve`] rejects: the key (`smtp.relays[1].pool_size`) and why.
pub(crate) struct Invalid {
    pub key: String,
    pub message: String,
}

/// The variable a relay's password is read from: `HERALD_SMTP_PASSWORD` for a
/// plain `[smtp]`, `HERALD_SMTP_PASSWORD_OWN_POSTFIX` for the relay `own-postfix`.
const PASSWORD_ENV: &str = "HERALD_SMTP_PASSWORD";

fn password_env(name: &str) -> String {
    let suffix: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => c.to_ascii_uppercase(),
            _ => '_',
        })
        .collect();
    format!("{PASSWORD_ENV}_{suffix}")
}

impl SmtpConfig {
    /// Every relay resolved and checked; relative password files resolved against
    /// `base` by `resolve_path`.
    pub(crate) fn resolve(self, resolve_path: impl Fn(&Path) -> PathBuf) -> Result<Smtp, Invalid> {
        let invalid = |key: String, message: String| Invalid { key, message };
        let max_attempts = self.max_attempts.unwrap_or(3);
        if max_attempts == 0 {
            return Err(invalid(
                "smtp.max_attempts".into(),
                "must be at least 1".into(),
            ));
        }
        let defaults = self.keys();
        let mut listed: Vec<(String, String, Option<u32>, RelayKeys, String)> = Vec::new();
        match (self.host, self.relays.is_empty()) {
            (Some(_), false) => {
                return Err(invalid(
                    "smtp.host".into(),
                    "give either `host` in [smtp] (one relay) or [[smtp.relays]] entries, not both"
                        .into(),
                ));
            }
            (None, true) => {
                return Err(invalid(
                    "smtp.host".into(),
                    "missing: set `host` in [smtp], or list relays as [[smtp.relays]]".into(),
                ));
            }
            (Some(host), true) => {
                let name = format!("{host}:{}", defaults.port.unwrap_or(587));
                listed.push((name, host, None, defaults, "smtp".into()));
            }
            (None, false) => {
                for (i, relay) in self.relays.into_iter().enumerate() {
                    let keys = relay.keys().over(&defaults);
                    let at = format!("smtp.relays[{i}]");
                    listed.push((relay.name, relay.host, relay.weight, keys, at));
                }
            }
        }
        let single = listed.len() == 1 && listed[0].4 == "smtp";
        let mut relays: Vec<Relay> = Vec::new();
        for (name, host, weight, keys, at) in listed {
            let key = |k: &str| format!("{at}.{k}");
            if !single {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(invalid(
                        key("name"),
                        format!(
                            "`{name}`: use letters, digits, `-` and `_` (it names the relay's password variable)"
                        ),
                    ));
                }
                if let Some(other) = relays
                    .iter()
                    .find(|r| password_env(&r.name) == password_env(&name))
                {
                    return Err(invalid(
                        key("name"),
                        format!(
                            "`{name}` is already the name of another relay (`{}`); names must be unique",
                            other.name
                        ),
                    ));
                }
            }
            if host.trim().is_empty() {
                return Err(invalid(key("host"), "must not be empty".into()));
            }
            let pool_size = keys.pool_size.unwrap_or(4);
            if pool_size == 0 || pool_size > 64 {
                return Err(invalid(key("pool_size"), "must be 1 to 64".into()));
            }
            let timeout_secs = keys.timeout_secs.unwrap_or(30);
            if timeout_secs == 0 {
                return Err(invalid(key("timeout_secs"), "must be at least 1".into()));
            }
            if keys.rate_limit.is_some_and(|r| r.is_nan() || r <= 0.0) {
                return Err(invalid(
                    key("rate_limit"),
                    "must be a positive number of messages per second".into(),
                ));
            }
            let weight = weight.unwrap_or(1);
            if weight == 0 {
                return Err(invalid(
                    key("weight"),
                    "must be at least 1 (remove the relay to stop using it)".into(),
                ));
            }
            let tls = keys.tls.unwrap_or(TlsMode::Starttls);
            if tls == TlsMode::None && !is_loopback(&host) && !keys.allow_insecure.unwrap_or(false)
            {
                return Err(invalid(
                    key("tls"),
                    format!(
                        "\"none\" would send mail and credentials to {host} unencrypted; use \"starttls\" or \"tls\", or set allow_insecure = true"
                    ),
                ));
            }
            relays.push(Relay {
                password_env: if single {
                    PASSWORD_ENV.into()
                } else {
                    password_env(&name)
                },
                name,
                key: at,
                host,
                port: keys.port.unwrap_or(587),
                tls,
                username: keys.username,
                password_file: keys.password_file.as_deref().map(&resolve_path),
                pool_size,
                rate_limit: keys.rate_limit,
                weight,
                timeout_secs,
            });
        }
        Ok(Smtp {
            relays,
            max_attempts,
            retry_base_ms: self.retry_base_ms.unwrap_or(1000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml_text: &str) -> Result<Smtp, String> {
        let config: SmtpConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        config
            .resolve(|p| Path::new("/base").join(p))
            .map_err(|e| format!("{}: {}", e.key, e.message))
    }

    #[test]
    fn relays_take_the_smtp_keys_as_defaults() {
        let smtp = resolve(
            "timeout_secs = 9\nmax_attempts = 5\npool_size = 2\ntls = \"tls\"\n\
             [[relays]]\nname = \"own-postfix\"\nhost = \"mx1.example.com\"\npool_size = 8\nweight = 3\nrate_limit = 50.0\n\
             [[relays]]\nname = \"provider\"\nhost = \"smtp.example.net\"\nport = 465\npassword_file = \"secret\"\nusername = \"u\"\n",
        )
        .unwrap();
        assert_eq!(smtp.max_attempts, 5);
        let [own, provider] = &smtp.relays[..] else {
            panic!("{smtp:?}")
        };
        assert_eq!(
            (own.pool_size, own.weight, own.rate_limit),
            (8, 3, Some(50.0))
        );
        assert_eq!(
            (own.port, own.tls, own.timeout_secs),
            (587, TlsMode::Tls, 9)
        );
        assert_eq!(own.password_env, "HERALD_SMTP_PASSWORD_OWN_POSTFIX");
        assert_eq!(
            (provider.pool_size, provider.weight, provider.port),
            (2, 1, 465)
        );
        assert_eq!(provider.password_file, Some(PathBuf::from("/base/secret")));
        assert_eq!(provider.password_env, "HERALD_SMTP_PASSWORD_PROVIDER");
    }

    #[test]
    fn a_plain_smtp_table_is_one_relay_named_by_its_address() {
        let smtp = resolve("host = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n").unwrap();
        assert_eq!(smtp.relays.len(), 1);
        assert_eq!(smtp.relays[0].name, "127.0.0.1:2525");
        assert_eq!(smtp.relays[0].password_env, "HERALD_SMTP_PASSWORD");
        assert_eq!((smtp.relays[0].pool_size, smtp.relays[0].weight), (4, 1));
    }

    #[test]
    fn every_relay_is_checked_and_the_key_named() {
        let relay = |name: &str, extra: &str| {
            format!("[[relays]]\nname = \"{name}\"\nhost = \"mx.example.com\"\n{extra}")
        };
        let cases = [
            (relay("a", "") + &relay("a", ""), "smtp.relays[1].name"),
            (relay("a-b", "") + &relay("a_b", ""), "smtp.relays[1].name"),
            (relay("a b", ""), "smtp.relays[0].name"),
            (
                relay("a", "") + &relay("b", "pool_size = 0\n"),
                "smtp.relays[1].pool_size",
            ),
            (relay("a", "weight = 0\n"), "smtp.relays[0].weight"),
            (relay("a", "tls = \"none\"\n"), "smtp.relays[0].tls"),
            (
                relay("a", "rate_limit = -1.0\n"),
                "smtp.relays[0].rate_limit",
            ),
            (format!("host = \"x\"\n{}", relay("a", "")), "smtp.host"),
            ("pool_size = 2\n".to_string(), "smtp.host"),
            (
                format!("max_attempts = 0\n{}", relay("a", "")),
                "smtp.max_attempts",
            ),
        ];
        for (text, key) in cases {
            let err = resolve(&text).unwrap_err();
            assert!(err.starts_with(&format!("{key}:")), "{text}\n→ {err}");
        }
    }
}
