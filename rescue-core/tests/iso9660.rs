//! rescue-core's ISO 9660 reader on images made by a writer nobody here wrote:
//! `xorriso -as mkisofs`, with Rock Ridge and without. Files read back byte for byte (one of
//! more than 10 MB), Rock Ridge names in mixed case, with spaces, long enough to need a
//! continuation area, and deep directories; volumes found by `rescue_core::volume`.
//!
//! Set `RESCUE_BIG_ISO_TESTS=1` to also read a file of more than 4 GiB (several extents)
//! from a 4 GiB image.
//!
//! Without xorriso the tests are skipped with a message; with CI=true that is a failure.

use rescue_core::iso9660::Image;
use rescue_core::volume::{find_volumes, VolumeKind};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

fn have_xorriso() -> bool {
    if Command::new("xorriso").arg("-version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI needs xorriso"
    );
    eprintln!("skipped: xorriso is missing");
    false
}

fn mkisofs(tree: &Path, out: &Path, args: &[&str]) {
    let result = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(out)
        .args(args)
        .arg(tree)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "xorriso: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// Pseudo-random bytes that do not repeat in any way a reader could get lucky with.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn read_all(image: &Image, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .open_file(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    out
}

/// A tree with what the reader must get right; returns (ISO path, bytes) of each file.
fn make_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let long_name = format!("{}.txt", "Long-Name_".repeat(24));
    let deep = (0..10).map(|i| format!("Level{i}")).collect::<Vec<_>>();
    let files = vec![
        ("sets/set-00001.tar.zst".to_string(), noise(12_345_679, 7)),
        ("rescue/manifest.json".to_string(), b"{\"x\": 1}\n".to_vec()),
        ("MixedCase.TXT".to_string(), b"Mixed\n".to_vec()),
        (
            "Some Dir/a long Name with spaces.json".to_string(),
            b"spaces\n".to_vec(),
        ),
        (format!("Some Dir/{long_name}"), b"long\n".to_vec()),
        (
            format!("{}/Deep File.txt", deep.join("/")),
            b"deep\n".to_vec(),
        ),
        ("empty".to_string(), Vec::new()),
        ("exactly-one-sector".to_string(), noise(2048, 3)),
    ];
    for (path, bytes) in &files {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    // Many entries, so the root directory spans several sectors.
    fs::create_dir(root.join("many")).unwrap();
    for i in 0..300 {
        fs::write(root.join(format!("many/entry-{i:03}")), format!("{i}\n")).unwrap();
    }
    std::os::unix::fs::symlink("MixedCase.TXT", root.join("a-link")).unwrap();
    files
}

#[test]
fn reads_files_and_rock_ridge_names_from_an_xorriso_image() {
    if !have_xorriso() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let files = make_tree(&tree);
    let iso = dir.path().join("rr.iso");
    mkisofs(&tree, &iso, &["-R", "-V", "RESCUE_ABCD1234_1"]);

    let image = Image::open_path(&iso).unwrap().expect("ISO 9660");
    assert_eq!(image.volume_id(), "RESCUE_ABCD1234_1");
    for (path, want) in &files {
        let got = read_all(&image, path);
        assert!(
            &got == want,
            "{path}: {} bytes read, {} expected",
            got.len(),
            want.len()
        );
        let entry = image.lookup(path).unwrap().unwrap();
        assert!(entry.rock_ridge, "{path}");
        assert_eq!(entry.size, want.len() as u64);
    }
    // Names are exact under Rock Ridge.
    assert!(image.lookup("/mixedcase.txt").unwrap().is_none());
    let top: Vec<String> = image
        .list("/")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    for name in [
        "MixedCase.TXT",
        "Some Dir",
        "Level0",
        "a-link",
        "empty",
        "many",
    ] {
        assert!(top.contains(&name.to_string()), "{name} in {top:?}");
    }
    let link = image.lookup("/a-link").unwrap().unwrap();
    assert!(link.is_symlink(), "{link:?}");
    // In the image's order (by ISO 9660 name), which is not the Rock Ridge names' order.
    let mut many: Vec<String> = image
        .list("/many")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    many.sort();
    let want: Vec<String> = (0..300).map(|i| format!("entry-{i:03}")).collect();
    assert_eq!(many, want);
    assert_eq!(read_all(&image, "/many/entry-123"), b"123\n");
    assert!(image.list("/MixedCase.TXT").is_err());

    // Streams seek and read across any boundary.
    let big = &files[0].1;
    let mut r = image.open_file("/sets/set-00001.tar.zst").unwrap();
    assert_eq!(r.len(), big.len() as u64);
    r.seek(SeekFrom::Start(10_000_000)).unwrap();
    let mut buf = vec![0u8; 5000];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(buf, big[10_000_000..10_005_000]);

    // A second handle of the same image reads on its own.
    let copy = image.clone();
    assert_eq!(read_all(&copy, "rescue/manifest.json"), b"{\"x\": 1}\n");
}

