//! A minimal WebDriver client for Debian's headless Chromium (through
//! chromedriver): plain HTTP and JSON, so no extra client crate is needed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// Debian's Chromium and chromedriver, installed on first use.
pub fn ensure_chromium() {
    super::require_debian(
        &["chromium", "chromedriver"],
        &["chromium", "chromium-driver", "fonts-noto-cjk"],
    );
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal WebDriver session.
pub struct Browser {
    http: Client,
    session: String,
    _driver: Killed,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let port = super::free_port();
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

    pub fn call(&self, method: &str, url: &str, body: Option<Value>) -> Value {
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

    pub fn go(&self, url: &str) {
        self.call(
            "POST",
            &format!("{}/url", self.session),
            Some(json!({"url": url})),
        );
    }

    pub fn find(&self, css: &str) -> String {
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

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("{}/element/{id}/value", self.session),
            Some(json!({"text": text})),
        );
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("{}/element/{id}/click", self.session),
            None,
        );
    }

    pub fn source(&self) -> String {
        self.call("GET", &format!("{}/source", self.session), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn wait_for_text(&self, needle: &str) -> String {
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

    pub fn screenshot(&self, name: &str) -> PathBuf {
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

impl Browser {
    /// Runs `script` in the page and returns its value.
    pub fn execute(&self, script: &str) -> Value {
        self.call(
            "POST",
            &format!("{}/execute/sync", self.session),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs `script`, which must call `arguments[arguments.length - 1](value)`.
    pub fn execute_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            &format!("{}/execute/async", self.session),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Emulates `prefers-color-scheme` (and a viewport width) through Chromium's
    /// DevTools protocol, for the pages loaded next.
    pub fn emulate(&self, dark: bool, width: u32) {
        let cdp = |cmd: &str, params: Value| {
            self.call(
                "POST",
                &format!("{}/goog/cdp/execute", self.session),
                Some(json!({"cmd": cmd, "params": params})),
            )
        };
        cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }}]}),
        );
        cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}),
        );
    }
}
