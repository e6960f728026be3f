//! The restore engine: from a mountlist, the target disks and the user's choices, a
//! [`Plan`](plan::Plan) of described steps that a sysadmin reads before anything is
//! written; then [`apply`](apply::apply) runs it step by step and stops at the first
//! failure.
//!
//! ```text
//! safety::check_targets     refuse disks that are mounted, swap, hold the media, in a stack
//!         |
//! plan::plan                validate -> map/fit (rescue_core resize) -> steps:
//!         |                   wipefs, WriteTable (partition), partx -d/-a, WaitForPartitions
//!         |                   (devices), wipefs, mkfs + label (mkfs), mkdir + mount by depth,
//!         |                   RestoreFiles, RewriteFstab (fstab), boot loader in a chroot,
//!         |                   WriteLog, umount in reverse, sync
//!         v
//! apply::apply              commands through a Runner (real, dry run, recording); the
//!                           in-process steps through a Native (real, or pretend)
//! ```
//!
//! [`nuke`] is the non-interactive `--mode nuke` of the command line, built on these.

pub mod action;
pub mod apply;
pub mod compare;
pub mod devices;
pub mod fstab;
pub mod mkfs;
pub mod nuke;
pub mod partition;
pub mod plan;
pub mod safety;
pub mod verify;
pub mod volumes;

pub use apply::{
    apply, Applier, ApplyError, DryNative, Event, Native, NativeError, Outcome, RealNative,
};
pub use plan::{plan, Choices, DiskMap, Phase, Plan, PlanError, Step};
