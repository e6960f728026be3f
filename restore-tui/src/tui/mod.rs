//! The terminal UI: model ([`App`]), messages ([`Msg`]), [`update`] and [`view`], in the
//! Elm way. Everything here is pure: no terminal and no disk is touched. The runner of the
//! UI owns the terminal and the engine:
//!
//! ```text
//! loop {
//!     terminal.draw(|f| view(&app, f))
//!     key -> keys::key_to_msg(&app, key) -> msg        (or news from the engine -> msg)
//!     if let Some(cmd) = update(&mut app, msg) { perform cmd; feed its results as Msgs }
//! }
//! ```
//!
//! The one exception to "pure" is the catalog: the file tree reads a directory's children
//! when it is opened, through the [`CatalogSource`] the runner gives (one pass over the
//! catalog per directory opened).
//!
//! Screens: 1 Start, 2 Disks, 3 Layout (the mountlist editor), 4 Files, 5 Destination,
//! 6 Review, 7 Progress, 8 After.

pub mod app;
pub mod input;
pub mod keys;
pub mod msg;
pub mod tree;
pub mod update;
pub mod view;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use app::{App, AppInput, Mode, Screen, TargetDiskInfo};
pub use keys::key_to_msg;
pub use msg::{
    Command, Destination, DiskMapping, Finished, FstabEdit, Move, Msg, PartitionAction,
    PlanRequest, PlanStep, Progress, RestoreMode, StartChoice, VolumeAnswer, VolumeRequest,
};
pub use tree::{CatalogFile, CatalogSource, MemoryCatalog};
pub use update::update;
pub use view::view;
