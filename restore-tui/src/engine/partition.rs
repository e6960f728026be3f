//! Partition tables as values, written natively with gptman (GPT) and mbrman (MBR with
//! primary, extended and logical partitions).
//!
//! A [`Table`] is built from a disk of the (mapped, fitted) mountlist at plan time, so the
//! plan shows exactly what will be written: every GUID is decided then (one the mountlist
//! leaves empty is generated). [`Table::sfdisk_script`] prints it as the input sfdisk
//! would take to write the same table by hand.

use rescue_core::mountlist::{Disk, MbrRole, PartitionTable};
use std::fmt::Write as _;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// A partition table to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Table {
    Gpt(GptTable),
    Mbr(MbrTable),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptTable {
    pub sector_size: u32,
    /// Lowercase canonical form, as blkid and sfdisk print it.
    pub disk_guid: String,
    /// The first usable sector the original table had (sfdisk makes it 2048); kept when
    /// the disk allows it, else the GPT minimum.
    pub first_usable_lba: u64,
    pub partitions: Vec<GptPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptPartition {
    pub number: u32,
    pub start: u64,
    pub size: u64,
    pub type_guid: String,
    pub unique_guid: String,
    pub name: String,
    pub attributes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbrTable {
    pub sector_size: u32,
    /// The disk signature at offset 440 (`PARTUUID=SIGNATURE-NN` depends on it).
    pub signature: u32,
    pub partitions: Vec<MbrPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbrPartition {
    pub number: u32,
    pub start: u64,
    pub size: u64,
    pub type_id: u8,
    pub bootable: bool,
    pub role: MbrRole,
    /// Logical partitions: where their EBR goes (the first one's is the extended
    /// partition's first sector; each next one right after the logical before it).
    pub ebr: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{disk}: {what}")]
    Layout { disk: String, what: String },
    #[error("the disk has {have} sectors but the partition table needs {need}")]
    DiskTooSmall { have: u64, need: u64 },
    #[error("gptman refused the table: {0}")]
    Gpt(#[from] gptman::Error),
    #[error("mbrman refused the table: {0}")]
    Mbr(#[from] mbrman::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Table {
    /// The table for `disk` (None for a disk without a partition table). `fresh_guid`
    /// gives a new random GUID where the mountlist has none.
    pub fn from_disk(
        disk: &Disk,
        fresh_guid: &mut dyn FnMut() -> String,
    ) -> Result<Option<Table>, TableError> {
        let layout = |what: String| TableError::Layout {
            disk: disk.path.clone(),
            what,
        };
        match &disk.table {
            PartitionTable::None => Ok(None),
            PartitionTable::Gpt {
                disk_guid,
                first_usable_lba,
                ..
            } => {
                let mut partitions = Vec::new();
                for p in &disk.partitions {
                    let g = p.gpt.as_ref().ok_or_else(|| {
                        layout(format!("partition {} has no GPT entry", p.number))
                    })?;
                    if !(1..=128).contains(&p.number) {
                        return Err(layout(format!(
                            "partition {}: GPT entries are numbered 1 to 128",
                            p.number
                        )));
                    }
                    if p.size == 0 {
                        return Err(layout(format!("partition {} has size 0", p.number)));
                    }
                    check_guid(&g.type_guid)
                        .map_err(|e| layout(format!("partition {} type: {e}", p.number)))?;
                    let unique_guid = if g.unique_guid.is_empty() {
                        fresh_guid()
                    } else {
                        check_guid(&g.unique_guid)
                            .map_err(|e| layout(format!("partition {} GUID: {e}", p.number)))?;
                        g.unique_guid.to_ascii_lowercase()
                    };
                    partitions.push(GptPartition {
                        number: p.number,
                        start: p.start,
                        size: p.size,
                        type_guid: g.type_guid.to_ascii_lowercase(),
                        unique_guid,
                        name: g.name.clone(),
                        attributes: g.attributes,
                    });
                }
                partitions.sort_by_key(|p| p.number);
                let disk_guid = if disk_guid.is_empty() {
                    fresh_guid()
                } else {
                    check_guid(disk_guid).map_err(|e| layout(format!("disk GUID: {e}")))?;
                    disk_guid.to_ascii_lowercase()
                };
                Ok(Some(Table::Gpt(GptTable {
                    sector_size: disk.logical_sector_size,
                    disk_guid,
                    first_usable_lba: *first_usable_lba,
                    partitions,
                })))
            }
            PartitionTable::Msdos { signature } => {
                let digits = signature
                    .strip_prefix("0x")
                    .or_else(|| signature.strip_prefix("0X"))
                    .unwrap_or(signature);
                let signature = u32::from_str_radix(digits, 16).map_err(|_| {
                    layout(format!(
                        "MBR signature {signature:?} is not 32 bits in hex such as 0x1234abcd"
                    ))
                })?;
                Ok(Some(Table::Mbr(mbr_table(disk, signature, &layout)?)))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Table::Gpt(_) => "GPT",
            Table::Mbr(_) => "MBR",
        }
    }

    /// Partition numbers the kernel will show, in order.
    pub fn numbers(&self) -> Vec<u32> {
        match self {
            Table::Gpt(t) => t.partitions.iter().map(|p| p.number).collect(),
            Table::Mbr(t) => t.partitions.iter().map(|p| p.number).collect(),
        }
    }

    /// "a GPT partition table (disk GUID ...) with 4 partitions"
    pub fn summary(&self) -> String {
        let n = self.numbers().len();
        let parts = format!("{n} partition{}", if n == 1 { "" } else { "s" });
        match self {
            Table::Gpt(t) => format!(
                "a GPT partition table (disk GUID {}) with {parts}",
                t.disk_guid
            ),
            Table::Mbr(t) => format!(
                "an MBR partition table (disk signature 0x{:08x}) with {parts}",
                t.signature
            ),
        }
    }

    /// The same table as sfdisk's input (`sfdisk DISK < script` writes it by hand).
    pub fn sfdisk_script(&self, disk: &str) -> String {
        let mut s = String::new();
        match self {
            Table::Gpt(t) => {
                let _ = writeln!(s, "label: gpt");
                let _ = writeln!(s, "label-id: {}", t.disk_guid.to_ascii_uppercase());
                let _ = writeln!(s, "first-lba: {}", t.first_usable_lba);
                let _ = writeln!(s, "sector-size: {}", t.sector_size);
                for p in &t.partitions {
                    let _ = write!(
                        s,
                        "{} : start={}, size={}, type={}, uuid={}",
                        partition_path(disk, p.number),
                        p.start,
                        p.size,
                        p.type_guid.to_ascii_uppercase(),
                        p.unique_guid.to_ascii_uppercase()
                    );
                    if !p.name.is_empty() {
                        let _ = write!(s, ", name=\"{}\"", p.name.replace('"', "\\\""));
                    }
                    if p.attributes != 0 {
                        let _ = write!(s, ", attrs=\"{}\"", gpt_attrs_text(p.attributes));
                    }
                    s.push('\n');
                }
            }
            Table::Mbr(t) => {
                let _ = writeln!(s, "label: dos");
                let _ = writeln!(s, "label-id: 0x{:08x}", t.signature);
                let _ = writeln!(s, "sector-size: {}", t.sector_size);
                for p in &t.partitions {
                    let _ = write!(
                        s,
                        "{} : start={}, size={}, type={:x}",
                        partition_path(disk, p.number),
                        p.start,
                        p.size,
                        p.type_id
                    );
                    if p.bootable {
                        s.push_str(", bootable");
                    }
                    s.push('\n');
                }
            }
        }
        s
    }

    /// Writes the table onto `dev` (a disk, or an image of one), which must be at least
    /// as large as the table needs. GPT: the primary and backup headers and entries, then
    /// a protective MBR with its boot code area cleared. MBR: sector 0, then one EBR per
    /// logical partition.
    pub fn write<D: Read + Write + Seek>(&self, dev: &mut D) -> Result<(), TableError> {
        match self {
            Table::Gpt(t) => write_gpt(t, dev),
            Table::Mbr(t) => write_mbr(t, dev),
        }?;
        dev.flush()?;
        Ok(())
    }
}

/// `/dev/vdb` + 2 -> `/dev/vdb2`; `/dev/loop3` + 2 -> `/dev/loop3p2`.
pub fn partition_path(disk: &str, number: u32) -> String {
    rescue_core::mountlist::partition_path(disk, number)
}

fn mbr_table(
    disk: &Disk,
    signature: u32,
    layout: &dyn Fn(String) -> TableError,
) -> Result<MbrTable, TableError> {
    let mut partitions = Vec::new();
    for p in &disk.partitions {
        let m = p
            .mbr
            .as_ref()
            .ok_or_else(|| layout(format!("partition {} has no MBR entry", p.number)))?;
        if p.size == 0 {
            return Err(layout(format!("partition {} has size 0", p.number)));
        }
        if p.end() > 1 << 32 {
            return Err(layout(format!(
                "partition {} ends past sector 2^32, which an MBR cannot address",
                p.number
            )));
        }
        let number_ok = match m.role {
            MbrRole::Primary | MbrRole::Extended => (1..=4).contains(&p.number),
            MbrRole::Logical => p.number >= 5,
        };
        if !number_ok {
            return Err(layout(format!(
                "partition {} cannot be {} (primaries and the extended partition are 1-4, \
                 logicals 5 and up)",
                p.number,
                match m.role {
                    MbrRole::Logical => "logical",
                    _ => "primary",
                }
            )));
        }
        partitions.push(MbrPartition {
            number: p.number,
            start: p.start,
            size: p.size,
            type_id: m.type_id,
            bootable: m.bootable,
            role: m.role,
            ebr: None,
        });
    }
    partitions.sort_by_key(|p| p.number);
    let extended: Vec<&MbrPartition> = partitions
        .iter()
        .filter(|p| p.role == MbrRole::Extended)
        .collect();
    let logical_count = partitions
        .iter()
        .filter(|p| p.role == MbrRole::Logical)
        .count();
    if extended.len() > 1 {
        return Err(layout("more than one extended partition".into()));
    }
    if logical_count > 0 {
        let Some(ext) = extended.first().map(|e| (e.start, e.end())) else {
            return Err(layout(
                "logical partitions without an extended partition".into(),
            ));
        };
        // The kernel numbers logical partitions 5, 6, ... in the order of the EBR chain.
        let mut previous_end: Option<u64> = None;
        for (i, p) in partitions
            .iter_mut()
            .filter(|p| p.role == MbrRole::Logical)
            .enumerate()
        {
            let want = 5 + i as u32;
            if p.number != want {
                return Err(layout(format!(
                    "logical partition {} should be number {want}: the kernel numbers logical \
                     partitions 5, 6, ... in order",
                    p.number
                )));
            }
            let ebr = match previous_end {
                None => ext.0,
                Some(end) => end,
            };
            if ebr >= p.start || ebr < ext.0 || p.end() > ext.1 {
                return Err(layout(format!(
                    "logical partition {} leaves no room for its EBR inside the extended \
                     partition (sectors {}-{})",
                    p.number,
                    ext.0,
                    ext.1 - 1
                )));
            }
            p.ebr = Some(ebr);
            previous_end = Some(p.end());
        }
    }
    Ok(MbrTable {
        sector_size: disk.logical_sector_size,
        signature,
        partitions,
    })
}

impl MbrPartition {
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

fn write_gpt<D: Read + Write + Seek>(t: &GptTable, dev: &mut D) -> Result<(), TableError> {
    let ss = u64::from(t.sector_size);
    let sectors = dev.seek(SeekFrom::End(0))? / ss;
    // Protective MBR, primary header and entries, backup entries and header.
    let need = t
        .partitions
        .iter()
        .map(|p| p.start + p.size + 33)
        .max()
        .unwrap_or(0)
        .max(67);
    if sectors < need {
        return Err(TableError::DiskTooSmall {
            have: sectors,
            need,
        });
    }
    let mut gpt = gptman::GPT::new_from(dev, ss, gpt_bytes(&t.disk_guid))?;
    let first_start = t.partitions.iter().map(|p| p.start).min();
    if t.first_usable_lba > gpt.header.first_usable_lba
        && first_start.is_none_or(|s| t.first_usable_lba <= s)
        && t.first_usable_lba <= gpt.header.last_usable_lba
    {
        gpt.header.first_usable_lba = t.first_usable_lba;
    }
    for p in &t.partitions {
        gpt[p.number] = gptman::GPTPartitionEntry {
            partition_type_guid: gpt_bytes(&p.type_guid),
            unique_partition_guid: gpt_bytes(&p.unique_guid),
            starting_lba: p.start,
            ending_lba: p.start + p.size - 1,
            attribute_bits: p.attributes,
            partition_name: p.name.as_str().into(),
        };
    }
    gpt.write_into(dev)?;
    // Old boot code would be run by a BIOS that boots the disk: clear it.
    dev.seek(SeekFrom::Start(0))?;
    dev.write_all(&[0u8; 446])?;
    gptman::GPT::write_protective_mbr_into(dev, ss)?;
    Ok(())
}

fn write_mbr<D: Read + Write + Seek>(t: &MbrTable, dev: &mut D) -> Result<(), TableError> {
    let ss = u64::from(t.sector_size);
    let sectors = dev.seek(SeekFrom::End(0))? / ss;
    let need = t
        .partitions
        .iter()
        .map(MbrPartition::end)
        .max()
        .unwrap_or(1);
    if sectors < need {
        return Err(TableError::DiskTooSmall {
            have: sectors,
            need,
        });
    }
    let mut mbr = mbrman::MBR::new_from(dev, t.sector_size, t.signature.to_le_bytes())?;
    let lba = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    for p in t.partitions.iter().filter(|p| p.role != MbrRole::Logical) {
        mbr[p.number as usize] = mbrman::MBRPartitionEntry {
            boot: if p.bootable { 0x80 } else { 0 },
            first_chs: chs(p.start),
            sys: p.type_id,
            last_chs: chs(p.end() - 1),
            starting_lba: lba(p.start),
            sectors: lba(p.size),
        };
    }
    // Sector 0 from mbrman; the EBRs written here: mbrman 0.6 computes an EBR's byte
    // offset in 32 bits, which overflows (panics, or wraps and writes elsewhere) past 4 GiB.
    mbr.write_into(dev)?;
    let extended = t.partitions.iter().find(|p| p.role == MbrRole::Extended);
    let logicals: Vec<&MbrPartition> = t
        .partitions
        .iter()
        .filter(|p| p.role == MbrRole::Logical)
        .collect();
    for (i, p) in logicals.iter().enumerate() {
        let (Some(ext), Some(ebr)) = (extended, p.ebr) else {
            continue;
        };
        let mut sector = vec![0u8; t.sector_size as usize];
        let own = entry(
            p.bootable,
            p.type_id,
            p.start - ebr,
            p.size,
            p.start,
            p.end() - 1,
        );
        sector[446..462].copy_from_slice(&own);
        if let Some(next) = logicals.get(i + 1) {
            let next_ebr = next.ebr.unwrap_or(next.start - 1);
            let link = entry(
                false,
                ext.type_id,
                next_ebr - ext.start,
                next.end() - next_ebr,
                next_ebr,
                next.end() - 1,
            );
            sector[462..478].copy_from_slice(&link);
        }
        sector[510] = 0x55;
        sector[511] = 0xaa;
        dev.seek(SeekFrom::Start(ebr * ss))?;
        dev.write_all(&sector)?;
    }
    Ok(())
}

/// A 16-byte MBR/EBR partition entry: `start` relative as the entry needs it, the CHS
/// addresses from the absolute sectors.
fn entry(
    bootable: bool,
    type_id: u8,
    start: u64,
    size: u64,
    abs_first: u64,
    abs_last: u64,
) -> [u8; 16] {
    let lba = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut e = [0u8; 16];
    e[0] = if bootable { 0x80 } else { 0 };
    e[1..4].copy_from_slice(&chs_bytes(abs_first));
    e[4] = type_id;
    e[5..8].copy_from_slice(&chs_bytes(abs_last));
    e[8..12].copy_from_slice(&lba(start));
    e[12..16].copy_from_slice(&lba(size));
    e
}

/// A CHS address as the three bytes an entry holds: head; sector and the cylinder's top
/// two bits; the cylinder's low byte.
fn chs_bytes(lba: u64) -> [u8; 3] {
    let c = chs(lba);
    [
        c.head,
        (c.sector & 0x3f) | (((c.cylinder >> 8) as u8 & 0x03) << 6),
        (c.cylinder & 0xff) as u8,
    ]
}

/// CHS address as fdisk writes it for 255 heads and 63 sectors a track; past what CHS
/// can address, the maximum (1023, 254, 63).
fn chs(lba: u64) -> mbrman::CHS {
    let (heads, sectors) = (255u64, 63u64);
    let cylinder = lba / (heads * sectors);
    if cylinder > 1023 {
        return mbrman::CHS::new(1023, 254, 63);
    }
    let head = (lba / sectors) % heads;
    let sector = lba % sectors + 1;
    mbrman::CHS::new(cylinder as u16, head as u8, sector as u8)
}

/// sfdisk's words for GPT attribute bits.
fn gpt_attrs_text(bits: u64) -> String {
    let mut words = Vec::new();
    let mut guid_bits = Vec::new();
    for bit in 0..64 {
        if bits & (1 << bit) == 0 {
            continue;
        }
        match bit {
            0 => words.push("RequiredPartition".to_string()),
            1 => words.push("NoBlockIOProtocol".to_string()),
            2 => words.push("LegacyBIOSBootable".to_string()),
            n => guid_bits.push(n.to_string()),
        }
    }
    if !guid_bits.is_empty() {
        words.push(format!("GUID:{}", guid_bits.join(",")));
    }
    words.join(" ")
}

/// Checks a GUID in canonical form (8-4-4-4-12 hex digits).
pub fn check_guid(text: &str) -> Result<(), String> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lengths != [8, 4, 4, 4, 12]
        || !groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(format!(
            "{text:?} is not a GUID such as 0fc63daf-8483-4772-8e79-3d69d8477de4"
        ));
    }
    Ok(())
}

/// A canonical GUID as GPT stores it: the first three fields little-endian.
pub fn gpt_bytes(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).take(16).enumerate() {
        out[i] = pair[0] << 4 | pair.get(1).copied().unwrap_or(0);
    }
    out[0..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    out
}

/// A random (version 4) GUID from the kernel's random source.
pub fn random_guid() -> io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn guids_are_stored_mixed_endian() {
        let b = gpt_bytes("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
        assert_eq!(
            b,
            [
                0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
                0xc9, 0x3b
            ]
        );
        assert!(check_guid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b").is_ok());
        assert!(check_guid("c12a7328f81f11d2ba4b00a0c93ec93b").is_err());
        let g = random_guid().unwrap();
        assert!(check_guid(&g).is_ok(), "{g}");
        assert_eq!(&g[14..15], "4");
    }

    #[test]
    fn entries_pack_chs_as_the_spec_says() {
        assert_eq!(chs_bytes(1 << 30), [0xfe, 0xff, 0xff]);
        assert_eq!(chs_bytes(2048), [32, 33, 0]);
        let e = entry(true, 0x83, 2048, 4096, 2048, 6143);
        assert_eq!(e[0], 0x80);
        assert_eq!(e[4], 0x83);
        assert_eq!(&e[8..12], &2048u32.to_le_bytes());
        assert_eq!(&e[12..16], &4096u32.to_le_bytes());
    }

    #[test]
    fn chs_follows_fdisk() {
        let c = chs(2048);
        assert_eq!((c.cylinder, c.head, c.sector), (0, 32, 33));
        let c = chs(1 << 30);
        assert_eq!((c.cylinder, c.head, c.sector), (1023, 254, 63));
    }

    #[test]
    fn attributes_read_as_sfdisk_writes_them() {
        assert_eq!(
            gpt_attrs_text(1 | 4),
            "RequiredPartition LegacyBIOSBootable"
        );
        assert_eq!(gpt_attrs_text(1 << 60 | 1 << 63), "GUID:60,63");
    }

    #[test]
    fn a_disk_too_small_is_refused_before_writing() {
        let t = Table::Mbr(MbrTable {
            sector_size: 512,
            signature: 1,
            partitions: vec![MbrPartition {
                number: 1,
                start: 2048,
                size: 4096,
                type_id: 0x83,
                bootable: false,
                role: MbrRole::Primary,
                ebr: None,
            }],
        });
        let mut small = Cursor::new(vec![0u8; 4096 * 512]);
        let err = t.write(&mut small).unwrap_err();
        assert!(matches!(err, TableError::DiskTooSmall { .. }), "{err}");
        assert!(small.get_ref().iter().all(|b| *b == 0), "nothing written");
    }
}
