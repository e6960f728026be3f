//! The kernel's file systems PID 1 mounts at start, and the unmounting before a reboot.

use anyhow::Context;
use rescue_core::mountinfo;
use rustix::mount::{MountFlags, UnmountFlags};
use std::ffi::CStr;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// A file system the rescue system needs mounted.
#[derive(Debug, Clone, Copy)]
pub struct ApiMount {
    pub target: &'static str,
    pub fstype: &'static str,
    pub flags: MountFlags,
    pub data: Option<&'static CStr>,
}

/// In mount order: /dev/pts lives on /dev.
pub const API_MOUNTS: [ApiMount; 6] = [
    ApiMount {
        target: "/proc",
        fstype: "proc",
        flags: MountFlags::NOSUID
            .union(MountFlags::NODEV)
            .union(MountFlags::NOEXEC),
        data: None,
    },
    ApiMount {
        target: "/sys",
        fstype: "sysfs",
        flags: MountFlags::NOSUID
            .union(MountFlags::NODEV)
            .union(MountFlags::NOEXEC),
        data: None,
    },
    ApiMount {
        target: "/dev",
        fstype: "devtmpfs",
        flags: MountFlags::NOSUID,
        data: Some(c"mode=0755"),
    },
    ApiMount {
        target: "/dev/pts",
        fstype: "devpts",
        flags: MountFlags::NOSUID.union(MountFlags::NOEXEC),
        data: Some(c"gid=5,mode=0620,ptmxmode=0666"),
    },
    ApiMount {
        target: "/run",
        fstype: "tmpfs",
        flags: MountFlags::NOSUID.union(MountFlags::NODEV),
        data: Some(c"mode=0755"),
    },
    ApiMount {
        target: "/tmp",
        fstype: "tmpfs",
        flags: MountFlags::NOSUID.union(MountFlags::NODEV),
        data: Some(c"mode=1777"),
    },
];

/// What mounting the API file systems did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub mounted: Vec<&'static str>,
    pub already: Vec<&'static str>,
    pub errors: Vec<anyhow::Error>,
}

/// Mounts every API file system (as PID 1, on the real root), creating the mount points;
/// one that is mounted already (or EBUSY) is left as it is. Failures are collected, and
/// the rest is still tried.
pub fn mount_api() -> Outcome {
    let mut out = Outcome::default();
    for m in API_MOUNTS {
        match mount_one(&m) {
            Ok(true) => out.mounted.push(m.target),
            Ok(false) => out.already.push(m.target),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

fn mount_one(m: &ApiMount) -> anyhow::Result<bool> {
    let target = Path::new(m.target);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(target)
        .with_context(|| format!("creating {}", m.target))?;
    if is_mount_point(target)? {
        return Ok(false);
    }
    match rustix::mount::mount(m.fstype, m.target, m.fstype, m.flags, m.data) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::BUSY) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("mounting {} ({})", m.target, m.fstype)),
    }
}

/// Whether a directory is the root of a mount: it lives on another device than its parent.
pub fn is_mount_point(dir: &Path) -> anyhow::Result<bool> {
    let here = fs::metadata(dir).with_context(|| format!("looking at {}", dir.display()))?;
    let up =
        fs::metadata(dir.join("..")).with_context(|| format!("looking at {}/..", dir.display()))?;
    Ok(here.dev() != up.dev() || here.ino() == up.ino())
}

/// Mounts an ISO 9660 device read-only.
pub fn mount_iso(device: &Path, target: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    rustix::mount::mount(device, target, "iso9660", MountFlags::RDONLY, None::<&CStr>).with_context(
        || {
            format!(
                "mounting {} on {} (iso9660, read-only)",
                device.display(),
                target.display()
            )
        },
    )
}

/// One line of /proc/mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub source: String,
    pub target: String,
    pub fstype: String,
}

/// Reads /proc/mounts (`source target fstype options 0 0`, with `\040`-style escapes).
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            Some(MountEntry {
                source: mountinfo::unescape(f.next()?),
                target: mountinfo::unescape(f.next()?),
                fstype: f.next()?.to_string(),
            })
        })
        .collect()
}

/// File systems with nothing to lose at power off.
const VIRTUAL: [&str; 22] = [
    "rootfs",
    "ramfs",
    "tmpfs",
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "securityfs",
    "cgroup",
    "cgroup2",
    "pstore",
    "efivarfs",
    "debugfs",
    "tracefs",
    "bpf",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
];

/// The mounts to take down before a reboot, the last mounted first: every file system on
/// a device, never the root.
pub fn shutdown_order(mounts: &[MountEntry]) -> Vec<String> {
    mounts
        .iter()
        .rev()
        .filter(|m| m.target != "/" && !VIRTUAL.contains(&m.fstype.as_str()))
        .map(|m| m.target.clone())
        .collect()
}

/// Unmounts what `shutdown_order` names, remounting read-only what cannot be unmounted.
/// Returns one phrase per mount that could not be made safe.
pub fn unmount_all(proc_mounts: &Path) -> Vec<String> {
    let text = match fs::read_to_string(proc_mounts) {
        Ok(t) => t,
        Err(e) => return vec![format!("reading {}: {e}", proc_mounts.display())],
    };
    let mut failures = Vec::new();
    for target in shutdown_order(&parse_mounts(&text)) {
        if rustix::mount::unmount(target.as_str(), UnmountFlags::empty()).is_ok() {
            continue;
        }
        if let Err(e) = rustix::mount::mount_remount(target.as_str(), MountFlags::RDONLY, "") {
            failures.push(format!("{target}: {e}"));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_mounts_with_escapes() {
        let m = parse_mounts(
            "rootfs / rootfs rw 0 0\nproc /proc proc rw,nosuid 0 0\n\
             /dev/sr0 /run/rescue/media iso9660 ro 0 0\n/dev/vda1 /mnt/my\\040disk ext4 rw 0 0\n",
        );
        assert_eq!(m.len(), 4);
        assert_eq!(m[3].target, "/mnt/my disk");
        assert_eq!(m[3].source, "/dev/vda1");
        assert_eq!(
            shutdown_order(&m),
            vec!["/mnt/my disk".to_string(), "/run/rescue/media".to_string()]
        );
    }

    #[test]
    fn unescape_leaves_other_backslashes() {
        use rescue_core::mountinfo::unescape;
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("a\\x"), "a\\x");
        assert_eq!(unescape("end\\04"), "end\\04");
        // Beyond a byte: left as written, never an overflow in PID 1.
        assert_eq!(unescape("\\777"), "\\777");
    }

    #[test]
    fn a_directory_on_the_same_file_system_is_not_a_mount_point() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(!is_mount_point(&dir.path().join("sub")).unwrap());
        assert!(is_mount_point(Path::new("/")).unwrap());
    }
}
