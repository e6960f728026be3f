//! Fitting a captured disk layout onto a disk of another size, and mapping a captured
//! disk onto a different target disk (`--disk-map /dev/sda=/dev/nvme0n1`).
//!
//! Partitions keep their order and the gaps between them; only partitions whose
//! filesystem the restore recreates (an mkfs is known) change size. The EFI System
//! Partition, a BIOS boot partition, unformatted partitions and unknown filesystems keep
//! their exact size, since their content is copied or left as it is.

use super::mkfs_minimum::mkfs_minimum;
use super::model::{
    gpt_table_sectors, partition_path, Disk, Filesystem, FsType, Mountlist, Partition,
    PartitionTable, MBR_SECTOR_LIMIT,
};
use crate::size::format_bytes;
use std::fmt;
use std::str::FromStr;

/// How the space of a disk of another size is shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Every resizable partition grows or shrinks by the same factor (as Mondo does).
    Proportional,
    /// Only the resizable partition that ends last on the disk changes size.
    GrowLast,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resize mode {0:?}: use \"proportional\" or \"grow-last\"")]
pub struct ParseResizeModeError(pub String);

impl FromStr for ResizeMode {
    type Err = ParseResizeModeError;

    fn from_str(s: &str) -> Result<ResizeMode, ParseResizeModeError> {
        match s {
            "proportional" => Ok(ResizeMode::Proportional),
            "grow-last" => Ok(ResizeMode::GrowLast),
            other => Err(ParseResizeModeError(other.to_string())),
        }
    }
}

impl fmt::Display for ResizeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResizeMode::Proportional => "proportional",
            ResizeMode::GrowLast => "grow-last",
        })
    }
}

/// A disk to restore onto, as found in the rescue system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDisk {
    pub path: String,
    pub sectors: u64,
    pub logical_sector_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("no disk {disk} in the mountlist; it has {}", list_or_none(.available))]
    NoSuchDisk {
        disk: String,
        available: Vec<String>,
    },
    #[error("{from} is mapped more than once: map each disk to one target")]
    MappedTwice { from: String },
    #[error("{target} is the target of more than one disk: give each disk its own target")]
    TargetTwice { target: String },
    #[error(
        "{disk} has {target_size}-byte sectors but {from} had {from_size}-byte sectors: \
         moving a layout between sector sizes is not supported yet; choose a disk with \
         {from_size}-byte sectors"
    )]
    SectorSizeMismatch {
        disk: String,
        from: String,
        from_size: u32,
        target_size: u32,
    },
    #[error(
        "{disk} ({}) is too small for {partition}{}: it needs at least {} but only {} is left; \
         {} short{}",
        format_bytes(*.disk_bytes),
        in_parens(.mount_point),
        format_bytes(*.needs),
        format_bytes(.needs.saturating_sub(*.short)),
        format_bytes(*.short),
        .floor
    )]
    TooSmall {
        disk: String,
        disk_bytes: u64,
        /// The partition (or whole-disk device) of the original layout.
        partition: String,
        mount_point: Option<String>,
        needs: u64,
        /// How much more the disk needs, with every partition at its least.
        short: u64,
        /// What sets what it needs at least.
        floor: Floor,
    },
    #[error(
        "{disk} ({}) is too small even for the partitions that keep their size (EFI, BIOS \
         boot, unformatted or unknown) and the gaps between them: they need {} but only {} \
         is usable; {} short",
        format_bytes(*.disk_bytes),
        format_bytes(*.needs),
        format_bytes(*.available),
        format_bytes(.needs.saturating_sub(*.available))
    )]
    FixedTooLarge {
        disk: String,
        disk_bytes: u64,
        needs: u64,
        available: u64,
    },
    #[error(
        "{disk} ({}) is too small for {what}: that needs at least {}",
        format_bytes(*.disk_bytes),
        format_bytes(*.needs)
    )]
    NoRoom {
        disk: String,
        disk_bytes: u64,
        what: &'static str,
        needs: u64,
    },
}

impl FitError {
    /// Names the target disk instead of the disk being fitted.
    fn on_disk(mut self, name: &str) -> FitError {
        match &mut self {
            FitError::TooSmall { disk, .. }
            | FitError::FixedTooLarge { disk, .. }
            | FitError::NoRoom { disk, .. } => {
                *disk = name.to_string();
            }
            _ => {}
        }
        self
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "no disks".to_string()
    } else {
        items.join(", ")
    }
}

/// What sets the least size of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floor {
    /// The data it holds, with headroom.
    Data,
    /// Its used space was not measured: it keeps its original size.
    Unmeasured,
    /// The smallest filesystem this mkfs makes.
    Mkfs(&'static str),
}

/// Said after the shortfall: why it cannot be smaller, when that is not its data.
impl fmt::Display for Floor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Floor::Data => Ok(()),
            Floor::Unmeasured => f.write_str(
                " (its used space was not measured, so it cannot shrink below its original size)",
            ),
            Floor::Mkfs(mkfs) => write!(f, " ({mkfs} makes none smaller)"),
        }
    }
}

