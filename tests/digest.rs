//! `herald digest` and the newsletter web archive, end to end. The `.eml` is read
//! back with the independent `mail-parser` crate.

mod common;

use common::{Site, simple_seed};
use mail_parser::{MessageParser, MimeHeaders};

const ARTICLE_URL: &str = "https://example.com/herald/articles/1bd5276be7ff4f0b.html";
const TITLE: &str = "DeepSeek一週年：中國AI崛起的轉捩點";
const SUBJECT: &str = "《華爾街聊什麼》週報 2026 年第 4 週：DeepSeek一週年：中國AI崛起的轉捩點";

fn preview(site: &Site, week: &str) -> common::Run {
    let out = site.path("out");
    site.run(&["digest", "--week", week, "--out", out.to_str().unwrap()])
}

/// The CSS left in `<style>` elements once every `@media` block is removed.
fn non_media_css(html: &str) -> String {
    let mut rest = String::new();
    for chunk in html.split("<style>").skip(1) {
        let css = chunk.split("</style>").next().unwrap_or("");
        let mut depth = 0;
        let mut in_media = false;
        let mut i = 0;
        let bytes = css.as_bytes();
        while i < bytes.len() {
            if css[i..].starts_with("@media") {
                in_media = true;
            }
            match bytes[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 && in_media {
                        in_media = false;
                        i += 1;
                        continue;
                    }
                }
                _ => {}
            }
            if !in_media {
                rest.push(bytes[i] as char);
            }
            i += 1;
        }
    }
    rest.trim().to_string()
}

