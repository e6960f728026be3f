//! `mkrescue mountlist` against real disks.
//!
//! - As root: a GPT and an MBR disk on loop devices (and, apart, two whole-disk filesystems,
//!   ext4 and btrfs), made with sfdisk and mkfs and mounted under a temp root, captured with
//!   `mkrescue mountlist --root DIR --json`; every field of the JSON is compared with what
//!   sfdisk, blkid, findmnt, dumpe2fs, xfs_db, btrfs, minfo, mkswap, df, sysfs and the fstab
//!   written here say. A field this file does not know fails the test, so a new field gets
//!   a check. And the host's own root disk, found with findmnt.
//! - Root tests hold [`host_tests::host_lock`], so their loop disks never come and go in the
//!   middle of another test's capture.
//! - As anyone: bad input gives exit 1 (or 2 for usage) with a clear message, never a panic.
//!
//! The JSON is read as `serde_json::Value` so these tests do not depend on the mkrescue
//! crate: they check the file format as users and the restore see it.

use host_tests::{
    blkid_probe, command, findmnt, findmnt_real, host_lock, mkfs, mkrescue, output,
    parse_gpt_attrs, parse_json, read_sys, read_sys_u64, require_root_or_skip, require_tools, run,
    sfdisk_json, write_file, CmdOutput, LoopDisk, Mounts,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const MIB: u64 = 1024 * 1024;

const GPT_ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const GPT_ROOT_X86_64: &str = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
const GPT_HOME: &str = "933ac7e1-2eb4-4f13-b844-0e14e2aef915";
const GPT_SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";
const GPT_LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";

// ---------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------

/// Collects every mismatch so one run reports them all.
#[derive(Default)]
struct Check {
    problems: Vec<String>,
}

impl Check {
    fn eq<T: PartialEq + Debug>(&mut self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.problems.push(format!(
                "{what}: mountlist has {actual:?}, expected {expected:?}"
            ));
        }
    }

    fn that(&mut self, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(format!("{what}: {}", detail()));
        }
    }

    /// Every key of `obj` must be one this test checks: a new field needs a new check.
    fn keys(&mut self, what: &str, obj: &Value, checked: &[&str]) {
        match obj.as_object() {
            Some(map) => {
                for key in map.keys() {
                    if !checked.contains(&key.as_str()) {
                        self.problems.push(format!(
                            "{what}: field {key:?} is not checked by this test (add a check)"
                        ));
                    }
                }
            }
            None => self
                .problems
                .push(format!("{what}: not a JSON object: {obj}")),
        }
    }

    fn finish(self, context: &str) {
        assert!(
            self.problems.is_empty(),
            "{} problem(s):\n  - {}\n{context}",
            self.problems.len(),
            self.problems.join("\n  - ")
        );
    }
}

