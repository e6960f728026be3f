//! ext2, ext3 and ext4 (and external ext journals): type as blkid names it, UUID, label,
//! geometry and the mke2fs feature options.

use super::{filesystem, label, le16, le32, slice, uuid_at, valid_pow2, Detected, Region, CRC32C};
use rescue_core::mountlist::FsType;
use std::io;

/// Byte offsets in `struct ext4_super_block`, and the feature bits the type depends on.
mod layout {
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

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(sb) = r.read(1024, 1024)? else {
        return Ok(None);
    };
    if le16(&sb, layout::MAGIC) != 0xef53 {
        return Ok(None);
    }
    let log_block = le32(&sb, layout::LOG_BLOCK_SIZE);
    if log_block > 6 {
        return Ok(None); // blocks of 1 KiB to 64 KiB
    }
    let block_size = 1024u32 << log_block;
    let inode_size = match le32(&sb, layout::REV_LEVEL) {
        0 => 128,
        _ => u32::from(le16(&sb, layout::INODE_SIZE)),
    };
    if !valid_pow2(u64::from(inode_size), 128, u64::from(block_size)) {
        return Ok(None);
    }
    let compat = le32(&sb, layout::COMPAT);
    let incompat = le32(&sb, layout::INCOMPAT);
    let ro_compat = le32(&sb, layout::RO_COMPAT);
    if ro_compat & layout::RO_COMPAT_METADATA_CSUM != 0 && !ext_checksum_ok(&sb) {
        return Ok(None); // as blkid: a bad checksum is not a superblock to trust
    }
    let mut blocks = u64::from(le32(&sb, layout::BLOCKS_LO));
    if incompat & layout::INCOMPAT_64BIT != 0 {
        blocks |= u64::from(le32(&sb, layout::BLOCKS_HI)) << 32;
    }
    let mut fs = filesystem(
        ext_type(compat, incompat, ro_compat),
        uuid_at(&sb, layout::UUID),
        label(slice(&sb, layout::VOLUME_NAME, 16)),
    );
    fs.size_bytes = blocks.checked_mul(u64::from(block_size));
    fs.params.block_size = Some(block_size);
    fs.params.inode_size = Some(inode_size);
    fs.params.features = ext_features(compat, incompat, ro_compat);
    Ok(Some(Detected::Filesystem(fs)))
}

/// ext4's superblock checksum: crc32c seeded with ~0 and not inverted at the end.
fn ext_checksum_ok(sb: &[u8]) -> bool {
    let standard = CRC32C.checksum(slice(sb, 0, layout::CHECKSUM));
    !standard == le32(sb, layout::CHECKSUM)
}

/// libblkid's decision: an external journal is "jbd"; features ext3 does not know make
/// ext4; a journal makes ext3; else ext2.
fn ext_type(compat: u32, incompat: u32, ro_compat: u32) -> FsType {
    if incompat & layout::INCOMPAT_JOURNAL_DEV != 0 {
        return FsType::Other("jbd".into());
    }
    if incompat & !layout::EXT3_INCOMPAT != 0 || ro_compat & !layout::EXT3_RO_COMPAT != 0 {
        return FsType::Ext4;
    }
    if compat & layout::COMPAT_HAS_JOURNAL != 0 {
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
        (incompat, EXT_INCOMPAT, 'I', layout::INCOMPAT_STATE),
        (ro_compat, EXT_RO_COMPAT, 'R', layout::RO_COMPAT_STATE),
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

#[cfg(test)]
pub(super) mod tests {
    use super::super::test_support::{detect_buf, fs, put};
    use super::*;

    /// A minimal ext superblock (rev 1, 4 KiB blocks) with the given features.
    pub(in super::super) fn ext_image(compat: u32, incompat: u32, ro: u32) -> Vec<u8> {
        let mut img = vec![0u8; 8192];
        let sb = 1024;
        put(&mut img, sb + layout::BLOCKS_LO, &1000u32.to_le_bytes());
        put(&mut img, sb + layout::LOG_BLOCK_SIZE, &2u32.to_le_bytes());
        put(&mut img, sb + layout::MAGIC, &0xef53u16.to_le_bytes());
        put(&mut img, sb + layout::REV_LEVEL, &1u32.to_le_bytes());
        put(&mut img, sb + layout::INODE_SIZE, &256u16.to_le_bytes());
        put(&mut img, sb + layout::COMPAT, &compat.to_le_bytes());
        put(&mut img, sb + layout::INCOMPAT, &incompat.to_le_bytes());
        put(&mut img, sb + layout::RO_COMPAT, &ro.to_le_bytes());
        let id: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        put(&mut img, sb + layout::UUID, &id);
        put(&mut img, sb + layout::VOLUME_NAME, b"rootfs");
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
        let crc = !CRC32C.checksum(&img[1024..1024 + layout::CHECKSUM]);
        put(&mut img, 1024 + layout::CHECKSUM, &crc.to_le_bytes());
        assert_eq!(fs(detect_buf(&img)).fs_type, FsType::Ext4);
    }

    #[test]
    fn ext_64bit_size() {
        let mut img = ext_image(0x3c, 0x2c2, 0x3);
        put(&mut img, 1024 + layout::BLOCKS_HI, &1u32.to_le_bytes());
        assert_eq!(
            fs(detect_buf(&img)).size_bytes,
            Some(((1 << 32) + 1000) * 4096)
        );
    }
}
