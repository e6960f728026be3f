//! Reading ISO 9660 images and devices without mounting them: the volume id (to recognise
//! rescue media by label), directory listings, and files of any size as a stream.
//!
//! - Names come from Rock Ridge (`NM`, continuation areas included) where the image has
//!   them, compared exactly; else the ISO 9660 name without its `;1` version, compared
//!   without regard to case. Joliet is not read.
//! - Files of 4 GiB and more are stored as several directory records with the
//!   multi-extent flag (ISO 9660 level 3); [`FileReader`] reads them as one stream.
//! - Rock Ridge directory relocation (`CL`/`RE`, for trees deeper than eight levels) is
//!   followed, so relocated directories are found where the tree has them.
//! - Everything is read with positioned reads (`pread`) on a shared handle: several files
//!   of one image can be read at once, and nothing is held in memory but the directory
//!   being looked at.
//!
//! ```no_run
//! use rescue_core::iso9660::Image;
//! use std::io::Read;
//!
//! let image = Image::open_path("rescue-1.iso".as_ref()).unwrap().expect("an ISO 9660 image");
//! println!("volume {}", image.volume_id());
//! for entry in image.list("/sets").unwrap() {
//!     println!("{} {}", entry.name, entry.size);
//! }
//! let mut manifest = String::new();
//! image.open_file("/rescue/manifest.json").unwrap().read_to_string(&mut manifest).unwrap();
//! ```

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Size of an ISO 9660 logical block.
pub const SECTOR: usize = 2048;
const SECTOR_U64: u64 = SECTOR as u64;
/// The volume descriptors start at sector 16.
const FIRST_DESCRIPTOR: u64 = 16 * SECTOR_U64;
/// Volume descriptors looked at before giving up on a terminator.
const MAX_DESCRIPTORS: u64 = 32;
/// The largest directory read (a directory of some 300 000 entries): beyond it the
/// record is taken for garbage.
const MAX_DIRECTORY: u64 = 64 << 20;
/// Directories are read this many bytes at a time.
const DIRECTORY_CHUNK: usize = 64 * SECTOR;
/// Continuation areas followed for one record, and their largest size.
const MAX_CONTINUATIONS: usize = 32;
const MAX_CONTINUATION_LEN: u32 = 64 << 10;
/// Path components followed in one lookup (relocated directories cannot loop forever).
const MAX_DEPTH: usize = 256;

/// Directory record flags.
const FLAG_DIRECTORY: u8 = 0x02;
const FLAG_MULTI_EXTENT: u8 = 0x80;

/// The volume id of a primary volume descriptor (type 1, "CD001", version 1): bytes 40..72,
/// without the padding. `None` for anything else, including a buffer shorter than a sector.
pub fn primary_volume_id(desc: &[u8]) -> Option<String> {
    if desc.len() < SECTOR || desc[0] != 1 || &desc[1..6] != b"CD001" || desc[6] != 1 {
        return None;
    }
    let id = &desc[40..72];
    let end = id
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    Some(String::from_utf8_lossy(&id[..end]).into_owned())
}

/// Whether a volume id is the one looked for: exactly `wanted`, or without it any
/// `RESCUE_*` volume.
pub fn label_matches(volume_id: &str, wanted: Option<&str>) -> bool {
    match wanted {
        Some(w) => volume_id == w,
        None => volume_id.starts_with(crate::media::LABEL_PREFIX),
    }
}

/// Reads the primary volume descriptor of a device or image and returns it whole;
/// `None` when it holds no ISO 9660 file system (or is too short to).
pub fn read_primary(dev: &File) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; SECTOR];
    for i in 0..MAX_DESCRIPTORS {
        match dev.read_exact_at(&mut buf, FIRST_DESCRIPTOR + i * SECTOR_U64) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        if &buf[1..6] != b"CD001" {
            return Ok(None);
        }
        match buf[0] {
            1 => return Ok(primary_volume_id(&buf).map(|_| buf)),
            255 => return Ok(None),
            _ => {} // boot record, supplementary (Joliet) descriptor, ...
        }
    }
    Ok(None)
}

/// The volume id of a device or image, if it holds ISO 9660.
pub fn read_volume_id(dev: &File) -> io::Result<Option<String>> {
    Ok(read_primary(dev)?.and_then(|pvd| primary_volume_id(&pvd)))
}

