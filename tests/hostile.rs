//! The hostile-seed corpus (`tests/corpus/`) plus generated cases: every broken
//! seed is named with a hint, every other seed publishes, every feed stays valid, no
//! page carries injected markup, and nothing panics or hangs.

mod common;

use std::path::Path;

use common::{Site, parse_feed, simple_seed};

fn copy_corpus(site: &Site) {
    let corpus = common::repo().join("tests/corpus");
    for entry in std::fs::read_dir(corpus).unwrap().flatten() {
        std::fs::copy(entry.path(), site.path("seeds").join(entry.file_name())).unwrap();
    }
}

fn add_generated(site: &Site) {
    let seeds = site.path("seeds");
    // Several MB: over the default 4 MiB limit.
    let huge = format!(
        "date 2026-04-01 lead\n\nHuge\n\n{}\n",
        "長".repeat(2_000_000)
    );
    std::fs::write(seeds.join("050_huge.txt"), huge).unwrap();
    // A 1 MB single line, under the limit.
    let long_line = format!(
        "date 2026-04-02 lead\n\nLong line\n\n{}\n",
        "x".repeat(1_000_000)
    );
    std::fs::write(seeds.join("051_long-line.txt"), long_line).unwrap();
    // Thousands of tiny headings, each with a one-word paragraph.
    let mut many = String::from("date 2026-04-03 lead\n\n");
    for i in 0..3000 {
        many.push_str(&format!("H{i}\n\nP{i}.\n\n"));
    }
    std::fs::write(seeds.join("052_many-headings.txt"), many).unwrap();
    std::fs::create_dir(seeds.join("053_folder.txt")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("does-not-exist", seeds.join("054_broken-link.txt")).unwrap();
        std::os::unix::fs::symlink("055_loop.txt", seeds.join("055_loop.txt")).unwrap();
        let fifo = seeds.join("056_fifo.txt");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
    }
    std::fs::write(
        seeds.join("057_good.txt"),
        simple_seed("2026-04-04", "A plain good seed", "Fine."),
    )
    .unwrap();
}

/// (file, text that must follow its name in the error) for every broken seed.
const EXPECTED_ERRORS: &[(&str, &str)] = &[
    ("006_only-date.txt", ": the seed has no title"),
    ("007_no-date.txt:1: the seed has no date line", ""),
    (
        "008_impossible-date.txt:3: `2026-02-30` is not a valid date",
        "",
    ),
    ("009_bad-toml.txt:2: invalid front matter", ""),
    ("010_wrong-types.txt:3: invalid front matter", ""),
    ("011_surrogate-escape.txt:2: invalid front matter", ""),
    ("012_empty.txt:1: the seed is empty", ""),
    ("013_invalid-utf8.txt:5: the text is not valid UTF-8", ""),
    (
        "015_dup.txt: article id `dup` is already used by 014_dup.txt",
        "",
    ),
    (
        "016_has space.txt: the file name does not give a safe article id",
        "",
    ),
    (
        "017_中文.txt: the file name does not give a safe article id",
        "",
    ),
    (
        "018_...txt: the file name does not give a safe article id",
        "",
    ),
    ("050_huge.txt: the seed is", "over the limit"),
    ("053_folder.txt: this is a folder", ""),
    ("054_broken-link.txt: cannot read the file", ""),
    ("055_loop.txt: cannot read the file", ""),
    ("056_fifo.txt: this is not a regular file", ""),
];

const PUBLISHED: &[&str] = &[
    "Saved with a byte order mark",
    "Old Mac endings too",
    "Tom & Jerry </item> <script>alert(1)</script> ]]>",
    "הכותרת בעברית 🌍",
    "Title with a bell",
    "First file with this id",
    "Long line",
    "H0",
    "A plain good seed",
    // Three short lines and no paragraph: no heading, so (since #16) its first
    // line is the title and the build warns instead of skipping it.
    "One",
];

/// Seeds published with a `warning:` line (and a hint) naming them.
const EXPECTED_WARNINGS: &[&str] = &["020_title-only-headings.txt:3: the seed has no heading"];

fn assert_reports_everything(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
    for (file, rest) in EXPECTED_ERRORS {
        let line = stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error for {file} in\n{stderr}"));
        assert!(line.contains(rest), "{line}");
    }
    let hints = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("hint:"))
        .count();
    for warning in EXPECTED_WARNINGS {
        assert!(
            stderr.contains(&format!("warning: {warning}")),
            "no warning {warning} in\n{stderr}"
        );
    }
    assert_eq!(
        hints,
        EXPECTED_ERRORS.len() + EXPECTED_WARNINGS.len(),
        "every error and warning has a hint:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{} seed(s) skipped", EXPECTED_ERRORS.len())),
        "{stderr}"
    );
}

#[test]
fn check_and_build_survive_the_hostile_corpus() {
    let site = Site::new();
    copy_corpus(&site);
    add_generated(&site);

    let check = site.run(&["check"]);
    assert_eq!(check.code, 1);
    assert_reports_everything(&check.stderr);
    assert!(!site.path("public").exists(), "check writes nothing");

    let build = site.run(&["build"]);
    assert_eq!(build.code, 1, "{}", build.stderr);
    assert_reports_everything(&build.stderr);
    assert!(
        build.stdout.contains("scheduled: far-future"),
        "{}",
        build.stdout
    );

    for file in ["feed.xml", "atom.xml", "feed.json"] {
        let feed = parse_feed(&site, file);
        let titles: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect();
        for title in PUBLISHED {
            assert!(
                titles.iter().any(|t| t == title),
                "{file}: {title} missing from {titles:?}"
            );
        }
        assert_eq!(titles.len(), PUBLISHED.len(), "{file}: {titles:?}");
        for entry in &feed.entries {
            let body = entry
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .unwrap_or_default();
            for injected in ["<script", "<img", "<b>", "</item>", "</channel>"] {
                assert!(!body.contains(injected), "{file}: {injected} in {body}");
            }
        }
    }
    let raw_rss = site.read("public/feed.xml");
    assert!(
        !raw_rss.contains('\u{0}') && !raw_rss.contains('\u{1b}') && !raw_rss.contains('\u{b}')
    );

    for entry in std::fs::read_dir(site.path("public/articles"))
        .unwrap()
        .flatten()
    {
        let page = std::fs::read_to_string(entry.path()).unwrap();
        for injected in [
            "<script>alert",
            "<img src=x",
            "<b>tags</b>",
            "</item></channel>",
        ] {
            assert!(
                !page.contains(injected),
                "{}: {injected}",
                entry.path().display()
            );
        }
    }
    assert_eq!(count_files(&site.path("public/articles")), PUBLISHED.len());
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().flatten().count()
}

#[test]
fn a_limit_is_reported_with_the_key_to_change() {
    let site = Site::new();
    let title = "長".repeat(300);
    site.write_seed(
        "001_long-title.txt",
        &format!("+++\ntitle = \"{title}\"\n+++\ndate 2026-04-05 lead\n\nH\n\nBody.\n"),
    );
    let run = site.run(&["build"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("longer than 200 characters"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("seed.max_title_chars"),
        "{}",
        run.stderr
    );
}
