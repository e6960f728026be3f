//! `restore-tui --mode compare`: compares the disks (or a directory) with the backup's
//! catalog, file by file, and lists what is missing, changed and extra.
//!
//! With `--target DIR` the tree already at DIR is compared and nothing is mounted. Without
//! it, the filesystems of the mountlist that have a mount point are mounted read-only
//! under the root (default /mnt/restore), parents before children, on the disks that
//! `--disk-map` names (else the disks of the same names, as nuke maps them); compared;
//! and unmounted in reverse order, also when the comparison fails. Nothing is written to
//! the disks: only `mount -o ro` and `umount` run against them.
//!
//! The comparison itself is [`rescue_core::compare::compare_tree`], which
//! `mkrescue verify --against` uses too.

use super::nuke::disk_maps;
use super::plan::DiskMap;
use super::volumes::{backup_at, say_uncovered};
use anyhow::{bail, Context};
use rescue_core::compare::{compare_tree, CompareOptions, CompareProgress, CompareReport};
use rescue_core::mountinfo;
use rescue_core::mountlist::{partition_path, Filesystem, FsType, MountPointError, Mountlist};
use rescue_core::runner::{Cmd, RealRunner, Runner};
use rescue_core::signature::Trust;
use rescue_core::size::format_bytes;
use rescue_core::volume::Volume;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What `--mode compare` compares the backup with.
#[derive(Debug, Clone)]
pub enum Against {
    /// The tree already in this directory: nothing is mounted.
    Dir(PathBuf),
    /// The disks: `OLD=NEW[:SIZE]` maps as given, their filesystems mounted read-only
    /// under `root`.
    Disks {
        disk_map: Vec<String>,
        root: PathBuf,
    },
}

/// `--mode compare` as the command line gives it; `show` paths are named in each list.
#[derive(Debug, Clone)]
pub struct Request {
    pub media: PathBuf,
    pub against: Against,
    pub show: usize,
    /// Which volumes are accepted (`--trusted-key`).
    pub trust: Trust,
}

/// What a compare of the disks found.
#[derive(Debug, Clone)]
pub struct CompareOutcome {
    pub report: CompareReport,
    /// What was mounted, the report ([`report_lines`]) and anything that went wrong while
    /// unmounting: the lines to show, in order.
    pub lines: Vec<String>,
    /// The first of `lines` alone: what was mounted, or left out for a missing mount point.
    pub mounts: Vec<String>,
    /// Filesystems that could not be unmounted again.
    pub problems: Vec<String>,
}

impl CompareOutcome {
    /// Identical to the backup, and everything unmounted again.
    pub fn clean(&self) -> bool {
        self.report.differences() == 0 && self.problems.is_empty()
    }
}

/// One filesystem of the mountlist to mount read-only for the comparison, on `device`
/// (its name after `--disk-map`) at `dir` (its mount point under the compare root).
#[derive(Debug, Clone)]
pub struct RoMount<'a> {
    pub device: String,
    pub dir: PathBuf,
    pub fs: &'a Filesystem,
}

impl RoMount<'_> {
    /// Where it was mounted on the backed-up system ("/home").
    pub fn mount_point(&self) -> &str {
        // Only filesystems with a mount point are listed (`ro_mounts`).
        self.fs.target_mount_point().unwrap_or("/")
    }

    /// `ro` alone still lets ext3/4 replay its journal and xfs its log, which writes to
    /// the disk: `noload` and `norecovery` keep a compare from writing anything. FAT keeps
    /// no owners or modes: the backed-up system's mount options made them, so those are
    /// given again (else every file of an ESP mounted with umask=0077 differs in mode).
    pub fn mount_options(&self) -> String {
        match self.fs.fs_type.as_str() {
            "ext3" | "ext4" => "ro,noload".into(),
            // nouuid: the disk may be a copy of an xfs mounted on this host.
            "xfs" => "ro,norecovery,nouuid".into(),
            "vfat" => {
                let shaping = |o: &&str| {
                    let key = o.split('=').next().unwrap_or(o);
                    matches!(
                        key,
                        "uid" | "gid" | "umask" | "fmask" | "dmask" | "showexec"
                    )
                };
                let given = self.fs.mount_options.as_deref().unwrap_or("");
                std::iter::once("ro")
                    .chain(given.split(',').filter(shaping))
                    .collect::<Vec<_>>()
                    .join(",")
            }
            _ => "ro".into(),
        }
    }

    pub fn mount_cmd(&self) -> Cmd {
        Cmd::new("mount")
            .args(["-o", &self.mount_options(), "-t", self.fs.fs_type.as_str()])
            .arg(&self.device)
            .arg(&self.dir)
            .describe(format!(
                "mount {} ({}, {}) read-only at {}",
                self.device,
                self.fs.fs_type,
                self.mount_point(),
                self.dir.display()
            ))
    }

    pub fn umount_cmd(&self) -> Cmd {
        Cmd::new("umount")
            .arg(&self.dir)
            .describe(format!("unmount {}", self.dir.display()))
    }
}