fn in_parens(mount_point: &Option<String>) -> String {
    mount_point
        .as_ref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// Lays `disk` out on a disk of `target_sectors` sectors of the same sector size.
///
/// The size the filesystem had (`filesystem.size_bytes`) is cleared on every partition
/// whose size changes: the filesystem is made anew at the partition's size.
pub fn fit_disk(disk: &Disk, target_sectors: u64, mode: ResizeMode) -> Result<Disk, FitError> {
    if target_sectors == disk.sectors {
        return Ok(disk.clone());
    }
    let mut out = disk.clone();
    out.sectors = target_sectors;
    let disk_bytes = bytes(target_sectors, disk);
    let no_room = |what, needs| FitError::NoRoom {
        disk: disk.path.clone(),
        disk_bytes,
        what,
        needs: bytes(needs, disk),
    };
    if target_sectors == 0 {
        return Err(no_room("anything", 1));
    }
    let usable = match &mut out.table {
        PartitionTable::None => return fit_whole_disk(out, disk),
        PartitionTable::Msdos { .. } => target_sectors.min(MBR_SECTOR_LIMIT),
        PartitionTable::Gpt {
            first_usable_lba,
            last_usable_lba,
            ..
        } => {
            // The backup GPT's entries and header take the end of the disk.
            let tables = gpt_table_sectors(disk.logical_sector_size);
            let end = target_sectors.saturating_sub(tables);
            if end <= *first_usable_lba {
                let what = "its GPT: the first usable sector, a sector for a partition, then \
                            the backup header and entries";
                return Err(no_room(what, first_usable_lba.saturating_add(1 + tables)));
            }
            *last_usable_lba = end - 1;
            end
        }
    };

    let items = layout_items(disk);
    if items.is_empty() {
        return Ok(out);
    }
    let plan = Plan {
        disk,
        disk_bytes,
        items: &items,
        usable,
        mib: disk.mib_sectors(),
    };
    let fixed_end = plan.end(&plan.sizes_with(None, 0));
    if fixed_end > usable {
        return Err(FitError::FixedTooLarge {
            disk: disk.path.clone(),
            disk_bytes,
            needs: bytes(fixed_end, disk),
            available: bytes(usable, disk),
        });
    }
    let sizes = match mode {
        ResizeMode::Proportional => plan.proportional()?,
        ResizeMode::GrowLast => plan.grow_last()?,
    };
    let starts = plan.starts(&sizes);
    for ((item, start), size) in items.iter().zip(starts).zip(sizes) {
        let p = &mut out.partitions[item.index];
        if p.size != size {
            if let Some(fs) = &mut p.filesystem {
                fs.size_bytes = None;
            }
        }
        p.start = start;
        p.size = size;
    }
    span_extended(&mut out, disk);
    Ok(out)
}

/// A whole-disk filesystem follows the disk.
fn fit_whole_disk(mut out: Disk, disk: &Disk) -> Result<Disk, FitError> {
    if let Some(fs) = &mut out.filesystem {
        let least = minimum(fs, disk.sectors, disk);
        if out.sectors < least.sectors {
            let needs = bytes(least.sectors, disk);
            let left = bytes(out.sectors, disk);
            return Err(FitError::TooSmall {
                disk: disk.path.clone(),
                disk_bytes: left,
                partition: disk.path.clone(),
                mount_point: fs.target_mount_point().map(str::to_string),
                needs,
                short: needs - left,
                floor: least.floor,
            });
        }
        fs.size_bytes = None;
    }
    Ok(out)
}

/// The extended partition spans its logicals again: from its original offset before the
/// first logical (where the first EBR lives) to the end of the last.
fn span_extended(out: &mut Disk, original: &Disk) {
    let Some(ext) = original.partitions.iter().position(Partition::is_extended) else {
        return;
    };
    let logicals = || {
        out.partitions
            .iter()
            .zip(&original.partitions)
            .filter(|(p, _)| p.is_logical())
    };
    let Some((first_new, first_old)) = logicals().min_by_key(|(_, old)| old.start) else {
        return;
    };
    let offset = first_old
        .start
        .saturating_sub(original.partitions[ext].start);
    let start = first_new.start.saturating_sub(offset);
    let end = logicals().map(|(p, _)| p.end()).max().unwrap_or(start);
    out.partitions[ext].start = start;
    out.partitions[ext].size = end.saturating_sub(start);
}

/// One partition placed in sequence, with what it may shrink to (None: keeps its size).
#[derive(Debug)]
struct Item {
    index: usize,
    size: u64,
    gap_before: u64,
    end: u64,
    least: Option<Least>,
    swap: bool,
    path: String,
    mount_point: Option<String>,
}

/// Partitions in disk order, without an extended partition that holds logicals (it is
/// recomputed from them afterwards).
fn layout_items(disk: &Disk) -> Vec<Item> {
    let has_logicals = disk.partitions.iter().any(Partition::is_logical);
    let mut order: Vec<usize> = (0..disk.partitions.len())
        .filter(|&i| !(has_logicals && disk.partitions[i].is_extended()))
        .collect();
    order.sort_by_key(|&i| disk.partitions[i].start);
    let mut previous_end: Option<u64> = None;
    order
        .into_iter()
        .map(|index| {
            let p = &disk.partitions[index];
            let gap_before = previous_end.map_or(0, |end| p.start.saturating_sub(end));
            previous_end = Some(p.end());
            let fs = p.filesystem.as_ref();
            Item {
                index,
                size: p.size,
                gap_before,
                end: p.end(),
                least: fs
                    .filter(|fs| resizable(p, fs))
                    .map(|fs| minimum(fs, p.size, disk)),
                swap: fs.is_some_and(|f| f.fs_type == FsType::Swap),
                path: p.path.clone(),
                mount_point: fs.and_then(|f| f.target_mount_point()).map(str::to_string),
            }
        })
        .collect()
}

fn resizable(p: &Partition, fs: &Filesystem) -> bool {
    fs.fs_type.mkfs_program().is_some() && !p.is_esp() && !p.is_bios_boot() && !p.is_extended()
}

/// The least size a recreated filesystem may have, in sectors.
#[derive(Debug, Clone, Copy)]
struct Least {
    sectors: u64,
    floor: Floor,
}

const MIB_BYTES: u64 = 1024 * 1024;

/// What the filesystem holds with some room, or what mkfs makes at least, whichever is
/// more; never more than it had (a layout that validates has room for that).
fn minimum(fs: &Filesystem, original: u64, disk: &Disk) -> Least {
    let sector = u64::from(disk.logical_sector_size.max(1));
    let mib = disk.mib_sectors();
    let to_mib_sectors = |b: u64| {
        b.div_ceil(sector)
            .checked_next_multiple_of(mib)
            .unwrap_or(u64::MAX)
    };
    let (want, floor) = match (&fs.fs_type, fs.used_bytes) {
        (FsType::Swap, _) => (16 * MIB_BYTES.div_ceil(sector), Floor::Data),
        // 10% headroom plus room for the filesystem's own metadata.
        (_, Some(used)) => (
            to_mib_sectors(
                used.saturating_add(used.div_ceil(10))
                    .saturating_add(16 * MIB_BYTES),
            ),
            Floor::Data,
        ),
        (_, None) => (original, Floor::Unmeasured),
    };
    let made = mkfs_minimum(fs).map(|(mkfs, least)| (mkfs, to_mib_sectors(least)));
    match made {
        Some((mkfs, least)) if least > want && least <= original => Least {
            sectors: least,
            floor: Floor::Mkfs(mkfs),
        },
        _ => Least {
            sectors: want.min(original),
            floor,
        },
    }
}

fn bytes(sectors: u64, disk: &Disk) -> u64 {
    sectors.saturating_mul(u64::from(disk.logical_sector_size))
}

struct Plan<'a> {
    disk: &'a Disk,
    /// Size of the target disk, for messages.
    disk_bytes: u64,
    items: &'a [Item],
    /// One past the last sector a partition may use.
    usable: u64,
    mib: u64,
}

