//! Making a corpus.

use anyhow::Context;
use rustix::fs::{Mode, Timespec, Timestamps};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Options {
    /// Bytes of ordinary file content to spread over many files (for multi-volume tests).
    pub bulk_bytes: u64,
    /// A single file of this size (bigger than a set, so it is sliced), if given.
    pub big_file: Option<u64>,
    /// Seed of the pseudo-random content, so two corpora with one seed are identical.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bulk_bytes: 2 << 20,
            big_file: None,
            seed: 1,
        }
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    /// Kinds of entries left out, and why (no root).
    pub skipped: Vec<String>,
}

/// xorshift64*: deterministic bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Half text (compresses), half noise (does not), like a real system.
    fn fill(&mut self, buf: &mut [u8]) {
        let text = b"The quick brown fox jumps over the lazy dog; restore me exactly.\n";
        for (i, chunk) in buf.chunks_mut(8).enumerate() {
            if (i / 512) % 2 == 0 {
                for (j, b) in chunk.iter_mut().enumerate() {
                    *b = text[(i * 8 + j) % text.len()];
                }
            } else {
                let v = self.next().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn write_content(path: &Path, size: u64, rng: &mut Rng) -> anyhow::Result<()> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

fn set_times(path: &Path, secs: i64, nanos: i64) -> anyhow::Result<()> {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: nanos,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("setting the times of {}", path.display()))
}

/// A POSIX ACL as the kernel stores it in system.posix_acl_access: version 2, then
/// (tag, permissions, id) entries sorted by tag and id.
fn acl_xattr(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
const ACL_UNDEFINED_ID: u32 = u32::MAX;

/// Makes the corpus under `root` (which must exist and be empty).
pub fn generate(root: &Path, opts: &Options) -> anyhow::Result<Summary> {
    let mut s = Summary::default();
    let mut rng = Rng(opts.seed.max(1));
    let root_user = is_root();
    let p = |rel: &str| root.join(rel);

    for dir in [
        "etc",
        "home/ann/docs",
        "home/bob",
        "srv/data",
        "var/empty",
        "dev-like",
    ] {
        fs::create_dir_all(p(dir))?;
    }

    // Regular files of assorted sizes, including empty and block-boundary sizes.
    for (rel, size) in [
        ("etc/hostname", 6u64),
        ("etc/empty", 0),
        ("home/ann/docs/one-block", 512),
        ("home/ann/docs/block-plus-one", 513),
        ("home/bob/notes.txt", 10_000),
    ] {
        write_content(&p(rel), size, &mut rng)?;
        s.files += 1;
        s.bytes += size;
    }
    fs::write(p("etc/hostname"), b"corpus")?;

    // Bulk content in many files across directories.
    let mut left = opts.bulk_bytes;
    let mut n = 0;
    while left > 0 {
        let size = (64 << 10).min(left) + (rng.next() % 4096).min(left.saturating_sub(64 << 10));
        let dir = p(&format!("srv/data/d{:02}", n % 7));
        fs::create_dir_all(&dir)?;
        write_content(&dir.join(format!("f{n:05}.bin")), size, &mut rng)?;
        left -= size.min(left);
        s.files += 1;
        s.bytes += size;
        n += 1;
    }

    if let Some(size) = opts.big_file {
        write_content(&p("srv/big.img"), size, &mut rng)?;
        s.files += 1;
        s.bytes += size;
    }

    // Sparse: 100 MiB with data at 0 and at 50 MiB.
    {
        let path = p("srv/sparse.img");
        let mut f = File::create(&path)?;
        let mut block = vec![0u8; 4096];
        rng.fill(&mut block);
        f.write_all(&block)?;
        f.seek(SeekFrom::Start(50 << 20))?;
        f.write_all(&block)?;
        f.set_len(100 << 20)?;
        s.files += 1;
    }

    // Hard links across directories, and a group of three.
    fs::hard_link(p("home/bob/notes.txt"), p("home/ann/notes-link"))?;
    fs::hard_link(p("home/bob/notes.txt"), p("srv/notes-link-2"))?;

    // Symlinks: relative, absolute, dangling, to a directory.
    symlink("notes.txt", p("home/bob/rel-link"))?;
    symlink("/etc/hostname", p("home/bob/abs-link"))?;
    symlink("does/not/exist", p("home/bob/dangling"))?;
    symlink("../ann/docs", p("home/bob/docs-dir-link"))?;
    // A symlink with two names (one inode): linkat does not follow it.
    fs::hard_link(p("home/bob/rel-link"), p("home/bob/rel-link-2"))?;

    // Modes: setuid, setgid, sticky, odd permissions.
    for (rel, mode) in [
        ("home/bob/setuid-prog", 0o4755),
        ("home/bob/setgid-prog", 0o2711),
        ("home/bob/private", 0o600),
    ] {
        write_content(&p(rel), 300, &mut rng)?;
        fs::set_permissions(p(rel), fs::Permissions::from_mode(mode))?;
    }
    fs::create_dir(p("tmp-sticky"))?;
    fs::set_permissions(p("tmp-sticky"), fs::Permissions::from_mode(0o1777))?;

    // FIFO (no root needed).
    rustix::fs::mknodat(
        rustix::fs::CWD,
        p("dev-like/fifo"),
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o640),
        0,
    )
    .context("making a FIFO")?;

    // Names: newline, non-UTF-8 bytes, spaces, a long chain of directories.
    fs::write(p("home/ann/new\nline"), b"newline in the name\n")?;
    let odd = OsStr::from_bytes(b"caf\xe9-latin1");
    fs::write(p("home/ann").join(odd), b"not UTF-8\n")?;
    fs::write(p("home/ann/with space & 'quotes'"), b"quoted\n")?;
    let mut long = p("home/ann");
    for i in 0..6 {
        long.push(format!("{}-{i}", "deep-directory-name".repeat(2)));
    }
    fs::create_dir_all(&long)?;
    let long_name = "x".repeat(200);
    fs::write(long.join(&long_name), b"long path\n")?;

    // Extended attributes (user.* work without root on ext4/xfs/tmpfs).
    let xattr_file = p("home/ann/docs/tagged");
    fs::write(&xattr_file, b"has xattrs\n")?;
    rustix::fs::lsetxattr(
        &xattr_file,
        "user.comment",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    )
    .context("setting user.comment (does the filesystem support user xattrs?)")?;
    rustix::fs::lsetxattr(
        &xattr_file,
        "user.binary",
        &[0u8, 1, 2, 255],
        rustix::fs::XattrFlags::empty(),
    )?;

    if root_user {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            p("dev-like/null-like"),
            rustix::fs::FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )?;
        rustix::fs::mknodat(
            rustix::fs::CWD,
            p("dev-like/loop-like"),
            rustix::fs::FileType::BlockDevice,
            Mode::from_raw_mode(0o660),
            rustix::fs::makedev(7, 200),
        )?;
        let owned = p("home/bob/owned-by-1234");
        fs::write(&owned, b"foreign owner\n")?;
        rustix::fs::chownat(
            rustix::fs::CWD,
            &owned,
            Some(rustix::fs::Uid::from_raw(1234)),
            Some(rustix::fs::Gid::from_raw(5678)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?;
        rustix::fs::chownat(
            rustix::fs::CWD,
            p("home/bob/dangling"),
            Some(rustix::fs::Uid::from_raw(1234)),
            Some(rustix::fs::Gid::from_raw(1234)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?;
        // An ACL granting user 1234 read access, with its mask.
        let acl_file = p("home/ann/docs/acl-shared");
        fs::write(&acl_file, b"shared by ACL\n")?;
        fs::set_permissions(&acl_file, fs::Permissions::from_mode(0o640))?;
        let acl = acl_xattr(&[
            (ACL_USER_OBJ, 6, ACL_UNDEFINED_ID),
            (ACL_USER, 4, 1234),
            (ACL_GROUP_OBJ, 4, ACL_UNDEFINED_ID),
            (ACL_MASK, 4, ACL_UNDEFINED_ID),
            (ACL_OTHER, 0, ACL_UNDEFINED_ID),
        ]);
        rustix::fs::lsetxattr(
            &acl_file,
            "system.posix_acl_access",
            &acl,
            rustix::fs::XattrFlags::empty(),
        )
        .context("setting a POSIX ACL")?;
        // cap_net_raw+ep: vfs_cap_data revision 2, effective flag, permitted bit 13.
        let cap_file = p("home/bob/ping-like");
        fs::write(&cap_file, b"capable\n")?;
        let mut cap = (0x0200_0000u32 | 1).to_le_bytes().to_vec();
        for word in [1u32 << 13, 0, 0, 0] {
            cap.extend_from_slice(&word.to_le_bytes());
        }
        rustix::fs::lsetxattr(
            &cap_file,
            "security.capability",
            &cap,
            rustix::fs::XattrFlags::empty(),
        )
        .context("setting security.capability")?;
    } else {
        s.skipped.push(
            "device nodes, foreign owners, POSIX ACLs and capabilities (need root)".to_string(),
        );
    }

    // Nanosecond times on everything, deepest first so directory times stick.
    let mut all = Vec::new();
    walk(root, &mut all)?;
    all.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
    for (i, (path, _)) in all.iter().enumerate() {
        set_times(path, 1_700_000_000 + i as i64, 123_456_789 - i as i64)?;
    }
    Ok(s)
}

/// Every path under `dir` (not following symlinks), with whether it is a directory.
pub(crate) fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let is_dir = e.file_type()?.is_dir();
        out.push((path.clone(), is_dir));
        if is_dir {
            walk(&path, out)?;
        }
    }
    Ok(())
}
