//! Writing a set's tar stream: ustar headers where the values fit, a pax extended header
//! for the rest, pax 1.0 sparse files, slices. The same entry always gives the same bytes,
//! and [`stored_size`] says how many before anything is written.

use std::io::{self, Read, Write};

use super::acl;
use super::limits::{MAX_SPARSE_EXTENTS, MAX_SPARSE_SIZE};
use super::meta::{EntryKind, EntryMeta};
use super::pax::{self, field, octal_max, padded, push_record, HeaderBlock, BLOCK};
use super::sparse;

/// Pax keys of the slice of a file (docs/archive.md).
pub const SLICE_OFFSET_KEY: &[u8] = b"MKRESCUE.slice.offset";
pub const SLICE_TOTAL_KEY: &[u8] = b"MKRESCUE.slice.total";

/// Writes entries to a tar stream.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    inner: W,
    position: u64,
    buf: Vec<u8>,
}

/// What [`TarWriter::append`] did with an entry's data.
#[derive(Debug)]
pub struct AppendOutcome {
    /// Content bytes taken from the data reader.
    pub written: u64,
    /// Content bytes that the reader did not give (it ended early or failed) and that were
    /// stored as zeros instead: the file changed (or broke) while it was read.
    pub short_by: u64,
    /// Why the reader stopped early, when it failed rather than ended.
    pub read_error: Option<io::Error>,
    /// Tar bytes the entry took, headers and padding included (= [`stored_size`]).
    pub stored: u64,
    /// BLAKE3 of the entry's content as stored (for a sparse file: holes as zeros; for a
    /// slice: the slice), for regular files.
    pub b3: Option<blake3::Hash>,
}

/// The exact number of tar bytes `meta` takes: pax header blocks, the ustar header, the
/// data (with the sparse map) and the padding to whole blocks.
pub fn stored_size(meta: &EntryMeta) -> u64 {
    let e = encode(meta);
    e.headers.len() as u64 + padded(e.data_size.min(u64::MAX - BLOCK as u64))
}

/// The two zero blocks that end a tar stream.
pub const END_OF_ARCHIVE: u64 = 2 * BLOCK as u64;

impl<W: Write> TarWriter<W> {
    pub fn new(inner: W) -> TarWriter<W> {
        TarWriter {
            inner,
            position: 0,
            buf: vec![0; 128 * 1024],
        }
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Writes one entry. `data` gives the content: for a regular file `size` bytes, for a
    /// sparse one the bytes of its extents back to back (see
    /// [`ExtentReader`](super::sparse::ExtentReader)); other kinds read nothing. Reads stop
    /// at that count; a reader that ends or fails early is padded with zeros and reported
    /// in the outcome (the stream stays valid). An invalid entry (see [`validate`]) is
    /// refused before anything is written. Errors are the output's.
    pub fn append(&mut self, meta: &EntryMeta, data: &mut dyn Read) -> io::Result<AppendOutcome> {
        validate(meta).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {reason}", meta.display_path()),
            )
        })?;
        let enc = encode(meta);
        self.write(&enc.headers)?;
        self.write(&enc.map)?;
        let mut out = AppendOutcome {
            written: 0,
            short_by: 0,
            read_error: None,
            stored: enc.headers.len() as u64 + padded(enc.data_size),
            b3: None,
        };
        if let EntryKind::File { size, sparse } = &meta.kind {
            let mut hasher = blake3::Hasher::new();
            match sparse {
                None => self.copy(data, *size, &mut hasher, &mut out)?,
                Some(extents) => {
                    let mut pos = 0;
                    for &(off, len) in extents {
                        hash_zeros(&mut hasher, off - pos);
                        self.copy(data, len, &mut hasher, &mut out)?;
                        pos = off + len;
                    }
                    hash_zeros(&mut hasher, size - pos);
                }
            }
            out.b3 = Some(hasher.finalize());
        }
        let pad = (padded(enc.data_size) - enc.data_size) as usize;
        self.write(&ZEROS[..pad])?;
        Ok(out)
    }

    /// Copies `len` bytes from `data`, zeros once it ends or fails.
    fn copy(
        &mut self,
        data: &mut dyn Read,
        mut len: u64,
        hasher: &mut blake3::Hasher,
        out: &mut AppendOutcome,
    ) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = (|| {
            while len > 0 {
                let want = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
                let n = if out.short_by > 0 || out.read_error.is_some() {
                    0
                } else {
                    match data.read(&mut buf[..want]) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            out.read_error = Some(e);
                            0
                        }
                    }
                };
                if n == 0 {
                    // The source ended or failed: the rest is zeros.
                    out.short_by += len;
                    while len > 0 {
                        let z = ZEROS.len().min(usize::try_from(len).unwrap_or(usize::MAX));
                        hasher.update(&ZEROS[..z]);
                        self.write(&ZEROS[..z])?;
                        len -= z as u64;
                    }
                    break;
                }
                hasher.update(&buf[..n]);
                self.write(&buf[..n])?;
                out.written += n as u64;
                len -= n as u64;
            }
            Ok(())
        })();
        self.buf = buf;
        result
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Ends the stream (two zero blocks), flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(&ZEROS[..END_OF_ARCHIVE as usize])?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

