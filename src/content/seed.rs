//! Seed files → [`Article`].
//!
//! A seed is plain UTF-8 text. The rules, in order:
//!
//! 1. An optional TOML front matter between two `+++` lines may set `title`,
//!    `date` (a date, a local date-time in the site timezone, or an offset
//!    date-time), `author`, `tags`, `summary` and `link`.
//! 2. The first non-blank line after it starts with `date YYYY-MM-DD` (leading
//!    spaces tolerated); the rest of that line and the lines directly under it form
//!    the lead. The date line may be left out only when the front matter has `date`.
//! 3. The lead is split at the configured inline headings into the column
//!    introduction and the episode introduction (the summary).
//! 4. The rest is blocks separated by blank lines. A block equal to a footer marker
//!    ends the article; blocks equal to a drop marker are removed.
//! 5. A block is a *heading* when it is a single line of at most
//!    `max_heading_chars` grapheme clusters that does not end in sentence
//!    punctuation, and the block after it is not itself such a line (a heading
//!    introduces a paragraph). Every other block is a paragraph.
//! 6. The title is the front matter's `title`, else the first heading.
//!
//! A UTF-8 BOM, CRLF or CR line endings, and characters XML 1.0 forbids are
//! tolerated: the first two are normalised, the last removed.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::article::{Article, Section};
use crate::config::SeedRules;

/// Why one seed could not be published. Always names the file; `line` when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, Deserialize)]
#[error("{}: {message}\n  hint: {hint}", location(file, *line))]
pub struct SeedError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    pub hint: String,
}

fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_string(),
    }
}

