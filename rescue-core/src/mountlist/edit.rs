//! Edits a user makes to a mountlist before a restore: change, add and delete partitions.
//!
//! Each edit either applies whole or leaves the mountlist as it was. Edits check only
//! what they need to do their job; the caller runs `validate` on the result.

use super::model::{
    is_extended_type, partition_path, Disk, Filesystem, FsParams, FsType, GptEntry, MbrEntry,
    MbrRole, Mountlist, Partition, PartitionTable, GPT_ENTRIES, GPT_TYPE_ESP, MAX_PARTITION_NUMBER,
    MBR_SECTOR_LIMIT, MBR_TYPE_ESP,
};
use super::mount_point::{MountPoint, MountPointError};
use crate::size::{format_bytes, SizeSpec};

/// GPT type of a Linux filesystem partition.
pub const GPT_TYPE_LINUX_FS: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
/// GPT type of a Linux swap partition.
pub const GPT_TYPE_LINUX_SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";
/// GPT type of a FAT or NTFS data partition.
pub const GPT_TYPE_BASIC_DATA: &str = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7";

/// MBR id a new extended partition gets (as sfdisk's "E").
const MBR_TYPE_EXTENDED: u8 = 0x05;
/// GPT attribute bit 2: legacy BIOS bootable.
const GPT_LEGACY_BOOTABLE: u64 = 1 << 2;
/// A GPT partition name holds 36 UTF-16 code units.
const GPT_NAME_UNITS: usize = 36;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("no disk {disk} in the mountlist; it has {}", join(.available))]
    NoSuchDisk {
        disk: String,
        available: Vec<String>,
    },
    #[error("{disk} has no partition {number}; it has {}", join_numbers(.available))]
    NoSuchPartition {
        disk: String,
        number: u32,
        available: Vec<u32>,
    },
    #[error(
        "{disk} has no partition table: give it a gpt or msdos table before adding partitions"
    )]
    NoPartitionTable { disk: String },
    #[error("{path}: partition has no filesystem: set a filesystem type first")]
    NoFilesystem { path: String },
    #[error("{path} is on a {table} disk, which has no {what}")]
    WrongTable {
        path: String,
        table: &'static str,
        what: &'static str,
    },
    #[error("{value:?} is not a GUID such as 0fc63daf-8483-4772-8e79-3d69d8477de4")]
    BadGuid { value: String },
    #[error("{path}: GPT name {name:?} is longer than 36 UTF-16 code units")]
    NameTooLong { path: String, name: String },
    #[error(
        "{path}: MBR type 0x{type_id:02x} does not suit a {role} partition: types 0x05, 0x0f \
         and 0x85 are for the extended partition only"
    )]
    ExtendedType {
        path: String,
        type_id: u8,
        role: &'static str,
    },
    #[error("{place}: a partition cannot be 0 sectors long")]
    ZeroSize { place: String },
    #[error("{disk}: an extended partition holds logical partitions, not a filesystem")]
    FilesystemOnExtended { disk: String },
    #[error(
        "{disk}: the new partition needs {} but {}",
        format_bytes(*.needs),
        largest_free(*.largest, *.at)
    )]
    NoSpace {
        disk: String,
        needs: u64,
        /// The largest free space (bytes), starting at sector `at`.
        largest: u64,
        at: u64,
    },
    #[error("{disk}: sectors {start}-{last} are not free: {reason}")]
    NotFree {
        disk: String,
        start: u64,
        last: u64,
        reason: String,
    },
    #[error("{disk} has no free partition number: {why}")]
    TableFull { disk: String, why: &'static str },
    #[error("{disk} already has an extended partition ({path}): an MBR disk holds one")]
    SecondExtended { disk: String, path: String },
    #[error(
        "{disk} has no extended partition to hold a logical one: add an extended partition first"
    )]
    NoExtended { disk: String },
    #[error("{path} is an extended partition that still holds {}: delete those first", join(.logicals))]
    ExtendedNotEmpty { path: String, logicals: Vec<String> },
    #[error("{path}: {problem}")]
    MountPoint {
        path: String,
        problem: MountPointError,
    },
}

fn join(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn join_numbers(numbers: &[u32]) -> String {
    join(&numbers.iter().map(u32::to_string).collect::<Vec<_>>())
}

fn largest_free(largest: u64, at: u64) -> String {
    if largest == 0 {
        "there is no free space".to_string()
    } else {
        format!(
            "the largest free space is {} at sector {at}",
            format_bytes(largest)
        )
    }
}

/// Changes to one partition; `None` leaves a field as it is. For `label` and
/// `mount_point`, `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionEdit {
    /// First sector.
    pub start: Option<u64>,
    /// Length in sectors.
    pub size: Option<u64>,
    /// Creates the filesystem when the partition has none. A new type drops the old
    /// UUID and creation parameters, which belonged to the old type.
    pub fs_type: Option<FsType>,
    pub label: Option<Option<String>>,
    /// Also moves the fstab entry (clearing it drops the entry).
    pub mount_point: Option<Option<String>>,
    pub gpt_name: Option<String>,
    pub type_guid: Option<String>,
    pub mbr_type: Option<u8>,
    /// MBR boot flag, or on GPT the legacy BIOS bootable attribute.
    pub bootable: Option<bool>,
}

