//! Reading a disk's partition table (GPT or MBR/msdos) natively, without sfdisk.
//!
//! The decisions follow libblkid and the kernel: a protective MBR (type 0xee) means GPT;
//! a sector 0 that is a FAT/exFAT/NTFS boot sector means a whole-disk filesystem even
//! though it ends in 0x55aa; logical partitions are numbered from 5 in chain order.

use super::guid::gpt_guid;
use super::superblock::is_fs_boot_sector;
use gptman::{GPTHeader, GPTPartitionEntry};
use mbrman::MBRHeader;
use rescue_core::mountlist::{
    is_extended_type, partition_path, GptEntry, MbrEntry, MbrRole, Partition, PartitionTable,
};
use std::collections::HashSet;
use std::io::{self, Cursor, Read, Seek, SeekFrom};

/// The MBR and every EBR are 512 bytes at the start of their sector, whatever its size.
const MBR_SIZE: usize = 512;
/// Offset of the 0x55aa boot signature.
const SIGNATURE_AT: usize = 510;
/// Offset of the four primary partition entries.
const ENTRIES_AT: usize = 446;
/// The partition type of a GPT protective MBR entry.
const GPT_PROTECTIVE: u8 = 0xee;
/// gptman only handles the standard entry size (it asserts on others).
const GPT_ENTRY_SIZE: u32 = 128;
/// A bound on the entry count read from disk (the standard is 128; 2 MiB of entries is
/// far beyond any real table) so a crafted header cannot make us allocate gigabytes.
const GPT_MAX_ENTRIES: u32 = 16384;
/// The kernel gives up on a chain of EBRs after 100 links; a few more do no harm.
const MAX_LOGICALS: usize = 256;

/// What a disk's partition table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRead {
    pub table: PartitionTable,
    /// In partition number order; `filesystem` is left None for the caller.
    pub partitions: Vec<Partition>,
    /// Damage that was worked around (a bad primary GPT, a broken EBR chain, ...).
    pub warnings: Vec<String>,
}

impl TableRead {
    fn none() -> TableRead {
        TableRead {
            table: PartitionTable::None,
            partitions: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read {what} of {disk} at byte {offset}")]
    Io {
        disk: String,
        what: &'static str,
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error(
        "{disk} has a protective MBR (GPT) but neither GPT header can be used: primary at \
         LBA 1: {primary}; backup at LBA {backup_lba}: {backup}"
    )]
    CorruptGpt {
        disk: String,
        primary: String,
        backup_lba: u64,
        backup: String,
    },
    #[error("{disk}: logical sector size {size} is not a power of two from 512 to 65536")]
    SectorSize { disk: String, size: u32 },
}

/// Reads the partition table of a disk of `disk_sectors` logical sectors (0: unknown, then
/// the end of `dev` is used). Partition paths are made from `disk_path`.
pub fn read_table<R: Read + Seek>(
    dev: &mut R,
    disk_path: &str,
    disk_sectors: u64,
    logical_sector_size: u32,
) -> Result<TableRead, TableError> {
    if !(512..=65536).contains(&logical_sector_size) || !logical_sector_size.is_power_of_two() {
        return Err(TableError::SectorSize {
            disk: disk_path.to_string(),
            size: logical_sector_size,
        });
    }
    let mut disk = DiskReader {
        dev,
        path: disk_path,
        sector_size: u64::from(logical_sector_size),
        sectors: disk_sectors,
    };
    let Some(sector0) = disk.read_exact_at(0, MBR_SIZE, "the MBR")? else {
        return Ok(TableRead::none()); // smaller than one sector
    };
    if sector0[SIGNATURE_AT..] != [0x55, 0xaa] {
        return disk.no_table();
    }
    if primary_entries(&sector0).any(|e| e.sys == GPT_PROTECTIVE) {
        return read_gpt(&mut disk);
    }
    if is_fs_boot_sector(&sector0) {
        return Ok(TableRead::none());
    }
    if primary_entries(&sector0).any(|e| e.boot != 0 && e.boot != 0x80) {
        // libblkid's rule: such a sector is boot code, not a partition table.
        return disk.no_table();
    }
    read_msdos(&mut disk, &sector0)
}

/// The device and what is known about its geometry.
struct DiskReader<'a, R> {
    dev: &'a mut R,
    path: &'a str,
    sector_size: u64,
    /// 0 when unknown.
    sectors: u64,
}

impl<R: Read + Seek> DiskReader<'_, R> {
    /// Reads `len` bytes at `offset`; None when the device ends before.
    fn read_exact_at(
        &mut self,
        offset: u64,
        len: usize,
        what: &'static str,
    ) -> Result<Option<Vec<u8>>, TableError> {
        let mut buf = vec![0; len];
        let result = self
            .dev
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.dev.read_exact(&mut buf));
        match result {
            Ok(()) => Ok(Some(buf)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(source) => Err(self.io_error(what, offset, source)),
        }
    }

