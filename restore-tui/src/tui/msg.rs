//! What goes into the UI ([`Msg`]: keys made into meanings, and news from the outside) and
//! what comes out of it ([`Command`]: what the UI asks the outside to do).
//!
//! The runner of the UI reads keys, turns them into messages ([`super::keys`]), calls
//! [`super::update`], performs any command it returns, and feeds the results back as
//! messages (`PlanBuilt`, `Progress`, `Log`, `Finished` ...).

pub use crate::engine::action::PartitionAction;

use super::input::TextEdit;
use rescue_core::mountlist::resize::{ResizeMode, TargetDisk};
use rescue_core::mountlist::{partition_path, Mountlist};
use rescue_core::restore_files::Selection;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A move in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
}

/// The choices of the Start screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartChoice {
    Interactive,
    Nuke,
    Compare,
    Shell,
    Reboot,
    PowerOff,
}

impl StartChoice {
    pub const ALL: [StartChoice; 6] = [
        StartChoice::Interactive,
        StartChoice::Nuke,
        StartChoice::Compare,
        StartChoice::Shell,
        StartChoice::Reboot,
        StartChoice::PowerOff,
    ];

    pub fn label(self) -> &'static str {
        match self {
            StartChoice::Interactive => "Interactive restore",
            StartChoice::Nuke => "Nuke",
            StartChoice::Compare => "Compare",
            StartChoice::Shell => "Expert shell",
            StartChoice::Reboot => "Reboot",
            StartChoice::PowerOff => "Power off",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            StartChoice::Interactive => "choose the disks, the layout, the files, where to",
            StartChoice::Nuke => "rebuild everything as it was, after one confirmation",
            StartChoice::Compare => "compare the disks with the backup, change nothing",
            StartChoice::Shell => "a shell with the restore tools",
            StartChoice::Reboot => "",
            StartChoice::PowerOff => "",
        }
    }

    /// The key that chooses it.
    pub fn key(self) -> char {
        match self {
            StartChoice::Interactive => 'i',
            StartChoice::Nuke => 'n',
            StartChoice::Compare => 'c',
            StartChoice::Shell => 's',
            StartChoice::Reboot => 'r',
            StartChoice::PowerOff => 'p',
        }
    }
}

/// A message into [`super::update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    // ---- from the keyboard (see keys.rs) ----
    Move(Move),
    /// Esc: close the open field or form, else back a screen.
    Back,
    /// Continue to the next screen.
    Next,
    /// Enter: choose, open, submit.
    Activate,
    /// Left/Right on a choice: the previous or next value.
    Cycle(i8),
    Choose(StartChoice),
    /// Leave the UI (to the rescue system's menu, or the shell it was started from).
    Quit,
    ToggleResizeMode,
    Edit,
    Add,
    Delete,
    CycleAction,
    /// Space: select or deselect.
    Toggle,
    Expand,
    Collapse,
    /// "/": start typing a search.
    Search,
    NextMatch,
    ToggleBootLoader,
    /// Apply the choices of the After screen (fstab, boot loader).
    Apply,
    Reboot,
    PowerOff,
    Shell,
    Text(TextEdit),

    // ---- from the outside ----
    /// The plan the engine built from [`Command::BuildPlan`].
    PlanBuilt(Vec<PlanStep>),
    /// The engine refused the plan (nothing was written).
    PlanFailed(String),
    Progress(Progress),
    Log(String),
    /// An error to list (the run goes on).
    Problem(String),
    /// The restore (or compare) ended.
    Finished(Finished),
    /// [`Command::Finalize`] ended: `Err` says what failed.
    Finalized(Result<(), String>),
    /// The restore reached sets on a volume it cannot find: answer with
    /// [`Command::Volume`].
    NeedVolume(VolumeRequest),
    /// `s` while a volume is asked for: go on without it.
    SkipVolume,
}

/// What the UI asks the outside to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Build the plan and answer with [`Msg::PlanBuilt`] or [`Msg::PlanFailed`].
    BuildPlan(Box<PlanRequest>),
    /// Apply the plan built last; report with `Progress`, `Log`, `Problem`, `Finished`.
    StartRestore,
    /// Compare the disks with the backup; report as a restore does.
    Compare,
    /// Rewrite fstab with these changes and reinstall the boot loader when asked, then
    /// unmount and flush; answer with [`Msg::Finalized`].
    Finalize {
        fstab: Vec<FstabEdit>,
        boot_loader: bool,
    },
    /// The answer to [`Msg::NeedVolume`].
    Volume(VolumeAnswer),
    Shell,
    Reboot,
    PowerOff,
    Quit,
}

/// A volume the restore needs and did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRequest {
    /// "volume 2 of 3".
    pub name: String,
    pub backup_id: String,
    /// The label of its disc or stick: `RESCUE_<id>_<n>`.
    pub label: String,
    /// A directory of volumes it may also be copied into.
    pub dir: Option<String>,
    /// What was found instead, one item per place (after a look that was asked for).
    pub seen: Vec<String>,
    /// How many times it was looked for again at the user's request.
    pub looked_again: u32,
}

/// What the user answered when a volume was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeAnswer {
    /// Look again (it has been inserted, attached or copied).
    LookAgain,
    /// Go on without it: its files are listed as not restored.
    Skip,
}

