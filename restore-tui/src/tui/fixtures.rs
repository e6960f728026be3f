//! Realistic data for the tests: a UEFI host with one 20 GiB GPT disk (ESP, /, /home,
//! swap), two disks found in the rescue system, a small catalog.

use super::app::{App, AppInput, TargetDiskInfo};
use super::tree::{fixtures::records, MemoryCatalog};
use rescue_core::media::{Compression, Manifest, MANIFEST_VERSION};
use rescue_core::mountlist::edit::{GPT_TYPE_LINUX_FS, GPT_TYPE_LINUX_SWAP};
use rescue_core::mountlist::{
    Boot, BootMode, Disk, Filesystem, FsType, FstabRef, FstabSpecKind, GptEntry, Host, MbrEntry,
    MbrRole, Mountlist, Partition, PartitionTable, GPT_TYPE_ESP, MOUNTLIST_VERSION,
};

pub const MIB: u64 = 2048;
pub const GIB: u64 = 1024 * MIB;

pub fn manifest() -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        backup_id: "1A2B3C4D".into(),
        label: Manifest::label_for("1A2B3C4D"),
        volume: 1,
        volumes: 2,
        created: 1_763_700_000,
        tool_version: "0.1.0".into(),
        hostname: "web1".into(),
        kernel_release: "6.1.0-28-cloud-amd64".into(),
        sets: Vec::new(),
        compression: Compression::Zstd,
        mountlist_b3: None,
        catalog_b3: None,
    }
}

fn fs(
    fs_type: FsType,
    mount: Option<&str>,
    label: &str,
    uuid: &str,
    used_mib: Option<u64>,
) -> Filesystem {
    let mut f = Filesystem::new(fs_type.clone());
    f.label = Some(label.into());
    f.uuid = Some(uuid.into());
    f.mount_point = mount.map(str::to_string);
    f.used_bytes = used_mib.map(|m| m << 20);
    let mount_point = mount.unwrap_or("none").to_string();
    f.fstab = Some(FstabRef {
        spec: format!("UUID={uuid}"),
        kind: FstabSpecKind::Uuid,
        mount_point,
        fs_type: fs_type.to_string(),
        options: "defaults".into(),
        dump: 0,
        pass: u32::from(mount == Some("/")),
    });
    f
}

fn part(
    disk: &str,
    number: u32,
    start: u64,
    size: u64,
    type_guid: &str,
    f: Filesystem,
) -> Partition {
    Partition {
        number,
        path: format!("{disk}{number}"),
        start,
        size,
        gpt: Some(GptEntry {
            type_guid: type_guid.into(),
            unique_guid: format!("0000000{number}-aaaa-4bbb-8ccc-dddddddddddd"),
            name: String::new(),
            attributes: 0,
        }),
        mbr: None,
        filesystem: Some(f),
    }
}

/// 20 GiB: ESP 512 MiB, / 8 GiB (3 GiB used), /home 8 GiB (2 GiB used), swap 2 GiB,
/// then 1.5 GiB free.
pub fn gpt_disk(path: &str) -> Disk {
    let sectors = 20 * GIB;
    Disk {
        path: path.into(),
        sectors,
        logical_sector_size: 512,
        physical_sector_size: 4096,
        model: Some("QEMU HARDDISK".into()),
        serial: None,
        table: PartitionTable::Gpt {
            disk_guid: "11111111-2222-4333-8444-555555555555".into(),
            first_usable_lba: 34,
            last_usable_lba: sectors - 34,
        },
        partitions: vec![
            part(
                path,
                1,
                MIB,
                512 * MIB,
                GPT_TYPE_ESP,
                fs(
                    FsType::Vfat,
                    Some("/boot/efi"),
                    "EFI",
                    "ABCD-1234",
                    Some(10),
                ),
            ),
            part(
                path,
                2,
                513 * MIB,
                8 * GIB,
                GPT_TYPE_LINUX_FS,
                fs(
                    FsType::Ext4,
                    Some("/"),
                    "root",
                    "aaaaaaaa-0000-4000-8000-000000000002",
                    Some(3 * 1024),
                ),
            ),
            part(
                path,
                3,
                513 * MIB + 8 * GIB,
                8 * GIB,
                GPT_TYPE_LINUX_FS,
                fs(
                    FsType::Ext4,
                    Some("/home"),
                    "home",
                    "aaaaaaaa-0000-4000-8000-000000000003",
                    Some(2 * 1024),
                ),
            ),
            part(
                path,
                4,
                513 * MIB + 16 * GIB,
                2 * GIB,
                GPT_TYPE_LINUX_SWAP,
                fs(
                    FsType::Swap,
                    None,
                    "swap",
                    "aaaaaaaa-0000-4000-8000-000000000004",
                    None,
                ),
            ),
        ],
        filesystem: None,
    }
}

