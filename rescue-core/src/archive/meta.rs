//! The metadata of one archive entry: what the backup walker fills in, what the tar writer
//! stores, what the reader gives back and what the extractor recreates.

/// One entry of an archive set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// Relative to the captured root, bytes as on disk, no leading `/`, no `..`, no
    /// trailing `/` (also for directories). `.` is the root directory itself.
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`); the file
    /// type bits are ignored (the kind says it).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Owner names, informational (extraction uses the numbers unless told otherwise).
    pub user: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    /// Seconds since the epoch and nanoseconds (0..1_000_000_000).
    pub mtime: (i64, u32),
    pub atime: Option<(i64, u32)>,
    /// Every extended attribute, in the order given (the writer keeps it): POSIX ACLs are
    /// `system.posix_acl_access` / `system.posix_acl_default`, capabilities
    /// `security.capability`. Values are binary.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Set when this entry holds only a piece of a file (a file larger than a set).
    pub slice: Option<Slice>,
}

/// The entry's type and what only that type carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file. `size` is its logical size (for a slice: the slice's length).
    /// `sparse`: the data extents `(offset, len)`, sorted and not overlapping, when it is
    /// stored sparse; everything outside them reads as zeros. Offsets are relative to the
    /// entry's content (for a slice: to the slice's start).
    File {
        size: u64,
        sparse: Option<Vec<(u64, u64)>>,
    },
    /// A hard link to `target`, a path stored earlier (same rules as `path`).
    HardLink {
        target: Vec<u8>,
    },
    /// A symbolic link; the target is stored as it is, also dangling or absolute.
    Symlink {
        target: Vec<u8>,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Dir,
    Fifo,
}

/// A piece of a file: the entry's content is bytes `offset .. offset + size` of a file of
/// `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub offset: u64,
    pub total: u64,
}

impl EntryKind {
    /// The tar type flag this kind is stored with.
    pub fn typeflag(&self) -> u8 {
        match self {
            EntryKind::File { .. } => b'0',
            EntryKind::HardLink { .. } => b'1',
            EntryKind::Symlink { .. } => b'2',
            EntryKind::CharDevice { .. } => b'3',
            EntryKind::BlockDevice { .. } => b'4',
            EntryKind::Dir => b'5',
            EntryKind::Fifo => b'6',
        }
    }

    /// A short name for messages: `file`, `hardlink`, `symlink`, `char`, `block`, `dir`,
    /// `fifo` (the catalog's names).
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::File { .. } => "file",
            EntryKind::HardLink { .. } => "hardlink",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::CharDevice { .. } => "char",
            EntryKind::BlockDevice { .. } => "block",
            EntryKind::Dir => "dir",
            EntryKind::Fifo => "fifo",
        }
    }
}

impl EntryMeta {
    /// An entry with everything but the path and kind at its neutral value: mode 0o644
    /// (0o755 for directories), owner 0:0, mtime 0, no names, xattrs or slice.
    pub fn new(path: impl Into<Vec<u8>>, kind: EntryKind) -> EntryMeta {
        let mode = if kind == EntryKind::Dir { 0o755 } else { 0o644 };
        EntryMeta {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            user: None,
            group: None,
            mtime: (0, 0),
            atime: None,
            xattrs: Vec::new(),
            slice: None,
        }
    }

    /// The path for messages (lossy UTF-8).
    pub fn display_path(&self) -> String {
        lossy(&self.path)
    }

    /// The number of content bytes the entry's data reader must yield when it is written:
    /// for a plain file its size, for a sparse one the sum of its extents, else 0.
    pub fn payload_len(&self) -> u64 {
        match &self.kind {
            EntryKind::File { size, sparse: None } => *size,
            EntryKind::File {
                sparse: Some(extents),
                ..
            } => extents
                .iter()
                .fold(0, |a: u64, &(_, len)| a.saturating_add(len)),
            _ => 0,
        }
    }
}

/// Bytes as text for messages.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
