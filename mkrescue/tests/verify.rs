//! `mkrescue verify` on media built here from a real backup of the corpus: volume
//! directories laid out by hand as `mkrescue create --output-format dir` lays them out, and
//! an ISO written with the project's writer. Clean media verify; a flipped byte, a
//! truncated set, a deleted hash list and a missing volume are each named with the files
//! they cost; `--against` finds a changed, a deleted and a new file in the live tree.

use host_tests::openssl_key_pair;
use mkrescue::backup::{self, select::Rules, BackupOptions, SetReady};
use mkrescue::iso::{self, IsoSource, IsoSpec};
use mkrescue::volume_writer::set_info;
use rescue_core::catalog::{CatalogKind, CatalogReader, CatalogRecord};
use rescue_core::iso9660::Image;
use rescue_core::media::{self, Compression, Manifest, MANIFEST_VERSION};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BACKUP_ID: &str = "1A2B3C4D";

struct Backup {
    dir: tempfile::TempDir,
    source: PathBuf,
    catalog: PathBuf,
    sets: Vec<SetReady>,
    compression: Compression,
}

/// A backup of a small corpus into 1 MiB sets (a 3 MiB file sliced over several).
fn backup(compression: Compression) -> Backup {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    fs::create_dir(&source).unwrap();
    corpus::generate(
        &source,
        &corpus::Options {
            bulk_bytes: 3 << 20,
            big_file: Some(3 << 20),
            seed: 11,
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
        set_size: 1 << 20,
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
    assert!(sets.len() >= 6, "{} sets", sets.len());
    Backup {
        dir,
        source,
        catalog: summary.catalog,
        sets,
        compression,
    }
}

fn manifest(b: &Backup, volume: u32, volumes: u32, sets: &[SetReady]) -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        backup_id: BACKUP_ID.into(),
        label: format!("RESCUE_{BACKUP_ID}_{volume}"),
        volume,
        volumes,
        created: 1_763_700_000,
        tool_version: "0.1.0".into(),
        hostname: "corpus-host".into(),
        kernel_release: "6.1.0-test".into(),
        sets: sets.iter().map(|s| set_info(s, b.compression)).collect(),
        compression: b.compression,
        mountlist_b3: (volume == 1).then(|| blake3::hash(MOUNTLIST).to_hex().to_string()),
        catalog_b3: (volume == 1).then(|| {
            blake3::hash(&fs::read(&b.catalog).unwrap())
                .to_hex()
                .to_string()
        }),
    }
}

/// Volume 1's mountlist: only its bytes matter here.
const MOUNTLIST: &[u8] = b"{\"version\": 1}\n";

/// The files of volume `n` of `count` holding `sets`: (path on the volume, source).
fn volume_files(b: &Backup, n: u32, count: u32, sets: &[SetReady]) -> Vec<(String, IsoSource)> {
    // Volumes before the last do not know the count yet, as mkrescue writes them.
    let volumes = if n == count { count } else { 0 };
    let m = manifest(b, n, volumes, sets);
    let mut files = vec![(
        media::MANIFEST_PATH.to_string(),
        IsoSource::Bytes(serde_json::to_vec_pretty(&m).unwrap()),
    )];
    if n == 1 {
        files.push((
            media::CATALOG_PATH.to_string(),
            IsoSource::Host(b.catalog.clone()),
        ));
        files.push((
            media::MOUNTLIST_PATH.to_string(),
            IsoSource::Bytes(MOUNTLIST.to_vec()),
        ));
    }
    for s in sets {
        files.push((
            format!("/{}", media::set_file(s.set.number, b.compression)),
            IsoSource::Host(s.set.path.clone()),
        ));
        files.push((
            format!("/{}", media::hash_list_file(s.set.number)),
            IsoSource::Host(s.hashes.clone()),
        ));
    }
    files
}

/// The sets split into `parts` volumes of about equal numbers of sets.
fn split(b: &Backup, parts: usize) -> Vec<&[SetReady]> {
    let per = b.sets.len().div_ceil(parts);
    b.sets.chunks(per).collect()
}

/// Lays the backup out as volume directories `out/rescue-N/`.
fn volume_dirs(b: &Backup, parts: usize) -> PathBuf {
    let out = b.dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let chunks = split(b, parts);
    let count = chunks.len() as u32;
    for (i, sets) in chunks.into_iter().enumerate() {
        let n = i as u32 + 1;
        let dir = out.join(format!("rescue-{n}"));
        for (path, source) in volume_files(b, n, count, sets) {
            let dest = dir.join(path.trim_start_matches('/'));
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            match source {
                IsoSource::Host(p) => {
                    fs::copy(p, &dest).unwrap();
                }
                IsoSource::Bytes(bytes) => fs::write(&dest, bytes).unwrap(),
            }
        }
    }
    out
}

