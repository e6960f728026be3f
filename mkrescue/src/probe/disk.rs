//! Reading one disk: its partition table and the filesystem on each partition.

use super::mounts::{combined_options, SelectedMount};
use super::superblock::{self, Detected};
use super::sysfs::DiskInfo;
use super::table;
use super::{fsident, guid};
use anyhow::Context;
use rescue_core::mountlist::{
    Disk, Filesystem, FsType, Partition, PartitionTable, Unsupported, UnsupportedKind,
};
use std::fs::File;
use std::io::{ErrorKind, Read, Seek};
use std::path::Path;

/// How the captured system uses a device on this disk.
#[derive(Debug, Clone)]
pub enum Use {
    Mount {
        mount: SelectedMount,
        used_bytes: Option<u64>,
    },
    ActiveSwap,
}

/// A use of partition `partition` (None: the whole disk).
#[derive(Debug, Clone)]
pub struct DeviceUse {
    pub partition: Option<u32>,
    pub what: Use,
}

/// What reading disks found besides the disks: warnings, and storage this version cannot
/// recreate.
#[derive(Debug, Default)]
pub struct DiskRead {
    pub warnings: Vec<String>,
    pub unsupported: Vec<Unsupported>,
}

pub fn read_disk(
    info: &DiskInfo,
    dev_dir: &Path,
    uses: &[DeviceUse],
    out: &mut DiskRead,
) -> anyhow::Result<Disk> {
    let path = format!("/dev/{}", info.dev_name);
    let lss = info.logical_block_size.max(512);
    let sectors = info.size_512 * 512 / u64::from(lss);
    let node = dev_dir.join(&info.dev_name);
    let mut file = match File::open(&node) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return read_from_kernel(info, &path, uses, e, out);
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot open {} ({}:{}), which holds {}: it may have been removed",
                    node.display(),
                    info.major,
                    info.minor,
                    describe_uses(uses)
                )
            })
        }
    };
    let contents = read_contents(&mut file, &path, sectors, lss, out)?;
    let mut disk = Disk {
        path: path.clone(),
        sectors,
        logical_sector_size: lss,
        physical_sector_size: info.physical_block_size.max(lss),
        model: info.model.clone(),
        serial: info.serial.clone(),
        table: contents.table,
        partitions: contents.partitions,
        filesystem: contents.filesystem,
    };
    compare_with_kernel(&disk, info, &mut out.warnings);

    for device_use in uses {
        let slot = match device_use.partition {
            None => Some((path.clone(), &mut disk.filesystem)),
            Some(n) => disk
                .partitions
                .iter_mut()
                .find(|p| p.number == n)
                .map(|p| (p.path.clone(), &mut p.filesystem)),
        };
        match slot {
            Some((device, fs)) => apply_use(fs, &device, &device_use.what, &mut out.warnings),
            None => out.warnings.push(format!(
                "partition {} of {path} is in use ({}) but is not in the disk's partition \
                 table: the table was changed after the kernel read it",
                device_use.partition.unwrap_or(0),
                describe_use(&device_use.what)
            )),
        }
    }
    Ok(disk)
}

/// What a disk's device holds: its partition table, the filesystem on each partition, or
/// the filesystem on the whole disk when it has no table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub table: PartitionTable,
    pub partitions: Vec<Partition>,
    pub filesystem: Option<Filesystem>,
}

/// Reads the partition table and the superblocks of a disk of `sectors` logical sectors of
/// `lss` bytes from `dev` (the disk's device node, or an image); named `path` in messages
/// and partition paths. Warnings and unsupported storage go to `out`. Pure over
/// `Read + Seek`: the capture and the fuzz targets call it.
pub fn read_contents<R: Read + Seek>(
    dev: &mut R,
    path: &str,
    sectors: u64,
    lss: u32,
    out: &mut DiskRead,
) -> anyhow::Result<Contents> {
    let read = table::read_table(dev, path, sectors, lss)
        .with_context(|| format!("reading the partition table of {path}"))?;
    out.warnings.extend(read.warnings);
    let mut contents = Contents {
        table: read.table,
        partitions: read.partitions,
        filesystem: None,
    };
    let lss = u64::from(lss);
    for part in contents.partitions.iter_mut() {
        if part.is_extended() {
            continue; // its sectors hold the chain of logical partition tables
        }
        // A GPT entry can say any LBA; one past every byte offset is beyond the disk, and
        // the table's warning about it says so.
        let (Some(start), Some(len)) = (part.start.checked_mul(lss), part.size.checked_mul(lss))
        else {
            continue;
        };
        let detected = superblock::detect(dev, start, len)
            .with_context(|| format!("reading the superblock of {}", part.path))?;
        part.filesystem = take_filesystem(detected, &part.path, out);
    }
    if contents.table == PartitionTable::None {
        let detected = superblock::detect(dev, 0, sectors.saturating_mul(lss))
            .with_context(|| format!("reading the superblock of {path}"))?;
        contents.filesystem = take_filesystem(detected, path, out);
    }
    Ok(contents)
}

