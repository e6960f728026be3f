//! Pass 1: walk the selection, write the catalog, and cut the entries into sets.
//!
//! The catalog must be complete before the first set is written (volume 1 carries it), so
//! the walk reads metadata only and decides, from the exact tar size of every entry, which
//! set holds it and how a file larger than a set is sliced. The plan goes to a scratch
//! file that pass 2 streams back, so memory does not grow with the number of files.

use super::meta::{entry_meta, HardLinks, MetaWarning, Names};
use super::select::{Visit, Walker};
use anyhow::Context;
use rescue_core::archive::{stored_size, EntryKind, EntryMeta, Slice};
use rescue_core::catalog::{CatalogKind, CatalogRecord, CatalogWriter};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One tar entry to write in pass 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    /// Catalog index.
    pub i: u64,
    pub set: u32,
    /// Path relative to the root, hex (names need not be UTF-8).
    pub rel: String,
    /// Where it is on the host, hex.
    pub host: String,
    /// For a regular file: the size seen in pass 1 (what the catalog promises).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// For a slice: (offset, length, total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<(u64, u64, u64)>,
    /// For a hard link: the path it links to, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl PlanItem {
    pub fn rel_bytes(&self) -> Vec<u8> {
        unhex(&self.rel)
    }

    pub fn host_path(&self) -> PathBuf {
        PathBuf::from(std::ffi::OsStr::from_bytes(&unhex(&self.host)))
    }

    pub fn link_bytes(&self) -> Option<Vec<u8>> {
        self.link.as_deref().map(unhex)
    }
}

fn hex(bytes: &[u8]) -> String {
    rescue_core::catalog::to_hex(bytes)
}

fn unhex(text: &str) -> Vec<u8> {
    // The plan is written by this process a moment earlier; it is always valid hex.
    rescue_core::catalog::from_hex(text).unwrap_or_default()
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

/// Walks, writes the catalog to `catalog` and the plan to `plan`.
pub fn plan(
    root: &Path,
    walker: &mut Walker,
    set_size: u64,
    catalog: &Path,
    plan: &Path,
) -> anyhow::Result<PlanSummary> {
    let names = Names::load(root);
    let mut links = HardLinks::default();
    let mut summary = PlanSummary::default();
    let mut cutter = Cutter {
        set_size,
        set: 0,
        used: 0,
    };
    let mut cat = CatalogWriter::new(BufWriter::new(
        File::create(catalog).with_context(|| format!("creating {}", catalog.display()))?,
    ))?;
    let mut out =
        BufWriter::new(File::create(plan).with_context(|| format!("creating {}", plan.display()))?);
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
        let mut item = PlanItem {
            i: index,
            set: 0,
            rel: hex(&visit.rel),
            host: hex(visit.host.as_os_str().as_bytes()),
            size: None,
            slice: None,
            link: link.map(|l| hex(&l.0)),
        };
        let stored = stored_size(&meta);
        match &meta.kind {
            EntryKind::File { size, .. } if stored > set_size => {
                // Larger than a set: slices, each filling the rest of a set.
                item.size = Some(*size);
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
                    item.slice = Some((offset, len, total));
                    write_item(&mut out, &item)?;
                    offset += len;
                    if offset >= total {
                        break;
                    }
                }
                let first_set = cutter.set + 1 - slices;
                let mut record = record;
                record.set = first_set;
                record.slices = slices;
                cat.write(&record)?;
                summary.files += 1;
                summary.bytes += total;
            }
            kind => {
                if let EntryKind::File { size, .. } = kind {
                    item.size = Some(*size);
                    summary.files += 1;
                    summary.bytes += size;
                }
                item.set = cutter.place(stored);
                let mut record = record;
                record.set = item.set;
                cat.write(&record)?;
                write_item(&mut out, &item)?;
            }
        }
        index += 1;
    }
    cat.finish()?
        .flush()
        .with_context(|| format!("writing {}", catalog.display()))?;
    out.flush()
        .with_context(|| format!("writing {}", plan.display()))?;
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

fn write_item(out: &mut impl Write, item: &PlanItem) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, item)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Streams the plan back.
pub fn read_plan(path: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<PlanItem>>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::new(file).lines().map(|line| {
        let line = line?;
        serde_json::from_str(&line).context("reading the backup plan")
    }))
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
