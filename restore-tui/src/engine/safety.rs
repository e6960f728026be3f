//! Refusing target disks that must not be written: one with a partition (or itself)
//! mounted, in use as swap, holding the boot media or the backup, part of a device-mapper
//! or MD stack, or read-only. Checked before a plan is made; a target the same size as the
//! media disk is the classic way to destroy both.
//!
//! Everything is compared by device number (`MAJOR:MINOR`), so another name for the same
//! disk (`/dev/disk/by-id/...`) is caught too. The /proc, /sys and /dev roots are
//! parameters, so the checks run in tests against miniature trees.

use rescue_core::mountinfo;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SystemPaths {
    pub proc: PathBuf,
    pub sys: PathBuf,
}

impl Default for SystemPaths {
    fn default() -> Self {
        SystemPaths {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
        }
    }
}

/// Why one disk is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub disk: String,
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.disk, self.reasons.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    #[error(
        "refusing to write to {}:\n  {}",
        .0.iter().map(|r| r.disk.as_str()).collect::<Vec<_>>().join(", "),
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    Refused(Vec<Refusal>),
    /// Without the kernel's list of mounts or swaps no disk can be shown to be free.
    #[error("cannot read {file}: {why}; no disk can be checked as free to write")]
    Unreadable { file: PathBuf, why: String },
}

/// A whole disk and the device numbers of it and its partitions.
#[derive(Debug, Clone)]
struct DiskDevs {
    name: String,
    /// (major, minor) -> kernel name (the disk itself or one of its partitions)
    members: BTreeMap<(u32, u32), String>,
    /// Members that something is stacked on: (name, holders).
    held: Vec<(String, Vec<String>)>,
}

/// Checks every target disk; `protected` are the media and volume paths (files,
/// directories or devices) whose disks must not be touched. Names every refused disk and
/// every reason.
pub fn check_targets(
    disks: &[String],
    protected: &[PathBuf],
    paths: &SystemPaths,
) -> Result<(), SafetyError> {
    let mounts = read_mountinfo(&paths.proc.join("self/mountinfo"))?;
    let swaps = read_swaps(&paths.proc.join("swaps"))?;
    let mut refusals = Vec::new();
    for disk in disks {
        let mut reasons = Vec::new();
        match disk_devs(disk, &paths.sys) {
            Err(reason) => reasons.push(reason),
            Ok(d) => {
                reasons.extend(check_disk(&d, &mounts, &swaps, protected, &paths.sys));
            }
        }
        if !reasons.is_empty() {
            refusals.push(Refusal {
                disk: disk.clone(),
                reasons,
            });
        }
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(SafetyError::Refused(refusals))
    }
}

fn check_disk(
    d: &DiskDevs,
    mounts: &[MountEntry],
    swaps: &[String],
    protected: &[PathBuf],
    sys: &Path,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let member = |dev: Option<(u32, u32)>| dev.and_then(|n| d.members.get(&n).cloned());
    for m in mounts {
        let hit = member(Some(m.dev)).or_else(|| member(block_dev_of(&m.source)));
        if let Some(name) = hit {
            reasons.push(format!("/dev/{name} is mounted at {}", m.mount_point));
        }
    }
    for s in swaps {
        if let Some(name) = member(block_dev_of(s)) {
            reasons.push(format!("/dev/{name} is in use as swap"));
        } else if let Some(name) = member(fs_dev_of(Path::new(s), mounts)) {
            reasons.push(format!("/dev/{name} holds the swap file {s}"));
        }
    }
    for p in protected {
        let own = block_dev_of(&p.to_string_lossy());
        let hit = member(own).or_else(|| member(fs_dev_of(p, mounts)));
        if let Some(name) = hit {
            reasons.push(format!(
                "/dev/{name} holds the backup media ({})",
                p.display()
            ));
        }
    }
    for (name, holders) in &d.held {
        reasons.push(format!(
            "/dev/{name} is part of a device-mapper or MD device (held by {})",
            holders.join(", ")
        ));
    }
    let ro = fs::read_to_string(sys.join("class/block").join(&d.name).join("ro"));
    if ro.is_ok_and(|t| t.trim() == "1") {
        reasons.push("the disk is read-only".into());
    }
    // Mount points and their reasons may repeat (a bind mount): say each once.
    let mut seen = std::collections::HashSet::new();
    reasons.retain(|r| seen.insert(r.clone()));
    reasons
}

