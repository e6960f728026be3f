//! btrfs: type, UUID, label, geometry and the mkfs.btrfs feature options.

use super::{filesystem, label, le16, le32, le64, slice, uuid_at, Detected, Region, CRC32C};
use rescue_core::mountlist::FsType;
use std::io;

const BTRFS_SUPER_AT: u64 = 64 * 1024;
const BTRFS_SUPER_SIZE: usize = 4096;

/// Byte offsets in `struct btrfs_super_block`.
mod layout {
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

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(sb) = r.read(BTRFS_SUPER_AT, BTRFS_SUPER_SIZE)? else {
        return Ok(None);
    };
    if slice(&sb, layout::MAGIC, 8) != b"_BHRfS_M" || le64(&sb, layout::BYTENR) != BTRFS_SUPER_AT {
        return Ok(None);
    }
    // Type 0 is crc32c over everything after the checksum field; other checksum types
    // (xxhash, sha256, blake2) are not verified here.
    if le16(&sb, layout::CSUM_TYPE) == 0 && CRC32C.checksum(&sb[0x20..]) != le32(&sb, 0) {
        return Ok(None);
    }
    let mut fs = filesystem(
        FsType::Btrfs,
        uuid_at(&sb, layout::FSID),
        label(slice(&sb, layout::LABEL, 256)),
    );
    fs.size_bytes = Some(le64(&sb, layout::TOTAL_BYTES));
    fs.params.sector_size = Some(le32(&sb, layout::SECTORSIZE));
    fs.params.node_size = Some(le32(&sb, layout::NODESIZE));
    let incompat = le64(&sb, layout::INCOMPAT);
    let compat_ro = le64(&sb, layout::COMPAT_RO);
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
