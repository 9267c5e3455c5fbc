//! WebSub publisher pings (W3C Recommendation, §7): after a build that changed a
//! feed's bytes, each hub of `websub.hub` gets `hub.mode=publish&hub.url=<feed>`
//! for each changed feed, the form most hubs accept. A hub that fails is tried once
//! more; a ping that still fails is a warning for the caller to show, never a
//! failed build: the feeds are written, and the hub's subscribers poll anyway.

use std::time::Duration;

use crate::config::Config;

/// What one ping came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ping {
    pub hub: String,
    pub feed: String,
    /// The hub's HTTP status (2xx), or why it was not reached or refused.
    pub result: Result<u16, String>,
}

/// How long to wait before the second try.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Pings every configured hub about each of `feeds` (URLs); nothing when no hub is
/// configured or no feed changed.
pub(crate) fn ping_hubs(config: &Config, feeds: &[String]) -> Vec<Ping> {
    let hubs = &config.websub.hub;
    if hubs.is_empty() || feeds.is_empty() {
        return Vec::new();
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(config.websub.timeout_secs)))
        .http_status_as_error(false)
        .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut pings = Vec::new();
    for hub in hubs {
        for feed in feeds {
            let mut result = publish(&agent, hub, feed);
            if result.is_err() {
                std::thread::sleep(RETRY_AFTER);
                result = publish(&agent, hub, feed);
            }
            pings.push(Ping {
                hub: hub.clone(),
                feed: feed.clone(),
                result,
            });
        }
    }
    pings
}

fn publish(agent: &ureq::Agent, hub: &str, feed: &str) -> Result<u16, String> {
    let form = [("hub.mode", "publish"), ("hub.url", feed)];
    match agent.post(hub).send_form(form) {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        Ok(response) => Err(format!("the hub answered {}", response.status())),
        Err(e) => Err(e.to_string()),
    }
}
