//! The file tree of the rescue system, gathered before it is written as an archive.
//!
//! Gatherers (kernel modules, tools and their libraries, the skeleton, restore-tui) add
//! entries by their absolute path in the rescue system; the archive writer walks them in
//! path order, so parents always come before their children.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Where a file's bytes come from.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// Read from this path on the host when the archive is written.
    Host(PathBuf),
    /// Held in memory (generated files such as modules.dep or the mountlist).
    Bytes(Vec<u8>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Host(p) => write!(f, "Host({})", p.display()),
            Source::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Source),
    Symlink(PathBuf),
    CharDevice { major: u32, minor: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits (and setuid/setgid/sticky); the type comes from `kind`.
    pub mode: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{0}: paths in the rescue system must be absolute and plain (no \"..\")")]
    BadPath(PathBuf),
    #[error("{path}: already added as {existing}, cannot add it again as {new}")]
    Conflict {
        path: PathBuf,
        existing: &'static str,
        new: &'static str,
    },
    #[error("{path}: a parent ({parent}) is not a directory")]
    ParentNotDir { path: PathBuf, parent: PathBuf },
}

/// Paths are kept relative to the root ("usr/bin/sh"), as the archive stores them.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    entries: BTreeMap<PathBuf, Entry>,
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds a directory (and its parents). Adding an existing directory again is fine.
    pub fn dir(&mut self, path: impl AsRef<Path>, mode: u32) -> Result<(), TreeError> {
        let rel = relative(path.as_ref())?;
        self.insert(rel, Kind::Dir, mode)
    }

    /// Adds a file whose bytes are read from `host` when the archive is written.
    pub fn host_file(
        &mut self,
        path: impl AsRef<Path>,
        host: impl Into<PathBuf>,
        mode: u32,
    ) -> Result<(), TreeError> {
        let rel = relative(path.as_ref())?;
        self.insert(rel, Kind::File(Source::Host(host.into())), mode)
    }

    pub fn bytes(
        &mut self,
        path: impl AsRef<Path>,
        data: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<(), TreeError> {
        let rel = relative(path.as_ref())?;
        self.insert(rel, Kind::File(Source::Bytes(data.into())), mode)
    }

    pub fn symlink(
        &mut self,
        path: impl AsRef<Path>,
        target: impl Into<PathBuf>,
    ) -> Result<(), TreeError> {
        let rel = relative(path.as_ref())?;
        self.insert(rel, Kind::Symlink(target.into()), 0o777)
    }

    pub fn char_device(
        &mut self,
        path: impl AsRef<Path>,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> Result<(), TreeError> {
        let rel = relative(path.as_ref())?;
        self.insert(rel, Kind::CharDevice { major, minor }, mode)
    }

    pub fn contains(&self, path: impl AsRef<Path>) -> bool {
        self.get(path).is_some()
    }

    /// The entry at `path`, following symlinked parent directories.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<&Entry> {
        self.resolve_parents(path.as_ref())
            .ok()
            .and_then(|rel| self.entries.get(&rel))
    }

    /// Entries in archive order: every parent before its children.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_path(), e))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn insert(&mut self, rel: PathBuf, kind: Kind, mode: u32) -> Result<(), TreeError> {
        // Files under a symlinked directory (merged /usr) are stored where the link points.
        let rel = self.resolve_parents(&Path::new("/").join(rel))?;
        self.parents(&rel)?;
        match self.entries.get(&rel) {
            None => {
                self.entries.insert(rel, Entry { kind, mode });
                Ok(())
            }
            // The same thing twice (two tools needing one library) is not a conflict.
            Some(existing) if existing.kind == kind => Ok(()),
            Some(existing) => Err(TreeError::Conflict {
                path: Path::new("/").join(&rel),
                existing: kind_name(&existing.kind),
                new: kind_name(&kind),
            }),
        }
    }

    /// Makes the parent directories of `rel` (whose symlinked parents are already resolved).
    fn parents(&mut self, rel: &Path) -> Result<(), TreeError> {
        let mut prefix = PathBuf::new();
        let components: Vec<_> = rel.components().collect();
        for c in components.iter().take(components.len().saturating_sub(1)) {
            prefix.push(c);
            match self.entries.get(&prefix).map(|e| &e.kind) {
                None => {
                    self.entries.insert(
                        prefix.clone(),
                        Entry {
                            kind: Kind::Dir,
                            mode: 0o755,
                        },
                    );
                }
                Some(Kind::Dir) | Some(Kind::Symlink(_)) => {}
                Some(_) => {
                    return Err(TreeError::ParentNotDir {
                        path: Path::new("/").join(rel),
                        parent: Path::new("/").join(&prefix),
                    })
                }
            }
        }
        Ok(())
    }

    /// Where a path resolves to once symlinked parent directories are followed inside the
    /// tree (so "/lib/x" is stored at "usr/lib/x" when /lib -> usr/lib). Only parents are
    /// followed, never the last component, and at most 40 links, as the kernel does.
    pub fn resolve_parents(&self, path: &Path) -> Result<PathBuf, TreeError> {
        let rel = relative(path)?;
        let mut todo: Vec<OsString> = rel
            .components()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        todo.reverse();
        let mut done = PathBuf::new();
        let mut links = 0;
        while let Some(part) = todo.pop() {
            let candidate = done.join(&part);
            let is_last = todo.is_empty();
            match self.entries.get(&candidate).map(|e| &e.kind) {
                Some(Kind::Symlink(target)) if !is_last && links < 40 => {
                    links += 1;
                    let base = if target.is_absolute() {
                        PathBuf::new()
                    } else {
                        done.clone()
                    };
                    let joined = base.join(target);
                    let mut parts: Vec<OsString> = Vec::new();
                    for c in joined.components() {
                        match c {
                            Component::Normal(n) => parts.push(n.to_os_string()),
                            Component::ParentDir => {
                                parts.pop();
                            }
                            _ => {}
                        }
                    }
                    done = PathBuf::new();
                    for p in parts.into_iter().rev() {
                        todo.push(p);
                    }
                }
                _ => done = candidate,
            }
        }
        Ok(done)
    }
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Dir => "a directory",
        Kind::File(_) => "a file",
        Kind::Symlink(_) => "a symlink",
        Kind::CharDevice { .. } => "a device node",
    }
}

