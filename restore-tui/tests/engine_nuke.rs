//! The whole nuke on the host (root, loop devices).
//!
//! A source system on a loop disk is backed up with `mkrescue create --output-format
//! dir`, then restored with `restore-tui --mode nuke --yes --disk-map SOURCE=TARGET` onto
//! blank loop disks:
//!
//! - GPT: ESP (vfat, not mounted: this kernel has no vfat), ext4 root labelled, ext4
//!   /home, swap; onto a disk of the same size, a bigger one and a smaller one the data
//!   still fits;
//! - MBR: bootable primary ext2 /boot, primary ext4 /, extended with logical ext4 /var and
//!   logical swap; onto a disk of the same size and a bigger one.
//!
//! Afterwards `sfdisk --verify` accepts each table, `e2fsck -fn` and `fsck.fat -n` find
//! nothing, `blkid -p` shows the UUIDs, labels, partition GUIDs (PARTUUIDs) and types of
//! the mountlist, fstab names the new swap device and nothing else changed, the restore
//! log is in the restored system, and the restored trees equal the source
//! (`corpus::compare`). Before that: the mounted source disk is refused, and a wrong
//! confirmation writes nothing. The first nuke of each layout runs with `--verify`: the
//! restored disks compared with the catalog find only what the restore changed on purpose
//! (fstab's swap line, its log).

use host_tests::{
    assert_restored_filesystem, blkid_probe, command, host_lock, mkfs, output,
    require_root_or_skip, require_tools, run, sfdisk_json, write_file, LoopDisk, Mounts,
};
use rescue_core::mountlist::{from_json, Mountlist, PartitionTable};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const MIB: u64 = 1 << 20;

/// The sbin directories, for the tools restore-tui runs.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One partition of a source layout: its filesystem (type, mkfs arguments) and where it
/// is mounted.
struct Part {
    number: u32,
    fs: &'static str,
    args: &'static [&'static str],
    mount: Option<&'static str>,
}

struct Layout {
    /// The source disk's size in MiB.
    source_mib: u64,
    /// sfdisk's input.
    script: &'static str,
    parts: Vec<Part>,
    /// Target sizes to restore onto, in MiB.
    targets: Vec<u64>,
}

fn gpt_layout() -> Layout {
    Layout {
        source_mib: 256,
        script: "label: gpt\n\
            size=32MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system partition\"\n\
            size=112MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n\
            size=64MiB, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915\n\
            size=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n",
        parts: vec![
            Part {
                number: 1,
                fs: "vfat",
                args: &["-n", "ESP"],
                mount: None,
            },
            Part {
                number: 2,
                fs: "ext4",
                args: &["-L", "rootfs"],
                mount: Some("/"),
            },
            Part {
                number: 3,
                fs: "ext4",
                args: &["-I", "256"],
                mount: Some("/home"),
            },
            Part {
                number: 4,
                fs: "swap",
                args: &["-L", "swap0"],
                mount: None,
            },
        ],
        targets: vec![256, 384, 200],
    }
}

fn mbr_layout() -> Layout {
    Layout {
        source_mib: 256,
        script: "label: dos\n\
            start=2048, size=32MiB, type=83, bootable\n\
            size=112MiB, type=83\n\
            type=5\n\
            size=64MiB, type=83\n\
            size=16MiB, type=82\n",
        parts: vec![
            Part {
                number: 1,
                fs: "ext2",
                args: &["-L", "boot"],
                mount: Some("/boot"),
            },
            Part {
                number: 2,
                fs: "ext4",
                args: &[],
                mount: Some("/"),
            },
            Part {
                number: 5,
                fs: "ext4",
                args: &["-L", "var", "-b", "2048"],
                mount: Some("/var"),
            },
            Part {
                number: 6,
                fs: "swap",
                args: &[],
                mount: None,
            },
        ],
        targets: vec![256, 400],
    }
}

