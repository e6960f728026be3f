//! Loading the bundled kernel modules in the order modules.dep asks for.
//!
//! The parsing and the ordering are pure; the loading itself goes through a closure so the
//! test mode (and the unit tests) can stand in for `finit_module`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::io;

/// One line of modules.dep: a module (path relative to /lib/modules/RELEASE) and the
/// modules it needs loaded first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepEntry {
    pub path: String,
    pub deps: Vec<String>,
}

/// Reads modules.dep (`kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko ...`).
/// Returns the entries in file order and a warning for every line that is not of that form.
pub fn parse_dep(text: &str) -> (Vec<DepEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((path, deps)) if !path.trim().is_empty() => entries.push(DepEntry {
                path: path.trim().to_string(),
                deps: deps.split_whitespace().map(str::to_string).collect(),
            }),
            _ => warnings.push(format!("modules.dep line {}: {line:?} ignored", no + 1)),
        }
    }
    (entries, warnings)
}

/// The names of the modules built into the kernel (modules.builtin lists their paths).
pub fn parse_builtin(text: &str) -> HashSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(module_name)
        .collect()
}

/// A module's name from its path, as the kernel knows it: `kernel/fs/fat/vfat.ko.xz` ->
/// `vfat`, `kernel/drivers/ata/ata-piix.ko` -> `ata_piix`.
pub fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let base = [".xz", ".zst", ".gz"]
        .iter()
        .find_map(|ext| base.strip_suffix(ext))
        .unwrap_or(base);
    let base = base.strip_suffix(".ko").unwrap_or(base);
    base.replace('-', "_")
}

/// Whether the kernel must decompress this module file itself.
pub fn is_compressed(path: &str) -> bool {
    [".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// What to load, in order, and what could not be honoured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Module paths, every one after the modules it depends on.
    pub order: Vec<String>,
    /// `(module, dependency)`: a dependency modules.dep names that has no line of its own
    /// (it is not on the media). The module is loaded anyway, after its other dependencies.
    pub missing: Vec<(String, String)>,
    /// Modules left out because the kernel has them built in.
    pub builtin: Vec<String>,
}

/// Orders every module of modules.dep after its dependencies (depth first, the
/// dependencies in the order modprobe loads them: last listed first). A dependency cycle
/// is broken where it is met rather than looping.
pub fn plan(entries: &[DepEntry], builtin: &HashSet<String>) -> Plan {
    let by_path: HashMap<&str, &DepEntry> = entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut state: HashMap<&str, Visit> = HashMap::new();
    let mut plan = Plan::default();
    for entry in entries {
        visit(entry, &by_path, builtin, &mut state, &mut plan);
    }
    plan
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    InProgress,
    Done,
}

fn visit<'a>(
    entry: &'a DepEntry,
    by_path: &HashMap<&'a str, &'a DepEntry>,
    builtin: &HashSet<String>,
    state: &mut HashMap<&'a str, Visit>,
    plan: &mut Plan,
) {
    if state.contains_key(entry.path.as_str()) {
        return;
    }
    state.insert(&entry.path, Visit::InProgress);
    let name = module_name(&entry.path);
    if builtin.contains(&name) {
        plan.builtin.push(name);
        state.insert(&entry.path, Visit::Done);
        return;
    }
    for dep in entry.deps.iter().rev() {
        match by_path.get(dep.as_str()) {
            Some(d) => visit(d, by_path, builtin, state, plan),
            None => {
                let dep_name = module_name(dep);
                if !builtin.contains(&dep_name) {
                    plan.missing.push((name.clone(), dep_name));
                }
            }
        }
    }
    state.insert(&entry.path, Visit::Done);
    plan.order.push(entry.path.clone());
}

/// What loading the plan did.
#[derive(Debug, Default)]
pub struct Report {
    /// Modules now in the kernel (loaded here, or already there).
    pub loaded: usize,
    /// Drivers for hardware this machine does not have (ENODEV, ENXIO from their init):
    /// every bundled module is tried, so these are expected, not failures.
    pub absent: usize,
    /// `(module name, why)` for every module the kernel refused.
    pub failed: Vec<(String, io::Error)>,
}

/// The errors a driver's init returns when its device is not there.
fn no_hardware(e: &io::Error) -> bool {
    [rustix::io::Errno::NODEV, rustix::io::Errno::NXIO]
        .iter()
        .any(|n| e.raw_os_error() == Some(n.raw_os_error()))
}

/// Loads every module of the plan with `load` (given the path from modules.dep); a module
/// that is already loaded (EEXIST) counts as loaded, any other failure is recorded and the
/// next module is tried.
pub fn load_all(plan: &Plan, mut load: impl FnMut(&str) -> io::Result<()>) -> Report {
    let mut report = Report::default();
    for path in &plan.order {
        match load(path) {
            Ok(()) => report.loaded += 1,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {
                report.loaded += 1;
            }
            Err(e) if no_hardware(&e) => report.absent += 1,
            Err(e) => report.failed.push((module_name(path), e)),
        }
    }
    report
}