    fn io_error(&self, what: &'static str, offset: u64, source: io::Error) -> TableError {
        TableError::Io {
            disk: self.path.to_string(),
            what,
            offset,
            source,
        }
    }

    /// The last LBA of the disk, from the given size or else from the device's end.
    fn last_lba(&mut self) -> Result<u64, TableError> {
        if self.sectors > 0 {
            return Ok(self.sectors - 1);
        }
        let end = self
            .dev
            .seek(SeekFrom::End(0))
            .map_err(|e| self.io_error("the size", 0, e))?;
        Ok((end / self.sector_size).saturating_sub(1))
    }

    /// No table; but a GPT header without a protective MBR deserves a word, since the
    /// kernel and libblkid both ignore it.
    fn no_table(&mut self) -> Result<TableRead, TableError> {
        let mut read = TableRead::none();
        let header = self.read_exact_at(self.sector_size, 8, "LBA 1")?;
        if header.as_deref() == Some(b"EFI PART") {
            read.warnings.push(format!(
                "{} has a GPT header but no protective MBR: the kernel ignores such a table, \
                 so it is treated as a disk without a partition table",
                self.path
            ));
        }
        Ok(read)
    }
}

/// One 16-byte MBR/EBR partition entry.
#[derive(Debug, Clone, Copy)]
struct RawEntry {
    boot: u8,
    sys: u8,
    start: u32,
    sectors: u32,
}

impl RawEntry {
    fn parse(entry: &[u8]) -> RawEntry {
        let le32 = |at: usize| {
            entry
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .unwrap_or(0)
        };
        RawEntry {
            boot: entry.first().copied().unwrap_or(0),
            sys: entry.get(4).copied().unwrap_or(0),
            start: le32(8),
            sectors: le32(12),
        }
    }

    /// The kernel and libfdisk skip entries of size 0 (whatever their type).
    fn is_used(&self) -> bool {
        self.sectors != 0
    }
}

fn primary_entries(sector: &[u8]) -> impl Iterator<Item = RawEntry> + '_ {
    sector[ENTRIES_AT..SIGNATURE_AT]
        .chunks_exact(16)
        .map(RawEntry::parse)
}

// ---------------------------------------------------------------------------------------
// GPT

/// One copy of the GPT: a header and its entry array, both checked.
struct GptCopy {
    header: GPTHeader,
    entries: Vec<GPTPartitionEntry>,
}

fn read_gpt<R: Read + Seek>(disk: &mut DiskReader<'_, R>) -> Result<TableRead, TableError> {
    let last_lba = disk.last_lba()?;
    let mut warnings = Vec::new();
    let copy = match read_gpt_copy(disk, 1, last_lba) {
        Ok(primary) => {
            check_backup(disk, &primary, last_lba, &mut warnings);
            primary
        }
        Err(primary_err) => match read_gpt_copy(disk, last_lba, last_lba) {
            Ok(backup) => {
                warnings.push(format!(
                    "{}: the primary GPT is damaged ({primary_err}); the backup GPT at LBA \
                     {last_lba} was used instead. Repair the disk's table (for example \
                     `sgdisk --backup` then `sgdisk -e`, or rewrite it with sfdisk) before \
                     trusting it",
                    disk.path
                ));
                backup
            }
            Err(backup_err) => {
                return Err(TableError::CorruptGpt {
                    disk: disk.path.to_string(),
                    primary: primary_err,
                    backup_lba: last_lba,
                    backup: backup_err,
                })
            }
        },
    };
    let partitions = gpt_partitions(disk, &copy, last_lba, &mut warnings);
    let header = &copy.header;
    Ok(TableRead {
        table: PartitionTable::Gpt {
            disk_guid: gpt_guid(&header.disk_guid),
            first_usable_lba: header.first_usable_lba,
            last_usable_lba: header.last_usable_lba,
        },
        partitions,
        warnings,
    })
}

