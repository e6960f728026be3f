//! Shared by the archive_* tests: a corpus with every kind of file, a scanner that turns a
//! tree into entries the way the backup walker does, our writer and extractor in a line,
//! and a snapshot of a tree to compare two of them (type, mode, owner, mtime with ns,
//! size, content, link target, device numbers, xattrs incl. ACLs, hard-link groups).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use rescue_core::archive::{
    data_extents, sparse, EntryKind, EntryMeta, ExtentReader, Extracted, Extractor, TarReader,
    TarWriter,
};
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};

pub fn ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// Prints `skipped: {reason}` and returns false; under CI a skip is a failure.
pub fn skip(reason: &str) -> bool {
    if ci() {
        panic!("{reason}; CI=true, where a skipped test is a failure");
    }
    println!("skipped: {reason}");
    eprintln!("skipped: {reason}");
    false
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// GNU tar is there (the judge of the format).
pub fn gnu_tar() -> bool {
    Command::new("tar")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("GNU tar"))
}

pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn p(root: &Path, rel: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(rel))
}

/// What the corpus could include on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Corpus {
    pub acls: bool,
    pub caps: bool,
}

pub const SPARSE_SIZE: u64 = 100 << 20;
pub const LONG_DIR: &str = "long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

pub fn long_file() -> String {
    format!("{LONG_DIR}/{}", "f".repeat(150))
}