/// A field as a string; absent and null are None.
fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn u(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// A flag that serde leaves out when false.
fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A list field; absent is empty (serde skips empty lists).
fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn present(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// "  Key:   value" lines (dumpe2fs -h, minfo, xfs_db "key = value") as a map.
fn key_values(text: &str, separator: char) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(separator))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn number(map: &BTreeMap<String, String>, key: &str, tool: &str) -> u64 {
    let text = map
        .get(key)
        .unwrap_or_else(|| panic!("{tool} printed no {key:?}: {map:?}"));
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{tool}: {key:?} is {text:?}, not a number"))
}

// ---------------------------------------------------------------------------------------
// The GPT + MBR fixture
// ---------------------------------------------------------------------------------------

const GPT_SCRIPT: &str = r#"label: gpt
unit: sectors
size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system", attrs="RequiredPartition GUID:63"
size=96MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
size=48MiB, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, name="home", attrs="GUID:60"
size=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"
"#;

const MBR_SIGNATURE: &str = "0x5eedc0de";

fn mbr_script() -> String {
    format!(
        "label: dos\nlabel-id: {MBR_SIGNATURE}\nunit: sectors\n\
         size=48MiB, type=83, bootable\n\
         type=5\n\
         size=48MiB, type=83\n\
         type=83\n"
    )
}

/// What the fstab text says about each device, as the mountlist's `fstab` objects: each
/// line's spec resolved to a device with what blkid said (UUID=, LABEL=, PARTUUID=, path).
fn expected_fstab_refs(
    fstab: &str,
    blkid: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, Value> {
    let mut refs = BTreeMap::new();
    for line in fstab.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [spec, mount_point, fs_type, options, dump, pass] = fields[..] else {
            panic!("fixture fstab line {line:?} does not have six fields");
        };
        let (kind, key, value) = match spec.split_once('=') {
            Some(("UUID", v)) => ("uuid", "UUID", v),
            Some(("LABEL", v)) => ("label", "LABEL", v),
            Some(("PARTUUID", v)) => ("partuuid", "PART_ENTRY_UUID", v),
            _ => ("device", "DEVNAME", spec),
        };
        let device = blkid
            .iter()
            .find(|(_, tags)| tags.get(key).map(String::as_str) == Some(value))
            .map(|(dev, _)| dev.clone())
            .unwrap_or_else(|| panic!("fixture fstab {spec} names no device"));
        let number = |n: &str| n.parse::<u32>().expect("fstab dump/pass");
        refs.insert(
            device,
            json!({
                "spec": spec,
                "kind": kind,
                "mount_point": mount_point,
                "fs_type": fs_type,
                "options": options,
                "dump": number(dump),
                "pass": number(pass),
            }),
        );
    }
    refs
}

#[test]
fn captures_gpt_and_mbr_loop_disks_under_a_root() {
    if !require_root_or_skip()
        || !require_tools(&[
            "sfdisk",
            "losetup",
            "partx",
            "findmnt",
            "blkid",
            "mkfs.ext4",
            "mkfs.xfs",
            "mkfs.vfat",
            "mkswap",
            "dumpe2fs",
            "xfs_db",
            "minfo",
            "df",
            "mknod",
        ])
    {
        return;
    }
    let _lock = host_lock();

    // Drop order is the reverse of this: mounts, then loop disks, then the root dir.
    let root_dir = tempfile::Builder::new()
        .prefix("mkrescue-root-")
        .tempdir_in("/var/tmp")
        .expect("temp root dir");
    let root = root_dir.path().canonicalize().expect("canonical temp root");
    let root_str = root.to_str().expect("UTF-8 temp path").to_string();
    let mut gpt = LoopDisk::new(600 * MIB);
    let mut mbr = LoopDisk::new(448 * MIB);
    let mut mounts = Mounts::new();

    // --- GPT disk: ESP (vfat), root (ext4, labelled), /home (ext4), swap, /data (xfs)
    let gpt_parts = gpt.partition(GPT_SCRIPT);
    assert_eq!(gpt_parts.len(), 5, "GPT partitions: {gpt_parts:?}");
    let [esp, rootfs, home, swap, data] = [1, 2, 3, 4, 5].map(|n| gpt.partition_path(n));
    mkfs("vfat", &esp, &["-F", "32", "-n", "HOSTESP"]);
    mkfs("ext4", &rootfs, &["-L", "testroot"]);
    mkfs("ext4", &home, &["-b", "4096", "-I", "512"]);
    let mkswap_says = mkfs("swap", &swap, &["-L", "testswap"]);
    mkfs("xfs", &data, &["-L", "testdata"]);

    // --- MBR disk: primary ext4 (/srv), extended, logical ext4 (/var/log), logical xfs
    let mbr_parts = mbr.partition(&mbr_script());
    assert_eq!(mbr_parts.len(), 4, "MBR partitions: {mbr_parts:?}");
    let [srv, extended, varlog, archive] = [1, 2, 5, 6].map(|n| mbr.partition_path(n));
    mkfs("ext4", &srv, &[]);
    mkfs("ext4", &varlog, &["-L", "varlog", "-b", "2048"]);
    mkfs("xfs", &archive, &["-L", "archive"]);

    let blkid: BTreeMap<String, BTreeMap<String, String>> = [
        &esp, &rootfs, &home, &swap, &data, &srv, &extended, &varlog, &archive,
    ]
    .into_iter()
    .map(|dev| (dev.clone(), blkid_probe(dev)))
    .collect();
    let uuid = |dev: &str| blkid[dev]["UUID"].clone();
    let partuuid = |dev: &str| blkid[dev]["PART_ENTRY_UUID"].clone();

    // --- mount them under the root
    mounts.mount(&rootfs, &root, None);
    mounts.mount(&home, &root.join("home"), Some("noatime"));
    mounts.mount(&data, &root.join("data"), Some("noatime,nodiratime"));
    mounts.mount(&srv, &root.join("srv"), None);
    mounts.mount(&varlog, &root.join("var/log"), Some("nodev,nosuid"));

    // --- /etc/fstab: every way of naming a device, and two entries not mounted now:
    // the ESP (this kernel has no vfat) and the archive.
    let fstab = format!(
        "# /etc/fstab written by host_mountlist.rs\n\
         \n\
         LABEL=testroot\t/\text4\terrors=remount-ro\t0 1\n\
         UUID={home_uuid}\t/home\text4\tdefaults,noatime\t0 2\n\
         PARTUUID={esp_partuuid}\t/boot/efi\tvfat\tumask=0077\t0 1\n\
         LABEL=testswap\tnone\tswap\tsw\t0 0\n\
         {data}  /data  xfs  noatime,nodiratime  0 0\n\
         UUID={srv_uuid}\t/srv\text4\tdefaults\t1 2\n\
         # a comment between entries\n\
         PARTUUID={varlog_partuuid}\t/var/log\text4\tnodev,nosuid\t0 2\n\
         UUID={archive_uuid}\t/mnt/archive\txfs\tdefaults\t0 0\n",
        home_uuid = uuid(&home),
        esp_partuuid = partuuid(&esp),
        srv_uuid = uuid(&srv),
        varlog_partuuid = partuuid(&varlog),
        archive_uuid = uuid(&archive),
    );
    write_file(&root.join("etc/fstab"), &fstab);
    write_file(&root.join("etc/hostname"), "testhost\n");
    write_file(&root.join("home/user/notes.txt"), "remember the milk\n");
    write_file(&root.join("data/blob.bin"), &"x".repeat(1 << 20));
    write_file(&root.join("srv/www/index.html"), "<h1>hello</h1>\n");
    write_file(&root.join("var/log/messages"), "boot ok\n");
    for dir in ["boot/efi", "mnt/archive"] {
        std::fs::create_dir_all(root.join(dir)).expect("mount point dirs");
    }
    run(&mut command("sync"));
    let expected_fstab = expected_fstab_refs(&fstab, &blkid);

    // --- capture
    let df_before = df_used(&mounts_under(&root_str));
    let t0 = now();
    let out = mkrescue(&["mountlist", "--root", &root_str, "--json"]);
    let t1 = now();
    let df_after = df_used(&mounts_under(&root_str));
    assert_clean_success(&out);
    let ml = parse_json(&out.stdout, "mkrescue mountlist --json");
    let context = format!("--- mountlist ---\n{}", out.stdout);

    let mut check = Check::default();
    check.keys(
        "mountlist",
        &ml,
        &[
            "version",
            "host",
            "boot",
            "disks",
            "unsupported",
            "warnings",
        ],
    );
    check.eq("version", u(&ml, "version"), Some(1));

    // host
    let host = &ml["host"];
    check.keys(
        "host",
        host,
        &["hostname", "root", "kernel_release", "captured_at"],
    );
    check.eq(
        "host.hostname",
        s(host, "hostname"),
        // the captured system's name, from its /etc/hostname (written above)
        Some("testhost".to_string()),
    );
    check.eq("host.root", s(host, "root"), Some(root_str.clone()));
    check.eq(
        "host.kernel_release",
        s(host, "kernel_release"),
        Some(read_sys(Path::new("/proc/sys/kernel/osrelease"))),
    );
    let captured = u(host, "captured_at").unwrap_or(0);
    check.that("host.captured_at", (t0..=t1).contains(&captured), || {
        format!("{captured} is not between {t0} and {t1}")
    });

    // boot: a system captured under --root boots with UEFI when it has an ESP (unmounted,
    // but it is the ESP), whatever this machine boots with
    let boot = &ml["boot"];
    check.keys("boot", boot, &["mode", "esp", "paths"]);
    check.eq("boot.mode", s(boot, "mode"), Some("uefi".to_string()));
    check.eq("boot.esp", s(boot, "esp"), Some(esp.clone()));
    // No boot code in either MBR (sfdisk writes none); the ESP is not mounted here (this
    // kernel has no vfat), so its files are not known.
    check.eq(
        "boot.paths",
        boot.get("paths").cloned(),
        Some(serde_json::json!([
            {"kind": "esp_unread", "disk": gpt.device(), "partition": 1}
        ])),
    );

    // nothing unsupported here; warnings for the fstab entries that are not mounted
    check.eq("unsupported", list(&ml, "unsupported").len(), 0);
    let warnings: Vec<String> = list(&ml, "warnings")
        .iter()
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect();
    for unmounted in ["/mnt/archive", "/boot/efi"] {
        check.that(
            "warnings",
            warnings.iter().any(|w| w.contains(unmounted)),
            || format!("no warning names the unmounted fstab entry {unmounted}: {warnings:?}"),
        );
    }
    for mounted in ["/home", "/data", "/srv", "/var/log"] {
        check.that(
            "warnings",
            !warnings
                .iter()
                .any(|w| w.contains(&format!("{mounted} ")) && w.contains("not mounted")),
            || format!("a warning says the mounted {mounted} is not mounted: {warnings:?}"),
        );
    }

    // disks: exactly the two loop disks
    let disks = list(&ml, "disks");
    let mut disk_paths: Vec<String> = disks.iter().filter_map(|d| s(d, "path")).collect();
    disk_paths.sort();
    let mut expected_disks = vec![gpt.device().to_string(), mbr.device().to_string()];
    expected_disks.sort();
    check.eq("disks", disk_paths, expected_disks);

    let mounted = findmnt_real();
    let judges = Judges {
        root: &root_str,
        mounted: &mounted,
        blkid: &blkid,
        fstab: &expected_fstab,
        df_before: &df_before,
        df_after: &df_after,
        mkswap_says: &mkswap_says,
    };
    for disk in [&gpt, &mbr] {
        match disks
            .iter()
            .find(|d| s(d, "path").as_deref() == Some(disk.device()))
        {
            Some(d) => check_disk(&mut check, d, disk, &judges),
            None => check.problems.push(format!("{} is missing", disk.device())),
        }
    }
    check.finish(&context);

    // --- the table form names every partition and mount point
    let table = mkrescue(&["mountlist", "--root", &root_str]);
    assert_clean_success(&table);
    let mut check = Check::default();
    for needle in gpt_parts
        .iter()
        .chain(&mbr_parts)
        .map(String::as_str)
        .chain(["/home", "/data", "/srv", "/var/log", "testroot"])
    {
        check.that("table output", table.stdout.contains(needle), || {
            format!("does not mention {needle}")
        });
    }
    check.finish(&table.report());

    // --- the capture, saved, reads back and prints the same JSON
    let saved = root_dir.path().join("mountlist.json");
    std::fs::write(&saved, &out.stdout).expect("save the mountlist");
    let saved_str = saved.to_str().expect("UTF-8 path");
    let back = mkrescue(&["mountlist", "--input", saved_str, "--json"]);
    assert_clean_success(&back);
    assert_eq!(
        parse_json(&back.stdout, "mkrescue mountlist --input --json"),
        ml,
        "a saved capture read back with --input prints differently"
    );
    let back_table = mkrescue(&["mountlist", "--input", saved_str]);
    assert_clean_success(&back_table);
}

#[test]
fn captures_whole_disk_filesystems_under_a_root() {
    if !require_root_or_skip()
        || !require_tools(&[
            "losetup",
            "findmnt",
            "blkid",
            "mkfs.ext4",
            "mkfs.btrfs",
            "btrfs",
            "dumpe2fs",
            "df",
        ])
    {
        return;
    }
    let _lock = host_lock();
    let root_dir = tempfile::Builder::new()
        .prefix("mkrescue-root-")
        .tempdir_in("/var/tmp")
        .expect("temp root dir");
    let root = root_dir.path().canonicalize().expect("canonical temp root");
    let root_str = root.to_str().expect("UTF-8 temp path").to_string();
    // no partition tables: a filesystem on the whole (loop) disk, as this machine's root
    let ext = LoopDisk::new(128 * MIB);
    let btrfs = LoopDisk::new(256 * MIB);
    let mut mounts = Mounts::new();
    mkfs("ext4", ext.device(), &["-L", "wholeroot"]);
    mkfs("btrfs", btrfs.device(), &["-L", "wholedata"]);
    let blkid: BTreeMap<String, BTreeMap<String, String>> = [ext.device(), btrfs.device()]
        .into_iter()
        .map(|dev| (dev.to_string(), blkid_probe(dev)))
        .collect();
    mounts.mount(ext.device(), &root, None);
    mounts.mount(btrfs.device(), &root.join("srv"), Some("noatime"));
    let fstab = format!(
        "UUID={}\t/\text4\tdefaults\t0 1\nLABEL=wholedata\t/srv\tbtrfs\tnoatime\t0 0\n",
        blkid[ext.device()]["UUID"]
    );
    write_file(&root.join("etc/fstab"), &fstab);
    write_file(&root.join("srv/data.txt"), "on btrfs\n");
    run(&mut command("sync"));

    let df_before = df_used(&mounts_under(&root_str));
    let out = mkrescue(&["mountlist", "--root", &root_str, "--json"]);
    let df_after = df_used(&mounts_under(&root_str));
    assert_clean_success(&out);
    let ml = parse_json(&out.stdout, "mkrescue mountlist --json");
    let mut check = Check::default();
    check.eq("host.root", s(&ml["host"], "root"), Some(root_str.clone()));
    check.that("boot.esp", !present(&ml["boot"], "esp"), || {
        "there is no ESP here".into()
    });
    let warnings = list(&ml, "warnings");
    check.that(
        "warnings",
        !warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("not mounted"))),
        || format!("every fstab entry is mounted: {warnings:?}"),
    );
    let disks = list(&ml, "disks");
    let mut disk_paths: Vec<String> = disks.iter().filter_map(|d| s(d, "path")).collect();
    disk_paths.sort();
    let mut expected_disks = vec![ext.device().to_string(), btrfs.device().to_string()];
    expected_disks.sort();
    check.eq("disks", disk_paths, expected_disks);
    let mounted = findmnt_real();
    let judges = Judges {
        root: &root_str,
        mounted: &mounted,
        blkid: &blkid,
        fstab: &expected_fstab_refs(&fstab, &blkid),
        df_before: &df_before,
        df_after: &df_after,
        mkswap_says: "",
    };
    for disk in [&ext, &btrfs] {
        match disks
            .iter()
            .find(|d| s(d, "path").as_deref() == Some(disk.device()))
        {
            Some(d) => check_disk(&mut check, d, disk, &judges),
            None => check.problems.push(format!("{} is missing", disk.device())),
        }
    }
    check.finish(&format!("--- mountlist ---\n{}", out.stdout));
}