/// The backup GPT only matters when the primary fails; a bad one is worth a warning.
fn check_backup<R: Read + Seek>(
    disk: &mut DiskReader<'_, R>,
    primary: &GptCopy,
    last_lba: u64,
    warnings: &mut Vec<String>,
) {
    let backup_lba = primary.header.backup_lba;
    if backup_lba != last_lba {
        warnings.push(format!(
            "{}: the GPT says its backup is at LBA {backup_lba} but the disk ends at LBA \
             {last_lba} (was the disk resized?)",
            disk.path
        ));
        if backup_lba > last_lba {
            return;
        }
    }
    if let Err(reason) = read_gpt_copy(disk, backup_lba, last_lba) {
        warnings.push(format!(
            "{}: the backup GPT at LBA {backup_lba} is damaged ({reason}); the primary is fine \
             and was used",
            disk.path
        ));
    }
}

/// Reads and checks the GPT header at `lba` and its entries. The error is a reason for
/// the user (I/O errors included), since the caller may still fall back to the other copy.
fn read_gpt_copy<R: Read + Seek>(
    disk: &mut DiskReader<'_, R>,
    lba: u64,
    last_lba: u64,
) -> Result<GptCopy, String> {
    let ss = disk.sector_size;
    let at = lba.checked_mul(ss).ok_or("LBA out of range")?;
    disk.dev
        .seek(SeekFrom::Start(at))
        .map_err(|e| format!("I/O error at byte {at}: {e}"))?;
    let header = GPTHeader::read_from(&mut *disk.dev).map_err(|e| gpt_reason(e, at))?;
    check_gpt_header(&header, lba, last_lba, ss)?;
    let entries = header
        .read_partitions(&mut *disk.dev, ss)
        .map_err(|e| gpt_reason(e, header.partition_entry_lba.saturating_mul(ss)))?;
    Ok(GptCopy { header, entries })
}

/// What gptman checks (signature, revision, size, CRC) plus what it leaves to us: that
/// the header is where it says it is and that the entry array is sane and on the disk.
/// gptman would assert (panic) on an entry size other than 128, overflow on a huge entry
/// LBA and allocate whatever entry count the header claims.
fn check_gpt_header(h: &GPTHeader, lba: u64, last_lba: u64, ss: u64) -> Result<(), String> {
    if h.primary_lba != lba {
        return Err(format!(
            "the header at LBA {lba} says it belongs at LBA {}",
            h.primary_lba
        ));
    }
    if h.size_of_partition_entry != GPT_ENTRY_SIZE {
        return Err(format!(
            "partition entries of {} bytes are not supported (only {GPT_ENTRY_SIZE})",
            h.size_of_partition_entry
        ));
    }
    if h.number_of_partition_entries == 0 || h.number_of_partition_entries > GPT_MAX_ENTRIES {
        return Err(format!(
            "implausible number of partition entries: {}",
            h.number_of_partition_entries
        ));
    }
    if h.first_usable_lba > h.last_usable_lba || h.last_usable_lba > last_lba {
        return Err(format!(
            "usable LBAs {}-{} do not fit a disk whose last LBA is {last_lba}",
            h.first_usable_lba, h.last_usable_lba
        ));
    }
    let array_bytes = u64::from(h.number_of_partition_entries) * u64::from(GPT_ENTRY_SIZE);
    let array_end = h
        .partition_entry_lba
        .checked_mul(ss)
        .and_then(|start| start.checked_add(array_bytes));
    let disk_end = (last_lba + 1).saturating_mul(ss);
    match array_end {
        Some(end) if h.partition_entry_lba >= 2 && end <= disk_end => Ok(()),
        _ => Err(format!(
            "the partition entry array at LBA {} is not on the disk",
            h.partition_entry_lba
        )),
    }
}

fn gpt_reason(e: gptman::Error, at: u64) -> String {
    match e {
        gptman::Error::InvalidSignature => "no \"EFI PART\" signature".to_string(),
        gptman::Error::InvalidChecksum(stored, computed) => {
            format!("header CRC32 mismatch (stored {stored:#010x}, computed {computed:#010x})")
        }
        gptman::Error::InvalidPartitionEntryArrayChecksum(stored, computed) => format!(
            "partition entry array CRC32 mismatch (stored {stored:#010x}, computed \
             {computed:#010x})"
        ),
        gptman::Error::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            format!("beyond the end of the device (byte {at})")
        }
        gptman::Error::Io(io) => format!("I/O error near byte {at}: {io}"),
        other => other.to_string(),
    }
}

