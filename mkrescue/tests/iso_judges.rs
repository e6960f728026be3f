//! The "tools" tier for the rescue media: an ISO built with the host's real boot loaders
//! (`boot::prepare`) and the project's writer (`iso::write_iso`), judged by tools nobody
//! here wrote: xorriso, isoinfo, isovfy, fsck.fat, mtools, sfdisk and fdisk.
//!
//! A missing tool skips its test with a message; with CI=true it fails instead.

mod iso_support;

use iso_support::*;
use mkrescue::boot::{self, Console, HostPaths};
use mkrescue::iso::{self, IsoSource, IsoSpec};
use rescue_core::runner::RealRunner;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

const JUDGES: &[&str] = &["xorriso", "isoinfo", "isovfy", "fsck.fat", "mdir", "sfdisk"];

/// A kernel and an initrd that are only bytes: the judges read, nothing boots.
fn fake_kernel_and_initrd(dir: &Path) -> (IsoSource, IsoSource) {
    let kernel = dir.join("vmlinuz");
    // Not a multiple of 2048, and bigger than the writer's 64 KiB chunks.
    let bytes: Vec<u8> = (0..3_000_001u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&kernel, bytes).unwrap();
    (
        IsoSource::Host(kernel),
        IsoSource::Bytes(b"not really a gzip'd cpio".to_vec()),
    )
}

fn media(dir: &Path, console: Console) -> Media {
    let (kernel, initrd) = fake_kernel_and_initrd(dir);
    build(dir, &config(console, 5), kernel, initrd)
}

#[test]
fn el_torito_has_a_bios_and_a_uefi_entry() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    assert!(m.boot.warnings.is_empty(), "{:?}", m.boot.warnings);
    let report = run_ok(
        Command::new("xorriso")
            .arg("-indev")
            .arg(&m.iso)
            .args(["-report_el_torito", "plain"]),
    );
    let images: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("El Torito boot img :"))
        .collect();
    assert_eq!(images.len(), 2, "{report}");
    let fields = |line: &str| -> Vec<String> {
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    // N Pltf B Emul Ld_seg Hdpt Ldsiz LBA
    let bios = fields(images[0]);
    assert_eq!(bios[1..4], ["BIOS", "y", "none"], "{report}");
    assert_eq!(bios[6], "4", "ISOLINUX's load size: {report}");
    let uefi = fields(images[1]);
    assert_eq!(uefi[1..4], ["UEFI", "y", "none"], "{report}");
    assert!(report.contains("El Torito img path :   1  /boot/isolinux/isolinux.bin"));
    assert!(
        report.contains("El Torito img opts :   1  boot-info-table"),
        "{report}"
    );
    assert!(report.contains("El Torito img path :   2  /boot/efiboot.img"));
    assert!(report.contains("El Torito cat path : /boot/isolinux/boot.cat"));

    // isoinfo: 0xEF is the UEFI platform id, 0 (x86) the BIOS one.
    let info = run_ok(Command::new("isoinfo").arg("-d").arg("-i").arg(&m.iso));
    assert!(info.contains("Arch 0 (x86)"), "{info}");
    assert!(info.contains("Nsect 4"), "{info}");
}

#[test]
fn the_boot_info_table_is_patched_into_isolinux() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    let image = fs::read(&m.iso).unwrap();
    let le = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
    // The boot catalog's default entry: its LBA is at byte 8 of the second record.
    let catalog_lba = {
        let info = run_ok(Command::new("isoinfo").arg("-d").arg("-i").arg(&m.iso));
        let line = info
            .lines()
            .find(|l| l.contains("boot catalog is in sector"))
            .unwrap();
        line.rsplit(' ').next().unwrap().parse::<usize>().unwrap()
    };
    let catalog = &image[catalog_lba * 2048..catalog_lba * 2048 + 64];
    let file_lba = le(&catalog[32 + 8..32 + 12]) as usize;
    let host = fs::read(match &m.boot.files[0] {
        (p, IsoSource::Host(h)) if p == "/boot/isolinux/isolinux.bin" => h,
        other => panic!("{other:?}"),
    })
    .unwrap();
    let on_iso = &image[file_lba * 2048..file_lba * 2048 + host.len()];
    assert_eq!(
        le(&on_iso[8..12]),
        16,
        "the primary volume descriptor's LBA"
    );
    assert_eq!(le(&on_iso[12..16]) as usize, file_lba);
    assert_eq!(le(&on_iso[16..20]) as usize, host.len());
    let sum = on_iso[64..]
        .chunks(4)
        .map(|w| {
            let mut b = [0u8; 4];
            b[..w.len()].copy_from_slice(w);
            u32::from_le_bytes(b)
        })
        .fold(0u32, u32::wrapping_add);
    assert_eq!(le(&on_iso[20..24]), sum, "the checksum of bytes 64..");
    assert_eq!(&on_iso[..8], &host[..8]);
    assert_eq!(&on_iso[64..], &host[64..]);
}

