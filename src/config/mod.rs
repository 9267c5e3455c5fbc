//! `config.toml`: a typed description of the site, its paths and the seed rules.
//!
//! Every key has a default except the few a site cannot do without, so a minimal
//! file is short. Unknown keys are errors (a typo must never be silently ignored),
//! and relative paths are resolved against the folder of the config file so cron can
//! run `herald --config /srv/news/config.toml run` from any working directory.

use std::path::{Path, PathBuf};

use chrono::Weekday;
use chrono_tz::Tz;
use serde::Deserialize;

/// Why a configuration could not be used; always names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    site: SiteConfig,
    #[serde(default)]
    paths: PathsConfig,
    #[serde(default)]
    seed: SeedRules,
    #[serde(default)]
    newsletter: NewsletterConfig,
    smtp: Option<SmtpConfig>,
    dkim: Option<DkimConfig>,
    #[serde(default)]
    serve: ServeConfig,
}

/// The loaded, validated configuration. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Config {
    pub site: SiteConfig,
    pub paths: PathsConfig,
    pub seed: SeedRules,
    pub newsletter: NewsletterConfig,
    /// `None`: messages go to the outbox folder as `.eml` files.
    pub smtp: Option<SmtpConfig>,
    pub dkim: Option<DkimConfig>,
    pub serve: ServeConfig,
    /// Parsed form of `site.timezone`.
    pub timezone: Tz,
    /// Unknown keys, each with the closest valid key: ignored, but shown to the user.
    pub warnings: Vec<String>,
}

/// Every key the config knows, by table, for "did you mean" suggestions.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "site",
            "paths",
            "seed",
            "newsletter",
            "smtp",
            "dkim",
            "serve",
        ],
    ),
    (
        "site",
        &[
            "title",
            "base_url",
            "description",
            "language",
            "timezone",
            "author",
            "publish_hour",
            "feed_items",
            "index_items",
        ],
    ),
    (
        "paths",
        &[
            "seeds",
            "templates",
            "output",
            "state",
            "preview",
            "outbox",
            "lock",
        ],
    ),
    (
        "seed",
        &[
            "column_intro_heading",
            "episode_intro_heading",
            "max_heading_chars",
            "max_title_chars",
            "sentence_endings",
            "drop_blocks",
            "footer_markers",
            "max_seed_bytes",
        ],
    ),
    (
        "newsletter",
        &[
            "title",
            "from",
            "reply_to",
            "subject",
            "send_weekday",
            "send_hour",
            "content",
            "skip_empty",
            "secret_file",
            "unsubscribe_url",
            "unsubscribe_mailto",
            "list_id",
            "bounce_after",
        ],
    ),
    (
        "smtp",
        &[
            "host",
            "port",
            "tls",
            "allow_insecure",
            "username",
            "password_file",
            "pool_size",
            "rate_limit",
            "timeout_secs",
            "max_attempts",
            "retry_base_ms",
        ],
    ),
    ("dkim", &["selector", "domain", "key_file"]),
    (
        "serve",
        &[
            "listen",
            "confirm_hours",
            "max_body_bytes",
            "subscribe_per_ip",
            "subscribe_per_address",
            "trust_forwarded_for",
        ],
    ),
];

/// `LINE: `table.key`: what is wrong`, from TOML's multi-line report.
fn one_line_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    let Some(span) = error.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let lines: Vec<&str> = text.lines().collect();
    let table = lines[..line_no.min(lines.len())]
        .iter()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .map(|t| t.trim().to_string())
        })
        .unwrap_or_default();
    let join = |k: &str| {
        if table.is_empty() {
            k.to_string()
        } else {
            format!("{table}.{k}")
        }
    };
    let key = if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        Some(join(field))
    } else {
        lines
            .get(line_no - 1)
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| join(k.trim()))
    };
    match key {
        Some(key) => format!("line {line_no}: key `{key}`: {message}"),
        None => format!("line {line_no}: {message}"),
    }
}

