//! The plan of a restore: every step as a value with its description, built before
//! anything is written, so the user reads it (and tests assert it) first.
//!
//! [`plan`] validates the mountlist (errors refuse it), maps and fits each original disk
//! onto its target ([`map_disks`]), and lays out the steps in phases:
//!
//! 1. partition, each target disk: `wipefs -a DISK`; `partx -d --nr 1:256 DISK` (the
//!    kernel forgets the old partitions); the table written natively
//!    ([`Step::WriteTable`]); `partx -a DISK` (the kernel reads it); waiting for the
//!    partition nodes ([`Step::WaitForPartitions`]);
//! 2. format: `wipefs -a` inside the new partitions; mkfs with the original UUID, label and
//!    parameters; the label command Mondo runs after it;
//! 3. mount under the root (default /mnt/restore) by depth: `mkdir -p`, `mount -t`;
//! 4. restore the files ([`Step::RestoreFiles`]);
//! 5. finish: fstab lines whose device changed ([`Step::RewriteFstab`]); the boot loader
//!    in a chroot with /dev, /proc and /sys bound, when asked; the log into the restored
//!    system ([`Step::WriteLog`]);
//! 6. unmount in reverse order; `sync`.
//!
//! Each partition (or whole-disk filesystem) has a [`PartitionAction`] from
//! [`Choices::actions`] (create and format by default). A disk on which nothing is
//! created keeps its table: no wipefs, partx or table write, only the wait for its
//! partitions. Formatted ones get their filesystem made again; kept ones are mounted and
//! restored into; untouched ones are neither, and the restore leaves out what lies below
//! their mount points ([`Selection::exclude`]).