/// What the tools said, for [`check_disk`].
struct Judges<'a> {
    root: &'a str,
    mounted: &'a [host_tests::MountEntry],
    blkid: &'a BTreeMap<String, BTreeMap<String, String>>,
    fstab: &'a BTreeMap<String, Value>,
    df_before: &'a BTreeMap<String, u64>,
    df_after: &'a BTreeMap<String, u64>,
    mkswap_says: &'a str,
}

/// The real filesystems mounted at or under `root`: (source device, target).
fn mounts_under(root: &str) -> Vec<(String, String)> {
    findmnt_real()
        .into_iter()
        .filter(|m| m.target == root || m.target.starts_with(&format!("{root}/")))
        .map(|m| (m.source, m.target))
        .collect()
}

/// `df` used bytes of each mounted device under the root.
fn df_used(mounts: &[(String, String)]) -> BTreeMap<String, u64> {
    mounts
        .iter()
        .map(|(dev, target)| {
            let text = run(command("df").args(["-B1", "--output=used"]).arg(target));
            let used = text
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or_else(|| panic!("df printed {text:?}"));
            (dev.clone(), used)
        })
        .collect()
}

fn check_disk(check: &mut Check, d: &Value, disk: &LoopDisk, j: &Judges) {
    let dev = disk.device();
    let sys = disk.sys_dir();
    check.keys(
        dev,
        d,
        &[
            "path",
            "sectors",
            "logical_sector_size",
            "physical_sector_size",
            "model",
            "serial",
            "table",
            "partitions",
            "filesystem",
        ],
    );
    let lbs = read_sys_u64(&sys.join("queue/logical_block_size"));
    check.eq(
        &format!("{dev} logical_sector_size"),
        u(d, "logical_sector_size"),
        Some(lbs),
    );
    check.eq(
        &format!("{dev} physical_sector_size"),
        u(d, "physical_sector_size"),
        Some(read_sys_u64(&sys.join("queue/physical_block_size"))),
    );
    // sysfs counts 512-byte sectors whatever the logical size
    check.eq(
        &format!("{dev} sectors"),
        u(d, "sectors"),
        Some(read_sys_u64(&sys.join("size")) * 512 / lbs),
    );
    // a loop device has no model or serial in sysfs
    for key in ["model", "serial"] {
        let sysfs = std::fs::read_to_string(sys.join("device").join(key))
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        check.eq(&format!("{dev} {key}"), s(d, key), sysfs);
    }
    let t = &d["table"];
    // sfdisk fails on a disk without a partition table
    let sfdisk = output(command("sfdisk").arg("--json").arg(dev));
    if !sfdisk.success() {
        check.keys(&format!("{dev} table"), t, &["type"]);
        check.eq(
            &format!("{dev} table.type"),
            s(t, "type"),
            Some("none".into()),
        );
        check.eq(&format!("{dev} partitions"), list(d, "partitions").len(), 0);
        let bytes = read_sys_u64(&sys.join("size")) * 512;
        match (
            j.blkid[dev].get("TYPE"),
            d.get("filesystem").filter(|f| !f.is_null()),
        ) {
            (Some(fs_type), Some(f)) => check_filesystem(check, f, dev, fs_type, bytes, j),
            (None, None) => {}
            (want, got) => check.problems.push(format!(
                "{dev} whole-disk filesystem: mountlist has {got:?}, blkid says {want:?}"
            )),
        }
        return;
    }
    check.that(
        &format!("{dev} filesystem"),
        !present(d, "filesystem"),
        || "a partitioned disk has no whole-disk filesystem".into(),
    );
    let table = sfdisk_json(dev);
    match table["label"].as_str() {
        Some("gpt") => {
            check.keys(
                &format!("{dev} table"),
                t,
                &["type", "disk_guid", "first_usable_lba", "last_usable_lba"],
            );
            check.eq(
                &format!("{dev} table.type"),
                s(t, "type"),
                Some("gpt".into()),
            );
            check.eq(
                &format!("{dev} table.disk_guid"),
                s(t, "disk_guid"),
                table["id"].as_str().map(str::to_lowercase),
            );
            check.eq(
                &format!("{dev} table.first_usable_lba"),
                u(t, "first_usable_lba"),
                table["firstlba"].as_u64(),
            );
            check.eq(
                &format!("{dev} table.last_usable_lba"),
                u(t, "last_usable_lba"),
                table["lastlba"].as_u64(),
            );
        }
        Some("dos") => {
            check.keys(&format!("{dev} table"), t, &["type", "signature"]);
            check.eq(
                &format!("{dev} table.type"),
                s(t, "type"),
                Some("msdos".into()),
            );
            check.eq(
                &format!("{dev} table.signature"),
                s(t, "signature").map(|x| x.to_lowercase()),
                table["id"].as_str().map(str::to_lowercase),
            );
            check.eq(
                &format!("{dev} table.signature"),
                s(t, "signature").map(|x| x.to_lowercase()),
                Some(MBR_SIGNATURE.to_string()),
            );
        }
        other => panic!("sfdisk says {dev} has label {other:?}"),
    }

    let expected_parts = table["partitions"].as_array().cloned().unwrap_or_default();
    let parts = list(d, "partitions");
    let mut got: Vec<String> = parts.iter().filter_map(|p| s(p, "path")).collect();
    got.sort();
    let mut want: Vec<String> = expected_parts
        .iter()
        .filter_map(|p| p["node"].as_str().map(str::to_string))
        .collect();
    want.sort();
    check.eq(&format!("{dev} partitions"), got, want);
    let is_gpt = table["label"] == "gpt";
    for sp in &expected_parts {
        let node = sp["node"].as_str().expect("sfdisk node");
        if let Some(p) = parts.iter().find(|p| s(p, "path").as_deref() == Some(node)) {
            check_partition(check, p, sp, is_gpt, disk, j);
        }
    }
}

