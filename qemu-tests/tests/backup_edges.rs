//! `mkrescue create` with a backup, on bad ground: an output that fills up, a source disk
//! that fails under a file, exclude patterns that match nothing, and directory output.

use host_tests::{host_lock, mkfs, require_root_or_skip, run, LoopDisk, Mount};
use qemu_tests::{mkrescue_bin, mkrescue_create, require_qemu};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const MIB: u64 = 1 << 20;

fn create(root: &Path, out: &Path, extra: &[&str]) -> Output {
    mkrescue_create(&mkrescue_bin().unwrap(), root, out)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap()
}

/// An ext4 loop disk mounted at `root` with a small corpus.
fn source(work: &Path, size: u64, bulk: u64) -> (LoopDisk, Mount) {
    let disk = LoopDisk::new(size);
    mkfs("ext4", disk.device(), &["-q"]);
    let root = work.join("root");
    let mount = Mount::new(disk.device(), &root, None);
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/hostname"), "edges\n").unwrap();
    fs::create_dir(root.join("data")).unwrap();
    corpus::generate(
        &root.join("data"),
        &corpus::Options {
            bulk_bytes: bulk,
            big_file: None,
            seed: 5,
        },
    )
    .unwrap();
    (disk, mount)
}

#[test]
fn a_full_output_is_a_clear_error_and_leaves_no_volume() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let (_disk, _mount) = source(work.path(), 128 * MIB, 24 * MIB);
    // A 48 MiB output disk: the boot files fit, the uncompressed backup does not.
    let out_disk = LoopDisk::new(48 * MIB);
    mkfs("ext4", out_disk.device(), &["-q"]);
    let out = work.path().join("out");
    let _out_mount = Mount::new(out_disk.device(), &out, None);
    let result = create(&work.path().join("root"), &out, &["--compress", "none"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rescue-"))
        .collect();
    assert!(left.is_empty(), "no volume under its final name: {left:?}");
}

#[test]
fn a_failing_source_disk_is_reported_and_the_backup_goes_on() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let (disk, _mount) = source(work.path(), 64 * MIB, MIB);
    let root = work.path().join("root");
    // A file whose blocks lie beyond the point where the disk will end.
    let victim = root.join("data/far-away.bin");
    fs::write(&victim, vec![7u8; 40 * MIB as usize]).unwrap();
    run(&mut Command::new("sync"));
    fs::write("/proc/sys/vm/drop_caches", "3").unwrap();
    // The disk now ends at 24 MiB: reading the rest fails with an I/O error.
    let image = disk.image().to_path_buf();
    fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .unwrap()
        .set_len(24 * MIB)
        .unwrap();
    run(Command::new("losetup")
        .arg("--set-capacity")
        .arg(disk.device()));

    let out = work.path().join("out");
    let result = create(&root, &out, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("far-away.bin"),
        "the unreadable file is named: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let unreadable = summary["backup"]["unreadable"].as_array().unwrap();
    assert!(
        unreadable
            .iter()
            .any(|u| u.as_str().unwrap().contains("far-away.bin")),
        "{unreadable:?}"
    );
    assert!(out.join("rescue-1.iso").exists());
}

#[test]
fn unmatched_excludes_warn_and_directory_output_holds_the_sets() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let (_disk, _mount) = source(work.path(), 128 * MIB, 4 * MIB);
    let out = work.path().join("out");
    let result = create(
        &work.path().join("root"),
        &out,
        &[
            "--output-format",
            "dir",
            "-E",
            "/no/such/place",
            "-E",
            "*.bin",
        ],
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("\"/no/such/place\" matched nothing"),
        "{stderr}"
    );
    assert!(!stderr.contains("\"*.bin\" matched nothing"), "{stderr}");
    let volume = out.join("rescue-1");
    for f in [
        "rescue/manifest.json",
        "rescue/catalog.zst",
        "rescue/mountlist.json",
        "boot/vmlinuz",
    ] {
        assert!(
            volume.join(f).exists(),
            "{f} missing from {}",
            volume.display()
        );
    }
    let sets: Vec<_> = fs::read_dir(volume.join("sets")).unwrap().collect();
    assert!(!sets.is_empty());
    assert_private(&out);
    // *.bin excluded: no set lists one.
    for s in fs::read_dir(volume.join("sets")).unwrap() {
        let p = s.unwrap().path();
        if p.extension().is_some_and(|e| e == "zst") && p.to_string_lossy().contains(".tar.") {
            let list = run(Command::new("tar")
                .args(["--zstd", "--warning=no-unknown-keyword", "-tf"])
                .arg(&p));
            assert!(!list.contains(".bin"), "{list}");
        }
    }
}

