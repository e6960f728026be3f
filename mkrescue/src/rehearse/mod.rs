//! `mkrescue rehearse --media PATH`: a whole restore, rehearsed in QEMU.
//!
//! The media boot (through their own boot menu, BIOS or UEFI) against blank virtual disks
//! sized from the mountlist (or `--disk-size`), every volume in a CD drive. The rescue
//! system gets its orders through QEMU's fw_cfg, which real hardware does not have (see
//! [`plan`]): an unattended nuke onto the virtual disks, a verification of every restored
//! file against the catalog, a one-line report on the serial console, power off. With
//! `--boot-check` the restored disks then boot alone, and the restored root filesystem
//! (or the serial console) must show that the system started ([`boot_check`]).
//!
//! Every wait has a time limit: a hang is a failure with the log's tail, and QEMU is
//! killed on every path. The disk images live in `--keep DIR` (kept), or in a scratch
//! directory under /var/tmp whose images are removed at the end; the serial logs stay.

pub mod boot_check;
pub mod plan;
pub mod report;
pub mod serial;
pub mod vm;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use plan::{Asked, Plan, FW_CFG_NAME};
use report::{BootCheck, DiskReport, Report, REPORT_VERSION};
use rescue_core::mountlist::Mountlist;
use rescue_core::size::{format_bytes, parse_bytes};
use rescue_core::volume::{find_volumes, Volume, VolumeKind};
use serial::Finished;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vm::{tail, Accel, Firmware, Vm, VmOptions};

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// The media: rescue-1.iso, or the directory holding rescue-1.iso, rescue-2.iso ...
    #[arg(long, value_name = "PATH")]
    pub media: PathBuf,

    /// The firmware the virtual machine boots with (default: the mountlist's boot mode)
    #[arg(long, value_name = "FIRMWARE")]
    pub firmware: Option<FirmwareArg>,

    /// The size of a virtual disk, for the mountlist's disks in order (repeat it); the
    /// others keep their size. Rehearses a restore onto bigger or smaller disks
    #[arg(long = "disk-size", value_name = "SIZE")]
    pub disk_sizes: Vec<String>,

    /// Then boot the restored disks alone and check that the restored system starts
    #[arg(long)]
    pub boot_check: bool,

    /// With --boot-check: a text the restored system prints on its serial console when it
    /// is up, and that must appear (without it a login prompt, or its root filesystem
    /// mounted read-write, counts)
    #[arg(long, value_name = "TEXT", requires = "boot_check")]
    pub boot_check_expect: Option<String>,

    /// Write the report as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Keep the restored disk images (and the serial logs) in DIR
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,

    /// How QEMU runs the guest: tcg (emulated, works everywhere) or kvm
    #[arg(long, value_name = "ACCEL", default_value = "tcg")]
    pub accel: AccelArg,

    /// Memory of the virtual machine, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub memory: u32,

    /// Seconds the boot, the restore and the verification may take together (default:
    /// 10 minutes, plus a minute for every 240 MiB of backup)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Seconds the restored system may take to show that it started
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub boot_check_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FirmwareArg {
    Bios,
    Uefi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelArg {
    Tcg,
    Kvm,
}

/// How long the rescue system may take to say it is ready.
const BOOT_LIMIT: Duration = Duration::from_secs(300);
/// How long a guest that said it powers off may take to do it.
const POWER_OFF_LIMIT: Duration = Duration::from_secs(60);
/// How often the serial log and the disk are looked at.
const POLL: Duration = Duration::from_millis(250);

/// The media's volumes, volume 1 first, each an ISO image; and volume 1's mountlist.
fn media(path: &Path) -> anyhow::Result<(Vec<Volume>, Mountlist)> {
    let mut volumes =
        find_volumes(path).with_context(|| format!("finding the volumes at {}", path.display()))?;
    volumes.sort_by_key(|v| v.manifest().volume);
    for v in &volumes {
        if v.kind() != VolumeKind::Iso {
            bail!(
                "{} is not an ISO image: a rehearsal boots ISO images in CD drives (make the \
                 media with --output-format iso, or give the .iso files)",
                v.path().display()
            );
        }
    }
    let first = volumes
        .first()
        .filter(|v| v.manifest().volume == 1)
        .with_context(|| {
            format!(
                "volume 1 (it boots, and holds the mountlist) is not at {}",
                path.display()
            )
        })?;
    let ml = first.read_mountlist()?;
    Ok((volumes, ml))
}

/// Where the images and logs go: `--keep DIR`, or a scratch directory under /var/tmp
/// (images are sparse, but may be large: /tmp is often a small tmpfs).
fn work_dir(keep: Option<&Path>) -> anyhow::Result<PathBuf> {
    match keep {
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
            Ok(dir.to_path_buf())
        }
        None => Ok(tempfile::Builder::new()
            .prefix("mkrescue-rehearse-")
            .tempdir_in("/var/tmp")
            .context("making a scratch directory under /var/tmp")?
            .keep()),
    }
}

