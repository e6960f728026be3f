//! The mountlist as a readable table for a terminal.

use super::model::{Disk, Filesystem, Mountlist, Partition};
use crate::size::format_bytes;
use std::fmt::Write;

/// Renders the whole mountlist: host, boot mode, each disk with its partitions, and what
/// is present but not supported.
pub fn table(ml: &Mountlist) -> String {
    let mut out = String::new();
    let host = &ml.host;
    let _ = writeln!(
        out,
        "Host: {} (kernel {}), captured from {}",
        or_dash(&host.hostname),
        or_dash(&host.kernel_release),
        or_dash(&host.root)
    );
    let _ = writeln!(
        out,
        "Boot: {}{}",
        ml.boot.mode,
        ml.boot
            .esp
            .as_ref()
            .map(|e| format!(", ESP {e}"))
            .unwrap_or_default()
    );
    for disk in &ml.disks {
        out.push('\n');
        out.push_str(&disk_heading(disk));
        out.push_str(&partition_rows(disk));
    }
    if !ml.unsupported.is_empty() {
        out.push_str("\nNot supported yet (not captured):\n");
        let rows: Vec<Vec<String>> = ml
            .unsupported
            .iter()
            .map(|u| vec![u.device.clone(), u.kind.to_string(), u.detail.clone()])
            .collect();
        out.push_str(&indent(&columns(&rows), "  "));
    }
    out
}

/// The layout in at most 80 columns, for a rescue console (VGA text or serial): each disk
/// with its size and table, then its partitions with size, type, filesystem, label and
/// where they mount. UUIDs and sector numbers are left to [`table`].
pub fn compact(ml: &Mountlist) -> String {
    let mut out = String::new();
    for disk in &ml.disks {
        let mut heading = format!(
            "{}  {}  {}",
            disk.path,
            format_bytes(disk.size_bytes()),
            disk.table.name()
        );
        if let Some(model) = &disk.model {
            heading.push_str("  ");
            heading.push_str(model);
        }
        out.push_str(&clip(&heading, 80));
        out.push('\n');
        let mut rows = Vec::new();
        if let Some(fs) = &disk.filesystem {
            rows.push(compact_row(
                &disk.path,
                disk.size_bytes(),
                "whole disk",
                Some(fs),
            ));
        }
        for p in &disk.partitions {
            let size = p.size.saturating_mul(u64::from(disk.logical_sector_size));
            rows.push(compact_row(
                &p.path,
                size,
                &p.type_name(),
                p.filesystem.as_ref(),
            ));
        }
        for line in columns(&rows).lines() {
            out.push_str(&clip(&format!("  {line}"), 80));
            out.push('\n');
        }
    }
    for u in &ml.unsupported {
        out.push_str(&clip(
            &format!("not supported: {} {} {}", u.device, u.kind, u.detail),
            80,
        ));
        out.push('\n');
    }
    out
}

