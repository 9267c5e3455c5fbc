//! A full build's plan: every page fingerprinted, the stale ones rendered.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::feed_bodies::feed_items;
use super::fingerprints::{
    article_fingerprint, edition_fingerprint, feed_archive_fingerprint, page_fingerprint,
    tag_fingerprint, tags_index_fingerprint, year_fingerprint, years_key,
};
use super::inputs::REWRITTEN;
use super::prepared::Prepared;
use super::report::BuildError;
use super::sink::{Claim, Sink};
use crate::build::output::{StagedFile, stage_if_changed, write_if_changed, write_new};
use crate::config::{Config, FeedArchives};
use crate::content::edition::Week;
use crate::render::digest::{EditionListing, render_archive_index};
use crate::render::feeds::{
    FeedFormat, FeedPlace, archive_path, archived_pages, render_atom, render_atom_at,
    render_json_feed, render_rss, render_rss_at,
};
use crate::render::tags::{
    TagGroup, TagOutput, render_tag_page, render_tags_index, tag_groups, tag_paths,
};

use crate::render::paths::{
    ATOM_FEED, FEEDS, INDEX_PAGE, JSON_FEED, NEWSLETTER_INDEX, RSS_FEED, TAGS_INDEX,
    archive_page_path, article_page_path, edition_page_path,
};
use crate::render::site::{
    ArchiveYear, Neighbours, PreparedArticle, archive_years, render_archive_page,
    render_article_page, render_index,
};
use crate::support::parallel::map_in_parallel;

/// A page to render, and where.
pub(super) struct Stale {
    pub(super) page: StalePage,
    pub(super) path: String,
    pub(super) fingerprint: String,
    /// An older version is there to be replaced (else none was when the build
    /// listed the output folder).
    pub(super) on_disk: bool,
}

/// A page whose inputs changed since it was last written.
pub(super) enum StalePage {
    Article {
        index: usize,
        neighbours: Neighbours,
    },
    Year {
        year: i32,
        entries: std::ops::Range<usize>,
    },
    Edition {
        week: Week,
    },
    /// An output of tag `group` (an index into [`Plan::tags`]).
    Tag {
        output: TagOutput,
        group: usize,
    },
    /// `tags/index.html`.
    TagsIndex,
    /// Archive document `page` of `archived` (RFC 5005), of the `entries` it holds
    /// (newest first).
    FeedArchive {
        format: FeedFormat,
        page: usize,
        archived: usize,
        entries: std::ops::Range<usize>,
    },
}

/// One complete archive page of the feeds.
pub(super) struct FeedArchivePage {
    /// 1 = oldest.
    pub(super) page: usize,
    /// The catalog positions it holds (newest first).
    pub(super) entries: std::ops::Range<usize>,
    /// What both its documents are rendered from ([`feed_archive_fingerprint`]).
    pub(super) fingerprint: String,
}

/// The feeds' complete archive pages for a catalog of `n` articles (newest first),
/// whose [`article_fingerprint`]s `article` gives by position.
pub(super) fn feed_archive_pages<'a>(
    config: &Config,
    site: &str,
    n: usize,
    article: impl Fn(usize) -> &'a str,
) -> Vec<FeedArchivePage> {
    let size = config.site.feed_items;
    let archived = archived_pages(config, n);
    (1..=archived)
        .map(|page| {
            let entries = (n - page * size)..(n - (page - 1) * size);
            let articles = entries.clone().map(&article);
            let fingerprint = feed_archive_fingerprint(site, page, page < archived, articles);
            FeedArchivePage {
                page,
                entries,
                fingerprint,
            }
        })
        .collect()
}

/// What a build renders: the pages whose inputs changed, and what the outputs
/// rendered on every build list.
pub(super) struct Plan {
    pub(super) stale: Vec<Stale>,
    pub(super) years: Vec<ArchiveYear>,
    /// The newsletter index's lines, newest edition first.
    pub(super) listings: Vec<EditionListing>,
    /// Complete archive pages of the feeds: what the subscription feeds link to.
    pub(super) archived: usize,
    /// The tags whose outputs are stale, members by position in the prepared catalog.
    pub(super) tags: Vec<TagGroup>,
    /// Every tag's name, slug and number of articles, for the tags index.
    pub(super) tag_index: Vec<(String, String, usize)>,
}

