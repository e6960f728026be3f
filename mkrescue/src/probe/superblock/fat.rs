//! FAT12/16/32 (vfat): type, serial, label (the root directory's label entry first, as
//! blkid does) and geometry.

use super::{array, filesystem, label, le16, le32, slice, valid_pow2, Detected, Region, MAX_READ};
use rescue_core::mountlist::FsType;
use std::io;

/// A FAT boot sector (a whole disk formatted without a partition table starts with one).
pub(super) fn is_boot_sector(s: &[u8]) -> bool {
    fat_bpb(s).is_some()
}

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

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
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

#[cfg(test)]
mod tests {
    use super::super::is_fs_boot_sector;
    use super::super::test_support::{detect_buf, fs, put};
    use super::*;

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
}
