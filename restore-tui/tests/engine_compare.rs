//! `restore-tui --mode compare` on the host (root, loop devices).
//!
//! A source system on a loop disk (GPT, ext4 / and ext4 /home, a corpus on each) is backed
//! up with the real `mkrescue create --output-format dir`. Then:
//!
//! - the directory case: the backup restored with `restore-tui --media M --target T --yes`
//!   compares clean with `--mode compare --target T` (exit 0); after a file is changed,
//!   one deleted and one added in T, exactly those are listed under CHANGED, MISSING and
//!   EXTRA (exit 1);
//! - the disks case: with the source unmounted, `--mode compare` mounts the same disk's
//!   filesystems read-only under `--target-root` and reports it clean without writing a
//!   byte to it; after a file on the disk changes, it reports that file; nothing stays
//!   mounted under the target root.

use host_tests::{
    command, host_lock, mkfs, mkrescue, output, require_root_or_skip, require_tools, run,
    write_file, CmdOutput, HostLock, LoopDisk, Mounts,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// sfdisk's input: the root filesystem and /home.
const LAYOUT: &str = "label: gpt\n\
    size=64MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root\n\
    size=48MiB, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, name=home\n";

/// restore-tui with `args`, the sbin directories on its PATH.
fn restore_tui(args: &[&str]) -> CmdOutput {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_restore-tui"));
    output(cmd.args(args).env("PATH", sbin_path()).env("LC_ALL", "C"))
}

/// PATH with the sbin directories first, for the tools restore-tui runs.
fn sbin_path() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("/usr/local/sbin:/usr/sbin:/sbin:{path}")
}

/// `restore-tui --mode compare --media MEDIA ARGS...`, printed for the log.
fn compare(media: &Path, args: &[&str]) -> CmdOutput {
    let mut all = vec!["--mode", "compare", "--media", media.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = restore_tui(&all);
    println!("{}", out.report());
    out
}

/// The lines of one section of the compare report ("CHANGED (1):" and the paths under it).
fn section(stdout: &str, title: &str) -> Vec<String> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(title));
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

/// A source system on a loop disk, mounted under `root`, and its backup in `media`.
struct Source {
    // Fields drop in order: the mounts before the disk under them.
    mounts: Option<Mounts>,
    disk: LoopDisk,
    media: PathBuf,
}

fn source_and_backup(work: &Path) -> Source {
    let root = work.join("source");
    let mut disk = LoopDisk::new(128 << 20);
    disk.partition(LAYOUT);
    mkfs("ext4", &disk.partition_path(1), &["-L", "cmproot"]);
    mkfs("ext4", &disk.partition_path(2), &[]);
    let mut mounts = Mounts::new();
    mounts.mount(&disk.partition_path(1), &root, None);
    mounts.mount(&disk.partition_path(2), &root.join("home"), None);
    for (dir, seed) in [
        (root.join("srv/corpus"), 21),
        (root.join("home/corpus"), 22),
    ] {
        fs::create_dir_all(&dir).unwrap();
        let opts = corpus::Options {
            bulk_bytes: 2 << 20,
            big_file: None,
            seed,
        };
        corpus::generate(&dir, &opts).unwrap();
    }
    write_file(&root.join("etc/hostname"), "cmphost\n");
    write_file(&root.join("home/ann/notes.txt"), "remember the milk\n");
    write_file(
        &root.join("etc/fstab"),
        "LABEL=cmproot\t/\text4\tdefaults\t0 1\n",
    );
    run(&mut command("sync"));

    // The layout as mkrescue captures it: the disk, / and /home.
    let root_arg = root.to_str().unwrap();
    let captured = mkrescue(&["mountlist", "--root", root_arg, "--json"]);
    assert!(captured.success(), "{}", captured.report());
    let ml = rescue_core::mountlist::from_json(&captured.stdout).unwrap();
    let mounted: Vec<&str> = ml
        .filesystems()
        .filter_map(|(_, f)| f.mount_point.as_deref())
        .collect();
    assert_eq!(ml.disks[0].path, disk.device(), "{ml:#?}");
    assert_eq!(mounted, ["/", "/home"], "{ml:#?}");

    let media = work.join("media");
    run(
        qemu_tests::mkrescue_create(&host_tests::mkrescue_bin(), &root, &media)
            .args(["--output-format", "dir"])
            // As host_tests::mkrescue_command runs it.
            .env("LC_ALL", "C")
            .env_remove("RUST_BACKTRACE"),
    );
    Source {
        mounts: Some(mounts),
        disk,
        media,
    }
}

