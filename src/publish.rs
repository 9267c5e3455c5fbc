//! The `build` and `check` commands: seeds → catalog → rendered outputs → `public/`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError, Changes, collect};
use crate::config::Config;
use crate::digest::{
    Digest, DigestError, EditionListing, NEWSLETTER_DIR, SUBJECT_TEMPLATE, edition_page,
    edition_view, render_archive_index, render_digest, render_subject,
};
use crate::edition::{Edition, Schedule, Week, assign_editions};
use crate::feeds::{FeedError, render_atom, render_json_feed, render_rss};
use crate::message::{Envelope, MessageError, compose, deterministic_message_id, parse_mailbox};
use crate::output::{WriteError, WriteSummary, delete_stale, fingerprint, write_if_changed};
use crate::seed::SeedError;
use crate::site::{
    ARTICLES_DIR, PreparedArticle, SiteMeta, article_page_path, article_view, prepare_one,
    render_article_page, render_index,
};
use crate::state::{State, StateError};
use crate::templates::{TemplateError, Templates};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("cannot write the preview into {path}: {source}")]
    Preview {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a build (or a check) found and did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub changes: Changes,
    pub published: usize,
    pub problems: Vec<SeedError>,
    pub scheduled: Vec<(String, DateTime<Tz>)>,
    pub files: WriteSummary,
    pub template_overrides: Vec<String>,
}

impl BuildReport {
    /// True when every seed was published (cron should stay quiet).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The catalog ready for rendering: the common first half of `build`, `check`,
/// `digest`, `send` and the server's preview. Article bodies are rendered on demand,
/// so a build that finds most pages current renders only what changed.
pub struct Prepared {
    pub catalog: Catalog,
    pub meta: SiteMeta,
    pub templates: Templates,
    pub editions: BTreeMap<Week, Edition>,
    pub schedule: Schedule,
    /// Everything every output depends on besides its own articles: templates,
    /// site values and the settings that shape pages, feeds and digests.
    pub site_fingerprint: String,
}

impl Prepared {
    pub fn load(
        config: &Config,
        state: &State,
        now: DateTime<Utc>,
    ) -> Result<Prepared, BuildError> {
        let mut templates = Templates::load(&config.paths.templates)?;
        templates.add(SUBJECT_TEMPLATE, &config.newsletter.subject)?;
        let catalog = {
            let known = state.articles()?;
            collect(config, &known, now)?
        };
        let meta = SiteMeta::new(config, catalog.column_intro());
        let schedule = schedule(config);
        let editions = assign_editions(&catalog.entries, &state.frozen_editions()?, &schedule);
        let settings = format!(
            "{}\0{:?}\0{}",
            serde_json::to_string(&meta).unwrap_or_default(),
            config.newsletter,
            config.site.feed_items
        );
        let site_fingerprint = fingerprint([
            env!("CARGO_PKG_VERSION").as_bytes(),
            templates.fingerprint().as_bytes(),
            settings.as_bytes(),
        ]);
        Ok(Prepared {
            catalog,
            meta,
            templates,
            editions,
            schedule,
            site_fingerprint,
        })
    }

    /// Entry `index` with its view and rendered body.
    pub fn article(&self, index: usize) -> Result<PreparedArticle, TemplateError> {
        prepare_one(&self.meta, &self.catalog.entries[index], &self.templates)
    }

    /// What entry `index`'s page is rendered from.
    fn article_fingerprint(&self, index: usize) -> String {
        let entry = &self.catalog.entries[index];
        fingerprint([
            self.site_fingerprint.as_bytes(),
            entry.source_hash.as_bytes(),
            entry.published.to_rfc3339().as_bytes(),
            entry.updated.to_rfc3339().as_bytes(),
        ])
    }