/// Writes the whole backup as one ISO volume, `out/rescue-1.iso`.
fn one_iso(b: &Backup) -> PathBuf {
    let out = b.dir.path().join("iso-out");
    fs::create_dir_all(&out).unwrap();
    let spec = IsoSpec {
        volume_id: format!("RESCUE_{BACKUP_ID}_1"),
        files: volume_files(b, 1, 1, &b.sets),
        bios: None,
        uefi: None,
        hybrid: false,
        publisher: "MKRESCUE TEST".into(),
        mtime: 1_763_700_000,
    };
    iso::write_iso(&spec, &out.join("rescue-1.iso")).unwrap();
    out
}

fn mkrescue(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mkrescue"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `mkrescue verify --media PATH --json EXTRA...`: the exit code and the report.
fn verify_json(media: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", "--media", media.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = mkrescue(&args);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {stdout:?}, stderr {stderr:?}"));
    (code, report)
}

fn verify_text(media: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify", "--media", media.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = mkrescue(&args);
    assert!(stderr.is_empty(), "{stderr}");
    (code, stdout)
}

fn problems(report: &Value) -> &Vec<Value> {
    report["problems"].as_array().unwrap()
}

fn problem_kinds(report: &Value) -> Vec<(String, Option<u64>)> {
    problems(report)
        .iter()
        .map(|p| (p["kind"].as_str().unwrap().to_string(), p["set"].as_u64()))
        .collect()
}

