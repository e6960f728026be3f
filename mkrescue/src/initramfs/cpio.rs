//! The "newc" cpio format (ASCII headers, 4-byte alignment) that the kernel unpacks as an
//! initramfs; see the kernel's Documentation/driver-api/early-userspace/buffer-format.rst.

use super::tree::{Entry, Kind, Source, Tree};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    #[error("writing the archive")]
    Write(#[source] io::Error),
    #[error("reading {path} for the archive")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} changed size while it was archived ({expected} bytes, then {found})")]
    Changed {
        path: String,
        expected: u64,
        found: u64,
    },
    #[error("{0} is larger than the 4 GiB a newc entry can hold")]
    TooLarge(String),
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: u64,
    pub bytes: u64,
}

/// Writes `tree` as a newc archive. Owners are root and every time is `mtime`, so the same
/// tree always gives the same bytes.
pub fn write_tree(tree: &Tree, out: &mut dyn Write, mtime: u32) -> Result<Stats, CpioError> {
    let mut w = Counting {
        inner: out,
        count: 0,
    };
    let mut ino = 0u32;
    for (path, entry) in tree.iter() {
        ino += 1;
        write_entry(&mut w, path, entry, ino, mtime)?;
    }
    let trailer = Header::default();
    trailer
        .write(&mut w, b"TRAILER!!!")
        .map_err(CpioError::Write)?;
    Ok(Stats {
        entries: u64::from(ino),
        bytes: w.count,
    })
}

fn write_entry(
    w: &mut Counting<'_>,
    path: &Path,
    entry: &Entry,
    ino: u32,
    mtime: u32,
) -> Result<(), CpioError> {
    let name = path.as_os_str().as_bytes();
    let perm = entry.mode & 0o7777;
    let mut h = Header {
        ino,
        nlink: 1,
        mtime,
        ..Header::default()
    };
    match &entry.kind {
        Kind::Dir => {
            h.mode = S_IFDIR | perm;
            h.nlink = 2;
            h.write(w, name).map_err(CpioError::Write)
        }
        Kind::Symlink(target) => {
            let target = target.as_os_str().as_bytes();
            h.mode = S_IFLNK | 0o777;
            h.filesize = target.len() as u32;
            h.write(w, name).map_err(CpioError::Write)?;
            w.write_all(target).map_err(CpioError::Write)?;
            pad(w, target.len() as u64).map_err(CpioError::Write)
        }
        Kind::CharDevice { major, minor } => {
            h.mode = S_IFCHR | perm;
            h.rdevmajor = *major;
            h.rdevminor = *minor;
            h.write(w, name).map_err(CpioError::Write)
        }
        Kind::File(Source::Bytes(data)) => {
            h.mode = S_IFREG | perm;
            h.filesize = u32::try_from(data.len())
                .map_err(|_| CpioError::TooLarge(path.display().to_string()))?;
            h.write(w, name).map_err(CpioError::Write)?;
            w.write_all(data).map_err(CpioError::Write)?;
            pad(w, data.len() as u64).map_err(CpioError::Write)
        }
        Kind::File(Source::Host(host)) => {
            let shown = || host.display().to_string();
            let read_err = |source| CpioError::Read {
                path: shown(),
                source,
            };
            let mut file = File::open(host).map_err(read_err)?;
            let size = file.metadata().map_err(read_err)?.len();
            h.mode = S_IFREG | perm;
            h.filesize = u32::try_from(size).map_err(|_| CpioError::TooLarge(shown()))?;
            h.write(w, name).map_err(CpioError::Write)?;
            // Exactly the size announced in the header, or the archive would be corrupt.
            let mut buf = vec![0u8; 256 * 1024];
            let mut copied = 0u64;
            loop {
                let n = file.read(&mut buf).map_err(read_err)?;
                if n == 0 {
                    break;
                }
                copied += n as u64;
                if copied > size {
                    break;
                }
                w.write_all(&buf[..n]).map_err(CpioError::Write)?;
            }
            if copied != size {
                return Err(CpioError::Changed {
                    path: shown(),
                    expected: size,
                    found: copied,
                });
            }
            pad(w, size).map_err(CpioError::Write)
        }
    }
}

#[derive(Debug, Default)]
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
    rdevmajor: u32,
    rdevminor: u32,
}

impl Header {
    fn write(&self, w: &mut Counting<'_>, name: &[u8]) -> io::Result<()> {
        let namesize = name.len() as u32 + 1;
        let text = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            self.mode,
            0, // uid
            0, // gid
            self.nlink,
            self.mtime,
            self.filesize,
            0, // devmajor
            0, // devminor
            self.rdevmajor,
            self.rdevminor,
            namesize,
            0, // check
        );
        w.write_all(text.as_bytes())?;
        w.write_all(name)?;
        w.write_all(&[0])?;
        // The 110-byte header plus the name is padded to a multiple of 4.
        pad(w, 110 + u64::from(namesize))
    }
}

fn pad(w: &mut Counting<'_>, len: u64) -> io::Result<()> {
    let n = (4 - len % 4) % 4;
    w.write_all(&[0u8; 3][..n as usize])
}

struct Counting<'a> {
    inner: &'a mut dyn Write,
    count: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
