//! `herald serve` driven over real HTTP (reqwest) with a real SMTP server behind it.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::Site;
use common::smtp::TestSmtp;
use herald::newsletter::token::{Purpose, TokenKey};
use mail_parser::MessageParser;
use reqwest::StatusCode;
use reqwest::blocking::Client;

const DUE: &str = "2026-01-26T01:00:00Z";

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(site: &Site) -> Server {
        Server::start_with(site, &["--listen", "127.0.0.1:0"])
    }

    fn start_with(site: &Site, args: &[&str]) -> Server {
        let (child, base) = common::start_server(site, DUE, args, true);
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs the subscribe form for `email` with extra request headers.
    fn subscribe(&self, http: &Client, email: &str, headers: &[(&str, &str)]) -> StatusCode {
        let mut request = http.post(self.url("/subscribe")).form(&[("email", email)]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().unwrap().status()
    }

    /// Stops with SIGTERM and returns (exit code, stderr).
    fn terminate(mut self) -> (Option<i32>, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let output = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn site_with_smtp(server: &TestSmtp, extra: &str) -> Site {
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 5\nretry_base_ms = 20\n{extra}",
        server.addr.port()
    ));
    site
}

/// The path and query of the first link in `text` that contains `marker`.
fn link_path(text: &str, marker: &str) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {text}"));
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '"')
        .map(|i| start + i)
        .unwrap_or(text.len());
    format!("/{}", &text[start..end])
}

fn statuses(site: &Site, status: &str) -> String {
    site.run(&["subscribers", "list", "--status", status])
        .stdout
}