/// Applies `edit` to partition `number` of `disk`.
///
/// When the filesystem type or mount point changes and the partition type was the
/// default for the old filesystem, the type follows the new one (ext4 to swap gives a
/// swap partition type); a type given in the same edit, or a non-default one, is kept.
pub fn edit_partition(
    ml: &mut Mountlist,
    disk: &str,
    number: u32,
    edit: &PartitionEdit,
) -> Result<(), EditError> {
    let d = disk_mut(ml, disk)?;
    let index = partition_index(d, number)?;
    let table = d.table.name();
    let mut p = d.partitions[index].clone();
    let old_default = default_type(&p);

    if let Some(start) = edit.start {
        p.start = start;
    }
    if let Some(size) = edit.size {
        if size == 0 {
            return Err(EditError::ZeroSize {
                place: p.path.clone(),
            });
        }
        p.size = size;
    }
    if let Some(fs_type) = &edit.fs_type {
        if p.is_extended() {
            return Err(EditError::FilesystemOnExtended {
                disk: disk.to_string(),
            });
        }
        match &mut p.filesystem {
            Some(f) if f.fs_type != *fs_type => {
                f.fs_type = fs_type.clone();
                f.uuid = None;
                f.params = FsParams::default();
                f.size_bytes = None;
            }
            Some(_) => {}
            None => p.filesystem = Some(Filesystem::new(fs_type.clone())),
        }
    }
    if let Some(label) = &edit.label {
        filesystem_mut(&mut p)?.label = label.clone();
    }
    if let Some(mount_point) = &edit.mount_point {
        let normal = match mount_point {
            Some(m) => Some(
                MountPoint::parse(m).map_err(|problem| EditError::MountPoint {
                    path: p.path.clone(),
                    problem,
                })?,
            ),
            None => None,
        };
        let f = filesystem_mut(&mut p)?;
        f.mount_point = normal.as_ref().map(MountPoint::to_string);
        match &f.mount_point {
            Some(m) => {
                if let Some(fstab) = &mut f.fstab {
                    fstab.mount_point.clone_from(m);
                }
            }
            None => f.fstab = None,
        }
    }
    let follows = edit.fs_type.is_some() || edit.mount_point.is_some();
    if follows
        && edit.type_guid.is_none()
        && edit.mbr_type.is_none()
        && current_type(&p) == old_default
    {
        let kind = default_type(&p);
        set_type(&mut p, kind);
    }
    if let Some(name) = &edit.gpt_name {
        if name.encode_utf16().count() > GPT_NAME_UNITS {
            return Err(EditError::NameTooLong {
                path: p.path.clone(),
                name: name.clone(),
            });
        }
        gpt_mut(&mut p, table)?.name = name.clone();
    }
    if let Some(guid) = &edit.type_guid {
        if !is_guid(guid) {
            return Err(EditError::BadGuid {
                value: guid.clone(),
            });
        }
        gpt_mut(&mut p, table)?.type_guid = guid.to_ascii_lowercase();
    }
    if let Some(type_id) = edit.mbr_type {
        let path = p.path.clone();
        let m = mbr_mut(&mut p, table)?;
        if is_extended_type(type_id) != (m.role == MbrRole::Extended) {
            return Err(EditError::ExtendedType {
                path,
                type_id,
                role: role_name(m.role),
            });
        }
        m.type_id = type_id;
    }
    if let Some(bootable) = edit.bootable {
        match (&mut p.mbr, &mut p.gpt) {
            (Some(m), _) => m.bootable = bootable,
            (None, Some(g)) if bootable => g.attributes |= GPT_LEGACY_BOOTABLE,
            (None, Some(g)) => g.attributes &= !GPT_LEGACY_BOOTABLE,
            (None, None) => {
                return Err(EditError::WrongTable {
                    path: p.path.clone(),
                    table,
                    what: "boot flag",
                })
            }
        }
    }
    let path = p.path.clone();
    let is_esp = p.is_esp();
    d.partitions[index] = p;
    adopt_esp(ml, &path, is_esp);
    Ok(())
}

/// A partition to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPartition {
    /// First sector; None takes the first free space, aligned to 1 MiB, that is large
    /// enough.
    pub start: Option<u64>,
    /// A percentage is of the whole disk.
    pub size: SizeSpec,
    pub filesystem: Option<Filesystem>,
    /// msdos only; ignored on gpt.
    pub role: MbrRole,
}

/// Adds a partition and returns its number: the lowest free one on GPT and for msdos
/// primary and extended partitions (1-4); for a logical one, the next after the last
/// logical, placed after it. The extended partition grows into free space right after
/// it when the logical needs it.
///
/// The partition type follows the filesystem (vfat is an ESP only when mounted on
/// /boot/efi or /efi). A GPT partition's own GUID is left empty, meaning "generate one
/// at restore". A new ESP becomes boot.esp when none is set.
pub fn add_partition(ml: &mut Mountlist, disk: &str, new: NewPartition) -> Result<u32, EditError> {
    let d = disk_mut(ml, disk)?;
    let is_gpt = match d.table {
        PartitionTable::Gpt { .. } => true,
        PartitionTable::Msdos { .. } => false,
        PartitionTable::None => {
            return Err(EditError::NoPartitionTable {
                disk: disk.to_string(),
            })
        }
    };
    let role = if is_gpt { MbrRole::Primary } else { new.role };
    if role == MbrRole::Extended && new.filesystem.is_some() {
        return Err(EditError::FilesystemOnExtended {
            disk: disk.to_string(),
        });
    }
    let size = new.size.to_sectors(d.logical_sector_size, d.sectors);
    if size == 0 {
        return Err(EditError::ZeroSize {
            place: disk.to_string(),
        });
    }
    let number = free_number(d, role)?;
    let space = free_space(d, role)?;
    let start = match new.start {
        Some(start) => space.check(d, start, size)?,
        None => space.first_fit(d, size)?,
    };

    let path = partition_path(disk, number);
    let mut p = Partition {
        number,
        path: path.clone(),
        start,
        size,
        gpt: None,
        mbr: None,
        filesystem: new.filesystem,
    };
    if is_gpt {
        p.gpt = Some(GptEntry {
            type_guid: String::new(),
            // Empty: the restore generates the partition's GUID.
            unique_guid: String::new(),
            name: String::new(),
            attributes: 0,
        });
    } else {
        p.mbr = Some(MbrEntry {
            type_id: 0,
            bootable: false,
            role,
        });
    }
    let kind = if role == MbrRole::Extended {
        PartType::Mbr(MBR_TYPE_EXTENDED)
    } else {
        default_type(&p)
    };
    set_type(&mut p, kind);
    let is_esp = p.is_esp();

    if role == MbrRole::Logical {
        if let Some(ext) = d.partitions.iter_mut().find(|q| q.is_extended()) {
            ext.size = ext.size.max(p.end().saturating_sub(ext.start));
        }
    }
    let at = d
        .partitions
        .iter()
        .position(|q| q.number > number)
        .unwrap_or(d.partitions.len());
    d.partitions.insert(at, p);
    adopt_esp(ml, &path, is_esp);
    Ok(number)
}

