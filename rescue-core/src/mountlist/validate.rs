//! Checks a mountlist before a restore acts on it, reporting every problem at once so the
//! user can fix them all in one pass.
//!
//! The mountlist comes from a medium, so every number in it is bounded here before the
//! restore uses it, and the checks sort and count rather than compare every pair: a list
//! of 200,000 partitions is refused in milliseconds.

use super::mkfs_minimum::mkfs_minimum;
use super::model::{
    is_extended_type, Disk, Filesystem, FsType, MbrRole, Mountlist, Partition, PartitionTable,
    GPT_ENTRIES, MAX_DISK_BYTES, MAX_PARTITION_NUMBER, MBR_SECTOR_LIMIT, SECTOR_SIZES,
};
use super::mount_point::{MountPoint, MountPointError};
use crate::size::format_bytes;
use std::collections::{HashMap, HashSet};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The restore cannot go ahead.
    Error,
    /// The restore can go ahead, but the result may not be what the user wants.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Where a problem is, so a user interface can point at the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Mountlist,
    Disk {
        disk: String,
    },
    Partition {
        disk: String,
        number: u32,
        path: String,
    },
    /// A filesystem, by the device that holds it (a partition or a whole disk).
    Filesystem {
        device: String,
    },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Mountlist => f.write_str("mountlist"),
            Place::Disk { disk } => f.write_str(disk),
            Place::Partition { path, .. } => f.write_str(path),
            Place::Filesystem { device } => f.write_str(device),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub place: Place,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

