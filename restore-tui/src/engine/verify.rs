//! Verifying a nuke (`restore-tui --mode nuke --verify`, and `rescue.verify` in the rescue
//! system): the restored disks mounted read-only and compared with the backup's catalog
//! ([`super::compare::run_compare`]), then each difference sorted into one the restore
//! made on purpose (with the reason) or a real one.
//!
//! The restore changes a few files on purpose, and only these are expected:
//! - `/etc/fstab` CHANGED (size, mtime, content) when the restore reported rewriting it;
//! - the restore log (`/var/log/restore-tui.log`) EXTRA, or CHANGED in content when the
//!   backup held the log of an earlier restore;
//! - when grub-install ran: anything under `/boot/grub` (`/boot/grub2` where it is called
//!   grub2-install) and, under UEFI, under the EFI System Partition's `EFI` directory;
//! - the mount points made for the boot loader's bind mounts (`/dev`, `/proc`, `/sys`)
//!   EXTRA when the backup did not have them.
//!
//! Directories' mtimes are not compared (see `rescue_core::compare`), so the files above
//! change nothing else.

use super::apply::{Event, Outcome};
use super::compare::{run_compare, CompareOutcome};
use super::plan::{DiskMap, Phase, Plan, Step};
use rescue_core::compare::CompareReport;
use rescue_core::mountlist::{BootMode, Mountlist};
use rescue_core::runner::Runner;
use rescue_core::volume::Volume;
use std::fmt;
use std::path::Path;
use std::time::Instant;

/// How many paths of each list the compare keeps, so that every difference can be
/// classified: GRUB alone writes a few hundred files. A difference beyond it cannot be
/// told apart and counts as unexpected.
const CLASSIFY_LIMIT: usize = 20_000;

/// How many expected and unexpected differences are named when printed (and in the
/// rehearsal report); the rest are counted.
pub const SHOW: usize = 50;

/// What a verification needs of a nuke that ran to its end.
#[derive(Debug)]
pub struct Restored {
    pub volumes: Vec<Volume>,
    /// The mountlist as the backup has it, and the disks it was restored onto.
    pub mountlist: Mountlist,
    pub maps: Vec<DiskMap>,
    pub expected: Expectations,
}

/// The kind of a difference, as the compare names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    Changed,
    Extra,
    Unreadable,
}

/// One difference between the restored disks and the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: Kind,
    /// As on the restored system ("/etc/fstab"); for an unreadable file, the path and the
    /// error as the compare gives them.
    pub path: String,
    /// What changed ("content (BLAKE3)", "size 3 -> 4"), for CHANGED.
    pub what: Vec<String>,
}

impl fmt::Display for Difference {
    /// `CHANGED /etc/motd: content (BLAKE3)`, `EXTRA /srv/new`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Missing => "MISSING",
            Kind::Changed => "CHANGED",
            Kind::Extra => "EXTRA",
            Kind::Unreadable => "UNREADABLE",
        };
        write!(f, "{kind} {}", self.path)?;
        if !self.what.is_empty() {
            write!(f, ": {}", self.what.join(", "))?;
        }
        Ok(())
    }
}

/// The directories grub-install writes in the restored system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootLoaderDirs {
    /// "/boot/grub", "/boot/grub2".
    pub grub: Vec<String>,
    /// The ESP's EFI directory ("/boot/efi/EFI"), under UEFI; FAT is case-blind.
    pub efi: Option<String>,
}

