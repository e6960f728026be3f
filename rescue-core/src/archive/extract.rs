//! Recreating entries under a target root, exactly and safely.
//!
//! Every path is walked from the root one component at a time with `openat(O_NOFOLLOW)`:
//! no symlink is ever followed, whether the archive made it or it was there before. Paths
//! with `..` components or a leading `/` are refused, and so are hard links whose target
//! is; a refusal is an error naming the entry, and the other entries go on.
//!
//! Directories get their mode, extended attributes and times when the walk leaves them
//! (the next entry is not inside them), so files can be created in a read-only directory
//! and its mtime is not disturbed afterwards; memory holds only the chain of directories
//! the current entry is in. [`Extractor::finish`] completes the rest. Use one extractor
//! for a whole restore, all sets in order: a directory's contents and a sliced file's
//! pieces can span sets.
//!
//! What is created gets exactly the stored xattrs: ACLs inherited from a directory's
//! default ACL are removed when the entry has none.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;

use super::acl;
use super::meta::{lossy, EntryKind, EntryMeta};
use super::reader::EntryData;
use super::writer::{hash_zeros, validate};
use super::ArchiveError;

/// A path as its components.
type Comps = Vec<Vec<u8>>;

/// Extracts entries into a root directory.
#[derive(Debug)]
pub struct Extractor {
    root: PathBuf,
    root_fd: OwnedFd,
    /// Path prefix renames, as given and as components.
    mapping: Vec<(Vec<u8>, Vec<u8>)>,
    mapping_comps: Vec<(Comps, Comps)>,
    numeric_owner: bool,
    set_owner: bool,
    verify: bool,
    names_root: PathBuf,
    names: Option<Names>,
    /// `/proc/self/fd` is there: path-based calls go through the parent's fd.
    proc_fd: bool,
    /// The directory the last entry was created in, and whether it has a default ACL
    /// (then what is created in it inherits ACLs that may have to be removed).
    parent: Option<(Vec<Vec<u8>>, OwnedFd, bool)>,
    /// Directories still to be completed, outermost first.
    pending: Vec<PendingDir>,
    /// Errors completing directories, reported by [`Extractor::take_errors`] and
    /// [`Extractor::finish`].
    deferred: Vec<ArchiveError>,
    buf: Vec<u8>,
    /// The current entry's directory has a default ACL.
    inherits: bool,
    /// The root's own entry (`.`) leaves the root's owner, mode and times as they are.
    keep_root: bool,
    /// No device nodes, no setuid/setgid bits, no file capabilities.
    no_special: bool,
    /// The file whose slices are being written: only its next slice may continue it, into
    /// the file this extractor created (never whatever is at that path by then).
    slicing: Option<SliceInProgress>,
}

#[derive(Debug)]
struct SliceInProgress {
    comps: Vec<Vec<u8>>,
    file: File,
    /// Where the next slice must start.
    next: u64,
}

#[derive(Debug)]
struct PendingDir {
    comps: Vec<Vec<u8>>,
    display: String,
    mode: u32,
    mtime: (i64, u32),
    atime: Option<(i64, u32)>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What [`Extractor::extract`] made.
#[derive(Debug)]
pub struct Extracted {
    /// Where the entry is, relative to the root (after the mapping); empty for the root.
    pub path: Vec<u8>,
    /// Content bytes of a regular file (of the slice, for a slice).
    pub bytes: u64,
    /// BLAKE3 of the content as written (holes as zeros; the slice's, for a slice), when
    /// verifying and the entry is a regular file: compare with the set's hash list.
    pub b3: Option<blake3::Hash>,
    /// False for a slice that is not the file's last: the file's metadata comes with the
    /// last one.
    pub complete: bool,
    /// Metadata the filesystem refused (an owner, an xattr, times): the entry itself is
    /// there.
    pub problems: Vec<ArchiveError>,
}

/// A failure while walking to an entry.
enum WalkError {
    Unsafe(String),
    Io(String, io::Error),
}

impl Extractor {
    /// An extractor into `root`, which must be an existing directory. Owners are set when
    /// running as root, by number; content is not hashed; no mapping.
    pub fn new(root: impl Into<PathBuf>) -> Result<Extractor, ArchiveError> {
        let root = root.into();
        let root_fd = rfs::open(
            &root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ArchiveError::Extract {
            path: root.display().to_string(),
            action: "opening the target root".into(),
            source: e.into(),
        })?;
        Ok(Extractor {
            root,
            root_fd,
            mapping: Vec::new(),
            mapping_comps: Vec::new(),
            numeric_owner: true,
            set_owner: rustix::process::geteuid().is_root(),
            verify: false,
            names_root: PathBuf::from("/"),
            names: None,
            proc_fd: Path::new("/proc/self/fd").is_dir(),
            parent: None,
            pending: Vec::new(),
            deferred: Vec::new(),
            buf: vec![0; 256 * 1024],
            inherits: true,
            keep_root: false,
            no_special: false,
            slicing: None,
        })
    }