/// Runs `mkrescue rehearse`; 0 when everything passed.
pub fn run(args: &RehearseArgs) -> anyhow::Result<i32> {
    let (volumes, ml) = media(&args.media)?;
    let manifest = volumes[0].manifest().clone();
    let backup_bytes: u64 = volumes
        .iter()
        .flat_map(|v| &v.manifest().sets)
        .map(|s| s.bytes)
        .sum();
    let asked = Asked {
        firmware: args.firmware.map(|f| match f {
            FirmwareArg::Bios => Firmware::Bios,
            FirmwareArg::Uefi => Firmware::Uefi,
        }),
        disk_sizes: args
            .disk_sizes
            .iter()
            .map(|s| parse_bytes(s).with_context(|| format!("--disk-size {s}")))
            .collect::<anyhow::Result<_>>()?,
        timeout: args.timeout.map(Duration::from_secs),
    };
    let cdroms = volumes.iter().map(|v| v.path().to_path_buf()).collect();
    let plan = plan::plan(&ml, cdroms, backup_bytes, &asked)?;
    let accel = match args.accel {
        AccelArg::Tcg => Accel::Tcg,
        AccelArg::Kvm => Accel::Kvm,
    };
    let dir = work_dir(args.keep.as_deref())?;
    println!(
        "rehearsing backup {} of {} ({} volume(s), {} of sets) in QEMU ({}, {}); work \
         directory {}",
        manifest.backup_id,
        ml.host.hostname,
        volumes.len(),
        format_bytes(backup_bytes),
        plan.firmware.name(),
        accel.name(),
        dir.display()
    );
    for d in plan.describe_disks() {
        println!("  {d}");
    }
    let images: Vec<PathBuf> = (0..plan.disks.len())
        .map(|i| boot_check::image_name(&dir, i))
        .collect();
    let mut report = Report {
        version: REPORT_VERSION,
        ok: true,
        failure: None,
        media: args.media.clone(),
        backup_id: manifest.backup_id.clone(),
        hostname: ml.host.hostname.clone(),
        firmware: plan.firmware.name().into(),
        accel: accel.name().into(),
        disks: plan
            .disks
            .iter()
            .zip(&images)
            .map(|(d, image)| DiskReport {
                original: d.original.clone(),
                guest: d.guest.clone(),
                bytes: d.bytes,
                original_bytes: d.original_bytes,
                image: args.keep.as_ref().map(|_| image.clone()),
            })
            .collect(),
        phases: Vec::new(),
        restore: Default::default(),
        verify: Default::default(),
        boot_check: BootCheck::default(),
        serial_logs: Vec::new(),
        kept: args.keep.clone(),
    };
    let run = Run {
        args,
        plan: &plan,
        ml: &ml,
        dir: &dir,
        images: &images,
        accel,
    };
    let result = rehearse(&run, &mut report);
    if let Err(e) = result {
        report.fail(format!("{e:#}"));
    }
    if args.keep.is_none() {
        for image in &images {
            // Gone already when the run stopped before making it.
            let _ = fs::remove_file(image);
        }
    }
    print!("\n{report}");
    if let Some(path) = &args.report {
        write_report(path, &report)?;
        println!("report written to {}", path.display());
    }
    Ok(if report.ok { 0 } else { 1 })
}

/// Writes the JSON report under a temporary name, then renames it into place.
fn write_report(path: &Path, report: &Report) -> anyhow::Result<()> {
    let mut json = serde_json::to_string_pretty(report).context("encoding the report")?;
    json.push('\n');
    crate::output::write_atomically(path, json.as_bytes(), 0o600)
}

/// What both runs of a rehearsal work with.
struct Run<'a> {
    args: &'a RehearseArgs,
    plan: &'a Plan,
    ml: &'a Mountlist,
    /// The work directory.
    dir: &'a Path,
    /// The disk images, one per disk of the mountlist.
    images: &'a [PathBuf],
    accel: Accel,
}