fn check_partition(
    check: &mut Check,
    p: &Value,
    sp: &Value,
    is_gpt: bool,
    disk: &LoopDisk,
    j: &Judges,
) {
    let node = sp["node"].as_str().expect("sfdisk node");
    let number: u32 = node
        .rsplit_once('p')
        .and_then(|(_, n)| n.parse().ok())
        .expect("partition number in node name");
    check.keys(
        node,
        p,
        &[
            "number",
            "path",
            "start",
            "size",
            "gpt",
            "mbr",
            "filesystem",
        ],
    );
    check.eq(
        &format!("{node} number"),
        u(p, "number"),
        Some(number.into()),
    );
    check.eq(
        &format!("{node} start"),
        u(p, "start"),
        sp["start"].as_u64(),
    );
    check.eq(&format!("{node} size"), u(p, "size"), sp["size"].as_u64());
    let blkid = &j.blkid[node];
    // The kernel agrees on where it starts (and, but for an extended one, its size).
    let sys = disk.sys_dir().join(format!("{}p{number}", disk.name()));
    let lbs = read_sys_u64(&disk.sys_dir().join("queue/logical_block_size"));
    check.eq(
        &format!("{node} start (sysfs)"),
        u(p, "start"),
        Some(read_sys_u64(&sys.join("start")) * 512 / lbs),
    );

    if is_gpt {
        check.that(&format!("{node} mbr"), !present(p, "mbr"), || {
            "a GPT partition has no mbr entry".into()
        });
        let g = &p["gpt"];
        check.keys(
            &format!("{node} gpt"),
            g,
            &["type_guid", "unique_guid", "name", "attributes"],
        );
        check.eq(
            &format!("{node} gpt.type_guid"),
            s(g, "type_guid"),
            sp["type"].as_str().map(str::to_lowercase),
        );
        check.eq(
            &format!("{node} gpt.unique_guid"),
            s(g, "unique_guid"),
            sp["uuid"].as_str().map(str::to_lowercase),
        );
        check.eq(
            &format!("{node} gpt.name"),
            s(g, "name").unwrap_or_default(),
            sp["name"].as_str().unwrap_or_default().to_string(),
        );
        let attrs = parse_gpt_attrs(sp["attrs"].as_str().unwrap_or_default());
        check.eq(
            &format!("{node} gpt.attributes"),
            u(g, "attributes").unwrap_or(0),
            attrs,
        );
        if let Some(flags) = blkid.get("PART_ENTRY_FLAGS") {
            let flags = u64::from_str_radix(flags.trim_start_matches("0x"), 16)
                .expect("blkid PART_ENTRY_FLAGS in hex");
            check.eq(
                &format!("{node} gpt.attributes (blkid)"),
                u(g, "attributes").unwrap_or(0),
                flags,
            );
        }
        check.eq(
            &format!("{node} size (sysfs)"),
            u(p, "size"),
            Some(read_sys_u64(&sys.join("size")) * 512 / lbs),
        );
    } else {
        check.that(&format!("{node} gpt"), !present(p, "gpt"), || {
            "an MBR partition has no gpt entry".into()
        });
        let m = &p["mbr"];
        check.keys(&format!("{node} mbr"), m, &["type_id", "bootable", "role"]);
        let type_id = u8::from_str_radix(sp["type"].as_str().expect("sfdisk type"), 16)
            .expect("sfdisk MBR type in hex");
        check.eq(
            &format!("{node} mbr.type_id"),
            s(m, "type_id"),
            Some(format!("0x{type_id:02x}")),
        );
        check.eq(
            &format!("{node} mbr.bootable"),
            flag(m, "bootable"),
            sp["bootable"].as_bool().unwrap_or(false),
        );
        let extended = matches!(type_id, 0x05 | 0x0f | 0x85);
        let role = match (number, extended) {
            (1..=4, true) => "extended",
            (1..=4, false) => "primary",
            _ => "logical",
        };
        check.eq(&format!("{node} mbr.role"), s(m, "role"), Some(role.into()));
        if !extended {
            check.eq(
                &format!("{node} size (sysfs)"),
                u(p, "size"),
                Some(read_sys_u64(&sys.join("size")) * 512 / lbs),
            );
        }
    }

    match blkid.get("TYPE") {
        None => check.that(
            &format!("{node} filesystem"),
            !present(p, "filesystem"),
            || {
                format!(
                    "blkid finds no filesystem, mountlist has {}",
                    p["filesystem"]
                )
            },
        ),
        Some(fs_type) => match p.get("filesystem").filter(|f| !f.is_null()) {
            None => check
                .problems
                .push(format!("{node}: no filesystem, blkid says {fs_type}")),
            Some(f) => {
                let bytes = u(p, "size").unwrap_or(0) * lbs;
                check_filesystem(check, f, node, fs_type, bytes, j);
            }
        },
    }
}

