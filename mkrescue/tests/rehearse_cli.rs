//! `mkrescue rehearse` refuses what it cannot rehearse, before QEMU starts and before any
//! disk image is made: media that are not there, volumes that are directories (a rehearsal
//! boots ISO images), more disk sizes than the mountlist has disks, and usage errors.
//! (The rehearsals themselves are in qemu-tests/tests/rehearse.rs.)

use rescue_core::media::{Manifest, MANIFEST_VERSION};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn rehearse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mkrescue"))
        .arg("rehearse")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A volume directory (as `--output-format dir` writes), with a manifest.
fn volume_dir(dir: &Path) {
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        backup_id: "1A2B3C4D".into(),
        label: "RESCUE_1A2B3C4D_1".into(),
        volume: 1,
        volumes: 1,
        created: 0,
        tool_version: "0".into(),
        hostname: "web01".into(),
        kernel_release: "6.1".into(),
        sets: Vec::new(),
        compression: Default::default(),
        mountlist_b3: Some(blake3::hash(b"{}").to_hex().to_string()),
        catalog_b3: None,
    };
    fs::create_dir_all(dir.join("rescue")).unwrap();
    fs::write(
        dir.join("rescue/manifest.json"),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn media_that_are_not_there_are_named() {
    let out = rehearse(&["--media", "/nonexistent/rescue"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: finding the volumes at /nonexistent/rescue"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_volume_directory_is_refused_with_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    let volume = work.path().join("rescue-1");
    volume_dir(&volume);
    let out = rehearse(&["--media", volume.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is not an ISO image"), "{err}");
    assert!(err.contains("--output-format iso"), "{err}");
    // Nothing was made: no scratch directory is announced, no VM started.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--media", "m", "--firmware", "arm"][..],
        &["--media", "m", "--boot-check-expect", "up"][..],
        &["--media", "m", "--accel", "hvf"][..],
        &["--firmware", "bios"][..],
    ] {
        let out = rehearse(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}