fn paths_of(list: &Value) -> Vec<String> {
    list["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

fn catalog(b: &Backup) -> Vec<CatalogRecord> {
    CatalogReader::new(File::open(&b.catalog).unwrap())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The paths of the catalog records set `n` holds (a piece of), in order.
fn paths_in_set(b: &Backup, n: u32) -> Vec<String> {
    catalog(b)
        .into_iter()
        .filter(|r| r.sets().contains(&n))
        .map(|r| String::from_utf8(r.path).unwrap_or_else(|e| format!("{:?}", e.into_bytes())))
        .collect()
}

/// Regular-file entries the sets hold: one per file, one per slice of a sliced one.
fn file_entries(b: &Backup) -> u64 {
    catalog(b)
        .iter()
        .filter(|r| r.kind == CatalogKind::File)
        .map(|r| u64::from(r.slices))
        .sum()
}

fn set_path(vol: &Path, n: u32, c: Compression) -> PathBuf {
    vol.join(media::set_file(n, c))
}

/// The volume directory that holds set `n`.
fn volume_of(out: &Path, n: u32, c: Compression) -> PathBuf {
    (1..10)
        .map(|v| out.join(format!("rescue-{v}")))
        .find(|d| set_path(d, n, c).exists())
        .unwrap_or_else(|| panic!("no volume holds set {n}"))
}

fn assert_clean(code: i32, report: &Value) {
    assert!(problems(report).is_empty(), "{report:#}");
    assert_eq!(report["clean"], true, "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn clean_volume_directories_verify() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let (code, report) = verify_json(&out, &[]);
    assert_clean(code, &report);
    assert_eq!(report["backup_id"], BACKUP_ID);
    assert_eq!(report["volumes"]["expected"], 3);
    assert_eq!(report["volumes"]["found"].as_array().unwrap().len(), 3);
    assert_eq!(report["sets"]["listed"], b.sets.len() as u64);
    assert_eq!(report["sets"]["good"], b.sets.len() as u64);
    assert_eq!(report["files"], file_entries(&b));
    let set_bytes: u64 = b.sets.iter().map(|s| s.set.bytes).sum();
    assert_eq!(report["set_bytes"], set_bytes);
    assert!(
        report["warnings"].as_array().unwrap().is_empty(),
        "{report:#}"
    );

    let (code, text) = verify_text(&out, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("backup 1A2B3C4D of corpus-host, 3 volumes"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "summary: 3 of 3 volumes, {n} sets ({n} good)",
            n = b.sets.len()
        )),
        "{text}"
    );
    assert!(text.trim_end().ends_with("checked: no problems"), "{text}");

    // One volume directory alone verifies what it holds, and says the others are missing.
    let (code, report) = verify_json(&out.join("rescue-3"), &[]);
    assert_eq!(code, 1);
    let missing: Vec<_> = problems(&report)
        .iter()
        .filter(|p| p["kind"] == "volume_missing")
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 2, "{report:#}");
    assert!(
        missing[0].starts_with("volume 1 of 3 is missing (only "),
        "{missing:?}"
    );
    assert!(
        report["sets"]["bad"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
}

#[test]
fn a_single_iso_verifies_given_as_the_image_or_its_directory() {
    let b = backup(Compression::Zstd);
    let out = one_iso(&b);
    let image = out.join("rescue-1.iso");
    for media in [&image, &out] {
        let (code, report) = verify_json(media, &[]);
        assert_clean(code, &report);
        let found = &report["volumes"]["found"][0];
        assert_eq!(found["kind"], "iso");
        assert_eq!(found["label"], "RESCUE_1A2B3C4D_1");
        assert_eq!(report["sets"]["good"], b.sets.len() as u64);
        assert_eq!(report["files"], file_entries(&b));
    }
    // And against the live tree, read from the image's catalog and hash lists.
    let (code, report) = verify_json(&image, &["--against", b.source.to_str().unwrap()]);
    assert_clean(code, &report);
    assert!(report["against"]["content_checked"].as_u64().unwrap() > 10);
}

#[test]
fn gzip_and_plain_tar_sets_verify_too() {
    for c in [Compression::Gzip, Compression::None] {
        let b = backup(c);
        let out = volume_dirs(&b, 2);
        let (code, report) = verify_json(&out, &[]);
        assert_clean(code, &report);
        assert_eq!(report["sets"]["good"], b.sets.len() as u64, "{c}");
    }
}

#[test]
fn a_flipped_byte_names_the_set_and_the_files_affected() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let bad = 2;
    let path = set_path(&volume_of(&out, bad, b.compression), bad, b.compression);
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&path, bytes).unwrap();

    let (code, report) = verify_json(&out, &["--show", "100000"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        problem_kinds(&report),
        [("set_corrupted".to_string(), Some(u64::from(bad)))],
        "{report:#}"
    );
    let p = &problems(&report)[0];
    let named = paths_of(&p["files"]);
    assert!(!named.is_empty(), "{p:#}");
    let in_set: BTreeSet<String> = paths_in_set(&b, bad).into_iter().collect();
    for n in &named {
        assert!(in_set.contains(n), "{n} is not in set {bad}: {p:#}");
    }
    assert_eq!(report["sets"]["bad"], serde_json::json!([bad]));
    assert_eq!(report["sets"]["good"], b.sets.len() as u64 - 1);

    let (code, text) = verify_text(&out, &["--show", "2"]);
    assert_eq!(code, 1);
    let line = text
        .lines()
        .find(|l| l.contains("set 2 (volume 1, sets/set-00002.tar.zst) is corrupted: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&named[0]), "{line}");
    if named.len() > 2 {
        assert!(
            line.ends_with(&format!(" and {} more", named.len() - 2)),
            "{line}"
        );
    }
    assert!(
        text.contains("summary: 3 of 3 volumes") && text.contains("1 problem"),
        "{text}"
    );
}

/// In a plain tar set a flipped byte in one file's data costs exactly that file.
#[test]
fn a_flipped_byte_in_a_plain_set_names_exactly_its_file() {
    let b = backup(Compression::None);
    let out = volume_dirs(&b, 2);
    // The 10 000 bytes of home/bob/notes.txt, stored under the first name of its hard-link
    // group in walk order: home/ann/notes-link.
    let content = fs::read(b.source.join("home/bob/notes.txt")).unwrap();
    let needle = &content[5000..5064];
    let (path, at) = b
        .sets
        .iter()
        .map(|s| {
            let vol = volume_of(&out, s.set.number, b.compression);
            set_path(&vol, s.set.number, b.compression)
        })
        .find_map(|p| {
            let bytes = fs::read(&p).unwrap();
            bytes
                .windows(needle.len())
                .position(|w| w == needle)
                .map(|at| (p, at))
        })
        .expect("the file's data is in a set");
    let mut bytes = fs::read(&path).unwrap();
    bytes[at + 10] ^= 1;
    fs::write(&path, bytes).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    let ps = problems(&report);
    assert_eq!(ps.len(), 1, "{report:#}");
    assert_eq!(ps[0]["kind"], "set_corrupted");
    assert_eq!(
        paths_of(&ps[0]["files"]),
        ["home/ann/notes-link"],
        "{report:#}"
    );
    assert!(
        ps[0]["message"]
            .as_str()
            .unwrap()
            .contains("1 file differs from its hash"),
        "{report:#}"
    );
}

/// Tar checksums its headers but not the records of pax headers: damage there changes an
/// entry's metadata, which verify finds against the catalog and names.
#[test]
fn a_flipped_byte_in_a_pax_header_names_its_entry() {
    let b = backup(Compression::None);
    let out = volume_dirs(&b, 2);
    let name = b"home/ann/docs/tagged\0";
    let (path, at) = b
        .sets
        .iter()
        .map(|s| {
            set_path(
                &volume_of(&out, s.set.number, b.compression),
                s.set.number,
                b.compression,
            )
        })
        .find_map(|p| {
            let bytes = fs::read(&p).unwrap();
            // The entry's ustar header starts a block with its name; its pax header, with
            // the nanosecond mtime, comes just before.
            let header = (0..bytes.len())
                .step_by(512)
                .find(|&i| bytes[i..].starts_with(name))?;
            let from = header.saturating_sub(2048);
            let mtime = bytes[from..header]
                .windows(7)
                .position(|w| w == b" mtime=")?;
            Some((p, from + mtime + 7 + 9))
        })
        .expect("the entry and its pax mtime are in a set");
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes[at].is_ascii_digit());
    bytes[at] ^= 1; // another digit: the record still parses
    fs::write(&path, bytes).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    let ps = problems(&report);
    assert_eq!(ps.len(), 1, "{report:#}");
    assert_eq!(ps[0]["kind"], "set_corrupted");
    assert_eq!(
        paths_of(&ps[0]["files"]),
        ["home/ann/docs/tagged"],
        "{report:#}"
    );
    let message = ps[0]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "1 entry whose metadata differ from the catalog (home/ann/docs/tagged: mtime "
        ),
        "{message}"
    );
}

#[test]
fn a_truncated_set_names_the_files_it_no_longer_holds() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let bad = b.sets.len() as u32 - 1;
    let path = set_path(&volume_of(&out, bad, b.compression), bad, b.compression);
    let len = fs::metadata(&path).unwrap().len();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len * 6 / 10)
        .unwrap();

    let (code, report) = verify_json(&out, &["--show", "100000"]);
    assert_eq!(code, 1);
    assert_eq!(
        problem_kinds(&report),
        [("set_truncated".to_string(), Some(u64::from(bad)))],
        "{report:#}"
    );
    let p = &problems(&report)[0];
    let message = p["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("truncated: {} of the {len} bytes", len * 6 / 10)),
        "{message}"
    );
    // The files named are the tail of the set: from the one it broke in to its last.
    let named = paths_of(&p["files"]);
    let in_set = paths_in_set(&b, bad);
    assert!(!named.is_empty());
    assert_eq!(
        named.as_slice(),
        &in_set[in_set.len() - named.len()..],
        "{report:#}"
    );
    assert!(
        named.len() < in_set.len(),
        "the first files of the set are intact"
    );
    assert_eq!(p["files"]["count"], named.len() as u64);
}

