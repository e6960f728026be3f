//! Recognising what a region of a disk holds from its superblock, natively (no blkid).
//!
//! Each probe reads the documented structure at its documented offset inside the region,
//! checks magic numbers, sanity limits and (where cheap) checksums the way libblkid does,
//! and fills the mountlist's `Filesystem`. Storage this version cannot recreate (LVM, MD,
//! LUKS) is reported as a container so the capture never drops it silently.
//!
//! This file holds the entry points, the probe order and the byte-reading helpers every
//! family shares; each family's layout and checks live in its own module.

mod btrfs;
mod exfat;
mod ext;
mod fat;
mod luks;
mod lvm;
mod md;
mod ntfs;
mod swap;
mod xfs;

use super::guid::{is_nil, uuid};
use crc::{Crc, CRC_32_ISCSI};
use rescue_core::mountlist::{Filesystem, FsType, UnsupportedKind};
use std::io::{self, Read, Seek, SeekFrom};

/// What a region holds.
// Made once per partition and moved straight into the mountlist: boxing the large
// variant would only cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    Filesystem(Filesystem),
    /// Storage that holds other storage and is not supported yet.
    Container {
        kind: UnsupportedKind,
        detail: String,
    },
}

/// Probes the region `[offset, offset + length)` of `dev` (a partition inside a disk, or
/// a whole disk at 0). Ok(None) when nothing known is there; Err only for I/O errors
/// (reading past the end of the device counts as "nothing there").
pub fn detect<R: Read + Seek>(
    dev: &mut R,
    offset: u64,
    length: u64,
) -> io::Result<Option<Detected>> {
    let mut region = Region {
        dev,
        offset,
        length,
    };
    for probe in PROBES {
        if let Some(found) = probe(&mut region)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

type Probe = fn(&mut Region<'_>) -> io::Result<Option<Detected>>;

/// In libblkid's order: RAID and LVM members, then crypto, then filesystems, swap last.
/// libblkid stops at the first RAID/crypto match (an MD 1.0 member has a filesystem at its
/// start too), and the filesystem magics below do not overlap in valid images.
const PROBES: &[Probe] = &[
    md::probe,
    lvm::probe,
    luks::probe,
    fat::probe,
    xfs::probe,
    btrfs::probe,
    ext::probe,
    exfat::probe,
    ntfs::probe,
    swap::probe,
];

/// A sector 0 that is the boot sector of a whole-disk FAT, exFAT or NTFS filesystem
/// (these end in 0x55aa like an MBR does).
pub fn is_fs_boot_sector(sector: &[u8]) -> bool {
    fat::is_boot_sector(sector) || exfat::is_boot_sector(sector) || ntfs::is_boot_sector(sector)
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// A window on the device; every read stays inside it.
struct Region<'a> {
    dev: &'a mut dyn ReadSeek,
    offset: u64,
    length: u64,
}

/// Structures are small; this bounds what a corrupt size field can make us read.
const MAX_READ: usize = 1 << 20;

impl Region<'_> {
    /// `len` bytes at `at` inside the region; None when they are not all inside it or
    /// the device ends before.
    fn read(&mut self, at: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        let fits = at
            .checked_add(len as u64)
            .is_some_and(|end| end <= self.length);
        let Some(pos) = self
            .offset
            .checked_add(at)
            .filter(|_| fits && len <= MAX_READ)
        else {
            return Ok(None);
        };
        let mut buf = vec![0; len];
        let result = self
            .dev
            .seek(SeekFrom::Start(pos))
            .and_then(|_| self.dev.read_exact(&mut buf));
        match result {
            Ok(()) => Ok(Some(buf)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("reading {len} bytes at byte {pos}: {e}"),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Little helpers over byte slices: out of range reads give zero, never a panic.

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn le16(b: &[u8], at: usize) -> u16 {
    array(b, at).map(u16::from_le_bytes).unwrap_or(0)
}

fn le32(b: &[u8], at: usize) -> u32 {
    array(b, at).map(u32::from_le_bytes).unwrap_or(0)
}

fn le64(b: &[u8], at: usize) -> u64 {
    array(b, at).map(u64::from_le_bytes).unwrap_or(0)
}

fn be16(b: &[u8], at: usize) -> u16 {
    array(b, at).map(u16::from_be_bytes).unwrap_or(0)
}

fn be32(b: &[u8], at: usize) -> u32 {
    array(b, at).map(u32::from_be_bytes).unwrap_or(0)
}

fn be64(b: &[u8], at: usize) -> u64 {
    array(b, at).map(u64::from_be_bytes).unwrap_or(0)
}

fn slice(b: &[u8], at: usize, len: usize) -> &[u8] {
    b.get(at..at.saturating_add(len)).unwrap_or(&[])
}

/// A NUL-terminated, space-padded label; None when empty (blkid trims trailing blanks).
fn label(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let text = String::from_utf8_lossy(&b[..end]);
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_string())
}

/// A 16-byte UUID at `at`, None when absent or all zero (blkid prints no UUID then).
fn uuid_at(b: &[u8], at: usize) -> Option<String> {
    array::<16>(b, at).filter(|u| !is_nil(u)).map(|u| uuid(&u))
}

fn valid_pow2(v: u64, min: u64, max: u64) -> bool {
    v.is_power_of_two() && (min..=max).contains(&v)
}

/// CRC-32C (Castagnoli) as ext4, xfs and btrfs use it.
const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

fn filesystem(fs_type: FsType, uuid: Option<String>, label: Option<String>) -> Filesystem {
    let mut fs = Filesystem::new(fs_type);
    fs.uuid = uuid;
    fs.label = label;
    fs
}

/// Image builders and result matchers every family's tests use.
#[cfg(test)]
mod test_support {
    use super::*;
    use std::io::Cursor;

    pub(super) fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    pub(super) fn detect_buf(buf: &[u8]) -> Option<Detected> {
        detect(&mut Cursor::new(buf), 0, buf.len() as u64).unwrap()
    }

    pub(super) fn fs(found: Option<Detected>) -> Filesystem {
        match found {
            Some(Detected::Filesystem(fs)) => fs,
            other => panic!("expected a filesystem, got {other:?}"),
        }
    }

    pub(super) fn container(found: Option<Detected>) -> (UnsupportedKind, String) {
        match found {
            Some(Detected::Container { kind, detail }) => (kind, detail),
            other => panic!("expected a container, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ext::tests::ext_image;
    use super::luks::LUKS_MAGIC;
    use super::md::MD_MAGIC;
    use super::test_support::{fs, put};
    use super::*;
    use std::io::Cursor;

    #[test]
    fn region_offset_is_honoured() {
        let mut disk = vec![0u8; 1 << 20];
        let part = ext_image(0x38, 0x2, 0x3);
        put(&mut disk, 65536, &part);
        let found = detect(&mut Cursor::new(&disk), 65536, part.len() as u64).unwrap();
        assert_eq!(fs(found).fs_type, FsType::Ext2);
        // The same superblock is outside a region that ends before it.
        assert_eq!(detect(&mut Cursor::new(&disk), 65536, 1500).unwrap(), None);
    }

    #[test]
    fn garbage_never_panics() {
        // A small xorshift generator: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let len = (next() % (300 * 1024)) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Plant magics so the deeper parsing runs on random fields.
            let plants: [(usize, &[u8]); 8] = [
                (0, b"XFSB"),
                (0, LUKS_MAGIC),
                (0x438, &[0x53, 0xef]),
                (65536 + 0x40, b"_BHRfS_M"),
                (4086, b"SWAPSPACE2"),
                (512, b"LABELONE"),
                (4096, &MD_MAGIC.to_le_bytes()),
                (510, &[0x55, 0xaa]),
            ];
            let (at, magic) = plants[round % plants.len()];
            if buf.len() >= at + magic.len() {
                put(&mut buf, at, magic);
            }
            if round % 3 == 0 && buf.len() > 2 {
                buf[0] = 0xeb;
            }
            let claimed = len as u64 + next() % 100_000; // longer than the data, too
            let _ = detect(&mut Cursor::new(&buf), 0, claimed);
            let _ = is_fs_boot_sector(&buf);
        }
    }
}