fn check_filesystem(
    check: &mut Check,
    f: &Value,
    node: &str,
    fs_type: &str,
    container_bytes: u64,
    j: &Judges,
) {
    let blkid = &j.blkid[node];
    let what = |field: &str| format!("{node} filesystem.{field}");
    check.keys(
        &what("*"),
        f,
        &[
            "type",
            "uuid",
            "label",
            "mount_point",
            "mount_options",
            "swap_active",
            "size_bytes",
            "used_bytes",
            "params",
            "fstab",
        ],
    );
    check.eq(&what("type"), s(f, "type"), Some(fs_type.to_string()));
    check.eq(&what("uuid"), s(f, "uuid"), blkid.get("UUID").cloned());
    check.eq(&what("label"), s(f, "label"), blkid.get("LABEL").cloned());

    // mounted under the root?
    let mount = j.mounted.iter().find(|m| {
        m.source == node && (m.target == j.root || m.target.starts_with(&format!("{}/", j.root)))
    });
    let relative = mount.map(|m| match &m.target[j.root.len()..] {
        "" => "/".to_string(),
        rest => rest.to_string(),
    });
    check.eq(&what("mount_point"), s(f, "mount_point"), relative);
    check.eq(
        &what("mount_options"),
        s(f, "mount_options"),
        mount.map(|m| m.options.clone()),
    );
    // swap is never activated by these tests
    check.eq(&what("swap_active"), flag(f, "swap_active"), false);

    check.eq(
        &what("fstab"),
        f.get("fstab").filter(|v| !v.is_null()),
        j.fstab.get(node),
    );

    let params = f.get("params").cloned().unwrap_or(json!({}));
    check.keys(
        &what("params"),
        &params,
        &[
            "block_size",
            "inode_size",
            "sector_size",
            "features",
            "fat_bits",
            "cluster_size",
            "node_size",
        ],
    );
    if fs_type != "btrfs" {
        check.that(
            &what("params.node_size"),
            !present(&params, "node_size"),
            || "only btrfs has a node size".into(),
        );
    }
    let mut expected_sizes: Vec<u64> = Vec::new();
    match fs_type {
        "ext2" | "ext3" | "ext4" => {
            let dump = key_values(&run(command("dumpe2fs").args(["-h"]).arg(node)), ':');
            let block = number(&dump, "Block size", "dumpe2fs");
            check.eq(
                &what("params.block_size"),
                u(&params, "block_size"),
                Some(block),
            );
            check.eq(
                &what("params.block_size (blkid)"),
                u(&params, "block_size"),
                blkid.get("BLOCK_SIZE").and_then(|b| b.parse().ok()),
            );
            check.eq(
                &what("params.inode_size"),
                u(&params, "inode_size"),
                Some(number(&dump, "Inode size", "dumpe2fs")),
            );
            // as mke2fs -O takes them: the runtime "needs_recovery" (set while mounted)
            // and "orphan_present" are not creation features, so either way is fine
            let runtime = ["needs_recovery", "orphan_present"];
            let mut want: Vec<String> = dump
                .get("Filesystem features")
                .map(|t| t.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            want.retain(|x| !runtime.contains(&x.as_str()));
            want.sort();
            let mut got: Vec<String> = list(&params, "features")
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            got.retain(|x| !runtime.contains(&x.as_str()));
            got.sort();
            check.eq(&what("params.features"), got, want);
            for key in ["sector_size", "fat_bits", "cluster_size"] {
                check.that(
                    &what(&format!("params.{key}")),
                    !present(&params, key),
                    || "not an ext* parameter".into(),
                );
            }
            expected_sizes = vec![block * number(&dump, "Block count", "dumpe2fs")];
        }
        "xfs" => {
            let sb = key_values(
                &run(command("xfs_db")
                    .args([
                        "-r",
                        "-c",
                        "sb 0",
                        "-c",
                        "p blocksize dblocks sectsize inodesize",
                    ])
                    .arg(node)),
                '=',
            );
            let block = number(&sb, "blocksize", "xfs_db");
            // each is optional for xfs, but right when there
            let pairs = [
                ("block_size", Some(block)),
                ("sector_size", Some(number(&sb, "sectsize", "xfs_db"))),
                ("inode_size", Some(number(&sb, "inodesize", "xfs_db"))),
            ];
            for (key, want) in pairs {
                if present(&params, key) {
                    check.eq(&what(&format!("params.{key}")), u(&params, key), want);
                }
            }
            if present(&params, "sector_size") {
                // blkid's BLOCK_SIZE of an xfs is its sector size
                check.eq(
                    &what("params.sector_size (blkid)"),
                    u(&params, "sector_size"),
                    blkid.get("BLOCK_SIZE").and_then(|b| b.parse().ok()),
                );
            }
            for key in ["fat_bits", "cluster_size"] {
                check.that(
                    &what(&format!("params.{key}")),
                    !present(&params, key),
                    || "not an xfs parameter".into(),
                );
            }
            expected_sizes = vec![block * number(&sb, "dblocks", "xfs_db")];
        }
        "vfat" => {
            let info = key_values(
                &run(command("minfo")
                    .env("MTOOLS_SKIP_CHECK", "1")
                    .args(["-i", node, "::"])),
                ':',
            );
            let sector = number(&info, "sector size", "minfo");
            let per_cluster = number(&info, "cluster size", "minfo");
            if present(&params, "sector_size") {
                check.eq(
                    &what("params.sector_size"),
                    u(&params, "sector_size"),
                    Some(sector),
                );
            }
            if present(&params, "fat_bits") {
                let bits = blkid
                    .get("VERSION")
                    .and_then(|v| v.strip_prefix("FAT"))
                    .and_then(|b| b.parse().ok());
                check.eq(&what("params.fat_bits"), u(&params, "fat_bits"), bits);
            }
            if let Some(cluster) = u(&params, "cluster_size") {
                // the model does not say bytes or sectors: either must be right
                check.that(
                    &what("params.cluster_size"),
                    cluster == per_cluster * sector || cluster == per_cluster,
                    || format!("{cluster} is neither {per_cluster} sectors nor their bytes"),
                );
            }
            for key in ["block_size", "inode_size"] {
                if present(&params, key) {
                    check.that(&what(&format!("params.{key}")), false, || {
                        "not a FAT parameter".into()
                    });
                }
            }
            let total = match number(&info, "small size", "minfo") {
                0 => number(&info, "big size", "minfo"),
                n => n,
            };
            expected_sizes = vec![total * sector];
        }
        "swap" => {
            // "Setting up swapspace version 1, size = 16 MiB (16773120 bytes)"
            let bytes = j
                .mkswap_says
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(" bytes)"))
                .and_then(|(n, _)| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("mkswap said {:?}", j.mkswap_says));
            // mkswap counts the usable pages; the area on disk has the header page too,
            // and the model does not say which of the two size_bytes is
            let page = run(command("getconf").arg("PAGESIZE"))
                .trim()
                .parse::<u64>()
                .expect("getconf PAGESIZE");
            expected_sizes = vec![bytes, bytes + page];
            // the only swap creation parameter: its page size (mkswap -p)
            check.keys(&what("params"), &params, &["block_size"]);
            if present(&params, "block_size") {
                check.eq(
                    &what("params.block_size"),
                    u(&params, "block_size"),
                    Some(page),
                );
            }
        }
        "btrfs" => {
            let sb = key_values(
                &run(command("btrfs")
                    .args(["inspect-internal", "dump-super"])
                    .arg(node)),
                '\t',
            );
            let sector = number(&sb, "sectorsize", "btrfs dump-super");
            let pairs = [
                ("node_size", number(&sb, "nodesize", "btrfs dump-super")),
                ("sector_size", sector),
                ("block_size", sector),
            ];
            for (key, want) in pairs {
                if present(&params, key) {
                    check.eq(&what(&format!("params.{key}")), u(&params, key), Some(want));
                }
            }
            for key in ["inode_size", "fat_bits", "cluster_size"] {
                check.that(
                    &what(&format!("params.{key}")),
                    !present(&params, key),
                    || "not a btrfs parameter".into(),
                );
            }
            expected_sizes = vec![number(&sb, "total_bytes", "btrfs dump-super")];
        }
        _ => {}
    }
    if let Some(size) = u(f, "size_bytes") {
        check.that(
            &what("size_bytes"),
            expected_sizes.is_empty() || expected_sizes.contains(&size),
            || format!("mountlist has {size}, expected one of {expected_sizes:?}"),
        );
        check.that(&what("size_bytes"), size <= container_bytes, || {
            format!("{size} is more than the {container_bytes} bytes it lives in")
        });
    }
    match (u(f, "used_bytes"), mount) {
        (Some(used), Some(_)) => {
            let before = j.df_before.get(node).copied();
            let after = j.df_after.get(node).copied();
            check.that(
                &what("used_bytes"),
                Some(used) == before || Some(used) == after,
                || format!("{used}, but df says {before:?} (before) / {after:?} (after)"),
            );
        }
        (Some(used), None) => {
            check.that(&what("used_bytes"), false, || {
                format!("{used} for a filesystem that is not mounted")
            });
        }
        (None, _) => {}
    }
}