/// The warning for an unknown key path such as `site.titel`.
fn unknown_key_warning(path: &str) -> String {
    let (table, key) = path.rsplit_once('.').unwrap_or(("", path));
    let closest = KNOWN_KEYS
        .iter()
        .find(|(t, _)| *t == table)
        .and_then(|(_, keys)| {
            keys.iter()
                .map(|k| (strsim::jaro_winkler(k, key), *k))
                .filter(|(score, _)| *score > 0.7)
                .max_by(|a, b| a.0.total_cmp(&b.0))
        });
    let full = |k: &str| {
        if table.is_empty() {
            k.to_string()
        } else {
            format!("{table}.{k}")
        }
    };
    match closest {
        Some((_, k)) => format!("unknown key `{path}` ignored; did you mean `{}`?", full(k)),
        None => format!("unknown key `{path}` ignored"),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SiteConfig {
    pub title: String,
    /// Absolute URL the site is deployed at; always ends with `/` after loading.
    pub base_url: String,
    /// Used when no seed carries a column introduction.
    #[serde(default)]
    pub description: String,
    /// BCP 47 tag for `lang`, `xml:lang` and RSS `language`.
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Author of every article unless a seed's front matter names another.
    pub author: String,
    /// Local hour at which an article dated by day only is published.
    #[serde(default = "default_publish_hour")]
    pub publish_hour: u32,
    /// How many of the newest articles the feeds carry.
    #[serde(default = "default_feed_items")]
    pub feed_items: usize,
    /// How many of the newest articles the front page lists; every article is
    /// listed on the archive page of its year.
    #[serde(default = "default_index_items")]
    pub index_items: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PathsConfig {
    pub seeds: PathBuf,
    pub templates: PathBuf,
    pub output: PathBuf,
    pub state: PathBuf,
    /// Where `herald digest` writes previews unless `--out` says otherwise.
    pub preview: PathBuf,
    /// Where messages go as `.eml` files when no `[smtp]` is configured.
    pub outbox: PathBuf,
    /// Lock file that keeps two `herald run` from overlapping.
    pub lock: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            seeds: "seeds".into(),
            templates: "templates".into(),
            output: "public".into(),
            state: "state/herald.sqlite".into(),
            preview: "preview".into(),
            outbox: "outbox".into(),
            lock: "state/herald.lock".into(),
        }
    }
}

/// The rules that turn a seed's plain text into an article.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SeedRules {
    /// Inline heading in the lead that introduces the column itself.
    pub column_intro_heading: String,
    /// Inline heading in the lead that introduces this episode (the summary).
    pub episode_intro_heading: String,
    /// A heading is at most this many characters (grapheme clusters).
    pub max_heading_chars: usize,
    /// A front-matter title longer than this is an error, never silently cut.
    pub max_title_chars: usize,
    /// A line ending in one of these characters is a sentence, never a heading.
    pub sentence_endings: String,
    /// Blocks dropped wherever they appear (compared with whitespace collapsed).
    pub drop_blocks: Vec<String>,
    /// A block equal to one of these starts the scraped footer: it and everything
    /// after it are dropped.
    pub footer_markers: Vec<String>,
    /// Seeds larger than this are rejected rather than truncated.
    pub max_seed_bytes: u64,
}

impl Default for SeedRules {
    fn default() -> Self {
        SeedRules {
            column_intro_heading: "《華爾街聊什麼》欄目介紹".into(),
            episode_intro_heading: "本期Podcast與來賓介紹".into(),
            max_heading_chars: 40,
            max_title_chars: 200,
            sentence_endings: "。！？!?.…；;，,、：:".into(),
            drop_blocks: vec!["廣告".into(), "廣告 廣告".into()],
            footer_markers: vec!["更多風傳媒報導".into()],
            max_seed_bytes: 4 * 1024 * 1024,
        }
    }
}

