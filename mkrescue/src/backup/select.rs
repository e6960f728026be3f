//! Which files a backup takes: a sorted walk of the captured root that descends into the
//! filesystems of the mountlist and no others, minus excludes, limited to includes, and
//! never into mkrescue's own output or scratch directories.

use crate::gather::pattern::fnmatch_bytes;
use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `-I` / `-E` patterns. One starting with "/" matches a path from the captured root (and
/// everything below a match); one without "/" matches a file name anywhere.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
}

/// One selected entry: its path relative to the root ("home/ann"), where it is on the host,
/// and its metadata (lstat).
#[derive(Debug)]
pub struct Visit {
    pub rel: Vec<u8>,
    pub host: PathBuf,
    pub meta: Metadata,
}

/// A directory that could not be listed: reported, and the walk goes on.
#[derive(Debug)]
pub struct WalkProblem {
    pub host: PathBuf,
    pub error: std::io::Error,
}

/// (path relative to the root, path on the host) of a directory's entries, sorted, and
/// whether that directory's content belongs to a filesystem being backed up (else only
/// the way down to the mount points of those is taken).
type Children = (std::vec::IntoIter<(Vec<u8>, PathBuf)>, bool);

pub struct Walker {
    root: PathBuf,
    rules: Rules,
    /// Devices of the filesystems to back up.
    devices: HashSet<u64>,
    /// (dev, ino) of directories never to enter: the output and scratch folders.
    skip: HashSet<(u64, u64)>,
    /// Where each filesystem backed up is read from, by its mount point relative to the
    /// root ("" for the root): a directory that shows that filesystem alone (a private
    /// bind mount of it), so what lies under its mount points is seen and nothing mounted
    /// over it hides anything. Empty: the live tree, filesystems told apart by `devices`.
    sources: std::collections::BTreeMap<Vec<u8>, PathBuf>,
    /// The sorted children still to visit of each directory being walked, deepest last.
    stack: Vec<Children>,
    started: bool,
    /// Which patterns matched something, to warn about the ones that never did.
    used: Vec<bool>,
    pub problems: Vec<WalkProblem>,
}

impl std::fmt::Debug for Walker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walker").field("root", &self.root).finish()
    }
}

impl Walker {
    /// `devices`: st_dev of each filesystem to back up; `skip`: directories never entered.
    pub fn new(root: &Path, rules: Rules, devices: HashSet<u64>, skip: &[PathBuf]) -> Walker {
        let skip = skip
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| (m.dev(), m.ino()))
            .collect();
        let used = vec![false; rules.includes.len() + rules.excludes.len()];
        Walker {
            root: root.to_path_buf(),
            rules,
            devices,
            skip,
            stack: Vec::new(),
            sources: Default::default(),
            started: false,
            used,
            problems: Vec::new(),
        }
    }

    /// Reads each filesystem from its own directory (see the field `sources`).
    pub fn with_sources(mut self, sources: Vec<(Vec<u8>, PathBuf)>) -> Walker {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Whether `rel` lies on the way to the mount point of a filesystem backed up.
    fn leads_to_source(&self, rel: &[u8]) -> bool {
        self.sources
            .keys()
            .any(|mp| mp.len() > rel.len() && mp.starts_with(rel) && mp[rel.len()] == b'/')
    }

    /// The patterns that matched nothing in the whole walk (worth a warning).
    pub fn unused_patterns(&self) -> Vec<String> {
        self.rules
            .includes
            .iter()
            .chain(&self.rules.excludes)
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn excluded(&mut self, rel: &[u8]) -> bool {
        let offset = self.rules.includes.len();
        for (i, pattern) in self.rules.excludes.iter().enumerate() {
            if matches_rule(pattern.as_bytes(), rel) {
                self.used[offset + i] = true;
                return true;
            }
        }
        false
    }

    /// With includes, an entry is kept when it lies under one, or is a directory on the
    /// way to one.
    fn included(&mut self, rel: &[u8], is_dir: bool) -> bool {
        if self.rules.includes.is_empty() {
            return true;
        }
        for (i, pattern) in self.rules.includes.iter().enumerate() {
            if matches_rule(pattern.as_bytes(), rel) {
                self.used[i] = true;
                return true;
            }
            if is_dir && is_ancestor_of_pattern(rel, pattern.as_bytes()) {
                return true;
            }
        }
        false
    }

    fn list(&mut self, rel: &[u8], host: &Path, captured: bool) -> Children {
        let entries = match fs::read_dir(host) {
            Ok(it) => it,
            Err(error) => {
                self.problems.push(WalkProblem {
                    host: host.to_path_buf(),
                    error,
                });
                return (Vec::new().into_iter(), captured);
            }
        };
        let mut children: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => {
                    let name = e.file_name();
                    let mut child = rel.to_vec();
                    if !child.is_empty() {
                        child.push(b'/');
                    }
                    child.extend_from_slice(name.as_bytes());
                    children.push((child, e.path()));
                }
                Err(error) => self.problems.push(WalkProblem {
                    host: host.to_path_buf(),
                    error,
                }),
            }
        }
        children.sort();
        (children.into_iter(), captured)
    }
}