// ---------------------------------------------------------------------------------------
// This machine
// ---------------------------------------------------------------------------------------

#[test]
fn captures_the_host_root_disk() {
    if !require_root_or_skip() || !require_tools(&["findmnt"]) {
        return;
    }
    let _lock = host_lock();
    let root_mount = findmnt(&["--mountpoint", "/"])
        .pop()
        .expect("findmnt shows /");
    let source = PathBuf::from(&root_mount.source);
    if !root_mount.source.starts_with("/dev/") {
        host_tests::skip(&format!(
            "/ is mounted from {}, not a block device",
            root_mount.source
        ));
        return;
    }
    let real = source.canonicalize().expect("the root device exists");
    let name = real
        .file_name()
        .and_then(|n| n.to_str())
        .expect("device name")
        .to_string();
    let class = Path::new("/sys/class/block")
        .join(&name)
        .canonicalize()
        .expect("the root device in /sys/class/block");
    let is_partition = class.join("partition").exists();
    let disk_name = if is_partition {
        class
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .expect("parent disk")
            .to_string()
    } else {
        name.clone()
    };
    let disk_path = format!("/dev/{disk_name}");

    let out = mkrescue(&["mountlist", "--json"]);
    assert_clean_success(&out);
    let ml = parse_json(&out.stdout, "mkrescue mountlist --json");
    let context = format!(
        "findmnt /: {root_mount:?}\n--- mountlist ---\n{}",
        out.stdout
    );
    let mut check = Check::default();
    check.eq("host.root", s(&ml["host"], "root"), Some("/".into()));
    let disks = list(&ml, "disks");
    let Some(disk) = disks
        .iter()
        .find(|d| s(d, "path").as_deref() == Some(disk_path.as_str()))
    else {
        panic!("the disk holding /, {disk_path}, is not in the mountlist\n{context}");
    };
    let sys = Path::new("/sys/block").join(&disk_name);
    let lbs = read_sys_u64(&sys.join("queue/logical_block_size"));
    check.eq(
        "logical_sector_size",
        u(disk, "logical_sector_size"),
        Some(lbs),
    );
    check.eq(
        "sectors",
        u(disk, "sectors"),
        Some(read_sys_u64(&sys.join("size")) * 512 / lbs),
    );
    let root_fs = if is_partition {
        let part = list(disk, "partitions")
            .into_iter()
            .find(|p| s(p, "path").as_deref() == Some(real.to_str().unwrap_or_default()));
        part.and_then(|p| p.get("filesystem")).cloned()
    } else {
        // a whole-disk filesystem, as on this machine's /dev/vda
        check.eq(
            "table.type",
            s(&disk["table"], "type"),
            Some("none".to_string()),
        );
        check.eq("partitions", list(disk, "partitions").len(), 0);
        if let Ok(serial) = std::fs::read_to_string(sys.join("serial")) {
            let serial = serial.trim();
            if !serial.is_empty() {
                check.eq("serial", s(disk, "serial"), Some(serial.to_string()));
            }
        }
        disk.get("filesystem").cloned()
    };
    match root_fs.filter(|f| !f.is_null()) {
        None => check
            .problems
            .push(format!("no filesystem for {}", real.display())),
        Some(f) => {
            check.eq(
                "filesystem.type",
                s(&f, "type"),
                Some(root_mount.fstype.clone()),
            );
            check.eq(
                "filesystem.mount_point",
                s(&f, "mount_point"),
                Some("/".into()),
            );
            check.eq(
                "filesystem.mount_options",
                s(&f, "mount_options"),
                Some(root_mount.options.clone()),
            );
        }
    }
    check.finish(&context);
}

