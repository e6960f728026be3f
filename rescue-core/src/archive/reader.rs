//! Reading a tar stream: ours, and GNU tar's (pax `x` and `g` headers, GNU `L`/`K` long
//! names, ustar prefixes, base-256 numbers, pax sparse formats 0.0, 0.1 and 1.0). Every
//! header's checksum is verified; a corrupted or truncated stream is an error naming the
//! byte offset, never a panic.

use std::io::{self, Read};

use super::acl;
use super::meta::{lossy, EntryKind, EntryMeta, Slice};
use super::pax::{self, field, padded, BLOCK};
use super::sparse::{self, MapParser};
use super::writer::{SLICE_OFFSET_KEY, SLICE_TOTAL_KEY};
use super::ArchiveError;

use super::limits::{
    MAX_GLOBAL_BYTES, MAX_GLOBAL_RECORDS, MAX_META, MAX_SIZE, MAX_SPARSE_EXTENTS, MAX_SPARSE_SIZE,
};

/// Reads entries from a tar stream.
#[derive(Debug)]
pub struct TarReader<R: Read> {
    inner: R,
    /// Bytes consumed from the stream.
    offset: u64,
    /// Data bytes of the current entry not read yet, then its padding.
    remaining: u64,
    padding: u64,
    /// Records of global (`g`) headers, in force for the rest of the stream.
    global: Vec<(Vec<u8>, Vec<u8>)>,
    /// The end was reached or an error made the rest unreadable.
    done: bool,
    /// The error that broke the current entry's data, for the next call to report.
    broken: Option<ArchiveError>,
    /// The current entry's path, for messages.
    current: Vec<u8>,
}

/// The content of the entry just read. `Read` gives the logical content (holes of a sparse
/// file as zeros); [`EntryData::stored`] gives the stored bytes (a sparse file's extents
/// back to back) so holes can be recreated. Both can be mixed: they advance together.
/// Errors reading it name the byte offset where the stream broke.
pub struct EntryData<'a> {
    src: &'a mut dyn DataSource,
    extents: Option<Vec<(u64, u64)>>,
    /// Logical size and position.
    size: u64,
    pos: u64,
    /// The first extent that does not end at or before `pos`.
    idx: usize,
}

/// Where entry data comes from: the reader, without its type parameter.
trait DataSource {
    fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            offset: 0,
            remaining: 0,
            padding: 0,
            global: Vec::new(),
            done: false,
            broken: None,
            current: Vec::new(),
        }
    }

    /// Bytes consumed from the stream so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads exactly `buf.len()` bytes or fails with `Truncated`.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ArchiveError> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => {
                    self.done = true;
                    return Err(ArchiveError::Truncated {
                        offset: self.offset + got as u64,
                        path: None,
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Err(ArchiveError::Io {
                        offset: self.offset + got as u64,
                        source: e,
                    });
                }
            }
        }
        self.offset += got as u64;
        Ok(())
    }

    fn skip(&mut self, mut n: u64) -> Result<(), ArchiveError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.read_exact(&mut buf[..k])?;
            n -= k as u64;
        }
        Ok(())
    }
}

impl<R: Read> DataSource for TarReader<R> {
    /// Reads some of the current entry's data (at most what is left of it).
    fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(0) => {
                    self.done = true;
                    self.broken = Some(ArchiveError::Truncated {
                        offset: self.offset,
                        path: Some(lossy(&self.current)),
                    });
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("archive truncated at byte {}", self.offset),
                    ));
                }
                Ok(n) => {
                    self.offset += n as u64;
                    self.remaining -= n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    self.broken = Some(ArchiveError::Io {
                        offset: self.offset,
                        source: io::Error::new(e.kind(), e.to_string()),
                    });
                    return Err(io::Error::new(
                        e.kind(),
                        format!("reading the archive at byte {}: {e}", self.offset),
                    ));
                }
            }
        }
    }
}

