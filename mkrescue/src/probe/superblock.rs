//! Recognising what a region of a disk holds from its superblock, natively (no blkid).
//!
//! Each probe reads the documented structure at its documented offset inside the region,
//! checks magic numbers, sanity limits and (where cheap) checksums the way libblkid does,
//! and fills the mountlist's `Filesystem`. Storage this version cannot recreate (LVM, MD,
//! LUKS) is reported as a container so the capture never drops it silently.

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
    probe_md,
    probe_lvm2,
    probe_luks,
    probe_vfat,
    probe_xfs,
    probe_btrfs,
    probe_ext,
    probe_exfat,
    probe_ntfs,
    probe_swap,
];

/// A sector 0 that is the boot sector of a whole-disk FAT, exFAT or NTFS filesystem
/// (these end in 0x55aa like an MBR does).
pub fn is_fs_boot_sector(sector: &[u8]) -> bool {
    fat_bpb(sector).is_some() || is_exfat_boot(sector) || is_ntfs_boot(sector)
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

// ---------------------------------------------------------------------------------------
// MD RAID members

const MD_MAGIC: u32 = 0xa92b_4efc;

fn probe_md(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    if let Some(found) = probe_md_090(r)? {
        return Ok(Some(found));
    }
    // 1.0 sits 8 KiB before the end, aligned down to 4 KiB; 1.1 at 0; 1.2 at 4 KiB.
    let end_1_0 = (r.length / 512)
        .checked_sub(16)
        .map(|sectors| (sectors & !7) * 512);
    let places = end_1_0
        .map(|at| (at, "1.0"))
        .into_iter()
        .chain([(0, "1.1"), (4096, "1.2")]);
    for (at, version) in places {
        if let Some(sb) = r.read(at, 4096)? {
            if let Some(found) = parse_md1(&sb, at, version) {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// 0.90: in the last 64 KiB-aligned 64 KiB block, in the host's byte order.
fn probe_md_090(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(at) = (r.length & !0xffff).checked_sub(0x10000) else {
        return Ok(None);
    };
    let Some(sb) = r.read(at, 4096)? else {
        return Ok(None);
    };
    let word: fn(&[u8], usize) -> u32 = if le32(&sb, 0) == MD_MAGIC {
        le32
    } else if be32(&sb, 0) == MD_MAGIC {
        be32
    } else {
        return Ok(None);
    };
    if word(&sb, 4) != 0 {
        return Ok(None);
    }
    // set_uuid0 at 20, set_uuid1..3 at 52 (only from minor version 90): host-order
    // words, printed by blkid (and mdadm) as the words' values.
    let minor = word(&sb, 8);
    let words = if minor >= 90 { 4 } else { 1 };
    let mut id = [0u8; 16];
    for (i, at) in [20, 52, 56, 60].into_iter().take(words).enumerate() {
        id[i * 4..i * 4 + 4].copy_from_slice(&word(&sb, at).to_be_bytes());
    }
    let detail = format!(
        "MD RAID member, metadata 0.{minor}, array UUID {}",
        uuid(&id)
    );
    Ok(Some(Detected::Container {
        kind: UnsupportedKind::MdMember,
        detail,
    }))
}

/// Offsets in `struct mdp_superblock_1`.
mod md1 {
    pub const MAJOR: usize = 4;
    pub const SET_UUID: usize = 16;
    pub const SET_NAME: usize = 32;
    pub const SUPER_OFFSET: usize = 144;
    pub const SB_CSUM: usize = 216;
    pub const MAX_DEV: usize = 220;
}

fn parse_md1(sb: &[u8], at: u64, version: &str) -> Option<Detected> {
    if le32(sb, 0) != MD_MAGIC || le32(sb, md1::MAJOR) != 1 {
        return None;
    }
    // Written where the superblock says it lives: rules out a copy inside a file.
    if le64(sb, md1::SUPER_OFFSET) != at / 512 {
        return None;
    }
    let size = 256
        + usize::try_from(le32(sb, md1::MAX_DEV))
            .ok()?
            .checked_mul(2)?;
    if md1_checksum(sb.get(..size)?) != le32(sb, md1::SB_CSUM) {
        return None;
    }
    let id = uuid(&array(sb, md1::SET_UUID)?);
    let name = label(slice(sb, md1::SET_NAME, 32))
        .map(|n| format!(", name {n}"))
        .unwrap_or_default();
    Some(Detected::Container {
        kind: UnsupportedKind::MdMember,
        detail: format!("MD RAID member, metadata {version}, array UUID {id}{name}"),
    })
}

/// The kernel's calc_sb_1_csum: a 64-bit sum of little-endian words (sb_csum taken as
/// zero), folded to 32 bits.
fn md1_checksum(sb: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in sb.chunks(4).enumerate() {
        if i * 4 == md1::SB_CSUM {
            continue;
        }
        sum += match chunk.len() {
            4 => u64::from(le32(chunk, 0)),
            2 | 3 => u64::from(le16(chunk, 0)),
            _ => 0,
        };
    }
    ((sum & 0xffff_ffff) + (sum >> 32)) as u32
}

// ---------------------------------------------------------------------------------------
// LVM2 physical volumes

/// LVM's own CRC (calc_crc in lib/misc/crc.c): reflected CRC-32 polynomial, this initial
/// value and no final inversion.
const LVM_INITIAL_CRC: u32 = 0xf597_a6cf;

fn probe_lvm2(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    // The label is in one of the first four 512-byte sectors (sector 1 by default).
    for sector in 0..4u64 {
        let Some(s) = r.read(sector * 512, 512)? else {
            break;
        };
        if let Some(found) = parse_lvm2_label(&s, sector) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn parse_lvm2_label(s: &[u8], sector: u64) -> Option<Detected> {
    let ok = slice(s, 0, 8) == b"LABELONE"
        && slice(s, 24, 8) == b"LVM2 001"
        && le64(s, 8) == sector
        && lvm_crc(LVM_INITIAL_CRC, s.get(20..)?) == le32(s, 16);
    if !ok {
        return None;
    }
    // offset_xl: where the pv_header starts in this sector; it opens with the PV UUID.
    let pv_header = usize::try_from(le32(s, 20)).ok()?;
    let id = s.get(pv_header..pv_header.checked_add(32)?)?;
    Some(Detected::Container {
        kind: UnsupportedKind::LvmPhysicalVolume,
        detail: format!("LVM2 physical volume, PV UUID {}", lvm_uuid(id)),
    })
}

fn lvm_crc(initial: u32, data: &[u8]) -> u32 {
    let mut crc = initial;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// LVM prints its 32-character ids in groups of 6-4-4-4-4-4-6.
fn lvm_uuid(id: &[u8]) -> String {
    let text = String::from_utf8_lossy(id);
    let mut out = String::new();
    let mut chars = text.chars();
    for (i, group) in [6, 4, 4, 4, 4, 4, 6].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.extend(chars.by_ref().take(group));
    }
    out
}

// ---------------------------------------------------------------------------------------
// LUKS

const LUKS_MAGIC: &[u8] = b"LUKS\xba\xbe";
/// LUKS2 keeps a second header at one of these offsets, with its magic reversed.
const LUKS2_SECONDARY_MAGIC: &[u8] = b"SKUL\xba\xbe";
const LUKS2_SECONDARY_AT: [u64; 9] = [
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
];

fn probe_luks(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    if let Some(h) = r.read(0, 512)? {
        if slice(&h, 0, 6) == LUKS_MAGIC {
            return Ok(parse_luks(&h, ""));
        }
    }
    for at in LUKS2_SECONDARY_AT {
        if let Some(h) = r.read(at, 512)? {
            if slice(&h, 0, 6) == LUKS2_SECONDARY_MAGIC && be16(&h, 6) == 2 {
                return Ok(parse_luks(&h, " (primary header damaged)"));
            }
        }
    }
    Ok(None)
}

fn parse_luks(h: &[u8], note: &str) -> Option<Detected> {
    let version = be16(h, 6);
    if version != 1 && version != 2 {
        return None;
    }
    // Both versions keep the UUID as text at 168; LUKS2 has a label at 24.
    let id = label(slice(h, 168, 40)).unwrap_or_else(|| "unknown".into());
    let name = if version == 2 {
        label(slice(h, 24, 48))
            .map(|l| format!(", label {l}"))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Some(Detected::Container {
        kind: UnsupportedKind::Luks,
        detail: format!("LUKS{version}, UUID {id}{name}{note}"),
    })
}

// ---------------------------------------------------------------------------------------
// FAT (vfat)

/// What the BIOS Parameter Block of a FAT boot sector says.
#[derive(Debug)]
struct FatBpb {
    sector_size: u64,
    cluster_sectors: u64,
    reserved: u64,
    fats: u64,
    root_entries: u64,
    total_sectors: u64,
    fat_sectors: u64,
    root_cluster: u32,
    fat_bits: u8,
}

impl FatBpb {
    fn first_root_dir_sector(&self) -> u64 {
        self.reserved + self.fats * self.fat_sectors
    }
}

/// blkid's FAT magics: a file system type string, or a jump instruction.
fn has_fat_magic(s: &[u8]) -> bool {
    let at_52 = slice(s, 0x52, 8);
    let at_36 = slice(s, 0x36, 8);
    at_52.starts_with(b"MSWIN")
        || at_52 == b"FAT32   "
        || at_36.starts_with(b"MSDOS")
        || [&b"FAT16   "[..], b"FAT12   ", b"FAT     "].contains(&at_36)
        || (matches!(s.first(), Some(0xeb | 0xe9)) && slice(s, 510, 2) == [0x55, 0xaa])
}

/// A valid FAT boot sector, checked as libblkid's fat_valid_superblock does.
fn fat_bpb(s: &[u8]) -> Option<FatBpb> {
    if s.len() < 512 || !has_fat_magic(s) {
        return None;
    }
    // OS/2 puts a FAT-like pseudo BPB in front of JFS and HPFS.
    let at_36 = slice(s, 0x36, 8);
    if at_36 == b"JFS     " || at_36 == b"HPFS    " {
        return None;
    }
    let sector_size = u64::from(le16(s, 11));
    let cluster_sectors = u64::from(s[13]);
    let reserved = u64::from(le16(s, 14));
    let fats = u64::from(s[16]);
    let media = s[21];
    let valid = valid_pow2(sector_size, 512, 4096)
        && cluster_sectors.is_power_of_two()
        && reserved > 0
        && fats > 0
        && (media == 0xf0 || media >= 0xf8);
    if !valid {
        return None;
    }
    let root_entries = u64::from(le16(s, 17));
    let total_sectors = match le16(s, 19) {
        0 => u64::from(le32(s, 32)),
        n => u64::from(n),
    };
    let fat16_sectors = u64::from(le16(s, 22));
    let fat_sectors = match fat16_sectors {
        0 => u64::from(le32(s, 36)),
        n => n,
    };
    if fat_sectors == 0 {
        return None;
    }
    let root_dir_sectors = (root_entries * 32).div_ceil(sector_size);
    let meta = reserved + fats * fat_sectors + root_dir_sectors;
    let clusters = total_sectors.checked_sub(meta)? / cluster_sectors;
    // The kernel's rule (fat_bits 12 up to 4084 clusters); FAT32 has no 16-bit FAT size.
    let (fat_bits, max_clusters) = match (fat16_sectors, clusters) {
        (0, _) => (32, 0x0fff_fff6),
        (_, c) if c > 0xff4 => (16, 0xfff4),
        _ => (12, 0xff4),
    };
    if clusters > max_clusters {
        return None;
    }
    Some(FatBpb {
        sector_size,
        cluster_sectors,
        reserved,
        fats,
        root_entries,
        total_sectors,
        fat_sectors,
        root_cluster: le32(s, 44),
        fat_bits,
    })
}

fn probe_vfat(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(s) = r.read(0, 512)? else {
        return Ok(None);
    };
    let Some(bpb) = fat_bpb(&s) else {
        return Ok(None);
    };
    // FAT32 moved the extended BPB (serial, label) further down.
    let (serial_at, label_at) = if bpb.fat_bits == 32 {
        (0x43, 0x47)
    } else {
        (0x27, 0x2b)
    };
    let serial = slice(&s, serial_at, 4);
    let boot_label = slice(&s, label_at, 11);
    let boot_label = (boot_label != b"NO NAME    ")
        .then(|| label(boot_label))
        .flatten();
    // blkid prefers the root directory's volume label entry (what Windows and mlabel set).
    let dir_label = fat_dir_label(r, &bpb)?.and_then(|l| label(&l));

    let mut fs = filesystem(FsType::Vfat, None, dir_label.or(boot_label));
    if let [a, b, c, d] = serial {
        fs.uuid = Some(format!("{d:02X}{c:02X}-{b:02X}{a:02X}"));
    }
    fs.size_bytes = bpb.total_sectors.checked_mul(bpb.sector_size);
    fs.params.sector_size = u32::try_from(bpb.sector_size).ok();
    fs.params.cluster_size = u32::try_from(bpb.cluster_sectors * bpb.sector_size).ok();
    fs.params.fat_bits = Some(bpb.fat_bits);
    Ok(Some(Detected::Filesystem(fs)))
}

/// The volume label entry of the root directory, as blkid looks for it.
fn fat_dir_label(r: &mut Region<'_>, bpb: &FatBpb) -> io::Result<Option<[u8; 11]>> {
    let ss = bpb.sector_size;
    if bpb.fat_bits != 32 {
        let at = bpb.first_root_dir_sector() * ss;
        let len = usize::try_from(bpb.root_entries * 32).unwrap_or(MAX_READ);
        let Some(dir) = r.read(at, len.min(MAX_READ))? else {
            return Ok(None);
        };
        return Ok(search_fat_label(&dir));
    }
    // FAT32: the root directory is a cluster chain; blkid follows at most 100 links.
    let cluster_bytes = usize::try_from(bpb.cluster_sectors * ss).unwrap_or(MAX_READ);
    let fat_entries = bpb.fat_sectors * ss / 4;
    let mut next = bpb.root_cluster;
    for _ in 0..100 {
        if next < 2 || u64::from(next) >= fat_entries {
            break;
        }
        let sector = bpb.first_root_dir_sector() + u64::from(next - 2) * bpb.cluster_sectors;
        let Some(dir) = r.read(sector * ss, cluster_bytes)? else {
            break;
        };
        if let Some(found) = search_fat_label(&dir) {
            return Ok(Some(found));
        }
        let Some(entry) = r.read(bpb.reserved * ss + u64::from(next) * 4, 4)? else {
            break;
        };
        next = le32(&entry, 0) & 0x0fff_ffff;
    }
    Ok(None)
}

fn search_fat_label(dir: &[u8]) -> Option<[u8; 11]> {
    const ATTR_VOLUME_ID: u8 = 0x08;
    const ATTR_DIR: u8 = 0x10;
    const ATTR_LONG_NAME: u8 = 0x0f;
    for entry in dir.chunks_exact(32) {
        match entry[0] {
            0x00 => break,
            0xe5 => continue,
            _ => {}
        }
        let attr = entry[11];
        let has_cluster = le16(entry, 20) != 0 || le16(entry, 26) != 0;
        if has_cluster || attr & 0x3f == ATTR_LONG_NAME {
            continue;
        }
        if attr & (ATTR_VOLUME_ID | ATTR_DIR) == ATTR_VOLUME_ID {
            let mut name = array::<11>(entry, 0)?;
            if name[0] == 0x05 {
                name[0] = 0xe5; // 0x05 stands for a leading 0xe5 in the name
            }
            return Some(name);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// exFAT and NTFS: recognised (type, serial, size) so they are not reported as empty.

fn is_exfat_boot(s: &[u8]) -> bool {
    let sector_shift = s.get(108).copied().unwrap_or(0);
    let cluster_shift = s.get(109).copied().unwrap_or(u8::MAX);
    slice(s, 3, 8) == b"EXFAT   "
        && slice(s, 11, 53).iter().all(|&b| b == 0)
        && (9..=12).contains(&sector_shift)
        && u32::from(sector_shift) + u32::from(cluster_shift) <= 25
}

fn probe_exfat(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(s) = r.read(0, 512)? else {
        return Ok(None);
    };
    if !is_exfat_boot(&s) {
        return Ok(None);
    }
    let sector_size = 1u64 << s[108];
    let cluster_size = sector_size << s[109];
    let mut fs = filesystem(FsType::Other("exfat".into()), None, None);
    if let [a, b, c, d] = slice(&s, 100, 4) {
        fs.uuid = Some(format!("{d:02X}{c:02X}-{b:02X}{a:02X}"));
    }
    fs.label = exfat_label(r, &s, sector_size, cluster_size)?;
    fs.size_bytes = le64(&s, 72).checked_mul(sector_size);
    fs.params.sector_size = u32::try_from(sector_size).ok();
    fs.params.cluster_size = u32::try_from(cluster_size).ok();
    Ok(Some(Detected::Filesystem(fs)))
}

/// The volume label entry (type 0x83) in the first cluster of the root directory.
fn exfat_label(
    r: &mut Region<'_>,
    s: &[u8],
    sector_size: u64,
    cluster_size: u64,
) -> io::Result<Option<String>> {
    let heap = u64::from(le32(s, 88)) * sector_size;
    let root_cluster = u64::from(le32(s, 96));
    let Some(at) = root_cluster
        .checked_sub(2)
        .and_then(|c| c.checked_mul(cluster_size))
        .and_then(|off| off.checked_add(heap))
    else {
        return Ok(None);
    };
    let len = usize::try_from(cluster_size.min(64 * 1024)).unwrap_or(4096);
    let Some(dir) = r.read(at, len)? else {
        return Ok(None);
    };
    for entry in dir.chunks_exact(32) {
        match entry[0] {
            0x00 => break,
            0x83 => {
                let chars = usize::from(entry[1].min(11));
                let units: Vec<u16> = (0..chars).map(|i| le16(entry, 2 + 2 * i)).collect();
                let text = String::from_utf16_lossy(&units);
                return Ok((!text.is_empty()).then_some(text));
            }
            _ => {}
        }
    }
    Ok(None)
}

fn is_ntfs_boot(s: &[u8]) -> bool {
    let sector_size = u64::from(le16(s, 11));
    // NTFS zeroes the FAT-only BPB fields.
    let fat_fields_zero = le16(s, 14) == 0
        && s.get(16) == Some(&0)
        && le16(s, 17) == 0
        && le16(s, 19) == 0
        && le16(s, 22) == 0
        && le32(s, 32) == 0;
    slice(s, 3, 8) == b"NTFS    " && valid_pow2(sector_size, 256, 4096) && fat_fields_zero
}

fn probe_ntfs(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(s) = r.read(0, 512)? else {
        return Ok(None);
    };
    if !is_ntfs_boot(&s) {
        return Ok(None);
    }
    let sector_size = u64::from(le16(&s, 11));
    // Sectors per cluster; above 0x80 it is a negative power of two (in bytes: 2^-n).
    let cluster_size = match s[13] {
        n @ 0..=0x80 => u64::from(n) * sector_size,
        n => 1u64.checked_shl(256 - u32::from(n)).unwrap_or(0),
    };
    // The label lives in the $Volume file of the MFT, which is not read here.
    let mut fs = filesystem(FsType::Other("ntfs".into()), None, None);
    fs.uuid = Some(format!("{:016X}", le64(&s, 0x48)));
    fs.size_bytes = le64(&s, 0x28).checked_mul(sector_size);
    fs.params.sector_size = u32::try_from(sector_size).ok();
    fs.params.cluster_size = u32::try_from(cluster_size).ok().filter(|&c| c > 0);
    Ok(Some(Detected::Filesystem(fs)))
}

// ---------------------------------------------------------------------------------------
// XFS (big-endian)

mod xfs {
    pub const BLOCKSIZE: usize = 4;
    pub const DBLOCKS: usize = 8;
    pub const UUID: usize = 32;
    pub const AGBLOCKS: usize = 84;
    pub const AGCOUNT: usize = 88;
    pub const VERSIONNUM: usize = 100;
    pub const SECTSIZE: usize = 102;
    pub const INODESIZE: usize = 104;
    pub const FNAME: usize = 108;
    pub const BLOCKLOG: usize = 120;
    pub const SECTLOG: usize = 121;
    pub const INODELOG: usize = 122;
    pub const FEATURES2: usize = 200;
    pub const RO_COMPAT: usize = 212;
    pub const INCOMPAT: usize = 216;
    pub const CRC: usize = 224;
}

/// Feature bits by the names mkfs.xfs takes (-m crc=1,finobt=1, -i sparse=1, -n ftype=1).
const XFS_RO_COMPAT: &[(u32, &str)] = &[
    (0x1, "finobt"),
    (0x2, "rmapbt"),
    (0x4, "reflink"),
    (0x8, "inobtcount"),
];
const XFS_INCOMPAT: &[(u32, &str)] = &[
    (0x1, "ftype"),
    (0x2, "sparse"),
    (0x8, "bigtime"),
    (0x20, "nrext64"),
];
/// Version 4 filesystems keep ftype in features2.
const XFS_V4_FEATURES2_FTYPE: u32 = 0x200;

fn probe_xfs(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(sb) = r.read(0, 512)? else {
        return Ok(None);
    };
    if slice(&sb, 0, 4) != b"XFSB" || !xfs_sane(&sb) {
        return Ok(None);
    }
    let version = be16(&sb, xfs::VERSIONNUM) & 0xf;
    let sector_size = be16(&sb, xfs::SECTSIZE);
    if version == 5 {
        // The CRC covers the whole superblock sector.
        let Some(sector) = r.read(0, usize::from(sector_size))? else {
            return Ok(None);
        };
        if !xfs_crc_ok(&sector) {
            return Ok(None);
        }
    }
    let block_size = be32(&sb, xfs::BLOCKSIZE);
    let mut fs = filesystem(
        FsType::Xfs,
        uuid_at(&sb, xfs::UUID),
        label(slice(&sb, xfs::FNAME, 12)),
    );
    fs.size_bytes = be64(&sb, xfs::DBLOCKS).checked_mul(u64::from(block_size));
    fs.params.block_size = Some(block_size);
    fs.params.sector_size = Some(u32::from(sector_size));
    fs.params.inode_size = Some(u32::from(be16(&sb, xfs::INODESIZE)));
    fs.params.features = xfs_features(&sb, version);
    Ok(Some(Detected::Filesystem(fs)))
}

/// The geometry checks of libblkid's xfs_verify_sb.
fn xfs_sane(sb: &[u8]) -> bool {
    let sect = u64::from(be16(sb, xfs::SECTSIZE));
    let block = u64::from(be32(sb, xfs::BLOCKSIZE));
    let inode = u64::from(be16(sb, xfs::INODESIZE));
    let log_matches = |value: u64, log_at: usize| {
        sb.get(log_at)
            .is_some_and(|&log| 1u64.checked_shl(u32::from(log)) == Some(value))
    };
    let agcount = u64::from(be32(sb, xfs::AGCOUNT));
    let agblocks = u64::from(be32(sb, xfs::AGBLOCKS));
    let dblocks = be64(sb, xfs::DBLOCKS);
    valid_pow2(sect, 512, 32768)
        && log_matches(sect, xfs::SECTLOG)
        && valid_pow2(block, 512, 65536)
        && log_matches(block, xfs::BLOCKLOG)
        && valid_pow2(inode, 256, 2048)
        && log_matches(inode, xfs::INODELOG)
        && agcount > 0
        && dblocks > 0
        && dblocks <= agcount * agblocks
}

fn xfs_crc_ok(sector: &[u8]) -> bool {
    let mut digest = CRC32C.digest();
    digest.update(slice(sector, 0, xfs::CRC));
    digest.update(&[0; 4]);
    digest.update(sector.get(xfs::CRC + 4..).unwrap_or(&[]));
    digest.finalize() == le32(sector, xfs::CRC)
}

fn xfs_features(sb: &[u8], version: u16) -> Vec<String> {
    let mut out = Vec::new();
    if version == 5 {
        out.push("crc".to_string());
        let named = |bits: u32, table: &[(u32, &str)], out: &mut Vec<String>| {
            for (bit, name) in table {
                if bits & bit != 0 {
                    out.push(name.to_string());
                }
            }
        };
        named(be32(sb, xfs::RO_COMPAT), XFS_RO_COMPAT, &mut out);
        named(be32(sb, xfs::INCOMPAT), XFS_INCOMPAT, &mut out);
    } else if be32(sb, xfs::FEATURES2) & XFS_V4_FEATURES2_FTYPE != 0 {
        out.push("ftype".to_string());
    }
    out
}

// ---------------------------------------------------------------------------------------
// btrfs

const BTRFS_SUPER_AT: u64 = 64 * 1024;
const BTRFS_SUPER_SIZE: usize = 4096;

mod btrfs {
    pub const FSID: usize = 0x20;
    pub const BYTENR: usize = 0x30;
    pub const MAGIC: usize = 0x40;
    pub const TOTAL_BYTES: usize = 0x70;
    pub const SECTORSIZE: usize = 0x90;
    pub const NODESIZE: usize = 0x94;
    pub const COMPAT_RO: usize = 0xb4;
    pub const INCOMPAT: usize = 0xbc;
    pub const CSUM_TYPE: usize = 0xc4;
    pub const LABEL: usize = 0x12b;
}

/// Feature bits by the names mkfs.btrfs -O takes (flags that mkfs always sets, such as
/// mixed_backref and big_metadata, have no option and are left out).
const BTRFS_INCOMPAT: &[(u64, &str)] = &[
    (0x4, "mixed-bg"),
    (0x40, "extref"),
    (0x80, "raid56"),
    (0x100, "skinny-metadata"),
    (0x200, "no-holes"),
    (0x800, "raid1c34"),
    (0x1000, "zoned"),
];
const BTRFS_COMPAT_RO: &[(u64, &str)] = &[(0x1, "free-space-tree"), (0x8, "block-group-tree")];

fn probe_btrfs(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(sb) = r.read(BTRFS_SUPER_AT, BTRFS_SUPER_SIZE)? else {
        return Ok(None);
    };
    if slice(&sb, btrfs::MAGIC, 8) != b"_BHRfS_M" || le64(&sb, btrfs::BYTENR) != BTRFS_SUPER_AT {
        return Ok(None);
    }
    // Type 0 is crc32c over everything after the checksum field; other checksum types
    // (xxhash, sha256, blake2) are not verified here.
    if le16(&sb, btrfs::CSUM_TYPE) == 0 && CRC32C.checksum(&sb[0x20..]) != le32(&sb, 0) {
        return Ok(None);
    }
    let mut fs = filesystem(
        FsType::Btrfs,
        uuid_at(&sb, btrfs::FSID),
        label(slice(&sb, btrfs::LABEL, 256)),
    );
    fs.size_bytes = Some(le64(&sb, btrfs::TOTAL_BYTES));
    fs.params.sector_size = Some(le32(&sb, btrfs::SECTORSIZE));
    fs.params.node_size = Some(le32(&sb, btrfs::NODESIZE));
    let incompat = le64(&sb, btrfs::INCOMPAT);
    let compat_ro = le64(&sb, btrfs::COMPAT_RO);
    fs.params.features = BTRFS_INCOMPAT
        .iter()
        .filter(|(bit, _)| incompat & bit != 0)
        .chain(
            BTRFS_COMPAT_RO
                .iter()
                .filter(|(bit, _)| compat_ro & bit != 0),
        )
        .map(|(_, name)| name.to_string())
        .collect();
    Ok(Some(Detected::Filesystem(fs)))
}

// ---------------------------------------------------------------------------------------
// ext2/3/4

mod ext {
    pub const BLOCKS_LO: usize = 0x04;
    pub const LOG_BLOCK_SIZE: usize = 0x18;
    pub const MAGIC: usize = 0x38;
    pub const REV_LEVEL: usize = 0x4c;
    pub const INODE_SIZE: usize = 0x58;
    pub const COMPAT: usize = 0x5c;
    pub const INCOMPAT: usize = 0x60;
    pub const RO_COMPAT: usize = 0x64;
    pub const UUID: usize = 0x68;
    pub const VOLUME_NAME: usize = 0x78;
    pub const BLOCKS_HI: usize = 0x150;
    pub const CHECKSUM: usize = 0x3fc;

    pub const COMPAT_HAS_JOURNAL: u32 = 0x4;
    pub const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
    pub const INCOMPAT_64BIT: u32 = 0x80;
    pub const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
    /// What ext3 understands (libblkid's EXT3_FEATURE_*_SUPP); anything else is ext4.
    pub const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10; // filetype, needs_recovery, meta_bg
    pub const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir
    /// States, not creation features: mke2fs -O refuses them, so they are not kept.
    pub const INCOMPAT_STATE: u32 = 0x4; // needs_recovery
    pub const RO_COMPAT_STATE: u32 = 0x10000; // orphan_present
}

/// Feature names as e2fsprogs' lib/e2p/feature.c gives them (the first name for a bit).
const EXT_COMPAT: &[(u32, &str)] = &[
    (0x1, "dir_prealloc"),
    (0x2, "imagic_inodes"),
    (0x4, "has_journal"),
    (0x8, "ext_attr"),
    (0x10, "resize_inode"),
    (0x20, "dir_index"),
    (0x40, "lazy_bg"),
    (0x100, "snapshot_bitmap"),
    (0x200, "sparse_super2"),
    (0x400, "fast_commit"),
    (0x800, "stable_inodes"),
    (0x1000, "orphan_file"),
];
const EXT_INCOMPAT: &[(u32, &str)] = &[
    (0x1, "compression"),
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extent"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x10000, "encrypt"),
    (0x20000, "casefold"),
];
const EXT_RO_COMPAT: &[(u32, &str)] = &[
    (0x1, "sparse_super"),
    (0x2, "large_file"),
    (0x8, "huge_file"),
    (0x10, "uninit_bg"),
    (0x20, "dir_nlink"),
    (0x40, "extra_isize"),
    (0x100, "quota"),
    (0x200, "bigalloc"),
    (0x400, "metadata_csum"),
    (0x800, "replica"),
    (0x1000, "read-only"),
    (0x2000, "project"),
    (0x4000, "shared_blocks"),
    (0x8000, "verity"),
    (0x10000, "orphan_present"),
];

fn probe_ext(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(sb) = r.read(1024, 1024)? else {
        return Ok(None);
    };
    if le16(&sb, ext::MAGIC) != 0xef53 {
        return Ok(None);
    }
    let log_block = le32(&sb, ext::LOG_BLOCK_SIZE);
    if log_block > 6 {
        return Ok(None); // blocks of 1 KiB to 64 KiB
    }
    let block_size = 1024u32 << log_block;
    let inode_size = match le32(&sb, ext::REV_LEVEL) {
        0 => 128,
        _ => u32::from(le16(&sb, ext::INODE_SIZE)),
    };
    if !valid_pow2(u64::from(inode_size), 128, u64::from(block_size)) {
        return Ok(None);
    }
    let compat = le32(&sb, ext::COMPAT);
    let incompat = le32(&sb, ext::INCOMPAT);
    let ro_compat = le32(&sb, ext::RO_COMPAT);
    if ro_compat & ext::RO_COMPAT_METADATA_CSUM != 0 && !ext_checksum_ok(&sb) {
        return Ok(None); // as blkid: a bad checksum is not a superblock to trust
    }
    let mut blocks = u64::from(le32(&sb, ext::BLOCKS_LO));
    if incompat & ext::INCOMPAT_64BIT != 0 {
        blocks |= u64::from(le32(&sb, ext::BLOCKS_HI)) << 32;
    }
    let mut fs = filesystem(
        ext_type(compat, incompat, ro_compat),
        uuid_at(&sb, ext::UUID),
        label(slice(&sb, ext::VOLUME_NAME, 16)),
    );
    fs.size_bytes = blocks.checked_mul(u64::from(block_size));
    fs.params.block_size = Some(block_size);
    fs.params.inode_size = Some(inode_size);
    fs.params.features = ext_features(compat, incompat, ro_compat);
    Ok(Some(Detected::Filesystem(fs)))
}

/// ext4's superblock checksum: crc32c seeded with ~0 and not inverted at the end.
fn ext_checksum_ok(sb: &[u8]) -> bool {
    let standard = CRC32C.checksum(slice(sb, 0, ext::CHECKSUM));
    !standard == le32(sb, ext::CHECKSUM)
}

/// libblkid's decision: an external journal is "jbd"; features ext3 does not know make
/// ext4; a journal makes ext3; else ext2.
fn ext_type(compat: u32, incompat: u32, ro_compat: u32) -> FsType {
    if incompat & ext::INCOMPAT_JOURNAL_DEV != 0 {
        return FsType::Other("jbd".into());
    }
    if incompat & !ext::EXT3_INCOMPAT != 0 || ro_compat & !ext::EXT3_RO_COMPAT != 0 {
        return FsType::Ext4;
    }
    if compat & ext::COMPAT_HAS_JOURNAL != 0 {
        FsType::Ext3
    } else {
        FsType::Ext2
    }
}

/// Names in dumpe2fs order (compat, incompat, ro_compat; low bits first). Unknown bits
/// get e2p's own "FEATURE_C12" style names, which mke2fs -O also accepts.
fn ext_features(compat: u32, incompat: u32, ro_compat: u32) -> Vec<String> {
    let sets = [
        (compat, EXT_COMPAT, 'C', 0),
        (incompat, EXT_INCOMPAT, 'I', ext::INCOMPAT_STATE),
        (ro_compat, EXT_RO_COMPAT, 'R', ext::RO_COMPAT_STATE),
    ];
    let mut out = Vec::new();
    for (bits, names, letter, state) in sets {
        for bit in 0..32 {
            let mask = 1u32 << bit;
            if bits & mask == 0 || state & mask != 0 {
                continue;
            }
            match names.iter().find(|(m, _)| *m == mask) {
                Some((_, name)) => out.push(name.to_string()),
                None => out.push(format!("FEATURE_{letter}{bit}")),
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Swap

const SWAP_PAGE_SIZES: [u64; 4] = [4096, 8192, 16384, 65536];

fn probe_swap(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    for page in SWAP_PAGE_SIZES {
        let Some(magic) = r.read(page - 10, 10)? else {
            break; // the region is smaller than this page
        };
        let found = match &magic[..] {
            b"SWAP-SPACE" => Some(Filesystem::new(FsType::Swap)), // v0: no UUID, no label
            b"SWAPSPACE2" | b"LINHIB0001" => swap_v1(r, page)?,
            // A hibernation image keeps the swap header (libblkid: "swsuspend").
            m if [&b"S1SUSPEND"[..], b"S2SUSPEND", b"ULSUSPEND"].contains(&&m[..9]) => {
                swap_v1(r, page)?
            }
            _ => None,
        };
        if let Some(mut fs) = found {
            fs.params.block_size = u32::try_from(page).ok();
            return Ok(Some(Detected::Filesystem(fs)));
        }
    }
    Ok(None)
}

/// The version 1 header at 1024: version, last_page, nr_badpages, uuid, label; in the
/// byte order of the machine that wrote it.
fn swap_v1(r: &mut Region<'_>, page: u64) -> io::Result<Option<Filesystem>> {
    let Some(h) = r.read(1024, 44)? else {
        return Ok(None);
    };
    let word: fn(&[u8], usize) -> u32 = match (le32(&h, 0), be32(&h, 0)) {
        (1, _) => le32,
        (_, 1) => be32,
        _ => return Ok(None),
    };
    let mut fs = filesystem(FsType::Swap, uuid_at(&h, 12), label(slice(&h, 28, 16)));
    fs.size_bytes = (u64::from(word(&h, 4)) + 1).checked_mul(page);
    Ok(Some(fs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn detect_buf(buf: &[u8]) -> Option<Detected> {
        detect(&mut Cursor::new(buf), 0, buf.len() as u64).unwrap()
    }

    fn fs(found: Option<Detected>) -> Filesystem {
        match found {
            Some(Detected::Filesystem(fs)) => fs,
            other => panic!("expected a filesystem, got {other:?}"),
        }
    }

    fn container(found: Option<Detected>) -> (UnsupportedKind, String) {
        match found {
            Some(Detected::Container { kind, detail }) => (kind, detail),
            other => panic!("expected a container, got {other:?}"),
        }
    }

    /// A minimal ext superblock (rev 1, 4 KiB blocks) with the given features.
    fn ext_image(compat: u32, incompat: u32, ro: u32) -> Vec<u8> {
        let mut img = vec![0u8; 8192];
        let sb = 1024;
        put(&mut img, sb + ext::BLOCKS_LO, &1000u32.to_le_bytes());
        put(&mut img, sb + ext::LOG_BLOCK_SIZE, &2u32.to_le_bytes());
        put(&mut img, sb + ext::MAGIC, &0xef53u16.to_le_bytes());
        put(&mut img, sb + ext::REV_LEVEL, &1u32.to_le_bytes());
        put(&mut img, sb + ext::INODE_SIZE, &256u16.to_le_bytes());
        put(&mut img, sb + ext::COMPAT, &compat.to_le_bytes());
        put(&mut img, sb + ext::INCOMPAT, &incompat.to_le_bytes());
        put(&mut img, sb + ext::RO_COMPAT, &ro.to_le_bytes());
        let id: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        put(&mut img, sb + ext::UUID, &id);
        put(&mut img, sb + ext::VOLUME_NAME, b"rootfs");
        img
    }

    #[test]
    fn ext_types_follow_blkid() {
        let ext2 = fs(detect_buf(&ext_image(0x38, 0x2, 0x3)));
        assert_eq!(ext2.fs_type, FsType::Ext2);
        let ext3 = fs(detect_buf(&ext_image(0x3c, 0x2, 0x3)));
        assert_eq!(ext3.fs_type, FsType::Ext3);
        let ext4 = fs(detect_buf(&ext_image(0x3c, 0x2c2, 0x7b)));
        assert_eq!(ext4.fs_type, FsType::Ext4);
        // No journal but extents: still ext4, as blkid says.
        let ext4_nojournal = fs(detect_buf(&ext_image(0x38, 0x42, 0x3)));
        assert_eq!(ext4_nojournal.fs_type, FsType::Ext4);
        let jbd = fs(detect_buf(&ext_image(0, 0x8, 0)));
        assert_eq!(jbd.fs_type, FsType::Other("jbd".into()));
    }

    #[test]
    fn ext_fields() {
        let ext3 = fs(detect_buf(&ext_image(0x3c, 0x2 | 0x4, 0x3 | 0x8000_0000)));
        assert_eq!(
            ext3.uuid.as_deref(),
            Some("01020304-0506-0708-090a-0b0c0d0e0f10")
        );
        assert_eq!(ext3.label.as_deref(), Some("rootfs"));
        assert_eq!(ext3.size_bytes, Some(1000 * 4096));
        assert_eq!(ext3.params.block_size, Some(4096));
        assert_eq!(ext3.params.inode_size, Some(256));
        // needs_recovery is left out; the unknown ro_compat bit 31 keeps e2p's name.
        assert_eq!(
            ext3.params.features,
            [
                "has_journal",
                "ext_attr",
                "resize_inode",
                "dir_index",
                "filetype",
                "sparse_super",
                "large_file",
                "FEATURE_R31"
            ]
        );
    }

    #[test]
    fn ext_metadata_csum_is_checked() {
        let mut img = ext_image(0x3c, 0x2c2, 0x400);
        assert_eq!(detect_buf(&img), None, "no checksum written yet");
        let crc = !CRC32C.checksum(&img[1024..1024 + ext::CHECKSUM]);
        put(&mut img, 1024 + ext::CHECKSUM, &crc.to_le_bytes());
        assert_eq!(fs(detect_buf(&img)).fs_type, FsType::Ext4);
    }

    #[test]
    fn ext_64bit_size() {
        let mut img = ext_image(0x3c, 0x2c2, 0x3);
        put(&mut img, 1024 + ext::BLOCKS_HI, &1u32.to_le_bytes());
        assert_eq!(
            fs(detect_buf(&img)).size_bytes,
            Some(((1 << 32) + 1000) * 4096)
        );
    }

    #[test]
    fn swap_with_label() {
        let mut img = vec![0u8; 64 * 1024];
        put(&mut img, 4086, b"SWAPSPACE2");
        put(&mut img, 1024, &1u32.to_le_bytes());
        put(&mut img, 1028, &15u32.to_le_bytes());
        put(&mut img, 1036, &[0xab; 16]);
        put(&mut img, 1052, b"myswap");
        let swap = fs(detect_buf(&img));
        assert_eq!(swap.fs_type, FsType::Swap);
        assert_eq!(swap.label.as_deref(), Some("myswap"));
        assert_eq!(
            swap.uuid.as_deref(),
            Some("abababab-abab-abab-abab-abababababab")
        );
        assert_eq!(swap.size_bytes, Some(16 * 4096));
        assert_eq!(swap.params.block_size, Some(4096));
    }

    #[test]
    fn swap_with_64k_pages() {
        let mut img = vec![0u8; 256 * 1024];
        put(&mut img, 65536 - 10, b"SWAPSPACE2");
        put(&mut img, 1024, &1u32.to_be_bytes()); // written by a big-endian machine
        put(&mut img, 1028, &3u32.to_be_bytes());
        let swap = fs(detect_buf(&img));
        assert_eq!(swap.size_bytes, Some(4 * 65536));
        assert_eq!(swap.uuid, None);
    }

    #[test]
    fn luks_headers() {
        let mut img = vec![0u8; 8192];
        put(&mut img, 0, LUKS_MAGIC);
        put(&mut img, 6, &2u16.to_be_bytes());
        put(&mut img, 24, b"secret");
        put(&mut img, 168, b"0b9d3a52-55b4-4b2e-9d6e-0e0d6b1c7d10");
        let (kind, detail) = container(detect_buf(&img));
        assert_eq!(kind, UnsupportedKind::Luks);
        assert_eq!(
            detail,
            "LUKS2, UUID 0b9d3a52-55b4-4b2e-9d6e-0e0d6b1c7d10, label secret"
        );
        put(&mut img, 6, &7u16.to_be_bytes());
        assert_eq!(detect_buf(&img), None);
    }

    #[test]
    fn lvm_label_needs_its_crc() {
        let mut img = vec![0u8; 8192];
        let s = 512;
        put(&mut img, s, b"LABELONE");
        put(&mut img, s + 8, &1u64.to_le_bytes());
        put(&mut img, s + 20, &32u32.to_le_bytes());
        put(&mut img, s + 24, b"LVM2 001");
        put(&mut img, s + 32, b"AbCdEf123456789aBcDeFgHiJkLmNoPq");
        assert_eq!(detect_buf(&img), None, "CRC not set");
        let crc = lvm_crc(LVM_INITIAL_CRC, &img[s + 20..s + 512]);
        put(&mut img, s + 16, &crc.to_le_bytes());
        let (kind, detail) = container(detect_buf(&img));
        assert_eq!(kind, UnsupportedKind::LvmPhysicalVolume);
        assert_eq!(
            detail,
            "LVM2 physical volume, PV UUID AbCdEf-1234-5678-9aBc-DeFg-HiJk-LmNoPq"
        );
    }

    fn md1_image(len: usize, at: usize) -> Vec<u8> {
        let mut img = vec![0u8; len];
        put(&mut img, at, &MD_MAGIC.to_le_bytes());
        put(&mut img, at + md1::MAJOR, &1u32.to_le_bytes());
        put(&mut img, at + md1::SET_UUID, &[0x5a; 16]);
        put(&mut img, at + md1::SET_NAME, b"host:0");
        put(
            &mut img,
            at + md1::SUPER_OFFSET,
            &(at as u64 / 512).to_le_bytes(),
        );
        put(&mut img, at + md1::MAX_DEV, &2u32.to_le_bytes());
        let sum = md1_checksum(&img[at..at + 260]);
        put(&mut img, at + md1::SB_CSUM, &sum.to_le_bytes());
        img
    }

    #[test]
    fn md_1_2_and_1_0() {
        let (kind, detail) = container(detect_buf(&md1_image(1 << 20, 4096)));
        assert_eq!(kind, UnsupportedKind::MdMember);
        assert_eq!(
            detail,
            "MD RAID member, metadata 1.2, array UUID 5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a, \
             name host:0"
        );
        // 1 MiB + 3 KiB: 8 KiB before the end is 1 MiB - 5 KiB, aligned down: 1 MiB - 8 KiB.
        let len = (1 << 20) + 3072;
        let (_, detail) = container(detect_buf(&md1_image(len, (1 << 20) - 8192)));
        assert!(detail.contains("metadata 1.0"), "{detail}");
    }

    #[test]
    fn md_1_x_checksum_and_offset_are_checked() {
        let mut img = md1_image(1 << 20, 4096);
        img[4096 + 300] ^= 1; // outside the checksummed part for max_dev 2
        assert!(detect_buf(&img).is_some());
        img[4096 + 100] ^= 1;
        assert_eq!(detect_buf(&img), None);
        let mut moved = vec![0u8; 1 << 20];
        moved[0..4096].copy_from_slice(&md1_image(1 << 20, 4096)[4096..8192]);
        assert_eq!(
            detect_buf(&moved),
            None,
            "super_offset says 4096, found at 0"
        );
    }

    #[test]
    fn md_0_90_at_the_end() {
        let len = 3 * 65536 + 1000;
        let at = 2 * 65536;
        let mut img = vec![0u8; len];
        put(&mut img, at, &MD_MAGIC.to_le_bytes());
        put(&mut img, at + 8, &90u32.to_le_bytes());
        put(&mut img, at + 20, &[1, 2, 3, 4]);
        put(
            &mut img,
            at + 52,
            &[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        );
        let (_, detail) = container(detect_buf(&img));
        assert_eq!(
            detail,
            "MD RAID member, metadata 0.90, array UUID 04030201-0807-0605-0c0b-0a09100f0e0d"
        );
    }

    fn fat16_image() -> Vec<u8> {
        // 8 MiB, 512-byte sectors, 2 sectors a cluster (8000-odd clusters: FAT16),
        // 1 reserved, 2 FATs of 32 sectors, 512 root entries.
        let mut img = vec![0u8; 8 << 20];
        put(&mut img, 0, &[0xeb, 0x3c, 0x90]);
        put(&mut img, 3, b"mkfs.fat");
        put(&mut img, 11, &512u16.to_le_bytes());
        img[13] = 2;
        put(&mut img, 14, &1u16.to_le_bytes());
        img[16] = 2;
        put(&mut img, 17, &512u16.to_le_bytes());
        put(&mut img, 19, &16384u16.to_le_bytes());
        img[21] = 0xf8;
        put(&mut img, 22, &32u16.to_le_bytes());
        img[0x26] = 0x29;
        put(&mut img, 0x27, &[0x78, 0x56, 0x34, 0x12]);
        put(&mut img, 0x2b, b"BOOTLABEL  ");
        put(&mut img, 0x36, b"FAT16   ");
        put(&mut img, 510, &[0x55, 0xaa]);
        img
    }

    #[test]
    fn fat16_boot_label_and_serial() {
        let vfat = fs(detect_buf(&fat16_image()));
        assert_eq!(vfat.fs_type, FsType::Vfat);
        assert_eq!(vfat.uuid.as_deref(), Some("1234-5678"));
        assert_eq!(vfat.label.as_deref(), Some("BOOTLABEL"));
        assert_eq!(vfat.params.fat_bits, Some(16));
        assert_eq!(vfat.params.cluster_size, Some(1024));
        assert_eq!(vfat.params.sector_size, Some(512));
        assert_eq!(vfat.size_bytes, Some(8 << 20));
    }

    #[test]
    fn fat_root_dir_label_wins() {
        let mut img = fat16_image();
        let root = (1 + 2 * 32) * 512;
        put(&mut img, root, b"\xe5DELETED   ");
        img[root + 11] = 0x08;
        put(&mut img, root + 32, b"\x05IRLABEL   ");
        img[root + 32 + 11] = 0x08;
        let vfat = fs(detect_buf(&img));
        assert_eq!(vfat.label.as_deref(), Some("\u{fffd}IRLABEL"));
        put(&mut img, root + 32, b"DIRLABEL   ");
        assert_eq!(fs(detect_buf(&img)).label.as_deref(), Some("DIRLABEL"));
        put(&mut img, 0x2b, b"NO NAME    ");
        img[root + 32] = 0;
        assert_eq!(fs(detect_buf(&img)).label, None);
    }

    #[test]
    fn mbr_with_boot_code_is_not_fat() {
        let mut img = vec![0u8; 4096];
        put(&mut img, 0, &[0xeb, 0x63, 0x90]); // GRUB's boot.img starts with a jump
        put(&mut img, 510, &[0x55, 0xaa]);
        assert!(!is_fs_boot_sector(&img));
        assert_eq!(detect_buf(&img), None);
    }

    #[test]
    fn exfat_and_ntfs_boot_sectors() {
        let mut ex = vec![0u8; 1 << 20];
        put(&mut ex, 3, b"EXFAT   ");
        put(&mut ex, 72, &2048u64.to_le_bytes());
        put(&mut ex, 88, &64u32.to_le_bytes()); // cluster heap at sector 64
        put(&mut ex, 96, &4u32.to_le_bytes()); // root directory in cluster 4
        put(&mut ex, 100, &[0xef, 0xbe, 0xad, 0xde]);
        ex[108] = 9;
        ex[109] = 3;
        put(&mut ex, 510, &[0x55, 0xaa]);
        let root = 64 * 512 + 2 * 4096;
        ex[root] = 0x83;
        ex[root + 1] = 3;
        put(&mut ex, root + 2, &[b'U', 0, b'S', 0, b'B', 0]);
        assert!(is_fs_boot_sector(&ex));
        let exfat = fs(detect_buf(&ex));
        assert_eq!(exfat.fs_type, FsType::Other("exfat".into()));
        assert_eq!(exfat.uuid.as_deref(), Some("DEAD-BEEF"));
        assert_eq!(exfat.label.as_deref(), Some("USB"));
        assert_eq!(exfat.size_bytes, Some(2048 * 512));

        let mut nt = vec![0u8; 4096];
        put(&mut nt, 0, &[0xeb, 0x52, 0x90]);
        put(&mut nt, 3, b"NTFS    ");
        put(&mut nt, 11, &512u16.to_le_bytes());
        nt[13] = 8;
        put(&mut nt, 0x28, &999u64.to_le_bytes());
        put(&mut nt, 0x48, &0x0123_4567_89ab_cdefu64.to_le_bytes());
        put(&mut nt, 510, &[0x55, 0xaa]);
        assert!(is_fs_boot_sector(&nt));
        let ntfs = fs(detect_buf(&nt));
        assert_eq!(ntfs.uuid.as_deref(), Some("0123456789ABCDEF"));
        assert_eq!(ntfs.params.cluster_size, Some(4096));
    }

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
