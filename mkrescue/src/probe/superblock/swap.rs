//! Linux swap areas (and hibernation images, which keep the swap header).

use super::{be32, filesystem, label, le32, slice, uuid_at, Detected, Region};
use rescue_core::mountlist::{Filesystem, FsType};
use std::io;

const SWAP_PAGE_SIZES: [u64; 4] = [4096, 8192, 16384, 65536];

pub(super) fn probe(r: &mut Region<'_>) -> io::Result<Option<Detected>> {
    for page in SWAP_PAGE_SIZES {
        let Some(magic) = r.read(page - 10, 10)? else {
            break; // the region is smaller than this page
        };
        let found = match &magic[..] {
            b"SWAP-SPACE" => Some(Filesystem::new(FsType::Swap)), // v0: no UUID, no label
            b"SWAPSPACE2" | b"LINHIB0001" => swap_v1(r, page)?,
            // A hibernation image keeps the swap header (libblkid: "swsuspend").
            m if [&b"S1SUSPEND"[..], b"S2SUSPEND", b"ULSUSPEND"].contains(&&m[..9]) => {
                swap_v1(r, page)?
            }
            _ => None,
        };
        if let Some(mut fs) = found {
            fs.params.block_size = u32::try_from(page).ok();
            return Ok(Some(Detected::Filesystem(fs)));
        }
    }
    Ok(None)
}

/// The version 1 header at 1024: version, last_page, nr_badpages, uuid, label; in the
/// byte order of the machine that wrote it.
fn swap_v1(r: &mut Region<'_>, page: u64) -> io::Result<Option<Filesystem>> {
    let Some(h) = r.read(1024, 44)? else {
        return Ok(None);
    };
    let word: fn(&[u8], usize) -> u32 = match (le32(&h, 0), be32(&h, 0)) {
        (1, _) => le32,
        (_, 1) => be32,
        _ => return Ok(None),
    };
    let mut fs = filesystem(FsType::Swap, uuid_at(&h, 12), label(slice(&h, 28, 16)));
    fs.size_bytes = (u64::from(word(&h, 4)) + 1).checked_mul(page);
    Ok(Some(fs))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{detect_buf, fs, put};
    use super::*;

    #[test]
    fn swap_with_label() {
        let mut img = vec![0u8; 64 * 1024];
        put(&mut img, 4086, b"SWAPSPACE2");
        put(&mut img, 1024, &1u32.to_le_bytes());
        put(&mut img, 1028, &15u32.to_le_bytes());
        put(&mut img, 1036, &[0xab; 16]);
        put(&mut img, 1052, b"myswap");
        let swap = fs(detect_buf(&img));
        assert_eq!(swap.fs_type, FsType::Swap);
        assert_eq!(swap.label.as_deref(), Some("myswap"));
        assert_eq!(
            swap.uuid.as_deref(),
            Some("abababab-abab-abab-abab-abababababab")
        );
        assert_eq!(swap.size_bytes, Some(16 * 4096));
        assert_eq!(swap.params.block_size, Some(4096));
    }

    #[test]
    fn swap_with_64k_pages() {
        let mut img = vec![0u8; 256 * 1024];
        put(&mut img, 65536 - 10, b"SWAPSPACE2");
        put(&mut img, 1024, &1u32.to_be_bytes()); // written by a big-endian machine
        put(&mut img, 1028, &3u32.to_be_bytes());
        let swap = fs(detect_buf(&img));
        assert_eq!(swap.size_bytes, Some(4 * 65536));
        assert_eq!(swap.uuid, None);
    }
}
