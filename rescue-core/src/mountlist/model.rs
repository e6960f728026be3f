//! The mountlist: the disk layout that a rescue medium carries so the restore can rebuild it.
//!
//! Sizes and offsets are in logical sectors of the disk they belong to; the format is
//! described for users in docs/mountlist.md.

use super::boot_paths::BootPath;
use super::mount_point::{MountPoint, MountPointError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The mountlist format version this code reads and writes.
pub const MOUNTLIST_VERSION: u32 = 1;

/// GPT partition type of an EFI System Partition.
pub const GPT_TYPE_ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
/// GPT partition type of a BIOS boot partition (GRUB's core image on GPT disks).
pub const GPT_TYPE_BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";
/// MBR partition id of an EFI System Partition.
pub const MBR_TYPE_ESP: u8 = 0xef;

/// Partition entries in the GPTs the restore writes (gptman's default, and what nearly
/// every partitioning tool writes): GPT partitions are numbered 1 to this.
pub const GPT_ENTRIES: u32 = 128;
/// Bytes of one GPT partition entry.
const GPT_ENTRY_BYTES: u64 = 128;
/// The highest partition number Linux gives (DISK_MAX_PARTS is 256 minors, the disk's
/// own included): logical partitions are numbered 5 to this.
pub const MAX_PARTITION_NUMBER: u32 = 255;
/// MBR entries and EBR links hold 32-bit sector numbers: nothing at or past this sector
/// is addressable.
pub const MBR_SECTOR_LIMIT: u64 = 1 << 32;
/// The largest disk in bytes: Linux addresses a block device by a signed 64-bit byte
/// offset (loff_t), so 8 EiB less one byte.
pub const MAX_DISK_BYTES: u64 = i64::MAX as u64;
/// Logical sector sizes Linux block devices have: 512 bytes to 64 KiB, powers of two.
pub const SECTOR_SIZES: std::ops::RangeInclusive<u32> = 512..=65536;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mountlist {
    pub version: u32,
    pub host: Host,
    pub boot: Boot,
    pub disks: Vec<Disk>,
    /// Storage that exists on the host but that this version cannot recreate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<Unsupported>,
    /// Things the capture noticed that the user should know (shown again at restore time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub hostname: String,
    /// The directory whose mounts were captured ("/" for the running system).
    pub root: String,
    pub kernel_release: String,
    /// Seconds since the Unix epoch when the layout was captured.
    pub captured_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BootMode {
    Bios,
    Uefi,
}

impl fmt::Display for BootMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootMode::Bios => "BIOS",
            BootMode::Uefi => "UEFI",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    pub mode: BootMode,
    /// Device path of the EFI System Partition, when the layout has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp: Option<String>,
    /// Every way the source booted, as the capture found them (empty: it had no boot
    /// loader). Absent in mountlists captured before boot paths were: then the restore
    /// reinstalls GRUB for the boot mode, as those did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<BootPath>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub path: String,
    /// Size in logical sectors.
    pub sectors: u64,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub table: PartitionTable,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
    /// A filesystem on the whole disk (only with `table: none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
}

impl Disk {
    /// The size in bytes (at most `u64::MAX`: validation refuses disks past
    /// [`MAX_DISK_BYTES`]).
    pub fn size_bytes(&self) -> u64 {
        self.sectors
            .saturating_mul(u64::from(self.logical_sector_size))
    }

    pub fn partition(&self, number: u32) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.number == number)
    }

    /// Sectors per MiB, the alignment partitioning tools use by default.
    pub fn mib_sectors(&self) -> u64 {
        (1024 * 1024 / u64::from(self.logical_sector_size.max(1))).max(1)
    }

    /// The sectors a GPT written by the restore leaves for partitions, first and last
    /// (inclusive): the protective MBR, the header and [`GPT_ENTRIES`] entries come
    /// first, the backup entries and header last. None when the disk is too small.
    pub fn gpt_area(&self) -> Option<(u64, u64)> {
        let tables = gpt_table_sectors(self.logical_sector_size);
        let first = 1 + tables;
        let last = self.sectors.checked_sub(1 + tables)?;
        (first <= last).then_some((first, last))
    }
}

