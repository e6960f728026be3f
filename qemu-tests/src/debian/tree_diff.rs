//! A restored filesystem compared with its source when both were live systems: the
//! differences (from [`corpus::compare`]) sorted by why they are there.
//!
//! A running system writes files (its journal, the random seed, login records) while it is
//! backed up and afterwards, and the restored system writes its own when it boots. Which
//! differences come from that is not guessed from a list of names: each side has a mark
//! in time, and an entry whose inode changed at or after it (its ctime, which nothing can
//! set back) was written by that running system. The source's mark is when the backup
//! began (the guest's clock); the copy's is just after the restore wrote its log, the last
//! file a restore writes. Everything else must be equal, except:
//!
//! - what the restore writes on purpose ([`ON_ROOT_BY_THE_RESTORE`],
//!   [`ON_ESP_BY_THE_RESTORE`]), as its own verification allows: changed or added there,
//!   never missing;
//! - entries at or below a mount point of the running source: the filesystem's own
//!   content there (static /dev nodes, the mode of /proc beneath procfs...) was hidden by
//!   what was mounted over it when the backup read the tree.

use corpus::Difference;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Where the restore writes on purpose.
#[derive(Debug, Clone, Copy)]
pub enum Written {
    /// Anything at or below this path, changed or added.
    Tree(&'static str),
    /// This file, changed or added.
    File(&'static str),
    /// This directory's time only (the restore added a file in it).
    DirTime(&'static str),
}

/// What the restore writes on purpose, and why.
#[derive(Debug, Clone, Copy)]
pub struct ByRestore {
    pub written: Written,
    pub why: &'static str,
}

/// On the root filesystem, as the restore's own verification allows.
pub const ON_ROOT_BY_THE_RESTORE: &[ByRestore] = &[
    ByRestore {
        written: Written::File("var/log/restore-tui.log"),
        why: "the restore's log",
    },
    ByRestore {
        written: Written::DirTime("var/log"),
        why: "the restore added its log here",
    },
    ByRestore {
        written: Written::File("etc/fstab"),
        why: "rewritten by the restore",
    },
    ByRestore {
        written: Written::Tree("boot/grub"),
        why: "written by grub-install",
    },
];

/// On the EFI System Partition.
pub const ON_ESP_BY_THE_RESTORE: &[ByRestore] = &[ByRestore {
    written: Written::Tree("EFI"),
    why: "written by grub-install",
}];

/// [`corpus::compare`]'s words for an entry the copy lacks.
const MISSING: &str = "missing from the copy";

/// A point in time: seconds and nanoseconds since the epoch.
pub type Stamp = (i64, i64);

/// Which tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Source,
    Copy,
}

/// What the sorting needs to know of an entry on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub ctime: Stamp,
    pub mtime: Stamp,
    pub is_dir: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Looks entries up; None where there is none.
pub trait Entries {
    fn stat(&self, side: Side, rel: &str) -> Option<Stat>;
}

/// Trees whose metadata says nothing (copied out of a filesystem with mtools): no entry
/// counts as written by a running system, no directory's time as the restore's.
#[derive(Debug)]
pub struct Unknown;

impl Entries for Unknown {
    fn stat(&self, _: Side, _: &str) -> Option<Stat> {
        None
    }
}

/// The two trees on disk.
#[derive(Debug)]
pub struct Trees<'a> {
    pub source: &'a Path,
    pub copy: &'a Path,
}

impl Entries for Trees<'_> {
    fn stat(&self, side: Side, rel: &str) -> Option<Stat> {
        let root = match side {
            Side::Source => self.source,
            Side::Copy => self.copy,
        };
        let path = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(Stat {
            ctime: (m.ctime(), m.ctime_nsec()),
            mtime: (m.mtime(), m.mtime_nsec()),
            is_dir: m.is_dir(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
        })
    }
}

/// What each running system wrote from its mark on (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    /// The source's changes at or after this are its own.
    pub source: Stamp,
    /// The copy's changes after this are its own.
    pub copy: Stamp,
}

/// The differences of one filesystem, sorted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sorted {
    /// Written by a running system after its mark.
    pub live: Vec<Difference>,
    /// Made by the restore on purpose (with the reason appended).
    pub by_restore: Vec<Difference>,
    /// At or below a mount point of the running source.
    pub under_mounts: Vec<Difference>,
    /// None of the above: the restore did not bring the entry back as it was.
    pub real: Vec<Difference>,
}

