//! Linking /etc/fstab lines to the filesystems found on the disks.

use super::fstab::{classify, is_virtual_or_network, FstabLine, SpecTarget};
use rescue_core::mountlist::{Disk, Filesystem, FstabRef, PartitionTable};

/// Records on each filesystem how fstab names it, and returns warnings for fstab lines
/// whose files will not be captured. `same_device` answers whether an fstab device path
/// (which may be a symlink such as /dev/mapper/x) is the device at a captured path.
pub fn attach(
    disks: &mut [Disk],
    lines: &[FstabLine],
    same_device: &dyn Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for line in lines {
        let target = classify(&line.spec);
        let Some(kind) = target.kind() else {
            continue;
        };
        if is_virtual_or_network(&line.fs_type) {
            continue;
        }
        let is_swap = line.fs_type == "swap";
        let what = if is_swap {
            format!("swap {}", line.spec)
        } else {
            format!("{} on {}", line.spec, line.mount_point)
        };
        match find(disks, &target, same_device) {
            Some(fs) => {
                if let Some(previous) = &fs.fstab {
                    warnings.push(format!(
                        "fstab line {}: {what} names the same filesystem as {} on {}; \
                         the first line is kept",
                        line.line, previous.spec, previous.mount_point
                    ));
                    continue;
                }
                let mounted = fs.mount_point.is_some() || fs.swap_active;
                if !mounted && !is_swap {
                    warnings.push(format!(
                        "fstab line {}: {what} is not mounted now, so its files will not be \
                         backed up (mount it before making the media to include them)",
                        line.line
                    ));
                }
                fs.fstab = Some(FstabRef {
                    spec: line.spec.clone(),
                    kind,
                    mount_point: line.mount_point.clone(),
                    fs_type: line.fs_type.clone(),
                    options: line.options.clone(),
                    dump: line.dump,
                    pass: line.pass,
                });
            }
            None => warnings.push(format!(
                "fstab line {}: {what} matches no filesystem on the captured disks and is not \
                 mounted: neither its layout nor its files will be captured",
                line.line
            )),
        }
    }
    warnings
}

fn find<'a>(
    disks: &'a mut [Disk],
    target: &SpecTarget,
    same_device: &dyn Fn(&str, &str) -> bool,
) -> Option<&'a mut Filesystem> {
    for disk in disks.iter_mut() {
        if let Some(fs) = disk.filesystem.as_mut() {
            let hit = match target {
                SpecTarget::Device(d) => same_device(d, &disk.path),
                other => matches_filesystem(fs, other),
            };
            if hit {
                return disk.filesystem.as_mut();
            }
        }
        let signature = match &disk.table {
            PartitionTable::Msdos { signature } => Some(signature.trim_start_matches("0x")),
            _ => None,
        };
        for part in disk.partitions.iter_mut() {
            let hit = match target {
                SpecTarget::Device(d) => same_device(d, &part.path),
                SpecTarget::PartUuid(want) => {
                    part.gpt
                        .as_ref()
                        .is_some_and(|g| g.unique_guid.eq_ignore_ascii_case(want))
                        // MBR partitions get "SIGNATURE-NN", NN the number in hex.
                        || signature.is_some_and(|s| {
                            format!("{s}-{:02x}", part.number).eq_ignore_ascii_case(want)
                        })
                }
                SpecTarget::PartLabel(want) => part.gpt.as_ref().is_some_and(|g| &g.name == want),
                other => part
                    .filesystem
                    .as_ref()
                    .is_some_and(|fs| matches_filesystem(fs, other)),
            };
            if hit {
                return part.filesystem.as_mut();
            }
        }
    }
    None
}