/// The filesystems of `ml` with a mount point (swap aside), on the disks `maps` names (a
/// disk without a map keeps its name), under `root`: parents before children.
pub fn ro_mounts<'a>(
    ml: &'a Mountlist,
    maps: &[DiskMap],
    root: &Path,
) -> Result<Vec<RoMount<'a>>, MountPointError> {
    let mut list = Vec::new();
    for disk in &ml.disks {
        let target = maps
            .iter()
            .find(|m| m.from == disk.path)
            .map_or(disk.path.as_str(), |m| m.to.path.as_str());
        let whole = disk.filesystem.iter().map(|f| (target.to_string(), f));
        let parts = disk.partitions.iter().filter_map(|p| {
            let f = p.filesystem.as_ref()?;
            Some((partition_path(target, p.number), f))
        });
        for (device, fs) in whole.chain(parts) {
            let Some(mp) = fs.target_mount()? else {
                continue;
            };
            if fs.fs_type != FsType::Swap {
                list.push(RoMount {
                    device,
                    dir: mp.under(root),
                    fs,
                });
            }
        }
    }
    // Parents first: the directories are the mount points in normal form under one root.
    list.sort_by(|a, b| {
        (a.dir.components().count(), &a.dir).cmp(&(b.dir.components().count(), &b.dir))
    });
    Ok(list)
}

/// Mounts the filesystems of `ml` read-only under `root` (on the disks of `maps`),
/// compares them with the backup's catalog, and unmounts them again, also when the
/// comparison fails. `show` paths are named in each list; `progress` is called after each
/// entry compared.
pub fn run_compare(
    volumes: &[Volume],
    ml: &Mountlist,
    maps: &[DiskMap],
    root: &Path,
    runner: &dyn Runner,
    show: usize,
    progress: &mut dyn FnMut(&CompareProgress<'_>),
) -> anyhow::Result<CompareOutcome> {
    let mounts = ro_mounts(ml, maps, root).context("cannot mount the filesystems to compare")?;
    if !mounts.iter().any(|m| m.mount_point() == "/") {
        bail!("the mountlist has no root filesystem (mount point /): nothing to compare");
    }
    // The compare root is in the rescue system, not on the disks.
    runner.run(
        &Cmd::new("mkdir")
            .arg("-p")
            .arg(root)
            .describe(format!("make the compare root {}", root.display())),
    )?;
    let mut lines = Vec::new();
    let mut mounted: Vec<&RoMount<'_>> = Vec::new();
    let compared = mount_all(&mounts, runner, &mut mounted, &mut lines).and_then(|()| {
        let opts = CompareOptions {
            show,
            skip: volumes.iter().map(|v| v.path().to_path_buf()).collect(),
        };
        compare_tree(volumes, root, &opts, progress)
            .with_context(|| format!("comparing {}", root.display()))
    });
    let mut problems = Vec::new();
    for m in mounted.iter().rev() {
        if let Err(e) = runner.run(&m.umount_cmd()) {
            problems.push(format!("{} is still mounted: {e}", m.dir.display()));
        }
    }
    let report = match compared {
        Ok(report) => report,
        Err(e) if problems.is_empty() => return Err(e),
        // What is still mounted first: it needs the user's hand now.
        Err(e) => return Err(e.context(problems.join("; "))),
    };
    let mounts = lines.clone();
    lines.extend(report_lines(&report, show));
    lines.extend(problems.iter().map(|p| format!("problem: {p}")));
    Ok(CompareOutcome {
        report,
        lines,
        mounts,
        problems,
    })
}

/// Mounts each in turn; stops at the first that fails (`mounted` says what is mounted).
fn mount_all<'a, 'm>(
    mounts: &'a [RoMount<'m>],
    runner: &dyn Runner,
    mounted: &mut Vec<&'a RoMount<'m>>,
    lines: &mut Vec<String>,
) -> anyhow::Result<()> {
    for m in mounts {
        // Below the root the mount point is a directory of the read-only parent: it is
        // not made, so a missing one leaves that filesystem out (its files then show as
        // missing).
        if m.mount_point() != "/" && !m.dir.is_dir() {
            lines.push(format!(
                "not mounted: {} ({}): there is no such directory on the disks",
                m.device,
                m.mount_point()
            ));
            continue;
        }
        if let Err(e) = runner.run(&m.mount_cmd()) {
            let why = match mounted_elsewhere(&m.device) {
                places if places.is_empty() => String::new(),
                places => format!(
                    " ({} is mounted at {}: unmount it, or compare that tree with --target)",
                    m.device,
                    places.join(", ")
                ),
            };
            return Err(
                anyhow::Error::new(e).context(format!("mounting {} read-only{why}", m.device))
            );
        }
        mounted.push(m);
        lines.push(format!(
            "mounted {} ({}, {}) read-only at {}",
            m.device,
            m.fs.fs_type,
            m.mount_point(),
            m.dir.display()
        ));
    }
    Ok(())
}

