//! mkrescue: capture a host's disk layout and files into bootable rescue media.

pub mod cli;
pub mod identity;
pub mod initramfs;
pub mod mountlist_cmd;
pub mod output;
pub mod probe;
pub mod skel;