/// Where the disk itself may not be opened (some sandboxes forbid it even to root), a disk
/// without partitions that holds one mounted filesystem can still be described from /sys
/// and the kernel's answers about the mount. A partitioned disk cannot: its table is needed.
fn read_from_kernel(
    info: &DiskInfo,
    path: &str,
    uses: &[DeviceUse],
    error: std::io::Error,
    out: &mut DiskRead,
) -> anyhow::Result<Disk> {
    let whole_mount = uses.iter().find_map(|u| match (&u.partition, &u.what) {
        (None, Use::Mount { mount, .. }) => Some(mount),
        _ => None,
    });
    let mount = match whole_mount {
        Some(mount) if info.partitions.is_empty() => mount,
        _ => {
            return Err(error).with_context(|| {
                format!(
                    "cannot read {path}, which holds {}: its partition table can only be \
                     captured by reading the disk (run as root, outside any sandbox that \
                     forbids opening disks)",
                    describe_uses(uses)
                )
            })
        }
    };
    let host_point = &mount.entry.mount_point;
    let mut fs = Filesystem::new(FsType::parse(&mount.entry.fs_type));
    fs.uuid = fsident::uuid(host_point)
        .with_context(|| format!("asking the kernel for the UUID of {}", mount.relative))?
        .map(|u| guid::uuid(&u));
    fs.label = fsident::label(host_point)
        .with_context(|| format!("asking the kernel for the label of {}", mount.relative))?;
    if let Ok(st) = rustix::fs::statvfs(host_point) {
        fs.size_bytes = Some(st.f_blocks * st.f_frsize);
        fs.params.block_size = u32::try_from(st.f_bsize).ok();
    }
    out.warnings.push(format!(
        "cannot read {path} ({error}): it is described from /sys and the mounted filesystem, \
         so its creation parameters other than the block size are the defaults of mkfs"
    ));
    let lss = info.logical_block_size.max(512);
    let mut disk = Disk {
        path: path.to_string(),
        sectors: info.size_512 * 512 / u64::from(lss),
        logical_sector_size: lss,
        physical_sector_size: info.physical_block_size.max(lss),
        model: info.model.clone(),
        serial: info.serial.clone(),
        table: PartitionTable::None,
        partitions: Vec::new(),
        filesystem: Some(fs),
    };
    for device_use in uses.iter().filter(|u| u.partition.is_none()) {
        apply_use(
            &mut disk.filesystem,
            path,
            &device_use.what,
            &mut out.warnings,
        );
    }
    Ok(disk)
}

fn take_filesystem(
    detected: Option<Detected>,
    device: &str,
    out: &mut DiskRead,
) -> Option<Filesystem> {
    match detected? {
        Detected::Filesystem(fs) => Some(fs),
        Detected::Container { kind, detail } => {
            out.unsupported.push(Unsupported {
                device: device.to_string(),
                kind,
                detail,
                mount_point: None,
            });
            None
        }
    }
}

fn apply_use(fs: &mut Option<Filesystem>, device: &str, what: &Use, warnings: &mut Vec<String>) {
    match what {
        Use::Mount { mount, used_bytes } => {
            let fs = fs.get_or_insert_with(|| {
                warnings.push(format!(
                    "{device}: no superblock this version can read; its type ({}) is taken \
                     from the mount table",
                    mount.entry.fs_type
                ));
                Filesystem::new(FsType::parse(&mount.entry.fs_type))
            });
            fs.mount_point = Some(mount.relative.clone());
            fs.mount_options = Some(combined_options(&mount.entry));
            fs.used_bytes = *used_bytes;
        }
        Use::ActiveSwap => match fs {
            Some(fs) if fs.fs_type == FsType::Swap => fs.swap_active = true,
            _ => warnings.push(format!(
                "{device} is an active swap area but holds no swap signature this version reads"
            )),
        },
    }
}

/// The kernel's partition view and the on-disk table differ after an edit without a re-read;
/// the on-disk table is what a restore must recreate, so it wins, with a warning.
fn compare_with_kernel(disk: &Disk, info: &DiskInfo, warnings: &mut Vec<String>) {
    let per_sector = u64::from(disk.logical_sector_size) / 512;
    for kernel in &info.partitions {
        let on_disk = disk.partition(kernel.number);
        let same = on_disk.is_some_and(|p| {
            p.start * per_sector == kernel.start_512
                && (p.size * per_sector == kernel.size_512 || p.is_extended())
        });
        if !same {
            warnings.push(format!(
                "{}: the kernel's partition {} (start {}, {} sectors of 512 B) differs from the \
                 on-disk table; the on-disk table is captured (run partx -u {} to re-read)",
                disk.path, kernel.number, kernel.start_512, kernel.size_512, disk.path
            ));
        }
    }
}

fn describe_use(what: &Use) -> String {
    match what {
        Use::Mount { mount, .. } => mount.relative.clone(),
        Use::ActiveSwap => "swap".to_string(),
    }
}

fn describe_uses(uses: &[DeviceUse]) -> String {
    let list: Vec<String> = uses.iter().map(|u| describe_use(&u.what)).collect();
    if list.is_empty() {
        "part of a captured device".to_string()
    } else {
        list.join(", ")
    }
}

/// Describes a device-mapper or MD device that the captured system uses; None for a plain disk.
pub fn unsupported_stack(info: &DiskInfo, detail: &str) -> Option<Unsupported> {
    use super::sysfs::DiskKind;
    let (device, kind, detail) = match &info.kind {
        DiskKind::Plain => return None,
        DiskKind::DeviceMapper { name, uuid } => {
            let kind = if uuid.starts_with("LVM-") {
                UnsupportedKind::LvmLogicalVolume
            } else if uuid.starts_with("CRYPT-") {
                UnsupportedKind::Luks
            } else {
                UnsupportedKind::DeviceMapper
            };
            (format!("/dev/mapper/{name}"), kind, detail.to_string())
        }
        DiskKind::Md { level } => (
            format!("/dev/{}", info.dev_name),
            UnsupportedKind::MdRaid,
            format!("{level} {detail}").trim().to_string(),
        ),
    };
    Some(Unsupported {
        device,
        kind,
        detail,
        mount_point: None,
    })
}