#[test]
fn the_seed_edition_renders_html_text_and_a_parseable_eml() {
    let site = Site::with_shipped_seed();
    let run = preview(&site, "2026-W04");
    assert_eq!(run.code, 0, "{}", run.stderr);
    for ext in ["html", "txt", "eml"] {
        let path = site.path(&format!("out/2026-W04.{ext}"));
        assert!(
            run.stdout.contains(path.to_str().unwrap()),
            "{}",
            run.stdout
        );
    }

    let html = site.read("out/2026-W04.html");
    assert!(html.len() < 100 * 1024, "{} bytes", html.len());
    assert!(html.contains(TITLE));
    assert!(
        html.contains("本期《What's News Sunday》節目（1 月 18 日）")
            || html.contains("本期《What&#x27;s News Sunday》")
    );
    assert!(html.contains(&format!(r#"href="{ARTICLE_URL}""#)));
    assert!(html.contains(r#"lang="zh-TW""#) && html.contains(r#"dir="ltr""#));
    assert!(html.contains("https://example.com/herald/newsletter/2026-W04.html"));
    assert!(html.contains("max-width: 600px"));
    assert!(html.contains("Noto Sans TC"));
    assert_eq!(
        non_media_css(&html),
        "",
        "layout must not depend on <style>"
    );
    assert!(html.contains("prefers-color-scheme: dark"));

    let text = site.read("out/2026-W04.txt");
    assert!(text.contains(TITLE));
    assert!(text.contains(ARTICLE_URL));
    assert!(text.contains("https://example.com/herald/newsletter/2026-W04.html"));
    for line in text.lines() {
        let columns: usize = line.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
        assert!(
            columns <= 78 || line.starts_with("http"),
            "too wide: {line}"
        );
    }

    let eml = std::fs::read(site.path("out/2026-W04.eml")).unwrap();
    let message = MessageParser::default().parse(&eml).expect("eml parses");
    assert_eq!(message.subject(), Some(SUBJECT));
    let root = message.root_part().content_type().unwrap();
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(message.parts.len(), 3);
    let kinds: Vec<(String, Option<String>)> = message.parts[1..]
        .iter()
        .map(|p| {
            let ct = p.content_type().unwrap();
            (
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")),
                ct.attribute("charset").map(str::to_lowercase),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("text/plain".to_string(), Some("utf-8".to_string())),
            ("text/html".to_string(), Some("utf-8".to_string()))
        ]
    );
    assert!(message.body_text(0).unwrap().contains(TITLE));
    assert!(message.body_html(0).unwrap().contains(TITLE));
    let id = message.message_id().unwrap();
    assert!(
        id.starts_with("2026-W04.") && id.ends_with("@example.com"),
        "{id}"
    );
    assert!(message.date().is_some());
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("newsletter@example.com")
    );
}

#[test]
fn sunday_2330_taipei_is_in_that_week_and_monday_0030_in_the_next() {
    let site = Site::new();
    site.write_seed(
        "001_sunday.txt",
        "+++\ndate = 2026-01-25T23:30:00\n+++\nSunday night story\n\nWritten late on Sunday.\n",
    );
    site.write_seed(
        "002_monday.txt",
        "+++\ndate = 2026-01-26T00:30:00\n+++\nMonday morning story\n\nWritten just after midnight.\n",
    );
    assert_eq!(preview(&site, "2026-W04").code, 0);
    let w04 = site.read("out/2026-W04.txt");
    assert!(w04.contains("Sunday night story"));
    assert!(!w04.contains("Monday morning story"));
    assert_eq!(preview(&site, "2026-W05").code, 0);
    let w05 = site.read("out/2026-W05.txt");
    assert!(w05.contains("Monday morning story"));
    assert!(!w05.contains("Sunday night story"));
}

#[test]
fn articles_in_an_edition_are_newest_first_and_subject_names_the_lead() {
    let site = Site::new();
    site.write_seed(
        "001_tue.txt",
        &simple_seed("2026-01-20", "Tuesday piece", "Body."),
    );
    site.write_seed(
        "002_fri.txt",
        &simple_seed("2026-01-23", "Friday piece", "Body."),
    );
    assert_eq!(preview(&site, "2026-W04").code, 0);
    let text = site.read("out/2026-W04.txt");
    let fri = text.find("Friday piece").unwrap();
    let tue = text.find("Tuesday piece").unwrap();
    assert!(fri < tue);
    let eml = std::fs::read(site.path("out/2026-W04.eml")).unwrap();
    let message = MessageParser::default().parse(&eml).unwrap();
    assert_eq!(
        message.subject(),
        Some("《華爾街聊什麼》週報 2026 年第 4 週：Friday piece")
    );
}

#[test]
fn default_edition_is_the_latest_due_one() {
    let site = Site::with_shipped_seed();
    // Monday 26 January 2026, 09:00 Taipei: week 4's edition fell due at 08:00.
    let out = site.path("out");
    let run = site.run_at(
        "2026-01-26T01:00:00Z",
        &["digest", "--out", out.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("digest 2026-W04: 1 article(s)"),
        "{}",
        run.stdout
    );
    // 07:00 Taipei: still week 3's turn, which is empty.
    let run = site.run_at(
        "2026-01-25T23:00:00Z",
        &["digest", "--out", out.to_str().unwrap()],
    );
    assert!(
        run.stdout.contains("digest 2026-W03: empty"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_empty_edition_produces_no_email() {
    let site = Site::with_shipped_seed();
    let run = preview(&site, "2026-W10");
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("empty"), "{}", run.stdout);
    assert!(!site.path("out/2026-W10.eml").exists());
}

#[test]
fn an_invalid_week_is_a_usage_error() {
    let site = Site::with_shipped_seed();
    let run = preview(&site, "2026-W4");
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("write it as YYYY-Www"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_digest_template_override_is_used() {
    let site = Site::with_shipped_seed();
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(
        site.path("templates/digest.txt"),
        "Custom text {{ edition.key }}: {% for a in articles %}{{ a.title }}{% endfor %} {{ unsubscribe_url }}\n",
    )
    .unwrap();
    assert_eq!(preview(&site, "2026-W04").code, 0);
    assert_eq!(
        site.read("out/2026-W04.txt"),
        format!("Custom text 2026-W04: {TITLE} https://example.com/herald/unsubscribe\n")
    );
}

#[test]
fn a_broken_digest_template_names_the_template_and_writes_nothing() {
    let site = Site::with_shipped_seed();
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(
        site.path("templates/digest.html"),
        "<p>{{ edition.no_such_field.deeper }}</p>",
    )
    .unwrap();
    let run = preview(&site, "2026-W04");
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("digest.html"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_field"), "{}", run.stderr);
    assert!(!site.path("out").exists());
}

#[test]
fn full_text_digests_carry_the_whole_article() {
    let site = Site::with_shipped_seed();
    site.append_config("\n[newsletter]\ncontent = \"full\"\n");
    assert_eq!(preview(&site, "2026-W04").code, 0);
    let text = site.read("out/2026-W04.txt");
    assert!(text.contains("【晶片戰爭：中國的軟肋與突圍】"));
    let html = site.read("out/2026-W04.html");
    assert!(html.contains("晶片戰爭：中國的軟肋與突圍</h3>"));
    assert!(!html.contains("廣告"));
}

#[test]
fn build_publishes_due_editions_to_the_web_archive() {
    let site = Site::with_shipped_seed();
    site.write_seed(
        "001_future.txt",
        &simple_seed("2026-11-27", "This week", "Body."),
    );
    let run = site.run_at("2026-11-29T00:00:00Z", &["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = site.read("public/newsletter/2026-W04.html");
    assert!(page.contains(TITLE));
    // A public page: no unsubscribe link (it would need a reader's token), no text
    // meant for an inbox, and the landmarks of a page (#17).
    assert!(!page.contains("unsubscribe"), "{page}");
    assert!(!page.contains("你收到這封信"));
    assert!(page.contains("https://example.com/herald/#subscribe"));
    assert!(page.contains("<main>") && page.contains("<h1 class=\"masthead\">"));
    assert!(page.contains("<meta name=\"description\""));
    assert!(!page.contains("herald.invalid"));
    // Week 48's edition is not due until Monday 30 November.
    assert!(!site.path("public/newsletter/2026-W48.html").exists());
    let index = site.read("public/newsletter/index.html");
    assert!(index.contains("https://example.com/herald/newsletter/2026-W04.html"));
    assert!(index.contains(SUBJECT));
    assert!(
        site.read("public/index.html")
            .contains("https://example.com/herald/newsletter/")
    );
    let run = site.run_at("2026-11-30T00:00:00Z", &["build"]);
    assert_eq!(run.code, 0);
    assert!(site.path("public/newsletter/2026-W48.html").exists());
}
