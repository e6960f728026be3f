//! Restore rehearsals end to end: a machine built on a loop disk (`qemu_tests::machines`:
//! UEFI with GPT, ESP, ext4, xfs and swap; BIOS with MBR, /boot, a logical /var and swap;
//! both with GRUB, a kernel and corpora) is backed up with `mkrescue create --root`, then
//! `mkrescue rehearse --boot-check --keep DIR --report FILE` boots the media in QEMU, nukes
//! onto blank disks, verifies inside the guest and boots the restored disks.
//!
//! After each rehearsal the kept disk images are checked from the host: `sfdisk --verify`,
//! each filesystem's type, UUID and label as in the mountlist and clean by its own fsck
//! (`e2fsck -fn`, `xfs_repair -n`, `fsck.fat -n`), and the corpora equal to the source's.

use host_tests::{
    assert_restored_filesystem, blkid_probe, command, host_lock, output, require_root_or_skip,
    HostLock, LoopDisk, Mounts,
};
use qemu_tests::machines::{self, Kind, Machine, MachineOptions, BOOT_MARKER};
use qemu_tests::{mkrescue_bin, mkrescue_create, require_qemu};
use rescue_core::mountlist::{FsType, Mountlist};
use rescue_core::volume::Volume;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

/// A machine, its media and what a rehearsal of them left.
struct Rehearsal {
    work: tempfile::TempDir,
    kept: PathBuf,
    report: Value,
    stdout: String,
    ml: Mountlist,
    // Dropped last: the source stays mounted for the comparison.
    machine: Machine,
    _lock: HostLock,
}

fn required() -> bool {
    require_qemu() && require_root_or_skip()
}

/// A machine of `kind` and its media (`work/media`), made with `create_args`.
fn machine_and_media(
    kind: Kind,
    opts: &MachineOptions,
    create_args: &[&str],
) -> (HostLock, tempfile::TempDir, Machine, PathBuf) {
    let lock = host_lock();
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    let machine = machines::build(kind, work.path(), opts, &lock).expect("building the machine");
    let out = work.path().join("media");
    host_tests::run(
        mkrescue_create(&mkrescue_bin().unwrap(), machine.root(), &out).args(create_args),
    );
    (lock, work, machine, out)
}

/// Builds the machine, makes its media with `create_args`, rehearses with `args`.
fn rehearse(kind: Kind, opts: &MachineOptions, create_args: &[&str], args: &[&str]) -> Rehearsal {
    let (lock, work, machine, out) = machine_and_media(kind, opts, create_args);
    let mkrescue = mkrescue_bin().unwrap();
    let first = Volume::open(&out.join("rescue-1.iso")).unwrap();
    let ml = first.read_mountlist().unwrap();
    let kept = work.path().join("kept");
    let report_path = work.path().join("report.json");
    let run = output(
        Command::new(&mkrescue)
            .arg("rehearse")
            .arg("--media")
            .arg(&out)
            .arg("--keep")
            .arg(&kept)
            .arg("--report")
            .arg(&report_path)
            .args(args),
    );
    let stdout = run.report();
    if !run.success() {
        let kept_at = keep_artifacts(&kept, &report_path);
        panic!("mkrescue rehearse failed (serial logs and report in {kept_at}):\n{stdout}");
    }
    let report: Value = serde_json::from_str(&fs::read_to_string(&report_path).unwrap()).unwrap();
    Rehearsal {
        work,
        kept,
        report,
        stdout,
        ml,
        machine,
        _lock: lock,
    }
}

/// Copies the serial logs and the report of a failed rehearsal where they outlive the
/// test: target/qemu-artifacts/<test>/.
fn keep_artifacts(kept: &Path, report: &Path) -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("rehearsal")
        .replace("::", "-");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("../qemu-artifacts")
        .join(test);
    let _ = fs::create_dir_all(&dir);
    for (from, name) in [
        (kept.join("rescue/serial.log"), "rescue-serial.log"),
        (kept.join("boot-check/serial.log"), "boot-check-serial.log"),
        (report.to_path_buf(), "report.json"),
    ] {
        // What a run that stopped early did not make is simply not there.
        let _ = fs::copy(from, dir.join(name));
    }
    dir.display().to_string()
}