fn gpt_partitions<R>(
    disk: &DiskReader<'_, R>,
    copy: &GptCopy,
    last_lba: u64,
    warnings: &mut Vec<String>,
) -> Vec<Partition> {
    let mut partitions = Vec::new();
    for (index, entry) in copy.entries.iter().enumerate() {
        if entry.is_unused() {
            continue;
        }
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let path = partition_path(disk.path, number);
        // Not gptman's `size()`, which overflows on an entry spanning every LBA.
        let size = entry
            .ending_lba
            .checked_sub(entry.starting_lba)
            .and_then(|n| n.checked_add(1));
        let Some(size) = size else {
            warnings.push(format!(
                "{path}: GPT entry from LBA {} to LBA {} is not a range of sectors; skipped",
                entry.starting_lba, entry.ending_lba
            ));
            continue;
        };
        let h = &copy.header;
        if entry.starting_lba < h.first_usable_lba || entry.ending_lba > h.last_usable_lba {
            warnings.push(format!(
                "{path}: LBAs {}-{} lie outside the usable area {}-{} (disk ends at {last_lba})",
                entry.starting_lba, entry.ending_lba, h.first_usable_lba, h.last_usable_lba
            ));
        }
        partitions.push(Partition {
            number,
            path,
            start: entry.starting_lba,
            size,
            gpt: Some(GptEntry {
                type_guid: gpt_guid(&entry.partition_type_guid),
                unique_guid: gpt_guid(&entry.unique_partition_guid),
                name: entry.partition_name.as_str().to_string(),
                attributes: entry.attribute_bits,
            }),
            mbr: None,
            filesystem: None,
        });
    }
    partitions
}

// ---------------------------------------------------------------------------------------
// MBR

fn read_msdos<R: Read + Seek>(
    disk: &mut DiskReader<'_, R>,
    sector0: &[u8],
) -> Result<TableRead, TableError> {
    // mbrman parses sector 0 (the checks it makes were done above, so it cannot fail
    // here); the EBR chain is walked below, see `read_logicals` for why.
    let header = MBRHeader::read_from(&mut Cursor::new(sector0))
        .map_err(|e| disk.io_error("the MBR", 0, io::Error::new(io::ErrorKind::InvalidData, e)))?;
    let mut partitions = Vec::new();
    let mut warnings = Vec::new();
    let mut next_logical = 5;
    for (slot, entry) in header.iter() {
        if entry.sectors == 0 {
            continue;
        }
        let number = u32::try_from(slot).unwrap_or(u32::MAX);
        let extended = is_extended_type(entry.sys);
        let role = if extended {
            MbrRole::Extended
        } else {
            MbrRole::Primary
        };
        let raw = RawEntry {
            boot: entry.boot,
            sys: entry.sys,
            start: entry.starting_lba,
            sectors: entry.sectors,
        };
        partitions.push(msdos_partition(disk.path, number, &raw, 0, role));
        if extended {
            let chain = read_logicals(disk, &raw, &mut next_logical, &mut warnings)?;
            partitions.extend(chain);
        }
    }
    partitions.sort_by_key(|p| p.number);
    check_msdos_bounds(disk, &partitions, &mut warnings);
    Ok(TableRead {
        table: PartitionTable::Msdos {
            signature: format!("0x{:08x}", u32::from_le_bytes(header.disk_signature)),
        },
        partitions,
        warnings,
    })
}

fn msdos_partition(
    disk: &str,
    number: u32,
    entry: &RawEntry,
    base_lba: u64,
    role: MbrRole,
) -> Partition {
    Partition {
        number,
        path: partition_path(disk, number),
        start: base_lba + u64::from(entry.start),
        size: u64::from(entry.sectors),
        gpt: None,
        mbr: Some(MbrEntry {
            type_id: entry.sys,
            bootable: entry.boot == 0x80,
            role,
        }),
        filesystem: None,
    }
}