#[test]
fn isoinfo_sees_rock_ridge_joliet_and_the_volume_id() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    let info = run_ok(Command::new("isoinfo").arg("-d").arg("-i").arg(&m.iso));
    assert!(info.contains(&format!("Volume id: {LABEL}\n")), "{info}");
    assert!(info.contains("Publisher id: MKRESCUE TESTS\n"), "{info}");
    assert!(
        info.contains("Rock Ridge signatures version 1 found"),
        "{info}"
    );
    assert!(info.contains("Joliet with UCS level 3 found"), "{info}");
    assert!(info.contains("El Torito VD version 1 found"), "{info}");
    let blocks: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Volume size is: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        blocks * 2048 <= m.stats.bytes,
        "the volume fits in the file"
    );

    // Rock Ridge names: mixed case, spaces, long; POSIX modes.
    let listing = run_ok(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&m.iso));
    assert!(
        listing.contains(&format!("Directory listing of {LONG_DIR}/")),
        "{listing}"
    );
    let long = listing
        .lines()
        .find(|l| l.trim_end().ends_with(LONG_NAME))
        .unwrap_or_else(|| panic!("{LONG_NAME} not listed:\n{listing}"));
    assert!(long.starts_with("-rw-r--r--"), "{long}");
    for name in [
        "vmlinuz",
        "initrd.gz",
        "efiboot.img",
        "isolinux.bin",
        "ldlinux.c32",
        "isolinux.cfg",
        "boot.msg",
        "boot.cat",
        "grub.cfg",
        "mountlist.json",
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.trim_end().ends_with(&format!("  {name}"))),
            "{name} not listed:\n{listing}"
        );
    }
    assert!(listing.contains("Directory listing of /boot/isolinux/"));
    assert!(listing.contains("Directory listing of /boot/grub/"));
    // Joliet carries the long name too (up to 64 characters).
    let joliet = run_ok(Command::new("isoinfo").args(["-J", "-l", "-i"]).arg(&m.iso));
    assert!(joliet.contains(LONG_NAME), "{joliet}");

    // Contents come back as they went in.
    let out = dir.path().join("vmlinuz.out");
    extract(&m.iso, "/boot/vmlinuz", &out);
    assert_eq!(
        fs::read(&out).unwrap(),
        fs::read(dir.path().join("vmlinuz")).unwrap()
    );
}

#[test]
fn isovfy_finds_no_error() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    let out = run_ok(Command::new("isovfy").arg(&m.iso));
    assert!(out.contains("No errors found"), "{out}");
}

#[test]
fn the_esp_image_passes_fsck_and_holds_bootx64() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    let esp = dir.path().join("efiboot.img");
    extract(&m.iso, "/boot/efiboot.img", &esp);
    let fsck = run(Command::new("fsck.fat").arg("-n").arg(&esp));
    let text =
        String::from_utf8_lossy(&fsck.stdout).into_owned() + &String::from_utf8_lossy(&fsck.stderr);
    assert!(fsck.status.success(), "fsck.fat -n: {text}");
    assert!(!text.contains("Dirty bit"), "{text}");
    let listing = run_ok(Command::new("mdir").arg("-i").arg(&esp).arg("::/EFI/BOOT"));
    assert!(
        listing.lines().any(|l| l.starts_with("BOOTX64  EFI")),
        "{listing}"
    );
    // The binary is a PE image for x86-64.
    let efi = dir.path().join("BOOTX64.EFI");
    run_ok(
        Command::new("mcopy")
            .arg("-i")
            .arg(&esp)
            .arg("::/EFI/BOOT/BOOTX64.EFI")
            .arg(&efi),
    );
    let pe = fs::read(&efi).unwrap();
    assert_eq!(&pe[..2], b"MZ");
    let at = u32::from_le_bytes(pe[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&pe[at..at + 6], b"PE\0\0\x64\x86", "PE, machine x86-64");
}

