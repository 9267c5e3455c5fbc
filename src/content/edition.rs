//! Weekly editions: which articles each ISO week's newsletter carries, and when it
//! falls due. Everything is computed in the site timezone.
//!
//! Membership rule. Every published article belongs to exactly one edition:
//! - an article already in a frozen (sent) edition stays there forever;
//! - otherwise it belongs to the week of its publication date, unless it is a
//!   *late arrival*: Herald first saw it after an edition for its week or a later
//!   week had already been sent. A late arrival goes to the first edition that was
//!   still open when it was first seen (never after the last sent edition, never to
//!   an edition already due), so nothing new is ever skipped and nothing is sent twice.
//!
//! On a first run over an old archive, with nothing sent yet, there are no late
//! arrivals: old articles stay in their own (old) weeks.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::content::catalog::Entry;
use crate::store::FrozenEdition;

/// An ISO week, the key of an edition (`2026-W04`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    pub year: i32,
    pub week: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO week; write it as YYYY-Www, for example 2026-W04")]
pub struct WeekParseError(pub String);

impl FromStr for Week {
    type Err = WeekParseError;
    fn from_str(s: &str) -> Result<Week, WeekParseError> {
        let bad = || WeekParseError(s.to_string());
        let (year, week) = s.split_once(['W', 'w']).ok_or_else(bad)?;
        let year = year.strip_suffix('-').unwrap_or(year);
        if year.len() != 4 || week.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
        Ok(Week { year, week })
    }
}

impl fmt::Display for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl Week {
    pub(crate) fn of_date(date: NaiveDate) -> Week {
        let iso = date.iso_week();
        Week {
            year: iso.year(),
            week: iso.week(),
        }
    }

    pub(crate) fn of_instant(t: DateTime<Tz>) -> Week {
        Week::of_date(t.date_naive())
    }

    /// Monday of the week.
    pub(crate) fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or(NaiveDate::MIN)
    }

    pub(crate) fn sunday(self) -> NaiveDate {
        self.monday() + Duration::days(6)
    }

    pub(crate) fn next(self) -> Week {
        Week::of_date(self.monday() + Duration::days(7))
    }

    pub(crate) fn previous(self) -> Week {
        Week::of_date(self.monday() - Duration::days(7))
    }
}

/// When editions fall due: the configured weekday and hour of the following week.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub tz: Tz,
    pub weekday: Weekday,
    pub hour: u32,
}

impl Schedule {
    /// When editions fall due, from `[newsletter]`.
    pub(crate) fn of(config: &crate::config::Config) -> Schedule {
        Schedule {
            tz: config.site.timezone,
            weekday: config.newsletter.send_weekday,
            hour: config.newsletter.send_hour,
        }
    }
    /// The instant week `w`'s edition is due.
    pub(crate) fn due(&self, w: Week) -> DateTime<Utc> {
        let next = w.next();
        let day = NaiveDate::from_isoywd_opt(next.year, next.week, self.weekday)
            .unwrap_or_else(|| next.monday());
        let local = day.and_hms_opt(self.hour.min(23), 0, 0).unwrap_or_default();
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.tz
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    }

    /// The most recent edition that is due at `now`.
    pub(crate) fn latest_due(&self, now: DateTime<Utc>) -> Week {
        let current = Week::of_instant(now.with_timezone(&self.tz));
        let last = current.previous();
        if self.due(last) <= now {
            last
        } else {
            last.previous()
        }
    }

    /// The oldest edition not yet due at `t`: where something first seen at `t` can
    /// still go.
    fn open_at(&self, t: DateTime<Utc>) -> Week {
        self.latest_due(t).next()
    }
}

/// One week's edition: indexes into the entries it was computed from, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edition {
    pub week: Week,
    pub articles: Vec<usize>,
    /// When its article list was frozen (sending began), if it was.
    pub frozen_at: Option<DateTime<Utc>>,
}

/// Assigns every entry to its edition. `entries` must be newest first (as the
/// catalog gives them); each edition keeps that order.
pub(crate) fn assign_editions(
    entries: &[Entry],
    frozen: &[FrozenEdition],
    schedule: &Schedule,
) -> BTreeMap<Week, Edition> {
    let dated = entries
        .iter()
        .map(|e| (e.article.id.as_str(), e.published, e.first_seen));
    assign_dated(dated, frozen, schedule)
}

