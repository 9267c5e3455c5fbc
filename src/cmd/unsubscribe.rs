//! `herald unsubscribe TOKEN`: what an unsubscribe link does, from the shell.

use super::{Outcome, now};
use crate::config::Config;
use crate::newsletter::token::TokenKey;
use crate::store::State;
use crate::store::subscribers::{Status, Subscribers};

pub fn execute(config: &Config, token: &str) -> anyhow::Result<Outcome> {
    let email = TokenKey::for_site(config)?.verify_unsubscribe(token)?;
    let state = State::open(&config.paths.state)?;
    Subscribers::new(state.connection()).set_status(&email, Status::Unsubscribed, now()?)?;
    println!("unsubscribed {email}");
    Ok(Outcome::Done)
}