/// Where a piece of a file's data lies: `len` bytes from logical block `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub block: u32,
    pub len: u32,
}

/// One file or directory of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The Rock Ridge name, else the ISO 9660 name without its version (`README.TXT`).
    pub name: String,
    /// Whether `name` came from Rock Ridge (compared exactly) or is an ISO 9660 name
    /// (compared without regard to case).
    pub rock_ridge: bool,
    pub is_dir: bool,
    /// The size in bytes (of every extent together).
    pub size: u64,
    /// The data, in order: one extent, or several for a file of 4 GiB and more.
    pub extents: Vec<Extent>,
    /// The mode from Rock Ridge (`PX`), type bits included, where the image has it.
    pub mode: Option<u32>,
    /// Set on records of files stored interleaved (file unit size, gap), which this
    /// reader does not read.
    pub interleaved: bool,
}

impl Entry {
    /// Whether this entry has the name `name` (see [`Entry::rock_ridge`]).
    pub fn is_named(&self, name: &str) -> bool {
        if self.rock_ridge {
            self.name == name
        } else {
            self.name.eq_ignore_ascii_case(name)
        }
    }

    /// The first block of the data (0 for an empty file without an extent).
    pub fn block(&self) -> u32 {
        self.extents.first().map_or(0, |e| e.block)
    }

    /// Whether Rock Ridge says this is a symbolic link (read as an empty file).
    pub fn is_symlink(&self) -> bool {
        self.mode.is_some_and(|m| m & 0o170000 == 0o120000)
    }
}

/// One directory record as it is on the image, before multi-extent records are joined.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    raw_name: Vec<u8>,
    block: u32,
    len: u32,
    flags: u8,
    interleaved: bool,
    susp: Susp,
}

