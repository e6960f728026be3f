//! Checks a mountlist before a restore acts on it, reporting every problem at once so the
//! user can fix them all in one pass.

use super::model::{is_extended_type, Disk, FsType, MbrRole, Mountlist, Partition, PartitionTable};
use std::collections::HashMap;
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

fn duplicate_disks(ml: &Mountlist, r: &mut Report) {
    let mut seen: Vec<&str> = Vec::new();
    for disk in &ml.disks {
        let count = ml.disks.iter().filter(|d| d.path == disk.path).count();
        if count > 1 && !seen.contains(&disk.path.as_str()) {
            seen.push(&disk.path);
            r.error(
                disk_place(disk),
                format!("disk is listed {count} times: each disk may appear once"),
            );
        }
    }
}

fn check_disk(disk: &Disk, r: &mut Report) {
    let lss = disk.logical_sector_size;
    let pss = disk.physical_sector_size;
    let sizes_ok = lss.is_power_of_two() && pss.is_power_of_two() && pss >= lss;
    if !sizes_ok {
        r.error(
            disk_place(disk),
            format!(
                "sector sizes {lss} (logical) and {pss} (physical) are not powers of two with \
                 the physical at least the logical, such as 512 and 4096"
            ),
        );
    }
    let usable = match &disk.table {
        PartitionTable::None => {
            if !disk.partitions.is_empty() {
                r.error(
                    disk_place(disk),
                    format!(
                        "disk has no partition table but lists {} partitions: set table gpt or msdos",
                        disk.partitions.len()
                    ),
                );
            }
            None
        }
        PartitionTable::Gpt {
            first_usable_lba,
            last_usable_lba,
            ..
        } => {
            if first_usable_lba > last_usable_lba || *last_usable_lba >= disk.sectors {
                r.error(
                    disk_place(disk),
                    format!(
                        "GPT usable sectors {first_usable_lba}-{last_usable_lba} do not fit a disk of {} sectors",
                        disk.sectors
                    ),
                );
            }
            Some((
                *first_usable_lba,
                *last_usable_lba,
                "the GPT header and entries",
            ))
        }
        PartitionTable::Msdos { .. } => {
            Some((1, disk.sectors.saturating_sub(1), "the MBR in sector 0"))
        }
    };
    if disk.table != PartitionTable::None && disk.filesystem.is_some() {
        r.error(
            disk_place(disk),
            format!(
                "disk has a {} partition table and also a whole-disk filesystem: keep only one",
                disk.table.name()
            ),
        );
    }

    let mut numbers: Vec<u32> = Vec::new();
    for p in &disk.partitions {
        if disk
            .partitions
            .iter()
            .filter(|q| q.number == p.number)
            .count()
            > 1
            && !numbers.contains(&p.number)
        {
            numbers.push(p.number);
            r.error(
                disk_place(disk),
                format!("partition number {} is used more than once", p.number),
            );
        }
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

fn check_overlaps(disk: &Disk, r: &mut Report) {
    let mut parts: Vec<&Partition> = disk.partitions.iter().filter(|p| p.size > 0).collect();
    parts.sort_by_key(|p| (p.start, p.number));
    for (i, b) in parts.iter().enumerate() {
        for a in &parts[..i] {
            // Logicals lie inside their extended partition by design.
            let nested = (a.is_extended() && b.is_logical()) || (a.is_logical() && b.is_extended());
            if !nested && a.end() > b.start && b.end() > a.start {
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
    }
}

fn check_msdos(disk: &Disk, r: &mut Report) {
    // MBR entries and EBR links hold 32-bit sector numbers.
    const LIMIT: u128 = 1 << 32;
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
        if u128::from(p.start) + u128::from(p.size) > LIMIT {
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

fn check_filesystems(ml: &Mountlist, r: &mut Report) {
    let mut mounts: HashMap<&str, &str> = HashMap::new();
    let mut uuids: HashMap<&str, &str> = HashMap::new();
    let mut has_root = false;
    for (device, fs) in ml.filesystems() {
        let place = || Place::Filesystem {
            device: device.to_string(),
        };
        let target = fs.target_mount_point();
        has_root |= target == Some("/");
        if fs.fs_type.mkfs_program().is_none() {
            match target {
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
        if let Some(m) = fs.mount_point.as_deref().filter(|m| !m.starts_with('/')) {
            r.error(
                place(),
                format!("mount point {m:?} is not an absolute path: it must start with /"),
            );
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
        if let Some(m) = target {
            if let Some(other) = mounts.insert(m, device) {
                r.error(place(), format!("mount point {m} is also used by {other}"));
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