    /// Whether the archive's entry for the root itself (`.`) leaves the root directory's
    /// owner, mode, xattrs and times as they are (default: it sets them, as a restore
    /// onto a new filesystem needs). A restore into an existing directory keeps it.
    pub fn keep_root(mut self, keep: bool) -> Extractor {
        self.keep_root = keep;
        self
    }

    /// Whether to leave out what gives privileges (default: keep everything): device nodes
    /// are skipped (reported as [`ArchiveError::Skipped`]), setuid and setgid bits are
    /// cleared and the `security.capability` xattr is not set.
    pub fn no_special(mut self, no_special: bool) -> Extractor {
        self.no_special = no_special;
        self
    }

    /// Path prefix renames, applied on whole components, the longest matching prefix
    /// first: `("home", "tmp/home")` puts `home/ann/x` at `tmp/home/ann/x`. A target may be
    /// empty (the root). Sources and targets follow the rules of entry paths.
    pub fn mapping(mut self, mapping: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Extractor, ArchiveError> {
        let mut comps = Vec::new();
        for (from, to) in &mapping {
            let check = |p: &[u8]| {
                if p.is_empty() {
                    Ok(Vec::new())
                } else {
                    components(p)
                }
            };
            let f =
                check(from).map_err(|reason| unsafe_err(from, &format!("mapping: {reason}")))?;
            let t = check(to).map_err(|reason| unsafe_err(to, &format!("mapping: {reason}")))?;
            comps.push((f, t));
        }
        self.mapping = mapping;
        self.mapping_comps = comps;
        Ok(self)
    }

    /// The mapping in force.
    pub fn mapping_list(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.mapping
    }

    /// Owners by number (the default), or by the stored user and group names looked up in
    /// `etc/passwd` and `etc/group` under [`Extractor::names_from`] (numbers when a name is
    /// unknown there).
    pub fn numeric_owner(mut self, numeric: bool) -> Extractor {
        self.numeric_owner = numeric;
        self
    }

    /// Where names are looked up when not numeric: "/" by default.
    pub fn names_from(mut self, root: impl Into<PathBuf>) -> Extractor {
        self.names_root = root.into();
        self.names = None;
        self
    }

    /// Whether to set owners at all (default: when running as root).
    pub fn set_owner(mut self, set: bool) -> Extractor {
        self.set_owner = set;
        self
    }

    /// Whether to hash each regular file's content as it is written (BLAKE3).
    pub fn verify(mut self, verify: bool) -> Extractor {
        self.verify = verify;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where an entry path lands, relative to the root: checked and mapped.
    pub fn mapped_path(&self, path: &[u8]) -> Result<Vec<u8>, ArchiveError> {
        let comps = components(path).map_err(|r| unsafe_err(path, &r))?;
        Ok(self.map(comps).join(&b'/'))
    }

    fn map(&self, comps: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let best = self
            .mapping_comps
            .iter()
            .filter(|(from, _)| comps.starts_with(from))
            .max_by_key(|(from, _)| from.len());
        match best {
            Some((from, to)) => to.iter().chain(&comps[from.len()..]).cloned().collect(),
            None => comps,
        }
    }

    /// Extracts one entry read by [`TarReader`](super::TarReader).
    pub fn extract(
        &mut self,
        meta: &EntryMeta,
        data: &mut EntryData<'_>,
    ) -> Result<Extracted, ArchiveError> {
        if let (
            EntryKind::File {
                sparse: Some(ext), ..
            },
            Some(dext),
        ) = (&meta.kind, data.sparse_map())
        {
            if ext.as_slice() != dext {
                return Err(unsafe_err(&meta.path, "sparse map differs from the data's"));
            }
        }
        self.extract_from(meta, &mut data.stored())
    }

    /// Extracts one entry whose stored bytes come from `stored`: a regular file's content,
    /// or for a sparse one its extents back to back (what [`TarWriter::append`] takes).
    ///
    /// [`TarWriter::append`]: super::TarWriter::append
    pub fn extract_from(
        &mut self,
        meta: &EntryMeta,
        stored: &mut dyn Read,
    ) -> Result<Extracted, ArchiveError> {
        let display = meta.display_path();
        let comps = components(&meta.path).map_err(|r| unsafe_err(&meta.path, &r))?;
        if comps.is_empty() && meta.kind != EntryKind::Dir {
            return Err(unsafe_err(
                &meta.path,
                "only a directory can be the root itself",
            ));
        }
        validate(meta).map_err(|r| unsafe_err(&meta.path, &format!("invalid entry: {r}")))?;
        let mapped = self.map(comps);
        // Complete the directories this entry is not inside.
        while let Some(top) = self.pending.last() {
            if top.comps.len() < mapped.len() && mapped.starts_with(&top.comps) {
                break;
            }
            let dir = self.pending.pop().expect("checked");
            self.complete_dir(dir);
        }
        let mut out = Extracted {
            path: mapped.join(&b'/'),
            bytes: 0,
            b3: None,
            complete: true,
            problems: Vec::new(),
        };
        if self.no_special
            && matches!(
                meta.kind,
                EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. }
            )
        {
            return Err(ArchiveError::Skipped {
                path: display,
                reason: "a device node (device nodes are left out)".into(),
            });
        }
        let stripped;
        let meta = if self.no_special {
            stripped = without_privileges(meta);
            &stripped
        } else {
            meta
        };
        let Some((name, parent_comps)) = mapped.split_last() else {
            if self.keep_root {
                return Ok(out);
            }
            // The root directory itself: owner now, the rest when done.
            let root_fd = self
                .root_fd
                .try_clone()
                .map_err(|e| extract_err(&display, "opening the root", e))?;
            if let Err(e) = self.chown_fd(root_fd.as_fd(), meta) {
                out.problems
                    .push(extract_err(&display, "setting the owner", e));
            }
            self.push_pending(mapped, display, meta);
            return Ok(out);
        };
        let (pcomps, pfd, inherits) = self.take_parent(parent_comps, &display)?;
        self.inherits = inherits;
        let result = self.create(&pfd, name, &mapped, meta, stored, &display, &mut out);
        self.parent = Some((pcomps, pfd, inherits));
        result.map(|()| out)
    }

    /// The directory an entry goes in, from the cache or walked to (and created).
    fn take_parent(
        &mut self,
        comps: &[Vec<u8>],
        display: &str,
    ) -> Result<(Vec<Vec<u8>>, OwnedFd, bool), ArchiveError> {
        if let Some((c, fd, inherits)) = self.parent.take() {
            if c == comps {
                return Ok((c, fd, inherits));
            }
        }
        match self.walk(comps, true, OFlags::PATH) {
            Ok(fd) => {
                let inherits = !self.proc_fd
                    || rfs::getxattr(
                        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
                        acl::XATTR_DEFAULT,
                        &mut [0u8; 0][..],
                    )
                    .is_ok();
                Ok((comps.to_vec(), fd, inherits))
            }
            Err(WalkError::Unsafe(r)) => Err(ArchiveError::Unsafe {
                path: display.to_string(),
                reason: r,
            }),
            Err(WalkError::Io(action, e)) => Err(extract_err(display, &action, e)),
        }
    }

    /// Opens the directory `comps` under the root without following any symlink,
    /// creating missing ones when asked.
    fn walk(&self, comps: &[Vec<u8>], create: bool, flags: OFlags) -> Result<OwnedFd, WalkError> {
        let open_flags = flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut cur = rfs::openat(&self.root_fd, ".", open_flags, Mode::empty())
            .map_err(|e| WalkError::Io("opening the target root".into(), e.into()))?;
        for (i, c) in comps.iter().enumerate() {
            let so_far = || lossy(&comps[..=i].join(&b'/'));
            let mut r = rfs::openat(&cur, c.as_slice(), open_flags, Mode::empty());
            if matches!(r, Err(Errno::NOENT)) && create {
                match rfs::mkdirat(&cur, c.as_slice(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(WalkError::Io(
                            format!("creating the directory {}", so_far()),
                            e.into(),
                        ));
                    }
                }
                r = rfs::openat(&cur, c.as_slice(), open_flags, Mode::empty());
            }
            cur = match r {
                Ok(fd) => fd,
                Err(e) => {
                    let is_link = rfs::statat(&cur, c.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
                    if is_link {
                        return Err(WalkError::Unsafe(format!("{} is a symlink", so_far())));
                    }
                    return Err(WalkError::Io(
                        format!("opening the directory {}", so_far()),
                        e.into(),
                    ));
                }
            };
        }
        Ok(cur)
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        pfd: &OwnedFd,
        name: &[u8],
        mapped: &[Vec<u8>],
        meta: &EntryMeta,
        stored: &mut dyn Read,
        display: &str,
        out: &mut Extracted,
    ) -> Result<(), ArchiveError> {
        let fail = |action: &str, e: Errno| extract_err(display, action, e.into());
        match &meta.kind {
            EntryKind::Dir => {
                match rfs::mkdirat(pfd, name, Mode::from_raw_mode(0o700)) {
                    Err(Errno::EXIST) if !self.clear(pfd, name, true, display)? => {
                        rfs::mkdirat(pfd, name, Mode::from_raw_mode(0o700))
                            .map_err(|e| fail("creating the directory", e))?
                    }
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(fail("creating the directory", e)),
                }
                if let Err(e) = self.chown_at(pfd, name, meta) {
                    out.problems
                        .push(extract_err(display, "setting the owner", e));
                }
                self.push_pending(mapped.to_vec(), display.to_string(), meta);
            }
            EntryKind::File { size, sparse } => {
                let (offset, last) = match meta.slice {
                    Some(s) => (s.offset, s.offset + size == s.total),
                    None => (0, true),
                };
                let held = if offset == 0 {
                    None
                } else {
                    Some(self.take_slice(mapped, offset, display)?)
                };
                let fd = if let Some(file) = held {
                    OwnedFd::from(file)
                } else {
                    self.make(pfd, name, display, "creating the file", || {
                        rfs::openat(
                            pfd,
                            name,
                            OFlags::WRONLY
                                | OFlags::CREATE
                                | OFlags::EXCL
                                | OFlags::NOFOLLOW
                                | OFlags::CLOEXEC,
                            Mode::from_raw_mode(0o600),
                        )
                    })?
                };
                let mut file = File::from(fd);
                let (bytes, b3) = self.write_content(
                    &mut file,
                    offset,
                    *size,
                    sparse.as_deref(),
                    stored,
                    display,
                )?;
                out.bytes = bytes;
                out.b3 = b3;
                out.complete = last;
                // The size, when the content may end in a hole: the file's at its last slice,
                // at least up to the slice's end before that.
                let end = match meta.slice {
                    Some(s) if last => Some(s.total),
                    Some(_) => {
                        let now = file
                            .metadata()
                            .map_err(|e| extract_err(display, "looking at the file", e))?
                            .len();
                        Some(now.max(offset + size))
                    }
                    None => sparse.as_ref().map(|_| *size),
                };
                if let Some(end) = end {
                    file.set_len(end)
                        .map_err(|e| extract_err(display, "setting the size", e))?;
                }
                if last {
                    self.finish_fd(file.as_fd(), meta, display, &mut out.problems);
                } else {
                    self.slicing = Some(SliceInProgress {
                        comps: mapped.to_vec(),
                        file,
                        next: offset + size,
                    });
                }
            }
            EntryKind::HardLink { target } => {
                let tcomps = components(target)
                    .map_err(|r| unsafe_err(&meta.path, &format!("hard link target: {r}")))?;
                let tmapped = self.map(tcomps);
                let Some((tname, tparent)) = tmapped.split_last() else {
                    return Err(unsafe_err(&meta.path, "hard link to the root"));
                };
                if tmapped.as_slice() == mapped {
                    return Err(unsafe_err(&meta.path, "hard link to itself"));
                }
                let tfd = match self.walk(tparent, false, OFlags::PATH) {
                    Ok(fd) => fd,
                    Err(WalkError::Unsafe(r)) => {
                        return Err(unsafe_err(&meta.path, &format!("hard link target: {r}")));
                    }
                    Err(WalkError::Io(action, e)) => {
                        return Err(extract_err(
                            display,
                            &format!("hard link target: {action}"),
                            e,
                        ));
                    }
                };
                let action = format!("linking to {}", lossy(target));
                self.make(pfd, name, display, &action, || {
                    rfs::linkat(&tfd, tname.as_slice(), pfd, name, AtFlags::empty())
                })?;
            }
            EntryKind::Symlink { target } => {
                self.make(pfd, name, display, "creating the symlink", || {
                    rfs::symlinkat(target.as_slice(), pfd, name)
                })?;
                self.finish_at(pfd, mapped, meta, display, false, &mut out.problems);
            }
            EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } | EntryKind::Fifo => {
                let (ft, dev) = match meta.kind {
                    EntryKind::CharDevice { major, minor } => {
                        (FileType::CharacterDevice, rfs::makedev(major, minor))
                    }
                    EntryKind::BlockDevice { major, minor } => {
                        (FileType::BlockDevice, rfs::makedev(major, minor))
                    }
                    _ => (FileType::Fifo, 0),
                };
                self.make(pfd, name, display, "creating the node", || {
                    rfs::mknodat(pfd, name, ft, Mode::from_raw_mode(0o600), dev)
                })?;
                self.finish_at(pfd, mapped, meta, display, true, &mut out.problems);
            }
        }
        Ok(())
    }

    /// Creates with `f`; when something is in the way, removes it and tries again.
    fn make<T>(
        &mut self,
        pfd: &OwnedFd,
        name: &[u8],
        display: &str,
        action: &str,
        mut f: impl FnMut() -> rustix::io::Result<T>,
    ) -> Result<T, ArchiveError> {
        match f() {
            Err(Errno::EXIST) => {
                self.clear(pfd, name, false, display)?;
                f().map_err(|e| extract_err(display, action, e.into()))
            }
            r => r.map_err(|e| extract_err(display, action, e.into())),
        }
    }

    /// Removes whatever is at `name` (never following it), except a directory when
    /// `keep_dir`: then true says one is there.
    fn clear(
        &mut self,
        pfd: &OwnedFd,
        name: &[u8],
        keep_dir: bool,
        display: &str,
    ) -> Result<bool, ArchiveError> {
        let st = match rfs::statat(pfd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(extract_err(display, "looking at what is there", e.into())),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            if keep_dir {
                return Ok(true);
            }
            rfs::unlinkat(pfd, name, AtFlags::REMOVEDIR)
                .map_err(|e| extract_err(display, "removing the directory in the way", e.into()))?;
        } else {
            rfs::unlinkat(pfd, name, AtFlags::empty())
                .map_err(|e| extract_err(display, "removing what is in the way", e.into()))?;
        }
        Ok(false)
    }

    /// The file a slice at `offset` continues: the one this extractor created for the
    /// slices before it, which must have ended exactly there. Whatever else is at that
    /// path (a FIFO, a device node, a symlink, a file of another run) is never opened.
    fn take_slice(
        &mut self,
        mapped: &[Vec<u8>],
        offset: u64,
        display: &str,
    ) -> Result<File, ArchiveError> {
        match self.slicing.take() {
            Some(s) if s.comps == mapped && s.next == offset => Ok(s.file),
            Some(s) if s.comps == mapped => Err(ArchiveError::Slice {
                path: display.to_string(),
                reason: format!(
                    "the slice starts at byte {offset} but the slices before it end at byte {}: \
                     a slice is missing",
                    s.next
                ),
            }),
            other => {
                self.slicing = other;
                Err(ArchiveError::Slice {
                    path: display.to_string(),
                    reason: format!(
                        "the slice at byte {offset} has no earlier slices before it in this \
                         restore"
                    ),
                })
            }
        }
    }

    /// Writes the content at `base` (the slice's offset), seeking over holes.
    fn write_content(
        &mut self,
        file: &mut File,
        base: u64,
        size: u64,
        extents: Option<&[(u64, u64)]>,
        stored: &mut dyn Read,
        display: &str,
    ) -> Result<(u64, Option<blake3::Hash>), ArchiveError> {
        let mut buf = std::mem::take(&mut self.buf);
        let mut hasher = self.verify.then(blake3::Hasher::new);
        let result = (|| {
            let whole = [(0, size)];
            let list = extents.unwrap_or(&whole);
            let mut pos = 0u64;
            // The file's position: it was just opened.
            let mut at = 0u64;
            for &(off, len) in list {
                if let Some(h) = hasher.as_mut() {
                    hash_zeros(h, off - pos);
                }
                if base + off != at {
                    file.seek(SeekFrom::Start(base + off))
                        .map_err(|e| extract_err(display, "seeking in the file", e))?;
                }
                at = base + off + len;
                let mut left = len;
                while left > 0 {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = match stored.read(&mut buf[..want]) {
                        Ok(0) => {
                            return Err(ArchiveError::Data {
                                path: display.to_string(),
                                source: io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    "the data ended early",
                                ),
                            })
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(ArchiveError::Data {
                                path: display.to_string(),
                                source: e,
                            })
                        }
                    };
                    file.write_all(&buf[..n])
                        .map_err(|e| extract_err(display, "writing", e))?;
                    if let Some(h) = hasher.as_mut() {
                        h.update(&buf[..n]);
                    }
                    left -= n as u64;
                }
                pos = off + len;
            }
            if let Some(h) = hasher.as_mut() {
                hash_zeros(h, size - pos);
            }
            Ok((size, hasher.map(|h| h.finalize())))
        })();
        self.buf = buf;
        result
    }

