//! Volumes: their sizes as `-s/--media-size` gives them, and the packing of archive sets
//! into them. Pure: the caller (mkrescue) writes the files and images.
//!
//! `-s` follows Mondo: `650m,4.7g` makes the first volume 650 MiB and every later one
//! 4.7 GiB; a longer list sets each volume in turn and its last size repeats. Without
//! `-s` a volume has no limit.
//!
//! The caller feeds the compressed sets in order to a [`VolumePacker`], which says when
//! the current volume is full: then the caller writes that volume and goes on with the
//! next. Volume 1 also holds the boot files, the mountlist and the catalog (its
//! `first_reserved` bytes), so it may hold no set at all. [`max_set_size`] picks a set size
//! that always fits an empty volume.
//!
//! ```
//! use rescue_core::volumes::{MediaSizes, Overhead, VolumePacker};
//!
//! const M: u64 = 1 << 20;
//! let sizes: MediaSizes = "5m,3m".parse().unwrap();
//! let mut packer = VolumePacker::new(sizes, 3 * M, Overhead::ISO9660).unwrap();
//! // 1.5M sets: volume 1 has 5M - 3M - overhead left, room for one.
//! assert!(packer.add_set(1, 3 * M / 2, 4096).unwrap().is_none());
//! let closed = packer.add_set(2, 3 * M / 2, 4096).unwrap().expect("volume 1 is full");
//! assert_eq!((closed.volume, closed.sets), (1, vec![1]));
//! assert_eq!(packer.volume(), 2);
//! let last = packer.finish();
//! assert_eq!((last.volume, last.sets), (2, vec![2]));
//! ```

use crate::media::Compression;
use crate::size::{format_bytes, parse_size_list, SizeError};
use std::fmt;
use std::str::FromStr;

const MIB: u64 = 1 << 20;

/// The set size when the volumes do not ask for less: 256 MiB of tar stream.
pub const DEFAULT_SET_SIZE: u64 = 256 * MIB;

/// The smallest set size [`max_set_size`] picks; volumes too small for sets of this size
/// are refused.
pub const MIN_SET_SIZE: u64 = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("media size: {0}")]
    Size(#[from] SizeError),
    #[error(
        "media size {position} of {sizes:?} is 0: give each volume a size above zero, such \
         as 650m,4.7g"
    )]
    ZeroSize { sizes: String, position: usize },
    #[error(
        "the boot files and catalog need {}; the first volume is {}: make the first size \
         at least {}",
        format_bytes(*.need), format_bytes(*.size), format_bytes(suggest(*.need))
    )]
    FirstVolumeTooSmall { need: u64, size: u64 },
    #[error(
        "set {set} takes {} with its hash list, but an empty volume {volume} holds only {} \
         (it is {} less {} of file system overhead; media sizes {sizes}): make the media \
         sizes larger or the sets smaller",
        format_bytes(*.needs), format_bytes(*.capacity), format_bytes(*.size),
        format_bytes(.size - .capacity)
    )]
    SetTooBig {
        set: u32,
        needs: u64,
        volume: u32,
        size: u64,
        capacity: u64,
        sizes: String,
    },
    #[error(
        "volumes of {} (media sizes {sizes}) are too small for archive sets: after the file \
         system overhead a volume must hold at least two sets of {}; make every size after \
         the first at least {}",
        format_bytes(*.size), format_bytes(MIN_SET_SIZE), format_bytes(suggest(*.need))
    )]
    VolumesTooSmall { size: u64, need: u64, sizes: String },
}

/// A size to suggest for `need` bytes: whole MiB, rounded up.
fn suggest(need: u64) -> u64 {
    need.div_ceil(MIB).max(1).saturating_mul(MIB)
}

/// The size of each volume, from `-s`; no limit when not given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaSizes {
    /// Empty: no limit. Else the size of volume 1, 2, ...; the last repeats.
    sizes: Vec<u64>,
}

impl MediaSizes {
    /// Volumes without a size limit: the whole backup in one volume.
    pub fn unlimited() -> MediaSizes {
        MediaSizes::default()
    }

