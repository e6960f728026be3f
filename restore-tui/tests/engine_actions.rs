//! A restore with a partition left untouched, on the host (root, loop devices), through
//! the engine as a library: the command line has no per-partition actions, the UI does.
//!
//! A source on a GPT loop disk (ext4 /, ext4 /data, ext4 /home) is backed up with
//! `mkrescue create --output-format dir`. The target disk has the same table, and its
//! /data partition already holds a file of its own. The plan marks /data Untouched and is
//! applied with the real runner and native side. Afterwards the file is still there, the
//! filesystem is clean (`e2fsck -fn`) with the UUID it had, nothing of the backup's /data
//! was put in it or below the restored /data, and / and /home equal the source.

use host_tests::{
    blkid_probe, command, host_lock, mkfs, output, require_root_or_skip, require_tools, run,
    sfdisk_json, write_file, LoopDisk, Mounts,
};
use rescue_core::mountlist::resize::{ResizeMode, TargetDisk};
use rescue_core::mountlist::{from_json, Mountlist};
use rescue_core::runner::RealRunner;
use rescue_core::volume::find_volumes;
use restore_tui::engine::action::PartitionAction;
use restore_tui::engine::plan::{plan, Choices, DiskMap};
use restore_tui::engine::{apply, Event, RealNative};
use std::fs;
use std::path::Path;

const MIB: u64 = 1 << 20;

/// The sbin directories, for the tools the engine runs.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const SCRIPT: &str = "label: gpt\n\
    size=48MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n\
    size=32MiB, name=data\n\
    size=32MiB, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, name=home\n";

/// (partition number, mount point) of the source.
const MOUNTS: [(u32, &str); 3] = [(1, "/"), (2, "/data"), (3, "/home")];

/// What the target's /data holds before the restore.
const PRECIOUS: &str = "written on the target before the restore; must survive it\n";

fn under(root: &Path, mount: &str) -> std::path::PathBuf {
    root.join(mount.trim_start_matches('/'))
}

