//! Comparing a backup's catalog with a live tree: `mkrescue verify --against ROOT` and
//! restore-tui's compare mode.
//!
//! [`compare_tree`] walks ROOT in the catalog's sorted order and merges the two streams:
//! files missing from ROOT, files changed (type, size, mtime, mode, owner, link target,
//! device number; the content's BLAKE3 for regular files whose size and mtime match), and
//! files in ROOT the catalog does not have. It does not cross into other filesystems,
//! except where the catalog holds files below a mount point.
//!
//! Memory stays bounded: the catalog and the hash lists are streamed; only the first
//! `show` paths of each list are kept, with counts.

use crate::catalog::{join, CatalogError, CatalogKind, CatalogReader, HashListReader, Joined};
use crate::media::CATALOG_PATH;
use crate::volume::Volume;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What to compare, beyond the tree.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Paths named in each list; the rest are counted.
    pub show: usize,
    /// Files never looked at (the media being read, when it lies in the tree).
    pub skip: Vec<PathBuf>,
}

/// How far a comparison is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct CompareProgress<'a> {
    /// Catalog records compared with a live entry.
    pub compared: u64,
    /// Bytes of live content read and hashed.
    pub content_bytes: u64,
    /// The catalog or live path just dealt with.
    pub path: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("volume 1 of the backup (it holds the catalog) is not among the volumes found")]
    NoVolume1,
    #[error("opening the catalog {path}")]
    Catalog {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// What a comparison found. Serialized as `mkrescue verify --json` gives `against`.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub root: String,
    /// Catalog records compared with a live entry of the same path.
    pub compared: u64,
    /// Regular files whose content was read and hashed.
    pub content_checked: u64,
    /// Regular files whose content could not be compared: their hashes are on volumes not
    /// found, or the backup stored them while they changed or could not be read.
    pub content_unchecked: u64,
    pub missing: FileList,
    pub changed: ChangedList,
    /// Live files the catalog does not have.
    #[serde(rename = "new")]
    pub extra: FileList,
    /// Live files that could not be read or listed.
    pub errors: FileList,
    /// Bytes of live content read and hashed.
    #[serde(skip)]
    pub content_bytes: u64,
    /// Catalog records (or hash list lines) that could not be read: not compared.
    #[serde(skip)]
    pub catalog_errors: u64,
    /// Hash list lines that match no catalog record where they stand (the media check
    /// of `mkrescue verify` reports these in detail).
    #[serde(skip)]
    pub stray_hashes: u64,
}

impl CompareReport {
    /// Nothing compared yet.
    pub fn new(root: &Path) -> CompareReport {
        CompareReport {
            root: root.display().to_string(),
            compared: 0,
            content_checked: 0,
            content_unchecked: 0,
            missing: FileList::default(),
            changed: ChangedList::default(),
            extra: FileList::default(),
            errors: FileList::default(),
            content_bytes: 0,
            catalog_errors: 0,
            stray_hashes: 0,
        }
    }

    /// Files missing, changed, extra or unreadable.
    pub fn differences(&self) -> u64 {
        self.missing.count + self.changed.count + self.extra.count + self.errors.count
    }
}

/// The first paths of a list, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileList {
    pub count: u64,
    pub paths: Vec<String>,
}

impl FileList {
    /// Counts `path` and keeps it (shown with [`show_path`]) while fewer than `limit` are.
    pub fn push(&mut self, path: &[u8], limit: usize) {
        self.push_shown(show_path(path), limit);
    }

