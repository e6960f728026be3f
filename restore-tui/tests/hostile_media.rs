//! Restores (and verifies) of hostile and damaged media, run as a user would run them:
//! `restore-tui --media DIR --target T --yes` and `mkrescue verify --media DIR`, each under
//! a 60 s limit and 1 GiB of address space. Every one must end by itself with a clear error
//! and a non-zero exit, and write nothing where it should not.

use host_tests::hostile::{
    self, header, manifest, one_volume, run_limited, write_volume, Limited, SetFile, Tar,
};
use host_tests::{mkrescue_bin, require_root_or_skip};
use rescue_core::archive::pax::{push_record, BLOCK};
use rescue_core::archive::{EntryKind, EntryMeta, Slice};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const MEMORY: u64 = 1 << 30;

fn restore(media: &Path, target: &Path, extra: &[&str]) -> Limited {
    let mut args = vec![
        "--media",
        media.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
        "--yes",
    ];
    args.extend_from_slice(extra);
    run_limited(
        Path::new(env!("CARGO_BIN_EXE_restore-tui")),
        &args,
        MEMORY,
        LIMIT,
    )
}

/// Failed by itself, in time, with `needle` in its messages, and not by running out of
/// memory or panicking.
fn assert_refused(run: &Limited, needle: &str) {
    let report = run.report();
    assert_eq!(run.output.status.code(), Some(1), "{report}");
    let stderr = run.stderr();
    assert!(stderr.contains(needle), "{needle:?} not said:\n{report}");
    for bad in ["panicked", "memory allocation", "out of memory"] {
        assert!(!stderr.contains(bad), "{report}");
    }
}

/// `mkrescue verify` of the same media ends in time and memory and fails.
fn assert_verify_fails(media: &Path) {
    let run = run_limited(
        &mkrescue_bin(),
        &["verify", "--media", media.to_str().unwrap()],
        MEMORY,
        LIMIT,
    );
    let report = run.report();
    assert_eq!(run.output.status.code(), Some(1), "{report}");
    for bad in ["panicked", "memory allocation", "out of memory"] {
        assert!(!run.stderr().contains(bad), "{report}");
    }
}

fn slice(path: &str, offset: u64, len: u64, total: u64) -> EntryMeta {
    let mut m = EntryMeta::new(
        path,
        EntryKind::File {
            size: len,
            sparse: None,
        },
    );
    m.slice = Some(Slice { offset, total });
    m
}

/// A FIFO, then a slice continuing "it": opening the FIFO for writing would block forever.
#[test]
fn a_slice_over_a_fifo_is_refused_without_blocking() {
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new()
        .entry(&EntryMeta::new("pipe", EntryKind::Fifo), b"")
        .entry(&slice("pipe", 10, 10, 20), &[b'x'; 10])
        .finish();
    let out = work.path().join("media");
    one_volume(&out, &[SetFile::plain(1, &tar)]);
    let target = work.path().join("t");
    let run = restore(&out, &target, &[]);
    assert_refused(&run, "no earlier slices");
    assert_verify_fails(&out);
    let meta = fs::symlink_metadata(target.join("pipe")).unwrap();
    assert!(meta.file_type().is_fifo(), "the FIFO stays a FIFO");
}

/// A device node, then a slice continuing "it": nothing is written into the device.
#[test]
fn a_slice_over_a_device_node_is_refused() {
    if !require_root_or_skip() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new()
        .entry(
            &EntryMeta::new("zero", EntryKind::CharDevice { major: 1, minor: 5 }),
            b"",
        )
        .entry(&slice("zero", 10, 10, 20), &[b'x'; 10])
        .finish();
    let out = work.path().join("media");
    one_volume(&out, &[SetFile::plain(1, &tar)]);
    let run = restore(&out, &work.path().join("t"), &[]);
    assert_refused(&run, "no earlier slices");
}

