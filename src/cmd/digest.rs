//! `herald digest`: an edition rendered for preview.

use std::path::Path;

use anyhow::Context;

use super::{Outcome, now};
use crate::config::Config;
use crate::content::edition::Week;
use crate::newsletter::preview::{DigestPreview, digest_preview};

pub fn execute(config: &Config, week: Option<Week>, out: Option<&Path>) -> anyhow::Result<Outcome> {
    let out = out.unwrap_or(&config.paths.preview);
    match digest_preview(config, week, out, now()?).context("digest failed")? {
        DigestPreview::Written {
            week,
            subject,
            articles,
            html,
            text,
            eml,
        } => {
            println!("digest {week}: {articles} article(s), subject: {subject}");
            for path in [html, text, eml] {
                println!("{}", path.display());
            }
        }
        DigestPreview::Empty { week } => {
            println!("digest {week}: empty (no articles), no e-mail produced");
        }
    }
    Ok(Outcome::Done)
}
