//! The smallest filesystem each mkfs makes, so that a layout (or a resize) that asks for a
//! smaller one is refused before anything is written rather than failing halfway.
//!
//! Measured by running each mkfs on sparse image files, halving the size until the
//! smallest accepted size (to 1 KiB) was found, with the options the restore passes
//! (e2fsprogs 1.47.0, xfsprogs 6.1.0, btrfs-progs 6.2, dosfstools 4.2, util-linux
//! 2.38 mkswap); the table is in docs/mountlist.md:
//!
//! - `mkfs.ext2`: 104 KiB with 1 KiB blocks, 112 KiB with 2 KiB, 224 KiB with 4 KiB.
//! - `mkfs.ext3`/`mkfs.ext4`: a journal needs 2048 blocks (2 MiB with 1 KiB blocks, 8 MiB
//!   with 4 KiB); below that mke2fs prints "Filesystem too small for a journal" and makes
//!   none, which is not the filesystem the layout asks for. Without `has_journal` among
//!   the features kept, they are as small as ext2.
//! - `mkfs.xfs`: 300 MiB ("Filesystem must be larger than 300MB.").
//! - `mkfs.btrfs`: 114294784 bytes (109 MiB), whatever the node size ("minimum size for
//!   each btrfs device is 114294784").
//! - `mkfs.vfat` with 512-byte sectors: FAT12 50 KiB, FAT16 8208 KiB, FAT32 49 KiB; with
//!   4096-byte sectors (`-S 4096`): FAT12 64 KiB, FAT16 64 MiB, FAT32 192 KiB. Below 33296
//!   KiB (262784 KiB at 4096) a FAT32 has fewer clusters than the FAT specification asks
//!   and mkfs.vfat warns; ESPs that small exist and work, so that is no error.
//! - `mkswap`: 40 KiB ("swap area needs to be at least 40 KiB").

use super::model::{Filesystem, FsType};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Blocks an ext3/ext4 journal needs at the least.
const EXT_JOURNAL_BLOCKS: u64 = 2048;

/// The least size in bytes a filesystem like `fs` can be made with, or None when the
/// restore does not make its type.
pub fn mkfs_minimum_bytes(fs: &Filesystem) -> Option<u64> {
    let p = &fs.params;
    // The restore passes the features kept (`-O none,...`); none kept means mke2fs's own.
    let journal = p.features.is_empty() || p.features.iter().any(|f| f == "has_journal");
    Some(match fs.fs_type {
        FsType::Ext3 | FsType::Ext4 if journal => {
            EXT_JOURNAL_BLOCKS * u64::from(p.block_size.unwrap_or(4096).clamp(1024, 65536))
        }
        FsType::Ext2 | FsType::Ext3 | FsType::Ext4 => match p.block_size {
            Some(1024) => 104 * KIB,
            Some(2048) => 112 * KIB,
            // 4 KiB blocks, or mke2fs's choice: the largest of the three.
            _ => 224 * KIB,
        },
        FsType::Xfs => 300 * MIB,
        FsType::Btrfs => 114_294_784,
        FsType::Vfat => {
            // Figures for 512-byte sectors, and for larger ones those measured at 4096.
            let small_sectors = p.sector_size.is_none_or(|s| s <= 512);
            match (p.fat_bits, small_sectors) {
                (Some(32), true) => 49 * KIB,
                (Some(32), false) => 192 * KIB,
                (Some(16), true) => 8_208 * KIB,
                (Some(16), false) => 64 * MIB,
                (_, true) => 50 * KIB,
                (_, false) => 64 * KIB,
            }
        }
        FsType::Swap => 40 * KIB,
        FsType::Other(_) => return None,
    })
}

/// The mkfs program and its least size, for messages.
pub(crate) fn mkfs_minimum(fs: &Filesystem) -> Option<(&'static str, u64)> {
    Some((fs.fs_type.mkfs_program()?, mkfs_minimum_bytes(fs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(fs_type: FsType, edit: impl FnOnce(&mut Filesystem)) -> Option<u64> {
        let mut fs = Filesystem::new(fs_type);
        edit(&mut fs);
        mkfs_minimum_bytes(&fs)
    }

    #[test]
    fn minimums_follow_the_parameters_mkfs_is_given() {
        assert_eq!(with(FsType::Xfs, |_| {}), Some(300 * MIB));
        assert_eq!(with(FsType::Ext4, |_| {}), Some(8 * MIB));
        assert_eq!(
            with(FsType::Ext3, |f| f.params.block_size = Some(1024)),
            Some(2 * MIB)
        );
        assert_eq!(
            with(FsType::Ext2, |f| f.params.block_size = Some(1024)),
            Some(104 * KIB)
        );
        // Without a journal, ext4 is as small as ext2.
        assert_eq!(
            with(FsType::Ext4, |f| f.params.features = vec!["extent".into()]),
            Some(224 * KIB)
        );
        assert_eq!(
            with(FsType::Ext4, |f| f.params.features =
                vec!["has_journal".into()]),
            Some(8 * MIB)
        );
        assert_eq!(
            with(FsType::Vfat, |f| f.params.fat_bits = Some(16)),
            Some(8_208 * KIB)
        );
        assert_eq!(
            with(FsType::Vfat, |f| {
                f.params.fat_bits = Some(16);
                f.params.sector_size = Some(4096);
            }),
            Some(64 * MIB)
        );
        assert_eq!(with(FsType::Swap, |_| {}), Some(40 * KIB));
        assert_eq!(with(FsType::Other("zfs".into()), |_| {}), None);
        // A block size off the chart does not overflow.
        assert_eq!(
            with(FsType::Ext4, |f| f.params.block_size = Some(u32::MAX)),
            Some(2048 * 65536)
        );
    }
}
