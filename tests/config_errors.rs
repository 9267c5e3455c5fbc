//! Broken configuration: each problem is reported on one line naming the key.

mod common;

use common::Site;

fn with_config(edit: impl Fn(String) -> String) -> (Site, common::Run) {
    let site = Site::with_shipped_seed();
    let text = edit(site.read("config.toml"));
    std::fs::write(site.path("config.toml"), text).unwrap();
    let run = site.run(&["check"]);
    (site, run)
}

fn assert_one_line_naming(run: &common::Run, key: &str) {
    assert_eq!(run.code, 2, "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{}", run.stderr);
    assert!(first.contains(key), "{key} not named in: {first}");
    assert!(first.contains("config.toml"), "{first}");
}

#[test]
fn each_broken_setting_is_named() {
    let (_, run) = with_config(|t| {
        t.replace(
            "base_url = \"https://example.com/herald/\"",
            "base_url = \"example.com/herald/\"",
        )
    });
    assert_one_line_naming(&run, "site.base_url");
    let (_, run) = with_config(|t| t.replace("Asia/Taipei", "Asia/Gotham"));
    assert_one_line_naming(&run, "site.timezone");
    let (_, run) = with_config(|t| t.replace("publish_hour = 8", "publish_hour = \"eight\""));
    assert_one_line_naming(&run, "publish_hour");
    let (_, run) = with_config(|t| t.replace("author = \"華爾街聊什麼編輯部\"\n", ""));
    assert_one_line_naming(&run, "author");
    let (_, run) = with_config(|t| t.replace("feed_items = 50", "feed_items = 0"));
    assert_one_line_naming(&run, "site.feed_items");
    let (_, run) = with_config(|t| t.replace("index_items = 30", "index_items = 0"));
    assert_one_line_naming(&run, "site.index_items");
    let (_, run) = with_config(|t| {
        format!("{t}\n[smtp]\nhost = \"mail.example.com\"\npassword = \"hunter2\"\n")
    });
    assert_one_line_naming(&run, "smtp.password");
    assert!(!run.stderr.contains("hunter2"));
}

#[test]
fn unknown_keys_are_warnings_with_a_suggestion() {
    let (_, run) = with_config(|t| t.replace("feed_items = 50", "feed_item = 50"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("unknown key `site.feed_item` ignored; did you mean `site.feed_items`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_templates_path_that_is_not_a_folder_is_named() {
    let (site, _) = with_config(|t| t);
    std::fs::write(site.path("templates"), "not a folder").unwrap();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("paths.templates"), "{}", run.stderr);
}

/// A sender address that is not one stops every command with exit 2, naming the
/// key and its line, before anything is built or sent.
#[test]
fn a_bad_sender_address_is_a_config_error_naming_the_key() {
    let site = common::Site::with_shipped_seed();
    site.edit_config(
        "from = \"華爾街聊什麼 <newsletter@example.com>\"",
        "from = \"not an address\"",
    );
    for args in [&["check"][..], &["digest", "--week", "2026-W04"][..]] {
        let run = site.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("key `newsletter.from`"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("line "), "{}", run.stderr);
    }
}

/// `check` warns when the From domain is not aligned with the DKIM or bounce domain.
#[test]
fn check_warns_about_dmarc_alignment() {
    let site = common::Site::with_shipped_seed();
    site.edit_config(
        "bounce_address = \"bounces@example.com\"",
        "bounce_address = \"bounces@bulk-mailer.example.net\"",
    );
    let run = site.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("not aligned with the bounce domain `bulk-mailer.example.net`"),
        "{}",
        run.stderr
    );
    let build = site.run(&["build"]);
    assert!(
        !build.stderr.contains("aligned"),
        "only check says it: {}",
        build.stderr
    );
}