/// Root, the tools, the host lock, a work directory under /var/tmp and the source with
/// its backup in it; None when the test is skipped.
fn setup(name: &str) -> Option<(HostLock, tempfile::TempDir, PathBuf, Source)> {
    let ready = require_root_or_skip()
        && require_tools(&[
            "sfdisk",
            "partx",
            "mkfs.ext4",
            "blkid",
            "losetup",
            "sha256sum",
        ]);
    if !ready {
        return None;
    }
    let lock = host_lock();
    // Not under /tmp, which may be a tmpfs the backup would leave out.
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let work = dir.path().canonicalize().unwrap().join(name);
    fs::create_dir(&work).unwrap();
    let source = source_and_backup(&work);
    Some((lock, dir, work, source))
}

/// The stdout of a run that exited with `code`.
fn exited(out: &CmdOutput, code: i32) -> &str {
    assert_eq!(out.code(), Some(code), "{}", out.report());
    &out.stdout
}

#[test]
fn a_restored_directory_compares_clean_then_names_each_difference() {
    let Some((_lock, _dir, work, source)) = setup("dir") else {
        return;
    };
    let target = work.join("restored");
    let t = target.to_str().unwrap();
    let media = source.media.to_str().unwrap();
    exited(&restore_tui(&["--media", media, "--target", t, "--yes"]), 0);

    let clean = compare(&source.media, &["--target", t]);
    let stdout = exited(&clean, 0);
    assert!(stdout.contains(&format!(" with {t}: ")), "{stdout}");
    assert!(stdout.contains("identical: no file missing"), "{stdout}");

    fs::write(target.join("etc/hostname"), "someone-else\n").unwrap();
    fs::remove_file(target.join("home/ann/notes.txt")).unwrap();
    fs::write(target.join("srv/brand-new.txt"), "new\n").unwrap();
    let differs = compare(&source.media, &["--target", t, "--show", "5"]);
    let stdout = exited(&differs, 1);
    let missing = section(stdout, "MISSING (1):");
    assert_eq!(missing, ["/home/ann/notes.txt"], "{stdout}");
    let changed = section(stdout, "CHANGED (1):");
    assert_eq!(changed.len(), 1, "{stdout}");
    assert!(
        changed[0].starts_with("/etc/hostname: size 8 -> 13"),
        "{stdout}"
    );
    let extra = section(stdout, "EXTRA (1):");
    assert_eq!(extra, ["/srv/brand-new.txt"], "{stdout}");
    assert!(stdout.contains("3 differences: 1 missing, 1 changed, 1 extra"));
}

/// The SHA-256 of a whole device, to show nothing wrote to it.
fn device_sum(device: &str) -> String {
    run(command("sha256sum").arg(device))
}

/// Mounts under `root` now, from the kernel's table.
fn mounted_under(root: &Path) -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    rescue_core::mountinfo::parse(&text)
        .unwrap()
        .into_iter()
        .filter(|m| m.mount_point.starts_with(root))
        .map(|m| m.mount_point.display().to_string())
        .collect()
}

#[test]
fn the_disks_mount_read_only_compare_clean_then_name_a_changed_file() {
    let Some((_lock, _dir, work, mut source)) = setup("disks") else {
        return;
    };
    drop(source.mounts.take());
    let disk = source.disk.device().to_string();
    let target_root = work.join("mnt");
    let r = target_root.to_str().unwrap();
    let map = format!("{disk}={disk}");

    let before = device_sum(&disk);
    let clean = compare(&source.media, &["--disk-map", &map, "--target-root", r]);
    let stdout = exited(&clean, 0);
    let (p1, p2) = (source.disk.partition_path(1), source.disk.partition_path(2));
    for want in [
        format!("mounted {p1} (ext4, /) read-only at {r}\n"),
        format!("mounted {p2} (ext4, /home) read-only at {r}/home\n"),
        "identical: no file missing, changed or extra".to_string(),
    ] {
        assert!(stdout.contains(&want), "{want:?} in\n{stdout}");
    }
    assert_eq!(mounted_under(&target_root), Vec::<String>::new());
    assert_eq!(device_sum(&disk), before, "the compare wrote to {disk}");

    // A file changed on the disk: named, and nothing left mounted.
    {
        let mut m = Mounts::new();
        m.mount(&p2, &work.join("edit"), None);
        fs::write(work.join("edit/ann/notes.txt"), "remember the bread\n").unwrap();
    }
    let differs = compare(&source.media, &["--target-root", r]);
    let stdout = exited(&differs, 1);
    let changed = section(stdout, "CHANGED (1):");
    assert_eq!(changed.len(), 1, "{stdout}");
    let want = "/home/ann/notes.txt: size 18 -> 19";
    assert!(changed[0].starts_with(want), "{stdout}");
    assert!(section(stdout, "MISSING").is_empty(), "{stdout}");
    assert!(section(stdout, "EXTRA").is_empty(), "{stdout}");
    assert_eq!(mounted_under(&target_root), Vec::<String>::new());
}