/// "/usr/bin/sh" -> "usr/bin/sh"; refuses relative paths and "..".
fn relative(path: &Path) -> Result<PathBuf, TreeError> {
    let bad = || TreeError::BadPath(path.to_path_buf());
    if !path.is_absolute() {
        return Err(bad());
    }
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) if !n.as_bytes().is_empty() => rel.push(n),
            _ => return Err(bad()),
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(bad());
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_first_and_are_made_on_demand() {
        let mut t = Tree::new();
        t.bytes("/usr/bin/tool", b"x".to_vec(), 0o755).unwrap();
        t.dir("/usr-extra", 0o755).unwrap();
        t.symlink("/bin", "usr/bin").unwrap();
        let order: Vec<String> = t.iter().map(|(p, _)| p.display().to_string()).collect();
        // Component-wise order: a directory and everything in it, then its next sibling.
        assert_eq!(
            order,
            vec!["bin", "usr", "usr/bin", "usr/bin/tool", "usr-extra"]
        );
        assert_eq!(t.get("/usr").unwrap().kind, Kind::Dir);
    }

    #[test]
    fn the_same_entry_twice_is_fine_but_a_different_one_conflicts() {
        let mut t = Tree::new();
        t.host_file("/lib/libc.so.6", "/lib/libc.so.6", 0o755)
            .unwrap();
        t.host_file("/lib/libc.so.6", "/lib/libc.so.6", 0o755)
            .unwrap();
        let err = t.symlink("/lib/libc.so.6", "x").unwrap_err();
        assert!(err.to_string().contains("already added as a file"), "{err}");
        let err = t
            .bytes("/lib/libc.so.6/inner", b"".to_vec(), 0o644)
            .unwrap_err();
        assert!(matches!(err, TreeError::ParentNotDir { .. }), "{err}");
    }

    #[test]
    fn refuses_relative_and_dotdot_paths() {
        let mut t = Tree::new();
        assert!(t.dir("etc", 0o755).is_err());
        assert!(t.dir("/etc/../x", 0o755).is_err());
        assert!(t.dir("/", 0o755).is_err());
    }

    #[test]
    fn files_under_a_symlinked_dir_land_where_it_points() {
        let mut t = Tree::new();
        t.symlink("/lib", "usr/lib").unwrap();
        t.bytes("/lib/x/libc.so.6", b"elf".to_vec(), 0o755).unwrap();
        assert!(t.get("/usr/lib/x/libc.so.6").is_some());
        let order: Vec<String> = t.iter().map(|(p, _)| p.display().to_string()).collect();
        assert_eq!(
            order,
            vec!["lib", "usr", "usr/lib", "usr/lib/x", "usr/lib/x/libc.so.6"]
        );
    }

    #[test]
    fn resolves_symlinked_parents_like_merged_usr() {
        let mut t = Tree::new();
        t.symlink("/lib", "usr/lib").unwrap();
        t.symlink("/lib64", "/usr/lib64").unwrap();
        t.symlink("/usr/lib/alt", "../lib64/real").unwrap();
        let r = |p: &str| t.resolve_parents(Path::new(p)).unwrap();
        assert_eq!(
            r("/lib/x86_64-linux-gnu/libc.so.6"),
            Path::new("usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(r("/lib64/ld.so"), Path::new("usr/lib64/ld.so"));
        assert_eq!(r("/lib/alt/f"), Path::new("usr/lib64/real/f"));
        // The last component is never followed.
        assert_eq!(r("/lib"), Path::new("lib"));
    }
}