/// What a tag's outputs and the tags index are rendered from.
pub(super) struct TagPlan {
    pub(super) groups: Vec<TagGroup>,
    /// What each group's page and feeds are rendered from ([`tag_fingerprint`]).
    pub(super) fingerprints: Vec<String>,
    pub(super) index: Vec<(String, String, usize)>,
    pub(super) index_fingerprint: String,
}

impl TagPlan {
    /// The tags of `tags` (the catalog's, newest first), whose articles'
    /// [`article_fingerprint`]s `article` gives by position; and a warning for each
    /// slug that more than one spelling shares.
    pub(super) fn of<'a, 'f>(
        site: &str,
        tags: impl Iterator<Item = &'a [String]>,
        article: impl Fn(usize) -> &'f str,
    ) -> TagPlan {
        let (groups, shared) = tag_groups(tags);
        for (slug, spellings) in shared {
            tracing::warn!(
                "tags {} are one tag (tags/{slug}/), named `{}`: use one spelling",
                spellings
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                spellings[0]
            );
        }
        let index: Vec<(String, String, usize)> = (groups.iter())
            .map(|g| (g.name.clone(), g.slug.clone(), g.members.len()))
            .collect();
        let index_fingerprint = tags_index_fingerprint(site, &index);
        let fingerprints = (groups.iter())
            .map(|g| {
                tag_fingerprint(
                    site,
                    &g.name,
                    &g.slug,
                    g.members.iter().map(|&i| article(i)),
                )
            })
            .collect();
        TagPlan {
            groups,
            fingerprints,
            index,
            index_fingerprint,
        }
    }
}

/// Fingerprints every page of the catalog and claims it in `sink`: what is not
/// current is planned for rendering. Also returns each entry's
/// [`article_fingerprint`] (in catalog order).
pub(super) fn plan_all(
    config: &Config,
    prepared: &Prepared,
    sink: &mut Sink,
    now: DateTime<Utc>,
) -> Result<(Plan, Vec<String>), BuildError> {
    let Prepared {
        catalog,
        meta,
        site_fingerprint: site,
        ..
    } = prepared;
    let mut fingerprints = Vec::with_capacity(catalog.entries.len());
    let mut stale: Vec<Stale> = Vec::new();
    let mut check = |sink: &mut Sink, page: StalePage, path: String, fingerprint: String| {
        if let Claim::Stale { on_disk } = sink.claim(&path, &fingerprint) {
            stale.push(Stale {
                page,
                path,
                fingerprint,
                on_disk,
            });
        }
    };
    for entry in &catalog.entries {
        let (published, updated) = (entry.published.timestamp(), entry.updated.timestamp());
        fingerprints.push(article_fingerprint(
            site,
            &entry.source_hash,
            published,
            updated,
        ));
    }
    let n = catalog.entries.len();
    let id_title = |i: usize| {
        let head = &catalog.entries[i].article;
        (head.id.as_str(), head.title.as_str())
    };
    for (index, entry) in catalog.entries.iter().enumerate() {
        let older = (index + 1 < n).then(|| id_title(index + 1));
        let newer = index.checked_sub(1).map(id_title);
        let fp = page_fingerprint(&fingerprints[index], older, newer);
        let neighbours = Neighbours::of(meta, index, n, id_title);
        let page = StalePage::Article { index, neighbours };
        check(sink, page, article_page_path(&entry.article.id), fp);
    }
    let (years, year_ranges): (Vec<ArchiveYear>, Vec<_>) =
        archive_years(meta, &catalog.entries).into_iter().unzip();
    let years_key = years_key(&years);
    for (year, entries) in years.iter().zip(year_ranges) {
        let path = archive_page_path(year.year);
        let pages = fingerprints[entries.clone()].iter().map(String::as_str);
        let fp = year_fingerprint(site, &path, &years_key, pages);
        let page = StalePage::Year {
            year: year.year,
            entries,
        };
        check(sink, page, path, fp);
    }
    let article = |i: usize| fingerprints[i].as_str();
    let pages = feed_archive_pages(config, site, n, article);
    let archived = pages.len();
    for FeedArchivePage {
        page,
        entries,
        fingerprint,
    } in pages
    {
        for format in [FeedFormat::Rss, FeedFormat::Atom] {
            let stale = StalePage::FeedArchive {
                format,
                page,
                archived,
                entries: entries.clone(),
            };
            check(sink, stale, archive_path(format, page), fingerprint.clone());
        }
    }
    let tags = catalog.entries.iter().map(|e| e.article.tags.as_slice());
    let tag_plan = TagPlan::of(site, tags, article);
    for (g, (group, fp)) in tag_plan
        .groups
        .iter()
        .zip(&tag_plan.fingerprints)
        .enumerate()
    {
        for (output, path) in tag_paths(&group.slug) {
            check(sink, StalePage::Tag { output, group: g }, path, fp.clone());
        }
    }
    if !tag_plan.groups.is_empty() {
        let fp = tag_plan.index_fingerprint.clone();
        check(sink, StalePage::TagsIndex, TAGS_INDEX.to_string(), fp);
    }
    let mut listings = Vec::new();
    for edition in prepared.published_editions(now) {
        let pages = edition.articles.iter().map(|&i| fingerprints[i].as_str());
        let fp = edition_fingerprint(site, edition.week, pages);
        let path = edition_page_path(edition.week);
        check(sink, StalePage::Edition { week: edition.week }, path, fp);
        listings.push(prepared.edition_listing(config, edition)?);
    }
    listings.reverse();
    let plan = Plan {
        stale,
        years,
        listings,
        archived,
        tags: tag_plan.groups,
        tag_index: tag_plan.index,
    };
    Ok((plan, fingerprints))
}