pub fn has_errors(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

/// Every problem of the mountlist, errors and warnings, in the order of the mountlist.
pub fn validate(ml: &Mountlist) -> Vec<Problem> {
    let mut r = Report::default();
    duplicate_disks(ml, &mut r);
    for disk in &ml.disks {
        check_disk(disk, &mut r);
    }
    check_filesystems(ml, &mut r);
    check_boot(ml, &mut r);
    r.0
}

#[derive(Default)]
struct Report(Vec<Problem>);

impl Report {
    fn error(&mut self, place: Place, message: String) {
        self.push(Severity::Error, place, message);
    }

    fn warning(&mut self, place: Place, message: String) {
        self.push(Severity::Warning, place, message);
    }

    fn push(&mut self, severity: Severity, place: Place, message: String) {
        self.0.push(Problem {
            severity,
            place,
            message,
        });
    }
}

fn disk_place(disk: &Disk) -> Place {
    Place::Disk {
        disk: disk.path.clone(),
    }
}

fn part_place(disk: &Disk, p: &Partition) -> Place {
    Place::Partition {
        disk: disk.path.clone(),
        number: p.number,
        path: p.path.clone(),
    }
}

/// "sectors 2048-4095": inclusive, as fdisk shows them.
fn range(p: &Partition) -> String {
    let last = u128::from(p.start) + u128::from(p.size);
    format!("sectors {}-{}", p.start, last.saturating_sub(1))
}

/// Each value of `keys` that occurs more than once, in the order it first occurs.
fn repeated<K: Eq + std::hash::Hash + Copy>(keys: impl Iterator<Item = K> + Clone) -> Vec<K> {
    let mut count: HashMap<K, usize> = HashMap::new();
    for k in keys.clone() {
        *count.entry(k).or_default() += 1;
    }
    let mut seen = HashSet::new();
    keys.filter(|k| count[k] > 1 && seen.insert(*k)).collect()
}

fn duplicate_disks(ml: &Mountlist, r: &mut Report) {
    let paths = ml.disks.iter().map(|d| d.path.as_str());
    for path in repeated(paths.clone()) {
        let count = paths.clone().filter(|p| *p == path).count();
        r.error(
            Place::Disk {
                disk: path.to_string(),
            },
            format!("disk is listed {count} times: each disk may appear once"),
        );
    }
}

fn check_disk(disk: &Disk, r: &mut Report) {
    let sizes_ok = check_sector_sizes(disk, r);
    check_disk_size(disk, r);
    if disk.table != PartitionTable::None && disk.filesystem.is_some() {
        r.error(
            disk_place(disk),
            format!(
                "disk has a {} partition table and also a whole-disk filesystem: keep only one",
                disk.table.name()
            ),
        );
    }
    let (usable, most) = match &disk.table {
        PartitionTable::None => (None, 0),
        PartitionTable::Gpt { .. } => (gpt_usable(disk, r), GPT_ENTRIES as usize),
        PartitionTable::Msdos { .. } => (
            Some((1, disk.sectors.saturating_sub(1), "the MBR in sector 0")),
            MAX_PARTITION_NUMBER as usize,
        ),
    };
    // Past what the table holds, each partition's problems would only bury this one.
    if disk.partitions.len() > most {
        r.error(disk_place(disk), too_many_partitions(disk));
        return;
    }

    for number in repeated(disk.partitions.iter().map(|p| p.number)) {
        r.error(
            disk_place(disk),
            format!("partition number {number} is used more than once"),
        );
    }
    for p in &disk.partitions {
        if p.size == 0 {
            r.error(
                part_place(disk, p),
                "partition has a size of 0 sectors".to_string(),
            );
        }
        if let Some((first, last, what)) = usable {
            check_bounds(disk, p, first, last, what, r);
        }
        check_entry(disk, p, r);
        if sizes_ok && !p.is_extended() && p.size > 0 {
            check_alignment(disk, p, r);
        }
    }
    check_overlaps(disk, r);
    if matches!(disk.table, PartitionTable::Msdos { .. }) {
        check_msdos(disk, r);
    }
}

fn too_many_partitions(disk: &Disk) -> String {
    let n = disk.partitions.len();
    match disk.table {
        PartitionTable::None => {
            format!("disk has no partition table but lists {n} partitions: set table gpt or msdos")
        }
        PartitionTable::Gpt { .. } => format!(
            "disk lists {n} partitions but a GPT holds at most {GPT_ENTRIES} (numbered 1 to \
             {GPT_ENTRIES})"
        ),
        PartitionTable::Msdos { .. } => format!(
            "disk lists {n} partitions but an msdos disk holds at most {MAX_PARTITION_NUMBER} \
             (4 primary or extended, logical ones numbered 5 to {MAX_PARTITION_NUMBER})"
        ),
    }
}

/// Powers of two, as Linux block devices have them; false when alignment can't be judged.
fn check_sector_sizes(disk: &Disk, r: &mut Report) -> bool {
    let lss = disk.logical_sector_size;
    let pss = disk.physical_sector_size;
    if !(lss.is_power_of_two() && pss.is_power_of_two() && pss >= lss) {
        r.error(
            disk_place(disk),
            format!(
                "sector sizes {lss} (logical) and {pss} (physical) are not powers of two with \
                 the physical at least the logical, such as 512 and 4096"
            ),
        );
        return false;
    }
    if !SECTOR_SIZES.contains(&lss) {
        r.error(
            disk_place(disk),
            format!(
                "logical sector size {lss} is outside {} to {} bytes, the sizes Linux block \
                 devices have",
                SECTOR_SIZES.start(),
                SECTOR_SIZES.end()
            ),
        );
        return false;
    }
    true
}

fn check_disk_size(disk: &Disk, r: &mut Report) {
    if disk.sectors == 0 {
        r.error(
            disk_place(disk),
            "disk has 0 sectors: its size is given in logical sectors".to_string(),
        );
        return;
    }
    let bytes = u128::from(disk.sectors) * u128::from(disk.logical_sector_size);
    if bytes > u128::from(MAX_DISK_BYTES) {
        r.error(
            disk_place(disk),
            format!(
                "disk of {} sectors of {} bytes is {bytes} bytes, more than Linux addresses \
                 ({MAX_DISK_BYTES} bytes, 8 EiB): its size is wrong",
                disk.sectors, disk.logical_sector_size
            ),
        );
    }
}

/// The sectors partitions may use on a GPT disk: the recorded usable area, within what
/// the restore's GPT (128 entries, copies at both ends) leaves.
fn gpt_usable(disk: &Disk, r: &mut Report) -> Option<(u64, u64, &'static str)> {
    let PartitionTable::Gpt {
        first_usable_lba,
        last_usable_lba,
        ..
    } = disk.table
    else {
        return None;
    };
    if first_usable_lba > last_usable_lba || last_usable_lba >= disk.sectors {
        r.error(
            disk_place(disk),
            format!(
                "GPT usable sectors {first_usable_lba}-{last_usable_lba} do not fit a disk of {} sectors",
                disk.sectors
            ),
        );
    }
    let Some((first, last)) = disk.gpt_area() else {
        r.error(
            disk_place(disk),
            format!(
                "disk of {} sectors is too small for a GPT: its header and {GPT_ENTRIES} \
                 entries, at the start and again at the end, leave no sector for partitions",
                disk.sectors
            ),
        );
        return None;
    };
    Some((
        first_usable_lba.max(first),
        last_usable_lba.min(last),
        "the GPT header and entries",
    ))
}

fn check_bounds(disk: &Disk, p: &Partition, first: u64, last: u64, what: &str, r: &mut Report) {
    if p.start < first {
        r.error(
            part_place(disk, p),
            format!(
                "partition starts at sector {}, before the first usable sector {first} ({what} come first)",
                p.start
            ),
        );
    }
    let end = u128::from(p.start) + u128::from(p.size);
    let limit = u128::from(last) + 1;
    if p.size > 0 && end > limit {
        r.error(
            part_place(disk, p),
            format!(
                "partition ({}) ends {} sectors past the end of its disk (last usable sector {last})",
                range(p),
                end - limit
            ),
        );
    }
}

/// The table entry matches the table, and the MBR role matches the MBR type.
fn check_entry(disk: &Disk, p: &Partition, r: &mut Report) {
    let place = || part_place(disk, p);
    match disk.table {
        PartitionTable::Gpt { .. } => {
            if p.gpt.is_none() {
                r.error(
                    place(),
                    "partition on a GPT disk has no gpt entry".to_string(),
                );
            }
            if p.mbr.is_some() {
                r.error(
                    place(),
                    "partition on a GPT disk has an mbr entry: remove it".to_string(),
                );
            }
            if p.number > GPT_ENTRIES {
                r.error(
                    place(),
                    format!(
                        "partition number {}: a GPT holds entries 1 to {GPT_ENTRIES}",
                        p.number
                    ),
                );
            }
        }
        PartitionTable::Msdos { .. } => {
            if p.mbr.is_none() {
                r.error(
                    place(),
                    "partition on an msdos disk has no mbr entry".to_string(),
                );
            }
            if p.gpt.is_some() {
                r.error(
                    place(),
                    "partition on an msdos disk has a gpt entry: remove it".to_string(),
                );
            }
        }
        PartitionTable::None => {}
    }
    if p.number == 0 {
        r.error(
            place(),
            "partition number 0: partitions are numbered from 1".to_string(),
        );
    }
    if let Some(m) = &p.mbr {
        let extended_type = is_extended_type(m.type_id);
        if extended_type != (m.role == MbrRole::Extended) {
            r.error(
                place(),
                format!(
                    "MBR type 0x{:02x} does not match the {} role: extended partitions, and only \
                     they, have type 0x05, 0x0f or 0x85",
                    m.type_id,
                    role_name(m.role)
                ),
            );
        }
    }
}

fn role_name(role: MbrRole) -> &'static str {
    match role {
        MbrRole::Primary => "primary",
        MbrRole::Extended => "extended",
        MbrRole::Logical => "logical",
    }
}

