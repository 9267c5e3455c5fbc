//! `herald subscribers …`: the list, by hand.

use std::path::Path;

use anyhow::Context;

use super::{Outcome, now};
use crate::config::Config;
use crate::newsletter::token::TokenKey;
use crate::store::State;
use crate::store::subscribers::{AddOutcome, Status, Subscribers, normalise_email};

/// An explicit add brings back anyone who left, and lifts a suppression.
pub fn add(config: &Config, email: &str, name: &str) -> anyhow::Result<Outcome> {
    let state = State::open(&config.paths.state)?;
    let subscribers = Subscribers::new(state.connection());
    let outcome = subscribers.add(email, name, now()?, true)?;
    let email = normalise_email(email)?;
    subscribers.unsuppress(&TokenKey::for_site(config)?.address_hash(&email))?;
    match outcome {
        AddOutcome::Added => println!("added {email}"),
        AddOutcome::AlreadyActive => println!("{email} is already subscribed"),
        AddOutcome::Reactivated => println!("reactivated {email}"),
        AddOutcome::Inactive(status) => println!("{email} stays {status}"),
    }
    Ok(Outcome::Done)
}

pub fn import(config: &Config, file: &Path) -> anyhow::Result<Outcome> {
    let state = State::open(&config.paths.state)?;
    let keys = TokenKey::for_site(config)?;
    let subscribers = Subscribers::new(state.connection());
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let is_suppressed = |email: &str| {
        subscribers
            .is_suppressed(&keys.address_hash(email))
            .unwrap_or(true)
    };
    let report = subscribers.import(reader, &file.display().to_string(), now()?, &is_suppressed)?;
    for (line, why) in &report.rejected {
        eprintln!("{}:{line}: {why} (row skipped)", file.display());
    }
    let suppressed = if report.suppressed > 0 {
        format!(
            ", {} suppressed (forgotten after leaving; `subscribers add` brings one back)",
            report.suppressed
        )
    } else {
        String::new()
    };
    println!(
        "import: {} added, {} already on the list, {} rejected{suppressed}",
        report.added,
        report.unchanged,
        report.rejected.len()
    );
    Ok(Outcome::partial_if(!report.rejected.is_empty()))
}

pub fn export(config: &Config, status: Option<Status>) -> anyhow::Result<Outcome> {
    let state = State::open_read_only(&config.paths.state)?;
    let count = Subscribers::new(state.connection()).export(status, std::io::stdout().lock())?;
    eprintln!("export: {count} subscriber(s)");
    Ok(Outcome::Done)
}

pub fn forget(config: &Config, email: &str) -> anyhow::Result<Outcome> {
    let state = State::open(&config.paths.state)?;
    let email = normalise_email(email)?;
    let hash = TokenKey::for_site(config)?.address_hash(&email);
    let was = Subscribers::new(state.connection()).forget(&email, &hash, now()?)?;
    println!(
        "forgot {email} (was {was}): their row and the address in the send journal are erased; a keyed hash keeps a later import from adding them back"
    );
    Ok(Outcome::Done)
}

pub fn list(config: &Config, status: Option<Status>) -> anyhow::Result<Outcome> {
    let state = State::open(&config.paths.state)?;
    for s in Subscribers::new(state.connection()).list(status)? {
        println!(
            "{}\t{}\t{}\t{}",
            s.email,
            s.status,
            s.name,
            s.changed.to_rfc3339()
        );
    }
    Ok(Outcome::Done)
}

pub fn remove(config: &Config, email: &str) -> anyhow::Result<Outcome> {
    let state = State::open(&config.paths.state)?;
    Subscribers::new(state.connection()).remove(email)?;
    println!("removed {}", normalise_email(email)?);
    Ok(Outcome::Done)
}
