//! A throw-away Herald site in a temp folder, driven through the real binary.
#![allow(dead_code)]

pub mod browser;
pub mod hub;
pub mod mailservers;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SHIPPED_SEED: &str = "000_1bd5276be7ff4f0b.txt";

pub struct Site {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Site {
    /// A site with the repository's config (paths are relative, so they land in the temp dir).
    pub fn new() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = std::fs::read_to_string(repo().join("config.toml")).expect("config.toml");
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        std::fs::create_dir_all(dir.path().join("seeds")).unwrap();
        Site { dir }
    }

    pub fn with_shipped_seed() -> Site {
        let site = Site::new();
        std::fs::copy(
            repo().join("seeds").join(SHIPPED_SEED),
            site.path("seeds").join(SHIPPED_SEED),
        )
        .unwrap();
        site
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `site.base_url` as the config file has it.
    pub fn base_url(&self) -> String {
        self.read("config.toml")
            .lines()
            .find_map(|l| l.strip_prefix("base_url = "))
            .expect("base_url in config.toml")
            .trim_matches('"')
            .to_string()
    }

    /// A full build at `now` of a copy of this site that forgot the build record,
    /// what every output was rendered from and the feeds' rendered bodies (so it
    /// renders every page and body again and compares the bytes): its stderr, after
    /// checking that it found every article unchanged and changed no file, so this
    /// site's outputs are what a full build would leave.
    pub fn assert_a_full_build_agrees(&self, now: &str) -> String {
        let copy = Site::new();
        copy_dir(self.dir.path(), copy.dir.path());
        let state = herald::store::State::open(&copy.path("state/herald.sqlite")).unwrap();
        state
            .connection()
            .execute_batch("DELETE FROM build_record; DELETE FROM outputs;")
            .unwrap();
        drop(state);
        let _ = std::fs::remove_file(copy.path("state/herald.sqlite-feed-bodies"));
        let before = copy.snapshot("public");
        let run = copy.run_at(now, &["--verbose", "build"]);
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        assert!(
            run.stdout.contains("(0 new, 0 updated,")
                && run.stdout.contains("; files: 0 written,")
                && run.stdout.contains(", 0 deleted"),
            "{}",
            run.stdout
        );
        assert_eq!(copy.snapshot("public"), before);
        run.stderr
    }

    pub fn write_seed(&self, name: &str, text: &str) {
        std::fs::write(self.path("seeds").join(name), text).unwrap();
    }

    /// Imports `emails` through `herald subscribers import` (each with a name).
    pub fn add_subscribers(&self, emails: &[String]) {
        let csv: String = emails.iter().map(|e| format!("{e},讀者 {e}\n")).collect();
        let list = self.path("list.csv");
        std::fs::write(&list, csv).unwrap();
        let run = self.run(&["subscribers", "import", list.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }

    /// Appends `extra` to config.toml. A table it names that the file already has
    /// (the shipped config has `[newsletter]`) is merged key by key instead, since
    /// TOML forbids a table twice.
    pub fn append_config(&self, extra: &str) {
        let path = self.path("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        let repeats_a_table = extra.lines().any(|line| {
            let line = line.trim();
            line.starts_with('[') && text.lines().any(|l| l.trim() == line)
        });
        if repeats_a_table {
            let mut merged: toml::Table = text.parse().expect("config.toml is TOML");
            let extra: toml::Table = extra.parse().expect("the appended text is TOML");
            for (key, value) in extra {
                match (merged.get_mut(&key), value) {
                    (Some(toml::Value::Table(have)), toml::Value::Table(add)) => have.extend(add),
                    (_, value) => {
                        merged.insert(key, value);
                    }
                }
            }
            text = toml::to_string(&merged).unwrap();
        } else {
            text.push_str(extra);
        }
        std::fs::write(path, text).unwrap();
    }

    /// Replaces `from` (which must be there) with `to` in config.toml.
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = self.read("config.toml");
        assert!(text.contains(from), "config.toml has no `{from}`");
        std::fs::write(self.path("config.toml"), text.replace(from, to)).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// `herald --config <site>/config.toml ARGS` at the given moment, output piped,
    /// started outside the site (so relative paths must resolve via the config).
    pub fn command(&self, now: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.arg("--config")
            .arg(self.path("config.toml"))
            .args(args)
            .env("HERALD_NOW", now)
            .env_remove("HERALD_LOG")
            .current_dir(std::env::temp_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// Runs `herald ARGS` at the given moment and waits for it.
    pub fn run_at(&self, now: &str, args: &[&str]) -> Run {
        run(self.command(now, args))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_at("2026-11-29T00:00:00Z", args)
    }

    /// The `.eml` files in `outbox/` (not its staging folder), sorted by name.
    pub fn outbox_messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.path("outbox"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Every file under `public/`, with its bytes, sorted by path.
    pub fn snapshot(&self, rel: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        collect(&self.path(rel), &mut files);
        files.sort();
        files
    }
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
}

pub fn run(mut cmd: Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run herald");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses a feed file with the independent `feed-rs` parser.
pub fn parse_feed(site: &Site, rel: &str) -> feed_rs::model::Feed {
    let bytes = std::fs::read(site.path("public").join(rel)).unwrap();
    feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{rel} does not parse: {e}"))
}

/// The entry titles of the feed at `rel` under `public/`, in feed order (each entry
/// must have one).
pub fn feed_titles(site: &Site, rel: &str) -> Vec<String> {
    parse_feed(site, rel)
        .entries
        .into_iter()
        .map(|e| e.title.expect("every entry has a title").content)
        .collect()
}

/// `reader00@example.com`, `reader01@example.com`, …
pub fn emails(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("reader{i:03}@example.com"))
        .collect()
}

/// A short seed of our own: a date line with lead, one heading, one paragraph.
pub fn simple_seed(date: &str, title: &str, body: &str) -> String {
    format!("date {date} A lead for {title}.\n\n{title}\n\n{body}\n")
}

/// Makes sure python3 can import `modules`, installing `packages` with pip if it
/// cannot, so `cargo test` alone works on a fresh machine (`.ci/run` installs them
/// up front). Panics with pip's output when the install fails.
pub fn require_python(modules: &str, packages: &[&str]) {
    let mut probe = Command::new("python3");
    probe.args(["-c", &format!("import {modules}")]);
    if run(probe).code == 0 {
        return;
    }
    let mut pip = Command::new("python3");
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(packages);
    let installed = run(pip);
    assert_eq!(
        installed.code,
        0,
        "pip install {}: {}",
        packages.join(" "),
        installed.stderr
    );
}

/// Installs Debian `packages` unless every program in `programs` is on the PATH
/// (what `.ci/run` does up front; a developer's first run does it here). One
/// install at a time within a test binary; `apt-get` waits for another's lock.
pub fn require_debian(programs: &[&str], packages: &[&str]) {
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = APT.lock().unwrap_or_else(|e| e.into_inner());
    let have = |program: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if programs.iter().all(|p| have(p)) {
        return;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=300"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-qq"];
    install.extend_from_slice(packages);
    assert!(
        apt(&["update", "-qq"]) && apt(&install),
        "this test needs Debian's {}: apt-get install {} (as .ci/run does)",
        packages.join(", "),
        packages.join(" ")
    );
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `herald serve ARGS` for `site` at `now` and waits until it listens:
/// the child and the address it printed (`http://127.0.0.1:PORT`). Its stderr is
/// kept for the caller to read with `keep_log`, else discarded (a busy server
/// would fill a pipe nobody reads).
pub fn start_server(
    site: &Site,
    now: &str,
    args: &[&str],
    keep_log: bool,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("--config")
        .arg(site.path("config.toml"))
        .arg("serve")
        .args(args)
        .env("HERALD_NOW", now)
        .stdout(std::process::Stdio::piped())
        .stderr(if keep_log {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (child, base)
}

/// Copies the folder `from` (recursively) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The texts the state file `state` names in its body file beside it, one for
/// each row that names one: its id, and its JSON, or why the bytes at the row's
/// place are not that article's version (past the file's end, another text, not
/// UTF-8).
pub fn stored_bodies(state: &Path) -> Vec<(String, Result<String, String>)> {
    let bodies = std::fs::read(state.with_file_name("herald.sqlite-bodies")).unwrap_or_default();
    let conn = rusqlite::Connection::open(state).unwrap();
    let rows: Vec<(String, String, i64, i64)> = conn
        .prepare(
            "SELECT id, content_hash, body_at, body_len FROM articles WHERE body_at IS NOT NULL",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.into_iter()
        .map(|(id, hash, at, len)| {
            let (at, len) = (at as usize, len as usize);
            let header = format!("{id} {hash}\n");
            let json = match bodies.get(at..at + len) {
                None => Err(format!("past the end, at {at}")),
                Some(record) if !record.starts_with(header.as_bytes()) => {
                    Err(format!("another text at {at}"))
                }
                Some(record) => {
                    String::from_utf8(record[header.len()..].to_vec()).map_err(|e| e.to_string())
                }
            };
            (id, json)
        })
        .collect()
}