/// A sparse file of 2^60 bytes: its holes would be hashed as zeros for years.
#[test]
fn a_sparse_file_of_2_to_the_60_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let realsize = (1u64 << 60).to_string();
    let mut map = b"1\n0\n512\n".to_vec();
    map.resize(BLOCK, 0);
    let data = [map, vec![b'd'; 512]].concat();
    let tar = Tar::new()
        .pax(
            b'x',
            &[
                (b"GNU.sparse.major", b"1"),
                (b"GNU.sparse.minor", b"0"),
                (b"GNU.sparse.name", b"huge"),
                (b"GNU.sparse.realsize", realsize.as_bytes()),
            ],
        )
        .raw(b"GNUSparseFile.0/huge", b'0', &data)
        .finish();
    let out = work.path().join("media");
    one_volume(&out, &[SetFile::plain(1, &tar)]);
    let run = restore(&out, &work.path().join("t"), &[]);
    assert_refused(&run, "sparse file of 1152921504606846976 bytes");
    assert_verify_fails(&out);
}

/// A global header of a million keys: merging them one by one was quadratic.
#[test]
fn a_global_header_of_a_million_keys_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    for i in 0..1_000_000u32 {
        push_record(&mut records, format!("k{i}").as_bytes(), b"v");
    }
    let tar = Tar::new()
        .raw(b"././@PaxHeader", b'g', &records)
        .file("after", b"content")
        .finish();
    let out = work.path().join("media");
    one_volume(&out, &[SetFile::plain(1, &tar)]);
    let run = restore(&out, &work.path().join("t"), &[]);
    assert_refused(&run, "global headers hold more than");
    assert_verify_fails(&out);
}

/// 1.5 GB of extended headers before one entry (a few MB compressed): they were all kept
/// in memory.
#[test]
fn repeated_extended_headers_are_refused_in_bounded_memory() {
    let work = tempfile::tempdir().unwrap();
    let mut record = Vec::new();
    push_record(&mut record, b"comment", &vec![b'a'; (8 << 20) - 32]);
    let set = SetFile::zstd_stream(1, |w| {
        let h = header(b"././@PaxHeader", b'x', record.len() as u64);
        let pad = vec![0u8; (BLOCK - record.len() % BLOCK) % BLOCK];
        for _ in 0..180 {
            w.write_all(&h)?;
            w.write_all(&record)?;
            w.write_all(&pad)?;
        }
        w.write_all(&header(b"after", b'0', 0))?;
        w.write_all(&[0u8; 2 * BLOCK])
    });
    assert!(set.tar_bytes > 1_500_000_000, "{}", set.tar_bytes);
    let out = work.path().join("media");
    one_volume(&out, &[set]);
    let run = restore(&out, &work.path().join("t"), &[]);
    assert_refused(&run, "extended headers of");
    assert_verify_fails(&out);
}

/// Volume 1 says the backup has 2^32-1 volumes: the restore would wait for each.
#[test]
fn a_manifest_claiming_4_billion_volumes_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new().file("f", b"content").finish();
    let sets = [SetFile::plain(1, &tar)];
    let mut m = manifest(1, 1, &sets);
    m["volumes"] = u32::MAX.into();
    let out = work.path().join("media");
    write_volume(&out, 1, &m, &sets);
    let run = restore(&out, &work.path().join("t"), &[]);
    assert_refused(&run, "4294967295");
}

/// A set numbered 2^32-1: verify kept a record for every set number below it.
#[test]
fn verify_of_a_set_numbered_2_to_the_32_ends_in_bounded_memory() {
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new().file("f", b"content").finish();
    let sets = [SetFile::plain(1, &tar), SetFile::plain(u32::MAX, &tar)];
    let out = work.path().join("media");
    one_volume(&out, &sets);
    let run = run_limited(
        &mkrescue_bin(),
        &["verify", "--media", out.to_str().unwrap()],
        MEMORY,
        LIMIT,
    );
    let report = run.report();
    assert_eq!(run.output.status.code(), Some(1), "{report}");
    assert!(!run.stderr().contains("memory allocation"), "{report}");
}

/// A FIFO where a set file should be: opening it would block forever.
#[test]
fn a_fifo_as_a_set_file_is_refused_without_blocking() {
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new().file("f", b"content").finish();
    let set = SetFile::plain(1, &tar);
    let out = work.path().join("media");
    let volume = one_volume(&out, std::slice::from_ref(&set));
    let file = volume.join(rescue_core::media::set_file(1, set.compression));
    fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    let run = restore(&out, &work.path().join("t"), &[]);
    assert_refused(&run, "set 1");
}

