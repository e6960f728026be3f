//! Pass 1: walk the selection, write the catalog, and cut the entries into sets.
//!
//! The catalog must be complete before the first set is written (volume 1 carries it), so
//! the walk reads metadata only and decides, from the exact tar size of every entry, which
//! set holds it and how a file larger than a set is sliced. Planned entries stream to pass 2
//! as they are decided (the two run side by side), so memory does not grow with the number
//! of files.

use super::meta::{entry_meta, HardLinks, MetaWarning, Names};
use super::select::{Visit, Walker};
use anyhow::Context;
use rescue_core::archive::{stored_size, EntryKind, EntryMeta, Slice};
use rescue_core::catalog::{CatalogKind, CatalogRecord, CatalogWriter};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One tar entry to write in pass 2, with everything pass 1 read about it, so pass 2
/// only opens and reads regular files.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// Catalog index.
    pub i: u64,
    pub set: u32,
    /// The entry as planned (for a slice: the slice's).
    pub meta: EntryMeta,
    /// Where it is on the host.
    pub host: PathBuf,
    /// For a regular file: size and mtime seen in pass 1, to notice a change.
    pub seen: Option<(u64, (i64, u32))>,
    /// For a slice: where in the file it starts.
    pub offset: u64,
}

/// What pass 1 found.
#[derive(Debug, Default)]
pub struct PlanSummary {
    pub entries: u64,
    pub files: u64,
    /// Logical bytes of the regular files.
    pub bytes: u64,
    pub sets: u32,
    pub warnings: Vec<String>,
}

/// Smallest slice worth starting in a set that is already partly full.
const MIN_SLICE: u64 = 1 << 20;

struct Cutter {
    set_size: u64,
    set: u32,
    used: u64,
}

impl Cutter {
    fn start_new(&mut self) {
        self.set += 1;
        self.used = 0;
    }

    /// Places an entry of `stored` bytes; returns its set.
    fn place(&mut self, stored: u64) -> u32 {
        if self.set == 0 || (self.used > 0 && self.used + stored > self.set_size) {
            self.start_new();
        }
        self.used += stored;
        self.set
    }
}

/// Walks, writes the catalog to `catalog`, and hands each planned entry to `emit` in order.
pub fn plan(
    root: &Path,
    walker: &mut Walker,
    set_size: u64,
    catalog: &Path,
    emit: &mut dyn FnMut(PlanItem) -> anyhow::Result<()>,
) -> anyhow::Result<PlanSummary> {
    let names = Names::load(root);
    let mut links = HardLinks::default();
    let mut summary = PlanSummary::default();
    let mut cutter = Cutter {
        set_size,
        set: 0,
        used: 0,
    };
    let writing = || format!("writing {}", catalog.display());
    let mut cat = CatalogWriter::new(BufWriter::new(
        File::create(catalog).with_context(|| format!("creating {}", catalog.display()))?,
    ))
    .with_context(writing)?;
    let mut warnings: Vec<MetaWarning> = Vec::new();

    let root_visit = Visit {
        rel: b".".to_vec(),
        host: root.to_path_buf(),
        meta: std::fs::symlink_metadata(root)
            .with_context(|| format!("reading {}", root.display()))?,
    };
    let mut index = 0u64;
    for visit in std::iter::once(root_visit).chain(walker.by_ref()) {
        let link = links.seen(&visit.meta, &visit.rel, index);
        let meta = entry_meta(
            &visit,
            &names,
            link.as_ref().map(|l| l.0.clone()),
            &mut warnings,
        );
        let record = catalog_record(index, &meta, link.as_ref().map(|l| l.1));
        let seen = match (&meta.kind, &link) {
            (EntryKind::File { size, .. }, None) => Some((*size, meta.mtime)),
            _ => None,
        };
        let mut item = PlanItem {
            i: index,
            set: 0,
            meta: meta.clone(),
            host: visit.host.clone(),
            seen,
            offset: 0,
        };
        let stored = stored_size(&meta);
        match &meta.kind {
            EntryKind::File { size, .. } if stored > set_size => {
                // Larger than a set: slices, each filling the rest of a set.
                let mut slices = 0u32;
                let total = *size;
                let mut offset = 0u64;
                let header = stored_size(&slice_meta(&meta, 0, 0, total));
                loop {
                    let mut room = set_size.saturating_sub(cutter.used);
                    if cutter.set == 0 || room < header + MIN_SLICE {
                        cutter.start_new();
                        room = set_size;
                    }
                    let len = ((room - header) / 512 * 512).min(total - offset).max(1);
                    let piece = stored_size(&slice_meta(&meta, offset, len, total));
                    cutter.used += piece;
                    slices += 1;
                    item.set = cutter.set;
                    item.meta = slice_meta(&meta, offset, len, total);
                    item.offset = offset;
                    emit(item.clone())?;
                    offset += len;
                    if offset >= total {
                        break;
                    }
                }
                let first_set = cutter.set + 1 - slices;
                let mut record = record;
                record.set = first_set;
                record.slices = slices;
                cat.write(&record).with_context(writing)?;
                summary.files += 1;
                summary.bytes += total;
            }
            kind => {
                if let EntryKind::File { size, .. } = kind {
                    summary.files += 1;
                    summary.bytes += size;
                }
                item.set = cutter.place(stored);
                let mut record = record;
                record.set = item.set;
                cat.write(&record).with_context(writing)?;
                emit(item)?;
            }
        }
        index += 1;
    }
    cat.finish()
        .with_context(writing)?
        .flush()
        .with_context(writing)?;
    summary.entries = index;
    summary.sets = cutter.set;
    summary.warnings.extend(warnings.into_iter().map(|w| w.0));
    for p in walker.problems.drain(..) {
        summary.warnings.push(format!(
            "cannot read {}: {} (not backed up)",
            p.host.display(),
            p.error
        ));
    }
    for pattern in walker.unused_patterns() {
        summary
            .warnings
            .push(format!("the pattern {pattern:?} matched nothing"));
    }
    Ok(summary)
}

