//! Properties of validation, resize and mount points over generated layouts:
//!
//! - a layout that validates fits its disk: every partition inside the disk and its
//!   table's usable area, none overlapping another (but logicals in their extended one),
//!   numbers within what the table holds, every filesystem at least what its mkfs makes
//!   and what it holds; layouts damaged at random never make validation panic;
//! - fitting a valid layout onto a disk of any size (`proportional` and `grow-last`)
//!   either fails or gives a layout that validates, every filesystem still at least its
//!   mkfs's smallest and its used bytes;
//! - the mount-point normaliser is idempotent, never yields `.` or `..` and keeps
//!   [`MountPoint::under`] inside its root.

use proptest::prelude::*;
use proptest::sample::select;
use rescue_core::mountlist::mkfs_minimum::mkfs_minimum_bytes;
use rescue_core::mountlist::resize::{fit_disk, ResizeMode};
use rescue_core::mountlist::validate::{has_errors, validate};
use rescue_core::mountlist::{
    gpt_table_sectors, partition_path, Boot, BootMode, Disk, Filesystem, FsType, GptEntry, Host,
    MbrEntry, MbrRole, MountPoint, Mountlist, Partition, PartitionTable, GPT_ENTRIES,
    MAX_DISK_BYTES, MAX_PARTITION_NUMBER, MBR_SECTOR_LIMIT, MOUNTLIST_VERSION,
};
use std::path::{Component, Path};

const MIB: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Table {
    Gpt,
    Msdos,
    None,
}

#[derive(Debug, Clone)]
struct PartPlan {
    gap_mib: u64,
    size_mib: u64,
    fs: Option<FsType>,
    used_percent: u64,
}

