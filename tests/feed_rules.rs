//! The W3C feed validator's rules (tests/judges/feed_rules.py) over every Atom and
//! RSS document a site has: the subscription feeds with WebSub hubs, the RFC 5005
//! archive documents in both their summary and full-text forms, and the tag feeds
//! (CJK, `+` and colliding spellings), before and after a batch edit. And the
//! judge itself, shown to catch each rule on documents broken on purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::hub::Hub;
use common::{Site, simple_seed};

const NOW: &str = "2026-03-02T01:00:00Z";
const LATER: &str = "2026-03-09T01:00:00Z";

fn tagged_seed(i: usize, tags: &[&str]) -> String {
    let list: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
    let day = 1 + i % 28;
    let month = 1 + i / 28;
    format!(
        "+++\ntags = [{}]\n+++\n{}",
        list.join(", "),
        simple_seed(
            &format!("2025-{month:02}-{day:02}"),
            &format!("Ledger {i}"),
            &format!(
                "Ledger entry {i}: the harbour & its <cranes>, \
                 see https://charts.example.net/{i} and ‘quotes’."
            ),
        )
    )
}

const TAGS: [&[&str]; 5] = [
    &["AI", "航運"],
    &["ai"],
    &["C++", "市場 分析"],
    &["航運"],
    &[],
];

fn site(hub: &Hub, archives: &str) -> Site {
    let site = Site::with_shipped_seed();
    site.edit_config("feed_items = 50", "feed_items = 3");
    site.edit_config(
        "# feed_archives = \"summary\"",
        &format!("feed_archives = \"{archives}\""),
    );
    site.append_config(&format!(
        "\n[websub]\nhub = [\"{}\", \"{}/second\"]\n",
        hub.url, hub.url
    ));
    for i in 0..10 {
        site.write_seed(
            &format!("1{i:02}_ledger{i}.txt"),
            &tagged_seed(i, TAGS[i % 5]),
        );
    }
    site
}

/// Every `.xml` file under `dir`.
fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            xml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "xml") {
            out.push(path);
        }
    }
}

struct Verdict {
    passed: bool,
    report: String,
}

fn judge(base_url: &str, root: &Path, files: &[PathBuf]) -> Verdict {
    let output = Command::new("python3")
        .arg(common::repo().join("tests/judges/feed_rules.py"))
        .arg(base_url)
        .arg(root)
        .args(files)
        .output()
        .expect("python3");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Verdict {
        passed: output.status.success(),
        report,
    }
}

fn judge_site(site: &Site) -> (usize, Verdict) {
    let mut files = Vec::new();
    xml_files(&site.path("public"), &mut files);
    files.sort();
    (
        files.len(),
        judge(&site.base_url(), &site.path("public"), &files),
    )
}

