//! The kernel's view of block devices under /sys: which disk a device number belongs to,
//! sizes, sector sizes, model and serial, and what a device-mapper or MD device is.

use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    #[error(
        "block device {major}:{minor} is not in {sys}: it may have been removed \
         (re-run once it is back)"
    )]
    Vanished {
        major: u32,
        minor: u32,
        sys: PathBuf,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds {text:?}, not a number")]
    NotANumber { path: PathBuf, text: String },
}

/// A block device as sysfs names it: a whole disk or a partition of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockNode {
    pub name: String,
    pub major: u32,
    pub minor: u32,
    /// The partition number, for partitions.
    pub partition: Option<u32>,
    /// The name of the whole disk (itself for a disk).
    pub disk: String,
}

/// What kind of device a disk-level node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskKind {
    Plain,
    DeviceMapper { name: String, uuid: String },
    Md { level: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysPartition {
    pub name: String,
    pub number: u32,
    /// Start and size in 512-byte units, as sysfs always reports them.
    pub start_512: u64,
    pub size_512: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskInfo {
    pub name: String,
    pub major: u32,
    pub minor: u32,
    /// Name under /dev (from uevent DEVNAME).
    pub dev_name: String,
    pub size_512: u64,
    pub logical_block_size: u32,
    pub physical_block_size: u32,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub kind: DiskKind,
    /// Devices this one is built on (device-mapper and MD).
    pub slaves: Vec<String>,
    pub partitions: Vec<SysPartition>,
}

#[derive(Debug, Clone)]
pub struct Sysfs {
    root: PathBuf,
}

impl Sysfs {
    pub fn new(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs { root: root.into() }
    }

    pub fn efi_firmware(&self) -> bool {
        self.root.join("firmware/efi").is_dir()
    }

    /// Resolves a device number (as in mountinfo or st_rdev) to its sysfs node.
    pub fn node(&self, major: u32, minor: u32) -> Result<BlockNode, SysfsError> {
        let link = self.root.join(format!("dev/block/{major}:{minor}"));
        let dir = fs::canonicalize(&link).map_err(|_| SysfsError::Vanished {
            major,
            minor,
            sys: self.root.clone(),
        })?;
        self.node_at(&dir, major, minor)
    }

    /// Resolves a kernel device name ("sda2", "dm-0") to its sysfs node.
    pub fn node_by_name(&self, name: &str) -> Result<BlockNode, SysfsError> {
        let link = self.class_dir(name);
        let dir = fs::canonicalize(&link).map_err(|source| SysfsError::Read {
            path: link.clone(),
            source,
        })?;
        let (major, minor) = read_dev(&dir.join("dev"))?;
        self.node_at(&dir, major, minor)
    }

    fn node_at(&self, dir: &Path, major: u32, minor: u32) -> Result<BlockNode, SysfsError> {
        let name = file_name(dir);
        let partition_file = dir.join("partition");
        let (partition, disk) = if partition_file.exists() {
            let number = read_number(&partition_file)?;
            let parent = dir.parent().map(file_name).unwrap_or_default();
            (Some(number as u32), parent)
        } else {
            (None, name.clone())
        };
        Ok(BlockNode {
            name,
            major,
            minor,
            partition,
            disk,
        })
    }

    fn class_dir(&self, name: &str) -> PathBuf {
        self.root.join("class/block").join(name)
    }

    pub fn disk(&self, name: &str) -> Result<DiskInfo, SysfsError> {
        let dir = self.class_dir(name);
        let (major, minor) = read_dev(&dir.join("dev"))?;
        let uevent = read_optional(&dir.join("uevent")).unwrap_or_default();
        let dev_name = uevent
            .lines()
            .find_map(|l| l.strip_prefix("DEVNAME="))
            .unwrap_or(name)
            .to_string();
        let queue = dir.join("queue");
        let kind = if dir.join("dm").is_dir() {
            DiskKind::DeviceMapper {
                name: read_optional(&dir.join("dm/name")).unwrap_or_default(),
                uuid: read_optional(&dir.join("dm/uuid")).unwrap_or_default(),
            }
        } else if dir.join("md").is_dir() {
            DiskKind::Md {
                level: read_optional(&dir.join("md/level")).unwrap_or_default(),
            }
        } else {
            DiskKind::Plain
        };
        Ok(DiskInfo {
            name: name.to_string(),
            major,
            minor,
            dev_name,
            size_512: read_number(&dir.join("size"))?,
            logical_block_size: read_number(&queue.join("logical_block_size")).unwrap_or(512)
                as u32,
            physical_block_size: read_number(&queue.join("physical_block_size")).unwrap_or(512)
                as u32,
            model: read_optional(&dir.join("device/model")),
            serial: read_optional(&dir.join("device/serial"))
                .or_else(|| read_optional(&dir.join("serial"))),
            kind,
            slaves: list_names(&dir.join("slaves")),
            partitions: self.partitions(&dir)?,
        })
    }

    fn partitions(&self, disk_dir: &Path) -> Result<Vec<SysPartition>, SysfsError> {
        let mut parts = Vec::new();
        for name in list_names(disk_dir) {
            let dir = disk_dir.join(&name);
            if !dir.join("partition").is_file() {
                continue;
            }
            parts.push(SysPartition {
                number: read_number(&dir.join("partition"))? as u32,
                start_512: read_number(&dir.join("start"))?,
                size_512: read_number(&dir.join("size"))?,
                name,
            });
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn list_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Attributes that only some devices have (model, serial) read as None when absent or empty.
fn read_optional(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn read_text(path: &Path) -> Result<String, SysfsError> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| SysfsError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn read_number(path: &Path) -> Result<u64, SysfsError> {
    let text = read_text(path)?;
    text.parse().map_err(|_| SysfsError::NotANumber {
        path: path.to_path_buf(),
        text,
    })
}

fn read_dev(path: &Path) -> Result<(u32, u32), SysfsError> {
    let text = read_text(path)?;
    text.split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or(SysfsError::NotANumber {
            path: path.to_path_buf(),
            text,
        })
}

/// Splits a Linux dev_t (as st_rdev) into major and minor, as glibc's gnu_dev_major/minor do.
pub fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

#[cfg(test)]
pub(crate) mod fake {
    //! A miniature /sys tree for tests, laid out as the kernel does.
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    pub fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Adds disk `name` (major:minor) with partitions (number, minor, start, size in 512 B).
    pub fn add_disk(
        sys: &Path,
        name: &str,
        dev: (u32, u32),
        size_512: u64,
        parts: &[(u32, u32, u64, u64)],
    ) {
        let dir = sys.join("devices/virtual/block").join(name);
        write(&dir.join("dev"), &format!("{}:{}\n", dev.0, dev.1));
        write(&dir.join("size"), &format!("{size_512}\n"));
        write(
            &dir.join("uevent"),
            &format!("MAJOR={}\nDEVNAME={name}\n", dev.0),
        );
        write(&dir.join("queue/logical_block_size"), "512\n");
        write(&dir.join("queue/physical_block_size"), "4096\n");
        fs::create_dir_all(sys.join("dev/block")).unwrap();
        fs::create_dir_all(sys.join("class/block")).unwrap();
        symlink(&dir, sys.join(format!("dev/block/{}:{}", dev.0, dev.1))).unwrap();
        symlink(&dir, sys.join("class/block").join(name)).unwrap();
        for &(number, minor, start, size) in parts {
            let pname = rescue_core::mountlist::partition_path(name, number);
            let pdir = dir.join(&pname);
            write(&pdir.join("partition"), &format!("{number}\n"));
            write(&pdir.join("start"), &format!("{start}\n"));
            write(&pdir.join("size"), &format!("{size}\n"));
            write(&pdir.join("dev"), &format!("{}:{minor}\n", dev.0));
            symlink(&pdir, sys.join(format!("dev/block/{}:{minor}", dev.0))).unwrap();
            symlink(&pdir, sys.join("class/block").join(&pname)).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_disks_and_partitions() {
        let tmp = tempfile::tempdir().unwrap();
        fake::add_disk(tmp.path(), "sda", (8, 0), 4096, &[(1, 1, 2048, 1024)]);
        fake::write(
            &tmp.path().join("devices/virtual/block/sda/device/model"),
            "QEMU HARDDISK   \n",
        );
        let sys = Sysfs::new(tmp.path());
        let disk = sys.node(8, 0).unwrap();
        assert_eq!((disk.name.as_str(), disk.partition), ("sda", None));
        let part = sys.node(8, 1).unwrap();
        assert_eq!(part.disk, "sda");
        assert_eq!(part.partition, Some(1));
        let info = sys.disk("sda").unwrap();
        assert_eq!(info.size_512, 4096);
        assert_eq!(info.physical_block_size, 4096);
        assert_eq!(info.model.as_deref(), Some("QEMU HARDDISK"));
        assert_eq!(info.serial, None);
        assert_eq!(info.kind, DiskKind::Plain);
        assert_eq!(info.partitions.len(), 1);
        assert_eq!(info.partitions[0].start_512, 2048);
    }

    #[test]
    fn a_missing_device_number_is_reported_as_vanished() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Sysfs::new(tmp.path()).node(7, 3).unwrap_err();
        assert!(err.to_string().contains("7:3"), "{err}");
        assert!(err.to_string().contains("removed"), "{err}");
    }

    #[test]
    fn splits_device_numbers_like_glibc() {
        assert_eq!(split_dev(0xfe00), (254, 0));
        assert_eq!(split_dev(0x0801), (8, 1));
        // major 259 (blkext), minor 300: both need the high bits.
        let dev = (259u64 & 0xfff) << 8 | (300u64 & 0xff) | ((300u64 & !0xff) << 12);
        assert_eq!(split_dev(dev), (259, 300));
    }
}
