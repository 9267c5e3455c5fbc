//! `herald digest`: one edition rendered for a person to look at (HTML, text and
//! the `.eml` a subscriber would get), without sending or recording anything.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::build::output::{WriteError, write_if_changed};
use crate::build::{BuildError, Prepared};
use crate::config::Config;
use crate::content::edition::Week;
use crate::newsletter::encoding::encoded_body;
use crate::newsletter::message::{
    Envelope, MessageError, compose, deterministic_message_id, parse_mailbox,
};
use crate::store::{State, StateError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PreviewError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot write the preview into {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What `herald digest` wrote, or why it wrote nothing.
#[derive(Debug)]
pub(crate) enum DigestPreview {
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
pub(crate) const PREVIEW_RECIPIENT: &str = "讀者 <reader@example.com>";

/// Renders one edition (by default the latest one due) into `out` as `<week>.html`,
/// `<week>.txt` and `<week>.eml`, without sending or recording anything.
pub(crate) fn digest_preview(
    config: &Config,
    week: Option<Week>,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<DigestPreview, PreviewError> {
    let state = State::open_read_only(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let week = week.unwrap_or_else(|| prepared.schedule.latest_due(now));
    let Some(digest) = prepared.digest(config, week)? else {
        return Ok(DigestPreview::Empty { week });
    };
    let to = parse_mailbox("preview recipient", PREVIEW_RECIPIENT)?;
    let (html, text) = digest.personalise(&config.newsletter.unsubscribe_url);
    let message = compose(
        &digest.subject,
        Envelope {
            from: &config.newsletter.from,
            reply_to: config.newsletter.reply_to.as_ref(),
            message_id: deterministic_message_id(
                &week.to_string(),
                to.email.as_ref(),
                config.site_domain(),
            ),
            to,
            date: now.into(),
            list: None,
        },
        encoded_body(html.clone()),
        encoded_body(text.clone()),
    )?;
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PreviewError::Folder { path, source }
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
