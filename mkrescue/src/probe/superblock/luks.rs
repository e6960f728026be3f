//! LUKS1 and LUKS2 headers: reported as containers, since this version cannot recreate
//! encrypted volumes.

use super::{be16, label, slice, Detected, Region};
use rescue_core::mountlist::UnsupportedKind;
use std::io;

pub(super) const LUKS_MAGIC: &[u8] = b"LUKS\xba\xbe";
/// LUKS2 keeps a second header at one of these offsets, with its magic reversed.
const LUKS2_SECONDARY_MAGIC: &[u8] = b"SKUL\xba\xbe";
const LUKS2_SECONDARY_AT: [u64; 9] = [
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
];

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{container, detect_buf, put};
    use super::*;

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
}
