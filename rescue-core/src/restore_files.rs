//! Restoring files from the archive sets of a backup's volumes into a directory: all of
//! them or the selected paths, with path renames, checking every file against the hash
//! lists, and going on past a damaged or missing set while listing what it lost.

use crate::archive::{ArchiveError, Extractor, TarReader};
use crate::catalog::{to_hex, CatalogReader, HashListReader, HashRecord};
use crate::error_text::chain;
use crate::media::{SetInfo, CATALOG_PATH};
use crate::volume::Volume;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Paths (relative to the captured root, "home/ann") to restore with everything below
    /// them; empty means everything.
    pub paths: Vec<Vec<u8>>,
    /// Prefix renames applied to where entries land: ("home", "tmp/home").
    pub renames: Vec<(Vec<u8>, Vec<u8>)>,
    /// Paths (relative to the captured root, like `paths`) whose contents are left out,
    /// even where a selected path holds them. The path itself is still restored, so a
    /// mount point of a filesystem not restored into stays for it.
    pub exclude: Vec<Vec<u8>>,
}

/// `path` is `p` or lies below it ("" holds everything); both relative to the captured
/// root, as selections, excludes and renames are.
pub fn within(path: &[u8], p: &[u8]) -> bool {
    p.is_empty()
        || path == p
        || (path.len() > p.len() && path.starts_with(p) && path[p.len()] == b'/')
}

/// `path` lies strictly below `p`.
fn below(path: &[u8], p: &[u8]) -> bool {
    path != p && within(path, p)
}

impl Selection {
    /// Whether `path` is one of the selected paths or lies below one, and not below an
    /// excluded path.
    pub fn selects(&self, path: &[u8]) -> bool {
        (self.paths.is_empty() || self.paths.iter().any(|p| within(path, p)))
            && !self.exclude.iter().any(|e| below(path, e))
    }
}

/// What a restore did.
#[derive(Debug, Default, serde::Serialize)]
pub struct RestoreReport {
    pub sets: u32,
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    /// Set-level trouble: a set missing, unreadable, damaged part-way.
    pub problems: Vec<String>,
    /// Entries that could not be restored (unsafe paths, refused links, write errors).
    pub failed: Vec<String>,
    /// Files restored whose content does not match the backup's hash.
    pub mismatched: Vec<String>,
    /// Metadata the target filesystem refused (owner, xattr, times).
    pub warnings: Vec<String>,
    /// The path being restored when progress was last told (empty before the first).
    pub current: String,
}

impl RestoreReport {
    pub fn clean(&self) -> bool {
        self.problems.is_empty() && self.failed.is_empty() && self.mismatched.is_empty()
    }
}

/// A set file's tar stream, decompressed as its name says (.zst, .gz, or plain).
pub fn decompress(
    file: &str,
    reader: Box<dyn Read + Send>,
) -> std::io::Result<Box<dyn Read + Send>> {
    Ok(if file.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::new(reader)?)
    } else if file.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        reader
    })
}

/// Where the volumes a restore was not given come from: asked for one when the restore
/// reaches its sets (a scan of the attached devices, a prompt for the next disc).
pub trait VolumeSource {
    /// Volume `number` of backup `backup_id` (`of`: how many volumes the backup has, when
    /// known), or `None` to go on without it: the files of its sets are then listed as not
    /// restored.
    fn volume(&mut self, backup_id: &str, number: u32, of: Option<u32>) -> Option<Volume>;
}

/// No volumes beyond those given.
#[derive(Debug, Default)]
pub struct NoMoreVolumes;

impl VolumeSource for NoMoreVolumes {
    fn volume(&mut self, _: &str, _: u32, _: Option<u32>) -> Option<Volume> {
        None
    }
}

/// Restores from `volumes` (all of the backup's, any order) into `target`. `progress`
/// hears after each set, and every quarter second within one (`current` names the path).
pub fn restore(
    volumes: &[Volume],
    target: &Path,
    selection: &Selection,
    progress: &mut dyn FnMut(&RestoreReport),
) -> Result<RestoreReport, ArchiveError> {
    restore_from(
        volumes.to_vec(),
        &mut NoMoreVolumes,
        target,
        selection,
        progress,
    )
}

/// Sets no volume held, and the volumes that were not there.
struct Lost {
    first: u32,
    /// `None`: to the end of the backup.
    last: Option<u32>,
    volumes: Vec<u32>,
}

impl Lost {
    fn holds(&self, set: u32) -> bool {
        set >= self.first && self.last.is_none_or(|l| set <= l)
    }
}

