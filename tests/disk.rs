//! A full disk and a read-only output folder: a clear error, and the previous
//! outputs left intact. These mount a small tmpfs and a read-only bind mount, so
//! they need root (as CI and the development machines have).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Site, parse_feed, simple_seed};

/// Unmounts on drop, so a failing assertion does not leave a mount behind.
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let status = Command::new("mount").args(args).status().expect("mount");
        assert!(
            status.success(),
            "mount {args:?} failed: these tests need root"
        );
    }

    fn tmpfs(dir: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(dir).unwrap();
        Mount::run(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            dir.to_str().unwrap(),
        ]);
        Mount(dir.to_path_buf())
    }

    fn read_only(dir: &Path) -> Mount {
        let d = dir.to_str().unwrap();
        Mount::run(&["--bind", d, d]);
        let mount = Mount(dir.to_path_buf());
        Mount::run(&["-o", "remount,ro,bind", d]);
        mount
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn point_output_at(site: &Site, dir: &str) {
    let text = site
        .read("config.toml")
        .replace("output = \"public\"", &format!("output = \"{dir}\""));
    std::fs::write(site.path("config.toml"), text).unwrap();
}

fn feed_bytes(root: &Path) -> Vec<Vec<u8>> {
    ["feed.xml", "atom.xml", "feed.json"]
        .iter()
        .map(|f| std::fs::read(root.join(f)).unwrap())
        .collect()
}

#[test]
fn a_full_disk_fails_clearly_and_keeps_the_previous_feeds() {
    let site = Site::new();
    point_output_at(&site, "small");
    let _mount = Mount::tmpfs(&site.path("small"), "256k");
    site.write_seed("001_one.txt", &simple_seed("2026-03-01", "One", "Short."));
    assert_eq!(site.run(&["build"]).code, 0);
    let before = feed_bytes(&site.path("small"));

    site.write_seed(
        "002_big.txt",
        &simple_seed("2026-03-02", "Big", &"大".repeat(200_000)),
    );
    let run = site.run(&["build"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("No space left"), "{}", run.stderr);
    assert!(
        run.stderr.contains("previous file was left intact"),
        "{}",
        run.stderr
    );
    assert_eq!(feed_bytes(&site.path("small")), before, "feeds untouched");
    let feed = feed_rs::parser::parse(&before[0][..]).unwrap();
    assert_eq!(feed.entries.len(), 1);

    // Once there is room again, the next build publishes everything.
    site.write_seed(
        "002_big.txt",
        &simple_seed("2026-03-02", "Big", "Smaller now."),
    );
    assert_eq!(site.run(&["build"]).code, 0);
    let text = std::fs::read_to_string(site.path("small/feed.json")).unwrap();
    assert!(text.contains("Smaller now."));
}

#[test]
fn a_read_only_output_folder_fails_clearly_and_keeps_the_previous_outputs() {
    let site = Site::with_shipped_seed();
    assert_eq!(site.run(&["build"]).code, 0);
    let before = site.snapshot("public");
    let _mount = Mount::read_only(&site.path("public"));
    site.write_seed("002_new.txt", &simple_seed("2026-03-02", "New", "Body."));
    let run = site.run(&["build"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("Read-only file system"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cannot write"), "{}", run.stderr);
    assert_eq!(site.snapshot("public"), before);
    assert_eq!(parse_feed(&site, "atom.xml").entries.len(), 1);
}