    /// Sizes of volume 1, 2, ... in bytes; the last repeats. An empty list is no limit.
    pub fn new(sizes: Vec<u64>) -> Result<MediaSizes, VolumeError> {
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(VolumeError::ZeroSize {
                sizes: list_text(&sizes),
                position: i + 1,
            });
        }
        Ok(MediaSizes { sizes })
    }

    /// Mondo's `-s` list: "650m", "650m,4.7g", "700m,4.7g,8.5g".
    pub fn parse(text: &str) -> Result<MediaSizes, VolumeError> {
        let sizes = parse_size_list(text)?;
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(VolumeError::ZeroSize {
                sizes: text.trim().to_string(),
                position: i + 1,
            });
        }
        Ok(MediaSizes { sizes })
    }

    pub fn is_unlimited(&self) -> bool {
        self.sizes.is_empty()
    }

    /// The sizes as given (empty when unlimited).
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    /// The size of `volume` (from 1; 0 counts as 1); `u64::MAX` when unlimited.
    pub fn size_of(&self, volume: u32) -> u64 {
        let i = (volume.max(1) - 1) as usize;
        match self.sizes.get(i).or(self.sizes.last()) {
            Some(&size) => size,
            None => u64::MAX,
        }
    }

    /// The smallest size of volume 2 and later; `u64::MAX` when unlimited.
    pub fn smallest_after_first(&self) -> u64 {
        match self.sizes.as_slice() {
            [] => u64::MAX,
            [only] => *only,
            [_, later @ ..] => later.iter().copied().min().unwrap_or(u64::MAX),
        }
    }
}

fn list_text(sizes: &[u64]) -> String {
    sizes
        .iter()
        .map(|&s| format_bytes(s))
        .collect::<Vec<_>>()
        .join(",")
}

impl FromStr for MediaSizes {
    type Err = VolumeError;

    fn from_str(s: &str) -> Result<MediaSizes, VolumeError> {
        MediaSizes::parse(s)
    }
}

/// "650M,4.7G" (sizes as `format_bytes` prints them), or "unlimited".
impl fmt::Display for MediaSizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sizes.is_empty() {
            f.write_str("unlimited")
        } else {
            f.write_str(&list_text(&self.sizes))
        }
    }
}

/// What a volume takes beyond the bytes of its files. An estimate that must not fall
/// short: a volume whose image comes out larger than its size is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overhead {
    /// Every volume: the file system's own structures (ISO 9660: system area, volume
    /// descriptors, path tables, the directories, padding, a hybrid MBR and GPT) and the
    /// manifest without its sets.
    pub base: u64,
    /// Each file: its directory records.
    pub per_file: u64,
    /// Files take whole blocks of this size (at least 1).
    pub block: u64,
    /// Each set: its entry in the volume's manifest.
    pub per_set: u64,
}

impl Overhead {
    /// Nothing beyond the bytes of the files (tests, and sizes that count only data).
    pub const NONE: Overhead = Overhead {
        base: 0,
        per_file: 0,
        block: 1,
        per_set: 0,
    };

    /// An ISO 9660 image as mkrescue writes it (Rock Ridge, Joliet, hybrid), from
    /// measurements of hadris-iso 3.0.0-rc.2: 374 KiB for an image holding only the
    /// manifest and an empty `sets` folder (hybrid MBR and GPT included), ~200 bytes of
    /// directory records per file; each with some to spare.
    pub const ISO9660: Overhead = Overhead {
        base: 400 << 10,
        per_file: 256,
        block: 2048,
        per_set: 512,
    };

    /// A directory (`--output-format dir`) on a file system of 4 KiB blocks.
    pub const DIRECTORY: Overhead = Overhead {
        base: 64 << 10,
        per_file: 0,
        block: 4096,
        per_set: 512,
    };

    /// What one file of `bytes` takes: whole blocks plus its directory records.
    pub fn file(&self, bytes: u64) -> u64 {
        let block = self.block.max(1);
        bytes
            .div_ceil(block)
            .saturating_mul(block)
            .saturating_add(self.per_file)
    }

