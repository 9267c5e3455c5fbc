//! Helpers every stage may use; they know nothing of articles or mail.

pub(crate) mod fingerprint;
pub(crate) mod parallel;
pub(crate) mod permissions;
pub mod stamp;
pub(crate) mod utf8;