/// Removes a partition and returns it. Logical partitions after a deleted logical move
/// down a number (sda6 becomes sda5), as the kernel will number them; boot.esp follows,
/// or is cleared when it was the deleted partition.
pub fn delete_partition(
    ml: &mut Mountlist,
    disk: &str,
    number: u32,
) -> Result<Partition, EditError> {
    let d = disk_mut(ml, disk)?;
    let index = partition_index(d, number)?;
    if d.partitions[index].is_extended() {
        let logicals: Vec<String> = d
            .partitions
            .iter()
            .filter(|p| p.is_logical())
            .map(|p| p.path.clone())
            .collect();
        if !logicals.is_empty() {
            return Err(EditError::ExtendedNotEmpty {
                path: d.partitions[index].path.clone(),
                logicals,
            });
        }
    }
    let removed = d.partitions.remove(index);
    let mut renamed: Vec<(String, String)> = Vec::new();
    if removed.is_logical() {
        for p in d
            .partitions
            .iter_mut()
            .filter(|p| p.is_logical() && p.number > number)
        {
            p.number -= 1;
            let path = partition_path(disk, p.number);
            renamed.push((std::mem::replace(&mut p.path, path), p.path.clone()));
        }
    }
    if ml.boot.esp.as_deref() == Some(removed.path.as_str()) {
        ml.boot.esp = None;
    } else if let Some((_, new)) = renamed
        .iter()
        .find(|(old, _)| ml.boot.esp.as_deref() == Some(old.as_str()))
    {
        ml.boot.esp = Some(new.clone());
    }
    Ok(removed)
}

fn disk_mut<'a>(ml: &'a mut Mountlist, disk: &str) -> Result<&'a mut Disk, EditError> {
    let available = ml.disks.iter().map(|d| d.path.clone()).collect();
    ml.disk_mut(disk).ok_or_else(|| EditError::NoSuchDisk {
        disk: disk.to_string(),
        available,
    })
}

fn partition_index(d: &Disk, number: u32) -> Result<usize, EditError> {
    d.partitions
        .iter()
        .position(|p| p.number == number)
        .ok_or_else(|| EditError::NoSuchPartition {
            disk: d.path.clone(),
            number,
            available: d.partitions.iter().map(|p| p.number).collect(),
        })
}

fn filesystem_mut(p: &mut Partition) -> Result<&mut Filesystem, EditError> {
    let path = p.path.clone();
    p.filesystem
        .as_mut()
        .ok_or(EditError::NoFilesystem { path })
}

fn gpt_mut<'a>(p: &'a mut Partition, table: &'static str) -> Result<&'a mut GptEntry, EditError> {
    let path = p.path.clone();
    p.gpt.as_mut().ok_or(EditError::WrongTable {
        path,
        table,
        what: "GPT entry (name or type GUID)",
    })
}

fn mbr_mut<'a>(p: &'a mut Partition, table: &'static str) -> Result<&'a mut MbrEntry, EditError> {
    let path = p.path.clone();
    p.mbr.as_mut().ok_or(EditError::WrongTable {
        path,
        table,
        what: "MBR type id",
    })
}

fn role_name(role: MbrRole) -> &'static str {
    match role {
        MbrRole::Primary => "primary",
        MbrRole::Extended => "extended",
        MbrRole::Logical => "logical",
    }
}

/// A new ESP is the one to boot from when none was chosen.
fn adopt_esp(ml: &mut Mountlist, path: &str, is_esp: bool) {
    if is_esp && ml.boot.esp.is_none() {
        ml.boot.esp = Some(path.to_string());
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A partition type in whichever table the partition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartType<'a> {
    Gpt(&'a str),
    Mbr(u8),
    None,
}

fn current_type(p: &Partition) -> PartType<'_> {
    match (&p.gpt, &p.mbr) {
        (Some(g), _) => PartType::Gpt(&g.type_guid),
        (None, Some(m)) => PartType::Mbr(m.type_id),
        (None, None) => PartType::None,
    }
}

/// The type a partition with its filesystem gets by default.
fn default_type(p: &Partition) -> PartType<'static> {
    let fs = p.filesystem.as_ref();
    let fs_type = fs.map(|f| &f.fs_type);
    let esp_mount = fs
        .and_then(|f| f.target_mount().ok().flatten())
        .is_some_and(|m| m.as_str() == "/boot/efi" || m.as_str() == "/efi");
    if p.is_extended() {
        return PartType::None;
    }
    match (&p.gpt, &p.mbr) {
        (Some(_), _) => PartType::Gpt(match fs_type {
            Some(FsType::Swap) => GPT_TYPE_LINUX_SWAP,
            Some(FsType::Vfat) if esp_mount => GPT_TYPE_ESP,
            Some(FsType::Vfat) => GPT_TYPE_BASIC_DATA,
            _ => GPT_TYPE_LINUX_FS,
        }),
        (None, Some(_)) => PartType::Mbr(match fs_type {
            Some(FsType::Swap) => 0x82,
            Some(FsType::Vfat) if esp_mount => MBR_TYPE_ESP,
            Some(FsType::Vfat) => 0x0c,
            _ => 0x83,
        }),
        (None, None) => PartType::None,
    }
}

fn set_type(p: &mut Partition, kind: PartType<'_>) {
    match kind {
        PartType::Gpt(guid) => {
            if let Some(g) = &mut p.gpt {
                g.type_guid = guid.to_string();
            }
        }
        PartType::Mbr(id) => {
            if let Some(m) = &mut p.mbr {
                m.type_id = id;
            }
        }
        PartType::None => {}
    }
}

