//! Sparse files: the pax 1.0 sparse map GNU tar reads (decimal lines at the start of the
//! entry's data), finding a file's data extents with `SEEK_DATA`/`SEEK_HOLE`, and reading
//! the extents back to back (the bytes the tar writer takes for a sparse entry).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use super::pax::{padded, BLOCK};

/// The map as stored: the number of entries, then offset and length of each, one decimal
/// number a line, padded with NULs to whole blocks. Like GNU tar, a file that does not end
/// in data gets a last entry `(size, 0)`, which GNU tar needs to give the file its size.
pub fn encode_map(extents: &[(u64, u64)], size: u64) -> Vec<u8> {
    let mut list: Vec<(u64, u64)> = extents.iter().copied().filter(|e| e.1 > 0).collect();
    if list.last().is_none_or(|&(off, len)| off + len < size) {
        list.push((size, 0));
    }
    let mut out = format!("{}\n", list.len()).into_bytes();
    for (off, len) in list {
        out.extend_from_slice(format!("{off}\n{len}\n").as_bytes());
    }
    out.resize(padded(out.len() as u64) as usize, 0);
    out
}

/// Checks extents against the file's size: sorted, not overlapping, inside the file.
pub fn check_extents(extents: &[(u64, u64)], size: u64) -> Result<(), String> {
    let mut end = 0u64;
    for &(off, len) in extents {
        let e = off
            .checked_add(len)
            .ok_or_else(|| format!("sparse extent {off}+{len} overflows"))?;
        if off < end {
            return Err(format!(
                "sparse extent at {off} overlaps or is out of order"
            ));
        }
        if e > size {
            return Err(format!(
                "sparse extent {off}+{len} ends past the size {size}"
            ));
        }
        end = e;
    }
    Ok(())
}

/// Parses a stored sparse map fed block by block.
#[derive(Debug, Default)]
pub(crate) struct MapParser {
    count: Option<u64>,
    cur: Option<u64>,
    offset: Option<u64>,
    pub extents: Vec<(u64, u64)>,
    seen: u64,
    done: bool,
}

impl MapParser {
    /// Feeds one block; Ok(true) once the map is complete (the rest of that block is
    /// padding).
    pub fn feed(&mut self, block: &[u8]) -> Result<bool, String> {
        for &b in block {
            if self.done {
                break;
            }
            match b {
                b'0'..=b'9' => {
                    let v = self.cur.unwrap_or(0);
                    self.cur = Some(
                        v.checked_mul(10)
                            .and_then(|v| v.checked_add(u64::from(b - b'0')))
                            .ok_or("sparse map: number too large")?,
                    );
                }
                b'\n' => {
                    let v = self.cur.take().ok_or("sparse map: empty line")?;
                    self.number(v);
                }
                _ => return Err(format!("sparse map: unexpected byte 0x{b:02x}")),
            }
        }
        Ok(self.done)
    }

    fn number(&mut self, v: u64) {
        match self.count {
            None => {
                self.count = Some(v);
                self.done = v == 0;
            }
            Some(count) => match self.offset.take() {
                None => self.offset = Some(v),
                Some(off) => {
                    if v > 0 {
                        self.extents.push((off, v));
                    }
                    self.seen += 1;
                    self.done = self.seen == count;
                }
            },
        }
    }
}

/// The data extents of an open file, `(offset, len)`, found with `SEEK_DATA` and
/// `SEEK_HOLE` (a filesystem without them reports the whole file as data). Leaves the file
/// position at 0.
pub fn data_extents(file: &File) -> io::Result<Vec<(u64, u64)>> {
    use rustix::fs::{seek, SeekFrom as RSeek};
    let size = file.metadata()?.len();
    let mut out = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let start = match seek(file, RSeek::Data(pos)) {
            Ok(s) => s,
            Err(rustix::io::Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        if start >= size {
            break;
        }
        let end = match seek(file, RSeek::Hole(start)) {
            Ok(e) => e.min(size),
            Err(rustix::io::Errno::NXIO) => size,
            Err(e) => return Err(e.into()),
        };
        if end <= start {
            break;
        }
        out.push((start, end - start));
        pos = end;
    }
    seek(file, RSeek::Start(0))?;
    Ok(out)
}

/// True when storing the file sparse saves at least one block: its holes add up to 512
/// bytes or more.
pub fn worth_sparse(size: u64, extents: &[(u64, u64)]) -> bool {
    let data: u64 = extents.iter().map(|e| e.1).sum();
    size.saturating_sub(data) >= BLOCK as u64
}

/// Reads the given extents of a file back to back: what [`TarWriter::append`] takes for a
/// sparse entry.
///
/// [`TarWriter::append`]: super::TarWriter::append
#[derive(Debug)]
pub struct ExtentReader<R> {
    inner: R,
    extents: Vec<(u64, u64)>,
    next: usize,
    left: u64,
}

impl<R: Read + Seek> ExtentReader<R> {
    pub fn new(inner: R, extents: Vec<(u64, u64)>) -> ExtentReader<R> {
        ExtentReader {
            inner,
            extents,
            next: 0,
            left: 0,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read + Seek> Read for ExtentReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            let Some(&(off, len)) = self.extents.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            self.inner.seek(SeekFrom::Start(off))?;
            self.left = len;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            // The file is shorter than its extents said: stop; the writer pads and reports.
            self.left = 0;
            self.next = self.extents.len();
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_like_gnu_tar() {
        // GNU tar 1.34 wrote this map for a 10 MiB file with 4096 bytes of data at 4096.
        let map = encode_map(&[(4096, 4096)], 10_485_760);
        assert_eq!(&map[..24], b"2\n4096\n4096\n10485760\n0\n\0");
        assert_eq!(map.len(), 512);
        let mut p = MapParser::default();
        assert_eq!(p.feed(&map), Ok(true));
        assert_eq!(p.extents, vec![(4096, 4096)]);
        // ends in data: no closing entry
        assert!(encode_map(&[(0, 10)], 10).starts_with(b"1\n0\n10\n"));
        assert!(encode_map(&[], 0).starts_with(b"1\n0\n0\n"));
    }

    #[test]
    fn map_across_blocks() {
        let extents: Vec<(u64, u64)> = (0..100).map(|i| (i * 1_000_000, 1000)).collect();
        let map = encode_map(&extents, 100_000_000);
        assert!(map.len() > 512);
        let mut p = MapParser::default();
        let mut done = false;
        for block in map.chunks(512) {
            assert!(!done);
            done = p.feed(block).unwrap();
        }
        assert!(done);
        assert_eq!(p.extents, extents);
        assert!(MapParser::default().feed(b"1\nx").is_err());
        assert!(MapParser::default().feed(b"\n").is_err());
        assert!(MapParser::default()
            .feed(b"99999999999999999999999\n")
            .is_err());
    }

    #[test]
    fn extents_checked() {
        assert!(check_extents(&[(0, 5), (5, 5)], 10).is_ok());
        assert!(check_extents(&[(0, 5), (4, 5)], 10).is_err());
        assert!(check_extents(&[(5, 5), (0, 1)], 10).is_err());
        assert!(check_extents(&[(8, 5)], 10).is_err());
        assert!(check_extents(&[(u64::MAX, 5)], 10).is_err());
    }

    #[test]
    fn extent_reader_reads_back_to_back() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut r = ExtentReader::new(io::Cursor::new(data), vec![(10, 3), (50, 2), (98, 5)]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, vec![10, 11, 12, 50, 51, 98, 99]);
    }
}