/// How much of each article the digest carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestContent {
    Summary,
    Full,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NewsletterConfig {
    pub title: String,
    pub from: String,
    pub reply_to: Option<String>,
    /// Tera template for the subject; sees `newsletter`, `edition` and `lead` (the
    /// newest article as the index lists it, without its body; none in an empty
    /// edition).
    pub subject: String,
    /// Weekday (in the site timezone) on which last week's edition is due.
    pub send_weekday: String,
    pub send_hour: u32,
    pub content: DigestContent,
    pub skip_empty: bool,
    /// File holding the secret that signs unsubscribe tokens; the environment
    /// variable `HERALD_SECRET` takes precedence.
    pub secret_file: Option<PathBuf>,
    /// Base of unsubscribe links; `<base_url>unsubscribe` by default. The token is
    /// appended as `?token=…`.
    pub unsubscribe_url: Option<String>,
    /// Optional `mailto:` address for `List-Unsubscribe`.
    pub unsubscribe_mailto: Option<String>,
    /// `List-Id` identifier; `newsletter.<site domain>` by default.
    pub list_id: Option<String>,
    /// Consecutive permanent failures (over editions) after which a subscriber is
    /// marked bounced.
    pub bounce_after: u32,
}

impl Default for NewsletterConfig {
    fn default() -> Self {
        NewsletterConfig {
            title: "《華爾街聊什麼》週報".into(),
            from: "Herald <newsletter@example.com>".into(),
            reply_to: None,
            subject: "{{ newsletter.title }} {{ edition.year }} 第 {{ edition.week }} 週{% if lead %}：{{ lead.title }}{% endif %}".into(),
            send_weekday: "Mon".into(),
            send_hour: 8,
            content: DigestContent::Summary,
            skip_empty: true,
            secret_file: None,
            unsubscribe_url: None,
            unsubscribe_mailto: None,
            list_id: None,
            bounce_after: 3,
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only for a server on this machine unless `allow_insecure`.
    None,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// Allows `tls = "none"` towards a host that is not loopback.
    #[serde(default)]
    pub allow_insecure: bool,
    pub username: Option<String>,
    /// File holding the password; `HERALD_SMTP_PASSWORD` takes precedence. The
    /// password itself never goes in config.toml.
    pub password_file: Option<PathBuf>,
    /// Connections used in parallel.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Messages per second across all connections; unlimited when absent.
    pub rate_limit: Option<f64>,
    /// Limit for connecting and for every SMTP command, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Tries per message within one run before it is left for the next run.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubles with each retry.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DkimConfig {
    pub selector: String,
    /// Signing domain (`d=`); the site's domain by default.
    pub domain: Option<String>,
    /// PEM private key: Ed25519 (preferred) or RSA.
    pub key_file: PathBuf,
}

/// `herald serve`: the subscribe / confirm / unsubscribe endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServeConfig {
    /// Address to listen on unless `--listen` says otherwise.
    pub listen: String,
    /// How long a confirmation link stays valid.
    pub confirm_hours: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Subscribe requests allowed per client IP per hour.
    pub subscribe_per_ip: u32,
    /// Subscribe requests allowed per address per hour.
    pub subscribe_per_address: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a reverse proxy
    /// that sets it).
    pub trust_forwarded_for: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8080".into(),
            confirm_hours: 48,
            max_body_bytes: 8 * 1024,
            subscribe_per_ip: 10,
            subscribe_per_address: 3,
            trust_forwarded_for: false,
        }
    }
}

