//! `herald serve --preview`: the whole site on this machine, as `zola serve` does.
//!
//! The site is built into a temporary folder with a temporary state, under a
//! `base_url` that is the local address, so every page, form and mailed link stays
//! on the local server. Mail goes to the temporary outbox, never to SMTP. The seeds
//! folder, the templates folder and the config file are watched, and the site is
//! rebuilt when any of them changes. `public/`, the real state and the real
//! subscribers are never touched.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::{ServeError, bind, serve_on};
use crate::build::build;
use crate::config::Config;

/// How often the watched files are looked at.
const POLL: Duration = Duration::from_millis(500);

/// Builds `config`'s site under the local address and serves it, rebuilding on
/// changes until SIGTERM or Ctrl-C. `config_path` is re-read on every change.
pub(crate) fn serve_preview(
    config: &Config,
    config_path: &Path,
    listen: Option<String>,
    clock: Option<DateTime<Utc>>,
) -> Result<(), ServeError> {
    let addr = listen.unwrap_or_else(|| config.serve.listen.clone());
    let listener = bind(&addr)?;
    let local = listener.local_addr().map_err(ServeError::Runtime)?;
    let base_url = format!("http://{local}/");
    let scratch = tempfile::Builder::new()
        .prefix("herald-preview-")
        .tempdir()
        .map_err(ServeError::Runtime)?;
    let local_config = localise(config, &base_url, scratch.path());
    eprintln!(
        "preview: building into {} (public/ and the state are not touched; mail goes to {})",
        scratch.path().display(),
        local_config.paths.outbox.display()
    );
    rebuild(&local_config, clock);
    let watched = Watched {
        config_path: config_path.to_path_buf(),
        seeds: config.paths.seeds.clone(),
        templates: config.paths.templates.clone(),
    };
    let scratch_path = scratch.path().to_path_buf();
    std::thread::spawn(move || {
        let mut seen = watched.stamp();
        loop {
            std::thread::sleep(POLL);
            let now = watched.stamp();
            if now == seen {
                continue;
            }
            seen = now;
            match Config::load(&watched.config_path) {
                Ok(fresh) => rebuild(&localise(&fresh, &base_url, &scratch_path), clock),
                Err(e) => eprintln!("preview: not rebuilt: {e}"),
            }
        }
    });
    serve_on(local_config, listener, clock)?;
    drop(scratch);
    Ok(())
}

/// `config` pointed at the scratch folder and the local address.
fn localise(config: &Config, base_url: &str, scratch: &Path) -> Config {
    let mut local = config.clone();
    local.site.base_url = base_url.to_string();
    local.newsletter.unsubscribe_url = format!("{base_url}unsubscribe");
    local.paths.output = scratch.join("public");
    local.paths.state = scratch.join("state/herald.sqlite");
    local.paths.outbox = scratch.join("outbox");
    local.paths.preview = scratch.join("preview");
    local.paths.lock = scratch.join("state/herald.lock");
    local.smtp = None;
    local.bounces = None;
    local
}

fn rebuild(config: &Config, clock: Option<DateTime<Utc>>) {
    match build(config, clock.unwrap_or_else(Utc::now)) {
        Ok(report) => {
            for problem in &report.problems {
                eprintln!("preview: error: {problem}");
            }
            for warning in &report.warnings {
                eprintln!("preview: warning: {warning}");
            }
            eprintln!(
                "preview: built {} article(s), {} file(s) written",
                report.published, report.files.written
            );
        }
        Err(e) => eprintln!("preview: build failed: {e}"),
    }
}

/// What a rebuild follows.
struct Watched {
    config_path: PathBuf,
    seeds: PathBuf,
    templates: PathBuf,
}

impl Watched {
    /// Every watched file's name, size and modification time.
    fn stamp(&self) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
        let mut files = vec![self.config_path.clone()];
        for dir in [&self.seeds, &self.templates] {
            if let Ok(entries) = std::fs::read_dir(dir) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
                let modified = meta.and_then(|m| m.modified().ok());
                (path, len, modified)
            })
            .collect()
    }
}