/// Where the block device `device` is mounted now (empty when it is not, or when that
/// cannot be told: this only explains a failed mount).
fn mounted_elsewhere(device: &str) -> Vec<String> {
    let Ok(meta) = std::fs::metadata(device) else {
        return Vec::new();
    };
    if !meta.file_type().is_block_device() {
        return Vec::new();
    }
    let rdev = meta.rdev();
    let dev = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    mountinfo::parse(&text)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| (m.major, m.minor) == dev)
        .map(|m| m.mount_point.display().to_string())
        .collect()
}

/// The report for people: a summary, then MISSING, CHANGED (with what differs) and EXTRA
/// with the first `show` paths each (as on the backed-up system: "/etc/hostname") and how
/// many more; files that could not be read; the verdict last.
pub fn report_lines(r: &CompareReport, show: usize) -> Vec<String> {
    let mut lines = vec![format!(
        "compared {} entr{} with {}: {} file{} read and hashed ({})",
        r.compared,
        if r.compared == 1 { "y" } else { "ies" },
        r.root,
        r.content_checked,
        plural(r.content_checked),
        format_bytes(r.content_bytes)
    )];
    let absolute = |p: &str| {
        if p == "." {
            "/".to_string()
        } else {
            format!("/{p}")
        }
    };
    let mut section = |title: &str, count: u64, items: Vec<String>| {
        if count == 0 {
            return;
        }
        lines.push(format!("{title} ({count}):"));
        let named = items.len().min(show);
        lines.extend(items.into_iter().take(named).map(|i| format!("  {i}")));
        let more = count.saturating_sub(named as u64);
        if more > 0 {
            lines.push(format!("  ... and {more} more"));
        }
    };
    section(
        "MISSING",
        r.missing.count,
        r.missing.paths.iter().map(|p| absolute(p)).collect(),
    );
    section(
        "CHANGED",
        r.changed.count,
        r.changed
            .files
            .iter()
            .map(|c| format!("{}: {}", absolute(&c.path), c.what.join(", ")))
            .collect(),
    );
    section(
        "EXTRA",
        r.extra.count,
        r.extra.paths.iter().map(|p| absolute(p)).collect(),
    );
    // Errors name host paths already.
    section("UNREADABLE", r.errors.count, r.errors.paths.clone());
    if r.content_unchecked > 0 {
        lines.push(format!(
            "content not compared for {} file{} (no hash on the volumes found, or stored \
             while it changed)",
            r.content_unchecked,
            plural(r.content_unchecked)
        ));
    }
    if r.catalog_errors > 0 {
        lines.push(format!(
            "{} catalog record{} could not be read and {} not compared",
            r.catalog_errors,
            plural(r.catalog_errors),
            if r.catalog_errors == 1 { "was" } else { "were" }
        ));
    }
    if r.stray_hashes > 0 {
        lines.push(format!(
            "{} hash list line{} match no catalog record (mkrescue verify names them)",
            r.stray_hashes,
            plural(r.stray_hashes)
        ));
    }
    let n = r.differences();
    if n == 0 {
        lines.push("identical: no file missing, changed or extra".into());
    } else {
        let mut counts = vec![
            format!("{} missing", r.missing.count),
            format!("{} changed", r.changed.count),
            format!("{} extra", r.extra.count),
        ];
        if r.errors.count > 0 {
            counts.push(format!("{} unreadable", r.errors.count));
        }
        lines.push(format!(
            "{n} difference{}: {}",
            plural(n),
            counts.join(", ")
        ));
    }
    lines
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Runs `--mode compare`: prints the report; 0 when identical, 1 when anything differs.
pub fn run(req: &Request) -> anyhow::Result<i32> {
    let (scan, first) = backup_at(&req.media, &req.trust)?;
    let volumes = scan.volumes;
    let m = first.manifest();
    println!(
        "backup {} of {} ({} volume(s) found)",
        m.backup_id,
        m.hostname,
        volumes.len()
    );
    say_uncovered(&first);
    let (lines, clean) = match &req.against {
        Against::Dir(dir) => {
            if !dir.is_dir() {
                bail!("--target {}: no such directory", dir.display());
            }
            let opts = CompareOptions {
                show: req.show,
                skip: vec![req.media.clone()],
            };
            let report = compare_tree(&volumes, dir, &opts, &mut |_| {})
                .with_context(|| format!("comparing {}", dir.display()))?;
            (report_lines(&report, req.show), report.differences() == 0)
        }
        Against::Disks { disk_map, root } => {
            let ml = first.read_mountlist()?;
            let maps = disk_maps(&ml, disk_map, Path::new("/sys"))?;
            let outcome = run_compare(
                &volumes,
                &ml,
                &maps,
                root,
                &RealRunner,
                req.show,
                &mut |_| {},
            )?;
            let clean = outcome.clean();
            (outcome.lines, clean)
        }
    };
    for line in &lines {
        println!("{line}");
    }
    Ok(if clean { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::compare::{Changed, FileList};
    use rescue_core::mountlist::resize::TargetDisk;
    use rescue_core::runner::Recording;

    /// GPT partition `n` of /dev/vdzy, with a filesystem of `fs` mounted at `mp`.
    fn part(n: u32, fs: &str, mp: Option<&str>) -> serde_json::Value {
        let mut f = serde_json::json!({"type": fs});
        if let Some(mp) = mp {
            f["mount_point"] = mp.into();
        }
        let (start, path) = (2048 * n, format!("/dev/vdzy{n}"));
        serde_json::json!({"number": n, "path": path, "start": start, "size": 2048,
                           "mbr": {"type_id": "0x83", "role": "primary"}, "filesystem": f})
    }

    /// An MBR disk with /home listed before /, and a swap partition.
    fn mountlist() -> Mountlist {
        let parts = [
            part(3, "ext4", Some("/home")),
            part(2, "ext4", Some("/")),
            part(4, "swap", None),
        ];
        let disk = serde_json::json!({"path": "/dev/vdzy", "sectors": 1 << 22,
            "logical_sector_size": 512, "physical_sector_size": 512, "partitions": parts,
            "table": {"type": "msdos", "signature": "0x1234abcd"}});
        let host = serde_json::json!({"hostname": "db1", "root": "/", "kernel_release": "6.1",
                                      "captured_at": 0});
        let ml = serde_json::json!({"version": 1, "host": host, "boot": {"mode": "bios"},
                                    "disks": [disk]});
        rescue_core::mountlist::from_json(&ml.to_string()).unwrap()
    }

    fn maps() -> Vec<DiskMap> {
        vec![DiskMap {
            from: "/dev/vdzy".into(),
            to: TargetDisk {
                path: "/dev/loop7".into(),
                sectors: 4194304,
                logical_sector_size: 512,
            },
        }]
    }

    #[test]
    fn mounts_are_read_only_on_the_mapped_disk_parents_first() {
        let ml = mountlist();
        let mounts = ro_mounts(&ml, &maps(), Path::new("/mnt/restore")).unwrap();
        let lines: Vec<String> = mounts.iter().map(|m| m.mount_cmd().to_string()).collect();
        assert_eq!(
            lines,
            [
                "mount -o ro,noload -t ext4 /dev/loop7p2 /mnt/restore",
                "mount -o ro,noload -t ext4 /dev/loop7p3 /mnt/restore/home",
            ]
        );
        assert_eq!(
            mounts[1].umount_cmd().description,
            "unmount /mnt/restore/home"
        );
        // Unmapped, a disk keeps its name.
        let same = ro_mounts(&ml, &[], Path::new("/r")).unwrap();
        assert_eq!(same[0].device, "/dev/vdzy2");
    }

    #[test]
    fn fat_is_mounted_with_the_owner_and_masks_it_had() {
        let mut fs = Filesystem::new(FsType::parse("vfat"));
        fs.mount_point = Some("/boot/efi".into());
        fs.mount_options = Some(
            "rw,relatime,fmask=0077,dmask=0077,codepage=437,iocharset=ascii,shortname=mixed,\
             utf8,errors=remount-ro"
                .into(),
        );
        fn esp(fs: &Filesystem) -> RoMount<'_> {
            RoMount {
                device: "/dev/vda1".into(),
                dir: PathBuf::from("/mnt/verify/boot/efi"),
                fs,
            }
        }
        assert_eq!(
            esp(&fs).mount_cmd().to_string(),
            "mount -o ro,fmask=0077,dmask=0077 -t vfat /dev/vda1 /mnt/verify/boot/efi"
        );
        fs.mount_options = Some("rw,uid=1000,gid=100,umask=022,showexec,quiet".into());
        assert_eq!(
            esp(&fs).mount_options(),
            "ro,uid=1000,gid=100,umask=022,showexec"
        );
        fs.mount_options = None;
        assert_eq!(esp(&fs).mount_options(), "ro");
    }

    #[test]
    fn a_failed_mount_unmounts_what_was_mounted_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mnt");
        // /home exists below the root, so its mount is tried (and fails).
        std::fs::create_dir_all(root.join("home")).unwrap();
        let ml = mountlist();
        let runner = Recording::new();
        runner.reply_stdout("");
        runner.reply_stdout("");
        runner.reply_exit(32, "mount: /dev/loop7p3: can't read superblock");
        runner.reply_stdout("");
        let err = run_compare(&[], &ml, &maps(), &root, &runner, 20, &mut |_| {}).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("mounting /dev/loop7p3 read-only: `mount -o ro"),
            "{err:#}"
        );
        let r = root.display();
        assert_eq!(
            runner.transcript(),
            [
                format!("mkdir -p {r}"),
                format!("mount -o ro,noload -t ext4 /dev/loop7p2 {r}"),
                format!("mount -o ro,noload -t ext4 /dev/loop7p3 {r}/home"),
                format!("umount {r}"),
            ]
        );
    }

    #[test]
    fn the_report_lists_each_kind_with_a_count_of_the_rest() {
        let mut r = CompareReport::new(Path::new("/mnt/restore"));
        r.compared = 10;
        r.content_checked = 4;
        r.content_bytes = 2048;
        r.missing = FileList {
            count: 3,
            paths: vec!["etc/a".into(), "etc/b".into()],
        };
        r.changed.count = 1;
        r.changed.files.push(Changed {
            path: "etc/hostname".into(),
            what: vec!["size 3 -> 4".into(), "content (BLAKE3)".into()],
        });
        r.extra = FileList {
            count: 1,
            paths: vec!["new".into()],
        };
        assert_eq!(
            report_lines(&r, 1),
            [
                "compared 10 entries with /mnt/restore: 4 files read and hashed (2K)",
                "MISSING (3):",
                "  /etc/a",
                "  ... and 2 more",
                "CHANGED (1):",
                "  /etc/hostname: size 3 -> 4, content (BLAKE3)",
                "EXTRA (1):",
                "  /new",
                "5 differences: 3 missing, 1 changed, 1 extra",
            ]
        );
        let clean = CompareReport::new(Path::new("/t"));
        assert_eq!(
            report_lines(&clean, 20).last().unwrap(),
            "identical: no file missing, changed or extra"
        );
    }
}