/// Renders the stale pages of `plan` and the outputs rendered on every build (the
/// index, feeds and newsletter index: written only if their bytes changed) into
/// `sink`.
pub(super) fn render_outputs(
    config: &Config,
    prepared: &Prepared,
    sink: &mut Sink,
    plan: &Plan,
) -> Result<(), BuildError> {
    let Prepared {
        catalog,
        meta,
        templates,
        ..
    } = prepared;
    let Plan {
        years,
        listings,
        archived,
        ..
    } = plan;
    let root = sink.root.clone();
    let current = FeedPlace::Current {
        archived: *archived,
    };
    let state = root.is_some().then_some(config.paths.state.as_path());
    let feed = feed_items(prepared, config.site.feed_items, state)?;
    let newest = &feed.items;
    // These outputs are flushed to disk before they replace the old ones. They are
    // staged first and flushed on a thread of their own (a flush waits for the
    // disk, not the processor) while the stale pages render, and put in place
    // after those pages, so a feed never names a page that is not there yet.
    let staged = map_in_parallel(&REWRITTEN, |&path| {
        let bytes = match path {
            INDEX_PAGE => {
                let shown = &catalog.entries[..catalog.entries.len().min(config.site.index_items)];
                render_index(meta, shown, years, templates)?
            }
            RSS_FEED => render_rss_at(meta, newest, current)?,
            ATOM_FEED => render_atom_at(meta, newest, current)?,
            JSON_FEED => render_json_feed(meta, newest)?,
            NEWSLETTER_INDEX => render_archive_index(meta, listings, templates)?.into_bytes(),
            other => unreachable!("{other} is not in REWRITTEN"),
        };
        Ok::<_, BuildError>(match &root {
            Some(root) => stage_if_changed(&root.join(path), &bytes)?,
            None => None,
        })
    });
    let staged = staged.into_iter().collect::<Result<Vec<_>, _>>()?;
    std::thread::scope(|scope| {
        let flushing = scope.spawn(|| {
            feed.keep_bodies();
            staged.iter().flatten().try_for_each(StagedFile::flush)
        });
        render_stale(config, prepared, sink, plan)?;
        flushing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok::<_, BuildError>(())
    })?;
    for (path, staged) in REWRITTEN.iter().zip(staged) {
        let written = staged.is_some();
        staged.map(StagedFile::put_in_place).transpose()?;
        sink.count(path, written);
        if written && FEEDS.contains(path) {
            sink.summary.feeds_written.push(path.to_string());
        }
    }
    Ok(())
}

