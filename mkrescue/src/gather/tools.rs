//! The programs a restore runs, copied from the host with everything they need to start:
//! their shared libraries (found from the ELF headers the way ld.so finds them, never by
//! running ldd), the loader, script interpreters, and symlinks kept as symlinks.
//!
//! Host files are read under `host_root` (so tests can use a fake root); in the tree they
//! get the absolute paths they have on the host.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};

use super::elf::{self, expand_dst, ElfInfo};
use super::ldcache::{default_dirs, ld_so_conf_dirs, LdCache};
use crate::initramfs::tree::{Kind, Tree, TreeError};

/// What a restore runs, and what a person needs in the expert shell. `a|b` means the
/// first of these that the host has (RHEL names GRUB's tools grub2-*).
pub const DEFAULT_TOOLS: &[&str] = &[
    // ext2/3/4
    "mke2fs",
    "mkfs.ext2",
    "mkfs.ext3",
    "mkfs.ext4",
    "e2label",
    "tune2fs",
    "e2fsck",
    "resize2fs",
    // XFS (xfs_admin is a script around xfs_db)
    "mkfs.xfs",
    "xfs_admin",
    "xfs_db",
    "xfs_repair",
    // FAT (the ESP)
    "mkfs.vfat",
    "mkfs.fat",
    "fatlabel",
    "fsck.fat",
    // btrfs
    "mkfs.btrfs",
    "btrfs",
    // swap, labels, partitions
    "mkswap",
    "swaplabel",
    "blkid",
    "sfdisk",
    "partx",
    "wipefs",
    "lsblk",
    "mount",
    "umount",
    // boot loader
    "grub-install|grub2-install",
    "grub-mkconfig|grub2-mkconfig",
    "grub-probe|grub2-probe",
    "efibootmgr",
    // modules
    "kmod",
    "modprobe",
    "insmod",
    "lsmod",
    "rmmod",
    "depmod",
    "modinfo",
    // shells
    "sh",
    "bash",
    // the expert shell
    "ls",
    "cat",
    "cp",
    "mv",
    "rm",
    "mkdir",
    "rmdir",
    "ln",
    "chmod",
    "chown",
    "touch",
    "chroot",
    "sync",
    "dmesg",
    "df",
    "du",
    "dd",
    "head",
    "tail",
    "grep",
    "sed",
    "tar",
    "less|more",
];

/// The filesystem type a tool is only needed for: a host without any such filesystem
/// is not warned that it lacks the tool.
pub fn needed_only_for(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "mke2fs" | "mkfs.ext2" | "mkfs.ext3" | "mkfs.ext4" | "e2label" | "tune2fs" | "e2fsck"
        | "resize2fs" => "ext",
        "mkfs.xfs" | "xfs_admin" | "xfs_db" | "xfs_repair" => "xfs",
        "mkfs.vfat" | "mkfs.fat" | "fatlabel" | "fsck.fat" => "vfat",
        "mkfs.btrfs" | "btrfs" => "btrfs",
        "mkswap" | "swaplabel" => "swap",
        _ => return None,
    })
}

/// Nice to have in the expert shell; gathered when present, and nobody needs a warning
/// when they are not.
pub const OPTIONAL_TOOLS: &[&str] = &[
    "vi", "nano", "busybox", "sgdisk", "parted", "fdisk", "findmnt", "zstd", "gzip", "xz", "find",
    "stat",
];

/// Where tools are looked for, in PATH order.
pub const TOOL_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// GRUB's platform folders and data, copied whole when grub-install is gathered.
const GRUB_DIRS: &[&str] = &[
    "/usr/lib/grub/i386-pc",
    "/usr/lib/grub/x86_64-efi",
    "/usr/lib/grub/x86_64-efi-signed",
    "/usr/share/grub",
    "/usr/share/grub2",
];

