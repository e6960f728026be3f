//! The terminal UI asks for a volume it cannot find (root, loop devices, tmux at 80x24).
//!
//! A source system on a GPT loop disk holds a corpus; `mkrescue create -s 48m,64m
//! --set-size 1m --output-format dir` spreads its sets over two volumes, and volume 2 is
//! moved out of the directory given to `--media`. A nuke from the UI (`n`, the disk's name
//! typed) reaches volume 2's sets and shows the dialog:
//!
//! - Enter while it is still away says it was not found; once it is moved back, Enter
//!   restores from it: the restored disk passes `e2fsck -fn` and its tree equals the source.
//! - `s` goes on without it: the After screen names the missing volume, and the log written
//!   into the restored system names every file that is not back.

mod common;

use host_tests::tmux::Tmux;
use host_tests::{
    command, host_lock, mkfs, output, require_root_or_skip, require_tools, run, write_file,
    HostLock, LoopDisk, MountedBelow, Mounts,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn corpus_options() -> corpus::Options {
    corpus::Options {
        bulk_bytes: 16 * MIB,
        big_file: None,
        seed: 33,
    }
}

/// The source system, its two-volume backup with volume 2 moved away, and a blank target.
struct Setup {
    work: tempfile::TempDir,
    /// The source's root, still mounted (what the restore is compared with).
    root: PathBuf,
    /// The directory of volumes given to --media.
    out: PathBuf,
    /// Where volume 2 was moved.
    away: PathBuf,
    /// Where the restore mounts the target: unmounted should the UI be killed.
    _restore: MountedBelow,
    target: LoopDisk,
    // Dropped in this order: the mounts before their disk.
    _mounts: Mounts,
    _source: LoopDisk,
}

fn setup() -> Setup {
    let work = tempfile::tempdir().unwrap();
    let mut source = LoopDisk::new(96 * MIB);
    source.partition("label: gpt\nsize=88MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n");
    mkfs("ext4", &source.partition_path(1), &["-L", "root"]);
    let root = work.path().join("root");
    let mut mounts = Mounts::new();
    mounts.mount(&source.partition_path(1), &root, None);
    write_file(&root.join("etc/fstab"), "LABEL=root / ext4 defaults 0 1\n");
    corpus::generate(&root.join("data"), &corpus_options()).unwrap();
    run(&mut command("sync"));
    let out = work.path().join("out");
    let away = work.path().join("away");
    common::two_volume_backup(&root, &out, &away);
    Setup {
        _restore: MountedBelow::new(&work.path().join("restore")),
        target: LoopDisk::new(96 * MIB),
        work,
        root,
        out,
        away,
        _mounts: mounts,
        _source: source,
    }
}

/// A nuke from the UI waiting for volume 2. Dropped in field order: the UI first, then
/// the disks, then the lock.
struct Asked {
    tmux: Tmux,
    /// Where the UI's exit status is written.
    exit: PathBuf,
    s: Setup,
    _lock: HostLock,
}

/// The UI started on a fresh setup, a nuke chosen and confirmed, up to the volume dialog;
/// `None` (skipped) without root or tools.
fn nuke_until_asked(test: &str) -> Option<Asked> {
    if !(require_root_or_skip() && require_tools(&["tmux", "sfdisk", "mkfs.ext4", "e2fsck"])) {
        return None;
    }
    let lock = host_lock();
    let s = setup();
    let exit = s.work.path().join("exit");
    let tmux = Tmux::start(
        &format!("{test}-{}", std::process::id()),
        &format!(
            "{} --mode interactive --media {} --disk {} --target-root {}; echo $? > {}",
            env!("CARGO_BIN_EXE_restore-tui"),
            s.out.display(),
            s.target.device(),
            s.work.path().join("restore").display(),
            exit.display()
        ),
    );
    let wait = Duration::from_secs(30);
    tmux.wait_for("Interactive restore", wait);
    tmux.keys(&["n"]);
    tmux.wait_for("and Enter to erase", wait);
    tmux.text(s.target.name());
    tmux.keys(&["Enter"]);
    let dialog = tmux.wait_for("A volume is needed", Duration::from_secs(120));
    assert!(
        dialog.contains("needs volume 2 of backup") && dialog.contains("s goes on without it"),
        "{dialog}"
    );
    Some(Asked {
        tmux,
        exit,
        s,
        _lock: lock,
    })
}

/// Leaves the After screen once its changes are applied; waits for the exit status.
fn leave(tmux: &Tmux, exit: &Path, screens: &str) {
    tmux.wait_for("applied: safe to reboot", Duration::from_secs(60));
    tmux.keys(&["r"]);
    let start = Instant::now();
    while !exit.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "restore-tui did not end:\n{}\n{screens}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        fs::read_to_string(exit).unwrap().trim(),
        "0",
        "{screens}\nlast:\n{}",
        tmux.screen()
    );
}

