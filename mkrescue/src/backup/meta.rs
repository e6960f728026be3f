//! Reading what the archive must keep of a file: type, mode, owner and names, times,
//! extended attributes (ACLs and capabilities are among them), sparse extents, and which
//! earlier path a hard link points to.

use super::select::Visit;
use rescue_core::archive::{data_extents, EntryKind, EntryMeta};
use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// User and group names of the captured system, from its own /etc/passwd and /etc/group.
#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<u32, Vec<u8>>,
    groups: HashMap<u32, Vec<u8>>,
}

impl Names {
    pub fn load(root: &Path) -> Names {
        let table = |file: &str| -> HashMap<u32, Vec<u8>> {
            fs::read(root.join(file))
                .map(|text| parse_id_table(&text))
                .unwrap_or_default()
        };
        Names {
            users: table("etc/passwd"),
            groups: table("etc/group"),
        }
    }
}

/// "name:x:id:..." lines -> id -> name (the first name wins, as getpwuid does).
fn parse_id_table(text: &[u8]) -> HashMap<u32, Vec<u8>> {
    let mut map = HashMap::new();
    for line in text.split(|b| *b == b'\n') {
        let mut fields = line.split(|b| *b == b':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some(id) = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if !name.is_empty() {
            map.entry(id).or_insert_with(|| name.to_vec());
        }
    }
    map
}

/// Remembers the first path of every multiply-linked inode, so later ones become links.
#[derive(Debug, Default)]
pub struct HardLinks {
    first: HashMap<(u64, u64), (Vec<u8>, u64)>,
}

impl HardLinks {
    /// The first path and catalog index of this inode when seen before; else records it.
    pub fn seen(&mut self, meta: &Metadata, rel: &[u8], index: u64) -> Option<(Vec<u8>, u64)> {
        // Any inode but a directory can have several names: files, and also symlinks,
        // device nodes and FIFOs.
        if meta.is_dir() || meta.nlink() < 2 {
            return None;
        }
        let key = (meta.dev(), meta.ino());
        if let Some(first) = self.first.get(&key) {
            return Some(first.clone());
        }
        self.first.insert(key, (rel.to_vec(), index));
        None
    }
}

/// Problems reading one file's metadata that do not stop the backup.
#[derive(Debug)]
pub struct MetaWarning(pub String);

/// Builds the archive entry for a visited path. `link` is the earlier path of the same
/// inode, when there is one.
pub fn entry_meta(
    visit: &Visit,
    names: &Names,
    link: Option<Vec<u8>>,
    warnings: &mut Vec<MetaWarning>,
) -> EntryMeta {
    let m = &visit.meta;
    let ft = m.file_type();
    let kind = if let Some(target) = link {
        EntryKind::HardLink { target }
    } else if ft.is_file() {
        EntryKind::File {
            size: m.len(),
            sparse: sparse_extents(&visit.host, m).unwrap_or_else(|e| {
                warnings.push(MetaWarning(format!(
                    "{}: cannot map its holes ({e}); stored in full",
                    visit.host.display()
                )));
                None
            }),
        }
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_symlink() {
        match fs::read_link(&visit.host) {
            Ok(t) => EntryKind::Symlink {
                target: std::os::unix::ffi::OsStrExt::as_bytes(t.as_os_str()).to_vec(),
            },
            Err(e) => {
                warnings.push(MetaWarning(format!(
                    "{}: cannot read the link ({e}); stored as an empty link",
                    visit.host.display()
                )));
                EntryKind::Symlink { target: Vec::new() }
            }
        }
    } else if ft.is_char_device() {
        let (major, minor) = split_dev(m.rdev());
        EntryKind::CharDevice { major, minor }
    } else if ft.is_block_device() {
        let (major, minor) = split_dev(m.rdev());
        EntryKind::BlockDevice { major, minor }
    } else {
        // FIFOs; sockets are recreated by the programs that own them, a FIFO stands in.
        EntryKind::Fifo
    };
    let xattrs = read_xattrs(&visit.host).unwrap_or_else(|e| {
        warnings.push(MetaWarning(format!(
            "{}: cannot read its extended attributes ({e})",
            visit.host.display()
        )));
        Vec::new()
    });
    EntryMeta {
        path: visit.rel.clone(),
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        user: names.users.get(&m.uid()).cloned(),
        group: names.groups.get(&m.gid()).cloned(),
        mtime: (m.mtime(), m.mtime_nsec() as u32),
        atime: None,
        xattrs,
        slice: None,
    }
}

fn split_dev(dev: u64) -> (u32, u32) {
    crate::probe::sysfs::split_dev(dev)
}

/// All extended attributes of a path (not following symlinks), in name order.
fn read_xattrs(path: &Path) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for name in names[..len].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 256];
        let n = loop {
            match rustix::fs::lgetxattr(path, name, &mut value) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                // Removed since it was listed.
                Err(rustix::io::Errno::NODATA) => break usize::MAX,
                Err(e) => return Err(e.into()),
            }
        };
        if n != usize::MAX {
            out.push((name.to_vec(), value[..n].to_vec()));
        }
    }
    out.sort();
    Ok(out)
}

/// The data extents of a file with holes; None for a dense file. Only files that occupy
/// fewer blocks than their size are asked.
fn sparse_extents(path: &Path, meta: &Metadata) -> std::io::Result<Option<Vec<(u64, u64)>>> {
    if meta.len() == 0 || meta.blocks() * 512 >= meta.len() {
        return Ok(None);
    }
    let extents = data_extents(&File::open(path)?)?;
    // A map longer than a restore believes is stored dense instead: the same content.
    if extents.len() > rescue_core::archive::MAX_SPARSE_EXTENTS {
        return Ok(None);
    }
    Ok(Some(extents))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn parses_passwd_style_tables() {
        let t = parse_id_table(b"root:x:0:0::/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\nbad line\nroot2:x:0:0\n");
        assert_eq!(t[&0], b"root");
        assert_eq!(t[&1000], b"ann");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn finds_the_data_extents_of_a_sparse_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sparse");
        let mut f = File::create(&p).unwrap();
        f.write_all(&[1u8; 4096]).unwrap();
        f.seek(SeekFrom::Start(8 << 20)).unwrap();
        f.write_all(&[2u8; 4096]).unwrap();
        f.set_len(16 << 20).unwrap();
        drop(f);
        let m = fs::metadata(&p).unwrap();
        let ext = sparse_extents(&p, &m).unwrap().expect("sparse");
        assert_eq!(ext.first().map(|e| e.0), Some(0));
        assert!(ext.iter().any(|(o, _)| *o == 8 << 20), "{ext:?}");
        let dense = d.path().join("dense");
        fs::write(&dense, vec![3u8; 10000]).unwrap();
        assert_eq!(
            sparse_extents(&dense, &fs::metadata(&dense).unwrap()).unwrap(),
            None
        );
    }

    #[test]
    fn reads_user_xattrs() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        fs::write(&p, b"").unwrap();
        if rustix::fs::lsetxattr(&p, "user.k", b"v", rustix::fs::XattrFlags::empty()).is_err() {
            eprintln!("skipped: no user xattrs on the temp filesystem");
            return;
        }
        assert_eq!(
            read_xattrs(&p).unwrap(),
            vec![(b"user.k".to_vec(), b"v".to_vec())]
        );
    }
}