fn matches_filesystem(fs: &Filesystem, target: &SpecTarget) -> bool {
    match target {
        SpecTarget::Uuid(want) => fs
            .uuid
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(want)),
        SpecTarget::Label(want) => fs.label.as_deref() == Some(want.as_str()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fstab::parse;
    use rescue_core::mountlist::{FsType, FstabSpecKind, GptEntry, Partition};

    fn fs(fs_type: FsType, uuid: &str, label: Option<&str>, mount: Option<&str>) -> Filesystem {
        let mut f = Filesystem::new(fs_type);
        f.uuid = Some(uuid.to_string());
        f.label = label.map(str::to_string);
        f.mount_point = mount.map(str::to_string);
        f
    }

    fn part(number: u32, guid: &str, name: &str, fs: Filesystem) -> Partition {
        Partition {
            number,
            path: format!("/dev/sda{number}"),
            start: 2048 * u64::from(number),
            size: 2048,
            gpt: Some(GptEntry {
                type_guid: "0fc63daf-8483-4772-8e79-3d69d8477de4".into(),
                unique_guid: guid.into(),
                name: name.into(),
                attributes: 0,
            }),
            mbr: None,
            filesystem: Some(fs),
        }
    }

    fn disks() -> Vec<Disk> {
        vec![
            Disk {
                path: "/dev/sda".into(),
                sectors: 1 << 20,
                logical_sector_size: 512,
                physical_sector_size: 512,
                model: None,
                serial: None,
                table: PartitionTable::Gpt {
                    disk_guid: "d".into(),
                    first_usable_lba: 34,
                    last_usable_lba: (1 << 20) - 34,
                },
                partitions: vec![
                    part(
                        1,
                        "aaaa-1",
                        "esp",
                        fs(FsType::Vfat, "1234-ABCD", Some("EFI"), None),
                    ),
                    part(
                        2,
                        "aaaa-2",
                        "root",
                        fs(FsType::Ext4, "u-2", Some("root"), Some("/")),
                    ),
                    part(
                        3,
                        "aaaa-3",
                        "swap",
                        fs(FsType::Swap, "u-3", Some("sw"), None),
                    ),
                    part(
                        4,
                        "aaaa-4",
                        "data",
                        fs(FsType::Xfs, "u-4", None, Some("/data")),
                    ),
                ],
                filesystem: None,
            },
            Disk {
                path: "/dev/sdb".into(),
                sectors: 1 << 20,
                logical_sector_size: 512,
                physical_sector_size: 512,
                model: None,
                serial: None,
                table: PartitionTable::Msdos {
                    signature: "0x0badcafe".into(),
                },
                partitions: vec![Partition {
                    gpt: None,
                    path: "/dev/sdb5".into(),
                    ..part(5, "", "", fs(FsType::Ext4, "u-5", None, Some("/var")))
                }],
                filesystem: None,
            },
        ]
    }

    const FSTAB: &str = "\
UUID=U-2 / ext4 defaults 0 1
PARTUUID=aaaa-1 /boot/efi vfat umask=0077 0 2
LABEL=sw none swap sw 0 0
/dev/sda4 /data xfs defaults 0 2
PARTUUID=0badcafe-05 /var ext4 defaults 0 2
UUID=not-there /backup ext4 defaults 0 2
tmpfs /tmp tmpfs defaults 0 0
LABEL=root /again ext4 defaults 0 0
";

    #[test]
    fn links_each_form_and_warns_about_what_is_not_captured() {
        let mut disks = disks();
        let (lines, _) = parse(FSTAB);
        let warnings = attach(&mut disks, &lines, &|a, b| a == b);
        let p = &disks[0].partitions;
        let root = p[1].filesystem.as_ref().unwrap().fstab.as_ref().unwrap();
        assert_eq!((root.kind, root.pass), (FstabSpecKind::Uuid, 1));
        let esp = p[0].filesystem.as_ref().unwrap().fstab.as_ref().unwrap();
        assert_eq!(esp.kind, FstabSpecKind::Partuuid);
        assert_eq!(esp.options, "umask=0077");
        let swap = p[2].filesystem.as_ref().unwrap().fstab.as_ref().unwrap();
        assert_eq!(swap.kind, FstabSpecKind::Label);
        let data = p[3].filesystem.as_ref().unwrap().fstab.as_ref().unwrap();
        assert_eq!(data.kind, FstabSpecKind::Device);
        let var = disks[1].partitions[0].filesystem.as_ref().unwrap();
        assert_eq!(var.fstab.as_ref().unwrap().spec, "PARTUUID=0badcafe-05");

        // The unmounted ESP, the missing /backup and the duplicate root line; nothing else.
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].contains("line 2") && warnings[0].contains("not mounted"));
        assert!(warnings[1].contains("/backup") && warnings[1].contains("matches no filesystem"));
        assert!(warnings[2].contains("line 8") && warnings[2].contains("same filesystem"));
    }
}