// ---------------------------------------------------------------------------------------
// Bad input: no root needed
// ---------------------------------------------------------------------------------------

/// Success, nothing on stderr that looks like a crash.
fn assert_clean_success(out: &CmdOutput) {
    assert!(!out.combined().contains("panicked"), "{}", out.report());
    assert_eq!(out.code(), Some(0), "{}", out.report());
}

/// Failure with `code`, an "error: ..." message on stderr, no panic; returns stderr.
fn assert_error(out: &CmdOutput, code: i32) -> String {
    assert!(!out.combined().contains("panicked"), "{}", out.report());
    assert_eq!(out.code(), Some(code), "{}", out.report());
    assert!(
        out.stderr.lines().any(|l| l.starts_with("error: ")),
        "no \"error: ...\" line on stderr\n{}",
        out.report()
    );
    out.stderr.clone()
}

#[test]
fn root_that_does_not_exist() {
    let missing = "/nonexistent/mkrescue-test-root";
    let out = mkrescue(&["mountlist", "--root", missing]);
    let stderr = assert_error(&out, 1);
    assert!(stderr.contains(missing), "{}", out.report());
}

#[test]
fn root_that_holds_no_mounts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_str().expect("UTF-8").to_string();
    let out = mkrescue(&["mountlist", "--root", &path]);
    let stderr = assert_error(&out, 1);
    assert!(
        stderr.contains(&path) || stderr.to_lowercase().contains("mount"),
        "the message should say what is wrong with {path}\n{}",
        out.report()
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = mkrescue(&["mountlist", "--no-such-flag"]);
    let stderr = assert_error(&out, 2);
    assert!(stderr.contains("--no-such-flag"), "{}", out.report());
}

