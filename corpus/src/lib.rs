//! Test corpora: trees holding every kind of file a backup must carry exactly (regular,
//! empty, sparse and large files, hard links across directories, symlinks including dangling
//! ones, device nodes, FIFOs, empty directories, setuid/setgid/sticky modes, numeric and
//! named owners, nanosecond times, extended attributes, POSIX ACLs, file capabilities, long
//! paths, names with newlines and bytes that are not UTF-8), and a comparison of two trees
//! that reports every difference.
//!
//! Device nodes, foreign owners, capabilities and ACLs need root; without it they are left
//! out and `Summary::skipped` says so.

mod compare;
mod make;

pub use compare::{compare, Difference};
pub use make::{generate, Options, Summary};
