//! restore-tui: rebuild the disks described by a mountlist and restore files.

pub mod cli;
pub mod files;
pub mod init;
