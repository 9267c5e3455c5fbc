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
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: SiteConfig,
    #[serde(default)]
    paths: PathsConfig,
    #[serde(default)]
    seed: SeedRules,
    #[serde(default)]
    newsletter: NewsletterConfig,
}

/// The loaded, validated configuration. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Config {
    pub site: SiteConfig,
    pub paths: PathsConfig,
    pub seed: SeedRules,
    pub newsletter: NewsletterConfig,
    /// Parsed form of `site.timezone`.
    pub timezone: Tz,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    pub seeds: PathBuf,
    pub templates: PathBuf,
    pub output: PathBuf,
    pub state: PathBuf,
    /// Where `herald digest` writes previews unless `--out` says otherwise.
    pub preview: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            seeds: "seeds".into(),
            templates: "templates".into(),
            output: "public".into(),
            state: "state/herald.sqlite".into(),
            preview: "preview".into(),
        }
    }
}

/// The rules that turn a seed's plain text into an article.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedRules {
    /// Inline heading in the lead that introduces the column itself.
    pub column_intro_heading: String,
    /// Inline heading in the lead that introduces this episode (the summary).
    pub episode_intro_heading: String,
    /// A heading is at most this many characters (grapheme clusters).
    pub max_heading_chars: usize,
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
#[serde(deny_unknown_fields, default)]
pub struct NewsletterConfig {
    pub title: String,
    pub from: String,
    pub reply_to: Option<String>,
    /// Tera template for the subject; sees `newsletter`, `edition` and `lead`.
    pub subject: String,
    /// Weekday (in the site timezone) on which last week's edition is due.
    pub send_weekday: String,
    pub send_hour: u32,
    pub content: DigestContent,
    pub skip_empty: bool,
}

impl Default for NewsletterConfig {
    fn default() -> Self {
        NewsletterConfig {
            title: "《華爾街聊什麼》週報".into(),
            from: "Herald <newsletter@example.com>".into(),
            reply_to: None,
            subject: "{{ newsletter.title }} {{ edition.year }} 第 {{ edition.week }} 週：{{ lead.title }}".into(),
            send_weekday: "Mon".into(),
            send_hour: 8,
            content: DigestContent::Summary,
            skip_empty: true,
        }
    }
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
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
        };
        Ok(Config {
            site,
            paths,
            seed: raw.seed,
            newsletter: raw.newsletter,
            timezone,
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
        let unknown = format!("{MINIMAL}titel = \"x\"\n");
        let err = load(&unknown).unwrap_err().to_string();
        assert!(err.contains("titel"), "{err}");
    }
}
