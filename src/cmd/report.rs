//! `herald report`: one edition's delivery, on one screen.

use anyhow::Context;
use chrono::TimeZone;

use super::Outcome;
use crate::config::Config;
use crate::content::edition::Week;
use crate::store::State;
use crate::store::journal::{EditionReport, JournalCounts, SendJournal};

/// Reads the journal of edition `week` (default: the newest edition sent) and
/// prints its report; writes nothing.
pub fn execute(config: &Config, week: Option<Week>) -> anyhow::Result<Outcome> {
    let state = State::open_read_only(&config.paths.state)?;
    let journal = SendJournal::new(state.connection());
    let week = match week {
        Some(week) => week.to_string(),
        None => match journal.latest_week().context("reading the send journal")? {
            Some(week) => week,
            None => {
                println!("report: no edition has been sent yet");
                return Ok(Outcome::Done);
            }
        },
    };
    let report = journal
        .edition_report(&week)
        .with_context(|| format!("reading the send journal of {week}"))?;
    print!("{}", render_report(config, &week, &report));
    Ok(Outcome::Done)
}

fn counts_line(counts: &JournalCounts) -> String {
    format!(
        "{:>8} sent {:>8} pending {:>8} to retry {:>8} rejected",
        counts.sent, counts.pending, counts.failed_temporary, counts.failed_permanent
    )
}

/// The report as text: totals, each relay's share, bounces and complaints, and
/// how long sending took.
fn render_report(config: &Config, week: &str, report: &EditionReport) -> String {
    let total = &report.total;
    if total.total() == 0 {
        return format!("edition {week}: not sent yet (no subscriber is in its journal)\n");
    }
    let mut out = format!("edition {week}: {} recipient(s)\n", total.total());
    out += &format!("  {:<16}{}\n", "all", counts_line(total));
    for (relay, counts) in &report.relays {
        let name = match relay.as_str() {
            "" if counts.sent + counts.failed_temporary + counts.failed_permanent == 0 => {
                "(not tried)"
            }
            "" => "(outbox)",
            name => name,
        };
        out += &format!("  {name:<16}{}\n", counts_line(counts));
    }
    let kinds = |wanted: &[&str]| -> String {
        let found: Vec<String> = (report.bounces.iter())
            .filter(|(kind, _)| wanted.contains(&kind.as_str()))
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        if found.is_empty() {
            "none".into()
        } else {
            found.join(", ")
        }
    };
    out += &format!("  bounces: {}\n", kinds(&["hard", "soft", "delayed"]));
    let complaints: u64 = (report.bounces.iter())
        .filter(|(kind, _)| kind == "complaint")
        .map(|(_, n)| n)
        .sum();
    out += &format!("  complaints: {complaints}\n");
    let tz = config.site.timezone;
    let at = |secs: f64| {
        let whole = secs.floor() as i64;
        let nanos = ((secs - secs.floor()) * 1e9) as u32;
        tz.timestamp_opt(whole, nanos)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    if let (Some(first), Some(last)) = (report.first_sent, report.last_sent) {
        let seconds = last - first;
        let rate = if seconds > 0.0 {
            format!(
                ", {:.1} messages/s",
                report.timed.saturating_sub(1) as f64 / seconds
            )
        } else {
            String::new()
        };
        out += &format!(
            "  sending: first accepted {}, last {} ({tz}): {seconds:.1} s{rate}\n",
            at(first),
            at(last)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_shows_totals_relays_bounces_and_the_rate() {
        let config = Config::from_toml(
            "[site]\ntitle = \"T\"\nbase_url = \"https://example.com/\"\nauthor = \"A\"\n",
            std::path::Path::new("config.toml"),
            std::path::Path::new("/srv"),
        )
        .unwrap();
        let counts = |sent, pending, retry, rejected| JournalCounts {
            pending,
            sent,
            failed_temporary: retry,
            failed_permanent: rejected,
        };
        let report = EditionReport {
            total: counts(30, 2, 1, 1),
            relays: vec![
                (String::new(), counts(0, 2, 0, 0)),
                ("own-postfix".into(), counts(20, 0, 1, 0)),
                ("provider".into(), counts(10, 0, 0, 1)),
            ],
            bounces: vec![("complaint".into(), 1), ("hard".into(), 2)],
            first_sent: Some(1_769_389_200.0),
            last_sent: Some(1_769_389_210.0),
            timed: 30,
        };
        let text = render_report(&config, "2026-W04", &report);
        assert!(
            text.starts_with("edition 2026-W04: 34 recipient(s)\n"),
            "{text}"
        );
        let line = |start: &str| {
            (text.lines())
                .find(|l| l.trim_start().starts_with(start))
                .unwrap_or_else(|| panic!("{start}: {text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            line("own-postfix"),
            "own-postfix 20 sent 0 pending 1 to retry 0 rejected"
        );
        assert_eq!(
            line("(not tried)"),
            "(not tried) 0 sent 2 pending 0 to retry 0 rejected"
        );
        assert_eq!(line("bounces"), "bounces: 2 hard");
        assert_eq!(line("complaints"), "complaints: 1");
        assert_eq!(
            line("sending"),
            "sending: first accepted 2026-01-26 09:00:00, last 2026-01-26 09:00:10 (Asia/Taipei): 10.0 s, 2.9 messages/s"
        );
    }
}