#[test]
fn a_deleted_hash_list_is_reported_and_its_set_still_read() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let bad = 2;
    let vol = volume_of(&out, bad, b.compression);
    fs::remove_file(vol.join(media::hash_list_file(bad))).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        problem_kinds(&report),
        [("hash_list_missing".to_string(), Some(u64::from(bad)))],
        "{report:#}"
    );
    let message = problems(&report)[0]["message"].as_str().unwrap();
    assert!(
        message.contains("set 2: its hash list") && message.contains("is missing"),
        "{message}"
    );
    // Set 2 was still read through (its BLAKE3 matched: no other problem for it).
    assert_eq!(report["files"], file_entries(&b));
    assert_eq!(report["sets"]["good"], b.sets.len() as u64 - 1);
}

#[test]
fn a_missing_volume_is_named_by_number_and_the_others_are_verified() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let on_two: Vec<u32> = split(&b, 3)[1].iter().map(|s| s.set.number).collect();
    fs::remove_dir_all(out.join("rescue-2")).unwrap();

    let (code, report) = verify_json(&out, &["--show", "100000"]);
    assert_eq!(code, 1);
    let ps = problems(&report);
    assert_eq!(ps.len(), 2, "{report:#}");
    assert_eq!(ps[0]["kind"], "volume_missing");
    assert_eq!(ps[0]["volume"], 2);
    assert_eq!(
        ps[0]["message"],
        format!(
            "volume 2 of 3 is missing (looked in {}: found rescue-1, rescue-3)",
            out.display()
        )
    );
    assert_eq!(ps[1]["kind"], "sets_not_found");
    let first = on_two[0];
    let last = *on_two.last().unwrap();
    let message = ps[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "sets {first}-{last} are on no volume found (missing: volume 2)"
        )),
        "{message}"
    );
    // Every file those sets hold is named (a sliced file reaching into them too).
    let mut want: Vec<String> = Vec::new();
    for n in first..=last {
        for p in paths_in_set(&b, n) {
            if !want.contains(&p) {
                want.push(p);
            }
        }
    }
    assert_eq!(paths_of(&ps[1]["files"]), want);
    assert_eq!(report["sets"]["good"], (b.sets.len() - on_two.len()) as u64);
    assert_eq!(
        report["sets"]["not_found"],
        serde_json::json!((first..=last).collect::<Vec<_>>())
    );
    let (_, text) = verify_text(&out, &[]);
    assert!(
        text.contains("  volume 2 of 3 is missing (looked in"),
        "{text}"
    );
}

