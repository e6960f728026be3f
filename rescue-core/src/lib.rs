//! Shared by mkrescue and restore-tui: the mountlist model and its file format, size
//! parsing and printing, validation, and the pure layout edits a restore needs.
//! Nothing here touches a terminal; only `blockdev` reads from the system.

pub mod blockdev;
pub mod media;
pub mod mountlist;
pub mod runner;
pub mod size;