#[test]
fn the_menus_on_the_media_have_every_entry() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    for (console, default) in [
        (Console::Vga, "interactive"),
        (Console::Serial, "interactive-serial"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let m = media(dir.path(), console);
        let isolinux = dir.path().join("isolinux.cfg");
        let grub = dir.path().join("grub.cfg");
        extract(&m.iso, "/boot/isolinux/isolinux.cfg", &isolinux);
        extract(&m.iso, "/boot/grub/grub.cfg", &grub);
        let isolinux = fs::read_to_string(isolinux).unwrap();
        let grub = fs::read_to_string(grub).unwrap();

        assert!(isolinux.contains("\nSERIAL 0 115200\n"), "{isolinux}");
        assert!(
            isolinux.contains(&format!("\nDEFAULT {default}\n")),
            "{isolinux}"
        );
        assert!(isolinux.contains("\nTIMEOUT 50\n"), "{isolinux}");
        assert!(
            grub.contains(&format!("\nset default={default}\n")),
            "{grub}"
        );
        assert!(grub.contains("\nset timeout=5\n"), "{grub}");
        assert!(
            grub.contains("\nserial --unit=0 --speed=115200\n"),
            "{grub}"
        );
        assert!(grub.contains("\nterminal_input console serial\n"), "{grub}");
        assert!(
            grub.contains("\nterminal_output console serial\n"),
            "{grub}"
        );
        for mode in ["interactive", "nuke", "compare", "expert"] {
            for (suffix, consoles) in [
                ("", "console=ttyS0,115200 console=tty0"),
                ("-serial", "console=tty0 console=ttyS0,115200"),
            ] {
                let args = format!("rescue.label={LABEL} rescue.mode={mode} {consoles}");
                let label = format!("LABEL {mode}{suffix}\n");
                let at = isolinux
                    .find(&label)
                    .unwrap_or_else(|| panic!("{label} missing:\n{isolinux}"));
                let block: String = isolinux[at..]
                    .lines()
                    .take(4)
                    .collect::<Vec<_>>()
                    .join("\n");
                assert_eq!(
                    block,
                    format!(
                        "LABEL {mode}{suffix}\n  KERNEL /boot/vmlinuz\n  INITRD \
                         /boot/initrd.gz\n  APPEND {args}"
                    )
                );
                let id = format!("--id {mode}{suffix} {{\n");
                let at = grub
                    .find(&id)
                    .unwrap_or_else(|| panic!("{id} missing:\n{grub}"));
                let body: Vec<&str> = grub[at..].lines().skip(1).take(2).collect();
                assert_eq!(
                    body,
                    [
                        format!("    linux /boot/vmlinuz {args}"),
                        "    initrd /boot/initrd.gz".to_string()
                    ]
                );
            }
        }
        assert_eq!(isolinux.matches("\nLABEL ").count(), 8);
        assert_eq!(grub.matches("\nmenuentry ").count(), 8);
        let msg = dir.path().join("boot.msg");
        extract(&m.iso, "/boot/isolinux/boot.msg", &msg);
        let msg = fs::read_to_string(msg).unwrap();
        assert!(msg.contains("expert-serial"), "{msg}");
    }
}