#[test]
fn a_failing_hook_stops_the_run_with_its_status_and_output() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let (_disk, _mount) = source(work.path(), 128 * MIB, MIB);
    let out = work.path().join("out");
    let result = create(
        &work.path().join("root"),
        &out,
        &["--after-volume", "echo burner on fire >&2; exit 3"],
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--after-volume hook for volume 1"),
        "{stderr}"
    );
    assert!(stderr.contains("burner on fire"), "{stderr}");
    assert!(stderr.contains('3'), "{stderr}");
}

#[test]
fn write_to_puts_the_image_on_a_device_and_reads_it_back() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let (_disk, _mount) = source(work.path(), 128 * MIB, MIB);
    let stick = LoopDisk::new(96 * MIB);
    let out = work.path().join("out");
    let result = create(
        &work.path().join("root"),
        &out,
        &["--write-to", stick.device()],
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(0), "{stderr}");
    let iso = fs::read(out.join("rescue-1.iso")).unwrap();
    let mut on_stick = vec![0u8; iso.len()];
    use std::io::Read;
    fs::File::open(stick.device())
        .unwrap()
        .read_exact(&mut on_stick)
        .unwrap();
    assert!(on_stick == iso, "the device holds the image");
    // And the backup on the stick verifies.
    let verify = Command::new(mkrescue_bin().unwrap())
        .args(["verify", "--media", stick.device()])
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// Every directory and file under `dir` (the output directory mkrescue made, and the
/// volumes in it) has no group or other permissions: a backup holds /etc/shadow.
fn assert_private(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let mode = fs::symlink_metadata(dir).unwrap().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "{} is mode {:o}",
        dir.display(),
        mode & 0o7777
    );
    if fs::symlink_metadata(dir).unwrap().is_dir() {
        for e in fs::read_dir(dir).unwrap() {
            assert_private(&e.unwrap().path());
        }
    }
}

/// What lies under mount points is backed up: the static /dev nodes of the root, the mode
/// of the /proc directory, a file hidden by a filesystem mounted over its directory.
#[test]
fn what_lies_under_mount_points_is_backed_up() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let _lock = host_lock();
    let work = tempfile::tempdir().unwrap();
    let (_disk, _mount) = source(work.path(), 64 * MIB, MIB);
    let root = work.path().join("root");
    fs::create_dir(root.join("dev")).unwrap();
    run(Command::new("mknod")
        .arg(root.join("dev/console"))
        .args(["c", "5", "1"]));
    fs::create_dir(root.join("proc")).unwrap();
    fs::set_permissions(root.join("proc"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(root.join("tmp")).unwrap();
    fs::write(root.join("tmp/under-the-mount"), b"hidden").unwrap();
    // What the running system mounts over them (not block devices: not captured).
    let _over: Vec<Mount> = [
        ("dev", "mode=755"),
        ("proc", "mode=555"),
        ("tmp", "mode=1777"),
    ]
    .into_iter()
    .map(|(dir, options)| {
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(root.join(dir)));
        Mount::adopt(&root.join(dir))
    })
    .collect();
    let out = work.path().join("out");
    let result = create(&root, &out, &["--output-format", "dir"]);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let target = work.path().join("restored");
    let restored = Command::new(qemu_tests::restore_tui_bin().unwrap())
        .arg("--media")
        .arg(&out)
        .arg("--target")
        .arg(&target)
        .arg("--yes")
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let console = fs::symlink_metadata(target.join("dev/console")).unwrap();
    assert!(console.file_type().is_char_device());
    // The kernel's encoding of 5:1.
    assert_eq!(console.rdev(), 0x0501);
    assert_eq!(
        fs::metadata(target.join("proc")).unwrap().mode() & 0o7777,
        0o755
    );
    assert_eq!(
        fs::read(target.join("tmp/under-the-mount")).unwrap(),
        b"hidden"
    );
}