/// Lowest free number for a partition of `role`.
fn free_number(d: &Disk, role: MbrRole) -> Result<u32, EditError> {
    let used = |n: u32| d.partitions.iter().any(|p| p.number == n);
    let full = |why| EditError::TableFull {
        disk: d.path.clone(),
        why,
    };
    match (&d.table, role) {
        (PartitionTable::Gpt { .. }, _) => (1..=GPT_ENTRIES)
            .find(|&n| !used(n))
            .ok_or_else(|| full("a GPT holds 128 partitions")),
        (_, MbrRole::Logical) => {
            let last = d
                .partitions
                .iter()
                .filter(|p| p.is_logical())
                .map(|p| p.number)
                .max()
                .unwrap_or(4);
            last.checked_add(1)
                .filter(|n| *n <= MAX_PARTITION_NUMBER)
                .ok_or_else(|| full("Linux numbers logical partitions 5 to 255"))
        }
        (_, role) => {
            if let Some(ext) = d.partitions.iter().find(|p| p.is_extended()) {
                if role == MbrRole::Extended {
                    return Err(EditError::SecondExtended {
                        disk: d.path.clone(),
                        path: ext.path.clone(),
                    });
                }
            }
            (1..=4).find(|&n| !used(n)).ok_or_else(|| {
                full("an MBR holds four primary and extended partitions; add a logical partition instead")
            })
        }
    }
}

/// Where a new partition may go: free stretches of sectors, and how many sectors its
/// start must leave after the start of a stretch (1 for a logical's EBR).
#[derive(Debug)]
struct FreeSpace {
    gaps: Vec<(u64, u64)>,
    reserve: u64,
    /// The sectors a partition of this kind may use at all.
    bounds: (u64, u64),
}

fn free_space(d: &Disk, role: MbrRole) -> Result<FreeSpace, EditError> {
    let (lo, hi, taken, reserve): (u64, u64, Vec<(u64, u64)>, u64) = match (&d.table, role) {
        (
            PartitionTable::Gpt {
                first_usable_lba,
                last_usable_lba,
                ..
            },
            _,
        ) => (
            *first_usable_lba,
            last_usable_lba.saturating_add(1).min(d.sectors),
            d.partitions.iter().map(|p| (p.start, p.end())).collect(),
            0,
        ),
        (_, MbrRole::Logical) => {
            let ext = d
                .partitions
                .iter()
                .find(|p| p.is_extended())
                .ok_or_else(|| EditError::NoExtended {
                    disk: d.path.clone(),
                })?;
            // After the last logical, up to the next primary (the extended may grow).
            let lo = d
                .partitions
                .iter()
                .filter(|p| p.is_logical())
                .map(Partition::end)
                .fold(ext.start, u64::max);
            let hi = d
                .partitions
                .iter()
                .filter(|p| !p.is_logical() && !p.is_extended() && p.start >= ext.end())
                .map(|p| p.start)
                .fold(d.sectors.min(MBR_SECTOR_LIMIT), u64::min);
            (lo, hi, Vec::new(), 1)
        }
        _ => (
            1,
            d.sectors.min(MBR_SECTOR_LIMIT),
            d.partitions
                .iter()
                .filter(|p| !p.is_logical())
                .map(|p| (p.start, p.end()))
                .collect(),
            0,
        ),
    };
    let mut taken = taken;
    taken.sort_unstable();
    let mut gaps = Vec::new();
    let mut at = lo;
    for (start, end) in taken {
        if start > at {
            gaps.push((at, start.min(hi)));
        }
        at = at.max(end);
    }
    if hi > at {
        gaps.push((at, hi));
    }
    gaps.retain(|(s, e)| e > s);
    Ok(FreeSpace {
        gaps,
        reserve,
        bounds: (lo.saturating_add(reserve), hi),
    })
}

impl FreeSpace {
    fn first_fit(&self, d: &Disk, size: u64) -> Result<u64, EditError> {
        let mib = d.mib_sectors();
        let aligned = |(s, e): (u64, u64)| {
            let start = s
                .saturating_add(self.reserve)
                .checked_next_multiple_of(mib)
                .unwrap_or(u64::MAX);
            (start, e.saturating_sub(start))
        };
        let candidates = self.gaps.iter().map(|&g| aligned(g));
        if let Some((start, _)) = candidates.clone().find(|&(_, room)| room >= size) {
            return Ok(start);
        }
        let (at, room) = candidates.max_by_key(|&(_, room)| room).unwrap_or((0, 0));
        let sector = u64::from(d.logical_sector_size);
        Err(EditError::NoSpace {
            disk: d.path.clone(),
            needs: size.saturating_mul(sector),
            largest: room.saturating_mul(sector),
            at,
        })
    }

