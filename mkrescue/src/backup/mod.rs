//! Backing up the captured system's files into archive sets.

pub mod select;
