//! NTFS: recognised (type, serial, size) so it is not reported as empty.

use super::{filesystem, le16, le32, le64, slice, valid_pow2, Detected, Region};
use rescue_core::mountlist::FsType;
use std::io;

/// An NTFS boot sector (a whole disk formatted without a partition table starts with one).
pub(super) fn is_boot_sector(s: &[u8]) -> bool {
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

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(s) = r.read(0, 512)? else {
        return Ok(None);
    };
    if !is_boot_sector(&s) {
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

#[cfg(test)]
mod tests {
    use super::super::is_fs_boot_sector;
    use super::super::test_support::{detect_buf, fs, put};

    #[test]
    fn ntfs_boot_sector() {
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
}
