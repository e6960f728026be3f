//! The model: which screen is shown and the state of every screen.

use super::input::TextInput;
use super::msg::{
    Destination, Finished, FstabEdit, PartitionAction, PlanStep, Progress, VolumeRequest,
};
use super::tree::{CatalogSource, Tree};
use rescue_core::media::Manifest;
use rescue_core::mountlist::resize::{fit_disk, map_disk, ResizeMode, TargetDisk};
use rescue_core::mountlist::validate::{Place, Problem};
use rescue_core::mountlist::{Disk, FsType, MbrRole, Mountlist, PartitionTable};
use std::collections::{BTreeMap, BTreeSet};

/// A disk found in the rescue system that a restore may write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDiskInfo {
    pub path: String,
    pub bytes: u64,
    pub model: Option<String>,
    /// Logical sector size; `None`: taken to be that of the original disk mapped onto it.
    pub sector_size: Option<u32>,
    /// Why the restore will not write to it (mounted, swap, holds the media): shown, never
    /// offered as a target.
    pub refused: Option<String>,
}

impl TargetDiskInfo {
    /// The target as the resize code takes it, for an original disk with `sector_size`.
    pub fn target_disk(&self, original_sector_size: u32) -> TargetDisk {
        let size = self.sector_size.unwrap_or(original_sector_size).max(1);
        TargetDisk {
            path: self.path.clone(),
            sectors: self.bytes / u64::from(size),
            logical_sector_size: size,
        }
    }
}

/// What the UI starts from.
#[derive(Debug)]
pub struct AppInput {
    pub manifest: Manifest,
    pub mountlist: Mountlist,
    pub targets: Vec<TargetDiskInfo>,
    pub catalog: Box<dyn CatalogSource>,
    /// A plan built beforehand (nuke), shown on Review.
    pub plan: Option<Vec<PlanStep>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Start,
    Disks,
    Layout,
    Files,
    Destination,
    Review,
    Progress,
    After,
}

impl Screen {
    pub const ALL: [Screen; 8] = [
        Screen::Start,
        Screen::Disks,
        Screen::Layout,
        Screen::Files,
        Screen::Destination,
        Screen::Review,
        Screen::Progress,
        Screen::After,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Start => "Start",
            Screen::Disks => "Disks",
            Screen::Layout => "Layout",
            Screen::Files => "Files",
            Screen::Destination => "Where",
            Screen::Review => "Review",
            Screen::Progress => "Restore",
            Screen::After => "After",
        }
    }

    pub fn number(self) -> usize {
        Screen::ALL.iter().position(|&s| s == self).unwrap_or(0) + 1
    }
}

/// What the user chose on the Start screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Interactive,
    Nuke,
    Compare,
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub error: bool,
}

impl Note {
    pub fn info(text: impl Into<String>) -> Option<Note> {
        Some(Note {
            text: text.into(),
            error: false,
        })
    }

    pub fn error(text: impl Into<String>) -> Option<Note> {
        Some(Note {
            text: text.into(),
            error: true,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct StartState {
    pub selected: usize,
    pub note: Option<Note>,
}

/// How one original disk fits its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    NoTarget,
    Same,
    Grows(u64),
    Shrinks(u64),
    /// The fit error, in words.
    No(String),
}

#[derive(Debug, Clone)]
pub struct DisksState {
    /// The original disk the cursor is on.
    pub selected: usize,
    /// For each original disk: the index of its target, or none (not restored).
    pub mapping: Vec<Option<usize>>,
    pub resize: ResizeMode,
    pub fit: Vec<Fit>,
    pub note: Option<Note>,
}

/// A row of the layout editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Disk(usize),
    /// Disk index, partition index.
    Part(usize, usize),
    /// A filesystem on the whole disk.
    Whole(usize),
}

/// A field of the partition form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Size,
    Fs,
    Label,
    Mount,
    /// msdos only, when adding.
    Role,
}

impl Field {
    pub fn is_choice(self) -> bool {
        matches!(self, Field::Fs | Field::Role)
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Size => "Size",
            Field::Fs => "Filesystem",
            Field::Label => "Label",
            Field::Mount => "Mount point",
            Field::Role => "Kind",
        }
    }
}