impl Rehearsal {
    /// The report's phases by name, each with whether it passed.
    fn phases(&self) -> Vec<(String, bool)> {
        self.report["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["ok"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    /// The report says everything passed, the boot check too (when `boot_check`).
    fn assert_passed(&self, boot_check: bool) {
        let ctx = format!("{}\n{:#}", self.stdout, self.report);
        assert_eq!(self.report["ok"], true, "{ctx}");
        let mut want = vec!["boot", "restore", "verify", "power off"];
        if boot_check {
            want.push("boot check");
        }
        let phases = self.phases();
        assert_eq!(
            phases.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            want,
            "{ctx}"
        );
        assert!(phases.iter().all(|(_, ok)| *ok), "{ctx}");
        assert!(
            self.report["restore"]["files"].as_u64().unwrap() > 100,
            "{ctx}"
        );
        assert!(
            self.report["restore"]["bytes"].as_u64().unwrap() > MIB,
            "{ctx}"
        );
        assert_eq!(self.report["verify"]["ok"], true, "{ctx}");
        assert_eq!(
            self.report["verify"]["differences"],
            serde_json::json!([]),
            "{ctx}"
        );
        if boot_check {
            let evidence = self.report["boot_check"]["evidence"].as_array().unwrap();
            let text = format!("{evidence:?}");
            assert!(text.contains("mounted / ("), "{ctx}");
            assert!(text.contains(BOOT_MARKER), "{ctx}");
        }
        for log in self.report["serial_logs"].as_array().unwrap() {
            assert!(Path::new(log.as_str().unwrap()).is_file(), "{ctx}");
        }
    }

    /// The kept images, checked from the host: tables, filesystems, corpora.
    fn check_images(&self) {
        let mut disks: Vec<LoopDisk> = Vec::new();
        for (i, d) in self.ml.disks.iter().enumerate() {
            let mut disk = LoopDisk::attach(&self.kept.join(format!("disk{i}.img")));
            disk.rescan();
            let verify = output(command("sfdisk").arg("--verify").arg(disk.device()));
            assert!(verify.success(), "sfdisk --verify: {}", verify.report());
            for p in &d.partitions {
                let Some(fs) = &p.filesystem else { continue };
                let dev = disk.partition_path(p.number);
                assert_restored_filesystem(&dev, &blkid_probe(&dev), fs);
            }
            disks.push(disk);
        }
        // The restored tree, mounted as the mountlist says (read-only, by depth).
        let check = self.work.path().join("check");
        let mut mounted: Vec<(String, String)> = Vec::new();
        for (d, disk) in self.ml.disks.iter().zip(&disks) {
            for p in &d.partitions {
                let Some(fs) = &p.filesystem else { continue };
                let Some(mp) = &fs.mount_point else { continue };
                if fs.fs_type == FsType::Vfat || fs.fs_type == FsType::Swap {
                    continue; // this host's kernel has no vfat
                }
                mounted.push((mp.clone(), disk.partition_path(p.number)));
            }
        }
        mounted.sort_by_key(|(mp, _)| mp.matches('/').count() + usize::from(mp != "/"));
        let mut mounts = Mounts::new();
        for (mp, dev) in &mounted {
            // Read-only without replaying a journal; xfs also without its UUID check (the
            // source, with the same UUID, is mounted too).
            let opts = match blkid_probe(dev)["TYPE"].as_str() {
                "xfs" => "ro,norecovery,nouuid",
                "ext3" | "ext4" => "ro,noload",
                _ => "ro",
            };
            mounts.mount(dev, &check.join(mp.trim_start_matches('/')), Some(opts));
        }
        for c in self.machine.corpora() {
            let diffs =
                corpus::compare(&self.machine.root().join(&c.dir), &check.join(&c.dir)).unwrap();
            assert!(diffs.is_empty(), "{}: {diffs:#?}", c.dir.display());
        }
        drop(mounts);
        drop(disks);
    }
}

/// Rehearses `kind` (media made with `create_args`) with `--disk-size` when given, and
/// `--boot-check` when `boot_check`; asserts every phase passed and checks the images.
/// Unless `create_args` set their own, the sets are 4 MiB and each corpus has a 6 MiB
/// file: a file bigger than a set, sliced across sets. `None`: skipped (no QEMU or not
/// root).
fn rehearse_and_check(
    kind: Kind,
    create_args: &[&str],
    disk_size: Option<&str>,
    boot_check: bool,
) -> Option<Rehearsal> {
    if !required() {
        return None;
    }
    let mut opts = MachineOptions::default();
    let mut create = create_args.to_vec();
    if create.is_empty() {
        opts.big_file = Some(6 * MIB);
        create.extend(["--set-size", "4m"]);
    }
    let mut args = Vec::new();
    if let Some(size) = disk_size {
        args.extend(["--disk-size", size]);
    }
    if boot_check {
        args.extend(["--boot-check", "--boot-check-expect", BOOT_MARKER]);
    }
    let r = rehearse(kind, &opts, &create, &args);
    r.assert_passed(boot_check);
    r.check_images();
    Some(r)
}

#[test]
fn a_uefi_machine_is_restored_verified_and_boots() {
    if let Some(r) = rehearse_and_check(Kind::Uefi, &[], None, true) {
        assert_eq!(r.report["firmware"], "uefi");
    }
}

#[test]
fn a_bios_machine_is_restored_verified_and_boots() {
    if let Some(r) = rehearse_and_check(Kind::Bios, &[], None, true) {
        assert_eq!(r.report["firmware"], "bios");
    }
}

#[test]
fn onto_a_bigger_disk() {
    if let Some(r) = rehearse_and_check(Kind::Bios, &[], Some("1g"), true) {
        assert_eq!(r.report["disks"][0]["bytes"], 1u64 << 30);
    }
}

#[test]
fn onto_a_smaller_disk() {
    if let Some(r) = rehearse_and_check(Kind::Bios, &[], Some("400m"), true) {
        assert_eq!(r.report["disks"][0]["bytes"], 400 * MIB);
    }
}

#[test]
fn a_three_volume_backup_in_three_cd_drives() {
    let create = ["-s", "48m,16m", "--set-size", "2m"];
    let Some(r) = rehearse_and_check(Kind::Uefi, &create, None, false) else {
        return;
    };
    let volumes: Vec<_> = fs::read_dir(r.work.path().join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".iso"))
        .collect();
    assert_eq!(volumes.len(), 3, "{volumes:?}");
    let log =
        String::from_utf8_lossy(&fs::read(r.kept.join("rescue/serial.log")).unwrap()).into_owned();
    for n in [2, 3] {
        assert!(
            log.contains(&format!("found volume {n}")),
            "volume {n} was found in its drive:\n{}",
            qemu_tests::tail(&log, 60)
        );
    }
}

#[test]
fn a_hang_is_a_failure_with_the_log_tail_and_nothing_left_behind() {
    if !required() {
        return;
    }
    let (_lock, _work, machine, out) =
        machine_and_media(Kind::Bios, &MachineOptions::default(), &[]);
    let mkrescue = mkrescue_bin().unwrap();
    // The rescue system needs far more than 3 s to say it is ready: a "hang".
    let run = output(
        Command::new(&mkrescue)
            .args(["rehearse", "--timeout", "3", "--media"])
            .arg(&out),
    );
    let text = run.report();
    assert_eq!(run.code(), Some(1), "{text}");
    assert!(text.contains("did not report ready"), "{text}");
    assert!(text.contains("within 3s"), "{text}");
    assert!(text.contains("Result: FAILED"), "{text}");
    // The scratch directory keeps the serial log, and nothing else of size.
    let dir = text
        .lines()
        .find_map(|l| l.split("work directory ").nth(1))
        .expect("the work directory is named");
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!left.iter().any(|n| n.ends_with(".img")), "{left:?}");
    assert!(Path::new(dir).join("rescue/serial.log").is_file());
    // QEMU is gone with it.
    let qemu = output(command("pgrep").args(["-f", dir]));
    assert!(!qemu.success(), "a QEMU still runs: {}", qemu.report());
    fs::remove_dir_all(dir).unwrap();
    drop(machine);
}
