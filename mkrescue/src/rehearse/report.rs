//! The rehearsal's report: each phase with its time, what was restored, the verification,
//! the boot check and where the serial logs are; printed for a person and written as JSON
//! (`--report FILE`, format in docs/formats.md).

use rescue_core::rehearsal::{RestoreResult, VerifyResult};
use rescue_core::size::format_bytes;
use serde::Serialize;
use std::fmt::{self, Write as _};
use std::path::PathBuf;

pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub version: u32,
    /// Whether everything asked for passed.
    pub ok: bool,
    /// Why not, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub media: PathBuf,
    pub backup_id: String,
    pub hostname: String,
    pub firmware: String,
    pub accel: String,
    pub disks: Vec<DiskReport>,
    pub phases: Vec<Phase>,
    pub restore: RestoreResult,
    pub verify: VerifyResult,
    pub boot_check: BootCheck,
    /// The serial console of each run (the rescue system's, then the boot check's).
    pub serial_logs: Vec<PathBuf>,
    /// Where the restored disk images are left (`--keep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DiskReport {
    pub original: String,
    pub guest: String,
    pub bytes: u64,
    pub original_bytes: u64,
    /// The image, when it is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Phase {
    /// "boot", "restore", "verify", "power off", "boot check".
    pub name: String,
    pub ok: bool,
    pub seconds: f64,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BootCheck {
    pub ran: bool,
    pub ok: bool,
    /// What showed that the restored system started.
    pub evidence: Vec<String>,
    pub detail: String,
}

impl Report {
    /// Adds a phase.
    pub fn phase(&mut self, name: &str, ok: bool, seconds: f64, detail: impl Into<String>) {
        self.phases.push(Phase {
            name: name.to_string(),
            ok,
            seconds,
            detail: detail.into(),
        });
    }

    /// Records the first failure (later ones follow from it).
    pub fn fail(&mut self, why: impl Into<String>) {
        self.ok = false;
        if self.failure.is_none() {
            self.failure = Some(why.into());
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Rehearsal of backup {} of {} ({}, {} firmware, {})",
            self.backup_id,
            if self.hostname.is_empty() {
                "?"
            } else {
                &self.hostname
            },
            self.media.display(),
            self.firmware,
            self.accel
        );
        for d in &self.disks {
            let _ = writeln!(
                out,
                "  disk {} -> {} ({}{})",
                d.original,
                d.guest,
                format_bytes(d.bytes),
                if d.bytes == d.original_bytes {
                    String::new()
                } else {
                    format!(", was {}", format_bytes(d.original_bytes))
                }
            );
        }
        for p in &self.phases {
            let _ = writeln!(
                out,
                "  {:<11} {:>7.1} s  {}  {}",
                p.name,
                p.seconds,
                if p.ok { "ok    " } else { "FAILED" },
                p.detail
            );
        }
        let r = &self.restore;
        if r.files > 0 || r.ok {
            let _ = writeln!(
                out,
                "  restored: {} files, {} from {} sets",
                r.files,
                format_bytes(r.bytes),
                r.sets
            );
        }
        for p in &r.problems {
            let _ = writeln!(out, "    problem: {p}");
        }
        let v = &self.verify;
        if v.ran {
            let _ = writeln!(
                out,
                "  verified: {} files, {} against the catalog: {}",
                v.files,
                format_bytes(v.bytes),
                if v.ok { "as backed up" } else { "DIFFERENCES" }
            );
            for e in &v.expected {
                let _ = writeln!(out, "    expected: {e}");
            }
            for d in &v.differences {
                let _ = writeln!(out, "    difference: {d}");
            }
            if v.more_differences > 0 {
                let _ = writeln!(out, "    ... and {} more differences", v.more_differences);
            }
        }
        let b = &self.boot_check;
        if b.ran {
            let _ = writeln!(
                out,
                "  boot check: {}",
                if b.ok {
                    "the restored system starts"
                } else {
                    "FAILED"
                }
            );
            for e in &b.evidence {
                let _ = writeln!(out, "    {e}");
            }
            if !b.detail.is_empty() {
                let _ = writeln!(out, "    {}", b.detail);
            }
        }
        for l in &self.serial_logs {
            let _ = writeln!(out, "  serial log: {}", l.display());
        }
        if let Some(k) = &self.kept {
            let _ = writeln!(out, "  restored disk images kept in {}", k.display());
        }
        let _ = match &self.failure {
            None if self.ok => writeln!(out, "Result: PASSED"),
            None => writeln!(out, "Result: FAILED"),
            Some(why) => writeln!(out, "Result: FAILED: {why}"),
        };
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut r = Report {
            version: REPORT_VERSION,
            ok: true,
            failure: None,
            media: "/srv/rescue/rescue-1.iso".into(),
            backup_id: "1A2B3C4D".into(),
            hostname: "web01".into(),
            firmware: "uefi".into(),
            accel: "tcg".into(),
            disks: vec![DiskReport {
                original: "/dev/sda".into(),
                guest: "/dev/vda".into(),
                bytes: 2 << 30,
                original_bytes: 1 << 30,
                image: None,
            }],
            phases: Vec::new(),
            restore: RestoreResult {
                ok: true,
                seconds: 20.0,
                files: 1200,
                bytes: 50 << 20,
                sets: 4,
                problems: Vec::new(),
            },
            verify: VerifyResult {
                ran: true,
                ok: true,
                files: 1200,
                bytes: 50 << 20,
                expected: vec!["/etc/fstab: rewritten by the restore".into()],
                ..VerifyResult::default()
            },
            boot_check: BootCheck::default(),
            serial_logs: vec!["/var/tmp/r/rescue-serial.log".into()],
            kept: None,
        };
        r.phase("boot", true, 4.25, "power-on to restore-tui ready");
        r.phase("restore", true, 20.0, "nuke finished: OK");
        r
    }

    #[test]
    fn the_report_reads_as_a_summary() {
        let text = report().to_string();
        assert_eq!(
            text,
            "Rehearsal of backup 1A2B3C4D of web01 (/srv/rescue/rescue-1.iso, uefi firmware, tcg)\n\
             \x20 disk /dev/sda -> /dev/vda (2G, was 1G)\n\
             \x20 boot            4.2 s  ok      power-on to restore-tui ready\n\
             \x20 restore        20.0 s  ok      nuke finished: OK\n\
             \x20 restored: 1200 files, 50M from 4 sets\n\
             \x20 verified: 1200 files, 50M against the catalog: as backed up\n\
             \x20   expected: /etc/fstab: rewritten by the restore\n\
             \x20 serial log: /var/tmp/r/rescue-serial.log\n\
             Result: PASSED\n"
        );
    }

    #[test]
    fn the_first_failure_is_the_one_named() {
        let mut r = report();
        r.fail("the restore failed: no disk");
        r.fail("the verification did not run");
        assert!(!r.ok);
        assert!(r
            .to_string()
            .ends_with("Result: FAILED: the restore failed: no disk\n"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["failure"], "the restore failed: no disk");
        assert_eq!(json["phases"][0]["name"], "boot");
        assert!(json.get("kept").is_none());
    }
}
