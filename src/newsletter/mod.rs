//! Editions → subscribers' inboxes: messages, transports, the send journal's use.

pub mod delivery;
pub mod message;
pub mod preview;
pub mod send;
pub mod token;
pub mod transport;
