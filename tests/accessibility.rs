//! axe-core (from npm) judges every kind of page Herald shows a reader, in light
//! and dark mode, in Debian's headless Chromium: the site's pages, the public
//! newsletter pages, the subscribe / confirm / unsubscribe pages of `herald serve`,
//! and the e-mail's HTML. Screenshots of each (light and dark, 375 and 600 px) are
//! saved under `target/tmp/artifacts/`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Site;
use common::browser::{Browser, Killed, ensure_chromium};
use herald::newsletter::token::TokenKey;

const NOW: &str = "2026-01-26T01:00:00Z";

/// `axe.min.js`, installed from npm into the test's temp folder on first use (once:
/// the tests of this file run in parallel and must not install it twice at once).
fn axe_source() -> String {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(install_axe).clone()
}

fn install_axe() -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("axe");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    if !script.exists() {
        common::require_debian(&["npm"], &["npm"]);
        let status = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg("axe-core@4.14")
            .status()
            .unwrap();
        assert!(status.success(), "npm install axe-core");
    }
    std::fs::read_to_string(script).unwrap()
}

/// WCAG 2.x A and AA: what e-mail HTML is held to (a message is not a page, so
/// axe's best-practice rules about landmarks do not apply to it).
const WCAG_AA: &str = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']";

/// Every axe violation on the loaded page (of every rule, or of `tags` only), as
/// `rule (impact): selector summary`.
fn violations(browser: &Browser, axe: &str, tags: Option<&str>) -> Vec<String> {
    browser.execute(&format!("{axe}\nreturn true;"));
    let only = tags.map_or(String::new(), |t| {
        format!("runOnly: {{ type: 'tag', values: {t} }}, ")
    });
    let result = browser.execute_async(&format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {{ {only}resultTypes: ['violations'] }})
            .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' +
                v.nodes.map(n => n.target.join(' ') + ' ' + (n.failureSummary || '')).join(' | '))))
            .catch(e => done(['axe failed: ' + e]));"
    ));
    result
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

fn served_site() -> (Site, String, Killed) {
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let site = Site::with_shipped_seed();
    site.edit_config("https://example.com/herald/", &base);
    std::fs::copy(
        common::repo().join("tests/fixtures/seeds/101_yen-questions.txt"),
        site.path("seeds/101_yen-questions.txt"),
    )
    .unwrap();
    site.write_seed(
        "102_tagged.txt",
        &format!(
            "+++\ntags = [\"日圓\", \"Fed\"]\n+++\n{}",
            common::simple_seed(
                "2026-01-20",
                "日圓與聯準會",
                "日圓走弱，市場等待聯準會的下一步。"
            )
        ),
    );
    let build = site.run_at(NOW, &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let listen = format!("127.0.0.1:{port}");
    let (server, _) = common::start_server(&site, NOW, &["--listen", &listen], false);
    (site, base, Killed(server))
}

#[test]
fn every_page_passes_axe_in_light_and_dark_mode() {
    ensure_chromium();
    let axe = axe_source();
    let (site, base, _server) = served_site();
    let secret = std::fs::read_to_string(site.path("state/secret")).unwrap();
    let token = TokenKey::from_secret(secret.trim().as_bytes())
        .unwrap()
        .unsubscribe_token("reader@example.com");
    let pages = [
        ("index", String::new()),
        ("article", "articles/yen-questions.html".to_string()),
        ("archive", "archive/2026.html".to_string()),
        ("tag", "tags/%E6%97%A5%E5%9C%93/".to_string()),
        ("tags", "tags/".to_string()),
        ("newsletter", "newsletter/2026-W04.html".to_string()),
        ("newsletter-index", "newsletter/".to_string()),
        ("subscribe", "subscribe".to_string()),
        ("confirm", "confirm?token=not-a-token".to_string()),
        ("unsubscribe", format!("unsubscribe?token={token}")),
        // The e-mail's HTML as a subscriber gets it (with the preheader).
        ("email", "preview/2026-W04".to_string()),
    ];
    let browser = Browser::start();
    let mut failures = Vec::new();
    for dark in [false, true] {
        for width in [375, 600] {
            browser.emulate(dark, width);
            for (name, path) in &pages {
                browser.go(&format!("{base}{path}"));
                let mode = if dark { "dark" } else { "light" };
                browser.screenshot(&format!("{name}-{mode}-{width}.png"));
                let tags = (*name == "email").then_some(WCAG_AA);
                for v in violations(&browser, &axe, tags) {
                    failures.push(format!("{name} ({mode}, {width} px): {v}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "axe violations:\n{}",
        failures.join("\n")
    );
}

/// The judge itself works: a page with a known violation is caught.
#[test]
fn axe_catches_a_known_violation() {
    ensure_chromium();
    let axe = axe_source();
    let browser = Browser::start();
    browser.go("data:text/html,<html><body><img src='x.png'></body></html>");
    let found = violations(&browser, &axe, None);
    assert!(
        found.iter().any(|v| v.starts_with("image-alt")),
        "{found:?}"
    );
}