/// Programs grub-install runs.
const GRUB_HELPERS: &[&str] = &[
    "grub-mkimage|grub2-mkimage",
    "grub-probe|grub2-probe",
    "grub-bios-setup|grub2-bios-setup",
    "grub-editenv|grub2-editenv",
    "efibootmgr",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolReport {
    /// Tool name -> its path in the rescue system.
    pub found: BTreeMap<String, String>,
    /// Names not found on the host (the caller warns and records them).
    pub missing: Vec<String>,
    /// Regular files added (tools, libraries, loader, GRUB's folders).
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Symlinks added (mkfs.ext4 -> mke2fs, libfoo.so.1 -> libfoo.so.1.2.3, /lib -> usr/lib).
    pub symlinks: usize,
    /// Libraries a gathered file needs that were found nowhere:
    /// "libfoo.so.1 (needed by /usr/bin/x)". That file would not start on the host either.
    pub unresolved: Vec<String>,
}

/// One loaded object as ld.so sees it.
#[derive(Debug, Clone)]
struct Object {
    /// The path it was found at (on the host, not under the root).
    path: PathBuf,
    info: ElfInfo,
    /// What `$ORIGIN` stands for: the directory of the program after symlinks (as the
    /// kernel reports /proc/self/exe), the directory a library was found in.
    origin: PathBuf,
}

/// Finds libraries the way ld.so does, reading files under a root.
#[derive(Debug)]
pub struct LibResolver {
    root: PathBuf,
    cache: Option<LdCache>,
    conf_dirs: Vec<PathBuf>,
}

/// A program's libraries, all of them (ldd's list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibClosure {
    /// PT_INTERP, as written in the program.
    pub interp: Option<PathBuf>,
    /// DT_NEEDED name -> where it was found (the path as found, before symlinks).
    pub libs: BTreeMap<String, PathBuf>,
    /// (name, needed by) of libraries found nowhere.
    pub unresolved: Vec<(String, PathBuf)>,
}

impl LibResolver {
    pub fn new(host_root: &Path) -> anyhow::Result<LibResolver> {
        Ok(LibResolver {
            root: host_root.to_path_buf(),
            cache: LdCache::read(host_root)?,
            conf_dirs: ld_so_conf_dirs(host_root),
        })
    }