#[test]
fn the_image_is_hybrid_with_mbr_and_gpt() {
    if !have_tools("tools", &[JUDGES, &["fdisk"]].concat()) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    let image = fs::read(&m.iso).unwrap();
    assert_eq!(&image[510..512], &[0x55, 0xAA], "MBR signature");
    let isohdpfx = m.boot.bios.as_ref().unwrap().mbr.clone().unwrap();
    assert_eq!(&image[..432], &isohdpfx[..], "isohdpfx boot code");

    // GPT: the EFI system partition is exactly the El Torito UEFI image.
    let json: Value =
        serde_json::from_str(&run_ok(Command::new("sfdisk").arg("-J").arg(&m.iso))).unwrap();
    let table = &json["partitiontable"];
    assert_eq!(table["label"], "gpt", "{json}");
    let parts = table["partitions"].as_array().unwrap();
    let esp = parts
        .iter()
        .find(|p| p["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
        .unwrap_or_else(|| panic!("no EFI system partition: {json}"));
    let esp_len = fs::metadata(match &m.boot.files.last().unwrap().1 {
        IsoSource::Host(p) => p,
        other => panic!("{other:?}"),
    })
    .unwrap()
    .len();
    assert_eq!(esp["size"].as_u64().unwrap() * 512, esp_len);
    let start = esp["start"].as_u64().unwrap() as usize * 512;
    assert_eq!(
        &image[start + 510..start + 512],
        &[0x55, 0xAA],
        "FAT boot sector"
    );
    let verify = run_ok(Command::new("sfdisk").arg("--verify").arg(&m.iso));
    assert!(verify.contains("No errors detected"), "{verify}");

    // The MBR: protective 0xee, the ISO partition marked bootable, the ESP as 0xef.
    let dos = run_ok(Command::new("fdisk").args(["-t", "dos", "-l"]).arg(&m.iso));
    let rows: Vec<&str> = dos
        .lines()
        .filter(|l| l.starts_with(&format!("{}", m.iso.display())))
        .collect();
    assert!(rows.iter().any(|r| r.contains(" ee ")), "{dos}");
    assert!(
        rows.iter().any(|r| r.contains(" * ")),
        "a bootable partition: {dos}"
    );
    assert!(rows.iter().any(|r| r.contains(" ef ")), "{dos}");
}

#[test]
fn uefi_only_media_still_has_an_esp_partition() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut paths = HostPaths::host();
    paths.syslinux_dirs.clear();
    let cfg = config(Console::Vga, 5);
    let files = boot::prepare(&cfg, &paths, &RealRunner, &dir.path().join("scratch")).unwrap();
    assert!(files.bios.is_none());
    assert!(
        files.warnings[0].contains("not boot on BIOS"),
        "{:?}",
        files.warnings
    );
    let (kernel, initrd) = fake_kernel_and_initrd(dir.path());
    let mut all = files.files.clone();
    all.push(("/boot/vmlinuz".into(), kernel));
    all.push(("/boot/initrd.gz".into(), initrd));
    let spec = IsoSpec {
        volume_id: LABEL.into(),
        files: all,
        bios: None,
        uefi: files.uefi.clone(),
        hybrid: true,
        publisher: "MKRESCUE TESTS".into(),
        mtime: 0,
    };
    let out = dir.path().join("uefi-only.iso");
    iso::write_iso(&spec, &out).unwrap();
    let report = run_ok(
        Command::new("xorriso")
            .arg("-indev")
            .arg(&out)
            .args(["-report_el_torito", "plain"]),
    );
    let images: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("El Torito boot img :"))
        .collect();
    assert_eq!(images.len(), 1, "{report}");
    assert!(images[0].contains("UEFI"), "{report}");
    let json: Value =
        serde_json::from_str(&run_ok(Command::new("sfdisk").arg("-J").arg(&out))).unwrap();
    let parts = json["partitiontable"]["partitions"].as_array().unwrap();
    assert!(
        parts
            .iter()
            .any(|p| p["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        "{json}"
    );
    let out_check = run_ok(Command::new("isovfy").arg(&out));
    assert!(out_check.contains("No errors found"), "{out_check}");
}

#[test]
fn bios_only_media_boots_from_cd_and_disk_tables() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut paths = HostPaths::host();
    paths.grub_efi_dirs.clear();
    let cfg = config(Console::Vga, 5);
    let files = boot::prepare(&cfg, &paths, &RealRunner, &dir.path().join("scratch")).unwrap();
    assert!(files.uefi.is_none());
    assert!(
        files.warnings[0].contains("not boot on UEFI"),
        "{:?}",
        files.warnings
    );
    assert!(!files.files.iter().any(|(p, _)| p.contains("grub")));
    let (kernel, initrd) = fake_kernel_and_initrd(dir.path());
    let mut all = files.files.clone();
    all.push(("/boot/vmlinuz".into(), kernel));
    all.push(("/boot/initrd.gz".into(), initrd));
    let spec = IsoSpec {
        volume_id: LABEL.into(),
        files: all,
        bios: files.bios.clone(),
        uefi: None,
        hybrid: true,
        publisher: "MKRESCUE TESTS".into(),
        mtime: 0,
    };
    let out = dir.path().join("bios-only.iso");
    iso::write_iso(&spec, &out).unwrap();
    let report = run_ok(
        Command::new("xorriso")
            .arg("-indev")
            .arg(&out)
            .args(["-report_el_torito", "plain"]),
    );
    assert_eq!(
        report.matches("El Torito boot img :").count(),
        1,
        "{report}"
    );
    assert!(report.contains("BIOS"), "{report}");
    let verify = run_ok(Command::new("sfdisk").arg("--verify").arg(&out));
    assert!(verify.contains("No errors detected"), "{verify}");
}

#[test]
fn the_same_spec_and_time_give_the_same_image() {
    if !have_tools("tools", JUDGES) || !host_has_boot_loaders() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = media(dir.path(), Console::Vga);
    let again = dir.path().join("again.iso");
    iso::write_iso(&m.spec, &again).unwrap();
    assert!(
        fs::read(&m.iso).unwrap() == fs::read(&again).unwrap(),
        "two images of one spec differ"
    );
}

/// Writes a 4.5 GiB file (sparse on the host) into an image: several extents in the ISO
/// and a writer that streams it. Slow (it writes 4.5 GiB): `cargo test -- --ignored`.
#[test]
#[ignore = "writes a 4.5 GiB image"]
fn a_file_over_4_gib_streams_into_several_extents() {
    if !have_tools("tools", &["isoinfo", "xorriso"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    let file = fs::File::create(&big).unwrap();
    let len = 4_500_000_000u64;
    file.set_len(len).unwrap();
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(b"the end", len - 7).unwrap();
    }
    let spec = IsoSpec {
        volume_id: "BIG".into(),
        files: vec![("/set/archive.0001".into(), IsoSource::Host(big))],
        bios: None,
        uefi: None,
        hybrid: false,
        publisher: String::new(),
        mtime: 0,
    };
    let out = dir.path().join("big.iso");
    let hwm_before = peak_rss_kib();
    iso::write_iso(&spec, &out).unwrap();
    let grew = peak_rss_kib().saturating_sub(hwm_before);
    assert!(grew < 256 * 1024, "peak memory grew by {grew} KiB");
    // isoinfo lists each extent of a multi-extent file: "-rw-r--r-- 1 0 0 SIZE DATE [ LBA FLAGS] NAME".
    let listing = run_ok(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&out));
    let extents: Vec<(u64, u64)> = listing
        .lines()
        .filter(|l| l.trim_end().ends_with("archive.0001"))
        .map(|l| {
            let size = l.split_whitespace().nth(4).unwrap().parse().unwrap();
            let lba = l
                .split('[')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            (size, lba.parse().unwrap())
        })
        .collect();
    assert!(extents.len() >= 2, "{listing}");
    assert_eq!(extents.iter().map(|e| e.0).sum::<u64>(), len, "{listing}");
    let (size, lba) = *extents.last().unwrap();
    let mut tail = [0u8; 7];
    {
        use std::os::unix::fs::FileExt;
        fs::File::open(&out)
            .unwrap()
            .read_exact_at(&mut tail, lba * 2048 + size - 7)
            .unwrap();
    }
    assert_eq!(&tail, b"the end");
    let _ = fs::remove_file(&out);
}

fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