impl Iterator for Walker {
    type Item = Visit;

    fn next(&mut self) -> Option<Visit> {
        if !self.started {
            self.started = true;
            let (root, captured) = match self.sources.get(&b""[..]) {
                Some(dir) => (dir.clone(), true),
                // With sources, the filesystems backed up are exactly those: a root that is
                // not among them is only the way down to them.
                None => (self.root.clone(), self.sources.is_empty()),
            };
            let children = self.list(b"", &root, captured);
            self.stack.push(children);
        }
        loop {
            let (children, captured) = self.stack.last_mut()?;
            let captured = *captured;
            let Some((rel, mut host)) = children.next() else {
                self.stack.pop();
                continue;
            };
            // Another filesystem backed up is mounted here: read it from its own directory.
            let source = self.sources.get(&rel).cloned();
            if let Some(dir) = &source {
                host.clone_from(dir);
            } else if !captured && !self.leads_to_source(&rel) {
                // Not part of a filesystem backed up, nor on the way to one.
                continue;
            }
            let meta = match fs::symlink_metadata(&host) {
                Ok(m) => m,
                // Gone between the listing and now: nothing to back up.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => {
                    self.problems.push(WalkProblem { host, error });
                    continue;
                }
            };
            if self.excluded(&rel) || !self.included(&rel, meta.is_dir()) {
                continue;
            }
            if meta.is_dir() {
                if self.skip.contains(&(meta.dev(), meta.ino())) {
                    continue;
                }
                // A mount point of a filesystem that is not backed up is kept as an empty
                // directory, so the restore recreates the place it is mounted on.
                let inside = source.is_some() || (captured && self.devices.contains(&meta.dev()));
                if inside || self.leads_to_source(&rel) {
                    let children = self.list(&rel, &host, inside);
                    self.stack.push(children);
                }
            }
            return Some(Visit { rel, host, meta });
        }
    }
}

impl Rules {
    /// Whether an exclude pattern leaves out `rel` (relative to the captured root, "var").
    pub fn excludes(&self, rel: &[u8]) -> bool {
        self.excludes
            .iter()
            .any(|pattern| matches_rule(pattern.as_bytes(), rel))
    }
}

/// Does `pattern` select `rel` (or a directory above it)?
fn matches_rule(pattern: &[u8], rel: &[u8]) -> bool {
    if let Some(anchored) = pattern.strip_prefix(b"/") {
        let anchored = anchored.strip_suffix(b"/").unwrap_or(anchored);
        // The path itself, or any of its parents, matching means it is below a match.
        let mut end = rel.len();
        loop {
            if fnmatch_bytes(anchored, &rel[..end]) {
                return true;
            }
            match rel[..end].iter().rposition(|b| *b == b'/') {
                Some(i) => end = i,
                None => return false,
            }
        }
    }
    let name = rel.rsplit(|b| *b == b'/').next().unwrap_or(rel);
    fnmatch_bytes(pattern, name)
}