/// An xfs /srv (mkfs.xfs makes none under 300 MiB) beside an ext4 root, restored onto a
/// spare disk of the same host while the source's xfs is mounted: the kernel mounts a
/// second xfs with the same UUID only with `nouuid`.
fn xfs_layout() -> Layout {
    Layout {
        source_mib: 420,
        script: "label: gpt\n\
            size=80MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n\
            size=310MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=srv\n\
            size=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n",
        parts: vec![
            Part {
                number: 1,
                fs: "ext4",
                args: &["-L", "rootfs"],
                mount: Some("/"),
            },
            Part {
                number: 2,
                fs: "xfs",
                args: &["-L", "srv"],
                mount: Some("/srv"),
            },
            Part {
                number: 3,
                fs: "swap",
                args: &[],
                mount: None,
            },
        ],
        targets: vec![420],
    }
}

fn restore_tui(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args(args)
        .env("PATH", PATH)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn report(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The first MiB of a device is still all zeros.
fn untouched(device: &str) -> bool {
    let mut buf = vec![0u8; MIB as usize];
    fs::File::open(device)
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf.iter().all(|b| *b == 0)
}

/// The layout's mounted partitions, parents first.
fn by_depth(layout: &Layout) -> Vec<&Part> {
    let mut m: Vec<&Part> = layout.parts.iter().filter(|p| p.mount.is_some()).collect();
    m.sort_by_key(|p| {
        let mp = p.mount.unwrap();
        (mp.split('/').filter(|c| !c.is_empty()).count(), mp)
    });
    m
}

fn under(root: &Path, mount: &str) -> std::path::PathBuf {
    root.join(mount.trim_start_matches('/'))
}

/// The source system, mounted under `root`, with an fstab naming filesystems by label,
/// by UUID and swap by device, and a corpus on every mounted filesystem.
fn make_source(layout: &Layout, root: &Path) -> (LoopDisk, Mounts) {
    let mut disk = LoopDisk::new(layout.source_mib * MIB);
    disk.partition(layout.script);
    let mut fstab = String::from("# written by engine_nuke.rs\n");
    for p in &layout.parts {
        let dev = disk.partition_path(p.number);
        mkfs(p.fs, &dev, p.args);
        let blkid = blkid_probe(&dev);
        let spec = match (p.fs, blkid.get("LABEL")) {
            ("swap", _) => dev.clone(),
            (_, Some(label)) => format!("LABEL={label}"),
            _ => format!("UUID={}", blkid["UUID"]),
        };
        match (p.fs, p.mount) {
            ("swap", _) => fstab.push_str(&format!("{spec}\tnone\tswap\tsw\t0 0\n")),
            (fs, Some(mp)) => fstab.push_str(&format!("{spec}\t{mp}\t{fs}\tdefaults\t0 2\n")),
            _ => {}
        }
    }
    let mut mounts = Mounts::new();
    for p in by_depth(layout) {
        let mp = p.mount.unwrap();
        mounts.mount(&disk.partition_path(p.number), &under(root, mp), None);
        let corpus_dir = if mp == "/" {
            root.join("srv/corpus")
        } else {
            under(root, mp).join("corpus")
        };
        fs::create_dir_all(&corpus_dir).unwrap();
        corpus::generate(
            &corpus_dir,
            &corpus::Options {
                bulk_bytes: 3 * MIB,
                big_file: None,
                seed: u64::from(p.number) + 10,
            },
        )
        .unwrap();
    }
    write_file(&root.join("etc/fstab"), &fstab);
    write_file(&root.join("etc/hostname"), "nukehost\n");
    fs::create_dir_all(root.join("var/log")).unwrap();
    run(&mut command("sync"));
    (disk, mounts)
}

fn backup(root: &Path, out: &Path) {
    run(
        qemu_tests::mkrescue_create(&host_tests::mkrescue_bin(), root, out)
            .args(["--output-format", "dir"]),
    );
}

/// What the judges say about one restored target.
fn check_target(
    layout: &Layout,
    ml: &Mountlist,
    source: &str,
    target: &mut LoopDisk,
    restored: &Path,
    src_root: &Path,
) {
    let t = target.device().to_string();
    // The kernel's partitions and their nodes (the guard removes the nodes it makes).
    target.rescan();
    let verify = output(command("sfdisk").arg("--verify").arg(&t));
    assert!(verify.success(), "sfdisk --verify {t}: {}", verify.report());
    let table = sfdisk_json(&t);
    let original = &ml.disks[0];
    match &original.table {
        PartitionTable::Gpt { disk_guid, .. } => {
            assert_eq!(table["id"].as_str().unwrap().to_lowercase(), *disk_guid)
        }
        PartitionTable::Msdos { signature } => {
            assert_eq!(table["id"].as_str(), Some(signature.as_str()))
        }
        PartitionTable::None => panic!("the sources have partition tables"),
    }
    for p in &original.partitions {
        let dev = target.partition_path(p.number);
        let blkid = blkid_probe(&dev);
        let partuuid = match (&p.gpt, &original.table) {
            (Some(g), _) => g.unique_guid.clone(),
            (None, PartitionTable::Msdos { signature }) => {
                format!("{}-{:02x}", signature.trim_start_matches("0x"), p.number)
            }
            _ => unreachable!(),
        };
        assert_eq!(
            blkid.get("PART_ENTRY_UUID"),
            Some(&partuuid),
            "{dev}: {blkid:?}"
        );
        let Some(fs) = &p.filesystem else {
            assert!(p.is_extended(), "{p:?}");
            continue;
        };
        assert_restored_filesystem(&dev, &blkid, fs);
        if fs.fs_type.as_str() == "vfat" && host_tests::find_tool("fsck.fat").is_some() {
            let out = output(command("fsck.fat").arg("-n").arg(&dev));
            assert!(out.success(), "fsck.fat -n {dev}: {}", out.report());
        }
    }

    // The restored trees, mounted read-only as the source is.
    let mut mounts = Mounts::new();
    for p in by_depth(layout) {
        // The source's xfs is mounted too, with the same UUID.
        let options = if p.fs == "xfs" { "ro,nouuid" } else { "ro" };
        mounts.mount(
            &target.partition_path(p.number),
            &under(restored, p.mount.unwrap()),
            Some(options),
        );
    }
    let fstab = fs::read_to_string(restored.join("etc/fstab")).unwrap();
    let source_fstab = fs::read_to_string(src_root.join("etc/fstab")).unwrap();
    let swap = layout.parts.iter().find(|p| p.fs == "swap").unwrap().number;
    assert_eq!(
        fstab,
        source_fstab.replace(&format!("{source}p{swap}\t"), &format!("{t}p{swap}\t")),
        "only the swap device changes"
    );
    let log = fs::read_to_string(restored.join("var/log/restore-tui.log")).unwrap();
    assert!(log.contains("mkfs.ext4 -F -U"), "{log}");
    assert!(log.contains("restored "), "{log}");
    let diffs = corpus::compare(src_root, restored).unwrap();
    let unexpected: Vec<_> = diffs
        .iter()
        .filter(|d| {
            !matches!(
                d.path.as_str(),
                "etc/fstab" | "var/log" | "var/log/restore-tui.log"
            )
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    assert!(
        diffs.iter().any(|d| d.path == "var/log/restore-tui.log"),
        "{diffs:#?}"
    );
}

fn nuke_layout(layout: &Layout, name: &str) {
    if !require_root_or_skip()
        || !require_tools(&[
            "sfdisk",
            "partx",
            "wipefs",
            "mkfs.ext4",
            "mkfs.ext2",
            "mkfs.vfat",
            "fatlabel",
            "mkswap",
            "swaplabel",
            "e2label",
            "e2fsck",
            "blkid",
            "losetup",
        ])
    {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::Builder::new()
        .prefix(&format!("restore-tui-nuke-{name}-"))
        .tempdir_in("/var/tmp")
        .unwrap();
    let work_path = work.path().canonicalize().unwrap();
    let src_root = work_path.join("source");
    let (source_disk, source_mounts) = make_source(layout, &src_root);
    let out = work_path.join("media");
    backup(&src_root, &out);
    let ml: Mountlist =
        from_json(&fs::read_to_string(out.join("rescue-1/rescue/mountlist.json")).unwrap())
            .unwrap();
    assert_eq!(ml.disks.len(), 1, "{ml:#?}");
    assert_eq!(ml.disks[0].path, source_disk.device());
    let source = source_disk.device().to_string();
    let media = out.to_str().unwrap().to_string();
    let root_part = layout.parts.iter().find(|p| p.mount == Some("/")).unwrap();

    // The mounted source disk is refused, naming why; nothing is written.
    let refused = restore_tui(
        &[
            "--mode",
            "nuke",
            "--media",
            &media,
            "--disk-map",
            &format!("{source}={source}"),
            "--yes",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{}", report(&refused));
    assert!(
        stderr.contains(&format!("refusing to write to {source}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{source}p{} is mounted at {}",
            root_part.number,
            src_root.display()
        )),
        "{stderr}"
    );

    for (n, size) in layout.targets.iter().enumerate() {
        let mut target = LoopDisk::new(size * MIB);
        let t = target.device().to_string();
        let restored = work_path.join(format!("restored-{n}"));
        let target_root = work_path.join(format!("mnt-{n}"));
        let args = [
            "--mode",
            "nuke",
            "--media",
            &media,
            "--disk-map",
            &format!("{source}={t}"),
            "--target-root",
            target_root.to_str().unwrap(),
        ];
        if n == 0 {
            // A wrong answer to the confirmation: nothing written.
            let no = restore_tui(&args, "yes\n");
            assert_eq!(no.status.code(), Some(1), "{}", report(&no));
            let stdout = String::from_utf8_lossy(&no.stdout);
            assert!(
                stdout.contains("not confirmed: nothing was written"),
                "{stdout}"
            );
            assert!(untouched(&t), "{t} was written to");
        }
        let mut with_yes = args.to_vec();
        with_yes.push("--yes");
        if n == 0 {
            with_yes.push("--verify");
        }
        let done = restore_tui(&with_yes, "");
        println!("nuke onto {t} ({size} MiB):\n{}", report(&done));
        assert_eq!(
            done.status.code(),
            Some(0),
            "nuke onto {t}: {}",
            report(&done)
        );
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert!(stdout.contains("done: every step succeeded"), "{stdout}");
        if n == 0 {
            // On the host the line has no "restore-tui: " prefix (the rescue system's has).
            let lines: Vec<&str> = stdout.lines().collect();
            assert_eq!(lines.last(), Some(&"verify finished: OK"), "{stdout}");
            // The compare enters a directory of another filesystem only where the
            // catalog holds something below it: the log in the empty /var/log of a
            // separate /var goes unseen.
            let expected: &[&str] = if layout.parts.iter().any(|p| p.mount == Some("/var")) {
                &[
                    "made by the restore on purpose (1):",
                    "  /etc/fstab: rewritten by the restore",
                ]
            } else {
                &[
                    "made by the restore on purpose (2):",
                    "  /etc/fstab: rewritten by the restore",
                    "  /var/log/restore-tui.log: the restore's log",
                ]
            };
            for line in expected {
                assert!(lines.contains(line), "{line:?} in:\n{stdout}");
            }
            assert!(!stdout.contains("differences from the backup"), "{stdout}");
        }
        // Everything it mounted is unmounted again.
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(target_root.to_str().unwrap()), "{mounts}");
        // Proportional: the resizable partitions grew with a bigger disk and shrank onto a
        // smaller one (their data fits); nothing else changed size.
        let table = sfdisk_json(&t);
        let new_size = |number: u32| {
            table["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["node"].as_str().unwrap().ends_with(&format!("p{number}")))
                .and_then(|p| p["size"].as_u64())
                .unwrap()
        };
        for p in layout.parts.iter().filter(|p| p.mount.is_some()) {
            let was = ml.disks[0].partition(p.number).unwrap().size;
            let now = new_size(p.number);
            let ok = match size.cmp(&layout.source_mib) {
                std::cmp::Ordering::Equal => now == was,
                std::cmp::Ordering::Greater => now > was,
                std::cmp::Ordering::Less => now < was,
            };
            assert!(
                ok,
                "{t} ({size} MiB): partition {} was {was}, now {now}",
                p.number
            );
        }
        check_target(layout, &ml, &source, &mut target, &restored, &src_root);
    }
    drop(source_mounts);
    drop(source_disk);
}

#[test]
fn nuke_a_gpt_disk_onto_the_same_a_bigger_and_a_smaller_size() {
    nuke_layout(&gpt_layout(), "gpt");
}

#[test]
fn nuke_an_mbr_disk_with_logical_partitions_onto_the_same_and_a_bigger_size() {
    nuke_layout(&mbr_layout(), "mbr");
}

#[test]
fn nuke_onto_a_spare_disk_while_the_source_xfs_is_mounted() {
    if !require_tools(&["mkfs.xfs", "xfs_repair"]) {
        return;
    }
    nuke_layout(&xfs_layout(), "xfs");
}