    /// `path` (absolute on the host) under the root.
    pub fn host(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// Follows symlinks inside the root (absolute targets stay inside it). The resolved
    /// host path of something that exists, or None.
    pub fn realpath(&self, path: &Path) -> Option<PathBuf> {
        let mut todo: Vec<OsString> = components(path);
        let mut done = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            let cand = done.join(&part);
            let meta = std::fs::symlink_metadata(self.host(&cand)).ok()?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = std::fs::read_link(self.host(&cand)).ok()?;
                if target.is_absolute() {
                    done = PathBuf::from("/");
                }
                todo.extend(components(&target));
            } else {
                done = cand;
            }
        }
        Some(done)
    }

    fn read_object(&self, path: &Path, is_program: bool) -> anyhow::Result<Object> {
        let real = self
            .realpath(path)
            .with_context(|| format!("{} does not exist", path.display()))?;
        let info = elf::read(&self.host(&real))?;
        // ld.so keeps these paths as text ("/opt/x/bin/../lib"): so do we.
        let origin_of = if is_program { &real } else { path };
        let origin = origin_of.parent().unwrap_or(Path::new("/")).to_path_buf();
        Ok(Object {
            path: path.to_path_buf(),
            info,
            origin,
        })
    }

    /// Whether the file at `path` (host path) is an ELF object `for_obj` can load.
    fn usable(&self, path: &Path, for_obj: &ElfInfo) -> bool {
        let Some(real) = self.realpath(path) else {
            return false;
        };
        let host = self.host(&real);
        if !host.is_file() {
            return false;
        }
        matches!(
            elf::read_ident(&host),
            Some((is_64, machine, le))
                if is_64 == for_obj.is_64 && machine == for_obj.machine && le == for_obj.little_endian
        )
    }

    /// Where ld.so would find `name` for the last object of `chain` (the program first,
    /// then each object that loaded the next).
    fn find(&self, name: &str, chain: &[Object]) -> Option<PathBuf> {
        let obj = chain.last()?;
        if name.contains('/') {
            // Relative to the working directory, for ld.so; "/" here.
            let p = Path::new("/").join(name);
            return self.usable(&p, &obj.info).then_some(p);
        }
        let try_dirs = |dirs: &mut dyn Iterator<Item = PathBuf>| -> Option<PathBuf> {
            dirs.map(|d| d.join(name))
                .find(|p| self.usable(p, &obj.info))
        };
        let expand = |o: &Object, list: &[String]| -> Vec<PathBuf> {
            list.iter()
                .flat_map(|e| expand_dst(e, &o.origin, o.info.is_64, o.info.machine))
                .collect()
        };
        // DT_RPATH of the object and of the objects that loaded it, when it has no
        // DT_RUNPATH. An object's DT_RPATH is ignored when it has a DT_RUNPATH.
        if obj.info.runpath.is_empty() {
            for o in chain.iter().rev() {
                if o.info.runpath.is_empty() && !o.info.rpath.is_empty() {
                    if let Some(p) = try_dirs(&mut expand(o, &o.info.rpath).into_iter()) {
                        return Some(p);
                    }
                }
            }
        }
        if let Some(p) = try_dirs(&mut expand(obj, &obj.info.runpath).into_iter()) {
            return Some(p);
        }
        if !obj.info.nodeflib {
            if let Some(cache) = &self.cache {
                let mut from_cache = cache.lookup(name).map(|e| e.path.clone());
                if let Some(p) = from_cache.find(|p| self.usable(p, &obj.info)) {
                    return Some(p);
                }
            }
        }
        // Not searched by ld.so itself, but where ldconfig would have looked: finds
        // libraries when the cache is stale or missing.
        if let Some(p) = try_dirs(&mut self.conf_dirs.iter().cloned()) {
            return Some(p);
        }
        if !obj.info.nodeflib {
            let defaults = default_dirs(obj.info.is_64, obj.info.machine);
            if let Some(p) = try_dirs(&mut defaults.into_iter()) {
                return Some(p);
            }
        }
        None
    }

    /// All libraries a program loads, as ldd lists them. Breadth-first like ld.so: all of
    /// the program's DT_NEEDED, then theirs; a name already loaded (as a needed name or
    /// the SONAME of a loaded object, the loader's included) or a file already loaded under
    /// another name is not loaded again. Each object searches with the RPATHs of the chain
    /// of objects that loaded it.
    pub fn closure(&self, program: &Path) -> anyhow::Result<LibClosure> {
        let root = self.read_object(program, true)?;
        let mut out = LibClosure {
            interp: root.info.interp.as_ref().map(PathBuf::from),
            ..LibClosure::default()
        };
        let mut names: HashMap<String, PathBuf> = HashMap::new();
        let mut files: HashSet<PathBuf> = HashSet::new();
        if let Some(interp) = &out.interp {
            names.insert(interp.display().to_string(), interp.clone());
            if let Some(real) = self.realpath(interp) {
                files.insert(real.clone());
                if let Ok(info) = elf::read(&self.host(&real)) {
                    if let Some(soname) = info.soname {
                        names.insert(soname, interp.clone());
                    }
                }
            }
        }
        if let Some(real) = self.realpath(program) {
            files.insert(real);
        }
        // (object, index of the object that loaded it)
        let mut objects: Vec<(Object, Option<usize>)> = vec![(root, None)];
        let mut queue: VecDeque<usize> = VecDeque::from([0]);
        while let Some(i) = queue.pop_front() {
            let mut chain: Vec<Object> = Vec::new();
            let mut at = Some(i);
            while let Some(j) = at {
                chain.push(objects[j].0.clone());
                at = objects[j].1;
            }
            chain.reverse();
            let by = objects[i].0.path.clone();
            for name in objects[i].0.info.needed.clone() {
                if names.contains_key(&name) {
                    continue;
                }
                let Some(path) = self.find(&name, &chain) else {
                    out.unresolved.push((name, by.clone()));
                    continue;
                };
                names.insert(name.clone(), path.clone());
                out.libs.insert(name, path.clone());
                let real = self.realpath(&path).unwrap_or_else(|| path.clone());
                if !files.insert(real) {
                    continue;
                }
                let lib = self.read_object(&path, false).with_context(|| {
                    format!("reading {} (needed by {})", path.display(), by.display())
                })?;
                if let Some(soname) = &lib.info.soname {
                    names.entry(soname.clone()).or_insert_with(|| path.clone());
                }
                objects.push((lib, Some(i)));
                queue.push_back(objects.len() - 1);
            }
        }
        Ok(out)
    }
}

fn components(p: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    v.reverse();
    v
}

/// Adds host files to a tree with what they need; shared by [`gather_tools`] and
/// [`gather_files`].
struct Gatherer<'a> {
    resolver: LibResolver,
    tree: &'a mut Tree,
    report: ToolReport,
    /// Resolved host paths already processed.
    done: HashSet<PathBuf>,
}