fn build(site: &Site, now: &str) {
    let run = site.run_at(now, &["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn every_feed_document_passes_the_validator_rules() {
    for archives in ["summary", "full"] {
        let hub = Hub::start(204);
        let site = site(&hub, archives);
        build(&site, NOW);
        let (count, verdict) = judge_site(&site);
        // atom.xml + feed.xml, 3 complete archive pages of each format (11 articles,
        // 3 a page), and two feeds for each of the 4 tags (AI/ai are one).
        assert_eq!(count, 2 + 2 * 3 + 2 * 4, "{}", verdict.report);
        assert!(
            verdict.passed
                && verdict
                    .report
                    .contains("16 documents, 0 errors, 0 warnings"),
            "{archives}: {}",
            verdict.report
        );

        // A batch edit: three articles change in one build. Each gets its own
        // `updated`, so no feed has two entries sharing one (DuplicateUpdated).
        for i in [0, 1, 3] {
            let name = format!("1{i:02}_ledger{i}.txt");
            let text = std::fs::read_to_string(site.path("seeds").join(&name)).unwrap();
            site.write_seed(&name, &text.replace("the harbour", "the quay"));
        }
        build(&site, LATER);
        let (_, verdict) = judge_site(&site);
        assert!(
            verdict.passed,
            "{archives} after a batch edit: {}",
            verdict.report
        );
        let archives = site.read("public/feeds/atom-1.xml") + &site.read("public/feeds/atom-2.xml");
        let batch: std::collections::BTreeSet<&str> = archives
            .lines()
            .filter(|l| l.starts_with("    <updated>2026-03-09"))
            .collect();
        assert_eq!(batch.len(), 3, "three distinct entry updates:\n{archives}");
    }
}

/// Rewrites one file of a copy of a built site and returns the judge's report on it.
fn broken(site: &Site, rel: &str, edit: impl Fn(String) -> String) -> Verdict {
    let path = site.path("public").join(rel);
    let original = std::fs::read_to_string(&path).unwrap();
    let changed = edit(original.clone());
    assert_ne!(changed, original, "the edit of {rel} changed nothing");
    std::fs::write(&path, changed).unwrap();
    let verdict = judge(
        &site.base_url(),
        &site.path("public"),
        std::slice::from_ref(&path),
    );
    std::fs::write(&path, original).unwrap();
    verdict
}

/// Where the first element from `open` to `close` (both included) is in `s`.
fn element(s: &str, open: &str, close: &str) -> std::ops::Range<usize> {
    let start = s.find(open).expect("the element is there");
    start..s[start..].find(close).expect("and closed") + start + close.len()
}

/// `s` without its first element from `open` to `close`.
fn without(s: &str, open: &str, close: &str) -> String {
    let span = element(s, open, close);
    format!("{}{}", &s[..span.start], &s[span.end..])
}

/// How a case breaks a document's text.
type Breakage = Box<dyn Fn(String) -> String>;

#[test]
fn the_judge_catches_what_the_validator_reports() {
    let hub = Hub::start(204);
    let site = site(&hub, "full");
    build(&site, NOW);
    let base = site.base_url();
    let cases: Vec<(&str, &str, Breakage)> = vec![
        (
            "atom.xml",
            "warning: MissingSelf",
            Box::new(|s| s.replace("rel=\"self\"", "rel=\"related\"")),
        ),
        (
            "feeds/atom-1.xml",
            "warning: SelfDoesntMatchLocation",
            Box::new(|s| s.replacen("feeds/atom-1.xml", "feeds/atom-9.xml", 1)),
        ),
        (
            "feeds/rss-2.xml",
            "warning: SelfDoesntMatchLocation",
            Box::new(|s| s.replacen("feeds/rss-2.xml", "feeds/rss-1.xml", 1)),
        ),
        (
            "atom.xml",
            "warning: DuplicateUpdated",
            Box::new(|s| {
                let first = s.match_indices("<updated>").nth(1).unwrap().0;
                let stamp = s[first..first + 45].to_string();
                let second = s.match_indices("<updated>").nth(2).unwrap().0;
                format!("{}{}{}", &s[..second], stamp, &s[second + 45..])
            }),
        ),
        (
            "atom.xml",
            "error: InvalidRFC3339Date",
            Box::new(|s| s.replacen("<published>2025-", "<published>25-", 1)),
        ),
        (
            "feed.xml",
            "error: InvalidRFC2822Date",
            Box::new(|s| s.replacen(" +0800</pubDate>", " Taipei</pubDate>", 1)),
        ),
        (
            "feed.xml",
            "warning: IncorrectDOW",
            Box::new(|s| {
                let at = s.find("<pubDate>").unwrap() + "<pubDate>".len();
                let day = &s[at..at + 3];
                let other = if day == "Mon" { "Tue" } else { "Mon" };
                format!("{}{}{}", &s[..at], other, &s[at + 3..])
            }),
        ),
        (
            "atom.xml",
            "warning: ContainsRelRef",
            Box::new(|s| {
                s.replacen(
                    "&lt;/p&gt;",
                    "&lt;a href=\"/charts/1\"&gt;chart&lt;/a&gt;&lt;/p&gt;",
                    1,
                )
            }),
        ),
        (
            "feed.xml",
            "warning: SecurityRisk",
            Box::new(|s| s.replacen("<![CDATA[<p>", "<![CDATA[<p><script>x()</script>", 1)),
        ),
        (
            "feed.xml",
            "error: MissingElement: channel has no description",
            Box::new(|s| without(&s, "<description>", "</description>")),
        ),
        (
            "atom.xml",
            "warning: UnregisteredAtomLinkRel",
            Box::new(|s| s.replacen("rel=\"hub\"", "rel=\"hubb\"", 1)),
        ),
        (
            "feeds/atom-2.xml",
            "error: MissingElement: an archive document needs one fh:archive",
            Box::new(|s| without(&s, "<fh:archive", "</fh:archive>")),
        ),
        (
            "tags/ai/atom.xml",
            "warning: DuplicateEntries",
            Box::new(|s| {
                let entry = element(&s, "<entry>", "</entry>");
                let end = entry.end;
                format!("{}{}{}", &s[..end], &s[entry], &s[end..])
            }),
        ),
        (
            "feed.xml",
            "warning: NonstdPrefix",
            Box::new(|s| {
                s.replace("atom:", "a10:")
                    .replace("xmlns:atom=", "xmlns:a10=")
            }),
        ),
    ];
    for (rel, expected, edit) in cases {
        let verdict = broken(&site, rel, edit);
        assert!(
            !verdict.passed && verdict.report.contains(expected),
            "{rel}: expected {expected}, the judge said:\n{}",
            verdict.report
        );
    }
    // The unbroken site still passes, so each finding above came from its edit.
    let (_, verdict) = judge_site(&site);
    assert!(verdict.passed, "{base}: {}", verdict.report);
}