    fn ids(&mut self, meta: &EntryMeta) -> (Option<Uid>, Option<Gid>) {
        let (mut uid, mut gid) = (meta.uid, meta.gid);
        if !self.numeric_owner {
            let names = self
                .names
                .get_or_insert_with(|| Names::load(&self.names_root));
            if let Some(u) = meta.user.as_ref().and_then(|n| names.users.get(n)) {
                uid = *u;
            }
            if let Some(g) = meta.group.as_ref().and_then(|n| names.groups.get(n)) {
                gid = *g;
            }
        }
        (
            (uid != u32::MAX).then(|| Uid::from_raw(uid)),
            (gid != u32::MAX).then(|| Gid::from_raw(gid)),
        )
    }

    fn chown_fd(&mut self, fd: BorrowedFd<'_>, meta: &EntryMeta) -> io::Result<()> {
        if !self.set_owner {
            return Ok(());
        }
        let (u, g) = self.ids(meta);
        rfs::fchown(fd, u, g).map_err(Into::into)
    }

    fn chown_at(&mut self, pfd: &OwnedFd, name: &[u8], meta: &EntryMeta) -> io::Result<()> {
        if !self.set_owner {
            return Ok(());
        }
        let (u, g) = self.ids(meta);
        rfs::chownat(pfd, name, u, g, AtFlags::SYMLINK_NOFOLLOW).map_err(Into::into)
    }