/// The restore run, then the boot check; what happened goes into `report`.
fn rehearse(run: &Run<'_>, report: &mut Report) -> anyhow::Result<()> {
    let Run {
        args,
        plan,
        dir,
        images,
        accel,
        ..
    } = *run;
    for (image, d) in images.iter().zip(&plan.disks) {
        fs::File::create(image)
            .and_then(|f| f.set_len(d.bytes))
            .with_context(|| format!("making the blank disk {}", image.display()))?;
    }
    let rescue_dir = dir.join("rescue");
    fs::create_dir_all(&rescue_dir)?;
    let opts = VmOptions {
        firmware: plan.firmware,
        accel,
        cdroms: plan.cdroms.clone(),
        disks: images.to_vec(),
        memory_mb: args.memory,
        fw_cfg: vec![(FW_CFG_NAME.to_string(), plan.guest_options.clone())],
        ..VmOptions::default()
    };
    println!("booting the media: the rescue system restores onto the blank disks");
    let mut vm = Vm::start_in(&opts, &rescue_dir)?;
    report.serial_logs.push(vm.serial_path().to_path_buf());
    let restored = watch_restore(&mut vm, plan, report);
    drop(vm);
    restored?;
    if !report.ok {
        return Ok(());
    }
    if args.boot_check {
        boot_check(run, report)?;
    }
    Ok(())
}

