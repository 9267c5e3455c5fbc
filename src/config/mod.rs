//! `config.toml`: a typed description of the site, its paths, the seed rules and
//! the newsletter.
//!
//! Every key has a default except the few a site cannot do without, so a minimal
//! file is short. Values are parsed once, at load ([`load`]): a timezone is a
//! [`Tz`], a weekday a [`Weekday`], defaults that depend on other keys are filled
//! in, so no later stage re-parses or guesses. Unknown keys are warnings naming the
//! closest known key ([`diagnostics`]): a typo is never silently ignored, yet an
//! older Herald can still read a newer file. Relative paths are resolved against
//! the folder of the config file so cron can run
//! `herald --config /srv/news/config.toml run` from any working directory.

mod diagnostics;
mod load;
mod smtp;

pub(crate) use smtp::SmtpConfig;
pub use smtp::{Relay, Smtp};

/// A host name or address on this machine: plain connections are allowed to it.
pub(super) fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "::1" | "[::1]")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

use std::path::PathBuf;

use chrono::Weekday;
use chrono_tz::Tz;
use lettre::Address;
use lettre::message::Mailbox;
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
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawConfig {
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
    bounces: Option<BouncesConfig>,
    #[serde(default)]
    websub: WebSubConfig,
}

/// The loaded, validated configuration. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Config {
    pub site: SiteConfig,
    pub paths: PathsConfig,
    pub seed: SeedRules,
    pub newsletter: NewsletterConfig,
    /// `None`: messages go to the outbox folder as `.eml` files.
    pub smtp: Option<Smtp>,
    pub dkim: Option<DkimConfig>,
    pub serve: ServeConfig,
    /// Where delivery reports arrive; `herald run` reads it before building.
    pub bounces: Option<BouncesConfig>,
    /// The WebSub hubs told about changed feeds.
    pub websub: WebSubConfig,
    /// Unknown keys, each with the closest valid key: ignored, but shown to the user.
    pub warnings: Vec<String>,
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
    #[serde(default = "default_timezone", deserialize_with = "parse_timezone")]
    pub timezone: Tz,
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
    /// What the feeds' archive documents (RFC 5005) carry of each article.
    #[serde(default)]
    pub feed_archives: FeedArchives,
}

/// `site.feed_archives`: the feeds' archive documents hold every article's title,
/// link, dates and summary (`summary`, the default), its full text as the
/// subscription feeds do (`full`: about as many bytes again as all article pages),
/// or are not written (`none`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedArchives {
    #[default]
    Summary,
    Full,
    None,
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
    /// A line ending in one of these characters is a sentence, never a heading…
    pub sentence_endings: String,
    /// …unless it is one of these: a short line ending in a question or
    /// exclamation mark, followed by a paragraph, is a heading (`誰來買單？`).
    pub heading_endings: String,
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
            heading_endings: "？?！!".into(),
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
    /// `from` as written; [`NewsletterConfig::from`] is what is used.
    #[serde(rename = "from", deserialize_with = "parse_optional_mailbox")]
    given_from: Option<Mailbox>,
    /// The `From` of every newsletter and confirmation mail: `from`, with the
    /// newsletter's title as its display name when it has none;
    /// `<title> <newsletter@<site domain>>` when `from` is not set.
    #[serde(skip)]
    pub from: Mailbox,
    #[serde(deserialize_with = "parse_optional_mailbox")]
    pub reply_to: Option<Mailbox>,
    /// Envelope sender (`MAIL FROM`) for bounces: each message goes out from
    /// `<local>+<signed tag>@<domain>` (VERP), so a bounce names the edition and
    /// subscriber it is about. Without it the envelope sender is the From address.
    #[serde(deserialize_with = "parse_optional_address")]
    pub bounce_address: Option<Address>,
    /// Tera template for the subject; sees `newsletter`, `edition` and `lead` (the
    /// newest article as the index lists it, without its body; none in an empty
    /// edition).
    pub subject: String,
    /// Weekday (in the site timezone) on which last week's edition is due.
    #[serde(deserialize_with = "parse_weekday")]
    pub send_weekday: Weekday,
    pub send_hour: u32,
    pub content: DigestContent,
    pub skip_empty: bool,
    /// File holding the secret that signs unsubscribe tokens; the environment
    /// variable `HERALD_SECRET` takes precedence.
    pub secret_file: Option<PathBuf>,
    /// Base of unsubscribe links, used by every link and form that unsubscribes:
    /// the digest's personal links, the web edition, the preview and `serve`'s
    /// confirmation form. `<base_url>unsubscribe` when not set (filled in at load);
    /// the token is appended as `?token=…`.
    pub unsubscribe_url: String,
    /// Optional `mailto:` address for `List-Unsubscribe` (validated at load).
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
            given_from: None,
            // Replaced at load, when the title and the site's domain are known.
            from: Mailbox::new(
                None,
                Address::new("newsletter", "example.com").expect("a valid address"),
            ),
            reply_to: None,
            bounce_address: None,
            subject: "{{ newsletter.title }} {{ edition.year }} 年第 {{ edition.week }} 週{% if lead %}：{{ lead.title }}{% endif %}".into(),
            send_weekday: Weekday::Mon,
            send_hour: 8,
            content: DigestContent::Summary,
            skip_empty: true,
            secret_file: None,
            unsubscribe_url: String::new(),
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
pub struct DkimConfig {
    pub selector: String,
    /// Signing domain (`d=`); the site's domain by default.
    pub domain: Option<String>,
    /// PEM private key: Ed25519 (preferred) or RSA.
    pub key_file: PathBuf,
}

