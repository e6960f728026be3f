//! Helpers of the fuzz targets in `fuzz_targets/` (one per parser of untrusted input; see
//! docs/testing.md, "Fuzzing").

pub mod scratch;
pub mod sparse_disk;

use std::fs::File;
use std::io::Write;

/// Caps on what one input may make a target read, so that every input runs in bounded
/// time: an image of a few KiB can still describe files of gigabytes.
pub const MAX_READ_PER_INPUT: u64 = 16 << 20;

/// `bytes` as a file (in memory, no path on any filesystem), for readers that take a
/// `File`; `/proc/self/fd/N` names it for those that take a path.
pub fn memory_file(prefix_zeros: usize, bytes: &[u8]) -> File {
    let fd = rustix::fs::memfd_create("fuzz-input", rustix::fs::MemfdFlags::CLOEXEC)
        .expect("memfd_create");
    let mut file = File::from(fd);
    file.write_all(&vec![0; prefix_zeros])
        .and_then(|()| file.write_all(bytes))
        .expect("writing the input to a memory file");
    file
}

/// Input for targets that read zstd streams: a zstd frame (by its magic number) as it is,
/// anything else compressed first, so that mutations of plain text reach the parser behind
/// the decompressor.
pub fn as_zstd(bytes: &[u8]) -> Vec<u8> {
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    if bytes.starts_with(&MAGIC) {
        bytes.to_vec()
    } else {
        zstd::bulk::compress(bytes, 1).expect("zstd compresses in memory")
    }
}

/// Splits an input in two at a little-endian u32 length prefix: `(first, rest)`; a short
/// input is all `first`.
pub fn split_two(bytes: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
        return (bytes, &[]);
    };
    let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
    rest.split_at(len.min(rest.len()))
}
