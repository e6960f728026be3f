//! The rescue media boot to restore-tui's ready line, with 512 MiB of memory, under
//! SeaBIOS from a CD and from the image as a disk, and under OVMF from a CD; restore-tui
//! sees the virtual disks each time.

use qemu_tests::{media, require_qemu, Firmware, Vm, VmOptions};
use std::time::Duration;

const MIB: u64 = 1 << 20;
/// TCG boots in seconds; the margin is for a loaded CI machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
const BLANK_DISKS: usize = 2;

enum Attach {
    Cdrom,
    Disk,
}

fn boot(firmware: Firmware, attach: Attach) {
    if !require_qemu() {
        return;
    }
    let media = media(&[]).expect("making the rescue media");
    let iso = media.iso.clone();
    let (cdroms, boot_disk) = match attach {
        Attach::Cdrom => (vec![iso], None),
        Attach::Disk => (Vec::new(), Some(iso)),
    };
    let opts = VmOptions {
        firmware,
        cdroms,
        boot_disk,
        blank_disks: vec![256 * MIB; BLANK_DISKS],
        memory_mb: 512,
        ..VmOptions::default()
    };
    let mut vm = Vm::start(&opts).expect("starting QEMU");
    let ready = format!("restore-tui: ready (media {}", media.label);
    let log = vm
        .wait_for(&ready, BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let line = log.lines().find(|l| l.contains(&ready)).unwrap_or_default();
    assert!(
        line.contains(&format!("{BLANK_DISKS} disks)")),
        "restore-tui should see the {BLANK_DISKS} blank disks: {line}"
    );
    assert!(
        log.contains(&format!("media label {}", media.label)),
        "the kernel was started by the media's boot menu, with the media's label"
    );
}

#[test]
fn seabios_from_cdrom() {
    boot(Firmware::Bios, Attach::Cdrom);
}

#[test]
fn seabios_from_the_image_as_a_disk() {
    boot(Firmware::Bios, Attach::Disk);
}

#[test]
fn ovmf_from_cdrom() {
    boot(Firmware::Uefi, Attach::Cdrom);
}

/// The guest kernel mounts the ISO (iso9660) and sees Rock Ridge names and modes; the
/// terminal UI starts on the serial console (the default mode) and its expert shell works
/// there.
#[test]
fn the_guest_kernel_reads_rock_ridge_names() {
    if !require_qemu() {
        return;
    }
    let media = media(&[]).expect("making the rescue media");
    let mut vm = Vm::start(&VmOptions {
        cdroms: vec![media.iso.clone()],
        ..VmOptions::default()
    })
    .expect("starting QEMU");
    vm.wait_for("restore-tui: ready (media", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    vm.wait_for("Interactive restore", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    // The UI reads keys, not lines: "s" alone chooses the shell on its Start screen.
    vm.send("s").unwrap();
    vm.wait_for("rescue#", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    // isolinux.bin's name is mixed with a long directory name only Rock Ridge or Joliet
    // carry; the mode bits (and the symlink-free lower case) come from Rock Ridge alone.
    vm.send("grep iso9660 /proc/mounts; ls -l /run/rescue/media/rescue/; echo LS-DONE\n")
        .unwrap();
    let log = vm
        .wait_for("LS-DONE\r\n", BOOT_TIMEOUT)
        .or_else(|_| vm.wait_for("LS-DONE\n", Duration::from_secs(1)))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let after = &log[log.rfind("grep iso9660").unwrap_or(0)..];
    assert!(after.contains(" iso9660 ro"), "{after}");
    assert!(after.contains("manifest.json"), "{after}");
    assert!(after.contains("mountlist.json"), "{after}");
}
