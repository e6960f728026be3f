//! `rescue.mode=interactive` (and compare, and the menu's `i`): the terminal UI on the
//! console, restoring from the boot media; reboot and power off chosen in it are done
//! here, quitting it comes back to the menu.
//!
//! In test mode the UI is not started (it needs the rescue system's console and disks).

use super::console::{self, say};
use super::media::Access;
use super::menu::{self, Power};
use super::status::Boot;
use crate::tui::StartChoice;
use crate::ui::{self, Exit};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Where the restored system is mounted while its files are restored.
const TARGET_ROOT: &str = "/mnt/restore";

/// Runs the UI (starting at `start`, a choice of its Start screen, when given). Returns an
/// exit code only in test mode, when a power-off ends the run; `None` for the menu.
pub fn run(boot: &Boot, pid1: bool, start: Option<StartChoice>) -> Option<i32> {
    if !pid1 {
        say("test mode: the terminal UI is not started");
        return None;
    }
    let media = match &boot.access {
        Some(Access::Mounted(dir)) => dir.clone(),
        Some(Access::Direct(dev)) => dev.clone(),
        None => {
            say("no media found: the restore needs it (the shell can mount it by hand)");
            return None;
        }
    };
    let opts = ui::Options {
        media,
        disks: Vec::new(),
        root: PathBuf::from(TARGET_ROOT),
        start,
        pid1,
        trust: boot.trust.clone(),
    };
    match catch_unwind(AssertUnwindSafe(|| ui::run(&opts))) {
        Ok(Ok(Exit::Quit)) => None,
        Ok(Ok(Exit::Reboot)) => menu::power(Power::Reboot, pid1),
        Ok(Ok(Exit::PowerOff)) => menu::power(Power::Off, pid1),
        Ok(Err(e)) => {
            console::error(&e.context("the terminal UI"));
            None
        }
        Err(_) => {
            say("the terminal UI stopped on an internal error (see the panic above)");
            None
        }
    }
}
