//! Backing up the captured system's files into archive sets.

pub mod meta;
pub mod pipeline;
pub mod select;