/// A slice of a (dense) file: sparse maps are not cut, so a sparse file larger than a set
/// is stored in full.
pub fn slice_meta(meta: &EntryMeta, offset: u64, len: u64, total: u64) -> EntryMeta {
    EntryMeta {
        kind: EntryKind::File {
            size: len,
            sparse: None,
        },
        slice: Some(Slice { offset, total }),
        ..meta.clone()
    }
}

fn catalog_record(index: u64, meta: &EntryMeta, link: Option<u64>) -> CatalogRecord {
    let (kind, size) = match (&meta.kind, link) {
        (_, Some(link)) => (CatalogKind::HardLink { link }, 0),
        (EntryKind::File { size, .. }, None) => (CatalogKind::File, *size),
        (EntryKind::Dir, None) => (CatalogKind::Dir, 0),
        (EntryKind::Symlink { target }, None) => (
            CatalogKind::Symlink {
                target: target.clone(),
            },
            0,
        ),
        (EntryKind::CharDevice { major, minor }, None) => (
            CatalogKind::Char {
                major: *major,
                minor: *minor,
            },
            0,
        ),
        (EntryKind::BlockDevice { major, minor }, None) => (
            CatalogKind::Block {
                major: *major,
                minor: *minor,
            },
            0,
        ),
        (EntryKind::Fifo, None) | (EntryKind::HardLink { .. }, None) => (CatalogKind::Fifo, 0),
    };
    CatalogRecord {
        index,
        path: meta.path.clone(),
        kind,
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        user: meta
            .user
            .as_ref()
            .map(|u| String::from_utf8_lossy(u).into_owned()),
        group: meta
            .group
            .as_ref()
            .map(|g| String::from_utf8_lossy(g).into_owned()),
        mtime: meta.mtime,
        size,
        set: 0,
        slices: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::select::Rules;
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;

    /// /dev/full fails every write with ENOSPC, as a full disk does.
    #[test]
    fn a_full_disk_under_the_catalog_names_the_file() {
        let root = tempfile::tempdir().unwrap();
        for n in 0..2000 {
            std::fs::write(root.path().join(format!("file-{n:05}")), b"x").unwrap();
        }
        let scratch = tempfile::tempdir().unwrap();
        let catalog = scratch.path().join("catalog.zst");
        std::os::unix::fs::symlink("/dev/full", &catalog).unwrap();
        let dev = std::fs::metadata(root.path()).unwrap().dev();
        let mut walker = Walker::new(root.path(), Rules::default(), HashSet::from([dev]), &[]);
        let err = plan(root.path(), &mut walker, 1 << 30, &catalog, &mut |_| Ok(())).unwrap_err();
        let chain = format!("{err:#}");
        assert!(
            chain.starts_with(&format!("writing {}: ", catalog.display())),
            "{chain}"
        );
        assert!(chain.contains("No space left on device"), "{chain}");
    }
}
