//! What an archive header may claim, in one place: every length, count and size a tar
//! stream states is checked against these before the reader allocates or loops on it, and
//! the writer refuses to store what a reader would not believe.

/// The most bytes of pax headers and GNU long names one entry may have, all of its
/// headers together (a corrupted size, or a stream of repeated headers, must not make the
/// reader allocate gigabytes).
pub const MAX_META: u64 = 16 << 20;

/// The most that global (`g`) headers may hold, in records and bytes: they apply to
/// every later entry, so each entry pays for them again. Writers put a few records there.
pub const MAX_GLOBAL_RECORDS: usize = 256;
pub const MAX_GLOBAL_BYTES: usize = 64 << 10;

/// The largest entry size believed (2^62 bytes): beyond it a size field is corrupted.
pub const MAX_SIZE: u64 = 1 << 62;

/// The largest logical size of a sparse file believed: 16 TiB, the most ext4 holds. Its
/// holes are read (and hashed) as zeros, so a hostile size of 2^60 would take years.
pub const MAX_SPARSE_SIZE: u64 = 1 << 44;

/// The most data extents a sparse map may list (16 bytes of memory each).
pub const MAX_SPARSE_EXTENTS: usize = 1 << 22;
