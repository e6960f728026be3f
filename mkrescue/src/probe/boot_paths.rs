//! Finding every way the captured system boots: boot code in each disk's MBR, GPT BIOS
//! boot partitions with a loader in them, boot loader files on the mounted EFI System
//! Partitions, and (for the running host) the firmware's boot entries. All read-only.

use rescue_core::mountlist::boot_paths::{
    bios_boot_loader, classify_fallback, esp_file_loader, mbr_loader, parse_load_option,
};
use rescue_core::mountlist::{BootPath, Disk, Loader, GPT_TYPE_BIOS_BOOT};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The most of the fallback loader file read to tell which loader it is.
const FALLBACK_READ: u64 = 8 << 20;
/// The most firmware boot entries read.
const MAX_NVRAM_ENTRIES: usize = 256;
/// The GUID of the EFI global variables (Boot####, BootOrder).
const EFI_GLOBAL: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// What the capture found, and what it could not read (warnings, never errors: the
/// layout is captured either way).
#[derive(Debug, Default)]
pub struct Found {
    pub paths: Vec<BootPath>,
    pub warnings: Vec<String>,
}

/// Every boot path of `disks`. `root` is the captured root (ESP mount points are below
/// it); `efivars` the firmware's variables, read only for the running host.
pub fn find(disks: &[Disk], dev_dir: &Path, root: &Path, efivars: Option<&Path>) -> Found {
    let mut found = Found::default();
    for disk in disks {
        let node = super::in_dev_dir(Path::new(&disk.path), dev_dir);
        match read_sector(&node, 0) {
            Ok(sector) => {
                if let Some(loader) = mbr_loader(&sector) {
                    found.paths.push(BootPath::Mbr {
                        disk: disk.path.clone(),
                        loader,
                    });
                }
            }
            Err(e) => found.warnings.push(format!(
                "cannot read the boot sector of {} ({e}): its boot code is not known, and a \
                 restore reinstalls no boot loader there",
                disk.path
            )),
        }
        let lss = u64::from(disk.logical_sector_size.max(512));
        for p in &disk.partitions {
            if p.gpt
                .as_ref()
                .is_some_and(|g| g.type_guid == GPT_TYPE_BIOS_BOOT)
            {
                match read_sector(&node, p.start.saturating_mul(lss)) {
                    Ok(sector) => {
                        if let Some(loader) = bios_boot_loader(&sector) {
                            found.paths.push(BootPath::BiosBootPartition {
                                disk: disk.path.clone(),
                                partition: p.number,
                                loader,
                            });
                        }
                    }
                    Err(e) => found.warnings.push(format!(
                        "cannot read the BIOS boot partition {} ({e})",
                        p.path
                    )),
                }
            }
            let mounted = p.filesystem.as_ref().and_then(|f| f.mount_point.as_deref());
            match (p.is_esp(), mounted) {
                (true, Some(mp)) => {
                    let dir = root.join(mp.trim_start_matches('/'));
                    for (path, loader) in esp_loaders(&dir, &mut found.warnings) {
                        found.paths.push(BootPath::EspFile {
                            disk: disk.path.clone(),
                            partition: p.number,
                            path,
                            loader,
                        });
                    }
                }
                (true, None) => found.paths.push(BootPath::EspUnread {
                    disk: disk.path.clone(),
                    partition: p.number,
                }),
                _ => {}
            }
        }
    }
    if let Some(vars) = efivars {
        found.paths.extend(nvram_entries(vars));
    }
    found
}

fn read_sector(node: &Path, offset: u64) -> std::io::Result<[u8; 512]> {
    let mut f = File::open(node)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = [0u8; 512];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// The boot loader files under `EFI/` of a mounted ESP (FAT: names compared without case),
/// as paths relative to the ESP with the case they have.
fn esp_loaders(esp: &Path, warnings: &mut Vec<String>) -> Vec<(String, Loader)> {
    let mut out = Vec::new();
    let Some(efi) = child_named(esp, "efi") else {
        return out;
    };
    let Ok(vendors) = fs::read_dir(&efi.0) else {
        warnings.push(format!("cannot list {}", efi.0.display()));
        return out;
    };
    let mut vendors: Vec<_> = vendors.flatten().collect();
    vendors.sort_by_key(|e| e.file_name());
    for vendor in vendors {
        if !vendor.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = fs::read_dir(vendor.path()) else {
            continue;
        };
        let mut files: Vec<_> = files.flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for file in files {
            let rel = format!(
                "{}/{}/{}",
                efi.1,
                vendor.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            );
            let Some(mut loader) = esp_file_loader(&rel) else {
                continue;
            };
            if loader == Loader::Other {
                loader = match read_head(&file.path(), FALLBACK_READ) {
                    Ok(bytes) => classify_fallback(&bytes),
                    Err(e) => {
                        warnings.push(format!("cannot read {} ({e})", file.path().display()));
                        Loader::Other
                    }
                };
            }
            out.push((rel, loader));
        }
    }
    out
}

/// The entry of `dir` named `name` in any case: its path and its name as it is.
fn child_named(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n.eq_ignore_ascii_case(name).then(|| (e.path(), n))
    })
}

