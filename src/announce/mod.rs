//! After a build: telling those who follow the feeds that they changed.

pub(crate) mod websub;
