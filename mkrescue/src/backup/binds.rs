//! Each filesystem backed up is read through a private, read-only bind mount of it: a
//! bind mount that is not recursive shows the filesystem alone, so the walk sees what
//! lies under its mount points (the static /dev nodes of the root, the modes of the /proc
//! and /sys directories, files hidden by a mount) and nothing mounted over it. The binds
//! live in the run's private scratch directory and are unmounted when dropped.

use rustix::mount::{
    mount_bind, mount_change, mount_remount, unmount, MountFlags, MountPropagationFlags,
    UnmountFlags,
};
use std::fs;
use std::path::{Path, PathBuf};

/// The bind mounts made, and where each filesystem is read from.
#[derive(Debug, Default)]
pub struct Binds {
    mounted: Vec<PathBuf>,
    /// (mount point relative to the root, directory to read it from), for
    /// [`super::select::Walker::with_sources`].
    pub sources: Vec<(Vec<u8>, PathBuf)>,
    /// Filesystems that could not be bound: read from their live mount point instead.
    pub warnings: Vec<String>,
}

/// Binds every mount point of `mount_points` (relative to `root`: "/", "/home") under
/// `scratch`. One that cannot be bound (not root, no mount permission) is read from its
/// live mount point, with a warning that what lies under its mount points is not seen.
pub fn bind_filesystems(root: &Path, mount_points: &[String], scratch: &Path) -> Binds {
    let mut binds = Binds::default();
    let base = scratch.join("filesystems");
    for (i, mp) in mount_points.iter().enumerate() {
        let rel = mp.trim_matches('/');
        let live = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let dir = base.join(i.to_string());
        match bind(&live, &dir) {
            Ok(()) => {
                binds.mounted.push(dir.clone());
                binds.sources.push((rel.as_bytes().to_vec(), dir));
            }
            Err(e) => {
                if dir.exists() {
                    let _ = unmount(&dir, UnmountFlags::DETACH);
                }
                binds.warnings.push(format!(
                    "cannot read {mp} through a private bind mount ({e}): what lies under its \
                     mount points is not backed up"
                ));
                binds.sources.push((rel.as_bytes().to_vec(), live));
            }
        }
    }
    binds
}

fn bind(live: &Path, dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    mount_bind(live, dir)?;
    // Private: the bind shows nowhere else; read-only: the backup cannot change the host.
    mount_change(dir, MountPropagationFlags::PRIVATE)?;
    mount_remount(dir, MountFlags::BIND | MountFlags::RDONLY, "")?;
    Ok(())
}

impl Drop for Binds {
    fn drop(&mut self) {
        for dir in self.mounted.iter().rev() {
            // A bind still busy is detached and goes when its last user does; the
            // scratch directory holding it is removed after.
            let _ = unmount(dir, UnmountFlags::DETACH);
            let _ = fs::remove_dir(dir);
        }
    }
}