/// What the system use area (Rock Ridge) of a record says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Susp {
    name: Option<Vec<u8>>,
    mode: Option<u32>,
    /// `CL`: the directory this placeholder stands for lives at this block.
    child_link: Option<u32>,
    /// `RE`: a relocated directory, listed under its placeholder's parent instead.
    relocated: bool,
    /// `CE`: more of the area at (block, offset, length).
    continuation: Option<(u32, u32, u32)>,
    /// `SP` (in the root's "." record): bytes to skip before every area.
    skip: Option<u8>,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads the SUSP entries of `area` into `out`; `NM` pieces are appended (a name may be
/// split over several entries and continuation areas).
fn parse_susp(area: &[u8], out: &mut Susp) {
    let mut q = 0;
    while q + 4 <= area.len() {
        let len = usize::from(area[q + 2]);
        if len < 4 || q + len > area.len() {
            break;
        }
        let body = &area[q + 4..q + len];
        match &area[q..q + 2] {
            // CURRENT / PARENT flags name "." and "..", never a file.
            b"NM" if !body.is_empty() && body[0] & 0b110 == 0 => {
                out.name
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(&body[1..]);
            }
            b"PX" if body.len() >= 4 => out.mode = Some(le32(body)),
            b"CL" if body.len() >= 4 => out.child_link = Some(le32(body)),
            b"RE" => out.relocated = true,
            b"CE" if body.len() >= 24 => {
                out.continuation = Some((le32(body), le32(&body[8..]), le32(&body[16..])));
            }
            b"SP" if body.len() >= 3 && body[0] == 0xBE && body[1] == 0xEF => {
                out.skip = Some(body[2]);
            }
            b"ST" => break,
            _ => {}
        }
        q += len;
    }
}

/// Parses the directory records of `data` (whole sectors of a directory's extent),
/// skipping "." and ".."; continuation areas are not followed here. Records never cross
/// a sector; a zero length byte means the rest of the sector is padding.
fn parse_records(data: &[u8], skip: usize, out: &mut Vec<Record>) {
    let mut p = 0;
    while p < data.len() {
        let len = usize::from(data[p]);
        if len == 0 {
            p = (p / SECTOR + 1) * SECTOR;
            continue;
        }
        if len < 34 || p + len > data.len() {
            // A record running past its sector is garbage: go on with the next sector.
            p = (p / SECTOR + 1) * SECTOR;
            continue;
        }
        let rec = &data[p..p + len];
        p += len;
        let name_len = usize::from(rec[32]);
        if 33 + name_len > len {
            continue;
        }
        let raw = &rec[33..33 + name_len];
        if raw == [0] || raw == [1] {
            continue;
        }
        let susp_start = 33 + name_len + usize::from(name_len % 2 == 0) + skip;
        let mut susp = Susp::default();
        if let Some(area) = rec.get(susp_start..) {
            parse_susp(area, &mut susp);
        }
        // Data begins after the extended attribute record, if any.
        let xar = u32::from(rec[1]);
        out.push(Record {
            raw_name: raw.to_vec(),
            block: le32(&rec[2..]).saturating_add(xar),
            len: le32(&rec[10..]),
            flags: rec[25],
            interleaved: rec[26] != 0 || rec[27] != 0,
            susp,
        });
    }
}

/// "MANIFEST.JSON;1" -> "MANIFEST.JSON"; "README." -> "README".
fn iso_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.split(';').next().unwrap_or_default();
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// Joins records into entries: a record with the multi-extent flag is continued by the
/// next one (a file of 4 GiB and more). Relocated directories (`RE`) are left out.
struct Joiner {
    pending: Option<Entry>,
    /// The pending entry's last record had the multi-extent flag.
    continues: bool,
    out: Vec<Entry>,
}

impl Joiner {
    fn new() -> Joiner {
        Joiner {
            pending: None,
            continues: false,
            out: Vec::new(),
        }
    }

    fn push(&mut self, r: Record) {
        let extent = Extent {
            block: r.block,
            len: r.len,
        };
        if self.continues {
            if let Some(p) = self.pending.as_mut() {
                p.extents.push(extent);
                p.size += u64::from(r.len);
                p.interleaved |= r.interleaved;
                if p.mode.is_none() {
                    p.mode = r.susp.mode;
                }
                self.continues = r.flags & FLAG_MULTI_EXTENT != 0;
                return;
            }
        }
        self.flush();
        if r.susp.relocated {
            return;
        }
        let (name, rock_ridge) = match &r.susp.name {
            Some(n) => (String::from_utf8_lossy(n).into_owned(), true),
            None => (iso_name(&r.raw_name), false),
        };
        let (is_dir, extents) = match r.susp.child_link {
            // The size is the relocated directory's, read from its "." record later.
            Some(block) => (true, vec![Extent { block, len: 0 }]),
            None => (r.flags & FLAG_DIRECTORY != 0, vec![extent]),
        };
        self.pending = Some(Entry {
            name,
            rock_ridge,
            is_dir,
            size: extents.iter().map(|e| u64::from(e.len)).sum(),
            extents,
            mode: r.susp.mode,
            interleaved: r.interleaved,
        });
        self.continues = r.flags & FLAG_MULTI_EXTENT != 0 && !is_dir;
    }

    fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.out.push(p);
        }
        self.continues = false;
    }

    fn finish(mut self) -> Vec<Entry> {
        self.flush();
        self.out
    }
}