    /// What a set and its hash list take, with the set's manifest entry.
    pub fn set(&self, set_bytes: u64, hashes_bytes: u64) -> u64 {
        self.file(set_bytes)
            .saturating_add(self.file(hashes_bytes))
            .saturating_add(self.per_set)
    }
}

/// A volume the packer is done with: what it holds, to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedVolume {
    /// Its number, from 1.
    pub volume: u32,
    /// The sets it holds, in order (consecutive numbers).
    pub sets: Vec<u32>,
    /// The bytes counted in it: overhead, reserved part (volume 1) and sets.
    pub used: u64,
    /// Its size (`u64::MAX` when unlimited).
    pub size: u64,
}

/// Places archive sets, in order, into volumes of the given sizes.
#[derive(Debug, Clone)]
pub struct VolumePacker {
    sizes: MediaSizes,
    overhead: Overhead,
    volume: u32,
    used: u64,
    sets: Vec<u32>,
}

impl VolumePacker {
    /// `first_reserved`: what volume 1 holds besides its sets and the base overhead (the
    /// boot files, the mountlist and the catalog, each counted with [`Overhead::file`]).
    /// Fails when that alone does not fit the first volume.
    pub fn new(
        sizes: MediaSizes,
        first_reserved: u64,
        overhead: Overhead,
    ) -> Result<VolumePacker, VolumeError> {
        let need = overhead.base.saturating_add(first_reserved);
        let size = sizes.size_of(1);
        if need > size {
            return Err(VolumeError::FirstVolumeTooSmall { need, size });
        }
        Ok(VolumePacker {
            sizes,
            overhead,
            volume: 1,
            used: need,
            sets: Vec::new(),
        })
    }

    /// The volume sets go into now, from 1.
    pub fn volume(&self) -> u32 {
        self.volume
    }

    /// The sets placed in the current volume so far.
    pub fn sets(&self) -> &[u32] {
        &self.sets
    }

    /// The bytes left in the current volume.
    pub fn room(&self) -> u64 {
        self.sizes.size_of(self.volume).saturating_sub(self.used)
    }

    /// What a set with its hash list takes in a volume.
    pub fn cost(&self, set_bytes: u64, hashes_bytes: u64) -> u64 {
        self.overhead.set(set_bytes, hashes_bytes)
    }

    /// Whether the set fits in what is left of the current volume.
    pub fn fits(&self, set_bytes: u64, hashes_bytes: u64) -> bool {
        self.cost(set_bytes, hashes_bytes) <= self.room()
    }

    /// What an empty volume `volume` (of 2 and later) holds for sets.
    pub fn capacity(&self, volume: u32) -> u64 {
        self.sizes
            .size_of(volume)
            .saturating_sub(self.overhead.base)
    }

    /// Places the next set: in the current volume when it fits, else in the next one;
    /// then the current volume is closed and returned, for the caller to write before it
    /// writes the set. A set that does not fit even an empty volume is an error, and
    /// nothing changes.
    pub fn add_set(
        &mut self,
        number: u32,
        set_bytes: u64,
        hashes_bytes: u64,
    ) -> Result<Option<ClosedVolume>, VolumeError> {
        let cost = self.cost(set_bytes, hashes_bytes);
        if cost <= self.room() {
            self.place(number, cost);
            return Ok(None);
        }
        let next = self.volume.saturating_add(1);
        let capacity = self.capacity(next);
        if cost > capacity {
            // Volume 1 may be left without sets, but a later volume that is still empty
            // is the one that is too small.
            let volume = if self.sets.is_empty() && self.volume > 1 {
                self.volume
            } else {
                next
            };
            return Err(VolumeError::SetTooBig {
                set: number,
                needs: cost,
                volume,
                size: self.sizes.size_of(volume),
                capacity: self.capacity(volume),
                sizes: self.sizes.to_string(),
            });
        }
        let closed = self.close_volume();
        self.place(number, cost);
        Ok(Some(closed))
    }

