//! Editions → subscribers' inboxes: messages, transports, the send journal's use.

pub(crate) mod bounce;
pub(crate) mod delivery;
pub(crate) mod encoding;
pub(crate) mod factory;
pub(crate) mod message;
pub(crate) mod preview;
pub mod send;
pub mod token;
pub(crate) mod transport;