/// Filesystem types the form offers, "none" last (a partition without one).
pub const FS_CHOICES: [&str; 8] = [
    "ext4", "ext3", "ext2", "xfs", "vfat", "btrfs", "swap", "none",
];
pub const ROLE_CHOICES: [MbrRole; 3] = [MbrRole::Primary, MbrRole::Logical, MbrRole::Extended];

pub fn role_name(role: MbrRole) -> &'static str {
    match role {
        MbrRole::Primary => "primary",
        MbrRole::Extended => "extended",
        MbrRole::Logical => "logical",
    }
}

/// The small form that edits or adds a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartForm {
    pub disk: usize,
    /// The partition number edited; `None` adds one.
    pub number: Option<u32>,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub size: TextInput,
    /// What the size field said at first (unchanged: the size is left alone).
    pub size_was: String,
    pub fs: String,
    pub fs_was: String,
    pub label: TextInput,
    pub mount: TextInput,
    pub role: MbrRole,
    pub error: Option<String>,
}

impl PartForm {
    pub fn field(&self) -> Field {
        self.fields[self.focus.min(self.fields.len() - 1)]
    }

    pub fn title(&self, ml: &Mountlist) -> String {
        let disk = &ml.disks[self.disk];
        match self.number {
            Some(n) => match disk.partition(n) {
                Some(p) => format!("Edit {}", p.path),
                None => format!("Edit partition {n}"),
            },
            None => format!("Add a partition to {}", disk.path),
        }
    }

