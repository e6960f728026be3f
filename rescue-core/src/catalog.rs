//! The catalog (`/rescue/catalog.zst`) and the hash lists of the sets (`set-NNNNN.b3`):
//! zstd-compressed JSON Lines as docs/archive.md describes them.
//!
//! Both stream: a writer holds one encoded line, a reader one decoded line, and
//! [`join`] walks the catalog and the hash lists side by side (both are in walk order),
//! so memory does not grow with the number of files.
//!
//! ```
//! use rescue_core::catalog::{CatalogKind, CatalogReader, CatalogRecord, CatalogWriter};
//!
//! let mut w = CatalogWriter::new(Vec::new()).unwrap();
//! w.write(&CatalogRecord {
//!     index: 1,
//!     path: b"etc/hostname".to_vec(),
//!     kind: CatalogKind::File,
//!     mode: 0o644,
//!     uid: 0,
//!     gid: 0,
//!     user: Some("root".into()),
//!     group: Some("root".into()),
//!     mtime: (1_763_700_000, 5),
//!     size: 5,
//!     set: 1,
//!     slices: 1,
//! })
//! .unwrap();
//! let bytes = w.finish().unwrap();
//! let back: Vec<_> = CatalogReader::new(&bytes[..]).unwrap().collect();
//! assert_eq!(back[0].as_ref().unwrap().path, b"etc/hostname");
//! ```

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::iter::Peekable;

/// The zstd level of the catalog and the hash lists.
pub const ZSTD_LEVEL: i32 = 3;

/// The longest line a reader takes. A record of a file with a 4096-byte path and a
/// 4096-byte link target, both not UTF-8 and so in hex, takes under 17 KiB.
pub const MAX_LINE: usize = 1 << 20;

/// What kind of file a catalog record is, with what only that kind has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CatalogKind {
    File,
    Dir,
    /// The link's target as the bytes readlink gives.
    Symlink {
        target: Vec<u8>,
    },
    /// A further name of a file stored earlier: `link` is that file's catalog index.
    HardLink {
        link: u64,
    },
    Char {
        major: u32,
        minor: u32,
    },
    Block {
        major: u32,
        minor: u32,
    },
    Fifo,
}

impl CatalogKind {
    /// The name the catalog's `type` field gives it: "file", "dir", "symlink", "hardlink",
    /// "char", "block", "fifo".
    pub fn type_name(&self) -> &'static str {
        self.line_type().name()
    }

    fn line_type(&self) -> LineType {
        match self {
            CatalogKind::File => LineType::File,
            CatalogKind::Dir => LineType::Dir,
            CatalogKind::Symlink { .. } => LineType::Symlink,
            CatalogKind::HardLink { .. } => LineType::Hardlink,
            CatalogKind::Char { .. } => LineType::Char,
            CatalogKind::Block { .. } => LineType::Block,
            CatalogKind::Fifo => LineType::Fifo,
        }
    }
}

/// One file of the backup, as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CatalogRecord {
    /// The catalog index (`i`): strictly increasing in catalog order.
    pub index: u64,
    /// Relative to the captured root ("home/ann/notes.txt"), as raw bytes; "." is the
    /// root itself. Never absolute, never with `..`, `.` or empty components.
    pub path: Vec<u8>,
    pub kind: CatalogKind,
    /// Permission bits only (at most 0o7777: setuid, setgid, sticky and rwx).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The owner's and group's names, where the host had them.
    pub user: Option<String>,
    pub group: Option<String>,
    /// Seconds since the epoch and nanoseconds (below 1e9).
    pub mtime: (i64, u32),
    /// The content's size in bytes (the whole file's, for a sliced one).
    pub size: u64,
    /// The set that holds the entry: the first one, for a sliced file.
    pub set: u32,
    /// How many consecutive sets hold pieces of it: 1 unless it is a sliced file.
    pub slices: u32,
}

impl CatalogRecord {
    /// The sets that hold (a piece of) this entry.
    pub fn sets(&self) -> std::ops::RangeInclusive<u32> {
        self.set..=self.set.saturating_add(self.slices.saturating_sub(1))
    }

    /// How many hash list lines belong to this record: one per slice for a regular
    /// file, none for the other kinds.
    pub fn expected_hashes(&self) -> usize {
        match self.kind {
            CatalogKind::File => self.slices as usize,
            _ => 0,
        }
    }
}

/// One line of a set's hash list: a file entry of the set (a whole file or a slice).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HashRecord {
    /// The file's catalog index.
    pub index: u64,
    /// BLAKE3 of the bytes stored (of the slice, for a slice).
    pub b3: [u8; 32],
    /// How many bytes were stored.
    pub size: u64,
    /// The file changed while it was read: what was read is stored, and reported.
    pub changed: bool,
    /// The file could not be read; what the entry stores is then empty.
    pub error: Option<String>,
}

impl fmt::Debug for HashRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HashRecord");
        d.field("index", &self.index)
            .field("b3", &to_hex(&self.b3))
            .field("size", &self.size);
        if self.changed {
            d.field("changed", &true);
        }
        if let Some(e) = &self.error {
            d.field("error", e);
        }
        d.finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A line that is not a valid record.
    #[error("{what}, line {line}: {message}")]
    Invalid {
        what: &'static str,
        line: u64,
        message: String,
    },
    /// The compressed stream could not be read: corrupted or cut short.
    #[error("reading the {what} at line {line}")]
    Read {
        what: &'static str,
        line: u64,
        #[source]
        source: io::Error,
    },
    /// A record the writer refuses: it would not read back.
    #[error("{what} record {index}: {message}")]
    Refused {
        what: &'static str,
        index: u64,
        message: String,
    },
    #[error("writing the {what}")]
    Write {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// A hash list line that matches no catalog record where it stands.
    #[error("hash list line for catalog index {index}: {message}")]
    Join { index: u64, message: String },
}

const CATALOG: &str = "catalog";
const HASH_LIST: &str = "hash list";

// ---------------------------------------------------------------------------------------
// The lines as they are written.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LineType {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