impl Plan<'_> {
    /// Starts of the items given their sizes: the first keeps its start, each next one
    /// follows the previous after the original gap, rounded up to 1 MiB.
    fn starts(&self, sizes: &[u64]) -> Vec<u64> {
        let mut starts = Vec::with_capacity(sizes.len());
        let mut end = 0u64;
        for (i, (item, size)) in self.items.iter().zip(sizes).enumerate() {
            let start = if i == 0 {
                self.disk.partitions[item.index].start
            } else {
                end.saturating_add(item.gap_before)
                    .checked_next_multiple_of(self.mib)
                    .unwrap_or(u64::MAX)
            };
            starts.push(start);
            end = start.saturating_add(*size);
        }
        starts
    }

    fn end(&self, sizes: &[u64]) -> u64 {
        let starts = self.starts(sizes);
        starts
            .last()
            .zip(sizes.last())
            .map_or(0, |(s, n)| s.saturating_add(*n))
    }

    /// Fixed items at their size, resizable ones at `resizable` (or `pinned` where set).
    fn sizes_with(&self, pinned: Option<&[Option<u64>]>, resizable: u64) -> Vec<u64> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, item)| match (item.least, pinned.and_then(|p| p[i])) {
                (None, _) => item.size,
                (Some(_), Some(size)) => size,
                (Some(_), None) => resizable,
            })
            .collect()
    }

    /// Shares the free space in proportion to the original sizes; a share below a
    /// partition's least pins it at its least and the rest is shared again.
    fn proportional(&self) -> Result<Vec<u64>, FitError> {
        let mut pinned: Vec<Option<u64>> = vec![None; self.items.len()];
        loop {
            let sizes = self.sizes_with(Some(&pinned), 0);
            // Resizable sizes are whole MiB, so the padding between items doesn't depend on
            // them: the end with them at zero plus their sum is the end with them in place.
            let Some(budget) = self.usable.checked_sub(self.end(&sizes)) else {
                let all_at_least = vec![None; self.items.len()];
                return Err(self.too_small(self.largest_least(), all_at_least));
            };
            let free: Vec<usize> = (0..self.items.len())
                .filter(|&i| self.items[i].least.is_some() && pinned[i].is_none())
                .collect();
            let total: u128 = free.iter().map(|&i| u128::from(self.items[i].size)).sum();
            let share = |i: usize| {
                let exact = u128::from(budget) * u128::from(self.items[i].size);
                let s = u64::try_from(exact.checked_div(total).unwrap_or(0)).unwrap_or(u64::MAX);
                s - s % self.mib
            };
            let mut again = false;
            for &i in &free {
                let least = self.items[i].least.map_or(0, |l| l.sectors);
                if share(i) < least {
                    pinned[i] = Some(least);
                    again = true;
                }
            }
            if !again {
                for &i in &free {
                    pinned[i] = Some(share(i));
                }
                return Ok(self.sizes_with(Some(&pinned), 0));
            }
        }
    }

    /// Every partition keeps its size but the resizable one that ends last, which takes
    /// the space to the end of the disk (in whole MiB). Swap grows only when nothing else
    /// can: the space is meant for data.
    fn grow_last(&self) -> Result<Vec<u64>, FitError> {
        let last_of = |want_swap: Option<bool>| {
            (0..self.items.len())
                .filter(|&i| self.items[i].least.is_some())
                .filter(|&i| want_swap.is_none_or(|w| self.items[i].swap == w))
                .max_by_key(|&i| self.items[i].end)
        };
        let Some(last) = last_of(Some(false)).or_else(|| last_of(None)) else {
            return Ok(self.items.iter().map(|i| i.size).collect());
        };
        let mut pinned: Vec<Option<u64>> = self.items.iter().map(|i| Some(i.size)).collect();
        pinned[last] = Some(0);
        let budget = self
            .usable
            .saturating_sub(self.end(&self.sizes_with(Some(&pinned), 0)));
        let size = budget - budget % self.mib;
        if size < self.items[last].least.map_or(0, |l| l.sectors) {
            return Err(self.too_small(last, pinned));
        }
        pinned[last] = Some(size);
        Ok(self.sizes_with(Some(&pinned), 0))
    }

    fn largest_least(&self) -> usize {
        (0..self.items.len())
            .max_by_key(|&i| {
                (
                    self.items[i].least.map_or(0, |l| l.sectors),
                    std::cmp::Reverse(i),
                )
            })
            .unwrap_or(0)
    }

    /// The error for item `named`, with the shortfall counted with the resizable
    /// partitions at their least, except where `pinned` sets a size (growing the last,
    /// the others keep theirs).
    fn too_small(&self, named: usize, mut pinned: Vec<Option<u64>>) -> FitError {
        let item = &self.items[named];
        let least = item.least.unwrap_or(Least {
            sectors: item.size,
            floor: Floor::Data,
        });
        pinned[named] = None;
        let sizes: Vec<u64> = self
            .items
            .iter()
            .zip(&pinned)
            .map(|(it, pin)| pin.or(it.least.map(|l| l.sectors)).unwrap_or(it.size))
            .collect();
        let short = self.end(&sizes).saturating_sub(self.usable);
        FitError::TooSmall {
            disk: self.disk.path.clone(),
            disk_bytes: self.disk_bytes,
            partition: item.path.clone(),
            mount_point: item.mount_point.clone(),
            needs: bytes(least.sectors, self.disk),
            short: bytes(short, self.disk),
            floor: least.floor,
        }
    }
}