    fn check(&self, d: &Disk, start: u64, size: u64) -> Result<u64, EditError> {
        let end = start.saturating_add(size);
        let fits = self
            .gaps
            .iter()
            .any(|&(s, e)| start >= s.saturating_add(self.reserve) && end <= e);
        if fits {
            return Ok(start);
        }
        let (lo, hi) = self.bounds;
        // Name the partition in the way; a logical is in the way rather than its extended.
        let in_the_way = d
            .partitions
            .iter()
            .filter(|p| p.start < end && start < p.end())
            .min_by_key(|p| p.is_extended());
        let reason = match in_the_way {
            Some(p) => format!(
                "{} uses sectors {}-{}",
                p.path,
                p.start,
                p.end().saturating_sub(1)
            ),
            None => format!(
                "a partition of this kind must lie within sectors {lo}-{}",
                hi.saturating_sub(1)
            ),
        };
        Err(EditError::NotFree {
            disk: d.path.clone(),
            start,
            last: end.saturating_sub(1),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::super::resize::fixtures::*;
    use super::super::validate::{has_errors, validate};
    use super::*;

    #[track_caller]
    fn assert_valid(ml: &Mountlist) {
        let problems = validate(ml);
        assert!(!has_errors(&problems), "{problems:#?}");
    }

    fn part(ml: &Mountlist, number: u32) -> &Partition {
        ml.disks[0].partition(number).expect("partition")
    }

    fn new(size: &str, filesystem: Option<Filesystem>, role: MbrRole) -> NewPartition {
        NewPartition {
            start: None,
            size: size.parse().expect("size"),
            filesystem,
            role,
        }
    }

    /// End of the GPT fixture's last partition: free space starts here.
    const GPT_FREE: u64 = 513 * MIB + 18 * GIB;

    #[test]
    fn edit_moves_and_resizes() {
        let mut ml = gpt_mountlist();
        let edit = PartitionEdit {
            start: Some(GPT_FREE),
            size: Some(GIB),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 4, &edit).unwrap();
        assert_eq!((part(&ml, 4).start, part(&ml, 4).size), (GPT_FREE, GIB));
        assert_valid(&ml);
    }

    #[test]
    fn edit_errors_name_the_disk_and_partition() {
        let mut ml = gpt_mountlist();
        let e = edit_partition(&mut ml, "/dev/sdz", 1, &PartitionEdit::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no disk /dev/sdz in the mountlist; it has /dev/sda"
        );
        let e = edit_partition(&mut ml, "/dev/sda", 9, &PartitionEdit::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/sda has no partition 9; it has 1, 2, 3, 4"
        );
        let zero = PartitionEdit {
            size: Some(0),
            ..Default::default()
        };
        let e = edit_partition(&mut ml, "/dev/sda", 2, &zero).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/sda2: a partition cannot be 0 sectors long"
        );
        assert_eq!(ml, gpt_mountlist());
    }

    #[test]
    fn new_filesystem_type_drops_the_old_identity_and_the_type_follows() {
        let mut ml = gpt_mountlist();
        if let Some(f) = &mut ml.disks[0].partitions[2].filesystem {
            f.params.features = vec!["has_journal".into()];
            f.size_bytes = Some(1);
        }
        let edit = PartitionEdit {
            fs_type: Some(FsType::Swap),
            mount_point: Some(None),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &edit).unwrap();
        let p = part(&ml, 3);
        let f = p.filesystem.as_ref().unwrap();
        assert_eq!(f.fs_type, FsType::Swap);
        assert_eq!((f.uuid.as_deref(), f.size_bytes), (None, None));
        assert!(f.params.is_empty());
        assert_eq!(f.label.as_deref(), Some("home"));
        assert_eq!(p.gpt.as_ref().unwrap().type_guid, GPT_TYPE_LINUX_SWAP);
        assert_valid(&ml);

        // The same type again changes nothing.
        let before = ml.clone();
        let same = PartitionEdit {
            fs_type: Some(FsType::Swap),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &same).unwrap();
        assert_eq!(ml, before);
    }

    #[test]
    fn a_chosen_type_is_not_overridden() {
        let mut ml = msdos_mountlist();
        // 0x8e is not the default of ext4: it stays when the filesystem changes.
        ml.disks[0].partitions[2].mbr.as_mut().unwrap().type_id = 0x8e;
        let to_xfs = PartitionEdit {
            fs_type: Some(FsType::Xfs),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 5, &to_xfs).unwrap();
        assert_eq!(part(&ml, 5).mbr.as_ref().unwrap().type_id, 0x8e);

        let mut ml = gpt_mountlist();
        let both = PartitionEdit {
            fs_type: Some(FsType::Swap),
            type_guid: Some("933AC7E1-2EB4-4F13-B844-0E14E2AEF915".into()),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &both).unwrap();
        assert_eq!(
            part(&ml, 3).gpt.as_ref().unwrap().type_guid,
            "933ac7e1-2eb4-4f13-b844-0e14e2aef915"
        );
    }

    #[test]
    fn filesystem_type_creates_a_filesystem() {
        let mut ml = gpt_mountlist();
        ml.disks[0].partitions[2].filesystem = None;
        let edit = PartitionEdit {
            fs_type: Some(FsType::Xfs),
            mount_point: Some(Some("/srv".into())),
            label: Some(Some("srv".into())),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &edit).unwrap();
        let f = part(&ml, 3).filesystem.as_ref().unwrap();
        assert_eq!(f.fs_type, FsType::Xfs);
        assert_eq!(f.mount_point.as_deref(), Some("/srv"));
        assert_eq!(f.label.as_deref(), Some("srv"));
        assert_valid(&ml);
    }

    #[test]
    fn mount_points_are_normalised_and_dot_dot_refused() {
        let mut ml = gpt_mountlist();
        let edit = PartitionEdit {
            mount_point: Some(Some("//srv/./data/".into())),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &edit).unwrap();
        let f = part(&ml, 3).filesystem.as_ref().unwrap();
        assert_eq!(f.mount_point.as_deref(), Some("/srv/data"));
        assert_valid(&ml);

        let before = ml.clone();
        let edit = PartitionEdit {
            mount_point: Some(Some("/srv/../../etc".into())),
            ..Default::default()
        };
        let e = edit_partition(&mut ml, "/dev/sda", 3, &edit).unwrap_err();
        assert!(matches!(e, EditError::MountPoint { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("/dev/sda3: mount point \"/srv/../../etc\" has a \"..\""),
            "{e}"
        );
        assert_eq!(ml, before);
    }

    #[test]
    fn mount_point_or_label_needs_a_filesystem() {
        let mut ml = gpt_mountlist();
        ml.disks[0].partitions[2].filesystem = None;
        let before = ml.clone();
        for edit in [
            PartitionEdit {
                mount_point: Some(Some("/home".into())),
                ..Default::default()
            },
            PartitionEdit {
                label: Some(None),
                ..Default::default()
            },
        ] {
            let e = edit_partition(&mut ml, "/dev/sda", 3, &edit).unwrap_err();
            assert_eq!(
                e.to_string(),
                "/dev/sda3: partition has no filesystem: set a filesystem type first"
            );
        }
        assert_eq!(ml, before);
    }

    #[test]
    fn mount_point_moves_the_fstab_entry_and_clearing_drops_it() {
        let mut ml = gpt_mountlist();
        ml.disks[0].partitions[2].filesystem.as_mut().unwrap().fstab = Some(FstabRef {
            spec: "LABEL=home".into(),
            kind: FstabSpecKind::Label,
            mount_point: "/home".into(),
            fs_type: "ext4".into(),
            options: "defaults".into(),
            dump: 0,
            pass: 2,
        });
        let to_srv = PartitionEdit {
            mount_point: Some(Some("/srv".into())),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &to_srv).unwrap();
        let f = part(&ml, 3).filesystem.as_ref().unwrap();
        assert_eq!(f.fstab.as_ref().unwrap().mount_point, "/srv");
        assert_eq!(f.target_mount_point(), Some("/srv"));

        let clear = PartitionEdit {
            mount_point: Some(None),
            label: Some(None),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 3, &clear).unwrap();
        let f = part(&ml, 3).filesystem.as_ref().unwrap();
        assert_eq!(
            (f.target_mount_point(), f.fstab.as_ref(), f.label.as_ref()),
            (None, None, None)
        );
    }

    #[test]
    fn vfat_on_boot_efi_becomes_the_esp() {
        let mut ml = gpt_mountlist();
        ml.boot.esp = None;
        delete_partition(&mut ml, "/dev/sda", 1).unwrap();
        let edit = PartitionEdit {
            fs_type: Some(FsType::Vfat),
            mount_point: Some(Some("/boot/efi".into())),
            label: Some(None),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 4, &edit).unwrap();
        assert!(part(&ml, 4).is_esp());
        assert_eq!(ml.boot.esp.as_deref(), Some("/dev/sda4"));
        assert_valid(&ml);
    }

    #[test]
    fn table_specific_fields() {
        let mut ml = msdos_mountlist();
        let name = PartitionEdit {
            gpt_name: Some("root".into()),
            ..Default::default()
        };
        let e = edit_partition(&mut ml, "/dev/sda", 1, &name).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/dev/sda1 is on a msdos disk, which has no GPT entry"),
            "{e}"
        );

        let mut gml = gpt_mountlist();
        let mbr = PartitionEdit {
            mbr_type: Some(0x83),
            ..Default::default()
        };
        let e = edit_partition(&mut gml, "/dev/sda", 2, &mbr).unwrap_err();
        assert!(
            e.to_string().contains("gpt disk, which has no MBR type id"),
            "{e}"
        );

        let long = PartitionEdit {
            gpt_name: Some("x".repeat(37)),
            ..Default::default()
        };
        let e = edit_partition(&mut gml, "/dev/sda", 2, &long).unwrap_err();
        assert!(e.to_string().contains("longer than 36"), "{e}");
        let ok = PartitionEdit {
            gpt_name: Some("x".repeat(36)),
            ..Default::default()
        };
        edit_partition(&mut gml, "/dev/sda", 2, &ok).unwrap();
        assert_eq!(part(&gml, 2).gpt.as_ref().unwrap().name.len(), 36);
    }

    #[test]
    fn type_guid_must_be_a_guid() {
        let mut ml = gpt_mountlist();
        for bad in [
            "",
            "linux",
            "0fc63daf-8483-4772-8e79-3d69d8477de",
            "0fc63daf_8483-4772-8e79-3d69d8477de4",
            "0fc63daf-8483-4772-8e79-3d69d8477dg4",
        ] {
            let edit = PartitionEdit {
                type_guid: Some(bad.into()),
                ..Default::default()
            };
            let e = edit_partition(&mut ml, "/dev/sda", 2, &edit).unwrap_err();
            assert!(matches!(e, EditError::BadGuid { .. }), "{bad}: {e}");
        }
        assert_eq!(ml, gpt_mountlist());
    }

    #[test]
    fn mbr_type_cannot_make_or_unmake_an_extended_partition() {
        let mut ml = msdos_mountlist();
        for (number, type_id) in [(1, 0x05), (2, 0x83), (5, 0x0f)] {
            let edit = PartitionEdit {
                mbr_type: Some(type_id),
                ..Default::default()
            };
            let e = edit_partition(&mut ml, "/dev/sda", number, &edit).unwrap_err();
            assert!(e.to_string().contains("extended partition only"), "{e}");
        }
        let ext = PartitionEdit {
            mbr_type: Some(0x0f),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 2, &ext).unwrap();
        assert_eq!(part(&ml, 2).mbr.as_ref().unwrap().type_id, 0x0f);
        assert_valid(&ml);
    }

    #[test]
    fn bootable_flag() {
        let mut ml = msdos_mountlist();
        let off = PartitionEdit {
            bootable: Some(false),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 1, &off).unwrap();
        assert!(!part(&ml, 1).mbr.as_ref().unwrap().bootable);

        let mut ml = gpt_mountlist();
        let on = PartitionEdit {
            bootable: Some(true),
            ..Default::default()
        };
        edit_partition(&mut ml, "/dev/sda", 2, &on).unwrap();
        assert_eq!(part(&ml, 2).gpt.as_ref().unwrap().attributes, 4);
        edit_partition(&mut ml, "/dev/sda", 2, &off).unwrap();
        assert_eq!(part(&ml, 2).gpt.as_ref().unwrap().attributes, 0);
    }

    #[test]
    fn filesystem_on_extended_is_refused() {
        let mut ml = msdos_mountlist();
        let edit = PartitionEdit {
            fs_type: Some(FsType::Ext4),
            ..Default::default()
        };
        let e = edit_partition(&mut ml, "/dev/sda", 2, &edit).unwrap_err();
        assert!(
            e.to_string()
                .contains("holds logical partitions, not a filesystem"),
            "{e}"
        );
        let e = add_partition(
            &mut ml,
            "/dev/sda",
            new("1g", Some(fs(FsType::Ext4, None, None)), MbrRole::Extended),
        )
        .unwrap_err();
        assert!(matches!(e, EditError::FilesystemOnExtended { .. }), "{e}");
    }

    #[test]
    fn add_gpt_takes_the_first_free_aligned_space_and_types_follow() {
        let mut ml = gpt_mountlist();
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new(
                "1g",
                Some(fs(FsType::Xfs, Some("/srv"), None)),
                MbrRole::Logical,
            ),
        )
        .unwrap();
        assert_eq!(n, 5);
        let p = part(&ml, 5);
        assert_eq!(
            (p.path.as_str(), p.start, p.size),
            ("/dev/sda5", GPT_FREE, GIB)
        );
        let g = p.gpt.as_ref().unwrap();
        assert_eq!(
            (g.type_guid.as_str(), g.unique_guid.as_str()),
            (GPT_TYPE_LINUX_FS, "")
        );
        assert!(p.mbr.is_none(), "the role is ignored on gpt");

        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new("64m", Some(fs(FsType::Swap, None, None)), MbrRole::Primary),
        )
        .unwrap();
        assert_eq!(
            part(&ml, n).gpt.as_ref().unwrap().type_guid,
            GPT_TYPE_LINUX_SWAP
        );
        assert_eq!(part(&ml, n).start, GPT_FREE + GIB);
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new(
                "64m",
                Some(fs(FsType::Vfat, Some("/data"), None)),
                MbrRole::Primary,
            ),
        )
        .unwrap();
        assert_eq!(
            part(&ml, n).gpt.as_ref().unwrap().type_guid,
            GPT_TYPE_BASIC_DATA
        );
        let n = add_partition(&mut ml, "/dev/sda", new("64m", None, MbrRole::Primary)).unwrap();
        assert_eq!(
            part(&ml, n).gpt.as_ref().unwrap().type_guid,
            GPT_TYPE_LINUX_FS
        );
        assert_valid(&ml);
        assert!(validate(&ml).is_empty(), "{:#?}", validate(&ml));
    }