impl<R: Read> TarReader<R> {
    /// The next entry and its data, or None at the end of the archive. Data left unread
    /// is skipped by the next call. After an error other than
    /// [`ArchiveError::Unsupported`] the stream cannot be followed any further, and later
    /// calls return None.
    pub fn next_entry(&mut self) -> Result<Option<(EntryMeta, EntryData<'_>)>, ArchiveError> {
        if let Some(e) = self.broken.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let skip = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(skip).map_err(|e| match e {
            ArchiveError::Truncated { offset, .. } => ArchiveError::Truncated {
                offset,
                path: Some(lossy(&self.current)),
            },
            e => e,
        })?;

        let mut local: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        // Bytes of extended headers and long names read for this entry so far.
        let mut meta_bytes = 0u64;
        let mut block = [0u8; BLOCK];
        loop {
            let at = self.offset;
            self.read_exact(&mut block)?;
            if block.iter().all(|&b| b == 0) {
                // End of archive. The second zero block may be missing (GNU tar accepts
                // that too); whatever follows is not looked at.
                self.done = true;
                if !local.is_empty() || long_name.is_some() || long_link.is_some() {
                    return Err(ArchiveError::BadHeader {
                        offset: at,
                        path: None,
                        reason: "end of archive right after an extended header".into(),
                    });
                }
                return Ok(None);
            }
            if !pax::checksum_ok(&block) {
                self.done = true;
                return Err(ArchiveError::BadChecksum { offset: at });
            }
            let size = pax::parse_number(&block[field::SIZE.0..field::SIZE.0 + field::SIZE.1])
                .ok_or_else(|| self.bad(at, None, "bad size field"))?;
            let typeflag = block[field::TYPEFLAG];
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    meta_bytes = meta_bytes.saturating_add(size);
                    if meta_bytes > MAX_META {
                        return Err(self.bad(
                            at,
                            None,
                            &format!(
                                "extended headers of {meta_bytes} bytes for one entry (at most \
                                 {MAX_META})"
                            ),
                        ));
                    }
                    let mut data = vec![0u8; size as usize];
                    self.read_exact(&mut data)?;
                    self.skip(padded(size) - size)?;
                    match typeflag {
                        b'x' | b'g' => {
                            let records =
                                pax::parse_records(&data).map_err(|r| self.bad(at, None, &r))?;
                            if typeflag == b'x' {
                                local.extend(records);
                            } else {
                                self.set_global(records)
                                    .map_err(|r| self.bad(at, None, &r))?;
                            }
                        }
                        b'L' => long_name = Some(pax::parse_str(&data).to_vec()),
                        _ => long_link = Some(pax::parse_str(&data).to_vec()),
                    }
                    continue;
                }
                b'V' if size <= MAX_SIZE => {
                    // A GNU volume label: not an entry.
                    self.skip(padded(size))?;
                    continue;
                }
                _ => {}
            }
            return self.entry(at, &block, size, local, long_name, long_link);
        }
    }

    /// Merges a global header's records into those in force (a later value replaces an
    /// earlier one; an empty value removes the key), within the global bounds.
    fn set_global(&mut self, records: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), String> {
        let mut map: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
            std::mem::take(&mut self.global).into_iter().collect();
        for (k, v) in records {
            if v.is_empty() {
                map.remove(&k);
            } else {
                map.insert(k, v);
            }
            if map.len() > MAX_GLOBAL_RECORDS {
                return Err(format!(
                    "global headers hold more than {MAX_GLOBAL_RECORDS} records"
                ));
            }
        }
        let bytes: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_GLOBAL_BYTES {
            return Err(format!(
                "global headers hold {bytes} bytes (at most {MAX_GLOBAL_BYTES})"
            ));
        }
        self.global = map.into_iter().collect();
        Ok(())
    }

    fn bad(&mut self, offset: u64, path: Option<&[u8]>, reason: &str) -> ArchiveError {
        self.done = true;
        ArchiveError::BadHeader {
            offset,
            path: path.map(lossy),
            reason: reason.to_string(),
        }
    }

    fn entry(
        &mut self,
        at: u64,
        block: &[u8; BLOCK],
        mut size: u64,
        local: Vec<(Vec<u8>, Vec<u8>)>,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
    ) -> Result<Option<(EntryMeta, EntryData<'_>)>, ArchiveError> {
        let f = |(off, len): (usize, usize)| &block[off..off + len];
        let num = |(off, len): (usize, usize)| pax::parse_number(&block[off..off + len]);
        let magic = f(field::MAGIC);
        let posix = magic == b"ustar\0";
        let mut path = long_name.unwrap_or_else(|| {
            let name = pax::parse_str(f(field::NAME));
            let prefix = pax::parse_str(f(field::PREFIX));
            if posix && !prefix.is_empty() {
                [prefix, b"/", name].concat()
            } else {
                name.to_vec()
            }
        });
        let mut link = long_link.unwrap_or_else(|| pax::parse_str(f(field::LINKNAME)).to_vec());
        let typeflag = block[field::TYPEFLAG];
        let bad_field = |what: &str| format!("bad {what} field");
        let mode = num(field::MODE).ok_or_else(|| bad_field("mode"));
        let uid = num(field::UID).ok_or_else(|| bad_field("uid"));
        let gid = num(field::GID).ok_or_else(|| bad_field("gid"));
        let mtime = pax::parse_signed(f(field::MTIME)).ok_or_else(|| bad_field("mtime"));
        let (mode, uid, gid, mtime) = match (mode, uid, gid, mtime) {
            (Ok(m), Ok(u), Ok(g), Ok(t)) => (m, u, g, t),
            (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => {
                return Err(self.bad(at, Some(&path), &r));
            }
        };
        let is_dev = matches!(typeflag, b'3' | b'4');
        let (mut major, mut minor) = (0u64, 0u64);
        if is_dev {
            major = num(field::DEVMAJOR)
                .ok_or_else(|| self.bad(at, Some(&path), "bad devmajor field"))?;
            minor = num(field::DEVMINOR)
                .ok_or_else(|| self.bad(at, Some(&path), "bad devminor field"))?;
        }
        let text = |b: &[u8]| Some(pax::parse_str(b).to_vec()).filter(|n| !n.is_empty());
        let mut meta = EntryMeta {
            path: Vec::new(),
            kind: EntryKind::Dir,
            mode: (mode & 0o7777) as u32,
            uid: u32::try_from(uid).unwrap_or(u32::MAX),
            gid: u32::try_from(gid).unwrap_or(u32::MAX),
            user: if posix || magic == b"ustar " {
                text(f(field::UNAME))
            } else {
                None
            },
            group: if posix || magic == b"ustar " {
                text(f(field::GNAME))
            } else {
                None
            },
            mtime: (mtime, 0),
            atime: None,
            xattrs: Vec::new(),
            slice: None,
        };

        // pax records: the global ones, then this entry's.
        let mut sparse_major = None;
        let mut sparse_minor = None;
        let mut sparse_name = None;
        let mut realsize = None;
        let mut map01: Option<Vec<u8>> = None;
        let mut offsets00 = Vec::new();
        let mut numbytes00 = Vec::new();
        let mut slice_offset = None;
        let mut slice_total = None;
        let mut acl_text: Vec<(&'static [u8], Vec<u8>)> = Vec::new();
        let global = std::mem::take(&mut self.global);
        let records = global.iter().cloned().chain(local);
        // Where each xattr name is in meta.xattrs: a later record for a name replaces the
        // earlier one without a search (many records must not take quadratic time).
        let mut xattr_at: std::collections::HashMap<Vec<u8>, usize> =
            std::collections::HashMap::new();
        let mut failed = None;
        for (key, value) in records {
            let dec =
                |what: &str| pax::parse_decimal(&value).ok_or_else(|| format!("bad pax {what}"));
            let r: Result<(), String> = (|| {
                match key.as_slice() {
                    b"path" => path = value.clone(),
                    b"linkpath" => link = value.clone(),
                    b"size" => size = dec("size")?,
                    b"uid" => {
                        meta.uid = u32::try_from(dec("uid")?).map_err(|_| "pax uid out of range")?
                    }
                    b"gid" => {
                        meta.gid = u32::try_from(dec("gid")?).map_err(|_| "pax gid out of range")?
                    }
                    b"uname" => meta.user = Some(value.clone()),
                    b"gname" => meta.group = Some(value.clone()),
                    b"mtime" => meta.mtime = pax::parse_time(&value).ok_or("bad pax mtime")?,
                    b"atime" => meta.atime = Some(pax::parse_time(&value).ok_or("bad pax atime")?),
                    b"SCHILY.devmajor" => major = dec("devmajor")?,
                    b"SCHILY.devminor" => minor = dec("devminor")?,
                    b"GNU.sparse.major" => sparse_major = Some(dec("sparse major")?),
                    b"GNU.sparse.minor" => sparse_minor = Some(dec("sparse minor")?),
                    b"GNU.sparse.name" => sparse_name = Some(value.clone()),
                    b"GNU.sparse.realsize" | b"GNU.sparse.size" => {
                        realsize = Some(dec("sparse size")?)
                    }
                    b"GNU.sparse.map" => map01 = Some(value.clone()),
                    b"GNU.sparse.offset" => offsets00.push(dec("sparse offset")?),
                    b"GNU.sparse.numbytes" => numbytes00.push(dec("sparse numbytes")?),
                    b"SCHILY.acl.access" => acl_text.push((acl::XATTR_ACCESS, value.clone())),
                    b"SCHILY.acl.default" => acl_text.push((acl::XATTR_DEFAULT, value.clone())),
                    k if k == SLICE_OFFSET_KEY => slice_offset = Some(dec("slice offset")?),
                    k if k == SLICE_TOTAL_KEY => slice_total = Some(dec("slice total")?),
                    k if k.starts_with(b"SCHILY.xattr.") => {
                        let name = pax::decode_xattr_name(&k[b"SCHILY.xattr.".len()..]);
                        match xattr_at.get(&name) {
                            Some(&i) => meta.xattrs[i].1 = value.clone(),
                            None => {
                                xattr_at.insert(name.clone(), meta.xattrs.len());
                                meta.xattrs.push((name, value.clone()));
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            })();
            if let Err(reason) = r {
                failed = Some(reason);
                break;
            }
        }
        self.global = global;
        if let Some(reason) = failed {
            return Err(self.bad(at, Some(&path), &reason));
        }
        // ACLs only in text (GNU tar --acls without --xattrs, star): convert what can be
        // converted exactly; an ACL that only repeats the mode is no ACL.
        for (name, text) in acl_text {
            if meta.xattrs.iter().any(|(n, _)| n == name) {
                continue;
            }
            if let Some(value) = acl::from_text(&text) {
                if !(name == acl::XATTR_ACCESS && acl::is_trivial(&value)) {
                    meta.xattrs.push((name.to_vec(), value));
                }
            }
        }
        if let Some(name) = sparse_name {
            path = name;
        }
        let trailing_slash = path.ends_with(b"/");
        while path.len() > 1 && path.ends_with(b"/") {
            path.pop();
        }
        meta.path = path;
        let minor32 =
            |v: u64, what: &str| u32::try_from(v).map_err(|_| format!("{what} out of range"));

        if size > MAX_SIZE {
            return Err(self.bad(at, Some(&meta.path), &format!("size {size} out of range")));
        }
        self.current.clone_from(&meta.path);
        self.remaining = size;
        self.padding = padded(size) - size;
        let kind = match typeflag {
            b'0' | 0 | b'7' if trailing_slash => EntryKind::Dir,
            b'0' | 0 | b'7' => EntryKind::File { size, sparse: None },
            b'1' => EntryKind::HardLink { target: link },
            b'2' => EntryKind::Symlink { target: link },
            b'3' | b'4' => {
                let (major, minor) = match (minor32(major, "devmajor"), minor32(minor, "devminor"))
                {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(r), _) | (_, Err(r)) => return Err(self.bad(at, Some(&meta.path), &r)),
                };
                if typeflag == b'3' {
                    EntryKind::CharDevice { major, minor }
                } else {
                    EntryKind::BlockDevice { major, minor }
                }
            }
            b'5' | b'D' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            other => {
                // The data is skipped by the next call; the stream goes on.
                return Err(ArchiveError::Unsupported {
                    offset: at,
                    path: meta.display_path(),
                    reason: format!("entry type {:?}", other as char),
                });
            }
        };
        meta.kind = kind;

        // Sparse files: the map, then the logical size.
        let mut extents = None;
        if let EntryKind::File { .. } = meta.kind {
            let sparse_fmt = (sparse_major, sparse_minor);
            let list = if sparse_fmt == (Some(1), Some(0)) {
                let mut parser = MapParser::default();
                let mut blk = [0u8; BLOCK];
                loop {
                    if self.remaining < BLOCK as u64 {
                        return Err(self.bad(
                            at,
                            Some(&meta.path),
                            "sparse map runs past the data",
                        ));
                    }
                    self.read_exact(&mut blk)
                        .map_err(|e| with_path(e, &meta.path))?;
                    self.remaining -= BLOCK as u64;
                    match parser.feed(&blk) {
                        Ok(true) => break,
                        Ok(false) => {}
                        Err(r) => return Err(self.bad(at, Some(&meta.path), &r)),
                    }
                    if parser.extents.len() > MAX_SPARSE_EXTENTS {
                        return Err(self.bad(
                            at,
                            Some(&meta.path),
                            &format!("sparse map of more than {MAX_SPARSE_EXTENTS} extents"),
                        ));
                    }
                }
                Some(parser.extents)
            } else if let Some(map) = map01 {
                let nums: Option<Vec<u64>> = if map.is_empty() {
                    Some(Vec::new())
                } else {
                    map.split(|&b| b == b',').map(pax::parse_decimal).collect()
                };
                match nums {
                    Some(n) if n.len() % 2 == 0 => {
                        Some(n.chunks(2).map(|c| (c[0], c[1])).collect())
                    }
                    _ => return Err(self.bad(at, Some(&meta.path), "bad GNU.sparse.map")),
                }
            } else if !offsets00.is_empty() || realsize.is_some() {
                if offsets00.len() != numbytes00.len() {
                    return Err(self.bad(
                        at,
                        Some(&meta.path),
                        "GNU.sparse offsets and sizes differ in number",
                    ));
                }
                Some(offsets00.into_iter().zip(numbytes00).collect())
            } else {
                None
            };
            if let Some(list) = list {
                let list: Vec<(u64, u64)> = list.into_iter().filter(|e| e.1 > 0).collect();
                let logical = realsize.unwrap_or(size);
                if logical > MAX_SPARSE_SIZE {
                    return Err(self.bad(
                        at,
                        Some(&meta.path),
                        &format!(
                            "sparse file of {logical} bytes (at most {MAX_SPARSE_SIZE} are \
                             believed)"
                        ),
                    ));
                }
                if list.len() > MAX_SPARSE_EXTENTS {
                    return Err(self.bad(
                        at,
                        Some(&meta.path),
                        &format!("sparse map of more than {MAX_SPARSE_EXTENTS} extents"),
                    ));
                }
                let stored = list.iter().fold(0u64, |a, e| a.saturating_add(e.1));
                let checked = sparse::check_extents(&list, logical).and_then(|()| {
                    if stored == self.remaining {
                        Ok(())
                    } else {
                        Err(format!(
                            "sparse extents hold {stored} bytes but the entry {}",
                            self.remaining
                        ))
                    }
                });
                if let Err(r) = checked {
                    return Err(self.bad(at, Some(&meta.path), &r));
                }
                meta.kind = EntryKind::File {
                    size: logical,
                    sparse: Some(list.clone()),
                };
                extents = Some(list);
            }
        }
        if let (Some(offset), Some(total)) = (slice_offset, slice_total) {
            let len = match &meta.kind {
                EntryKind::File { size, .. } => *size,
                _ => return Err(self.bad(at, Some(&meta.path), "a slice that is not a file")),
            };
            if offset.checked_add(len).is_none_or(|end| end > total) {
                return Err(self.bad(at, Some(&meta.path), "slice past the end of its file"));
            }
            meta.slice = Some(Slice { offset, total });
        }
        let size = match &meta.kind {
            EntryKind::File { size, .. } => *size,
            _ => 0,
        };
        let data = EntryData {
            src: self,
            extents,
            size,
            pos: 0,
            idx: 0,
        };
        Ok(Some((meta, data)))
    }
}

fn with_path(e: ArchiveError, path: &[u8]) -> ArchiveError {
    match e {
        ArchiveError::Truncated { offset, .. } => ArchiveError::Truncated {
            offset,
            path: Some(lossy(path)),
        },
        e => e,
    }
}

impl std::fmt::Debug for EntryData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryData")
            .field("size", &self.size)
            .field("pos", &self.pos)
            .field("sparse", &self.extents.is_some())
            .finish()
    }
}

impl<'a> EntryData<'a> {
    /// The data extents `(offset, len)` of a sparse entry; None for a plain one.
    pub fn sparse_map(&self) -> Option<&[(u64, u64)]> {
        self.extents.as_deref()
    }

    /// The logical size (the file's, or the slice's).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads the stored bytes: the same as `read` for a plain file, the extents back to
    /// back for a sparse one.
    pub fn read_stored(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(extents) = &self.extents else {
            let n = self.src.read_data(buf)?;
            self.pos += n as u64;
            return Ok(n);
        };
        // Skip the hole before the next extent, then read inside it.
        let Some(&(off, len)) = extents.get(self.idx) else {
            return Ok(0);
        };
        self.pos = self.pos.max(off);
        let left = off + len - self.pos;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.src.read_data(&mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sparse entry data ended early",
            ));
        }
        self.pos += n as u64;
        if self.pos == off + len {
            self.idx += 1;
        }
        Ok(n)
    }

    /// A reader of the stored bytes (see [`EntryData::read_stored`]).
    pub fn stored(&mut self) -> Stored<'_, 'a> {
        Stored(self)
    }
}