impl LineType {
    fn name(self) -> &'static str {
        match self {
            LineType::File => "file",
            LineType::Dir => "dir",
            LineType::Symlink => "symlink",
            LineType::Hardlink => "hardlink",
            LineType::Char => "char",
            LineType::Block => "block",
            LineType::Fifo => "fifo",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogLine<'a> {
    i: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_hex: Option<String>,
    #[serde(rename = "type")]
    kind: LineType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rdev: Option<(u32, u32)>,
    mode: u32,
    uid: u32,
    gid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<Cow<'a, str>>,
    mtime: (i64, u32),
    size: u64,
    set: u32,
    slices: u32,
}

/// Bytes as the catalog holds them: a string when UTF-8, else hex.
fn text_or_hex(bytes: &[u8]) -> (Option<Cow<'_, str>>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(Cow::Borrowed(text)), None),
        Err(_) => (None, Some(to_hex(bytes))),
    }
}

fn bytes_from(
    name: &str,
    text: Option<Cow<'_, str>>,
    hex: Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    match (text, hex) {
        (Some(_), Some(_)) => Err(format!("both `{name}` and `{name}_hex` are given")),
        (Some(text), None) => Ok(Some(text.into_owned().into_bytes())),
        (None, Some(hex)) => from_hex(&hex)
            .map(Some)
            .map_err(|e| format!("`{name}_hex`: {e}")),
        (None, None) => Ok(None),
    }
}

impl CatalogRecord {
    fn to_line(&self) -> CatalogLine<'_> {
        let (path, path_hex) = text_or_hex(&self.path);
        let (mut target, mut target_hex, mut link, mut rdev) = (None, None, None, None);
        match &self.kind {
            CatalogKind::Symlink { target: t } => (target, target_hex) = text_or_hex(t),
            CatalogKind::HardLink { link: l } => link = Some(*l),
            CatalogKind::Char { major, minor } | CatalogKind::Block { major, minor } => {
                rdev = Some((*major, *minor));
            }
            CatalogKind::File | CatalogKind::Dir | CatalogKind::Fifo => {}
        }
        CatalogLine {
            i: self.index,
            path,
            path_hex,
            kind: self.kind.line_type(),
            target,
            target_hex,
            link,
            rdev,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            user: self.user.as_deref().map(Cow::Borrowed),
            group: self.group.as_deref().map(Cow::Borrowed),
            mtime: self.mtime,
            size: self.size,
            set: self.set,
            slices: self.slices,
        }
    }

    fn from_line(line: CatalogLine<'_>) -> Result<CatalogRecord, String> {
        let path = bytes_from("path", line.path, line.path_hex)?
            .ok_or("neither `path` nor `path_hex` is given")?;
        let target = bytes_from("target", line.target, line.target_hex)?;
        let unexpected = |field: &str| {
            Err(format!(
                "a {} has no `{field}`",
                line.kind.name().replace("dir", "directory")
            ))
        };
        let needs = |field: &str| format!("a {} needs `{field}`", line.kind.name());
        if target.is_some() && line.kind != LineType::Symlink {
            return unexpected("target");
        }
        if line.link.is_some() && line.kind != LineType::Hardlink {
            return unexpected("link");
        }
        if line.rdev.is_some() && !matches!(line.kind, LineType::Char | LineType::Block) {
            return unexpected("rdev");
        }
        let kind = match line.kind {
            LineType::File => CatalogKind::File,
            LineType::Dir => CatalogKind::Dir,
            LineType::Fifo => CatalogKind::Fifo,
            LineType::Symlink => CatalogKind::Symlink {
                target: target.ok_or_else(|| needs("target` or `target_hex"))?,
            },
            LineType::Hardlink => CatalogKind::HardLink {
                link: line.link.ok_or_else(|| needs("link"))?,
            },
            LineType::Char | LineType::Block => {
                let (major, minor) = line.rdev.ok_or_else(|| needs("rdev"))?;
                if line.kind == LineType::Char {
                    CatalogKind::Char { major, minor }
                } else {
                    CatalogKind::Block { major, minor }
                }
            }
        };
        let record = CatalogRecord {
            index: line.i,
            path,
            kind,
            mode: line.mode,
            uid: line.uid,
            gid: line.gid,
            user: line.user.map(Cow::into_owned),
            group: line.group.map(Cow::into_owned),
            mtime: line.mtime,
            size: line.size,
            set: line.set,
            slices: line.slices,
        };
        check_record(&record)?;
        Ok(record)
    }
}

/// What the writer refuses and the reader rejects alike (the index order aside).
fn check_record(r: &CatalogRecord) -> Result<(), String> {
    check_path(&r.path)?;
    if r.mode > 0o7777 {
        return Err(format!(
            "mode {:#o} has bits beyond 0o7777: the catalog keeps the permission bits only",
            r.mode
        ));
    }
    if r.mtime.1 >= 1_000_000_000 {
        return Err(format!(
            "mtime nanoseconds {} are not below 1000000000",
            r.mtime.1
        ));
    }
    if r.set == 0 {
        return Err("set 0: sets are numbered from 1".into());
    }
    if r.slices == 0 {
        return Err("slices 0: every entry is in at least one set".into());
    }
    if r.slices > 1 && r.kind != CatalogKind::File {
        return Err(format!(
            "a {} in {} slices: only regular files are sliced",
            r.kind.type_name(),
            r.slices
        ));
    }
    if r.set.checked_add(r.slices - 1).is_none() {
        return Err(format!(
            "set {} and {} slices run past the last set number",
            r.set, r.slices
        ));
    }
    if let CatalogKind::HardLink { link } = r.kind {
        if link >= r.index {
            return Err(format!(
                "a hard link to catalog index {link}, which is not an earlier record"
            ));
        }
    }
    Ok(())
}

