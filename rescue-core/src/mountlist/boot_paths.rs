//! The ways a captured system boots: boot code in a disk's MBR, a GPT BIOS boot
//! partition, boot loader files on an EFI System Partition, the firmware's boot entries.
//! The restore reinstalls each one it can with the restored system's own tools, and none
//! where the source had none.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One way the source booted. Disks are named as captured; partitions by their number on
/// that disk, so a restore onto other disks finds them after the disk mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BootPath {
    /// Boot code in the first 440 bytes of the disk (what a BIOS runs).
    Mbr { disk: String, loader: Loader },
    /// A GPT BIOS boot partition holding a boot loader's core (GRUB's core.img).
    BiosBootPartition {
        disk: String,
        partition: u32,
        loader: Loader,
    },
    /// A boot loader file on an EFI System Partition, its path there ("EFI/BOOT/BOOTX64.EFI").
    EspFile {
        disk: String,
        partition: u32,
        path: String,
        loader: Loader,
    },
    /// An EFI System Partition whose files the capture could not read (not mounted): the
    /// restore installs GRUB at its fallback path, as for a system booted by UEFI.
    EspUnread { disk: String, partition: u32 },
    /// A boot entry in the firmware's NVRAM (Boot####), as the capture could read it.
    Nvram {
        number: u16,
        description: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
}

/// Which boot loader a boot path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loader {
    Grub,
    SystemdBoot,
    /// shim, which starts GRUB (Secure Boot).
    Shim,
    /// Something else: kept where it is on a disk kept as is, not reinstalled.
    Other,
}

impl fmt::Display for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loader::Grub => "GRUB",
            Loader::SystemdBoot => "systemd-boot",
            Loader::Shim => "shim",
            Loader::Other => "another boot loader",
        })
    }
}

impl fmt::Display for BootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootPath::Mbr { disk, loader } => write!(f, "{loader} in the MBR of {disk}"),
            BootPath::BiosBootPartition {
                disk,
                partition,
                loader,
            } => write!(
                f,
                "{loader} in the BIOS boot partition {partition} of {disk}"
            ),
            BootPath::EspFile {
                disk,
                partition,
                path,
                loader,
            } => write!(
                f,
                "{loader} at {path} on the EFI System Partition {partition} of {disk}"
            ),
            BootPath::EspUnread { disk, partition } => write!(
                f,
                "the EFI System Partition {partition} of {disk} (its files not read: it was \
                 not mounted)"
            ),
            BootPath::Nvram {
                number,
                description,
                file,
            } => {
                write!(f, "firmware boot entry Boot{number:04X} \"{description}\"")?;
                if let Some(file) = file {
                    write!(f, " ({file})")?;
                }
                Ok(())
            }
        }
    }
}

/// What the first sector of a disk says about its boot code: None when the boot code
/// area (the first 440 bytes) is empty.
pub fn mbr_loader(sector: &[u8]) -> Option<Loader> {
    let code = sector.get(..440)?;
    if code.iter().all(|&b| b == 0) {
        return None;
    }
    // GRUB's boot.img carries its messages ("GRUB \0Geom\0Hard Disk\0Read\0 Error").
    Some(if contains(code, b"GRUB") {
        Loader::Grub
    } else {
        Loader::Other
    })
}

/// What the first sector of a BIOS boot partition says: None when it is empty (created
/// but never installed into).
pub fn bios_boot_loader(first_sector: &[u8]) -> Option<Loader> {
    if first_sector.iter().all(|&b| b == 0) {
        return None;
    }
    // GRUB's core.img begins with diskboot.img, which says "loading" when it runs.
    Some(if contains(first_sector, b"loading") {
        Loader::Grub
    } else {
        Loader::Other
    })
}

/// The loader an ESP file is, by its path ("EFI/debian/grubx64.efi").
pub fn esp_file_loader(path: &str) -> Option<Loader> {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    if !lower.starts_with("efi/") || !name.ends_with(".efi") {
        return None;
    }
    Some(if name.starts_with("grub") {
        Loader::Grub
    } else if name.starts_with("shim") {
        Loader::Shim
    } else if name.starts_with("systemd-boot") {
        Loader::SystemdBoot
    } else if lower == "efi/boot/bootx64.efi" {
        // The fallback path holds whichever loader was installed there; the file's
        // content tells (see `classify_fallback`).
        Loader::Other
    } else {
        return None;
    })
}

/// The loader in the removable-media fallback file (EFI/BOOT/BOOTX64.EFI), from its
/// content: GRUB, shim and systemd-boot each name themselves in their binaries.
pub fn classify_fallback(content: &[u8]) -> Loader {
    if contains(content, b"systemd-boot") {
        Loader::SystemdBoot
    } else if contains(content, b"shim") && contains(content, b"MokManager") {
        Loader::Shim
    } else if contains(content, b"GRUB") || contains(content, b"grub") {
        Loader::Grub
    } else {
        Loader::Other
    }
}