fn read_head(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    File::open(path)?.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// The firmware's Boot#### entries that can be read and parsed, in number order.
fn nvram_entries(vars: &Path) -> Vec<BootPath> {
    let Ok(dir) = fs::read_dir(vars) else {
        return Vec::new();
    };
    let mut entries: Vec<(u16, PathBuf)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (var, guid) = name.split_once('-')?;
            let hex = var.strip_prefix("Boot")?;
            if guid != EFI_GLOBAL || hex.len() != 4 {
                return None;
            }
            Some((u16::from_str_radix(hex, 16).ok()?, e.path()))
        })
        .collect();
    entries.sort();
    entries.truncate(MAX_NVRAM_ENTRIES);
    entries
        .into_iter()
        .filter_map(|(number, path)| {
            // efivarfs: 4 bytes of variable attributes, then the load option.
            let data = read_head(&path, 64 << 10).ok()?;
            let (description, file) = parse_load_option(data.get(4..)?)?;
            Some(BootPath::Nvram {
                number,
                description,
                file,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::mountlist::{GptEntry, Partition, PartitionTable};

    #[test]
    fn finds_mbr_code_the_bios_boot_partition_and_esp_loaders() {
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("dev");
        fs::create_dir(&dev).unwrap();
        let mut image = vec![0u8; 4096 * 512];
        image[0x180..0x184].copy_from_slice(b"GRUB");
        image[2048 * 512..2048 * 512 + 7].copy_from_slice(b"loading");
        fs::write(dev.join("sda"), &image).unwrap();
        fs::write(dev.join("sdb"), vec![0u8; 1024]).unwrap();
        let root = d.path().join("root");
        let efi = root.join("boot/efi/EFI");
        fs::create_dir_all(efi.join("debian")).unwrap();
        fs::create_dir_all(efi.join("BOOT")).unwrap();
        fs::write(efi.join("debian/grubx64.efi"), b"x").unwrap();
        fs::write(efi.join("debian/grub.cfg"), b"x").unwrap();
        fs::write(efi.join("BOOT/BOOTX64.EFI"), b"..GNU GRUB..").unwrap();
        let part = |number: u32, start: u64, type_guid: &str, mp: Option<&str>| Partition {
            number,
            path: format!("/dev/sda{number}"),
            start,
            size: 2048,
            gpt: Some(GptEntry {
                type_guid: type_guid.into(),
                unique_guid: String::new(),
                name: String::new(),
                attributes: 0,
            }),
            mbr: None,
            filesystem: mp.map(|mp| rescue_core::mountlist::Filesystem {
                mount_point: Some(mp.into()),
                ..rescue_core::mountlist::Filesystem::new(rescue_core::mountlist::FsType::Vfat)
            }),
        };
        let disk = |path: &str, partitions| Disk {
            path: path.into(),
            sectors: 4096,
            logical_sector_size: 512,
            physical_sector_size: 512,
            model: None,
            serial: None,
            table: PartitionTable::Gpt {
                disk_guid: String::new(),
                first_usable_lba: 34,
                last_usable_lba: 4062,
            },
            partitions,
            filesystem: None,
        };
        let disks = vec![
            disk(
                "/dev/sda",
                vec![
                    part(1, 2048, GPT_TYPE_BIOS_BOOT, None),
                    part(
                        2,
                        1024,
                        rescue_core::mountlist::GPT_TYPE_ESP,
                        Some("/boot/efi"),
                    ),
                ],
            ),
            disk("/dev/sdb", Vec::new()),
        ];
        let found = find(&disks, &dev, &root, None);
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let shown: Vec<String> = found.paths.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            shown,
            [
                "GRUB in the MBR of /dev/sda",
                "GRUB in the BIOS boot partition 1 of /dev/sda",
                "GRUB at EFI/BOOT/BOOTX64.EFI on the EFI System Partition 2 of /dev/sda",
                "GRUB at EFI/debian/grubx64.efi on the EFI System Partition 2 of /dev/sda",
            ]
        );
    }
}
