//! Kernel modules for the rescue system: the closure over dependencies of the modules it
//! needs, decompressed, with a modules.dep written for exactly that set, and the firmware
//! those modules ask for.
//!
//! Dependencies come from the host's modules.dep when there is one, else from each
//! module's `.modinfo` (`depends=`), so media can be built for a kernel that was only
//! unpacked (nothing ran depmod). The generated modules.dep is what `depmod` writes for the
//! same set of modules: it is computed the way depmod does it, from the symbols each module
//! exports and needs, and ordered by depmod's topological sort.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::compress::{decompress, Compression};
use super::elf::Sections;
use super::kernel::KernelSpec;
use super::pattern::fnmatch;
use crate::initramfs::tree::{Source, Tree};

/// Modules a rescue boot needs whatever the host: disk and optical controllers (real and
/// virtual), USB storage, the filesystems a restore creates, a console keyboard and
/// efivarfs. Names a kernel lacks (or builds in) are reported, not fatal.
pub const BUILTIN_SET: &[&str] = &[
    // Virtual machines.
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "virtio_console",
    "vmw_pvscsi",
    "hv_storvsc",
    "xen_blkfront",
    // SATA, IDE, NVMe, SCSI disks and CD/DVD drives.
    "ahci",
    "ata_piix",
    "ata_generic",
    "pata_acpi",
    "nvme",
    "sd_mod",
    "sr_mod",
    "cdrom",
    "scsi_mod",
    // Hardware RAID and SAS controllers that show plain disks.
    "mptspi",
    "mptsas",
    "megaraid_sas",
    "mpt3sas",
    "hpsa",
    "smartpqi",
    "aacraid",
    // SD/MMC.
    "sdhci_pci",
    "mmc_block",
    // USB storage and the host controllers under it.
    "usb_storage",
    "uas",
    "xhci_pci",
    "ehci_pci",
    "ohci_pci",
    "uhci_hcd",
    // Optical media, loop devices.
    "isofs",
    "loop",
    // Filesystems a restore creates and mounts.
    "ext4",
    "xfs",
    "vfat",
    "btrfs",
    "nls_cp437",
    "nls_iso8859_1",
    // vfat's default iocharset on Debian's kernels ("ascii").
    "nls_ascii",
    "nls_utf8",
    "efivarfs",
    // Rehearsals pass their options through QEMU's fw_cfg.
    "qemu_fw_cfg",
    // A console keyboard.
    "atkbd",
    "i8042",
    "usbhid",
    "hid_generic",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleReport {
    /// Module names (with `_`, as the kernel names them) now in the tree, in load order
    /// groups (modules.order order).
    pub included: Vec<String>,
    /// Asked for but built into the kernel (modules.builtin): nothing to do.
    pub builtin: Vec<String>,
    /// Asked for and found nowhere: worth a warning.
    pub missing: Vec<String>,
    /// Firmware files added, as paths under /lib/firmware.
    pub firmware: Vec<String>,
    /// Firmware the included modules may ask for that the host does not have (usually for
    /// hardware that is not there).
    pub firmware_missing: Vec<String>,
    /// Bytes of everything added: modules (uncompressed), firmware, index files.
    pub bytes: u64,
    /// Other things worth telling (a dependency that is not there, dependency loops).
    pub warnings: Vec<String>,
}

/// `-` and `_` are the same in module names; the kernel uses `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// "isofs.ko.xz" -> "isofs"; None for a file that is no module.
pub fn module_stem(file_name: &str) -> Option<&str> {
    for ext in [".ko", ".ko.xz", ".ko.zst", ".ko.gz"] {
        if let Some(stem) = file_name.strip_suffix(ext) {
            if !stem.is_empty() {
                return Some(stem);
            }
        }
    }
    None
}

/// The module name a path stands for ("kernel/fs/fat/vfat.ko.xz" -> "vfat"), as kmod
/// derives it: the file name up to its first dot, with `-` as `_`.
fn name_of_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    normalize_name(base.split('.').next().unwrap_or(base))
}