/// A change that may break the layout, for validation to find.
#[derive(Debug, Clone)]
enum Damage {
    /// Moved by this many MiB, either way: it may overlap a neighbour or leave the disk.
    Shift(usize, i64),
    /// Longer by this many MiB.
    Grow(usize, u64),
    Start(usize, u64),
    Size(usize, u64),
    Number(usize, u32),
    Sectors(u64),
    Used(usize, u64),
    MountPoint(usize, &'static str),
}

#[derive(Debug, Clone)]
struct LayoutPlan {
    table: Table,
    sector: u32,
    parts: Vec<PartPlan>,
    /// Partitions from this index on are logical (msdos).
    logicals_from: usize,
    spare_mib: u64,
}

fn fs_type() -> impl Strategy<Value = Option<FsType>> {
    select(vec![
        None,
        Some(FsType::Ext2),
        Some(FsType::Ext4),
        Some(FsType::Xfs),
        Some(FsType::Btrfs),
        Some(FsType::Vfat),
        Some(FsType::Swap),
        Some(FsType::Other("zfs_member".into())),
    ])
}

fn part_plan() -> impl Strategy<Value = PartPlan> {
    (0u64..4, 1u64..1200, fs_type(), 0u64..=100).prop_map(
        |(gap_mib, size_mib, fs, used_percent)| PartPlan {
            gap_mib,
            size_mib,
            fs,
            used_percent,
        },
    )
}

fn layout_plan() -> impl Strategy<Value = LayoutPlan> {
    (
        select(vec![Table::Gpt, Table::Msdos, Table::None]),
        select(vec![512u32, 4096]),
        prop::collection::vec(part_plan(), 0..9),
        0usize..6,
        0u64..3000,
    )
        .prop_map(
            |(table, sector, parts, logicals_from, spare_mib)| LayoutPlan {
                table,
                sector,
                parts,
                logicals_from,
                spare_mib,
            },
        )
}

fn damage() -> impl Strategy<Value = Damage> {
    let index = 0usize..10;
    prop_oneof![
        (index.clone(), -4i64..4).prop_map(|(i, v)| Damage::Shift(i, v)),
        (index.clone(), 1u64..4).prop_map(|(i, v)| Damage::Grow(i, v)),
        (index.clone(), any::<u64>()).prop_map(|(i, v)| Damage::Start(i, v)),
        (index.clone(), any::<u64>()).prop_map(|(i, v)| Damage::Size(i, v)),
        (index.clone(), any::<u32>()).prop_map(|(i, v)| Damage::Number(i, v)),
        any::<u64>().prop_map(Damage::Sectors),
        (index.clone(), any::<u64>()).prop_map(|(i, v)| Damage::Used(i, v)),
        (
            index,
            select(vec!["/mnt/../../etc", "//", "/", "home", "/a//b/./"])
        )
            .prop_map(|(i, v)| Damage::MountPoint(i, v)),
    ]
}

fn filesystem(fs_type: &FsType, bytes: u64, used_percent: u64, mount: &mut Mounts) -> Filesystem {
    let mut fs = Filesystem::new(fs_type.clone());
    if *fs_type == FsType::Vfat {
        fs.params.fat_bits = Some(32);
    }
    if fs_type.mkfs_program().is_some() && *fs_type != FsType::Swap {
        fs.mount_point = Some(mount.next());
        fs.used_bytes = Some(bytes / 100 * used_percent);
    }
    fs
}

/// "/" first, then "/d1", "/d2" ...
struct Mounts(u32);

impl Mounts {
    fn next(&mut self) -> String {
        self.0 += 1;
        if self.0 == 1 {
            "/".into()
        } else {
            format!("/d{}", self.0)
        }
    }
}

/// The smallest size in MiB a partition of `fs` may have.
fn least_mib(fs: &Option<FsType>) -> u64 {
    let bytes = fs
        .as_ref()
        .and_then(|t| {
            let mut f = Filesystem::new(t.clone());
            if *t == FsType::Vfat {
                f.params.fat_bits = Some(32);
            }
            mkfs_minimum_bytes(&f)
        })
        .unwrap_or(0);
    bytes.div_ceil(MIB).max(1)
}

/// Lays the plan out as a valid layout; with `damage`, one thing broken afterwards.
fn build(plan: &LayoutPlan, damage: Option<&Damage>) -> Mountlist {
    let sector = u64::from(plan.sector);
    let mib = MIB / sector;
    let path = "/dev/vda";
    let mut mounts = Mounts(0);
    let mut parts: Vec<Partition> = Vec::new();
    let mut whole = None;
    let mut cursor = mib;
    let table = match plan.table {
        Table::None => {
            let first = plan.parts.first();
            let size_mib = first.map_or(1, |p| p.size_mib.max(least_mib(&p.fs)));
            cursor = size_mib * mib;
            whole = first.and_then(|p| {
                let bytes = size_mib * MIB;
                Some(filesystem(
                    p.fs.as_ref()?,
                    bytes,
                    p.used_percent,
                    &mut mounts,
                ))
            });
            PartitionTable::None
        }
        Table::Gpt => {
            for (n, p) in plan.parts.iter().enumerate() {
                let start = cursor + p.gap_mib * mib;
                let size_mib = p.size_mib.max(least_mib(&p.fs));
                let number = n as u32 + 1;
                parts.push(Partition {
                    number,
                    path: partition_path(path, number),
                    start,
                    size: size_mib * mib,
                    gpt: Some(GptEntry {
                        type_guid: "0fc63daf-8483-4772-8e79-3d69d8477de4".into(),
                        unique_guid: format!("00000000-0000-4000-8000-{number:012}"),
                        name: String::new(),
                        attributes: 0,
                    }),
                    mbr: None,
                    filesystem: p
                        .fs
                        .as_ref()
                        .map(|t| filesystem(t, size_mib * MIB, p.used_percent, &mut mounts)),
                });
                cursor = start + size_mib * mib;
            }
            PartitionTable::Gpt {
                disk_guid: "11111111-2222-4333-8444-555555555555".into(),
                first_usable_lba: 1 + gpt_table_sectors(plan.sector),
                last_usable_lba: 0, // set below, from the disk's size
            }
        }
        Table::Msdos => {
            let primaries = plan.logicals_from.min(plan.parts.len()).min(3);
            let primaries = if plan.parts.len() <= 4 && plan.logicals_from >= plan.parts.len() {
                plan.parts.len()
            } else {
                primaries
            };
            let mbr = |role, type_id| MbrEntry {
                type_id,
                bootable: false,
                role,
            };
            let mut push = |number: u32,
                            start,
                            size_mib: u64,
                            p: &PartPlan,
                            role,
                            parts: &mut Vec<Partition>| {
                parts.push(Partition {
                    number,
                    path: partition_path(path, number),
                    start,
                    size: size_mib * mib,
                    gpt: None,
                    mbr: Some(mbr(role, 0x83)),
                    filesystem: p
                        .fs
                        .as_ref()
                        .map(|t| filesystem(t, size_mib * MIB, p.used_percent, &mut mounts)),
                });
            };
            for (n, p) in plan.parts[..primaries].iter().enumerate() {
                let start = cursor + p.gap_mib * mib;
                let size_mib = p.size_mib.max(least_mib(&p.fs));
                push(
                    n as u32 + 1,
                    start,
                    size_mib,
                    p,
                    MbrRole::Primary,
                    &mut parts,
                );
                cursor = start + size_mib * mib;
            }
            if primaries < plan.parts.len() {
                let ext_start = cursor;
                let ext_number = primaries as u32 + 1;
                for (n, p) in plan.parts[primaries..].iter().enumerate() {
                    // Each logical after a gap for its EBR.
                    let start = cursor + p.gap_mib.max(1) * mib;
                    let size_mib = p.size_mib.max(least_mib(&p.fs));
                    push(
                        n as u32 + 5,
                        start,
                        size_mib,
                        p,
                        MbrRole::Logical,
                        &mut parts,
                    );
                    cursor = start + size_mib * mib;
                }
                parts.push(Partition {
                    number: ext_number,
                    path: partition_path(path, ext_number),
                    start: ext_start,
                    size: cursor - ext_start,
                    gpt: None,
                    mbr: Some(mbr(MbrRole::Extended, 0x05)),
                    filesystem: None,
                });
            }
            PartitionTable::Msdos {
                signature: "0x1234abcd".into(),
            }
        }
    };
    let sectors = cursor + plan.spare_mib * mib + mib;
    let mut disk = Disk {
        path: path.into(),
        sectors,
        logical_sector_size: plan.sector,
        physical_sector_size: 4096,
        model: None,
        serial: None,
        table,
        partitions: parts,
        filesystem: whole,
    };
    if let PartitionTable::Gpt {
        last_usable_lba, ..
    } = &mut disk.table
    {
        *last_usable_lba = sectors - 1 - gpt_table_sectors(plan.sector);
    }
    if let Some(d) = damage {
        apply(&mut disk, d);
    }
    let mut ml = Mountlist {
        version: MOUNTLIST_VERSION,
        host: Host::default(),
        boot: Boot {
            mode: BootMode::Bios,
            esp: None,
            paths: None,
        },
        disks: vec![disk],
        unsupported: Vec::new(),
        warnings: Vec::new(),
    };
    // Without a root filesystem nothing validates: give the disk one when it has none.
    if mounts.0 == 0 {
        ml.disks.push(root_disk());
    }
    ml
}

/// A second disk holding only the root filesystem.
fn root_disk() -> Disk {
    let mut fs = Filesystem::new(FsType::Ext4);
    fs.mount_point = Some("/".into());
    Disk {
        path: "/dev/vdz".into(),
        sectors: 64 * MIB / 512,
        logical_sector_size: 512,
        physical_sector_size: 512,
        model: None,
        serial: None,
        table: PartitionTable::None,
        partitions: Vec::new(),
        filesystem: Some(fs),
    }
}

/// The filesystem of partition `i` (modulo their number), or the whole disk's.
fn fs_of(disk: &mut Disk, i: usize) -> Option<&mut Filesystem> {
    let n = disk.partitions.len().max(1);
    match disk.partitions.get_mut(i % n) {
        Some(p) => p.filesystem.as_mut(),
        None => disk.filesystem.as_mut(),
    }
}

fn apply(disk: &mut Disk, damage: &Damage) {
    let n = disk.partitions.len().max(1);
    let mib = MIB / u64::from(disk.logical_sector_size);
    match *damage {
        Damage::Shift(i, v) => {
            if let Some(p) = disk.partitions.get_mut(i % n) {
                p.start = p.start.saturating_add_signed(v * mib as i64);
            }
        }
        Damage::Grow(i, v) => {
            if let Some(p) = disk.partitions.get_mut(i % n) {
                p.size += v * mib;
            }
        }
        Damage::Start(i, v) => {
            if let Some(p) = disk.partitions.get_mut(i % n) {
                p.start = v;
            }
        }
        Damage::Size(i, v) => {
            if let Some(p) = disk.partitions.get_mut(i % n) {
                p.size = v;
            }
        }
        Damage::Number(i, v) => {
            if let Some(p) = disk.partitions.get_mut(i % n) {
                p.number = v;
            }
        }
        Damage::Sectors(v) => disk.sectors = v,
        Damage::Used(i, v) => {
            if let Some(f) = fs_of(disk, i) {
                f.used_bytes = Some(v);
            }
        }
        Damage::MountPoint(i, v) => {
            if let Some(f) = fs_of(disk, i) {
                f.mount_point = Some(v.into());
            }
        }
    }
}

/// What a layout that validates must be, checked the slow and obvious way.
fn assert_fits(ml: &Mountlist) -> Result<(), TestCaseError> {
    for disk in &ml.disks {
        let sector = u128::from(disk.logical_sector_size);
        prop_assert!(disk.sectors > 0);
        prop_assert!(u128::from(disk.sectors) * sector <= u128::from(MAX_DISK_BYTES));
        let (first, last) = match disk.table {
            PartitionTable::Gpt {
                first_usable_lba,
                last_usable_lba,
                ..
            } => {
                let (a, b) = disk.gpt_area().expect("a GPT that validates has room");
                prop_assert!(first_usable_lba <= last_usable_lba);
                (first_usable_lba.max(a), last_usable_lba.min(b))
            }
            PartitionTable::Msdos { .. } => (1, disk.sectors.min(MBR_SECTOR_LIMIT) - 1),
            PartitionTable::None => {
                prop_assert!(disk.partitions.is_empty());
                (0, disk.sectors - 1)
            }
        };
        for (i, p) in disk.partitions.iter().enumerate() {
            prop_assert!(p.size > 0, "{p:?}");
            prop_assert!(p.start >= first, "{} starts before {first}", p.path);
            let end = u128::from(p.start) + u128::from(p.size);
            prop_assert!(end <= u128::from(last) + 1, "{} ends past {last}", p.path);
            match disk.table {
                PartitionTable::Gpt { .. } => prop_assert!((1..=GPT_ENTRIES).contains(&p.number)),
                _ => prop_assert!((1..=MAX_PARTITION_NUMBER).contains(&p.number)),
            }
            for q in &disk.partitions[..i] {
                prop_assert!(p.number != q.number, "number {} twice", p.number);
                let nested =
                    (p.is_extended() && q.is_logical()) || (p.is_logical() && q.is_extended());
                let apart = p.end() <= q.start || q.end() <= p.start;
                prop_assert!(nested || apart, "{} overlaps {}", p.path, q.path);
            }
        }
        let held = disk
            .filesystem
            .iter()
            .map(|f| (f, u128::from(disk.sectors)))
            .chain(
                disk.partitions
                    .iter()
                    .filter_map(|p| Some((p.filesystem.as_ref()?, u128::from(p.size)))),
            );
        for (fs, sectors) in held {
            let bytes = sectors * sector;
            if let Some(least) = mkfs_minimum_bytes(fs) {
                prop_assert!(
                    bytes >= u128::from(least),
                    "{} of {bytes} bytes",
                    fs.fs_type
                );
            }
            if let Some(used) = fs.used_bytes {
                prop_assert!(bytes >= u128::from(used), "{used} used in {bytes} bytes");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_layouts_validate_and_fit(plan in layout_plan()) {
        let ml = build(&plan, None);
        let problems = validate(&ml);
        prop_assert!(!has_errors(&problems), "{problems:#?}");
        assert_fits(&ml)?;
    }

    #[test]
    fn a_damaged_layout_that_still_validates_fits(plan in layout_plan(), damage in damage()) {
        let ml = build(&plan, Some(&damage));
        if !has_errors(&validate(&ml)) {
            assert_fits(&ml)?;
        }
    }

    #[test]
    fn a_fitted_layout_validates_or_the_fit_fails(
        plan in layout_plan(),
        percent in 1u64..400,
        extra in 0u64..5000,
        grow_last in any::<bool>(),
    ) {
        let ml = build(&plan, None);
        let disk = &ml.disks[0];
        let target = disk.sectors / 100 * percent + extra;
        let mode = if grow_last { ResizeMode::GrowLast } else { ResizeMode::Proportional };
        if let Ok(out) = fit_disk(disk, target, mode) {
            prop_assert_eq!(out.sectors, target);
            let mut fitted = ml.clone();
            fitted.disks[0] = out;
            let problems = validate(&fitted);
            prop_assert!(!has_errors(&problems), "{mode} onto {target} sectors: {problems:#?}");
            assert_fits(&fitted)?;
        }
    }
}

/// Mount points built from pieces that matter: slashes, dots, names, NUL, non-ASCII.
fn raw_mount_point() -> impl Strategy<Value = String> {
    prop::collection::vec(
        select(vec![
            "/", "//", ".", "..", "a", "home", "...", ".x", "\0", "é", " ",
        ]),
        0..24,
    )
    .prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_normal_form_is_idempotent_and_stays_in_the_root(raw in raw_mount_point()) {
        let plain = raw.starts_with('/')
            && !raw.contains('\0')
            && !raw.split('/').any(|c| c == "..");
        match MountPoint::parse(&raw) {
            Ok(mp) => {
                prop_assert!(plain, "{raw:?} accepted");
                let s = mp.as_str();
                let again = MountPoint::parse(s);
                prop_assert_eq!(again.as_ref(), Ok(&mp));
                prop_assert!(s.starts_with('/'));
                prop_assert!(s == "/" || !s.ends_with('/'), "{s:?}");
                prop_assert!(!s.contains("//"), "{s:?}");
                prop_assert!(s.split('/').all(|c| c != "." && c != ".."), "{s:?}");
                let root = Path::new("/mnt/restore");
                let dir = mp.under(root);
                prop_assert!(dir.starts_with(root));
                prop_assert!(dir
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
                prop_assert_eq!(dir.components().count(), 3 + mp.depth());
            }
            Err(e) => prop_assert!(!plain, "{raw:?} refused: {e}"),
        }
    }
}
