//! restore-tui from the command line: showing and checking a mountlist.

use std::process::{Command, Output};

const VALID: &str = r#"{
  "version": 1,
  "host": {"hostname": "h", "root": "/", "kernel_release": "6.1", "captured_at": 0},
  "boot": {"mode": "bios"},
  "disks": [{
    "path": "/dev/vda", "sectors": 2097152, "logical_sector_size": 512,
    "physical_sector_size": 512, "table": {"type": "none"},
    "filesystem": {"type": "ext4", "uuid": "0a0b0c0d-0000-4000-8000-000000000001",
                   "mount_point": "/"}
  }],
  "warnings": ["fstab line 3: LABEL=x on /x is not mounted now"]
}"#;

fn run(json: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ml.json");
    std::fs::write(&path, json).unwrap();
    Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .arg("--mountlist")
        .arg(&path)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn shows_a_valid_mountlist_and_its_capture_warnings() {
    let out = run(VALID, &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("/dev/vda  1G  none"), "{text}");
    assert!(text.contains("whole disk  ext4"), "{text}");
    assert!(
        text.contains("captured with warning: fstab line 3"),
        "{text}"
    );
}

#[test]
fn a_layout_with_problems_exits_1_and_names_them() {
    let broken = VALID.replace("\"mount_point\": \"/\"", "\"mount_point\": \"/srv\"");
    let out = run(&broken, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no root filesystem"), "{err}");
}

#[test]
fn bad_files_and_usage() {
    let out = run("{\"version\": 2}", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 2"));
    let out = run(VALID, &["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--mountlist is required");
}

#[test]
fn restoring_files_needs_media_that_exists_and_a_target() {
    let out = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args([
            "--media",
            "/nonexistent/backup",
            "--target",
            "/tmp/x",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/backup"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args(["--media", "/nonexistent/backup"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "--target is required with --media"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args([
            "--media", "/x", "--target", "/y", "--rename", "nonsense", "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OLD=NEW"));
}
