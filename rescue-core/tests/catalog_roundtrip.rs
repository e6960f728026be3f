//! The catalog and hash lists at scale, through files, and judged by the real `zstd`.
//!
//! Records are made from their index, so nothing here holds the whole catalog either:
//! the reader's records are checked against a record made again.

use rescue_core::catalog::{
    join, Blake3Writer, CatalogKind, CatalogReader, CatalogRecord, CatalogWriter, HashListReader,
    HashListWriter, HashRecord,
};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::Path;
use std::process::{Command, Stdio};

const RECORDS: u64 = 200_000;
/// Every 11000th record is a file sliced over 3 sets; records go 500 to a set.
const FILES_PER_SET: u64 = 500;

fn name(i: u64) -> Vec<u8> {
    match i % 7 {
        0 => format!("home/ann/notes-{i}.txt").into_bytes(),
        1 => format!("srv/two\nlines-{i}").into_bytes(),
        2 => {
            let mut n = format!("var/latin1-{i}-caf").into_bytes();
            n.push(0xe9);
            n
        }
        3 => {
            let mut n = format!("usr/share/long-{i}/").into_bytes();
            n.extend(std::iter::repeat_n(b'x', 250));
            if i % 70 == 3 {
                // Near PATH_MAX, now and then.
                n.extend(b"/");
                n.extend(std::iter::repeat_n(b'y', 3800));
            }
            n
        }
        4 => format!("etc/quote\"back\\slash tab\t{i} \u{1F600}").into_bytes(),
        5 => format!("opt/ctl\u{1}\u{7f}-{i}").into_bytes(),
        _ => format!("d{}/f{i}", i % 100).into_bytes(),
    }
}

fn kind(i: u64) -> CatalogKind {
    match i % 11 {
        1 => CatalogKind::Dir,
        2 => CatalogKind::Symlink {
            target: if i.is_multiple_of(2) {
                format!("../target-{i}").into_bytes()
            } else {
                vec![b'/', 0xff, 0xfe, b'a']
            },
        },
        3 if i > 10 => CatalogKind::HardLink { link: i - 3 },
        4 => CatalogKind::Char {
            major: (i % 256) as u32,
            minor: (i % 1000) as u32,
        },
        5 => CatalogKind::Block {
            major: 8,
            minor: (i % 16) as u32,
        },
        6 => CatalogKind::Fifo,
        _ => CatalogKind::File,
    }
}

/// Multiples of 11000: files (see `kind`) that start a set of 500.
fn is_sliced(i: u64) -> bool {
    i.is_multiple_of(11_000)
}

/// The set a record's entry starts in. Sets hold 500 records each; a sliced file starts
/// a set and takes two more, so every later record is two sets further.
fn set_of(i: u64) -> u32 {
    let sliced_before = i.div_ceil(11_000);
    (i / FILES_PER_SET + 1 + 2 * sliced_before) as u32
}

fn record(i: u64) -> CatalogRecord {
    let kind = kind(i);
    CatalogRecord {
        index: i,
        path: name(i),
        mode: [0o644, 0o755, 0o4755, 0o1777, 0o600][(i % 5) as usize],
        uid: (i % 70_000) as u32,
        gid: u32::MAX - (i % 3) as u32,
        user: (!i.is_multiple_of(3)).then(|| format!("user{}", i % 10)),
        group: (!i.is_multiple_of(5)).then(|| "grp ü".to_string()),
        mtime: (
            (i as i64) * 1_000 - 86_400 * 365 * 60,
            (i * 7919 % 1_000_000_000) as u32,
        ),
        size: if kind == CatalogKind::File { i * 13 } else { 0 },
        set: set_of(i),
        slices: if is_sliced(i) { 3 } else { 1 },
        kind,
    }
}

fn hash_of(i: u64, slice: u32) -> HashRecord {
    let mut b3 = [0u8; 32];
    b3[..8].copy_from_slice(&i.to_le_bytes());
    b3[8..12].copy_from_slice(&slice.to_le_bytes());
    HashRecord {
        index: i,
        b3,
        size: i * 13 / 3,
        changed: i.is_multiple_of(97),
        error: (i.is_multiple_of(1013)).then(|| format!("cannot read file {i}: Permission denied")),
    }
}

fn write_catalog(path: &Path) -> u64 {
    let out = Blake3Writer::new(BufWriter::new(File::create(path).unwrap()));
    let mut w = CatalogWriter::new(out).unwrap();
    for i in 0..RECORDS {
        w.write(&record(i)).unwrap();
    }
    assert_eq!(w.records(), RECORDS);
    let (file, bytes, b3) = w.finish().unwrap().finish();
    drop(file);
    assert_eq!(
        b3,
        *blake3::hash(&std::fs::read(path).unwrap()).as_bytes(),
        "Blake3Writer hashes the file as written"
    );
    bytes
}

