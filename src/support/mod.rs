//! Helpers every stage may use; they know nothing of articles or mail.

pub mod fingerprint;
pub mod parallel;
pub mod permissions;
pub mod stamp;
