//! The capture's disk reader on any disk: the GPT/MBR table and the superblock of every
//! partition (or of the whole disk), as `mkrescue create` reads a source disk. A table or
//! superblock is read or refused, never a panic. The input describes the disk
//! (rescue_fuzz::sparse_disk).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkrescue::probe::{read_contents, superblock, DiskRead};
use rescue_fuzz::sparse_disk::SparseDisk;

fuzz_target!(|data: &[u8]| {
    let Some(mut disk) = SparseDisk::parse(data) else {
        return;
    };
    let (lss, size) = (disk.sector_size(), disk.size());
    let sectors = size / u64::from(lss);
    // Superblocks at the start of the disk, whatever the table says.
    let _ = superblock::detect(&mut disk, 0, size);
    let mut out = DiskRead::default();
    let Ok(contents) = read_contents(&mut disk, "/dev/fuzz", sectors, lss, &mut out) else {
        return;
    };
    // A partition past the end of the disk is kept (the table says so) but named in a
    // warning. (A disk of 0 sectors is one of unknown size to the reader.)
    for p in &contents.partitions {
        if sectors > 0 && p.end() > sectors {
            let prefix = format!("{}:", p.path);
            assert!(
                out.warnings.iter().any(|w| w.starts_with(&prefix)),
                "partition {} ({} + {} sectors) is past the end of a disk of {sectors} \
                 sectors, and no warning says so: {:?}",
                p.number,
                p.start,
                p.size,
                out.warnings
            );
        }
    }
});