    #[test]
    fn add_takes_the_lowest_free_number_and_a_gap_between() {
        let mut ml = gpt_mountlist();
        delete_partition(&mut ml, "/dev/sda", 3).unwrap();
        let n = add_partition(&mut ml, "/dev/sda", new("1g", None, MbrRole::Primary)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(part(&ml, 3).start, 513 * MIB + 8 * GIB);
        let numbers: Vec<u32> = ml.disks[0].partitions.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
    }

    #[test]
    fn add_an_esp_sets_boot_esp() {
        let mut ml = gpt_mountlist();
        delete_partition(&mut ml, "/dev/sda", 1).unwrap();
        assert_eq!(ml.boot.esp, None);
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new(
                "256m",
                Some(fs(FsType::Vfat, Some("/efi"), None)),
                MbrRole::Primary,
            ),
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(part(&ml, 1).start, MIB);
        assert!(part(&ml, 1).is_esp());
        assert_eq!(ml.boot.esp.as_deref(), Some("/dev/sda1"));
        assert_valid(&ml);
    }

    #[test]
    fn add_percent_of_the_disk() {
        let mut ml = gpt_mountlist();
        let n = add_partition(&mut ml, "/dev/sda", new("5%", None, MbrRole::Primary)).unwrap();
        assert_eq!(part(&ml, n).size, GIB);
        let n = add_partition(&mut ml, "/dev/sda", new("2048s", None, MbrRole::Primary)).unwrap();
        assert_eq!(part(&ml, n).size, 2048);
    }

    #[test]
    fn add_too_large_says_what_is_free() {
        let mut ml = gpt_mountlist();
        let e = add_partition(&mut ml, "/dev/sda", new("2g", None, MbrRole::Primary)).unwrap_err();
        let free = 20 * GIB - 33 - GPT_FREE;
        assert_eq!(
            e,
            EditError::NoSpace {
                disk: "/dev/sda".into(),
                needs: 2 << 30,
                largest: free * 512,
                at: GPT_FREE
            }
        );
        assert_eq!(e.to_string(), "/dev/sda: the new partition needs 2G but the largest free space is 1.5G at sector 38799360");
        assert_eq!(ml, gpt_mountlist());

        // A 1-byte partition takes a sector at the start of the free space (1 MiB less).
        assert_eq!(
            add_partition(&mut ml, "/dev/sda", new("1", None, MbrRole::Primary)),
            Ok(5)
        );
        let e =
            add_partition(&mut ml, "/dev/sda", new("1.5g", None, MbrRole::Primary)).unwrap_err();
        assert!(
            e.to_string()
                .contains("largest free space is 1.5G at sector 38801408"),
            "{e}"
        );
    }

    #[test]
    fn add_with_a_start() {
        let mut ml = gpt_mountlist();
        let at = GPT_FREE + 10 * MIB;
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            NewPartition {
                start: Some(at),
                ..new("100m", None, MbrRole::Primary)
            },
        )
        .unwrap();
        assert_eq!(part(&ml, n).start, at);

        let e = add_partition(
            &mut ml,
            "/dev/sda",
            NewPartition {
                start: Some(GPT_FREE - MIB),
                ..new("100m", None, MbrRole::Primary)
            },
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("are not free: /dev/sda4 uses sectors"),
            "{e}"
        );
        let e = add_partition(
            &mut ml,
            "/dev/sda",
            NewPartition {
                start: Some(20 * GIB - 40),
                ..new("1m", None, MbrRole::Primary)
            },
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("must lie within sectors 34-{}", 20 * GIB - 34)),
            "{e}"
        );
    }

    #[test]
    fn add_errors() {
        let mut ml = gpt_mountlist();
        ml.disks.push(whole_disk("/dev/sdb"));
        let e = add_partition(&mut ml, "/dev/sdb", new("1g", None, MbrRole::Primary)).unwrap_err();
        assert_eq!(e.to_string(), "/dev/sdb has no partition table: give it a gpt or msdos table before adding partitions");
        let e = add_partition(&mut ml, "/dev/sdq", new("1g", None, MbrRole::Primary)).unwrap_err();
        assert!(e.to_string().contains("it has /dev/sda, /dev/sdb"), "{e}");
        let e = add_partition(&mut ml, "/dev/sda", new("0", None, MbrRole::Primary)).unwrap_err();
        assert!(matches!(e, EditError::ZeroSize { .. }), "{e}");

        // Swap to the last usable sector: only the unaligned sectors before the ESP are free.
        let swap = &mut ml.disks[0].partitions[3];
        swap.size = 20 * GIB - 33 - swap.start;
        let e = add_partition(&mut ml, "/dev/sda", new("1m", None, MbrRole::Primary)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/sda: the new partition needs 1M but there is no free space"
        );
    }

    #[test]
    fn add_msdos_primary_then_the_table_is_full() {
        let mut ml = msdos_mountlist();
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new(
                "1g",
                Some(fs(FsType::Vfat, Some("/boot/efi"), None)),
                MbrRole::Primary,
            ),
        )
        .unwrap();
        assert_eq!(n, 3);
        let p = part(&ml, 3);
        let m = p.mbr.as_ref().unwrap();
        assert_eq!((m.type_id, m.role), (0xef, MbrRole::Primary));
        assert!(p.gpt.is_none());
        // After the extended partition, which ends at 7 GiB + 3 MiB.
        assert_eq!(p.start, 7 * GIB + 3 * MIB);
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new("1g", Some(fs(FsType::Vfat, None, None)), MbrRole::Primary),
        )
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(part(&ml, 4).mbr.as_ref().unwrap().type_id, 0x0c);
        assert_valid(&ml);
        let e = add_partition(&mut ml, "/dev/sda", new("1m", None, MbrRole::Primary)).unwrap_err();
        assert!(e.to_string().contains("four primary and extended"), "{e}");
    }

    #[test]
    fn add_msdos_logical_after_the_last_and_the_extended_grows() {
        let mut ml = msdos_mountlist();
        let ext_end = part(&ml, 2).end();
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new("512m", Some(fs(FsType::Swap, None, None)), MbrRole::Logical),
        )
        .unwrap();
        assert_eq!(n, 7);
        let p = part(&ml, 7);
        assert_eq!(p.path, "/dev/sda7");
        assert_eq!(p.start, ext_end + MIB, "1 MiB on, leaving room for the EBR");
        assert_eq!(p.mbr.as_ref().unwrap().type_id, 0x82);
        assert_eq!(part(&ml, 2).end(), p.end());
        assert_valid(&ml);

        // A primary placed after the extended stops it growing further.
        let n = add_partition(&mut ml, "/dev/sda", new("1g", None, MbrRole::Primary)).unwrap();
        let primary_start = part(&ml, n).start;
        let e = add_partition(
            &mut ml,
            "/dev/sda",
            NewPartition {
                start: Some(primary_start),
                ..new("1m", None, MbrRole::Logical)
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("/dev/sda3 uses sectors"), "{e}");
    }

    #[test]
    fn add_msdos_extended_and_logical_rules() {
        let mut ml = msdos_mountlist();
        let e = add_partition(&mut ml, "/dev/sda", new("1g", None, MbrRole::Extended)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/sda already has an extended partition (/dev/sda2): an MBR disk holds one"
        );

        let mut ml = mountlist(BootMode::Bios, None, vec![msdos_disk("/dev/sda")]);
        ml.disks[0].partitions.truncate(1);
        let e = add_partition(&mut ml, "/dev/sda", new("1g", None, MbrRole::Logical)).unwrap_err();
        assert!(matches!(e, EditError::NoExtended { .. }), "{e}");
        let n = add_partition(&mut ml, "/dev/sda", new("3g", None, MbrRole::Extended)).unwrap();
        assert_eq!(n, 2);
        let ext = part(&ml, 2).clone();
        assert_eq!(ext.mbr.as_ref().unwrap().type_id, 0x05);
        let n = add_partition(
            &mut ml,
            "/dev/sda",
            new(
                "1g",
                Some(fs(FsType::Ext4, Some("/home"), None)),
                MbrRole::Logical,
            ),
        )
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(part(&ml, 5).start, ext.start + MIB);
        assert_eq!(part(&ml, 2).size, ext.size, "the extended had room");
        assert_valid(&ml);
    }

    #[test]
    fn delete_returns_the_partition_and_clears_the_esp() {
        let mut ml = gpt_mountlist();
        let removed = delete_partition(&mut ml, "/dev/sda", 1).unwrap();
        assert_eq!(removed.path, "/dev/sda1");
        assert_eq!(ml.boot.esp, None);
        assert_eq!(ml.disks[0].partitions.len(), 3);
        // Numbers on GPT stay as they are.
        assert_eq!(part(&ml, 2).path, "/dev/sda2");
        let e = delete_partition(&mut ml, "/dev/sda", 1).unwrap_err();
        assert_eq!(e.to_string(), "/dev/sda has no partition 1; it has 2, 3, 4");
    }

    #[test]
    fn delete_extended_with_logicals_is_refused() {
        let mut ml = msdos_mountlist();
        let e = delete_partition(&mut ml, "/dev/sda", 2).unwrap_err();
        assert_eq!(e.to_string(), "/dev/sda2 is an extended partition that still holds /dev/sda5, /dev/sda6: delete those first");
        assert_eq!(ml, msdos_mountlist());
        delete_partition(&mut ml, "/dev/sda", 5).unwrap();
        delete_partition(&mut ml, "/dev/sda", 5).unwrap();
        delete_partition(&mut ml, "/dev/sda", 2).unwrap();
        assert_eq!(ml.disks[0].partitions.len(), 1);
        assert_valid(&ml);
    }

    #[test]
    fn delete_a_logical_renumbers_the_later_ones() {
        let mut ml = msdos_mountlist();
        ml.boot.esp = Some("/dev/sda6".into());
        let removed = delete_partition(&mut ml, "/dev/sda", 5).unwrap();
        assert_eq!(
            removed.filesystem.unwrap().mount_point.as_deref(),
            Some("/home")
        );
        let p = part(&ml, 5);
        assert_eq!(p.path, "/dev/sda5");
        assert_eq!(p.filesystem.as_ref().unwrap().fs_type, FsType::Swap);
        assert!(ml.disks[0].partition(6).is_none());
        assert_eq!(ml.boot.esp.as_deref(), Some("/dev/sda5"));
    }
}