/// A catalog path: relative, "." or names joined by single slashes, none of them "." or
/// "..", no NUL byte.
fn check_path(path: &[u8]) -> Result<(), String> {
    let show = || String::from_utf8_lossy(path).into_owned();
    if path.is_empty() {
        return Err("the path is empty (the root itself is \".\")".into());
    }
    if path == b"." {
        return Ok(());
    }
    if path.starts_with(b"/") {
        return Err(format!(
            "path {:?} is absolute: catalog paths are relative to the captured root",
            show()
        ));
    }
    if path.contains(&0) {
        return Err(format!("path {:?} holds a NUL byte", show()));
    }
    for component in path.split(|&b| b == b'/') {
        match component {
            b"" => return Err(format!("path {:?} has an empty component", show())),
            b"." | b".." => {
                return Err(format!(
                    "path {:?} has a {:?} component",
                    show(),
                    String::from_utf8_lossy(component)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashLine<'a> {
    i: u64,
    b3: Cow<'a, str>,
    size: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    changed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<Cow<'a, str>>,
}

impl HashRecord {
    fn from_line(line: HashLine<'_>) -> Result<HashRecord, String> {
        let bytes = from_hex(&line.b3).map_err(|e| format!("`b3`: {e}"))?;
        let b3: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("`b3` is {} bytes; BLAKE3 has 32", b.len()))?;
        Ok(HashRecord {
            index: line.i,
            b3,
            size: line.size,
            changed: line.changed,
            error: line.error.map(Cow::into_owned),
        })
    }
}

// ---------------------------------------------------------------------------------------
// zstd JSON Lines, out and in.

struct LinesOut<W: Write> {
    encoder: zstd::stream::write::Encoder<'static, W>,
    line: Vec<u8>,
    what: &'static str,
    count: u64,
}

impl<W: Write> LinesOut<W> {
    fn new(out: W, what: &'static str, level: i32) -> Result<LinesOut<W>, CatalogError> {
        let err = |source| CatalogError::Write { what, source };
        let mut encoder = zstd::stream::write::Encoder::new(out, level).map_err(err)?;
        encoder.include_checksum(true).map_err(err)?;
        Ok(LinesOut {
            encoder,
            line: Vec::with_capacity(512),
            what,
            count: 0,
        })
    }

    fn write<T: Serialize>(&mut self, value: &T) -> Result<(), CatalogError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(|e| CatalogError::Write {
            what: self.what,
            source: e.into(),
        })?;
        self.line.push(b'\n');
        self.encoder
            .write_all(&self.line)
            .map_err(|source| CatalogError::Write {
                what: self.what,
                source,
            })?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<W, CatalogError> {
        let what = self.what;
        let mut out = self
            .encoder
            .finish()
            .map_err(|source| CatalogError::Write { what, source })?;
        out.flush()
            .map_err(|source| CatalogError::Write { what, source })?;
        Ok(out)
    }
}

struct LinesIn<R: Read> {
    input: BufReader<zstd::stream::read::Decoder<'static, BufReader<R>>>,
    line: Vec<u8>,
    number: u64,
    what: &'static str,
    done: bool,
}

impl<R: Read> LinesIn<R> {
    fn new(input: R, what: &'static str) -> Result<LinesIn<R>, CatalogError> {
        let decoder =
            zstd::stream::read::Decoder::new(input).map_err(|source| CatalogError::Read {
                what,
                line: 1,
                source,
            })?;
        Ok(LinesIn {
            input: BufReader::with_capacity(64 << 10, decoder),
            line: Vec::with_capacity(512),
            number: 0,
            what,
            done: false,
        })
    }

    fn invalid(&self, message: impl Into<String>) -> CatalogError {
        CatalogError::Invalid {
            what: self.what,
            line: self.number,
            message: message.into(),
        }
    }

    /// The next line without its newline; after a read error, or a line cut short or too
    /// long, nothing more.
    fn next_line(&mut self) -> Option<Result<&[u8], CatalogError>> {
        if self.done {
            return None;
        }
        self.line.clear();
        let limit = MAX_LINE as u64 + 1;
        match (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.line)
        {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                self.number += 1;
                if self.line.last() == Some(&b'\n') {
                    self.line.pop();
                    return Some(Ok(&self.line));
                }
                self.done = true;
                Some(Err(if self.line.len() > MAX_LINE {
                    self.invalid(format!("longer than {MAX_LINE} bytes"))
                } else {
                    self.invalid(format!("cut short: the {} is truncated", self.what))
                }))
            }
            Err(source) => {
                self.done = true;
                Some(Err(CatalogError::Read {
                    what: self.what,
                    line: self.number + 1,
                    source,
                }))
            }
        }
    }
}

/// serde_json's message without its "at line 1 column N" (every line is parsed alone).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(head) => format!("{head} (column {})", e.column()),
        None => text,
    }
}

fn parse_line<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    if line.is_empty() {
        return Err("an empty line".into());
    }
    serde_json::from_slice(line).map_err(|e| json_message(&e))
}

// ---------------------------------------------------------------------------------------
// The catalog.

/// Writes catalog records, one JSON line each, into one zstd frame.
pub struct CatalogWriter<W: Write> {
    out: LinesOut<W>,
    last: Option<u64>,
}

impl<W: Write> CatalogWriter<W> {
    pub fn new(out: W) -> Result<CatalogWriter<W>, CatalogError> {
        CatalogWriter::with_level(out, ZSTD_LEVEL)
    }

    pub fn with_level(out: W, level: i32) -> Result<CatalogWriter<W>, CatalogError> {
        Ok(CatalogWriter {
            out: LinesOut::new(out, CATALOG, level)?,
            last: None,
        })
    }

    /// Appends a record. Refuses one whose index is not above the last one's, or that
    /// the reader would reject (see [`CatalogRecord`]'s fields).
    pub fn write(&mut self, record: &CatalogRecord) -> Result<(), CatalogError> {
        let refuse = |message: String| CatalogError::Refused {
            what: CATALOG,
            index: record.index,
            message,
        };
        check_order(self.last, record.index).map_err(refuse)?;
        check_record(record).map_err(refuse)?;
        self.out.write(&record.to_line())?;
        self.last = Some(record.index);
        Ok(())
    }

    /// How many records were written.
    pub fn records(&self) -> u64 {
        self.out.count
    }

    /// Ends the zstd frame and hands back the output, flushed.
    pub fn finish(self) -> Result<W, CatalogError> {
        self.out.finish()
    }
}

