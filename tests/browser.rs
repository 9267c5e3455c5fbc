//! End to end in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) fills the subscribe form of a running `herald serve`.
//! Screenshots of the site index and of the newsletter preview are saved under
//! `target/tmp/artifacts/`.
//!
//! The browser is driven through the W3C WebDriver protocol (plain HTTP + JSON), so
//! no extra client crate is needed. If Chromium is missing and the test runs as
//! root, it installs the Debian packages itself (as `.ci/run` does beforehand).

mod common;

use std::time::Duration;

use common::Site;
use common::browser::{Browser, Killed, ensure_chromium};
use common::smtp::TestSmtp;
use mail_parser::MessageParser;

#[test]
fn a_reader_subscribes_through_the_form_in_a_real_browser() {
    ensure_chromium();
    let smtp = TestSmtp::start();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let site = Site::with_shipped_seed();
    site.edit_config("https://example.com/herald/", &base);
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.addr.port()
    ));
    assert_eq!(site.run_at("2026-01-26T01:00:00Z", &["build"]).code, 0);
    let listen = format!("127.0.0.1:{port}");
    let (server, _) =
        common::start_server(&site, "2026-01-26T01:00:00Z", &["--listen", &listen], false);
    let _server = Killed(server);

    let browser = Browser::start();
    browser.go(&base);
    browser.wait_for_text("DeepSeek一週年");
    let index_shot = browser.screenshot("site-index.png");

    browser.type_into(
        "form.subscribe input[name=email]",
        "browser.reader@example.com",
    );
    browser.click("form.subscribe button");
    browser.wait_for_text("確認信已寄出");

    assert!(
        smtp.wait_for(1, Duration::from_secs(20)),
        "confirmation mail"
    );
    let mail = smtp.messages().remove(0);
    let text = MessageParser::default()
        .parse(&mail.data)
        .unwrap()
        .body_text(0)
        .unwrap()
        .to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/confirm?token="))
        .expect("confirm link")
        .to_string();
    assert!(link.starts_with(&base));
    browser.go(&link);
    let landed = browser.wait_for_text("訂閱完成");
    assert!(landed.contains("browser.reader@example.com"));
    let active = site.run(&["subscribers", "list", "--status", "active"]);
    assert!(active.stdout.contains("browser.reader@example.com"));

    browser.go(&format!("{base}preview/2026-W04"));
    browser.wait_for_text("閱讀全文");
    let preview_shot = browser.screenshot("newsletter-preview.png");
    for shot in [index_shot, preview_shot] {
        assert!(
            std::fs::metadata(&shot).unwrap().len() > 10_000,
            "{}",
            shot.display()
        );
    }
}