/// Nuke restores everything as it was after one confirmation; interactive is what the
/// user chose screen by screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMode {
    Interactive,
    Nuke,
}

/// Where the selected files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Where they were.
    Original,
    /// Below this directory of the restored system: "/mnt/x" puts /home at /mnt/x/home.
    Prefix(String),
    /// OLD=NEW pairs, absolute: ("/home", "/tmp/home").
    Rename(Vec<(String, String)>),
}

fn archive_path(p: &str) -> Vec<u8> {
    p.trim_matches('/').as_bytes().to_vec()
}

impl Destination {
    /// The path renames the restore applies (rescue_core's `Selection::renames`).
    pub fn renames(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        match self {
            Destination::Original => Vec::new(),
            Destination::Prefix(prefix) => vec![(Vec::new(), archive_path(prefix))],
            Destination::Rename(pairs) => pairs
                .iter()
                .map(|(old, new)| (archive_path(old), archive_path(new)))
                .collect(),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Original => f.write_str("the original places"),
            Destination::Prefix(p) => write!(f, "under {p}"),
            Destination::Rename(pairs) => {
                let list: Vec<String> = pairs.iter().map(|(o, n)| format!("{o}={n}")).collect();
                write!(f, "renamed: {}", list.join(", "))
            }
        }
    }
}

/// Original disk `from` is restored onto `to` (the engine's `DiskMap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskMapping {
    pub from: String,
    pub to: TargetDisk,
}

/// Everything the plan is built from.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub mode: RestoreMode,
    /// The mountlist as captured.
    pub original: Mountlist,
    /// What will be made: mapped onto the targets, fitted to their size, then edited.
    /// Disks left without a target are not in it.
    pub layout: Mountlist,
    pub maps: Vec<DiskMapping>,
    pub resize: ResizeMode,
    /// By device of `layout` (partition, or whole disk); every filesystem has one.
    pub actions: BTreeMap<String, PartitionAction>,
    /// The paths to restore (empty: everything), with the renames of `destination`.
    pub selection: Selection,
    pub destination: Destination,
}

impl PlanRequest {
    /// The layout under the original disk names. Mapped with `maps` and `resize` it gives
    /// `layout` back unchanged (each disk already has its target's size), so an engine that
    /// maps the mountlist itself builds exactly what the user saw, and still sees every
    /// device name that changed (for fstab).
    pub fn layout_by_original_names(&self) -> Mountlist {
        let mut ml = self.layout.clone();
        let mut esp = None;
        for disk in &mut ml.disks {
            let Some(map) = self.maps.iter().find(|m| m.to.path == disk.path) else {
                continue;
            };
            for p in &mut disk.partitions {
                let old = partition_path(&map.from, p.number);
                if esp.is_none() && self.layout.boot.esp.as_deref() == Some(p.path.as_str()) {
                    esp = Some(old.clone());
                }
                p.path = old;
            }
            disk.path.clone_from(&map.from);
        }
        if esp.is_some() {
            ml.boot.esp = esp;
        }
        ml
    }
}

/// One step of the plan, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub text: String,
    /// Lines shown under it: the command line, the partition table.
    pub details: Vec<String>,
    /// The disk whose contents this step destroys, when it does.
    pub destroys: Option<String>,
}

impl PlanStep {
    pub fn new(text: impl Into<String>) -> PlanStep {
        PlanStep {
            text: text.into(),
            details: Vec::new(),
            destroys: None,
        }
    }

    pub fn destroying(text: impl Into<String>, disk: impl Into<String>) -> PlanStep {
        PlanStep {
            destroys: Some(disk.into()),
            ..PlanStep::new(text)
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> PlanStep {
        self.details = details;
        self
    }
}

impl From<String> for PlanStep {
    fn from(text: String) -> PlanStep {
        PlanStep::new(text)
    }
}

/// How far the run is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The step running, from 1, of `steps`.
    pub step: usize,
    pub steps: usize,
    pub step_text: String,
    /// Bytes of the whole run (0 total: unknown, the steps count instead).
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// The current step's own measure (0 total: not measured).
    pub step_done: u64,
    pub step_total: u64,
    pub file: Option<String>,
    pub elapsed: Duration,
}

/// One fstab change: the first field `old` becomes `new` (the engine's `FstabChange`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEdit {
    pub old: String,
    pub new: String,
}

/// How the run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    pub ok: bool,
    /// What was done, a line each ("4213 files, 12.3G restored").
    pub summary: Vec<String>,
    /// What went wrong (also for compare: the report's lines, its section headers
    /// "CHANGED (1):" and its verdict among them, so their number is not a count).
    pub problems: Vec<String>,
    /// A compare: how many files differ from the backup (missing, changed, extra,
    /// unreadable), what the headline counts. `None` for a restore, or a compare that
    /// stopped before comparing.
    pub differences: Option<u64>,
    /// The fstab changes proposed for the restored system.
    pub fstab: Vec<FstabEdit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_become_renames() {
        assert!(Destination::Original.renames().is_empty());
        assert_eq!(
            Destination::Prefix("/mnt/x/".into()).renames(),
            vec![(b"".to_vec(), b"mnt/x".to_vec())]
        );
        assert_eq!(
            Destination::Rename(vec![("/home".into(), "/tmp/home".into())]).renames(),
            vec![(b"home".to_vec(), b"tmp/home".to_vec())]
        );
    }
}