/// Renders the stale pages of `plan` into `sink`.
fn render_stale(
    config: &Config,
    prepared: &Prepared,
    sink: &mut Sink,
    plan: &Plan,
) -> Result<(), BuildError> {
    let Plan {
        stale,
        years,
        tags,
        tag_index,
        ..
    } = plan;
    // Pages are independent: render and write them on every core, then record
    // them in the sink in order. Each worker writes as it goes, so memory holds one
    // unit per worker (a page, or an archive page's articles), not all of them.
    let root = sink.root.clone();
    let shared = SharedRender {
        config,
        prepared,
        years,
        tags,
        tag_index,
        full_text: config.site.feed_archives == FeedArchives::Full,
    };
    let units = work_units(stale, shared.full_text);
    let written = map_in_parallel(&units, |unit| {
        // An archive page's articles are rendered once for its two documents and
        // for those of their own pages that are stale.
        let items = match &unit.entries {
            Some(entries) => Some((entries.start, shared.archive_items(entries.clone())?)),
            None => None,
        };
        let items = items
            .as_ref()
            .map(|(start, items)| (*start, items.as_slice()));
        let mut written = Vec::with_capacity(unit.stale.len());
        for &index in &unit.stale {
            let stale = &stale[index];
            let bytes = shared.render(stale, items)?;
            let Some(root) = root.as_deref() else {
                written.push((index, false));
                continue;
            };
            let path = root.join(&stale.path);
            written.push((
                index,
                match stale.on_disk {
                    true => write_if_changed(&path, &bytes, false)?,
                    false => write_new(&path, &bytes, false)?,
                },
            ));
        }
        Ok::<_, BuildError>(written)
    });
    let mut by_stale = vec![false; stale.len()];
    for unit in written {
        for (index, written) in unit? {
            by_stale[index] = written;
        }
    }
    for (stale, written) in stale.iter().zip(by_stale) {
        sink.record(&stale.path, &stale.fingerprint, written);
        let is_feed =
            matches!(stale.page, StalePage::Tag { output, .. } if output != TagOutput::Page);
        if written && is_feed {
            sink.summary.feeds_written.push(stale.path.clone());
        }
    }
    Ok(())
}

/// Stale outputs rendered by one worker: an archive page's documents with the
/// stale pages of its articles (`entries`: the catalog positions it holds), or one
/// output alone.
struct WorkUnit {
    entries: Option<std::ops::Range<usize>>,
    /// Indices into the stale list.
    stale: Vec<usize>,
}

/// Groups `stale` into [`WorkUnit`]s: each feed archive page with the article
/// pages of its articles when the archives carry the full text (`full_text`: the
/// articles' HTML is rendered once for both), everything else alone.
fn work_units(stale: &[Stale], full_text: bool) -> Vec<WorkUnit> {
    let mut units: Vec<WorkUnit> = Vec::new();
    let mut page_units: HashMap<usize, usize> = HashMap::new();
    for (index, s) in stale.iter().enumerate() {
        if let StalePage::FeedArchive { page, entries, .. } = &s.page {
            let unit = *page_units.entry(*page).or_insert_with(|| {
                units.push(WorkUnit {
                    entries: Some(entries.clone()),
                    stale: Vec::new(),
                });
                units.len() - 1
            });
            units[unit].stale.push(index);
        }
    }
    let mut owner: HashMap<usize, usize> = HashMap::new();
    for (unit, w) in units.iter().enumerate().filter(|_| full_text) {
        for entry in w.entries.clone().into_iter().flatten() {
            owner.insert(entry, unit);
        }
    }
    for (index, s) in stale.iter().enumerate() {
        match &s.page {
            StalePage::FeedArchive { .. } => {}
            StalePage::Article { index: entry, .. } if owner.contains_key(entry) => {
                units[owner[entry]].stale.push(index);
            }
            _ => units.push(WorkUnit {
                entries: None,
                stale: vec![index],
            }),
        }
    }
    units
}

