//! A mounted filesystem's UUID and label asked of the kernel, for when its device cannot
//! be read (a sandbox may forbid opening the disk even to root).

// The two ioctls only read into buffers owned here, of the sizes the kernel ABI fixes.
#![allow(unsafe_code)]

use rustix::ioctl::{ioctl, opcode, Getter, Opcode};
use std::fs::File;
use std::io;
use std::path::Path;

/// `struct fsuuid2` of <linux/fs.h>.
#[repr(C)]
#[derive(Clone, Copy)]
struct FsUuid2 {
    len: u8,
    uuid: [u8; 16],
}

/// FSLABEL_MAX of <linux/fs.h>.
const LABEL_MAX: usize = 256;
const FS_IOC_GETFSUUID: Opcode = opcode::read::<FsUuid2>(0x15, 0);
const FS_IOC_GETFSLABEL: Opcode = opcode::read::<[u8; LABEL_MAX]>(0x94, 49);

/// The UUID of the filesystem mounted at `mount_point` (FS_IOC_GETFSUUID, Linux 6.5+);
/// None when the filesystem has none (all zero) or the kernel cannot say.
pub fn uuid(mount_point: &Path) -> io::Result<Option<[u8; 16]>> {
    let dir = File::open(mount_point)?;
    // SAFETY: the opcode is FS_IOC_GETFSUUID and FsUuid2 is the struct it fills.
    let got = unsafe { ioctl(&dir, Getter::<FS_IOC_GETFSUUID, FsUuid2>::new()) };
    match got {
        Ok(v) if usize::from(v.len) == 16 && v.uuid != [0; 16] => Ok(Some(v.uuid)),
        Ok(_) => Ok(None),
        Err(e) if unsupported(e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The label of the filesystem mounted at `mount_point` (FS_IOC_GETFSLABEL).
pub fn label(mount_point: &Path) -> io::Result<Option<String>> {
    let dir = File::open(mount_point)?;
    // SAFETY: the opcode is FS_IOC_GETFSLABEL and a 256-byte array is what it fills.
    let got = unsafe { ioctl(&dir, Getter::<FS_IOC_GETFSLABEL, [u8; LABEL_MAX]>::new()) };
    match got {
        Ok(buf) => {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(LABEL_MAX);
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            Ok(Some(text).filter(|t| !t.is_empty()))
        }
        Err(e) if unsupported(e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn unsupported(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOTTY
        || e == rustix::io::Errno::INVAL
        || e == rustix::io::Errno::OPNOTSUPP
        || e == rustix::io::Errno::NOSYS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_for_the_root_filesystem_without_failing() {
        // Whatever / is, both calls answer (a tmpfs or overlay says "none").
        uuid(Path::new("/")).unwrap();
        label(Path::new("/")).unwrap();
    }

    #[test]
    fn a_missing_mount_point_is_an_error() {
        assert!(uuid(Path::new("/nonexistent/mount/point")).is_err());
    }
}
