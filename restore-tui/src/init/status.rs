//! What the boot found, and the status screen and ready line that show it.

use super::blockdevs::Disk;
use super::cmdline::{Mode, Options};
use super::manifest::{format_utc, Manifest, Tools};
use super::media::{Access, Found};
use rescue_core::mountlist::{render, Mountlist};
use rescue_core::signature::Trust;
use std::fmt::Write;

/// Everything the boot sequence learnt.
#[derive(Debug, Default)]
pub struct Boot {
    pub options: Options,
    /// The options the host passed through QEMU's fw_cfg (a rehearsal), as given.
    pub host_options: Option<String>,
    pub media: Option<Found>,
    /// How the media's files are reached: mounted, or read from the device.
    pub access: Option<Access>,
    pub manifest: Option<Manifest>,
    /// Why there is no manifest, when there is none.
    pub manifest_problem: Option<String>,
    pub mountlist: Option<Mountlist>,
    /// Where the mountlist came from, or why there is none.
    pub mountlist_source: String,
    pub tools: Option<Tools>,
    pub disks: Vec<Disk>,
    /// Which volumes are accepted (`rescue.trusted-key`).
    pub trust: Trust,
}

/// The line tests wait for:
/// `ready (media RESCUE_1A2B3C4D on /dev/sr0, 2 disks)`, `ready (no media found, 1 disk)`.
pub fn ready_line(boot: &Boot) -> String {
    let media = match &boot.media {
        Some(m) => format!("media {} on {}", m.label, m.path()),
        None => "no media found".to_string(),
    };
    let n = boot.disks.len();
    format!("ready ({media}, {n} disk{})", if n == 1 { "" } else { "s" })
}

