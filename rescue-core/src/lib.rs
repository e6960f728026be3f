//! Shared by mkrescue and restore-tui: the mountlist model and its file format, size
//! parsing and printing, validation, and the pure layout edits a restore needs.
//! Nothing here touches a terminal; `blockdev` reads from the system and `archive` extracts
//! into it.

pub mod archive;
pub mod blockdev;
pub mod catalog;
pub mod compare;
pub mod error_text;
pub mod hooks;
pub mod iso9660;
pub mod media;
pub mod mountinfo;
pub mod mountlist;
mod regular_file;
pub mod rehearsal;
pub mod restore_files;
pub mod runner;
pub mod signature;
pub mod size;
pub mod volume;
pub mod volumes;