impl<W: Write> fmt::Debug for CatalogWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogWriter")
            .field("records", &self.out.count)
            .field("last_index", &self.last)
            .finish_non_exhaustive()
    }
}

fn check_order(last: Option<u64>, index: u64) -> Result<(), String> {
    match last {
        Some(last) if index <= last => Err(format!(
            "index {index} does not follow {last}: indexes rise strictly in catalog order"
        )),
        _ => Ok(()),
    }
}

/// A record of one of the two line streams, as [`LineReader`] reads it.
pub trait LineRecord: Sized {
    /// "catalog" or "hash list", for messages.
    const WHAT: &'static str;
    /// Parses one line.
    fn parse(line: &[u8]) -> Result<Self, String>;
    /// The catalog index, which rises strictly along the stream.
    fn index(&self) -> u64;
}

impl LineRecord for CatalogRecord {
    const WHAT: &'static str = CATALOG;

    fn parse(line: &[u8]) -> Result<Self, String> {
        parse_line::<CatalogLine>(line).and_then(CatalogRecord::from_line)
    }

    fn index(&self) -> u64 {
        self.index
    }
}

impl LineRecord for HashRecord {
    const WHAT: &'static str = HASH_LIST;

    fn parse(line: &[u8]) -> Result<Self, String> {
        parse_line::<HashLine>(line).and_then(HashRecord::from_line)
    }

    fn index(&self) -> u64 {
        self.index
    }
}

/// Reads records in order. An invalid line is an error item naming its line number, and
/// reading goes on with the next line; a stream that cannot be decompressed (corrupted,
/// truncated) ends with an error item.
pub struct LineReader<R: Read, T: LineRecord> {
    lines: LinesIn<R>,
    last: Option<u64>,
    _record: std::marker::PhantomData<T>,
}

/// Reads the catalog.
pub type CatalogReader<R> = LineReader<R, CatalogRecord>;
/// Reads a set's hash list.
pub type HashListReader<R> = LineReader<R, HashRecord>;

impl<R: Read, T: LineRecord> LineReader<R, T> {
    pub fn new(input: R) -> Result<LineReader<R, T>, CatalogError> {
        Ok(LineReader {
            lines: LinesIn::new(input, T::WHAT)?,
            last: None,
            _record: std::marker::PhantomData,
        })
    }

    /// The number of the last line read, from 1.
    pub fn line(&self) -> u64 {
        self.lines.number
    }
}

impl<R: Read, T: LineRecord> Iterator for LineReader<R, T> {
    type Item = Result<T, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let parsed = match self.lines.next_line()? {
            Ok(line) => T::parse(line),
            Err(e) => return Some(Err(e)),
        };
        let checked = parsed.and_then(|record| {
            check_order(self.last, record.index())?;
            Ok(record)
        });
        Some(match checked {
            Ok(record) => {
                self.last = Some(record.index());
                Ok(record)
            }
            Err(message) => Err(self.lines.invalid(message)),
        })
    }
}

impl<R: Read, T: LineRecord> fmt::Debug for LineReader<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(T::WHAT)
            .field("line", &self.lines.number)
            .field("last_index", &self.last)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// The hash lists.

/// Writes a set's hash list: one JSON line per file entry of the set, in set order.
pub struct HashListWriter<W: Write> {
    out: LinesOut<W>,
    last: Option<u64>,
}

impl<W: Write> HashListWriter<W> {
    pub fn new(out: W) -> Result<HashListWriter<W>, CatalogError> {
        HashListWriter::with_level(out, ZSTD_LEVEL)
    }

    pub fn with_level(out: W, level: i32) -> Result<HashListWriter<W>, CatalogError> {
        Ok(HashListWriter {
            out: LinesOut::new(out, HASH_LIST, level)?,
            last: None,
        })
    }

    /// Appends a record; its index must be above the last one's (one set holds one
    /// piece of a file at most).
    pub fn write(&mut self, record: &HashRecord) -> Result<(), CatalogError> {
        check_order(self.last, record.index).map_err(|message| CatalogError::Refused {
            what: HASH_LIST,
            index: record.index,
            message,
        })?;
        let hex = to_hex(&record.b3);
        self.out.write(&HashLine {
            i: record.index,
            b3: Cow::Borrowed(&hex),
            size: record.size,
            changed: record.changed,
            error: record.error.as_deref().map(Cow::Borrowed),
        })?;
        self.last = Some(record.index);
        Ok(())
    }

    pub fn records(&self) -> u64 {
        self.out.count
    }

    pub fn finish(self) -> Result<W, CatalogError> {
        self.out.finish()
    }
}

impl<W: Write> fmt::Debug for HashListWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashListWriter")
            .field("records", &self.out.count)
            .field("last_index", &self.last)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// The catalog and the hash lists side by side.

/// A catalog record with its hash list lines: none for what is not a regular file, one
/// for a file in one set, one per slice (in set order) for a sliced file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub record: CatalogRecord,
    pub hashes: Vec<HashRecord>,
}

impl Joined {
    /// Every hash line the record should have is there (none missing with a set or a
    /// volume that could not be read).
    pub fn complete(&self) -> bool {
        self.hashes.len() == self.record.expected_hashes()
    }

    /// The hash line of a file held whole by one set.
    pub fn hash(&self) -> Option<&HashRecord> {
        match self.hashes.as_slice() {
            [only] if self.record.slices == 1 => Some(only),
            _ => None,
        }
    }
}

/// Walks the catalog and the hash lists together; see [`join`].
pub struct Join<C, H: Iterator> {
    catalog: C,
    hashes: Peekable<H>,
    current: Option<Joined>,
}