pub(crate) fn hash_zeros(hasher: &mut blake3::Hasher, mut n: u64) {
    while n > 0 {
        let z = ZEROS.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        hasher.update(&ZEROS[..z]);
        n -= z as u64;
    }
}

/// Checks that an entry can be stored as the format says: a relative path without `..`,
/// NUL bytes or a trailing `/` (`.` only for a directory), link targets likewise (a symlink
/// target only without NULs), xattr names without NULs, sparse extents sorted and inside
/// the file, a slice inside its file and only for a regular file, nanoseconds below 10^9.
pub fn validate(meta: &EntryMeta) -> Result<(), String> {
    check_path(&meta.path, "path")?;
    if meta.path == b"." && meta.kind != EntryKind::Dir {
        return Err("`.` can only be a directory".into());
    }
    match &meta.kind {
        EntryKind::HardLink { target } => {
            check_path(target, "hard link target")?;
            if target.as_slice() == b"." {
                return Err("a hard link to `.`".into());
            }
        }
        EntryKind::Symlink { target } if target.is_empty() || target.contains(&0) => {
            return Err("symlink target empty or with a NUL byte".into());
        }
        EntryKind::File {
            size,
            sparse: Some(extents),
        } => {
            sparse::check_extents(extents, *size)?;
            if *size > MAX_SPARSE_SIZE {
                return Err(format!(
                    "a sparse file of {size} bytes: a restore believes at most {MAX_SPARSE_SIZE}"
                ));
            }
            if extents.len() > MAX_SPARSE_EXTENTS {
                return Err(format!(
                    "{} sparse extents: a restore believes at most {MAX_SPARSE_EXTENTS}",
                    extents.len()
                ));
            }
        }
        _ => {}
    }
    if let Some(slice) = meta.slice {
        let EntryKind::File { size, .. } = meta.kind else {
            return Err("only a regular file can be sliced".into());
        };
        if slice
            .offset
            .checked_add(size)
            .is_none_or(|end| end > slice.total)
        {
            return Err(format!(
                "slice {}+{size} ends past the file's size {}",
                slice.offset, slice.total
            ));
        }
    }
    for (name, _) in &meta.xattrs {
        if name.is_empty() || name.contains(&0) {
            return Err("xattr name empty or with a NUL byte".into());
        }
    }
    for t in [Some(meta.mtime), meta.atime].into_iter().flatten() {
        if t.1 >= 1_000_000_000 {
            return Err(format!("nanoseconds {} out of range", t.1));
        }
    }
    for name in [&meta.user, &meta.group].into_iter().flatten() {
        if name.contains(&0) {
            return Err("owner name with a NUL byte".into());
        }
    }
    Ok(())
}

fn check_path(p: &[u8], what: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if p.contains(&0) {
        return Err(format!("{what} has a NUL byte"));
    }
    if p[0] == b'/' {
        return Err(format!("{what} is absolute"));
    }
    if p.ends_with(b"/") {
        return Err(format!("{what} ends with `/`"));
    }
    if p.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(format!("{what} has a `..` component"));
    }
    Ok(())
}

/// An entry's header bytes and the shape of its data.
pub(crate) struct Encoded {
    /// The pax header (when needed) and the ustar header.
    pub headers: Vec<u8>,
    /// The sparse map blocks that start the data (empty when not sparse).
    pub map: Vec<u8>,
    /// The size in the header: map and content.
    pub data_size: u64,
}

/// Splits a name into ustar `prefix` and `name` fields, when it fits.
fn split_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= field::NAME.1 {
        return Some((&[], name));
    }
    // The longest prefix that fits, leaving a non-empty name that fits.
    let limit = name.len().min(field::PREFIX.1 + 1);
    (1..limit)
        .rev()
        .filter(|&i| name[i] == b'/')
        .map(|i| (&name[..i], &name[i + 1..]))
        .find(|(_, rest)| !rest.is_empty() && rest.len() <= field::NAME.1)
}

