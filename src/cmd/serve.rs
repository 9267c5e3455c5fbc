//! `herald serve`.

use std::path::Path;

use super::{Outcome, now};
use crate::config::Config;

/// `preview`: the site built into a temporary folder under the local address and
/// rebuilt on changes (`config_path` is re-read then).
pub fn execute(
    config: &Config,
    config_path: &Path,
    listen: Option<String>,
    preview: bool,
) -> anyhow::Result<Outcome> {
    let clock = match std::env::var("HERALD_NOW") {
        Ok(_) => Some(now()?),
        Err(_) => None,
    };
    if preview {
        crate::serve::serve_preview(config, config_path, listen, clock)?;
    } else {
        crate::serve::serve(config.clone(), listen, clock)?;
    }
    Ok(Outcome::Done)
}
