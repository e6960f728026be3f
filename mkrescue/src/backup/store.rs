//! Pass 2: write the planned entries into archive sets, hashing every file as it is read
//! and noticing files that change or fail while they are read.

use super::meta::{entry_meta, MetaWarning, Names};
use super::pipeline::{Pipeline, SetDone};
use super::plan::{read_plan, slice_meta, PlanItem};
use super::select::Visit;
use anyhow::Context;
use rescue_core::archive::{EntryKind, EntryMeta, TarWriter};
use rescue_core::catalog::{Blake3Writer, HashListWriter, HashRecord};
use rescue_core::media::{hash_list_file, Compression};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A set whose file and hash list are complete.
#[derive(Debug, Clone)]
pub struct SetReady {
    pub set: SetDone,
    pub hashes: PathBuf,
    pub hashes_bytes: u64,
    pub hashes_b3: [u8; 32],
    pub entries: u64,
}

/// What pass 2 met.
#[derive(Debug, Default)]
pub struct StoreSummary {
    pub entries: u64,
    /// Files that changed while read (stored as read, padded or cut to the planned size).
    pub changed: Vec<String>,
    /// Files that could not be read (stored as zeros of the planned size).
    pub unreadable: Vec<String>,
    /// Entries gone since the walk (not stored).
    pub vanished: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct Options<'a> {
    pub root: &'a Path,
    pub plan: &'a Path,
    /// Where set files and hash lists go.
    pub dir: &'a Path,
    pub compression: Compression,
    pub level: i32,
    pub workers: usize,
}

/// A set's finished hash list, waiting for the set file to be finished too.
#[derive(Debug)]
struct HashList {
    set: u32,
    path: PathBuf,
    bytes: u64,
    b3: [u8; 32],
    entries: u64,
}

struct OpenSet {
    number: u32,
    tar: TarWriter<Pipeline>,
    hashes: HashListWriter<Blake3Writer<BufWriter<File>>>,
    hashes_path: PathBuf,
    entries: u64,
}

/// Writes every set; `ready` is called for each complete set, in order.
pub fn store(
    opts: &Options<'_>,
    ready: &mut dyn FnMut(SetReady) -> anyhow::Result<()>,
) -> anyhow::Result<StoreSummary> {
    let names = Names::load(opts.root);
    let mut summary = StoreSummary::default();
    let mut pipeline = Some(Pipeline::start(
        opts.dir,
        opts.compression,
        opts.level,
        opts.workers,
    ));
    let mut open: Option<OpenSet> = None;
    let mut hash_lists: Vec<HashList> = Vec::new();
    let mut warnings: Vec<MetaWarning> = Vec::new();

    for item in read_plan(opts.plan)? {
        let item = item?;
        if open.as_ref().map(|s| s.number) != Some(item.set) {
            if let Some(set) = open.take() {
                let (p, list) = close_set(set)?;
                pipeline = Some(p);
                hash_lists.push(list);
            }
            let mut p = pipeline
                .take()
                .context("the compression pipeline stopped")?;
            p.begin_set(item.set);
            let hashes_path = opts.dir.join(
                Path::new(&hash_list_file(item.set))
                    .file_name()
                    .unwrap_or_default(),
            );
            let file = File::create(&hashes_path)
                .with_context(|| format!("creating {}", hashes_path.display()))?;
            open = Some(OpenSet {
                number: item.set,
                tar: TarWriter::new(p),
                hashes: HashListWriter::new(Blake3Writer::new(BufWriter::new(file)))?,
                hashes_path,
                entries: 0,
            });
            deliver(&mut pipeline, &mut open, &mut hash_lists, ready)?;
        }
        let set = open.as_mut().context("no open set")?;
        store_item(&item, &names, set, &mut summary, &mut warnings)?;
        set.entries += 1;
        summary.entries += 1;
    }
    if let Some(set) = open.take() {
        let (p, list) = close_set(set)?;
        pipeline = Some(p);
        hash_lists.push(list);
    }
    let rest = pipeline
        .take()
        .context("the compression pipeline stopped")?
        .finish()
        .context("finishing the archive sets")?;
    for done in rest {
        hand_over(done, &mut hash_lists, ready)?;
    }
    summary.warnings.extend(warnings.into_iter().map(|w| w.0));
    Ok(summary)
}

/// Hands over the sets the pipeline has finished since the last call.
fn deliver(
    pipeline: &mut Option<Pipeline>,
    open: &mut Option<OpenSet>,
    lists: &mut Vec<HashList>,
    ready: &mut dyn FnMut(SetReady) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let finished = match (pipeline.as_ref(), open.as_ref()) {
        (Some(p), _) => p.take_finished(),
        (None, Some(set)) => set.tar.get_ref().take_finished(),
        (None, None) => Vec::new(),
    };
    for done in finished {
        hand_over(done, lists, ready)?;
    }
    Ok(())
}

fn hand_over(
    done: SetDone,
    lists: &mut Vec<HashList>,
    ready: &mut dyn FnMut(SetReady) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let at = lists
        .iter()
        .position(|l| l.set == done.number)
        .context("a set finished before its hash list")?;
    let list = lists.remove(at);
    ready(SetReady {
        set: done,
        hashes: list.path,
        hashes_bytes: list.bytes,
        hashes_b3: list.b3,
        entries: list.entries,
    })
}