/// Parses the records of a directory's extent (skipping "." and ".."), joining the
/// records of multi-extent files, without following continuation areas or relocations:
/// the pure part of [`Image::read_dir`].
pub fn parse_directory(data: &[u8]) -> Vec<Entry> {
    let mut records = Vec::new();
    parse_records(data, 0, &mut records);
    let mut joiner = Joiner::new();
    for r in records {
        joiner.push(r);
    }
    joiner.finish()
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The error for an image that ends before `len` bytes at `offset`, which `what` needs:
/// its real size and what was wanted, not only the offset.
fn truncated(dev: &File, what: &str, offset: u64, len: u64) -> io::Error {
    let wanted = format!(
        "{what} needs bytes {offset}-{}",
        offset.saturating_add(len.max(1) - 1)
    );
    // Seeking moves the shared position, which no read uses: they all say where.
    let message = match (&*dev).seek(SeekFrom::End(0)) {
        Ok(size) => format!("the image is truncated: it is {size} bytes long, but {wanted}"),
        Err(e) => format!("the image is truncated ({wanted}), and its size is unknown: {e}"),
    };
    io::Error::new(io::ErrorKind::UnexpectedEof, message)
}

/// "the root directory" or "the directory NAME (block N)".
fn describe_dir(dir: &Entry) -> String {
    if dir.name.is_empty() {
        format!("the root directory (block {})", dir.block())
    } else {
        format!("the directory {} (block {})", dir.name, dir.block())
    }
}

/// An ISO 9660 image or device, open for reading. Cloning it is cheap (the handle is
/// shared).
#[derive(Debug, Clone)]
pub struct Image {
    dev: Arc<File>,
    volume_id: String,
    root: Entry,
    /// SUSP bytes to skip at the start of every system use area (`SP`).
    skip: usize,
}

impl Image {
    /// Opens the ISO 9660 file system on `dev`; `None` when it holds none.
    pub fn open(dev: File) -> io::Result<Option<Image>> {
        let Some(pvd) = read_primary(&dev)? else {
            return Ok(None);
        };
        let volume_id = primary_volume_id(&pvd).unwrap_or_default();
        // The root directory record sits at byte 156 of the primary volume descriptor.
        let rec = &pvd[156..190];
        let block = le32(&rec[2..]).saturating_add(u32::from(rec[1]));
        let len = le32(&rec[10..]);
        let root = Entry {
            name: String::new(),
            rock_ridge: false,
            is_dir: true,
            size: u64::from(len),
            extents: vec![Extent { block, len }],
            mode: None,
            interleaved: false,
        };
        let mut image = Image {
            dev: Arc::new(dev),
            volume_id,
            root,
            skip: 0,
        };
        image.skip = image.susp_skip()?;
        Ok(Some(image))
    }

    /// Opens an image file or a block device by path; `None` when it holds no ISO 9660.
    pub fn open_path(path: &Path) -> io::Result<Option<Image>> {
        Image::open(File::open(path)?)
    }

    /// The volume id (label) of the primary volume descriptor.
    pub fn volume_id(&self) -> &str {
        &self.volume_id
    }

    /// The root directory.
    pub fn root(&self) -> &Entry {
        &self.root
    }

    /// The `SP` entry of the root's "." record says how many bytes every system use area
    /// starts with that are not SUSP entries (0 on every image seen in practice).
    fn susp_skip(&self) -> io::Result<usize> {
        let mut first = vec![0u8; SECTOR];
        if self
            .read_at(
                &mut first,
                u64::from(self.root.block()) * SECTOR_U64,
                &|| "the root directory".to_string(),
            )
            .is_err()
        {
            // A root that cannot be read shows up as an error on the first lookup.
            return Ok(0);
        }
        let len = usize::from(first[0]);
        if len < 34 || first[32] != 1 || first[33] != 0 {
            return Ok(0);
        }
        let mut susp = Susp::default();
        parse_susp(&first[34..len], &mut susp);
        Ok(susp.skip.map_or(0, usize::from))
    }

    /// Fills `buf` from `offset`; `what` names what is read, for the error when the image
    /// ends first.
    fn read_at(&self, buf: &mut [u8], offset: u64, what: &dyn Fn() -> String) -> io::Result<()> {
        self.dev.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                truncated(&self.dev, &what(), offset, buf.len() as u64)
            } else {
                e
            }
        })
    }

    /// The entries of a directory ("." and ".." left out), in the order of the image.
    pub fn read_dir(&self, dir: &Entry) -> io::Result<Vec<Entry>> {
        if !dir.is_dir {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.name),
            ));
        }
        let dir = self.resolve_dir(dir)?;
        if dir.size > MAX_DIRECTORY {
            return Err(invalid(format!(
                "a directory of {} bytes at block {}: more than this reader takes",
                dir.size,
                dir.block()
            )));
        }
        let mut joiner = Joiner::new();
        let mut records = Vec::new();
        let mut buf = vec![0u8; DIRECTORY_CHUNK];
        let start = u64::from(dir.block()) * SECTOR_U64;
        let mut done = 0u64;
        while done < dir.size {
            // Whole sectors: records never cross one.
            let n = (dir.size - done).min(DIRECTORY_CHUNK as u64) as usize;
            let n = n.div_ceil(SECTOR) * SECTOR;
            self.read_at(&mut buf[..n], start + done, &|| describe_dir(&dir))?;
            records.clear();
            parse_records(&buf[..n], self.skip, &mut records);
            for mut r in records.drain(..) {
                self.follow_continuations(&mut r.susp)?;
                joiner.push(r);
            }
            done += n as u64;
        }
        let mut entries = joiner.finish();
        for e in &mut entries {
            if e.is_dir && e.size == 0 {
                *e = self.resolve_dir(e)?;
            }
        }
        Ok(entries)
    }

    /// A relocated directory's placeholder (`CL`) has no size: read it from the "."
    /// record at the start of the directory.
    fn resolve_dir(&self, dir: &Entry) -> io::Result<Entry> {
        if dir.size != 0 || dir.extents.len() != 1 {
            return Ok(dir.clone());
        }
        let mut first = vec![0u8; SECTOR];
        self.read_at(&mut first, u64::from(dir.block()) * SECTOR_U64, &|| {
            describe_dir(dir)
        })?;
        if usize::from(first[0]) < 34 || first[32] != 1 || first[33] != 0 {
            return Err(invalid(format!(
                "the relocated directory {} at block {} does not start with its \".\" record",
                dir.name,
                dir.block()
            )));
        }
        let len = le32(&first[10..]);
        let mut resolved = dir.clone();
        resolved.size = u64::from(len);
        resolved.extents = vec![Extent {
            block: dir.block(),
            len,
        }];
        Ok(resolved)
    }

    /// Reads the continuation areas (`CE`) of a record's system use area into `susp`.
    fn follow_continuations(&self, susp: &mut Susp) -> io::Result<()> {
        for _ in 0..MAX_CONTINUATIONS {
            let Some((block, offset, len)) = susp.continuation.take() else {
                return Ok(());
            };
            if len == 0 || len > MAX_CONTINUATION_LEN {
                return Err(invalid(format!(
                    "a Rock Ridge continuation area of {len} bytes at block {block}"
                )));
            }
            let mut area = vec![0u8; len as usize];
            self.read_at(
                &mut area,
                u64::from(block) * SECTOR_U64 + u64::from(offset),
                &|| format!("a Rock Ridge continuation area at block {block}"),
            )?;
            parse_susp(&area, susp);
        }
        Err(invalid(format!(
            "more than {MAX_CONTINUATIONS} Rock Ridge continuation areas for one record"
        )))
    }

    /// The entry at `path` ("/rescue/manifest.json" or "rescue/manifest.json"; "/" is
    /// the root), `None` when there is none.
    pub fn lookup(&self, path: &str) -> io::Result<Option<Entry>> {
        let mut cur = self.root.clone();
        for (depth, part) in path.split('/').filter(|p| !p.is_empty()).enumerate() {
            if depth >= MAX_DEPTH {
                return Err(invalid(format!("{path}: too many components")));
            }
            if !cur.is_dir {
                return Ok(None);
            }
            match self.read_dir(&cur)?.into_iter().find(|e| e.is_named(part)) {
                Some(e) => cur = e,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// The entries of the directory at `path`.
    pub fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
        match self.lookup(path)? {
            Some(dir) => self.read_dir(&dir),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{path}: no such directory on the image"),
            )),
        }
    }

    /// A reader of the file at `path`; an error of kind `NotFound` when there is none.
    pub fn open_file(&self, path: &str) -> io::Result<FileReader> {
        match self.lookup(path)? {
            Some(e) if e.is_dir => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{path} is a directory"),
            )),
            Some(e) => self.reader(&e),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{path}: no such file on the image"),
            )),
        }
    }

    /// A reader of a file's data.
    pub fn reader(&self, entry: &Entry) -> io::Result<FileReader> {
        if entry.interleaved {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} is stored interleaved, which this reader does not read",
                    entry.name
                ),
            ));
        }
        Ok(FileReader {
            dev: Arc::clone(&self.dev),
            name: entry.name.clone(),
            extents: entry
                .extents
                .iter()
                .filter(|e| e.len > 0)
                .map(|e| (u64::from(e.block) * SECTOR_U64, u64::from(e.len)))
                .collect(),
            size: entry.size,
            pos: 0,
        })
    }

    /// The contents of the file at `path`, `None` when there is no such file (or it is a
    /// directory). Files larger than `limit` bytes are an error.
    pub fn read_file(&self, path: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let Some(entry) = self.lookup(path)? else {
            return Ok(None);
        };
        if entry.is_dir {
            return Ok(None);
        }
        if entry.size > limit {
            return Err(io::Error::other(format!(
                "{path} holds {} bytes, more than the {limit} expected",
                entry.size
            )));
        }
        let mut buf = Vec::with_capacity(entry.size as usize);
        self.reader(&entry)?.read_to_end(&mut buf)?;
        Ok(Some(buf))
    }
}

