//! `herald serve`.

use super::{Outcome, now};
use crate::config::Config;

pub fn execute(config: &Config, listen: Option<String>) -> anyhow::Result<Outcome> {
    let clock = match std::env::var("HERALD_NOW") {
        Ok(_) => Some(now()?),
        Err(_) => None,
    };
    crate::serve::serve(config.clone(), listen, clock)?;
    Ok(Outcome::Done)
}