impl BootLoaderDirs {
    /// The directory of these that is `path` or holds it.
    fn holding(&self, path: &str) -> Option<&str> {
        let within = |dir: &str, path: &str| {
            path == dir
                || path
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        let grub = self.grub.iter().find(|g| within(g, path));
        let efi = self
            .efi
            .iter()
            .find(|efi| within(&efi.to_ascii_lowercase(), &path.to_ascii_lowercase()));
        grub.or(efi).map(String::as_str)
    }
}

/// What the restore changed on purpose, as its plan and outcome tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// fstab ("/etc/fstab"), when the restore reported rewriting lines of it.
    pub fstab: Option<String>,
    /// The restore log ("/var/log/restore-tui.log"), when the plan wrote it.
    pub log_file: Option<String>,
    /// When grub-install ran (not skipped).
    pub boot_loader: Option<BootLoaderDirs>,
    /// The mount points the plan binds /dev, /proc and /sys at for the boot loader.
    pub bind_mount_dirs: Vec<String>,
}

impl Expectations {
    /// From the plan that ran to its end, its outcome, and whether grub-install ran
    /// ([`BootLoaderWatch`]).
    pub fn of(plan: &Plan, outcome: &Outcome, boot_loader_ran: bool) -> Expectations {
        let on_target = |p: &Path| {
            p.strip_prefix(&plan.root)
                .ok()
                .map(|rel| format!("/{}", rel.display()))
        };
        let mut e = Expectations::default();
        for step in &plan.steps {
            match step {
                Step::RewriteFstab { path, .. } if !outcome.fstab.is_empty() => {
                    e.fstab = on_target(path)
                }
                Step::WriteLog { path } => e.log_file = on_target(path),
                // The only mounts of the finish are the boot loader's binds.
                Step::Mount {
                    phase: Phase::Finish,
                    dir,
                    ..
                } => e.bind_mount_dirs.extend(on_target(dir)),
                _ => {}
            }
        }
        if boot_loader_ran {
            e.boot_loader = Some(BootLoaderDirs {
                // grub2-install is run where that is its name; it writes /boot/grub2.
                grub: vec!["/boot/grub".into(), "/boot/grub2".into()],
                efi: esp_efi_dir(&plan.layout),
            });
        }
        e
    }

    /// The directory grub-install wrote that holds `path`, when it ran.
    pub fn boot_loader_dir(&self, path: &str) -> Option<&str> {
        self.boot_loader.as_ref()?.holding(path)
    }

    /// Why the restore made this difference on purpose; `None` for a real difference.
    pub fn reason(&self, d: &Difference) -> Option<&'static str> {
        // The restore writes these files whole: their owner, mode and type stay.
        let content_only = || {
            d.what.iter().all(|w| {
                ["size ", "mtime ", "content "]
                    .iter()
                    .any(|p| w.starts_with(p))
            })
        };
        let is = |p: &Option<String>| p.as_deref() == Some(d.path.as_str());
        match d.kind {
            Kind::Unreadable => None,
            Kind::Changed if is(&self.fstab) && content_only() => Some("rewritten by the restore"),
            Kind::Extra if is(&self.log_file) => Some("the restore's log"),
            Kind::Changed if is(&self.log_file) && content_only() => Some("the restore's log"),
            _ if self.boot_loader_dir(&d.path).is_some() => Some("written by grub-install"),
            Kind::Extra if self.bind_mount_dirs.contains(&d.path) => {
                Some("made for the boot loader's bind mounts")
            }
            _ => None,
        }
    }
}

/// "/boot/efi/EFI" when the layout boots by UEFI from an ESP with a mount point.
fn esp_efi_dir(layout: &Mountlist) -> Option<String> {
    if layout.boot.mode != BootMode::Uefi {
        return None;
    }
    let esp = layout.boot.esp.as_deref()?;
    let (_, fs) = layout.filesystems().find(|(dev, _)| *dev == esp)?;
    // The plan's layout passed validation: its mount points are in normal form.
    let mp = fs.target_mount().ok()??;
    Some(format!("{}/EFI", mp.as_str().trim_end_matches('/')))
}

/// Follows a nuke's events to tell whether grub-install ran: its step started and ended
/// without a note (the step notes that it skipped, when the restored system has no
/// grub-install).
#[derive(Debug, Default)]
pub struct BootLoaderWatch {
    in_step: bool,
    skipped: bool,
    ran: bool,
}