    /// Owner, mode, xattrs and times of an open file, in that order (a chown clears
    /// setuid bits and capabilities).
    fn finish_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        meta: &EntryMeta,
        display: &str,
        problems: &mut Vec<ArchiveError>,
    ) {
        if let Err(e) = self.chown_fd(fd, meta) {
            problems.push(extract_err(display, "setting the owner", e));
        }
        if let Err(e) = rfs::fchmod(fd, Mode::from_raw_mode(meta.mode & 0o7777)) {
            problems.push(extract_err(display, "setting the mode", e.into()));
        }
        set_xattrs(
            |n, v| rfs::fsetxattr(fd, n, v, XattrFlags::empty()),
            self.inherits
                .then_some(|n: &OsStr| rfs::fremovexattr(fd, n)),
            &meta.xattrs,
            display,
            problems,
        );
        if let Err(e) = rfs::futimens(fd, &timestamps(meta.mtime, meta.atime)) {
            problems.push(extract_err(display, "setting the times", e.into()));
        }
    }

    /// The same for what cannot be opened (symlinks, nodes), by name in its directory.
    fn finish_at(
        &mut self,
        pfd: &OwnedFd,
        mapped: &[Vec<u8>],
        meta: &EntryMeta,
        display: &str,
        chmod: bool,
        problems: &mut Vec<ArchiveError>,
    ) {
        let name = mapped.last().map_or(&b"."[..], |n| n);
        if let Err(e) = self.chown_at(pfd, name, meta) {
            problems.push(extract_err(display, "setting the owner", e));
        }
        if chmod {
            // Just made by mknodat: not a symlink.
            if let Err(e) = rfs::chmodat(
                pfd,
                name,
                Mode::from_raw_mode(meta.mode & 0o7777),
                AtFlags::empty(),
            ) {
                problems.push(extract_err(display, "setting the mode", e.into()));
            }
        }
        // (symlinks have no ACLs; nodes inherit them like files)
        if !meta.xattrs.is_empty() || (self.inherits && chmod) {
            let path = self.path_via(pfd, mapped);
            set_xattrs(
                |n, v| rfs::lsetxattr(path.as_os_str(), n, v, XattrFlags::empty()),
                (self.inherits && chmod)
                    .then_some(|n: &OsStr| rfs::lremovexattr(path.as_os_str(), n)),
                &meta.xattrs,
                display,
                problems,
            );
        }
        if let Err(e) = rfs::utimensat(
            pfd,
            name,
            &timestamps(meta.mtime, meta.atime),
            AtFlags::SYMLINK_NOFOLLOW,
        ) {
            problems.push(extract_err(display, "setting the times", e.into()));
        }
    }

