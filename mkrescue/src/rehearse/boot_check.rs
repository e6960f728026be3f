//! Whether a restored system starts, judged without its help: a real host's restored
//! system need not print anything on a serial port. The judge is its root filesystem:
//! ext2/3/4 write the mount time and count into the superblock, at once, when the
//! filesystem is mounted read-write. So the superblock of / is read from the disk image
//! before the restored disks boot and again while they run; a change means the restored
//! system's own kernel found, mounted and wrote its root. The serial console counts too,
//! for systems that use it (a login prompt, or a text the user names).

use crate::probe::table::read_table;
use rescue_core::mountlist::{FsType, Mountlist};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Virtual disks have 512-byte sectors.
const SECTOR: u64 = 512;
const EXT_MAGIC: u16 = 0xef53;

/// Where the restored root filesystem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPlace {
    pub image: PathBuf,
    /// 0: the whole disk.
    pub partition: u32,
    pub fs_type: FsType,
    /// How the mountlist names it: "/dev/sda2 (ext4, LABEL=root)".
    pub name: String,
}

/// The root filesystem of `ml` on the images (one per disk, in mountlist order).
pub fn root_place(ml: &Mountlist, images: &[PathBuf]) -> Option<RootPlace> {
    for (disk, image) in ml.disks.iter().zip(images) {
        let whole = disk.filesystem.as_ref().map(|f| (0, disk.path.as_str(), f));
        let parts = disk.partitions.iter().filter_map(|p| {
            p.filesystem
                .as_ref()
                .map(|f| (p.number, p.path.as_str(), f))
        });
        for (partition, path, fs) in whole.into_iter().chain(parts) {
            if fs.mount_point.as_deref() == Some("/") {
                let label = fs
                    .label
                    .as_deref()
                    .map(|l| format!(", LABEL={l}"))
                    .unwrap_or_default();
                return Some(RootPlace {
                    image: image.clone(),
                    partition,
                    fs_type: fs.fs_type.clone(),
                    name: format!("{path} ({}{label})", fs.fs_type.as_str()),
                });
            }
        }
    }
    None
}

/// What an ext superblock says about its mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountStamp {
    /// s_mtime: seconds since the epoch of the last read-write mount.
    pub time: u32,
    /// s_mnt_count: read-write mounts since the last check.
    pub count: u16,
}

/// The mount stamp of an ext2/3/4 superblock (`sb` from byte 1024 of the filesystem).
pub fn parse_stamp(sb: &[u8]) -> Option<MountStamp> {
    let u16_at = |at: usize| sb.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| {
        sb.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if u16_at(0x38)? != EXT_MAGIC {
        return None;
    }
    Some(MountStamp {
        time: u32_at(0x2c)?,
        count: u16_at(0x34)?,
    })
}

/// Reads the root filesystem's mount stamp from its image; `None` when it is no ext
/// filesystem (or the table no longer has its partition).
pub fn read_stamp(place: &RootPlace) -> anyhow::Result<Option<MountStamp>> {
    use anyhow::Context;
    let mut f =
        File::open(&place.image).with_context(|| format!("opening {}", place.image.display()))?;
    let start = if place.partition == 0 {
        0
    } else {
        let table = read_table(&mut f, &place.image.display().to_string(), 0, SECTOR as u32)
            .with_context(|| format!("reading the partition table of {}", place.image.display()))?;
        match table
            .partitions
            .iter()
            .find(|p| p.number == place.partition)
        {
            Some(p) => p.start * SECTOR,
            None => return Ok(None),
        }
    };
    let mut sb = vec![0u8; 1024];
    f.seek(SeekFrom::Start(start + 1024))
        .and_then(|_| f.read_exact(&mut sb))
        .with_context(|| format!("reading the superblock in {}", place.image.display()))?;
    Ok(parse_stamp(&sb))
}

/// Whether the filesystem type keeps a mount stamp this module reads.
pub fn stamped(fs: &FsType) -> bool {
    matches!(fs, FsType::Ext2 | FsType::Ext3 | FsType::Ext4)
}

/// What on the serial console shows a restored system at work: a login prompt, or the
/// text the user gave.
pub fn serial_sign<'a>(log: &str, expect: Option<&'a str>) -> Option<&'a str> {
    match expect {
        Some(text) => log.contains(text).then_some(text),
        None => log.contains("login:").then_some("login:"),
    }
}

/// The images of a rehearsal's disks, named by their index.
pub fn image_name(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("disk{i}.img"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock(count: u16, time: u32) -> Vec<u8> {
        let mut sb = vec![0u8; 1024];
        sb[0x38..0x3a].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        sb[0x34..0x36].copy_from_slice(&count.to_le_bytes());
        sb[0x2c..0x30].copy_from_slice(&time.to_le_bytes());
        sb
    }

    #[test]
    fn the_stamp_is_read_from_an_ext_superblock_only() {
        assert_eq!(
            parse_stamp(&superblock(3, 1_700_000_000)),
            Some(MountStamp {
                time: 1_700_000_000,
                count: 3
            })
        );
        assert_eq!(parse_stamp(&[0u8; 1024]), None);
        assert_eq!(parse_stamp(&[0u8; 16]), None);
    }

    #[test]
    fn a_whole_disk_image_is_read_at_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk0.img");
        let mut data = vec![0u8; 4096];
        data[1024..2048].copy_from_slice(&superblock(7, 42));
        std::fs::write(&image, data).unwrap();
        let place = RootPlace {
            image,
            partition: 0,
            fs_type: FsType::Ext4,
            name: "/dev/sdb (ext4)".into(),
        };
        assert_eq!(
            read_stamp(&place).unwrap(),
            Some(MountStamp { time: 42, count: 7 })
        );
    }

    #[test]
    fn the_serial_console_counts_a_login_prompt_or_the_text_asked_for() {
        assert_eq!(serial_sign("web01 login: ", None), Some("login:"));
        assert_eq!(serial_sign("Booting", None), None);
        assert_eq!(
            serial_sign("system up", Some("system up")),
            Some("system up")
        );
        assert_eq!(serial_sign("web01 login:", Some("system up")), None);
    }
}
