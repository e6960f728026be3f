//! What mkrescue writes, on hostile or failing ground: a symlink planted at the old fixed
//! temporary name of an output, and an ISO image that does not fit its filesystem.

use host_tests::{host_lock, mkfs, mkrescue, require_root_or_skip, run, LoopDisk, Mount};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::process::Command;

#[test]
fn mountlist_output_through_a_planted_partial_symlink_leaves_its_target_unchanged() {
    if !require_root_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.json");
    let capture = mkrescue(&["mountlist", "--json"]);
    assert!(capture.success(), "{}", capture.report());
    fs::write(&saved, &capture.stdout).unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    let out = dir.path().join("planted.json");
    symlink(&victim, dir.path().join(".planted.json.partial")).unwrap();
    let result = mkrescue(&[
        "mountlist",
        "--input",
        saved.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(result.success(), "{}", result.report());
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
    assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o777, 0o644);
    let meta = fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file(), "the output is a plain file");
    assert_eq!(meta.mode() & 0o777, 0o600, "the output is private");
    assert_eq!(fs::read(&out).unwrap(), capture.stdout.as_bytes());
}

#[test]
fn an_iso_image_that_does_not_fit_names_the_os_error_and_leaves_nothing() {
    if !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let dir = tempfile::tempdir().unwrap();
    let disk = LoopDisk::new(4 << 20);
    mkfs("ext4", disk.device(), &["-q"]);
    let small = dir.path().join("small");
    let _mount = Mount::new(disk.device(), &small, None);
    fs::remove_dir(small.join("lost+found")).unwrap();
    let spec = mkrescue::iso::IsoSpec {
        volume_id: "RESCUE_FULL".into(),
        files: vec![(
            "/big".into(),
            mkrescue::iso::IsoSource::Bytes(vec![7u8; 8 << 20]),
        )],
        bios: None,
        uefi: None,
        hybrid: false,
        publisher: "mkrescue".into(),
        mtime: 0,
    };
    let err = mkrescue::iso::write_iso(&spec, &small.join("rescue-1.iso")).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("rescue-1.iso"), "{text}");
    run(Command::new("sync").arg("-f").arg(&small));
    assert_eq!(fs::read_dir(&small).unwrap().count(), 0, "nothing is left");
}