/// A UEFI load option (the value of a Boot#### variable after its 4 attribute bytes):
/// its description and the file path of its device path, when it has one.
pub fn parse_load_option(data: &[u8]) -> Option<(String, Option<String>)> {
    // Attributes (4), FilePathListLength (2), Description (UCS-2, NUL-ended), FilePathList.
    let path_len = usize::from(u16::from_le_bytes([*data.get(4)?, *data.get(5)?]));
    let mut at = 6;
    let mut description = Vec::new();
    loop {
        let unit = u16::from_le_bytes([*data.get(at)?, *data.get(at + 1)?]);
        at += 2;
        if unit == 0 {
            break;
        }
        description.push(unit);
        if description.len() > 1024 {
            return None;
        }
    }
    let description = String::from_utf16_lossy(&description);
    let list = data.get(at..at.checked_add(path_len)?)?;
    Some((description, device_path_file(list)))
}

/// The file path node (type 4, subtype 4) of an EFI device path, if there is one.
fn device_path_file(mut list: &[u8]) -> Option<String> {
    while list.len() >= 4 {
        let (kind, sub) = (list[0], list[1]);
        let len = usize::from(u16::from_le_bytes([list[2], list[3]]));
        if len < 4 || len > list.len() {
            return None;
        }
        if kind == 0x7f {
            return None;
        }
        if kind == 4 && sub == 4 {
            let units: Vec<u16> = list[4..len]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            return Some(String::from_utf16_lossy(&units));
        }
        list = &list[len..];
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_mbr_holds_no_loader_and_grubs_names_itself() {
        assert_eq!(mbr_loader(&[0u8; 512]), None);
        let mut s = [0u8; 512];
        s[0x180..0x185].copy_from_slice(b"GRUB ");
        assert_eq!(mbr_loader(&s), Some(Loader::Grub));
        s[0x180..0x185].copy_from_slice(b"MBR! ");
        assert_eq!(mbr_loader(&s), Some(Loader::Other));
        // Only the table and signature: no boot code.
        let mut t = [0u8; 512];
        t[510] = 0x55;
        t[511] = 0xaa;
        t[446] = 0x80;
        assert_eq!(mbr_loader(&t), None);
    }

    #[test]
    fn esp_files_are_told_by_their_names() {
        assert_eq!(
            esp_file_loader("EFI/debian/grubx64.efi"),
            Some(Loader::Grub)
        );
        assert_eq!(
            esp_file_loader("EFI/debian/shimx64.efi"),
            Some(Loader::Shim)
        );
        assert_eq!(
            esp_file_loader("EFI/systemd/systemd-bootx64.efi"),
            Some(Loader::SystemdBoot)
        );
        assert_eq!(esp_file_loader("EFI/BOOT/BOOTX64.EFI"), Some(Loader::Other));
        assert_eq!(esp_file_loader("EFI/debian/grub.cfg"), None);
        assert_eq!(esp_file_loader("loader/loader.conf"), None);
        assert_eq!(
            classify_fallback(b"..GNU GRUB  version 2.06.."),
            Loader::Grub
        );
        assert_eq!(
            classify_fallback(b"..systemd-boot 252.."),
            Loader::SystemdBoot
        );
    }

    #[test]
    fn a_load_option_gives_its_description_and_file() {
        let mut v = vec![1, 0, 0, 0];
        let mut path = Vec::new();
        // A hard drive node (type 4, subtype 1), 42 bytes, then the file path node.
        path.extend_from_slice(&[4, 1, 42, 0]);
        path.extend_from_slice(&[0u8; 38]);
        let file: Vec<u8> = "\\EFI\\debian\\shimx64.efi\0"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        path.extend_from_slice(&[4, 4]);
        path.extend_from_slice(&((file.len() + 4) as u16).to_le_bytes());
        path.extend_from_slice(&file);
        path.extend_from_slice(&[0x7f, 0xff, 4, 0]);
        v.extend_from_slice(&(path.len() as u16).to_le_bytes());
        v.extend("debian\0".encode_utf16().flat_map(|u| u.to_le_bytes()));
        v.extend_from_slice(&path);
        assert_eq!(
            parse_load_option(&v),
            Some((
                "debian".to_string(),
                Some("\\EFI\\debian\\shimx64.efi".to_string())
            ))
        );
        // Cut short anywhere: None, never a panic.
        for n in 0..v.len() {
            let _ = parse_load_option(&v[..n]);
        }
    }
}
