//! Helpers every stage may use; they know nothing of articles or mail.

pub mod parallel;
pub mod stamp;