    /// The text field with the focus.
    pub fn text_mut(&mut self) -> Option<&mut TextInput> {
        match self.field() {
            Field::Size => Some(&mut self.size),
            Field::Label => Some(&mut self.label),
            Field::Mount => Some(&mut self.mount),
            Field::Fs | Field::Role => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LayoutState {
    /// The mapping and resize mode the layout was made for.
    pub made_for: Option<(Vec<Option<usize>>, ResizeMode)>,
    /// Mapped onto the targets, fitted, then edited.
    pub mountlist: Mountlist,
    /// By device; what is not here is created and formatted.
    pub actions: BTreeMap<String, PartitionAction>,
    /// Partitions added here (deleting one removes it; others become untouched).
    pub added: BTreeSet<String>,
    pub problems: Vec<Problem>,
    pub selected: usize,
    pub form: Option<PartForm>,
    pub edited: bool,
    pub note: Option<Note>,
}

impl LayoutState {
    pub fn action(&self, device: &str) -> PartitionAction {
        self.actions
            .get(device)
            .copied()
            .unwrap_or(PartitionAction::CreateAndFormat)
    }

    pub fn rows(&self) -> Vec<Row> {
        layout_rows(&self.mountlist)
    }

    /// The device of a row that is a partition or a whole-disk filesystem.
    pub fn device(&self, row: Row) -> Option<&str> {
        let ml = &self.mountlist;
        match row {
            Row::Disk(_) => None,
            Row::Part(d, p) => Some(&ml.disks[d].partitions[p].path),
            Row::Whole(d) => Some(&ml.disks[d].path),
        }
    }

    /// The problems shown under a row.
    pub fn problems_of(&self, row: Row) -> Vec<&Problem> {
        let ml = &self.mountlist;
        self.problems
            .iter()
            .filter(|p| match (&p.place, row) {
                (Place::Disk { disk }, Row::Disk(d)) => *disk == ml.disks[d].path,
                (Place::Partition { path, .. }, Row::Part(d, i)) => {
                    *path == ml.disks[d].partitions[i].path
                }
                (Place::Filesystem { device }, Row::Part(d, i)) => {
                    *device == ml.disks[d].partitions[i].path
                }
                (Place::Filesystem { device }, Row::Whole(d)) => *device == ml.disks[d].path,
                _ => false,
            })
            .collect()
    }

    /// Problems about the mountlist as a whole (shown above the rows).
    pub fn general_problems(&self) -> Vec<&Problem> {
        self.problems
            .iter()
            .filter(|p| p.place == Place::Mountlist)
            .collect()
    }
}

/// Every disk, then its whole-disk filesystem or its partitions.
pub fn layout_rows(ml: &Mountlist) -> Vec<Row> {
    let mut rows = Vec::new();
    for (d, disk) in ml.disks.iter().enumerate() {
        rows.push(Row::Disk(d));
        if disk.filesystem.is_some() {
            rows.push(Row::Whole(d));
        }
        rows.extend((0..disk.partitions.len()).map(|p| Row::Part(d, p)));
    }
    rows
}

/// The largest free space of a disk, in sectors, aligned to 1 MiB: what a new partition
/// gets by default.
pub fn largest_free(disk: &Disk) -> u64 {
    let mib = disk.mib_sectors();
    let (first, end) = match &disk.table {
        PartitionTable::Gpt {
            first_usable_lba,
            last_usable_lba,
            ..
        } => (*first_usable_lba, last_usable_lba.saturating_add(1)),
        PartitionTable::Msdos { .. } => (1, disk.sectors),
        PartitionTable::None => return 0,
    };
    let mut used: Vec<(u64, u64)> = disk
        .partitions
        .iter()
        .filter(|p| !p.is_logical())
        .map(|p| (p.start, p.end()))
        .collect();
    used.sort_unstable();
    let mut best = 0;
    let mut at = first;
    for (start, end_used) in used.into_iter().chain([(end, end)]) {
        let aligned = at.div_ceil(mib) * mib;
        if start > aligned {
            best = best.max((start - aligned) / mib * mib);
        }
        at = at.max(end_used);
    }
    best
}

#[derive(Debug, Clone)]
pub struct FilesState {
    pub tree: Tree,
    /// The row the cursor is on.
    pub selected: usize,
    /// The search being typed.
    pub search: Option<TextInput>,
    /// The last search made, for "next match".
    pub last_search: Option<String>,
    pub note: Option<Note>,
}

/// The options of the Destination screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestChoice {
    Original,
    Prefix,
    Rename,
}

/// What is being typed on the Destination screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestEdit {
    Prefix,
    /// A rename entry: its index, or `None` for a new one.
    Rename(Option<usize>),
}

#[derive(Debug, Clone)]
pub struct DestState {
    pub choice: DestChoice,
    /// 0 original, 1 prefix, 2 rename, 3.. the rename entries.
    pub focus: usize,
    pub prefix: TextInput,
    /// OLD=NEW as typed.
    pub renames: Vec<String>,
    pub editing: Option<(DestEdit, TextInput)>,
    pub note: Option<Note>,
}

impl DestState {
    pub fn rows(&self) -> usize {
        3 + self.renames.len()
    }
}

/// Checks a path the user typed: absolute, without "." or ".." components.
pub fn check_path(what: &str, p: &str) -> Result<String, String> {
    let p = p.trim();
    if !p.starts_with('/') {
        return Err(format!("{what} {p:?} must start with /"));
    }
    if p.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!("{what} {p:?} may not hold . or .."));
    }
    let trimmed = p.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.to_string())
}

/// `OLD=NEW` into checked paths.
pub fn parse_rename(entry: &str) -> Result<(String, String), String> {
    let (old, new) = entry
        .split_once('=')
        .ok_or_else(|| format!("{entry:?}: write OLD=NEW, such as /home=/tmp/home"))?;
    let old = check_path("OLD", old)?;
    let new = check_path("NEW", new)?;
    if old == "/" || new == "/" {
        return Err(format!(
            "{entry:?}: rename a directory, not / (use a prefix for that)"
        ));
    }
    if old == new {
        return Err(format!("{entry:?}: OLD and NEW are the same"));
    }
    Ok((old, new))
}

