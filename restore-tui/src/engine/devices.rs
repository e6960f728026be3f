//! Waiting for the partitions of a freshly partitioned disk: first in sysfs (the kernel
//! knows them), then in /dev (a node to open). Where devtmpfs does not make a node (loop
//! devices partitioned with `partx`, some rescue systems), it is made here with mknod
//! from the numbers in `/sys/class/block/NAME/dev`.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where to look: the sysfs and /dev roots (parameters so tests can use a fake tree).
#[derive(Debug, Clone)]
pub struct DevicePaths {
    pub sys: PathBuf,
    pub dev: PathBuf,
}

impl Default for DevicePaths {
    fn default() -> Self {
        DevicePaths {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "the kernel does not show {missing} after {waited:?} (it has {present}): the new \
         partition table was not read; try `partx -a {disk}` or reboot the rescue system"
    )]
    NotInSysfs {
        disk: String,
        missing: String,
        present: String,
        waited: Duration,
    },
    #[error("{file} holds {text:?}, not MAJOR:MINOR")]
    BadDevNumber { file: String, text: String },
    #[error("making the device node {node} ({major}:{minor}): {source}")]
    Mknod {
        node: String,
        major: u32,
        minor: u32,
        #[source]
        source: io::Error,
    },
    #[error("{node} exists and is not the block device {major}:{minor}, and cannot be removed: {source}")]
    Stale {
        node: String,
        major: u32,
        minor: u32,
        #[source]
        source: io::Error,
    },
}

/// The kernel name of a device path: `/dev/vdb2` -> `vdb2`.
pub fn kernel_name(device: &str) -> &str {
    device.rsplit('/').next().unwrap_or(device)
}

/// `MAJOR:MINOR` of a block device from `SYS/class/block/NAME/dev`; None when the kernel
/// does not have it.
pub fn dev_number(sys: &Path, name: &str) -> Result<Option<(u32, u32)>, DeviceError> {
    let file = sys.join("class/block").join(name).join("dev");
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let bad = || DeviceError::BadDevNumber {
        file: file.display().to_string(),
        text: text.clone(),
    };
    let (a, b) = text.trim().split_once(':').ok_or_else(bad)?;
    Ok(Some((
        a.parse().map_err(|_| bad())?,
        b.parse().map_err(|_| bad())?,
    )))
}

/// What /dev has at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Missing,
    Right,
    /// Something else: another device's stale node, or not a block device.
    Wrong,
}

pub fn node_state(node: &Path, major: u32, minor: u32) -> Node {
    match fs::symlink_metadata(node) {
        Err(_) => Node::Missing,
        Ok(m) => {
            let rdev = m.rdev();
            let ok = m.file_type().is_block_device()
                && rustix::fs::major(rdev) == major
                && rustix::fs::minor(rdev) == minor;
            if ok {
                Node::Right
            } else {
                Node::Wrong
            }
        }
    }
}

/// Waits up to `timeout` for every partition in `devices` (`/dev/vdb1` ...) of `disk` to
/// be in sysfs, then makes sure each has its node, waiting a moment for devtmpfs and
/// making it otherwise. Returns what was done beyond waiting, for the log.
pub fn wait_for_partitions(
    paths: &DevicePaths,
    disk: &str,
    devices: &[String],
    timeout: Duration,
) -> Result<Vec<String>, DeviceError> {
    let start = Instant::now();
    let mut numbers = Vec::with_capacity(devices.len());
    loop {
        numbers.clear();
        let mut missing = Vec::new();
        for d in devices {
            match dev_number(&paths.sys, kernel_name(d))? {
                Some(n) => numbers.push(n),
                None => missing.push(d.clone()),
            }
        }
        if missing.is_empty() {
            break;
        }
        if start.elapsed() >= timeout {
            return Err(DeviceError::NotInSysfs {
                disk: disk.to_string(),
                missing: missing.join(", "),
                present: present_partitions(&paths.sys, kernel_name(disk)),
                waited: timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut notes = Vec::new();
    for (device, (major, minor)) in devices.iter().zip(numbers) {
        let node = paths.dev.join(kernel_name(device));
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match node_state(&node, major, minor) {
                Node::Right => break,
                Node::Missing if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                state => {
                    if state == Node::Wrong {
                        fs::remove_file(&node).map_err(|source| DeviceError::Stale {
                            node: node.display().to_string(),
                            major,
                            minor,
                            source,
                        })?;
                        notes.push(format!("removed a stale {}", node.display()));
                    }
                    mknod(&node, major, minor)?;
                    notes.push(format!(
                        "made {} ({major}:{minor}): the system had not",
                        node.display()
                    ));
                    break;
                }
            }
        }
    }
    Ok(notes)
}

fn mknod(node: &Path, major: u32, minor: u32) -> Result<(), DeviceError> {
    let made = rustix::fs::mknodat(
        rustix::fs::CWD,
        node,
        rustix::fs::FileType::BlockDevice,
        rustix::fs::Mode::from_raw_mode(0o660),
        rustix::fs::makedev(major, minor),
    );
    match made {
        Ok(()) => Ok(()),
        // devtmpfs made it meanwhile
        Err(rustix::io::Errno::EXIST) if node_state(node, major, minor) == Node::Right => Ok(()),
        Err(e) => Err(DeviceError::Mknod {
            node: node.display().to_string(),
            major,
            minor,
            source: e.into(),
        }),
    }
}

/// The partitions the kernel has for `disk`, for messages: "vdb1, vdb2" or "none".
fn present_partitions(sys: &Path, disk: &str) -> String {
    let mut names: Vec<String> = fs::read_dir(sys.join("class/block").join(disk))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join("partition").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_the_kernel_never_shows_is_an_error_naming_it() {
        let sys = tempfile::tempdir().unwrap();
        let dev = tempfile::tempdir().unwrap();
        let vdb1 = sys.path().join("class/block/vdb1");
        fs::create_dir_all(&vdb1).unwrap();
        fs::write(vdb1.join("dev"), "252:17\n").unwrap();
        let paths = DevicePaths {
            sys: sys.path().into(),
            dev: dev.path().into(),
        };
        let err = wait_for_partitions(
            &paths,
            "/dev/vdb",
            &["/dev/vdb1".into(), "/dev/vdb2".into()],
            Duration::from_millis(100),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("does not show /dev/vdb2"), "{text}");
        assert!(text.contains("partx -a /dev/vdb"), "{text}");
        assert_eq!(dev_number(sys.path(), "vdb1").unwrap(), Some((252, 17)));
        fs::write(vdb1.join("dev"), "junk").unwrap();
        assert!(dev_number(sys.path(), "vdb1").is_err());
    }

    #[test]
    fn node_states() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vdb1");
        assert_eq!(node_state(&file, 1, 2), Node::Missing);
        fs::write(&file, "").unwrap();
        assert_eq!(node_state(&file, 1, 2), Node::Wrong);
        assert_eq!(
            node_state(Path::new("/dev/null"), 1, 3),
            Node::Wrong,
            "a char device"
        );
    }
}
