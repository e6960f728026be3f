//! Command-line parsing and dispatch.

use crate::init;
use anyhow::Context;
use clap::{CommandFactory, Parser, ValueEnum};
use rescue_core::mountlist::resize::ResizeMode;
use rescue_core::mountlist::{self, render, validate};
use rescue_core::signature::Trust;
use std::path::PathBuf;

/// What restore-tui does (`--mode`), as the boot menu and `rescue.mode=` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// The terminal UI
    Interactive,
    /// Rebuild the disks and restore everything without questions (one confirmation
    /// unless --yes)
    Nuke,
    /// Compare the disks with the backup
    Compare,
    /// A shell
    Expert,
}

#[derive(Debug, Parser)]
#[command(
    name = "restore-tui",
    version,
    about = "Rebuild disks and restore files from mkrescue rescue media"
)]
struct Cli {
    /// A mountlist file (as mkrescue writes it) to check and show: every disk, partition and
    /// filesystem the restore would recreate, and any problem that would stop it
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present_any = ["init", "console_shell", "media"]
    )]
    mountlist: Option<PathBuf>,

    /// The backup to restore from: an ISO image, a block device, a volume directory, or a
    /// directory holding the volumes (rescue-1.iso, rescue-2.iso ...)
    #[arg(long, value_name = "PATH", conflicts_with = "mountlist")]
    media: Option<PathBuf>,

    /// Accept only volumes whose manifest is signed by this ed25519 public key (PEM, as
    /// `openssl pkey -in KEY.pem -pubout` writes it); any other volume is refused
    #[arg(long, value_name = "PUB", requires = "media")]
    trusted_key: Option<PathBuf>,

    /// Restore the files into this directory of the running system (no partitioning)
    #[arg(long, value_name = "DIR", requires = "media")]
    target: Option<PathBuf>,

    /// Restore only this path and what lies below it, as it was on the backed-up system
    /// ("/etc", "/home/ann"); repeatable. Without it, everything
    #[arg(long, value_name = "PATH")]
    select: Vec<String>,

    /// Put OLD (and what lies below it) at NEW instead, inside the target ("/home=/tmp/home");
    /// repeatable
    #[arg(long, value_name = "OLD=NEW")]
    rename: Vec<String>,

    /// With --target: leave the restored files owned by the user running the restore, not
    /// by their owners in the backup (as root the default is the backup's owners, as GNU
    /// tar's)
    #[arg(long, requires = "target")]
    no_same_owner: bool,

    /// With --target: leave out device nodes, setuid and setgid bits and file capabilities
    /// (for a backup from a machine you do not trust; a full restore keeps everything)
    #[arg(long, requires = "target")]
    no_special: bool,

    /// Restore without asking for confirmation
    #[arg(long)]
    yes: bool,

    /// What to do: "nuke" rebuilds the disks from the mountlist and restores everything
    /// (with --media, and --disk-map where the disks have other names)
    #[arg(long, value_enum, value_name = "MODE")]
    mode: Option<Mode>,

    /// With --mode nuke: restore original disk OLD onto disk NEW (/dev/sda=/dev/vdb, or
    /// sda=vdb; NEW:SIZE uses only SIZE of it); repeatable. Without it each disk is
    /// restored onto the disk of the same name, when that is at least as large
    #[arg(long, value_name = "OLD=NEW[:SIZE]")]
    disk_map: Vec<String>,

    /// With --mode nuke: how a layout is fitted onto a disk of another size: every
    /// resizable partition in proportion, or only the last one grows (or shrinks)
    #[arg(long, value_name = "HOW", default_value = "proportional",
          value_parser = ["proportional", "grow-last"])]
    resize: String,

    /// With --mode nuke or interactive: where the restored system is mounted while its files are restored
    #[arg(long, value_name = "DIR", default_value = "/mnt/restore")]
    target_root: PathBuf,

    /// With --mode nuke: reinstall the boot loader (grub-install in the restored system)
    #[arg(long)]
    boot_loader: bool,

    /// With --mode nuke: print the plan and what would run, and write nothing
    #[arg(long)]
    dry_run: bool,

    /// With --mode nuke: afterwards mount the restored disks read-only (at --target-root)
    /// and compare every file with the backup's catalog; differences the restore makes on
    /// purpose (fstab, its log, the boot loader) are listed apart, any other fails the run
    #[arg(long, requires = "mode")]
    verify: bool,

    /// With --mode compare: how many paths to name in each list (the rest are counted)
    #[arg(long, value_name = "N", default_value_t = 20)]
    show: usize,

    /// With --mode interactive: offer only this disk as a target (repeatable); without it
    /// every whole disk found is offered, except those in use or holding the backup
    #[arg(long, value_name = "DEV")]
    disk: Vec<String>,

    /// Run the rescue system's start-up as an ordinary process, for tests (as PID 1 it
    /// runs by itself, whatever the arguments)
    #[arg(long, hide = true, conflicts_with = "mountlist")]
    init: bool,

    /// With --init: read /proc, /sys, /dev, /lib/modules and /etc/rescue under DIR
    #[arg(long, hide = true, value_name = "DIR", requires = "init")]
    root_dir: Option<PathBuf>,

    /// With --init: the kernel release whose modules to load
    #[arg(long, hide = true, value_name = "RELEASE", requires = "init")]
    kernel_release: Option<String>,

    /// Become a session leader with the console as controlling terminal and exec SHELL
    /// (PID 1 starts its shells this way)
    #[arg(long, hide = true, value_name = "SHELL", conflicts_with_all = ["mountlist", "init"])]
    console_shell: Option<String>,
}