    /// A path to `name` in the directory `pfd` for the calls that only take paths
    /// (lsetxattr): through /proc/self/fd when there is one, so nothing is resolved again.
    fn path_via(&self, pfd: &OwnedFd, mapped: &[Vec<u8>]) -> PathBuf {
        if self.proc_fd {
            let mut p = PathBuf::from(format!("/proc/self/fd/{}", pfd.as_raw_fd()));
            p.push(OsStr::from_bytes(mapped.last().map_or(&b"."[..], |n| n)));
            p
        } else {
            self.root.join(OsStr::from_bytes(&mapped.join(&b'/')))
        }
    }

    fn push_pending(&mut self, comps: Vec<Vec<u8>>, display: String, meta: &EntryMeta) {
        self.pending.push(PendingDir {
            comps,
            display,
            mode: meta.mode,
            mtime: meta.mtime,
            atime: meta.atime,
            xattrs: meta.xattrs.clone(),
        });
    }

    /// Mode, xattrs and times of a directory the walk has left.
    fn complete_dir(&mut self, dir: PendingDir) {
        let fd = match self.walk(&dir.comps, false, OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(WalkError::Unsafe(r)) => {
                self.deferred.push(ArchiveError::Unsafe {
                    path: dir.display,
                    reason: r,
                });
                return;
            }
            Err(WalkError::Io(action, e)) => {
                self.deferred.push(extract_err(&dir.display, &action, e));
                return;
            }
        };
        let mut problems = Vec::new();
        if let Err(e) = rfs::fchmod(&fd, Mode::from_raw_mode(dir.mode & 0o7777)) {
            problems.push(extract_err(&dir.display, "setting the mode", e.into()));
        }
        set_xattrs(
            |n, v| rfs::fsetxattr(&fd, n, v, XattrFlags::empty()),
            Some(|n: &OsStr| rfs::fremovexattr(&fd, n)),
            &dir.xattrs,
            &dir.display,
            &mut problems,
        );
        if let Err(e) = rfs::futimens(&fd, &timestamps(dir.mtime, dir.atime)) {
            problems.push(extract_err(&dir.display, "setting the times", e.into()));
        }
        self.deferred.extend(problems);
    }

