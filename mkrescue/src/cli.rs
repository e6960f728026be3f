//! Command-line parsing and dispatch; each command's work lives in its own module.

use crate::create::{self, CreateArgs};
use crate::mountlist_cmd::{self, MountlistArgs};
use crate::probe::SystemPaths;
use crate::rehearse::{self, RehearseArgs};
use crate::verify::{self, VerifyArgs};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mkrescue",
    version,
    about = "Make bootable rescue media that can rebuild this Linux host's disks and files",
    long_about = "Make bootable rescue media that can rebuild this Linux host's disks and files.\n\n\
                  mkrescue captures the disk layout (the mountlist) and the files of a running \
                  host; restore-tui, booted from the media, rebuilds the disks and restores \
                  the files."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the disk layout (the mountlist) that rescue media of this host would carry
    #[command(
        long_about = "Print the disk layout (the mountlist) that rescue media of this host would \
                      carry: every disk holding a mounted filesystem or an active swap, all of \
                      its partitions, each filesystem with its UUID, label, mount point and \
                      creation parameters, and how /etc/fstab refers to it.\n\n\
                      With --input it reads a saved mountlist instead, checks it and prints it; \
                      with --disk-map it shows how the layout would be laid onto other disks."
    )]
    Mountlist(MountlistArgs),

    /// Make bootable rescue media of this host: rescue-1.iso in --output
    #[command(
        long_about = "Make bootable rescue media of this host: rescue-1.iso in --output, an \
                      ISO 9660 image that boots under BIOS and UEFI from a CD or, written with \
                      dd, from a USB disk. It holds the disk layout (the mountlist), the kernel \
                      with the modules a restore needs, the restore tools with their libraries, \
                      and restore-tui, which starts when the media boot."
    )]
    Create(Box<CreateArgs>),

    /// Check rescue media: every set of every volume against its BLAKE3, and (with
    /// --against) the backup against a live tree
    #[command(
        long_about = "Check rescue media: read every archive set of every volume and check it \
                      against the BLAKE3 its manifest and hash list give, name the files a \
                      damaged, truncated or missing set or volume holds, and with --against \
                      compare the backup's catalog with a live tree (files missing, changed, \
                      new), as Mondo's -V does. Exit status 0 when all is well, 1 on any \
                      problem or difference."
    )]
    Verify(VerifyArgs),

    /// Rehearse a restore in QEMU: boot the media against blank disks, nuke, verify every
    /// file, and (--boot-check) boot the restored disks
    #[command(
        long_about = "Rehearse a restore in QEMU, before anyone needs it: boot the media (BIOS \
                      or UEFI, through their own boot menu) against blank virtual disks sized \
                      from the mountlist (or --disk-size), run an unattended nuke restore, \
                      verify every restored file against the backup's catalog inside the \
                      rescue system, and with --boot-check boot the restored disks alone and \
                      check that the restored system starts. Prints a report (each phase with \
                      its time, files and bytes restored, the verification, the serial logs) \
                      and writes it as JSON with --report. Exit status 0 only when everything \
                      passed; a hang is a failure after a time limit, never a stuck process."
    )]
    Rehearse(Box<RehearseArgs>),
}

/// Where the kernel's views are, for capturing from a copy of another system's (hidden:
/// tests point them at miniature trees).
#[derive(Debug, Clone, Args)]
pub struct SystemArgs {
    /// Where /sys is
    #[arg(long, value_name = "DIR", default_value = "/sys", hide = true)]
    pub sysfs: PathBuf,

    /// Where /proc is
    #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
    pub procfs: PathBuf,

    /// Where /dev is
    #[arg(long, value_name = "DIR", default_value = "/dev", hide = true)]
    pub devfs: PathBuf,
}

impl SystemArgs {
    pub fn paths(&self) -> SystemPaths {
        SystemPaths {
            proc: self.procfs.clone(),
            sys: self.sysfs.clone(),
            dev: self.devfs.clone(),
        }
    }
}

/// Runs mkrescue with the process arguments and returns the exit code:
/// 0 success, 1 failure, 2 usage error, 3 media made without part of the host
/// ([`crate::create::EXIT_INCOMPLETE`]).
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            // Printing help or the usage error can only fail on a closed stdout/stderr.
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Mountlist(args) => mountlist_cmd::run(&args),
        Command::Create(args) => create::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Rehearse(args) => rehearse::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