/// Without volume 1 there is no catalog: the other volumes' sets are still read and
/// checked against their hash lists, and a damaged one names what it can.
#[test]
fn without_volume_1_the_other_sets_are_checked_against_their_hash_lists() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let chunks = split(&b, 3);
    let on_one = chunks[0].len() as u64;
    let last = b.sets.len() as u32;
    fs::remove_dir_all(out.join("rescue-1")).unwrap();
    let path = set_path(&out.join("rescue-3"), last, b.compression);
    let len = fs::metadata(&path).unwrap().len();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    let kinds = problem_kinds(&report);
    assert_eq!(
        kinds,
        [
            ("volume_missing".to_string(), None),
            ("sets_not_found".to_string(), Some(1)),
            ("set_truncated".to_string(), Some(u64::from(last))),
        ],
        "{report:#}"
    );
    assert_eq!(problems(&report)[0]["volume"], 1);
    let message = problems(&report)[2]["message"].as_str().unwrap();
    assert!(
        message.contains("by the manifest's count (not named: no catalog)"),
        "{message}"
    );
    assert_eq!(report["sets"]["good"], b.sets.len() as u64 - on_one - 1);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("volume 1 (with the catalog) was not found"),
        "{warnings}"
    );
}

#[test]
fn against_the_unchanged_tree_is_clean() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let (code, report) = verify_json(&out, &["--against", b.source.to_str().unwrap()]);
    assert_clean(code, &report);
    let a = &report["against"];
    let records = catalog(&b).len() as u64;
    assert_eq!(a["compared"], records, "{a:#}");
    for list in ["missing", "new", "errors"] {
        assert_eq!(a[list]["count"], 0, "{list}: {a:#}");
    }
    assert_eq!(a["changed"]["count"], 0, "{a:#}");
    let files = catalog(&b)
        .iter()
        .filter(|r| r.kind == CatalogKind::File)
        .count() as u64;
    assert_eq!(a["content_checked"], files, "{a:#}");
    assert_eq!(a["content_unchecked"], 0);
}