    fn place(&mut self, number: u32, cost: u64) {
        self.used = self.used.saturating_add(cost);
        self.sets.push(number);
    }

    /// Closes the current volume (even one with room left) and starts the next.
    pub fn close_volume(&mut self) -> ClosedVolume {
        let closed = ClosedVolume {
            volume: self.volume,
            sets: std::mem::take(&mut self.sets),
            used: self.used,
            size: self.sizes.size_of(self.volume),
        };
        self.volume = self.volume.saturating_add(1);
        self.used = self.overhead.base;
        closed
    }

    /// Closes the last volume: its number is the number of volumes.
    pub fn finish(mut self) -> ClosedVolume {
        self.close_volume()
    }
}

/// The largest set size (bytes of tar stream) that keeps every set within half of an
/// empty volume of 2 and later, compressed as `compression` does it at worst (data that
/// does not compress) and with room for its hash list; at most `default`. Half, so a
/// volume is never left much more than half empty. No limit: `default`.
pub fn max_set_size(
    sizes: &MediaSizes,
    overhead: Overhead,
    compression: Compression,
    default: u64,
) -> Result<u64, VolumeError> {
    let smallest = sizes.smallest_after_first();
    if smallest == u64::MAX {
        return Ok(default);
    }
    // Two sets per volume, each with its files' records, block rounding and manifest
    // entry.
    let extras = set_extras(overhead);
    let fixed = overhead.base.saturating_add(extras.saturating_mul(2));
    let budget = smallest.saturating_sub(fixed) / 2;
    let worst = |s: u64| {
        compression
            .max_output(s)
            .saturating_add(hash_list_allowance(s))
    };
    // The largest multiple of 512 whose worst case fits the budget (worst is monotonic).
    let (mut lo, mut hi) = (0u64, budget / 512 + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if worst(mid * 512) <= budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let size = (lo * 512).min(default);
    if size < MIN_SET_SIZE.min(default) {
        return Err(VolumeError::VolumesTooSmall {
            size: smallest,
            need: fixed.saturating_add(worst(MIN_SET_SIZE).saturating_mul(2)),
            sizes: sizes.to_string(),
        });
    }
    Ok(size)
}

/// What a set takes beyond its bytes and its hash list's: two files' records, up to a
/// block of rounding each, the manifest entry.
fn set_extras(o: Overhead) -> u64 {
    o.per_file
        .saturating_add(o.block.max(1))
        .saturating_mul(2)
        .saturating_add(o.per_set)
}

/// Room for a set's hash list: a line of under 100 compressed bytes for each file entry,
/// and an entry takes at least 1 KiB of tar stream (a header, a pax header, data).
fn hash_list_allowance(tar_bytes: u64) -> u64 {
    (tar_bytes / 16).saturating_add(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = MIB;
    const G: u64 = 1 << 30;

    #[test]
    fn one_size_is_every_volume() {
        let s = MediaSizes::parse("700m").unwrap();
        for v in 1..=5 {
            assert_eq!(s.size_of(v), 700 * M);
        }
        assert_eq!(s.smallest_after_first(), 700 * M);
    }

    #[test]
    fn two_sizes_are_the_first_and_the_rest() {
        let s: MediaSizes = "650m,4.7g".parse().unwrap();
        assert_eq!(s.size_of(1), 650 * M);
        assert_eq!(s.size_of(2), 5_046_586_572);
        assert_eq!(s.size_of(3), 5_046_586_572);
        assert_eq!(s.size_of(1000), 5_046_586_572);
        assert_eq!(s.size_of(0), 650 * M);
        assert_eq!(s.smallest_after_first(), 5_046_586_572);
        assert_eq!(s.to_string(), "650M,4.7G");
    }

    #[test]
    fn a_longer_list_sets_each_in_turn_and_the_last_repeats() {
        let s = MediaSizes::parse("1g,2g,3g").unwrap();
        assert_eq!(
            (1..=6).map(|v| s.size_of(v) / G).collect::<Vec<_>>(),
            [1, 2, 3, 3, 3, 3]
        );
        assert_eq!(s.smallest_after_first(), 2 * G);
        assert_eq!(
            MediaSizes::parse("1g,5g,3g,4g")
                .unwrap()
                .smallest_after_first(),
            3 * G
        );
        assert_eq!(s.sizes(), [G, 2 * G, 3 * G]);
        assert_eq!(MediaSizes::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn no_sizes_is_no_limit() {
        let s = MediaSizes::unlimited();
        assert!(s.is_unlimited());
        assert_eq!(s.size_of(1), u64::MAX);
        assert_eq!(s.size_of(9), u64::MAX);
        assert_eq!(s.smallest_after_first(), u64::MAX);
        assert_eq!(s.to_string(), "unlimited");
        assert_eq!(MediaSizes::new(vec![]).unwrap(), s);
    }

    #[test]
    fn bad_size_lists_are_refused() {
        let e = MediaSizes::parse("650m,0").unwrap_err();
        assert_eq!(
            e,
            VolumeError::ZeroSize {
                sizes: "650m,0".into(),
                position: 2
            }
        );
        assert!(e.to_string().contains("size 2 of \"650m,0\" is 0"), "{e}");
        assert!(matches!(
            MediaSizes::parse("650m,,1g"),
            Err(VolumeError::Size(SizeError::EmptyListItem {
                position: 2,
                ..
            }))
        ));
        assert!(matches!(
            MediaSizes::parse(""),
            Err(VolumeError::Size(SizeError::Empty))
        ));
        let e = MediaSizes::parse("650x").unwrap_err().to_string();
        assert!(
            e.starts_with("media size: ") && e.contains("unknown unit"),
            "{e}"
        );
        assert!(MediaSizes::parse("50%").is_err());
        assert!(MediaSizes::new(vec![M, 0]).is_err());
    }

    /// Round numbers for exact boundaries: each file takes whole 100-byte blocks plus 10,
    /// each set 5 more; every volume 1000 of overhead.
    const O: Overhead = Overhead {
        base: 1000,
        per_file: 10,
        block: 100,
        per_set: 5,
    };

    #[test]
    fn overhead_counts_blocks_records_and_manifest_entries() {
        assert_eq!(O.file(0), 10);
        assert_eq!(O.file(1), 110);
        assert_eq!(O.file(100), 110);
        assert_eq!(O.file(101), 210);
        assert_eq!(O.set(150, 50), 210 + 110 + 5);
        assert_eq!(Overhead::NONE.set(7, 3), 10);
        assert_eq!(Overhead::ISO9660.file(1), 2048 + 256);
        assert_eq!(Overhead::NONE.file(u64::MAX), u64::MAX);
    }

    #[test]
    fn sets_fill_a_volume_to_the_byte_then_go_on() {
        // Volume 1: 3000 - 1000 base - 1500 reserved = 500 for sets; then 2000 - 1000.
        let sizes = MediaSizes::new(vec![3000, 2000]).unwrap();
        let mut p = VolumePacker::new(sizes, 1500, O).unwrap();
        assert_eq!(p.room(), 500);
        // A set of 300 (+ hash list 80) costs 310 + 110 + 5 = 425.
        assert!(p.fits(300, 80));
        assert_eq!(p.add_set(1, 300, 80).unwrap(), None);
        assert_eq!(p.room(), 75);
        // Exactly the room left: 0-byte set and 0-byte hash list cost 25.
        assert_eq!(p.cost(0, 0), 25);
        assert_eq!(p.add_set(2, 0, 0).unwrap(), None);
        assert_eq!(p.room(), 50);
        // 50 left; this one costs 225.
        assert!(!p.fits(100, 0));
        let closed = p.add_set(3, 100, 0).unwrap().unwrap();
        assert_eq!(
            closed,
            ClosedVolume {
                volume: 1,
                sets: vec![1, 2],
                used: 2950,
                size: 3000
            }
        );
        assert_eq!(p.volume(), 2);
        assert_eq!(p.sets(), [3]);
        assert_eq!(p.room(), 2000 - 1000 - 125);
        // Fill volume 2 to exactly its size: 875 left = 700 + 110 + 10 + 5 + 50 ...
        // a set of 700 costs 710 + 10 + 5 = 725; then 150 left: a set costing 125 fits,
        // leaving 25, and a 0-byte set (25) fills it to the byte.
        assert_eq!(p.add_set(4, 700, 0).unwrap(), None);
        assert_eq!(p.add_set(5, 100, 0).unwrap(), None);
        assert_eq!(p.room(), 25);
        assert_eq!(p.add_set(6, 0, 0).unwrap(), None);
        assert_eq!(p.room(), 0);
        let closed = p.add_set(7, 1, 0).unwrap().unwrap();
        assert_eq!((closed.volume, closed.used, closed.size), (2, 2000, 2000));
        assert_eq!(closed.sets, [3, 4, 5, 6]);
        let last = p.finish();
        assert_eq!(
            last,
            ClosedVolume {
                volume: 3,
                sets: vec![7],
                used: 1000 + 125,
                size: 2000
            }
        );
    }

    #[test]
    fn a_first_volume_without_room_for_a_set_holds_none() {
        let sizes = MediaSizes::new(vec![1100, 2000]).unwrap();
        let mut p = VolumePacker::new(sizes, 100, O).unwrap();
        assert_eq!(p.room(), 0);
        let closed = p.add_set(1, 800, 50).unwrap().unwrap();
        assert_eq!((closed.volume, closed.sets.len()), (1, 0));
        assert_eq!(p.volume(), 2);
    }

    #[test]
    fn a_first_volume_that_the_boot_files_overflow_is_an_error() {
        let sizes = MediaSizes::parse("5m,3m").unwrap();
        let e =
            VolumePacker::new(sizes, 45 * M - (400 << 10) + 1000, Overhead::ISO9660).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the boot files and catalog need 45.0M; the first volume is 5M: make the first \
             size at least 46M"
        );
        // Exactly full is fine.
        let sizes = MediaSizes::new(vec![3000]).unwrap();
        assert!(VolumePacker::new(sizes.clone(), 2000, O).is_ok());
        assert!(VolumePacker::new(sizes, 2001, O).is_err());
    }

    #[test]
    fn a_set_larger_than_an_empty_volume_is_an_error_naming_the_sizes() {
        let sizes = MediaSizes::new(vec![5000, 2000]).unwrap();
        let mut p = VolumePacker::new(sizes, 0, O).unwrap();
        // Fits volume 1 (4000 for sets) but could never fit a later one (1000).
        assert_eq!(p.add_set(1, 2000, 0).unwrap(), None);
        let before = p.clone();
        let e = p.add_set(2, 2000, 0).unwrap_err();
        assert_eq!(
            e,
            VolumeError::SetTooBig {
                set: 2,
                needs: 2025,
                volume: 2,
                size: 2000,
                capacity: 1000,
                sizes: "4.9K,2.0K".into()
            }
        );
        let text = e.to_string();
        assert!(
            text.contains("set 2 takes 2.0K with its hash list"),
            "{text}"
        );
        assert!(text.contains("empty volume 2 holds only 1000B"), "{text}");
        assert!(text.contains("media sizes 4.9K,2.0K"), "{text}");
        // Nothing changed.
        assert_eq!(
            (p.volume(), p.sets(), p.room()),
            (before.volume(), before.sets(), before.room())
        );
    }

    #[test]
    fn closing_a_volume_early_starts_the_next() {
        let mut p = VolumePacker::new(MediaSizes::unlimited(), 10, O).unwrap();
        p.add_set(1, 5, 5).unwrap();
        let c = p.close_volume();
        assert_eq!((c.volume, c.sets, c.size), (1, vec![1], u64::MAX));
        assert_eq!(p.volume(), 2);
        assert!(p.sets().is_empty());
        assert_eq!(p.finish().volume, 2);
    }

    #[test]
    fn unlimited_volumes_take_everything() {
        let mut p = VolumePacker::new(MediaSizes::unlimited(), 10 * G, Overhead::ISO9660).unwrap();
        for n in 1..=1000 {
            assert_eq!(p.add_set(n, 256 * M, M).unwrap(), None);
        }
        let last = p.finish();
        assert_eq!((last.volume, last.sets.len()), (1, 1000));
    }

    #[test]
    fn the_set_size_keeps_a_set_within_half_an_empty_volume() {
        let default = DEFAULT_SET_SIZE;
        for compression in Compression::ALL {
            // No limit, or big media: the default.
            assert_eq!(
                max_set_size(
                    &MediaSizes::unlimited(),
                    Overhead::ISO9660,
                    compression,
                    default
                ),
                Ok(default)
            );
            let dvd = MediaSizes::parse("650m,4.7g").unwrap();
            assert_eq!(
                max_set_size(&dvd, Overhead::ISO9660, compression, default),
                Ok(default)
            );
            // Small media: under half of the smallest later volume, worst case included.
            for text in ["5m,3m", "100m,3m,2m", "1m", "300m"] {
                let sizes = MediaSizes::parse(text).unwrap();
                let s = max_set_size(&sizes, Overhead::ISO9660, compression, default).unwrap();
                assert_eq!(s % 512, 0);
                let smallest = sizes.smallest_after_first();
                let worst = Overhead::ISO9660.base
                    + Overhead::ISO9660.set(compression.max_output(s), hash_list_allowance(s));
                assert!(worst <= smallest, "{text} {compression}: {s} -> {worst}");
                // Two sets fit too.
                let two = worst
                    + Overhead::ISO9660.set(compression.max_output(s), hash_list_allowance(s));
                assert!(two <= smallest, "{text} {compression}: two of {s}");
                // And it is not needlessly small: within 10% of half the room.
                let half = (smallest - Overhead::ISO9660.base) / 2;
                assert!(s >= half - half / 10, "{text} {compression}: {s} vs {half}");
                // Such sets always fit an empty later volume when packed.
                let mut p = VolumePacker::new(sizes.clone(), 0, Overhead::ISO9660).unwrap();
                for n in 1..=10 {
                    p.add_set(n, compression.max_output(s), hash_list_allowance(s))
                        .unwrap();
                }
            }
            let s = max_set_size(
                &MediaSizes::parse("5m,3m").unwrap(),
                Overhead::ISO9660,
                compression,
                default,
            )
            .unwrap();
            assert!(s > M && s < 3 * M / 2, "{s}");
            // A smaller default wins.
            assert_eq!(
                max_set_size(
                    &MediaSizes::parse("5m,3m").unwrap(),
                    Overhead::ISO9660,
                    compression,
                    100 << 10
                ),
                Ok(100 << 10)
            );
        }
    }

    #[test]
    fn volumes_too_small_for_any_set_are_refused() {
        let sizes = MediaSizes::parse("100m,500k").unwrap();
        let e = max_set_size(
            &sizes,
            Overhead::ISO9660,
            Compression::Zstd,
            DEFAULT_SET_SIZE,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("volumes of 500K (media sizes 100M,500K)"),
            "{text}"
        );
        assert!(text.contains("at least 1M"), "{text}");
        // The size it suggests works.
        let VolumeError::VolumesTooSmall { need, .. } = e else {
            panic!("{e:?}")
        };
        let sizes = MediaSizes::new(vec![100 * M, need]).unwrap();
        let s = max_set_size(
            &sizes,
            Overhead::ISO9660,
            Compression::Zstd,
            DEFAULT_SET_SIZE,
        )
        .unwrap();
        assert!(s >= MIN_SET_SIZE, "{s}");
        let sizes = MediaSizes::new(vec![100 * M, need - 2048]).unwrap();
        assert!(max_set_size(
            &sizes,
            Overhead::ISO9660,
            Compression::Zstd,
            DEFAULT_SET_SIZE
        )
        .is_err());
    }
}