impl<'a> Gatherer<'a> {
    fn new(host_root: &Path, tree: &'a mut Tree) -> anyhow::Result<Gatherer<'a>> {
        let mut g = Gatherer {
            resolver: LibResolver::new(host_root)?,
            tree,
            report: ToolReport::default(),
            done: HashSet::new(),
        };
        g.merged_usr_links()?;
        Ok(g)
    }

    /// The host's top-level links into /usr (/bin -> usr/bin ...), first, so that
    /// everything added under them lands where they point.
    fn merged_usr_links(&mut self) -> anyhow::Result<()> {
        for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let host = self.resolver.root.join(name);
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&host)
                    .with_context(|| format!("reading the link {}", host.display()))?;
                self.symlink(&Path::new("/").join(name), target)?;
            }
        }
        Ok(())
    }

    fn symlink(&mut self, at: &Path, target: PathBuf) -> anyhow::Result<()> {
        let existed = self.tree.get(at).is_some();
        self.tree.symlink(at, target).map_err(|e| match e {
            TreeError::Conflict { .. } => anyhow::Error::new(e).context(format!(
                "{} is a symlink on the host; add the tools before anything that makes it a \
                 directory in the rescue system",
                at.display()
            )),
            e => anyhow::Error::new(e),
        })?;
        if !existed {
            self.report.symlinks += 1;
        }
        Ok(())
    }

    /// Adds `path` (absolute on the host) as it is: each symlink on the way (in a parent
    /// directory or the file itself) as a symlink, then what it points to. Returns the
    /// resolved path, or None when nothing is there.
    fn add_path(&mut self, path: &Path) -> anyhow::Result<Option<PathBuf>> {
        let mut todo = components(path);
        let mut done = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            let cand = done.join(&part);
            let host = self.resolver.host(&cand);
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                return Ok(None);
            };
            let kind = meta.file_type();
            if kind.is_symlink() {
                links += 1;
                if links > 40 {
                    bail!("{}: too many levels of symbolic links", path.display());
                }
                let target = std::fs::read_link(&host)
                    .with_context(|| format!("reading the link {}", host.display()))?;
                self.symlink(&cand, target.clone())?;
                if target.is_absolute() {
                    done = PathBuf::from("/");
                }
                todo.extend(components(&target));
            } else if kind.is_dir() {
                done = cand;
            } else if todo.is_empty() && kind.is_file() {
                if self.tree.get(&cand).is_none() {
                    self.report.files += 1;
                    self.report.bytes += meta.len();
                }
                use std::os::unix::fs::PermissionsExt;
                self.tree
                    .host_file(&cand, host, meta.permissions().mode() & 0o7777)?;
                done = cand;
            } else {
                bail!(
                    "{}: {} is neither a directory nor a regular file",
                    path.display(),
                    cand.display()
                );
            }
        }
        Ok(Some(done))
    }

    /// Adds a program or library with everything it needs to run.
    fn add_program(&mut self, path: &Path) -> anyhow::Result<bool> {
        let Some(real) = self.add_path(path)? else {
            return Ok(false);
        };
        if !self.done.insert(real.clone()) {
            return Ok(true);
        }
        let host = self.resolver.host(&real);
        if self.tree.get(&real).map(|e| &e.kind) == Some(&Kind::Dir) {
            return Ok(true);
        }
        let head = read_head(&host)?;
        if elf::is_elf(&head) {
            let closure = self.resolver.closure(path)?;
            if let Some(interp) = &closure.interp {
                if self.add_path(interp)?.is_none() {
                    self.report.unresolved.push(format!(
                        "{} (the loader of {})",
                        interp.display(),
                        path.display()
                    ));
                }
            }
            for lib in closure.libs.values() {
                if let Some(real) = self.add_path(lib)? {
                    self.done.insert(real);
                }
            }
            for (name, by) in closure.unresolved {
                let u = format!("{name} (needed by {})", by.display());
                if !self.report.unresolved.contains(&u) {
                    self.report.unresolved.push(u);
                }
            }
        } else if let Some(line) = head.strip_prefix(b"#!") {
            let line = line.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let line = String::from_utf8_lossy(line);
            let mut words = line.split_whitespace();
            if let Some(interp) = words.next() {
                if !self.add_program(Path::new(interp))? {
                    self.report
                        .unresolved
                        .push(format!("{interp} (the interpreter of {})", path.display()));
                } else if interp.ends_with("/env") {
                    // "#!/usr/bin/env bash": the program named after env, from PATH.
                    if let Some(prog) = words.find(|w| !w.starts_with('-')) {
                        if let Some(p) = self.lookup(prog) {
                            self.add_program(&p)?;
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    /// The first of TOOL_DIRS that holds `name`.
    fn lookup(&self, name: &str) -> Option<PathBuf> {
        if name.contains('/') {
            return None;
        }
        TOOL_DIRS.iter().map(|d| Path::new(d).join(name)).find(|p| {
            self.resolver
                .realpath(p)
                .is_some_and(|r| self.resolver.host(&r).is_file())
        })
    }

    /// Adds one tool (`a|b`: the first one found); false when none is on the host.
    fn add_tool(&mut self, spec: &str) -> anyhow::Result<bool> {
        for name in spec.split('|') {
            if self.report.found.contains_key(name) {
                return Ok(true);
            }
            let Some(path) = self.lookup(name) else {
                continue;
            };
            self.add_program(&path)
                .with_context(|| format!("gathering {name} ({})", path.display()))?;
            self.report
                .found
                .insert(name.to_string(), path.display().to_string());
            if name == "grub-install" || name == "grub2-install" {
                self.add_grub()?;
            }
            return Ok(true);
        }
        Ok(false)
    }

    fn add_grub(&mut self) -> anyhow::Result<()> {
        for dir in GRUB_DIRS {
            self.add_dir(Path::new(dir))?;
        }
        for helper in GRUB_HELPERS {
            if self.add_tool(helper)? || self.add_grub_private(helper)? {
                continue;
            }
            if !self.report.missing.iter().any(|m| m == helper) {
                self.report.missing.push(helper.to_string());
            }
        }
        Ok(())
    }

    /// Debian keeps some of grub-install's helpers (grub-bios-setup) in GRUB's platform
    /// folder rather than on PATH; they are in the tree already, but need their libraries.
    fn add_grub_private(&mut self, helper: &str) -> anyhow::Result<bool> {
        for name in helper.split('|') {
            for dir in GRUB_DIRS {
                let path = Path::new(dir).join(name);
                if self.resolver.host(&path).is_file() {
                    self.add_program(&path)
                        .with_context(|| format!("gathering {name} ({})", path.display()))?;
                    self.report
                        .found
                        .insert(name.to_string(), path.display().to_string());
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Adds a directory and everything in it, symlinks as symlinks; nothing if absent.
    fn add_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        let Some(real) = self.add_path(dir)? else {
            return Ok(());
        };
        let host = self.resolver.host(&real);
        if !host.is_dir() {
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(&host)
            .with_context(|| format!("listing {}", host.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        if entries.is_empty() {
            self.tree.dir(&real, 0o755)?;
        }
        for name in entries {
            let p = real.join(&name);
            let meta = std::fs::symlink_metadata(self.resolver.host(&p))
                .with_context(|| format!("reading {}", p.display()))?;
            if meta.is_dir() {
                self.add_dir(&p)?;
            } else {
                self.add_path(&p)?;
            }
        }
        Ok(())
    }
}

fn read_head(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(256);
    std::fs::File::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .take(256)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(head)
}

/// Finds each tool in `host_root`'s /usr/sbin, /usr/bin, /sbin, /bin (in that order) and
/// adds it to the tree with its libraries, loader, script interpreter and symlinks, and
/// for grub-install its module folders and the programs it runs. A tool the host lacks is
/// listed in `missing`, not an error.
pub fn gather_tools(
    host_root: &Path,
    names: &[&str],
    tree: &mut Tree,
) -> anyhow::Result<ToolReport> {
    let mut g = Gatherer::new(host_root, tree)?;
    for spec in names {
        if !g.add_tool(spec)? && !g.report.missing.iter().any(|m| m == spec) {
            g.report.missing.push(spec.to_string());
        }
    }
    // A helper found later (efibootmgr after grub-install) is not missing.
    let found = g.report.found.clone();
    g.report
        .missing
        .retain(|m| !m.split('|').any(|n| found.contains_key(n)));
    Ok(g.report)
}

/// Adds files named by their absolute host paths (programs, libraries, scripts) with
/// everything they need, as [`gather_tools`] does for tools. `found` maps each path to
/// itself; paths that do not exist are `missing`.
pub fn gather_files(
    host_root: &Path,
    paths: &[&Path],
    tree: &mut Tree,
) -> anyhow::Result<ToolReport> {
    let mut g = Gatherer::new(host_root, tree)?;
    for path in paths {
        let name = path.display().to_string();
        if g.add_program(path)
            .with_context(|| format!("gathering {name}"))?
        {
            g.report.found.insert(name.clone(), name);
        } else {
            g.report.missing.push(name);
        }
    }
    Ok(g.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_lists_have_no_duplicates() {
        let mut all: Vec<&str> = DEFAULT_TOOLS
            .iter()
            .chain(OPTIONAL_TOOLS)
            .flat_map(|s| s.split('|'))
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn realpath_stays_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::write(r.join("usr/lib/libx.so.1.2"), b"x").unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        std::os::unix::fs::symlink("/lib/libx.so.1.2", r.join("usr/lib/libx.so.1")).unwrap();
        let res = LibResolver::new(r).unwrap();
        assert_eq!(
            res.realpath(Path::new("/lib/libx.so.1")),
            Some(PathBuf::from("/usr/lib/libx.so.1.2"))
        );
        assert_eq!(res.realpath(Path::new("/lib/none")), None);
        assert_eq!(
            res.realpath(Path::new("/usr/lib/../lib/libx.so.1.2")),
            Some(PathBuf::from("/usr/lib/libx.so.1.2"))
        );
    }
}