    /// Errors met completing directories so far (they belong to no single `extract`).
    pub fn take_errors(&mut self) -> Vec<ArchiveError> {
        std::mem::take(&mut self.deferred)
    }

    /// Completes every directory still open (mode, xattrs, times) and returns the errors
    /// not yet taken. Call it once all sets are extracted.
    pub fn finish(&mut self) -> Vec<ArchiveError> {
        self.parent = None;
        while let Some(dir) = self.pending.pop() {
            self.complete_dir(dir);
        }
        self.take_errors()
    }
}

/// The entry without setuid and setgid bits and without file capabilities.
fn without_privileges(meta: &EntryMeta) -> EntryMeta {
    let mut m = meta.clone();
    m.mode &= !0o6000;
    m.xattrs
        .retain(|(n, _)| n.as_slice() != b"security.capability");
    m
}

/// Sets the xattrs and removes the ACLs the entry does not have (inherited from a default
/// ACL when it was created).
fn set_xattrs(
    set: impl Fn(&OsStr, &[u8]) -> rustix::io::Result<()>,
    remove: Option<impl Fn(&OsStr) -> rustix::io::Result<()>>,
    xattrs: &[(Vec<u8>, Vec<u8>)],
    display: &str,
    problems: &mut Vec<ArchiveError>,
) {
    for (name, value) in xattrs {
        if let Err(e) = set(OsStr::from_bytes(name), value) {
            problems.push(extract_err(
                display,
                &format!("setting the xattr {}", lossy(name)),
                e.into(),
            ));
        }
    }
    let Some(remove) = remove else {
        return;
    };
    for acl_name in [acl::XATTR_ACCESS, acl::XATTR_DEFAULT] {
        if !xattrs.iter().any(|(n, _)| n == acl_name) {
            match remove(OsStr::from_bytes(acl_name)) {
                Ok(())
                | Err(Errno::NODATA | Errno::NOTSUP | Errno::INVAL | Errno::PERM | Errno::ACCESS) =>
                    {}
                Err(e) => {
                    problems.push(extract_err(display, "removing an inherited ACL", e.into()))
                }
            }
        }
    }
}