fn check_alignment(disk: &Disk, p: &Partition, r: &mut Report) {
    const MIB: u128 = 1024 * 1024;
    let start_bytes = u128::from(p.start) * u128::from(disk.logical_sector_size);
    let physical = u128::from(disk.physical_sector_size);
    // The old DOS layout put the first partition at sector 63; it only costs speed on
    // 512-byte disks.
    let legacy = p.start == 63 && disk.logical_sector_size == 512;
    if start_bytes % physical != 0 {
        r.error(
            part_place(disk, p),
            format!(
                "partition starts at byte {start_bytes} (sector {}), not on a {physical}-byte \
                 physical sector: start it on a multiple of 1 MiB",
                p.start
            ),
        );
    } else if start_bytes % MIB != 0 && !legacy {
        r.warning(
            part_place(disk, p),
            format!(
                "partition starts at sector {}, not on a 1 MiB boundary (a multiple of {} sectors)",
                p.start,
                disk.mib_sectors()
            ),
        );
    }
}

/// Which partitions may overlap: logicals lie inside their extended partition by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Extended,
    Logical,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Plain, Kind::Extended, Kind::Logical];

    fn of(p: &Partition) -> Kind {
        if p.is_extended() {
            Kind::Extended
        } else if p.is_logical() {
            Kind::Logical
        } else {
            Kind::Plain
        }
    }

    fn nests_with(self, other: Kind) -> bool {
        matches!(
            (self, other),
            (Kind::Extended, Kind::Logical) | (Kind::Logical, Kind::Extended)
        )
    }
}

/// In order of start, each partition against the one of each kind before it that reaches
/// furthest: if that one ends before it starts, all the others do too.
fn check_overlaps(disk: &Disk, r: &mut Report) {
    let mut parts: Vec<&Partition> = disk.partitions.iter().filter(|p| p.size > 0).collect();
    parts.sort_by_key(|p| (p.start, p.number));
    let mut furthest: [Option<&Partition>; 3] = [None; 3];
    for b in parts {
        let kind = Kind::of(b);
        for (i, a) in furthest.iter().enumerate() {
            let Some(a) = a else { continue };
            if !Kind::ALL[i].nests_with(kind) && a.end() > b.start {
                r.error(
                    part_place(disk, b),
                    format!(
                        "partition {} ({}) overlaps {} ({})",
                        b.path,
                        range(b),
                        a.path,
                        range(a)
                    ),
                );
            }
        }
        let slot = &mut furthest[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)];
        if slot.is_none_or(|a| a.end() < b.end()) {
            *slot = Some(b);
        }
    }
}

fn check_msdos(disk: &Disk, r: &mut Report) {
    let extended: Vec<&Partition> = disk.partitions.iter().filter(|p| p.is_extended()).collect();
    for extra in extended.iter().skip(1) {
        r.error(
            part_place(disk, extra),
            format!(
                "a second extended partition ({} is the first): an MBR disk holds at most one",
                extended[0].path
            ),
        );
    }
    for p in &disk.partitions {
        let place = || part_place(disk, p);
        let Some(m) = &p.mbr else { continue };
        match m.role {
            MbrRole::Primary | MbrRole::Extended if !(1..=4).contains(&p.number) => r.error(
                place(),
                format!(
                    "{} partition numbered {}: primary and extended partitions are numbered 1-4",
                    role_name(m.role),
                    p.number
                ),
            ),
            MbrRole::Logical if p.number < 5 => r.error(
                place(),
                format!(
                    "logical partition numbered {}: logical partitions are numbered from 5",
                    p.number
                ),
            ),
            MbrRole::Logical if p.number > MAX_PARTITION_NUMBER => r.error(
                place(),
                format!(
                    "logical partition numbered {}: Linux numbers partitions up to \
                     {MAX_PARTITION_NUMBER}",
                    p.number
                ),
            ),
            _ => {}
        }
        if m.role == MbrRole::Logical {
            match extended.first() {
                None => r.error(
                    place(),
                    "logical partition but the disk has no extended partition to hold it"
                        .to_string(),
                ),
                // The EBR comes before the logical, so it can't start where the extended does.
                Some(ext) if p.start <= ext.start || p.end() > ext.end() => r.error(
                    place(),
                    format!(
                        "logical partition ({}) is not inside the extended partition {} ({})",
                        range(p),
                        ext.path,
                        range(ext)
                    ),
                ),
                Some(_) => {}
            }
        }
        if u128::from(p.start) + u128::from(p.size) > u128::from(MBR_SECTOR_LIMIT) {
            r.error(
                place(),
                format!(
                    "partition ({}) reaches past sector 2^32, the most an MBR can address \
                     (2 TiB at 512 bytes a sector): use a GPT disk",
                    range(p)
                ),
            );
        }
    }
}

/// The longest label, in bytes, that each filesystem type stores.
fn label_limit(fs_type: &FsType) -> Option<usize> {
    match fs_type {
        FsType::Ext2 | FsType::Ext3 | FsType::Ext4 | FsType::Swap => Some(16),
        FsType::Xfs => Some(12),
        FsType::Vfat => Some(11),
        FsType::Btrfs => Some(255),
        FsType::Other(_) => None,
    }
}

/// A filesystem with the device that holds it and that device's size in bytes.
struct Held<'a> {
    device: &'a str,
    /// "partition" or "disk", for messages.
    holder: &'static str,
    bytes: u128,
    fs: &'a Filesystem,
}

/// Every filesystem in the order of [`Mountlist::filesystems`], with its device's size.
fn held_filesystems(ml: &Mountlist) -> impl Iterator<Item = Held<'_>> {
    ml.disks.iter().flat_map(|d| {
        let sector = u128::from(d.logical_sector_size);
        let whole = d.filesystem.as_ref().map(|fs| Held {
            device: &d.path,
            holder: "disk",
            bytes: u128::from(d.sectors) * sector,
            fs,
        });
        let parts = d.partitions.iter().filter_map(move |p| {
            Some(Held {
                device: &p.path,
                holder: "partition",
                bytes: u128::from(p.size) * sector,
                fs: p.filesystem.as_ref()?,
            })
        });
        whole.into_iter().chain(parts)
    })
}

