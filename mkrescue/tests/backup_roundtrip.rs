//! A backup of the corpus, extracted again, is the corpus: by our reader and extractor,
//! and by GNU tar with zstd, set by set.

use mkrescue::backup::{self, select::Rules, BackupOptions, SetReady};
use rescue_core::archive::{Extractor, TarReader};
use rescue_core::catalog::{join, CatalogKind, CatalogReader, HashListReader};
use rescue_core::media::Compression;
use std::collections::HashSet;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn tools(names: &[&str]) -> bool {
    let missing: Vec<_> = names
        .iter()
        .filter(|n| Command::new(n).arg("--version").output().is_err())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI needs {missing:?}"
    );
    eprintln!("skipped: {missing:?} missing");
    false
}

struct Made {
    _dir: tempfile::TempDir,
    source: std::path::PathBuf,
    scratch: std::path::PathBuf,
    sets: Vec<SetReady>,
    summary: backup::BackupSummary,
}

fn backup_corpus(compression: Compression, set_size: u64, big: Option<u64>) -> Made {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    fs::create_dir(&source).unwrap();
    corpus::generate(
        &source,
        &corpus::Options {
            bulk_bytes: 3 << 20,
            big_file: big,
            seed: 7,
        },
    )
    .unwrap();
    let scratch = dir.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let opts = BackupOptions {
        root: source.clone(),
        rules: Rules::default(),
        devices: HashSet::from([fs::metadata(&source).unwrap().dev()]),
        skip: vec![scratch.clone()],
        sources: Vec::new(),
        set_size,
        compression,
        level: 3,
        workers: 2,
    };
    let mut sets = Vec::new();
    let summary = backup::run(&opts, &scratch, &mut |s| {
        sets.push(s);
        Ok(())
    })
    .unwrap();
    Made {
        _dir: dir,
        source,
        scratch,
        sets,
        summary,
    }
}

fn decompressed(path: &Path) -> Box<dyn std::io::Read> {
    let file = File::open(path).unwrap();
    match path.extension().and_then(|e| e.to_str()) {
        Some("zst") => Box::new(zstd::stream::read::Decoder::new(file).unwrap()),
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(file)),
        _ => Box::new(file),
    }
}

fn extract_all(made: &Made, target: &Path) {
    fs::create_dir_all(target).unwrap();
    let mut x = Extractor::new(target).unwrap();
    for s in &made.sets {
        let mut reader = TarReader::new(decompressed(&s.set.path));
        while let Some((meta, mut data)) = reader.next_entry().unwrap() {
            x.extract(&meta, &mut data)
                .unwrap_or_else(|e| panic!("extracting {}: {e}", meta.display_path()));
        }
    }
    let errors = x.finish();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn zstd_sets_restore_the_corpus_exactly() {
    if !tools(&["zstd"]) {
        return;
    }
    let made = backup_corpus(Compression::Zstd, 1 << 20, Some(3 << 20));
    assert!(made.sets.len() > 3, "a small set size makes many sets");
    assert_eq!(
        made.sets.iter().map(|s| s.set.number).collect::<Vec<_>>(),
        (1..=made.sets.len() as u32).collect::<Vec<_>>()
    );
    assert!(
        made.summary.store.changed.is_empty(),
        "{:?}",
        made.summary.store.changed
    );
    let target = made.scratch.join("restored");
    extract_all(&made, &target);
    let diffs = corpus::compare(&made.source, &target).unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn the_catalog_and_hash_lists_describe_every_file() {
    let made = backup_corpus(Compression::Zstd, 1 << 20, Some(3 << 20));
    let catalog = CatalogReader::new(File::open(&made.summary.catalog).unwrap()).unwrap();
    let hashes = made
        .sets
        .iter()
        .flat_map(|s| HashListReader::new(File::open(&s.hashes).unwrap()).unwrap());
    let mut files = 0;
    let mut sliced = 0;
    for joined in join(catalog, hashes) {
        let j = joined.unwrap();
        if j.record.kind != CatalogKind::File {
            continue;
        }
        files += 1;
        assert!(j.complete(), "{:?}", j.record.path);
        if j.record.slices > 1 {
            sliced += 1;
            continue;
        }
        let path = made
            .source
            .join(std::ffi::OsStr::from_bytes(&j.record.path));
        let expect = blake3::hash(&fs::read(&path).unwrap());
        assert_eq!(
            j.hash().unwrap().b3,
            *expect.as_bytes(),
            "{}",
            path.display()
        );
    }
    assert_eq!(files, made.summary.plan.files);
    assert_eq!(sliced, 1, "the big file is sliced");
}

use std::os::unix::ffi::OsStrExt;

#[test]
fn gnu_tar_lists_and_extracts_every_set() {
    if !tools(&["tar", "zstd"]) {
        return;
    }
    let made = backup_corpus(Compression::Zstd, 1 << 20, None);
    let target = made.scratch.join("gnu");
    fs::create_dir(&target).unwrap();
    for s in &made.sets {
        let list = Command::new("tar")
            .args(["--zstd", "--warning=no-unknown-keyword", "-tvf"])
            .arg(&s.set.path)
            .output()
            .unwrap();
        assert!(
            list.status.success(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let mut x = Command::new("tar");
        x.args(["--zstd", "--warning=no-unknown-keyword", "-xpf"])
            .arg(&s.set.path)
            .args(["--xattrs", "--xattrs-include=*", "--acls", "-C"])
            .arg(&target);
        if is_root() {
            x.arg("--same-owner");
        }
        let out = x.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let diffs = corpus::compare(&made.source, &target).unwrap();
    // GNU tar sets a directory's time when it leaves it, but a later set may add to the
    // directory again; everything else must be exact.
    let real: Vec<_> = diffs
        .iter()
        .filter(|d| !(d.what.contains("kind: \"dir\"") && d.what.contains("mtime")))
        .collect();
    assert!(real.is_empty(), "{real:#?}");
}

#[test]
fn gzip_and_uncompressed_sets_round_trip_too() {
    for compression in [Compression::Gzip, Compression::None] {
        let made = backup_corpus(compression, 4 << 20, None);
        let target = made.scratch.join("restored");
        extract_all(&made, &target);
        let diffs = corpus::compare(&made.source, &target).unwrap();
        assert!(diffs.is_empty(), "{compression:?}: {diffs:#?}");
    }
}