fn timestamps(mtime: (i64, u32), atime: Option<(i64, u32)>) -> Timestamps {
    let ts = |(s, ns): (i64, u32)| Timespec {
        tv_sec: s,
        tv_nsec: i64::from(ns.min(999_999_999)) as _,
    };
    Timestamps {
        last_access: atime.map(ts).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: rfs::UTIME_OMIT,
        }),
        last_modification: ts(mtime),
    }
}

/// The components of an entry path: refused when empty, absolute, with `..` or a NUL;
/// empty and `.` components dropped (so `.` is the root itself).
fn components(path: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.contains(&0) {
        return Err("a NUL byte in the path".into());
    }
    if path[0] == b'/' {
        return Err("absolute path".into());
    }
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("a `..` component".into()),
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

fn unsafe_err(path: &[u8], reason: &str) -> ArchiveError {
    ArchiveError::Unsafe {
        path: lossy(path),
        reason: reason.to_string(),
    }
}

fn extract_err(display: &str, action: &str, e: io::Error) -> ArchiveError {
    ArchiveError::Extract {
        path: display.to_string(),
        action: action.to_string(),
        source: e,
    }
}

/// User and group names of a passwd and group file.
#[derive(Debug, Default)]
struct Names {
    users: HashMap<Vec<u8>, u32>,
    groups: HashMap<Vec<u8>, u32>,
}

impl Names {
    fn load(root: &Path) -> Names {
        let read = |f: &str| -> HashMap<Vec<u8>, u32> {
            let Ok(text) = std::fs::read(root.join(f)) else {
                return HashMap::new();
            };
            text.split(|&b| b == b'\n')
                .filter_map(|line| {
                    let mut f = line.split(|&b| b == b':');
                    let name = f.next()?;
                    let id = std::str::from_utf8(f.nth(1)?).ok()?.parse().ok()?;
                    Some((name.to_vec(), id))
                })
                .collect()
        };
        Names {
            users: read("etc/passwd"),
            groups: read("etc/group"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_escapes() {
        assert_eq!(
            components(b"a/b").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            components(b"./a//b/.").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert!(components(b".").unwrap().is_empty());
        for bad in [&b"/etc"[..], b"..", b"a/../../x", b"../x", b"", b"a\0b"] {
            assert!(components(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mapping_takes_the_longest_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Extractor::new(dir.path())
            .unwrap()
            .mapping(vec![
                (b"home".to_vec(), b"tmp/home".to_vec()),
                (b"home/ann".to_vec(), b"ann".to_vec()),
                (b"srv".to_vec(), Vec::new()),
            ])
            .unwrap();
        assert_eq!(ex.mapped_path(b"home/bob/x").unwrap(), b"tmp/home/bob/x");
        assert_eq!(ex.mapped_path(b"home").unwrap(), b"tmp/home");
        assert_eq!(ex.mapped_path(b"homes/x").unwrap(), b"homes/x");
        assert_eq!(ex.mapped_path(b"home/ann/x").unwrap(), b"ann/x");
        assert_eq!(ex.mapped_path(b"srv/www").unwrap(), b"www");
        assert!(Extractor::new(dir.path())
            .unwrap()
            .mapping(vec![(b"a".to_vec(), b"../b".to_vec())])
            .is_err());
    }

    #[test]
    fn names_from_passwd() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "staff:x:50:\n").unwrap();
        let n = Names::load(dir.path());
        assert_eq!(n.users.get(&b"ann"[..]), Some(&1000));
        assert_eq!(n.groups.get(&b"staff"[..]), Some(&50));
    }
}