/// Sorts the `diffs` of a filesystem. `mount_points` are the mount points of the running
/// source below this filesystem's root, relative to it; `by_restore` what the restore
/// writes on it on purpose ([`ON_ROOT_BY_THE_RESTORE`]...).
pub fn sort(
    diffs: Vec<Difference>,
    entries: &dyn Entries,
    marks: Marks,
    mount_points: &[String],
    by_restore: &[ByRestore],
) -> Sorted {
    let mut out = Sorted::default();
    for d in diffs {
        if mount_points.iter().any(|m| within(m, &d.path)) {
            out.under_mounts.push(d);
        } else if written_live(entries, marks, &d.path) {
            out.live.push(d);
        } else if let Some(b) = by_restore.iter().find(|b| restore_wrote(entries, b, &d)) {
            out.by_restore.push(Difference {
                what: format!("{} ({})", d.what, b.why),
                ..d
            });
        } else {
            out.real.push(d);
        }
    }
    out
}

/// The difference is one `b` explains. Nothing the restore writes explains an entry
/// missing from the copy.
fn restore_wrote(entries: &dyn Entries, b: &ByRestore, d: &Difference) -> bool {
    if d.what == MISSING {
        return false;
    }
    match b.written {
        Written::Tree(p) => within(p, &d.path),
        Written::File(p) => d.path == p,
        Written::DirTime(p) => {
            d.path == p
                && match (entries.stat(Side::Source, p), entries.stat(Side::Copy, p)) {
                    (Some(a), Some(b)) => {
                        a.is_dir
                            && b.is_dir
                            && (a.mode, a.uid, a.gid) == (b.mode, b.uid, b.gid)
                            && a.mtime != b.mtime
                    }
                    _ => false,
                }
        }
    }
}