/// Makes a tree with every kind of file under `root` (an empty directory). Needs root for
/// device nodes and owners. ACLs with setfacl and a capability with setcap when those
/// are installed.
pub fn make_corpus(root: &Path) -> Corpus {
    let w = |rel: &str, data: &[u8]| fs::write(root.join(rel), data).unwrap();
    let mode = |rel: &[u8], m: u32| {
        fs::set_permissions(p(root, rel), fs::Permissions::from_mode(m)).unwrap()
    };
    let own = |rel: &[u8], u: u32, g: u32| {
        rustix::fs::chownat(
            CWD,
            p(root, rel).as_path(),
            Some(rustix::fs::Uid::from_raw(u)),
            Some(rustix::fs::Gid::from_raw(g)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap()
    };
    let xattr = |rel: &[u8], n: &str, v: &[u8]| {
        rustix::fs::lsetxattr(
            p(root, rel).as_path(),
            n,
            v,
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap()
    };
    for d in [
        "d",
        "other/deeper",
        "dev",
        "emptydir",
        "sticky",
        "sgdir",
        LONG_DIR,
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    let regular: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    w("d/regular", &regular);
    xattr(b"d/regular", "user.comment", b"hello");
    xattr(b"d/regular", "user.bin", b"\0\n\xff=%");
    xattr(b"d/regular", "user.a%b=c", b"escaped name");
    xattr(b"d", "user.dir", b"1");
    fs::hard_link(root.join("d/regular"), root.join("other/link-to-regular")).unwrap();
    fs::hard_link(root.join("d/regular"), root.join("other/deeper/link2")).unwrap();
    w("d/setuid", b"#!/bin/sh\n");
    mode(b"d/setuid", 0o4755);
    w("d/setgid", b"#!/bin/sh\n");
    mode(b"d/setgid", 0o2755);
    w("d/owned", b"owned by 1234:5678\n");
    mode(b"d/owned", 0o640);
    own(b"d/owned", 1234, 5678);
    mode(b"sticky", 0o1777);
    mode(b"sgdir", 0o2775);
    own(b"sgdir", 1234, 5678);
    w("empty", b"");
    // 100 MiB with two small data extents, ending in a hole; and one that is all hole.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = File::create(root.join("sparse")).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(&[b'A'; 4096]).unwrap();
        f.seek(SeekFrom::Start(50 << 20)).unwrap();
        f.write_all(&[b'B'; 4096]).unwrap();
        f.set_len(SPARSE_SIZE).unwrap();
        let f = File::create(root.join("sparse-all-hole")).unwrap();
        f.set_len(8 << 20).unwrap();
    }
    symlink("d/regular", root.join("symlink")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    symlink("t".repeat(150), root.join("longlink")).unwrap();
    symlink("d", root.join("owned-link")).unwrap();
    own(b"owned-link", 1234, 5678);
    let node = |rel: &str, ft: FileType, m: u32, dev: rustix::fs::Dev| {
        rustix::fs::mknodat(
            CWD,
            root.join(rel).as_path(),
            ft,
            Mode::from_raw_mode(m),
            dev,
        )
        .unwrap();
        mode(rel.as_bytes(), m);
    };
    node(
        "dev/null-like",
        FileType::CharacterDevice,
        0o666,
        rustix::fs::makedev(1, 3),
    );
    node(
        "dev/loop-like",
        FileType::BlockDevice,
        0o660,
        rustix::fs::makedev(7, 200),
    );
    node("dev/fifo", FileType::Fifo, 0o620, 0);
    own(b"dev/fifo", 1234, 5678);
    // xattrs on what cannot be opened (trusted.*: user.* is for files and directories)
    xattr(b"dev/fifo", "trusted.note", b"fifo");
    xattr(b"symlink", "trusted.note", b"link");
    let lf = long_file();
    w(&lf, b"a file whose path is longer than 255 bytes\n");
    fs::hard_link(
        root.join(&lf),
        root.join(format!("{LONG_DIR}/hard-link-to-long")),
    )
    .unwrap();
    fs::write(p(root, b"new\nline"), b"newline in the name\n").unwrap();
    fs::write(p(root, b"bad\xff\xfename"), b"not UTF-8\n").unwrap();
    fs::write(p(root, "ünïcödé".as_bytes()), b"UTF-8 but not ASCII\n").unwrap();
    // UTF-8, not ASCII, too long for ustar: a pax path
    fs::write(
        root.join(format!("long/{}", "ü".repeat(70))),
        b"long UTF-8 name\n",
    )
    .unwrap();

    let acls = have("setfacl") && have("getfacl");
    if acls {
        w("acl-file", b"acl\n");
        run(Command::new("setfacl")
            .args(["-m", "u:1234:r,g:5678:rw"])
            .arg(root.join("acl-file")));
        fs::create_dir(root.join("acl-dir")).unwrap();
        run(Command::new("setfacl")
            .args(["-d", "-m", "u:1234:rx"])
            .arg(root.join("acl-dir")));
        run(Command::new("setfacl")
            .args(["-m", "u:1234:rwx"])
            .arg(root.join("acl-dir")));
        // inherits the default ACL as its access ACL
        w("acl-dir/child", b"inherited\n");
        // no ACL, in a directory with a default ACL: nothing may be inherited on restore
        w("acl-dir/plain", b"no acl\n");
        run(Command::new("setfacl")
            .arg("-b")
            .arg(root.join("acl-dir/plain")));
        fs::create_dir(root.join("acl-dir/sub")).unwrap();
        run(Command::new("setfacl")
            .arg("-b")
            .arg(root.join("acl-dir/sub")));
    } else {
        skip("setfacl/getfacl are not installed (Debian package acl): no ACLs in the corpus");
    }
    let caps = have("setcap");
    if caps {
        w("cap-file", b"\x7fELF not really\n");
        run(Command::new("setcap")
            .arg("cap_net_raw+ep")
            .arg(root.join("cap-file")));
    } else {
        skip("setcap is not installed (Debian package libcap2-bin): no capability in the corpus");
    }

    // Times with nanoseconds on everything, directories last (deepest first).
    let mut all = walk(root);
    all.reverse();
    for (i, rel) in all.iter().enumerate() {
        let t = Timespec {
            tv_sec: 1_600_000_000 + i as i64 * 1000,
            tv_nsec: 100_000_001 + i as i64 * 7,
        };
        let a = Timespec {
            tv_sec: 1_700_000_000 + i as i64,
            tv_nsec: 5,
        };
        rustix::fs::utimensat(
            CWD,
            p(root, rel).as_path(),
            &Timestamps {
                last_access: a,
                last_modification: t,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
    Corpus { acls, caps }
}

/// Every path under root (relative, bytes), in the order of a sorted walk (a directory
/// before its contents), root excluded.
pub fn walk(root: &Path) -> Vec<Vec<u8>> {
    fn rec(root: &Path, rel: &[u8], out: &mut Vec<Vec<u8>>) {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            p(root, rel)
        };
        let mut names: Vec<Vec<u8>> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().as_bytes().to_vec())
            .collect();
        names.sort();
        for n in names {
            let child = if rel.is_empty() {
                n
            } else {
                [rel, b"/", &n].concat()
            };
            out.push(child.clone());
            if fs::symlink_metadata(p(root, &child)).unwrap().is_dir() {
                rec(root, &child, out);
            }
        }
    }
    let mut out = Vec::new();
    rec(root, b"", &mut out);
    out
}

pub fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut list = vec![0u8; 65536];
    let n = match rustix::fs::llistxattr(path, &mut list[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Vec::new(),
        Err(e) => panic!("llistxattr {}: {e}", path.display()),
    };
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = list[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let mut v = vec![0u8; 65536];
            let len = rustix::fs::lgetxattr(path, name, &mut v[..]).unwrap();
            v.truncate(len);
            (name.to_vec(), v)
        })
        .collect();
    out.sort();
    out
}

fn names(file: &str) -> HashMap<u32, Vec<u8>> {
    fs::read(file)
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter_map(|l| {
            let f: Vec<&[u8]> = l.split(|&b| b == b':').collect();
            Some((
                std::str::from_utf8(f.get(2)?).ok()?.parse().ok()?,
                f[0].to_vec(),
            ))
        })
        .collect()
}

/// The entries of a tree as the backup walker makes them: `.` first, then a sorted walk;
/// the second and later paths of an inode as hard links; files with holes sparse.
pub fn scan(root: &Path) -> Vec<(EntryMeta, PathBuf)> {
    let users = names("/etc/passwd");
    let groups = names("/etc/group");
    let mut seen: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut out = Vec::new();
    let mut paths = vec![b".".to_vec()];
    paths.extend(walk(root));
    for rel in paths {
        let abs = if rel == b"." {
            root.to_path_buf()
        } else {
            p(root, &rel)
        };
        let md = fs::symlink_metadata(&abs).unwrap();
        let ft = md.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink {
                target: fs::read_link(&abs).unwrap().as_os_str().as_bytes().to_vec(),
            }
        } else if ft.is_char_device() || ft.is_block_device() {
            let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
            if ft.is_char_device() {
                EntryKind::CharDevice { major, minor }
            } else {
                EntryKind::BlockDevice { major, minor }
            }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else if let Some(first) = (md.nlink() > 1)
            .then(|| seen.get(&(md.dev(), md.ino())))
            .flatten()
        {
            EntryKind::HardLink {
                target: first.clone(),
            }
        } else {
            if md.nlink() > 1 {
                seen.insert((md.dev(), md.ino()), rel.clone());
            }
            let ext = data_extents(&File::open(&abs).unwrap()).unwrap();
            let sparse = sparse::worth_sparse(md.len(), &ext).then_some(ext);
            EntryKind::File {
                size: md.len(),
                sparse,
            }
        };
        let meta = EntryMeta {
            path: rel,
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            user: users.get(&md.uid()).cloned(),
            group: groups.get(&md.gid()).cloned(),
            mtime: (md.mtime(), md.mtime_nsec() as u32),
            atime: Some((md.atime(), md.atime_nsec() as u32)),
            xattrs: xattrs(&abs),
            slice: None,
        };
        out.push((meta, abs));
    }
    out
}

/// The stored bytes of an entry, from the file on disk.
pub fn source(meta: &EntryMeta, abs: &Path) -> Box<dyn Read> {
    match &meta.kind {
        EntryKind::File { sparse: None, .. } => Box::new(File::open(abs).unwrap()),
        EntryKind::File {
            sparse: Some(ext), ..
        } => Box::new(ExtentReader::new(File::open(abs).unwrap(), ext.clone())),
        _ => Box::new(io::empty()),
    }
}

/// Writes the entries to one tar stream with our writer.
pub fn write_tar(entries: &[(EntryMeta, PathBuf)]) -> Vec<u8> {
    let mut w = TarWriter::new(Vec::new());
    for (meta, abs) in entries {
        let out = w.append(meta, &mut source(meta, abs)).unwrap();
        assert_eq!(out.short_by, 0, "{}", meta.display_path());
        assert_eq!(out.stored, rescue_core::archive::stored_size(meta));
    }
    w.finish().unwrap()
}

/// Extracts a whole stream with our reader and extractor; every entry must succeed.
pub fn extract_all(ex: &mut Extractor, tar: &[u8]) -> Vec<(EntryMeta, Extracted)> {
    let mut r = TarReader::new(tar);
    let mut out = Vec::new();
    while let Some((meta, mut data)) = r.next_entry().unwrap() {
        let done = ex
            .extract(&meta, &mut data)
            .unwrap_or_else(|e| panic!("{}: {e}", meta.display_path()));
        assert!(
            done.problems.is_empty(),
            "{}: {:?}",
            meta.display_path(),
            done.problems
        );
        out.push((meta, done));
    }
    out
}

/// What is compared of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snap {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub size: u64,
    pub b3: Option<String>,
    pub link: Option<Vec<u8>>,
    pub rdev: Option<(u32, u32)>,
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// The first path (sorted walk) of the regular file's inode, when it has several.
    pub group: Option<Vec<u8>>,
}

pub fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Snap> {
    use std::os::unix::fs::FileTypeExt;
    let mut first: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut out = BTreeMap::new();
    for rel in walk(root) {
        let abs = p(root, &rel);
        let md = fs::symlink_metadata(&abs).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "file"
        };
        let b3 = (kind == "file").then(|| {
            let mut h = blake3::Hasher::new();
            io::copy(&mut File::open(&abs).unwrap(), &mut h).unwrap();
            h.finalize().to_hex().to_string()
        });
        let group = (kind == "file" && md.nlink() > 1)
            .then(|| first.entry(md.ino()).or_insert(rel.clone()).clone());
        out.insert(
            rel,
            Snap {
                kind,
                mode: if kind == "symlink" {
                    0
                } else {
                    md.mode() & 0o7777
                },
                uid: md.uid(),
                gid: md.gid(),
                mtime: (md.mtime(), md.mtime_nsec()),
                size: if kind == "file" { md.len() } else { 0 },
                b3,
                link: (kind == "symlink")
                    .then(|| fs::read_link(&abs).unwrap().as_os_str().as_bytes().to_vec()),
                rdev: (kind == "char" || kind == "block")
                    .then(|| (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()))),
                xattrs: xattrs(&abs)
                    .into_iter()
                    .map(|(n, v)| (String::from_utf8_lossy(&n).into_owned(), v))
                    .collect(),
                group,
            },
        );
    }
    out
}

/// Asserts two snapshots are the same, path by path, with a readable difference.
pub fn assert_same(want: &BTreeMap<Vec<u8>, Snap>, got: &BTreeMap<Vec<u8>, Snap>, what: &str) {
    let mut problems = Vec::new();
    for (path, w) in want {
        match got.get(path) {
            None => problems.push(format!("{}: missing", String::from_utf8_lossy(path))),
            Some(g) if g != w => problems.push(format!(
                "{}:\n   want {w:?}\n    got {g:?}",
                String::from_utf8_lossy(path)
            )),
            _ => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!(
            "{}: not in the source",
            String::from_utf8_lossy(path)
        ));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Allocated bytes of a file (st_blocks * 512).
pub fn allocated(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().blocks() * 512
}