use super::action::PartitionAction;
use super::fstab::{self, FstabChange};
use super::mkfs;
use super::partition::{self, Table, TableError};
use rescue_core::mountlist::render;
use rescue_core::mountlist::resize::{map_disks, FitError, ResizeMode, TargetDisk};
use rescue_core::mountlist::validate::{validate, Place, Problem, Severity};
use rescue_core::mountlist::{
    BootMode, BootPath, Disk, Filesystem, FsType, Loader, MountPoint, Mountlist, Partition,
    PartitionTable,
};
use rescue_core::restore_files::{within, Selection};
use rescue_core::runner::Cmd;
use rescue_core::size::format_bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Original disk `from` (a path in the mountlist) is restored onto `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskMap {
    pub from: String,
    pub to: TargetDisk,
}

/// What the user chose beyond the layout.
#[derive(Debug, Clone)]
pub struct Choices {
    /// Where the restored system is mounted while files are restored.
    pub root: PathBuf,
    /// What to restore (everything by default) and where (renames).
    pub selection: Selection,
    /// Reinstall the boot loader (GRUB) in the restored system.
    pub boot_loader: bool,
    /// The restore log, relative to the restored system's root.
    pub log_file: PathBuf,
    /// By device of the mapped layout (the target's partition, or the disk for a
    /// whole-disk filesystem); what is not here is created and formatted.
    pub actions: BTreeMap<String, PartitionAction>,
}

impl Default for Choices {
    fn default() -> Self {
        Choices {
            root: PathBuf::from("/mnt/restore"),
            selection: Selection::default(),
            boot_loader: false,
            log_file: PathBuf::from("var/log/restore-tui.log"),
            actions: BTreeMap::new(),
        }
    }
}

/// The phases of a restore, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Partition,
    Format,
    Mount,
    Restore,
    Finish,
    Unmount,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Partition => "Partition the disks",
            Phase::Format => "Make the filesystems",
            Phase::Mount => "Mount them",
            Phase::Restore => "Restore the files",
            Phase::Finish => "Finish the restored system",
            Phase::Unmount => "Unmount and flush",
        })
    }
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub enum Step {
    /// An external command (its description says what it is for).
    Run { phase: Phase, cmd: Cmd },
    /// Writes a partition table in-process (gptman / mbrman).
    WriteTable { disk: String, table: Table },
    /// Waits until the kernel and /dev show these partitions (mknod where /dev does not).
    WaitForPartitions { disk: String, devices: Vec<String> },
    /// A mount; undone if a later step fails.
    Mount {
        phase: Phase,
        dir: PathBuf,
        cmd: Cmd,
    },
    Unmount {
        phase: Phase,
        dir: PathBuf,
        cmd: Cmd,
    },
    /// Extracts the archive sets into `root`, checking every file's hash.
    RestoreFiles { root: PathBuf, selection: Selection },
    /// Replaces the first field of fstab lines that name a changed device.
    RewriteFstab {
        path: PathBuf,
        changes: Vec<FstabChange>,
    },
    /// `chroot ROOT grub-install ...` (grub2-install where that is its name) or
    /// `chroot ROOT bootctl install ...`, when the restored system has the tool; skipped
    /// with a warning otherwise. `nvram`: the install registers a firmware boot entry,
    /// which only a rescue system running on UEFI firmware can (elsewhere `--no-nvram` or
    /// `--no-variables` is added when it runs).
    InstallBootLoader {
        root: PathBuf,
        tool: BootTool,
        nvram: bool,
        cmd: Cmd,
    },
    /// Writes the log of the restore so far.
    WriteLog { path: PathBuf },
}

impl Step {
    pub fn phase(&self) -> Phase {
        match self {
            Step::Run { phase, .. } | Step::Mount { phase, .. } | Step::Unmount { phase, .. } => {
                *phase
            }
            Step::WriteTable { .. } | Step::WaitForPartitions { .. } => Phase::Partition,
            Step::RestoreFiles { .. } => Phase::Restore,
            Step::RewriteFstab { .. } | Step::InstallBootLoader { .. } | Step::WriteLog { .. } => {
                Phase::Finish
            }
        }
    }

    /// The external command the step runs, if it is one.
    pub fn command(&self) -> Option<&Cmd> {
        match self {
            Step::Run { cmd, .. }
            | Step::Mount { cmd, .. }
            | Step::Unmount { cmd, .. }
            | Step::InstallBootLoader { cmd, .. } => Some(cmd),
            _ => None,
        }
    }

    /// What the step does, in words.
    pub fn description(&self) -> String {
        match self {
            Step::Run { cmd, .. }
            | Step::Mount { cmd, .. }
            | Step::Unmount { cmd, .. }
            | Step::InstallBootLoader { cmd, .. } => cmd.description.clone(),
            Step::WriteTable { disk, table } => format!("write {} on {disk}", table.summary()),
            Step::WaitForPartitions { devices, .. } => format!(
                "wait for {} to appear (making the device nodes where the system does not)",
                devices.join(", ")
            ),
            Step::RestoreFiles { root, selection } => {
                let what = if selection.paths.is_empty() {
                    "every file of the backup".to_string()
                } else {
                    selection
                        .paths
                        .iter()
                        .map(|p| format!("/{}", String::from_utf8_lossy(p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut s = format!(
                    "restore {what} into {}, checking each file against its BLAKE3",
                    root.display()
                );
                for (old, new) in &selection.renames {
                    s.push_str(&format!(
                        "; /{} goes to /{}",
                        String::from_utf8_lossy(old),
                        String::from_utf8_lossy(new)
                    ));
                }
                if !selection.exclude.is_empty() {
                    let list: Vec<String> = selection
                        .exclude
                        .iter()
                        .map(|p| format!("/{}", String::from_utf8_lossy(p)))
                        .collect();
                    s.push_str(&format!(
                        "; leaving out what lies below {}",
                        list.join(", ")
                    ));
                }
                s
            }
            Step::RewriteFstab { path, changes } => {
                let named: Vec<String> = changes
                    .iter()
                    .filter(|c| c.referenced)
                    .map(ToString::to_string)
                    .collect();
                let others = changes.len() - named.len();
                let mut s = format!("rewrite {} where a device changed", path.display());
                if !named.is_empty() {
                    s.push_str(&format!(": {}", named.join(", ")));
                }
                if others > 0 {
                    s.push_str(&format!(
                        "{}any line naming a renamed disk or partition",
                        if named.is_empty() { ": " } else { "; and " }
                    ));
                }
                s
            }
            Step::WriteLog { path } => format!("write the restore log to {}", path.display()),
        }
    }

    /// Lines shown under the description: the command line, or the table as sfdisk input.
    pub fn details(&self) -> Vec<String> {
        match self {
            Step::WriteTable { disk, table } => table
                .sfdisk_script(disk)
                .lines()
                .map(|l| format!("| {l}"))
                .collect(),
            Step::RewriteFstab { changes, .. } => {
                changes.iter().map(|c| format!("| {c}")).collect()
            }
            _ => self
                .command()
                .map(|c| vec![format!("$ {c}")])
                .unwrap_or_default(),
        }
    }
}

/// Everything a restore will do, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The mountlist as captured (and edited).
    pub original: Mountlist,
    /// The layout that will be created: mapped onto the targets and fitted to their sizes.
    pub layout: Mountlist,
    pub maps: Vec<DiskMap>,
    pub mode: ResizeMode,
    pub root: PathBuf,
    pub steps: Vec<Step>,
    /// Validation warnings, capture warnings and what the plan leaves out.
    pub warnings: Vec<String>,
    /// What is done to each device of `layout` ([`Choices::actions`]).
    pub actions: BTreeMap<String, PartitionAction>,
}

impl Plan {
    /// What is done to `device` of the layout.
    pub fn action(&self, device: &str) -> PartitionAction {
        action_of(&self.actions, device)
    }

    /// Every target disk, written to or not.
    pub fn mapped_disks(&self) -> Vec<&str> {
        self.maps.iter().map(|m| m.to.path.as_str()).collect()
    }

    /// The target disks written to: their partition table is written again or a
    /// filesystem is made on them. A disk that only holds kept or untouched partitions is
    /// not one.
    pub fn target_disks(&self) -> Vec<&str> {
        self.works()
            .into_iter()
            .filter(DiskWork::writes)
            .map(|w| w.disk.path.as_str())
            .collect()
    }

    /// The target disks on which nothing is kept: everything on them is erased.
    pub fn erased_disks(&self) -> Vec<&str> {
        self.works()
            .into_iter()
            .filter(DiskWork::erases_all)
            .map(|w| w.disk.path.as_str())
            .collect()
    }

    /// What is done to each target disk, in the order of the maps.
    fn works(&self) -> Vec<DiskWork<'_>> {
        self.maps
            .iter()
            .filter_map(|m| self.layout.disks.iter().find(|d| d.path == m.to.path))
            .map(|d| DiskWork::of(d, &self.actions))
            .collect()
    }
}

fn action_of(actions: &BTreeMap<String, PartitionAction>, device: &str) -> PartitionAction {
    actions.get(device).copied().unwrap_or_default()
}

/// What the actions make of one disk of the layout.
struct DiskWork<'a> {
    disk: &'a Disk,
    /// The partition table is written again (or, without one, the disk wiped for its
    /// filesystem): something on it is created.
    rewrite: bool,
    /// Partitions (or the whole-disk filesystem) whose contents stay, with their action.
    kept: Vec<(&'a str, PartitionAction)>,
    /// Filesystems made, with their device: the whole disk's, then the partitions' in
    /// number order.
    made: Vec<(&'a str, &'a Filesystem)>,
}

impl<'a> DiskWork<'a> {
    fn of(disk: &'a Disk, actions: &BTreeMap<String, PartitionAction>) -> DiskWork<'a> {
        let mut parts: Vec<&Partition> = disk.partitions.iter().collect();
        parts.sort_by_key(|p| p.number);
        // An extended partition follows its logical partitions: it decides nothing.
        let devices: Vec<&str> = if disk.table == PartitionTable::None {
            vec![disk.path.as_str()]
        } else {
            parts
                .iter()
                .filter(|p| !p.is_extended())
                .map(|p| p.path.as_str())
                .collect()
        };
        let rewrite = devices.is_empty()
            || devices
                .iter()
                .any(|d| action_of(actions, d) == PartitionAction::CreateAndFormat);
        let kept = devices
            .iter()
            .map(|d| (*d, action_of(actions, d)))
            .filter(|(_, a)| a.keeps())
            .collect();
        let made = filesystems(disk)
            .into_iter()
            .filter(|(d, f)| action_of(actions, d).formats() && f.fs_type.mkfs_program().is_some())
            .collect();
        DiskWork {
            disk,
            rewrite,
            kept,
            made,
        }
    }

    fn writes(&self) -> bool {
        self.rewrite || !self.made.is_empty()
    }

    fn erases_all(&self) -> bool {
        self.rewrite && self.kept.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the mountlist has {} error{} (nothing was written):\n  {}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        list(.0)
    )]
    Invalid(Vec<Problem>),
    #[error(
        "{} of the mountlist {} no target disk: map {} with --disk-map OLD=NEW",
        .0.join(", "),
        if .0.len() == 1 { "has" } else { "have" },
        if .0.len() == 1 { "it" } else { "each" }
    )]
    Unmapped(Vec<String>),
    #[error("{heading} (nothing was written): {0}", heading = fit_heading(.0))]
    Fit(#[from] FitError),
    #[error(
        "fitted onto the targets, the layout has {} error{} (nothing was written):\n  {}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        list(.0)
    )]
    InvalidAfterFit(Vec<Problem>),
    #[error("the partition table cannot be made: {0}")]
    Table(#[from] TableError),
    #[error("making a new GUID: {0}")]
    Guid(std::io::Error),
    #[error(
        "an action is chosen for {}: the layout has no such device (nothing was written)",
        .0.join(", ")
    )]
    UnknownDevice(Vec<String>),
}

fn fit_heading(e: &FitError) -> &'static str {
    match e {
        FitError::TooSmall { .. } | FitError::FixedTooLarge { .. } | FitError::NoRoom { .. } => {
            "the layout does not fit"
        }
        _ => "the disk mapping cannot be used",
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Builds the plan for restoring `ml` onto the disks of `maps` (every disk of the
/// mountlist needs one), fitting layouts by `mode`. Nothing is touched: a plan that
/// cannot work is refused here, before any write.
pub fn plan(
    ml: &Mountlist,
    maps: &[DiskMap],
    mode: ResizeMode,
    choices: &Choices,
) -> Result<Plan, PlanError> {
    plan_with(ml, maps, mode, choices, &mut || partition::random_guid())
}

/// [`plan`] with the source of new GUIDs given (for tests: deterministic ones).
pub fn plan_with(
    ml: &Mountlist,
    maps: &[DiskMap],
    mode: ResizeMode,
    choices: &Choices,
    new_guid: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<Plan, PlanError> {
    let problems = validate(ml);
    let (errors, warnings): (Vec<Problem>, Vec<Problem>) = problems
        .into_iter()
        .partition(|p| p.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(PlanError::Invalid(errors));
    }
    let unmapped: Vec<String> = ml
        .disks
        .iter()
        .filter(|d| !maps.iter().any(|m| m.from == d.path))
        .map(|d| d.path.clone())
        .collect();
    if !unmapped.is_empty() {
        return Err(PlanError::Unmapped(unmapped));
    }
    let pairs: Vec<(&str, &TargetDisk)> = maps.iter().map(|m| (m.from.as_str(), &m.to)).collect();
    let mut layout = map_disks(ml, &pairs, mode)?;
    let unknown: Vec<String> = choices
        .actions
        .keys()
        .filter(|dev| disk_holding(&layout, dev).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(PlanError::UnknownDevice(unknown));
    }
    let actions = &choices.actions;

    // The tables, with every GUID decided; new ones go back into the layout so that the
    // plan, fstab and the log all show the same.
    let mut guid_error = None;
    let mut fresh = || match new_guid() {
        Ok(g) => g,
        Err(e) => {
            guid_error.get_or_insert(e);
            String::new()
        }
    };
    // Only tables written again: a kept table keeps its GUIDs, so fstab's PARTUUIDs hold.
    let mut tables = Vec::new();
    for disk in &layout.disks {
        tables.push(if DiskWork::of(disk, actions).rewrite {
            Table::from_disk(disk, &mut fresh)?
        } else {
            None
        });
    }
    if let Some(e) = guid_error {
        return Err(PlanError::Guid(e));
    }
    for (disk, table) in layout.disks.iter_mut().zip(&tables) {
        if let Some(Table::Gpt(t)) = table {
            if let PartitionTable::Gpt { disk_guid, .. } = &mut disk.table {
                disk_guid.clone_from(&t.disk_guid);
            }
            for p in &mut disk.partitions {
                if let (Some(g), Some(tp)) = (
                    &mut p.gpt,
                    t.partitions.iter().find(|tp| tp.number == p.number),
                ) {
                    g.unique_guid.clone_from(&tp.unique_guid);
                }
            }
        }
    }
    let after: Vec<Problem> = validate(&layout)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    if !after.is_empty() {
        return Err(PlanError::InvalidAfterFit(after));
    }

    let mut notes: Vec<String> = warnings.iter().map(|w| format!("{w}")).collect();
    notes.extend(
        ml.warnings
            .iter()
            .map(|w| format!("captured with warning: {w}")),
    );
    for u in &ml.unsupported {
        notes.push(format!(
            "{} ({}{}) is not recreated: this version cannot",
            u.device,
            u.kind,
            if u.detail.is_empty() {
                String::new()
            } else {
                format!(", {}", u.detail)
            }
        ));
    }

    let works: Vec<DiskWork> = layout
        .disks
        .iter()
        .map(|d| DiskWork::of(d, actions))
        .collect();
    let mut steps = Vec::new();
    partition_steps(&works, &tables, &mut steps);
    format_steps(&works, &mut steps);
    let mounts = mount_list(&layout, actions, &choices.root)?;
    let untouched = untouched_list(&layout, actions)?;
    action_notes(&works, &untouched, &mounts, &mut notes);
    for m in &mounts {
        steps.push(Step::Run {
            phase: Phase::Mount,
            cmd: Cmd::new("mkdir")
                .arg("-p")
                .arg(&m.dir)
                .describe(format!("make the mount point {}", m.dir.display())),
        });
        steps.push(Step::Mount {
            phase: Phase::Mount,
            dir: m.dir.clone(),
            cmd: Cmd::new("mount")
                .args(["-t", m.fs_type.as_str()])
                .args(restore_mount_options(&m.fs_type))
                .arg(&m.device)
                .arg(&m.dir)
                .describe(format!(
                    "mount {} ({}, {}) at {}",
                    m.device,
                    m.fs_type,
                    m.mount_point,
                    m.dir.display()
                )),
        });
    }
    let mut selection = choices.selection.clone();
    for u in &untouched {
        if let Some(mp) = &u.mount_point {
            for e in excluded_for(mp, &selection.renames) {
                if !selection.exclude.contains(&e) {
                    selection.exclude.push(e);
                }
            }
        }
    }
    steps.push(Step::RestoreFiles {
        root: choices.root.clone(),
        selection,
    });
    // An untouched root is not mounted: fstab, the boot loader and the log live in it.
    let root_untouched = untouched
        .iter()
        .find(|u| u.mount_point.as_ref().is_some_and(MountPoint::is_root));
    if let Some(u) = root_untouched {
        notes.push(format!(
            "the root filesystem {} is left untouched: its fstab is not rewritten, the boot \
             loader not reinstalled and the restore log not written into it",
            u.device
        ));
    } else {
        let changes = fstab::changes(ml, &layout, &|dev| fstab::partuuid_in(&layout, dev));
        if !changes.is_empty() {
            steps.push(Step::RewriteFstab {
                path: choices.root.join("etc/fstab"),
                changes,
            });
        }
        let boot_untouched = untouched.iter().find(|u| {
            u.mount_point
                .as_ref()
                .is_some_and(|m| m.as_str() == "/boot")
                || layout.boot.esp.as_deref() == Some(u.device.as_str())
        });
        match (choices.boot_loader, boot_untouched) {
            (false, _) => {}
            (true, Some(u)) => notes.push(format!(
                "{} is left untouched: the boot loader is not reinstalled",
                u.device
            )),
            (true, None) => {
                boot_loader_steps(ml, &layout, &mounts, &choices.root, &mut steps, &mut notes)
            }
        }
        steps.push(Step::WriteLog {
            path: choices.root.join(&choices.log_file),
        });
    }
    for m in mounts.iter().rev() {
        steps.push(Step::Unmount {
            phase: Phase::Unmount,
            dir: m.dir.clone(),
            cmd: Cmd::new("umount")
                .arg(&m.dir)
                .describe(format!("unmount {}", m.dir.display())),
        });
    }
    steps.push(Step::Run {
        phase: Phase::Unmount,
        cmd: Cmd::new("sync").describe("flush everything to the disks"),
    });
    Ok(Plan {
        original: ml.clone(),
        layout,
        maps: maps.to_vec(),
        mode,
        root: choices.root.clone(),
        steps,
        warnings: notes,
        actions: choices.actions.clone(),
    })
}

fn partition_steps(works: &[DiskWork], tables: &[Option<Table>], steps: &mut Vec<Step>) {
    for (work, table) in works.iter().zip(tables) {
        let disk = work.disk;
        if !work.rewrite {
            // Nothing created here: the partitions are used as they are on the disk.
            let devices: Vec<String> = disk
                .partitions
                .iter()
                .filter(|p| !p.is_extended())
                .filter(|p| {
                    !work
                        .kept
                        .contains(&(p.path.as_str(), PartitionAction::Untouched))
                })
                .map(|p| (p.number, p.path.clone()))
                .collect::<BTreeMap<_, _>>()
                .into_values()
                .collect();
            if !devices.is_empty() {
                steps.push(Step::WaitForPartitions {
                    disk: disk.path.clone(),
                    devices,
                });
            }
            continue;
        }
        if work.kept.is_empty() {
            steps.push(Step::Run {
                phase: Phase::Partition,
                cmd: Cmd::new("wipefs")
                    .args(["-a", &disk.path])
                    .describe(format!(
                        "erase the partition table and signatures on {} (everything on it is \
                         lost)",
                        disk.path
                    )),
            });
        } else {
            // `wipefs -a DISK` erases what libblkid finds on the whole device: the table's
            // headers, but also any whole-device signature, such as RAID metadata at the
            // end that may belong to the last partition. Kept partitions need only the old
            // headers gone (of either table type), so only those types are erased.
            let kept: Vec<&str> = work.kept.iter().map(|(d, _)| *d).collect();
            steps.push(Step::Run {
                phase: Phase::Partition,
                cmd: Cmd::new("wipefs")
                    .args(["-a", "-t", "gpt,PMBR,dos", &disk.path])
                    .describe(format!(
                        "erase only the partition table headers on {} ({} kept inside)",
                        disk.path,
                        kept.join(", ")
                    )),
            });
        }
        // Not `partx -u`: util-linux 2.38 updates only as many partitions as the table has
        // entries (4 on MBR), so logical partitions 5 and up never appear. Deleting a range
        // ignores numbers the kernel does not have; adding then finds none in the way.
        steps.push(Step::Run {
            phase: Phase::Partition,
            cmd: Cmd::new("partx")
                .args(["-d", "--nr", "1:256", &disk.path])
                .describe(format!(
                    "make the kernel forget the partitions {} had",
                    disk.path
                )),
        });
        let Some(table) = table else { continue };
        steps.push(Step::WriteTable {
            disk: disk.path.clone(),
            table: table.clone(),
        });
        steps.push(Step::Run {
            phase: Phase::Partition,
            cmd: Cmd::new("partx").args(["-a", &disk.path]).describe(format!(
                "make the kernel read the new partition table of {}",
                disk.path
            )),
        });
        if !disk.partitions.is_empty() {
            let mut numbered: Vec<(u32, &str)> = disk
                .partitions
                .iter()
                .map(|p| (p.number, p.path.as_str()))
                .collect();
            numbered.sort();
            steps.push(Step::WaitForPartitions {
                disk: disk.path.clone(),
                devices: numbered.iter().map(|(_, p)| p.to_string()).collect(),
            });
        }
    }
}

/// Filesystems of a disk with their device: the whole disk's, then the partitions' in
/// number order.
fn filesystems(disk: &Disk) -> Vec<(&str, &Filesystem)> {
    let mut parts: Vec<_> = disk.partitions.iter().collect();
    parts.sort_by_key(|p| p.number);
    disk.filesystem
        .iter()
        .map(|f| (disk.path.as_str(), f))
        .chain(
            parts
                .into_iter()
                .filter_map(|p| p.filesystem.as_ref().map(|f| (p.path.as_str(), f))),
        )
        .collect()
}

fn format_steps(works: &[DiskWork], steps: &mut Vec<Step>) {
    for work in works {
        // A whole disk wiped in the partition phase needs no second wipefs; one formatted
        // only was not.
        let inside: Vec<&str> = work
            .made
            .iter()
            .map(|(d, _)| *d)
            .filter(|d| *d != work.disk.path || !work.rewrite)
            .collect();
        if !inside.is_empty() {
            steps.push(Step::Run {
                phase: Phase::Format,
                cmd: Cmd::new("wipefs")
                    .arg("-a")
                    .args(inside.iter().copied())
                    .describe(format!(
                        "erase old filesystem signatures inside {}",
                        inside.join(", ")
                    )),
            });
        }
        for (device, fs) in &work.made {
            if let Some(cmd) = mkfs::mkfs(fs, device) {
                steps.push(Step::Run {
                    phase: Phase::Format,
                    cmd,
                });
            }
            if let Some(cmd) = mkfs::label(fs, device) {
                steps.push(Step::Run {
                    phase: Phase::Format,
                    cmd,
                });
            }
        }
    }
}

/// A filesystem to mount while restoring.
#[derive(Debug, Clone)]
struct MountSpec {
    mount_point: MountPoint,
    dir: PathBuf,
    device: String,
    fs_type: FsType,
}

/// The filesystems the restore mounts, parents before children (by depth, then name):
/// those it makes and those kept as they are.
fn mount_list(
    layout: &Mountlist,
    actions: &BTreeMap<String, PartitionAction>,
    root: &Path,
) -> Result<Vec<MountSpec>, PlanError> {
    let mounted = layout
        .disks
        .iter()
        .flat_map(filesystems)
        .filter(|(_, f)| f.fs_type != FsType::Swap)
        .filter(|(device, f)| match action_of(actions, device) {
            PartitionAction::CreateAndFormat | PartitionAction::FormatOnly => {
                f.fs_type.mkfs_program().is_some()
            }
            PartitionAction::KeepAsIs => true,
            PartitionAction::Untouched => false,
        });
    let mut list = Vec::new();
    for (device, f) in mounted {
        if let Some(mp) = mount_point_of(device, f)? {
            list.push(MountSpec {
                dir: mp.under(root),
                mount_point: mp,
                device: device.to_string(),
                fs_type: f.fs_type.clone(),
            });
        }
    }
    list.sort_by(|a, b| {
        (a.mount_point.depth(), &a.mount_point).cmp(&(b.mount_point.depth(), &b.mount_point))
    });
    Ok(list)
}

/// The mount point of `fs` in normal form, the only form the plan joins onto its root.
/// Validation refuses a bad one before the plan is built: this stays an error, not a
/// panic, should a layout ever reach here unchecked.
fn mount_point_of(device: &str, fs: &Filesystem) -> Result<Option<MountPoint>, PlanError> {
    fs.target_mount().map_err(|e| {
        PlanError::InvalidAfterFit(vec![Problem {
            severity: Severity::Error,
            place: Place::Filesystem {
                device: device.to_string(),
            },
            message: e.to_string(),
        }])
    })
}

/// A filesystem (or partition) left untouched.
struct Untouched {
    device: String,
    mount_point: Option<MountPoint>,
}

fn untouched_list(
    layout: &Mountlist,
    actions: &BTreeMap<String, PartitionAction>,
) -> Result<Vec<Untouched>, PlanError> {
    let mut list = Vec::new();
    for (device, action) in actions {
        if *action != PartitionAction::Untouched {
            continue;
        }
        let Some(disk) = disk_holding(layout, device) else {
            continue;
        };
        let part = disk.partitions.iter().find(|p| p.path == *device);
        if part.is_some_and(Partition::is_extended) {
            continue;
        }
        let fs = match part {
            Some(p) => p.filesystem.as_ref(),
            None => disk.filesystem.as_ref(),
        };
        list.push(Untouched {
            device: device.clone(),
            mount_point: match fs {
                Some(f) => mount_point_of(device, f)?,
                None => None,
            },
        });
    }
    Ok(list)
}

/// The warnings the actions call for: what is left untouched, and kept partitions whose
/// table is written again.
fn action_notes(
    works: &[DiskWork],
    untouched: &[Untouched],
    mounts: &[MountSpec],
    notes: &mut Vec<String>,
) {
    for u in untouched {
        let mut note = match &u.mount_point {
            Some(mp) => format!(
                "{} ({mp}) is left untouched: not formatted, mounted or restored into",
                u.device
            ),
            None => format!(
                "{} is left untouched: not formatted, mounted or restored into",
                u.device
            ),
        };
        if let Some(mp) = &u.mount_point {
            let inside: Vec<&str> = mounts
                .iter()
                .filter(|m| m.mount_point != *mp && m.mount_point.is_within(mp))
                .map(|m| m.mount_point.as_str())
                .collect();
            if !inside.is_empty() {
                note.push_str(&format!(
                    "; nothing is restored below {mp}, so {} get no files either",
                    inside.join(", ")
                ));
            }
        }
        notes.push(note);
    }
    for w in works.iter().filter(|w| w.rewrite && !w.kept.is_empty()) {
        let places: Vec<String> = w
            .kept
            .iter()
            .filter_map(|(d, _)| w.disk.partitions.iter().find(|p| p.path == *d))
            .map(|p| format!("{} at sector {}, {} sectors", p.path, p.start, p.size))
            .collect();
        notes.push(format!(
            "the partition table of {} is written again: what the kept partitions hold \
             survives only if they are where the layout puts them ({})",
            w.disk.path,
            places.join("; ")
        ));
    }
}

/// The captured paths whose contents would land in the untouched mount point `mp` (for
/// [`Selection::exclude`]): `mp` itself where no rename moves it, and the source of
/// each rename that lands in or above it.
fn excluded_for(mp: &MountPoint, renames: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    let mp = mp.relative().as_bytes().to_vec();
    let join = |a: &[u8], b: &[u8]| -> Vec<u8> {
        match (a.is_empty(), b.is_empty()) {
            (true, _) => b.to_vec(),
            (_, true) => a.to_vec(),
            _ => [a, b"/", b].concat(),
        }
    };
    let mut out = Vec::new();
    // The rename the extractor applies to a path: the longest prefix.
    let moved = renames
        .iter()
        .filter(|(old, _)| within(&mp, old))
        .max_by_key(|(old, _)| old.len());
    if moved.is_none() {
        out.push(mp.clone());
    }
    for (old, new) in renames {
        if within(new, &mp) {
            // All of `old` lands inside the mount point.
            out.push(old.clone());
        } else if within(&mp, new) {
            // The mount point lies inside where `old` lands.
            let rest = mp[new.len()..]
                .strip_prefix(b"/")
                .unwrap_or(&mp[new.len()..]);
            out.push(join(old, rest));
        }
    }
    out
}

/// A boot loader installation the restore runs inside the restored system.
struct Install {
    tool: BootTool,
    args: Vec<String>,
    description: String,
    /// Registers a firmware boot entry when the rescue system runs on UEFI firmware.
    nvram: bool,
}

fn boot_loader_steps(
    original: &Mountlist,
    layout: &Mountlist,
    mounts: &[MountSpec],
    root: &Path,
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
) {
    let installs = match &original.boot.paths {
        None => legacy_install(layout, mounts, notes).into_iter().collect(),
        Some(paths) if paths.is_empty() => {
            notes.push(
                "the source had no boot loader (no boot code in an MBR, no BIOS boot partition \
                 in use, no loader on an EFI System Partition): none is installed"
                    .into(),
            );
            return;
        }
        Some(paths) => path_installs(original, layout, mounts, paths, notes),
    };
    if installs.is_empty() {
        return;
    }
    let binds: Vec<(&str, PathBuf)> = ["/dev", "/proc", "/sys"]
        .into_iter()
        .map(|d| (d, root.join(d.trim_start_matches('/'))))
        .collect();
    steps.push(Step::Run {
        phase: Phase::Finish,
        cmd: Cmd::new("mkdir")
            .arg("-p")
            .args(binds.iter().map(|(_, dir)| dir.as_os_str().to_owned()))
            .describe("make the mount points for /dev, /proc and /sys in the restored system"),
    });
    for (from, dir) in &binds {
        steps.push(Step::Mount {
            phase: Phase::Finish,
            dir: dir.clone(),
            cmd: Cmd::new("mount")
                .args(["--bind", from])
                .arg(dir)
                .describe(format!(
                    "bind {from} at {} for the boot loader",
                    dir.display()
                )),
        });
    }
    for i in installs {
        steps.push(Step::InstallBootLoader {
            root: root.to_path_buf(),
            tool: i.tool,
            nvram: i.nvram,
            cmd: Cmd::new("chroot")
                .arg(root)
                .arg(i.tool.program())
                .args(i.args)
                .describe(i.description),
        });
    }
    for (_, dir) in binds.iter().rev() {
        steps.push(Step::Unmount {
            phase: Phase::Finish,
            dir: dir.clone(),
            cmd: Cmd::new("umount")
                .arg(dir)
                .describe(format!("unmount {}", dir.display())),
        });
    }
}

/// For a mountlist captured before boot paths were: GRUB for the boot mode, on the disk
/// of /boot (BIOS) or into the ESP's fallback path (UEFI).
fn legacy_install(
    layout: &Mountlist,
    mounts: &[MountSpec],
    notes: &mut Vec<String>,
) -> Option<Install> {
    match layout.boot.mode {
        BootMode::Bios => {
            let boot = mounts
                .iter()
                .find(|m| m.mount_point.as_str() == "/boot")
                .or_else(|| mounts.iter().find(|m| m.mount_point.is_root()));
            let Some(disk) = boot
                .and_then(|m| disk_holding(layout, &m.device))
                .map(|d| &d.path)
            else {
                notes.push("no disk holds /boot or /: the boot loader is not reinstalled".into());
                return None;
            };
            Some(grub_bios(disk))
        }
        BootMode::Uefi => {
            let esp = layout.boot.esp.as_deref();
            let Some(m) = mounts.iter().find(|m| Some(m.device.as_str()) == esp) else {
                notes.push(format!(
                    "the EFI System Partition{} is not mounted by the restore (it has no mount \
                     point): the boot loader is not reinstalled",
                    esp.map(|e| format!(" {e}")).unwrap_or_default()
                ));
                return None;
            };
            Some(grub_efi_fallback(m))
        }
    }
}

fn grub_bios(disk: &str) -> Install {
    Install {
        tool: BootTool::Grub,
        args: vec!["--target=i386-pc".into(), disk.into()],
        description: format!("reinstall GRUB for BIOS on {disk}, inside the restored system"),
        nvram: false,
    }
}

fn grub_efi_fallback(esp: &MountSpec) -> Install {
    Install {
        tool: BootTool::Grub,
        args: vec![
            "--target=x86_64-efi".into(),
            format!("--efi-directory={}", esp.mount_point),
            "--removable".into(),
        ],
        description: format!(
            "reinstall GRUB for UEFI into the EFI System Partition ({} at {}), inside the \
             restored system",
            esp.device, esp.mount_point
        ),
        nvram: false,
    }
}

/// The installs that recreate each captured boot path on the mapped disks; what cannot
/// be recreated is said in a note.
fn path_installs(
    original: &Mountlist,
    layout: &Mountlist,
    mounts: &[MountSpec],
    paths: &[BootPath],
    notes: &mut Vec<String>,
) -> Vec<Install> {
    // Disks are found by their place in the mountlist: the mapping keeps the order.
    let mapped_disk = |disk: &str| {
        let i = original.disks.iter().position(|d| d.path == disk)?;
        layout.disks.get(i)
    };
    let mapped_partition = |disk: &str, number: u32| {
        mapped_disk(disk)
            .and_then(|d| d.partitions.iter().find(|p| p.number == number))
            .map(|p| p.path.clone())
    };
    let mut installs = Vec::new();
    let mut bios_disks: Vec<String> = Vec::new();
    // (ESP device, vendor directory or None for the fallback path, loader)
    let mut efi: Vec<(String, Option<String>, Loader)> = Vec::new();
    for path in paths {
        match path {
            BootPath::Mbr { disk, loader } | BootPath::BiosBootPartition { disk, loader, .. } => {
                let Some(target) = mapped_disk(disk) else {
                    notes.push(format!("{path}: that disk is not restored"));
                    continue;
                };
                if *loader != Loader::Grub {
                    notes.push(format!(
                        "{path}: only GRUB is reinstalled for BIOS; {} gets no boot code",
                        target.path
                    ));
                    continue;
                }
                if !bios_disks.contains(&target.path) {
                    bios_disks.push(target.path.clone());
                }
            }
            BootPath::EspFile {
                disk,
                partition,
                path: file,
                loader,
            } => {
                let Some(device) = mapped_partition(disk, *partition) else {
                    notes.push(format!("{path}: that partition is not restored"));
                    continue;
                };
                let mut parts = file.split('/');
                let vendor = parts.nth(1).unwrap_or_default();
                let vendor = (!vendor.eq_ignore_ascii_case("boot")).then(|| vendor.to_string());
                // shim is installed by grub-install with GRUB (where the system has it).
                let loader = if *loader == Loader::Shim {
                    Loader::Grub
                } else {
                    *loader
                };
                let key = (device, vendor, loader);
                if !efi.contains(&key) {
                    efi.push(key);
                }
            }
            BootPath::EspUnread { disk, partition } => {
                let Some(device) = mapped_partition(disk, *partition) else {
                    notes.push(format!("{path}: that partition is not restored"));
                    continue;
                };
                let key = (device, None, Loader::Grub);
                if !efi.contains(&key) {
                    efi.push(key);
                }
            }
            BootPath::Nvram { .. } => {}
        }
    }
    for disk in bios_disks {
        installs.push(grub_bios(&disk));
    }
    let mut bootctl_done: Vec<String> = Vec::new();
    for (device, vendor, loader) in efi {
        let Some(m) = mounts.iter().find(|m| m.device == device) else {
            notes.push(format!(
                "the EFI System Partition {device} is not mounted by the restore: its boot \
                 loaders are not reinstalled"
            ));
            continue;
        };
        match (loader, vendor) {
            (Loader::Grub | Loader::Shim, None) => installs.push(grub_efi_fallback(m)),
            (Loader::Grub | Loader::Shim, Some(id)) => {
                let registered = paths.iter().any(|p| {
                    matches!(p, BootPath::Nvram { file: Some(f), .. }
                        if f.to_ascii_lowercase().contains(&format!("\\{}\\", id.to_ascii_lowercase())))
                });
                installs.push(Install {
                    tool: BootTool::Grub,
                    args: vec![
                        "--target=x86_64-efi".into(),
                        format!("--efi-directory={}", m.mount_point),
                        format!("--bootloader-id={id}"),
                    ],
                    description: format!(
                        "reinstall GRUB for UEFI at EFI/{id} of the EFI System Partition ({} at \
                         {}){}, inside the restored system",
                        m.device,
                        m.mount_point,
                        if registered {
                            " and its firmware boot entry when the firmware is UEFI"
                        } else {
                            ""
                        }
                    ),
                    nvram: registered,
                });
            }
            (Loader::SystemdBoot, _) => {
                if bootctl_done.contains(&device) {
                    continue;
                }
                bootctl_done.push(device.clone());
                installs.push(Install {
                    tool: BootTool::Bootctl,
                    args: vec!["install".into(), format!("--esp-path={}", m.mount_point)],
                    description: format!(
                        "reinstall systemd-boot on the EFI System Partition ({} at {}), inside \
                         the restored system",
                        m.device, m.mount_point
                    ),
                    nvram: true,
                });
            }
            (Loader::Other, v) => notes.push(format!(
                "{} on {device}: not a boot loader the restore can reinstall; the files \
                 restored onto the ESP are what boots",
                match v {
                    Some(id) => format!("EFI/{id}"),
                    None => "EFI/BOOT/BOOTX64.EFI".into(),
                }
            )),
        }
    }
    installs
}

/// Options the restore mounts a filesystem with: an xfs with the UUID of one already
/// mounted (the source itself, when restoring onto a spare disk of the same host) mounts
/// only with `nouuid`.
fn restore_mount_options(fs_type: &FsType) -> Vec<&'static str> {
    if fs_type.as_str() == "xfs" {
        vec!["-o", "nouuid"]
    } else {
        Vec::new()
    }
}

/// The tool a boot loader is installed with, inside the restored system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootTool {
    Grub,
    Bootctl,
}

impl BootTool {
    /// The program's usual name (grub2-install is looked for too where GRUB is).
    pub fn program(self) -> &'static str {
        match self {
            BootTool::Grub => "grub-install",
            BootTool::Bootctl => "bootctl",
        }
    }
}

/// The disk of `layout` that `device` is, or is a partition of.
pub fn disk_holding<'a>(layout: &'a Mountlist, device: &str) -> Option<&'a Disk> {
    layout
        .disks
        .iter()
        .find(|d| d.path == device || d.partitions.iter().any(|p| p.path == device))
}

impl fmt::Display for Plan {
    /// The plan as a sysadmin reads it before confirming: the disks, the layout, the
    /// warnings, then every step with its command.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.original.host;
        writeln!(
            f,
            "Restore of {} (kernel {}, {} boot) onto:",
            if host.hostname.is_empty() {
                "-"
            } else {
                &host.hostname
            },
            if host.kernel_release.is_empty() {
                "-"
            } else {
                &host.kernel_release
            },
            self.original.boot.mode
        )?;
        for m in &self.maps {
            let Some(before) = self.original.disk(&m.from) else {
                continue;
            };
            let after_bytes = m.to.sectors * u64::from(m.to.logical_sector_size);
            let how = if m.to.sectors == before.sectors {
                "same size: the layout as it was".to_string()
            } else {
                format!("the layout fitted: {}", self.mode)
            };
            writeln!(
                f,
                "  {} ({}) -> {} ({}), {how}",
                m.from,
                format_bytes(before.size_bytes()),
                m.to.path,
                format_bytes(after_bytes)
            )?;
        }
        let erased = self.erased_disks();
        if !erased.is_empty() {
            writeln!(f, "EVERYTHING ON {} IS ERASED.", erased.join(", "))?;
        }
        for w in self.works().iter().filter(|w| !w.erases_all()) {
            let mut gone: Vec<&str> = Vec::new();
            if w.rewrite {
                gone.push("THE PARTITION TABLE");
            }
            gone.extend(w.made.iter().map(|(d, _)| {
                if *d == w.disk.path {
                    "ITS FILESYSTEM"
                } else {
                    d
                }
            }));
            let mut kept: Vec<String> = w
                .kept
                .iter()
                .map(|(d, a)| format!("{d} ({})", a.label()))
                .collect();
            if !w.rewrite && w.disk.table != PartitionTable::None {
                kept.insert(0, "the partition table".into());
            }
            let kept = if kept.is_empty() {
                String::new()
            } else {
                format!("; kept: {}", kept.join(", "))
            };
            match gone.len() {
                0 => writeln!(f, "{}: nothing is erased{kept}.", w.disk.path)?,
                1 => writeln!(f, "{}: {} IS ERASED{kept}.", w.disk.path, gone[0])?,
                _ => writeln!(f, "{}: {} ARE ERASED{kept}.", w.disk.path, gone.join(", "))?,
            }
        }
        writeln!(f)?;
        writeln!(f, "Layout to create:")?;
        for line in render::compact(&self.layout).lines() {
            writeln!(f, "  {line}")?;
        }
        if !self.warnings.is_empty() {
            writeln!(f)?;
            writeln!(f, "Warnings:")?;
            for w in &self.warnings {
                writeln!(f, "  - {w}")?;
            }
        }
        let mut phase = None;
        for (i, step) in self.steps.iter().enumerate() {
            if phase != Some(step.phase()) {
                phase = Some(step.phase());
                writeln!(f)?;
                writeln!(f, "{}:", step.phase())?;
            }
            let number = format!("{:>3}. ", i + 1);
            writeln!(f, "{number}{}", step.description())?;
            for d in step.details() {
                writeln!(f, "{:width$}{d}", "", width = number.len() + 2)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures;

    /// Validation refuses such a layout first; the plan's own joins refuse it as well.
    #[test]
    fn a_mount_point_leading_out_of_the_root_is_never_joined_onto_it() {
        let mut layout = fixtures::mountlist();
        let home = &mut layout.disks[0].partitions[2];
        let device = home.path.clone();
        home.filesystem.as_mut().unwrap().mount_point = Some("/home/../../etc".into());

        let root = Path::new("/mnt/restore");
        let err = mount_list(&layout, &BTreeMap::new(), root).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "{device}: mount point \"/home/../../etc\" has a \"..\""
            )),
            "{msg}"
        );
        let untouched = BTreeMap::from([(device, PartitionAction::Untouched)]);
        assert!(untouched_list(&layout, &untouched).is_err());
        assert!(mount_list(&layout, &untouched, root).is_ok());
    }
}