#[test]
fn subscribe_confirm_receive_and_one_click_unsubscribe() {
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    assert_eq!(site.run_at(DUE, &["build"]).code, 0);
    let server = Server::start(&site);
    let http = client();

    let index = http.get(server.url("/")).send().unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    let index = index.text().unwrap();
    assert!(index.contains(r#"action="https://example.com/herald/subscribe""#));

    let response = http
        .post(server.url("/subscribe"))
        .form(&[("email", "New.Reader@Example.com")])
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let sent_page = response.text().unwrap();
    assert!(sent_page.contains("確認信已寄出"));
    assert!(
        statuses(&site, "active").is_empty(),
        "not subscribed before confirming"
    );

    assert!(
        smtp.wait_for(1, Duration::from_secs(20)),
        "confirmation mail arrives"
    );
    let mail = smtp.messages().remove(0);
    assert_eq!(mail.recipients, ["new.reader@example.com"]);
    let parsed = MessageParser::default().parse(&mail.data).unwrap();
    let text = parsed.body_text(0).unwrap().to_string();
    let confirm = link_path(&text, "confirm?token=");

    let confirmed = http.get(server.url(&confirm)).send().unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(confirmed.text().unwrap().contains("new.reader@example.com"));
    assert!(statuses(&site, "active").contains("new.reader@example.com"));

    // The next send reaches them.
    let run = site.run_at(DUE, &["send", "--week", "2026-W04"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let newsletter = smtp
        .messages()
        .into_iter()
        .find(|m| {
            let p = MessageParser::default().parse(&m.data).unwrap();
            p.header_raw("List-Unsubscribe").is_some()
        })
        .expect("newsletter delivered");
    let parsed = MessageParser::default().parse(&newsletter.data).unwrap();
    let header = parsed.header_raw("List-Unsubscribe").unwrap().to_string();
    let unsubscribe = link_path(&header, "unsubscribe?token=");

    // The page with one button, then the RFC 8058 one-click POST.
    let page = http.get(server.url(&unsubscribe)).send().unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .unwrap()
            .contains(r#"name="List-Unsubscribe" value="One-Click""#)
    );
    assert!(
        statuses(&site, "active").contains("new.reader@example.com"),
        "GET changes nothing"
    );
    let done = http
        .post(server.url(&unsubscribe))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(statuses(&site, "unsubscribed").contains("new.reader@example.com"));

    // The following edition does not reach them.
    site.write_seed(
        "002_next.txt",
        &common::simple_seed("2026-01-28", "Next", "More."),
    );
    let before = smtp.count();
    let run = site.run_at("2026-02-02T01:00:00Z", &["send", "--week", "2026-W05"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(smtp.count(), before);

    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "graceful shutdown on SIGTERM: {log}");
    assert!(log.contains("shut down"));
    assert!(
        log.contains("POST /subscribe 200"),
        "one line per request: {log}"
    );
    assert!(!log.contains("token="), "tokens never reach the log");
}

#[test]
fn the_subscribe_answer_reveals_nothing_about_the_list() {
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    site.run(&["subscribers", "add", "member@example.com"]);
    let server = Server::start(&site);
    let http = client();
    let answer = |email: &str| {
        let r = http
            .post(server.url("/subscribe"))
            .form(&[("email", email)])
            .send()
            .unwrap();
        (r.status(), r.text().unwrap())
    };
    let member = answer("member@example.com");
    let stranger = answer("stranger@example.com");
    assert_eq!(member, stranger);
    assert_eq!(member.0, StatusCode::OK);
}

#[test]
fn forged_expired_and_cross_address_tokens_are_refused() {
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    site.run(&["subscribers", "add", "a@example.com"]);
    let server = Server::start(&site);
    let secret = std::fs::read_to_string(site.path("state/secret")).unwrap();
    let key = TokenKey::from_secret(secret.trim().as_bytes()).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(DUE)
        .unwrap()
        .timestamp();
    let http = client();
    let get = |path: String| http.get(server.url(&path)).send().unwrap().status();

    let valid = key.sign(Purpose::Confirm, &format!("b@example.com\n{}", now + 3600));
    let expired = key.sign(Purpose::Confirm, &format!("b@example.com\n{}", now - 1));
    let foreign_key = TokenKey::from_secret(b"some other long secret value").unwrap();
    let forged = foreign_key.sign(Purpose::Confirm, &format!("b@example.com\n{}", now + 3600));
    let (payload, _) = valid.split_once('.').unwrap();
    let a_unsub = key.unsubscribe_token("a@example.com");
    let (_, a_sig) = a_unsub.split_once('.').unwrap();
    let cross = format!(
        "{}.{a_sig}",
        key.unsubscribe_token("b@example.com")
            .split_once('.')
            .unwrap()
            .0
    );

    assert_eq!(
        get(format!("/confirm?token={expired}")),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(format!("/confirm?token={forged}")),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(format!("/confirm?token={payload}.AAAA")),
        StatusCode::BAD_REQUEST
    );
    // An unsubscribe token is not a confirmation token.
    assert_eq!(
        get(format!("/confirm?token={a_unsub}")),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(get("/confirm".into()), StatusCode::BAD_REQUEST);
    assert!(!statuses(&site, "active").contains("b@example.com"));

    let post = |token: &str| {
        http.post(server.url(&format!("/unsubscribe?token={token}")))
            .body("List-Unsubscribe=One-Click")
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(post(&cross), StatusCode::BAD_REQUEST);
    assert_eq!(
        post(&valid),
        StatusCode::BAD_REQUEST,
        "a confirmation token cannot unsubscribe"
    );
    assert_eq!(post(&a_unsub[..a_unsub.len() - 2]), StatusCode::BAD_REQUEST);
    assert!(statuses(&site, "active").contains("a@example.com"));

    assert_eq!(get(format!("/confirm?token={valid}")), StatusCode::OK);
    assert!(statuses(&site, "active").contains("b@example.com"));
}

#[test]
fn oversize_bodies_cross_site_posts_and_bursts_are_refused() {
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    site.append_config("\n[serve]\nsubscribe_per_ip = 3\nmax_body_bytes = 1024\n");
    let server = Server::start(&site);
    let http = client();
    let big = format!("email={}", "a".repeat(4096));
    let oversize = http
        .post(server.url("/subscribe"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .unwrap();
    assert_eq!(oversize.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let cross = server.subscribe(
        &http,
        "victim@example.com",
        &[("Origin", "https://attacker.example")],
    );
    assert_eq!(cross, StatusCode::FORBIDDEN);
    let fetch_cross = server.subscribe(
        &http,
        "victim@example.com",
        &[("Sec-Fetch-Site", "cross-site"), ("Origin", "null")],
    );
    assert_eq!(fetch_cross, StatusCode::FORBIDDEN);
    let same = server.subscribe(
        &http,
        "one@example.com",
        &[("Origin", "https://example.com")],
    );
    assert_eq!(same, StatusCode::OK);

    let codes: Vec<StatusCode> = (0..4)
        .map(|i| server.subscribe(&http, &format!("burst{i}@example.com"), &[]))
        .collect();
    // One allowed request was used above; two more pass, then the limit holds.
    assert_eq!(
        codes,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[test]
fn repeated_requests_for_one_address_are_rate_limited() {
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    site.append_config("\n[serve]\nsubscribe_per_ip = 100\nsubscribe_per_address = 2\n");
    let server = Server::start(&site);
    let http = client();
    let codes: Vec<StatusCode> = [
        "Same@example.com",
        "same@example.com",
        "SAME@example.com",
        "other@example.com",
    ]
    .iter()
    .map(|email| server.subscribe(&http, email, &[]))
    .collect();
    assert_eq!(
        codes,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::OK
        ]
    );
    assert!(smtp.wait_for(3, Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.count(), 3, "no mail for the refused request");
}

#[test]
fn preview_healthz_and_escaping() {
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    let server = Server::start(&site);
    let http = client();
    let health = http.get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Served pages describe the site as the static pages do: with the newest
    // column introduction, not the config's fallback description (#17).
    let page = http
        .get(server.url("/subscribe"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("我們從《華爾街日報》Podcast"), "{page}");
    assert_eq!(health.headers()["referrer-policy"], "same-origin");

    let preview = http.get(server.url("/preview/2026-W04")).send().unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    let html = preview.text().unwrap();
    assert!(html.contains("DeepSeek一週年"));
    assert!(html.contains("https://example.com/herald/unsubscribe"));
    // Templates are re-read on every request.
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(
        site.path("templates/digest.html"),
        "<p>Edited {{ edition.key }}: {% for a in articles %}{{ a.title }}{% endfor %}</p>",
    )
    .unwrap();
    let edited = http
        .get(server.url("/preview/2026-W04"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        edited.contains("Edited 2026-W04: DeepSeek一週年"),
        "{edited}"
    );
    assert_eq!(
        http.get(server.url("/preview/2026-W10"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(server.url("/preview/not-a-week"))
            .send()
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );

    let invalid = http
        .post(server.url("/subscribe"))
        .form(&[("email", "<script>alert(1)</script>")])
        .send()
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert!(!invalid.text().unwrap().contains("<script>alert(1)"));
}

/// `newsletter.unsubscribe_url` (here a list manager's address that already has a
/// query) is the one base of every unsubscribe link Herald writes: the personal
/// links and `List-Unsubscribe` of a sent message, the digest preview, the
/// server's preview and the form of its unsubscribe page.
#[test]
fn a_configured_unsubscribe_url_is_honoured_everywhere() {
    const BASE: &str = "https://lists.example.net/leave?list=weekly";
    let smtp = TestSmtp::start();
    let site = site_with_smtp(&smtp, "");
    site.append_config(&format!("\n[newsletter]\nunsubscribe_url = \"{BASE}\"\n"));
    site.add_subscribers(&["reader@example.org".to_string()]);
    let default_base = "https://example.com/herald/unsubscribe";

    assert_eq!(site.run_at(DUE, &["build"]).code, 0);
    // The public web edition carries no unsubscribe link at all (#17): without a
    // reader's token it could only lead to an error page.
    let edition = site.read("public/newsletter/2026-W04.html");
    let escaped = BASE.replace('&', "&amp;");
    assert!(!edition.contains(&escaped) && !edition.contains(default_base));

    let preview_dir = site.path("preview-out");
    let run = site.run_at(
        DUE,
        &[
            "digest",
            "--week",
            "2026-W04",
            "--out",
            preview_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let preview = std::fs::read_to_string(preview_dir.join("2026-W04.txt")).unwrap();
    assert!(preview.contains(BASE), "digest preview: {preview}");
    assert!(!preview.contains(default_base));

    let run = site.run_at(DUE, &["send", "--week", "2026-W04"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(smtp.wait_for(1, Duration::from_secs(20)));
    let mail = smtp.messages().remove(0);
    let parsed = MessageParser::default().parse(&mail.data).unwrap();
    let header = parsed.header_raw("List-Unsubscribe").unwrap().to_string();
    assert!(header.contains(&format!("<{BASE}&token=")), "{header}");
    let text = parsed.body_text(0).unwrap().to_string();
    assert!(text.contains(&format!("{BASE}&token=")), "{text}");
    let token = link_path(&text, "token=")
        .trim_start_matches("/token=")
        .to_string();

    let server = Server::start(&site);
    let http = client();
    let served = http
        .get(server.url("/preview/2026-W04"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(served.contains(&escaped), "server preview: {served}");
    assert!(!served.contains(default_base));
    let page = http
        .get(server.url(&format!("/unsubscribe?token={token}")))
        .send()
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().unwrap();
    assert!(
        page.contains(&format!("action=\"{escaped}&amp;token={token}\"")),
        "unsubscribe form posts to the configured URL: {page}"
    );
}

/// `serve --preview` builds the site into a temporary folder under the local
/// address (links, the subscribe form and mailed links stay local), rebuilds when
/// a seed or template changes, and never touches `public/` or the state (#17).
#[test]
fn preview_serves_a_local_copy_and_rebuilds_on_changes() {
    let site = Site::with_shipped_seed();
    let server = Server::start_with(&site, &["--preview", "--listen", "127.0.0.1:0"]);
    let http = client();
    let index = http.get(server.url("/")).send().unwrap().text().unwrap();
    assert!(index.contains("DeepSeek一週年"), "{index}");
    let local = format!("{}/", server.base);
    assert!(
        index.contains(&format!("action=\"{local}subscribe\"")),
        "{index}"
    );
    assert!(!index.contains("https://example.com/herald/"), "{index}");
    let article = http
        .get(server.url("/articles/1bd5276be7ff4f0b.html"))
        .send()
        .unwrap();
    assert_eq!(article.status(), StatusCode::OK);

    site.write_seed(
        "002_fresh.txt",
        &common::simple_seed("2026-01-22", "A fresh piece", "Written while previewing."),
    );
    let start = std::time::Instant::now();
    loop {
        let index = http.get(server.url("/")).send().unwrap().text().unwrap();
        if index.contains("A fresh piece") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new seed never appeared: {index}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!site.path("public").exists(), "public/ is never touched");
    assert!(
        !site.path("state").exists(),
        "the real state is never touched"
    );
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("preview: building into"), "{log}");
}

/// Static files carry an `ETag` and `Last-Modified`; a conditional request gets
/// `304`, including feedparser's own (`etag=`, `modified=`); feeds may be cached
/// for five minutes; gzip and brotli are offered; `HEAD` works (#19).
#[test]
fn static_files_answer_conditional_requests_and_compress() {
    let site = Site::with_shipped_seed();
    assert_eq!(site.run_at(DUE, &["build"]).code, 0);
    let server = Server::start(&site);
    let http = client();
    let feed = http.get(server.url("/atom.xml")).send().unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let etag = feed.headers()["etag"].to_str().unwrap().to_string();
    let modified = feed.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(feed.headers()["cache-control"], "public, max-age=300");
    let page = http.get(server.url("/")).send().unwrap();
    assert_eq!(page.headers()["cache-control"], "public, no-cache");

    let by_etag = http
        .get(server.url("/atom.xml"))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(by_etag.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(by_etag.headers()["etag"].to_str().unwrap(), etag);
    assert!(by_etag.bytes().unwrap().is_empty());
    let by_date = http
        .get(server.url("/atom.xml"))
        .header("If-Modified-Since", &modified)
        .send()
        .unwrap();
    assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED);
    let other = http
        .get(server.url("/atom.xml"))
        .header("If-None-Match", "W/\"1-0\"")
        .send()
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    for (encoding, expected) in [("gzip", "gzip"), ("br", "br"), ("gzip, br", "br")] {
        let compressed = http
            .get(server.url("/atom.xml"))
            .header("Accept-Encoding", encoding)
            .send()
            .unwrap();
        assert_eq!(
            compressed.headers()["content-encoding"],
            expected,
            "{encoding}"
        );
    }
    let head = http.head(server.url("/feed.xml")).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().contains_key("etag"));

    common::require_python("feedparser", &["feedparser"]);
    let script = format!(
        "import feedparser\n\
         first = feedparser.parse('{url}')\n\
         again = feedparser.parse('{url}', etag=first.etag, modified=first.modified)\n\
         print(first.status, len(first.entries), again.status)\n",
        url = server.url("/atom.xml")
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed.trim(),
        "200 1 304",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
