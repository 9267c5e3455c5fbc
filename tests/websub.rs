//! WebSub: every feed names the hub, and a build that changed feeds tells the hub
//! (a real HTTP server on loopback) which ones; a build that changed none tells it
//! nothing; a hub that fails is a warning, never a failed build.

mod common;

use common::hub::Hub;
use common::{Site, parse_feed, simple_seed};

const NOW: &str = "2026-01-26T01:00:00Z";

fn site_with_hub(hub: &Hub) -> Site {
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[websub]\nhub = \"{}\"\ntimeout_secs = 5\n",
        hub.url
    ));
    site
}

const FEEDS: [&str; 3] = ["feed.xml", "atom.xml", "feed.json"];

fn feed_urls(site: &Site) -> Vec<String> {
    let base = site.base_url();
    FEEDS.iter().map(|f| format!("{base}{f}")).collect()
}

#[test]
fn feeds_name_the_hub_and_only_builds_that_change_them_ping_it() {
    let hub = Hub::start(204);
    let site = site_with_hub(&hub);
    let build = site.run_at(NOW, &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert_eq!(hub.take_pings(), feed_urls(&site));
    assert!(build.stdout.contains("websub: "), "{}", build.stdout);

    // Every feed names the hub beside itself.
    let atom = parse_feed(&site, "atom.xml");
    assert!(
        atom.links
            .iter()
            .any(|l| l.rel.as_deref() == Some("hub") && l.href == hub.url),
        "{:?}",
        atom.links
    );
    let rss = site.read("public/feed.xml");
    assert!(
        rss.contains(&format!("<atom:link href=\"{}\" rel=\"hub\"/>", hub.url)),
        "{rss}"
    );
    let json: serde_json::Value = serde_json::from_str(&site.read("public/feed.json")).unwrap();
    assert_eq!(json["hubs"][0]["type"], "WebSub");
    assert_eq!(json["hubs"][0]["url"], hub.url.as_str());

    // Nothing changed: nobody is pinged.
    let again = site.run_at(NOW, &["build"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(hub.take_pings(), Vec::<String>::new());

    // A new article changes every feed: `run` pings as `build` does.
    site.write_seed(
        "001_gulls.txt",
        &simple_seed("2026-01-22", "Gulls", "Gulls over the market."),
    );
    let run = site.run_at(NOW, &["run"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert_eq!(hub.take_pings(), feed_urls(&site));
}

#[test]
fn a_failing_hub_is_retried_once_and_only_warned_about() {
    let hub = Hub::start(503);
    let site = site_with_hub(&hub);
    let build = site.run_at(NOW, &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let pings = hub.take_pings();
    let expected: Vec<String> = feed_urls(&site)
        .into_iter()
        .flat_map(|url| [url.clone(), url])
        .collect();
    assert_eq!(pings, expected);
    assert_eq!(
        build.stderr.matches("warning: WebSub hub").count(),
        3,
        "{}",
        build.stderr
    );
    assert!(build.stderr.contains("503"), "{}", build.stderr);
    assert!(site.path("public/atom.xml").exists());
}

#[test]
fn a_hub_that_is_not_an_url_is_a_config_error() {
    let site = Site::with_shipped_seed();
    site.append_config("\n[websub]\nhub = \"pubsubhubbub.appspot.com\"\n");
    let run = site.run_at(NOW, &["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("websub.hub"), "{}", run.stderr);
}