fn check_filesystems(ml: &Mountlist, r: &mut Report) {
    let mut mounts: HashMap<MountPoint, &str> = HashMap::new();
    let mut uuids: HashMap<&str, &str> = HashMap::new();
    let mut has_root = false;
    for held in held_filesystems(ml) {
        let (device, fs) = (held.device, held.fs);
        let place = || Place::Filesystem {
            device: device.to_string(),
        };
        if fs.fs_type.mkfs_program().is_none() {
            match fs.target_mount_point() {
                Some(m) => r.error(
                    place(),
                    format!(
                        "filesystem type {} cannot be made by the restore, but it is mounted on {m} \
                         and must be recreated: choose a supported type (ext4, xfs, btrfs, vfat)",
                        fs.fs_type
                    ),
                ),
                None => r.warning(
                    place(),
                    format!(
                        "filesystem type {} cannot be made by the restore: it will be left unformatted",
                        fs.fs_type
                    ),
                ),
            }
        }
        for e in mount_point_errors(fs) {
            r.error(place(), e);
        }
        if let (Some(label), Some(limit)) = (&fs.label, label_limit(&fs.fs_type)) {
            if label.len() > limit {
                r.error(
                    place(),
                    format!(
                        "label {label:?} is {} bytes but a {} label holds at most {limit}",
                        label.len(),
                        fs.fs_type
                    ),
                );
            }
        }
        for e in size_errors(&held) {
            r.error(place(), e);
        }
        if let Ok(Some(m)) = fs.target_mount() {
            has_root |= m.is_root();
            if let Some(other) = mounts.get(&m) {
                r.error(place(), format!("mount point {m} is also used by {other}"));
            } else {
                mounts.insert(m, device);
            }
        }
        if let Some(uuid) = fs.uuid.as_deref().filter(|u| !u.is_empty()) {
            if let Some(other) = uuids.insert(uuid, device) {
                r.warning(
                    place(),
                    format!("filesystem UUID {uuid} is also used by {other}: UUID= references become ambiguous"),
                );
            }
        }
    }
    if !has_root {
        r.error(
            Place::Mountlist,
            "no root filesystem: no filesystem has the mount point /".to_string(),
        );
    }
}

/// The live mount point and the fstab entry's (when it names a directory and differs)
/// must each be one the restore can use.
fn mount_point_errors(fs: &Filesystem) -> Vec<String> {
    let mut errors = Vec::new();
    let check = |raw: &str| {
        MountPoint::parse(raw)
            .err()
            .map(|e: MountPointError| e.to_string())
    };
    if let Some(e) = fs.mount_point.as_deref().and_then(check) {
        errors.push(e);
    }
    // fstab names no directory for swap ("none", "swap").
    let fstab = fs.fstab.as_ref().map(|f| f.mount_point.as_str());
    if let Some(m) = fstab.filter(|m| m.starts_with('/') && Some(*m) != fs.mount_point.as_deref()) {
        if let Some(e) = check(m) {
            errors.push(format!("{e} (in its fstab entry)"));
        }
    }
    errors
}

/// Used bytes within the filesystem and its device, the device at least what mkfs makes.
fn size_errors(held: &Held<'_>) -> Vec<String> {
    let fs = held.fs;
    let mut errors = Vec::new();
    let show = |bytes: u128| format_bytes(u64::try_from(bytes).unwrap_or(u64::MAX));
    if let (Some(used), Some(size)) = (fs.used_bytes, fs.size_bytes) {
        if used > size {
            errors.push(format!(
                "filesystem uses {used} bytes but its size is {size} bytes: what it uses \
                 cannot exceed its size"
            ));
        }
    }
    if let Some(used) = fs.used_bytes.filter(|u| u128::from(*u) > held.bytes) {
        errors.push(format!(
            "filesystem holds {} of data but its {} is only {}: make the {} larger",
            show(u128::from(used)),
            held.holder,
            show(held.bytes),
            held.holder
        ));
    }
    if let Some((mkfs, least)) = mkfs_minimum(fs) {
        if held.bytes > 0 && held.bytes < u128::from(least) {
            errors.push(format!(
                "{} of {} is smaller than the {} {mkfs} makes at least: make the {} at least \
                 that large or choose another filesystem type",
                held.holder,
                show(held.bytes),
                format_bytes(least),
                held.holder
            ));
        }
    }
    errors
}