fn dir_and_base(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i + 1], &path[i + 1..]),
        None => (&[], path),
    }
}

/// The ustar name of the pax header block: `DIR/PaxHeaders/BASE` (GNU tar's form without
/// the process id), printable ASCII, within 100 bytes.
fn pax_header_name(path: &[u8]) -> Vec<u8> {
    let (dir, base) = dir_and_base(path);
    let mut name = if dir.len() + 11 + base.len() <= field::NAME.1 {
        dir.to_vec()
    } else {
        Vec::new()
    };
    name.extend_from_slice(b"PaxHeaders/");
    name.extend_from_slice(base);
    name.truncate(field::NAME.1);
    for b in &mut name {
        if !(0x20..0x7f).contains(b) {
            *b = b'_';
        }
    }
    name
}

pub(crate) fn encode(meta: &EntryMeta) -> Encoded {
    let mut records = Vec::new();
    let mut binary = false;
    let utf8 = |b: &[u8]| std::str::from_utf8(b).is_ok();

    // Size and sparse map.
    let (size, sparse) = match &meta.kind {
        EntryKind::File { size, sparse } => (*size, sparse.as_deref()),
        _ => (0, None),
    };
    let map = match sparse {
        Some(extents) => sparse::encode_map(extents, size),
        None => Vec::new(),
    };
    let data_size = match sparse {
        Some(_) => (map.len() as u64).saturating_add(meta.payload_len()),
        None => size,
    };

    // The name: directories end with '/'; a sparse file is stored under GNU tar's
    // stand-in name with the real one in GNU.sparse.name.
    let mut tar_name = meta.path.clone();
    if meta.kind == EntryKind::Dir {
        tar_name.push(b'/');
    }
    let mut path_record = None;
    if sparse.is_some() {
        let (dir, base) = dir_and_base(&meta.path);
        let mut fake = dir.to_vec();
        fake.extend_from_slice(b"GNUSparseFile.0/");
        fake.extend_from_slice(base);
        tar_name = fake;
        binary |= !utf8(&meta.path);
    } else if !utf8(&tar_name) || split_name(&tar_name).is_none() {
        binary |= !utf8(&tar_name);
        path_record = Some(tar_name.clone());
    }
    let (prefix, name) = match split_name(&tar_name) {
        Some(split) => split,
        None => (&[][..], &tar_name[..tar_name.len().min(field::NAME.1)]),
    };

    let link = match &meta.kind {
        EntryKind::HardLink { target } | EntryKind::Symlink { target } => Some(target),
        _ => None,
    };
    let link_record = link.filter(|t| t.len() > field::LINKNAME.1 || !utf8(t));
    binary |= link_record.is_some_and(|t| !utf8(t));

    let owner_field = |n: &Option<Vec<u8>>| {
        n.as_ref()
            .filter(|n| n.len() < field::UNAME.1)
            .cloned()
            .unwrap_or_default()
    };
    let owner_record =
        |n: &Option<Vec<u8>>| n.clone().filter(|n| n.len() >= field::UNAME.1 || !utf8(n));
    let uname_record = owner_record(&meta.user);
    let gname_record = owner_record(&meta.group);
    binary |= [&uname_record, &gname_record]
        .into_iter()
        .flatten()
        .any(|n| !utf8(n));

    if binary {
        push_record(&mut records, b"hdrcharset", b"BINARY");
    }
    if let Some(p) = &path_record {
        push_record(&mut records, b"path", p);
    }
    if let Some(t) = link_record {
        push_record(&mut records, b"linkpath", t);
    }
    if data_size > octal_max(field::SIZE.1) {
        push_record(&mut records, b"size", data_size.to_string().as_bytes());
    }
    if u64::from(meta.uid) > octal_max(field::UID.1) {
        push_record(&mut records, b"uid", meta.uid.to_string().as_bytes());
    }
    if u64::from(meta.gid) > octal_max(field::GID.1) {
        push_record(&mut records, b"gid", meta.gid.to_string().as_bytes());
    }
    if let Some(n) = &uname_record {
        push_record(&mut records, b"uname", n);
    }
    if let Some(n) = &gname_record {
        push_record(&mut records, b"gname", n);
    }
    let mtime_fits = meta.mtime.0 >= 0 && meta.mtime.0 as u64 <= octal_max(field::MTIME.1);
    if meta.mtime.1 != 0 || !mtime_fits {
        push_record(
            &mut records,
            b"mtime",
            pax::format_time(meta.mtime).as_bytes(),
        );
    }
    if let Some(atime) = meta.atime {
        push_record(&mut records, b"atime", pax::format_time(atime).as_bytes());
    }
    let dev = match meta.kind {
        EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
            Some((major, minor))
        }
        _ => None,
    };
    if let Some((major, minor)) = dev {
        if u64::from(major) > octal_max(field::DEVMAJOR.1) {
            push_record(
                &mut records,
                b"SCHILY.devmajor",
                major.to_string().as_bytes(),
            );
        }
        if u64::from(minor) > octal_max(field::DEVMINOR.1) {
            push_record(
                &mut records,
                b"SCHILY.devminor",
                minor.to_string().as_bytes(),
            );
        }
    }
    if sparse.is_some() {
        push_record(&mut records, b"GNU.sparse.major", b"1");
        push_record(&mut records, b"GNU.sparse.minor", b"0");
        push_record(&mut records, b"GNU.sparse.name", &meta.path);
        push_record(
            &mut records,
            b"GNU.sparse.realsize",
            size.to_string().as_bytes(),
        );
    }
    if let Some(slice) = meta.slice {
        push_record(
            &mut records,
            SLICE_OFFSET_KEY,
            slice.offset.to_string().as_bytes(),
        );
        push_record(
            &mut records,
            SLICE_TOTAL_KEY,
            slice.total.to_string().as_bytes(),
        );
    }
    // ACLs also as text: GNU tar --acls takes them from there only, and resets the ACL of
    // an entry that has none.
    if !matches!(meta.kind, EntryKind::Symlink { .. }) {
        for (xattr, key) in [
            (acl::XATTR_ACCESS, acl::PAX_ACCESS),
            (acl::XATTR_DEFAULT, acl::PAX_DEFAULT),
        ] {
            let text = meta
                .xattrs
                .iter()
                .find(|(n, _)| n == xattr)
                .and_then(|(_, v)| acl::to_text(v));
            if let Some(text) = text {
                push_record(&mut records, key, text.as_bytes());
            }
        }
    }
    for (name, value) in &meta.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(&pax::encode_xattr_name(name));
        push_record(&mut records, &key, value);
    }

    let ustar_mtime = if mtime_fits { meta.mtime.0 as u64 } else { 0 };
    let mut headers = Vec::with_capacity(BLOCK * 2 + records.len());
    if !records.is_empty() {
        let mut x = HeaderBlock::new(b'x');
        x.bytes(field::NAME, &pax_header_name(&meta.path));
        x.number(field::MODE, 0o644);
        x.number(field::UID, 0);
        x.number(field::GID, 0);
        x.number(field::SIZE, records.len() as u64);
        x.number(field::MTIME, ustar_mtime);
        headers.extend_from_slice(&x.finish());
        let len = records.len() as u64;
        records.resize(padded(len) as usize, 0);
        headers.extend_from_slice(&records);
    }
    let mut h = HeaderBlock::new(meta.kind.typeflag());
    h.bytes(field::NAME, name);
    h.bytes(field::PREFIX, prefix);
    h.number(field::MODE, u64::from(meta.mode & 0o7777));
    h.number(field::UID, u64::from(meta.uid));
    h.number(field::GID, u64::from(meta.gid));
    h.number(field::SIZE, data_size);
    h.number(field::MTIME, ustar_mtime);
    if let Some(t) = link {
        if link_record.is_none() {
            h.bytes(field::LINKNAME, t);
        } else {
            h.bytes(field::LINKNAME, &t[..t.len().min(field::LINKNAME.1)]);
        }
    }
    h.bytes(field::UNAME, &owner_field(&meta.user));
    h.bytes(field::GNAME, &owner_field(&meta.group));
    if let Some((major, minor)) = dev {
        h.number(field::DEVMAJOR, u64::from(major));
        h.number(field::DEVMINOR, u64::from(minor));
    }
    headers.extend_from_slice(&h.finish());
    Encoded {
        headers,
        map,
        data_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::meta::Slice;

    fn file(path: &str, size: u64) -> EntryMeta {
        EntryMeta::new(path, EntryKind::File { size, sparse: None })
    }

    #[test]
    fn names_split_or_go_to_pax() {
        assert_eq!(split_name(b"a/b"), Some((&b""[..], &b"a/b"[..])));
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(99));
        let (p, n) = split_name(long.as_bytes()).unwrap();
        assert_eq!((p.len(), n.len()), (150, 99));
        assert_eq!(split_name("x".repeat(101).as_bytes()), None);
        assert_eq!(split_name(format!("{}/", "d".repeat(120)).as_bytes()), None);
        // a plain short file: one ustar block, no pax header
        assert_eq!(stored_size(&file("a", 0)), 512);
        assert_eq!(stored_size(&file("a", 1)), 1024);
        assert_eq!(stored_size(&file("a", 512)), 1024);
        // a long name needs a pax header
        let e = file(&"x".repeat(300), 0);
        assert_eq!(stored_size(&e), 512 * 3);
    }

    #[test]
    fn stored_size_is_what_append_writes() {
        let mut entries = vec![
            file("a", 3),
            file(&format!("{}/{}", "d".repeat(200), "f".repeat(200)), 1000),
            EntryMeta::new("d", EntryKind::Dir),
            EntryMeta::new(
                "s",
                EntryKind::File {
                    size: 1 << 20,
                    sparse: Some(vec![(0, 10), (4096, 600)]),
                },
            ),
            EntryMeta::new(
                "l",
                EntryKind::Symlink {
                    target: vec![b'/'; 300],
                },
            ),
        ];
        let mut big = file("big", 10);
        big.uid = 1 << 30;
        big.mtime = (-5, 7);
        big.atime = Some((1, 2));
        big.user = Some(vec![0xff; 40]);
        big.xattrs = vec![(b"user.a=b".to_vec(), vec![0; 70000])];
        big.slice = Some(Slice {
            offset: 100,
            total: 200,
        });
        entries.push(big);
        for e in entries {
            let mut w = TarWriter::new(Vec::new());
            let out = w.append(&e, &mut io::repeat(7)).unwrap();
            assert_eq!(out.short_by, 0);
            assert_eq!(out.written, e.payload_len());
            assert_eq!(w.position(), stored_size(&e), "{}", e.display_path());
            assert_eq!(out.stored, stored_size(&e));
            let bytes = w.finish().unwrap();
            assert_eq!(bytes.len() as u64, stored_size(&e) + END_OF_ARCHIVE);
        }
    }

    #[test]
    fn short_data_is_padded_and_reported() {
        let e = file("a", 1000);
        let mut w = TarWriter::new(Vec::new());
        let out = w.append(&e, &mut &[1u8; 10][..]).unwrap();
        assert_eq!((out.written, out.short_by), (10, 990));
        let mut content = vec![1u8; 10];
        content.resize(1000, 0);
        assert_eq!(out.b3, Some(blake3::hash(&content)));
        assert_eq!(w.position(), 1536);
    }

    #[test]
    fn invalid_entries_are_refused_before_writing() {
        for bad in [
            file("/abs", 0),
            file("a/../b", 0),
            file("..", 0),
            file("", 0),
            file("a/", 0),
            file("a\0b", 0),
            file(".", 0),
            EntryMeta::new(
                "h",
                EntryKind::HardLink {
                    target: b"../x".to_vec(),
                },
            ),
            EntryMeta::new(
                "s",
                EntryKind::File {
                    size: 10,
                    sparse: Some(vec![(5, 10)]),
                },
            ),
        ] {
            let mut w = TarWriter::new(Vec::new());
            let err = w.append(&bad, &mut io::empty()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(w.position(), 0);
        }
    }

    #[test]
    fn sizes_beyond_8_gib_use_pax_and_base_256() {
        let e = file("huge", 1 << 34);
        let enc = encode(&e);
        let text = String::from_utf8_lossy(&enc.headers);
        assert!(text.contains(" size=17179869184\n"), "{text}");
        let ustar = &enc.headers[enc.headers.len() - BLOCK..];
        assert_eq!(ustar[field::SIZE.0], 0x80);
        let mut r = crate::archive::TarReader::new(&enc.headers[..]);
        let (m, _) = r.next_entry().unwrap().unwrap();
        assert_eq!(m, e);
        assert_eq!(stored_size(&e), enc.headers.len() as u64 + (1 << 34));
    }

    #[test]
    fn deterministic() {
        let mut e = file("a/b", 5);
        e.mtime = (1_763_700_000, 5);
        e.xattrs = vec![(b"user.x".to_vec(), b"1".to_vec())];
        let write = || {
            let mut w = TarWriter::new(Vec::new());
            w.append(&e, &mut &b"hello"[..]).unwrap();
            w.finish().unwrap()
        };
        assert_eq!(write(), write());
    }
}
