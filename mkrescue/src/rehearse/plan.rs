//! What a rehearsal will do, decided before anything runs: the firmware, a blank disk for
//! each disk of the mountlist (its size, or the one asked for), the volumes as CD drives,
//! and the options the rescue system gets through QEMU's fw_cfg (`opt/mkrescue/cmdline`):
//! nuke, no questions, the disk map onto the virtual disks, verify, power off, and the
//! serial port as its console.

use super::vm::Firmware;
use anyhow::bail;
use rescue_core::mountlist::{BootMode, Mountlist};
use rescue_core::size::format_bytes;
use std::path::PathBuf;
use std::time::Duration;

/// The fw_cfg name the rescue system reads its extra options from.
pub const FW_CFG_NAME: &str = "opt/mkrescue/cmdline";

/// A disk of the rehearsal: original disk `original` is restored onto virtual disk `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDisk {
    pub original: String,
    /// The name the rescue system sees: /dev/vda, /dev/vdb, ...
    pub guest: String,
    pub bytes: u64,
    /// The original disk's size.
    pub original_bytes: u64,
}

/// Everything decided before QEMU starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub firmware: Firmware,
    pub disks: Vec<PlannedDisk>,
    /// Volume 1 first: the machine boots from it.
    pub cdroms: Vec<PathBuf>,
    /// The rescue system's options, as one kernel-command-line string.
    pub guest_options: String,
    /// The boot, the restore and the verification together.
    pub restore_timeout: Duration,
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub firmware: Option<Firmware>,
    /// Sizes for the disks in mountlist order; disks beyond the list keep their size.
    pub disk_sizes: Vec<u64>,
    /// Overrides the timeout made from the backup's size.
    pub timeout: Option<Duration>,
}

/// `/dev/vda` ... `/dev/vdz`: virtio disks in the order they are attached.
fn guest_disk(i: usize) -> anyhow::Result<String> {
    match u8::try_from(i).ok().filter(|i| *i < 26) {
        Some(i) => Ok(format!("/dev/vd{}", char::from(b'a' + i))),
        None => bail!("a rehearsal attaches at most 26 disks; the mountlist has more"),
    }
}

/// The time a rehearsal gets before it is a hang: boot and partitioning (a few minutes
/// under emulation), then the restore and the verification at a rate TCG keeps even on
/// a loaded machine.
pub fn default_timeout(backup_bytes: u64) -> Duration {
    const FIXED: u64 = 600;
    /// Bytes a second: restored, then read again by the verification.
    const RATE: u64 = 4 << 20;
    Duration::from_secs(FIXED + backup_bytes / RATE)
}

