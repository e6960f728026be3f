//! Comparing two trees entry by entry.

use crate::make::walk;
use anyhow::Context;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// One way the two trees differ, for the test's failure message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    pub what: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.path, self.what)
    }
}

/// What is compared of one entry.
#[derive(Debug, PartialEq, Eq)]
struct Facts {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    size: u64,
    rdev: u64,
    target: Vec<u8>,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn kind(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else {
        "socket"
    }
}

fn xattrs(path: &Path) -> anyhow::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut names = vec![0u8; 64 << 10];
    let n = match rustix::fs::llistxattr(path, &mut names) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("listing xattrs of {}", path.display())),
    };
    let mut out = BTreeMap::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 64 << 10];
        let len = rustix::fs::lgetxattr(path, name, &mut value)
            .with_context(|| format!("reading an xattr of {}", path.display()))?;
        out.insert(name.to_vec(), value[..len].to_vec());
    }
    Ok(out)
}

fn facts(path: &Path) -> anyhow::Result<Facts> {
    let m = fs::symlink_metadata(path).with_context(|| format!("stat {}", path.display()))?;
    let kind = kind(m.file_type());
    Ok(Facts {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        // A directory's times change when anything is created in it after the fact on
        // some restore paths; they are compared like everything else.
        mtime: (m.mtime(), m.mtime_nsec()),
        size: if kind == "file" { m.len() } else { 0 },
        rdev: if kind == "char" || kind == "block" {
            m.rdev()
        } else {
            0
        },
        target: if kind == "symlink" {
            fs::read_link(path)?.as_os_str().as_bytes().to_vec()
        } else {
            Vec::new()
        },
        xattrs: xattrs(path)?,
    })
}

fn same_content(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let na = read_full(&mut fa, &mut ba)?;
        let nb = read_full(&mut fb, &mut bb)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Every difference between the trees under `a` and `b`: entries only on one side, and for
/// entries on both: type, permission bits, owner, mtime (ns), size, content, device
/// numbers, symlink target, extended attributes (ACLs and capabilities included), and
/// hard-link groups.
pub fn compare(a: &Path, b: &Path) -> anyhow::Result<Vec<Difference>> {
    let list = |root: &Path| -> anyhow::Result<BTreeSet<Vec<u8>>> {
        let mut all = Vec::new();
        walk(root, &mut all)?;
        Ok(all
            .into_iter()
            .map(|(p, _)| {
                p.strip_prefix(root)
                    .map(|r| r.as_os_str().as_bytes().to_vec())
                    .unwrap_or_default()
            })
            .collect())
    };
    let (la, lb) = (list(a)?, list(b)?);
    let mut diffs = Vec::new();
    let name = |rel: &[u8]| String::from_utf8_lossy(rel).into_owned();
    for only in la.difference(&lb) {
        diffs.push(Difference {
            path: name(only),
            what: "missing from the copy".into(),
        });
    }
    for extra in lb.difference(&la) {
        diffs.push(Difference {
            path: name(extra),
            what: "only in the copy".into(),
        });
    }
    // Hard-link groups: paths sharing an inode on one side must share one on the other.
    let mut groups_a: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    let mut groups_b: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for rel in la.intersection(&lb) {
        let pa = a.join(std::ffi::OsStr::from_bytes(rel));
        let pb = b.join(std::ffi::OsStr::from_bytes(rel));
        let (fa, fb) = (facts(&pa)?, facts(&pb)?);
        let (ma, mb) = (fs::symlink_metadata(&pa)?, fs::symlink_metadata(&pb)?);
        if !ma.is_dir() && ma.nlink() > 1 {
            groups_a.entry(ma.ino()).or_default().push(rel.clone());
        }
        if !mb.is_dir() && mb.nlink() > 1 {
            groups_b.entry(mb.ino()).or_default().push(rel.clone());
        }
        if fa != fb {
            diffs.push(Difference {
                path: name(rel),
                what: format!("{fa:?} became {fb:?}"),
            });
            continue;
        }
        if fa.kind == "file" && !same_content(&pa, &pb)? {
            diffs.push(Difference {
                path: name(rel),
                what: "content differs".into(),
            });
        }
    }
    let as_set = |g: BTreeMap<u64, Vec<Vec<u8>>>| -> BTreeSet<Vec<Vec<u8>>> {
        g.into_values().filter(|v| v.len() > 1).collect()
    };
    let (ga, gb) = (as_set(groups_a), as_set(groups_b));
    for g in ga.symmetric_difference(&gb) {
        diffs.push(Difference {
            path: name(&g[0]),
            what: format!(
                "hard-link group {:?} is not the same in both trees",
                g.iter().map(|p| name(p)).collect::<Vec<_>>()
            ),
        });
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, Options};

    #[test]
    fn a_corpus_equals_itself_and_a_copy_made_by_cp_a() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::create_dir(&a).unwrap();
        let summary = generate(&a, &Options::default()).unwrap();
        assert!(summary.files > 20);
        assert!(compare(&a, &a).unwrap().is_empty());

        // cp -a keeps everything; then one change of each kind must be seen.
        let b = dir.path().join("b");
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(&a)
            .arg(&b)
            .status()
            .unwrap();
        assert!(status.success());
        let diffs = compare(&a, &b).unwrap();
        assert!(diffs.is_empty(), "{diffs:#?}");

        fs::write(b.join("etc/hostname"), b"changed").unwrap();
        fs::remove_file(b.join("home/bob/dangling")).unwrap();
        fs::set_permissions(
            b.join("home/bob/private"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        fs::remove_file(b.join("srv/notes-link-2")).unwrap();
        fs::copy(b.join("home/bob/notes.txt"), b.join("srv/notes-link-2")).unwrap();
        let diffs = compare(&a, &b).unwrap();
        let text = format!("{diffs:#?}");
        assert!(text.contains("etc/hostname"), "{text}");
        assert!(text.contains("dangling"), "{text}");
        assert!(text.contains("private"), "{text}");
        assert!(text.contains("hard-link group"), "{text}");
    }
}
