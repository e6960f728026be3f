//! The "tools" tier for the native readers: disk images made with real tools (sfdisk,
//! mkfs.*, mkswap, cryptsetup) in a temp dir, read with `table::read_table` and
//! `superblock::detect`, and compared with what the real tools say (`sfdisk -J`,
//! `blkid -p -o export`, `dumpe2fs -h`, `xfs_db`, `btrfs inspect-internal dump-super`,
//! `mdadm --examine`). No root needed.
//!
//! A missing tool skips its test with a message; with CI=true it fails instead.

use mkrescue::probe::superblock::{detect, Detected};
use mkrescue::probe::table::{read_table, TableRead};
use rescue_core::mountlist::{Filesystem, FsType, MbrRole, PartitionTable, UnsupportedKind};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Tools

/// True when every tool is on PATH. Otherwise the test is skipped, or fails in CI.
fn have_tools(tools: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|dir| dir.join(t).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("tools tier: missing {}", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (CI=true: a skip is a failure)");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// Runs a tool and returns its stdout; panics with its stderr when it fails.
fn run(program: &str, args: &[&str]) -> String {
    run_stdin(program, args, None)
}

fn run_stdin(program: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    } else {
        cmd.stdin(std::process::Stdio::null());
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes())
            .expect("writing to the tool");
    }
    let out = child.wait_with_output().expect("waiting for the tool");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `blkid -p -o export` over a region of a file (the whole file when `region` is None).
fn blkid(path: &Path, region: Option<(u64, u64)>) -> HashMap<String, String> {
    let mut args = vec!["-p".to_string(), "-o".into(), "export".into()];
    if let Some((offset, size)) = region {
        args.extend([
            "-O".into(),
            offset.to_string(),
            "-S".into(),
            size.to_string(),
        ]);
    }
    args.push(s(path).to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // blkid exits 2 when it finds nothing: that is an answer too.
    let out = Command::new("blkid")
        .args(&args)
        .output()
        .expect("running blkid");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(2),
        "blkid failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("\\ ", " ")))
        .collect()
}

fn sfdisk_json(path: &Path) -> Value {
    serde_json::from_str(&run("sfdisk", &["-J", s(path)])).expect("sfdisk -J prints JSON")
}

// ---------------------------------------------------------------------------------------
// Images

fn sparse(dir: &TempDir, name: &str, size: u64) -> PathBuf {
    let path = dir.path().join(name);
    File::create(&path)
        .and_then(|f| f.set_len(size))
        .expect("creating a sparse image");
    path
}

/// Copies `src` into `dst` at `offset`, leaving zero chunks as holes.
fn copy_into(src: &Path, dst: &Path, offset: u64) {
    let mut input = File::open(src).expect("opening the filesystem image");
    let mut output = OpenOptions::new()
        .write(true)
        .open(dst)
        .expect("opening the disk");
    let mut buf = vec![0u8; 1 << 20];
    let mut at = offset;
    loop {
        let n = input.read(&mut buf).expect("reading the filesystem image");
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            output.seek(SeekFrom::Start(at)).expect("seek");
            output.write_all(&buf[..n]).expect("writing into the disk");
        }
        at += n as u64;
    }
}

fn open(path: &Path) -> File {
    File::open(path).expect("opening the image")
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}

fn table_of(path: &Path) -> TableRead {
    let len = file_len(path);
    read_table(&mut open(path), "/dev/sdx", len / 512, 512).expect("reading the table")
}

fn detect_in(path: &Path, offset: u64, length: u64) -> Option<Detected> {
    detect(&mut open(path), offset, length).expect("probing")
}

fn detect_file(path: &Path) -> Option<Detected> {
    detect_in(path, 0, file_len(path))
}

fn filesystem(found: Option<Detected>) -> Filesystem {
    match found {
        Some(Detected::Filesystem(fs)) => fs,
        other => panic!("expected a filesystem, found {other:?}"),
    }
}

fn container(found: Option<Detected>) -> (UnsupportedKind, String) {
    match found {
        Some(Detected::Container { kind, detail }) => (kind, detail),
        other => panic!("expected a container, found {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Judging a filesystem

/// Compares a detected filesystem with blkid's view of the same bytes.
fn assert_matches_blkid(fs: &Filesystem, tags: &HashMap<String, String>, what: &str) {
    let blkid_type = match tags.get("TYPE").map(String::as_str) {
        Some("swap" | "swsuspend") => "swap",
        Some(t) => t,
        None => panic!("{what}: blkid found nothing, we found {fs:?}"),
    };
    assert_eq!(fs.fs_type.as_str(), blkid_type, "{what}: TYPE");
    // FAT serials are upper case ("1234-ABCD") in both; UUIDs lower case in both.
    assert_eq!(fs.uuid.as_ref(), tags.get("UUID"), "{what}: UUID");
    // blkid 2.38 only takes LABEL from a FAT root directory entry; the boot sector's
    // label is LABEL_FATBOOT (we fall back to it, see the vfat test).
    let label = tags.get("LABEL").or_else(|| tags.get("LABEL_FATBOOT"));
    assert_eq!(fs.label.as_ref(), label, "{what}: LABEL");
    let block_size = match fs.fs_type {
        FsType::Ext2 | FsType::Ext3 | FsType::Ext4 => fs.params.block_size,
        FsType::Xfs | FsType::Vfat | FsType::Btrfs => fs.params.sector_size,
        _ => None,
    };
    if let Some(expected) = tags.get("BLOCK_SIZE") {
        assert_eq!(
            block_size.map(|b| b.to_string()).as_ref(),
            Some(expected),
            "{what}: BLOCK_SIZE"
        );
    }
    if fs.fs_type == FsType::Vfat {
        let version = format!("FAT{}", fs.params.fat_bits.unwrap_or(0));
        assert_eq!(Some(&version), tags.get("VERSION"), "{what}: FAT width");
    }
}

/// Compares an ext filesystem with `dumpe2fs -h` of the same image.
fn assert_matches_dumpe2fs(fs: &Filesystem, image: &Path) {
    let out = run("dumpe2fs", &["-h", s(image)]);
    let field = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim().to_string())
            .unwrap_or_else(|| panic!("dumpe2fs has no {name}"))
    };
    let features: Vec<String> = field("Filesystem features")
        .split_whitespace()
        .filter(|f| *f != "needs_recovery" && *f != "orphan_present")
        .map(str::to_string)
        .collect();
    assert_eq!(fs.params.features, features, "ext features vs dumpe2fs");
    let block_size: u64 = field("Block size").parse().expect("number");
    let blocks: u64 = field("Block count").parse().expect("number");
    assert_eq!(fs.params.block_size, Some(block_size as u32));
    assert_eq!(fs.size_bytes, Some(blocks * block_size));
    assert_eq!(
        fs.params.inode_size.map(|i| i.to_string()),
        Some(field("Inode size"))
    );
    let label = field("Filesystem volume name");
    let label = (label != "<none>").then_some(label);
    assert_eq!(fs.label, label);
    assert_eq!(fs.uuid.as_deref(), Some(field("Filesystem UUID").as_str()));
}

fn mkfs_ext(dir: &TempDir, name: &str, kind: &str, size: u64, label: Option<&str>) -> PathBuf {
    let image = sparse(dir, name, size);
    let program = format!("mkfs.{kind}");
    let mut args = vec!["-q", "-F"];
    if let Some(label) = label {
        args.extend(["-L", label]);
    }
    args.push(s(&image));
    run(&program, &args);
    image
}

fn mkfs_vfat(dir: &TempDir, name: &str, bits: &str, size: u64, label: Option<&str>) -> PathBuf {
    let image = sparse(dir, name, size);
    let mut args = vec!["-F", bits];
    if let Some(label) = label {
        args.extend(["-n", label]);
    }
    args.push(s(&image));
    run("mkfs.vfat", &args);
    image
}

fn mkswap(dir: &TempDir, name: &str, size: u64, label: &str) -> PathBuf {
    let image = sparse(dir, name, size);
    run("mkswap", &["-L", label, s(&image)]);
    image
}

fn mkfs_xfs(dir: &TempDir, name: &str, label: &str) -> PathBuf {
    // mkfs.xfs refuses filesystems under 300 MB.
    let image = sparse(dir, name, 300 * MIB);
    run("mkfs.xfs", &["-q", "-K", "-L", label, s(&image)]);
    image
}

// ---------------------------------------------------------------------------------------
// Partition tables against sfdisk

/// Compares a table read natively with `sfdisk -J` of the same image.
fn assert_matches_sfdisk(read: &TableRead, image: &Path) {
    let json = sfdisk_json(image);
    let pt = &json["partitiontable"];
    let empty = Vec::new();
    let sf_parts = pt["partitions"].as_array().unwrap_or(&empty);
    match &read.table {
        PartitionTable::Gpt {
            disk_guid,
            first_usable_lba,
            last_usable_lba,
        } => {
            assert_eq!(pt["label"], "gpt");
            assert_eq!(
                pt["id"].as_str().map(str::to_lowercase).as_ref(),
                Some(disk_guid)
            );
            assert_eq!(pt["firstlba"].as_u64(), Some(*first_usable_lba));
            assert_eq!(pt["lastlba"].as_u64(), Some(*last_usable_lba));
        }
        PartitionTable::Msdos { signature } => {
            assert_eq!(pt["label"], "dos");
            assert_eq!(pt["id"].as_str(), Some(signature.as_str()));
        }
        PartitionTable::None => panic!("sfdisk found a {} table, we found none", pt["label"]),
    }
    assert_eq!(read.partitions.len(), sf_parts.len(), "partition count");
    for (ours, theirs) in read.partitions.iter().zip(sf_parts) {
        let node = theirs["node"].as_str().expect("node");
        let number: u32 = node
            .strip_prefix(s(image))
            .and_then(|n| n.parse().ok())
            .expect("sfdisk names partitions IMAGE<n>");
        assert_eq!(ours.number, number, "{node}: number");
        assert_eq!(ours.path, format!("/dev/sdx{number}"));
        assert_eq!(Some(ours.start), theirs["start"].as_u64(), "{node}: start");
        assert_eq!(Some(ours.size), theirs["size"].as_u64(), "{node}: size");
        let sf_type = theirs["type"].as_str().expect("type");
        if let Some(g) = &ours.gpt {
            assert_eq!(g.type_guid, sf_type.to_lowercase(), "{node}: type");
            let uuid = theirs["uuid"].as_str().map(str::to_lowercase);
            assert_eq!(Some(&g.unique_guid), uuid.as_ref(), "{node}: uuid");
            assert_eq!(
                g.name,
                theirs["name"].as_str().unwrap_or(""),
                "{node}: name"
            );
            let attrs = sfdisk_attr_bits(theirs["attrs"].as_str().unwrap_or(""));
            assert_eq!(g.attributes, attrs, "{node}: attrs");
        }
        if let Some(m) = &ours.mbr {
            let id = u8::from_str_radix(sf_type, 16).expect("hex type");
            assert_eq!(m.type_id, id, "{node}: type");
            let bootable = theirs["bootable"].as_bool().unwrap_or(false);
            assert_eq!(m.bootable, bootable, "{node}: bootable");
        }
    }
}

/// sfdisk's attribute names back to bits.
fn sfdisk_attr_bits(attrs: &str) -> u64 {
    attrs
        .split_whitespace()
        .map(|a| match a {
            "RequiredPartition" => 1 << 0,
            "NoBlockIOProtocol" => 1 << 1,
            "LegacyBIOSBootable" => 1 << 2,
            other => {
                let bit: u32 = other
                    .strip_prefix("GUID:")
                    .and_then(|b| b.parse().ok())
                    .unwrap_or_else(|| panic!("unknown sfdisk attribute {other}"));
                1 << bit
            }
        })
        .fold(0, |acc, bit| acc | bit)
}

struct GptLayout {
    disk: PathBuf,
    /// (partition number, filesystem image) pairs copied into the disk.
    filesystems: Vec<(u32, PathBuf)>,
}

fn build_gpt_disk(dir: &TempDir) -> GptLayout {
    let disk = sparse(dir, "gpt.img", 420 * MIB);
    let script = "label: gpt
label-id: 1B2C3D4E-5F60-4718-9A0B-C1D2E3F40516
start=2048, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI System\", uuid=0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9, attrs=\"RequiredPartition GUID:63\"
size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root fs\"
size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"spare\", attrs=\"LegacyBIOSBootable\"
size=16384, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"swap\"
size=614400, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"data x\u{e9}\"
";
    run_stdin("sfdisk", &["-q", s(&disk)], Some(script));
    let filesystems = vec![
        (1, mkfs_vfat(dir, "esp.img", "16", 16 * MIB, Some("ESP"))),
        (
            2,
            mkfs_ext(dir, "root.img", "ext4", 20 * MIB, Some("rootfs")),
        ),
        (3, mkfs_ext(dir, "spare.img", "ext4", 8 * MIB, None)),
        (4, mkswap(dir, "swap.img", 8 * MIB, "swappy")),
        (5, mkfs_xfs(dir, "xfs.img", "bigdata")),
    ];
    GptLayout { disk, filesystems }
}

/// Writes each filesystem image into its partition and compares detection with blkid
/// on the same region of the disk.
fn check_filesystems_in_disk(read: &TableRead, disk: &Path, filesystems: &[(u32, PathBuf)]) {
    for (number, image) in filesystems {
        let part = read
            .partitions
            .iter()
            .find(|p| p.number == *number)
            .expect("partition exists");
        let region = (part.start * 512, part.size * 512);
        copy_into(image, disk, region.0);
        let fs = filesystem(detect_in(disk, region.0, region.1));
        let what = format!("partition {number}");
        assert_matches_blkid(&fs, &blkid(disk, Some(region)), &what);
    }
}

#[test]
fn gpt_disk_matches_sfdisk_and_blkid() {
    if !have_tools(&[
        "sfdisk",
        "blkid",
        "mkfs.vfat",
        "mkfs.ext4",
        "mkswap",
        "mkfs.xfs",
    ]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let layout = build_gpt_disk(&dir);
    let read = table_of(&layout.disk);
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    assert_matches_sfdisk(&read, &layout.disk);
    assert_eq!(
        read.partitions[4].gpt.as_ref().map(|g| g.name.as_str()),
        Some("data x\u{e9}")
    );
    assert_eq!(
        read.partitions[0].gpt.as_ref().map(|g| g.attributes),
        Some(1 | 1 << 63)
    );

    check_filesystems_in_disk(&read, &layout.disk, &layout.filesystems);
    // blkid agrees there is a GPT.
    let tags = blkid(&layout.disk, None);
    assert_eq!(tags.get("PTTYPE").map(String::as_str), Some("gpt"));
    // The whole disk holds a table, not a filesystem.
    assert_eq!(detect_file(&layout.disk), None);
}

#[test]
fn gpt_with_damaged_primary_uses_the_backup_like_sfdisk() {
    if !have_tools(&["sfdisk"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let disk = sparse(&dir, "gpt.img", 64 * MIB);
    let script = "label: gpt\nsize=8192, name=\"one\"\nsize=8192, name=\"two\"\n";
    run_stdin("sfdisk", &["-q", s(&disk)], Some(script));
    let before = table_of(&disk);
    // Damage the primary header's "EFI PART" signature.
    let mut f = OpenOptions::new().write(true).open(&disk).expect("open");
    f.seek(SeekFrom::Start(512)).expect("seek");
    f.write_all(b"XXXXXXXX").expect("write");
    drop(f);

    let after = table_of(&disk);
    assert_eq!(after.partitions, before.partitions);
    assert_eq!(after.table, before.table);
    assert_eq!(after.warnings.len(), 1, "{:?}", after.warnings);
    assert!(
        after.warnings[0].contains("backup GPT"),
        "{:?}",
        after.warnings
    );
    // sfdisk also falls back to the backup (and says so on stderr).
    assert_matches_sfdisk(&after, &disk);

    // With the backup damaged too, it is an error naming both.
    let len = file_len(&disk);
    let mut f = OpenOptions::new().write(true).open(&disk).expect("open");
    f.seek(SeekFrom::Start(len - 512)).expect("seek");
    f.write_all(b"XXXXXXXX").expect("write");
    drop(f);
    let err = read_table(&mut open(&disk), "/dev/sdx", len / 512, 512).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("primary at LBA 1") && text.contains("backup at LBA"),
        "{text}"
    );
}

#[test]
fn mbr_disk_matches_sfdisk_mbrman_and_blkid() {
    if !have_tools(&[
        "sfdisk",
        "blkid",
        "mkfs.vfat",
        "mkfs.ext2",
        "mkfs.ext3",
        "mkswap",
    ]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let disk = sparse(&dir, "mbr.img", 128 * MIB);
    let d = s(&disk);
    // Slot 3 stays empty; 4 is the extended partition holding logicals 5 and 6.
    let script = format!(
        "label: dos
label-id: 0x5eed1234
{d}1 : start=2048, size=32768, type=e, bootable
{d}2 : size=16384, type=83
{d}4 : size=180224, type=f
{d}5 : size=32768, type=83
{d}6 : size=16384, type=82
"
    );
    run_stdin("sfdisk", &["-q", d], Some(&script));
    let read = table_of(&disk);
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    assert_matches_sfdisk(&read, &disk);
    let roles: Vec<_> = read
        .partitions
        .iter()
        .map(|p| (p.number, p.mbr.as_ref().map(|m| m.role)))
        .collect();
    assert_eq!(
        roles,
        [
            (1, Some(MbrRole::Primary)),
            (2, Some(MbrRole::Primary)),
            (4, Some(MbrRole::Extended)),
            (5, Some(MbrRole::Logical)),
            (6, Some(MbrRole::Logical)),
        ]
    );

    // mbrman's own reading of the chain agrees on the logical partitions' starts.
    let mbr = mbrman::MBR::read_from(&mut open(&disk), 512).expect("mbrman reads it");
    let theirs: Vec<(u64, u64)> = mbr
        .logical_partitions
        .iter()
        .map(|l| {
            (
                u64::from(l.partition.starting_lba),
                u64::from(l.partition.sectors),
            )
        })
        .collect();
    let ours: Vec<(u64, u64)> = read
        .partitions
        .iter()
        .filter(|p| p.is_logical())
        .map(|p| (p.start, p.size))
        .collect();
    assert_eq!(ours, theirs);

    let filesystems = vec![
        (
            1,
            mkfs_vfat(&dir, "fat.img", "16", 16 * MIB, Some("BOOTME")),
        ),
        (2, mkfs_ext(&dir, "ext2.img", "ext2", 8 * MIB, Some("old2"))),
        (
            5,
            mkfs_ext(&dir, "ext3.img", "ext3", 16 * MIB, Some("journalled")),
        ),
        (6, mkswap(&dir, "swap.img", 8 * MIB, "msdosswap")),
    ];
    check_filesystems_in_disk(&read, &disk, &filesystems);
    let tags = blkid(&disk, None);
    assert_eq!(tags.get("PTTYPE").map(String::as_str), Some("dos"));
    assert_eq!(tags.get("PTUUID").map(String::as_str), Some("5eed1234"));
}

#[test]
fn ext2_ext3_ext4_match_blkid_and_dumpe2fs() {
    if !have_tools(&["blkid", "dumpe2fs", "mkfs.ext2", "mkfs.ext3", "mkfs.ext4"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let cases = [
        ("ext2", 8 * MIB, Some("two")),
        ("ext3", 16 * MIB, Some("three")),
        ("ext4", 64 * MIB, None),
        ("ext4", 600 * MIB, Some("4k blocks")),
    ];
    for (i, (kind, size, label)) in cases.into_iter().enumerate() {
        let image = mkfs_ext(&dir, &format!("{kind}-{i}.img"), kind, size, label);
        let fs = filesystem(detect_file(&image));
        assert_eq!(fs.fs_type.as_str(), kind);
        assert_matches_blkid(&fs, &blkid(&image, None), kind);
        assert_matches_dumpe2fs(&fs, &image);
    }
}

#[test]
fn whole_disk_ext4_has_no_table() {
    if !have_tools(&["blkid", "mkfs.ext4", "dumpe2fs"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let image = mkfs_ext(&dir, "disk.img", "ext4", 32 * MIB, Some("whole"));
    let read = table_of(&image);
    assert_eq!(read.table, PartitionTable::None);
    assert!(read.partitions.is_empty());
    let tags = blkid(&image, None);
    assert_eq!(tags.get("PTTYPE"), None);
    let fs = filesystem(detect_file(&image));
    assert_matches_blkid(&fs, &tags, "whole-disk ext4");
    assert_matches_dumpe2fs(&fs, &image);
}

#[test]
fn whole_disk_vfat_is_not_an_mbr() {
    if !have_tools(&["blkid", "mkfs.vfat"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let fat32 = mkfs_vfat(&dir, "fat32.img", "32", 40 * MIB, Some("STICK32"));
    let fat16 = mkfs_vfat(&dir, "fat16.img", "16", 16 * MIB, Some("STICK16"));
    let fat12 = mkfs_vfat(&dir, "fat12.img", "12", 2 * MIB, None);
    for (image, bits) in [(&fat32, 32), (&fat16, 16), (&fat12, 12)] {
        // sfdisk calls these "dos" (it only looks at 0x55aa); blkid and we do not.
        let read = table_of(image);
        assert_eq!(read.table, PartitionTable::None, "{}", image.display());
        let tags = blkid(image, None);
        assert_eq!(tags.get("PTTYPE"), None);
        let fs = filesystem(detect_file(image));
        assert_eq!(fs.params.fat_bits, Some(bits));
        assert_eq!(fs.size_bytes, Some(file_len(image)));
        assert_matches_blkid(&fs, &tags, &image.display().to_string());
    }
}

#[test]
fn vfat_label_prefers_the_root_directory_entry() {
    if !have_tools(&["blkid", "mkfs.vfat"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let image = mkfs_vfat(&dir, "fat32.img", "32", 40 * MIB, Some("DIRLABEL"));
    // Give the boot sector a different label: blkid's LABEL follows the directory entry.
    let mut f = OpenOptions::new().write(true).open(&image).expect("open");
    f.seek(SeekFrom::Start(0x47)).expect("seek");
    f.write_all(b"BOOTLABEL  ").expect("write");
    drop(f);
    let tags = blkid(&image, None);
    assert_eq!(tags.get("LABEL").map(String::as_str), Some("DIRLABEL"));
    assert_eq!(
        tags.get("LABEL_FATBOOT").map(String::as_str),
        Some("BOOTLABEL")
    );
    let fs = filesystem(detect_file(&image));
    assert_eq!(fs.label.as_deref(), Some("DIRLABEL"));

    // Without a directory entry (mkfs.vfat without -n, label patched into the boot
    // sector only) we fall back to the boot sector's label; blkid 2.38 reports it only
    // as LABEL_FATBOOT.
    let image = mkfs_vfat(&dir, "fat16.img", "16", 16 * MIB, None);
    let mut f = OpenOptions::new().write(true).open(&image).expect("open");
    f.seek(SeekFrom::Start(0x2b)).expect("seek");
    f.write_all(b"BOOTONLY   ").expect("write");
    drop(f);
    let tags = blkid(&image, None);
    assert_eq!(tags.get("LABEL"), None);
    assert_eq!(
        tags.get("LABEL_FATBOOT").map(String::as_str),
        Some("BOOTONLY")
    );
    assert_eq!(
        filesystem(detect_file(&image)).label.as_deref(),
        Some("BOOTONLY")
    );
}

#[test]
fn xfs_matches_blkid_and_xfs_db() {
    if !have_tools(&["blkid", "mkfs.xfs", "xfs_db"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let image = mkfs_xfs(&dir, "xfs.img", "xfslabel");
    let fs = filesystem(detect_file(&image));
    assert_matches_blkid(&fs, &blkid(&image, None), "xfs");
    let version = run("xfs_db", &["-r", "-c", "version", s(&image)]);
    let flags: Vec<&str> = version
        .split_once('=')
        .map(|(_, v)| v.trim().split(',').collect())
        .unwrap_or_default();
    let xfs_db_name = |ours: &str| match ours {
        "crc" => "CRC",
        "finobt" => "FINOBT",
        "rmapbt" => "RMAPBT",
        "reflink" => "REFLINK",
        "inobtcount" => "INOBTCNT",
        "bigtime" => "BIGTIME",
        "ftype" => "FTYPE",
        "sparse" => "SPARSE_INODES",
        "nrext64" => "NREXT64",
        other => panic!("unexpected feature {other}"),
    };
    let ours: Vec<&str> = fs.params.features.iter().map(|f| xfs_db_name(f)).collect();
    for flag in &ours {
        assert!(flags.contains(flag), "{flag} not in xfs_db's {flags:?}");
    }
    for flag in [
        "CRC",
        "FINOBT",
        "RMAPBT",
        "REFLINK",
        "INOBTCNT",
        "BIGTIME",
        "SPARSE_INODES",
    ] {
        assert_eq!(flags.contains(&flag), ours.contains(&flag), "{flag}");
    }
    let sb = run(
        "xfs_db",
        &[
            "-r",
            "-c",
            "sb 0",
            "-c",
            "p blocksize dblocks inodesize",
            s(&image),
        ],
    );
    let value = |name: &str| -> u64 {
        sb.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("xfs_db has no {name}: {sb}"))
    };
    assert_eq!(
        fs.params.block_size.map(u64::from),
        Some(value("blocksize"))
    );
    assert_eq!(
        fs.params.inode_size.map(u64::from),
        Some(value("inodesize"))
    );
    assert_eq!(fs.size_bytes, Some(value("dblocks") * value("blocksize")));
}

#[test]
fn btrfs_matches_blkid_and_dump_super() {
    if !have_tools(&["blkid", "mkfs.btrfs", "btrfs"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let image = sparse(&dir, "btrfs.img", 128 * MIB);
    run("mkfs.btrfs", &["-q", "-L", "butter", s(&image)]);
    let fs = filesystem(detect_file(&image));
    assert_matches_blkid(&fs, &blkid(&image, None), "btrfs");
    let dump = run(
        "btrfs",
        &["inspect-internal", "dump-super", "-f", s(&image)],
    );
    let value = |name: &str| -> String {
        dump.lines()
            .find_map(|l| l.strip_prefix(name).filter(|r| r.starts_with(['\t', ' '])))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("dump-super has no {name}"))
    };
    assert_eq!(
        fs.size_bytes.map(|b| b.to_string()),
        Some(value("total_bytes"))
    );
    assert_eq!(
        fs.params.sector_size.map(|b| b.to_string()),
        Some(value("sectorsize"))
    );
    assert_eq!(
        fs.params.node_size.map(|b| b.to_string()),
        Some(value("nodesize"))
    );
    let names = [
        ("EXTENDED_IREF", "extref"),
        ("SKINNY_METADATA", "skinny-metadata"),
        ("NO_HOLES", "no-holes"),
        ("MIXED_GROUPS", "mixed-bg"),
        ("RAID56", "raid56"),
        ("RAID1C34", "raid1c34"),
        ("ZONED", "zoned"),
    ];
    for (theirs, ours) in names {
        let listed = dump.contains(theirs);
        let has = fs.params.features.iter().any(|f| f == ours);
        assert_eq!(listed, has, "{ours} vs dump-super's {theirs}");
    }
}

#[test]
fn swap_matches_blkid() {
    if !have_tools(&["blkid", "mkswap"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let image = mkswap(&dir, "swap.img", 16 * MIB, "swaplabel");
    let fs = filesystem(detect_file(&image));
    assert_matches_blkid(&fs, &blkid(&image, None), "swap");
    assert_eq!(fs.size_bytes, Some(16 * MIB));
    assert_eq!(fs.params.block_size, Some(4096));
}

#[test]
fn lvm_pv_fixture_matches_blkid() {
    if !have_tools(&["blkid"]) {
        return;
    }
    // The first 8 KiB of a PV made by pvcreate on a loop device (see fixtures/README.md);
    // blkid ignores a PV smaller than a few MiB, so pad it.
    let dir = TempDir::new().expect("temp dir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lvm2-pv-head.bin");
    let image = sparse(&dir, "pv.img", 4 * MIB);
    copy_into(&fixture, &image, 0);
    let (kind, detail) = container(detect_file(&image));
    assert_eq!(kind, UnsupportedKind::LvmPhysicalVolume);
    let tags = blkid(&image, None);
    assert_eq!(tags.get("TYPE").map(String::as_str), Some("LVM2_member"));
    let uuid = tags.get("UUID").expect("blkid prints the PV UUID");
    assert_eq!(detail, format!("LVM2 physical volume, PV UUID {uuid}"));
    // Inside a partition too: the table reader must not mistake it for anything.
    assert_eq!(table_of(&image).table, PartitionTable::None);
}

#[test]
fn luks1_and_luks2_match_blkid() {
    if !have_tools(&["blkid", "cryptsetup"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let key = dir.path().join("key");
    std::fs::write(&key, "not a secret").expect("key file");
    for (version, label) in [("luks1", None), ("luks2", Some("vault"))] {
        let image = sparse(&dir, &format!("{version}.img"), 20 * MIB);
        let mut args = vec![
            "luksFormat",
            "--batch-mode",
            "--type",
            version,
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
            s(&key),
        ];
        if let Some(label) = label {
            args.extend(["--label", label]);
        }
        args.push(s(&image));
        run("cryptsetup", &args);
        let (kind, detail) = container(detect_file(&image));
        assert_eq!(kind, UnsupportedKind::Luks);
        let tags = blkid(&image, None);
        assert_eq!(tags.get("TYPE").map(String::as_str), Some("crypto_LUKS"));
        let mut expected = format!(
            "LUKS{}, UUID {}",
            tags["VERSION"],
            tags.get("UUID").expect("blkid prints the LUKS UUID")
        );
        if let Some(label) = tags.get("LABEL") {
            expected.push_str(&format!(", label {label}"));
        }
        assert_eq!(detail, expected);
    }
}

// ---------------------------------------------------------------------------------------
// MD RAID: mdadm needs the md driver to create arrays, so the superblocks are written
// here from the documented layout (struct mdp_superblock_1, mdp_super_t) and judged by
// blkid and `mdadm --examine`, which both read plain files.

const MD_MAGIC: u32 = 0xa92b_4efc;
const MD_SET_UUID: [u8; 16] = [
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A RAID1 member superblock, version 1.x, for a device of `dev_bytes` at byte `at`.
fn md1_superblock(dev_bytes: u64, at: u64, data_offset: u64) -> Vec<u8> {
    let mut sb = vec![0u8; 4096];
    put(&mut sb, 0, &MD_MAGIC.to_le_bytes());
    put(&mut sb, 4, &1u32.to_le_bytes()); // major_version
    put(&mut sb, 16, &MD_SET_UUID);
    put(&mut sb, 32, b"rescue:7"); // set_name
    put(&mut sb, 64, &1_700_000_000u64.to_le_bytes()); // ctime
    put(&mut sb, 72, &1u32.to_le_bytes()); // level 1
    let data_sectors = dev_bytes / 512 - data_offset - 16;
    put(&mut sb, 80, &data_sectors.to_le_bytes()); // size
    put(&mut sb, 92, &2u32.to_le_bytes()); // raid_disks
    put(&mut sb, 128, &data_offset.to_le_bytes());
    put(&mut sb, 136, &data_sectors.to_le_bytes()); // data_size
    put(&mut sb, 144, &(at / 512).to_le_bytes()); // super_offset
    put(&mut sb, 168, &[0x40; 16]); // device_uuid
    put(&mut sb, 200, &1u64.to_le_bytes()); // events
    put(&mut sb, 208, &u64::MAX.to_le_bytes()); // resync_offset: in sync
    put(&mut sb, 220, &2u32.to_le_bytes()); // max_dev
    put(&mut sb, 256, &[0, 0, 1, 0]); // dev_roles
    let mut sum: u64 = 0;
    for i in (0..260).step_by(4) {
        sum += u64::from(u32::from_le_bytes(
            sb[i..i + 4].try_into().expect("4 bytes"),
        ));
    }
    let csum = ((sum & 0xffff_ffff) + (sum >> 32)) as u32;
    put(&mut sb, 216, &csum.to_le_bytes());
    sb
}

/// A version 0.90 superblock (little-endian host).
fn md090_superblock(dev_bytes: u64) -> Vec<u8> {
    let mut sb = vec![0u8; 4096];
    let words: [(usize, u32); 12] = [
        (0, MD_MAGIC),
        (1, 0),  // major
        (2, 90), // minor
        (3, 0),  // patch
        (6, 1_700_000_000),
        (7, 1),                                          // level
        (8, ((dev_bytes & !0xffff) / 1024 - 64) as u32), // size in KiB
        (9, 2),                                          // nr_disks
        (10, 2),                                         // raid_disks
        (11, 7),                                         // md_minor
        (33, 1),                                         // state: clean
        (39, 1),                                         // events_lo
    ];
    for (word, value) in words {
        put(&mut sb, word * 4, &value.to_le_bytes());
    }
    put(&mut sb, 20, &MD_SET_UUID[..4]);
    put(&mut sb, 52, &MD_SET_UUID[4..]);
    let sum: u64 = sb
        .chunks(4)
        .map(|w| u64::from(u32::from_le_bytes(w.try_into().expect("4 bytes"))))
        .sum();
    let csum = ((sum & 0xffff_ffff) + (sum >> 32)) as u32;
    put(&mut sb, 38 * 4, &csum.to_le_bytes());
    sb
}

#[test]
fn md_superblocks_match_blkid_and_mdadm() {
    if !have_tools(&["blkid", "mdadm"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let dev_bytes = 8 * MIB + 3 * 1024; // not a multiple of 4 KiB: exercises 1.0's rounding
    let end_1_0 = ((dev_bytes / 512 - 16) & !7) * 512;
    let end_0_90 = (dev_bytes & !0xffff) - 0x10000;
    // mdadm prints the array UUID as four host-order words: for 1.x the words are
    // little-endian on disk, for 0.90 they are the host's (here little-endian) words.
    let uuid_1 = "10111213:14151617:18191a1b:1c1d1e1f";
    let uuid_0_90 = "13121110:17161514:1b1a1918:1f1e1d1c";
    let cases = [
        ("1.2", 4096, md1_superblock(dev_bytes, 4096, 2048), uuid_1),
        ("1.1", 0, md1_superblock(dev_bytes, 0, 2048), uuid_1),
        (
            "1.0",
            end_1_0,
            md1_superblock(dev_bytes, end_1_0, 0),
            uuid_1,
        ),
        ("0.90", end_0_90, md090_superblock(dev_bytes), uuid_0_90),
    ];
    for (version, at, sb, mdadm_uuid) in cases {
        let image = sparse(&dir, &format!("md-{version}.img"), dev_bytes);
        let mut f = OpenOptions::new().write(true).open(&image).expect("open");
        f.seek(SeekFrom::Start(at)).expect("seek");
        f.write_all(&sb).expect("write");
        drop(f);

        let tags = blkid(&image, None);
        assert_eq!(
            tags.get("TYPE").map(String::as_str),
            Some("linux_raid_member"),
            "{version}: blkid accepts the superblock"
        );
        let examine = run("mdadm", &["--examine", s(&image)]);
        assert!(examine.contains(mdadm_uuid), "{examine}");
        assert!(
            !examine.contains("wrong"),
            "mdadm finds a bad checksum: {examine}"
        );

        let (kind, detail) = container(detect_file(&image));
        assert_eq!(kind, UnsupportedKind::MdMember);
        let uuid = &tags["UUID"];
        assert!(
            detail.contains(&format!("metadata {version}, array UUID {uuid}")),
            "{detail} vs blkid {tags:?}"
        );
        assert!(tags["VERSION"].starts_with(version), "{tags:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Robustness on real but damaged images

#[test]
fn truncated_and_corrupted_images_do_not_panic() {
    if !have_tools(&["sfdisk", "mkfs.ext4", "mkfs.vfat", "mkfs.btrfs", "mkswap"]) {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let ext4 = mkfs_ext(&dir, "ext4.img", "ext4", 8 * MIB, Some("x"));
    let fat = mkfs_vfat(&dir, "fat.img", "32", 40 * MIB, Some("X"));
    let swap = mkswap(&dir, "swap.img", 4 * MIB, "x");
    let btrfs = sparse(&dir, "btrfs.img", 128 * MIB);
    run("mkfs.btrfs", &["-q", s(&btrfs)]);
    let gpt = sparse(&dir, "gpt.img", 8 * MIB);
    run_stdin("sfdisk", &["-q", s(&gpt)], Some("label: gpt\nsize=4096\n"));

    for image in [&ext4, &fat, &swap, &btrfs, &gpt] {
        let bytes = std::fs::read(image).expect("read image");
        let head = &bytes[..bytes.len().min(256 * 1024)];
        for cut in [
            0, 100, 511, 512, 1100, 2048, 4090, 8192, 65600, 69632, 200_000,
        ] {
            let cut = cut.min(head.len());
            let part = &head[..cut];
            // The region may claim more than the data holds, as a lying table would.
            for claimed in [cut as u64, bytes.len() as u64] {
                let _ = detect(&mut std::io::Cursor::new(part), 0, claimed);
            }
            let _ = read_table(&mut std::io::Cursor::new(part), "/dev/x", 16384, 512);
        }
        // Flip bytes through the first 128 KiB of the superblock areas.
        let mut damaged = head.to_vec();
        for i in (0..damaged.len()).step_by(97) {
            damaged[i] = damaged[i].wrapping_mul(31).wrapping_add(7);
            if i % (97 * 64) == 0 {
                let len = damaged.len() as u64;
                let _ = detect(&mut std::io::Cursor::new(&damaged), 0, len);
                let _ = read_table(&mut std::io::Cursor::new(&damaged), "/dev/x", 0, 512);
            }
        }
    }
}
