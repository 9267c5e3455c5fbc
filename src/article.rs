//! `Article`: the plain data every later stage works from.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// How long the shortened summary on index pages and in meta tags may be.
pub(crate) const SHORT_SUMMARY_GRAPHEMES: usize = 120;

/// One parsed seed. Holds text only (never markup): escaping is the renderers' job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Permanent identity, from the file name; GUIDs and URLs derive from it.
    pub id: String,
    pub title: String,
    /// Publication day in the site timezone.
    pub date: NaiveDate,
    /// Publication time of day when the front matter gives one; otherwise the
    /// site's `publish_hour` applies.
    pub time: Option<NaiveTime>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    /// The episode introduction (or the front matter's `summary`).
    pub summary: String,
    /// The column introduction, identical in every article: site description material.
    pub column_intro: Option<String>,
    /// An external link the front matter points at (the original source).
    pub link: Option<String>,
    /// Paragraphs before the first heading.
    pub intro: Vec<String>,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
}

/// What listing an article needs: id, title, dates and the shortened summary. The
/// state keeps it apart from the full article, and small (a build reads one per
/// article), so a build can list 10,000 articles without loading 10,000 bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleHead {
    pub id: String,
    pub title: String,
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    /// The summary cut to [`SHORT_SUMMARY_GRAPHEMES`].
    pub summary_short: String,
    /// Whether the full article has a column introduction (the site description
    /// comes from the newest article that has one).
    pub has_column_intro: bool,
    /// Its tags, as written (what tag pages group by).
    pub tags: Vec<String>,
    /// What summary-only outputs show beyond the above (feed archives in summary
    /// form, summary digests and their web pages), so they never load the body.
    /// `None` in a head stored before it was kept: the body is loaded instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<ListingDetails>,
}

/// The parts of an [`Article`] besides its head that a summary-only listing shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingDetails {
    pub summary: String,
    pub author: Option<String>,
    pub link: Option<String>,
}

impl ArticleHead {
    /// The instant the article is published, in the site timezone.
    pub fn published(&self, tz: Tz, publish_hour: u32) -> DateTime<Tz> {
        publication_time(self.date, self.time, tz, publish_hour)
    }
}

impl Article {
    pub fn head(&self) -> ArticleHead {
        ArticleHead {
            id: self.id.clone(),
            title: self.title.clone(),
            date: self.date,
            time: self.time,
            summary_short: shorten(&self.summary, SHORT_SUMMARY_GRAPHEMES),
            has_column_intro: self.column_intro.is_some(),
            tags: self.tags.clone(),
            listing: Some(self.listing_details()),
        }
    }

    pub fn listing_details(&self) -> ListingDetails {
        ListingDetails {
            summary: self.summary.clone(),
            author: self.author.clone(),
            link: self.link.clone(),
        }
    }

    /// The instant the article is published, in the site timezone.
    pub fn published(&self, tz: Tz, publish_hour: u32) -> DateTime<Tz> {
        publication_time(self.date, self.time, tz, publish_hour)
    }

    /// The section headings that are not the title itself.
    pub(crate) fn body_sections(&self) -> impl Iterator<Item = (bool, &Section)> {
        let title = self.title.as_str();
        self.sections
            .iter()
            .enumerate()
            .map(move |(i, s)| (!(i == 0 && s.heading == title), s))
    }
}

fn publication_time(
    date: NaiveDate,
    time: Option<NaiveTime>,
    tz: Tz,
    publish_hour: u32,
) -> DateTime<Tz> {
    let time = time.unwrap_or_else(|| {
        NaiveTime::from_hms_opt(publish_hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN)
    });
    let local = date.and_time(time);
    // A wall-clock time that falls in a DST gap has no mapping; the earliest
    // valid instant after it is what a reader would expect.
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .unwrap_or_else(|| tz.from_utc_datetime(&local))
}