/// The restored filesystem: checked by e2fsck, then mounted read-only.
fn restored(s: &Setup) -> (PathBuf, Mounts) {
    let dev = s.target.partition_path(1);
    let fsck = output(command("e2fsck").arg("-fn").arg(&dev));
    assert!(fsck.success(), "e2fsck: {}", fsck.report());
    let check = s.work.path().join("check");
    let mut mounts = Mounts::new();
    mounts.mount(&dev, &check, Some("ro"));
    (check, mounts)
}

#[test]
fn a_volume_moved_into_place_after_the_dialog_is_restored_from() {
    // Not taken apart: the fields' drop order matters should the test fail.
    let Some(mut a) = nuke_until_asked("tui-volume-found") else {
        return;
    };
    // Still away: looked for again, not found, asked again.
    a.tmux.keys(&["Enter"]);
    let again = a
        .tmux
        .wait_for("Not found (looked again once)", Duration::from_secs(30));
    fs::rename(a.s.away.join("rescue-2"), a.s.out.join("rescue-2")).unwrap();
    a.tmux.keys(&["Enter"]);
    let after = a
        .tmux
        .wait_for("Restore finished", Duration::from_secs(120));
    let screens = format!("asked again:\n{again}\nafter:\n{after}");
    assert!(!after.contains("problem(s)"), "{screens}");
    leave(&a.tmux, &a.exit, &screens);
    drop(a.tmux);

    a.s.target.rescan();
    let (check, mounts) = restored(&a.s);
    let diffs = corpus::compare(&a.s.root.join("data"), &check.join("data")).unwrap();
    assert!(diffs.is_empty(), "{diffs:?}\n{screens}");
    drop(mounts);
}

#[test]
fn skipping_a_volume_restores_the_rest_and_names_what_is_not_back() {
    // Not taken apart: the fields' drop order matters should the test fail.
    let Some(mut a) = nuke_until_asked("tui-volume-skip") else {
        return;
    };
    a.tmux.keys(&["s"]);
    let after = a
        .tmux
        .wait_for("Restore finished with", Duration::from_secs(120));
    assert!(after.contains("missing: volume 2"), "{after}");
    assert!(after.contains("not restored: /data/"), "{after}");
    // Not applied by itself (a nuke with problems): applied on w.
    a.tmux.keys(&["w"]);
    leave(&a.tmux, &a.exit, &after);
    drop(a.tmux);

    a.s.target.rescan();
    let (check, mounts) = restored(&a.s);
    let log = fs::read_to_string(check.join("var/log/restore-tui.log")).unwrap();
    let lost: Vec<&str> = log
        .lines()
        .filter_map(|l| l.trim().strip_prefix("not restored: /data/"))
        .map(|l| l.split(": its set ").next().unwrap())
        .collect();
    assert!(!lost.is_empty(), "{log}");
    let diffs = corpus::compare(&a.s.root.join("data"), &check.join("data")).unwrap();
    assert!(!diffs.is_empty(), "volume 2 held some of /data");
    for d in &diffs {
        let path = d.path.trim_start_matches('/');
        assert!(
            lost.iter()
                .any(|l| *l == path || path.starts_with(&format!("{l}/"))),
            "{d} is not named as lost: {lost:?}"
        );
    }
    // Volume 1's files are back: fewer differences than against an empty tree.
    let empty = a.s.work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let everything = corpus::compare(&a.s.root.join("data"), &empty).unwrap();
    assert!(
        diffs.len() < everything.len(),
        "nothing of /data came back from volume 1: {} differences",
        diffs.len()
    );
    drop(mounts);
}
