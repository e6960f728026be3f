//! The unattended nuke of the rescue system: media made with `--append "rescue.mode=nuke
//! rescue.yes rescue.poweroff rescue.disk-map=/dev/loopN=/dev/vda"` boot under SeaBIOS
//! (TCG) against a blank disk, restore onto it, say `nuke finished: OK` and power off.
//!
//! The source is a GPT loop disk: ext4 / (labelled), ext4 /home, swap, with a corpus on
//! both filesystems and a stand-in grub-install (a static program that writes down its
//! arguments, so the boot loader step can be seen to run for the GRUB boot code the source's
//! MBR holds).
//! Afterwards, on the host: `sfdisk --verify` accepts the restored table, `e2fsck -fn` each
//! ext4 filesystem, `blkid -p` shows the mountlist's UUIDs, labels and partition GUIDs, the
//! fstab names the new swap device, and the trees equal the source.

use host_tests::{
    assert_restored_filesystem, blkid_probe, command, host_lock, mkfs, output,
    require_root_or_skip, run, write_file, LoopDisk, Mounts,
};
use qemu_tests::{mkrescue_bin, mkrescue_create, require_qemu, Firmware, Vm, VmOptions};
use rescue_core::volume::Volume;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const MIB: u64 = 1 << 20;
const DISK: u64 = 256 * MIB;
/// Boot, partition, format and restore under TCG: minutes on a loaded machine.
const NUKE_TIMEOUT: Duration = Duration::from_secs(270);

const TABLE: &str = "label: gpt\n\
    size=112MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n\
    size=64MiB, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915\n\
    size=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n";

/// Writes its arguments into the system it runs in: the restored one, under chroot.
const FAKE_GRUB_INSTALL: &str = r#"fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::fs::write("/var/log/grub-install.args", args.join(" ")).unwrap();
}
"#;

/// A static stand-in for grub-install at `dest`.
fn fake_grub_install(dest: &Path, work: &Path) {
    let src = work.join("grub-install.rs");
    fs::write(&src, FAKE_GRUB_INSTALL).unwrap();
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    run(Command::new(rustc)
        .args(["-O", "-C", "target-feature=+crt-static", "-o"])
        .arg(dest)
        .arg(&src));
}

/// The source system on a loop disk, mounted under `root`.
fn make_source(root: &Path, work: &Path) -> (LoopDisk, Mounts) {
    let mut disk = LoopDisk::new(DISK);
    disk.partition(TABLE);
    // GRUB's boot code in the protective MBR (its signature is what the capture reads):
    // the source boots by BIOS, so the restore reinstalls GRUB for BIOS.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(disk.device())
            .unwrap();
        f.seek(SeekFrom::Start(0x180)).unwrap();
        f.write_all(b"GRUB \0Geom\0Hard Disk\0Read\0 Error")
            .unwrap();
        f.sync_all().unwrap();
    }
    let (p1, p2, p3) = (
        disk.partition_path(1),
        disk.partition_path(2),
        disk.partition_path(3),
    );
    mkfs("ext4", &p1, &["-L", "rootfs"]);
    mkfs("ext4", &p2, &[]);
    mkfs("swap", &p3, &["-L", "swap0"]);
    let home_uuid = blkid_probe(&p2)["UUID"].clone();
    let mut mounts = Mounts::new();
    mounts.mount(&p1, root, None);
    mounts.mount(&p2, &root.join("home"), None);
    for (dir, seed) in [
        (root.join("srv/corpus"), 31),
        (root.join("home/corpus"), 32),
    ] {
        fs::create_dir_all(&dir).unwrap();
        corpus::generate(
            &dir,
            &corpus::Options {
                bulk_bytes: 3 * MIB,
                big_file: None,
                seed,
            },
        )
        .unwrap();
    }
    write_file(
        &root.join("etc/fstab"),
        &format!(
            "LABEL=rootfs\t/\text4\tdefaults\t0 1\n\
             UUID={home_uuid}\t/home\text4\tdefaults\t0 2\n\
             {p3}\tnone\tswap\tsw\t0 0\n"
        ),
    );
    write_file(&root.join("etc/hostname"), "nukeboot\n");
    fs::create_dir_all(root.join("var/log")).unwrap();
    fake_grub_install(&root.join("usr/sbin/grub-install"), work);
    run(&mut command("sync"));
    (disk, mounts)
}