/// What rendering any stale output needs.
struct SharedRender<'a> {
    config: &'a Config,
    prepared: &'a Prepared,
    years: &'a [ArchiveYear],
    tags: &'a [TagGroup],
    tag_index: &'a [(String, String, usize)],
    /// The feed archives carry the articles' HTML (`site.feed_archives = "full"`).
    full_text: bool,
}

impl SharedRender<'_> {
    /// The articles at `entries`, prepared as the feed archives show them (with
    /// their HTML only for full-text archives).
    fn archive_items(
        &self,
        entries: std::ops::Range<usize>,
    ) -> Result<Vec<PreparedArticle>, BuildError> {
        match self.full_text {
            true => entries.map(|i| self.prepared.article(i)).collect(),
            false => entries.map(|i| self.prepared.listing(i)).collect(),
        }
    }

    /// The bytes of `stale`. `items`: the articles from catalog position `.0` on,
    /// already prepared (an archive page's), used instead of preparing them again.
    fn render(
        &self,
        stale: &Stale,
        items: Option<(usize, &[PreparedArticle])>,
    ) -> Result<Vec<u8>, BuildError> {
        let SharedRender {
            config,
            prepared,
            years,
            tags,
            tag_index,
            full_text,
        } = self;
        let Prepared {
            catalog,
            meta,
            templates,
            ..
        } = prepared;
        Ok(match &stale.page {
            StalePage::Article { index, neighbours } => {
                let ready = items.and_then(|(start, items)| items.get(index.checked_sub(start)?));
                match ready {
                    Some(article) => render_article_page(meta, article, neighbours, templates)?,
                    None => render_article_page(
                        meta,
                        &prepared.article(*index)?,
                        neighbours,
                        templates,
                    )?,
                }
            }
            StalePage::Year { year, entries } => render_archive_page(
                meta,
                *year,
                &catalog.entries[entries.clone()],
                years,
                templates,
            )?,
            StalePage::Edition { week } => prepared.edition_page(config, *week)?.into_bytes(),
            StalePage::Tag { output, group } => {
                let group = &tags[*group];
                let members = group.members.iter().map(|&i| &catalog.entries[i]);
                if *output == TagOutput::Page {
                    render_tag_page(meta, group, members, templates)?
                } else {
                    let newest = group.members.iter().take(config.site.feed_items);
                    let items =
                        (newest.map(|&i| prepared.article(i))).collect::<Result<Vec<_>, _>>()?;
                    let tag_meta = meta.for_tag(&group.name, &group.slug);
                    match output {
                        TagOutput::Rss => render_rss(&tag_meta, &items)?,
                        TagOutput::Atom => render_atom(&tag_meta, &items)?,
                        _ => render_json_feed(&tag_meta, &items)?,
                    }
                }
            }
            StalePage::TagsIndex => render_tags_index(meta, tag_index, templates)?,
            StalePage::FeedArchive {
                format,
                page,
                archived,
                entries,
            } => {
                let owned;
                let items = match items {
                    Some((_, items)) => items,
                    None => {
                        owned = self.archive_items(entries.clone())?;
                        &owned
                    }
                };
                let place = FeedPlace::Archive {
                    page: *page,
                    archived: *archived,
                    full_text: *full_text,
                };
                match format {
                    FeedFormat::Rss => render_rss_at(meta, items, place)?,
                    FeedFormat::Atom => render_atom_at(meta, items, place)?,
                }
            }
        })
    }
}