/// Restores volume by volume, in order: from `volumes` where they have it, else from
/// `source`, asked only when the restore reaches that volume's sets. The volumes of the
/// backup are known from the manifests: every volume but the last says another follows,
/// the last says how many there are.
pub fn restore_from(
    volumes: Vec<Volume>,
    source: &mut dyn VolumeSource,
    target: &Path,
    selection: &Selection,
    progress: &mut dyn FnMut(&RestoreReport),
) -> Result<RestoreReport, ArchiveError> {
    let mut report = RestoreReport::default();
    std::fs::create_dir_all(target).map_err(|source| ArchiveError::Extract {
        path: target.display().to_string(),
        action: "making the target directory".into(),
        source,
    })?;
    let mut x = Extractor::new(target)?
        .mapping(selection.renames.clone())?
        .verify(true);
    let Some(backup_id) = volumes
        .iter()
        .min_by_key(|v| v.manifest().volume)
        .map(|v| v.manifest().backup_id.clone())
    else {
        return Ok(report);
    };
    let mut at_hand: BTreeMap<u32, Volume> = BTreeMap::new();
    for v in volumes {
        let m = v.manifest();
        if m.backup_id != backup_id {
            report.problems.push(format!(
                "{}: a volume of backup {}, not of {backup_id}: not used",
                v.path().display(),
                m.backup_id
            ));
            continue;
        }
        at_hand.entry(m.volume).or_insert(v);
    }
    let mut total = at_hand.values().find_map(|v| v.manifest().volumes_known());
    let mut catalog_volume = at_hand.get(&1).cloned();
    let mut lost: Vec<Lost> = Vec::new();
    // Volumes skipped since the last one restored from.
    let mut skipped: Vec<u32> = Vec::new();
    // The last volume restored from says another follows.
    let mut more_follow = false;
    let mut expected = 1;
    for number in 1.. {
        let exists = match total {
            Some(t) => number <= t,
            None => more_follow || at_hand.range(number..).next().is_some(),
        };
        if !exists {
            break;
        }
        let volume = at_hand
            .remove(&number)
            .or_else(|| source.volume(&backup_id, number, total));
        let Some(volume) = volume else {
            skipped.push(number);
            more_follow = false;
            continue;
        };
        let m = volume.manifest();
        if m.backup_id != backup_id || m.volume != number {
            report.problems.push(format!(
                "{} is volume {} of backup {}, not volume {number} of {backup_id}: not used",
                volume.path().display(),
                m.volume,
                m.backup_id
            ));
            skipped.push(number);
            more_follow = false;
            continue;
        }
        total = total.or(m.volumes_known());
        more_follow = m.volumes_known().is_none();
        if number == 1 {
            catalog_volume = Some(volume.clone());
        }
        let mut sets: Vec<&SetInfo> = m.sets.iter().collect();
        sets.sort_by_key(|s| s.number);
        for set in sets {
            if set.number > expected {
                lost.push(Lost {
                    first: expected,
                    last: Some(set.number - 1),
                    volumes: std::mem::take(&mut skipped),
                });
            }
            expected = expected.max(set.number + 1);
            restore_set(&volume, set, selection, &mut x, &mut report, &mut *progress);
            report.sets += 1;
            progress(&report);
        }
        skipped.clear();
    }
    if !skipped.is_empty() {
        lost.push(Lost {
            first: expected,
            last: None,
            volumes: skipped,
        });
    }
    for l in &lost {
        report.problems.push(lost_message(l, total));
    }
    if !lost.is_empty() {
        name_lost_files(catalog_volume.as_ref(), &lost, selection, &mut report);
    }
    for e in x.finish() {
        report.warnings.push(e.to_string());
    }
    Ok(report)
}

fn lost_message(l: &Lost, total: Option<u32>) -> String {
    let sets = match l.last {
        Some(last) if last == l.first => format!("set {last} is"),
        Some(last) => format!("sets {}-{last} are", l.first),
        None => format!("the sets from {} on are", l.first),
    };
    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
    let volumes = match l.volumes.as_slice() {
        [] => String::new(),
        [one] => format!(" (missing: volume {one}{of})"),
        many => format!(
            " (missing: volumes {}{of})",
            many.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "{sets} on no volume given{volumes}: their files are not restored (add the missing \
         volume)"
    )
}

/// Lists in `report.failed` every selected file the catalog puts in a lost set.
fn name_lost_files(
    catalog: Option<&Volume>,
    lost: &[Lost],
    selection: &Selection,
    report: &mut RestoreReport,
) {
    let Some(volume) = catalog else {
        report.problems.push(
            "the files of the missing sets cannot be named: volume 1, which holds the \
             catalog, was not given"
                .into(),
        );
        return;
    };
    let reader = volume
        .open_file(CATALOG_PATH)
        .map_err(|e| chain(&e))
        .and_then(|r| CatalogReader::new(r).map_err(|e| chain(&e)));
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(format!(
                "the files of the missing sets cannot be named: {}: {e}",
                volume.display_file(CATALOG_PATH)
            ));
            return;
        }
    };
    for record in reader {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.problems.push(format!(
                    "{} cannot be read to its end ({}): the files of the missing sets are \
                     named only up to there",
                    volume.display_file(CATALOG_PATH),
                    chain(&e)
                ));
                return;
            }
        };
        let Some(set) = record.sets().find(|s| lost.iter().any(|l| l.holds(*s))) else {
            continue;
        };
        if !selection.selects(&record.path) {
            continue;
        }
        let path = String::from_utf8_lossy(&record.path);
        report.failed.push(format!(
            "/{}: its set {set} is on a volume not given",
            path.trim_start_matches('.').trim_start_matches('/')
        ));
    }
}