/// The disk behind `disk` (a path in /dev, or a symlink to one) and its partitions.
fn disk_devs(disk: &str, sys: &Path) -> Result<DiskDevs, String> {
    let name = match fs::canonicalize(disk) {
        Ok(real) => real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Err(_) => disk.rsplit('/').next().unwrap_or(disk).to_string(),
    };
    let dir = sys.join("class/block").join(&name);
    if !dir.exists() {
        return Err(format!("no such disk ({} does not exist)", dir.display()));
    }
    if dir.join("partition").exists() {
        return Err(format!(
            "{name} is a partition, not a whole disk: name the disk it belongs to"
        ));
    }
    let mut members = BTreeMap::new();
    let mut held = Vec::new();
    let mut add = |member: String, mdir: &Path| {
        if let Some(n) = read_dev(&mdir.join("dev")) {
            members.insert(n, member.clone());
        }
        let holders = list_dir(&mdir.join("holders"));
        if !holders.is_empty() {
            held.push((member, holders));
        }
    };
    add(name.clone(), &dir);
    for part in list_dir(&dir) {
        let pdir = dir.join(&part);
        if pdir.join("partition").exists() {
            add(part, &pdir);
        }
    }
    Ok(DiskDevs {
        name,
        members,
        held,
    })
}

fn read_dev(file: &Path) -> Option<(u32, u32)> {
    let text = fs::read_to_string(file).ok()?;
    let (a, b) = text.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The device numbers of `path` when it is a block device node.
fn block_dev_of(path: &str) -> Option<(u32, u32)> {
    if !path.starts_with('/') {
        return None;
    }
    let m = fs::metadata(path).ok()?;
    m.file_type()
        .is_block_device()
        .then(|| (rustix::fs::major(m.rdev()), rustix::fs::minor(m.rdev())))
}

/// The block device whose filesystem holds `path`: the mount with the longest mount
/// point above it (its source device, which also works for btrfs, whose mounts show an
/// anonymous device number), else the file's own st_dev.
fn fs_dev_of(path: &Path, mounts: &[MountEntry]) -> Option<(u32, u32)> {
    let real = fs::canonicalize(path).ok()?;
    let mount = mounts
        .iter()
        .filter(|m| real.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len());
    if let Some(m) = mount {
        if let Some(n) = block_dev_of(&m.source) {
            return Some(n);
        }
        return Some(m.dev);
    }
    let st = fs::metadata(&real).ok()?;
    Some((rustix::fs::major(st.dev()), rustix::fs::minor(st.dev())))
}

#[derive(Debug, Clone)]
struct MountEntry {
    dev: (u32, u32),
    mount_point: String,
    source: String,
}

/// `/proc/self/mountinfo`, through the parser mkrescue's capture uses too.
fn read_mountinfo(file: &Path) -> Result<Vec<MountEntry>, SafetyError> {
    let unreadable = |why: String| SafetyError::Unreadable {
        file: file.to_path_buf(),
        why,
    };
    let text = fs::read_to_string(file).map_err(|e| unreadable(e.to_string()))?;
    let entries = mountinfo::parse(&text).map_err(|e| unreadable(e.to_string()))?;
    Ok(entries
        .into_iter()
        .map(|e| MountEntry {
            dev: (e.major, e.minor),
            mount_point: e.mount_point.to_string_lossy().into_owned(),
            source: e.source,
        })
        .collect())
}

/// `/proc/swaps`: a heading, then "Filename Type Size Used Priority".
fn read_swaps(file: &Path) -> Result<Vec<String>, SafetyError> {
    let text = fs::read_to_string(file).map_err(|e| SafetyError::Unreadable {
        file: file.to_path_buf(),
        why: e.to_string(),
    })?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(mountinfo::unescape))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A miniature /sys with disk vdb (252:16) and its partitions vdb1 (252:17), vdb2
    /// (252:18), and disk vdc (252:32).
    fn fake_sys(dir: &Path) {
        let block = dir.join("class/block");
        for (path, dev) in [
            ("vdb", "252:16"),
            ("vdb/vdb1", "252:17"),
            ("vdb/vdb2", "252:18"),
            ("vdc", "252:32"),
        ] {
            let d = block.join(path);
            fs::create_dir_all(d.join("holders")).unwrap();
            fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
            if path.contains('/') {
                fs::write(d.join("partition"), "1\n").unwrap();
            }
        }
        fs::create_dir_all(block.join("vdb1")).unwrap();
        fs::write(block.join("vdb1/partition"), "1").unwrap();
    }

    fn paths(root: &Path) -> SystemPaths {
        SystemPaths {
            proc: root.join("proc"),
            sys: root.join("sys"),
        }
    }

    #[test]
    fn mounted_partitions_and_stacks_are_refused_with_reasons() {
        let root = tempfile::tempdir().unwrap();
        fake_sys(&root.path().join("sys"));
        fs::create_dir_all(root.path().join("proc/self")).unwrap();
        fs::write(
            root.path().join("proc/self/mountinfo"),
            "22 1 252:17 / /mnt/my\\040data rw,relatime shared:1 - ext4 /dev/vdb1 rw\n\
             23 1 0:21 / /proc rw - proc proc rw\n",
        )
        .unwrap();
        fs::write(
            root.path().join("proc/swaps"),
            "Filename\tType\tSize\tUsed\tPriority\n",
        )
        .unwrap();
        fs::create_dir_all(root.path().join("sys/class/block/vdb/vdb2/holders/dm-0")).unwrap();
        let err = check_targets(
            &["/dev/vdb".into(), "/dev/vdc".into(), "/dev/vdz".into()],
            &[],
            &paths(root.path()),
        )
        .unwrap_err();
        let SafetyError::Refused(r) = &err else {
            panic!("{err}")
        };
        assert_eq!(r.len(), 2, "{err}");
        assert_eq!(r[0].disk, "/dev/vdb");
        assert_eq!(
            r[0].reasons,
            [
                "/dev/vdb1 is mounted at /mnt/my data",
                "/dev/vdb2 is part of a device-mapper or MD device (held by dm-0)"
            ]
        );
        assert_eq!(r[1].disk, "/dev/vdz");
        assert!(r[1].reasons[0].contains("no such disk"), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("refusing to write to /dev/vdb, /dev/vdz:"),
            "{text}"
        );
        check_targets(&["/dev/vdc".into()], &[], &paths(root.path())).unwrap();
        let err = check_targets(&["/dev/vdb1".into()], &[], &paths(root.path())).unwrap_err();
        assert!(err.to_string().contains("is a partition"), "{err}");
    }

    #[test]
    fn a_disk_holding_the_media_is_refused() {
        let root = tempfile::tempdir().unwrap();
        fake_sys(&root.path().join("sys"));
        let media = tempfile::tempdir().unwrap();
        let media_dir = media.path().canonicalize().unwrap();
        let mounted_at = media_dir.parent().unwrap();
        fs::create_dir_all(root.path().join("proc/self")).unwrap();
        fs::write(
            root.path().join("proc/swaps"),
            "Filename Type Size Used Priority\n",
        )
        .unwrap();
        // The media's filesystem is vdc (252:32), with a source that is no device node
        // here, as for btrfs: the mount's own numbers decide.
        fs::write(
            root.path().join("proc/self/mountinfo"),
            format!(
                "30 1 252:32 / {} rw - ext4 /dev/no-such-node rw\n",
                mounted_at.display()
            ),
        )
        .unwrap();
        let err = check_targets(
            &["/dev/vdc".into(), "/dev/vdb".into()],
            std::slice::from_ref(&media_dir),
            &paths(root.path()),
        )
        .unwrap_err();
        let SafetyError::Refused(r) = &err else {
            panic!("{err}")
        };
        assert_eq!(r.len(), 1, "{err}");
        assert_eq!(
            r[0].reasons,
            [
                format!("/dev/vdc is mounted at {}", mounted_at.display()),
                format!("/dev/vdc holds the backup media ({})", media_dir.display())
            ]
        );
    }

    #[test]
    fn mountinfo_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mountinfo");
        fs::write(
            &file,
            "36 35 98:0 /mnt1 /mnt/a\\011b rw,noatime master:1 - ext3 /dev/root rw\n",
        )
        .unwrap();
        let m = read_mountinfo(&file).unwrap();
        assert_eq!(m[0].dev, (98, 0));
        assert_eq!(m[0].mount_point, "/mnt/a\tb");
        assert_eq!(m[0].source, "/dev/root");
        let err = read_mountinfo(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("no disk can be checked"), "{err}");
    }
}