/// The mailbox delivery reports arrive in: a Maildir on this machine, or an IMAP
/// mailbox.
#[derive(Debug, Clone, Deserialize)]
pub struct BouncesConfig {
    /// A Maildir (with `new/` and `cur/`) that the bounce address delivers into.
    pub maildir: Option<PathBuf>,
    /// IMAP server, when the reports are read over IMAP.
    pub host: Option<String>,
    #[serde(default = "default_imap_port")]
    pub port: u16,
    /// `tls` (port 993), `starttls`, or `none` (loopback only).
    #[serde(default = "default_tls_imap")]
    pub tls: TlsMode,
    pub username: Option<String>,
    /// File holding the IMAP password; `HERALD_IMAP_PASSWORD` takes precedence.
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    /// What happens to a report once processed: `seen` (flagged; in a Maildir,
    /// moved from `new/` to `cur/`), `move` (IMAP: into `move_to`) or `delete`.
    /// Unclassified messages are never touched.
    #[serde(default = "default_processed")]
    pub processed: Processed,
    pub move_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Processed {
    Seen,
    Move,
    Delete,
}

fn default_imap_port() -> u16 {
    993
}
fn default_tls_imap() -> TlsMode {
    TlsMode::Tls
}
fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_processed() -> Processed {
    Processed::Seen
}

/// `[websub]`: the hubs every feed names, and that a build which changed a feed
/// pings (W3C WebSub, `hub.mode=publish`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct WebSubConfig {
    /// One hub URL or a list of them; none by default.
    #[serde(deserialize_with = "one_or_many")]
    pub hub: Vec<String>,
    /// Limit for each ping, in seconds.
    pub timeout_secs: u64,
}

fn default_ping_timeout() -> u64 {
    10
}

impl Default for WebSubConfig {
    fn default() -> WebSubConfig {
        WebSubConfig {
            hub: Vec::new(),
            timeout_secs: default_ping_timeout(),
        }
    }
}

/// A string, or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
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

/// An address key: `Name <addr@host>` or `addr@host`.
fn parse_mailbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Mailbox, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not an e-mail address such as `Name <news@example.com>` ({e})"
        ))
    })
}

fn parse_optional_mailbox<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Mailbox>, D::Error> {
    parse_mailbox(d).map(Some)
}

fn parse_optional_address<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Address>, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a bare e-mail address such as `bounces@news.example.com` ({e})"
        ))
    })
}

fn default_language() -> String {
    "zh-TW".into()
}
fn default_timezone() -> Tz {
    chrono_tz::Asia::Taipei
}

/// `site.timezone`: an IANA name; the TOML error names the key and line.
fn parse_timezone<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{name}` is not an IANA timezone name (for example `Asia/Taipei`)"
        ))
    })
}

/// `newsletter.send_weekday`: `Mon` … `Sun` (or the full English name).
fn parse_weekday<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|_| {
        serde::de::Error::custom(format!("`{name}` is not a weekday (use Mon, Tue, …, Sun)"))
    })
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
    /// The host part of `base_url`, used for Message-IDs and tag URIs.
    pub fn site_domain(&self) -> &str {
        domain_of(&self.site.base_url)
    }

    /// The domain DKIM signs for: `dkim.domain`, else the site's.
    pub fn dkim_domain(&self) -> Option<&str> {
        let dkim = self.dkim.as_ref()?;
        Some(dkim.domain.as_deref().unwrap_or_else(|| self.site_domain()))
    }

    /// What receivers checking DMARC would hold against this sender: the From
    /// domain must align with the DKIM signing domain and with the envelope
    /// sender's (the bounce address). Alignment is relaxed (same organisational
    /// domain), judged here by the last two labels of each name.
    pub fn alignment_warnings(&self) -> Vec<String> {
        let from = self.newsletter.from.email.domain();
        let mut warnings = Vec::new();
        if let Some(signing) = self.dkim_domain()
            && !aligned(from, signing)
        {
            warnings.push(format!(
                "the From domain `{from}` (newsletter.from) is not aligned with the DKIM signing domain `{signing}` (dkim.domain, or the site's domain): receivers checking DMARC (Gmail, Yahoo) treat the signature as not the sender's; sign for `{from}` or send from an address at `{signing}`"
            ));
        }
        if let Some(bounce) = &self.newsletter.bounce_address
            && !aligned(from, bounce.domain())
        {
            warnings.push(format!(
                "the From domain `{from}` (newsletter.from) is not aligned with the bounce domain `{}` (newsletter.bounce_address): SPF passes for the bounce domain only, so DMARC cannot pass on SPF; use a bounce address under `{from}`",
                bounce.domain()
            ));
        }
        warnings
    }
}

/// The host part of an absolute URL.
pub(crate) fn domain_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    host.split(':').next().unwrap_or(host)
}

/// DMARC's relaxed alignment, with the organisational domain approximated by the
/// last two labels (no public-suffix list: `a.example.co.uk` and `b.example.co.uk`
/// are judged aligned, as they are, but so would two sites under `co.uk` be).
fn aligned(a: &str, b: &str) -> bool {
    fn organisational(domain: &str) -> String {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = domain.rsplit('.').take(2).collect();
        labels.into_iter().rev().collect::<Vec<_>>().join(".")
    }
    organisational(a) == organisational(b)
}
