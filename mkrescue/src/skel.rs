//! The files of initramfs-skel/, built into mkrescue so the binary needs no data directory.

use crate::initramfs::tree::{Tree, TreeError};

/// (path in the rescue system, content, mode)
const FILES: &[(&str, &[u8], u32)] = &[
    (
        "/etc/fstab",
        include_bytes!("../../initramfs-skel/etc/fstab"),
        0o644,
    ),
    (
        "/etc/group",
        include_bytes!("../../initramfs-skel/etc/group"),
        0o644,
    ),
    (
        "/etc/hostname",
        include_bytes!("../../initramfs-skel/etc/hostname"),
        0o644,
    ),
    (
        "/etc/hosts",
        include_bytes!("../../initramfs-skel/etc/hosts"),
        0o644,
    ),
    (
        "/etc/nsswitch.conf",
        include_bytes!("../../initramfs-skel/etc/nsswitch.conf"),
        0o644,
    ),
    (
        "/etc/passwd",
        include_bytes!("../../initramfs-skel/etc/passwd"),
        0o644,
    ),
    (
        "/etc/profile",
        include_bytes!("../../initramfs-skel/etc/profile"),
        0o644,
    ),
    (
        "/etc/shadow",
        include_bytes!("../../initramfs-skel/etc/shadow"),
        0o600,
    ),
];

/// Directories every rescue system has, with their modes.
const DIRS: &[(&str, u32)] = &[
    ("/dev", 0o755),
    ("/etc/rescue", 0o755),
    ("/mnt", 0o755),
    ("/proc", 0o555),
    ("/root", 0o700),
    ("/run", 0o755),
    ("/sys", 0o555),
    ("/tmp", 0o1777),
    ("/var/log", 0o755),
];

/// Adds the skeleton: its files, the standard directories, and the two device nodes the
/// kernel needs before /init mounts devtmpfs (it opens /dev/console for /init's stdio).
pub fn add_skeleton(tree: &mut Tree) -> Result<(), TreeError> {
    for (dir, mode) in DIRS {
        tree.dir(dir, *mode)?;
    }
    for (path, data, mode) in FILES {
        tree.bytes(path, data.to_vec(), *mode)?;
    }
    tree.char_device("/dev/console", 5, 1, 0o600)?;
    tree.char_device("/dev/null", 1, 3, 0o666)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_file_of_the_skeleton_folder_is_built_in() {
        let skel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../initramfs-skel");
        let mut on_disk = Vec::new();
        let mut todo = vec![skel.clone()];
        while let Some(dir) = todo.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                } else {
                    let rel = p.strip_prefix(&skel).unwrap();
                    on_disk.push(format!("/{}", rel.display()));
                }
            }
        }
        on_disk.sort();
        let listed: Vec<String> = FILES.iter().map(|(p, _, _)| p.to_string()).collect();
        assert_eq!(
            on_disk, listed,
            "add new initramfs-skel files to skel::FILES"
        );
    }

    #[test]
    fn adds_files_dirs_and_console() {
        let mut t = Tree::new();
        add_skeleton(&mut t).unwrap();
        assert!(t.contains("/etc/passwd"));
        assert_eq!(t.get("/tmp").unwrap().mode, 0o1777);
        assert!(t.contains("/dev/console"));
    }
}
