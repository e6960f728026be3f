//! Where the extraction target writes: a directory that fuzzed archives can do no harm in.
//!
//! As root the extractor creates device nodes an archive asks for, and opening one (a
//! disk, a watchdog) would touch the machine. So as root the scratch directory is a tmpfs
//! mounted `nodev,nosuid` in a mount namespace of this process alone: nodes can be made
//! there but never opened, the size is capped, and nothing is left behind or seen by the
//! host. Without root no device node can be made at all, and a plain temporary directory
//! serves.
//!
//! Each input gets an empty `root/` to extract into, beside `outside/` holding one file
//! (`keep`). `root/escape` is a relative symlink to `outside` and `root/abs` an absolute
//! one: an archive that writes through either, or climbs out with `..`, changes
//! `outside/`, which [`Scratch::check_outside`] finds.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::mount::{mount, mount_change, MountFlags, MountPropagationFlags};

/// What `outside/keep` holds.
const KEEP: &[u8] = b"nothing may change me\n";
/// Where the tmpfs is mounted (inside the private namespace), under the temp directory.
const MOUNT_DIR: &str = "rescue-fuzz-scratch";

/// The scratch directory of this process.
#[derive(Debug)]
pub struct Scratch {
    base: PathBuf,
    root: PathBuf,
    outside: PathBuf,
    outside_meta: Snapshot,
    keep_meta: Snapshot,
}

/// What must not change about `outside/` and `outside/keep`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    mtime: (i64, i64),
    size: u64,
}

impl Snapshot {
    fn of(path: &Path) -> Snapshot {
        let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Snapshot {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            nlink: m.nlink(),
            mtime: (m.mtime(), m.mtime_nsec()),
            size: m.size(),
        }
    }
}

impl Scratch {
    /// Sets the scratch directory up; panics (stopping the fuzzer) when it cannot be made
    /// safe.
    pub fn new() -> Scratch {
        let base = if rustix::process::geteuid().is_root() {
            private_tmpfs()
        } else {
            let dir = std::env::temp_dir().join(format!("{MOUNT_DIR}-{}", std::process::id()));
            fs::create_dir_all(&dir).expect("making the scratch directory");
            dir
        };
        let root = base.join("root");
        let outside = base.join("outside");
        fs::create_dir(&outside).expect("making outside/");
        fs::write(outside.join("keep"), KEEP).expect("writing outside/keep");
        let mut scratch = Scratch {
            outside_meta: Snapshot::of(&outside),
            keep_meta: Snapshot::of(&outside.join("keep")),
            base,
            root,
            outside,
        };
        scratch.reset();
        // Making root/ touched nothing in outside/, but its mtime is taken after all that.
        scratch.outside_meta = Snapshot::of(&scratch.outside);
        scratch
    }

    /// The directory to extract into.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// An empty `root/` with its two symlinks out.
    pub fn reset(&mut self) {
        if self.root.symlink_metadata().is_ok() {
            remove_tree(&self.root);
        }
        fs::create_dir(&self.root).expect("making root/");
        std::os::unix::fs::symlink("../outside", self.root.join("escape"))
            .expect("making root/escape");
        std::os::unix::fs::symlink(&self.outside, self.root.join("abs")).expect("making root/abs");
    }

    /// Panics when anything outside `root/` changed: a file extracted out of the root.
    pub fn check_outside(&self) {
        let mut names: Vec<_> = fs::read_dir(&self.base)
            .expect("listing the scratch directory")
            .map(|e| e.expect("listing the scratch directory").file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [OsStr::new("outside"), OsStr::new("root")],
            "something was created beside the extraction root"
        );
        let inside: Vec<_> = fs::read_dir(&self.outside)
            .expect("listing outside/")
            .map(|e| e.expect("listing outside/").file_name())
            .collect();
        assert_eq!(
            inside,
            [OsStr::new("keep")],
            "something was created outside the extraction root"
        );
        assert_eq!(
            Snapshot::of(&self.outside),
            self.outside_meta,
            "outside/ was changed"
        );
        assert_eq!(
            Snapshot::of(&self.outside.join("keep")),
            self.keep_meta,
            "outside/keep was changed (mode, owner, links, times or size)"
        );
        let keep = fs::read(self.outside.join("keep")).expect("reading outside/keep");
        assert_eq!(keep, KEEP, "outside/keep was written to");
        let xattrs = rustix::fs::llistxattr(self.outside.join("keep"), &mut [0u8; 256][..])
            .expect("listing the xattrs of outside/keep");
        assert_eq!(xattrs, 0, "outside/keep got extended attributes");
    }
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

/// A tmpfs mounted `nodev,nosuid` in a private mount namespace; returns its path.
fn private_tmpfs() -> PathBuf {
    let dir = std::env::temp_dir().join(MOUNT_DIR);
    fs::create_dir_all(&dir).expect("making the scratch mount point");
    // SAFETY: only the mount namespace (and with it the filesystem attributes) is
    // unshared, not the file descriptor table, which is what the function warns about.
    #[allow(unsafe_code)]
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }.expect(
        "unsharing the mount namespace: as root the extraction target needs a private \
         nodev mount (or run it as an ordinary user)",
    );
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .expect("making the mounts private");
    mount(
        "rescue-fuzz",
        &dir,
        "tmpfs",
        MountFlags::NODEV | MountFlags::NOSUID | MountFlags::NOEXEC,
        c"size=256m,nr_inodes=65536,mode=0700",
    )
    .expect("mounting the scratch tmpfs");
    dir
}

/// Removes a tree whatever its modes: an archive may leave directories without any
/// permission, which stops an ordinary user from emptying them.
fn remove_tree(path: &Path) {
    if fs::remove_dir_all(path).is_ok() {
        return;
    }
    make_writable(path);
    fs::remove_dir_all(path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
}

/// Best effort: whatever it cannot change, the removal after it reports.
fn make_writable(dir: &Path) {
    let is_dir = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    if !is_dir || fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).is_err() {
        return;
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            make_writable(&e.path());
        }
    }
}
