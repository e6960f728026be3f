//! exFAT: recognised (type, serial, label, size) so it is not reported as empty.

use super::{filesystem, le16, le32, le64, slice, Detected, Region};
use rescue_core::mountlist::FsType;
use std::io;

/// An exFAT boot sector (a whole disk formatted without a partition table starts with one).
pub(super) fn is_boot_sector(s: &[u8]) -> bool {
    let sector_shift = s.get(108).copied().unwrap_or(0);
    let cluster_shift = s.get(109).copied().unwrap_or(u8::MAX);
    slice(s, 3, 8) == b"EXFAT   "
        && slice(s, 11, 53).iter().all(|&b| b == 0)
        && (9..=12).contains(&sector_shift)
        && u32::from(sector_shift) + u32::from(cluster_shift) <= 25
}

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(s) = r.read(0, 512)? else {
        return Ok(None);
    };
    if !is_boot_sector(&s) {
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

#[cfg(test)]
mod tests {
    use super::super::is_fs_boot_sector;
    use super::super::test_support::{detect_buf, fs, put};
    use super::*;

    #[test]
    fn exfat_boot_sector() {
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
    }
}
