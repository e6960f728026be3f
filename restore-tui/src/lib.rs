//! restore-tui: rebuild the disks described by a mountlist and restore files.

pub mod cli;
pub mod engine;
pub mod files;
pub mod init;
pub mod tui;
pub mod ui;