/// The media of one good set holding `files`, and where its hash list lies.
fn good_media(work: &Path, files: &[(&str, &[u8])]) -> (std::path::PathBuf, SetFile) {
    let mut tar = Tar::new();
    for (path, content) in files {
        tar = tar.file(path, content);
    }
    let set = SetFile::plain(1, &tar.finish());
    let out = work.join("media");
    one_volume(&out, std::slice::from_ref(&set));
    (out, set)
}

#[test]
fn a_damaged_hash_list_fails_the_restore_by_name() {
    type Damage = fn(&[u8]) -> Vec<u8>;
    let damages: [(&str, Damage); 3] = [
        ("truncated", |b| b[..b.len() / 2].to_vec()),
        ("garbage", |b| b.iter().map(|x| x ^ 0x5a).collect()),
        ("empty", |_| Vec::new()),
    ];
    for (what, damage) in damages {
        let work = tempfile::tempdir().unwrap();
        let (out, set) = good_media(work.path(), &[("a", b"alpha"), ("b", b"beta")]);
        let list = out
            .join("rescue-1")
            .join(rescue_core::media::hash_list_file(1));
        fs::write(&list, damage(&set.hash_list)).unwrap();
        let run = restore(&out, &work.path().join("t"), &[]);
        assert_refused(&run, "set 1: its hash list");
        assert!(
            run.stderr().contains("restored unchecked"),
            "{what}: {}",
            run.report()
        );
    }
}

/// Content changed in a set: with the manifest left alone the set's BLAKE3 names it; with
/// the manifest rewritten to match, the file's own hash does.
#[test]
fn tampered_set_content_fails_the_restore_by_name() {
    let work = tempfile::tempdir().unwrap();
    let (out, set) = good_media(work.path(), &[("etc/shadow", b"root:$6$good:::\n")]);
    let file = out
        .join("rescue-1")
        .join(rescue_core::media::set_file(1, set.compression));
    let bytes = fs::read(&file).unwrap();
    let at = bytes.windows(4).position(|w| w == b"good").unwrap();
    let mut evil = bytes.clone();
    evil[at..at + 4].copy_from_slice(b"evil");
    fs::write(&file, &evil).unwrap();
    let run = restore(&out, &work.path().join("t1"), &[]);
    assert_refused(&run, "does not match its manifest");
    assert!(run.stderr().contains("etc/shadow"), "{}", run.report());

    let tampered = SetFile { bytes: evil, ..set };
    write_volume(
        &out,
        1,
        &manifest(1, 1, std::slice::from_ref(&tampered)),
        &[],
    );
    let run = restore(&out, &work.path().join("t2"), &[]);
    assert_refused(&run, "content differs from the backup: etc/shadow");
}

/// The backup's root entry (`.`, mode 7777, owner 1234) leaves an existing target
/// directory's mode and owner alone.
#[test]
fn the_root_entry_leaves_an_existing_target_alone() {
    let work = tempfile::tempdir().unwrap();
    let mut root = EntryMeta::new(".", EntryKind::Dir);
    root.mode = 0o7777;
    root.uid = 1234;
    root.gid = 1234;
    let tar = Tar::new().entry(&root, b"").file("inside", b"x").finish();
    let out = work.path().join("media");
    one_volume(&out, &[SetFile::plain(1, &tar)]);
    let target = work.path().join("t");
    fs::create_dir(&target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o700)).unwrap();
    let before = fs::metadata(&target).unwrap();
    let run = restore(&out, &target, &[]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.report());
    let after = fs::metadata(&target).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o700);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_eq!(fs::read(target.join("inside")).unwrap(), b"x");
}

