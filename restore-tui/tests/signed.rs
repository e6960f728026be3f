//! `--trusted-key` in every mode that reads media from the command line (a file restore
//! with `--target`, a nuke dry run, compare), without root: volume directories laid out as
//! `mkrescue create --output-format dir` lays them out (a current manifest covering the
//! mountlist, no sets), signed by OpenSSL. Signed media are accepted; a changed manifest,
//! a missing signature and another key's are refused, naming the volume. And a directory
//! volume whose set file is a FIFO is refused at once, not waited on.

use host_tests::openssl_key_pair;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One whole-disk ext4, enough for a nuke to plan.
const MOUNTLIST: &str = r#"{
  "version": 1,
  "host": {"hostname": "db1", "root": "/", "kernel_release": "6.1.0", "captured_at": 0},
  "boot": {"mode": "bios"},
  "disks": [{
    "path": "/dev/vdzy", "sectors": 2097152, "logical_sector_size": 512,
    "physical_sector_size": 512, "table": {"type": "none"},
    "filesystem": {"type": "ext4", "uuid": "0a0b0c0d-0000-4000-8000-000000000001",
                   "mount_point": "/", "used_bytes": 1048576}
  }]
}"#;

/// BLAKE3 as manifests hold it: 64 lower-case hex digits.
fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Volume 1 of 1 at `dir/rescue-1`, with `sets` (JSON) listed.
fn volume(dir: &Path, sets: &str) -> PathBuf {
    let vol = dir.join("rescue-1");
    fs::create_dir_all(vol.join("rescue")).unwrap();
    fs::create_dir_all(vol.join("sets")).unwrap();
    fs::write(vol.join("rescue/mountlist.json"), MOUNTLIST).unwrap();
    let manifest = format!(
        r#"{{"version": 2, "backup_id": "1A2B3C4D", "label": "RESCUE_1A2B3C4D_1",
            "volume": 1, "volumes": 1, "created": 0, "tool_version": "0.1.0",
            "hostname": "db1", "kernel_release": "6.1.0", "sets": {sets},
            "compression": "zstd", "mountlist_b3": "{}"}}"#,
        b3(MOUNTLIST.as_bytes())
    );
    fs::write(vol.join("rescue/manifest.json"), manifest).unwrap();
    vol
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Signs the volume's manifest as `mkrescue create --sign` does, with OpenSSL.
fn sign(vol: &Path, key: &Path) {
    let rescue = vol.join("rescue");
    openssl(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        key.to_str().unwrap(),
        "-rawin",
        "-in",
        rescue.join("manifest.json").to_str().unwrap(),
        "-out",
        rescue.join("manifest.sig").to_str().unwrap(),
    ]);
}

