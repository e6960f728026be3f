//! XFS: type, UUID, label, geometry and the mkfs.xfs feature options. All fields are
//! big-endian.

use super::{
    be16, be32, be64, filesystem, label, le32, slice, uuid_at, valid_pow2, Detected, Region, CRC32C,
};
use rescue_core::mountlist::FsType;
use std::io;

/// Byte offsets in the on-disk superblock (`struct xfs_dsb`).
mod layout {
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

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    let Some(sb) = r.read(0, 512)? else {
        return Ok(None);
    };
    if slice(&sb, 0, 4) != b"XFSB" || !xfs_sane(&sb) {
        return Ok(None);
    }
    let version = be16(&sb, layout::VERSIONNUM) & 0xf;
    let sector_size = be16(&sb, layout::SECTSIZE);
    if version == 5 {
        // The CRC covers the whole superblock sector.
        let Some(sector) = r.read(0, usize::from(sector_size))? else {
            return Ok(None);
        };
        if !xfs_crc_ok(&sector) {
            return Ok(None);
        }
    }
    let block_size = be32(&sb, layout::BLOCKSIZE);
    let mut fs = filesystem(
        FsType::Xfs,
        uuid_at(&sb, layout::UUID),
        label(slice(&sb, layout::FNAME, 12)),
    );
    fs.size_bytes = be64(&sb, layout::DBLOCKS).checked_mul(u64::from(block_size));
    fs.params.block_size = Some(block_size);
    fs.params.sector_size = Some(u32::from(sector_size));
    fs.params.inode_size = Some(u32::from(be16(&sb, layout::INODESIZE)));
    fs.params.features = xfs_features(&sb, version);
    Ok(Some(Detected::Filesystem(fs)))
}

/// The geometry checks of libblkid's xfs_verify_sb.
fn xfs_sane(sb: &[u8]) -> bool {
    let sect = u64::from(be16(sb, layout::SECTSIZE));
    let block = u64::from(be32(sb, layout::BLOCKSIZE));
    let inode = u64::from(be16(sb, layout::INODESIZE));
    let log_matches = |value: u64, log_at: usize| {
        sb.get(log_at)
            .is_some_and(|&log| 1u64.checked_shl(u32::from(log)) == Some(value))
    };
    let agcount = u64::from(be32(sb, layout::AGCOUNT));
    let agblocks = u64::from(be32(sb, layout::AGBLOCKS));
    let dblocks = be64(sb, layout::DBLOCKS);
    valid_pow2(sect, 512, 32768)
        && log_matches(sect, layout::SECTLOG)
        && valid_pow2(block, 512, 65536)
        && log_matches(block, layout::BLOCKLOG)
        && valid_pow2(inode, 256, 2048)
        && log_matches(inode, layout::INODELOG)
        && agcount > 0
        && dblocks > 0
        && dblocks <= agcount * agblocks
}

fn xfs_crc_ok(sector: &[u8]) -> bool {
    let mut digest = CRC32C.digest();
    digest.update(slice(sector, 0, layout::CRC));
    digest.update(&[0; 4]);
    digest.update(sector.get(layout::CRC + 4..).unwrap_or(&[]));
    digest.finalize() == le32(sector, layout::CRC)
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
        named(be32(sb, layout::RO_COMPAT), XFS_RO_COMPAT, &mut out);
        named(be32(sb, layout::INCOMPAT), XFS_INCOMPAT, &mut out);
    } else if be32(sb, layout::FEATURES2) & XFS_V4_FEATURES2_FTYPE != 0 {
        out.push("ftype".to_string());
    }
    out
}
