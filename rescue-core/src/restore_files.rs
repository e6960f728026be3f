//! Restoring files from the archive sets of a backup's volumes into a directory: all of
//! them or the selected paths, with path renames, checking every file against the hash
//! lists, and going on past a damaged or missing set while listing what it lost.

use crate::archive::{ArchiveError, Extractor, TarReader};
use crate::catalog::{to_hex, CatalogReader, HashRecord};
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

/// How entries are recreated, beyond what is selected.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Leave owners as the restore makes them (the user running it), as GNU tar's
    /// `--no-same-owner`; the default, as root, sets the archive's owners.
    pub no_same_owner: bool,
    /// Leave out device nodes, setuid/setgid bits and file capabilities.
    pub no_special: bool,
    /// The target directory existed before: the archive's root entry (`.`) leaves its
    /// owner, mode and times alone.
    pub keep_root: bool,
    /// Check each set file's BLAKE3 against the manifest before anything of it is written
    /// (a second read of the set); a set that does not match is not restored. Without it
    /// the set is checked as it is read, and a mismatch names what was restored from it.
    pub check_sets_first: bool,
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
        &RestoreOptions::default(),
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
    /// The first of `sets` that is lost here (a range compared as a range: a catalog
    /// record may claim billions of slices).
    fn first_held(&self, sets: std::ops::RangeInclusive<u32>) -> Option<u32> {
        let first = (*sets.start()).max(self.first);
        let last = match self.last {
            Some(l) => (*sets.end()).min(l),
            None => *sets.end(),
        };
        (first <= last).then_some(first)
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
    options: &RestoreOptions,
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
        .verify(true)
        .keep_root(options.keep_root)
        .no_special(options.no_special);
    if options.no_same_owner {
        x = x.set_owner(false);
    }
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
            restore_set(
                &volume,
                set,
                selection,
                options,
                &mut x,
                &mut report,
                &mut *progress,
            );
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
        let Some(set) = lost.iter().find_map(|l| l.first_held(record.sets())) else {
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

/// How many paths a message about a set names before it counts the rest.
const NAMED: usize = 20;

/// The entries restored from one set, for a message when the set turns out altered.
#[derive(Default)]
struct Restored {
    named: Vec<String>,
    more: u64,
}

impl Restored {
    fn add(&mut self, path: String) {
        if self.named.len() < NAMED {
            self.named.push(path);
        } else {
            self.more += 1;
        }
    }

    fn describe(&self) -> String {
        if self.named.is_empty() {
            return "nothing was restored from it".into();
        }
        let more = match self.more {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        format!(
            "what was restored from it is not to be trusted: {}{more}",
            self.named.join(", ")
        )
    }
}

fn restore_set(
    volume: &Volume,
    set: &SetInfo,
    selection: &Selection,
    options: &RestoreOptions,
    x: &mut Extractor,
    report: &mut RestoreReport,
    progress: &mut dyn FnMut(&RestoreReport),
) {
    let mut told = Instant::now();
    let where_ = volume.display_file(&set.file);
    if options.check_sets_first {
        if let Err(e) = set_check::check_file(volume, set) {
            report.problems.push(format!(
                "set {} ({where_}): {e}; nothing of it is restored",
                set.number
            ));
            return;
        }
    }
    let tally = set_check::Tally::default();
    let data = match volume
        .open_file(&set.file)
        .map(|r| tally.reader(r))
        .and_then(|r| decompress(&set.file, r))
    {
        Ok(d) => set_check::Limit::new(d, set.tar_bytes),
        Err(e) => {
            report
                .problems
                .push(format!("set {} ({where_}): cannot open: {e}", set.number));
            return;
        }
    };
    // The hash list is checked against the manifest, then read alongside: one record per
    // regular-file entry, in set order. A list that cannot be trusted checks nothing.
    let mut hashes = match set_check::open_hash_list(volume, set) {
        Ok(h) => Some(h),
        Err(e) => {
            report.problems.push(format!(
                "set {}: its hash list {}: {e}: the files of this set are restored unchecked",
                set.number,
                volume.display_file(&set.hashes)
            ));
            None
        }
    };
    let mut restored = Restored::default();
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
        // The hash list records the bytes stored: a sparse file's extents, not its holes.
        let dense = matches!(
            meta.kind,
            crate::archive::EntryKind::File { sparse: None, .. }
        );
        let expected: Option<HashRecord> = if is_file {
            match hashes.as_mut().map(|h| h.next()) {
                Some(Some(Ok(r))) => Some(r),
                Some(other) => {
                    let why = match other {
                        Some(Err(e)) => chain(&e),
                        _ => "it ends before the set's files do".into(),
                    };
                    report.problems.push(format!(
                        "set {}: its hash list cannot be read past {} ({why}): the rest of \
                         this set's files are restored unchecked",
                        set.number,
                        meta.display_path()
                    ));
                    hashes = None;
                    None
                }
                None => None,
            }
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
                restored.add(meta.display_path());
                report
                    .warnings
                    .extend(done.problems.iter().map(|p| p.to_string()));
                if is_file {
                    report.files += u64::from(done.complete);
                    report.bytes += done.bytes;
                    if let (Some(got), Some(want)) = (done.b3, &expected) {
                        if (got.as_bytes() != &want.b3 || (dense && done.bytes != want.size))
                            && want.error.is_none()
                        {
                            report.mismatched.push(format!(
                                "{} (set {}): {} bytes with BLAKE3 {} but the backup recorded \
                                 {} bytes with {}",
                                meta.display_path(),
                                set.number,
                                done.bytes,
                                got.to_hex(),
                                want.size,
                                to_hex(&want.b3)
                            ));
                        }
                    }
                }
            }
            Err(ArchiveError::Skipped { path, reason }) => {
                report.warnings.push(format!("{path}: skipped: {reason}"));
            }
            Err(e) => report.failed.push(e.to_string()),
        }
    }
    // The set's own BLAKE3 covers what no per-file hash does (modes, owners, links,
    // device numbers): read to its end, then compare with the manifest.
    let drained = std::io::copy(&mut reader.into_inner(), &mut std::io::sink());
    let verdict = match drained {
        Ok(_) => tally.verdict(set),
        Err(e) => Err(format!("cannot be read to its end: {e}")),
    };
    if let Err(e) = verdict {
        report.problems.push(format!(
            "set {} ({where_}) {e}; {}",
            set.number,
            restored.describe()
        ));
    }
}

/// Checking a set file and its hash list against the manifest.
mod set_check {
    use crate::catalog::{from_hex, HashListReader};
    use crate::error_text::chain;
    use crate::media::SetInfo;
    use crate::volume::Volume;
    use std::io::{self, Read};
    use std::sync::{Arc, Mutex, PoisonError};

    /// The BLAKE3 and length of the raw bytes read through [`Tally::reader`].
    #[derive(Clone, Default)]
    pub struct Tally(Arc<Mutex<(blake3::Hasher, u64)>>);

    impl Tally {
        pub fn reader(&self, inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
            Box::new(Tallied {
                inner,
                tally: self.clone(),
            })
        }

        /// Whether what was read is the set file the manifest describes.
        pub fn verdict(&self, set: &SetInfo) -> Result<(), String> {
            let (hash, bytes) = {
                let t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                (t.0.finalize(), t.1)
            };
            compare(set, hash, bytes)
        }
    }

    struct Tallied {
        inner: Box<dyn Read + Send>,
        tally: Tally,
    }

    impl Read for Tallied {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            let mut t = self.tally.0.lock().unwrap_or_else(PoisonError::into_inner);
            t.0.update(&buf[..n]);
            t.1 += n as u64;
            Ok(n)
        }
    }

    /// A BLAKE3 as the manifest writes it: exactly 32 bytes in hex.
    fn b3_of(hex: &str) -> Option<[u8; 32]> {
        from_hex(hex).ok()?.try_into().ok()
    }

    fn compare(set: &SetInfo, hash: blake3::Hash, bytes: u64) -> Result<(), String> {
        let want = b3_of(&set.b3).ok_or_else(|| {
            format!(
                "has no BLAKE3 in its manifest that can be checked ({:?})",
                set.b3
            )
        })?;
        if bytes != set.bytes || hash.as_bytes() != &want {
            return Err(format!(
                "does not match its manifest ({bytes} bytes with BLAKE3 {} where the manifest \
                 says {} bytes with {}): the set was altered or damaged",
                hash.to_hex(),
                set.bytes,
                set.b3
            ));
        }
        Ok(())
    }

    /// Reads the whole set file and checks it.
    pub fn check_file(volume: &Volume, set: &SetInfo) -> Result<(), String> {
        let tally = Tally::default();
        let mut r = volume
            .open_file(&set.file)
            .map(|r| tally.reader(r))
            .map_err(|e| format!("cannot open: {e}"))?;
        io::copy(&mut r, &mut io::sink()).map_err(|e| format!("cannot be read: {e}"))?;
        tally.verdict(set)
    }

    /// The set's hash list, once its bytes are found to be what the manifest says.
    pub fn open_hash_list(
        volume: &Volume,
        set: &SetInfo,
    ) -> Result<HashListReader<Box<dyn Read + Send>>, String> {
        let want = b3_of(&set.hashes_b3).ok_or_else(|| {
            format!(
                "the manifest holds no BLAKE3 for it that can be checked ({:?})",
                set.hashes_b3
            )
        })?;
        let mut hasher = blake3::Hasher::new();
        let mut r = volume
            .open_file(&set.hashes)
            .map_err(|e| format!("cannot be opened: {e}"))?;
        io::copy(&mut r, &mut hasher).map_err(|e| format!("cannot be read: {e}"))?;
        if hasher.finalize().as_bytes() != &want {
            return Err(format!(
                "its BLAKE3 is {} where the manifest says {}: the list is damaged or altered",
                hasher.finalize().to_hex(),
                set.hashes_b3
            ));
        }
        let r = volume
            .open_file(&set.hashes)
            .map_err(|e| format!("cannot be opened: {e}"))?;
        HashListReader::new(r).map_err(|e| chain(&e))
    }

    /// A decompressed set, cut off where the manifest says its tar stream ends: a set that
    /// decompresses to more is an error, not an endless stream.
    pub struct Limit {
        inner: Box<dyn Read + Send>,
        left: u64,
        stated: u64,
    }

    impl Limit {
        pub fn new(inner: Box<dyn Read + Send>, stated: u64) -> Limit {
            Limit {
                inner,
                left: stated,
                stated,
            }
        }
    }

    impl Read for Limit {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            if self.left == 0 {
                let mut one = [0u8; 1];
                return match self.inner.read(&mut one)? {
                    0 => Ok(0),
                    _ => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the set decompresses to more than the {} bytes its manifest states",
                            self.stated
                        ),
                    )),
                };
            }
            let want = buf
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            let n = self.inner.read(&mut buf[..want])?;
            self.left -= n as u64;
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_sets_are_found_in_a_record_as_ranges() {
        let lost = Lost {
            first: 5,
            last: Some(7),
            volumes: vec![2],
        };
        assert_eq!(lost.first_held(1..=4), None);
        assert_eq!(lost.first_held(1..=5), Some(5));
        assert_eq!(lost.first_held(6..=u32::MAX), Some(6));
        assert_eq!(lost.first_held(8..=9), None);
        let to_end = Lost {
            first: 3,
            last: None,
            volumes: Vec::new(),
        };
        assert_eq!(to_end.first_held(1..=u32::MAX), Some(3));
        assert_eq!(to_end.first_held(1..=2), None);
    }

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
