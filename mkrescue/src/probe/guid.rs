//! Printing 16-byte identifiers the way blkid and sfdisk print them.

/// A GPT GUID as its lowercase canonical string.
///
/// GPT stores GUIDs in Microsoft's mixed-endian layout: the first three fields are
/// little-endian, the last two are plain bytes. sfdisk and blkid undo that before printing.
pub fn gpt_guid(bytes: &[u8; 16]) -> String {
    let mut be = *bytes;
    be[0..4].reverse();
    be[4..6].reverse();
    be[6..8].reverse();
    uuid(&be)
}

/// A UUID stored as 16 plain bytes (ext*, xfs, btrfs, swap, LUKS2 on disk, MD), printed
/// in order as lowercase 8-4-4-4-12, as blkid does.
pub fn uuid(bytes: &[u8; 16]) -> String {
    let hex = |range: std::ops::Range<usize>| -> String {
        bytes[range].iter().map(|b| format!("{b:02x}")).collect()
    };
    format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// True when every byte is zero: such an identifier means "not set".
pub fn is_nil(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt_guid_swaps_the_first_three_fields() {
        // The EFI System Partition type as it sits on disk.
        let on_disk = [
            0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
            0xc9, 0x3b,
        ];
        assert_eq!(gpt_guid(&on_disk), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    }

    #[test]
    fn uuid_keeps_byte_order() {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        assert_eq!(uuid(&bytes), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn nil_detection() {
        assert!(is_nil(&[0; 16]));
        assert!(!is_nil(&[0, 0, 1]));
    }
}