/// Walks the chain of EBRs in an extended partition.
///
/// In each EBR, the first data entry is a logical partition that starts relative to that
/// EBR, and the first extended-type entry links to the next EBR relative to the start of
/// the extended partition. This is done here rather than with mbrman's `MBR::read_from`,
/// which computes the same starts but in u32 without overflow checks (a crafted EBR
/// panics a debug build), treats 0xc5/0xd5 as extended where the kernel does not, refuses
/// links that point backwards, keeps empty EBR entries as logical partitions the kernel
/// does not create, and drops the whole table when one link is broken instead of keeping
/// the partitions before it.
fn read_logicals<R: Read + Seek>(
    disk: &mut DiskReader<'_, R>,
    extended: &RawEntry,
    next_number: &mut u32,
    warnings: &mut Vec<String>,
) -> Result<Vec<Partition>, TableError> {
    let ext_start = u64::from(extended.start);
    let ext_end = ext_start + u64::from(extended.sectors);
    let mut logicals = Vec::new();
    let mut visited = HashSet::new();
    let mut ebr_lba = ext_start;
    loop {
        if !visited.insert(ebr_lba) {
            warnings.push(format!(
                "{}: the chain of logical partitions loops back (EBR at LBA {ebr_lba}); it \
                 was read up to there",
                disk.path
            ));
            break;
        }
        if visited.len() > MAX_LOGICALS {
            warnings.push(format!(
                "{}: more than {MAX_LOGICALS} logical partitions; the rest are ignored",
                disk.path
            ));
            break;
        }
        let offset = ebr_lba.saturating_mul(disk.sector_size);
        let Some(ebr) = disk.read_exact_at(offset, MBR_SIZE, "an EBR")? else {
            warnings.push(format!(
                "{}: the EBR at LBA {ebr_lba} is beyond the end of the disk; logical \
                 partitions after it are missing",
                disk.path
            ));
            break;
        };
        if ebr[SIGNATURE_AT..] != [0x55, 0xaa] {
            // An empty extended partition need not hold an EBR at all.
            if ebr_lba != ext_start {
                warnings.push(format!(
                    "{}: the EBR at LBA {ebr_lba} has no 0x55aa signature; logical \
                     partitions after it are missing",
                    disk.path
                ));
            }
            break;
        }
        let entries: Vec<RawEntry> = primary_entries(&ebr).collect();
        let data = entries
            .iter()
            .find(|e| e.is_used() && !is_extended_type(e.sys));
        if let Some(data) = data {
            let part = msdos_partition(disk.path, *next_number, data, ebr_lba, MbrRole::Logical);
            if part.start < ext_start || part.end() > ext_end {
                warnings.push(format!(
                    "{}: logical partition sectors {}-{} lie outside the extended partition",
                    part.path,
                    part.start,
                    part.end().saturating_sub(1)
                ));
            }
            logicals.push(part);
            *next_number += 1;
        }
        let link = entries
            .iter()
            .find(|e| e.is_used() && is_extended_type(e.sys));
        match link {
            Some(link) => ebr_lba = ext_start + u64::from(link.start),
            None => break,
        }
    }
    Ok(logicals)
}

