//! Capturing the disk layout of a running host (or of the system mounted under a
//! directory) into a mountlist, from /proc, /sys and the disks themselves.

mod boot_paths;
mod disk;
mod fsident;
pub mod fstab;
pub mod guid;
pub mod mounts;
pub use rescue_core::mountinfo;
mod references;
pub mod superblock;
pub mod swaps;
pub mod sysfs;
pub mod table;

use anyhow::Context;
/// Reading one disk's table and superblocks from any `Read + Seek`: for the fuzz targets
/// (fuzz/) and tests, which have no /sys or /dev to capture from.
pub use disk::{read_contents, Contents, DiskRead};
use disk::{DeviceUse, Use};
use rescue_core::mountlist::{Boot, BootMode, Disk, Host, Mountlist, MOUNTLIST_VERSION};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use sysfs::Sysfs;

/// Where the kernel's views live; tests point these at miniature trees.
#[derive(Debug, Clone)]
pub struct SystemPaths {
    pub proc: PathBuf,
    pub sys: PathBuf,
    pub dev: PathBuf,
}

impl Default for SystemPaths {
    fn default() -> Self {
        SystemPaths {
            proc: "/proc".into(),
            sys: "/sys".into(),
            dev: "/dev".into(),
        }
    }
}

/// Stacked devices (LVM on LUKS on MD ...) are followed through at most this many nodes,
/// so a loop in a corrupt /sys cannot hang the capture.
const MAX_STACK_NODES: usize = 64;

pub fn capture(root: &Path, paths: &SystemPaths, captured_at: u64) -> anyhow::Result<Mountlist> {
    let root = check_root(root)?;
    let sysfs = Sysfs::new(&paths.sys);
    let mountinfo_path = paths.proc.join("self/mountinfo");
    let entries = mountinfo::parse(&read_text(&mountinfo_path)?)
        .with_context(|| format!("parsing {}", mountinfo_path.display()))?;
    let selection = mounts::select(&entries, &root)?;
    let mut warnings = selection.warnings;
    let mut read = DiskRead::default();
    let mut uses: BTreeMap<String, Vec<DeviceUse>> = BTreeMap::new();

    for mount in selection.mounts {
        let (major, minor) = device_number(&mount.entry, &paths.dev)?;
        let what = format!("{} ({})", mount.relative, mount.entry.source);
        let used_bytes = used_bytes(&mount.entry);
        let device_use = |partition| DeviceUse {
            partition,
            what: Use::Mount {
                mount: mount.clone(),
                used_bytes,
            },
        };
        add_use(
            &sysfs, major, minor, &what, &mut uses, &mut read, device_use,
        )?;
    }
    if root == Path::new("/") {
        for area in swaps::parse(&read_text(&paths.proc.join("swaps"))?) {
            if area.kind != "partition" {
                warnings.push(format!(
                    "swap file {} is restored as an ordinary file: run mkswap on it after a \
                     restore",
                    area.path.display()
                ));
                continue;
            }
            let node = in_dev_dir(&area.path, &paths.dev);
            let meta = fs::metadata(&node)
                .with_context(|| format!("active swap {} has vanished", area.path.display()))?;
            let (major, minor) = sysfs::split_dev(meta.rdev());
            let what = format!("swap {}", area.path.display());
            let device_use = |partition| DeviceUse {
                partition,
                what: Use::ActiveSwap,
            };
            add_use(
                &sysfs, major, minor, &what, &mut uses, &mut read, device_use,
            )?;
        }
    }

    let mut disks = Vec::new();
    for (name, disk_uses) in &uses {
        let info = sysfs
            .disk(name)
            .with_context(|| format!("reading /sys about disk {name}"))?;
        disks.push(disk::read_disk(&info, &paths.dev, disk_uses, &mut read)?);
    }

    warnings.extend(read_fstab(&root, &mut disks, &paths.dev));
    warnings.extend(read.warnings);
    for u in &read.unsupported {
        warnings.push(format!(
            "{} is an {} ({}): not supported yet, so it is not captured; back it up by other means",
            u.device, u.kind, u.detail
        ));
    }

    let esp = choose_esp(&disks);
    // The firmware's boot entries are the running host's, not a system's under --root.
    let efivars = paths.sys.join("firmware/efi/efivars");
    let efivars = (root == Path::new("/") && efivars.is_dir()).then_some(efivars.as_path());
    let boot_paths = boot_paths::find(&disks, &paths.dev, &root, efivars);
    warnings.extend(boot_paths.warnings);
    let boot = Boot {
        mode: boot_mode(&root, sysfs.efi_firmware(), esp.is_some()),
        esp,
        paths: Some(boot_paths.paths),
    };
    Ok(Mountlist {
        version: MOUNTLIST_VERSION,
        host: Host {
            hostname: hostname(&root, &paths.proc),
            root: root.to_string_lossy().into_owned(),
            kernel_release: read_text(&paths.proc.join("sys/kernel/osrelease"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            captured_at,
        },
        boot,
        disks,
        unsupported: read.unsupported,
        warnings,
    })
}

/// The block device behind a mount. btrfs reports an anonymous device number (0:N) in
/// mountinfo, so its source device node is asked instead.
fn device_number(entry: &mountinfo::MountEntry, dev_dir: &Path) -> anyhow::Result<(u32, u32)> {
    if entry.major != 0 {
        return Ok((entry.major, entry.minor));
    }
    let node = in_dev_dir(Path::new(&entry.source), dev_dir);
    let meta = fs::metadata(&node).with_context(|| {
        format!(
            "{} ({}) is mounted at {}, but its device has vanished",
            entry.source,
            entry.fs_type,
            entry.mount_point.display()
        )
    })?;
    Ok(sysfs::split_dev(meta.rdev()))
}

fn check_root(root: &Path) -> anyhow::Result<PathBuf> {
    let meta = fs::metadata(root).with_context(|| {
        format!(
            "--root {}: no such directory (give the directory where the system to capture is \
             mounted)",
            root.display()
        )
    })?;
    anyhow::ensure!(
        meta.is_dir(),
        "--root {} is not a directory",
        root.display()
    );
    fs::canonicalize(root).with_context(|| format!("resolving --root {}", root.display()))
}

/// Records that the captured system uses device major:minor, following device-mapper and
/// MD devices down to the disks they sit on (reported as unsupported, never dropped).
fn add_use(
    sysfs: &Sysfs,
    major: u32,
    minor: u32,
    what: &str,
    uses: &mut BTreeMap<String, Vec<DeviceUse>>,
    read: &mut DiskRead,
    device_use: impl Fn(Option<u32>) -> DeviceUse,
) -> anyhow::Result<()> {
    let node = sysfs
        .node(major, minor)
        .with_context(|| format!("looking up the device of {what}"))?;
    let info = sysfs
        .disk(&node.disk)
        .with_context(|| format!("reading /sys about disk {} of {what}", node.disk))?;
    match disk::unsupported_stack(&info, &format!("holds {what}")) {
        None => uses
            .entry(node.disk)
            .or_default()
            .push(device_use(node.partition)),
        Some(mut stack) => {
            if let Use::Mount { mount, .. } = device_use(None).what {
                stack.mount_point = Some(mount.relative);
            }
            read.unsupported.push(stack);
            // The disks underneath are captured so their partitions show in the layout.
            let mut below = info.slaves.clone();
            let mut visited = 0;
            while let Some(name) = below.pop() {
                visited += 1;
                if visited > MAX_STACK_NODES {
                    break;
                }
                let Ok(lower) = sysfs.node_by_name(&name) else {
                    continue;
                };
                let lower_info = sysfs.disk(&lower.disk)?;
                if lower_info.kind == sysfs::DiskKind::Plain {
                    uses.entry(lower.disk).or_default();
                } else {
                    below.extend(lower_info.slaves.clone());
                }
            }
        }
    }
    Ok(())
}

fn read_fstab(root: &Path, disks: &mut [Disk], dev_dir: &Path) -> Vec<String> {
    let path = root.join("etc/fstab");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            return vec![format!(
                "cannot read {}: {e}; the restored system's fstab cannot be checked",
                path.display()
            )]
        }
    };
    let (lines, mut warnings) = fstab::parse(&text);
    let same_device = |spec: &str, captured: &str| -> bool {
        if spec == captured {
            return true;
        }
        // Symlinks such as /dev/mapper/x or /dev/disk/by-id/... resolve to the node.
        let resolve = |p: &str| fs::canonicalize(in_dev_dir(Path::new(p), dev_dir)).ok();
        matches!((resolve(spec), resolve(captured)), (Some(a), Some(b)) if a == b)
    };
    warnings.extend(references::attach(disks, &lines, &same_device));
    warnings
}