fn check_boot(ml: &Mountlist, r: &mut Report) {
    let partitions = || {
        ml.disks
            .iter()
            .flat_map(|d| d.partitions.iter().map(move |p| (d, p)))
    };
    match &ml.boot.esp {
        Some(esp) => match partitions().find(|(_, p)| p.path == *esp) {
            None => r.error(
                Place::Mountlist,
                format!("boot.esp names {esp}, which is not a partition in the mountlist"),
            ),
            Some((disk, p)) if !p.is_esp() => r.warning(
                part_place(disk, p),
                format!(
                    "partition is boot.esp but its type is {}, not EFI System: firmware may not find it",
                    p.type_name()
                ),
            ),
            Some(_) => {}
        },
        None if ml.boot.mode == super::model::BootMode::Uefi => {
            let hint = partitions()
                .find(|(_, p)| p.is_esp())
                .map(|(_, p)| format!(" ({} has the EFI System type)", p.path))
                .unwrap_or_default();
            r.error(
                Place::Mountlist,
                format!("UEFI boot needs an EFI System Partition, but boot.esp is not set{hint}"),
            );
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::super::resize::fixtures::*;
    use super::*;

    /// Asserts one problem of `severity` at the place shown as `place` whose message
    /// contains `fragment`.
    #[track_caller]
    fn expect(ml: &Mountlist, severity: Severity, place: &str, fragment: &str) -> Problem {
        let problems = validate(ml);
        problems
            .iter()
            .find(|p| {
                p.severity == severity
                    && p.place.to_string() == place
                    && p.message.contains(fragment)
            })
            .cloned()
            .unwrap_or_else(|| {
                panic!("no {severity} at {place} with {fragment:?} in {problems:#?}")
            })
    }

    fn errors(ml: &Mountlist) -> Vec<Problem> {
        validate(ml)
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect()
    }

    fn gpt() -> Mountlist {
        gpt_mountlist()
    }

    fn msdos() -> Mountlist {
        msdos_mountlist()
    }

    fn part(ml: &mut Mountlist, number: u32) -> &mut Partition {
        ml.disks[0]
            .partitions
            .iter_mut()
            .find(|p| p.number == number)
            .expect("fixture partition")
    }

    fn fs_of(ml: &mut Mountlist, number: u32) -> &mut Filesystem {
        part(ml, number)
            .filesystem
            .as_mut()
            .expect("fixture filesystem")
    }

    #[test]
    fn fixtures_have_no_problems() {
        assert_eq!(validate(&gpt()), Vec::new());
        assert_eq!(validate(&msdos()), Vec::new());
    }

    #[test]
    fn display() {
        let p = Problem {
            severity: Severity::Warning,
            place: Place::Partition {
                disk: "/dev/sda".into(),
                number: 2,
                path: "/dev/sda2".into(),
            },
            message: "something".into(),
        };
        assert_eq!(p.to_string(), "/dev/sda2: something");
        assert_eq!(Place::Mountlist.to_string(), "mountlist");
        assert_eq!(
            Place::Disk {
                disk: "/dev/sdb".into()
            }
            .to_string(),
            "/dev/sdb"
        );
        assert_eq!(
            Place::Filesystem {
                device: "/dev/sdb".into()
            }
            .to_string(),
            "/dev/sdb"
        );
        assert!(!has_errors(std::slice::from_ref(&p)));
        assert!(has_errors(&[Problem {
            severity: Severity::Error,
            ..p
        }]));
    }

    #[test]
    fn duplicate_disk() {
        let mut ml = gpt();
        let mut copy = ml.disks[0].clone();
        copy.partitions.clear();
        ml.disks.push(copy);
        expect(&ml, Severity::Error, "/dev/sda", "listed 2 times");
    }

    #[test]
    fn bad_sector_sizes() {
        let mut ml = gpt();
        ml.disks[0].physical_sector_size = 256;
        expect(&ml, Severity::Error, "/dev/sda", "not powers of two");
        ml.disks[0].logical_sector_size = 0;
        expect(&ml, Severity::Error, "/dev/sda", "sector sizes 0 (logical)");
    }

    #[test]
    fn zero_size() {
        let mut ml = gpt();
        part(&mut ml, 4).size = 0;
        expect(&ml, Severity::Error, "/dev/sda4", "size of 0");
    }

    #[test]
    fn starts_before_first_usable() {
        let mut ml = gpt();
        part(&mut ml, 1).start = 8;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda1",
            "before the first usable sector 34",
        );
        let mut ml = msdos();
        let p = part(&mut ml, 1);
        p.size += p.start;
        p.start = 0;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda1",
            "before the first usable sector 1 (the MBR",
        );
    }

    #[test]
    fn ends_past_the_disk() {
        let mut ml = gpt();
        let last = 20 * GIB - 34;
        let p = part(&mut ml, 4);
        p.size = last + 1 - p.start + 10;
        let found = expect(
            &ml,
            Severity::Error,
            "/dev/sda4",
            "ends 10 sectors past the end of its disk",
        );
        assert!(
            found
                .message
                .contains(&format!("last usable sector {last}")),
            "{}",
            found.message
        );

        let mut ml = msdos();
        ml.disks[0].sectors = 6 * GIB;
        // The swap logical ends at 7 GiB + 3 MiB.
        expect(
            &ml,
            Severity::Error,
            "/dev/sda6",
            &format!("ends {} sectors past", GIB + 3 * MIB),
        );
    }

    #[test]
    fn gpt_header_does_not_fit() {
        let mut ml = gpt();
        ml.disks[0].sectors = 19 * GIB;
        expect(&ml, Severity::Error, "/dev/sda", "GPT usable sectors 34-");
    }

    #[test]
    fn overlap_names_both_and_the_ranges() {
        let mut ml = gpt();
        part(&mut ml, 3).start -= MIB;
        let p = expect(&ml, Severity::Error, "/dev/sda3", "overlaps /dev/sda2");
        let s3 = 512 * MIB + 8 * GIB;
        assert!(
            p.message.contains(&format!("sectors {s3}-")),
            "{}",
            p.message
        );
        assert!(
            p.message.contains(&format!(
                "(sectors {}-{})",
                513 * MIB,
                513 * MIB + 8 * GIB - 1
            )),
            "{}",
            p.message
        );
    }

    #[test]
    fn logical_outside_extended() {
        let mut ml = msdos();
        part(&mut ml, 2).size -= MIB;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda6",
            "not inside the extended partition /dev/sda2",
        );
        // Starting where the extended starts leaves no room for the EBR.
        let mut ml = msdos();
        let ext_start = part(&mut ml, 2).start;
        let p = part(&mut ml, 5);
        p.size += p.start - ext_start;
        p.start = ext_start;
        expect(&ml, Severity::Error, "/dev/sda5", "not inside the extended");
    }

    #[test]
    fn two_extended() {
        let mut ml = msdos();
        let disk = &mut ml.disks[0];
        disk.partitions.push(mbr_part(
            "/dev/sda",
            3,
            9 * GIB,
            10 * MIB,
            0x05,
            MbrRole::Extended,
            None,
        ));
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "second extended partition (/dev/sda2 is the first)",
        );
    }

    #[test]
    fn msdos_numbering() {
        let mut ml = msdos();
        let p = part(&mut ml, 1);
        p.number = 5;
        p.path = "/dev/sda7".into();
        part(&mut ml, 6).number = 4;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda7",
            "primary partition numbered 5",
        );
        expect(
            &ml,
            Severity::Error,
            "/dev/sda6",
            "logical partition numbered 4",
        );
    }

    #[test]
    fn logical_without_extended() {
        let mut ml = msdos();
        ml.disks[0].partitions.retain(|p| !p.is_extended());
        expect(&ml, Severity::Error, "/dev/sda5", "no extended partition");
    }

    #[test]
    fn mbr_beyond_32_bits() {
        let mut ml = msdos();
        ml.disks[0].sectors = 5 << 30;
        let p = part(&mut ml, 1);
        p.size = (1 << 32) - p.start + 1;
        expect(&ml, Severity::Error, "/dev/sda1", "past sector 2^32");
    }

    #[test]
    fn wrong_table_entries() {
        let mut ml = msdos();
        let p = part(&mut ml, 1);
        p.gpt = Some(GptEntry {
            type_guid: GPT_TYPE_LINUX_FS.into(),
            unique_guid: String::new(),
            name: String::new(),
            attributes: 0,
        });
        p.mbr = None;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda1",
            "msdos disk has no mbr entry",
        );
        expect(
            &ml,
            Severity::Error,
            "/dev/sda1",
            "msdos disk has a gpt entry",
        );
        let mut ml = gpt();
        let p = part(&mut ml, 2);
        p.mbr = Some(MbrEntry {
            type_id: 0x83,
            bootable: false,
            role: MbrRole::Primary,
        });
        p.gpt = None;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda2",
            "GPT disk has no gpt entry",
        );
        expect(
            &ml,
            Severity::Error,
            "/dev/sda2",
            "GPT disk has an mbr entry",
        );
    }

    #[test]
    fn mbr_type_and_role_disagree() {
        let mut ml = msdos();
        part(&mut ml, 2).mbr.as_mut().unwrap().type_id = 0x83;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda2",
            "MBR type 0x83 does not match the extended role",
        );
    }

    #[test]
    fn partitions_without_a_table() {
        let mut ml = gpt();
        ml.disks[0].table = PartitionTable::None;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "no partition table but lists 4 partitions",
        );
    }

    #[test]
    fn whole_disk_filesystem_with_a_table() {
        let mut ml = gpt();
        ml.disks[0].filesystem = Some(fs(FsType::Xfs, None, None));
        expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "gpt partition table and also a whole-disk filesystem",
        );
    }

    #[test]
    fn duplicate_partition_number() {
        let mut ml = gpt();
        part(&mut ml, 4).number = 3;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "partition number 3 is used more than once",
        );
    }

    #[test]
    fn partition_number_zero() {
        let mut ml = gpt();
        part(&mut ml, 4).number = 0;
        expect(&ml, Severity::Error, "/dev/sda4", "partition number 0");
    }

    #[test]
    fn duplicate_mount_point() {
        let mut ml = gpt();
        fs_of(&mut ml, 3).mount_point = Some("/".into());
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "mount point / is also used by /dev/sda2",
        );
    }

    #[test]
    fn duplicate_mount_point_from_fstab() {
        let mut ml = gpt();
        let f = fs_of(&mut ml, 3);
        f.mount_point = None;
        f.fstab = Some(FstabRef {
            spec: "LABEL=home".into(),
            kind: FstabSpecKind::Label,
            mount_point: "/".into(),
            fs_type: "ext4".into(),
            options: "defaults".into(),
            dump: 0,
            pass: 2,
        });
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "mount point / is also used by /dev/sda2",
        );
    }

    #[test]
    fn no_root() {
        let mut ml = gpt();
        fs_of(&mut ml, 2).mount_point = Some("/srv".into());
        expect(&ml, Severity::Error, "mountlist", "no root filesystem");
    }

    #[test]
    fn unknown_filesystem_type() {
        let mut ml = gpt();
        fs_of(&mut ml, 3).fs_type = FsType::Other("zfs".into());
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "type zfs cannot be made by the restore, but it is mounted on /home",
        );
        fs_of(&mut ml, 3).mount_point = None;
        let p = expect(&ml, Severity::Warning, "/dev/sda3", "left unformatted");
        assert!(p.message.contains("zfs"));
        assert!(!has_errors(&validate(&ml)), "{:#?}", validate(&ml));
    }

    #[test]
    fn not_on_a_physical_sector() {
        let mut ml = gpt();
        part(&mut ml, 4).start += 1;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda4",
            "not on a 4096-byte physical sector",
        );
    }

    #[test]
    fn not_on_a_mib_boundary() {
        let mut ml = gpt();
        part(&mut ml, 4).start += 8;
        let p = expect(
            &ml,
            Severity::Warning,
            "/dev/sda4",
            "not on a 1 MiB boundary",
        );
        assert!(p.message.contains("2048 sectors"));
        assert!(!has_errors(&validate(&ml)));
    }

    #[test]
    fn legacy_sector_63_is_fine_on_512_byte_disks() {
        let mut ml = msdos();
        let p = part(&mut ml, 1);
        p.start = 63;
        assert_eq!(validate(&ml), Vec::new());
        ml.disks[0].physical_sector_size = 4096;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda1",
            "not on a 4096-byte physical sector",
        );
    }

    #[test]
    fn labels_too_long() {
        let cases = [
            (FsType::Ext4, 17, "a ext4 label holds at most 16"),
            (FsType::Xfs, 13, "xfs label holds at most 12"),
            (FsType::Vfat, 12, "vfat label holds at most 11"),
            (FsType::Swap, 17, "swap label holds at most 16"),
            (FsType::Btrfs, 256, "btrfs label holds at most 255"),
        ];
        for (fs_type, len, fragment) in cases {
            let mut ml = gpt();
            let f = fs_of(&mut ml, 3);
            f.fs_type = fs_type.clone();
            f.label = Some("x".repeat(len - 1));
            assert!(!has_errors(&validate(&ml)), "{fs_type} at {}", len - 1);
            fs_of(&mut ml, 3).label = Some("x".repeat(len));
            expect(&ml, Severity::Error, "/dev/sda3", fragment);
        }
        // Bytes, not characters.
        let mut ml = gpt();
        fs_of(&mut ml, 1).label = Some("ÉÉÉÉÉÉ".into());
        expect(&ml, Severity::Error, "/dev/sda1", "is 12 bytes");
    }

    #[test]
    fn duplicate_uuid_is_a_warning() {
        let mut ml = gpt();
        let uuid = fs_of(&mut ml, 2).uuid.clone();
        fs_of(&mut ml, 3).uuid = uuid;
        expect(
            &ml,
            Severity::Warning,
            "/dev/sda3",
            "also used by /dev/sda2",
        );
        assert!(!has_errors(&validate(&ml)));
    }

    #[test]
    fn esp_not_in_the_mountlist() {
        let mut ml = gpt();
        ml.boot.esp = Some("/dev/sdz1".into());
        expect(
            &ml,
            Severity::Error,
            "mountlist",
            "boot.esp names /dev/sdz1, which is not a partition",
        );
    }

    #[test]
    fn esp_of_the_wrong_type() {
        let mut ml = gpt();
        ml.boot.esp = Some("/dev/sda2".into());
        expect(
            &ml,
            Severity::Warning,
            "/dev/sda2",
            "type is Linux filesystem, not EFI System",
        );
    }

    #[test]
    fn uefi_without_esp() {
        let mut ml = gpt();
        ml.boot.esp = None;
        expect(
            &ml,
            Severity::Error,
            "mountlist",
            "boot.esp is not set (/dev/sda1 has the EFI System type)",
        );
        ml.boot.mode = BootMode::Bios;
        assert_eq!(validate(&ml), Vec::new());
    }

    #[test]
    fn relative_mount_point() {
        let mut ml = gpt();
        fs_of(&mut ml, 3).mount_point = Some("home".into());
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "\"home\" is not an absolute path",
        );
    }

    #[test]
    fn whole_disk_filesystem_problems_point_at_the_disk() {
        let mut ml = gpt();
        let mut d = whole_disk("/dev/sdb");
        d.filesystem.as_mut().unwrap().label = Some("much-too-long".into());
        ml.disks.push(d);
        expect(
            &ml,
            Severity::Error,
            "/dev/sdb",
            "xfs label holds at most 12",
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let mut ml = gpt();
        ml.boot.esp = Some("/dev/sdz1".into());
        part(&mut ml, 4).size = 0;
        part(&mut ml, 3).start -= MIB;
        fs_of(&mut ml, 2).mount_point = Some("root".into());
        fs_of(&mut ml, 3).label = Some("x".repeat(20));
        let found = errors(&ml);
        let texts: Vec<String> = found.iter().map(ToString::to_string).collect();
        for fragment in [
            "/dev/sda4: partition has a size of 0",
            "/dev/sda3: partition /dev/sda3",
            "/dev/sda2: mount point \"root\"",
            "/dev/sda3: label",
            "mountlist: no root filesystem",
            "mountlist: boot.esp names /dev/sdz1",
        ] {
            assert!(
                texts.iter().any(|t| t.starts_with(fragment)),
                "{fragment:?} not in {texts:#?}"
            );
        }
        assert_eq!(found.len(), 6, "{texts:#?}");
    }

    #[test]
    fn mount_point_with_dot_dot_is_refused() {
        let mut ml = gpt();
        fs_of(&mut ml, 3).mount_point = Some("/mnt/../../etc".into());
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "mount point \"/mnt/../../etc\" has a \"..\" component",
        );
        // From fstab too, when nothing is mounted there now.
        let mut ml = gpt();
        let f = fs_of(&mut ml, 3);
        f.mount_point = None;
        f.fstab = Some(FstabRef {
            spec: "LABEL=home".into(),
            kind: FstabSpecKind::Label,
            mount_point: "/home/../..".into(),
            fs_type: "ext4".into(),
            options: "defaults".into(),
            dump: 0,
            pass: 2,
        });
        expect(&ml, Severity::Error, "/dev/sda3", "has a \"..\" component");
    }

    #[test]
    fn root_spelled_twice_is_one_mount_point() {
        let mut ml = gpt();
        fs_of(&mut ml, 3).mount_point = Some("//".into());
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "mount point / is also used by /dev/sda2",
        );
        let mut ml = gpt();
        fs_of(&mut ml, 2).mount_point = Some("/home/".into());
        fs_of(&mut ml, 3).mount_point = Some("//home/.".into());
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "mount point /home is also used by /dev/sda2",
        );
    }

    #[test]
    fn overlong_mount_point_and_nul_are_refused() {
        let mut ml = gpt();
        fs_of(&mut ml, 3).mount_point = Some("/d".repeat(3000));
        expect(&ml, Severity::Error, "/dev/sda3", "is 6000 bytes long");
        fs_of(&mut ml, 3).mount_point = Some("/ho\0me".into());
        expect(&ml, Severity::Error, "/dev/sda3", "NUL byte");
    }

    #[test]
    fn gpt_partition_numbers_stay_within_the_entries() {
        let mut ml = gpt();
        let p = part(&mut ml, 4);
        p.number = u32::MAX;
        p.path = "/dev/sda4294967295".into();
        expect(
            &ml,
            Severity::Error,
            "/dev/sda4294967295",
            "partition number 4294967295: a GPT holds entries 1 to 128",
        );
        part(&mut ml, u32::MAX).number = 129;
        expect(&ml, Severity::Error, "/dev/sda4294967295", "number 129");
        part(&mut ml, 129).number = 128;
        assert_eq!(validate(&ml), Vec::new());
    }

    #[test]
    fn logical_partition_numbers_stay_below_256() {
        let mut ml = msdos();
        part(&mut ml, 6).number = 256;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda6",
            "logical partition numbered 256: Linux numbers partitions up to 255",
        );
        part(&mut ml, 256).number = u32::MAX;
        expect(&ml, Severity::Error, "/dev/sda6", "numbered 4294967295");
    }

    /// A disk of `count` GPT partitions of one MiB each, numbered from 1.
    fn many_gpt_partitions(count: u32) -> Mountlist {
        let mut ml = gpt();
        let disk = &mut ml.disks[0];
        let template = disk.partitions[2].clone();
        disk.partitions.truncate(2);
        disk.sectors = u64::from(count) * MIB + 20 * GIB;
        disk.table = PartitionTable::Gpt {
            disk_guid: "11111111-2222-4333-8444-555555555555".into(),
            first_usable_lba: 34,
            last_usable_lba: disk.sectors - 34,
        };
        let first = disk.partitions[1].end();
        for n in 3..=count {
            let mut p = template.clone();
            p.number = n;
            p.path = partition_path("/dev/sda", n);
            p.start = first + u64::from(n) * MIB;
            p.size = MIB;
            p.filesystem = None;
            disk.partitions.push(p);
        }
        ml
    }

    #[test]
    fn too_many_gpt_partitions() {
        let ml = many_gpt_partitions(5000);
        let p = expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "disk lists 5000 partitions but a GPT holds at most 128",
        );
        assert_eq!(errors(&ml), vec![p]);
        let ml = many_gpt_partitions(128);
        assert_eq!(errors(&ml), Vec::new());
    }

    #[test]
    fn two_hundred_thousand_partitions_are_refused_at_once() {
        let ml = many_gpt_partitions(200_000);
        let begun = std::time::Instant::now();
        let found = errors(&ml);
        // Only a guard against a quadratic check (minutes); it takes milliseconds.
        assert!(begun.elapsed().as_secs() < 10, "{:?}", begun.elapsed());
        assert_eq!(found.len(), 1, "{:?}", &found[..found.len().min(5)]);
        assert!(found[0].message.contains("lists 200000 partitions"));
    }

    #[test]
    fn checks_scale_past_what_a_table_holds() {
        // Validation stops at the partition count, but each check must scale on its own.
        let mut ml = many_gpt_partitions(200_000);
        for p in &mut ml.disks[0].partitions {
            p.size = 2 * MIB;
            p.number = p.number.div_ceil(2);
        }
        let begun = std::time::Instant::now();
        let disk = &ml.disks[0];
        let mut r = Report::default();
        check_overlaps(disk, &mut r);
        let overlaps = r.0.len();
        let twice = repeated(disk.partitions.iter().map(|p| p.number)).len();
        let mut disks = gpt();
        let copy = disks.disks[0].clone();
        disks.disks = vec![copy; 20_000];
        let listed = errors(&disks);
        // Only a guard against a quadratic check (minutes); it takes well under a second.
        assert!(begun.elapsed().as_secs() < 10, "{:?}", begun.elapsed());
        assert_eq!(overlaps, 200_000 - 3);
        assert_eq!(twice, 100_000);
        assert!(
            listed[0].message.contains("listed 20000 times"),
            "{:?}",
            listed[0]
        );
    }

    #[test]
    fn used_bytes_above_the_filesystem_size() {
        let mut ml = gpt();
        let f = fs_of(&mut ml, 3);
        f.size_bytes = Some(8 << 30);
        f.used_bytes = Some((8 << 30) + 1);
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "uses 8589934593 bytes but its size is 8589934592 bytes",
        );
        // Without a size, its partition is the limit.
        let mut ml = gpt();
        fs_of(&mut ml, 3).used_bytes = Some(9 << 30);
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "holds 9G of data but its partition is only 8G",
        );
    }

    #[test]
    fn disk_sizes_are_bounded() {
        let mut ml = gpt();
        ml.disks[0].sectors = u64::MAX;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "18446744073709551615 sectors of 512 bytes",
        );
        let mut ml = gpt();
        ml.disks[0].sectors = 1 << 54;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "more than Linux addresses",
        );
        let mut ml = gpt();
        ml.disks[0].sectors = 0;
        expect(&ml, Severity::Error, "/dev/sda", "disk has 0 sectors");
        let mut ml = gpt();
        ml.disks[0].logical_sector_size = 1 << 20;
        ml.disks[0].physical_sector_size = 1 << 20;
        expect(
            &ml,
            Severity::Error,
            "/dev/sda",
            "logical sector size 1048576 is outside 512 to 65536",
        );
    }

    #[test]
    fn gpt_partitions_leave_room_for_the_headers_and_entries() {
        let mut ml = gpt();
        let last = &mut ml.disks[0].partitions[3];
        last.size = 20 * GIB - 32 - last.start;
        if let PartitionTable::Gpt {
            last_usable_lba, ..
        } = &mut ml.disks[0].table
        {
            *last_usable_lba = 20 * GIB - 1;
        }
        expect(
            &ml,
            Severity::Error,
            "/dev/sda4",
            "ends 1 sectors past the end of its disk (last usable sector 41943006",
        );
    }

    #[test]
    fn filesystems_below_their_mkfs_minimum() {
        let mut ml = gpt();
        let p = part(&mut ml, 3);
        p.size = 200 * MIB;
        let f = p.filesystem.as_mut().unwrap();
        f.fs_type = FsType::Xfs;
        f.label = None;
        f.used_bytes = Some(1 << 20);
        expect(
            &ml,
            Severity::Error,
            "/dev/sda3",
            "200M is smaller than the 300M mkfs.xfs makes at least",
        );
        part(&mut ml, 3).size = 300 * MIB;
        assert!(!has_errors(&validate(&ml)), "{:#?}", validate(&ml));
    }

    #[test]
    fn odd_numbers_do_not_panic() {
        let mut ml = msdos();
        for p in &mut ml.disks[0].partitions {
            p.start = u64::MAX;
            p.size = u64::MAX;
        }
        ml.disks[0].sectors = 0;
        assert!(has_errors(&validate(&ml)));
    }
}
