//! `rescue.mode=nuke`: the whole restore from the boot media, as the kernel command line
//! says (rescue.disk-map, rescue.yes, rescue.poweroff), the boot loader reinstalled as the
//! mountlist's boot mode says; then one line rehearsals wait for, `nuke finished: OK` or
//! `nuke finished: FAILED (why)`. With `rescue.verify` the restored disks are then compared
//! with the catalog (`verify finished: OK` or `FAILED (why)`), and in a rehearsal
//! (`rescue.verify`, or options from the host) one line reports both
//! (`rehearsal-report {json}`, see [`super::rehearsal`]); then power off or the menu.
//!
//! In test mode it is a dry run: the plan and what would run are printed, nothing is
//! written, and nothing is verified.

use super::console::{self, say};
use super::media::{Access, Places};
use super::menu::{self, Power};
use super::rehearsal::{report, VerifyRun};
use super::status::Boot;
use super::Config;
use crate::engine::nuke::{self, Env, NukeOutcome, Request};
use crate::engine::verify;
use rescue_core::mountlist::resize::ResizeMode;
use rescue_core::runner::RealRunner;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the restored system is mounted while its files are restored.
const TARGET_ROOT: &str = "/mnt/restore";
/// Where the restored disks are mounted read-only to verify them.
const VERIFY_ROOT: &str = "/mnt/verify";
/// Why a nuke that ran to its end failed; the lines above it say more.
pub const NOT_EVERYTHING: &str = "not everything was restored, or it was not confirmed: see above";

/// Runs the nuke and says how it ended, then verifies and reports when asked to; then
/// powers off when asked to (the exit code, in test mode), else returns `None` for the
/// menu.
pub fn run(cfg: &Config, boot: &Boot) -> Option<i32> {
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| nuke(cfg, boot)))
        .unwrap_or_else(|_| Err("it stopped on an internal error (see the panic above)".into()));
    let seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(o) if o.code != 0 => say(format_args!("nuke finished: FAILED ({NOT_EVERYTHING})")),
        Ok(_) if cfg.pid1 => say("nuke finished: OK"),
        Ok(_) => say("nuke finished: OK (test mode: a dry run, nothing was written)"),
        Err(why) => say(format_args!("nuke finished: FAILED ({why})")),
    }
    let verified = if boot.options.verify {
        catch_unwind(AssertUnwindSafe(|| verify_nuke(&result))).unwrap_or_else(|_| {
            say("verify finished: FAILED (it stopped on an internal error, see the panic above)");
            VerifyRun::Stopped { seconds: 0.0 }
        })
    } else {
        VerifyRun::NotRun
    };
    if boot.options.verify || boot.host_options.is_some() {
        let backup_id = match (&result, &boot.manifest) {
            (Ok(o), _) => o.backup_id.clone(),
            (Err(_), Some(m)) => m.backup_id.clone(),
            (Err(_), None) => String::new(),
        };
        match report(&backup_id, &result, seconds, &verified).line() {
            Ok(line) => say(line),
            Err(e) => {
                console::error(&anyhow::Error::new(e).context("writing the rehearsal report"))
            }
        }
    }
    if boot.options.poweroff {
        return menu::power(Power::Off, cfg.pid1);
    }
    None
}

/// `rescue.verify`: the restored disks compared with the catalog, when the nuke finished
/// OK; says how it went.
fn verify_nuke(result: &Result<NukeOutcome, String>) -> VerifyRun {
    let restored = match result {
        Ok(o) if o.code == 0 => o
            .restored
            .as_ref()
            .ok_or("test mode: the nuke was a dry run"),
        _ => Err("the nuke failed"),
    };
    let restored = match restored {
        Ok(r) => r,
        Err(why) => {
            say(format_args!("verify: not run ({why})"));
            return VerifyRun::NotRun;
        }
    };
    say(format_args!(
        "verify: comparing the restored disks with the backup's catalog, read-only at \
         {VERIFY_ROOT}"
    ));
    let started = Instant::now();
    match verify::verify(restored, Path::new(VERIFY_ROOT), &RealRunner) {
        Ok(v) => {
            for line in v.lines() {
                console::show(&format!("{line}\n"));
            }
            say(v.finished_line());
            VerifyRun::Done(v)
        }
        Err(e) => {
            say(format_args!(
                "verify finished: FAILED ({})",
                format!("{e:#}").replace('\n', " ")
            ));
            VerifyRun::Stopped {
                seconds: started.elapsed().as_secs_f64(),
            }
        }
    }
}

/// The nuke itself: its outcome when it ran to its end (its code says whether everything
/// was restored), else why it stopped, in one line.
fn nuke(cfg: &Config, boot: &Boot) -> Result<NukeOutcome, String> {
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
    nuke::run_in(&req, &env).map_err(|e| format!("{e:#}").replace('\n', " "))
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
        trust: boot.trust.clone(),
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