impl BootLoaderWatch {
    pub fn see(&mut self, e: &Event<'_>) {
        match e {
            Event::Start { step, .. } => {
                self.in_step = matches!(step, Step::InstallBootLoader { .. });
            }
            Event::Note(_) if self.in_step => self.skipped = true,
            Event::Done { .. } if self.in_step => {
                self.ran = !self.skipped;
                self.in_step = false;
            }
            _ => {}
        }
    }

    pub fn ran(&self) -> bool {
        self.ran
    }
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verification {
    pub seconds: f64,
    /// Catalog records compared with a restored entry.
    pub entries: u64,
    /// Regular files read and hashed, and their bytes.
    pub files: u64,
    pub bytes: u64,
    /// Differences the restore made on purpose: "/etc/fstab: rewritten by the restore";
    /// what grub-install wrote counted by directory last, "/boot/grub (330 entries):
    /// written by grub-install".
    pub expected: Vec<String>,
    /// Real differences: "CHANGED /etc/motd: content (BLAKE3)".
    pub differences: Vec<String>,
    /// Differences the compare counted beyond its limit: not classified, so real.
    pub unlisted: u64,
    /// What makes the verification incomplete: catalog records not read, filesystems
    /// left mounted.
    pub problems: Vec<String>,
    /// Worth knowing, not a failure: files whose content could not be compared.
    pub notes: Vec<String>,
    /// What was mounted, or left out because its mount point is missing.
    pub mounts: Vec<String>,
}

impl Verification {
    /// Sorts what the compare found.
    pub fn classify(compared: &CompareOutcome, expected: &Expectations) -> Verification {
        let r = &compared.report;
        let mut v = Verification {
            entries: r.compared,
            files: r.content_checked,
            bytes: r.content_bytes,
            unlisted: r.missing.unlisted()
                + r.changed.unlisted()
                + r.extra.unlisted()
                + r.errors.unlisted(),
            problems: compared.problems.clone(),
            mounts: compared.mounts.clone(),
            ..Verification::default()
        };
        // GRUB's hundreds of files would hide the rest: counted by directory.
        let mut boot_loader: Vec<(&str, u64, &str)> = Vec::new();
        for d in differences(r) {
            match (expected.reason(&d), expected.boot_loader_dir(&d.path)) {
                (Some(why), Some(dir)) => match boot_loader.iter_mut().find(|g| g.0 == dir) {
                    Some(group) => group.1 += 1,
                    None => boot_loader.push((dir, 1, why)),
                },
                (Some(why), None) => v.expected.push(format!("{}: {why}", d.path)),
                (None, _) => v.differences.push(d.to_string()),
            }
        }
        v.expected
            .extend(boot_loader.into_iter().map(|(dir, n, why)| {
                format!(
                    "{dir} ({n} entr{}): {why}",
                    if n == 1 { "y" } else { "ies" }
                )
            }));
        if r.catalog_errors > 0 {
            v.problems.push(format!(
                "{} catalog record(s) could not be read and were not compared",
                r.catalog_errors
            ));
        }
        if r.content_unchecked > 0 {
            v.notes.push(format!(
                "content not compared for {} file(s): no hash on the volumes found, or \
                 stored while it changed",
                r.content_unchecked
            ));
        }
        if r.stray_hashes > 0 {
            v.notes.push(format!(
                "{} hash list line(s) match no catalog record (mkrescue verify names them)",
                r.stray_hashes
            ));
        }
        v
    }

    /// Nothing but what the restore made on purpose, and everything compared.
    pub fn ok(&self) -> bool {
        self.differences.is_empty() && self.unlisted == 0 && self.problems.is_empty()
    }

    /// Real differences, named or not.
    pub fn difference_count(&self) -> u64 {
        self.differences.len() as u64 + self.unlisted
    }