/// The status screen: plain text for any console, the summary in 80 columns.
pub fn render(boot: &Boot) -> String {
    let mut s = String::new();
    let o = &boot.options;
    let _ = writeln!(s);
    match &boot.manifest {
        Some(m) => {
            let host = if m.hostname.is_empty() {
                "?"
            } else {
                &m.hostname
            };
            let _ = writeln!(
                s,
                "Backup    {} of {host}, made {}",
                m.backup_id,
                format_utc(m.created)
            );
            if !m.kernel_release.is_empty() {
                let _ = writeln!(s, "Kernel    {}", m.kernel_release);
            }
            if !m.tool_version.is_empty() {
                let _ = writeln!(s, "Made by   mkrescue {}", m.tool_version);
            }
        }
        None => {
            let why = boot.manifest_problem.as_deref().unwrap_or("no manifest");
            let _ = writeln!(s, "Backup    unknown ({why})");
        }
    }
    match (&boot.media, &boot.manifest) {
        (Some(f), Some(m)) => {
            let _ = writeln!(
                s,
                "Media     {} on {}, volume {} of {}",
                f.label,
                f.path(),
                m.volume,
                m.volumes
            );
        }
        (Some(f), None) => {
            let _ = writeln!(s, "Media     {} on {}", f.label, f.path());
        }
        (None, _) => {
            let _ = writeln!(s, "Media     none found");
        }
    }
    if let (Trust::SignedBy(key), Some(_)) = (&boot.trust, &boot.manifest) {
        let _ = writeln!(
            s,
            "Signed    by the trusted key {}...",
            &key.fingerprint()[..16]
        );
    }
    let mut mode = o.mode.to_string();
    let flags: Vec<&str> = [
        (o.yes, "rescue.yes"),
        (o.verify, "rescue.verify"),
        (o.poweroff, "rescue.poweroff"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| *f)
    .collect();
    if !flags.is_empty() && o.mode != Mode::Expert {
        let _ = write!(mode, " ({})", flags.join(" "));
    }
    let _ = writeln!(s, "Mode      {mode}");
    if !o.disk_map.is_empty() {
        let map: Vec<String> = o.disk_map.iter().map(|(a, b)| format!("{a}={b}")).collect();
        let _ = writeln!(s, "Disk map  {}", map.join(" "));
    }
    if let Some(t) = &boot.tools {
        if !t.missing.is_empty() {
            let _ = writeln!(s, "Missing   {} (not on the host)", t.missing.join(" "));
        }
    }
    let _ = writeln!(s, "\nDisks here:");
    if boot.disks.is_empty() {
        let _ = writeln!(s, "  none found");
    }
    for d in &boot.disks {
        let _ = writeln!(s, "  {}", d.describe());
    }
    match &boot.mountlist {
        Some(ml) => {
            let _ = writeln!(s, "\nMountlist ({}):", boot.mountlist_source);
            s.push_str(&render::compact(ml));
        }
        None => {
            let why = if boot.mountlist_source.is_empty() {
                "not read"
            } else {
                &boot.mountlist_source
            };
            let _ = writeln!(s, "\nMountlist: none ({why})");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot() -> Boot {
        Boot {
            options: super::super::cmdline::parse("rescue.mode=nuke rescue.yes"),
            host_options: None,
            media: Some(Found {
                name: "sr0".into(),
                disk: "sr0".into(),
                label: "RESCUE_1A2B3C4D".into(),
            }),
            access: None,
            manifest: Some(Manifest {
                version: 1,
                backup_id: "1A2B3C4D".into(),
                label: "RESCUE_1A2B3C4D".into(),
                volume: 1,
                volumes: 1,
                created: 1_763_700_000,
                tool_version: "0.1.0".into(),
                hostname: "web1".into(),
                kernel_release: "6.1.0-28-cloud-amd64".into(),
                sets: Vec::new(),
                compression: rescue_core::media::Compression::Zstd,
                mountlist_b3: None,
                catalog_b3: None,
            }),
            manifest_problem: None,
            mountlist: None,
            mountlist_source: "/rescue/mountlist.json: not JSON".into(),
            tools: Some(Tools {
                missing: vec!["mkfs.btrfs".into()],
                ..Tools::default()
            }),
            trust: Trust::AnyMedia,
            disks: vec![
                Disk {
                    name: "vda".into(),
                    size_bytes: 20 << 30,
                    model: None,
                    serial: Some("abc".into()),
                },
                Disk {
                    name: "sda".into(),
                    size_bytes: 1 << 30,
                    model: Some("QEMU HARDDISK".into()),
                    serial: None,
                },
            ],
        }
    }

    #[test]
    fn the_ready_line() {
        let mut b = boot();
        assert_eq!(
            ready_line(&b),
            "ready (media RESCUE_1A2B3C4D on /dev/sr0, 2 disks)"
        );
        b.media = None;
        b.disks.pop();
        assert_eq!(ready_line(&b), "ready (no media found, 1 disk)");
    }

    #[test]
    fn the_status_screen() {
        let text = render(&boot());
        assert_eq!(
            text,
            "
Backup    1A2B3C4D of web1, made 2025-11-21 04:40 UTC
Kernel    6.1.0-28-cloud-amd64
Made by   mkrescue 0.1.0
Media     RESCUE_1A2B3C4D on /dev/sr0, volume 1 of 1
Mode      nuke (rescue.yes)
Missing   mkfs.btrfs (not on the host)

Disks here:
  /dev/vda  20G  -  serial abc
  /dev/sda  1G  QEMU HARDDISK

Mountlist: none (/rescue/mountlist.json: not JSON)
"
        );
        assert!(text.lines().all(|l| l.len() <= 80));
    }

    #[test]
    fn the_status_screen_without_media() {
        let text = render(&Boot {
            manifest_problem: Some("no media found".into()),
            mountlist_source: "none found".into(),
            ..Boot::default()
        });
        assert!(
            text.contains("Backup    unknown (no media found)"),
            "{text}"
        );
        assert!(text.contains("Media     none found"), "{text}");
        assert!(text.contains("Mode      interactive"), "{text}");
        assert!(text.contains("Disks here:\n  none found"), "{text}");
        assert!(text.contains("Mountlist: none (none found)"), "{text}");
        let text = render(&Boot::default());
        assert!(text.contains("Mountlist: none (not read)"), "{text}");
    }
}