impl SeedError {
    pub(crate) fn new(
        file: &str,
        line: Option<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        SeedError {
            file: file.to_string(),
            line,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Longest id accepted; ids appear in URLs and file names.
pub(crate) const MAX_ID_LEN: usize = 64;

/// Whether a file in the seeds folder is a seed at all. Hidden files and files
/// that do not end in `.txt` (editor backups, notes) are not.
pub(crate) fn is_seed_name(file_name: &str) -> bool {
    !file_name.starts_with('.') && file_name.ends_with(".txt")
}

/// The article id a seed file name carries: `NNN_<id>.txt` gives `<id>`, any other
/// name its stem. Ids are limited to ASCII letters, digits, `-` and `_` so they are
/// safe in a path and a URL.
pub(crate) fn seed_id(file_name: &str) -> Result<String, SeedError> {
    let stem = file_name.strip_suffix(".txt").unwrap_or(file_name);
    let id = match stem.split_once('_') {
        Some((prefix, rest))
            if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) =>
        {
            rest
        }
        _ => stem,
    };
    let safe = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if safe {
        Ok(id.to_string())
    } else {
        Err(SeedError::new(
            file_name,
            None,
            format!("the file name does not give a safe article id (`{id}`)"),
            format!(
                "rename the file to `NNN_<id>.txt` where <id> is 1 to {MAX_ID_LEN} ASCII letters, digits, `-` or `_`, starting with a letter or digit"
            ),
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<String>,
    date: Option<toml::value::Datetime>,
    author: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    summary: Option<String>,
    link: Option<String>,
}

struct Block<'a> {
    /// 1-based line number of its first line in the file.
    line: usize,
    lines: Vec<&'a str>,
}

impl Block<'_> {
    fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// `collapse_whitespace(&self.text()) == marker`, without building either, and
    /// stopping at the first character that differs: most blocks are long
    /// paragraphs without spaces (CJK) that differ from a marker in their first
    /// character, and every block is checked against every marker.
    fn collapses_to(&self, marker: &str) -> bool {
        let mut expected = marker.chars();
        let mut started = false;
        let mut gap = false;
        for line in &self.lines {
            gap |= started;
            for c in line.chars() {
                if c.is_whitespace() {
                    gap |= started;
                    continue;
                }
                if gap {
                    if expected.next() != Some(' ') {
                        return false;
                    }
                    gap = false;
                }
                if expected.next() != Some(c) {
                    return false;
                }
                started = true;
            }
        }
        expected.next().is_none()
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes what XML 1.0 cannot carry (C0 controls other than tab and line breaks,
/// DEL, U+FFFE, U+FFFF), so nothing downstream has to. Text without any (nearly
/// all of it) is returned as it is.
pub(crate) fn strip_xml_illegal(s: &str) -> Cow<'_, str> {
    let illegal = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{fffe}' | '\u{ffff}');
    if has_xml_illegal(s) {
        Cow::Owned(s.chars().filter(|&c| !illegal(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether `s` holds a character [`strip_xml_illegal`] removes, found without
/// decoding characters (in UTF-8 a byte below 0x80 is always a whole ASCII
/// character) and without a branch per byte, so the compiler can test a block of
/// bytes at once: every seed's whole text goes through this.
fn has_xml_illegal(s: &str) -> bool {
    let control = |b: u8| (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r') | (b == 0x7f);
    s.as_bytes()
        .chunks(64)
        .any(|chunk| chunk.iter().fold(false, |found, &b| found | control(b)))
        || s.contains('\u{fffe}')
        || s.contains('\u{ffff}')
}

/// `text` with CR LF and lone CR line breaks made LF.
fn unix_line_breaks(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Parses one seed. `file_name` is used for the id and in messages.
/// Parses one seed (see the module doc for the rules).
pub fn parse_seed(
    file_name: &str,
    bytes: &[u8],
    rules: &SeedRules,
    tz: Tz,
) -> Result<Article, SeedError> {
    parse(file_name, bytes, rules, tz, None).map(|parsed| parsed.article)
}

/// A parsed seed, and what its editor should hear although it is published (a
/// title derived for want of a heading).
pub(crate) struct Parsed {
    pub article: Article,
    pub warnings: Vec<SeedError>,
}

/// [`parse_seed`] with its warnings.
pub(crate) fn parse_seed_with_warnings(
    file_name: &str,
    bytes: &[u8],
    rules: &SeedRules,
    tz: Tz,
) -> Result<Parsed, SeedError> {
    parse(file_name, bytes, rules, tz, None)
}

/// What each block of a seed was read as, for `herald check --explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Heading,
    Paragraph,
    /// Equal to a `seed.drop_blocks` marker (an ad marker): removed.
    Dropped,
    /// Equal to a `seed.footer_markers` marker: it and all after it are removed.
    Footer,
    AfterFooter,
}

/// How a seed was read, part by part.
#[derive(Debug, Default)]
pub(crate) struct Explanation {
    /// The line of `date …` that starts the lead.
    pub lead_line: Option<usize>,
    pub column_intro: Option<String>,
    pub episode_intro: Option<String>,
    /// `(first line, kind, text)` of every block after the lead, in order.
    pub blocks: Vec<(usize, BlockKind, String)>,
    pub title: String,
}

/// Reads a seed as [`parse_seed`] does, noting how each part was classified; the
/// explanation covers whatever was read before an error.
pub(crate) fn explain_seed(
    file_name: &str,
    bytes: &[u8],
    rules: &SeedRules,
    tz: Tz,
) -> (Explanation, Result<Parsed, SeedError>) {
    let mut explanation = Explanation::default();
    let result = parse(file_name, bytes, rules, tz, Some(&mut explanation));
    (explanation, result)
}

fn parse(
    file_name: &str,
    bytes: &[u8],
    rules: &SeedRules,
    tz: Tz,
    mut explain: Option<&mut Explanation>,
) -> Result<Parsed, SeedError> {
    let id = seed_id(file_name)?;
    let err = |line: Option<usize>, message: String, hint: &str| {
        SeedError::new(file_name, line, message, hint)
    };
    if bytes.len() as u64 > rules.max_seed_bytes {
        return Err(err(
            None,
            format!(
                "the seed is {} bytes, over the limit of {} bytes",
                bytes.len(),
                rules.max_seed_bytes
            ),
            "split the article, or raise `seed.max_seed_bytes` in config.toml",
        ));
    }
    let checked = crate::support::utf8::str_from_utf8(bytes).ok_or(());
    let text = checked
        .or_else(|()| std::str::from_utf8(bytes))
        .map_err(|e| {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            err(
                Some(line),
                format!("the text is not valid UTF-8 (byte {})", e.valid_up_to()),
                "save the file as UTF-8 (not Big5 or UTF-16)",
            )
        })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = unix_line_breaks(text);
    let text = strip_xml_illegal(&text);
    let lines: Vec<&str> = text.split('\n').collect();

    let mut pos = 0;
    let skip_blank = |pos: &mut usize| {
        while *pos < lines.len() && lines[*pos].trim().is_empty() {
            *pos += 1;
        }
    };
    skip_blank(&mut pos);
    if pos == lines.len() {
        return Err(err(
            Some(1),
            "the seed is empty".into(),
            "start the file with a line `date YYYY-MM-DD` followed by the lead",
        ));
    }

    let mut front = FrontMatter::default();
    if lines[pos].trim() == "+++" {
        let open = pos;
        let close = (open + 1..lines.len())
            .find(|&i| lines[i].trim() == "+++")
            .ok_or_else(|| {
                err(
                    Some(open + 1),
                    "the front matter opened here is never closed".into(),
                    "end the front matter with a line containing only `+++`",
                )
            })?;
        let toml_text = lines[open + 1..close].join("\n");
        front = toml::from_str(&toml_text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let line = open
                + 2
                + toml_text[..offset.min(toml_text.len())]
                    .matches('\n')
                    .count();
            err(
                Some(line),
                format!("invalid front matter: {}", collapse_whitespace(e.message())),
                "front matter is TOML with the keys title, date, author, tags, summary, link",
            )
        })?;
        pos = close + 1;
        skip_blank(&mut pos);
    }

    if let Some(link) = front
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        && !(link.starts_with("https://") || link.starts_with("http://"))
    {
        return Err(err(
            None,
            format!("front matter `link = \"{link}\"` is not an absolute http(s) URL"),
            "write the full address, starting with https://",
        ));
    }
    let (front_date, front_time) = match &front.date {
        Some(dt) => {
            let (d, t) = front_matter_datetime(dt, tz).ok_or_else(|| {
                err(
                    None,
                    format!("front matter `date = {dt}` is not a usable date"),
                    "write `date = 2026-01-21` or `date = 2026-01-21T08:00:00`",
                )
            })?;
            (Some(d), t)
        }
        None => (None, None),
    };

    let mut lead_lines: Vec<String> = Vec::new();
    let mut lead_line = None;
    let mut date = front_date;
    if pos < lines.len() && is_date_line(lines[pos]) {
        let line_no = pos + 1;
        lead_line = Some(line_no);
        let rest = lines[pos].trim_start()["date".len()..].trim_start();
        let (date_text, lead) = rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len()));
        let parsed = parse_day(date_text).ok_or_else(|| {
            err(
                Some(line_no),
                format!("`{date_text}` is not a valid date"),
                "write the date as YYYY-MM-DD, for example `date 2026-01-21`",
            )
        })?;
        date = Some(date.unwrap_or(parsed));
        lead_lines.push(lead.trim().to_string());
        pos += 1;
        while pos < lines.len() && !lines[pos].trim().is_empty() {
            lead_lines.push(lines[pos].trim().to_string());
            pos += 1;
        }
    } else if date.is_none() {
        let line = if pos < lines.len() {
            pos + 1
        } else {
            lines.len()
        };
        return Err(err(
            Some(line),
            "the seed has no date line".into(),
            "the first line must be `date YYYY-MM-DD` followed by the lead",
        ));
    }
    let date = date.unwrap_or(NaiveDate::MIN);

    let mut blocks: Vec<Block> = Vec::new();
    while pos < lines.len() {
        skip_blank(&mut pos);
        if pos == lines.len() {
            break;
        }
        let mut block = Block {
            line: pos + 1,
            lines: Vec::new(),
        };
        while pos < lines.len() && !lines[pos].trim().is_empty() {
            block.lines.push(lines[pos].trim());
            pos += 1;
        }
        blocks.push(block);
    }
    let kinds = classify_blocks(&blocks, rules);
    let mut intro = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    for (block, kind) in blocks.iter().zip(&kinds) {
        match kind {
            BlockKind::Heading => sections.push(Section {
                heading: block.text(),
                paragraphs: Vec::new(),
            }),
            BlockKind::Paragraph => match sections.last_mut() {
                Some(section) => section.paragraphs.push(block.text()),
                None => intro.push(block.text()),
            },
            BlockKind::Dropped | BlockKind::Footer | BlockKind::AfterFooter => {}
        }
    }
    let lead = lead_lines.join("\n");
    let (column_intro, episode_intro) = split_lead(&lead, rules);
    if let Some(explain) = explain.as_mut() {
        explain.lead_line = lead_line;
        explain.column_intro = column_intro.clone();
        explain.episode_intro = episode_intro.clone();
        explain.blocks = blocks
            .iter()
            .zip(&kinds)
            .map(|(b, k)| (b.line, *k, b.text()))
            .collect();
    }
    let mut warnings = Vec::new();

    let title = match front.title.as_deref().map(str::trim) {
        Some(t) if t.graphemes(true).count() > rules.max_title_chars => {
            return Err(err(
                None,
                format!(
                    "the front-matter title is longer than {} characters",
                    rules.max_title_chars
                ),
                "shorten it, or raise `seed.max_title_chars` in config.toml",
            ));
        }
        Some(t) if !t.is_empty() => collapse_whitespace(t),
        _ => match (sections.first(), intro.first()) {
            (Some(s), _) => s.heading.clone(),
            (None, Some(first)) => {
                let title = derived_title(first, rules);
                let line = kinds
                    .iter()
                    .zip(&blocks)
                    .find(|(k, _)| **k == BlockKind::Paragraph)
                    .map(|(_, b)| b.line);
                warnings.push(err(
                    line,
                    format!("the seed has no heading; its title is taken from its first sentence: \"{title}\""),
                    "add a short heading line before the first paragraph, or `title = \"…\"` in a +++ front matter",
                ));
                title
            }
            (None, None) => {
                return Err(err(
                    None,
                    "the seed has no title: no heading line and no paragraph to take one from"
                        .into(),
                    "add a short heading line and a paragraph after the lead, or `title = \"…\"` in a +++ front matter",
                ));
            }
        },
    };
    let summary = front
        .summary
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or(episode_intro)
        .or_else(|| intro.first().cloned())
        .or_else(|| {
            sections
                .iter()
                .flat_map(|s| s.paragraphs.first())
                .next()
                .cloned()
        })
        .unwrap_or_default();

    if let Some(explain) = explain.as_mut() {
        explain.title = title.clone();
    }
    Ok(Parsed {
        article: Article {
            id,
            title,
            date,
            time: front_time,
            author: front.author.filter(|a| !a.trim().is_empty()),
            tags: front.tags,
            summary,
            column_intro,
            link: front.link.filter(|l| !l.trim().is_empty()),
            intro,
            sections,
        },
        warnings,
    })
}

fn is_date_line(line: &str) -> bool {
    let t = line.trim_start();
    t.strip_prefix("date")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn front_matter_datetime(
    dt: &toml::value::Datetime,
    tz: Tz,
) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let text = dt.to_string();
    if dt.time.is_none() {
        return parse_day(&text).map(|d| (d, None));
    }
    if dt.offset.is_some() {
        let instant = chrono::DateTime::parse_from_rfc3339(&text.replace(' ', "T")).ok()?;
        let local = instant.with_timezone(&tz).naive_local();
        return Some((local.date(), Some(local.time())));
    }
    let local = NaiveDateTime::parse_from_str(&text.replace(' ', "T"), "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&text.replace(' ', "T"), "%Y-%m-%dT%H:%M"))
        .ok()?;
    dt.date.as_ref()?;
    Some((local.date(), Some(local.time())))
}

/// What each block is: boilerplate is marked first (a footer marker ends the
/// article), then a heading is a candidate line followed by a block that is not
/// one (a heading introduces a paragraph); every other block is a paragraph.
fn classify_blocks(blocks: &[Block], rules: &SeedRules) -> Vec<BlockKind> {
    let footer = blocks
        .iter()
        .position(|b| rules.footer_markers.iter().any(|m| b.collapses_to(m)))
        .unwrap_or(blocks.len());
    let mut kinds: Vec<Option<BlockKind>> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| match i.cmp(&footer) {
            std::cmp::Ordering::Equal => Some(BlockKind::Footer),
            std::cmp::Ordering::Greater => Some(BlockKind::AfterFooter),
            std::cmp::Ordering::Less => rules
                .drop_blocks
                .iter()
                .any(|m| b.collapses_to(m))
                .then_some(BlockKind::Dropped),
        })
        .collect();
    let kept: Vec<usize> = (0..blocks.len()).filter(|&i| kinds[i].is_none()).collect();
    let candidate: Vec<bool> = kept
        .iter()
        .map(|&i| is_heading_candidate(&blocks[i], rules))
        .collect();
    for (k, &i) in kept.iter().enumerate() {
        let heading = candidate[k] && candidate.get(k + 1) == Some(&false);
        kinds[i] = Some(if heading {
            BlockKind::Heading
        } else {
            BlockKind::Paragraph
        });
    }
    kinds
        .into_iter()
        .map(|k| k.unwrap_or(BlockKind::Paragraph))
        .collect()
}

/// Closing quotes and brackets, looked through when judging how a line ends:
/// `「誰來買單？」` ends in a question mark, `他說：「會降息。」` in a full stop.
const CLOSERS: &[char] = &[
    '」', '』', '）', ')', '》', '〉', '】', ']', '"', '\'', '”', '’',
];

/// A single line of at most `max_heading_chars` graphemes whose last character
/// (inside any closing quotes or brackets) is a `seed.heading_endings` character,
/// or is not a `seed.sentence_endings` one.
fn is_heading_candidate(block: &Block, rules: &SeedRules) -> bool {
    if block.lines.len() != 1 {
        return false;
    }
    let line = block.lines[0];
    let Some(last) = line.trim_end_matches(CLOSERS).chars().last() else {
        return false;
    };
    (rules.heading_endings.contains(last) || !rules.sentence_endings.contains(last))
        && at_most_graphemes(line, rules.max_heading_chars)
}

/// Whether `line` has at most `max` grapheme clusters, without segmenting all of a
/// paragraph: a line of at most `max` characters has at most `max` clusters; one
/// whose first `max + 1` characters cannot join a neighbour (ASCII, Latin, CJK
/// ideographs, kana without their combining marks, full-width forms) has more.
/// Only text with combining marks, emoji sequences or Hangul jamo is segmented.
fn at_most_graphemes(line: &str, max: usize) -> bool {
    let stands_alone = |c: char| matches!(c as u32, 0x20..=0x2FF | 0x3000..=0x3029 | 0x3030..=0x3098 | 0x309B..=0x9FFF | 0xFF01..=0xFF9D);
    let mut chars = line.chars();
    for _ in 0..=max {
        match chars.next() {
            None => return true,
            Some(c) if stands_alone(c) => {}
            Some(_) => return line.graphemes(true).nth(max).is_none(),
        }
    }
    false
}

/// A title for a seed without a heading: the first sentence of `paragraph`, cut at
/// `max_title_chars` graphemes with an ellipsis when it is longer.
fn derived_title(paragraph: &str, rules: &SeedRules) -> String {
    let first_line = paragraph.lines().next().unwrap_or(paragraph);
    let mut end = first_line.len();
    let mut chars = first_line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let ends = match c {
            '。' | '！' | '？' | '!' | '?' => true,
            '.' => chars.peek().is_none_or(|(_, next)| next.is_whitespace()),
            _ => false,
        };
        if ends {
            end = i + c.len_utf8();
            break;
        }
    }
    let sentence = collapse_whitespace(&first_line[..end]);
    let max = rules.max_title_chars.max(2);
    if sentence.graphemes(true).nth(max).is_none() {
        return sentence;
    }
    let mut cut: String = sentence.graphemes(true).take(max - 1).collect();
    cut.push('…');
    cut
}

/// Splits the lead at the configured inline headings: `(column intro, episode intro)`.
/// A lead without the episode heading is, as a whole, the episode introduction.
fn split_lead(lead: &str, rules: &SeedRules) -> (Option<String>, Option<String>) {
    let find = |h: &str| (!h.is_empty()).then(|| lead.find(h)).flatten();
    let column_at = find(&rules.column_intro_heading);
    let episode_at = find(&rules.episode_intro_heading);
    let nonempty = |s: &str| {
        let s = collapse_whitespace(s);
        (!s.is_empty()).then_some(s)
    };
    let column = column_at.and_then(|start| {
        let from = start + rules.column_intro_heading.len();
        let to = episode_at.filter(|&e| e >= from).unwrap_or(lead.len());
        nonempty(&lead[from..to])
    });
    let episode = match episode_at {
        Some(start) => {
            let from = start + rules.episode_intro_heading.len();
            let to = column_at.filter(|&c| c >= from).unwrap_or(lead.len());
            nonempty(&lead[from..to])
        }
        None if column_at.is_none() => nonempty(lead),
        None => None,
    };
    (column, episode)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &[u8] = include_bytes!("../../seeds/000_1bd5276be7ff4f0b.txt");
    const NAME: &str = "000_1bd5276be7ff4f0b.txt";

    #[test]
    fn grapheme_limits_count_clusters_not_characters() {
        assert!(at_most_graphemes("美國聯準會", 5));
        assert!(!at_most_graphemes("美國聯準會", 4));
        assert!(at_most_graphemes("Fed", 3) && !at_most_graphemes("Fed!", 3));
        // Two clusters of two characters each (a letter with a combining accent).
        assert!(at_most_graphemes("e\u{301}e\u{301}", 2));
        assert!(!at_most_graphemes("e\u{301}e\u{301}e", 2));
        // A family emoji is one cluster of five characters.
        assert!(at_most_graphemes("👩\u{200d}👩\u{200d}👧", 1));
        assert!(at_most_graphemes("", 0));
    }

    #[test]
    fn a_block_matches_a_marker_exactly_when_its_collapsed_text_does() {
        let blocks: &[&[&str]] = &[
            &["廣告"],
            &["廣告", "廣告"],
            &["廣告\u{3000}\u{3000}廣告"],
            &["廣告 廣告 廣告"],
            &["廣告廣告"],
            &["更多風傳媒報導"],
            &["更多風傳媒報導：其他"],
            &[""],
        ];
        let markers = [
            "廣告",
            "廣告 廣告",
            "廣告廣告",
            "更多風傳媒報導",
            "廣告  廣告",
            "",
        ];
        for lines in blocks {
            let block = Block {
                line: 1,
                lines: lines.to_vec(),
            };
            for marker in markers {
                assert_eq!(
                    block.collapses_to(marker),
                    collapse_whitespace(&block.text()) == marker,
                    "{lines:?} against {marker:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..Default::default()
        })]

        /// Blocks as the parser makes them (trimmed, non-empty lines) of a small
        /// alphabet rich in whitespace, against markers of the same alphabet.
        #[test]
        fn collapses_to_agrees_with_collapsing_the_text(
            lines in proptest::collection::vec("[廣告a \t\u{3000}]{1,6}", 1..4),
            other in "[廣告a \n\u{3000}]{0,8}",
            random in "[廣告a ]{0,5}",
        ) {
            let lines: Vec<&str> = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
            let block = Block { line: 1, lines };
            let collapsed = collapse_whitespace(&block.text());
            // Its own collapsed text (always a match), a near miss, and a random marker.
            for marker in [collapsed.clone(), collapse_whitespace(&other), random] {
                proptest::prop_assert_eq!(block.collapses_to(&marker), collapsed == marker, "{:?}", marker);
            }
        }

        #[test]
        fn the_byte_scan_finds_exactly_the_illegal_characters(
            text in "[a廣\u{0}-\u{1f}\u{7f}\u{fffe}\u{ffff}\u{fffd}]{0,8}",
        ) {
            let expected: String = text
                .chars()
                .filter(|&c| !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{fffe}' | '\u{ffff}'))
                .collect();
            proptest::prop_assert_eq!(strip_xml_illegal(&text), expected);
        }
    }

    #[test]
    fn text_without_illegal_characters_or_carriage_returns_is_not_copied() {
        assert!(matches!(strip_xml_illegal("廣告\n"), Cow::Borrowed(_)));
        assert_eq!(strip_xml_illegal("a\u{1}b\u{fffe}c"), "abc");
        assert!(matches!(unix_line_breaks("a\nb"), Cow::Borrowed(_)));
        assert_eq!(unix_line_breaks("a\r\nb\rc"), "a\nb\nc");
    }

    fn rules() -> SeedRules {
        SeedRules::default()
    }

    fn parse(name: &str, text: &str) -> Result<Article, SeedError> {
        parse_seed(name, text.as_bytes(), &rules(), chrono_tz::Asia::Taipei)
    }

    #[test]
    fn shipped_seed_parses_as_specified() {
        let a = parse_seed(NAME, SHIPPED, &rules(), chrono_tz::Asia::Taipei).unwrap();
        assert_eq!(a.id, "1bd5276be7ff4f0b");
        assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 1, 21).unwrap());
        assert_eq!(a.title, "DeepSeek一週年：中國AI崛起的轉捩點");
        assert!(
            a.summary
                .starts_with("本期《What's News Sunday》節目（1 月 18 日）"),
            "{}",
            a.summary
        );
        assert!(a.summary.ends_with("關鍵看點。"));
        let headings: Vec<&str> = a.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(
            headings,
            [
                "DeepSeek一週年：中國AI崛起的轉捩點",
                "開源、便宜、好用：中國AI的全球南方戰略",
                "矽谷的焦慮：定價權鬆動與路線之爭",
                "晶片戰爭：中國的軟肋與突圍",
                "展望2026：美中AI競賽的關鍵變數",
            ]
        );
        let column = a.column_intro.as_deref().unwrap();
        assert!(column.starts_with("我們從《華爾街日報》Podcast"));
        assert!(column.ends_with("聽懂世界的聲音。"));
        let all: String = serde_json::to_string(&a).unwrap();
        assert!(!all.contains("廣告"));
        assert!(!all.contains("更多風傳媒報導"));
        assert!(!a.summary.contains("欄目介紹"));
        let body: Vec<&String> = a.sections.iter().flat_map(|s| &s.paragraphs).collect();
        assert!(!body.iter().any(|p| p.contains("每週更新")));
        assert_eq!(a.sections[0].paragraphs.len(), 2);
        assert!(
            a.sections[4]
                .paragraphs
                .last()
                .unwrap()
                .ends_with("逐漸揭曉。")
        );
    }

    #[test]
    fn ids_come_from_the_file_name() {
        assert_eq!(seed_id("000_abc.txt").unwrap(), "abc");
        assert_eq!(seed_id("12_a_b-c.txt").unwrap(), "a_b-c");
        assert_eq!(seed_id("my-post.txt").unwrap(), "my-post");
        assert_eq!(seed_id("x_y.txt").unwrap(), "x_y");
        for bad in [
            "000_..txt",
            "../etc.txt",
            "a b.txt",
            "文章.txt",
            "000_.txt",
            "-x.txt",
        ] {
            let e = seed_id(bad).unwrap_err();
            assert!(e.hint.contains("rename"), "{bad}: {e}");
        }
        assert!(is_seed_name("000_x.txt"));
        assert!(!is_seed_name(".000_x.txt"));
        assert!(!is_seed_name("notes.md"));
    }

    #[test]
    fn bom_crlf_and_indentation_are_tolerated() {
        let text =
            "\u{feff}\r\n   date 2026-02-02 Lead text.\r\n\r\nA heading\r\n\r\nA paragraph.\r\n";
        let a = parse("1_x.txt", text).unwrap();
        assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 2, 2).unwrap());
        assert_eq!(a.title, "A heading");
        assert_eq!(a.summary, "Lead text.");
        assert_eq!(a.sections[0].paragraphs, ["A paragraph."]);
    }

    #[test]
    fn bad_dates_and_missing_lines_name_the_line() {
        let e = parse("1_x.txt", "\n\ndate 2026-02-30 lead\n\nH\n\nP.").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("2026-02-30"));
        let e = parse("1_x.txt", "Title\n\nBody.").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("no date line"));
        let e = parse("1_x.txt", "  \n \n").unwrap_err();
        assert!(e.message.contains("empty"));
        let e = parse("1_x.txt", "date 2026-01-05 only a lead").unwrap_err();
        assert!(e.message.contains("no title"));
        let e = parse("1_x.txt", "date 26-1-5 lead\n\nH\n\nP.").unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn invalid_utf8_reports_its_line() {
        let mut bytes = b"date 2026-01-05 lead\n\nHeading\n\nfine ".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        let e = parse_seed("1_x.txt", &bytes, &rules(), chrono_tz::Asia::Taipei).unwrap_err();
        assert_eq!(e.line, Some(5));
        assert!(e.hint.contains("UTF-8"));
    }

    #[test]
    fn heading_rule_needs_short_unpunctuated_line_before_a_paragraph() {
        let text = "date 2026-01-05 lead\n\nFirst\n\nSecond heading\n\nBody one.\n\nNot a heading。\n\nBody two.\n\nTrailing short line";
        let a = parse("1_x.txt", text).unwrap();
        // "First" is followed by another candidate, so it is a paragraph.
        assert_eq!(a.intro, ["First"]);
        assert_eq!(a.sections.len(), 1);
        assert_eq!(a.sections[0].heading, "Second heading");
        assert_eq!(
            a.sections[0].paragraphs,
            [
                "Body one.",
                "Not a heading。",
                "Body two.",
                "Trailing short line"
            ]
        );
        // Too long for a heading: a paragraph. (Since #16 a seed without headings is
        // published under a derived title rather than refused.)
        let long = format!("date 2026-01-05 lead\n\n{}\n\nBody.", "長".repeat(41));
        let a = parse("1_x.txt", &long).unwrap();
        assert!(a.sections.is_empty());
        assert_eq!(a.intro.len(), 2);
    }

    #[test]
    fn boilerplate_is_stripped_and_footer_ends_the_article() {
        let text = "date 2026-01-05 lead\n\nH\n\nOne.\n\n廣告\n\nTwo.\n\n廣告   廣告\n\n更多風傳媒報導\n\nLink list\n\nMore.";
        let a = parse("1_x.txt", text).unwrap();
        assert_eq!(a.sections[0].paragraphs, ["One.", "Two."]);
    }

    #[test]
    fn front_matter_overrides_title_date_and_summary() {
        let text = "+++\ntitle = \"Front <title> & more\"\ndate = 2026-01-25T23:30:00\nauthor = \"Lin\"\ntags = [\"ai\", \"chips\"]\nsummary = \"Own summary\"\nlink = \"https://example.org/x\"\n+++\ndate 2026-01-01 lead\n\nH\n\nP.";
        let a = parse("1_x.txt", text).unwrap();
        assert_eq!(a.title, "Front <title> & more");
        assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 1, 25).unwrap());
        assert_eq!(a.time, NaiveTime::from_hms_opt(23, 30, 0));
        assert_eq!(a.author.as_deref(), Some("Lin"));
        assert_eq!(a.tags, ["ai", "chips"]);
        assert_eq!(a.summary, "Own summary");
        let no_date_line = "+++\ndate = 2026-03-01\n+++\nHeading\n\nBody.";
        let a = parse("1_x.txt", no_date_line).unwrap();
        assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        let offset = "+++\ndate = 2026-01-25T16:00:00Z\n+++\nHeading\n\nBody.";
        let a = parse("1_x.txt", offset).unwrap();
        assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 1, 26).unwrap());
        assert_eq!(a.time, NaiveTime::from_hms_opt(0, 0, 0));
    }

    #[test]
    fn broken_front_matter_names_the_line() {
        let e = parse(
            "1_x.txt",
            "+++\ntitle = \"ok\"\ndate = yesterday\n+++\ndate 2026-01-01 l\n\nH\n\nP.",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse(
            "1_x.txt",
            "+++\ntitle = 5\n+++\ndate 2026-01-01 l\n\nH\n\nP.",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse("1_x.txt", "+++\ntitle = \"x\"\ndate 2026-01-01 l").unwrap_err();
        assert!(e.message.contains("never closed"));
        let e = parse(
            "1_x.txt",
            "+++\ntitel = \"x\"\n+++\ndate 2026-01-01 l\n\nH\n\nP.",
        )
        .unwrap_err();
        assert!(e.message.contains("titel"), "{e}");
    }

    #[test]
    fn xml_illegal_characters_are_removed() {
        let a = parse(
            "1_x.txt",
            "date 2026-01-05 le\u{0}ad\u{1b}\n\nHe\u{b}ad\n\nBo\u{fffe}dy.",
        )
        .unwrap();
        assert_eq!(a.summary, "lead");
        assert_eq!(a.title, "Head");
        assert_eq!(a.sections[0].paragraphs, ["Body."]);
    }

    #[test]
    fn oversize_seed_is_rejected_with_the_key_to_raise() {
        let mut r = rules();
        r.max_seed_bytes = 10;
        let e = parse_seed(
            "1_x.txt",
            b"date 2026-01-05 a long lead",
            &r,
            chrono_tz::Asia::Taipei,
        )
        .unwrap_err();
        assert!(e.hint.contains("max_seed_bytes"));
    }

    fn headings(a: &Article) -> Vec<&str> {
        a.sections.iter().map(|s| s.heading.as_str()).collect()
    }

    #[test]
    fn question_and_exclamation_lines_before_a_paragraph_are_headings() {
        let text = "date 2026-01-20 lead\n\n日圓為何反覆走弱？\n\n利差只是原因之一。\n\nWhy now?\n\nBecause.\n\n別急著下結論！\n\n還有變數。\n\nNot yet!\n\nSoon.";
        let a = parse("1_x.txt", text).unwrap();
        assert_eq!(a.title, "日圓為何反覆走弱？");
        assert_eq!(
            headings(&a),
            [
                "日圓為何反覆走弱？",
                "Why now?",
                "別急著下結論！",
                "Not yet!"
            ]
        );
    }

    #[test]
    fn sentence_punctuation_still_ends_a_paragraph_inside_quotes_too() {
        for line in [
            "這不是標題。",
            "也不是，",
            "列舉、",
            "冒號：",
            "省略…",
            "他說：「會降息。」",
            "He said \"no.\"",
        ] {
            let text = format!("date 2026-01-20 lead\n\nA heading\n\n{line}\n\nBody.");
            let a = parse("1_x.txt", &text).unwrap();
            assert_eq!(headings(&a), ["A heading"], "{line}");
            assert_eq!(a.sections[0].paragraphs[0], line);
        }
    }

    #[test]
    fn quoted_bracketed_numbered_and_latin_headings() {
        let cases = [
            "「干預」真的有用嗎？",
            "「誰來買單？」",
            "《晶片戰爭》的第二回合",
            "一、美國的補貼與條件",
            "（二）日本的重返",
            "3. 歐洲的猶豫",
            "AI 與 2026 年的先進封裝",
        ];
        let body: String = cases
            .iter()
            .map(|h| format!("{h}\n\n一段內文。\n\n"))
            .collect();
        let a = parse("1_x.txt", &format!("date 2026-01-20 lead\n\n{body}")).unwrap();
        assert_eq!(headings(&a), cases);
    }

    #[test]
    fn a_seed_whose_headings_are_all_questions_has_the_first_as_title() {
        let text = "date 2026-01-22 lead\n\n還會再降息嗎？\n\n也許。\n\n通膨降了嗎？\n\n還沒。";
        let a = parse("1_x.txt", text).unwrap();
        assert_eq!(a.title, "還會再降息嗎？");
        assert_eq!(a.sections.len(), 2);
    }

    #[test]
    fn a_seed_without_headings_gets_its_first_sentence_as_title_and_a_warning() {
        let text =
            "date 2026-01-23 lead\n\n散戶又湧進了美股。交易量創下新高。\n\n監管機構已經注意到。";
        let parsed = parse_seed_with_warnings(
            "1_x.txt",
            text.as_bytes(),
            &rules(),
            chrono_tz::Asia::Taipei,
        )
        .unwrap();
        assert_eq!(parsed.article.title, "散戶又湧進了美股。");
        assert_eq!(parsed.article.intro.len(), 2, "both paragraphs are kept");
        assert_eq!(parsed.warnings.len(), 1);
        let warning = parsed.warnings[0].to_string();
        assert!(
            warning.starts_with("1_x.txt:3: the seed has no heading"),
            "{warning}"
        );
        assert!(warning.contains("hint: add a short heading"), "{warning}");

        let long = format!("date 2026-01-23 lead\n\n{}", "長".repeat(300));
        let a = parse("1_x.txt", &long).unwrap();
        assert_eq!(a.title.graphemes(true).count(), rules().max_title_chars);
        assert!(a.title.ends_with('…'));
        let english = parse(
            "1_x.txt",
            "date 2026-01-23 lead\n\nRates fell 0.5 pct. Then more.",
        )
        .unwrap();
        assert_eq!(english.title, "Rates fell 0.5 pct.");
        // Never the column introduction: it lives in the lead.
        let lead = parse(
            "1_x.txt",
            "date 2026-01-23 《華爾街聊什麼》欄目介紹 About us.\n\nFirst thing. Then.",
        )
        .unwrap();
        assert_eq!(lead.title, "First thing.");
    }

    #[test]
    fn headings_may_come_after_the_first_paragraphs() {
        let text = "date 2026-01-24 lead\n\n先看一組數字，營收成長兩成。\n\n一、補貼\n\n內文。";
        let a = parse("1_x.txt", text).unwrap();
        assert_eq!(a.intro, ["先看一組數字，營收成長兩成。"]);
        assert_eq!(a.title, "一、補貼");
    }

    /// Decision: a short one-line question between paragraphs reads as a heading
    /// (the column uses them as sub-heads); a long one, or one followed by another
    /// heading-like line, stays a paragraph. `check --explain` shows which.
    #[test]
    fn a_one_line_question_among_paragraphs() {
        let long_question = format!("{}？", "很長的問題".repeat(10));
        let text = format!(
            "date 2026-01-20 lead\n\nTitle\n\n第一段。\n\n那政府為什麼不干預？\n\n第二段。\n\n{long_question}\n\n第三段。"
        );
        let a = parse("1_x.txt", &text).unwrap();
        assert_eq!(headings(&a), ["Title", "那政府為什麼不干預？"]);
        assert_eq!(
            a.sections[1].paragraphs,
            ["第二段。", long_question.as_str(), "第三段。"]
        );
    }

    #[test]
    fn explain_names_every_block() {
        let text =
            "date 2026-01-20 lead\n\n問題？\n\n內文。\n\n廣告\n\n更多風傳媒報導\n\n之後的東西";
        let (explanation, result) = explain_seed(
            "1_x.txt",
            text.as_bytes(),
            &rules(),
            chrono_tz::Asia::Taipei,
        );
        assert!(result.is_ok());
        assert_eq!(explanation.lead_line, Some(1));
        let kinds: Vec<(usize, BlockKind)> = explanation
            .blocks
            .iter()
            .map(|(l, k, _)| (*l, *k))
            .collect();
        assert_eq!(
            kinds,
            [
                (3, BlockKind::Heading),
                (5, BlockKind::Paragraph),
                (7, BlockKind::Dropped),
                (9, BlockKind::Footer),
                (11, BlockKind::AfterFooter)
            ]
        );
        assert_eq!(explanation.title, "問題？");
    }
}