    /// The articles of one edition, newest first (empty for a week with none).
    pub fn edition_articles(&self, week: Week) -> Result<Vec<PreparedArticle>, TemplateError> {
        self.editions
            .get(&week)
            .map(|e| e.articles.iter().map(|&i| self.article(i)).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Renders one edition's digest; `None` when it has no articles and
    /// `newsletter.skip_empty` is on.
    pub fn digest(&self, config: &Config, week: Week) -> Result<Option<Digest>, BuildError> {
        let articles = self.edition_articles(week)?;
        if articles.is_empty() && config.newsletter.skip_empty {
            return Ok(None);
        }
        let refs: Vec<&PreparedArticle> = articles.iter().collect();
        Ok(Some(render_digest(
            config,
            &self.meta,
            week,
            &refs,
            &self.templates,
        )?))
    }

    /// Editions with a web page: sent, or due and not empty.
    fn published_editions(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Edition> {
        self.editions.values().filter(move |e| {
            !e.articles.is_empty() && (e.frozen_at.is_some() || self.schedule.due(e.week) <= now)
        })
    }
}

/// When editions fall due, from `[newsletter]`.
pub fn schedule(config: &Config) -> Schedule {
    Schedule {
        tz: config.timezone,
        weekday: config.send_weekday(),
        hour: config.newsletter.send_hour,
    }
}

/// Where rendered files go. `build` writes them and skips rendering what is already
/// current; `check` renders everything and writes nothing.
struct Sink {
    /// `None` for `check`.
    root: Option<PathBuf>,
    previous: HashMap<String, String>,
    /// Files present under `root` when the build began (from two directory listings,
    /// not a `stat` per page).
    existing: HashSet<PathBuf>,
    current: Vec<(String, String)>,
    kept: HashSet<PathBuf>,
    summary: WriteSummary,
}

impl Sink {
    fn writer(root: &Path, previous: HashMap<String, String>) -> Sink {
        let mut existing = HashSet::new();
        for dir in [ARTICLES_DIR, NEWSLETTER_DIR] {
            if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
                existing.extend(
                    entries
                        .flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(|e| Path::new(dir).join(e.file_name())),
                );
            }
        }
        Sink {
            root: Some(root.to_path_buf()),
            previous,
            existing,
            current: Vec::new(),
            kept: HashSet::new(),
            summary: WriteSummary::default(),
        }
    }

    fn dry_run() -> Sink {
        Sink {
            root: None,
            previous: HashMap::new(),
            existing: HashSet::new(),
            current: Vec::new(),
            kept: HashSet::new(),
            summary: WriteSummary::default(),
        }
    }

    /// True when `path` was rendered from `fingerprint` and is still on disk: then
    /// it is kept as it is and need not be rendered.
    fn is_current(&mut self, path: &str, fingerprint: &str) -> bool {
        let path_buf = PathBuf::from(path);
        if self.root.is_none() {
            self.kept.insert(path_buf);
            return false;
        }
        let current = self.previous.get(path).map(String::as_str) == Some(fingerprint)
            && self.existing.contains(&path_buf);
        self.kept.insert(path_buf);
        if current {
            self.current
                .push((path.to_string(), fingerprint.to_string()));
            self.summary.unchanged += 1;
        }
        current
    }

    /// Notes a file a worker rendered (and, when building, wrote) itself.
    fn record(&mut self, path: &str, fingerprint: &str, written: bool) {
        self.kept.insert(PathBuf::from(path));
        if self.root.is_some() {
            if written {
                self.summary.written += 1;
            } else {
                self.summary.unchanged += 1;
            }
        }
        self.current
            .push((path.to_string(), fingerprint.to_string()));
    }

    fn put(
        &mut self,
        path: &str,
        bytes: &[u8],
        fingerprint: Option<String>,
        durable: bool,
    ) -> Result<(), WriteError> {
        self.kept.insert(PathBuf::from(path));
        if let Some(root) = &self.root {
            if write_if_changed(&root.join(path), bytes, durable)? {
                self.summary.written += 1;
            } else {
                self.summary.unchanged += 1;
            }
        }
        if let Some(fingerprint) = fingerprint {
            self.current.push((path.to_string(), fingerprint));
        }
        Ok(())
    }
}

/// Renders every output into `sink`: article pages and edition pages only when
/// what they are made from changed, the index, feeds and archive index always (they
/// are written only if their bytes changed).
fn render_outputs(
    config: &Config,
    prepared: &Prepared,
    sink: &mut Sink,
    now: DateTime<Utc>,
) -> Result<(), BuildError> {
    let Prepared {
        catalog,
        meta,
        templates,
        ..
    } = prepared;
    let mut fingerprints = Vec::with_capacity(catalog.entries.len());
    let mut stale = Vec::new();
    for (index, entry) in catalog.entries.iter().enumerate() {
        let path = article_page_path(&entry.article.id);
        let fp = prepared.article_fingerprint(index);
        if !sink.is_current(&path, &fp) {
            stale.push((index, path));
        }
        fingerprints.push(fp);
    }
    // Pages are independent: render and write them on every core, then record
    // them in the sink in order. Each worker writes as it goes, so memory holds one
    // page per worker, not all of them.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = stale.len().div_ceil(threads).max(1);
    let root = sink.root.clone();
    let results: Vec<Result<Vec<(usize, bool)>, BuildError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = stale
            .chunks(chunk)
            .map(|part| {
                let root = root.as_deref();
                scope.spawn(move || {
                    part.iter()
                        .map(|(index, path)| {
                            let article = prepared.article(*index)?;
                            let html = render_article_page(meta, &article, templates)?;
                            let written = match root {
                                Some(root) => {
                                    write_if_changed(&root.join(path), html.as_bytes(), false)?
                                }
                                None => false,
                            };
                            Ok((*index, written))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let paths: HashMap<usize, &String> = stale.iter().map(|(i, p)| (*i, p)).collect();
    for part in results {
        for (index, written) in part? {
            sink.record(paths[&index], &fingerprints[index], written);
        }
    }
    sink.put(
        "index.html",
        render_index(meta, &catalog.entries, templates)?.as_bytes(),
        None,
        true,
    )?;

    let newest: Vec<PreparedArticle> = (0..catalog.entries.len().min(config.site.feed_items))
        .map(|i| prepared.article(i))
        .collect::<Result<_, _>>()?;
    sink.put("feed.xml", &render_rss(meta, &newest)?, None, true)?;
    sink.put("atom.xml", &render_atom(meta, &newest)?, None, true)?;
    sink.put("feed.json", &render_json_feed(meta, &newest)?, None, true)?;
    drop(newest);

    let mut listings = Vec::new();
    for edition in prepared.published_editions(now) {
        let path = format!("{NEWSLETTER_DIR}/{}.html", edition.week);
        let week = edition.week.to_string();
        let fp = fingerprint(
            [prepared.site_fingerprint.as_bytes(), week.as_bytes()]
                .into_iter()
                .chain(edition.articles.iter().map(|&i| fingerprints[i].as_bytes())),
        );
        let lead = edition
            .articles
            .first()
            .map(|&i| article_view(meta, &catalog.entries[i]));
        let view = edition_view(meta, edition.week, edition.articles.len());
        let subject = render_subject(config, meta, &view, lead.as_ref(), templates)?;
        if !sink.is_current(&path, &fp)
            && let Some(digest) = prepared.digest(config, edition.week)?
        {
            sink.put(
                &path,
                edition_page(meta, &digest).as_bytes(),
                Some(fp),
                false,
            )?;
        }
        listings.push(EditionListing {
            edition: view,
            subject,
        });
    }
    listings.reverse();
    sink.put(
        &format!("{NEWSLETTER_DIR}/index.html"),
        render_archive_index(meta, &listings, templates)?.as_bytes(),
        None,
        true,
    )?;
    Ok(())
}

fn report(catalog: Catalog, files: WriteSummary, template_overrides: Vec<String>) -> BuildReport {
    BuildReport {
        published: catalog.entries.len(),
        changes: catalog.changes,
        problems: catalog.problems,
        scheduled: catalog.scheduled,
        files,
        template_overrides,
    }
}

/// Builds the site and feeds into the output folder and records what was published.
///
/// Outputs are written before the state is saved: a crash in between leaves the
/// state as it was, and the next build redoes the same work.
pub fn build(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let mut state = State::open(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let root = &config.paths.output;
    let leftovers = crate::output::clean_temp_files(root);
    if leftovers > 0 {
        tracing::warn!("removed {leftovers} temporary file(s) left by an interrupted build");
    }
    let mut sink = Sink::writer(root, state.output_fingerprints()?);
    render_outputs(config, &prepared, &mut sink, now)?;
    sink.summary.deleted = delete_stale(root, ARTICLES_DIR, "html", &sink.kept)?
        + delete_stale(root, NEWSLETTER_DIR, "html", &sink.kept)?;
    let outputs_changed = sink.current.len() != sink.previous.len()
        || sink
            .current
            .iter()
            .any(|(p, f)| sink.previous.get(p) != Some(f));
    let outputs = outputs_changed.then_some(sink.current.as_slice());
    state.save_build(&prepared.catalog.state_updates, outputs)?;
    let overrides = prepared.templates.overridden().to_vec();
    Ok(report(prepared.catalog, sink.summary, overrides))
}

/// Everything `build` checks, rendering every output, without writing anything.
pub fn check(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let state = State::open_read_only(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let mut sink = Sink::dry_run();
    render_outputs(config, &prepared, &mut sink, now)?;
    let overrides = prepared.templates.overridden().to_vec();
    Ok(report(prepared.catalog, WriteSummary::default(), overrides))
}

/// What `herald digest` wrote, or why it wrote nothing.
#[derive(Debug)]
pub enum DigestPreview {
    Written {
        week: Week,
        subject: String,
        articles: usize,
        html: PathBuf,
        text: PathBuf,
        eml: PathBuf,
    },
    Empty {
        week: Week,
    },
}

/// Placeholder recipient of previews.
pub const PREVIEW_RECIPIENT: &str = "讀者 <reader@example.com>";

/// Renders one edition (by default the latest one due) into `out` as `<week>.html`,
/// `<week>.txt` and `<week>.eml`, without sending or recording anything.
pub fn digest_preview(
    config: &Config,
    week: Option<Week>,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<DigestPreview, BuildError> {
    let state = State::open_read_only(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let week = week.unwrap_or_else(|| prepared.schedule.latest_due(now));
    let Some(digest) = prepared.digest(config, week)? else {
        return Ok(DigestPreview::Empty { week });
    };
    let from = parse_mailbox("newsletter.from", &config.newsletter.from)?;
    let reply_to = config
        .newsletter
        .reply_to
        .as_deref()
        .map(|r| parse_mailbox("newsletter.reply_to", r))
        .transpose()?;
    let to = parse_mailbox("preview recipient", PREVIEW_RECIPIENT)?;
    let (html, text) = digest.personalise(&format!("{}unsubscribe", prepared.meta.base_url));
    let message = compose(
        &digest.subject,
        Envelope {
            from: &from,
            reply_to: reply_to.as_ref(),
            message_id: deterministic_message_id(
                &week.to_string(),
                to.email.as_ref(),
                config.site_domain(),
            ),
            to,
            date: now.into(),
            list: None,
        },
        html.clone(),
        text.clone(),
    )?;
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Preview { path, source }
    };
    std::fs::create_dir_all(out).map_err(wrap(out))?;
    let paths = ["html", "txt", "eml"].map(|ext| out.join(format!("{week}.{ext}")));
    for (path, bytes) in
        paths
            .iter()
            .zip([html.into_bytes(), text.into_bytes(), message.formatted()])
    {
        write_if_changed(path, &bytes, true)?;
    }
    let [html, text, eml] = paths;
    Ok(DigestPreview::Written {
        week,
        subject: digest.subject,
        articles: digest.article_ids.len(),
        html,
        text,
        eml,
    })
}
