//! The mountlist: model, JSON file format, validation, edits, resize and disk mapping.

pub mod boot_paths;
pub mod disk_map;
pub mod edit;
mod file;
pub mod mkfs_minimum;
mod model;
pub mod mount_point;
pub mod render;
pub mod resize;
pub mod validate;

pub use boot_paths::{BootPath, Loader};
pub use file::{from_json, read_file, to_json, LoadError};
pub use model::*;
pub use mount_point::{MountPoint, MountPointError};
