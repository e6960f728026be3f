//! Archive sets (docs/archive.md): tar streams of our own making that GNU tar reads, and
//! the reader and safe extractor the restore uses.
//!
//! - [`meta`]: [`EntryMeta`], what one entry holds.
//! - [`writer`]: [`TarWriter`] and [`stored_size`] (exact, for cutting sets).
//! - [`reader`]: [`TarReader`], which also reads GNU tar's own archives.
//! - [`extract`]: [`Extractor`], which recreates entries under a root and refuses any that
//!   would land outside it.
//! - [`sparse`]: the sparse map, and finding a file's data extents.
//! - [`pax`], [`acl`]: header bytes and POSIX ACL forms.

pub mod acl;
pub mod extract;
pub mod limits;
pub mod meta;
pub mod pax;
pub mod reader;
pub mod sparse;
pub mod writer;

use std::io;

pub use extract::{Extracted, Extractor};
pub use limits::{MAX_SPARSE_EXTENTS, MAX_SPARSE_SIZE};
pub use meta::{EntryKind, EntryMeta, Slice};
pub use reader::{EntryData, Stored, TarReader};
pub use sparse::{data_extents, ExtentReader};
pub use writer::{stored_size, AppendOutcome, TarWriter, END_OF_ARCHIVE};

/// What can go wrong reading or extracting an archive. Paths are the entry's, lossy; byte
/// offsets count from the start of the (uncompressed) tar stream.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("reading the archive at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("the archive is truncated at byte {offset}{}", in_entry(.path))]
    Truncated { offset: u64, path: Option<String> },
    #[error("bad header checksum at byte {offset}: the set is corrupted")]
    BadChecksum { offset: u64 },
    #[error("bad header at byte {offset}{}: {reason}", in_entry(.path))]
    BadHeader {
        offset: u64,
        path: Option<String>,
        reason: String,
    },
    /// An entry this reader cannot represent; the stream goes on after it.
    #[error("{path}: unsupported entry at byte {offset}: {reason}")]
    Unsupported {
        offset: u64,
        path: String,
        reason: String,
    },
    /// An entry that would land outside the target root, or is otherwise unsafe.
    #[error("{path}: refused: {reason}")]
    Unsafe { path: String, reason: String },
    /// The filesystem said no while recreating an entry.
    #[error("{path}: {action}: {source}")]
    Extract {
        path: String,
        action: String,
        #[source]
        source: io::Error,
    },
    /// The entry's data could not be read from the archive.
    #[error("{path}: reading its data: {source}")]
    Data {
        path: String,
        #[source]
        source: io::Error,
    },
    /// A slice that does not continue the file its earlier slices made (one is missing).
    #[error("{path}: {reason}")]
    Slice { path: String, reason: String },
    /// An entry left out as asked (a device node when privileges are left out).
    #[error("{path}: skipped: {reason}")]
    Skipped { path: String, reason: String },
}

fn in_entry(path: &Option<String>) -> String {
    match path {
        Some(p) => format!(" (entry {p})"),
        None => String::new(),
    }
}

impl ArchiveError {
    /// The entry the error is about, when it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ArchiveError::Io { .. } | ArchiveError::BadChecksum { .. } => None,
            ArchiveError::Truncated { path, .. } | ArchiveError::BadHeader { path, .. } => {
                path.as_deref()
            }
            ArchiveError::Unsupported { path, .. }
            | ArchiveError::Unsafe { path, .. }
            | ArchiveError::Extract { path, .. }
            | ArchiveError::Data { path, .. }
            | ArchiveError::Slice { path, .. }
            | ArchiveError::Skipped { path, .. } => Some(path),
        }
    }

    /// True when the rest of the stream cannot be read after this error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ArchiveError::Io { .. }
                | ArchiveError::Truncated { .. }
                | ArchiveError::BadChecksum { .. }
                | ArchiveError::BadHeader { .. }
        )
    }
}