/// How often the progress hears of the file being restored, within a set.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

fn restore_set(
    volume: &Volume,
    set: &SetInfo,
    selection: &Selection,
    x: &mut Extractor,
    report: &mut RestoreReport,
    progress: &mut dyn FnMut(&RestoreReport),
) {
    let mut told = Instant::now();
    let where_ = volume.display_file(&set.file);
    let data = match volume
        .open_file(&set.file)
        .and_then(|r| decompress(&set.file, r))
    {
        Ok(d) => d,
        Err(e) => {
            report
                .problems
                .push(format!("set {} ({where_}): cannot open: {e}", set.number));
            return;
        }
    };
    // The hash list is read alongside: one record per regular-file entry, in set order.
    let mut hashes: Option<HashListReader<Box<dyn Read + Send>>> = volume
        .open_file(&set.hashes)
        .ok()
        .and_then(|r| HashListReader::new(r).ok());
    if hashes.is_none() {
        report.problems.push(format!(
            "set {}: its hash list {} is missing: files are restored unchecked",
            set.number, set.hashes
        ));
    }
    let mut reader = TarReader::new(data);
    loop {
        let (meta, mut entry) = match reader.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) if !e.is_fatal() => {
                report.failed.push(format!("set {}: {e}", set.number));
                continue;
            }
            Err(e) => {
                report.problems.push(format!(
                    "set {} ({where_}) is damaged: {e}; the rest of this set is lost, the \
                     other sets are restored",
                    set.number
                ));
                return;
            }
        };
        let is_file = matches!(meta.kind, crate::archive::EntryKind::File { .. });
        let expected: Option<HashRecord> = if is_file {
            hashes.as_mut().and_then(|h| h.next()).and_then(Result::ok)
        } else {
            None
        };
        report.entries += 1;
        if !selection.selects(&meta.path) {
            continue;
        }
        if told.elapsed() >= PROGRESS_EVERY {
            report.current = meta.display_path();
            progress(report);
            told = Instant::now();
        }
        match x.extract(&meta, &mut entry) {
            Ok(done) => {
                report
                    .warnings
                    .extend(done.problems.iter().map(|p| p.to_string()));
                if is_file {
                    report.files += u64::from(done.complete);
                    report.bytes += done.bytes;
                    if let (Some(got), Some(want)) = (done.b3, &expected) {
                        if got.as_bytes() != &want.b3 && want.error.is_none() {
                            report.mismatched.push(format!(
                                "{} (set {}): BLAKE3 {} but the backup recorded {}",
                                meta.display_path(),
                                set.number,
                                got.to_hex(),
                                to_hex(&want.b3)
                            ));
                        }
                    }
                }
            }
            Err(e) => report.failed.push(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_takes_paths_and_what_lies_below_them() {
        let s = Selection {
            paths: vec![b"home/ann".to_vec()],
            ..Selection::default()
        };
        assert!(s.selects(b"home/ann"));
        assert!(s.selects(b"home/ann/notes"));
        assert!(!s.selects(b"home/anna"));
        assert!(!s.selects(b"home"));
        assert!(Selection::default().selects(b"anything"));
    }

    #[test]
    fn excluded_paths_keep_themselves_but_not_what_lies_below() {
        let s = Selection {
            exclude: vec![b"data".to_vec(), b"home/ann/cache".to_vec()],
            ..Selection::default()
        };
        assert!(s.selects(b"data"), "the mount point itself stays");
        assert!(!s.selects(b"data/file"));
        assert!(!s.selects(b"data/deep/file"));
        assert!(s.selects(b"database/file"));
        assert!(s.selects(b"home/ann/notes"));
        assert!(!s.selects(b"home/ann/cache/x"));
        // Exclusion wins over a selected path that holds it.
        let s = Selection {
            paths: vec![b"home".to_vec()],
            exclude: vec![b"home/ann".to_vec()],
            ..Selection::default()
        };
        assert!(s.selects(b"home/bob/x"));
        assert!(s.selects(b"home/ann"));
        assert!(!s.selects(b"home/ann/x"));
        assert!(!s.selects(b"etc/hostname"));
        // The whole captured root excluded: only the root itself.
        let s = Selection {
            exclude: vec![Vec::new()],
            ..Selection::default()
        };
        assert!(!s.selects(b"etc"));
    }
}