/// [`assign_editions`] of articles given as `(id, published, first_seen)`, newest
/// first: what deciding an article's edition takes.
pub(crate) fn assign_dated<'a>(
    entries: impl IntoIterator<Item = (&'a str, DateTime<Tz>, DateTime<Utc>)>,
    frozen: &[FrozenEdition],
    schedule: &Schedule,
) -> BTreeMap<Week, Edition> {
    let mut editions: BTreeMap<Week, Edition> = BTreeMap::new();
    let mut placed: HashMap<&str, Week> = HashMap::new();
    let mut sent: Vec<(DateTime<Utc>, Week)> = Vec::new();
    for f in frozen {
        let Ok(week) = f.week.parse::<Week>() else {
            continue;
        };
        let frozen_at = Utc
            .timestamp_opt(f.frozen_at, 0)
            .single()
            .unwrap_or_default();
        sent.push((frozen_at, week));
        editions.insert(
            week,
            Edition {
                week,
                articles: Vec::new(),
                frozen_at: Some(frozen_at),
            },
        );
        for id in &f.article_ids {
            placed.entry(id.as_str()).or_insert(week);
        }
    }
    sent.sort();
    for (index, (id, published, first_seen)) in entries.into_iter().enumerate() {
        let own = Week::of_instant(published);
        let week = match placed.get(id) {
            Some(week) => *week,
            None => {
                // The latest sending that happened before Herald saw this article.
                let before: Option<Week> = sent
                    .iter()
                    .filter(|(at, _)| *at < first_seen)
                    .map(|(_, w)| *w)
                    .max();
                match before {
                    Some(last_sent) if own <= last_sent => {
                        last_sent.next().max(schedule.open_at(first_seen))
                    }
                    _ => own,
                }
            }
        };
        editions
            .entry(week)
            .or_insert_with(|| Edition {
                week,
                articles: Vec::new(),
                frozen_at: None,
            })
            .articles
            .push(index);
    }
    editions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::ArticleHead;
    use chrono::NaiveTime;

    fn taipei() -> Schedule {
        Schedule {
            tz: chrono_tz::Asia::Taipei,
            weekday: Weekday::Mon,
            hour: 8,
        }
    }

    fn entry(id: &str, date: (i32, u32, u32), time: (u32, u32), first_seen: &str) -> Entry {
        let article = ArticleHead {
            id: id.into(),
            title: id.into(),
            date: NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
            time: NaiveTime::from_hms_opt(time.0, time.1, 0),
            summary_short: String::new(),
            has_column_intro: false,
            tags: Vec::new(),
            listing: None,
        };
        let published = article.published(chrono_tz::Asia::Taipei, 8);
        Entry {
            article: article.into(),
            full: None,
            written: None,
            published,
            updated: published,
            first_seen: first_seen.parse().unwrap(),
            source_hash: id.to_string(),
        }
    }

    #[test]
    fn week_keys_parse_and_print() {
        let w: Week = "2026-W04".parse().unwrap();
        assert_eq!(
            w,
            Week {
                year: 2026,
                week: 4
            }
        );
        assert_eq!(w.to_string(), "2026-W04");
        assert_eq!(w.monday(), NaiveDate::from_ymd_opt(2026, 1, 19).unwrap());
        assert_eq!(w.sunday(), NaiveDate::from_ymd_opt(2026, 1, 25).unwrap());
        for bad in ["2026-W54", "2026-04", "26-W04", "2026-W4", "2026-W00", "x"] {
            assert!(bad.parse::<Week>().is_err(), "{bad}");
        }
        assert!("2026-W53".parse::<Week>().is_ok());
        assert!("2025-W53".parse::<Week>().is_err());
        assert_eq!(
            Week::of_date(NaiveDate::from_ymd_opt(2026, 1, 21).unwrap()),
            w
        );
        assert_eq!(
            "2025-W52".parse::<Week>().unwrap().next().to_string(),
            "2026-W01"
        );
    }

    #[test]
    fn sunday_2330_taipei_belongs_to_that_week_not_the_next() {
        // 23:30 Sunday in Taipei is 15:30 UTC Sunday; a UTC week would agree here,
        // but 00:30 Monday Taipei (16:30 UTC Sunday) must not.
        let late_sunday = entry("a", (2026, 1, 25), (23, 30), "2026-01-25T16:00:00Z");
        assert_eq!(
            Week::of_instant(late_sunday.published).to_string(),
            "2026-W04"
        );
        let early_monday = entry("b", (2026, 1, 26), (0, 30), "2026-01-25T17:00:00Z");
        assert_eq!(
            Week::of_instant(early_monday.published).to_string(),
            "2026-W05"
        );
        assert_eq!(
            early_monday.published.with_timezone(&Utc).to_rfc3339(),
            "2026-01-25T16:30:00+00:00"
        );
    }

    #[test]
    fn an_edition_is_due_at_the_configured_hour_of_the_next_week() {
        let s = taipei();
        let w04: Week = "2026-W04".parse().unwrap();
        assert_eq!(s.due(w04).to_rfc3339(), "2026-01-26T00:00:00+00:00");
        assert_eq!(
            s.latest_due("2026-01-25T23:59:59Z".parse().unwrap())
                .to_string(),
            "2026-W03"
        );
        assert_eq!(
            s.latest_due("2026-01-26T00:00:00Z".parse().unwrap())
                .to_string(),
            "2026-W04"
        );
        assert_eq!(
            s.latest_due("2026-02-01T12:00:00Z".parse().unwrap())
                .to_string(),
            "2026-W04"
        );
    }

    #[test]
    fn late_arrivals_join_the_next_open_edition_and_old_archives_stay_put() {
        let s = taipei();
        // Newest first, as the catalog orders them.
        let entries = vec![
            entry("w05", (2026, 1, 28), (8, 0), "2026-01-28T00:00:00Z"),
            entry("late", (2026, 1, 22), (8, 0), "2026-01-27T03:00:00Z"),
            entry("w04", (2026, 1, 21), (8, 0), "2026-01-21T00:00:00Z"),
            entry("old", (2020, 5, 5), (8, 0), "2026-01-21T00:00:00Z"),
        ];
        let none = assign_editions(&entries, &[], &s);
        let key = |w: &str| w.parse::<Week>().unwrap();
        assert_eq!(none[&key("2026-W04")].articles, [1, 2]);
        assert_eq!(none[&key("2020-W19")].articles, [3]);

        let frozen = vec![FrozenEdition {
            week: "2026-W04".into(),
            article_ids: vec!["w04".into()],
            frozen_at: "2026-01-26T00:00:00Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
                .timestamp(),
        }];
        let after = assign_editions(&entries, &frozen, &s);
        assert_eq!(after[&key("2026-W04")].articles, [2]);
        assert_eq!(after[&key("2026-W05")].articles, [0, 1]);
        assert!(after[&key("2026-W04")].frozen_at.is_some());
        // Seen before W04 was sent, but the archive article predates it: its own week.
        assert_eq!(after[&key("2020-W19")].articles, [3]);
    }
}
