//! Opening a file of a directory volume only when it is a regular file below the volume:
//! media are untrusted, and a FIFO put where a set file belongs would block a restore
//! forever, a device node would be opened (a tape rewound, a terminal taken), a symlink
//! would lead out of the volume.
//!
//! The file is first opened with `O_PATH` (which neither blocks nor opens the thing the
//! node stands for), resolved below the volume without following any symlink
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or on kernels before 5.6 no
//! symlink as the last component); then `fstat` on that handle says what it is, and only
//! a regular file is opened for reading, through `/proc/self/fd`, so the file checked is
//! the file read.

use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// What a non-regular file is, for messages.
fn kind_name(kind: rfs::FileType) -> &'static str {
    match kind {
        rfs::FileType::Directory => "a directory",
        rfs::FileType::Fifo => "a FIFO",
        rfs::FileType::CharacterDevice => "a character device",
        rfs::FileType::BlockDevice => "a block device",
        rfs::FileType::Socket => "a socket",
        rfs::FileType::Symlink => "a symlink",
        _ => "not a regular file",
    }
}

/// `rel` (relative, already free of `.` and `..` components) below `dir`, as an `O_PATH`
/// handle: nothing is opened for reading yet.
fn locate(dir: &Path, rel: &str) -> io::Result<OwnedFd> {
    let base = rfs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rfs::openat2(&base, rel, flags, Mode::empty(), resolve) {
        Err(Errno::NOSYS) => Ok(rfs::openat(&base, rel, flags, Mode::empty())?),
        // A symlink on the way (ELOOP), or one that leads out (EXDEV).
        Err(Errno::LOOP) | Err(Errno::XDEV) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: a symlink on the way to it: a volume's files are refused through \
                 symlinks",
                dir.join(rel).display()
            ),
        )),
        other => Ok(other?),
    }
}

/// The metadata of `rel` below `dir` when it is a regular file; anything else is an error
/// of kind `InvalidData` that says what it is (`IsADirectory` for a directory).
pub fn regular_len(dir: &Path, rel: &str) -> io::Result<u64> {
    let fd = locate(dir, rel)?;
    check_regular(dir, rel, &fd)
}

fn check_regular(dir: &Path, rel: &str, fd: &OwnedFd) -> io::Result<u64> {
    let stat = rfs::fstat(fd)?;
    let kind = rfs::FileType::from_raw_mode(stat.st_mode);
    if kind == rfs::FileType::RegularFile {
        return Ok(stat.st_size as u64);
    }
    let error_kind = if kind == rfs::FileType::Directory {
        io::ErrorKind::IsADirectory
    } else {
        io::ErrorKind::InvalidData
    };
    Err(io::Error::new(
        error_kind,
        format!(
            "{} is {}, not a regular file: refused without opening it",
            dir.join(rel).display(),
            kind_name(kind)
        ),
    ))
}

/// Opens `rel` below `dir` for reading when it is a regular file (see the module).
pub fn open_regular(dir: &Path, rel: &str) -> io::Result<File> {
    let fd = locate(dir, rel)?;
    check_regular(dir, rel, &fd)?;
    let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
    File::open(&via).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "reopening {} through {via} (is /proc mounted?): {e}",
                dir.join(rel).display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    #[test]
    fn a_regular_file_is_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sets")).unwrap();
        std::fs::write(d.path().join("sets/a"), b"data").unwrap();
        let mut text = String::new();
        open_regular(d.path(), "sets/a")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "data");
        assert_eq!(regular_len(d.path(), "sets/a").unwrap(), 4);
        let e = open_regular(d.path(), "sets/b").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_fifo_a_device_a_directory_and_symlinks_are_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::create_dir(dir.join("sets")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("sets/fifo"),
            rfs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        std::fs::write(dir.join("outside"), b"secret").unwrap();
        symlink(dir.join("outside"), dir.join("sets/link")).unwrap();
        symlink("/dev", dir.join("devices")).unwrap();
        let started = Instant::now();
        let e = open_regular(dir, "sets/fifo").unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Not blocked waiting for a writer.
        assert!(started.elapsed() < Duration::from_secs(5));
        let e = open_regular(dir, "sets").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory);
        let e = open_regular(dir, "sets/link").unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        let e = open_regular(dir, "devices/null").unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert!(regular_len(dir, "sets/fifo").is_err());
    }

    #[test]
    fn a_device_node_is_refused_without_opening_it() {
        // Making device nodes needs root; /dev/null serves when it is there.
        let dev = Path::new("/dev");
        if !dev.join("null").exists() {
            return;
        }
        let e = open_regular(dev, "null").unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
    }
}
