//! Capturing the disk layout of a running host into a mountlist.

pub mod superblock;
pub mod table;