fn compact_row(device: &str, bytes: u64, kind: &str, fs: Option<&Filesystem>) -> Vec<String> {
    let (fs_type, label, mount) = match fs {
        Some(f) => (
            f.fs_type.to_string(),
            f.label.clone().unwrap_or_else(|| "-".into()),
            if f.swap_active {
                "[swap]".to_string()
            } else {
                f.target_mount_point().unwrap_or("-").to_string()
            },
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    vec![
        device.to_string(),
        format_bytes(bytes),
        clip(kind, 18),
        fs_type,
        clip(&label, 16),
        mount,
    ]
}

/// At most `width` characters, with "~" marking a cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('~');
    s
}

fn disk_heading(disk: &Disk) -> String {
    let mut parts = vec![
        disk.path.clone(),
        format_bytes(disk.size_bytes()),
        disk.table.name().to_string(),
    ];
    if let Some(id) = disk.table.id() {
        parts.push(id.to_string());
    }
    parts.push(format!(
        "{} sectors of {} B (physical {} B)",
        disk.sectors, disk.logical_sector_size, disk.physical_sector_size
    ));
    if let Some(model) = &disk.model {
        parts.push(format!("model {model}"));
    }
    if let Some(serial) = &disk.serial {
        parts.push(format!("serial {serial}"));
    }
    format!("{}\n", parts.join("  "))
}

const HEADER: [&str; 10] = [
    "DEVICE", "START", "SECTORS", "SIZE", "TYPE", "FS", "LABEL", "UUID", "MOUNT", "FSTAB",
];

fn partition_rows(disk: &Disk) -> String {
    let mut rows = vec![HEADER.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    if let Some(fs) = &disk.filesystem {
        let mut row = vec![
            disk.path.clone(),
            "0".into(),
            disk.sectors.to_string(),
            format_bytes(disk.size_bytes()),
            "whole disk".into(),
        ];
        row.extend(fs_cells(Some(fs)));
        rows.push(row);
    }
    for p in &disk.partitions {
        rows.push(partition_row(disk, p));
    }
    if rows.len() == 1 {
        return "  (no partitions)\n".to_string();
    }
    indent(&columns(&rows), "  ")
}

fn partition_row(disk: &Disk, p: &Partition) -> Vec<String> {
    let mut kind = p.type_name();
    if let Some(m) = &p.mbr {
        if m.bootable {
            kind.push_str(" *boot");
        }
        if p.is_logical() {
            kind = format!("logical {kind}");
        }
    }
    if let Some(g) = &p.gpt {
        if !g.name.is_empty() {
            kind = format!("{kind} \"{}\"", g.name);
        }
    }
    let mut row = vec![
        p.path.clone(),
        p.start.to_string(),
        p.size.to_string(),
        format_bytes(p.size.saturating_mul(u64::from(disk.logical_sector_size))),
        kind,
    ];
    row.extend(fs_cells(p.filesystem.as_ref()));
    row
}

fn fs_cells(fs: Option<&Filesystem>) -> Vec<String> {
    let Some(fs) = fs else {
        return vec!["-".into(); 5];
    };
    let mount = if fs.swap_active {
        "[swap on]".to_string()
    } else {
        fs.mount_point.clone().unwrap_or_else(|| "-".into())
    };
    vec![
        fs.fs_type.to_string(),
        fs.label.clone().unwrap_or_else(|| "-".into()),
        fs.uuid.clone().unwrap_or_else(|| "-".into()),
        mount,
        fs.fstab
            .as_ref()
            .map(|f| format!("{} {}", f.spec, f.mount_point))
            .unwrap_or_else(|| "-".into()),
    ]
}

/// Left-aligned columns two spaces apart, without trailing blanks.
fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountlist::{
        Boot, BootMode, FsType, GptEntry, Host, PartitionTable, Unsupported, UnsupportedKind,
        MOUNTLIST_VERSION,
    };

    fn sample() -> Mountlist {
        let mut root = Filesystem::new(FsType::Ext4);
        root.uuid = Some("6a1c5e8e-0000-4000-8000-000000000001".into());
        root.label = Some("root".into());
        root.mount_point = Some("/".into());
        Mountlist {
            version: MOUNTLIST_VERSION,
            host: Host {
                hostname: "web1".into(),
                root: "/".into(),
                kernel_release: "6.1.0".into(),
                captured_at: 0,
            },
            boot: Boot {
                mode: BootMode::Uefi,
                esp: Some("/dev/sda1".into()),
                paths: None,
            },
            disks: vec![Disk {
                path: "/dev/sda".into(),
                sectors: 20971520,
                logical_sector_size: 512,
                physical_sector_size: 4096,
                model: Some("QEMU HARDDISK".into()),
                serial: None,
                table: PartitionTable::Gpt {
                    disk_guid: "0d6b6a1e-1111-4222-8333-444455556666".into(),
                    first_usable_lba: 34,
                    last_usable_lba: 20971486,
                },
                partitions: vec![
                    Partition {
                        number: 1,
                        path: "/dev/sda1".into(),
                        start: 2048,
                        size: 1048576,
                        gpt: Some(GptEntry {
                            type_guid: super::super::model::GPT_TYPE_ESP.into(),
                            unique_guid: "u1".into(),
                            name: "EFI".into(),
                            attributes: 0,
                        }),
                        mbr: None,
                        filesystem: None,
                    },
                    Partition {
                        number: 2,
                        path: "/dev/sda2".into(),
                        start: 1050624,
                        size: 19920862,
                        gpt: Some(GptEntry {
                            type_guid: "0fc63daf-8483-4772-8e79-3d69d8477de4".into(),
                            unique_guid: "u2".into(),
                            name: String::new(),
                            attributes: 0,
                        }),
                        mbr: None,
                        filesystem: Some(root),
                    },
                ],
                filesystem: None,
            }],
            unsupported: vec![Unsupported {
                device: "/dev/sdb1".into(),
                kind: UnsupportedKind::LvmPhysicalVolume,
                detail: "PV abc".into(),
                mount_point: None,
            }],
            warnings: vec![],
        }
    }

    #[test]
    fn shows_host_disks_partitions_and_unsupported() {
        let text = table(&sample());
        assert!(text.starts_with("Host: web1 (kernel 6.1.0), captured from /\n"));
        assert!(text.contains("Boot: UEFI, ESP /dev/sda1"));
        assert!(text.contains("/dev/sda  10G  gpt  0d6b6a1e-"));
        assert!(text.contains("model QEMU HARDDISK"));
        let row = text.lines().find(|l| l.contains("/dev/sda2")).unwrap();
        for cell in [
            "1050624",
            "19920862",
            "Linux filesystem",
            "ext4",
            "root",
            "6a1c5e8e",
        ] {
            assert!(row.contains(cell), "{cell} missing in {row}");
        }
        assert!(text.contains("EFI System \"EFI\""));
        assert!(text.contains("Not supported yet"));
        assert!(text.contains("/dev/sdb1  LVM physical volume  PV abc"));
    }

    #[test]
    fn the_compact_view_fits_80_columns() {
        let text = compact(&sample());
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
        assert!(
            text.starts_with("/dev/sda  10G  gpt  QEMU HARDDISK\n"),
            "{text}"
        );
        let row = text.lines().find(|l| l.contains("/dev/sda2")).unwrap();
        for cell in ["9.5G", "Linux filesystem", "ext4", "root", "/"] {
            assert!(row.contains(cell), "{cell} missing in {row}");
        }
        assert!(text.contains("not supported: /dev/sdb1 LVM physical volume PV abc"));
    }

    #[test]
    fn columns_align() {
        let text = columns(&[
            vec!["a".into(), "bb".into(), "c".into()],
            vec!["aaa".into(), "b".into(), "".into()],
        ]);
        assert_eq!(text, "a    bb  c\naaa  b\n");
    }
}
