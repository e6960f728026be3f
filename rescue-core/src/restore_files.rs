//! Restoring files from the archive sets of a backup's volumes into a directory: all of
//! them or the selected paths, with path renames, checking every file against the hash
//! lists, and going on past a damaged or missing set while listing what it lost.

use crate::archive::{ArchiveError, Extractor, TarReader};
use crate::catalog::{to_hex, HashListReader, HashRecord};
use crate::media::SetInfo;
use crate::volume::Volume;
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Paths (relative to the captured root, "home/ann") to restore with everything below
    /// them; empty means everything.
    pub paths: Vec<Vec<u8>>,
    /// Prefix renames applied to where entries land: ("home", "tmp/home").
    pub renames: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Selection {
    /// Whether `path` is one of the selected paths or lies below one.
    pub fn selects(&self, path: &[u8]) -> bool {
        self.paths.is_empty()
            || self.paths.iter().any(|p| {
                path == p.as_slice()
                    || (path.len() > p.len() && path.starts_with(p) && path[p.len()] == b'/')
                    || p.is_empty()
            })
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

/// Restores from `volumes` (all of the backup's, any order) into `target`.
pub fn restore(
    volumes: &[Volume],
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
    let mut sets: Vec<(&Volume, &SetInfo)> = volumes
        .iter()
        .flat_map(|v| v.manifest().sets.iter().map(move |s| (v, s)))
        .collect();
    sets.sort_by_key(|(_, s)| s.number);
    let mut expected = 1;
    for (volume, set) in sets {
        if set.number > expected {
            report.problems.push(format!(
                "sets {expected}-{} are on no volume given: their files are not restored \
                 (add the missing volume)",
                set.number - 1
            ));
        }
        expected = set.number + 1;
        restore_set(volume, set, selection, &mut x, &mut report);
        report.sets += 1;
        progress(&report);
    }
    for e in x.finish() {
        report.warnings.push(e.to_string());
    }
    Ok(report)
}

fn restore_set(
    volume: &Volume,
    set: &SetInfo,
    selection: &Selection,
    x: &mut Extractor,
    report: &mut RestoreReport,
) {
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
            renames: vec![],
        };
        assert!(s.selects(b"home/ann"));
        assert!(s.selects(b"home/ann/notes"));
        assert!(!s.selects(b"home/anna"));
        assert!(!s.selects(b"home"));
        assert!(Selection::default().selects(b"anything"));
    }
}
