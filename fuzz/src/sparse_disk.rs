//! A disk described by a fuzz input: a size and a few chunks of data at chosen offsets,
//! zeros everywhere else. Partition tables and superblocks sit at both ends of a disk and
//! at the start of each partition; this lets a small input place bytes anywhere on a disk
//! of any size, and seeds made from real images stay small (scripts/fuzz-seeds keeps only
//! their non-zero 4 KiB blocks).
//!
//! Layout (integers little-endian):
//!
//! ```text
//! u8   logical sector size: 512 << (byte & 7)
//! u64  disk size in bytes (at most MAX_SIZE)
//! then chunks until the input ends:
//!   u64  offset on the disk
//!   u16  length
//!   data (cut short when the input ends)
//! ```
//!
//! A later chunk wins where chunks overlap; data past the disk's size is never read.

use std::io::{self, Read, Seek, SeekFrom};

/// The largest disk described: 1 PiB (larger sizes are clamped to it).
pub const MAX_SIZE: u64 = 1 << 50;

/// The bytes before the first chunk.
pub const HEADER_LEN: usize = 9;

/// A disk made from a fuzz input; `Read + Seek` like a device node.
#[derive(Debug, Clone)]
pub struct SparseDisk<'a> {
    sector_size: u32,
    size: u64,
    chunks: Vec<(u64, &'a [u8])>,
    pos: u64,
}

impl<'a> SparseDisk<'a> {
    /// The disk an input describes; `None` when it is shorter than the header.
    pub fn parse(input: &'a [u8]) -> Option<SparseDisk<'a>> {
        let (&shift, rest) = input.split_first()?;
        let (size, mut rest) = take_u64(rest)?;
        let mut chunks = Vec::new();
        while let Some((offset, after)) = take_u64(rest) {
            let Some((len, after)) = take_u16(after) else {
                break;
            };
            let len = usize::from(len).min(after.len());
            chunks.push((offset, &after[..len]));
            rest = &after[len..];
        }
        Some(SparseDisk {
            sector_size: 512 << (shift & 7),
            size: size.min(MAX_SIZE),
            chunks,
            pos: 0,
        })
    }

    /// The logical sector size, a power of two from 512 to 65536.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// The disk's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

fn take_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

fn take_u16(b: &[u8]) -> Option<(u16, &[u8])> {
    let (head, rest) = b.split_first_chunk::<2>()?;
    Some((u16::from_le_bytes(*head), rest))
}

impl Read for SparseDisk<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let buf = &mut buf[..n];
        buf.fill(0);
        let (start, end) = (self.pos, self.pos + n as u64);
        for &(offset, data) in &self.chunks {
            let data_end = offset.saturating_add(data.len() as u64);
            if offset >= end || data_end <= start {
                continue;
            }
            let from = offset.max(start);
            let to = data_end.min(end);
            let src = &data[(from - offset) as usize..(to - offset) as usize];
            buf[(from - start) as usize..(to - start) as usize].copy_from_slice(src);
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for SparseDisk<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(shift: u8, size: u64, chunks: &[(u64, &[u8])]) -> Vec<u8> {
        let mut v = vec![shift];
        v.extend_from_slice(&size.to_le_bytes());
        for (offset, data) in chunks {
            v.extend_from_slice(&offset.to_le_bytes());
            v.extend_from_slice(&(data.len() as u16).to_le_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn chunks_land_at_their_offsets_and_the_rest_is_zeros() {
        let bytes = input(3, 100, &[(10, b"abc"), (11, b"X"), (98, b"yzw")]);
        let mut disk = SparseDisk::parse(&bytes).unwrap();
        assert_eq!(disk.sector_size(), 4096);
        let mut all = Vec::new();
        disk.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 100);
        assert_eq!(&all[9..14], b"\0aXc\0");
        assert_eq!(&all[98..], b"yz");
        disk.seek(SeekFrom::End(-2)).unwrap();
        let mut two = [0u8; 4];
        assert_eq!(disk.read(&mut two).unwrap(), 2);
        assert_eq!(&two[..2], b"yz");
    }

    #[test]
    fn a_short_input_is_no_disk_and_a_cut_chunk_is_kept() {
        assert!(SparseDisk::parse(&[0; HEADER_LEN - 1]).is_none());
        let mut bytes = input(0, 8, &[(0, b"abcd")]);
        bytes.truncate(bytes.len() - 2);
        let mut disk = SparseDisk::parse(&bytes).unwrap();
        let mut all = Vec::new();
        disk.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"ab\0\0\0\0\0\0");
    }
}