/// The one line that sums up the loading:
/// `loaded 37 modules (2 failed: floppy: No such device, pcspkr: ...)`.
pub fn summary(report: &Report) -> String {
    let mut s = format!(
        "loaded {} module{}",
        report.loaded,
        if report.loaded == 1 { "" } else { "s" }
    );
    if report.absent > 0 {
        let _ = write!(s, ", {} for hardware not present", report.absent);
    }
    if !report.failed.is_empty() {
        let _ = write!(s, " ({} failed: ", report.failed.len());
        let reasons: Vec<String> = report
            .failed
            .iter()
            .map(|(name, e)| format!("{name}: {}", describe(e)))
            .collect();
        s.push_str(&reasons.join(", "));
        s.push(')');
    }
    s
}

/// An I/O error as a short phrase: "No such device" rather than
/// "No such device (os error 19)".
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/fs/isofs/isofs.ko:
kernel/drivers/scsi/sr_mod.ko: kernel/drivers/cdrom/cdrom.ko kernel/drivers/scsi/scsi_mod.ko
kernel/drivers/cdrom/cdrom.ko:
kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/scsi_common.ko:
kernel/drivers/ata/ata_piix.ko: kernel/drivers/ata/libata.ko kernel/drivers/scsi/scsi_mod.ko
";

    fn position(order: &[String], name: &str) -> usize {
        order
            .iter()
            .position(|p| module_name(p) == name)
            .unwrap_or_else(|| panic!("{name} not in {order:?}"))
    }

    #[test]
    fn parses_lines_and_reports_garbage() {
        let (entries, warnings) = parse_dep("a.ko: b.ko c.ko\n\n# x\nb.ko:\nnonsense\n");
        assert_eq!(
            entries,
            vec![
                DepEntry {
                    path: "a.ko".into(),
                    deps: vec!["b.ko".into(), "c.ko".into()]
                },
                DepEntry {
                    path: "b.ko".into(),
                    deps: vec![]
                },
            ]
        );
        assert_eq!(warnings, vec!["modules.dep line 5: \"nonsense\" ignored"]);
    }

    #[test]
    fn every_module_comes_after_its_dependencies() {
        let (entries, _) = parse_dep(DEP);
        let plan = plan(&entries, &HashSet::new());
        assert_eq!(plan.order.len(), 6, "{:?}", plan.order);
        let o = &plan.order;
        assert!(position(o, "cdrom") < position(o, "sr_mod"));
        assert!(position(o, "scsi_common") < position(o, "scsi_mod"));
        assert!(position(o, "scsi_mod") < position(o, "sr_mod"));
        assert!(position(o, "scsi_mod") < position(o, "ata_piix"));
        assert_eq!(plan.missing, vec![("ata_piix".into(), "libata".into())]);
    }

    #[test]
    fn a_missing_dependency_is_reported_and_the_module_still_loaded_after_the_rest() {
        let (entries, _) = parse_dep("b.ko:\na.ko: gone.ko b.ko\n");
        let plan = plan(&entries, &HashSet::new());
        assert_eq!(plan.order, vec!["b.ko", "a.ko"]);
        assert_eq!(plan.missing, vec![("a".into(), "gone".into())]);
    }

    #[test]
    fn builtin_modules_are_skipped_and_are_not_missing() {
        let (entries, _) = parse_dep("kernel/a.ko: kernel/b.ko kernel/c.ko\nkernel/b.ko:\n");
        let builtin = parse_builtin("kernel/b.ko\nkernel/c.ko\n");
        let plan = plan(&entries, &builtin);
        assert_eq!(plan.order, vec!["kernel/a.ko"]);
        assert_eq!(plan.builtin, vec!["b"]);
        assert!(plan.missing.is_empty());
    }

    #[test]
    fn a_cycle_is_broken_not_followed_forever() {
        let (entries, _) = parse_dep("a.ko: b.ko\nb.ko: a.ko\n");
        let plan = plan(&entries, &HashSet::new());
        assert_eq!(plan.order, vec!["b.ko", "a.ko"]);
    }

    #[test]
    fn names_from_paths() {
        assert_eq!(module_name("kernel/fs/fat/vfat.ko.xz"), "vfat");
        assert_eq!(module_name("kernel/drivers/ata/ata-piix.ko"), "ata_piix");
        assert_eq!(module_name("x.ko.zst"), "x");
        assert!(is_compressed("a/b.ko.zst"));
        assert!(!is_compressed("a/b.ko"));
    }

    #[test]
    fn loading_counts_already_loaded_and_sums_up_failures() {
        let (entries, _) = parse_dep("a.ko:\nb.ko:\nc.ko:\nd-x.ko:\n");
        let plan = plan(&entries, &HashSet::new());
        let mut asked = Vec::new();
        let report = load_all(&plan, |path| {
            asked.push(path.to_string());
            match path {
                "b.ko" => Err(io::Error::from_raw_os_error(17)), // EEXIST
                "c.ko" => Err(io::Error::from_raw_os_error(19)), // ENODEV
                "d-x.ko" => Err(io::Error::from_raw_os_error(8)), // ENOEXEC
                _ => Ok(()),
            }
        });
        assert_eq!(asked, vec!["a.ko", "b.ko", "c.ko", "d-x.ko"]);
        assert_eq!(report.loaded, 2);
        assert_eq!(report.absent, 1);
        assert_eq!(
            summary(&report),
            "loaded 2 modules, 1 for hardware not present (1 failed: d_x: Exec format error)"
        );
        assert_eq!(
            summary(&Report {
                loaded: 1,
                absent: 0,
                failed: vec![]
            }),
            "loaded 1 module"
        );
    }
}