/// `path` is `dir` or below it (both relative, without a leading slash).
fn within(dir: &str, path: &str) -> bool {
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// The entry was written by a running system: where it exists, it changed after that
/// side's mark; where it does not, its directory did (it was removed or never made).
fn written_live(entries: &dyn Entries, marks: Marks, rel: &str) -> bool {
    let after = |side, rel: &str| match (side, entries.stat(side, rel)) {
        (Side::Source, Some(s)) => s.ctime >= marks.source,
        (Side::Copy, Some(s)) => s.ctime > marks.copy,
        (_, None) => false,
    };
    let parent = rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    [Side::Source, Side::Copy].into_iter().any(|side| {
        if entries.stat(side, rel).is_some() {
            after(side, rel)
        } else {
            after(side, parent)
        }
    })
}

/// The mount points of a running system (from its /proc/self/mountinfo) that lie strictly
/// below `mount_point`, relative to it.
pub fn mount_points_below(
    mountinfo: &[rescue_core::mountinfo::MountEntry],
    mount_point: &str,
) -> Vec<String> {
    let base = Path::new(mount_point);
    let mut below: Vec<String> = mountinfo
        .iter()
        .filter_map(|e| e.mount_point.strip_prefix(base).ok())
        .map(|r| r.to_string_lossy().into_owned())
        .filter(|r| !r.is_empty())
        .collect();
    below.sort();
    below.dedup();
    below
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Entries with a ctime and an mtime (directories when the name ends in '/').
    struct Fake(BTreeMap<(Side, &'static str), (Stamp, Stamp)>);

    impl Fake {
        fn new(entries: &[(Side, &'static str, i64, i64)]) -> Fake {
            Fake(
                entries
                    .iter()
                    .map(|(side, rel, c, m)| ((*side, *rel), ((*c, 0), (*m, 0))))
                    .collect(),
            )
        }
    }

    impl Entries for Fake {
        fn stat(&self, side: Side, rel: &str) -> Option<Stat> {
            let ((_, name), (ctime, mtime)) = self
                .0
                .iter()
                .find(|((s, r), _)| *s == side && r.trim_end_matches('/') == rel)?;
            Some(Stat {
                ctime: *ctime,
                mtime: *mtime,
                is_dir: name.ends_with('/'),
                mode: 0o755,
                uid: 0,
                gid: 0,
            })
        }
    }

    fn diff(path: &str, what: &str) -> Difference {
        Difference {
            path: path.into(),
            what: what.into(),
        }
    }

    fn paths(v: &[Difference]) -> Vec<String> {
        v.iter().map(|d| d.path.clone()).collect()
    }

    #[test]
    fn each_difference_is_sorted_by_why_it_is_there() {
        use Side::{Copy, Source};
        let marks = Marks {
            source: (100, 0),
            copy: (200, 5),
        };
        let fake = Fake::new(&[
            // the journal: written by the source after the backup began
            (Source, "var/log/journal/x.journal", 150, 150),
            (Copy, "var/log/journal/x.journal", 200, 150),
            // a file the restored system made when it booted, in a directory it changed
            (Copy, "var/lib/new", 300, 300),
            (Copy, "var/lib/", 300, 300),
            (Source, "var/lib/", 50, 50),
            // a file the source removed after the backup began
            (Copy, "tmp/gone", 200, 90),
            (Source, "tmp/", 120, 120),
            // restored wrong: both old
            (Source, "etc/passwd", 10, 10),
            (Copy, "etc/passwd", 200, 10),
            // the log, written at the copy's mark exactly (so not after it), and its
            // directory's time
            (Copy, "var/log/restore-tui.log", 200, 200),
            (Source, "var/log/", 10, 10),
            (Copy, "var/log/", 200, 200),
        ]);
        let sorted = sort(
            vec![
                diff("dev/console", "missing from the copy"),
                diff("proc", "mode"),
                diff("var/log/journal/x.journal", "content differs"),
                diff("var/lib/new", "only in the copy"),
                diff("tmp/gone", "only in the copy"),
                diff("etc/passwd", "content differs"),
                diff("var/log/restore-tui.log", "only in the copy"),
                diff("var/log", "mtime"),
                diff("boot/grubby", "content differs"),
                diff("boot/grub/grub.cfg", "missing from the copy"),
                diff("boot/grub/x86_64-efi/normal.mod", "content differs"),
            ],
            &fake,
            marks,
            &["dev".into(), "proc".into(), "home".into()],
            ON_ROOT_BY_THE_RESTORE,
        );
        assert_eq!(paths(&sorted.under_mounts), ["dev/console", "proc"]);
        assert_eq!(
            paths(&sorted.live),
            ["var/log/journal/x.journal", "var/lib/new", "tmp/gone"]
        );
        assert_eq!(
            paths(&sorted.by_restore),
            [
                "var/log/restore-tui.log",
                "var/log",
                "boot/grub/x86_64-efi/normal.mod"
            ]
        );
        assert_eq!(
            sorted.by_restore[0].what,
            "only in the copy (the restore's log)"
        );
        assert_eq!(
            paths(&sorted.real),
            ["etc/passwd", "boot/grubby", "boot/grub/grub.cfg"]
        );
    }

    #[test]
    fn a_directory_is_the_restores_only_when_nothing_but_its_time_changed() {
        let marks = Marks {
            source: (100, 0),
            copy: (200, 0),
        };
        let mut fake = Fake::new(&[
            (Side::Source, "var/log/", 10, 10),
            (Side::Copy, "var/log/", 200, 200),
        ]);
        let sorted = sort(
            vec![diff("var/log", "mode")],
            &fake,
            marks,
            &[],
            ON_ROOT_BY_THE_RESTORE,
        );
        assert_eq!(sorted.by_restore.len(), 1);
        // The same time on both sides: whatever differs, it is not the time.
        fake.0.get_mut(&(Side::Copy, "var/log/")).unwrap().1 = (10, 0);
        let sorted = sort(
            vec![diff("var/log", "mode")],
            &fake,
            marks,
            &[],
            ON_ROOT_BY_THE_RESTORE,
        );
        assert_eq!(paths(&sorted.real), ["var/log"]);
    }

    #[test]
    fn the_restores_own_files_are_where_it_writes_them() {
        let marks = Marks {
            source: (0, 0),
            copy: (0, 0),
        };
        let diffs = || {
            vec![
                diff("etc/fstab", "content differs"),
                diff("EFI/debian/grubx64.efi", "only in the copy"),
            ]
        };
        let esp = sort(diffs(), &Unknown, marks, &[], ON_ESP_BY_THE_RESTORE);
        assert_eq!(esp.real, [diff("etc/fstab", "content differs")]);
        let home = sort(diffs(), &Unknown, marks, &[], &[]);
        assert_eq!(home.real.len(), 2);
    }

    #[test]
    fn mount_points_below_a_filesystem() {
        let info = "\
22 1 254:3 / / rw - ext4 /dev/vda3 rw
23 22 0:5 / /dev rw - devtmpfs udev rw
24 23 0:6 / /dev/pts rw - devpts devpts rw
25 22 254:4 / /home rw - ext4 /dev/vda4 rw
26 22 254:2 / /boot/efi rw - vfat /dev/vda2 rw
27 22 254:16 / /mnt/out\\040disk rw - ext4 /dev/vdb rw
";
        let entries = rescue_core::mountinfo::parse(info).unwrap();
        assert_eq!(
            mount_points_below(&entries, "/"),
            ["boot/efi", "dev", "dev/pts", "home", "mnt/out disk"]
        );
        assert!(mount_points_below(&entries, "/home").is_empty());
    }
}