/// Joins catalog records with the hash list lines of the sets, by catalog index.
///
/// `hashes` is the lines of every hash list in set order, chained; open them lazily
/// (`sets.iter().flat_map(...)`) so that only one is open at a time. A set whose hash list
/// cannot be read is simply left out: its files come out with fewer hashes than
/// [`Joined::complete`] asks for. A hash line that matches no catalog record where it
/// stands (unknown index, not a regular file, out of order) comes out as an error item,
/// and so do the errors of both inputs; the walk goes on after each.
pub fn join<C, H>(catalog: C, hashes: H) -> Join<C, H::IntoIter>
where
    C: Iterator<Item = Result<CatalogRecord, CatalogError>>,
    H: IntoIterator<Item = Result<HashRecord, CatalogError>>,
{
    Join {
        catalog,
        hashes: hashes.into_iter().peekable(),
        current: None,
    }
}

impl<C, H> Iterator for Join<C, H>
where
    C: Iterator<Item = Result<CatalogRecord, CatalogError>>,
    H: Iterator<Item = Result<HashRecord, CatalogError>>,
{
    type Item = Result<Joined, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(current) = self.current.as_mut() else {
                match self.catalog.next() {
                    Some(Ok(record)) => {
                        self.current = Some(Joined {
                            record,
                            hashes: Vec::new(),
                        });
                        continue;
                    }
                    Some(Err(e)) => return Some(Err(e)),
                    None => {
                        return self.hashes.next().map(|h| {
                            let h = h?;
                            Err(CatalogError::Join {
                                index: h.index,
                                message: "past the catalog's last record".into(),
                            })
                        })
                    }
                }
            };
            let index = current.record.index;
            if let Some(Ok(h)) = self
                .hashes
                .next_if(|h| matches!(h, Ok(h) if h.index == index))
            {
                if current.record.kind != CatalogKind::File {
                    return Some(Err(CatalogError::Join {
                        index,
                        message: format!(
                            "the catalog record is a {}: only regular files have hashes",
                            current.record.kind.type_name()
                        ),
                    }));
                }
                current.hashes.push(h);
            } else if let Some(stray) = self
                .hashes
                .next_if(|h| !matches!(h, Ok(h) if h.index > index))
            {
                // An error of the hash lists, or a line whose record is not here.
                return Some(Err(match stray {
                    Err(e) => e,
                    Ok(h) => CatalogError::Join {
                        index: h.index,
                        message: format!(
                            "no catalog record has it before index {index} \
                             (unknown, or out of order)"
                        ),
                    },
                }));
            } else {
                return self.current.take().map(Ok);
            }
        }
    }
}

impl<C, H: Iterator> fmt::Debug for Join<C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("current", &self.current.as_ref().map(|j| j.record.index))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// BLAKE3 of what is written.

/// Passes writes through and keeps their BLAKE3 and byte count: the manifest's `b3` and
/// `hashes_b3` of files as they are written, without reading them again.
#[derive(Debug)]
pub struct Blake3Writer<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> Blake3Writer<W> {
    pub fn new(inner: W) -> Blake3Writer<W> {
        Blake3Writer {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The output, the bytes written and their BLAKE3.
    pub fn finish(self) -> (W, u64, [u8; 32]) {
        (self.inner, self.bytes, *self.hasher.finalize().as_bytes())
    }
}

impl<W: Write> Write for Blake3Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------------------
// Hex.

/// Lower-case hex, as the catalog's `*_hex` fields, the hash lists and the manifest write
/// bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Bytes from hex (either case).
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!(
            "{} hex digits: an odd number",
            text.chars().count()
        ));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(format!("{:?} is not a hex digit", char::from(c))),
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Ok(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64, path: &[u8], kind: CatalogKind) -> CatalogRecord {
        CatalogRecord {
            index,
            path: path.to_vec(),
            kind,
            mode: 0o644,
            uid: 1000,
            gid: 1000,
            user: Some("ann".into()),
            group: Some("ann".into()),
            mtime: (1_763_700_000, 123_456_789),
            size: 1234,
            set: 3,
            slices: 1,
        }
    }

    fn hash(index: u64, seed: u8) -> HashRecord {
        HashRecord {
            index,
            b3: [seed; 32],
            size: u64::from(seed) * 10,
            changed: false,
            error: None,
        }
    }

    fn line_of(r: &CatalogRecord) -> String {
        serde_json::to_string(&r.to_line()).unwrap()
    }

    fn parse(line: &str) -> Result<CatalogRecord, String> {
        parse_line::<CatalogLine>(line.as_bytes()).and_then(CatalogRecord::from_line)
    }

    fn catalog_bytes(records: &[CatalogRecord]) -> Vec<u8> {
        let mut w = CatalogWriter::new(Vec::new()).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        assert_eq!(w.records(), records.len() as u64);
        w.finish().unwrap()
    }

    fn hash_list_bytes(records: &[HashRecord]) -> Vec<u8> {
        let mut w = HashListWriter::new(Vec::new()).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        w.finish().unwrap()
    }

    fn plain(compressed: &[u8]) -> String {
        String::from_utf8(zstd::decode_all(compressed).unwrap()).unwrap()
    }

    fn compressed(text: &str) -> Vec<u8> {
        zstd::encode_all(text.as_bytes(), 3).unwrap()
    }

