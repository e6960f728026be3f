//! MD RAID members (metadata 0.90 and 1.x): reported as containers, since this version
//! cannot recreate arrays.

use super::{array, be32, label, le16, le32, le64, slice, Detected, Region};
use crate::probe::guid::uuid;
use rescue_core::mountlist::UnsupportedKind;
use std::io;

pub(super) const MD_MAGIC: u32 = 0xa92b_4efc;

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{container, detect_buf, put};
    use super::*;

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
}