/// Sectors of one GPT's header and entries, at a sector size.
pub fn gpt_table_sectors(sector_size: u32) -> u64 {
    1 + (u64::from(GPT_ENTRIES) * GPT_ENTRY_BYTES).div_ceil(u64::from(sector_size.max(1)))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PartitionTable {
    Gpt {
        disk_guid: String,
        first_usable_lba: u64,
        last_usable_lba: u64,
    },
    Msdos {
        /// The 32-bit disk signature at offset 440, as "0x1234abcd".
        signature: String,
    },
    /// No partition table: the disk holds one filesystem (or nothing).
    None,
}

impl PartitionTable {
    pub fn name(&self) -> &'static str {
        match self {
            PartitionTable::Gpt { .. } => "gpt",
            PartitionTable::Msdos { .. } => "msdos",
            PartitionTable::None => "none",
        }
    }

    /// The disk's identifier: GPT disk GUID or MBR signature.
    pub fn id(&self) -> Option<&str> {
        match self {
            PartitionTable::Gpt { disk_guid, .. } => Some(disk_guid),
            PartitionTable::Msdos { signature } => Some(signature),
            PartitionTable::None => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub number: u32,
    pub path: String,
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpt: Option<GptEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbr: Option<MbrEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
}

impl Partition {
    /// One past the last sector.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }

    pub fn is_esp(&self) -> bool {
        self.gpt
            .as_ref()
            .is_some_and(|g| g.type_guid == GPT_TYPE_ESP)
            || self.mbr.as_ref().is_some_and(|m| m.type_id == MBR_TYPE_ESP)
    }

    pub fn is_bios_boot(&self) -> bool {
        self.gpt
            .as_ref()
            .is_some_and(|g| g.type_guid == GPT_TYPE_BIOS_BOOT)
    }

    pub fn is_extended(&self) -> bool {
        self.mbr
            .as_ref()
            .is_some_and(|m| m.role == MbrRole::Extended)
    }

    pub fn is_logical(&self) -> bool {
        self.mbr
            .as_ref()
            .is_some_and(|m| m.role == MbrRole::Logical)
    }

    /// A short human name for the partition type.
    pub fn type_name(&self) -> String {
        if let Some(g) = &self.gpt {
            return gpt_type_name(&g.type_guid)
                .map(str::to_string)
                .unwrap_or_else(|| g.type_guid.clone());
        }
        if let Some(m) = &self.mbr {
            return mbr_type_name(m.type_id)
                .map(str::to_string)
                .unwrap_or_else(|| format!("0x{:02x}", m.type_id));
        }
        "-".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptEntry {
    /// Partition type GUID, lowercase.
    pub type_guid: String,
    /// The partition's own GUID (PARTUUID), lowercase.
    pub unique_guid: String,
    #[serde(default)]
    pub name: String,
    /// Attribute bits (bit 0 required, bit 2 legacy BIOS bootable, 48-63 type specific).
    #[serde(default)]
    pub attributes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MbrRole {
    Primary,
    Extended,
    Logical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MbrEntry {
    /// The partition's system id (0x83 Linux, 0x82 swap, 0x05/0x0f extended, ...).
    #[serde(with = "hex_u8")]
    pub type_id: u8,
    #[serde(default)]
    pub bootable: bool,
    pub role: MbrRole,
}

/// Filesystem types the restore can recreate, and any other type by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FsType {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Vfat,
    Btrfs,
    Swap,
    Other(String),
}

impl FsType {
    pub fn as_str(&self) -> &str {
        match self {
            FsType::Ext2 => "ext2",
            FsType::Ext3 => "ext3",
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
            FsType::Vfat => "vfat",
            FsType::Btrfs => "btrfs",
            FsType::Swap => "swap",
            FsType::Other(name) => name,
        }
    }

    pub fn parse(name: &str) -> FsType {
        match name {
            "ext2" => FsType::Ext2,
            "ext3" => FsType::Ext3,
            "ext4" => FsType::Ext4,
            "xfs" => FsType::Xfs,
            "vfat" | "fat" | "msdos" => FsType::Vfat,
            "btrfs" => FsType::Btrfs,
            "swap" => FsType::Swap,
            other => FsType::Other(other.to_string()),
        }
    }

    /// The program that creates this filesystem, when the restore knows one.
    pub fn mkfs_program(&self) -> Option<&'static str> {
        match self {
            FsType::Ext2 => Some("mkfs.ext2"),
            FsType::Ext3 => Some("mkfs.ext3"),
            FsType::Ext4 => Some("mkfs.ext4"),
            FsType::Xfs => Some("mkfs.xfs"),
            FsType::Vfat => Some("mkfs.vfat"),
            FsType::Btrfs => Some("mkfs.btrfs"),
            FsType::Swap => Some("mkswap"),
            FsType::Other(_) => None,
        }
    }

    pub fn is_ext(&self) -> bool {
        matches!(self, FsType::Ext2 | FsType::Ext3 | FsType::Ext4)
    }
}

impl fmt::Display for FsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FsType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FsType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(FsType::parse(&name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    #[serde(rename = "type")]
    pub fs_type: FsType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Where it is mounted now, relative to the captured root ("/", "/home").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_options: Option<String>,
    /// A swap area in use now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub swap_active: bool,
    /// Size of the filesystem itself, from its superblock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Bytes in use when captured (mounted filesystems only): the least a resize may leave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "FsParams::is_empty")]
    pub params: FsParams,
    /// How /etc/fstab of the captured root refers to this filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fstab: Option<FstabRef>,
}

impl Filesystem {
    pub fn new(fs_type: FsType) -> Filesystem {
        Filesystem {
            fs_type,
            uuid: None,
            label: None,
            mount_point: None,
            mount_options: None,
            swap_active: false,
            size_bytes: None,
            used_bytes: None,
            params: FsParams::default(),
            fstab: None,
        }
    }

    /// The mount point to recreate, as written: the live mount, else the fstab entry.
    pub fn target_mount_point(&self) -> Option<&str> {
        self.mount_point
            .as_deref()
            .or_else(|| self.fstab.as_ref().map(|f| f.mount_point.as_str()))
            .filter(|m| m.starts_with('/'))
    }

    /// The mount point to recreate in normal form: what the restore mounts and compares.
    pub fn target_mount(&self) -> Result<Option<MountPoint>, MountPointError> {
        self.target_mount_point().map(MountPoint::parse).transpose()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Creation parameters worth keeping when the filesystem is made again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_size: Option<u32>,
    /// ext* feature names as mke2fs -O takes them; xfs "crc"/"reflink"/...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// FAT width: 12, 16 or 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fat_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_size: Option<u32>,
    /// btrfs metadata node size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_size: Option<u32>,
}

impl FsParams {
    pub fn is_empty(&self) -> bool {
        *self == FsParams::default()
    }
}

/// How an fstab line names its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FstabSpecKind {
    Uuid,
    Label,
    Partuuid,
    Partlabel,
    Device,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FstabRef {
    /// The first field as written ("UUID=...", "/dev/sda1").
    pub spec: String,
    pub kind: FstabSpecKind,
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
    #[serde(default)]
    pub dump: u32,
    #[serde(default)]
    pub pass: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnsupportedKind {
    LvmPhysicalVolume,
    LvmLogicalVolume,
    MdRaid,
    MdMember,
    Luks,
    DeviceMapper,
}

impl fmt::Display for UnsupportedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsupportedKind::LvmPhysicalVolume => "LVM physical volume",
            UnsupportedKind::LvmLogicalVolume => "LVM logical volume",
            UnsupportedKind::MdRaid => "MD RAID array",
            UnsupportedKind::MdMember => "MD RAID member",
            UnsupportedKind::Luks => "LUKS container",
            UnsupportedKind::DeviceMapper => "device-mapper device",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsupported {
    pub device: String,
    pub kind: UnsupportedKind,
    /// What it holds or where it is mounted, for the user.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The mount point (relative to the captured root, "/var") of the filesystem on it
    /// that the capture left out, when one is mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
}

impl Mountlist {
    /// Every filesystem with the device path that holds it, whole disks first.
    pub fn filesystems(&self) -> impl Iterator<Item = (&str, &Filesystem)> {
        self.disks.iter().flat_map(|d| {
            let whole = d.filesystem.as_ref().map(|f| (d.path.as_str(), f));
            let parts = d
                .partitions
                .iter()
                .filter_map(|p| p.filesystem.as_ref().map(|f| (p.path.as_str(), f)));
            whole.into_iter().chain(parts)
        })
    }

    pub fn disk(&self, path: &str) -> Option<&Disk> {
        self.disks.iter().find(|d| d.path == path)
    }

    pub fn disk_mut(&mut self, path: &str) -> Option<&mut Disk> {
        self.disks.iter_mut().find(|d| d.path == path)
    }
}

/// The device path of partition `number` on `disk`: a "p" goes between when the
/// disk name ends in a digit (nvme0n1p1, loop0p1, mmcblk0p1), as the kernel names them.
pub fn partition_path(disk: &str, number: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{number}")
    } else {
        format!("{disk}{number}")
    }
}

pub fn gpt_type_name(guid: &str) -> Option<&'static str> {
    Some(match guid {
        GPT_TYPE_ESP => "EFI System",
        GPT_TYPE_BIOS_BOOT => "BIOS boot",
        "0fc63daf-8483-4772-8e79-3d69d8477de4" => "Linux filesystem",
        "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" => "Linux root (x86-64)",
        "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" => "Linux swap",
        "e6d6d379-f507-44c2-a23c-238f2a3df928" => "Linux LVM",
        "a19d880f-05fc-4d3b-a006-743f0f84911e" => "Linux RAID",
        "933ac7e1-2eb4-4f13-b844-0e14e2aef915" => "Linux home",
        "3b8f8425-20e0-4f3b-907f-1a25a76f98e8" => "Linux server data",
        "bc13c2ff-59e6-4262-a352-b275fd6f7172" => "Linux extended boot",
        "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7" => "Microsoft basic data",
        _ => return None,
    })
}

pub fn mbr_type_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0x05 => "Extended",
        0x0f => "W95 Ext'd (LBA)",
        0x85 => "Linux extended",
        0x83 => "Linux",
        0x82 => "Linux swap",
        0x8e => "Linux LVM",
        0xfd => "Linux raid autodetect",
        0xef => "EFI (FAT-12/16/32)",
        0x0b => "W95 FAT32",
        0x0c => "W95 FAT32 (LBA)",
        0x06 => "FAT16",
        0x0e => "W95 FAT16 (LBA)",
        0x07 => "HPFS/NTFS/exFAT",
        _ => return None,
    })
}

/// MBR system ids that mark an extended partition.
pub fn is_extended_type(id: u8) -> bool {
    matches!(id, 0x05 | 0x0f | 0x85)
}

mod hex_u8 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{v:02x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u8),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(n),
            Raw::Text(t) => {
                let digits = t
                    .strip_prefix("0x")
                    .or_else(|| t.strip_prefix("0X"))
                    .unwrap_or(&t);
                u8::from_str_radix(digits, 16).map_err(|_| {
                    D::Error::custom(format!(
                        "MBR type id {t:?} is not a byte in hex such as \"0x83\""
                    ))
                })
            }
        }
    }
}