fn close_set(set: OpenSet) -> anyhow::Result<(Pipeline, HashList)> {
    let mut pipeline = set.tar.finish().context("ending the tar stream")?;
    pipeline.end_set().context("ending the set")?;
    let (file, bytes, b3) = set.hashes.finish()?.finish();
    let file = file
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", set.hashes_path.display()))?;
    file.sync_all()
        .with_context(|| format!("flushing {}", set.hashes_path.display()))?;
    let list = HashList {
        set: set.number,
        path: set.hashes_path,
        bytes,
        b3,
        entries: set.entries,
    };
    Ok((pipeline, list))
}

fn store_item(
    item: &PlanItem,
    names: &Names,
    set: &mut OpenSet,
    summary: &mut StoreSummary,
    warnings: &mut Vec<MetaWarning>,
) -> anyhow::Result<()> {
    let host = item.host_path();
    let shown = || host.display().to_string();
    let Ok(before) = fs::symlink_metadata(&host) else {
        if let Some(size) = item.size {
            // The catalog promised a file: keep the set consistent with zeros, and say so.
            let meta = placeholder(item, size);
            let outcome = set.tar.append(&meta, &mut io::empty())?;
            record(
                set,
                item,
                &outcome,
                false,
                Some("vanished before it was read".into()),
            )?;
        }
        summary.vanished.push(shown());
        return Ok(());
    };
    let visit = Visit {
        rel: item.rel_bytes(),
        host: host.clone(),
        meta: before.clone(),
    };
    let mut meta = entry_meta(&visit, names, item.link_bytes(), warnings);
    let Some(planned) = item.size else {
        set.tar.append(&meta, &mut io::empty())?;
        return Ok(());
    };
    if !before.is_file() {
        let meta = placeholder(item, planned);
        let outcome = set.tar.append(&meta, &mut io::empty())?;
        record(
            set,
            item,
            &outcome,
            true,
            Some("is no longer a regular file".into()),
        )?;
        summary.changed.push(shown());
        return Ok(());
    }
    let (offset, len) = match item.slice {
        Some((offset, len, total)) => {
            meta = slice_meta(&meta, offset, len, total);
            (offset, len)
        }
        None => {
            if let EntryKind::File { size, sparse } = &mut meta.kind {
                if *size != planned {
                    // The catalog's size is what the set holds: cut or padded to it.
                    *size = planned;
                    *sparse = None;
                }
            }
            (0, planned)
        }
    };
    let mut file = match File::open(&host) {
        Ok(f) => f,
        Err(e) => {
            let outcome = set.tar.append(&meta, &mut io::empty())?;
            record(set, item, &outcome, false, Some(e.to_string()))?;
            summary.unreadable.push(format!("{}: {e}", shown()));
            return Ok(());
        }
    };
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))
            .with_context(|| format!("seeking in {}", shown()))?;
    }
    let sparse = matches!(
        &meta.kind,
        EntryKind::File {
            sparse: Some(_),
            ..
        }
    );
    let outcome = if sparse {
        let EntryKind::File {
            sparse: Some(extents),
            ..
        } = &meta.kind
        else {
            unreachable!("checked just above")
        };
        let mut data = rescue_core::archive::ExtentReader::new(&mut file, extents.clone());
        set.tar.append(&meta, &mut data)?
    } else {
        set.tar.append(&meta, &mut (&mut file).take(len))?
    };
    let after = fs::symlink_metadata(&host).ok();
    let changed = outcome.short_by > 0
        || after.is_none_or(|a| {
            a.len() != before.len()
                || a.mtime() != before.mtime()
                || a.mtime_nsec() != before.mtime_nsec()
        })
        || (item.slice.is_none() && before.len() != planned);
    let error = outcome.read_error.as_ref().map(|e| e.to_string());
    if let Some(e) = &error {
        summary.unreadable.push(format!("{}: {e}", shown()));
    } else if changed {
        summary.changed.push(shown());
    }
    record(set, item, &outcome, changed, error)
}

fn record(
    set: &mut OpenSet,
    item: &PlanItem,
    outcome: &rescue_core::archive::AppendOutcome,
    changed: bool,
    error: Option<String>,
) -> anyhow::Result<()> {
    let b3 = outcome
        .b3
        .map(|h| *h.as_bytes())
        .unwrap_or(*blake3::hash(&[]).as_bytes());
    set.hashes.write(&HashRecord {
        index: item.i,
        b3,
        size: outcome.written + outcome.short_by,
        changed,
        error,
    })?;
    Ok(())
}

/// A regular file of `size` zeros standing in for one that vanished or changed type.
fn placeholder(item: &PlanItem, size: u64) -> EntryMeta {
    let size = item.slice.map(|s| s.1).unwrap_or(size);
    let mut meta = EntryMeta::new(item.rel_bytes(), EntryKind::File { size, sparse: None });
    if let Some((offset, _, total)) = item.slice {
        meta.slice = Some(rescue_core::archive::Slice { offset, total });
    }
    meta.mode = 0o600;
    meta
}
