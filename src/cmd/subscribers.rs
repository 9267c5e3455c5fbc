//! `herald subscribers …`: the list, by hand.

use std::path::Path;

use anyhow::Context;

use super::{Outcome, now};
use crate::config::Config;
use crate::store::State;
use crate::store::subscribers::{AddOutcome, Status, Subscribers, normalise_email};

pub fn add(config: &Config, email: &str, name: &str) -> anyhow::Result<Outcome> {
    let state = State::open(&config.paths.state)?;
    let outcome = Subscribers::new(state.connection()).add(email, name, now()?, true)?;
    let email = normalise_email(email)?;
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
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let report =
        Subscribers::new(state.connection()).import(reader, &file.display().to_string(), now()?)?;
    for (line, why) in &report.rejected {
        eprintln!("{}:{line}: {why} (row skipped)", file.display());
    }
    println!(
        "import: {} added, {} already on the list, {} rejected",
        report.added,
        report.unchanged,
        report.rejected.len()
    );
    Ok(Outcome::partial_if(!report.rejected.is_empty()))
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