/// A new mountlist where disk `from` becomes `target`, its partitions renamed after the
/// target and its layout fitted to the target's size.
pub fn map_disk(
    ml: &Mountlist,
    from: &str,
    target: &TargetDisk,
    mode: ResizeMode,
) -> Result<Mountlist, FitError> {
    map_disks(ml, &[(from, target)], mode)
}

/// Maps several disks at once. Each `from` names a disk of `ml` as it is, so two disks
/// may swap names (`sda=sdb`, `sdb=sda`), which two calls of `map_disk` cannot do.
pub fn map_disks(
    ml: &Mountlist,
    maps: &[(&str, &TargetDisk)],
    mode: ResizeMode,
) -> Result<Mountlist, FitError> {
    // Check every map before fitting any, so a mistake is reported as itself.
    let mut indices = Vec::with_capacity(maps.len());
    for (n, (from, target)) in maps.iter().enumerate() {
        if maps[..n].iter().any(|(f, _)| f == from) {
            return Err(FitError::MappedTwice {
                from: from.to_string(),
            });
        }
        if maps[..n].iter().any(|(_, t)| t.path == target.path) {
            return Err(FitError::TargetTwice {
                target: target.path.clone(),
            });
        }
        let Some(index) = ml.disks.iter().position(|d| d.path == *from) else {
            return Err(FitError::NoSuchDisk {
                disk: from.to_string(),
                available: ml.disks.iter().map(|d| d.path.clone()).collect(),
            });
        };
        indices.push(index);
    }
    let mut out = ml.clone();
    let mut esp_renamed = false;
    for (&index, (_, target)) in indices.iter().zip(maps) {
        let disk = &ml.disks[index];
        if disk.logical_sector_size != target.logical_sector_size {
            return Err(FitError::SectorSizeMismatch {
                disk: target.path.clone(),
                from: disk.path.clone(),
                from_size: disk.logical_sector_size,
                target_size: target.logical_sector_size,
            });
        }
        let mut fitted =
            fit_disk(disk, target.sectors, mode).map_err(|e| e.on_disk(&target.path))?;
        fitted.path = target.path.clone();
        for p in &mut fitted.partitions {
            let renamed = partition_path(&target.path, p.number);
            // Compare with the original mountlist, once, so a swap doesn't rename twice.
            if !esp_renamed && ml.boot.esp.as_deref() == Some(p.path.as_str()) {
                out.boot.esp = Some(renamed.clone());
                esp_renamed = true;
            }
            p.path = renamed;
        }
        out.disks[index] = fitted;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Sample layouts shared by the tests of validate, edit and resize.

    use super::super::model::*;

    /// Sectors in 1 MiB and 1 GiB at 512 bytes a sector.
    pub(crate) const MIB: u64 = 2048;
    pub(crate) const GIB: u64 = 1024 * MIB;

    pub(crate) use super::super::edit::{GPT_TYPE_LINUX_FS, GPT_TYPE_LINUX_SWAP};

    pub(crate) fn fs(
        fs_type: FsType,
        mount_point: Option<&str>,
        used_mib: Option<u64>,
    ) -> Filesystem {
        let mut f = Filesystem::new(fs_type);
        f.mount_point = mount_point.map(str::to_string);
        f.used_bytes = used_mib.map(|m| m * 1024 * 1024);
        f
    }

    pub(crate) fn gpt_part(
        disk: &str,
        number: u32,
        start: u64,
        size: u64,
        type_guid: &str,
        fs: Option<Filesystem>,
    ) -> Partition {
        Partition {
            number,
            path: partition_path(disk, number),
            start,
            size,
            gpt: Some(GptEntry {
                type_guid: type_guid.to_string(),
                unique_guid: format!("00000000-0000-4000-8000-00000000000{number}"),
                name: String::new(),
                attributes: 0,
            }),
            mbr: None,
            filesystem: fs,
        }
    }

    pub(crate) fn mbr_part(
        disk: &str,
        number: u32,
        start: u64,
        size: u64,
        type_id: u8,
        role: MbrRole,
        fs: Option<Filesystem>,
    ) -> Partition {
        Partition {
            number,
            path: partition_path(disk, number),
            start,
            size,
            gpt: None,
            mbr: Some(MbrEntry {
                type_id,
                bootable: false,
                role,
            }),
            filesystem: fs,
        }
    }

    fn labelled(mut f: Filesystem, label: &str, uuid: &str) -> Filesystem {
        f.label = Some(label.to_string());
        f.uuid = Some(uuid.to_string());
        f
    }

    /// 20 GiB GPT disk: ESP 512 MiB, / 8 GiB (3 GiB used), /home 8 GiB (2 GiB used),
    /// swap 2 GiB, then 1.5 GiB free.
    pub(crate) fn gpt_disk(path: &str) -> Disk {
        let sectors = 20 * GIB;
        Disk {
            path: path.to_string(),
            sectors,
            logical_sector_size: 512,
            physical_sector_size: 4096,
            model: Some("QEMU HARDDISK".to_string()),
            serial: None,
            table: PartitionTable::Gpt {
                disk_guid: "11111111-2222-4333-8444-555555555555".to_string(),
                first_usable_lba: 34,
                last_usable_lba: sectors - 34,
            },
            partitions: vec![
                gpt_part(
                    path,
                    1,
                    MIB,
                    512 * MIB,
                    GPT_TYPE_ESP,
                    Some(labelled(
                        fs(FsType::Vfat, Some("/boot/efi"), Some(10)),
                        "EFI",
                        "ABCD-1234",
                    )),
                ),
                gpt_part(
                    path,
                    2,
                    513 * MIB,
                    8 * GIB,
                    GPT_TYPE_LINUX_FS,
                    Some(labelled(
                        fs(FsType::Ext4, Some("/"), Some(3 * 1024)),
                        "root",
                        "aaaaaaaa-0000-4000-8000-000000000002",
                    )),
                ),
                gpt_part(
                    path,
                    3,
                    513 * MIB + 8 * GIB,
                    8 * GIB,
                    GPT_TYPE_LINUX_FS,
                    Some(labelled(
                        fs(FsType::Ext4, Some("/home"), Some(2 * 1024)),
                        "home",
                        "aaaaaaaa-0000-4000-8000-000000000003",
                    )),
                ),
                gpt_part(
                    path,
                    4,
                    513 * MIB + 16 * GIB,
                    2 * GIB,
                    GPT_TYPE_LINUX_SWAP,
                    Some(labelled(
                        fs(FsType::Swap, None, None),
                        "swap",
                        "aaaaaaaa-0000-4000-8000-000000000004",
                    )),
                ),
            ],
            filesystem: None,
        }
    }

    /// 10 GiB MBR disk: primary / 4 GiB (1 GiB used, bootable), extended 1-4 MiB in,
    /// logical /home 2 GiB (512 MiB used) and logical swap 1 GiB, each 1 MiB after the
    /// previous (room for its EBR), then free space.
    pub(crate) fn msdos_disk(path: &str) -> Disk {
        let mut root = mbr_part(
            path,
            1,
            MIB,
            4 * GIB,
            0x83,
            MbrRole::Primary,
            Some(labelled(
                fs(FsType::Ext4, Some("/"), Some(1024)),
                "root",
                "bbbbbbbb-0000-4000-8000-000000000001",
            )),
        );
        if let Some(m) = &mut root.mbr {
            m.bootable = true;
        }
        let ext_start = MIB + 4 * GIB;
        let home_start = ext_start + MIB;
        let swap_start = home_start + 2 * GIB + MIB;
        let ext_end = swap_start + GIB;
        Disk {
            path: path.to_string(),
            sectors: 10 * GIB,
            logical_sector_size: 512,
            physical_sector_size: 512,
            model: None,
            serial: None,
            table: PartitionTable::Msdos {
                signature: "0x1234abcd".to_string(),
            },
            partitions: vec![
                root,
                mbr_part(
                    path,
                    2,
                    ext_start,
                    ext_end - ext_start,
                    0x05,
                    MbrRole::Extended,
                    None,
                ),
                mbr_part(
                    path,
                    5,
                    home_start,
                    2 * GIB,
                    0x83,
                    MbrRole::Logical,
                    Some(labelled(
                        fs(FsType::Ext4, Some("/home"), Some(512)),
                        "home",
                        "bbbbbbbb-0000-4000-8000-000000000005",
                    )),
                ),
                mbr_part(
                    path,
                    6,
                    swap_start,
                    GIB,
                    0x82,
                    MbrRole::Logical,
                    Some(fs(FsType::Swap, None, None)),
                ),
            ],
            filesystem: None,
        }
    }

    /// A 4 GiB disk with no partition table and one xfs filesystem (1 GiB used) on /data.
    pub(crate) fn whole_disk(path: &str) -> Disk {
        let mut f = fs(FsType::Xfs, Some("/data"), Some(1024));
        f.size_bytes = Some(4 << 30);
        Disk {
            path: path.to_string(),
            sectors: 4 * GIB,
            logical_sector_size: 512,
            physical_sector_size: 512,
            model: None,
            serial: None,
            table: PartitionTable::None,
            partitions: Vec::new(),
            filesystem: Some(f),
        }
    }

    pub(crate) fn mountlist(mode: BootMode, esp: Option<&str>, disks: Vec<Disk>) -> Mountlist {
        Mountlist {
            version: MOUNTLIST_VERSION,
            host: Host {
                hostname: "fixture".to_string(),
                root: "/".to_string(),
                kernel_release: "6.1.0".to_string(),
                captured_at: 1_700_000_000,
            },
            boot: Boot {
                mode,
                esp: esp.map(str::to_string),
                paths: None,
            },
            disks,
            unsupported: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// UEFI host with the GPT disk as /dev/sda.
    pub(crate) fn gpt_mountlist() -> Mountlist {
        mountlist(
            BootMode::Uefi,
            Some("/dev/sda1"),
            vec![gpt_disk("/dev/sda")],
        )
    }

    /// BIOS host with the MBR disk as /dev/sda.
    pub(crate) fn msdos_mountlist() -> Mountlist {
        mountlist(BootMode::Bios, None, vec![msdos_disk("/dev/sda")])
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::BootMode;
    use super::fixtures::*;
    use super::*;
    use crate::mountlist::validate::{has_errors, validate};

    fn assert_valid(ml: &Mountlist) {
        let problems = validate(ml);
        assert!(
            !has_errors(&problems),
            "validate found errors: {problems:#?}"
        );
    }

    /// The fixture mountlist with its first disk replaced.
    fn with_disk(mut ml: Mountlist, disk: Disk) -> Mountlist {
        ml.disks[0] = disk;
        ml
    }

    fn sizes(d: &Disk) -> Vec<u64> {
        d.partitions.iter().map(|p| p.size).collect()
    }

    fn last_usable(d: &Disk) -> u64 {
        match d.table {
            PartitionTable::Gpt {
                last_usable_lba, ..
            } => last_usable_lba,
            _ => panic!("not gpt"),
        }
    }

    #[test]
    fn resize_mode_parses_and_prints() {
        for mode in [ResizeMode::Proportional, ResizeMode::GrowLast] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
        assert_eq!("grow-last".parse(), Ok(ResizeMode::GrowLast));
        let e = "grow".parse::<ResizeMode>().unwrap_err();
        assert!(
            e.to_string().contains("\"proportional\" or \"grow-last\""),
            "{e}"
        );
    }

    #[test]
    fn fixtures_are_valid() {
        assert_valid(&gpt_mountlist());
        assert_valid(&msdos_mountlist());
        let mut ml = gpt_mountlist();
        ml.disks.push(whole_disk("/dev/sdb"));
        assert_valid(&ml);
    }

    #[test]
    fn same_size_is_identical() {
        for disk in [
            gpt_disk("/dev/sda"),
            msdos_disk("/dev/sda"),
            whole_disk("/dev/sda"),
        ] {
            for mode in [ResizeMode::Proportional, ResizeMode::GrowLast] {
                assert_eq!(fit_disk(&disk, disk.sectors, mode), Ok(disk.clone()));
            }
        }
    }

    #[test]
    fn bigger_proportional_grows_each_by_the_same_factor() {
        let disk = gpt_disk("/dev/sda");
        let target = 40 * GIB;
        let out = fit_disk(&disk, target, ResizeMode::Proportional).unwrap();
        assert_eq!(out.sectors, target);
        // The ESP keeps its place and size.
        assert_eq!(out.partitions[0], disk.partitions[0]);
        // The rest (from the end of the ESP to the last usable sector) is shared 8:8:2.
        let free = (target - 33) - 513 * MIB;
        for (old, new) in disk.partitions.iter().zip(&out.partitions).skip(1) {
            let want = u128::from(free) * u128::from(old.size) / u128::from(18 * GIB);
            let diff = u128::from(new.size).abs_diff(want);
            assert!(
                diff < u128::from(MIB),
                "{}: {} vs {want}",
                new.path,
                new.size
            );
            assert_eq!(new.size % MIB, 0);
            assert_eq!(new.start % MIB, 0);
            assert!(new.size > old.size);
            assert_eq!(new.filesystem.as_ref().unwrap().size_bytes, None);
        }
        assert!(out.partitions[3].end() <= target - 33);
        assert_eq!(last_usable(&out), target - 34);
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn bigger_grow_last_grows_the_last_data_partition_not_swap() {
        let disk = gpt_disk("/dev/sda");
        let target = 40 * GIB;
        let out = fit_disk(&disk, target, ResizeMode::GrowLast).unwrap();
        assert_eq!(out.partitions[..2], disk.partitions[..2]);
        let (home, swap) = (&out.partitions[2], &out.partitions[3]);
        assert_eq!(home.start, disk.partitions[2].start);
        assert!(home.size > disk.partitions[2].size);
        assert_eq!(swap.size, disk.partitions[3].size);
        assert_eq!(swap.start, home.end());
        // To the end of the usable space, less under 1 MiB of rounding.
        assert!(target - 33 - swap.end() < MIB, "{}", swap.end());
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn grow_last_grows_swap_when_it_is_the_only_resizable() {
        let mut disk = gpt_disk("/dev/sda");
        for p in &mut disk.partitions[1..3] {
            p.filesystem = None;
        }
        let out = fit_disk(&disk, 40 * GIB, ResizeMode::GrowLast).unwrap();
        assert_eq!(out.partitions[..3], disk.partitions[..3]);
        assert!(out.partitions[3].size > disk.partitions[3].size);
    }

    #[test]
    fn smaller_proportional_fits_and_pins_at_the_least() {
        let disk = gpt_disk("/dev/sda");
        let out = fit_disk(&disk, 12 * GIB, ResizeMode::Proportional).unwrap();
        let s = sizes(&out);
        assert_eq!(s[0], 512 * MIB);
        assert!(s[1] < 8 * GIB && s[1] == s[2], "{s:?}");
        assert_valid(&with_disk(gpt_mountlist(), out));

        // At 7 GiB the share of / falls below 3 GiB * 1.1 + 16 MiB: it gets exactly that.
        let out = fit_disk(&disk, 7 * GIB, ResizeMode::Proportional).unwrap();
        let least_root = (3 * GIB * 11).div_ceil(10) + 16 * MIB;
        let least_root = least_root.next_multiple_of(MIB);
        let s = sizes(&out);
        assert_eq!(s[1], least_root);
        assert!(s[2] > 2 * GIB && s[2] < 8 * GIB, "{s:?}");
        // /home and swap still share 8:2 of what is left.
        assert!((s[2] / 4).abs_diff(s[3]) <= MIB, "{s:?}");
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn smaller_grow_last_shrinks_only_the_last_data_partition() {
        let disk = gpt_disk("/dev/sda");
        let target = 18 * GIB;
        let out = fit_disk(&disk, target, ResizeMode::GrowLast).unwrap();
        assert_eq!(out.partitions[..2], disk.partitions[..2]);
        let (home, swap) = (&out.partitions[2], &out.partitions[3]);
        assert!(home.size < disk.partitions[2].size);
        assert_eq!(swap.size, disk.partitions[3].size);
        assert!(target - 33 - swap.end() < MIB, "{}", swap.end());
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn smaller_that_does_not_fit_names_the_partition_and_shortfall() {
        let disk = gpt_disk("/dev/sda");
        let err = fit_disk(&disk, 5 * GIB, ResizeMode::Proportional).unwrap_err();
        let FitError::TooSmall {
            partition,
            needs,
            short,
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(partition, "/dev/sda2");
        // ESP 513 MiB + / 3396 MiB + /home 2269 MiB + swap 16 MiB against 5 GiB - 33 sectors.
        let total = (513 + 3396 + 2269 + 16) * MIB;
        assert_eq!(*short, (total - (5 * GIB - 33)) * 512);
        assert_eq!(*needs, 3396 * MIB * 512);
        assert_eq!(
            err.to_string(),
            "/dev/sda (5G) is too small for /dev/sda2 (/): it needs at least 3.3G but only \
             2.3G is left; 1.0G short"
        );

        // Growing the last, only /home may shrink; the others keep their sizes.
        let err = fit_disk(&disk, 10 * GIB, ResizeMode::GrowLast).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("too small for /dev/sda3 (/home):"), "{msg}");
        assert!(msg.contains("short"), "{msg}");
    }

    #[test]
    fn shrinking_stops_at_the_smallest_filesystem_mkfs_makes() {
        let mut disk = gpt_disk("/dev/sda");
        // /home as xfs holding 10 MiB: its data alone would let it shrink to 27 MiB.
        let f = disk.partitions[2].filesystem.as_mut().unwrap();
        f.fs_type = FsType::Xfs;
        f.label = None;
        f.used_bytes = Some(10 << 20);
        // Room for the ESP, / at its least (3396 MiB), 300 MiB and 50 MiB: /home's share
        // would be 280 MiB.
        let target = (513 + 3396 + 300 + 50) * MIB + 33;
        let out = fit_disk(&disk, target, ResizeMode::Proportional).unwrap();
        assert_eq!(sizes(&out)[1..], [3396 * MIB, 300 * MIB, 50 * MIB]);
        assert_valid(&with_disk(gpt_mountlist(), out));

        // Growing the last, /home alone may shrink, and not below 300 MiB.
        let target = (513 + 8 * 1024 + 299 + 2 * 1024) * MIB + 33;
        let err = fit_disk(&disk, target, ResizeMode::GrowLast).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "/dev/sda ({}) is too small for /dev/sda3 (/home): it needs at least 300M but \
                 only 299M is left; 1M short (mkfs.xfs makes none smaller)",
                format_bytes(target * 512)
            )
        );

        let mut whole = whole_disk("/dev/sdb");
        whole.filesystem.as_mut().unwrap().used_bytes = Some(1 << 20);
        let err = fit_disk(&whole, 200 * MIB, ResizeMode::GrowLast).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "it needs at least 300M but only 200M is left; 100M short (mkfs.xfs makes none \
                 smaller)"
            ),
            "{err}"
        );
    }

    #[test]
    fn unmeasured_filesystems_cannot_shrink_and_say_so() {
        let mut disk = gpt_disk("/dev/sda");
        for p in &mut disk.partitions {
            if let Some(f) = &mut p.filesystem {
                f.used_bytes = None;
            }
        }
        let err = fit_disk(&disk, 16 * GIB, ResizeMode::Proportional).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("needs at least 8G"), "{msg}");
        assert!(msg.contains("used space was not measured"), "{msg}");
        // Growing is still fine.
        let out = fit_disk(&disk, 30 * GIB, ResizeMode::Proportional).unwrap();
        assert!(out.partitions[1].size > 8 * GIB);
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn fixed_partitions_alone_too_large() {
        let mut disk = gpt_disk("/dev/sda");
        // An unknown filesystem keeps its size: 8 GiB that cannot shrink.
        disk.partitions[2].filesystem = Some(fs(FsType::Other("zfs_member".into()), None, Some(1)));
        let err = fit_disk(&disk, 6 * GIB, ResizeMode::Proportional).unwrap_err();
        assert!(matches!(err, FitError::FixedTooLarge { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("keep their size"), "{msg}");
        assert!(
            msg.contains("they need 8.5G but only 6.0G is usable; 2.5G short"),
            "{msg}"
        );
    }

    #[test]
    fn fixed_partitions_keep_their_size() {
        let mut disk = gpt_disk("/dev/sda");
        disk.partitions[2].filesystem = None;
        let out = fit_disk(&disk, 30 * GIB, ResizeMode::Proportional).unwrap();
        assert_eq!(out.partitions[0].size, 512 * MIB);
        assert_eq!(out.partitions[2].size, 8 * GIB);
        assert!(out.partitions[1].size > 8 * GIB);
        assert!(out.partitions[3].size > 2 * GIB);
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn mbr_extended_spans_its_logicals_and_gaps_are_kept() {
        let disk = msdos_disk("/dev/sda");
        for (target, mode) in [
            (20 * GIB, ResizeMode::Proportional),
            (6 * GIB, ResizeMode::Proportional),
            (20 * GIB, ResizeMode::GrowLast),
            (8 * GIB, ResizeMode::GrowLast),
        ] {
            let out = fit_disk(&disk, target, mode).unwrap();
            let [root, ext, home, swap] = &out.partitions[..] else {
                panic!("{out:?}");
            };
            assert_eq!(root.start, MIB);
            assert_eq!(ext.start, root.end());
            assert_eq!(
                home.start,
                ext.start + MIB,
                "EBR gap before the first logical"
            );
            assert_eq!(
                swap.start,
                home.end() + MIB,
                "EBR gap before the second logical"
            );
            assert_eq!(ext.end(), swap.end());
            assert!(swap.end() <= target);
            assert_valid(&with_disk(msdos_mountlist(), out));
        }
        // Grow-last grows /home, the last data partition; swap keeps its size and moves.
        let out = fit_disk(&disk, 20 * GIB, ResizeMode::GrowLast).unwrap();
        assert_eq!(sizes(&out)[0], 4 * GIB);
        assert!(sizes(&out)[2] > 2 * GIB);
        assert_eq!(sizes(&out)[3], GIB);
        assert!(20 * GIB - out.partitions[3].end() < MIB);
    }

    #[test]
    fn mbr_stops_at_two_tib() {
        let disk = msdos_disk("/dev/sda");
        let out = fit_disk(
            &disk,
            3 << 31, /* 3 TiB at 512 B */
            ResizeMode::Proportional,
        )
        .unwrap();
        assert!(out.partitions.iter().all(|p| p.end() <= 1 << 32));
        assert!(out.partitions[3].end() > (1 << 32) - GIB);
        assert_valid(&with_disk(msdos_mountlist(), out));
    }

    #[test]
    fn gpt_with_4k_sectors_keeps_five_sectors_for_the_backup() {
        let mut disk = gpt_disk("/dev/sda");
        disk.logical_sector_size = 4096;
        let target = disk.sectors * 2;
        let out = fit_disk(&disk, target, ResizeMode::GrowLast).unwrap();
        assert_eq!(last_usable(&out), target - 6);
        assert_eq!(out.partitions[3].end(), (target - 5) / 256 * 256);
        assert_valid(&with_disk(gpt_mountlist(), out));
    }

    #[test]
    fn whole_disk_filesystem_follows_the_disk() {
        let disk = whole_disk("/dev/sdb");
        let out = fit_disk(&disk, 2 * GIB, ResizeMode::Proportional).unwrap();
        assert_eq!(out.sectors, 2 * GIB);
        assert_eq!(out.filesystem.as_ref().unwrap().size_bytes, None);
        let mut ml = gpt_mountlist();
        ml.disks.push(out);
        assert_valid(&ml);

        let err = fit_disk(&disk, GIB, ResizeMode::GrowLast).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/sdb (1G) is too small for /dev/sdb (/data): it needs at least 1.1G but only \
             1G is left; 119M short"
        );
    }

    #[test]
    fn map_disk_renames_partitions_and_the_esp() {
        let ml = gpt_mountlist();
        let target = TargetDisk {
            path: "/dev/nvme0n1".into(),
            sectors: 30 * GIB,
            logical_sector_size: 512,
        };
        let out = map_disk(&ml, "/dev/sda", &target, ResizeMode::Proportional).unwrap();
        let d = &out.disks[0];
        assert_eq!(d.path, "/dev/nvme0n1");
        assert_eq!(d.sectors, 30 * GIB);
        let paths: Vec<&str> = d.partitions.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/dev/nvme0n1p1",
                "/dev/nvme0n1p2",
                "/dev/nvme0n1p3",
                "/dev/nvme0n1p4"
            ]
        );
        assert_eq!(out.boot.esp.as_deref(), Some("/dev/nvme0n1p1"));
        assert_valid(&out);
    }

    #[test]
    fn map_disk_onto_another_disks_name_renames_only_the_mapped_disk() {
        let ml = mountlist(
            BootMode::Uefi,
            Some("/dev/sda1"),
            vec![gpt_disk("/dev/sda"), whole_disk("/dev/sdb")],
        );
        let target = TargetDisk {
            path: "/dev/sdb".into(),
            sectors: 20 * GIB,
            logical_sector_size: 512,
        };
        let out = map_disk(&ml, "/dev/sda", &target, ResizeMode::Proportional).unwrap();
        assert_eq!(out.disks[0].partitions[0].path, "/dev/sdb1");
        assert_eq!(out.disks[1], ml.disks[1]);
        assert_eq!(out.boot.esp.as_deref(), Some("/dev/sdb1"));

        // Both at once swap the names.
        let to_sda = TargetDisk {
            path: "/dev/sda".into(),
            sectors: 4 * GIB,
            logical_sector_size: 512,
        };
        let out = map_disks(
            &ml,
            &[("/dev/sda", &target), ("/dev/sdb", &to_sda)],
            ResizeMode::GrowLast,
        )
        .unwrap();
        assert_eq!(out.disks[0].path, "/dev/sdb");
        assert_eq!(out.disks[0].partitions[3].path, "/dev/sdb4");
        assert_eq!(out.disks[1].path, "/dev/sda");
        assert_eq!(out.boot.esp.as_deref(), Some("/dev/sdb1"));
        assert_valid(&out);
    }

    #[test]
    fn map_disk_errors() {
        let ml = gpt_mountlist();
        let target = TargetDisk {
            path: "/dev/vdb".into(),
            sectors: 5 * GIB,
            logical_sector_size: 512,
        };
        let err = map_disk(&ml, "/dev/sdz", &target, ResizeMode::Proportional).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no disk /dev/sdz in the mountlist; it has /dev/sda"
        );

        // The target's name, the original partition's name.
        let err = map_disk(&ml, "/dev/sda", &target, ResizeMode::Proportional).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/dev/vdb (5G) is too small for /dev/sda2 (/)"),
            "{err}"
        );

        let big_sectors = TargetDisk {
            logical_sector_size: 4096,
            ..target.clone()
        };
        let err = map_disk(&ml, "/dev/sda", &big_sectors, ResizeMode::Proportional).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("4096-byte sectors but /dev/sda had 512-byte"),
            "{msg}"
        );
        assert!(msg.contains("not supported yet"), "{msg}");

        let err = map_disks(
            &ml,
            &[("/dev/sda", &target), ("/dev/sda", &target)],
            ResizeMode::GrowLast,
        )
        .unwrap_err();
        assert!(matches!(err, FitError::MappedTwice { .. }), "{err:?}");
        let two = mountlist(
            BootMode::Uefi,
            Some("/dev/sda1"),
            vec![gpt_disk("/dev/sda"), whole_disk("/dev/sdb")],
        );
        let t = TargetDisk {
            sectors: 30 * GIB,
            ..target
        };
        let err = map_disks(
            &two,
            &[("/dev/sda", &t), ("/dev/sdb", &t)],
            ResizeMode::GrowLast,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("/dev/vdb is the target of more than one disk"),
            "{err}"
        );
    }

    #[test]
    fn a_target_with_no_room_for_the_table_is_refused() {
        let disk = gpt_disk("/dev/sda");
        let err = fit_disk(&disk, 60, ResizeMode::GrowLast).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/sda (30K) is too small for its GPT: the first usable sector, a sector for a \
             partition, then the backup header and entries: that needs at least 34K"
        );
        let mut empty = disk.clone();
        empty.partitions.clear();
        assert!(matches!(
            fit_disk(&empty, 67, ResizeMode::GrowLast),
            Err(FitError::NoRoom { .. })
        ));
        // Room for one sector of partitions.
        let out = fit_disk(&empty, 68, ResizeMode::GrowLast).unwrap();
        assert_eq!(out.gpt_area(), Some((34, 34)));
        assert!(matches!(
            out.table,
            PartitionTable::Gpt {
                first_usable_lba: 34,
                last_usable_lba: 34,
                ..
            }
        ));
        for d in [disk, msdos_disk("/dev/sda"), whole_disk("/dev/sda")] {
            let err = fit_disk(&d, 0, ResizeMode::Proportional).unwrap_err();
            assert!(
                err.to_string()
                    .ends_with("(0B) is too small for anything: that needs at least 512B"),
                "{err}"
            );
        }
    }

    #[test]
    fn odd_input_does_not_panic() {
        let mut disk = gpt_disk("/dev/sda");
        disk.partitions[1].size = u64::MAX;
        disk.partitions[2].start = u64::MAX - 5;
        disk.partitions[3].size = 0;
        for target in [0, 1, 100, 40 * GIB, u64::MAX] {
            for mode in [ResizeMode::Proportional, ResizeMode::GrowLast] {
                let _ = fit_disk(&disk, target, mode);
                let _ = fit_disk(&msdos_disk("/dev/sda"), target, mode);
                let _ = fit_disk(&whole_disk("/dev/sda"), target, mode);
            }
        }
        disk.logical_sector_size = 0;
        let _ = fit_disk(&disk, 12345, ResizeMode::Proportional);
    }
}