fn check_msdos_bounds<R>(disk: &DiskReader<'_, R>, parts: &[Partition], out: &mut Vec<String>) {
    if disk.sectors == 0 {
        return;
    }
    for part in parts.iter().filter(|p| p.end() > disk.sectors) {
        out.push(format!(
            "{}: ends at sector {} beyond the end of the disk ({} sectors)",
            part.path,
            part.end() - 1,
            disk.sectors
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_entry(disk: &mut [u8], sector: usize, slot: usize, e: RawEntry) {
        let at = sector * 512 + ENTRIES_AT + slot * 16;
        disk[at] = e.boot;
        disk[at + 4] = e.sys;
        disk[at + 8..at + 12].copy_from_slice(&e.start.to_le_bytes());
        disk[at + 12..at + 16].copy_from_slice(&e.sectors.to_le_bytes());
        disk[sector * 512 + 510] = 0x55;
        disk[sector * 512 + 511] = 0xaa;
    }

    fn entry(boot: u8, sys: u8, start: u32, sectors: u32) -> RawEntry {
        RawEntry {
            boot,
            sys,
            start,
            sectors,
        }
    }

    fn read(disk: &[u8]) -> Result<TableRead, TableError> {
        let sectors = (disk.len() / 512) as u64;
        read_table(&mut Cursor::new(disk), "/dev/sdz", sectors, 512)
    }

    #[test]
    fn empty_disk_has_no_table() {
        let r = read(&vec![0; 4096]).unwrap();
        assert_eq!(r.table, PartitionTable::None);
        assert!(r.partitions.is_empty() && r.warnings.is_empty());
    }

    #[test]
    fn tiny_device_has_no_table() {
        let r = read(&[0x55; 100]).unwrap();
        assert_eq!(r.table, PartitionTable::None);
    }

    #[test]
    fn msdos_primaries_extended_and_logicals() {
        let mut disk = vec![0u8; 400 * 512];
        disk[440..444].copy_from_slice(&0xdeadbeef_u32.to_le_bytes());
        set_entry(&mut disk, 0, 0, entry(0x80, 0x0c, 10, 20));
        // slot 2 empty
        set_entry(&mut disk, 0, 2, entry(0, 0x05, 100, 200));
        // First EBR at 100: logical at 100+5, link to the EBR at 100+50.
        set_entry(&mut disk, 100, 0, entry(0, 0x83, 5, 10));
        set_entry(&mut disk, 100, 1, entry(0, 0x05, 50, 40));
        // Second EBR at 150: logical at 150+2, no link.
        set_entry(&mut disk, 150, 0, entry(0, 0x82, 2, 30));
        let r = read(&disk).unwrap();
        assert_eq!(
            r.table,
            PartitionTable::Msdos {
                signature: "0xdeadbeef".into()
            }
        );
        let got: Vec<_> = r
            .partitions
            .iter()
            .map(|p| {
                let m = p.mbr.as_ref().unwrap();
                (p.number, p.start, p.size, m.type_id, m.bootable, m.role)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 10, 20, 0x0c, true, MbrRole::Primary),
                (3, 100, 200, 0x05, false, MbrRole::Extended),
                (5, 105, 10, 0x83, false, MbrRole::Logical),
                (6, 152, 30, 0x82, false, MbrRole::Logical),
            ]
        );
        assert_eq!(r.partitions[2].path, "/dev/sdz5");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn ebr_loop_is_cut_with_a_warning() {
        let mut disk = vec![0u8; 300 * 512];
        set_entry(&mut disk, 0, 0, entry(0, 0x0f, 100, 100));
        set_entry(&mut disk, 100, 0, entry(0, 0x83, 1, 10));
        set_entry(&mut disk, 100, 1, entry(0, 0x05, 0, 100)); // links to itself
        let r = read(&disk).unwrap();
        assert_eq!(r.partitions.len(), 2);
        assert!(r.warnings[0].contains("loops"), "{:?}", r.warnings);
    }

    #[test]
    fn broken_ebr_keeps_earlier_logicals() {
        let mut disk = vec![0u8; 300 * 512];
        set_entry(&mut disk, 0, 0, entry(0, 0x05, 100, 150));
        set_entry(&mut disk, 100, 0, entry(0, 0x83, 1, 10));
        set_entry(&mut disk, 100, 1, entry(0, 0x05, 20, 100)); // EBR at 120: zeroes
        let r = read(&disk).unwrap();
        assert_eq!(r.partitions.len(), 2);
        assert!(r.warnings[0].contains("0x55aa"), "{:?}", r.warnings);
    }

    #[test]
    fn huge_relative_starts_do_not_overflow() {
        let mut disk = vec![0u8; 300 * 512];
        set_entry(&mut disk, 0, 0, entry(0, 0x05, 100, u32::MAX));
        set_entry(&mut disk, 100, 0, entry(0, 0x83, u32::MAX, u32::MAX));
        set_entry(&mut disk, 100, 1, entry(0, 0x05, u32::MAX, 1));
        let r = read(&disk).unwrap();
        assert_eq!(r.partitions[1].start, 100 + u64::from(u32::MAX));
        assert!(!r.warnings.is_empty());
    }

    #[test]
    fn bad_boot_flag_means_no_table() {
        let mut disk = vec![0u8; 8 * 512];
        set_entry(&mut disk, 0, 0, entry(0x12, 0x83, 1, 4));
        assert_eq!(read(&disk).unwrap().table, PartitionTable::None);
    }

    #[test]
    fn fat_boot_sector_is_not_a_table() {
        let mut disk = vec![0u8; 64 * 1024];
        let bpb: &[(usize, &[u8])] = &[
            (0, &[0xeb, 0x3c, 0x90]),
            (11, &512u16.to_le_bytes()),
            (13, &[4]),                // sectors per cluster
            (14, &1u16.to_le_bytes()), // reserved
            (16, &[2]),                // FATs
            (17, &512u16.to_le_bytes()),
            (19, &128u16.to_le_bytes()), // total sectors
            (21, &[0xf8]),
            (22, &1u16.to_le_bytes()), // sectors per FAT
            (54, b"FAT12   "),
            (510, &[0x55, 0xaa]),
        ];
        for (at, bytes) in bpb {
            disk[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        // Boot code bytes where partition entries would be, with "valid" boot flags.
        let r = read(&disk).unwrap();
        assert_eq!(r.table, PartitionTable::None);
    }

    #[test]
    fn protective_mbr_without_gpt_is_an_error() {
        let mut disk = vec![0u8; 64 * 512];
        set_entry(&mut disk, 0, 0, entry(0, 0xee, 1, 63));
        let err = read(&disk).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("neither GPT header"), "{text}");
        assert!(text.contains("EFI PART"), "{text}");
    }

    #[test]
    fn gpt_header_without_pmbr_is_ignored_with_a_warning() {
        let mut disk = vec![0u8; 64 * 512];
        disk[512..520].copy_from_slice(b"EFI PART");
        let r = read(&disk).unwrap();
        assert_eq!(r.table, PartitionTable::None);
        assert_eq!(r.warnings.len(), 1);
    }

    /// A GPT disk of 200 sectors written by gptman, with one named partition.
    fn gpt_disk() -> Vec<u8> {
        let mut cur = Cursor::new(vec![0u8; 200 * 512]);
        let guid: [u8; 16] = std::array::from_fn(|i| i as u8);
        let mut gpt = gptman::GPT::new_from(&mut cur, 512, guid).unwrap();
        gpt[2] = GPTPartitionEntry {
            partition_type_guid: [0xaa; 16],
            unique_partition_guid: [0xbb; 16],
            starting_lba: 40,
            ending_lba: 99,
            attribute_bits: 1 << 60 | 1,
            partition_name: "data".into(),
        };
        gpt.write_into(&mut cur).unwrap();
        gptman::GPT::write_protective_mbr_into(&mut cur, 512).unwrap();
        cur.into_inner()
    }

    #[test]
    fn gpt_fields() {
        let r = read(&gpt_disk()).unwrap();
        assert_eq!(
            r.table,
            PartitionTable::Gpt {
                disk_guid: "03020100-0504-0706-0809-0a0b0c0d0e0f".into(),
                first_usable_lba: 34,
                last_usable_lba: 166,
            }
        );
        assert_eq!(r.partitions.len(), 1);
        let p = &r.partitions[0];
        assert_eq!((p.number, p.start, p.size), (2, 40, 60));
        assert_eq!(p.path, "/dev/sdz2");
        let g = p.gpt.as_ref().unwrap();
        assert_eq!(g.name, "data");
        assert_eq!(g.attributes, 1 << 60 | 1);
        assert_eq!(g.type_guid, "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn damaged_primary_gpt_falls_back_to_the_backup() {
        let mut disk = gpt_disk();
        disk[512 + 100] ^= 0xff; // outside the header: no harm
        disk[512 + 40] ^= 0xff; // first usable LBA: header CRC now wrong
        let r = read(&disk).unwrap();
        assert_eq!(r.partitions.len(), 1);
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].contains("primary GPT is damaged"),
            "{:?}",
            r.warnings
        );
        assert!(r.warnings[0].contains("CRC32"), "{:?}", r.warnings);
    }

    #[test]
    fn damaged_entry_array_falls_back_to_the_backup() {
        let mut disk = gpt_disk();
        disk[2 * 512 + 128 + 60] ^= 0xff; // the name of entry 2 in the primary array
        let r = read(&disk).unwrap();
        assert_eq!(r.partitions[0].gpt.as_ref().unwrap().name, "data");
        assert!(
            r.warnings[0].contains("entry array CRC32"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn damaged_backup_gpt_is_reported() {
        let mut disk = gpt_disk();
        disk[199 * 512] = 0; // the backup header's signature
        let r = read(&disk).unwrap();
        assert_eq!(r.partitions.len(), 1);
        assert!(r.warnings[0].contains("backup GPT"), "{:?}", r.warnings);
    }

    #[test]
    fn both_gpt_headers_damaged_is_an_error() {
        let mut disk = gpt_disk();
        disk[512] = 0;
        disk[199 * 512] = 0;
        let err = read(&disk).unwrap_err();
        assert!(matches!(
            err,
            TableError::CorruptGpt {
                backup_lba: 199,
                ..
            }
        ));
    }

    #[test]
    fn gpt_with_odd_entry_size_is_refused_not_a_panic() {
        let mut disk = gpt_disk();
        // Header field size_of_partition_entry = 256, CRC fixed up so gptman accepts it.
        disk[512 + 84..512 + 88].copy_from_slice(&256u32.to_le_bytes());
        disk[512 + 16..512 + 20].fill(0);
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&disk[512..512 + 92]);
        disk[512 + 16..512 + 20].copy_from_slice(&crc.to_le_bytes());
        let r = read(&disk).unwrap();
        assert!(r.warnings[0].contains("256 bytes"), "{:?}", r.warnings);
    }

    #[test]
    fn smaller_disk_than_the_gpt_says() {
        // The caller's size wins: the backup is looked for at the disk's real end.
        let disk = gpt_disk();
        let r = read_table(&mut Cursor::new(&disk), "/dev/sdz", 300, 512).unwrap();
        assert!(r.warnings[0].contains("resized"), "{:?}", r.warnings);
    }

    #[test]
    fn gpt_on_4k_sectors() {
        let ss = 4096u64;
        let mut cur = Cursor::new(vec![0u8; 64 * 4096]);
        let mut gpt = gptman::GPT::new_from(&mut cur, ss, [7; 16]).unwrap();
        gpt[1] = GPTPartitionEntry {
            partition_type_guid: [0xaa; 16],
            unique_partition_guid: [0xbb; 16],
            starting_lba: 8,
            ending_lba: 40,
            attribute_bits: 0,
            partition_name: "four k".into(),
        };
        gpt.write_into(&mut cur).unwrap();
        gptman::GPT::write_protective_mbr_into(&mut cur, ss).unwrap();
        let disk = cur.into_inner();
        let r = read_table(&mut Cursor::new(&disk), "/dev/nvme0n1", 64, 4096).unwrap();
        let p = &r.partitions[0];
        assert_eq!((p.start, p.size), (8, 33));
        assert_eq!(p.path, "/dev/nvme0n1p1");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        // Read with the wrong sector size, the header is not found where expected.
        assert!(read_table(&mut Cursor::new(&disk), "/dev/x", 512, 512).is_err());
    }

    /// A GPT disk of 200 sectors whose entry 1 spans the given LBAs, CRCs right.
    fn gpt_disk_with(starting_lba: u64, ending_lba: u64) -> Vec<u8> {
        let mut disk = gpt_disk();
        let entry = 2 * 512; // entry 1 of the primary array at LBA 2
        disk[entry..entry + 16].copy_from_slice(&[0xcc; 16]);
        disk[entry + 16..entry + 32].copy_from_slice(&[0xdd; 16]);
        disk[entry + 32..entry + 40].copy_from_slice(&starting_lba.to_le_bytes());
        disk[entry + 40..entry + 48].copy_from_slice(&ending_lba.to_le_bytes());
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        let array = crc.checksum(&disk[2 * 512..2 * 512 + 128 * 128]);
        disk[512 + 88..512 + 92].copy_from_slice(&array.to_le_bytes());
        disk[512 + 16..512 + 20].fill(0);
        let header = crc.checksum(&disk[512..512 + 92]);
        disk[512 + 16..512 + 20].copy_from_slice(&header.to_le_bytes());
        disk
    }

    fn assert_warns_about(warnings: &[String], path: &str) {
        let prefix = format!("{path}:");
        assert!(
            warnings.iter().any(|w| w.starts_with(&prefix)),
            "no warning about {path}: {warnings:?}"
        );
    }

    #[test]
    fn gpt_entry_over_the_whole_lba_range_is_skipped_not_an_overflow() {
        let r = read(&gpt_disk_with(0, u64::MAX)).unwrap();
        assert_eq!(r.partitions.len(), 1, "{:?}", r.partitions);
        assert_eq!(r.partitions[0].number, 2);
        assert_warns_about(&r.warnings, "/dev/sdz1");
    }

    #[test]
    fn partition_beyond_any_byte_offset_is_read_without_an_overflow() {
        // Kept with a warning (outside the usable area); its superblock is not looked for.
        let disk = gpt_disk_with(1 << 60, (1 << 60) + 7);
        let mut out = crate::probe::DiskRead::default();
        let contents =
            crate::probe::read_contents(&mut Cursor::new(&disk), "/dev/sdz", 200, 512, &mut out)
                .unwrap();
        let p = &contents.partitions[0];
        assert_eq!((p.number, p.start, p.size), (1, 1 << 60, 8));
        assert_eq!(p.filesystem, None);
        assert_warns_about(&out.warnings, "/dev/sdz1");
    }

    #[test]
    fn odd_sector_size_is_refused() {
        let err = read_table(&mut Cursor::new(vec![0; 4096]), "/dev/x", 8, 520).unwrap_err();
        assert!(matches!(err, TableError::SectorSize { .. }));
    }
}
