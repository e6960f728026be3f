//! Choosing which mounts belong to the system under a root directory.

use super::fstab::is_virtual_or_network;
use rescue_core::mountinfo::MountEntry;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A mount of a block-device filesystem that belongs to the captured system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedMount {
    pub entry: MountEntry,
    /// The mount point as the captured system sees it ("/", "/home").
    pub relative: String,
}

#[derive(Debug, Default)]
pub struct Selection {
    pub mounts: Vec<SelectedMount>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(
        "no filesystems are mounted at or under {0}: mount the system to capture there \
         (its root filesystem at {0}, the others below it)"
    )]
    NoMounts(PathBuf),
    #[error(
        "{0} is not a mount point, so it has no root filesystem of its own: mount the root \
         filesystem of the system to capture at {0} (its other filesystems below it)"
    )]
    NotAMountPoint(PathBuf),
}

pub fn select(entries: &[MountEntry], root: &Path) -> Result<Selection, SelectError> {
    // A later mount on the same point hides the earlier one: keep the last.
    let mut visible: Vec<&MountEntry> = Vec::new();
    for entry in entries.iter().filter(|e| e.mount_point.starts_with(root)) {
        visible.retain(|v| v.mount_point != entry.mount_point);
        visible.push(entry);
    }
    if visible.is_empty() {
        return Err(SelectError::NoMounts(root.to_path_buf()));
    }
    if !visible.iter().any(|e| e.mount_point == root) {
        return Err(SelectError::NotAMountPoint(root.to_path_buf()));
    }
    visible.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));

    let mut selection = Selection::default();
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    for entry in visible {
        let relative = relative_point(&entry.mount_point, root);
        // btrfs shows an anonymous 0:N device in mountinfo; its source names the disk.
        let anonymous = entry.major == 0 && !entry.source.starts_with("/dev/");
        if anonymous || is_virtual_or_network(&entry.fs_type) {
            if is_network(&entry.fs_type) {
                selection.warnings.push(format!(
                    "{relative} is a network filesystem ({} from {}): not captured",
                    entry.fs_type, entry.source
                ));
            }
            continue;
        }
        if matches!(entry.fs_type.as_str(), "squashfs" | "iso9660" | "udf") {
            selection.warnings.push(format!(
                "{relative} is a read-only image ({} on {}): not captured",
                entry.fs_type, entry.source
            ));
            continue;
        }
        if !seen.insert((entry.major, entry.minor)) {
            selection.warnings.push(format!(
                "{relative} mounts {} again (a bind mount or subvolume): its files are \
                 captured once, under the first mount point",
                entry.source
            ));
            continue;
        }
        if entry.fs_root != Path::new("/") {
            selection.warnings.push(format!(
                "{relative} mounts only {} of {} (a bind mount or subvolume)",
                entry.fs_root.display(),
                entry.source
            ));
        }
        selection.mounts.push(SelectedMount {
            entry: entry.clone(),
            relative,
        });
    }
    Ok(selection)
}

fn is_network(fs_type: &str) -> bool {
    matches!(
        fs_type,
        "nfs" | "nfs4" | "cifs" | "smb3" | "smbfs" | "sshfs" | "fuse.sshfs" | "glusterfs" | "ceph"
    )
}

fn relative_point(mount_point: &Path, root: &Path) -> String {
    let rest = mount_point.strip_prefix(root).unwrap_or(mount_point);
    let rest = rest.to_string_lossy();
    if rest.is_empty() {
        "/".to_string()
    } else {
        format!("/{rest}")
    }
}

/// Mount options as /proc/mounts shows them: per-mount options, then the filesystem's own.
pub fn combined_options(entry: &MountEntry) -> String {
    let mut options: Vec<&str> = entry.options.split(',').collect();
    for opt in entry.super_options.split(',') {
        if !opt.is_empty() && opt != "rw" && opt != "ro" && !options.contains(&opt) {
            options.push(opt);
        }
    }
    options.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::mountinfo::parse;

    const MOUNTS: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
23 22 0:5 / /proc rw - proc proc rw
30 22 7:1 / /mnt/src rw,relatime - ext4 /dev/loop0p2 rw,errors=remount-ro
31 30 7:3 / /mnt/src/home rw - ext4 /dev/loop0p3 rw
32 30 0:40 / /mnt/src/tmp rw - tmpfs tmpfs rw
33 30 0:41 / /mnt/src/net rw - nfs4 srv:/x rw
34 30 7:3 / /mnt/src/home2 rw - ext4 /dev/loop0p3 rw
35 30 7:5 / /mnt/src/srv rw - xfs /dev/loop0p5 rw
36 30 7:6 / /mnt/src/srv rw - xfs /dev/loop0p6 rw
37 22 7:9 / /mnt/srcother rw - ext4 /dev/loop1 rw
38 30 0:52 / /mnt/src/data rw - btrfs /dev/loop0p7 rw,space_cache=v2
";

    #[test]
    fn selects_block_mounts_under_the_root_relative_to_it() {
        let entries = parse(MOUNTS).unwrap();
        let sel = select(&entries, Path::new("/mnt/src")).unwrap();
        let points: Vec<&str> = sel.mounts.iter().map(|m| m.relative.as_str()).collect();
        // /mnt/srcother is a sibling, not under the root; /srv shows the later mount only.
        assert_eq!(points, vec!["/", "/data", "/home", "/srv"]);
        assert_eq!(sel.mounts[3].entry.minor, 6);
        assert!(sel.warnings.iter().any(|w| w.contains("network")));
        assert!(sel.warnings.iter().any(|w| w.contains("/home2 mounts")));
    }

    #[test]
    fn host_root_sees_everything() {
        let entries = parse(MOUNTS).unwrap();
        let sel = select(&entries, Path::new("/")).unwrap();
        assert_eq!(sel.mounts[0].relative, "/");
        assert!(sel.mounts.iter().any(|m| m.relative == "/mnt/src/home"));
    }

    #[test]
    fn refuses_a_root_without_mounts_or_not_a_mount_point() {
        let entries = parse(MOUNTS).unwrap();
        let err = select(&entries, Path::new("/srv/empty")).unwrap_err();
        assert!(matches!(err, SelectError::NoMounts(_)), "{err}");
        let err = select(&entries, Path::new("/mnt")).unwrap_err();
        assert!(matches!(err, SelectError::NotAMountPoint(_)), "{err}");
        assert!(err.to_string().contains("/mnt is not a mount point"));
    }

    #[test]
    fn combines_options_like_proc_mounts() {
        let entries = parse(MOUNTS).unwrap();
        assert_eq!(
            combined_options(&entries[2]),
            "rw,relatime,errors=remount-ro"
        );
    }
}
