//! The ISO 9660 reader on any image: open it, walk every directory, read every file, look
//! up the paths a restore opens, and open it as a backup volume (manifest, mountlist and
//! the sets it names). Never a panic, a hang, or reading without bound.
//!
//! The input is the image from sector 16 (the volume descriptors) on: the system area
//! before it is zeros, which no reader looks at.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rescue_core::iso9660::{self, Entry, Image, SECTOR};
use rescue_core::volume::Volume;
use rescue_fuzz::{memory_file, MAX_READ_PER_INPUT};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Directories listed from one input at most (a crafted tree may be a loop).
const MAX_DIRS: usize = 256;
const MAX_DEPTH: usize = 16;

fuzz_target!(|data: &[u8]| {
    // The pure parser on the raw bytes, as if they were a directory's extent.
    let _ = iso9660::parse_directory(data);

    let file = memory_file(16 * SECTOR, data);
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let Ok(Some(image)) = Image::open(file.try_clone().expect("dup")) else {
        return;
    };
    let _ = image.volume_id();
    let mut walk = Walk {
        image: &image,
        dirs: 0,
        budget: MAX_READ_PER_INPUT,
    };
    walk.dir(image.root(), 0);
    for p in [
        "/rescue/manifest.json",
        "/rescue/mountlist.json",
        "/sets",
        "a/b/../c",
    ] {
        let _ = image.lookup(p);
        let _ = image.read_file(p, 1 << 16);
    }

    let Ok(volume) = Volume::open(&path) else {
        return;
    };
    let _ = volume.read_mountlist();
    for set in volume.manifest().sets.iter().take(8) {
        for rel in [&set.file, &set.hashes] {
            let _ = volume.file_len(rel);
            if let Ok(reader) = volume.open_file(rel) {
                let _ = std::io::copy(&mut reader.take(1 << 16), &mut std::io::sink());
            }
        }
    }
});

struct Walk<'a> {
    image: &'a Image,
    dirs: usize,
    budget: u64,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Entry, depth: usize) {
        self.dirs += 1;
        if self.dirs > MAX_DIRS || depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = self.image.read_dir(dir) else {
            return;
        };
        for e in &entries {
            let _ = e.is_named("README.TXT");
            let _ = e.is_symlink();
            if e.is_dir {
                self.dir(e, depth + 1);
            } else {
                self.file(e);
            }
        }
    }

    fn file(&mut self, e: &Entry) {
        let Ok(mut reader) = self.image.reader(e) else {
            return;
        };
        assert_eq!(reader.len(), e.size);
        let mut buf = [0u8; 8192];
        let mut total = 0u64;
        while self.budget > 0 {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    assert!(n <= buf.len());
                    total += n as u64;
                    self.budget = self.budget.saturating_sub(n as u64);
                }
            }
        }
        assert!(
            total <= e.size,
            "read {total} bytes of a file of {}",
            e.size
        );
        // Seeking into the middle of any extent layout.
        if e.size > 1 && self.budget > 0 {
            let _ = reader.seek(SeekFrom::Start(e.size / 2));
            let _ = reader.read(&mut buf);
        }
    }
}