    #[test]
    fn a_file_record_is_written_as_documented() {
        let r = record(17, b"home/ann/notes.txt", CatalogKind::File);
        assert_eq!(
            line_of(&r),
            r#"{"i":17,"path":"home/ann/notes.txt","type":"file","mode":420,"uid":1000,"gid":1000,"user":"ann","group":"ann","mtime":[1763700000,123456789],"size":1234,"set":3,"slices":1}"#
        );
        // The example of docs/archive.md reads as it is there.
        let doc = r#"{"i": 17, "path": "home/ann/notes.txt", "type": "file", "mode": 420, "uid": 1000,
 "gid": 1000, "user": "ann", "group": "ann", "mtime": [1763700000, 123456789],
 "size": 1234, "set": 3, "slices": 1}"#;
        assert_eq!(parse(doc).unwrap(), r);
    }

    #[test]
    fn every_kind_round_trips_with_its_own_fields() {
        let kinds = [
            (CatalogKind::File, r#""type":"file""#),
            (CatalogKind::Dir, r#""type":"dir""#),
            (
                CatalogKind::Symlink {
                    target: b"../lib/x".to_vec(),
                },
                r#""type":"symlink","target":"../lib/x""#,
            ),
            (
                CatalogKind::Symlink {
                    target: b"bad\xff".to_vec(),
                },
                r#""type":"symlink","target_hex":"626164ff""#,
            ),
            (
                CatalogKind::HardLink { link: 3 },
                r#""type":"hardlink","link":3"#,
            ),
            (
                CatalogKind::Char { major: 1, minor: 3 },
                r#""type":"char","rdev":[1,3]"#,
            ),
            (
                CatalogKind::Block { major: 8, minor: 0 },
                r#""type":"block","rdev":[8,0]"#,
            ),
            (CatalogKind::Fifo, r#""type":"fifo""#),
        ];
        for (kind, want) in kinds {
            let r = record(9, b"dev/x", kind);
            let line = line_of(&r);
            assert!(line.contains(want), "{line}");
            assert_eq!(parse(&line).unwrap(), r, "{line}");
            assert_eq!(r.kind.type_name(), want.split('"').nth(3).unwrap());
        }
    }

    #[test]
    fn names_that_are_not_utf8_go_in_hex() {
        let mut r = record(1, b"caf\xe9/\nnew\"line", CatalogKind::File);
        let line = line_of(&r);
        assert!(
            line.contains(r#""path_hex":"636166e92f0a6e6577226c696e65""#),
            "{line}"
        );
        assert!(!line.contains("\"path\""));
        assert_eq!(parse(&line).unwrap(), r);
        // A newline in a UTF-8 name is escaped: the record stays on one line.
        r.path = "home/ann/two\nlines \u{e9}".as_bytes().to_vec();
        let line = line_of(&r);
        assert!(line.contains(r#""path":"home/ann/two\nlines é""#), "{line}");
        assert!(!line.contains('\n'));
        assert_eq!(parse(&line).unwrap(), r);
        // Upper-case hex reads too.
        let upper = r#"{"i":1,"path_hex":"4142","type":"dir","mode":493,"uid":0,"gid":0,"mtime":[0,0],"size":0,"set":1,"slices":1}"#;
        assert_eq!(parse(upper).unwrap().path, b"AB");
    }

    #[test]
    fn names_of_owners_are_left_out_when_unknown() {
        let mut r = record(1, b"a", CatalogKind::File);
        r.user = None;
        r.group = None;
        let line = line_of(&r);
        assert!(!line.contains("user") && !line.contains("group"), "{line}");
        assert_eq!(parse(&line).unwrap(), r);
        let nulls = line.replace("\"mtime\"", "\"user\":null,\"group\":null,\"mtime\"");
        assert_eq!(parse(&nulls).unwrap(), r);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let good = line_of(&record(5, b"a/b", CatalogKind::File));
        let cases: &[(String, &str)] = &[
            (
                good.replace("\"path\":\"a/b\"", "\"path\":\"/a/b\""),
                "absolute",
            ),
            (
                good.replace("\"path\":\"a/b\"", "\"path\":\"a/../b\""),
                "\"..\"",
            ),
            (
                good.replace("\"path\":\"a/b\"", "\"path\":\"a//b\""),
                "empty component",
            ),
            (
                good.replace("\"path\":\"a/b\"", "\"path\":\"a/b/\""),
                "empty component",
            ),
            (good.replace("\"path\":\"a/b\"", "\"path\":\"\""), "empty"),
            (
                good.replace("\"path\":\"a/b\"", "\"path\":\"a\\u0000\""),
                "NUL",
            ),
            (
                good.replace("\"path\":\"a/b\",", ""),
                "neither `path` nor `path_hex`",
            ),
            (
                good.replace("\"path\":\"a/b\"", "\"path\":\"a\",\"path_hex\":\"61\""),
                "both",
            ),
            (
                good.replace("\"path\":\"a/b\"", "\"path_hex\":\"6\""),
                "odd",
            ),
            (
                good.replace("\"path\":\"a/b\"", "\"path_hex\":\"zz\""),
                "not a hex digit",
            ),
            (
                good.replace("\"file\"", "\"socket\""),
                "unknown variant `socket`",
            ),
            (good.replace("\"file\"", "\"symlink\""), "needs `target"),
            (good.replace("\"file\"", "\"hardlink\""), "needs `link`"),
            (good.replace("\"file\"", "\"char\""), "needs `rdev`"),
            (
                good.replace("\"type\":\"file\"", "\"type\":\"file\",\"link\":1"),
                "has no `link`",
            ),
            (
                good.replace("\"type\":\"file\"", "\"type\":\"dir\",\"target\":\"x\""),
                "a directory has no `target`",
            ),
            (
                good.replace("\"type\":\"file\"", "\"type\":\"fifo\",\"rdev\":[1,2]"),
                "has no `rdev`",
            ),
            (
                good.replace("\"type\":\"file\"", "\"type\":\"hardlink\",\"link\":5"),
                "not an earlier record",
            ),
            (
                good.replace("\"mode\":420", "\"mode\":33188"),
                "beyond 0o7777",
            ),
            (good.replace("123456789", "1000000000"), "nanoseconds"),
            (good.replace("\"set\":3", "\"set\":0"), "set 0"),
            (good.replace("\"slices\":1", "\"slices\":0"), "slices 0"),
            (
                good.replace("\"type\":\"file\"", "\"type\":\"dir\"")
                    .replace("\"slices\":1", "\"slices\":2"),
                "only regular files are sliced",
            ),
            (
                good.replace("\"slices\":1", "\"slices\":1,\"extra\":1"),
                "unknown field `extra`",
            ),
            (good.replace("\"mode\":420,", ""), "missing field `mode`"),
            (good[..good.len() - 1].to_string(), "EOF"),
            (String::new(), "an empty line"),
        ];
        for (line, want) in cases {
            let err = parse(line).unwrap_err();
            assert!(
                err.contains(want),
                "{line}\n  gave {err:?}, wanted {want:?}"
            );
            assert!(!err.contains("at line 1"), "{err}");
        }
    }

    #[test]
    fn the_writer_refuses_what_would_not_read_back() {
        let mut w = CatalogWriter::new(Vec::new()).unwrap();
        w.write(&record(5, b"a", CatalogKind::File)).unwrap();
        let e = w
            .write(&record(5, b"b", CatalogKind::File))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("catalog record 5") && e.contains("does not follow 5"),
            "{e}"
        );
        let e = w
            .write(&record(6, b"/etc", CatalogKind::Dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        let mut bad_mode = record(7, b"c", CatalogKind::File);
        bad_mode.mode = 0o100644;
        assert!(w.write(&bad_mode).is_err());
        // The refused records left nothing behind.
        w.write(&record(8, b"d", CatalogKind::File)).unwrap();
        let back: Vec<_> = CatalogReader::new(&w.finish().unwrap()[..])
            .unwrap()
            .map(|r| r.unwrap().index)
            .collect();
        assert_eq!(back, [5, 8]);
    }

    #[test]
    fn the_root_is_a_dot() {
        let r = record(0, b".", CatalogKind::Dir);
        assert_eq!(parse(&line_of(&r)).unwrap(), r);
        assert!(parse(&line_of(&record(0, b"./a", CatalogKind::Dir))).is_err());
    }

    #[test]
    fn a_catalog_streams_through_zstd_and_back() {
        let records = vec![
            record(0, b".", CatalogKind::Dir),
            record(1, b"etc", CatalogKind::Dir),
            record(2, b"etc/passwd", CatalogKind::File),
            record(4, b"etc/passwd-link", CatalogKind::HardLink { link: 2 }),
        ];
        let bytes = catalog_bytes(&records);
        let text = plain(&bytes);
        assert_eq!(text.lines().count(), 4);
        assert!(text.ends_with("}\n"));
        let mut reader = CatalogReader::new(&bytes[..]).unwrap();
        let back: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
        assert_eq!(back, records);
        assert_eq!(reader.line(), 4);
        assert!(reader.next().is_none());
    }

    #[test]
    fn a_bad_line_names_its_number_and_reading_goes_on() {
        let a = line_of(&record(1, b"a", CatalogKind::File));
        let c = line_of(&record(3, b"c", CatalogKind::File));
        let text = format!("{a}\n{{not json\n{c}\n");
        let items: Vec<_> = CatalogReader::new(&compressed(&text)[..])
            .unwrap()
            .collect();
        assert_eq!(items.len(), 3);
        let e = items[1].as_ref().unwrap_err().to_string();
        assert!(e.starts_with("catalog, line 2: "), "{e}");
        assert_eq!(items[2].as_ref().unwrap().index, 3);
    }

    #[test]
    fn indexes_must_rise() {
        let a = line_of(&record(2, b"a", CatalogKind::File));
        let b = line_of(&record(1, b"b", CatalogKind::File));
        let items: Vec<_> = CatalogReader::new(&compressed(&format!("{a}\n{b}\n"))[..])
            .unwrap()
            .collect();
        let e = items[1].as_ref().unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("does not follow 2"),
            "{e}"
        );
    }

    #[test]
    fn a_truncated_catalog_ends_with_an_error() {
        let records: Vec<_> = (1..=2000)
            .map(|i| record(i, format!("d/file-{i}").as_bytes(), CatalogKind::File))
            .collect();
        let bytes = catalog_bytes(&records);
        let cut = &bytes[..bytes.len() / 2];
        let items: Vec<_> = CatalogReader::new(cut).unwrap().collect();
        let (last, good) = items.split_last().unwrap();
        assert!(good.iter().all(Result::is_ok));
        let e = last.as_ref().unwrap_err();
        assert!(
            matches!(e, CatalogError::Read { .. } | CatalogError::Invalid { .. }),
            "{e:?}"
        );
        // A last line without its newline is cut short too.
        let a = line_of(&record(1, b"a", CatalogKind::File));
        let items: Vec<_> = CatalogReader::new(&compressed(&a)[..]).unwrap().collect();
        let e = items[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn a_catalog_cut_anywhere_ends_with_an_error() {
        let records: Vec<_> = (1..=300)
            .map(|i| record(i, format!("f{i}").as_bytes(), CatalogKind::File))
            .collect();
        let bytes = catalog_bytes(&records);
        for cut in (1..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
            let items: Vec<_> = CatalogReader::new(&bytes[..cut]).unwrap().collect();
            assert!(
                items.last().is_some_and(Result::is_err),
                "cut at {cut} of {} read as complete",
                bytes.len()
            );
        }
    }

    #[test]
    fn a_corrupted_catalog_is_an_error_not_a_panic() {
        let records: Vec<_> = (1..=500)
            .map(|i| record(i, format!("f{i}").as_bytes(), CatalogKind::File))
            .collect();
        let mut bytes = catalog_bytes(&records);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        let items: Vec<_> = CatalogReader::new(&bytes[..]).unwrap().collect();
        assert!(
            items.iter().any(Result::is_err),
            "a flipped byte went unnoticed"
        );
        let text = b"not zstd at all";
        let items: Vec<_> = CatalogReader::new(&text[..]).unwrap().collect();
        assert_eq!(items.len(), 1);
        let e = items[0].as_ref().unwrap_err();
        assert!(matches!(e, CatalogError::Read { line: 1, .. }), "{e:?}");
    }

    #[test]
    fn an_overlong_line_is_refused_without_reading_it_all() {
        let text = format!("{}\n", "x".repeat(MAX_LINE + 10));
        let items: Vec<_> = CatalogReader::new(&compressed(&text)[..])
            .unwrap()
            .collect();
        assert_eq!(items.len(), 1);
        let e = items[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("longer than"), "{e}");
    }

    #[test]
    fn hash_lists_are_written_as_documented() {
        let mut changed = hash(17, 0xab);
        changed.changed = true;
        let mut failed = hash(18, 0);
        failed.error = Some("Permission denied (os error 13)".into());
        let bytes = hash_list_bytes(&[hash(3, 1), changed.clone(), failed.clone()]);
        let text = plain(&bytes);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(r#"{{"i":3,"b3":"{}","size":10}}"#, "01".repeat(32))
        );
        assert_eq!(
            lines[1],
            format!(
                r#"{{"i":17,"b3":"{}","size":1710,"changed":true}}"#,
                "ab".repeat(32)
            )
        );
        assert!(lines[2].ends_with(r#""error":"Permission denied (os error 13)"}"#));
        let back: Vec<_> = HashListReader::new(&bytes[..])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, [hash(3, 1), changed, failed]);
    }

    #[test]
    fn bad_hash_lines_are_errors() {
        let good = format!(r#"{{"i":3,"b3":"{}","size":10}}"#, "01".repeat(32));
        let cases = [
            (good.replace(&"01".repeat(32), &"01".repeat(31)), "31 bytes"),
            (
                good.replace(&"01".repeat(32), &"0g".repeat(32)),
                "not a hex digit",
            ),
            (
                good.replace("\"size\":10", "\"size\":10,\"x\":1"),
                "unknown field",
            ),
            (good.replace("\"i\":3,", ""), "missing field `i`"),
        ];
        for (line, want) in cases {
            let items: Vec<_> = HashListReader::new(&compressed(&format!("{line}\n"))[..])
                .unwrap()
                .collect();
            let e = items[0].as_ref().unwrap_err().to_string();
            assert!(e.contains("hash list, line 1") && e.contains(want), "{e}");
        }
        let mut w = HashListWriter::new(Vec::new()).unwrap();
        w.write(&hash(4, 1)).unwrap();
        let e = w.write(&hash(4, 2)).unwrap_err().to_string();
        assert!(e.contains("hash list record 4"), "{e}");
    }

    fn sliced(index: u64, path: &[u8], set: u32, slices: u32) -> CatalogRecord {
        let mut r = record(index, path, CatalogKind::File);
        r.set = set;
        r.slices = slices;
        r
    }

    #[test]
    fn join_pairs_records_with_their_hashes_across_sets() {
        let catalog = vec![
            record(1, b"a", CatalogKind::Dir),
            sliced(2, b"a/big", 1, 3),
            record(3, b"a/link", CatalogKind::HardLink { link: 2 }),
            sliced(4, b"a/small", 3, 1),
            record(
                5,
                b"a/sym",
                CatalogKind::Symlink {
                    target: b"x".to_vec(),
                },
            ),
            sliced(6, b"a/z", 4, 1),
        ];
        // Set 1: big's first slice; set 2: its second; set 3: its last and small; set 4: z.
        let lists = [
            hash_list_bytes(&[hash(2, 1)]),
            hash_list_bytes(&[hash(2, 2)]),
            hash_list_bytes(&[hash(2, 3), hash(4, 4)]),
            hash_list_bytes(&[hash(6, 6)]),
        ];
        let hashes = lists
            .iter()
            .flat_map(|bytes| HashListReader::new(&bytes[..]).unwrap());
        let cat = catalog_bytes(&catalog);
        let joined: Vec<_> = join(CatalogReader::new(&cat[..]).unwrap(), hashes)
            .map(Result::unwrap)
            .collect();
        assert_eq!(joined.len(), 6);
        assert!(joined.iter().all(Joined::complete));
        assert_eq!(joined[0].hashes, []);
        assert_eq!(joined[1].hashes, [hash(2, 1), hash(2, 2), hash(2, 3)]);
        assert_eq!(joined[1].hash(), None);
        assert_eq!(joined[1].record.sets(), 1..=3);
        assert_eq!(joined[2].hashes, []);
        assert_eq!(joined[3].hash(), Some(&hash(4, 4)));
        assert_eq!(joined[5].hash(), Some(&hash(6, 6)));
    }

    #[test]
    fn join_with_a_missing_hash_list_leaves_records_incomplete() {
        let catalog = vec![sliced(1, b"a", 1, 1), sliced(2, b"b", 2, 1)];
        // Set 1's list is lost.
        let hashes = vec![Ok(hash(2, 2))];
        let joined: Vec<_> = join(catalog.into_iter().map(Ok), hashes)
            .map(Result::unwrap)
            .collect();
        assert!(!joined[0].complete());
        assert_eq!(joined[0].hash(), None);
        assert!(joined[1].complete());
    }

    #[test]
    fn join_reports_strays_and_goes_on() {
        let catalog = vec![
            sliced(2, b"a", 1, 1),
            record(4, b"d", CatalogKind::Dir),
            sliced(6, b"f", 1, 1),
        ];
        let hashes = vec![
            Ok(hash(1, 1)), // before the first record
            Ok(hash(2, 2)),
            Ok(hash(3, 3)), // no such record
            Ok(hash(4, 4)), // a directory
            Err(CatalogError::Invalid {
                what: HASH_LIST,
                line: 9,
                message: "bad".into(),
            }),
            Ok(hash(6, 6)),
            Ok(hash(9, 9)), // past the end
        ];
        let items: Vec<_> = join(catalog.into_iter().map(Ok), hashes).collect();
        let summary: Vec<String> = items
            .iter()
            .map(|item| match item {
                Ok(j) => format!("record {} with {}", j.record.index, j.hashes.len()),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "hash list line for catalog index 1: no catalog record has it before index 2 \
                 (unknown, or out of order)",
                "record 2 with 1",
                "hash list line for catalog index 3: no catalog record has it before index 4 \
                 (unknown, or out of order)",
                "hash list line for catalog index 4: the catalog record is a dir: only regular \
                 files have hashes",
                "hash list, line 9: bad",
                "record 4 with 0",
                "record 6 with 1",
                "hash list line for catalog index 9: past the catalog's last record",
            ]
        );
    }

    #[test]
    fn blake3_writer_hashes_what_passes() {
        let mut w = Blake3Writer::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(w.bytes(), 11);
        let (out, bytes, b3) = w.finish();
        assert_eq!(out, b"hello world");
        assert_eq!(bytes, 11);
        assert_eq!(b3, *blake3::hash(b"hello world").as_bytes());
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(from_hex("0001ABff").unwrap(), [0, 1, 0xab, 0xff]);
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
        assert!(from_hex("abc").is_err());
        assert!(from_hex("é1").is_err());
    }
}
