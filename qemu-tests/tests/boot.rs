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
    let iso = Some(media.iso.clone());
    let (cdrom, boot_disk) = match attach {
        Attach::Cdrom => (iso, None),
        Attach::Disk => (None, iso),
    };
    let opts = VmOptions {
        firmware,
        cdrom,
        boot_disk,
        blank_disks: vec![256 * MIB; BLANK_DISKS],
        memory_mb: 512,
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
        log.contains(&format!("rescue.label={}", media.label)),
        "the kernel was started by the media's boot menu"
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