fn restore_tui(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Each mode that reads the media, with `--trusted-key PUB`, on `vol`.
fn every_mode(vol: &Path, public: &Path, work: &Path) -> Vec<(&'static str, Output)> {
    let (vol, public) = (vol.to_str().unwrap(), public.to_str().unwrap());
    let target = work.join("target");
    let compared = work.join("compared");
    fs::create_dir_all(&compared).unwrap();
    let root = work.join("mnt");
    let target = target.to_str().unwrap();
    vec![
        (
            "files",
            restore_tui(&[
                "--media",
                vol,
                "--target",
                target,
                "--yes",
                "--trusted-key",
                public,
            ]),
        ),
        (
            "nuke",
            restore_tui(&[
                "--mode",
                "nuke",
                "--media",
                vol,
                "--disk-map",
                "vdzy=vdzx:2g",
                "--target-root",
                root.to_str().unwrap(),
                "--dry-run",
                "--trusted-key",
                public,
            ]),
        ),
        (
            "compare",
            restore_tui(&[
                "--mode",
                "compare",
                "--media",
                vol,
                "--target",
                compared.to_str().unwrap(),
                "--trusted-key",
                public,
            ]),
        ),
    ]
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn signed_media_are_accepted_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = openssl_key_pair(dir.path(), "key");
    let vol = volume(dir.path(), "[]");
    sign(&vol, &key);
    for (mode, out) in every_mode(&vol, &public, dir.path()) {
        let text = text(&out);
        assert!(!text.contains("refused"), "{mode}: {text}");
        assert!(text.contains("backup 1A2B3C4D of db1"), "{mode}: {text}");
        // Compare needs a catalog, which media without sets lack: it says so.
        if mode != "compare" {
            assert_eq!(out.status.code(), Some(0), "{mode}: {text}");
        }
    }
}

/// Every mode refuses the volume, naming it and saying why.
fn assert_refused(vol: &Path, public: &Path, work: &Path, why: &str) {
    for (mode, out) in every_mode(vol, public, work) {
        let text = text(&out);
        assert_eq!(out.status.code(), Some(1), "{mode}: {text}");
        let want = format!("{}: refused: {why}", vol.display());
        assert!(text.contains(&want), "{mode}: no {want:?} in {text}");
        assert!(!text.contains("would run"), "{mode}: {text}");
    }
}

#[test]
fn a_changed_manifest_a_missing_signature_and_another_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = openssl_key_pair(dir.path(), "key");
    let (_, other) = openssl_key_pair(dir.path(), "other");
    let vol = volume(dir.path(), "[]");

    assert_refused(
        &vol,
        &public,
        dir.path(),
        "its manifest is not signed (no /rescue/manifest.sig)",
    );

    sign(&vol, &key);
    assert_refused(
        &vol,
        &other,
        dir.path(),
        "/rescue/manifest.sig: the signature does not verify with the trusted key",
    );

    // One byte changed: still a manifest restore-tui reads without a key.
    let manifest = vol.join("rescue/manifest.json");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, text.replace("\"db1\"", "\"db2\"")).unwrap();
    assert_refused(
        &vol,
        &public,
        dir.path(),
        "/rescue/manifest.sig: the signature does not verify with the trusted key",
    );
    // Without a key it is read as before.
    let out = restore_files(&vol, &dir.path().join("unsigned-ok"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", self::text(&out));
}

/// `restore-tui --media VOL --target TARGET --yes EXTRA...`.
fn restore_files(vol: &Path, target: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--media",
        vol.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
        "--yes",
    ];
    args.extend_from_slice(extra);
    restore_tui(&args)
}

#[test]
fn a_trusted_key_that_is_a_private_key_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = openssl_key_pair(dir.path(), "key");
    let vol = volume(dir.path(), "[]");
    let trusted = ["--trusted-key", key.to_str().unwrap()];
    let out = restore_files(&vol, &dir.path().join("t"), &trusted);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error: --trusted-key: "), "{text}");
    assert!(text.contains("this is a private key"), "{text}");
    assert!(!text.contains("PRIVATE KEY-----"), "{text}");
    let secret = fs::read_to_string(&key).unwrap();
    let body = secret.lines().nth(1).unwrap();
    assert!(!text.contains(body), "{text}");
}

#[test]
fn a_fifo_as_a_set_file_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let hex = "a".repeat(64);
    let sets = format!(
        r#"[{{"number": 1, "file": "sets/set-00001.tar.zst", "bytes": 4096,
             "tar_bytes": 10240, "entries": 1, "b3": "{hex}",
             "hashes": "sets/set-00001.hashes.zst", "hashes_b3": "{hex}"}}]"#
    );
    let vol = volume(dir.path(), &sets);
    let fifo = vol.join("sets/set-00001.tar.zst");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    fs::write(vol.join("sets/set-00001.hashes.zst"), b"").unwrap();
    let target = dir.path().join("target");
    let mut child = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .args(["--media", vol.to_str().unwrap()])
        .args(["--target", target.to_str().unwrap(), "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the restore blocked on the FIFO");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "{} is a FIFO, not a regular file: refused without opening it",
            fifo.display()
        )),
        "{text}"
    );
}