    pub fn push_shown(&mut self, shown: String, limit: usize) {
        self.count += 1;
        if self.paths.len() < limit {
            self.paths.push(shown);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds the paths of `other` after this list's own.
    pub fn extend(&mut self, other: &FileList, limit: usize) {
        for p in &other.paths {
            if self.paths.len() < limit {
                self.paths.push(p.clone());
            }
        }
        self.count += other.count;
    }

    /// How many are counted but not named.
    pub fn unlisted(&self) -> u64 {
        self.count.saturating_sub(self.paths.len() as u64)
    }
}

impl fmt::Display for FileList {
    /// "a, b and 12 more".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = self.unlisted();
        let n = self.paths.len();
        for (i, p) in self.paths.iter().enumerate() {
            if i > 0 {
                f.write_str(if i + 1 == n && more == 0 {
                    " and "
                } else {
                    ", "
                })?;
            }
            f.write_str(p)?;
        }
        match (n, more) {
            (0, 0) => Ok(()),
            (0, m) => write!(f, "{m} files"),
            (_, 0) => Ok(()),
            (_, m) => write!(f, " and {m} more"),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangedList {
    pub count: u64,
    pub files: Vec<Changed>,
}

impl ChangedList {
    /// How many are counted but not named.
    pub fn unlisted(&self) -> u64 {
        self.count.saturating_sub(self.files.len() as u64)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    pub path: String,
    /// What differs: "content (BLAKE3)", "size 10 -> 12", "type file -> dir" ...
    pub what: Vec<String>,
}

/// A path for messages: UTF-8 as it is, control characters, backslashes and bytes that are
/// not UTF-8 escaped (`new\nline`, `caf\xe9`).
pub fn show_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Catalog paths in the order of the sorted walk: component by component ("a/b" before
/// "a-c"), a directory before its contents; "." (the root) first.
pub fn walk_cmp(a: &[u8], b: &[u8]) -> Ordering {
    components(a).cmp(components(b))
}

fn components(p: &[u8]) -> impl Iterator<Item = &[u8]> {
    let p: &[u8] = if p == b"." { b"" } else { p };
    p.split(|b| *b == b'/').filter(|c| !c.is_empty())
}

/// Is `path` below `dir` (both catalog paths)?
pub fn is_below(path: &[u8], dir: &[u8]) -> bool {
    if dir == b"." {
        return path != b".";
    }
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}

/// Reads `r` to its end: its BLAKE3 and length.
pub fn hash_stream(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<([u8; 32], u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut n = 0u64;
    loop {
        match r.read(buf) {
            Ok(0) => return Ok((*hasher.finalize().as_bytes(), n)),
            Ok(k) => {
                hasher.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// One entry of the live tree.
struct Live {
    rel: Vec<u8>,
    host: PathBuf,
    meta: Metadata,
}

/// A sorted walk of a live tree, in the catalog's order; the caller says which
/// directories to enter.
struct LiveWalker {
    root: PathBuf,
    stack: Vec<std::vec::IntoIter<(Vec<u8>, PathBuf)>>,
    started: bool,
    /// (dev, ino) of what is never looked at.
    skip: HashSet<(u64, u64)>,
    errors: Vec<(PathBuf, io::Error)>,
}

impl LiveWalker {
    fn new(root: &Path, skip: HashSet<(u64, u64)>) -> LiveWalker {
        LiveWalker {
            root: root.to_path_buf(),
            stack: Vec::new(),
            started: false,
            skip,
            errors: Vec::new(),
        }
    }

    fn next(&mut self) -> Option<Live> {
        if !self.started {
            self.started = true;
            match fs::symlink_metadata(&self.root) {
                Ok(meta) => {
                    return Some(Live {
                        rel: b".".to_vec(),
                        host: self.root.clone(),
                        meta,
                    })
                }
                Err(e) => {
                    self.errors.push((self.root.clone(), e));
                    return None;
                }
            }
        }
        loop {
            let children = self.stack.last_mut()?;
            let Some((rel, host)) = children.next() else {
                self.stack.pop();
                continue;
            };
            match fs::symlink_metadata(&host) {
                Ok(meta) => {
                    if self.skip.contains(&(meta.dev(), meta.ino())) {
                        continue;
                    }
                    return Some(Live { rel, host, meta });
                }
                // Gone since the listing: as if it never was.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => self.errors.push((host, e)),
            }
        }
    }

    /// Lists a directory just returned by `next`, so its entries come next.
    fn enter(&mut self, dir: &Live) {
        let listing = match fs::read_dir(&dir.host) {
            Ok(it) => it,
            Err(e) => {
                self.errors.push((dir.host.clone(), e));
                return;
            }
        };
        let mut children = Vec::new();
        for entry in listing {
            match entry {
                Ok(e) => {
                    let mut rel = if dir.rel == b"." {
                        Vec::new()
                    } else {
                        let mut r = dir.rel.clone();
                        r.push(b'/');
                        r
                    };
                    rel.extend_from_slice(e.file_name().as_bytes());
                    children.push((rel, e.path()));
                }
                Err(e) => self.errors.push((dir.host.clone(), e)),
            }
        }
        children.sort();
        self.stack.push(children.into_iter());
    }
}

fn live_type(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    [
        (t.is_file(), "file"),
        (t.is_dir(), "dir"),
        (t.is_symlink(), "symlink"),
        (t.is_char_device(), "char"),
        (t.is_block_device(), "block"),
        (t.is_fifo(), "fifo"),
        (t.is_socket(), "socket"),
    ]
    .into_iter()
    .find_map(|(is, name)| is.then_some(name))
    .unwrap_or("unknown")
}

/// The catalog's type name, with a hard link counted as what its group's first name is
/// (`first`: that type, when it was seen; a file otherwise).
fn catalog_type(kind: &CatalogKind, first: Option<&'static str>) -> &'static str {
    match kind {
        CatalogKind::HardLink { .. } => first.unwrap_or("file"),
        k => k.type_name(),
    }
}

/// Hashes the live file slice by slice (`sizes` in order); `None` when the file is not
/// exactly that long. Adds what it reads to `read`.
fn hash_live(
    path: &Path,
    sizes: &[u64],
    buf: &mut [u8],
    read: &mut u64,
) -> io::Result<Option<Vec<[u8; 32]>>> {
    let mut file = File::open(path)?;
    let mut out = Vec::with_capacity(sizes.len());
    for &size in sizes {
        let (b3, n) = hash_stream(&mut (&mut file).take(size), buf)?;
        *read += n;
        if n != size {
            return Ok(None);
        }
        out.push(b3);
    }
    let mut one = [0u8; 1];
    if file.read(&mut one)? != 0 {
        return Ok(None);
    }
    Ok(Some(out))
}

struct Comparison {
    report: CompareReport,
    limit: usize,
    /// (dev, ino) of the live file of each catalog file with several names, by catalog
    /// index: to check that hard links still are.
    links: HashMap<u64, (u64, u64, &'static str)>,
    buf: Vec<u8>,
}

impl Comparison {
    fn changed(&mut self, path: &[u8], what: Vec<String>) {
        self.report.changed.count += 1;
        if self.report.changed.files.len() < self.limit {
            self.report.changed.files.push(Changed {
                path: show_path(path),
                what,
            });
        }
    }

    fn unreadable(&mut self, shown: String, e: &io::Error) {
        self.report
            .errors
            .push_shown(format!("{shown}: {e}"), self.limit);
    }

    fn compare(&mut self, j: &Joined, l: &Live) {
        self.report.compared += 1;
        let r = &j.record;
        let m = &l.meta;
        let mut what = Vec::new();
        let first = match &r.kind {
            CatalogKind::HardLink { link } => self.links.get(link).map(|l| l.2),
            _ => None,
        };
        let (want, got) = (catalog_type(&r.kind, first), live_type(m));
        // Any inode but a directory may have several names (symlinks, nodes, FIFOs too).
        if m.nlink() > 1 && !m.is_dir() && !matches!(r.kind, CatalogKind::HardLink { .. }) {
            self.links.insert(r.index, (m.dev(), m.ino(), got));
        }
        if want != got {
            what.push(format!("type {want} -> {got}"));
            self.changed(&r.path, what);
            return;
        }
        if !m.file_type().is_symlink() && m.mode() & 0o7777 != r.mode {
            what.push(format!("mode {:o} -> {:o}", r.mode, m.mode() & 0o7777));
        }
        if m.uid() != r.uid || m.gid() != r.gid {
            what.push(format!(
                "owner {}:{} -> {}:{}",
                r.uid,
                r.gid,
                m.uid(),
                m.gid()
            ));
        }
        match &r.kind {
            CatalogKind::File => {
                if m.len() != r.size {
                    what.push(format!("size {} -> {}", r.size, m.len()));
                }
                let mtime = (m.mtime(), m.mtime_nsec() as u32);
                if mtime != r.mtime {
                    what.push(format!(
                        "mtime {}.{:09} -> {}.{:09}",
                        r.mtime.0, r.mtime.1, mtime.0, mtime.1
                    ));
                }
                if what.is_empty() {
                    self.compare_content(j, l, &mut what);
                }
            }
            CatalogKind::HardLink { link } => {
                if let Some(&(dev, ino, _)) = self.links.get(link) {
                    if (dev, ino) != (m.dev(), m.ino()) {
                        what.push("no longer a hard link to the rest of its group".into());
                    }
                }
            }
            CatalogKind::Symlink { target } => match fs::read_link(&l.host) {
                Ok(t) if t.as_os_str().as_bytes() == target.as_slice() => {}
                Ok(t) => what.push(format!(
                    "target {} -> {}",
                    show_path(target),
                    show_path(t.as_os_str().as_bytes())
                )),
                Err(e) => self.unreadable(show_path(&l.rel), &e),
            },
            CatalogKind::Char { major, minor } | CatalogKind::Block { major, minor } => {
                let rdev = m.rdev();
                let now = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
                if now != (*major, *minor) {
                    what.push(format!("device {major}:{minor} -> {}:{}", now.0, now.1));
                }
            }
            CatalogKind::Dir | CatalogKind::Fifo => {}
        }
        if !what.is_empty() {
            self.changed(&r.path, what);
        }
    }

    /// The content of a file whose size and mtime match: read it and hash it like the
    /// backup did (each slice on its own).
    fn compare_content(&mut self, j: &Joined, l: &Live, what: &mut Vec<String>) {
        if !j.complete() || j.hashes.iter().any(|h| h.changed || h.error.is_some()) {
            self.report.content_unchecked += 1;
            return;
        }
        // A whole file is hashed whole (a sparse one's line gives only the size of its
        // data extents); the slices of a sliced file (never sparse) one by one.
        let sizes: Vec<u64> = if j.record.slices == 1 {
            vec![j.record.size]
        } else {
            j.hashes.iter().map(|h| h.size).collect()
        };
        match hash_live(
            &l.host,
            &sizes,
            &mut self.buf,
            &mut self.report.content_bytes,
        ) {
            Ok(Some(b3s)) => {
                self.report.content_checked += 1;
                if b3s.iter().zip(&j.hashes).any(|(b3, h)| *b3 != h.b3) {
                    what.push("content (BLAKE3)".into());
                }
            }
            Ok(None) => {
                self.report.content_checked += 1;
                what.push("content (length)".into());
            }
            Err(e) => self.unreadable(show_path(&l.rel), &e),
        }
    }
}

/// The catalog of volume 1, for reading.
fn open_catalog(volumes: &[Volume]) -> Result<CatalogReader<Box<dyn Read + Send>>, CompareError> {
    let first = volumes
        .iter()
        .find(|v| v.manifest().volume == 1)
        .ok_or(CompareError::NoVolume1)?;
    let catalog_error = |source| CompareError::Catalog {
        path: first.display_file(CATALOG_PATH),
        source,
    };
    let r = first.open_file(CATALOG_PATH).map_err(catalog_error)?;
    CatalogReader::new(r).map_err(|e| catalog_error(io::Error::other(e)))
}

/// Compares the backup whose volumes are `volumes` (one per number, in the order to prefer
/// when two list one set) with the tree at `root`. An error only when the catalog cannot
/// be opened; everything the walk meets is in the report. `progress` is called after each
/// entry.
pub fn compare_tree(
    volumes: &[Volume],
    root: &Path,
    opts: &CompareOptions,
    progress: &mut dyn FnMut(&CompareProgress<'_>),
) -> Result<CompareReport, CompareError> {
    let limit = opts.show;
    let catalog = open_catalog(volumes)?;
    let mut cmp = Comparison {
        report: CompareReport::new(root),
        limit,
        links: HashMap::new(),
        buf: vec![0u8; 256 << 10],
    };
    // The hash lists in set order (the first volume listing a set wins), opened one at a
    // time as the walk reaches them; one that cannot be opened leaves its files'
    // content unchecked.
    let mut sets: BTreeMap<u32, (&Volume, &str)> = BTreeMap::new();
    for v in volumes {
        for s in &v.manifest().sets {
            sets.entry(s.number).or_insert((v, s.hashes.as_str()));
        }
    }
    let hashes = sets.into_values().flat_map(|(v, file)| {
        v.open_file(file)
            .ok()
            .and_then(|r| HashListReader::new(r).ok())
            .into_iter()
            .flatten()
    });
    let mut joined = join(catalog, hashes).peekable();
    let (mut catalog_errors, mut stray_hashes) = (0u64, 0u64);
    let mut next_record = |joined: &mut std::iter::Peekable<_>| -> Option<Joined> {
        loop {
            match joined.next()? {
                Ok(j) => return Some(j),
                Err(CatalogError::Join { .. }) => stray_hashes += 1,
                Err(_) => catalog_errors += 1,
            }
        }
    };
    let skip: HashSet<(u64, u64)> = opts
        .skip
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    let root_dev = match fs::symlink_metadata(root) {
        Ok(m) => m.dev(),
        Err(e) => {
            cmp.unreadable(root.display().to_string(), &e);
            return Ok(cmp.report);
        }
    };
    let mut walker = LiveWalker::new(root, skip);
    let mut record = next_record(&mut joined);
    let mut live = walker.next();
    loop {
        let order = match (&record, &live) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(j), Some(l)) => walk_cmp(&j.record.path, &l.rel),
        };
        match order {
            Ordering::Less => {
                if let Some(j) = record.take() {
                    cmp.report.missing.push(&j.record.path, limit);
                    report_progress(&cmp.report, &j.record.path, progress);
                }
                record = next_record(&mut joined);
            }
            Ordering::Greater => {
                if let Some(l) = live.take() {
                    cmp.report.extra.push(&l.rel, limit);
                    // The contents of a new directory are new too (on this filesystem).
                    if l.meta.is_dir() && l.meta.dev() == root_dev {
                        walker.enter(&l);
                    }
                    report_progress(&cmp.report, &l.rel, progress);
                }
                live = walker.next();
            }
            Ordering::Equal => {
                let (Some(j), Some(l)) = (record.take(), live.take()) else {
                    break;
                };
                cmp.compare(&j, &l);
                if l.meta.is_dir() && j.record.kind == CatalogKind::Dir {
                    // Into another filesystem only where the backup went too.
                    let enter = l.meta.dev() == root_dev
                        || matches!(joined.peek(), Some(Ok(next))
                            if is_below(&next.record.path, &j.record.path));
                    if enter {
                        walker.enter(&l);
                    }
                }
                report_progress(&cmp.report, &j.record.path, progress);
                record = next_record(&mut joined);
                live = walker.next();
            }
        }
    }
    for (path, e) in walker.errors.drain(..) {
        cmp.unreadable(path.display().to_string(), &e);
    }
    cmp.report.catalog_errors = catalog_errors;
    cmp.report.stray_hashes = stray_hashes;
    Ok(cmp.report)
}

fn report_progress(
    report: &CompareReport,
    path: &[u8],
    progress: &mut dyn FnMut(&CompareProgress<'_>),
) {
    progress(&CompareProgress {
        compared: report.compared,
        content_bytes: report.content_bytes,
        path,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_is_component_by_component() {
        let mut paths: Vec<&[u8]> =
            vec![b"a-c", b"a/b", b".", b"a", b"a/b/c", b"b", b"a.d", b"a/ba"];
        paths.sort_by(|a, b| walk_cmp(a, b));
        assert_eq!(
            paths,
            vec![
                &b"."[..],
                b"a",
                b"a/b",
                b"a/b/c",
                b"a/ba",
                b"a-c",
                b"a.d",
                b"b"
            ]
        );
        assert!(is_below(b"a/b", b"a"));
        assert!(!is_below(b"ab", b"a"));
        assert!(!is_below(b"a", b"a"));
        assert!(is_below(b"a", b"."));
    }

    #[test]
    fn paths_are_shown_escaped() {
        assert_eq!(show_path(b"home/ann/new\nline"), "home/ann/new\\nline");
        assert_eq!(show_path(b"caf\xe9-latin1"), "caf\\xe9-latin1");
        assert_eq!(show_path("é \\".as_bytes()), "é \\\\");
    }

    #[test]
    fn file_lists_name_the_first_and_count_the_rest() {
        let mut l = FileList::default();
        assert_eq!(l.to_string(), "");
        l.push(b"a", 2);
        assert_eq!(l.to_string(), "a");
        l.push(b"b", 2);
        assert_eq!(l.to_string(), "a and b");
        for _ in 0..12 {
            l.push(b"x", 2);
        }
        assert_eq!(l.to_string(), "a, b and 12 more");
        assert_eq!(l.unlisted(), 12);
        let l = FileList {
            count: 3,
            paths: vec![],
        };
        assert_eq!(l.to_string(), "3 files");
    }
}
