//! LVM2 physical volumes: reported as containers, since this version cannot recreate
//! volume groups.

use super::{le32, le64, slice, Detected, Region};
use rescue_core::mountlist::UnsupportedKind;
use std::io;

/// LVM's own CRC (calc_crc in lib/misc/crc.c): reflected CRC-32 polynomial, this initial
/// value and no final inversion.
const LVM_INITIAL_CRC: u32 = 0xf597_a6cf;

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{container, detect_buf, put};
    use super::*;

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
}
