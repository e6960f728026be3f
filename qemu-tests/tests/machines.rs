//! The rehearsals' source machines boot by themselves: each machine's disk, built on a loop
//! device, detached, and booted in QEMU (TCG) with its firmware and no CD, goes through its
//! own GRUB and kernel to the initramfs, which mounts the root read-write, writes the
//! boot-check file and powers off. Afterwards, on the host: the file is on the root
//! filesystem, every ext filesystem passes `e2fsck -fn`, the xfs one `xfs_repair -n`, the
//! ESP `fsck.fat -n`.

use host_tests::{command, host_lock, output, require_root_or_skip, run, LoopDisk, Mount};
use qemu_tests::machines::{build, Kind, Machine, MachineOptions, BOOT_CHECK_FILE, BOOT_MARKER};
use qemu_tests::{require_qemu, Vm, VmOptions};
use std::fs;
use std::time::{Duration, Instant};

/// OVMF, GRUB's 1 s menu and the kernel under TCG: well under this when the host is idle.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

fn boots_by_itself(kind: Kind) {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("mkrescue-machine-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let lock = host_lock();
    let mut machine: Machine = build(kind, work.path(), &MachineOptions::default(), &lock)
        .unwrap_or_else(|e| panic!("building the {kind:?} machine: {e:#}"));
    let built = started.elapsed();
    let dump = run(command("sfdisk").arg("--dump").arg(machine.disk_device()));
    println!("{kind:?} machine built in {built:.1?}:\n{dump}");
    println!(
        "fstab:\n{}",
        fs::read_to_string(machine.root().join("etc/fstab")).unwrap()
    );
    machine.detach();

    let mut vm = Vm::start(&VmOptions {
        firmware: machine.firmware(),
        disks: vec![machine.image().to_path_buf()],
        memory_mb: 512,
        ..VmOptions::default()
    })
    .unwrap();
    let marker = machine.marker_line();
    vm.wait_for(&marker, BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let status = vm
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("after the marker: {e:#}"));
    let booted = started.elapsed() - built;
    let log = vm.serial_log();
    drop(vm);
    println!("serial console, the end:\n{}", qemu_tests::tail(&log, 12));
    assert!(status.success(), "QEMU: {status}");
    // Its own GRUB started its kernel with the command line of its grub.cfg.
    assert!(log.contains("GNU GRUB"), "no GRUB on the console:\n{log}");
    assert!(
        log.contains(&format!(
            "root=LABEL={} console=ttyS0,115200 rw",
            machine.root_label()
        )),
        "{log}"
    );
    assert_eq!(log.matches(BOOT_MARKER).count(), 1, "{log}");
    assert!(!log.contains("boot-check: FAILED"), "{log}");

    // The guest's writes, seen through a fresh loop device (no stale cache).
    let disk = LoopDisk::attach(machine.image());
    for v in machine.volumes() {
        let dev = disk.partition_path(v.number);
        let check = match v.fs_type.as_str() {
            "ext2" | "ext4" => output(command("e2fsck").arg("-fn").arg(&dev)),
            "xfs" => output(command("xfs_repair").arg("-n").arg(&dev)),
            "vfat" => output(command("fsck.fat").arg("-n").arg(&dev)),
            _ => continue,
        };
        assert!(check.success(), "{}: {}", v.mount_point, check.report());
    }
    let root = machine.volume("/").expect("a root volume");
    let at = work.path().join("check");
    let mount = Mount::new(&disk.partition_path(root.number), &at, Some("ro"));
    let written = fs::read_to_string(at.join(BOOT_CHECK_FILE))
        .unwrap_or_else(|e| panic!("the boot-check file on the root filesystem: {e}"));
    assert!(written.trim().starts_with("20"), "{written:?}");
    drop(mount);
    drop(disk);
    println!(
        "{kind:?}: built in {built:.1?}, booted and powered off in {booted:.1?}, {:.1?} in all",
        started.elapsed()
    );
}

#[test]
fn the_uefi_machine_boots_by_itself() {
    boots_by_itself(Kind::Uefi);
}

#[test]
fn the_bios_machine_boots_by_itself() {
    boots_by_itself(Kind::Bios);
}