#[test]
fn help_names_the_options() {
    let out = mkrescue(&["mountlist", "--help"]);
    assert_clean_success(&out);
    for option in ["--root", "--json", "--input"] {
        assert!(out.stdout.contains(option), "{}", out.report());
    }
}

fn write_input(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("mountlist.json");
    std::fs::write(&path, text).expect("write the input mountlist");
    path.to_str().expect("UTF-8").to_string()
}

#[test]
fn input_with_a_syntax_error_gives_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "{\n  \"version\": 1,\n  \"host\": {\n    \"hostname\": \"x\",,\n";
    // where the stray comma is, as serde_json counts
    let e = serde_json::from_str::<Value>(text).expect_err("not JSON");
    assert_eq!(e.line(), 4);
    let path = write_input(&dir, text);
    let out = mkrescue(&["mountlist", "--input", &path]);
    let stderr = assert_error(&out, 1);
    let place = format!("line {}, column {}", e.line(), e.column());
    assert!(
        stderr.contains(&place),
        "expected {place:?}\n{}",
        out.report()
    );
}

#[test]
fn input_with_an_unknown_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ml = valid_mountlist();
    ml["version"] = json!(99);
    let path = write_input(&dir, &ml.to_string());
    let out = mkrescue(&["mountlist", "--input", &path]);
    let stderr = assert_error(&out, 1);
    assert!(
        stderr.contains("version") && stderr.contains("99"),
        "{}",
        out.report()
    );
}

#[test]
fn input_that_is_not_there() {
    let out = mkrescue(&["mountlist", "--input", "/nonexistent/mountlist.json"]);
    let stderr = assert_error(&out, 1);
    assert!(
        stderr.contains("/nonexistent/mountlist.json"),
        "{}",
        out.report()
    );
}

#[test]
fn input_with_overlapping_partitions_names_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ml = valid_mountlist();
    // /dev/sda3 now starts inside /dev/sda2 (2 MiB-aligned, so only the overlap is wrong)
    ml["disks"][0]["partitions"][2]["start"] = json!(2_097_152);
    let path = write_input(&dir, &serde_json::to_string_pretty(&ml).expect("JSON"));
    let out = mkrescue(&["mountlist", "--input", &path]);
    let stderr = assert_error(&out, 1);
    assert!(
        ["sda2", "sda3", "partition 2", "partition 3"]
            .iter()
            .any(|name| stderr.contains(name)),
        "the message should name the overlapping partitions\n{}",
        out.report()
    );
}

#[test]
fn valid_input_prints_and_round_trips() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ml = valid_mountlist();
    let path = write_input(&dir, &serde_json::to_string_pretty(&ml).expect("JSON"));
    let table = mkrescue(&["mountlist", "--input", &path]);
    assert_clean_success(&table);
    assert!(table.stdout.contains("/dev/sda2"), "{}", table.report());
    let json_out = mkrescue(&["mountlist", "--input", &path, "--json"]);
    assert_clean_success(&json_out);
    assert_eq!(
        parse_json(&json_out.stdout, "mkrescue mountlist --input --json"),
        ml,
        "--input --json should print the mountlist it read"
    );
}

/// A small, valid mountlist: a 2 GiB GPT disk with an ESP, an ext4 root and swap.
fn valid_mountlist() -> Value {
    json!({
        "version": 1,
        "host": {
            "hostname": "fixture",
            "root": "/",
            "kernel_release": "6.1.0-test-amd64",
            "captured_at": 1_700_000_000u64
        },
        "boot": { "mode": "uefi", "esp": "/dev/sda1" },
        "disks": [{
            "path": "/dev/sda",
            "sectors": 4_194_304u64,
            "logical_sector_size": 512,
            "physical_sector_size": 512,
            "table": {
                "type": "gpt",
                "disk_guid": "6a3e1c52-7d0b-4d8e-9f21-3b4c5d6e7f80",
                "first_usable_lba": 2048,
                "last_usable_lba": 4_194_270u64
            },
            "partitions": [
                {
                    "number": 1, "path": "/dev/sda1", "start": 2048, "size": 131_072,
                    "gpt": { "type_guid": GPT_ESP,
                             "unique_guid": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
                             "name": "EFI system", "attributes": 1 },
                    "filesystem": { "type": "vfat", "uuid": "1234-ABCD", "label": "ESP",
                                    "mount_point": "/boot/efi", "mount_options": "rw,umask=0077" }
                },
                {
                    "number": 2, "path": "/dev/sda2", "start": 133_120, "size": 2_097_152,
                    "gpt": { "type_guid": GPT_ROOT_X86_64,
                             "unique_guid": "1c2d3e4f-5061-4728-93a4-b5c6d7e8f90a",
                             "name": "root", "attributes": 0 },
                    "filesystem": {
                        "type": "ext4", "uuid": "2d3e4f50-6172-4839-a4b5-c6d7e8f90a1b",
                        "label": "root", "mount_point": "/", "mount_options": "rw,relatime",
                        "size_bytes": 1_073_741_824u64, "used_bytes": 104_857_600u64,
                        "params": { "block_size": 4096, "inode_size": 256,
                                    "features": ["has_journal", "extent", "64bit"] },
                        "fstab": { "spec": "UUID=2d3e4f50-6172-4839-a4b5-c6d7e8f90a1b",
                                   "kind": "uuid", "mount_point": "/", "fs_type": "ext4",
                                   "options": "errors=remount-ro", "dump": 0, "pass": 1 }
                    }
                },
                {
                    "number": 3, "path": "/dev/sda3", "start": 2_230_272u64, "size": 1_048_576,
                    "gpt": { "type_guid": GPT_SWAP,
                             "unique_guid": "3e4f5061-7283-494a-b5c6-d7e8f90a1b2c",
                             "name": "swap", "attributes": 0 },
                    "filesystem": { "type": "swap", "uuid": "4f506172-8394-4a5b-86d7-e8f90a1b2c3d" }
                }
            ]
        }]
    })
}

/// The GPT fixture's partition types are the ones named above (guards against a typo in
/// the sfdisk script).
#[test]
fn fixture_types_are_consistent() {
    let lower = GPT_SCRIPT.to_lowercase();
    for guid in [GPT_ESP, GPT_ROOT_X86_64, GPT_HOME, GPT_SWAP, GPT_LINUX] {
        assert!(lower.contains(guid), "{guid}");
    }
}