#[test]
fn an_unattended_nuke_restores_onto_a_blank_disk_and_powers_off() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let out = work.path().join("out");
    // The lock is held to the end: the source stays mounted while QEMU runs, and no other
    // test may capture the host meanwhile.
    let _lock = host_lock();
    let (source, source_mounts) = make_source(&root, work.path());
    let append = format!(
        "rescue.mode=nuke rescue.yes rescue.poweroff rescue.disk-map={}=/dev/vda",
        source.device()
    );
    run(mkrescue_create(&mkrescue_bin().unwrap(), &root, &out)
        .args(["--console", "serial", "--boot-timeout", "1"])
        .arg("--append")
        .arg(&append));
    let iso = out.join("rescue-1.iso");
    let media = Volume::open(&iso).unwrap();
    let ml = media.read_mountlist().unwrap();
    assert_eq!(ml.disks.len(), 1, "{ml:?}");

    let mut vm = Vm::start(&VmOptions {
        firmware: Firmware::Bios,
        cdroms: vec![iso],
        blank_disks: vec![DISK],
        memory_mb: 768,
        ..VmOptions::default()
    })
    .expect("starting QEMU");
    let log = vm
        .wait_for("restore-tui: nuke finished: ", NUKE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let finished = log
        .lines()
        .find(|l| l.contains("restore-tui: nuke finished: "))
        .unwrap_or_default();
    assert!(
        finished.contains("restore-tui: nuke finished: OK"),
        "{finished}\n{}",
        qemu_tests_tail(&log)
    );
    let status = vm
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("rescue.poweroff: {e:#}"));
    assert!(status.success(), "QEMU: {status}");
    let log = vm.serial_log();
    assert!(
        log.contains("restore-tui: power off"),
        "{}",
        qemu_tests_tail(&log)
    );

    // The restored disk, on the host.
    let mut target = LoopDisk::attach(&vm.blank_disk(0));
    target.rescan();
    let t = target.device().to_string();
    let verify = output(command("sfdisk").arg("--verify").arg(&t));
    assert!(verify.success(), "sfdisk --verify: {}", verify.report());
    let original = &ml.disks[0];
    for p in &original.partitions {
        let dev = target.partition_path(p.number);
        let blkid = blkid_probe(&dev);
        let guid = p.gpt.as_ref().map(|g| g.unique_guid.clone());
        assert_eq!(
            blkid.get("PART_ENTRY_UUID"),
            guid.as_ref(),
            "{dev}: {blkid:?}"
        );
        let fs = p
            .filesystem
            .as_ref()
            .expect("every partition has a filesystem");
        assert_restored_filesystem(&dev, &blkid, fs);
    }

    let restored = work.path().join("restored");
    let mut mounts = Mounts::new();
    mounts.mount(&target.partition_path(1), &restored, Some("ro"));
    mounts.mount(
        &target.partition_path(2),
        &restored.join("home"),
        Some("ro"),
    );
    for dir in ["srv/corpus", "home/corpus"] {
        let diffs = corpus::compare(&root.join(dir), &restored.join(dir)).unwrap();
        assert!(diffs.is_empty(), "{dir}: {diffs:#?}");
    }
    assert_eq!(
        fs::read_to_string(restored.join("etc/hostname")).unwrap(),
        "nukeboot\n"
    );
    let fstab = fs::read_to_string(restored.join("etc/fstab")).unwrap();
    let source_fstab = fs::read_to_string(root.join("etc/fstab")).unwrap();
    assert_eq!(
        fstab,
        source_fstab.replace(&format!("{}\t", source.partition_path(3)), "/dev/vda3\t"),
        "only the swap device changes"
    );
    assert_eq!(
        fs::read_to_string(restored.join("var/log/grub-install.args")).unwrap(),
        "--target=i386-pc /dev/vda",
        "GRUB reinstalled for BIOS on the restored disk"
    );
    assert!(restored.join("var/log/restore-tui.log").exists());
    // Unmounted before the disks go (in reverse of making them).
    drop(mounts);
    drop(target);
    drop(source_mounts);
    drop(source);
}

fn qemu_tests_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
