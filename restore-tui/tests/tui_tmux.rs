//! The real restore-tui binary in a real terminal (tmux, 80x24), driven by keys the way a
//! sysadmin would (root, loop devices).
//!
//! A source system on a GPT loop disk (/ , /home, /data) is backed up with `mkrescue
//! create --output-format dir`; then `restore-tui --mode interactive --disk TARGET` runs in
//! tmux: the /home partition is made smaller in the layout editor, /data is deleted from
//! the plan (left untouched), only /home/ann is selected in the file tree, and it is
//! restored under the prefix /mnt/x. Afterwards `sfdisk --verify` and `e2fsck -fn` are
//! clean, the table has /home at its new size and /data's entry untouched, and the root
//! filesystem holds /mnt/x/home/ann equal to the source's /home/ann and nothing else of
//! the backup.

use host_tests::tmux::Tmux;
use host_tests::{
    command, host_lock, mkfs, output, require_root_or_skip, require_tools, run, sfdisk_json,
    write_file, LoopDisk, MountedBelow, Mounts,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn backup(root: &Path, out: &Path) {
    run(
        qemu_tests::mkrescue_create(&host_tests::mkrescue_bin(), root, out)
            .args(["--output-format", "dir"]),
    );
}

/// A few files with known contents.
fn files(dir: &Path, who: &str) {
    for (name, size) in [("notes.txt", 1200), ("photos/beach.jpg", 300_000)] {
        let content: Vec<u8> = (0..size).map(|i| (i * 7 + who.len()) as u8).collect();
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

const TABLE: &str = "label: gpt\n\
    size=80MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n\
    size=48MiB, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, name=home\n\
    size=32MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data\n";

fn source(root: &Path) -> (LoopDisk, Mounts) {
    let mut disk = LoopDisk::new(192 * MIB);
    disk.partition(TABLE);
    let p = |n| disk.partition_path(n);
    mkfs("ext4", &p(1), &["-L", "root"]);
    mkfs("ext4", &p(2), &["-L", "home"]);
    mkfs("ext4", &p(3), &["-L", "data"]);
    let mut mounts = Mounts::new();
    mounts.mount(&p(1), root, None);
    mounts.mount(&p(2), &root.join("home"), None);
    mounts.mount(&p(3), &root.join("data"), None);
    write_file(
        &root.join("etc/fstab"),
        "LABEL=root / ext4 defaults 0 1\nLABEL=home /home ext4 defaults 0 2\n\
         LABEL=data /data ext4 defaults 0 2\n",
    );
    files(&root.join("home/ann"), "ann");
    files(&root.join("home/bob"), "bob");
    files(&root.join("data/db"), "db");
    files(&root.join("srv"), "srv");
    run(&mut command("sync"));
    (disk, mounts)
}

/// Every file below `dir`, relative, with its content.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn partitions(json: &serde_json::Value) -> Vec<(u64, u64)> {
    json["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_sysadmin_edits_the_layout_picks_a_subtree_and_restores_it_under_a_prefix() {
    if !require_root_or_skip()
        || !require_tools(&["tmux", "sfdisk", "mkfs.ext4", "e2fsck", "blkid"])
    {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("source");
    let (src, src_mounts) = source(&root);
    let media = work.path().join("media");
    backup(&root, &media);
    let src_json = sfdisk_json(src.device());
    // The target once held the same layout; its /data holds what the backup does not.
    let mut target = LoopDisk::new(192 * MIB);
    target.partition(TABLE);
    let kept = work.path().join("kept");
    mkfs("ext4", &target.partition_path(3), &["-L", "olddata"]);
    let kept_uuid = host_tests::blkid_probe(&target.partition_path(3))["UUID"].clone();
    {
        let mut m = Mounts::new();
        m.mount(&target.partition_path(3), &kept, None);
        write_file(&kept.join("only-here.txt"), "not in the backup\n");
    }
    let restore_root = work.path().join("restore");
    let _restore_mounts = MountedBelow::new(&restore_root);
    let result = work.path().join("exit");

    let name = format!("restore-tui-test-{}", std::process::id());
    let tmux = Tmux::start(
        &name,
        &format!(
            "{} --mode interactive --media {} --disk {} --target-root {}; echo $? > {}",
            env!("CARGO_BIN_EXE_restore-tui"),
            media.display(),
            target.device(),
            restore_root.display(),
            result.display()
        ),
    );
    let wait = Duration::from_secs(30);
    tmux.wait_for("Interactive restore", wait);
    tmux.keys(&["i"]);
    let disks = tmux.wait_for("c continue", wait);
    assert!(disks.contains(target.device()), "{disks}");
    tmux.keys(&["c"]);

    // Layout: the disk, then its partitions 1 (/), 2 (/home), 3 (/data).
    tmux.wait_for("p2", wait);
    tmux.keys(&["Down", "Down", "e"]);
    tmux.wait_for("Size", wait);
    tmux.keys(&["C-u"]);
    tmux.text("40M");
    tmux.keys(&["Enter"]);
    tmux.wait_for("40", wait);
    tmux.keys(&["Down", "d"]);
    let layout = tmux.wait_for("untouched", wait);
    tmux.keys(&["c"]);

    // Files: everything is selected; nothing, then /home/ann.
    tmux.wait_for("Selected", wait);
    tmux.keys(&["Space"]);
    tmux.wait_for("Selected 0", wait);
    let home = tmux.screen();
    let home_row = home
        .lines()
        .skip_while(|l| !l.contains("- /"))
        .position(|l| l.contains("home/"))
        .expect("a home/ row");
    for _ in 0..home_row {
        tmux.keys(&["Down"]);
    }
    tmux.keys(&["Right"]);
    tmux.wait_for("ann/", wait);
    tmux.keys(&["Down", "Space"]);
    let files = tmux.wait_for("Selected 2 of", wait);
    tmux.keys(&["c"]);

    // Where: under a prefix.
    tmux.wait_for("Under a prefix", wait);
    tmux.keys(&["Down", "Space", "C-u"]);
    tmux.text("/mnt/x");
    tmux.keys(&["Enter"]);
    tmux.wait_for("files go under /mnt/x", wait);
    tmux.keys(&["c"]);

    // Review: the plan, and the disk's name typed.
    let review = tmux.wait_for("and Enter to erase", wait);
    tmux.text(target.name());
    tmux.keys(&["Enter"]);
    let after = tmux.wait_for("w apply", Duration::from_secs(120));
    // No boot loader: the restored system has none to install.
    tmux.keys(&["b", "w"]);
    let applied = tmux.wait_for("applied: safe to reboot", Duration::from_secs(60));
    tmux.keys(&["r"]);
    let start = Instant::now();
    while !result.exists() {
        assert!(
            start.elapsed() < wait,
            "restore-tui did not end: {}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let screens = format!(
        "layout:\n{layout}\nfiles:\n{files}\nreview:\n{review}\nafter:\n{after}\napplied:\n{applied}"
    );
    assert_eq!(
        fs::read_to_string(&result).unwrap().trim(),
        "0",
        "{screens}\nlast:\n{}",
        tmux.screen()
    );
    drop(tmux);

    // The table: / as it was, /home 40 MiB, /data's entry where it was (untouched).
    target.rescan();
    let verify = output(command("sfdisk").arg("--verify").arg(target.device()));
    assert!(verify.success(), "{}", verify.report());
    let was = partitions(&src_json);
    let now = partitions(&sfdisk_json(target.device()));
    assert_eq!(now.len(), 3, "{now:?}\n{screens}");
    assert_eq!(now[0], was[0]);
    assert_eq!(now[1], (was[1].0, 40 * MIB / 512), "{screens}");
    assert_eq!(now[2], was[2]);
    for n in [1, 2] {
        let out = output(command("e2fsck").arg("-fn").arg(target.partition_path(n)));
        assert!(out.success(), "e2fsck: {}", out.report());
    }
    // /data was deleted from the plan: its filesystem and file are as they were.
    let data = target.partition_path(3);
    assert_eq!(host_tests::blkid_probe(&data)["UUID"], kept_uuid);
    let out = output(command("e2fsck").arg("-fn").arg(&data));
    assert!(out.success(), "e2fsck: {}", out.report());

    // The root filesystem holds /home/ann under /mnt/x, and nothing else of the backup.
    let check = work.path().join("check");
    let mut mounts = Mounts::new();
    mounts.mount(&target.partition_path(1), &check, Some("ro"));
    assert_eq!(
        tree(&check.join("mnt/x/home/ann")),
        tree(&root.join("home/ann"))
    );
    assert!(!check.join("srv/notes.txt").exists());
    assert!(!check.join("mnt/x/home/bob").exists());
    assert!(!check.join("etc/fstab").exists());
    drop(mounts);
    let mut kept_mount = Mounts::new();
    kept_mount.mount(&data, &check, Some("ro"));
    assert_eq!(
        fs::read_to_string(check.join("only-here.txt")).unwrap(),
        "not in the backup\n"
    );
    drop(kept_mount);
    let mut home = Mounts::new();
    home.mount(&target.partition_path(2), &check, Some("ro"));
    let in_home: Vec<_> = fs::read_dir(&check)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "lost+found")
        .collect();
    assert!(in_home.is_empty(), "{in_home:?}");
    drop(home);
    drop(src_mounts);
    drop(src);
}