    /// `verify finished: OK` or `verify finished: FAILED (why)`.
    pub fn finished_line(&self) -> String {
        if self.ok() {
            return "verify finished: OK".into();
        }
        let mut why = Vec::new();
        let n = self.difference_count();
        if n > 0 {
            let first = self
                .differences
                .first()
                .map(|d| format!(", first {d}"))
                .unwrap_or_default();
            why.push(format!(
                "{n} difference{} from the backup{first}",
                if n == 1 { "" } else { "s" }
            ));
        }
        why.extend(self.problems.iter().cloned());
        format!("verify finished: FAILED ({})", why.join("; "))
    }

    /// For people: what was mounted, what was compared, the expected differences and the
    /// real ones (the first [`SHOW`] of each), the notes and problems.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.mounts.clone();
        lines.push(format!(
            "verify: compared {} entries: {} files read and hashed ({}) in {:.1} s",
            self.entries,
            self.files,
            rescue_core::size::format_bytes(self.bytes),
            self.seconds
        ));
        let mut section = |title: &str, items: &[String], more: u64| {
            let count = items.len() as u64 + more;
            if count == 0 {
                return;
            }
            lines.push(format!("{title} ({count}):"));
            lines.extend(items.iter().take(SHOW).map(|i| format!("  {i}")));
            let rest = count.saturating_sub(items.len().min(SHOW) as u64);
            if rest > 0 {
                lines.push(format!("  ... and {rest} more"));
            }
        };
        section("made by the restore on purpose", &self.expected, 0);
        section(
            "differences from the backup",
            &self.differences,
            self.unlisted,
        );
        lines.extend(self.notes.iter().cloned());
        lines.extend(self.problems.iter().map(|p| format!("problem: {p}")));
        lines
    }
}

/// Every difference the compare named, in the compare's order per kind.
fn differences(r: &CompareReport) -> Vec<Difference> {
    let absolute = |p: &str| {
        if p == "." {
            "/".to_string()
        } else {
            format!("/{p}")
        }
    };
    let plain = |kind, paths: &[String]| -> Vec<Difference> {
        paths
            .iter()
            .map(|p| Difference {
                kind,
                path: absolute(p),
                what: Vec::new(),
            })
            .collect()
    };
    let mut all = plain(Kind::Missing, &r.missing.paths);
    all.extend(r.changed.files.iter().map(|c| Difference {
        kind: Kind::Changed,
        path: absolute(&c.path),
        what: c.what.clone(),
    }));
    all.extend(plain(Kind::Extra, &r.extra.paths));
    // The compare names these by their host path, with the error.
    all.extend(r.errors.paths.iter().map(|p| Difference {
        kind: Kind::Unreadable,
        path: p.clone(),
        what: Vec::new(),
    }));
    all
}