/// A file of an image as a stream: its extents one after the other. `Seek` works too.
#[derive(Debug)]
pub struct FileReader {
    dev: Arc<File>,
    /// Its name in its directory, for errors.
    name: String,
    /// (byte offset on the image, length) of each extent.
    extents: Vec<(u64, u64)>,
    size: u64,
    pos: u64,
}

impl FileReader {
    /// The file's size.
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Where `pos` lies: (image offset, bytes left in that extent).
    fn locate(&self, pos: u64) -> Option<(u64, u64)> {
        let mut start = 0u64;
        for &(offset, len) in &self.extents {
            if pos < start + len {
                return Some((offset + (pos - start), start + len - pos));
            }
            start += len;
        }
        None
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let Some((at, left)) = self.locate(self.pos) else {
            return Ok(0);
        };
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = loop {
            match self.dev.read_at(&mut buf[..want], at) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            let what = format!(
                "{} ({} bytes, {} of them read)",
                self.name, self.size, self.pos
            );
            return Err(truncated(&self.dev, &what, at, left));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for FileReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvd(volume_id: &str) -> Vec<u8> {
        let mut d = vec![0u8; SECTOR];
        d[0] = 1;
        d[1..6].copy_from_slice(b"CD001");
        d[6] = 1;
        d[40..72].fill(b' ');
        d[40..40 + volume_id.len()].copy_from_slice(volume_id.as_bytes());
        d
    }

    #[test]
    fn a_good_primary_volume_descriptor() {
        assert_eq!(
            primary_volume_id(&pvd("RESCUE_1A2B3C4D")).as_deref(),
            Some("RESCUE_1A2B3C4D")
        );
        let full = "RESCUE_0123456789ABCDEFGHIJKLMNO";
        assert_eq!(full.len(), 32);
        assert_eq!(primary_volume_id(&pvd(full)).as_deref(), Some(full));
        let mut nul_padded = pvd("RESCUE_X");
        nul_padded[48..72].fill(0);
        assert_eq!(primary_volume_id(&nul_padded).as_deref(), Some("RESCUE_X"));
        assert_eq!(primary_volume_id(&pvd("")).as_deref(), Some(""));
    }

    #[test]
    fn wrong_magic_type_version_or_a_short_buffer_is_not_one() {
        let mut d = pvd("RESCUE_X");
        d[1..6].copy_from_slice(b"CD002");
        assert_eq!(primary_volume_id(&d), None);
        let mut d = pvd("RESCUE_X");
        d[0] = 2; // supplementary (Joliet)
        assert_eq!(primary_volume_id(&d), None);
        let mut d = pvd("RESCUE_X");
        d[6] = 2;
        assert_eq!(primary_volume_id(&d), None);
        assert_eq!(primary_volume_id(&pvd("RESCUE_X")[..100]), None);
        assert_eq!(primary_volume_id(&[]), None);
    }

    #[test]
    fn labels_match_exactly_or_by_prefix() {
        assert!(label_matches("RESCUE_1A2B", Some("RESCUE_1A2B")));
        assert!(!label_matches("RESCUE_1A2B", Some("RESCUE_FFFF")));
        assert!(label_matches("RESCUE_1A2B", None));
        assert!(label_matches("RESCUE_1A2B_2", None));
        assert!(!label_matches("DEBIAN_12", None));
    }

    #[test]
    fn finds_the_primary_after_a_boot_record_and_reads_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let mut img = vec![0u8; 16 * SECTOR];
        let mut boot = vec![0u8; SECTOR];
        boot[1..6].copy_from_slice(b"CD001");
        boot[6] = 1;
        img.extend(boot);
        img.extend(pvd("RESCUE_TEST"));
        std::fs::write(&path, &img).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_volume_id(&f).unwrap().as_deref(), Some("RESCUE_TEST"));

        std::fs::write(&path, vec![0u8; 17 * SECTOR]).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_volume_id(&f).unwrap(), None, "no CD001");
        assert!(Image::open_path(&path).unwrap().is_none());
        std::fs::write(&path, vec![0u8; 1000]).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_volume_id(&f).unwrap(), None, "shorter than 32 KiB");
    }

    fn record(name: &[u8], extent: u32, size: u32, flags: u8, susp: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 33];
        r.extend_from_slice(name);
        if name.len().is_multiple_of(2) {
            r.push(0);
        }
        r.extend_from_slice(susp);
        r[0] = r.len() as u8;
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[25] = flags;
        r[32] = name.len() as u8;
        r
    }

    fn nm(name: &str, flags: u8) -> Vec<u8> {
        let mut e = vec![b'N', b'M', (5 + name.len()) as u8, 1, flags];
        e.extend_from_slice(name.as_bytes());
        e
    }

    fn entry(name: &str, rr: bool, extents: &[(u32, u32)], is_dir: bool) -> Entry {
        Entry {
            name: name.into(),
            rock_ridge: rr,
            is_dir,
            size: extents.iter().map(|e| u64::from(e.1)).sum(),
            extents: extents
                .iter()
                .map(|&(block, len)| Extent { block, len })
                .collect(),
            mode: None,
            interleaved: false,
        }
    }

    #[test]
    fn directory_records_with_and_without_rock_ridge() {
        let mut data = record(&[0], 20, 2048, 2, &[]);
        data.extend(record(&[1], 18, 2048, 2, &[]));
        let mut split_name = nm("manifest", 1);
        split_name.extend(nm(".json", 0));
        data.extend(record(b"MANIFEST.JSO;1", 33, 120, 0, &split_name));
        data.extend(record(b"RESCUE", 21, 2048, 2, &[]));
        // The rest of the sector is padding; the next record starts a new sector.
        data.resize(SECTOR, 0);
        data.extend(record(b"README.;1", 40, 7, 0, &[]));
        let entries = parse_directory(&data);
        assert_eq!(
            entries,
            vec![
                entry("manifest.json", true, &[(33, 120)], false),
                entry("RESCUE", false, &[(21, 2048)], true),
                entry("README", false, &[(40, 7)], false),
            ]
        );
        assert!(entries[1].is_named("rescue"));
        assert!(!entries[0].is_named("MANIFEST.JSON"));
    }

    #[test]
    fn a_truncated_directory_ends_the_listing() {
        let mut data = record(b"A;1", 30, 1, 0, &[]);
        data.extend(&record(b"B;1", 31, 1, 0, &[])[..20]);
        let entries = parse_directory(&data);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, "A");
    }

    #[test]
    fn multi_extent_records_join_into_one_file() {
        let big = u32::MAX - 2047;
        let mut data = record(b"BIG.IMG;1", 100, big, FLAG_MULTI_EXTENT, &nm("big.img", 0));
        data.extend(record(b"BIG.IMG;1", 2_097_252, big, FLAG_MULTI_EXTENT, &[]));
        data.extend(record(b"BIG.IMG;1", 4_194_404, 5000, 0, &nm("big.img", 0)));
        data.extend(record(b"NEXT.TXT;1", 5_000_000, 3, 0, &[]));
        let entries = parse_directory(&data);
        assert_eq!(
            entries,
            vec![
                entry(
                    "big.img",
                    true,
                    &[(100, big), (2_097_252, big), (4_194_404, 5000)],
                    false
                ),
                entry("NEXT.TXT", false, &[(5_000_000, 3)], false),
            ]
        );
        assert_eq!(entries[0].size, 2 * u64::from(big) + 5000);
    }

    #[test]
    fn relocated_directories_are_hidden_and_child_links_are_directories() {
        let mut cl = vec![b'C', b'L', 12, 1];
        cl.extend(77u32.to_le_bytes());
        cl.extend(77u32.to_be_bytes());
        let mut placeholder = nm("deep", 0);
        placeholder.extend(cl);
        let mut data = record(b"DEEP", 50, 0, 0, &placeholder);
        let mut re = nm("deep", 0);
        re.extend([b'R', b'E', 4, 1]);
        data.extend(record(b"DEEP", 77, 2048, 2, &re));
        let entries = parse_directory(&data);
        assert_eq!(entries, vec![entry("deep", true, &[(77, 0)], true)]);
    }

    #[test]
    fn px_gives_the_mode_and_symlinks_are_known() {
        let mut px = vec![b'P', b'X', 44, 1];
        px.extend(0o120777u32.to_le_bytes());
        px.extend(0o120777u32.to_be_bytes());
        px.extend([0u8; 32]);
        let mut susp = nm("link", 0);
        susp.extend(px);
        let entries = parse_directory(&record(b"LINK.;1", 0, 0, 0, &susp));
        assert_eq!(entries[0].mode, Some(0o120777));
        assert!(entries[0].is_symlink());
    }

    /// A small image by hand: the PVD, a root directory and a file split over two
    /// extents, one of them out of order on the image.
    #[test]
    fn reads_a_hand_made_image_with_a_two_extent_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let mut img = vec![0u8; 30 * SECTOR];
        let mut d = pvd("RESCUE_HAND_1");
        let root = record(&[0], 18, SECTOR as u32, 2, &[]);
        d[156..156 + 34].copy_from_slice(&root[..34]);
        img[16 * SECTOR..17 * SECTOR].copy_from_slice(&d);
        img[17 * SECTOR] = 255;
        img[17 * SECTOR + 1..17 * SECTOR + 6].copy_from_slice(b"CD001");
        let mut rootdir = record(&[0], 18, SECTOR as u32, 2, &[]);
        rootdir.extend(record(&[1], 18, SECTOR as u32, 2, &[]));
        rootdir.extend(record(
            b"F.BIN;1",
            25,
            2048,
            FLAG_MULTI_EXTENT,
            &nm("File.bin", 0),
        ));
        rootdir.extend(record(b"F.BIN;1", 21, 1000, 0, &nm("File.bin", 0)));
        img[18 * SECTOR..18 * SECTOR + rootdir.len()].copy_from_slice(&rootdir);
        img[25 * SECTOR..26 * SECTOR].fill(b'a');
        img[21 * SECTOR..21 * SECTOR + 1000].fill(b'b');
        std::fs::write(&path, &img).unwrap();

        let image = Image::open_path(&path).unwrap().unwrap();
        assert_eq!(image.volume_id(), "RESCUE_HAND_1");
        let listed = image.list("/").unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].size, 3048);
        assert!(
            image.lookup("/file.bin").unwrap().is_none(),
            "Rock Ridge is exact"
        );
        let mut got = Vec::new();
        image
            .open_file("File.bin")
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        let mut want = vec![b'a'; 2048];
        want.extend(vec![b'b'; 1000]);
        assert_eq!(got, want);
        // Reads across the extent boundary, and seeks.
        let mut r = image.open_file("/File.bin").unwrap();
        r.seek(SeekFrom::Start(2040)).unwrap();
        let mut buf = [0u8; 16];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"aaaaaaaabbbbbbbb");
        r.seek(SeekFrom::End(-1)).unwrap();
        assert_eq!(r.read(&mut buf).unwrap(), 1);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(image.read_file("/File.bin", 5000).unwrap().unwrap(), want);
        assert!(image.read_file("/File.bin", 100).is_err());
        assert_eq!(image.read_file("/nope", 100).unwrap(), None);
        let e = image.open_file("/nope").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);

        // Cut the image inside the file, and before it: reading it says the image is
        // truncated, its real size and what the file needed.
        std::fs::write(&path, &img[..25 * SECTOR + 100]).unwrap();
        let image = Image::open_path(&path).unwrap().unwrap();
        let mut got = Vec::new();
        let e = image
            .open_file("/File.bin")
            .unwrap()
            .read_to_end(&mut got)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            e.to_string(),
            "the image is truncated: it is 51300 bytes long, but File.bin (3048 bytes, 100 of \
             them read) needs bytes 51300-53247"
        );
        std::fs::write(&path, &img[..22 * SECTOR]).unwrap();
        let image = Image::open_path(&path).unwrap().unwrap();
        let e = image.read_file("/File.bin", 5000).unwrap_err().to_string();
        assert_eq!(
            e,
            "the image is truncated: it is 45056 bytes long, but File.bin (3048 bytes, 0 of \
             them read) needs bytes 51200-53247"
        );

        // Cut before the root directory: listing it says so.
        std::fs::write(&path, &img[..18 * SECTOR]).unwrap();
        let image = Image::open_path(&path).unwrap().unwrap();
        let e = image.list("/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the image is truncated: it is 36864 bytes long, but the root directory (block 18) \
             needs bytes 36864-38911"
        );
    }
}