/// `text` cut to at most `max` grapheme clusters, with `…` when cut. A cut inside
/// a word of an alphabetic script backs off to the space before it (if that loses
/// no more than [`WORD_BACKOFF`] graphemes), so `Tatia Bolkvadze` is never shown as
/// `Tatia Bolkva…`; CJK text, which has no spaces, is cut at the limit.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let Some(end) = grapheme_start(text, max) else {
        return text.to_string();
    };
    let in_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() && !is_cjk(c));
    let mut cut = &text[..end];
    if in_word(cut.chars().last())
        && in_word(text[end..].chars().next())
        && let Some(space) = cut.rfind(char::is_whitespace)
        && cut[space..].graphemes(true).count() <= WORD_BACKOFF
    {
        cut = &cut[..space];
    }
    format!("{}…", cut.trim_end())
}

/// Where grapheme cluster `n` of `text` starts, if it has that many.
///
/// Most summaries are Han characters, ASCII and common punctuation, where every
/// character is a cluster of its own: those are counted by characters, which costs
/// a fraction of the segmentation rules (run once per article, in every full build).
fn grapheme_start(text: &str, n: usize) -> Option<usize> {
    // Cluster `n` starts at character `n` when characters `0..=n` all stand alone: a
    // boundary between two characters depends only on the pair.
    for (i, (at, c)) in text.char_indices().enumerate() {
        if !stands_alone(c) {
            return text.grapheme_indices(true).nth(n).map(|(at, _)| at);
        }
        if i == n {
            return Some(at);
        }
    }
    None
}

/// Characters that never join a neighbour in a grapheme cluster (Unicode's rules
/// give a break on both sides of them): printable ASCII, CJK ideographs and CJK and
/// fullwidth punctuation. Anything else takes the full rules.
fn stands_alone(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0x3000..=0x3029 | 0x3030..=0x303F | 0x4E00..=0x9FFF | 0xFF01..=0xFF5E)
}

/// How far [`shorten`] backs off to keep a word whole.
const WORD_BACKOFF: usize = 24;

/// Han, kana and Hangul: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_on_grapheme_boundaries() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "abc…");
        assert_eq!(shorten("中文字串", 2), "中文…");
        // A family emoji is one grapheme of several code points.
        let family = "👨‍👩‍👧";
        assert_eq!(
            shorten(&format!("{family}{family}x"), 1),
            format!("{family}…")
        );
        // e + combining acute stays together.
        assert_eq!(shorten("e\u{301}e\u{301}", 1), "e\u{301}…");
    }

    #[test]
    fn counting_characters_finds_the_same_cluster_starts_as_the_full_rules() {
        let texts = [
            "華爾街聊什麼，AI 晶片戰爭（Nvidia）：下一步？",
            "plain ASCII text, with punctuation!",
            // A combining mark, a flag and an emoji with a skin tone after plain text:
            // the count must fall back to the rules when it meets them.
            "中文e\u{301}字🇹🇼旗👍🏽好",
            "ｆｕｌｌｗｉｄｔｈ「引號」。\r\n換行",
            "ﾊﾞ半角カナ",
            "",
        ];
        for text in texts {
            for n in 0..=text.chars().count() + 1 {
                let expected = text.grapheme_indices(true).nth(n).map(|(at, _)| at);
                assert_eq!(grapheme_start(text, n), expected, "{text:?} at {n}");
            }
        }
    }

    #[test]
    fn shorten_keeps_latin_words_whole_and_cuts_cjk_anywhere() {
        assert_eq!(shorten("with Tatia Bolkvadze of", 16), "with Tatia…");
        assert_eq!(
            shorten("路克・瓦加斯（Luke Vargas）主持", 12),
            "路克・瓦加斯（Luke…"
        );
        assert_eq!(shorten("中文中文中文", 4), "中文中文…");
        // A cut between two CJK characters, or after a space, stays where it is.
        assert_eq!(shorten("AI 晶片戰爭", 4), "AI 晶…");
        // One long word has no space to back off to.
        assert_eq!(shorten("Supercalifragilistic", 5), "Super…");
    }
}