fn default_smtp_port() -> u16 {
    587
}
fn default_tls() -> TlsMode {
    TlsMode::Starttls
}
fn default_pool_size() -> usize {
    4
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_max_attempts() -> u32 {
    3
}
fn default_retry_base_ms() -> u64 {
    1000
}

fn default_language() -> String {
    "zh-TW".into()
}
fn default_timezone() -> String {
    "Asia/Taipei".into()
}
fn default_publish_hour() -> u32 {
    8
}
fn default_feed_items() -> usize {
    50
}
fn default_index_items() -> usize {
    30
}

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
            // Optional tables show up as `smtp.?.key`.
            unknown.push(key.to_string().replace(".?", ""));
        })
        .map_err(syntax)?;
        if unknown.iter().any(|k| k == "smtp.password") {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key: "smtp.password",
                message: "the password never goes in config.toml; set HERALD_SMTP_PASSWORD or point smtp.password_file at a file only Herald can read".into(),
            });
        }
        let mut warnings: Vec<String> = unknown.iter().map(|k| unknown_key_warning(k)).collect();
        warnings.sort();
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let mut site = raw.site;
        let timezone: Tz = site.timezone.parse().map_err(|_| {
            invalid(
                "site.timezone",
                format!(
                    "`{}` is not an IANA timezone name (for example `Asia/Taipei`)",
                    site.timezone
                ),
            )
        })?;
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
        if raw.newsletter.send_weekday.parse::<Weekday>().is_err() {
            return Err(invalid(
                "newsletter.send_weekday",
                format!(
                    "`{}` is not a weekday (use Mon, Tue, …, Sun)",
                    raw.newsletter.send_weekday
                ),
            ));
        }
        if let Some(smtp) = &raw.smtp {
            if smtp.host.trim().is_empty() {
                return Err(invalid("smtp.host", "must not be empty".into()));
            }
            if smtp.pool_size == 0 || smtp.pool_size > 64 {
                return Err(invalid("smtp.pool_size", "must be 1 to 64".into()));
            }
            if smtp.max_attempts == 0 {
                return Err(invalid("smtp.max_attempts", "must be at least 1".into()));
            }
            if smtp.timeout_secs == 0 {
                return Err(invalid("smtp.timeout_secs", "must be at least 1".into()));
            }
            if smtp.rate_limit.is_some_and(|r| r.is_nan() || r <= 0.0) {
                return Err(invalid(
                    "smtp.rate_limit",
                    "must be a positive number of messages per second".into(),
                ));
            }
            let loopback = matches!(smtp.host.as_str(), "localhost" | "::1" | "[::1]")
                || smtp
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if smtp.tls == TlsMode::None && !loopback && !smtp.allow_insecure {
                return Err(invalid(
                    "smtp.tls",
                    format!(
                        "\"none\" would send mail and credentials to {} unencrypted; use \"starttls\" or \"tls\", or set smtp.allow_insecure = true",
                        smtp.host
                    ),
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
        if let Some(url) = &raw.newsletter.unsubscribe_url
            && !url.starts_with("https://")
            && !url.starts_with("http://")
        {
            return Err(invalid(
                "newsletter.unsubscribe_url",
                format!("`{url}` must be an absolute http(s) URL"),
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
        let mut newsletter = raw.newsletter;
        newsletter.secret_file = newsletter.secret_file.as_deref().map(resolve);
        let smtp = raw.smtp.map(|mut s| {
            s.password_file = s.password_file.as_deref().map(resolve);
            s
        });
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
            timezone,
            warnings,
        })
    }

    /// The weekday on which an edition falls due; validated at load.
    pub fn send_weekday(&self) -> Weekday {
        self.newsletter.send_weekday.parse().unwrap_or(Weekday::Mon)
    }

    /// The host part of `base_url`, used for Message-IDs and tag URIs.
    pub fn site_domain(&self) -> &str {
        let rest = self
            .site
            .base_url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&self.site.base_url);
        let host = rest.split('/').next().unwrap_or(rest);
        host.split(':').next().unwrap_or(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("config.toml"), Path::new("/srv/news"))
    }

    const MINIMAL: &str =
        "[site]\ntitle = \"T\"\nbase_url = \"https://example.com/news\"\nauthor = \"A\"\n";

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let config = load(MINIMAL).unwrap();
        assert_eq!(config.site.base_url, "https://example.com/news/");
        assert_eq!(config.timezone, chrono_tz::Asia::Taipei);
        assert_eq!(config.paths.seeds, PathBuf::from("/srv/news/seeds"));
        assert_eq!(config.site.feed_items, 50);
        assert_eq!(config.site_domain(), "example.com");
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
}