/// Follows the rescue system's serial console through boot, restore, verification and
/// power off.
fn watch_restore(vm: &mut Vm, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut mark = start;
    let since = |t: &mut Instant| {
        let s = t.elapsed().as_secs_f64();
        *t = Instant::now();
        s
    };
    // Boot: power-on to the ready line.
    let limit = BOOT_LIMIT.min(plan.restore_timeout);
    if let Err(e) = vm.wait_for(serial::READY, limit) {
        let kernel = vm.serial_log().contains("Linux version");
        report.phase("boot", false, since(&mut mark), "no ready line");
        bail!(
            "the rescue system did not report ready on the serial console ({}). {}\n{e:#}",
            if kernel {
                "its kernel started; were the media made by a mkrescue without rehearsal \
                 support (no qemu_fw_cfg module)?"
            } else {
                "no kernel message either: do the media boot with this firmware?"
            },
            "Serial log tail follows"
        );
    }
    report.phase(
        "boot",
        true,
        since(&mut mark),
        "power-on to restore-tui ready",
    );
    println!(
        "  rescue system ready after {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // Restore, then verify: each ends with its line.
    let left = |start: Instant| plan.restore_timeout.saturating_sub(start.elapsed());
    let log = wait_line(vm, serial::NUKE_FINISHED, left(start), "the restore")?;
    match serial::finished(&log, serial::NUKE_FINISHED) {
        Some(Finished::Ok) => report.phase("restore", true, since(&mut mark), "nuke finished: OK"),
        Some(Finished::Failed(why)) => {
            report.phase("restore", false, since(&mut mark), why.clone());
            report.fail(format!("the restore failed: {why}"));
        }
        None => unreachable!("wait_line returned without the line"),
    }
    println!(
        "  restore finished after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if report.ok {
        let log = wait_line(vm, serial::VERIFY_FINISHED, left(start), "the verification")?;
        match serial::finished(&log, serial::VERIFY_FINISHED) {
            Some(Finished::Ok) => {
                report.phase("verify", true, since(&mut mark), "every file as backed up")
            }
            Some(Finished::Failed(why)) => {
                report.phase("verify", false, since(&mut mark), why.clone());
                report.fail(format!("the verification failed: {why}"));
            }
            None => unreachable!("wait_line returned without the line"),
        }
    }
    let log = wait_line(vm, serial::REPORT, POWER_OFF_LIMIT, "the report")?;
    match serial::report(&log) {
        Some(Ok(r)) => {
            report.restore = r.restore;
            report.verify = r.verify;
        }
        Some(Err(e)) => report.fail(e),
        None => unreachable!("wait_line returned without the line"),
    }
    match vm.wait_exit(POWER_OFF_LIMIT) {
        Ok(status) if status.success() => {
            report.phase(
                "power off",
                true,
                since(&mut mark),
                "the rescue system powered off",
            );
        }
        Ok(status) => {
            report.phase(
                "power off",
                false,
                since(&mut mark),
                format!("QEMU: {status}"),
            );
            report.fail(format!("QEMU ended with {status}"));
        }
        Err(e) => {
            report.phase("power off", false, since(&mut mark), "did not power off");
            report.fail(format!("{e:#}"));
        }
    }
    Ok(())
}

/// Waits for a line of the rescue system; a QEMU that ends or a timeout is an error that
/// names `what` was awaited.
fn wait_line(vm: &mut Vm, prefix: &str, limit: Duration, what: &str) -> anyhow::Result<String> {
    vm.wait_for(prefix, limit)
        .with_context(|| format!("waiting for {what} to finish (a hang or a crash)"))
}

/// Boots the restored disks alone and waits for a sign that the restored system runs.
fn boot_check(run: &Run<'_>, report: &mut Report) -> anyhow::Result<()> {
    let Run {
        args,
        plan,
        ml,
        dir,
        images,
        accel,
    } = *run;
    let start = Instant::now();
    let root = boot_check::root_place(ml, images);
    let before = match &root {
        Some(place) if boot_check::stamped(&place.fs_type) => boot_check::read_stamp(place)?,
        _ => None,
    };
    let check_dir = dir.join("boot-check");
    fs::create_dir_all(&check_dir)?;
    let opts = VmOptions {
        firmware: plan.firmware,
        accel,
        disks: images.to_vec(),
        memory_mb: args.memory,
        ..VmOptions::default()
    };
    println!("booting the restored disks alone");
    let mut vm = Vm::start_in(&opts, &check_dir)?;
    report.serial_logs.push(vm.serial_path().to_path_buf());
    let limit = Duration::from_secs(args.boot_check_timeout);
    let mut check = BootCheck {
        ran: true,
        ..BootCheck::default()
    };
    // Any sign will do, unless a text was asked for: then that text is what counts.
    let expect = args.boot_check_expect.as_deref();
    let (mut mounted, mut shown) = (None, None);
    let ended = loop {
        let ended = vm.try_exit()?.is_some();
        if let (Some(place), Some(b), None) = (&root, before, &mounted) {
            if let Some(now) = boot_check::read_stamp(place)?.filter(|now| *now != b) {
                mounted = Some(format!(
                    "its kernel mounted / ({}) read-write (mount count {} -> {})",
                    place.name, b.count, now.count
                ));
            }
        }
        if shown.is_none() {
            shown = boot_check::serial_sign(&vm.serial_log(), expect)
                .map(|sign| format!("its serial console showed {sign:?}"));
        }
        let enough = if expect.is_some() {
            shown.is_some()
        } else {
            mounted.is_some() || shown.is_some()
        };
        if enough || ended || start.elapsed() > limit {
            break ended;
        }
        std::thread::sleep(POLL);
    };
    check
        .evidence
        .extend(mounted.into_iter().chain(shown.clone()));
    let log = vm.serial_log();
    let powered = if ended {
        "it powered off by itself"
    } else if vm.power_down(Duration::from_secs(60))? {
        "then it was powered down (ACPI)"
    } else {
        "then it was stopped (it did not power down within 60 s)"
    };
    check.ok = if expect.is_some() {
        shown.is_some()
    } else {
        !check.evidence.is_empty()
    };
    check.detail = if check.ok {
        powered.to_string()
    } else {
        let watched = match &root {
            Some(p) if before.is_some() => format!("/ ({}) was watched", p.name),
            Some(p) => format!(
                "/ ({}) keeps no mount stamp, so only the serial console counted",
                p.name
            ),
            None => "the mountlist has no / to watch".to_string(),
        };
        // A silent console says nothing: say what can be seen from outside.
        let firmware = vm.firmware_log();
        format!(
            "no sign of the restored system within {} s ({watched}); {powered}. What the \
             disks hold:\n  {}\nThe firmware's last words:\n{}\nSerial log tail:\n{}",
            limit.as_secs(),
            boot_check::outside_view(images).join("\n  "),
            if firmware.trim().is_empty() {
                "(nothing)".to_string()
            } else {
                tail(&firmware, 10)
            },
            tail(&log, 20)
        )
    };
    report.phase(
        "boot check",
        check.ok,
        start.elapsed().as_secs_f64(),
        if check.ok {
            "the restored disks boot by themselves"
        } else {
            "no sign of the restored system"
        },
    );
    if !check.ok {
        report.fail("the restored disks did not show that they boot (see the boot check)");
    }
    report.boot_check = check;
    Ok(())
}