impl DestState {
    /// The destination chosen, checked.
    pub fn destination(&self) -> Result<Destination, String> {
        match self.choice {
            DestChoice::Original => Ok(Destination::Original),
            DestChoice::Prefix => {
                let p = check_path("the prefix", self.prefix.value())?;
                if p == "/" {
                    return Err("a prefix of / is the original places: choose those".into());
                }
                Ok(Destination::Prefix(p))
            }
            DestChoice::Rename => {
                if self.renames.is_empty() {
                    return Err("add a rename (a to add OLD=NEW)".into());
                }
                self.renames
                    .iter()
                    .map(|r| parse_rename(r))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Destination::Rename)
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReviewState {
    pub steps: Option<Vec<PlanStep>>,
    /// A plan was asked for and has not come yet.
    pub waiting: bool,
    /// Why there is no plan.
    pub error: Option<String>,
    pub confirm: TextInput,
    /// The first step shown.
    pub scroll: usize,
    pub note: Option<Note>,
}

impl ReviewState {
    /// The disks the plan destroys, in order.
    pub fn destroyed(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.steps.iter().flatten() {
            if let Some(d) = &s.destroys {
                if !out.contains(&d.as_str()) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// The word to type before a destructive plan starts: the disk's name ("vdb") when it
    /// destroys one disk, "yes" when several; `None` when nothing is destroyed.
    pub fn confirm_word(&self) -> Option<String> {
        match self.destroyed().as_slice() {
            [] => None,
            [one] => Some(one.rsplit('/').next().unwrap_or(one).to_string()),
            _ => Some("yes".to_string()),
        }
    }
}

/// Lines kept in the log pane.
pub const LOG_LINES: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct ProgressState {
    pub latest: Option<Progress>,
    pub log: Vec<String>,
    pub problems: Vec<String>,
    /// Lines scrolled back from the end of the log.
    pub log_back: usize,
    /// A volume the restore waits for (a dialog over the screen).
    pub need_volume: Option<VolumeRequest>,
}

/// Reboot, power off or shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    Reboot,
    PowerOff,
    Shell,
}

#[derive(Debug, Clone, Default)]
pub struct AfterState {
    pub finished: Option<Finished>,
    pub fstab: Vec<FstabEdit>,
    /// The fstab change under the cursor.
    pub selected: usize,
    /// The first line of the problems shown (the list scrolls when it is longer than
    /// the screen has room for).
    pub problems_top: usize,
    pub editing: Option<TextInput>,
    pub boot_loader: bool,
    /// Finalize was asked for and has not answered.
    pub applying: bool,
    pub applied: Option<Result<(), String>>,
    /// A reboot or power off asked for before the changes were applied: asked again.
    pub leaving: Option<Leave>,
    pub note: Option<Note>,
}

/// The model.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    pub mode: Mode,
    pub manifest: Manifest,
    /// The mountlist as captured.
    pub original: Mountlist,
    pub targets: Vec<TargetDiskInfo>,
    pub catalog: Box<dyn CatalogSource>,
    pub start: StartState,
    pub disks: DisksState,
    pub layout: LayoutState,
    pub files: FilesState,
    pub dest: DestState,
    pub review: ReviewState,
    pub progress: ProgressState,
    pub after: AfterState,
    /// A plan given at the start (nuke), used until something is chosen.
    pub given_plan: Option<Vec<PlanStep>>,
}

impl App {
    /// The model, with the top of the file tree read (one pass over the catalog).
    pub fn new(input: AppInput) -> App {
        let AppInput {
            manifest,
            mountlist,
            targets,
            mut catalog,
            plan,
        } = input;
        let mapping = auto_mapping(&mountlist, &targets);
        let tree = Tree::load(catalog.as_mut());
        let mut app = App {
            screen: Screen::Start,
            mode: Mode::Interactive,
            manifest,
            disks: DisksState {
                selected: 0,
                mapping,
                resize: ResizeMode::Proportional,
                fit: Vec::new(),
                note: None,
            },
            layout: LayoutState {
                made_for: None,
                mountlist: mountlist.clone(),
                actions: BTreeMap::new(),
                added: BTreeSet::new(),
                problems: Vec::new(),
                selected: 0,
                form: None,
                edited: false,
                note: None,
            },
            original: mountlist,
            targets,
            catalog,
            start: StartState::default(),
            files: FilesState {
                tree,
                selected: 0,
                search: None,
                last_search: None,
                note: None,
            },
            dest: DestState {
                choice: DestChoice::Original,
                focus: 0,
                prefix: TextInput::new("/mnt/restored"),
                renames: Vec::new(),
                editing: None,
                note: None,
            },
            review: ReviewState::default(),
            progress: ProgressState::default(),
            after: AfterState {
                boot_loader: true,
                ..AfterState::default()
            },
            given_plan: plan,
        };
        app.refresh_fit();
        app
    }

    /// Recomputes how each original disk fits its target.
    pub fn refresh_fit(&mut self) {
        self.disks.fit = self
            .original
            .disks
            .iter()
            .zip(&self.disks.mapping)
            .map(|(disk, target)| match target {
                None => Fit::NoTarget,
                Some(t) if self.targets[*t].refused.is_some() => Fit::No(format!(
                    "{} is not offered: {}",
                    self.targets[*t].path,
                    self.targets[*t].refused.as_deref().unwrap_or_default()
                )),
                Some(t) => {
                    let target = self.targets[*t].target_disk(disk.logical_sector_size);
                    if target.logical_sector_size != disk.logical_sector_size {
                        return Fit::No(format!(
                            "{} has {}-byte sectors, {} {}-byte ones",
                            target.path,
                            target.logical_sector_size,
                            disk.path,
                            disk.logical_sector_size
                        ));
                    }
                    // map_disk names the target in its errors (fit_disk the original).
                    match map_disk(&self.original, &disk.path, &target, self.disks.resize) {
                        Ok(_) if target.sectors == disk.sectors => Fit::Same,
                        Ok(_) => {
                            let (was, now) = (disk.size_bytes(), self.targets[*t].bytes);
                            if now >= was {
                                Fit::Grows(now - was)
                            } else {
                                Fit::Shrinks(was - now)
                            }
                        }
                        Err(e) => Fit::No(e.to_string()),
                    }
                }
            })
            .collect();
    }

    /// Whether a text field has the keyboard (keys are typed into it).
    pub fn typing(&self) -> bool {
        match self.screen {
            Screen::Layout => self
                .layout
                .form
                .as_ref()
                .is_some_and(|f| !f.field().is_choice()),
            Screen::Files => self.files.search.is_some(),
            Screen::Destination => self.dest.editing.is_some(),
            Screen::Review => self.review.confirm_word().is_some() && self.review.steps.is_some(),
            Screen::After => self.after.editing.is_some(),
            Screen::Start | Screen::Disks | Screen::Progress => false,
        }
    }

    /// The labels the restored filesystems carry, for the After screen.
    pub fn labels(&self) -> Vec<(String, String, String)> {
        self.layout
            .mountlist
            .filesystems()
            .filter(|(dev, _)| self.layout.action(dev) != PartitionAction::Untouched)
            .filter_map(|(dev, fs)| {
                fs.label
                    .as_ref()
                    .map(|l| (dev.to_string(), l.clone(), fs.fs_type.to_string()))
            })
            .collect()
    }
}

/// The automatic mapping: each original disk in order takes a free target of the same
/// size, else the smallest larger one, else the largest smaller one its layout fits on.
pub fn auto_mapping(ml: &Mountlist, targets: &[TargetDiskInfo]) -> Vec<Option<usize>> {
    let mut used = vec![false; targets.len()];
    let mut out = Vec::with_capacity(ml.disks.len());
    for disk in &ml.disks {
        let want = disk.size_bytes();
        let free = || (0..targets.len()).filter(|&t| !used[t] && targets[t].refused.is_none());
        let same = free().find(|&t| targets[t].bytes == want);
        let larger = || {
            free()
                .filter(|&t| targets[t].bytes > want)
                .min_by_key(|&t| targets[t].bytes)
        };
        let fits = || {
            free()
                .filter(|&t| {
                    let target = targets[t].target_disk(disk.logical_sector_size);
                    target.logical_sector_size == disk.logical_sector_size
                        && fit_disk(disk, target.sectors, ResizeMode::Proportional).is_ok()
                })
                .max_by_key(|&t| targets[t].bytes)
        };
        let choice = same.or_else(larger).or_else(fits);
        if let Some(t) = choice {
            used[t] = true;
        }
        out.push(choice);
    }
    out
}

/// The filesystem type a form choice names (`None` for "none").
pub fn fs_choice(name: &str) -> Option<FsType> {
    (name != "none").then(|| FsType::parse(name))
}