/// Is `rel` a directory on the way to what an anchored include names?
fn is_ancestor_of_pattern(rel: &[u8], pattern: &[u8]) -> bool {
    let Some(anchored) = pattern.strip_prefix(b"/") else {
        // A name pattern can match anywhere: every directory may lead to one.
        return true;
    };
    let parts: Vec<&[u8]> = anchored.split(|b| *b == b'/').collect();
    let rel_parts: Vec<&[u8]> = rel.split(|b| *b == b'/').collect();
    rel_parts.len() < parts.len()
        && rel_parts
            .iter()
            .zip(&parts)
            .all(|(r, p)| fnmatch_bytes(p, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[&str]) {
        for f in files {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            if f.ends_with('/') {
                fs::create_dir_all(&p).unwrap();
            } else {
                fs::write(p, b"x").unwrap();
            }
        }
    }

    fn walked(w: Walker) -> Vec<(String, PathBuf)> {
        w.map(|v| (String::from_utf8(v.rel).unwrap(), v.host))
            .collect()
    }

    /// Each filesystem read from its own directory (as a private bind shows it): what lies
    /// under a mount point of another filesystem is skipped for that filesystem's root,
    /// and under mount points of filesystems not backed up (/proc) it is seen.
    #[test]
    fn with_sources_each_filesystem_is_read_from_its_own_directory() {
        let d = tempfile::tempdir().unwrap();
        let (rootfs, homefs) = (d.path().join("rootfs"), d.path().join("homefs"));
        write(
            &rootfs,
            &["dev/console", "proc/", "home/hidden-under-mount"],
        );
        write(&homefs, &["ann/notes"]);
        let dev = fs::metadata(d.path()).unwrap().dev();
        let w = Walker::new(
            Path::new("/nonexistent-live-root"),
            Rules::default(),
            HashSet::from([dev]),
            &[],
        )
        .with_sources(vec![
            (Vec::new(), rootfs.clone()),
            (b"home".to_vec(), homefs.clone()),
        ]);
        assert_eq!(
            walked(w),
            [
                ("dev".to_string(), rootfs.join("dev")),
                ("dev/console".into(), rootfs.join("dev/console")),
                ("home".into(), homefs.clone()),
                ("home/ann".into(), homefs.join("ann")),
                ("home/ann/notes".into(), homefs.join("ann/notes")),
                ("proc".into(), rootfs.join("proc")),
            ]
        );
    }

    /// A filesystem backed up whose parent is not (the ESP of a root that could not be
    /// captured): the way down to it is taken, nothing else of the parent.
    #[test]
    fn a_filesystem_below_one_not_backed_up_is_still_reached() {
        let d = tempfile::tempdir().unwrap();
        let (live, esp) = (d.path().join("live"), d.path().join("esp"));
        write(&live, &["etc/passwd", "boot/vmlinuz", "boot/efi/"]);
        write(&esp, &["EFI/BOOT/BOOTX64.EFI"]);
        // The live root is not among the devices backed up; the ESP (here on the same
        // test filesystem) is told by its source.
        let dev = fs::metadata(&esp).unwrap().dev();
        let w = Walker::new(&live, Rules::default(), HashSet::from([dev]), &[])
            .with_sources(vec![(b"boot/efi".to_vec(), esp.clone())]);
        let rels: Vec<String> = walked(w).into_iter().map(|(r, _)| r).collect();
        assert_eq!(
            rels,
            [
                "boot",
                "boot/efi",
                "boot/efi/EFI",
                "boot/efi/EFI/BOOT",
                "boot/efi/EFI/BOOT/BOOTX64.EFI"
            ]
        );
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "etc/fstab",
            "home/ann/a.txt",
            "home/ann/.cache/x",
            "home/bob/b.tmp",
            "var/log/syslog",
            "var/cache/apt/pkg",
        ] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, b"x").unwrap();
        }
        d
    }

    fn walk(root: &Path, rules: Rules, skip: &[PathBuf]) -> (Vec<String>, Vec<String>) {
        let dev = fs::metadata(root).unwrap().dev();
        let mut w = Walker::new(root, rules, HashSet::from([dev]), skip);
        let seen: Vec<String> = w
            .by_ref()
            .map(|v| String::from_utf8(v.rel).unwrap())
            .collect();
        (seen, w.unused_patterns())
    }

    #[test]
    fn walks_sorted_with_directories_before_their_contents() {
        let d = tree();
        let (seen, _) = walk(d.path(), Rules::default(), &[]);
        assert_eq!(seen[..4], ["etc", "etc/fstab", "home", "home/ann"]);
        assert_eq!(seen.len(), 15);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
    }

    #[test]
    fn excludes_anchored_paths_and_names_and_reports_unused_patterns() {
        let d = tree();
        let rules = Rules {
            includes: vec![],
            excludes: vec![
                "/var/cache".into(),
                "*.tmp".into(),
                "/home/*/.cache".into(),
                "/nope".into(),
            ],
        };
        let (seen, unused) = walk(d.path(), rules, &[]);
        assert!(!seen.iter().any(|p| p.starts_with("var/cache")), "{seen:?}");
        assert!(!seen.iter().any(|p| p.ends_with(".tmp")), "{seen:?}");
        assert!(!seen.iter().any(|p| p.contains(".cache")), "{seen:?}");
        assert!(seen.contains(&"var/log/syslog".to_string()));
        assert_eq!(unused, vec!["/nope".to_string()]);
    }

    #[test]
    fn includes_keep_their_trees_and_the_way_to_them() {
        let d = tree();
        let rules = Rules {
            includes: vec!["/home/ann".into()],
            excludes: vec![],
        };
        let (seen, _) = walk(d.path(), rules, &[]);
        assert_eq!(
            seen,
            [
                "home",
                "home/ann",
                "home/ann/.cache",
                "home/ann/.cache/x",
                "home/ann/a.txt"
            ]
        );
    }

    #[test]
    fn never_enters_the_output_folder() {
        let d = tree();
        let out = d.path().join("var/log");
        let (seen, _) = walk(d.path(), Rules::default(), &[out]);
        assert!(!seen.iter().any(|p| p.starts_with("var/log")), "{seen:?}");
    }

    #[test]
    fn an_unreadable_directory_is_reported_and_the_walk_goes_on() {
        let d = tree();
        let dev = fs::metadata(d.path()).unwrap().dev();
        let mut w = Walker::new(
            &d.path().join("missing-root"),
            Rules::default(),
            HashSet::from([dev]),
            &[],
        );
        assert!(w.next().is_none());
        assert_eq!(w.problems.len(), 1);
    }
}
