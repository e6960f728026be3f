//! A file restore (`restore-tui --media DIR --target DIR`) from a two-volume backup whose
//! second volume is not there: asked for, it can be skipped (its files are listed as not
//! restored) or made to appear before Enter is pressed (everything is restored); unattended
//! (`--yes`) it is looked for a while, then skipped.
//!
//! The backup is made by `mkrescue create -s 48m,64m --set-size 1m --output-format dir`
//! of a corpus on a loop disk (root: the capture needs a mounted filesystem); the same
//! corpus, made again from its seed in a plain directory, is what the restore is compared
//! with.

mod common;

use host_tests::{host_lock, mkfs, require_root_or_skip, LoopDisk, Mount};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn corpus_options() -> corpus::Options {
    corpus::Options {
        bulk_bytes: 16 * MIB,
        big_file: None,
        seed: 21,
    }
}

struct Backup {
    work: tempfile::TempDir,
    /// The directory of volumes given to --media.
    out: PathBuf,
    /// Volume 2, moved out of `out`.
    away: PathBuf,
    /// The source, as made again in a plain directory.
    source: PathBuf,
    backup_id: String,
}

/// The backup, over two volumes with sets on both; volume 2 moved out of the way.
fn backup() -> Backup {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let away = work.path().join("away");
    let backup_id = {
        // Held while loop disks come and go, as every host test does.
        let _lock = host_lock();
        let disk = LoopDisk::new(64 * MIB);
        mkfs("ext4", disk.device(), &["-q"]);
        let root = work.path().join("root");
        let _mount = Mount::new(disk.device(), &root, None);
        corpus::generate(&root.join("data"), &corpus_options()).unwrap();
        common::two_volume_backup(&root, &out, &away)
    };
    let source = work.path().join("source");
    corpus::generate(&source.join("data"), &corpus_options()).unwrap();
    Backup {
        work,
        out,
        away,
        source,
        backup_id,
    }
}

fn report(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn restore_tui(b: &Backup, target: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .arg("--media")
        .arg(&b.out)
        .arg("--target")
        .arg(target)
        .args(extra)
        .env("PATH", PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn prompt(b: &Backup) -> String {
    format!(
        "Insert volume 2 of backup {id} (label RESCUE_{id}_2) and press Enter; type s to \
         skip its files",
        id = b.backup_id
    )
}

/// The paths the restored `data` tree lacks or has wrong, against the source.
fn differences(b: &Backup, target: &Path) -> Vec<corpus::Difference> {
    corpus::compare(&b.source.join("data"), &target.join("data")).unwrap()
}

#[test]
fn a_missing_volume_is_asked_for_and_skipping_it_lists_its_files() {
    if !require_root_or_skip() {
        return;
    }
    let b = backup();
    let target = b.work.path().join("restored");
    let mut child = restore_tui(&b, &target, &[]);
    child.stdin.take().unwrap().write_all(b"y\ns\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    assert!(stdout.contains(&prompt(&b)), "{}", report(&out));
    assert!(
        stdout.contains("skipping volume 2: its files are not restored"),
        "{}",
        report(&out)
    );
    assert!(
        stderr.contains("on no volume given (missing: volume 2): their files are not restored"),
        "{}",
        report(&out)
    );
    // Every file that is not back is named, and only those.
    let lost: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("not restored: /data/"))
        .map(|l| l.split(": its set ").next().unwrap())
        .collect();
    assert!(!lost.is_empty(), "{}", report(&out));
    let diffs = differences(&b, &target);
    assert!(!diffs.is_empty());
    for d in &diffs {
        let path = d.path.trim_start_matches('/');
        assert!(
            lost.iter()
                .any(|l| *l == path || path.starts_with(&format!("{l}/"))),
            "{d} is not named as lost: {lost:?}"
        );
    }
    for l in &lost {
        let restored = target.join("data").join(l);
        let source = b.source.join("data").join(l);
        if source.is_file() && !source.is_symlink() {
            assert!(
                fs::read(&restored).ok() != fs::read(&source).ok(),
                "{l} is named as lost but is back whole"
            );
        }
    }
}

#[test]
fn a_volume_that_turns_up_before_enter_is_restored_from() {
    if !require_root_or_skip() {
        return;
    }
    let b = backup();
    let target = b.work.path().join("restored");
    let mut child = restore_tui(&b, &target, &[]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"y\n").unwrap();
    let stdout = read_until(&mut child, &prompt(&b));
    // The volume is copied in, then Enter is pressed.
    fs::rename(b.away.join("rescue-2"), b.out.join("rescue-2")).unwrap();
    stdin.write_all(b"\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let rest = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", report(&out));
    assert!(
        rest.contains(&format!(
            "found volume 2 at {}",
            b.out.join("rescue-2").display()
        )),
        "{stdout}{rest}"
    );
    let diffs = differences(&b, &target);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn unattended_it_looks_for_a_while_then_skips() {
    if !require_root_or_skip() {
        return;
    }
    let b = backup();
    let target = b.work.path().join("restored");
    let start = Instant::now();
    let out = restore_tui(&b, &target, &["--yes"])
        .wait_with_output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    assert!(!stdout.contains("Insert volume"), "no questions: {stdout}");
    assert!(
        stdout.contains(&format!(
            "volume 2 of backup {id} (label RESCUE_{id}_2) was not found",
            id = b.backup_id
        )) && stdout.contains("going on without it; its files are not restored"),
        "{stdout}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(5),
        "it waited a while"
    );
    assert!(!differences(&b, &target).is_empty());
}

/// Reads the child's stdout until `needle` shows (a minute at most); returns what was read.
/// The rest of stdout stays for `wait_with_output`.
fn read_until(child: &mut Child, needle: &str) -> String {
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let needle_owned = needle.to_string();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains(&needle_owned) {
            match stdout.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => break,
            }
        }
        tx.send(()).unwrap();
        (String::from_utf8_lossy(&seen).into_owned(), stdout)
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("{needle:?} did not appear within a minute");
    }
    let (seen, stdout) = reader.join().unwrap();
    assert!(seen.contains(needle), "the output ended first:\n{seen}");
    child.stdout = Some(stdout);
    seen
}
