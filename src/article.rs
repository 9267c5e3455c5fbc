//! `Article`: the plain data every later stage works from.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

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

/// Everything about an article except its body: what lists, feeds' dates, editions
/// and the site description need. The state keeps it apart from the full article so a
/// build can list 10,000 articles without loading 10,000 bodies.
///
/// Deserialises from an [`Article`]'s JSON too (the body fields are skipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleHead {
    pub id: String,
    pub title: String,
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub summary: String,
    pub column_intro: Option<String>,
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
            author: self.author.clone(),
            tags: self.tags.clone(),
            summary: self.summary.clone(),
            column_intro: self.column_intro.clone(),
            link: self.link.clone(),
        }
    }

    /// The instant the article is published, in the site timezone.
    pub fn published(&self, tz: Tz, publish_hour: u32) -> DateTime<Tz> {
        publication_time(self.date, self.time, tz, publish_hour)
    }

    pub fn published_utc(&self, tz: Tz, publish_hour: u32) -> DateTime<Utc> {
        self.published(tz, publish_hour).with_timezone(&Utc)
    }

    /// The section headings that are not the title itself.
    pub fn body_sections(&self) -> impl Iterator<Item = (bool, &Section)> {
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