/// Writes the hash lists, one per set, as a set writer would: record by record.
fn write_hash_lists(dir: &Path) -> u32 {
    let mut current: Option<(u32, HashListWriter<BufWriter<File>>)> = None;
    let mut put = |set: u32, h: HashRecord| {
        if current.as_ref().map(|(s, _)| *s) != Some(set) {
            if let Some((_, w)) = current.take() {
                w.finish().unwrap();
            }
            let file = File::create(dir.join(format!("set-{set:05}.b3"))).unwrap();
            current = Some((set, HashListWriter::new(BufWriter::new(file)).unwrap()));
        }
        current.as_mut().unwrap().1.write(&h).unwrap();
    };
    let mut last_set = 0;
    for i in 0..RECORDS {
        let r = record(i);
        for slice in 0..r.expected_hashes() as u32 {
            put(r.set + slice, hash_of(i, slice));
        }
        last_set = last_set.max(r.set + r.slices - 1);
    }
    if let Some((_, w)) = current.take() {
        w.finish().unwrap();
    }
    last_set
}

#[test]
fn two_hundred_thousand_records_stream_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.zst");
    let bytes = write_catalog(&catalog);
    assert_eq!(bytes, std::fs::metadata(&catalog).unwrap().len());

    let mut reader = CatalogReader::new(File::open(&catalog).unwrap()).unwrap();
    let mut n = 0;
    for (i, item) in reader.by_ref().enumerate() {
        let got = item.unwrap_or_else(|e| panic!("record {i}: {e}"));
        assert_eq!(got, record(i as u64));
        n += 1;
    }
    assert_eq!(n, RECORDS);
    assert_eq!(reader.line(), RECORDS);

    // Joined with the hash lists of every set, opened one at a time.
    let last_set = write_hash_lists(dir.path());
    let lists = (1..=last_set).flat_map(|set| {
        let file = File::open(dir.path().join(format!("set-{set:05}.b3"))).unwrap();
        HashListReader::new(file).unwrap()
    });
    let catalog_again = CatalogReader::new(File::open(&catalog).unwrap()).unwrap();
    let mut joined = 0;
    let mut sliced = 0;
    for item in join(catalog_again, lists) {
        let j = item.unwrap();
        assert!(j.complete(), "{:?}", j.record.index);
        let i = j.record.index;
        let want: Vec<_> = (0..j.record.expected_hashes() as u32)
            .map(|s| hash_of(i, s))
            .collect();
        assert_eq!(j.hashes, want);
        if j.record.slices > 1 {
            sliced += 1;
            assert_eq!(j.hash(), None);
        }
        joined += 1;
    }
    assert_eq!(joined, RECORDS);
    assert!(sliced > 10, "{sliced}");
}

/// `zstd` when it is here; a skip (a failure under CI=true) when not.
fn zstd_tool() -> Option<&'static str> {
    let found = Command::new("zstd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some("zstd");
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("zstd is not installed: CI must have it (scripts/setup installs it)");
    }
    eprintln!("SKIP: zstd is not installed; the catalog is not checked with the real tool");
    None
}

/// Every line `zstd -dc` prints is one JSON object; returns the count and the first.
fn decompress_with_zstd(path: &Path) -> (u64, Vec<serde_json::Value>) {
    let mut child = Command::new("zstd")
        .arg("-dc")
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut count = 0;
    let mut first = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).split(b'\n') {
        let line = line.unwrap();
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "line {}: {e}: {}",
                count + 1,
                String::from_utf8_lossy(&line)
            )
        });
        assert!(value.is_object());
        if first.len() < 10 {
            first.push(value);
        }
        count += 1;
    }
    assert!(child.wait().unwrap().success());
    (count, first)
}

#[test]
fn the_real_zstd_reads_the_catalog_and_hash_lists() {
    let Some(zstd) = zstd_tool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.zst");
    write_catalog(&catalog);

    let test = Command::new(zstd)
        .arg("-tq")
        .arg(&catalog)
        .status()
        .unwrap();
    assert!(test.success(), "zstd -t finds the catalog damaged");

    let (count, first) = decompress_with_zstd(&catalog);
    assert_eq!(count, RECORDS);
    assert_eq!(first[0]["i"], 0);
    assert_eq!(first[0]["path"], "home/ann/notes-0.txt");
    assert_eq!(first[0]["type"], "file");
    assert_eq!(first[1]["path"], "srv/two\nlines-1");
    assert_eq!(first[1]["type"], "dir");
    assert_eq!(first[2]["path_hex"], "7661722f6c6174696e312d322d636166e9");
    assert!(first[2].get("path").is_none());
    assert_eq!(first[2]["type"], "symlink");
    assert_eq!(first[2]["target"], "../target-2");
    assert_eq!(first[4]["rdev"], serde_json::json!([4, 4]));
    assert_eq!(first[4]["mtime"][1], 4 * 7919);

    let last_set = write_hash_lists(dir.path());
    // Set 1 and 2 hold only slices of record 0; set 3 its last slice and more.
    let list = dir.path().join("set-00003.b3");
    let (count, first) = decompress_with_zstd(&list);
    assert!(count > 100 && count <= FILES_PER_SET, "{count}");
    assert_eq!(first[0]["i"], 0);
    assert_eq!(first[0]["b3"].as_str().unwrap().len(), 64);
    assert_eq!(first[0]["changed"], true);
    let list = dir.path().join(format!("set-{last_set:05}.b3"));
    assert!(Command::new(zstd)
        .arg("-tq")
        .arg(&list)
        .status()
        .unwrap()
        .success());
}