fn make_source(root: &Path) -> (LoopDisk, Mounts) {
    let mut disk = LoopDisk::new(128 * MIB);
    disk.partition(SCRIPT);
    let mut fstab = String::from("# written by engine_actions.rs\n");
    let mut mounts = Mounts::new();
    for (n, mp) in MOUNTS {
        let dev = disk.partition_path(n);
        mkfs("ext4", &dev, &[]);
        let uuid = &blkid_probe(&dev)["UUID"];
        fstab.push_str(&format!("UUID={uuid}\t{mp}\text4\tdefaults\t0 2\n"));
        mounts.mount(&dev, &under(root, mp), None);
        let corpus_dir = if mp == "/" {
            root.join("srv/corpus")
        } else {
            under(root, mp).join("corpus")
        };
        fs::create_dir_all(&corpus_dir).unwrap();
        corpus::generate(
            &corpus_dir,
            &corpus::Options {
                bulk_bytes: MIB,
                big_file: None,
                seed: u64::from(n) + 20,
            },
        )
        .unwrap();
    }
    write_file(&root.join("etc/fstab"), &fstab);
    write_file(&root.join("etc/hostname"), "actionhost\n");
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

#[test]
fn an_untouched_partition_keeps_what_it_holds() {
    if !require_root_or_skip()
        || !require_tools(&[
            "sfdisk",
            "partx",
            "wipefs",
            "mkfs.ext4",
            "e2label",
            "e2fsck",
            "blkid",
            "losetup",
        ])
    {
        return;
    }
    // The engine runs its tools by name, as in the rescue system (cargo still found for
    // the builds the backup needs).
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{PATH}:{path}"));
    let _lock = host_lock();
    let work = tempfile::Builder::new()
        .prefix("restore-tui-actions-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let work_path = work.path().canonicalize().unwrap();
    let src_root = work_path.join("source");
    let (source_disk, source_mounts) = make_source(&src_root);
    let out = work_path.join("media");
    backup(&src_root, &out);
    let ml: Mountlist =
        from_json(&fs::read_to_string(out.join("rescue-1/rescue/mountlist.json")).unwrap())
            .unwrap();
    assert_eq!(ml.disks[0].path, source_disk.device());

    // The target: the same table; its /data partition holds a file of its own.
    let mut target = LoopDisk::new(128 * MIB);
    target.partition(SCRIPT);
    let t = target.device().to_string();
    let data = target.partition_path(2);
    mkfs("ext4", &data, &["-L", "targetdata"]);
    let data_uuid = blkid_probe(&data)["UUID"].clone();
    {
        let mut m = Mounts::new();
        let dir = work_path.join("prepare");
        m.mount(&data, &dir, None);
        write_file(&dir.join("precious.txt"), PRECIOUS);
    }
    let table_before = sfdisk_json(&t);

    let maps = [DiskMap {
        from: ml.disks[0].path.clone(),
        to: TargetDisk {
            path: t.clone(),
            sectors: 128 * MIB / 512,
            logical_sector_size: 512,
        },
    }];
    let restored = work_path.join("restored");
    let choices = Choices {
        root: restored.clone(),
        actions: [(data.clone(), PartitionAction::Untouched)].into(),
        ..Choices::default()
    };
    let plan = plan(&ml, &maps, ResizeMode::Proportional, &choices).unwrap();
    println!("{plan}");
    let text = plan.to_string();
    assert!(
        text.contains(&format!(
            "{t}: THE PARTITION TABLE, {t}p1, {t}p3 ARE ERASED; kept: {data} (untouched)."
        )),
        "{text}"
    );
    let volumes = find_volumes(&out).unwrap();
    let outcome = apply(&plan, &RealRunner, &RealNative::new(volumes), &mut |e| {
        if let Event::Start { step, .. } = e {
            println!("- {}", step.description());
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.clean(), "{outcome:#?}");
    let report = outcome.restore.as_ref().unwrap();
    assert!(report.clean(), "{report:#?}");
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(restored.to_str().unwrap()), "{mounts}");

    // The table holds /data where it was; the untouched filesystem is as it was.
    target.rescan();
    let verify = output(command("sfdisk").arg("--verify").arg(&t));
    assert!(verify.success(), "{}", verify.report());
    let place = |table: &serde_json::Value, n: usize| {
        let p = &table["partitions"][n];
        (p["start"].as_u64(), p["size"].as_u64())
    };
    assert_eq!(place(&sfdisk_json(&t), 1), place(&table_before, 1));
    let blkid = blkid_probe(&data);
    assert_eq!(blkid.get("UUID"), Some(&data_uuid), "{blkid:?}");
    assert_eq!(
        blkid.get("LABEL").map(String::as_str),
        Some("targetdata"),
        "{blkid:?}"
    );
    let fsck = output(command("e2fsck").arg("-fn").arg(&data));
    assert!(fsck.success(), "e2fsck -fn {data}: {}", fsck.report());
    let mut check = Mounts::new();
    let data_dir = work_path.join("check-data");
    check.mount(&data, &data_dir, Some("ro"));
    assert_eq!(
        fs::read_to_string(data_dir.join("precious.txt")).unwrap(),
        PRECIOUS
    );
    assert!(!data_dir.join("corpus").exists(), "restored into /data");

    // The other partitions: made with the mountlist's UUIDs, clean, equal to the source.
    for n in [1, 3] {
        let dev = target.partition_path(n);
        let want = ml.disks[0]
            .partition(n)
            .unwrap()
            .filesystem
            .as_ref()
            .unwrap();
        assert_eq!(blkid_probe(&dev).get("UUID"), want.uuid.as_ref(), "{dev}");
        let fsck = output(command("e2fsck").arg("-fn").arg(&dev));
        assert!(fsck.success(), "e2fsck -fn {dev}: {}", fsck.report());
    }
    let mut tree = Mounts::new();
    tree.mount(&target.partition_path(1), &restored, Some("ro"));
    tree.mount(
        &target.partition_path(3),
        &restored.join("home"),
        Some("ro"),
    );
    // The mount point of /data is restored, empty: fstab can mount it there again.
    let below: Vec<_> = fs::read_dir(restored.join("data")).unwrap().collect();
    assert!(below.is_empty(), "{below:?}");
    let diffs = corpus::compare(&src_root, &restored).unwrap();
    let unexpected: Vec<_> = diffs
        .iter()
        .filter(|d| {
            !(d.path.starts_with("data/")
                || matches!(d.path.as_str(), "var/log" | "var/log/restore-tui.log"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    assert!(
        diffs.iter().any(|d| d.path.starts_with("data/corpus")),
        "the source's /data is not in the restored tree: {diffs:#?}"
    );
    drop(tree);
    drop(check);
    drop(source_mounts);
    drop(source_disk);
}