#[test]
fn against_reports_a_changed_a_deleted_and_a_new_file() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let root = &b.source;
    // Same size, same mtime: only the content tells.
    let changed = root.join("etc/hostname");
    let reference = b.dir.path().join("hostname-times");
    fs::write(&reference, b"").unwrap();
    let touch = |args: &[&Path]| {
        let status = Command::new("touch").arg("-r").args(args).status().unwrap();
        assert!(status.success());
    };
    touch(&[&changed, &reference]);
    fs::write(&changed, b"CORPUS").unwrap();
    touch(&[&reference, &changed]);
    fs::remove_file(root.join("home/ann/docs/one-block")).unwrap();
    fs::write(root.join("home/ann/brand-new.txt"), b"new\n").unwrap();

    let (code, report) = verify_json(&out, &["--against", root.to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        problems(&report).is_empty(),
        "the media are fine: {report:#}"
    );
    let a = &report["against"];
    assert_eq!(a["changed"]["count"], 1, "{a:#}");
    assert_eq!(a["changed"]["files"][0]["path"], "etc/hostname");
    assert_eq!(
        a["changed"]["files"][0]["what"],
        serde_json::json!(["content (BLAKE3)"])
    );
    assert_eq!(
        paths_of(&a["missing"]),
        ["home/ann/docs/one-block"],
        "{a:#}"
    );
    assert_eq!(paths_of(&a["new"]), ["home/ann/brand-new.txt"], "{a:#}");
    assert_eq!(a["missing"]["count"], 1);
    assert_eq!(a["new"]["count"], 1);

    let (code, text) = verify_text(&out, &["--against", root.to_str().unwrap()]);
    assert_eq!(code, 1);
    for want in [
        "1 missing, 1 changed, 1 new",
        "  missing: home/ann/docs/one-block\n",
        "  changed: etc/hostname (content (BLAKE3))\n",
        "  new: home/ann/brand-new.txt\n",
        "no problems, 3 differences from",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

#[test]
fn usage_errors_exit_2_and_missing_media_exit_1() {
    let (code, _, stderr) = mkrescue(&["verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--media"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let (code, _, stderr) = mkrescue(&["verify", "--media", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: looking for rescue volumes at"),
        "{stderr}"
    );
    let (code, _, stderr) = mkrescue(&["verify", "--media", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no rescue volume there"), "{stderr}");
}

/// Our ISO writer's images read back through rescue-core's reader: names as given (Rock
/// Ridge, mixed case, spaces), a file of more than 10 MB, nested directories.
#[test]
fn images_from_write_iso_read_back_through_the_iso9660_reader() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    let mut state = 0x1234_5678_9abc_def0u64;
    let big_bytes: Vec<u8> = (0..12_345_678)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    fs::write(&big, &big_bytes).unwrap();
    let small = |s: &str| IsoSource::Bytes(s.as_bytes().to_vec());
    let files = vec![
        (
            "/sets/set-00001.tar.zst".to_string(),
            IsoSource::Host(big.clone()),
        ),
        ("/rescue/manifest.json".to_string(), small("{}\n")),
        ("/Mixed Case/ReadMe.TXT".to_string(), small("mixed\n")),
        (
            "/a/b/c/d/e/f/g/h/i/deep file name that is rather long.txt".to_string(),
            small("deep\n"),
        ),
        ("/empty".to_string(), IsoSource::Bytes(Vec::new())),
    ];
    let spec = IsoSpec {
        volume_id: "RESCUE_ISO_TEST_1".into(),
        files: files.clone(),
        bios: None,
        uefi: None,
        hybrid: false,
        publisher: "MKRESCUE TEST".into(),
        mtime: 1_700_000_000,
    };
    let path = dir.path().join("test.iso");
    iso::write_iso(&spec, &path).unwrap();
    let image = Image::open_path(&path).unwrap().expect("ISO 9660");
    assert_eq!(image.volume_id(), "RESCUE_ISO_TEST_1");
    for (name, source) in &files {
        let want = match source {
            IsoSource::Host(p) => fs::read(p).unwrap(),
            IsoSource::Bytes(b) => b.clone(),
        };
        let mut got = Vec::new();
        image
            .open_file(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_end(&mut got)
            .unwrap();
        assert!(
            got == want,
            "{name}: {} bytes, want {}",
            got.len(),
            want.len()
        );
    }
    // The deep directory is relocated (Rock Ridge CL/RE) under rr_moved, which shows.
    let top: BTreeSet<String> = image
        .list("/")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        top,
        ["Mixed Case", "a", "empty", "rescue", "rr_moved", "sets"]
            .map(String::from)
            .into()
    );
    let mixed = image.list("/Mixed Case").unwrap();
    assert_eq!(mixed.len(), 1);
    assert!(mixed[0].rock_ridge);
    assert_eq!(mixed[0].name, "ReadMe.TXT");
    assert!(image.lookup("/mixed case/readme.txt").unwrap().is_none());
}

// --- restoring from the volumes (rescue-core's archive reader) ----------------------------

use rescue_core::restore_files::{restore, Selection};
use rescue_core::volume::find_volumes;

#[test]
fn all_volumes_restore_the_source_exactly() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let target = b.dir.path().join("restored");
    let volumes = find_volumes(&out).unwrap();
    let report = restore(&volumes, &target, &Selection::default(), &mut |_| {}).unwrap();
    assert!(report.clean(), "{report:#?}");
    let diffs = corpus::compare(&b.source, &target).unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn a_corrupted_set_loses_only_its_files_and_says_so() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 3);
    let bad = 2;
    let path = set_path(&volume_of(&out, bad, b.compression), bad, b.compression);
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&path, bytes).unwrap();

    let target = b.dir.path().join("restored");
    let volumes = find_volumes(&out).unwrap();
    let report = restore(&volumes, &target, &Selection::default(), &mut |_| {}).unwrap();
    assert!(!report.clean());
    let said = format!("{:?}{:?}", report.problems, report.mismatched);
    assert!(said.contains(&format!("set {bad}")), "{report:#?}");
    // Every file of the other sets is back and exact.
    let in_bad: BTreeSet<String> = paths_in_set(&b, bad).into_iter().collect();
    let diffs = corpus::compare(&b.source, &target).unwrap();
    for d in &diffs {
        assert!(
            in_bad
                .iter()
                .any(|p| d.path.starts_with(p.as_str()) || p.starts_with(&d.path))
                || d.what.contains("dir"),
            "{d} is not a file of the damaged set {bad}"
        );
    }
}

#[test]
fn a_selection_restores_a_subtree_under_a_new_name() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 2);
    let target = b.dir.path().join("restored");
    let volumes = find_volumes(&out).unwrap();
    let selection = Selection {
        paths: vec![b"home/ann".to_vec(), b"etc".to_vec()],
        renames: vec![(b"home/ann".to_vec(), b"tmp/ann".to_vec())],
        exclude: Vec::new(),
    };
    let report = restore(&volumes, &target, &selection, &mut |_| {}).unwrap();
    assert!(
        report.failed.is_empty() && report.problems.is_empty(),
        "{report:#?}"
    );
    assert!(target.join("tmp/ann/docs/tagged").exists());
    assert!(target.join("etc/hostname").exists());
    assert!(!target.join("home").exists());
    assert!(!target.join("srv").exists());
    assert_eq!(
        fs::read(target.join("tmp/ann/docs/one-block")).unwrap(),
        fs::read(b.source.join("home/ann/docs/one-block")).unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// Signed media: written by the volume writer with `--sign`'s key, checked with
// `--trusted-key`. Keys are made, and signatures checked, by OpenSSL.

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The backup written by the volume writer as two signed volume directories.
fn signed_volume_dirs(b: &Backup, key: &Path) -> PathBuf {
    use mkrescue::volume_writer::{FirstVolume, OutputFormat, VolumeWriter};
    use rescue_core::signature::SigningKey;
    let out = b.dir.path().join("signed");
    fs::create_dir_all(&out).unwrap();
    let mut writer = VolumeWriter {
        output: out.clone(),
        format: OutputFormat::Dir,
        backup_id: BACKUP_ID.into(),
        created: 1_763_700_000,
        hostname: "corpus-host".into(),
        kernel_release: "6.1.0-test".into(),
        compression: b.compression,
        before_hook: None,
        after_hook: None,
        runner: &rescue_core::runner::RealRunner,
        first: Some(FirstVolume {
            files: vec![
                (
                    media::MOUNTLIST_PATH.to_string(),
                    IsoSource::Bytes(MOUNTLIST.to_vec()),
                ),
                (
                    media::CATALOG_PATH.to_string(),
                    IsoSource::Host(b.catalog.clone()),
                ),
            ],
            bios: None,
            uefi: None,
        }),
        sizes: rescue_core::volumes::MediaSizes::unlimited(),
        signer: Some(SigningKey::read(key).unwrap()),
    };
    let half = b.sets.len() / 2;
    writer.write(1, 0, &b.sets[..half], 0).unwrap();
    writer.write(2, 2, &b.sets[half..], 0).unwrap();
    out
}

/// The problems of `report` of `kind`, as their messages.
fn messages_of(report: &Value, kind: &str) -> Vec<String> {
    problems(report)
        .iter()
        .filter(|p| p["kind"] == kind)
        .map(|p| p["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn signed_media_verify_with_the_trusted_key_and_openssl_agrees() {
    let b = backup(Compression::Zstd);
    let (key, public) = openssl_key_pair(b.dir.path(), "key");
    let out = signed_volume_dirs(&b, &key);
    for n in [1, 2] {
        let vol = out.join(format!("rescue-{n}/rescue"));
        let said = openssl(&[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            public.to_str().unwrap(),
            "-rawin",
            "-in",
            vol.join("manifest.json").to_str().unwrap(),
            "-sigfile",
            vol.join("manifest.sig").to_str().unwrap(),
        ]);
        assert!(said.contains("Signature Verified Successfully"), "{said}");
    }
    // The secret part is nowhere on the media.
    let secret = fs::read_to_string(&key).unwrap();
    let body: String = secret.lines().filter(|l| !l.starts_with("-----")).collect();
    let found = Command::new("grep")
        .args(["-rF", &body])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        found.status.code(),
        Some(1),
        "the private key is on the media"
    );

    let (code, report) = verify_json(&out, &["--trusted-key", public.to_str().unwrap()]);
    assert_clean(code, &report);
    assert_eq!(report["volumes"]["found"].as_array().unwrap().len(), 2);
    let hex = report["signed_by"].as_str().unwrap();
    assert_eq!(hex.len(), 64, "{report:#}");
    let (code, text) = verify_text(&out, &["--trusted-key", public.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "signed: every volume above by the trusted key {hex}"
        )),
        "{text}"
    );
    // Without a trusted key nothing changes: signed media verify as any.
    let (code, report) = verify_json(&out, &[]);
    assert_clean(code, &report);
    assert!(report["signed_by"].is_null());
}

#[test]
fn a_changed_manifest_a_missing_signature_and_another_key_are_refused() {
    let b = backup(Compression::Zstd);
    let (key, public) = openssl_key_pair(b.dir.path(), "key");
    let (_, other) = openssl_key_pair(b.dir.path(), "other");
    let out = signed_volume_dirs(&b, &key);
    let trusted = ["--trusted-key", public.to_str().unwrap()];

    // One byte of volume 2's manifest changed: still a valid manifest, not the signed one.
    let manifest = out.join("rescue-2/rescue/manifest.json");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, text.replacen("corpus-host", "corpus-hosT", 1)).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_clean(code, &report);
    let (code, report) = verify_json(&out, &trusted);
    assert_eq!(code, 1, "{report:#}");
    let refused = messages_of(&report, "volume_untrusted");
    assert_eq!(refused.len(), 1, "{report:#}");
    assert!(
        refused[0]
            .contains("rescue-2: refused: /rescue/manifest.sig: the signature does not verify"),
        "{refused:?}"
    );
    let found: Vec<u64> = report["volumes"]["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(found, [1], "{report:#}");
    fs::write(&manifest, &text).unwrap();

    // Volume 1 without its signature.
    let sig = out.join("rescue-1/rescue/manifest.sig");
    let signature = fs::read(&sig).unwrap();
    fs::remove_file(&sig).unwrap();
    let (code, report) = verify_json(&out, &trusted);
    assert_eq!(code, 1);
    let refused = messages_of(&report, "volume_untrusted");
    assert!(
        refused.len() == 1 && refused[0].contains("rescue-1: refused: its manifest is not signed"),
        "{refused:?}"
    );
    fs::write(&sig, signature).unwrap();

    // Another key: every volume refused.
    let (code, report) = verify_json(&out, &["--trusted-key", other.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        messages_of(&report, "volume_untrusted").len(),
        2,
        "{report:#}"
    );
    // The private key given as the trusted one: a usage mistake, said plainly.
    let (code, _, stderr) = mkrescue(&[
        "verify",
        "--media",
        out.to_str().unwrap(),
        "--trusted-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--trusted-key") && stderr.contains("this is a private key"),
        "{stderr}"
    );
    assert!(!stderr.contains("PRIVATE KEY-----"), "{stderr}");
}

#[test]
fn volume_1s_catalog_and_mountlist_must_be_as_its_manifest_records() {
    let b = backup(Compression::Zstd);
    let (key, _) = openssl_key_pair(b.dir.path(), "key");
    let out = signed_volume_dirs(&b, &key);
    let vol = out.join("rescue-1/rescue");
    let original = fs::read(vol.join("mountlist.json")).unwrap();
    fs::write(vol.join("mountlist.json"), b"{\"version\": 2}\n").unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    let m = messages_of(&report, "mountlist");
    assert!(
        m.len() == 1 && m[0].contains("rescue-1/rescue/mountlist.json: its BLAKE3 is"),
        "{m:?}"
    );
    fs::write(vol.join("mountlist.json"), original).unwrap();

    let mut catalog = fs::read(vol.join("catalog.zst")).unwrap();
    let last = catalog.len() - 1;
    catalog[last] ^= 0x01;
    fs::write(vol.join("catalog.zst"), catalog).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    let c = messages_of(&report, "catalog");
    assert!(
        c.iter()
            .any(|m| m.contains("rescue-1/rescue/catalog.zst: its BLAKE3 is")
                && m.contains("the manifest records")),
        "{c:?}"
    );
}

#[test]
fn an_older_manifest_verifies_with_its_mountlist_and_catalog_not_covered() {
    let b = backup(Compression::Zstd);
    let out = volume_dirs(&b, 1);
    let path = out.join("rescue-1/rescue/manifest.json");
    let mut m: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    m["version"] = 1.into();
    let o = m.as_object_mut().unwrap();
    o.remove("mountlist_b3");
    o.remove("catalog_b3");
    fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_clean(code, &report);
    let warnings: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for file in ["mountlist.json", "catalog.zst"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(file) && w.contains("not covered by the manifest (version 1")),
            "{warnings:?}"
        );
    }
}
