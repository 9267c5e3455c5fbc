//! End to end in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) fills the subscribe form of a running `herald serve`.
//! Screenshots of the site index and of the newsletter preview are saved under
//! `target/tmp/artifacts/`.
//!
//! The browser is driven through the W3C WebDriver protocol (plain HTTP + JSON), so
//! no extra client crate is needed. If Chromium is missing and the test runs as
//! root, it installs the Debian packages itself (as `.ci/run` does beforehand).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::Site;
use common::smtp::TestSmtp;
use mail_parser::MessageParser;
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn ensure_chromium() {
    common::require_debian(
        &["chromium", "chromedriver"],
        &["chromium", "chromium-driver", "fonts-noto-cjk"],
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal WebDriver session.
struct Browser {
    http: Client,
    session: String,
    _driver: Killed,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = common::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let driver = Killed(driver);
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1000,1400",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let mut browser = Browser {
            http,
            session: String::new(),
            _driver: driver,
            _profile: profile,
        };
        let created = browser.call("POST", &format!("{base}/session"), Some(capabilities));
        browser.session = format!(
            "{base}/session/{}",
            created["sessionId"].as_str().expect("session id")
        );
        browser
    }

    fn call(&self, method: &str, url: &str, body: Option<Value>) -> Value {
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.unwrap_or(json!({})).to_string()),
        };
        let text = request.send().unwrap().text().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
        assert!(value["value"]["error"].is_null(), "{method} {url}: {text}");
        value["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call(
            "POST",
            &format!("{}/url", self.session),
            Some(json!({"url": url})),
        );
    }

    fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            &format!("{}/element", self.session),
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("element id")
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("{}/element/{id}/value", self.session),
            Some(json!({"text": text})),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("{}/element/{id}/click", self.session),
            None,
        );
    }

    fn source(&self) -> String {
        self.call("GET", &format!("{}/source", self.session), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn wait_for_text(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let source = self.source();
            if source.contains(needle) {
                return source;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "never saw {needle:?} in {source}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.call("GET", &format!("{}/screenshot", self.session), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.http.delete(&self.session).send();
        }
    }
}

#[test]
fn a_reader_subscribes_through_the_form_in_a_real_browser() {
    ensure_chromium();
    let smtp = TestSmtp::start();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let site = Site::with_shipped_seed();
    let config = site
        .read("config.toml")
        .replace("https://example.com/herald/", &base);
    std::fs::write(site.path("config.toml"), config).unwrap();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.addr.port()
    ));
    assert_eq!(site.run_at("2026-01-26T01:00:00Z", &["build"]).code, 0);
    let mut server = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("--config")
        .arg(site.path("config.toml"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("HERALD_NOW", "2026-01-26T01:00:00Z")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("listening on"), "{first}");
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
