//! Pass 2: write the planned entries into archive sets, hashing every file as it is read
//! and noticing files that change or fail while they are read.

use super::pipeline::{Pipeline, SetDone};
use super::plan::PlanItem;
use anyhow::Context;
use rescue_core::archive::{EntryKind, TarWriter};
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
    items: &mut dyn Iterator<Item = PlanItem>,
    ready: &mut dyn FnMut(SetReady) -> anyhow::Result<()>,
) -> anyhow::Result<StoreSummary> {
    let mut summary = StoreSummary::default();
    let mut pipeline = Some(Pipeline::start(
        opts.dir,
        opts.compression,
        opts.level,
        opts.workers,
    ));
    let mut open: Option<OpenSet> = None;
    let mut hash_lists: Vec<HashList> = Vec::new();

    for item in items {
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
            let hashes = HashListWriter::new(Blake3Writer::new(BufWriter::new(file)))
                .with_context(|| format!("writing {}", hashes_path.display()))?;
            open = Some(OpenSet {
                number: item.set,
                tar: TarWriter::new(p),
                hashes,
                hashes_path,
                entries: 0,
            });
            deliver(&mut pipeline, &mut open, &mut hash_lists, ready)?;
        }
        let set = open.as_mut().context("no open set")?;
        store_item(&item, set, &mut summary)?;
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
    let writing = || format!("writing {}", set.hashes_path.display());
    let (file, bytes, b3) = set.hashes.finish().with_context(writing)?.finish();
    let file = file
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(writing)?;
    drop(file);
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
    set: &mut OpenSet,
    summary: &mut StoreSummary,
) -> anyhow::Result<()> {
    let Some((seen_size, seen_mtime)) = item.seen else {
        // Everything but a regular file's data was read in pass 1.
        set.tar.append(&item.meta, &mut io::empty())?;
        return Ok(());
    };
    let shown = || item.host.display().to_string();
    let mut file = match File::open(&item.host) {
        Ok(f) => f,
        Err(e) => {
            // The catalog promised the file: the set keeps its place (zeros), and says so.
            let outcome = set.tar.append(&item.meta, &mut io::empty())?;
            let what = if e.kind() == io::ErrorKind::NotFound {
                summary.vanished.push(shown());
                "vanished before it was read".to_string()
            } else {
                summary.unreadable.push(format!("{}: {e}", shown()));
                e.to_string()
            };
            return record(set, item, &outcome, false, Some(what));
        }
    };
    let before = file
        .metadata()
        .with_context(|| format!("reading the metadata of {}", shown()))?;
    if !before.is_file() {
        let outcome = set.tar.append(&item.meta, &mut io::empty())?;
        summary.changed.push(shown());
        return record(
            set,
            item,
            &outcome,
            true,
            Some("is no longer a regular file".into()),
        );
    }
    if item.offset > 0 {
        file.seek(SeekFrom::Start(item.offset))
            .with_context(|| format!("seeking in {}", shown()))?;
    }
    let outcome = match &item.meta.kind {
        EntryKind::File {
            sparse: Some(extents),
            ..
        } => {
            let mut data = rescue_core::archive::ExtentReader::new(&mut file, extents.clone());
            set.tar.append(&item.meta, &mut data)?
        }
        EntryKind::File { size, .. } => set.tar.append(&item.meta, &mut (&mut file).take(*size))?,
        _ => set.tar.append(&item.meta, &mut io::empty())?,
    };
    let after = file.metadata().ok();
    let mtime = |m: &fs::Metadata| (m.mtime(), m.mtime_nsec() as u32);
    let changed = outcome.short_by > 0
        || before.len() != seen_size
        || mtime(&before) != seen_mtime
        || after.is_none_or(|a| a.len() != before.len() || mtime(&a) != mtime(&before));
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
    set.hashes
        .write(&HashRecord {
            index: item.i,
            b3,
            size: outcome.written + outcome.short_by,
            changed,
            error,
        })
        .with_context(|| format!("writing {}", set.hashes_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::archive::EntryMeta;

    fn dir_item(i: u64, path: &str, host: &Path) -> PlanItem {
        PlanItem {
            i,
            set: 1,
            meta: EntryMeta::new(path, EntryKind::Dir),
            host: host.to_path_buf(),
            seen: None,
            offset: 0,
        }
    }

    /// /dev/full fails every write with ENOSPC, as a full disk does.
    #[test]
    fn a_full_disk_under_a_hash_list_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let hashes = dir.path().join("set-00001.hashes.zst");
        std::os::unix::fs::symlink("/dev/full", &hashes).unwrap();
        let opts = Options {
            root: dir.path(),
            dir: dir.path(),
            compression: Compression::None,
            level: 1,
            workers: 1,
        };
        let mut items = vec![dir_item(0, ".", dir.path())].into_iter();
        let err = store(&opts, &mut items, &mut |_| Ok(())).unwrap_err();
        let chain = format!("{err:#}");
        assert!(
            chain.starts_with(&format!("writing {}: ", hashes.display())),
            "{chain}"
        );
        assert!(chain.contains("No space left on device"), "{chain}");
    }
}