/// Mounts the restored disks read-only under `root`, compares them with the catalog and
/// sorts the differences; an error when the compare could not run.
pub fn verify(
    restored: &Restored,
    root: &Path,
    runner: &dyn Runner,
) -> anyhow::Result<Verification> {
    let started = Instant::now();
    let compared = run_compare(
        &restored.volumes,
        &restored.mountlist,
        &restored.maps,
        root,
        runner,
        CLASSIFY_LIMIT,
        &mut |_| {},
    )?;
    let mut v = Verification::classify(&compared, &restored.expected);
    v.seconds = started.elapsed().as_secs_f64();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(kind: Kind, path: &str, what: &[&str]) -> Difference {
        Difference {
            kind,
            path: path.into(),
            what: what.iter().map(|w| w.to_string()).collect(),
        }
    }

    /// After a UEFI nuke whose fstab was rewritten and whose boot loader was reinstalled.
    fn everything() -> Expectations {
        Expectations {
            fstab: Some("/etc/fstab".into()),
            log_file: Some("/var/log/restore-tui.log".into()),
            boot_loader: Some(BootLoaderDirs {
                grub: vec!["/boot/grub".into(), "/boot/grub2".into()],
                efi: Some("/boot/efi/EFI".into()),
            }),
            bind_mount_dirs: vec!["/dev".into(), "/proc".into(), "/sys".into()],
        }
    }

    #[test]
    fn differences_the_restore_makes_on_purpose_are_expected_and_no_others() {
        use Kind::*;
        let fstab = "rewritten by the restore";
        let log = "the restore's log";
        let grub = "written by grub-install";
        let bind = "made for the boot loader's bind mounts";
        let table: &[(Difference, Option<&str>)] = &[
            (
                d(
                    Changed,
                    "/etc/fstab",
                    &["size 90 -> 91", "mtime 1.0 -> 2.0"],
                ),
                Some(fstab),
            ),
            (d(Changed, "/etc/fstab", &["content (BLAKE3)"]), Some(fstab)),
            // The restore writes fstab in place: its mode and owner stay.
            (d(Changed, "/etc/fstab", &["mode 644 -> 600"]), None),
            (d(Missing, "/etc/fstab", &[]), None),
            (d(Changed, "/etc/fstab.orig", &["content (BLAKE3)"]), None),
            (d(Extra, "/var/log/restore-tui.log", &[]), Some(log)),
            (
                d(Changed, "/var/log/restore-tui.log", &["size 1 -> 9"]),
                Some(log),
            ),
            (d(Missing, "/var/log/restore-tui.log", &[]), None),
            (d(Extra, "/var/log/restore-tui.log.1", &[]), None),
            (d(Extra, "/boot/grub/i386-pc/core.img", &[]), Some(grub)),
            (
                d(Changed, "/boot/grub/grubenv", &["content (BLAKE3)"]),
                Some(grub),
            ),
            (d(Missing, "/boot/grub/fonts/unicode.pf2", &[]), Some(grub)),
            (d(Extra, "/boot/grub", &[]), Some(grub)),
            (d(Extra, "/boot/grub2/x86_64-efi/core.efi", &[]), Some(grub)),
            (d(Extra, "/boot/efi/EFI/BOOT/BOOTX64.EFI", &[]), Some(grub)),
            (
                d(
                    Changed,
                    "/boot/efi/efi/debian/grubx64.efi",
                    &["size 1 -> 2"],
                ),
                Some(grub),
            ),
            (d(Changed, "/boot/grub.cfg", &["content (BLAKE3)"]), None),
            (d(Extra, "/boot/grubby", &[]), None),
            (d(Extra, "/boot/efi/startup.nsh", &[]), None),
            (d(Changed, "/boot/vmlinuz", &["content (BLAKE3)"]), None),
            (d(Extra, "/dev", &[]), Some(bind)),
            (d(Extra, "/sys", &[]), Some(bind)),
            (d(Extra, "/dev/null", &[]), None),
            (d(Changed, "/proc", &["mode 555 -> 755"]), None),
            (d(Missing, "/proc", &[]), None),
            (d(Extra, "/run", &[]), None),
            (d(Changed, "/etc/motd", &["content (BLAKE3)"]), None),
            (
                d(
                    Unreadable,
                    "/mnt/verify/boot/grub/x: Permission denied",
                    &[],
                ),
                None,
            ),
        ];
        let e = everything();
        for (diff, want) in table {
            assert_eq!(e.reason(diff), *want, "{diff}");
        }
        // Nothing expected when the restore did none of it.
        let none = Expectations::default();
        for (diff, _) in table {
            assert_eq!(none.reason(diff), None, "{diff}");
        }
        // Without UEFI the ESP is not grub-install's.
        let bios = Expectations {
            boot_loader: Some(BootLoaderDirs {
                grub: vec!["/boot/grub".into()],
                efi: None,
            }),
            ..Expectations::default()
        };
        assert_eq!(
            bios.reason(&d(Extra, "/boot/efi/EFI/BOOT/BOOTX64.EFI", &[])),
            None
        );
        assert_eq!(bios.reason(&d(Extra, "/boot/grub/x", &[])), Some(grub));
    }

    #[test]
    fn differences_are_named_as_the_compare_names_them() {
        assert_eq!(
            d(
                Kind::Changed,
                "/etc/x",
                &["size 1 -> 2", "content (length)"]
            )
            .to_string(),
            "CHANGED /etc/x: size 1 -> 2, content (length)"
        );
        assert_eq!(d(Kind::Missing, "/a", &[]).to_string(), "MISSING /a");
        assert_eq!(d(Kind::Extra, "/", &[]).to_string(), "EXTRA /");
    }

    fn compared(report: CompareReport) -> CompareOutcome {
        CompareOutcome {
            report,
            lines: Vec::new(),
            mounts: vec!["mounted /dev/loop7p2 (ext4, /) read-only at /mnt/verify".into()],
            problems: Vec::new(),
        }
    }

    #[test]
    fn a_verification_sorts_what_the_compare_found() {
        let mut r = CompareReport::new(Path::new("/mnt/verify"));
        r.compared = 12;
        r.content_checked = 9;
        r.content_bytes = 4096;
        r.changed.count = 2;
        for (path, what) in [
            ("etc/fstab", "content (BLAKE3)"),
            ("etc/motd", "size 1 -> 2"),
        ] {
            r.changed.files.push(rescue_core::compare::Changed {
                path: path.into(),
                what: vec![what.into()],
            });
        }
        r.extra.push(b"var/log/restore-tui.log", 100);
        let e = everything();
        let v = Verification::classify(&compared(r.clone()), &e);
        assert_eq!(
            v.expected,
            [
                "/etc/fstab: rewritten by the restore",
                "/var/log/restore-tui.log: the restore's log"
            ]
        );
        // What grub-install wrote is counted by directory, after the rest.
        let mut grub = r.clone();
        grub.extra.push(b"boot/efi/EFI/BOOT/BOOTX64.EFI", 100);
        for f in ["a.mod", "b.mod"] {
            grub.missing
                .push(format!("boot/grub/i386-pc/{f}").as_bytes(), 100);
        }
        let g = Verification::classify(&compared(grub), &e);
        assert_eq!(
            g.expected,
            [
                "/etc/fstab: rewritten by the restore",
                "/var/log/restore-tui.log: the restore's log",
                "/boot/grub (2 entries): written by grub-install",
                "/boot/efi/EFI (1 entry): written by grub-install",
            ]
        );
        assert_eq!(v.differences, ["CHANGED /etc/motd: size 1 -> 2"]);
        assert!(!v.ok());
        assert_eq!(
            v.finished_line(),
            "verify finished: FAILED (1 difference from the backup, first CHANGED /etc/motd: size 1 -> 2)"
        );
        assert_eq!(
            v.lines(),
            [
                "mounted /dev/loop7p2 (ext4, /) read-only at /mnt/verify",
                "verify: compared 12 entries: 9 files read and hashed (4K) in 0.0 s",
                "made by the restore on purpose (2):",
                "  /etc/fstab: rewritten by the restore",
                "  /var/log/restore-tui.log: the restore's log",
                "differences from the backup (1):",
                "  CHANGED /etc/motd: size 1 -> 2",
            ]
        );

        // Only what the restore made: OK.
        r.changed.count = 1;
        r.changed.files.pop();
        let v = Verification::classify(&compared(r.clone()), &e);
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.finished_line(), "verify finished: OK");

        // A difference the compare counted but did not name cannot be classified.
        r.extra.count += 1;
        r.catalog_errors = 1;
        let v = Verification::classify(&compared(r), &e);
        assert_eq!((v.unlisted, v.difference_count()), (1, 1));
        assert_eq!(
            v.finished_line(),
            "verify finished: FAILED (1 difference from the backup; 1 catalog record(s) \
             could not be read and were not compared)"
        );
    }
}