pub fn mountlist() -> Mountlist {
    Mountlist {
        version: MOUNTLIST_VERSION,
        host: Host {
            hostname: "web1".into(),
            root: "/".into(),
            kernel_release: "6.1.0-28-cloud-amd64".into(),
            captured_at: 1_763_700_000,
        },
        boot: Boot {
            mode: BootMode::Uefi,
            esp: Some("/dev/sda1".into()),
            paths: None,
        },
        disks: vec![gpt_disk("/dev/sda")],
        unsupported: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The disks of the rescue system: one like the original, one larger, and the USB stick
/// the rescue system booted from (refused).
pub fn targets() -> Vec<TargetDiskInfo> {
    vec![
        TargetDiskInfo {
            path: "/dev/vda".into(),
            bytes: 20 << 30,
            model: Some("QEMU HARDDISK".into()),
            sector_size: None,
            refused: None,
        },
        TargetDiskInfo {
            path: "/dev/vdb".into(),
            bytes: 32 << 30,
            model: Some("Samsung SSD 860".into()),
            sector_size: Some(512),
            refused: None,
        },
        // The same size as the original: the classic way to destroy the backup too.
        TargetDiskInfo {
            path: "/dev/sdc".into(),
            bytes: 20 << 30,
            model: Some("USB Flash Disk".into()),
            sector_size: None,
            refused: Some("it holds the boot media RESCUE_1A2B3C4D".into()),
        },
    ]
}

pub fn input() -> AppInput {
    AppInput {
        manifest: manifest(),
        mountlist: mountlist(),
        targets: targets(),
        catalog: Box::new(MemoryCatalog::new(records())),
        plan: None,
    }
}

pub fn app() -> App {
    App::new(input())
}

fn mbr_part(
    disk: &str,
    number: u32,
    start: u64,
    size: u64,
    type_id: u8,
    role: MbrRole,
    f: Option<Filesystem>,
) -> Partition {
    Partition {
        number,
        path: format!("{disk}{number}"),
        start,
        size,
        gpt: None,
        mbr: Some(MbrEntry {
            type_id,
            bootable: number == 1,
            role,
        }),
        filesystem: f,
    }
}

/// A BIOS host with a 10 GiB MBR disk: primary / 4 GiB (bootable), an extended partition
/// holding logical /home 2 GiB and logical swap 1 GiB, then free space.
pub fn msdos_mountlist() -> Mountlist {
    let d = "/dev/sda";
    let ext_start = MIB + 4 * GIB;
    let home_start = ext_start + MIB;
    let swap_start = home_start + 2 * GIB + MIB;
    let ext_end = swap_start + GIB;
    let mut ml = mountlist();
    ml.boot = Boot {
        mode: BootMode::Bios,
        esp: None,
        paths: None,
    };
    ml.disks = vec![Disk {
        path: d.into(),
        sectors: 10 * GIB,
        logical_sector_size: 512,
        physical_sector_size: 512,
        model: Some("ST1000DM010".into()),
        serial: None,
        table: PartitionTable::Msdos {
            signature: "0x1234abcd".into(),
        },
        partitions: vec![
            mbr_part(
                d,
                1,
                MIB,
                4 * GIB,
                0x83,
                MbrRole::Primary,
                Some(fs(
                    FsType::Ext4,
                    Some("/"),
                    "root",
                    "bbbbbbbb-0000-4000-8000-000000000001",
                    Some(1024),
                )),
            ),
            mbr_part(
                d,
                2,
                ext_start,
                ext_end - ext_start,
                0x05,
                MbrRole::Extended,
                None,
            ),
            mbr_part(
                d,
                5,
                home_start,
                2 * GIB,
                0x83,
                MbrRole::Logical,
                Some(fs(
                    FsType::Ext4,
                    Some("/home"),
                    "home",
                    "bbbbbbbb-0000-4000-8000-000000000005",
                    Some(512),
                )),
            ),
            mbr_part(
                d,
                6,
                swap_start,
                GIB,
                0x82,
                MbrRole::Logical,
                Some(fs(
                    FsType::Swap,
                    None,
                    "swap",
                    "bbbbbbbb-0000-4000-8000-000000000006",
                    None,
                )),
            ),
        ],
        filesystem: None,
    }];
    ml
}

pub fn msdos_app() -> App {
    let mut input = input();
    input.mountlist = msdos_mountlist();
    input.targets[0].bytes = 10 << 30;
    App::new(input)
}