#[test]
fn without_rock_ridge_names_are_iso_9660_names_compared_without_case() {
    if !have_xorriso() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("rescue")).unwrap();
    let big = noise(11 << 20, 9);
    fs::write(tree.join("big.bin"), &big).unwrap();
    fs::write(tree.join("rescue/readme.txt"), b"plain\n").unwrap();
    let iso = dir.path().join("plain.iso");
    // xorriso's mkisofs writes Rock Ridge unless told not to.
    mkisofs(&tree, &iso, &["--norock", "-V", "PLAIN"]);
    let image = Image::open_path(&iso).unwrap().unwrap();
    assert_eq!(image.volume_id(), "PLAIN");
    let entry = image
        .lookup("/big.bin")
        .unwrap()
        .expect("found without case");
    assert!(!entry.rock_ridge);
    assert_eq!(entry.name, "BIG.BIN");
    assert_eq!(read_all(&image, "/BIG.BIN"), big);
    assert_eq!(read_all(&image, "/rescue/readme.txt"), b"plain\n");
}

#[test]
fn volumes_are_found_in_xorriso_images_by_name_and_by_label() {
    if !have_xorriso() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    for (n, file) in [(1, "rescue-1.iso"), (2, "renamed.iso")] {
        let tree = dir.path().join(format!("v{n}"));
        fs::create_dir_all(tree.join("rescue")).unwrap();
        fs::create_dir_all(tree.join("sets")).unwrap();
        let manifest = serde_json::json!({
            "version": 1, "backup_id": "ABCD1234", "label": format!("RESCUE_ABCD1234_{n}"),
            "volume": n, "volumes": if n == 2 { 2 } else { 0 }, "created": 1,
            "tool_version": "0.1.0", "hostname": "h", "kernel_release": "6.1",
            "sets": [], "compression": "zstd"
        });
        fs::write(
            tree.join("rescue/manifest.json"),
            serde_json::to_vec_pretty(&manifest).unwrap(),
        )
        .unwrap();
        fs::write(
            tree.join(format!("sets/set-0000{n}.tar.zst")),
            format!("set {n}"),
        )
        .unwrap();
        mkisofs(
            &tree,
            &out.join(file),
            &["-R", "-V", &format!("RESCUE_ABCD1234_{n}")],
        );
    }
    // Not a volume: ignored, as is a partial image being written.
    mkisofs(
        &dir.path().join("v1/sets"),
        &out.join("other.iso"),
        &["-V", "OTHER"],
    );
    fs::write(out.join(".rescue-3.iso.partial"), b"").unwrap();

    let volumes = find_volumes(&out).unwrap();
    let found: Vec<(u32, PathBuf, VolumeKind)> = volumes
        .iter()
        .map(|v| (v.manifest().volume, v.path().to_path_buf(), v.kind()))
        .collect();
    assert_eq!(
        found,
        [
            (1, out.join("rescue-1.iso"), VolumeKind::Iso),
            (2, out.join("renamed.iso"), VolumeKind::Iso)
        ]
    );
    assert_eq!(volumes[1].iso_label(), Some("RESCUE_ABCD1234_2"));
    let mut text = String::new();
    volumes[1]
        .open_file("sets/set-00002.tar.zst")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "set 2");
    assert_eq!(volumes[0].file_len("/sets/set-00001.tar.zst").unwrap(), 5);
    assert!(volumes[0]
        .display_file("sets/set-00001.tar.zst")
        .ends_with("rescue-1.iso:/sets/set-00001.tar.zst"));
}

/// A file of more than 4 GiB: ISO 9660 level 3 stores it as several extents.
#[test]
fn a_file_over_4_gib_reads_across_its_extents() {
    if std::env::var("RESCUE_BIG_ISO_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set RESCUE_BIG_ISO_TESTS=1 to write and read a 4 GiB image");
        return;
    }
    if !have_xorriso() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir(&tree).unwrap();
    let size: u64 = (4 << 30) + 12_345;
    // Sparse, with marks at the start, around the 4 GiB extent boundary and at the end.
    let marks: Vec<(u64, Vec<u8>)> = vec![
        (0, noise(4096, 1)),
        ((4 << 30) - 4096, noise(8192, 2)),
        (size - 1000, noise(1000, 3)),
    ];
    {
        let mut f = fs::File::create(tree.join("Big File.img")).unwrap();
        f.set_len(size).unwrap();
        for (at, bytes) in &marks {
            f.seek(SeekFrom::Start(*at)).unwrap();
            f.write_all(bytes).unwrap();
        }
    }
    let iso = dir.path().join("big.iso");
    mkisofs(&tree, &iso, &["-R", "-iso-level", "3", "-V", "BIG"]);
    let image = Image::open_path(&iso).unwrap().unwrap();
    let entry = image.lookup("/Big File.img").unwrap().unwrap();
    assert!(entry.extents.len() >= 2, "{:?}", entry.extents);
    assert_eq!(entry.size, size);
    let mut want = blake3::Hasher::new();
    let mut reference = fs::File::open(tree.join("Big File.img")).unwrap();
    let mut got = blake3::Hasher::new();
    let mut r = image.reader(&entry).unwrap();
    let mut a = vec![0u8; 1 << 20];
    let mut b = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut a).unwrap();
        if n == 0 {
            break;
        }
        reference.read_exact(&mut b[..n]).unwrap();
        got.update(&a[..n]);
        want.update(&b[..n]);
        total += n as u64;
    }
    assert_eq!(total, size);
    assert_eq!(got.finalize(), want.finalize());
    for (at, bytes) in &marks {
        r.seek(SeekFrom::Start(*at)).unwrap();
        let mut buf = vec![0u8; bytes.len()];
        r.read_exact(&mut buf).unwrap();
        assert!(&buf == bytes, "mark at {at}");
    }
}
