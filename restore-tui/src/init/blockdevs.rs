//! The block devices the kernel knows, from /sys/class/block: where the boot media may be,
//! and the disks a restore may write to.

use anyhow::Context;
use rescue_core::size::format_bytes;
use std::fs;
use std::path::Path;

/// One entry of /sys/class/block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDev {
    pub name: String,
    /// The whole disk a partition belongs to; `None` for a whole disk.
    pub parent: Option<String>,
    /// For loop devices: whether a file is attached.
    pub has_backing_file: bool,
}

impl BlockDev {
    pub fn is_partition(&self) -> bool {
        self.parent.is_some()
    }
}

/// Reads /sys/class/block (`class_block`), sorted by name.
pub fn scan(class_block: &Path) -> anyhow::Result<Vec<BlockDev>> {
    let rd =
        fs::read_dir(class_block).with_context(|| format!("listing {}", class_block.display()))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.with_context(|| format!("listing {}", class_block.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = class_block.join(&name);
        let parent = if dir.join("partition").exists() {
            Some(parent_disk(class_block, &name))
        } else {
            None
        };
        let loop_of = parent.as_deref().unwrap_or(&name);
        let has_backing_file = class_block.join(loop_of).join("loop/backing_file").exists();
        out.push(BlockDev {
            name,
            parent,
            has_backing_file,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The disk a partition belongs to: the directory above it in the device tree (sysfs links
/// class/block/sda1 to .../block/sda/sda1), else its name without the partition number.
fn parent_disk(class_block: &Path, name: &str) -> String {
    if let Ok(real) = fs::canonicalize(class_block.join(name)) {
        if let Some(parent) = real.parent() {
            if parent.join("dev").exists() || parent.join("size").exists() {
                if let Some(p) = parent.file_name() {
                    return p.to_string_lossy().into_owned();
                }
            }
        }
    }
    strip_partition_number(name)
}

/// `sda1` -> `sda`, `nvme0n1p2` -> `nvme0n1`, `mmcblk0p1` -> `mmcblk0`.
fn strip_partition_number(name: &str) -> String {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    match base.strip_suffix('p') {
        Some(b) if b.ends_with(|c: char| c.is_ascii_digit()) => b.to_string(),
        _ => base.to_string(),
    }
}

/// Kinds of device the boot media can be on.
const MEDIA_PREFIXES: [&str; 8] = ["sr", "vd", "sd", "nvme", "hd", "xvd", "mmcblk", "loop"];

/// The devices to look for the boot media on, in order: whole disks before partitions,
/// optical drives first; loop devices only with a file attached.
pub fn media_candidates(devs: &[BlockDev]) -> Vec<String> {
    let mut c: Vec<&BlockDev> = devs
        .iter()
        .filter(|d| MEDIA_PREFIXES.iter().any(|p| d.name.starts_with(p)))
        .filter(|d| !d.name.starts_with("loop") || d.has_backing_file)
        .collect();
    c.sort_by_key(|d| (d.is_partition(), !d.name.starts_with("sr"), d.name.clone()));
    c.into_iter().map(|d| d.name.clone()).collect()
}

/// Whole disks that are never restore targets.
const NOT_TARGETS: [&str; 9] = ["loop", "ram", "zram", "sr", "dm-", "md", "nbd", "fd", "zd"];

/// A disk a restore could write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub name: String,
    pub size_bytes: u64,
    pub model: Option<String>,
    pub serial: Option<String>,
}

impl Disk {
    pub fn path(&self) -> String {
        format!("/dev/{}", self.name)
    }

    /// `/dev/vda  20G  QEMU HARDDISK  serial 1234`
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}  {}  {}",
            self.path(),
            format_bytes(self.size_bytes),
            self.model.as_deref().unwrap_or("-")
        );
        if let Some(serial) = &self.serial {
            s.push_str("  serial ");
            s.push_str(serial);
        }
        s
    }
}

/// The whole disks of /sys/class/block that a restore could write to: not partitions,
/// not `exclude` (the disk the media is on), not loop, RAM, optical, device-mapper or MD
/// devices, and not empty (a card reader without a card).
pub fn list_disks(class_block: &Path, exclude: &[String]) -> anyhow::Result<Vec<Disk>> {
    let mut out = Vec::new();
    for dev in scan(class_block)? {
        if dev.is_partition()
            || exclude.contains(&dev.name)
            || NOT_TARGETS.iter().any(|p| dev.name.starts_with(p))
        {
            continue;
        }
        let dir = class_block.join(&dev.name);
        let size_file = dir.join("size");
        let text = fs::read_to_string(&size_file)
            .with_context(|| format!("reading {}", size_file.display()))?;
        let sectors: u64 = text
            .trim()
            .parse()
            .with_context(|| format!("{} holds {text:?}", size_file.display()))?;
        if sectors == 0 {
            continue;
        }
        out.push(Disk {
            size_bytes: sectors.saturating_mul(512),
            model: read_attr(&dir, &["device/model"]),
            serial: read_attr(&dir, &["serial", "device/serial"]),
            name: dev.name,
        });
    }
    Ok(out)
}

/// The first of `files` under `dir` that holds some text, trimmed.
fn read_attr(dir: &Path, files: &[&str]) -> Option<String> {
    files.iter().find_map(|f| {
        let text = fs::read_to_string(dir.join(f)).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Builds a miniature /sys: devices under devices/..., linked from class/block the
    /// way the kernel does. `disks`: (name, sectors, partitions).
    pub(crate) fn fake_sys(root: &Path, disks: &[(&str, u64, &[&str])]) {
        let class = root.join("class/block");
        fs::create_dir_all(&class).unwrap();
        for (name, sectors, parts) in disks {
            let dir = root.join("devices/pci0000:00/block").join(name);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("size"), format!("{sectors}\n")).unwrap();
            fs::write(dir.join("dev"), "8:0\n").unwrap();
            symlink(&dir, class.join(name)).unwrap();
            for p in *parts {
                let pdir = dir.join(p);
                fs::create_dir_all(&pdir).unwrap();
                fs::write(pdir.join("partition"), "1\n").unwrap();
                fs::write(pdir.join("size"), "2048\n").unwrap();
                symlink(&pdir, class.join(p)).unwrap();
            }
        }
    }

    #[test]
    fn lists_whole_disks_with_size_model_and_serial() {
        let sys = tempfile::tempdir().unwrap();
        fake_sys(
            sys.path(),
            &[
                ("sda", 41_943_040, &["sda1", "sda2"]),
                ("vda", 2_097_152, &[]),
                ("sr0", 1000, &[]),
                ("loop0", 2048, &[]),
                ("dm-0", 2048, &[]),
                ("md127", 2048, &[]),
                ("zram0", 2048, &[]),
                ("sdb", 0, &[]),
                ("nvme0n1", 2048, &["nvme0n1p1"]),
            ],
        );
        let sda = sys.path().join("class/block/sda");
        fs::create_dir_all(sda.join("device")).unwrap();
        fs::write(sda.join("device/model"), "QEMU HARDDISK   \n").unwrap();
        fs::write(sda.join("device/serial"), "QM00001\n").unwrap();
        fs::write(sys.path().join("class/block/vda/serial"), "\n").unwrap();

        let disks = list_disks(&sys.path().join("class/block"), &["nvme0n1".into()]).unwrap();
        assert_eq!(
            disks,
            vec![
                Disk {
                    name: "sda".into(),
                    size_bytes: 20 << 30,
                    model: Some("QEMU HARDDISK".into()),
                    serial: Some("QM00001".into()),
                },
                Disk {
                    name: "vda".into(),
                    size_bytes: 1 << 30,
                    model: None,
                    serial: None,
                },
            ]
        );
        assert_eq!(
            disks[0].describe(),
            "/dev/sda  20G  QEMU HARDDISK  serial QM00001"
        );
        assert_eq!(disks[1].describe(), "/dev/vda  1G  -");
    }

    #[test]
    fn partitions_know_their_disk() {
        let sys = tempfile::tempdir().unwrap();
        fake_sys(
            sys.path(),
            &[("sdb", 100, &["sdb1"]), ("nvme0n1", 100, &[])],
        );
        // A partition that is a plain directory (no device tree above it).
        let plain = sys.path().join("class/block/nvme0n1p3");
        fs::create_dir_all(&plain).unwrap();
        fs::write(plain.join("partition"), "3\n").unwrap();
        let devs = scan(&sys.path().join("class/block")).unwrap();
        let parent = |n: &str| devs.iter().find(|d| d.name == n).unwrap().parent.clone();
        assert_eq!(parent("sdb1").as_deref(), Some("sdb"));
        assert_eq!(parent("nvme0n1p3").as_deref(), Some("nvme0n1"));
        assert_eq!(parent("sdb"), None);
        assert_eq!(strip_partition_number("mmcblk0p1"), "mmcblk0");
        assert_eq!(strip_partition_number("sda12"), "sda");
    }

    #[test]
    fn media_candidates_put_optical_drives_and_whole_disks_first() {
        let dev = |name: &str, parent: Option<&str>, backing: bool| BlockDev {
            name: name.into(),
            parent: parent.map(str::to_string),
            has_backing_file: backing,
        };
        let devs = vec![
            dev("dm-0", None, false),
            dev("loop0", None, false),
            dev("loop1", None, true),
            dev("loop1p1", Some("loop1"), true),
            dev("sda", None, false),
            dev("sda1", Some("sda"), false),
            dev("sr0", None, false),
            dev("vda", None, false),
            dev("zram0", None, false),
        ];
        assert_eq!(
            media_candidates(&devs),
            vec!["sr0", "loop1", "sda", "vda", "loop1p1", "sda1"]
        );
    }
}