/// `--no-special` leaves out device nodes, setuid/setgid bits and capabilities;
/// `--no-same-owner` leaves the owners as the restore makes them.
#[test]
fn no_special_and_no_same_owner_take_away_privileges() {
    if !require_root_or_skip() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mut suid = EntryMeta::new(
        "bin/suid",
        EntryKind::File {
            size: 4,
            sparse: None,
        },
    );
    suid.mode = 0o4755;
    suid.uid = 1234;
    suid.gid = 1234;
    suid.xattrs.push((
        b"security.capability".to_vec(),
        // cap_net_raw+ep, as setcap writes it (VFS_CAP_REVISION_2)
        vec![1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ));
    let tar = Tar::new()
        .entry(&EntryMeta::new("bin", EntryKind::Dir), b"")
        .entry(&suid, b"\x7fELF")
        .entry(
            &EntryMeta::new("dev/sda", EntryKind::BlockDevice { major: 8, minor: 0 }),
            b"",
        )
        .finish();
    let out = work.path().join("media");
    one_volume(&out, &[SetFile::plain(1, &tar)]);

    let kept = work.path().join("kept");
    let run = restore(&out, &kept, &[]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.report());
    let m = fs::metadata(kept.join("bin/suid")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid()), (0o4755, 1234));
    assert!(fs::symlink_metadata(kept.join("dev/sda")).is_ok());

    let safe = work.path().join("safe");
    let run = restore(&out, &safe, &["--no-special", "--no-same-owner"]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.report());
    assert!(
        run.stderr().contains("dev/sda: skipped"),
        "{}",
        run.report()
    );
    let m = fs::metadata(safe.join("bin/suid")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o755, 0, 0));
    assert!(fs::symlink_metadata(safe.join("dev/sda")).is_err());
    let caps = rustix::fs::getxattr(
        safe.join("bin/suid"),
        "security.capability",
        &mut [0u8; 64][..],
    );
    assert_eq!(caps, Err(rustix::io::Errno::NODATA), "no capability is set");
}

/// Signed media whose set was altered after signing: with `--trusted-key` nothing of the
/// set is written (it is checked before it is restored), and the restore fails naming it.
#[test]
fn with_a_trusted_key_an_altered_set_is_not_restored_at_all() {
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new().file("etc/shadow", b"root:$6$good:::\n").finish();
    let set = SetFile::plain(1, &tar);
    let mut m = manifest(1, 1, std::slice::from_ref(&set));
    m["version"] = 2.into();
    let mountlist = b"{}";
    m["mountlist_b3"] = blake3::hash(mountlist).to_hex().to_string().into();
    let out = work.path().join("media");
    let vol = write_volume(&out, 1, &m, std::slice::from_ref(&set));
    fs::write(vol.join("rescue/mountlist.json"), mountlist).unwrap();
    let (private, public) = host_tests::openssl_key_pair(work.path(), "key");
    let key = rescue_core::signature::SigningKey::read(&private).unwrap();
    let manifest_path = vol.join("rescue/manifest.json");
    let signature = key.sign(&fs::read(&manifest_path).unwrap());
    fs::write(vol.join("rescue/manifest.sig"), signature).unwrap();
    let set_path = vol.join(rescue_core::media::set_file(1, set.compression));
    let mut bytes = fs::read(&set_path).unwrap();
    let at = bytes.windows(4).position(|w| w == b"good").unwrap();
    bytes[at..at + 4].copy_from_slice(b"evil");
    fs::write(&set_path, bytes).unwrap();
    let target = work.path().join("t");
    let run = restore(&out, &target, &["--trusted-key", public.to_str().unwrap()]);
    assert_refused(&run, "nothing of it is restored");
    assert!(!target.join("etc/shadow").exists(), "{}", run.report());
}

/// A lone volume that says it is volume 10000 of 10000: unattended, the restore waits once
/// for the missing volumes, not once for each of them.
#[test]
fn a_lone_last_volume_of_ten_thousand_does_not_wait_for_each_missing_one() {
    let work = tempfile::tempdir().unwrap();
    let tar = Tar::new().file("f", b"content").finish();
    let sets = [SetFile::plain(1, &tar)];
    let mut m = manifest(10_000, 10_000, &sets);
    m["label"] = rescue_core::media::Manifest::volume_label(hostile::BACKUP_ID, 10_000).into();
    let out = work.path().join("media");
    write_volume(&out, 10_000, &m, &sets);
    let target = work.path().join("t");
    let run = restore(&out, &target, &[]);
    // Its one set is the backup's first, so nothing is lost: the others hold no sets.
    assert_eq!(run.output.status.code(), Some(0), "{}", run.report());
    assert!(run.seconds < 40.0, "{}", run.report());
    assert_eq!(fs::read(target.join("f")).unwrap(), b"content");
}