/// Runs restore-tui with the process arguments and returns the exit code:
/// 0 success, 1 failure, 2 usage error.
pub fn main() -> i32 {
    // As /init the kernel passes the unknown words of its command line as arguments: PID 1
    // must not read them as options, and must never exit.
    if init::is_pid1() {
        init::run_pid1();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            // Printing help or the usage error can only fail on a closed stdout/stderr.
            let _ = e.print();
            return code;
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    if cli.init {
        return Ok(init::run(&init::Config {
            pid1: false,
            root: cli.root_dir.clone().unwrap_or_else(|| PathBuf::from("/")),
            kernel_release: cli.kernel_release.clone(),
        }));
    }
    if let Some(shell) = &cli.console_shell {
        return Err(init::shell::exec_console_shell(shell));
    }
    if let Some(mode) = cli.mode {
        return run_mode(cli, mode);
    }
    if cli.media.is_some() && cli.target.is_none() {
        return Ok(usage_error(
            "--media needs --target DIR (restore files into a directory), or --mode nuke \
             (rebuild the disks)",
        ));
    }
    if let (Some(media), Some(target)) = (&cli.media, &cli.target) {
        let request = crate::files::Request {
            media: media.clone(),
            target: target.clone(),
            select: cli.select.clone(),
            rename: cli.rename.clone(),
            yes: cli.yes,
            no_same_owner: cli.no_same_owner,
            no_special: cli.no_special,
            trust: trust(cli)?,
        };
        return crate::files::run(&request);
    }
    let Some(path) = &cli.mountlist else {
        unreachable!("clap requires --mountlist without --init or --console-shell");
    };
    let ml = mountlist::read_file(path).with_context(|| format!("loading {}", path.display()))?;
    print!("{}", render::table(&ml));
    for warning in &ml.warnings {
        println!("captured with warning: {warning}");
    }
    let problems = validate::validate(&ml);
    for problem in &problems {
        eprintln!("{}: {problem}", problem.severity);
    }
    Ok(if validate::has_errors(&problems) {
        1
    } else {
        0
    })
}

/// Which volumes are accepted: with `--trusted-key`, only those signed by it.
fn trust(cli: &Cli) -> anyhow::Result<Trust> {
    Trust::from_key_file(cli.trusted_key.as_deref()).context("--trusted-key")
}

/// Prints a usage error as clap does and gives its exit code (2).
fn usage_error(message: &str) -> i32 {
    let e = Cli::command().error(clap::error::ErrorKind::MissingRequiredArgument, message);
    let _ = e.print();
    e.exit_code()
}

fn run_mode(cli: &Cli, mode: Mode) -> anyhow::Result<i32> {
    if cli.verify && mode != Mode::Nuke {
        return Ok(usage_error(
            "--verify checks a nuke: it goes with --mode nuke (--mode compare compares \
             the disks by itself)",
        ));
    }
    match mode {
        Mode::Nuke => {
            let Some(media) = &cli.media else {
                return Ok(usage_error(
                    "--mode nuke needs --media PATH: the backup to restore",
                ));
            };
            if cli.target.is_some() {
                return Ok(usage_error(
                    "--mode nuke restores onto disks (--disk-map), not into a directory \
                     (--target)",
                ));
            }
            let resize: ResizeMode = cli.resize.parse()?;
            let request = crate::engine::nuke::Request {
                media: media.clone(),
                disk_map: cli.disk_map.clone(),
                resize,
                root: cli.target_root.clone(),
                yes: cli.yes,
                dry_run: cli.dry_run,
                boot_loader: cli.boot_loader,
                trust: trust(cli)?,
            };
            crate::engine::nuke::run(&request, cli.verify)
        }
        Mode::Interactive => {
            let Some(media) = &cli.media else {
                return Ok(usage_error(
                    "--mode interactive needs --media PATH: the backup to restore",
                ));
            };
            if cli.target.is_some() {
                return Ok(usage_error(
                    "--mode interactive restores onto disks (chosen in the UI), not into a \
                     directory (--target)",
                ));
            }
            interactive(&crate::ui::Options {
                media: media.clone(),
                disks: cli.disk.clone(),
                root: cli.target_root.clone(),
                start: None,
                pid1: false,
                trust: trust(cli)?,
            })
        }
        Mode::Compare => {
            let Some(media) = &cli.media else {
                return Ok(usage_error(
                    "--mode compare needs --media PATH: the backup to compare with",
                ));
            };
            if cli.target.is_some() && !cli.disk_map.is_empty() {
                return Ok(usage_error(
                    "--mode compare compares a directory (--target) or the disks \
                     (--disk-map), not both",
                ));
            }
            use crate::engine::compare::{run, Against, Request};
            let against = match &cli.target {
                Some(dir) => Against::Dir(dir.clone()),
                None => Against::Disks {
                    disk_map: cli.disk_map.clone(),
                    root: cli.target_root.clone(),
                },
            };
            run(&Request {
                media: media.clone(),
                against,
                show: cli.show,
                trust: trust(cli)?,
            })
        }
        other => Ok(usage_error(&format!(
            "--mode {}: not available from the command line yet (use --mode nuke, or \
             --media with --target)",
            other
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        ))),
    }
}

/// The terminal UI on a running system: reboot and power off are the rescue system's to
/// do, so here they end the UI like quitting.
fn interactive(opts: &crate::ui::Options) -> anyhow::Result<i32> {
    if !crate::init::console::stdin_is_tty() {
        anyhow::bail!(
            "--mode interactive needs a terminal; without one use --mode nuke --yes, or \
             --media with --target to restore files"
        );
    }
    let exit = crate::ui::run(opts)?;
    if exit != crate::ui::Exit::Quit {
        println!("restore-tui: reboot and power off are left to you on a running system");
    }
    Ok(0)
}
