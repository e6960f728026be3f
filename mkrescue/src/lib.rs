//! mkrescue: capture a host's disk layout and files into bootable rescue media.

pub mod backup;
pub mod boot;
pub mod cli;
pub mod create;
pub mod gather;
pub mod identity;
pub mod initramfs;
pub mod iso;
pub mod mountlist_cmd;
pub mod output;
pub mod probe;
pub mod rehearse;
pub mod skel;
pub mod verify;
pub mod volume_writer;