/// Maps an absolute /dev path into the device directory in use (only differs in tests).
fn in_dev_dir(path: &Path, dev_dir: &Path) -> PathBuf {
    match path.strip_prefix("/dev") {
        Ok(rest) => dev_dir.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The ESP the system boots from: the one mounted (or listed in fstab) at /boot/efi or
/// /efi, else the first one found.
/// The running host boots as its firmware says. A system captured under `--root` is
/// another one (a disk being prepared, a machine image): it boots with UEFI when it has an
/// EFI System Partition, else with BIOS.
fn boot_mode(root: &Path, efi_firmware: bool, has_esp: bool) -> BootMode {
    let uefi = if root == Path::new("/") {
        efi_firmware
    } else {
        has_esp
    };
    if uefi {
        BootMode::Uefi
    } else {
        BootMode::Bios
    }
}

fn choose_esp(disks: &[Disk]) -> Option<String> {
    let esps: Vec<_> = disks
        .iter()
        .flat_map(|d| &d.partitions)
        .filter(|p| p.is_esp())
        .collect();
    let mounted = esps.iter().find(|p| {
        p.filesystem
            .as_ref()
            .and_then(|f| f.target_mount_point())
            .is_some_and(|m| m == "/boot/efi" || m == "/efi" || m == "/boot")
    });
    mounted.or(esps.first()).map(|p| p.path.clone())
}

/// The bytes in use on a mounted filesystem; None when what is at its mount point now is
/// not that filesystem (mounted over, or gone).
fn used_bytes(entry: &mountinfo::MountEntry) -> Option<u64> {
    let at = fs::metadata(&entry.mount_point).ok()?;
    if at.dev() != rustix::fs::makedev(entry.major, entry.minor) {
        return None;
    }
    let st = rustix::fs::statvfs(&entry.mount_point).ok()?;
    Some(st.f_blocks.saturating_sub(st.f_bfree) * st.f_frsize)
}

fn hostname(root: &Path, proc_dir: &Path) -> String {
    let own = if root == Path::new("/") {
        None
    } else {
        fs::read_to_string(root.join("etc/hostname")).ok()
    };
    own.or_else(|| fs::read_to_string(proc_dir.join("sys/kernel/hostname")).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_host_boots_as_its_firmware_another_root_as_its_esp_says() {
        let host = Path::new("/");
        assert_eq!(boot_mode(host, true, false), BootMode::Uefi);
        assert_eq!(boot_mode(host, false, true), BootMode::Bios);
        let other = Path::new("/mnt/src");
        assert_eq!(boot_mode(other, false, true), BootMode::Uefi);
        assert_eq!(boot_mode(other, true, false), BootMode::Bios);
    }
}