impl Read for EntryData<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(extents) = &self.extents else {
            return self.read_stored(buf);
        };
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        match extents.get(self.idx) {
            Some(&(off, _)) if off <= self.pos => self.read_stored(buf),
            next => {
                // In a hole: zeros up to the next extent or the end.
                let end = next.map_or(self.size, |e| e.0);
                let n = buf
                    .len()
                    .min(usize::try_from(end - self.pos).unwrap_or(usize::MAX));
                buf[..n].fill(0);
                self.pos += n as u64;
                Ok(n)
            }
        }
    }
}

/// The stored bytes of an entry as a reader (see [`EntryData::read_stored`]).
#[derive(Debug)]
pub struct Stored<'b, 'a>(&'b mut EntryData<'a>);

impl Read for Stored<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_stored(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::pax::{push_record, HeaderBlock};
    use crate::archive::TarWriter;

    fn write_all(entries: &[(EntryMeta, Vec<u8>)]) -> Vec<u8> {
        let mut w = TarWriter::new(Vec::new());
        for (m, data) in entries {
            let out = w.append(m, &mut data.as_slice()).unwrap();
            assert_eq!(out.short_by, 0);
        }
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Vec<(EntryMeta, Vec<u8>, Vec<u8>)> {
        let mut r = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some((meta, mut data)) = r.next_entry().unwrap() {
            let mut logical = Vec::new();
            data.read_to_end(&mut logical).unwrap();
            out.push((meta, logical, Vec::new()));
        }
        out
    }

    fn sample() -> Vec<(EntryMeta, Vec<u8>)> {
        let mut v = Vec::new();
        let mut d = EntryMeta::new(".", EntryKind::Dir);
        d.mode = 0o1777;
        v.push((d, vec![]));
        let mut f = EntryMeta::new(
            "a/file",
            EntryKind::File {
                size: 5,
                sparse: None,
            },
        );
        f.mode = 0o4755;
        f.uid = 1234;
        f.gid = 5678;
        f.user = Some(b"ann".to_vec());
        f.group = Some(b"staff".to_vec());
        f.mtime = (1_763_700_000, 123_456_789);
        f.atime = Some((1_763_700_001, 5));
        f.xattrs = vec![
            (b"user.a%b=c".to_vec(), b"v\0\nx".to_vec()),
            (
                b"security.capability".to_vec(),
                vec![
                    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
            ),
        ];
        v.push((f, b"hello".to_vec()));
        let long = format!("{}/{}", "d".repeat(200), "f".repeat(120));
        v.push((
            EntryMeta::new(
                long.clone(),
                EntryKind::File {
                    size: 0,
                    sparse: None,
                },
            ),
            vec![],
        ));
        v.push((
            EntryMeta::new(
                b"bad\xff\xfe\nname".to_vec(),
                EntryKind::File {
                    size: 1,
                    sparse: None,
                },
            ),
            vec![b'x'],
        ));
        v.push((
            EntryMeta::new(
                "hl",
                EntryKind::HardLink {
                    target: long.into_bytes(),
                },
            ),
            vec![],
        ));
        v.push((
            EntryMeta::new(
                "sl",
                EntryKind::Symlink {
                    target: b"/nowhere/\xff".to_vec(),
                },
            ),
            vec![],
        ));
        v.push((
            EntryMeta::new("c", EntryKind::CharDevice { major: 1, minor: 3 }),
            vec![],
        ));
        v.push((
            EntryMeta::new(
                "b",
                EntryKind::BlockDevice {
                    major: 4095,
                    minor: 3_000_000,
                },
            ),
            vec![],
        ));
        v.push((EntryMeta::new("p", EntryKind::Fifo), vec![]));
        let mut big = EntryMeta::new("big-ids", EntryKind::Dir);
        big.uid = 4_000_000_000;
        big.gid = 3_000_000;
        big.mtime = (-100, 5);
        big.user = Some(vec![b'u'; 40]);
        big.group = Some(b"gr\xffp".to_vec());
        v.push((big, vec![]));
        let mut sp = EntryMeta::new(
            "sparse",
            EntryKind::File {
                size: 10_000,
                sparse: Some(vec![(100, 3), (5000, 2)]),
            },
        );
        sp.mtime = (5, 0);
        v.push((sp, b"abcde".to_vec()));
        let mut sl = EntryMeta::new(
            "slice",
            EntryKind::File {
                size: 4,
                sparse: None,
            },
        );
        sl.slice = Some(crate::archive::Slice {
            offset: 8,
            total: 20,
        });
        v.push((sl, b"wxyz".to_vec()));
        v
    }

    #[test]
    fn our_entries_read_back_identically() {
        let entries = sample();
        let bytes = write_all(&entries);
        let back = read_all(&bytes);
        assert_eq!(back.len(), entries.len());
        for ((m, data), (rm, logical, _)) in entries.iter().zip(&back) {
            assert_eq!(rm, m);
            if let EntryKind::File {
                sparse: Some(_), ..
            } = m.kind
            {
                let mut want = vec![0u8; 10_000];
                want[100..103].copy_from_slice(b"abc");
                want[5000..5002].copy_from_slice(b"de");
                assert_eq!(logical, &want);
            } else if let EntryKind::File { .. } = m.kind {
                assert_eq!(logical, data);
            }
        }
    }

    #[test]
    fn sparse_stored_and_logical_reads_mix() {
        let bytes = write_all(&sample());
        let mut r = TarReader::new(bytes.as_slice());
        loop {
            let (meta, mut data) = r.next_entry().unwrap().unwrap();
            if meta.path != b"sparse" {
                continue;
            }
            assert_eq!(data.sparse_map(), Some(&[(100, 3), (5000, 2)][..]));
            let mut b = [0u8; 2];
            data.read_stored(&mut b).unwrap();
            assert_eq!(&b, b"ab");
            let mut rest = Vec::new();
            data.read_to_end(&mut rest).unwrap();
            // logical from 102: "c", zeros up to 5000, "de", zeros to 10000
            assert_eq!(rest.len(), 10_000 - 102);
            assert_eq!(rest[0], b'c');
            assert_eq!(&rest[5000 - 102..5002 - 102], b"de");
            let mut stored = Vec::new();
            data.stored().read_to_end(&mut stored).unwrap();
            assert!(stored.is_empty());
            break;
        }
        // unread data is skipped
        let mut r = TarReader::new(bytes.as_slice());
        let mut n = 0;
        while r.next_entry().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, sample().len());
        assert_eq!(r.offset(), bytes.len() as u64 - 512);
    }

    fn header(name: &[u8], typeflag: u8, size: u64, gnu: bool) -> [u8; 512] {
        let mut h = HeaderBlock::new(typeflag);
        if gnu {
            h.bytes(field::MAGIC, b"ustar ");
            h.bytes(field::VERSION, b" \0");
        }
        h.bytes(field::NAME, name);
        h.number(field::MODE, 0o640);
        h.number(field::SIZE, size);
        h.0[field::MTIME.0..field::MTIME.0 + 12]
            .copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
        h.finish()
    }

    fn data_block(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.resize(padded(data.len() as u64) as usize, 0);
        v
    }

    #[test]
    fn gnu_long_names_global_headers_and_prefix() {
        let long = vec![b'n'; 300];
        let target = vec![b't'; 200];
        let mut s = Vec::new();
        // a global header: uname for everyone after it
        let mut g = Vec::new();
        push_record(&mut g, b"uname", b"global");
        s.extend_from_slice(&header(b"pax_global_header", b'g', g.len() as u64, false));
        s.extend(data_block(&g));
        s.extend_from_slice(&header(b"././@LongLink", b'L', long.len() as u64 + 1, true));
        s.extend(data_block(&[long.as_slice(), b"\0"].concat()));
        s.extend_from_slice(&header(b"././@LongLink", b'K', target.len() as u64, true));
        s.extend(data_block(&target));
        s.extend_from_slice(&header(b"short", b'2', 0, true));
        // ustar prefix
        let mut h = HeaderBlock::new(b'0');
        h.bytes(field::NAME, b"name");
        h.bytes(field::PREFIX, b"pre/fix");
        h.number(field::SIZE, 3);
        s.extend_from_slice(&h.finish());
        s.extend(data_block(b"abc"));
        // an old-style directory: a regular file whose name ends with '/'
        s.extend_from_slice(&header(b"olddir/", 0, 0, false));
        s.extend(vec![0; 1024]);
        let back = read_all(&s);
        assert_eq!(back[0].0.path, long);
        assert_eq!(back[0].0.kind, EntryKind::Symlink { target });
        assert_eq!(back[0].0.user.as_deref(), Some(&b"global"[..]));
        assert_eq!(back[0].0.mtime.0, 4096);
        assert_eq!(back[1].0.path, b"pre/fix/name");
        assert_eq!(back[1].1, b"abc");
        assert_eq!(
            (back[2].0.path.as_slice(), &back[2].0.kind),
            (&b"olddir"[..], &EntryKind::Dir)
        );
    }

    #[test]
    fn unsupported_types_are_skipped() {
        let mut s = Vec::new();
        s.extend_from_slice(&header(b"weird", b'Z', 5, false));
        s.extend(data_block(b"12345"));
        s.extend_from_slice(&header(b"next", b'0', 0, false));
        s.extend(vec![0; 1024]);
        let mut r = TarReader::new(s.as_slice());
        match r.next_entry() {
            Err(ArchiveError::Unsupported {
                offset: 0, path, ..
            }) => assert_eq!(path, "weird"),
            other => panic!("{other:?}"),
        }
        let (m, _) = r.next_entry().unwrap().unwrap();
        assert_eq!(m.path, b"next");
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn acl_text_only_becomes_xattrs() {
        let mut x = Vec::new();
        push_record(
            &mut x,
            b"SCHILY.acl.access",
            b"user::rw-\nuser:1234:r--\ngroup::r--\nmask::r--\nother::r--\n",
        );
        push_record(
            &mut x,
            b"SCHILY.acl.default",
            b"user::rwx\ngroup::r-x\nother::r-x\n",
        );
        let mut s = Vec::new();
        s.extend_from_slice(&header(b"PaxHeaders/f", b'x', x.len() as u64, false));
        s.extend(data_block(&x));
        s.extend_from_slice(&header(b"f", b'5', 0, false));
        // a trivial access ACL alone is no ACL
        let mut y = Vec::new();
        push_record(
            &mut y,
            b"SCHILY.acl.access",
            b"user::rwx\ngroup::r-x\nother::r-x\n",
        );
        s.extend_from_slice(&header(b"PaxHeaders/g", b'x', y.len() as u64, false));
        s.extend(data_block(&y));
        s.extend_from_slice(&header(b"g", b'0', 0, false));
        s.extend(vec![0; 1024]);
        let back = read_all(&s);
        let names: Vec<&[u8]> = back[0].0.xattrs.iter().map(|(n, _)| n.as_slice()).collect();
        assert_eq!(names, vec![acl::XATTR_ACCESS, acl::XATTR_DEFAULT]);
        assert!(back[1].0.xattrs.is_empty());
    }
}