/// A module's path with the compression suffix removed ("kernel/a.ko.zst" -> "kernel/a.ko").
fn plain_relpath(rel: &str) -> &str {
    for (suffix, _) in Compression::SUFFIXES {
        if let Some(p) = rel.strip_suffix(suffix) {
            return p;
        }
    }
    rel
}

/// The values of `key` in a module's `.modinfo` section.
pub fn modinfo_values(module: &[u8], key: &str) -> Vec<String> {
    match Sections::parse(module) {
        Ok(s) => modinfo_pairs(&s)
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn modinfo_pairs(sections: &Sections<'_>) -> Vec<(String, String)> {
    let Some(data) = sections.get(".modinfo") else {
        return Vec::new();
    };
    data.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let s = String::from_utf8_lossy(s);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// What is read from one module file.
struct Module {
    name: String,
    /// Its path under the modules directory as it will be in the rescue system (".ko").
    relpath: String,
    source: Source,
    size: u64,
    info: Vec<(String, String)>,
    /// Symbols it exports (as depmod reads them: `__crc_` symbols, else `__ksymtab_strings`).
    exports: Vec<String>,
    /// Symbols it needs, in symbol table order, then unmatched `__versions` names.
    needs: Vec<String>,
}

impl Module {
    fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.info
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn depends(&self) -> Vec<String> {
        self.values("depends")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(normalize_name)
            .collect()
    }

    /// `softdep=pre: a b post: c` -> a, b, c (names or aliases).
    fn softdeps(&self) -> Vec<String> {
        self.values("softdep")
            .flat_map(|v| v.split_whitespace())
            .filter(|t| !t.ends_with(':'))
            .map(str::to_string)
            .collect()
    }
}

fn read_module(dir: &Path, rel: &str) -> anyhow::Result<Module> {
    let path = dir.join(rel);
    let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let how = Compression::from_name(rel);
    let (data, source) = if how == Compression::None {
        (raw, Source::Host(path.clone()))
    } else {
        let data = decompress(&raw, how, &path)?;
        let copy = data.clone();
        (data, Source::Bytes(copy))
    };
    let sections = Sections::parse(&data)
        .with_context(|| format!("reading the ELF sections of {}", path.display()))?;
    let info = modinfo_pairs(&sections);
    let symbols = sections
        .symbols()
        .with_context(|| format!("reading the symbols of {}", path.display()))?;

    let mut exports: Vec<String> = symbols
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("__crc_"))
        .map(str::to_string)
        .collect();
    if exports.is_empty() {
        if let Some(strings) = sections.get("__ksymtab_strings") {
            exports = strings
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
        }
    }

    let mut needs: Vec<String> = symbols
        .iter()
        .skip(1)
        .filter(|(n, s)| s.st_shndx == 0 && !n.is_empty())
        .map(|(n, _)| n.clone())
        .collect();
    // Entries of __versions no symbol refers to (module_layout) count too, as in kmod.
    if let Some(versions) = sections.get("__versions") {
        let crc_len = if sections.is_64() { 8 } else { 4 };
        let seen: HashSet<&str> = needs.iter().map(String::as_str).collect();
        let mut extra = Vec::new();
        for entry in versions.chunks_exact(64) {
            let name = &entry[crc_len..];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = String::from_utf8_lossy(&name[..end]).into_owned();
            if !name.is_empty() && !seen.contains(name.as_str()) {
                extra.push(name);
            }
        }
        needs.extend(extra);
    }

    Ok(Module {
        name: name_of_path(rel),
        relpath: plain_relpath(rel).to_string(),
        source,
        size: data.len() as u64,
        info,
        exports,
        needs,
    })
}

/// What the modules directory holds.
struct Index {
    dir: PathBuf,
    /// Module name -> its path under `dir` as found (maybe compressed).
    files: BTreeMap<String, String>,
    /// From modules.dep: module name -> the names of all its dependencies.
    dep: Option<HashMap<String, Vec<String>>>,
    builtin: BTreeSet<String>,
    /// (alias pattern with `_` for `-`, module) of built-in modules.
    builtin_aliases: Vec<(String, String)>,
    /// (alias pattern with `_` for `-`, module) of loadable modules, read on first use.
    aliases: Option<Vec<(String, String)>>,
    /// modules.order, paths without compression suffix.
    order: Vec<String>,
}

impl Index {
    fn load(dir: &Path) -> anyhow::Result<Index> {
        if !dir.is_dir() {
            anyhow::bail!("the modules directory {} does not exist", dir.display());
        }
        let mut files = BTreeMap::new();
        let mut dep = None;
        let dep_path = dir.join("modules.dep");
        if let Ok(text) = std::fs::read_to_string(&dep_path) {
            let mut map = HashMap::new();
            for line in text.lines() {
                let Some((module, deps)) = line.split_once(':') else {
                    continue;
                };
                let module = module.trim();
                if module.is_empty() || !dir.join(module).is_file() {
                    continue;
                }
                let name = name_of_path(module);
                files
                    .entry(name.clone())
                    .or_insert_with(|| module.to_string());
                let deps: Vec<String> = deps.split_whitespace().map(name_of_path).collect();
                map.insert(name, deps);
            }
            dep = Some(map);
        }
        // Walk the tree too: modules.dep may be stale, and is absent on an unpacked kernel.
        let mut found: Vec<String> = Vec::new();
        walk_modules(dir, dir, &mut found)
            .with_context(|| format!("listing the modules in {}", dir.display()))?;
        found.sort_by_key(|rel| (rank(rel), rel.clone()));
        for rel in found {
            files.entry(name_of_path(&rel)).or_insert(rel);
        }

        let builtin = std::fs::read_to_string(dir.join("modules.builtin"))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(name_of_path)
                    .collect()
            })
            .unwrap_or_default();
        let builtin_aliases = std::fs::read(dir.join("modules.builtin.modinfo"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter_map(|e| {
                        let e = String::from_utf8_lossy(e);
                        let (module, rest) = e.split_once('.')?;
                        let alias = rest.strip_prefix("alias=")?;
                        Some((normalize_name(alias), normalize_name(module)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let order = std::fs::read_to_string(dir.join("modules.order"))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| plain_relpath(l).to_string())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Index {
            dir: dir.to_path_buf(),
            files,
            dep,
            builtin,
            builtin_aliases,
            aliases: None,
            order,
        })
    }

    /// The modules that provide an alias (exact names first; then alias patterns).
    fn resolve_alias(&mut self, alias: &str) -> anyhow::Result<Vec<String>> {
        if self.aliases.is_none() {
            self.aliases = Some(self.read_aliases()?);
        }
        let want = normalize_name(alias);
        let mut out: Vec<String> = Vec::new();
        for (pattern, module) in self.aliases.as_deref().unwrap_or_default() {
            if fnmatch(pattern, &want) && !out.contains(module) {
                out.push(module.clone());
            }
        }
        Ok(out)
    }

    fn builtin_alias(&self, alias: &str) -> bool {
        let want = normalize_name(alias);
        self.builtin_aliases
            .iter()
            .any(|(pattern, _)| fnmatch(pattern, &want))
    }

    /// The aliases of all loadable modules: modules.alias when depmod wrote one, else each
    /// module's own `alias=` entries.
    fn read_aliases(&self) -> anyhow::Result<Vec<(String, String)>> {
        if let Ok(text) = std::fs::read_to_string(self.dir.join("modules.alias")) {
            return Ok(text
                .lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    (w.next()? == "alias").then_some(())?;
                    let pattern = w.next()?;
                    let module = w.next()?;
                    Some((normalize_name(pattern), normalize_name(module)))
                })
                .collect());
        }
        let mut out = Vec::new();
        for (name, rel) in &self.files {
            let path = self.dir.join(rel);
            let raw =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let data = decompress(&raw, Compression::from_name(rel), &path)?;
            for alias in modinfo_values(&data, "alias") {
                out.push((normalize_name(&alias), name.clone()));
            }
        }
        Ok(out)
    }
}

/// Paths under "updates/" win over others, which win over "kernel/" (depmod's default
/// search order puts updates first).
fn rank(rel: &str) -> u8 {
    if rel.starts_with("updates/") {
        0
    } else if rel.starts_with("kernel/") {
        2
    } else {
        1
    }
}

fn walk_modules(base: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if dir == base && (name == "build" || name == "source") {
            continue;
        }
        if kind.is_dir() {
            walk_modules(base, &entry.path(), out)?;
        } else if module_stem(&name).is_some()
            && (kind.is_file() || (kind.is_symlink() && entry.path().is_file()))
        {
            if let Ok(rel) = entry.path().strip_prefix(base) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

/// Why a module is being looked for: decides what happens when it is not found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    Wanted,
    Dependency,
    Softdep,
}

/// Adds the modules in `wanted` (names, `-` or `_`; aliases such as `fs-iso9660` or a
/// filesystem type such as `iso9660` work too) and everything they depend on to the tree
/// at /lib/modules/RELEASE, with a modules.dep (and modules.alias, modules.softdep,
/// modules.order) for exactly those modules and the firmware they name that is present
/// under `firmware_dir` (the host's /lib/firmware) at /lib/firmware.
pub fn gather_modules(
    kernel: &KernelSpec,
    wanted: &[String],
    firmware_dir: &Path,
    tree: &mut Tree,
) -> anyhow::Result<ModuleReport> {
    let mut index = Index::load(&kernel.modules_dir)?;
    let mut report = ModuleReport::default();
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<(String, Why, String)> = wanted
        .iter()
        .map(|w| (w.trim().to_string(), Why::Wanted, String::new()))
        .filter(|(w, _, _)| !w.is_empty())
        .collect();

    while let Some((asked, why, by)) = queue.pop_front() {
        let name = normalize_name(&asked);
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(rel) = index.files.get(&name).cloned() {
            let module = read_module(&index.dir, &rel)?;
            let deps = match index.dep.as_ref().and_then(|d| d.get(&name)) {
                Some(deps) => deps.clone(),
                None => module.depends(),
            };
            for d in deps {
                queue.push_back((d, Why::Dependency, name.clone()));
            }
            for s in module.softdeps() {
                queue.push_back((s, Why::Softdep, name.clone()));
            }
            modules.insert(name, module);
            continue;
        }
        if index.builtin.contains(&name) {
            if why == Why::Wanted {
                report.builtin.push(name);
            }
            continue;
        }
        // An alias ("crypto-crc32c", "fs-iso9660") or a filesystem type ("iso9660").
        let mut providers = index.resolve_alias(&asked)?;
        let mut builtin = index.builtin_alias(&asked);
        if providers.is_empty() && !builtin && why == Why::Wanted {
            let fs = format!("fs-{asked}");
            providers = index.resolve_alias(&fs)?;
            builtin = index.builtin_alias(&fs);
        }
        if !providers.is_empty() {
            for p in providers {
                queue.push_front((p, why, by.clone()));
            }
            continue;
        }
        match (why, builtin) {
            (Why::Wanted, true) => report.builtin.push(asked),
            (Why::Wanted, false) => report.missing.push(asked),
            (Why::Dependency, _) if !builtin => report.warnings.push(format!(
                "{by} depends on {asked}, which is not in {}",
                index.dir.display()
            )),
            _ => {}
        }
    }

    // depmod's order: modules.order, then the rest by path.
    let position: HashMap<&str, usize> = index
        .order
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut ordered: Vec<Module> = modules.into_values().collect();
    ordered.sort_by(|a, b| {
        let pa = position
            .get(a.relpath.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let pb = position
            .get(b.relpath.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        (pa, &a.relpath).cmp(&(pb, &b.relpath))
    });

    let base = PathBuf::from(format!("/lib/modules/{}", kernel.release));
    for m in &ordered {
        let dest = base.join(&m.relpath);
        match &m.source {
            Source::Host(p) => tree.host_file(&dest, p.clone(), 0o644)?,
            Source::Bytes(b) => tree.bytes(&dest, b.clone(), 0o644)?,
        }
        report.bytes += m.size;
        report.included.push(m.name.clone());
    }

    let (dep, loops) = depmod_dep(&ordered);
    for l in loops {
        report.warnings.push(format!(
            "{l} is in a dependency loop: left out of modules.dep"
        ));
    }
    let mut generated: Vec<(&str, Vec<u8>)> = vec![("modules.dep", dep.into_bytes())];
    let order: String = ordered.iter().map(|m| format!("{}\n", m.relpath)).collect();
    generated.push(("modules.order", order.into_bytes()));
    let mut alias = String::from("# Aliases extracted from modules themselves.\n");
    let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
    for m in &ordered {
        for a in m.values("alias") {
            alias.push_str(&format!("alias {a} {}\n", m.name));
        }
        for s in m.values("softdep") {
            softdep.push_str(&format!("softdep {} {s}\n", m.name));
        }
    }
    generated.push(("modules.alias", alias.into_bytes()));
    generated.push(("modules.softdep", softdep.into_bytes()));
    for (name, data) in generated {
        report.bytes += data.len() as u64;
        tree.bytes(base.join(name), data, 0o644)?;
    }
    for name in ["modules.builtin", "modules.builtin.modinfo"] {
        let p = index.dir.join(name);
        if let Ok(meta) = std::fs::metadata(&p) {
            if meta.is_file() {
                report.bytes += meta.len();
                tree.host_file(base.join(name), p, 0o644)?;
            }
        }
    }

    gather_firmware(&ordered, &kernel.release, firmware_dir, tree, &mut report)?;
    Ok(report)
}

/// The kernel looks for firmware in these directories under /lib/firmware, in this order.
fn firmware_prefixes(release: &str) -> [String; 4] {
    [
        format!("updates/{release}/"),
        "updates/".to_string(),
        format!("{release}/"),
        String::new(),
    ]
}

fn gather_firmware(
    modules: &[Module],
    release: &str,
    firmware_dir: &Path,
    tree: &mut Tree,
    report: &mut ModuleReport,
) -> anyhow::Result<()> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    for m in modules {
        for fw in m.values("firmware") {
            let fw = fw.trim().trim_start_matches('/');
            if fw.is_empty() || fw.contains("..") || !done.insert(fw.to_string()) {
                continue;
            }
            let mut found = None;
            'search: for prefix in firmware_prefixes(release) {
                let rel = format!("{prefix}{fw}");
                for (suffix, how) in [("", Compression::None)]
                    .into_iter()
                    .chain(Compression::SUFFIXES)
                {
                    let p = firmware_dir.join(format!("{rel}{suffix}"));
                    if p.is_file() {
                        found = Some((rel.clone(), p, how));
                        break 'search;
                    }
                }
            }
            let Some((rel, path, how)) = found else {
                report.firmware_missing.push(fw.to_string());
                continue;
            };
            let dest = Path::new("/lib/firmware").join(&rel);
            if how == Compression::None {
                report.bytes += std::fs::metadata(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .len();
                tree.host_file(&dest, path, 0o644)?;
            } else {
                let raw =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let data = decompress(&raw, how, &path)?;
                report.bytes += data.len() as u64;
                tree.bytes(&dest, data, 0o644)?;
            }
            report.firmware.push(rel);
        }
    }
    Ok(())
}

/// modules.dep for `modules` (in depmod's array order), computed as kmod's depmod does:
/// a module depends on the modules that export the symbols it needs (the last exporter
/// wins); a topological sort (modules nobody needs first, a stack of roots) numbers them;
/// each line lists all of a module's direct and indirect dependencies by that number, so
/// the module to load last comes first. Returns the file and the modules left out because
/// they are in a dependency loop.
fn depmod_dep(modules: &[Module]) -> (String, Vec<String>) {
    let n = modules.len();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, m) in modules.iter().enumerate() {
        for s in &m.exports {
            owner.insert(s.as_str(), i);
        }
    }
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut users = vec![0usize; n];
    for (i, m) in modules.iter().enumerate() {
        for s in &m.needs {
            let s = s.strip_prefix('.').unwrap_or(s);
            if let Some(&o) = owner.get(s) {
                if o != i && !deps[i].contains(&o) {
                    deps[i].push(o);
                    users[o] += 1;
                }
            }
        }
    }

    let mut left = users.clone();
    let mut roots: Vec<usize> = (0..n).filter(|&i| left[i] == 0).collect();
    let mut sort_idx = vec![usize::MAX; n];
    let mut sorted = 0;
    while let Some(src) = roots.pop() {
        sort_idx[src] = sorted;
        sorted += 1;
        for &dst in &deps[src] {
            left[dst] -= 1;
            if left[dst] == 0 {
                roots.push(dst);
            }
        }
    }
    let in_loop: Vec<bool> = left.iter().map(|&u| u > 0).collect();
    let loops = (0..n)
        .filter(|&i| in_loop[i])
        .map(|i| modules[i].name.clone())
        .collect();

    let mut out = String::new();
    for i in 0..n {
        if in_loop[i] {
            continue;
        }
        out.push_str(&modules[i].relpath);
        out.push(':');
        let mut all: Vec<usize> = Vec::new();
        let mut stack: Vec<usize> = deps[i].iter().rev().copied().collect();
        while let Some(d) = stack.pop() {
            if all.contains(&d) {
                continue;
            }
            all.push(d);
            stack.extend(deps[d].iter().rev().copied());
        }
        all.retain(|&d| !in_loop[d]);
        all.sort_by_key(|&d| sort_idx[d]);
        for d in all {
            out.push(' ');
            out.push_str(&modules[d].relpath);
        }
        out.push('\n');
    }
    (out, loops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, exports: &[&str], needs: &[&str]) -> Module {
        Module {
            name: name.to_string(),
            relpath: format!("kernel/{name}.ko"),
            source: Source::Bytes(Vec::new()),
            size: 0,
            info: Vec::new(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
            needs: needs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(module_stem("isofs.ko.xz"), Some("isofs"));
        assert_eq!(module_stem("isofs.ko"), Some("isofs"));
        assert_eq!(module_stem("modules.dep"), None);
        assert_eq!(
            name_of_path("kernel/drivers/usb/storage/usb-storage.ko.zst"),
            "usb_storage"
        );
        assert_eq!(plain_relpath("kernel/a.ko.zst"), "kernel/a.ko");
        assert_eq!(plain_relpath("kernel/a.ko"), "kernel/a.ko");
    }

    #[test]
    fn dep_lines_list_indirect_deps_load_last_first() {
        // top -> mid -> base; top -> base; other unrelated.
        let mods = vec![
            module("top", &[], &["mid_fn", "base_fn", "printk"]),
            module("mid", &["mid_fn"], &["base_fn"]),
            module("base", &["base_fn"], &[]),
            module("other", &[], &[]),
        ];
        let (dep, loops) = depmod_dep(&mods);
        assert!(loops.is_empty());
        assert_eq!(
            dep,
            "kernel/top.ko: kernel/mid.ko kernel/base.ko\n\
             kernel/mid.ko: kernel/base.ko\n\
             kernel/base.ko:\n\
             kernel/other.ko:\n"
        );
    }

    #[test]
    fn loops_are_left_out() {
        let mods = vec![
            module("a", &["a_fn"], &["b_fn"]),
            module("b", &["b_fn"], &["a_fn"]),
            module("c", &[], &["a_fn"]),
        ];
        let (dep, loops) = depmod_dep(&mods);
        assert_eq!(loops, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(dep, "kernel/c.ko:\n");
    }
}
