//! `restore-tui --mode nuke` from the command line, without root: against a volume
//! directory holding a manifest and a mountlist (and no sets), planning for disks that
//! are not attached (`OLD=NEW:SIZE`), in dry runs; and the usage errors.

use std::path::Path;
use std::process::{Command, Output};

const MOUNTLIST: &str = r#"{
  "version": 1,
  "host": {"hostname": "db1", "root": "/", "kernel_release": "6.1.0", "captured_at": 0},
  "boot": {"mode": "bios"},
  "disks": [{
    "path": "/dev/vdzy", "sectors": 4194304, "logical_sector_size": 512,
    "physical_sector_size": 512,
    "table": {"type": "gpt", "disk_guid": "5b1d7a4e-2f0c-4d7e-9a51-0c3f2e8b9d11",
              "first_usable_lba": 2048, "last_usable_lba": 4194270},
    "partitions": [
      {"number": 1, "path": "/dev/vdzy1", "start": 2048, "size": 2048,
       "gpt": {"type_guid": "21686148-6449-6e6f-744e-656564454649",
               "unique_guid": "11111111-0000-4000-8000-000000000001"}},
      {"number": 2, "path": "/dev/vdzy2", "start": 4096, "size": 3145728,
       "gpt": {"type_guid": "0fc63daf-8483-4772-8e79-3d69d8477de4",
               "unique_guid": "11111111-0000-4000-8000-000000000002"},
       "filesystem": {"type": "ext4", "uuid": "22222222-0000-4000-8000-000000000002",
                      "label": "root", "mount_point": "/", "used_bytes": 536870912}},
      {"number": 3, "path": "/dev/vdzy3", "start": 3149824, "size": 1044447,
       "gpt": {"type_guid": "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f",
               "unique_guid": "11111111-0000-4000-8000-000000000003"},
       "filesystem": {"type": "swap", "uuid": "22222222-0000-4000-8000-000000000003"}}
    ]
  }]
}"#;

/// A volume directory as `mkrescue create --output-format dir` lays it out, without sets.
fn media(dir: &Path) -> std::path::PathBuf {
    let vol = dir.join("rescue-1");
    std::fs::create_dir_all(vol.join("rescue")).unwrap();
    std::fs::write(
        vol.join("rescue/manifest.json"),
        r#"{"version": 1, "backup_id": "1A2B3C4D", "label": "RESCUE_1A2B3C4D_1",
            "volume": 1, "volumes": 1, "created": 0, "tool_version": "0.1.0",
            "hostname": "db1", "kernel_release": "6.1.0", "sets": []}"#,
    )
    .unwrap();
    std::fs::write(vol.join("rescue/mountlist.json"), MOUNTLIST).unwrap();
    vol
}

fn restore_tui(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_dry_run_prints_the_plan_and_what_would_run() {
    let dir = tempfile::tempdir().unwrap();
    let vol = media(dir.path());
    let root = dir.path().join("mnt");
    let out = restore_tui(&[
        "--mode",
        "nuke",
        "--media",
        vol.to_str().unwrap(),
        "--disk-map",
        "vdzy=vdzx:4g",
        "--resize",
        "grow-last",
        "--target-root",
        root.to_str().unwrap(),
        "--dry-run",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for want in [
        "backup 1A2B3C4D of db1 (1 volume(s) found, 0 set(s))",
        "/dev/vdzy (2G) -> /dev/vdzx (4G), the layout fitted: grow-last",
        "EVERYTHING ON /dev/vdzx IS ERASED.",
        "| /dev/vdzx1 : start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649",
        "would run: wipefs -a /dev/vdzx    # erase the partition table",
        "would write a GPT partition table",
        &format!(
            "would run: mount -t ext4 /dev/vdzx2 {}    # mount /dev/vdzx2 (ext4, /)",
            root.display()
        ),
        &format!("would restore the files into {}", root.display()),
        "would run: sync",
        "dry run: nothing was written",
    ] {
        assert!(stdout.contains(want), "no {want:?} in:\n{stdout}");
    }
    assert!(!root.exists(), "a dry run makes nothing");
    // grow-last: the root partition took the new space, swap kept its size.
    assert!(
        stdout.contains("/dev/vdzx3 : start=7344128, size=1044447"),
        "{stdout}"
    );
}

#[test]
fn a_target_too_small_is_refused_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let vol = media(dir.path());
    let out = restore_tui(&[
        "--mode",
        "nuke",
        "--media",
        vol.to_str().unwrap(),
        "--disk-map",
        "/dev/vdzy=/dev/vdzx:400m",
        "--dry-run",
        "--yes",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.starts_with("error: the layout does not fit (nothing was written): /dev/vdzx (400M) is too small for /dev/vdzy2 (/)"), "{stderr}");
    assert!(!stdout.contains("would run"), "{stdout}");
}

#[test]
fn targets_must_exist_or_be_named_with_a_size() {
    let dir = tempfile::tempdir().unwrap();
    let vol = media(dir.path());
    let vol = vol.to_str().unwrap();
    let out = restore_tui(&["--mode", "nuke", "--media", vol, "--yes"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/dev/vdzy of the backup: there is no such disk here to restore it onto; name its target with --disk-map /dev/vdzy=NEW"),
        "{stderr}"
    );
    let out = restore_tui(&[
        "--mode",
        "nuke",
        "--media",
        vol,
        "--disk-map",
        "vdzy=vdzx",
        "--yes",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--disk-map vdzy=vdzx: /dev/vdzx is not an attached disk"),
        "{stderr}"
    );
    // Planned onto a disk that is not there: refused before anything, also with --yes.
    let out = restore_tui(&[
        "--mode",
        "nuke",
        "--media",
        vol,
        "--disk-map",
        "vdzy=vdzx:4g",
        "--yes",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing to write to /dev/vdzx:\n  /dev/vdzx: no such disk"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--mode", "nuke"][..],
        &["--mode", "nuke", "--media", "/x", "--target", "/y"],
        &["--mode", "compare"],
        &[
            "--mode",
            "compare",
            "--media",
            "/x",
            "--target",
            "/y",
            "--disk-map",
            "a=b",
        ],
        &["--mode", "nuke", "--media", "/x", "--resize", "sideways"],
        &["--media", "/x"],
    ] {
        let out = restore_tui(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out).1);
    }
}