/// The plan for `ml`, whose backup holds `backup_bytes`, on the volumes `cdroms` (volume 1
/// first).
pub fn plan(
    ml: &Mountlist,
    cdroms: Vec<PathBuf>,
    backup_bytes: u64,
    asked: &Asked,
) -> anyhow::Result<Plan> {
    if ml.disks.is_empty() {
        bail!("the mountlist has no disks: there is nothing to restore onto");
    }
    if asked.disk_sizes.len() > ml.disks.len() {
        bail!(
            "{} --disk-size given, but the mountlist has {} disk(s) ({}): give one size per \
             disk, in that order",
            asked.disk_sizes.len(),
            ml.disks.len(),
            ml.disks
                .iter()
                .map(|d| d.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut disks = Vec::new();
    for (i, d) in ml.disks.iter().enumerate() {
        let original_bytes = d.size_bytes();
        let bytes = asked.disk_sizes.get(i).copied().unwrap_or(original_bytes);
        if bytes == 0 || bytes % 512 != 0 {
            bail!(
                "--disk-size {bytes} for {}: a disk's size is a positive multiple of 512 bytes",
                d.path
            );
        }
        disks.push(PlannedDisk {
            original: d.path.clone(),
            guest: guest_disk(i)?,
            bytes,
            original_bytes,
        });
    }
    let firmware = asked.firmware.unwrap_or(match ml.boot.mode {
        BootMode::Uefi => Firmware::Uefi,
        BootMode::Bios => Firmware::Bios,
    });
    let mut options = vec![
        "rescue.mode=nuke".to_string(),
        "rescue.yes".into(),
        "rescue.verify".into(),
        "rescue.poweroff".into(),
        "rescue.console=ttyS0".into(),
    ];
    options.extend(
        disks
            .iter()
            .map(|d| format!("rescue.disk-map={}={}", d.original, d.guest)),
    );
    Ok(Plan {
        firmware,
        disks,
        cdroms,
        guest_options: options.join(" "),
        restore_timeout: asked.timeout.unwrap_or(default_timeout(backup_bytes)),
    })
}

impl Plan {
    /// The disks in words: "/dev/sda (20G) onto /dev/vda, 30G".
    pub fn describe_disks(&self) -> Vec<String> {
        self.disks
            .iter()
            .map(|d| {
                let size = if d.bytes == d.original_bytes {
                    format!("{}, the same size", format_bytes(d.bytes))
                } else {
                    format!(
                        "{} ({} {})",
                        format_bytes(d.bytes),
                        if d.bytes > d.original_bytes {
                            "bigger than"
                        } else {
                            "smaller than"
                        },
                        format_bytes(d.original_bytes)
                    )
                };
                format!("{} onto {}: {size}", d.original, d.guest)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::mountlist::from_json;

    fn mountlist(mode: &str) -> Mountlist {
        from_json(&format!(
            r#"{{"version":1,"host":{{"hostname":"web01","root":"/","kernel_release":"6.1",
            "captured_at":0}},"boot":{{"mode":"{mode}"}},"disks":[
            {{"path":"/dev/sda","sectors":2097152,"logical_sector_size":512,
              "physical_sector_size":512,"table":{{"type":"none"}},"partitions":[]}},
            {{"path":"/dev/nvme0n1","sectors":4194304,"logical_sector_size":512,
              "physical_sector_size":512,"table":{{"type":"none"}},"partitions":[]}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn every_disk_gets_a_virtual_disk_of_its_size_and_the_options_map_them() {
        let p = plan(
            &mountlist("uefi"),
            vec!["/m/rescue-1.iso".into()],
            0,
            &Asked::default(),
        )
        .unwrap();
        assert_eq!(p.firmware, Firmware::Uefi);
        assert_eq!(
            p.disks
                .iter()
                .map(|d| (d.guest.as_str(), d.bytes))
                .collect::<Vec<_>>(),
            [("/dev/vda", 1 << 30), ("/dev/vdb", 2 << 30)]
        );
        assert_eq!(
            p.guest_options,
            "rescue.mode=nuke rescue.yes rescue.verify rescue.poweroff rescue.console=ttyS0 \
             rescue.disk-map=/dev/sda=/dev/vda rescue.disk-map=/dev/nvme0n1=/dev/vdb"
        );
        assert_eq!(p.restore_timeout, Duration::from_secs(600));
        assert_eq!(
            p.describe_disks(),
            [
                "/dev/sda onto /dev/vda: 1G, the same size",
                "/dev/nvme0n1 onto /dev/vdb: 2G, the same size"
            ]
        );
    }

    #[test]
    fn sizes_asked_for_apply_in_order_and_the_firmware_can_be_chosen() {
        let p = plan(
            &mountlist("bios"),
            Vec::new(),
            40 << 20,
            &Asked {
                firmware: Some(Firmware::Uefi),
                disk_sizes: vec![3 << 30],
                timeout: None,
            },
        )
        .unwrap();
        assert_eq!(p.firmware, Firmware::Uefi);
        assert_eq!(p.disks[0].bytes, 3 << 30);
        assert_eq!(p.disks[1].bytes, 2 << 30, "the second keeps its size");
        assert!(p.describe_disks()[0].ends_with("3G (bigger than 1G)"));
        assert_eq!(p.restore_timeout, Duration::from_secs(610));
        assert_eq!(
            plan(&mountlist("bios"), Vec::new(), 0, &Asked::default())
                .unwrap()
                .firmware,
            Firmware::Bios
        );
    }

    #[test]
    fn too_many_sizes_or_an_odd_size_is_refused() {
        let asked = Asked {
            disk_sizes: vec![1 << 30; 3],
            ..Asked::default()
        };
        let e = plan(&mountlist("bios"), Vec::new(), 0, &asked).unwrap_err();
        assert!(
            e.to_string().contains(
                "3 --disk-size given, but the mountlist has 2 disk(s) (/dev/sda, /dev/nvme0n1)"
            ),
            "{e}"
        );
        let asked = Asked {
            disk_sizes: vec![1000],
            ..Asked::default()
        };
        let e = plan(&mountlist("bios"), Vec::new(), 0, &asked).unwrap_err();
        assert!(e.to_string().contains("multiple of 512"), "{e}");
    }
}
