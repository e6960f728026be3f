//! `rescue.mode=nuke`: the whole restore from the boot media, as the kernel command line
//! says (rescue.disk-map, rescue.yes, rescue.poweroff), the boot loader reinstalled as the
//! mountlist's boot mode says; then one line rehearsals wait for, `nuke finished: OK` or
//! `nuke finished: FAILED (why)`, and power off or the menu.
//!
//! In test mode it is a dry run: the plan and what would run are printed, nothing is
//! written.

use super::console::say;
use super::media::{Access, Places};
use super::menu::{self, Power};
use super::status::Boot;
use super::Config;
use crate::engine::nuke::{self, Env, Request};
use rescue_core::mountlist::resize::ResizeMode;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Where the restored system is mounted while its files are restored.
const TARGET_ROOT: &str = "/mnt/restore";

/// Runs the nuke and says how it ended; then powers off when asked to (the exit code, in
/// test mode), else returns `None` for the menu.
pub fn run(cfg: &Config, boot: &Boot) -> Option<i32> {
    let outcome = catch_unwind(AssertUnwindSafe(|| nuke(cfg, boot)))
        .unwrap_or_else(|_| Err("it stopped on an internal error (see the panic above)".into()));
    match outcome {
        Ok(()) if cfg.pid1 => say("nuke finished: OK"),
        Ok(()) => say("nuke finished: OK (test mode: a dry run, nothing was written)"),
        Err(why) => say(format_args!("nuke finished: FAILED ({why})")),
    }
    if boot.options.poweroff {
        return menu::power(Power::Off, cfg.pid1);
    }
    None
}

/// The nuke itself; why it failed, in one line.
fn nuke(cfg: &Config, boot: &Boot) -> Result<(), String> {
    let req = request(cfg, boot)?;
    let env = Env {
        sys: cfg.path("/sys"),
        // The other volumes of the backup: on any attached device.
        places: Places {
            class_block: cfg.path("/sys/class/block"),
            dev: cfg.path("/dev"),
            make_nodes: cfg.pid1,
        },
    };
    say(format_args!(
        "nuke: restoring from {}{}",
        req.media.display(),
        if req.dry_run {
            " (test mode: a dry run)"
        } else {
            ""
        }
    ));
    match nuke::run_in(&req, &env) {
        Ok(0) => Ok(()),
        Ok(_) => Err("not everything was restored, or it was not confirmed: see above".into()),
        Err(e) => Err(format!("{e:#}").replace('\n', " ")),
    }
}

/// The request the kernel command line makes.
fn request(cfg: &Config, boot: &Boot) -> Result<Request, String> {
    let media = match &boot.access {
        Some(Access::Mounted(dir)) => dir.clone(),
        Some(Access::Direct(dev)) => dev.clone(),
        None => return Err("no media found".into()),
    };
    let o = &boot.options;
    Ok(Request {
        media,
        disk_map: o
            .disk_map
            .iter()
            .map(|(old, new)| format!("{old}={new}"))
            .collect(),
        resize: ResizeMode::Proportional,
        root: PathBuf::from(TARGET_ROOT),
        yes: o.yes,
        dry_run: !cfg.pid1,
        boot_loader: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::cmdline;

    #[test]
    fn the_command_line_makes_the_request() {
        let cfg = Config {
            pid1: true,
            root: PathBuf::from("/"),
            kernel_release: None,
        };
        let mut boot = Boot {
            options: cmdline::parse(
                "rescue.mode=nuke rescue.yes rescue.disk-map=/dev/sda=/dev/vda \
                 rescue.disk-map=/dev/sdb=/dev/vdb",
            ),
            ..Boot::default()
        };
        assert_eq!(request(&cfg, &boot).unwrap_err(), "no media found");
        boot.access = Some(Access::Mounted(PathBuf::from(super::super::MEDIA_MOUNT)));
        let req = request(&cfg, &boot).unwrap();
        assert_eq!(req.media, PathBuf::from("/run/rescue/media"));
        assert_eq!(req.disk_map, ["/dev/sda=/dev/vda", "/dev/sdb=/dev/vdb"]);
        assert!(req.yes && req.boot_loader && !req.dry_run);
    }
}
