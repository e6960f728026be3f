//! `update`: a message changes the model and may ask the outside for a [`Command`].

use super::app::{
    auto_mapping, fs_choice, largest_free, layout_rows, parse_rename, role_name, App, DestChoice,
    DestEdit, Field, Fit, Leave, Mode, Note, PartForm, Row, Screen, FS_CHOICES, LOG_LINES,
    ROLE_CHOICES,
};
use super::input::TextInput;
use super::msg::{
    Command, Destination, DiskMapping, Move, Msg, PartitionAction, PlanRequest, RestoreMode,
    StartChoice, VolumeAnswer,
};
use super::tree::NodeKind;
use rescue_core::mountlist::edit::{
    add_partition, delete_partition, edit_partition, NewPartition, PartitionEdit,
};
use rescue_core::mountlist::resize::{map_disks, ResizeMode, TargetDisk};
use rescue_core::mountlist::validate::{has_errors, validate, Severity};
use rescue_core::mountlist::{partition_path, Filesystem, FsParams, MbrRole, PartitionTable};
use rescue_core::restore_files::Selection;
use rescue_core::size::{format_bytes, SizeSpec};
use std::collections::BTreeMap;

/// Rows a page key moves.
pub const PAGE: usize = 10;

/// Applies `msg` to the model; the command, if any, is for the outside to perform.
pub fn update(app: &mut App, msg: Msg) -> Option<Command> {
    match msg {
        Msg::PlanBuilt(steps) => {
            if app.screen == Screen::Review && app.review.waiting {
                app.review.steps = Some(steps);
                app.review.waiting = false;
                app.review.error = None;
                app.review.confirm = TextInput::default();
                app.review.scroll = 0;
            }
            None
        }
        Msg::PlanFailed(why) => {
            if app.screen == Screen::Review && app.review.waiting {
                app.review.error = Some(why);
                app.review.waiting = false;
            }
            None
        }
        Msg::Progress(p) => {
            app.progress.latest = Some(p);
            None
        }
        Msg::Log(line) => {
            log(app, line);
            None
        }
        Msg::Problem(p) => {
            log(app, format!("error: {p}"));
            app.progress.problems.push(p);
            None
        }
        Msg::Finished(f) => {
            // A question the run no longer waits for.
            app.progress.need_volume = None;
            app.after.fstab = f.fstab.clone();
            app.after.finished = Some(f);
            app.after.selected = 0;
            app.after.problems_top = 0;
            app.after.editing = None;
            app.after.applied = None;
            app.after.leaving = None;
            app.screen = Screen::After;
            let ok = app.after.finished.as_ref().is_some_and(|f| f.ok);
            if app.mode == Mode::Nuke && ok {
                // Nuke asks nothing more: the proposed fstab, the boot loader.
                app.after.applying = true;
                return Some(Command::Finalize {
                    fstab: app.after.fstab.clone(),
                    boot_loader: app.after.boot_loader,
                });
            }
            None
        }
        Msg::Finalized(result) => {
            app.after.applying = false;
            app.after.note = match &result {
                Ok(()) => None,
                Err(e) => Note::error(format!("applying failed: {e}")),
            };
            app.after.applied = Some(result);
            None
        }
        Msg::NeedVolume(request) => {
            if request.looked_again == 0 {
                log(
                    app,
                    format!(
                        "{} of backup {} (label {}) is not here: asking for it",
                        request.name, request.backup_id, request.label
                    ),
                );
            }
            app.progress.need_volume = Some(request);
            None
        }
        msg => match app.screen {
            Screen::Start => start(app, msg),
            Screen::Disks => disks(app, msg),
            Screen::Layout => layout(app, msg),
            Screen::Files => files(app, msg),
            Screen::Destination => destination(app, msg),
            Screen::Review => review(app, msg),
            Screen::Progress => progress(app, msg),
            Screen::After => after(app, msg),
        },
    }
}

fn log(app: &mut App, line: String) {
    let log = &mut app.progress.log;
    log.push(line);
    if log.len() > LOG_LINES {
        let cut = log.len() - LOG_LINES;
        log.drain(..cut);
    }
}

/// A cursor `at` in `0..len` after `m`.
fn moved(at: usize, len: usize, m: Move) -> usize {
    let last = len.saturating_sub(1);
    match m {
        Move::Up => at.saturating_sub(1),
        Move::Down => (at + 1).min(last),
        Move::PageUp => at.saturating_sub(PAGE),
        Move::PageDown => (at + PAGE).min(last),
        Move::Home => 0,
        Move::End => last,
    }
}

// ---- 1. Start ----

fn start(app: &mut App, msg: Msg) -> Option<Command> {
    match msg {
        Msg::Move(m) => {
            app.start.selected = moved(app.start.selected, StartChoice::ALL.len(), m);
            None
        }
        Msg::Activate => choose(app, StartChoice::ALL[app.start.selected]),
        Msg::Choose(c) => {
            if let Some(i) = StartChoice::ALL.iter().position(|&x| x == c) {
                app.start.selected = i;
            }
            choose(app, c)
        }
        Msg::Quit => Some(Command::Quit),
        _ => None,
    }
}

fn choose(app: &mut App, choice: StartChoice) -> Option<Command> {
    app.start.note = None;
    match choice {
        StartChoice::Interactive => {
            app.mode = Mode::Interactive;
            app.screen = Screen::Disks;
            None
        }
        StartChoice::Nuke => nuke(app),
        StartChoice::Compare => {
            app.mode = Mode::Compare;
            app.progress = Default::default();
            app.screen = Screen::Progress;
            Some(Command::Compare)
        }
        StartChoice::Shell => Some(Command::Shell),
        StartChoice::Reboot => Some(Command::Reboot),
        StartChoice::PowerOff => Some(Command::PowerOff),
    }
}

/// Everything as it was: the automatic mapping, the layout fitted, every file, the
/// original places; then the Review screen's one confirmation.
fn nuke(app: &mut App) -> Option<Command> {
    app.mode = Mode::Nuke;
    app.review = Default::default();
    app.screen = Screen::Review;
    app.disks.mapping = auto_mapping(&app.original, &app.targets);
    app.disks.resize = ResizeMode::Proportional;
    app.refresh_fit();
    let unmapped: Vec<&str> = app
        .original
        .disks
        .iter()
        .zip(&app.disks.mapping)
        .filter(|(_, t)| t.is_none())
        .map(|(d, _)| d.path.as_str())
        .collect();
    if !unmapped.is_empty() {
        app.review.error = Some(format!(
            "nuke needs a target disk for every disk of the backup, and {} {} none that \
             fits (of {} disk(s) found): choose Interactive to map the disks yourself",
            unmapped.join(", "),
            if unmapped.len() == 1 { "has" } else { "have" },
            app.targets.len()
        ));
        return None;
    }
    if let Err(e) = make_layout(app) {
        app.review.error = Some(e);
        return None;
    }
    if let Some(plan) = app.given_plan.clone() {
        app.review.steps = Some(plan);
        return None;
    }
    app.review.waiting = true;
    Some(Command::BuildPlan(Box::new(plan_request(
        app,
        RestoreMode::Nuke,
        Vec::new(),
        Destination::Original,
    ))))
}

// ---- 2. Disks ----

fn disks(app: &mut App, msg: Msg) -> Option<Command> {
    let n = app.original.disks.len();
    match msg {
        Msg::Move(m) => app.disks.selected = moved(app.disks.selected, n, m),
        Msg::Cycle(step) if n > 0 => {
            let i = app.disks.selected;
            // None, then each target that may be written to, in turn.
            let choices = app.targets.len() + 1;
            let mut at = app.disks.mapping[i].map_or(0, |t| t + 1);
            loop {
                at = (at as isize + isize::from(step)).rem_euclid(choices as isize) as usize;
                if at == 0 || app.targets[at - 1].refused.is_none() {
                    break;
                }
            }
            app.disks.mapping[i] = at.checked_sub(1);
            app.disks.note = None;
            app.refresh_fit();
        }
        Msg::ToggleResizeMode => {
            app.disks.resize = match app.disks.resize {
                ResizeMode::Proportional => ResizeMode::GrowLast,
                ResizeMode::GrowLast => ResizeMode::Proportional,
            };
            app.refresh_fit();
        }
        Msg::Next | Msg::Activate => to_layout(app),
        Msg::Back => app.screen = Screen::Start,
        _ => {}
    }
    None
}

fn to_layout(app: &mut App) {
    let mapping = &app.disks.mapping;
    if mapping.iter().all(Option::is_none) {
        app.disks.note = Note::error("choose a target disk for at least one disk (Left/Right)");
        return;
    }
    for (i, t) in mapping.iter().enumerate() {
        if let Some(t) = t {
            if let Some(j) = mapping[..i].iter().position(|u| u == &Some(*t)) {
                app.disks.note = Note::error(format!(
                    "{} is the target of both {} and {}: give each disk its own",
                    app.targets[*t].path, app.original.disks[j].path, app.original.disks[i].path
                ));
                return;
            }
        }
    }
    if let Some(i) = app.disks.fit.iter().position(|f| matches!(f, Fit::No(_))) {
        app.disks.selected = i;
        app.disks.note = Note::error(format!(
            "{} does not fit its target (why: above): choose another, or r",
            app.original.disks[i].path
        ));
        return;
    }
    let wanted = (app.disks.mapping.clone(), app.disks.resize);
    if app.layout.made_for.as_ref() != Some(&wanted) {
        let edited = app.layout.edited && app.layout.made_for.is_some();
        if let Err(e) = make_layout(app) {
            app.disks.note = Note::error(e);
            return;
        }
        if edited {
            app.layout.note =
                Note::info("the layout was made again for the new mapping: earlier edits are gone");
        }
    }
    app.disks.note = None;
    app.screen = Screen::Layout;
}

/// The mapping as the resize code takes it.
fn maps(app: &App) -> Vec<DiskMapping> {
    app.original
        .disks
        .iter()
        .zip(&app.disks.mapping)
        .filter_map(|(d, t)| {
            t.map(|t| DiskMapping {
                from: d.path.clone(),
                to: app.targets[t].target_disk(d.logical_sector_size),
            })
        })
        .collect()
}

/// The layout to edit: the mapped disks, onto their targets, fitted.
fn make_layout(app: &mut App) -> Result<(), String> {
    let maps = maps(app);
    let mut ml = app.original.clone();
    ml.disks.retain(|d| maps.iter().any(|m| m.from == d.path));
    let esp_kept = ml.boot.esp.as_deref().is_some_and(|esp| {
        ml.disks
            .iter()
            .any(|d| d.partitions.iter().any(|p| p.path == esp))
    });
    if !esp_kept {
        ml.boot.esp = None;
    }
    let pairs: Vec<(&str, &TargetDisk)> = maps.iter().map(|m| (m.from.as_str(), &m.to)).collect();
    let mapped = map_disks(&ml, &pairs, app.disks.resize).map_err(|e| e.to_string())?;
    let l = &mut app.layout;
    l.made_for = Some((app.disks.mapping.clone(), app.disks.resize));
    l.mountlist = mapped;
    l.actions.clear();
    l.added.clear();
    l.selected = 0;
    l.form = None;
    l.edited = false;
    l.note = None;
    l.problems = validate(&l.mountlist);
    Ok(())
}

fn plan_request(
    app: &App,
    mode: RestoreMode,
    paths: Vec<Vec<u8>>,
    destination: Destination,
) -> PlanRequest {
    let layout = &app.layout;
    let mut actions = BTreeMap::new();
    for disk in &layout.mountlist.disks {
        if disk.filesystem.is_some() {
            actions.insert(disk.path.clone(), layout.action(&disk.path));
        }
        for p in &disk.partitions {
            actions.insert(p.path.clone(), layout.action(&p.path));
        }
    }
    PlanRequest {
        mode,
        original: app.original.clone(),
        layout: layout.mountlist.clone(),
        maps: maps(app),
        resize: app.disks.resize,
        actions,
        selection: Selection {
            paths,
            renames: destination.renames(),
            exclude: Vec::new(),
        },
        destination,
    }
}

// ---- 3. Layout ----

fn layout(app: &mut App, msg: Msg) -> Option<Command> {
    if app.layout.form.is_some() {
        form(app, msg);
        return None;
    }
    let rows = app.layout.rows();
    let row = rows.get(app.layout.selected).copied();
    match msg {
        Msg::Move(m) => app.layout.selected = moved(app.layout.selected, rows.len(), m),
        Msg::Edit | Msg::Activate => match row {
            Some(Row::Part(d, p)) => open_edit(app, d, p),
            Some(Row::Whole(d)) => open_whole(app, d),
            _ => {
                app.layout.note = Note::error("choose a partition to edit, or n to add one");
            }
        },
        Msg::Add => {
            let d = match row {
                Some(Row::Disk(d) | Row::Part(d, _) | Row::Whole(d)) => d,
                None => return None,
            };
            open_add(app, d);
        }
        Msg::Delete | Msg::CycleAction if is_extended(app, row) => {
            app.layout.note = Note::error(
                "the extended partition follows its logical partitions: choose one of those",
            );
        }
        Msg::Delete => match row {
            Some(r @ (Row::Part(..) | Row::Whole(_))) => delete(app, r),
            _ => {
                app.layout.note = Note::error("a whole disk is left out on the Disks screen (Esc)");
            }
        },
        Msg::CycleAction => {
            let Some(device) = row.and_then(|r| app.layout.device(r)).map(str::to_string) else {
                app.layout.note = Note::error("choose a partition");
                return None;
            };
            let now = app.layout.action(&device);
            if now == PartitionAction::Untouched {
                app.layout.note = Note::error(format!(
                    "{device} is left untouched: d puts it back in the plan first"
                ));
                return None;
            }
            let cycle = PartitionAction::CYCLE;
            let i = cycle.iter().position(|&a| a == now).unwrap_or(0);
            let next = cycle[(i + 1) % cycle.len()];
            if next == PartitionAction::CreateAndFormat {
                app.layout.actions.remove(&device);
            } else {
                app.layout.actions.insert(device.clone(), next);
            }
            app.layout.note = Note::info(format!("{device}: {}", next.label()));
        }
        Msg::Next => {
            let errors = app
                .layout
                .problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            if has_errors(&app.layout.problems) {
                app.layout.note = Note::error(format!(
                    "{errors} error(s) in the layout, shown under their rows: fix them first"
                ));
            } else {
                app.layout.note = None;
                app.screen = Screen::Files;
            }
        }
        Msg::Back => app.screen = Screen::Disks,
        _ => {}
    }
    None
}

fn is_extended(app: &App, row: Option<Row>) -> bool {
    match row {
        Some(Row::Part(d, p)) => app.layout.mountlist.disks[d].partitions[p].is_extended(),
        _ => false,
    }
}

fn open_edit(app: &mut App, d: usize, p: usize) {
    let disk = &app.layout.mountlist.disks[d];
    let part = &disk.partitions[p];
    if part.is_extended() {
        app.layout.note = Note::error(format!(
            "{} is the extended partition: it follows its logical partitions",
            part.path
        ));
        return;
    }
    let size = format_bytes(part.size * u64::from(disk.logical_sector_size));
    let fs = part
        .filesystem
        .as_ref()
        .map_or("none".to_string(), |f| f.fs_type.to_string());
    let (label, mount) = part.filesystem.as_ref().map_or_else(Default::default, |f| {
        (
            f.label.clone().unwrap_or_default(),
            f.mount_point.clone().unwrap_or_default(),
        )
    });
    app.layout.form = Some(PartForm {
        disk: d,
        number: Some(part.number),
        fields: vec![Field::Size, Field::Fs, Field::Label, Field::Mount],
        focus: 0,
        size: TextInput::new(size.clone()),
        size_was: size,
        fs_was: fs.clone(),
        fs,
        label: TextInput::new(label),
        mount: TextInput::new(mount),
        role: MbrRole::Primary,
        error: None,
    });
}

/// The form for a filesystem on a whole disk: no size (it is the disk's).
fn open_whole(app: &mut App, d: usize) {
    let disk = &app.layout.mountlist.disks[d];
    let Some(f) = &disk.filesystem else {
        return;
    };
    let fs = f.fs_type.to_string();
    app.layout.form = Some(PartForm {
        disk: d,
        number: None,
        fields: vec![Field::Fs, Field::Label, Field::Mount],
        focus: 0,
        size: TextInput::default(),
        size_was: String::new(),
        fs_was: fs.clone(),
        fs,
        label: TextInput::new(f.label.clone().unwrap_or_default()),
        mount: TextInput::new(f.mount_point.clone().unwrap_or_default()),
        role: MbrRole::Primary,
        error: None,
    });
}

fn open_add(app: &mut App, d: usize) {
    let disk = &app.layout.mountlist.disks[d];
    let fields = match disk.table {
        PartitionTable::None => {
            app.layout.note = Note::error(format!(
                "{} has no partition table: it holds one filesystem",
                disk.path
            ));
            return;
        }
        PartitionTable::Msdos { .. } => {
            vec![
                Field::Size,
                Field::Fs,
                Field::Label,
                Field::Mount,
                Field::Role,
            ]
        }
        PartitionTable::Gpt { .. } => vec![Field::Size, Field::Fs, Field::Label, Field::Mount],
    };
    let free = largest_free(disk) * u64::from(disk.logical_sector_size);
    app.layout.form = Some(PartForm {
        disk: d,
        number: None,
        fields,
        focus: 0,
        // Exact (format_bytes rounds), so that the default fits.
        size: TextInput::new(SizeSpec::Bytes(free).to_string()),
        size_was: String::new(),
        fs: "ext4".into(),
        fs_was: String::new(),
        label: TextInput::default(),
        mount: TextInput::default(),
        role: MbrRole::Primary,
        error: None,
    });
}

/// Adding to a whole-disk filesystem's form would make no sense: `number: None` with a
/// size field is an add, without one the whole-disk edit.
fn is_add(form: &PartForm) -> bool {
    form.number.is_none() && form.fields.contains(&Field::Size)
}

fn form(app: &mut App, msg: Msg) {
    let Some(form) = app.layout.form.as_mut() else {
        return;
    };
    match msg {
        Msg::Move(Move::Up) => {
            form.focus = (form.focus + form.fields.len() - 1) % form.fields.len();
        }
        Msg::Move(Move::Down) => form.focus = (form.focus + 1) % form.fields.len(),
        Msg::Move(_) => {}
        Msg::Cycle(step) => match form.field() {
            Field::Fs => {
                // "none" only where there is no filesystem to begin with.
                let offer_none = form.fs_was == "none" || is_add(form);
                let mut choices: Vec<&str> = FS_CHOICES
                    .iter()
                    .copied()
                    .filter(|c| offer_none || *c != "none")
                    .collect();
                if !choices.contains(&form.fs.as_str()) {
                    choices.insert(0, &form.fs);
                }
                let i = choices.iter().position(|c| *c == form.fs).unwrap_or(0);
                let n = choices.len() as isize;
                let next = (i as isize + isize::from(step)).rem_euclid(n) as usize;
                form.fs = choices[next].to_string();
            }
            Field::Role => {
                let i = ROLE_CHOICES
                    .iter()
                    .position(|&r| r == form.role)
                    .unwrap_or(0);
                let n = ROLE_CHOICES.len() as isize;
                form.role = ROLE_CHOICES[(i as isize + isize::from(step)).rem_euclid(n) as usize];
            }
            _ => {}
        },
        Msg::Text(e) => {
            if let Some(t) = form.text_mut() {
                t.apply(e);
            }
        }
        Msg::Back => app.layout.form = None,
        Msg::Activate => submit(app),
        _ => {}
    }
}

fn submit(app: &mut App) {
    let Some(form) = app.layout.form.clone() else {
        return;
    };
    let result = if is_add(&form) {
        submit_add(app, &form)
    } else if form.number.is_some() {
        submit_edit(app, &form)
    } else {
        submit_whole(app, &form)
    };
    match result {
        Ok(note) => {
            app.layout.form = None;
            app.layout.edited = true;
            app.layout.problems = validate(&app.layout.mountlist);
            app.layout.note = Note::info(note);
        }
        Err(e) => {
            if let Some(f) = app.layout.form.as_mut() {
                f.error = Some(e);
            }
        }
    }
}

/// `Some(Some(v))`, `Some(None)` (cleared) or `None` (as it was) for a text field.
fn changed(now: &str, was: Option<&str>) -> Option<Option<String>> {
    let now = now.trim();
    (now != was.unwrap_or("")).then(|| (!now.is_empty()).then(|| now.to_string()))
}

fn check_mount(mount: &str) -> Result<(), String> {
    let m = mount.trim();
    if m.is_empty() || m.starts_with('/') {
        Ok(())
    } else {
        Err(format!("mount point {m:?} must start with /"))
    }
}

fn parse_size(text: &str) -> Result<SizeSpec, String> {
    text.trim().parse::<SizeSpec>().map_err(|e| e.to_string())
}

fn submit_edit(app: &mut App, form: &PartForm) -> Result<String, String> {
    let number = form.number.unwrap_or_default();
    let ml = &mut app.layout.mountlist;
    let disk = &ml.disks[form.disk];
    let disk_path = disk.path.clone();
    let part = disk
        .partition(number)
        .ok_or_else(|| format!("{disk_path} has no partition {number} any more"))?;
    let path = part.path.clone();
    let mut edit = PartitionEdit::default();
    if form.size.value().trim() != form.size_was {
        let spec = parse_size(form.size.value())?;
        edit.size = Some(spec.to_sectors(disk.logical_sector_size, disk.sectors));
    }
    if form.fs != form.fs_was {
        match fs_choice(&form.fs) {
            Some(t) => edit.fs_type = Some(t),
            None => return Err("delete the partition (d) rather than its filesystem".into()),
        }
    }
    check_mount(form.mount.value())?;
    let fs = part.filesystem.as_ref();
    edit.label = changed(form.label.value(), fs.and_then(|f| f.label.as_deref()));
    edit.mount_point = changed(
        form.mount.value(),
        fs.and_then(|f| f.mount_point.as_deref()),
    );
    if edit == PartitionEdit::default() {
        return Ok(format!("{path}: nothing changed"));
    }
    edit_partition(ml, &disk_path, number, &edit).map_err(|e| e.to_string())?;
    Ok(format!("{path} changed"))
}

fn submit_whole(app: &mut App, form: &PartForm) -> Result<String, String> {
    check_mount(form.mount.value())?;
    let disk = &mut app.layout.mountlist.disks[form.disk];
    let path = disk.path.clone();
    let f = disk
        .filesystem
        .as_mut()
        .ok_or_else(|| format!("{path} holds no filesystem"))?;
    if form.fs != form.fs_was {
        let t = fs_choice(&form.fs).ok_or("a whole disk keeps a filesystem")?;
        f.fs_type = t;
        f.uuid = None;
        f.params = FsParams::default();
        f.size_bytes = None;
    }
    if let Some(label) = changed(form.label.value(), f.label.as_deref()) {
        f.label = label;
    }
    if let Some(mount) = changed(form.mount.value(), f.mount_point.as_deref()) {
        match (&mount, &mut f.fstab) {
            (Some(m), Some(r)) => r.mount_point.clone_from(m),
            (None, r) => *r = None,
            _ => {}
        }
        f.mount_point = mount;
    }
    Ok(format!("{path} changed"))
}

fn submit_add(app: &mut App, form: &PartForm) -> Result<String, String> {
    let size = parse_size(form.size.value())?;
    check_mount(form.mount.value())?;
    let filesystem = match fs_choice(&form.fs) {
        Some(t) => {
            let mut f = Filesystem::new(t);
            f.label = changed(form.label.value(), None).flatten();
            f.mount_point = changed(form.mount.value(), None).flatten();
            Some(f)
        }
        None if form.label.value().trim().is_empty() && form.mount.value().trim().is_empty() => {
            None
        }
        None => return Err("a label or mount point needs a filesystem".into()),
    };
    let ml = &mut app.layout.mountlist;
    let disk = ml.disks[form.disk].path.clone();
    let number = add_partition(
        ml,
        &disk,
        NewPartition {
            start: None,
            size,
            filesystem,
            role: form.role,
        },
    )
    .map_err(|e| e.to_string())?;
    let path = partition_path(&disk, number);
    app.layout.added.insert(path.clone());
    let rows = layout_rows(&app.layout.mountlist);
    if let Some(i) = rows.iter().position(|&r| match r {
        Row::Part(d, p) => {
            d == form.disk && app.layout.mountlist.disks[d].partitions[p].path == path
        }
        _ => false,
    }) {
        app.layout.selected = i;
    }
    Ok(format!(
        "{path} added ({})",
        if form.role == MbrRole::Primary {
            "create+format"
        } else {
            role_name(form.role)
        }
    ))
}

fn delete(app: &mut App, row: Row) {
    let l = &mut app.layout;
    let Some(device) = l.device(row).map(str::to_string) else {
        return;
    };
    if let (Row::Part(d, p), true) = (row, l.added.contains(&device)) {
        // Added here: nothing on the disk to keep, so it goes.
        let disk_path = l.mountlist.disks[d].path.clone();
        let number = l.mountlist.disks[d].partitions[p].number;
        let logical = l.mountlist.disks[d].partitions[p].is_logical();
        let later: Vec<u32> = l.mountlist.disks[d]
            .partitions
            .iter()
            .filter(|q| logical && q.is_logical() && q.number > number)
            .map(|q| q.number)
            .collect();
        match delete_partition(&mut l.mountlist, &disk_path, number) {
            Ok(_) => {
                l.added.remove(&device);
                l.actions.remove(&device);
                // Logical partitions after it move down a number: so do their entries.
                let mut sorted = later;
                sorted.sort_unstable();
                for n in sorted {
                    let (old, new) = (
                        partition_path(&disk_path, n),
                        partition_path(&disk_path, n - 1),
                    );
                    if let Some(a) = l.actions.remove(&old) {
                        l.actions.insert(new.clone(), a);
                    }
                    if l.added.remove(&old) {
                        l.added.insert(new);
                    }
                }
                l.edited = true;
                l.problems = validate(&l.mountlist);
                let len = layout_rows(&l.mountlist).len();
                l.selected = l.selected.min(len.saturating_sub(1));
                l.note = Note::info(format!("{device} removed"));
            }
            Err(e) => l.note = Note::error(e.to_string()),
        }
        return;
    }
    if l.action(&device) == PartitionAction::Untouched {
        l.actions.remove(&device);
        l.note = Note::info(format!("{device} is back in the plan: create+format"));
    } else {
        l.actions.insert(device.clone(), PartitionAction::Untouched);
        l.note = Note::info(format!(
            "{device} left untouched: not made, formatted or restored into (d: undo)"
        ));
    }
}

// ---- 4. Files ----

fn files(app: &mut App, msg: Msg) -> Option<Command> {
    if let Some(search) = app.files.search.as_mut() {
        match msg {
            Msg::Text(e) => search.apply(e),
            Msg::Back => app.files.search = None,
            Msg::Activate => {
                let text = search.value().to_string();
                app.files.search = None;
                if !text.is_empty() {
                    app.files.last_search = Some(text.clone());
                    find(app, &text);
                }
            }
            _ => {}
        }
        return None;
    }
    let rows = app.files.tree.rows().len();
    app.files.selected = app.files.selected.min(rows.saturating_sub(1));
    let node = app.files.tree.rows().get(app.files.selected).copied();
    match msg {
        Msg::Move(m) => app.files.selected = moved(app.files.selected, rows, m),
        Msg::Toggle => {
            if let Some(n) = node {
                app.files.tree.toggle(n);
            }
        }
        Msg::Expand => {
            if let Some(n) = node {
                expand(app, n);
            }
        }
        Msg::Collapse => {
            if let Some(n) = node {
                let tree = &mut app.files.tree;
                if tree.node(n).expanded && n != super::tree::ROOT {
                    tree.collapse(n);
                } else if let Some(p) = tree.node(n).parent {
                    app.files.selected = tree.row_of(p).unwrap_or(0);
                }
            }
        }
        Msg::Activate => {
            if let Some(n) = node {
                let tree = &mut app.files.tree;
                match tree.node(n).kind {
                    NodeKind::Dir if tree.node(n).expanded => {
                        if n != super::tree::ROOT {
                            tree.collapse(n);
                        }
                    }
                    NodeKind::Dir => expand(app, n),
                    _ => tree.toggle(n),
                }
            }
        }
        Msg::Search => {
            app.files.search = Some(TextInput::default());
            app.files.note = None;
        }
        Msg::NextMatch => match app.files.last_search.clone() {
            Some(text) => find(app, &text),
            None => app.files.note = Note::error("no search yet: / starts one"),
        },
        Msg::Next => {
            if app.files.tree.selection().is_none() {
                app.files.note = Note::error("nothing is selected: Space selects");
            } else {
                app.files.note = None;
                app.screen = Screen::Destination;
            }
        }
        Msg::Back => app.screen = Screen::Layout,
        _ => {}
    }
    None
}

fn expand(app: &mut App, n: usize) {
    if let Err(e) = app.files.tree.expand(app.catalog.as_mut(), n) {
        app.files.note = Note::error(format!("{e:#}"));
    }
}

fn find(app: &mut App, text: &str) {
    let tree = &mut app.files.tree;
    let after = tree
        .rows()
        .get(app.files.selected)
        .map_or(0, |&n| tree.node(n).index);
    let found = tree
        .find(app.catalog.as_mut(), text, after)
        .and_then(|p| match p {
            Some(p) => tree.reveal(app.catalog.as_mut(), &p),
            None => Ok(None),
        });
    match found {
        Ok(Some(n)) => {
            app.files.selected = tree.row_of(n).unwrap_or(0);
            app.files.note = Note::info(format!(
                "found {} (n: next match)",
                tree.node(n).display_path()
            ));
        }
        Ok(None) => app.files.note = Note::error(format!("no path holds {text:?}")),
        Err(e) => app.files.note = Note::error(format!("{e:#}")),
    }
}

// ---- 5. Destination ----

fn destination(app: &mut App, msg: Msg) -> Option<Command> {
    let d = &mut app.dest;
    if let Some((what, input)) = d.editing.as_mut() {
        match msg {
            Msg::Text(e) => input.apply(e),
            Msg::Back => d.editing = None,
            Msg::Activate => match what.clone() {
                DestEdit::Prefix => {
                    d.prefix = input.clone();
                    d.editing = None;
                    d.note = match d.destination() {
                        Ok(dest) => Note::info(format!("files go {dest}")),
                        Err(e) => Note::error(e),
                    };
                }
                DestEdit::Rename(at) => match parse_rename(input.value()) {
                    Ok((old, new)) => {
                        let entry = format!("{old}={new}");
                        match at {
                            Some(i) if i < d.renames.len() => d.renames[i] = entry,
                            _ => {
                                d.renames.push(entry);
                                d.focus = 2 + d.renames.len();
                            }
                        }
                        d.editing = None;
                        d.note = None;
                    }
                    Err(e) => d.note = Note::error(e),
                },
            },
            _ => {}
        }
        return None;
    }
    match msg {
        Msg::Move(m) => d.focus = moved(d.focus, d.rows(), m),
        Msg::Activate | Msg::Toggle => match d.focus {
            0 => {
                d.choice = DestChoice::Original;
                d.note = None;
            }
            1 => {
                d.choice = DestChoice::Prefix;
                d.editing = Some((DestEdit::Prefix, d.prefix.clone()));
            }
            2 => {
                d.choice = DestChoice::Rename;
                if d.renames.is_empty() {
                    d.editing = Some((DestEdit::Rename(None), TextInput::default()));
                }
            }
            i => {
                d.choice = DestChoice::Rename;
                let at = i - 3;
                d.editing = Some((
                    DestEdit::Rename(Some(at)),
                    TextInput::new(d.renames[at].clone()),
                ));
            }
        },
        Msg::Add => {
            d.choice = DestChoice::Rename;
            d.editing = Some((DestEdit::Rename(None), TextInput::default()));
        }
        Msg::Delete if d.focus >= 3 => {
            d.renames.remove(d.focus - 3);
            d.focus = d.focus.min(d.rows() - 1);
        }
        Msg::Next => match d.destination() {
            Ok(dest) => return to_review(app, dest),
            Err(e) => d.note = Note::error(e),
        },
        Msg::Back => app.screen = Screen::Files,
        _ => {}
    }
    None
}

fn to_review(app: &mut App, destination: Destination) -> Option<Command> {
    let Some(paths) = app.files.tree.selection() else {
        app.screen = Screen::Files;
        app.files.note = Note::error("nothing is selected: Space selects");
        return None;
    };
    app.dest.note = None;
    app.review = Default::default();
    app.review.waiting = true;
    app.screen = Screen::Review;
    Some(Command::BuildPlan(Box::new(plan_request(
        app,
        RestoreMode::Interactive,
        paths,
        destination,
    ))))
}

// ---- 6. Review ----

fn review(app: &mut App, msg: Msg) -> Option<Command> {
    let r = &mut app.review;
    let steps = r.steps.as_ref().map_or(0, Vec::len);
    match msg {
        Msg::Move(m) => r.scroll = moved(r.scroll, steps, m),
        Msg::Text(e) => r.confirm.apply(e),
        Msg::Activate => {
            if r.waiting {
                r.note = Note::info("the plan is being made");
                return None;
            }
            if r.steps.is_none() {
                r.note = Note::error("there is no plan to start: Esc goes back");
                return None;
            }
            if let Some(word) = r.confirm_word() {
                if r.confirm.value().trim() != word {
                    r.note = Note::error(format!("type {word} to go ahead, or Esc to go back"));
                    r.confirm = TextInput::default();
                    return None;
                }
            }
            r.note = None;
            app.progress = Default::default();
            app.screen = Screen::Progress;
            return Some(Command::StartRestore);
        }
        Msg::Back => {
            app.review = Default::default();
            app.screen = match app.mode {
                Mode::Interactive => Screen::Destination,
                Mode::Nuke | Mode::Compare => Screen::Start,
            };
        }
        _ => {}
    }
    None
}

// ---- 7. Progress ----

fn progress(app: &mut App, msg: Msg) -> Option<Command> {
    let p = &mut app.progress;
    if p.need_volume.is_some() {
        // The engine waits for the answer; the dialog closes until it asks again.
        let answer = match msg {
            Msg::Activate => VolumeAnswer::LookAgain,
            Msg::SkipVolume => VolumeAnswer::Skip,
            _ => return None,
        };
        p.need_volume = None;
        return Some(Command::Volume(answer));
    }
    let len = p.log.len();
    if let Msg::Move(m) = msg {
        p.log_back = match m {
            Move::Up => p.log_back + 1,
            Move::Down => p.log_back.saturating_sub(1),
            Move::PageUp => p.log_back + PAGE,
            Move::PageDown => p.log_back.saturating_sub(PAGE),
            Move::Home => len,
            Move::End => 0,
        }
        .min(len.saturating_sub(1));
    }
    None
}

// ---- 8. After ----

fn after(app: &mut App, msg: Msg) -> Option<Command> {
    let a = &mut app.after;
    if let Some(input) = a.editing.as_mut() {
        match msg {
            Msg::Text(e) => input.apply(e),
            Msg::Back => a.editing = None,
            Msg::Activate => {
                let value = input.value().trim().to_string();
                if value.is_empty() {
                    a.note = Note::error("an fstab device cannot be empty");
                } else if let Some(line) = a.fstab.get_mut(a.selected) {
                    line.new = value;
                    a.editing = None;
                    a.note = None;
                }
            }
            _ => {}
        }
        return None;
    }
    let restore = app.mode != Mode::Compare;
    let applied = matches!(a.applied, Some(Ok(())));
    match msg {
        Msg::Move(m) => {
            // Up/Down move through the fstab changes, PgUp/PgDn scroll the problems; the
            // one list there is takes both.
            let problems = a.finished.as_ref().map_or(0, |f| f.problems.len());
            let page = matches!(m, Move::PageUp | Move::PageDown);
            if a.fstab.is_empty() || (page && problems > 0) {
                a.problems_top = moved(a.problems_top, problems, m);
            } else {
                a.selected = moved(a.selected, a.fstab.len(), m);
            }
        }
        Msg::Edit | Msg::Activate => {
            if applied {
                a.note = Note::error("already applied");
            } else if let Some(line) = a.fstab.get(a.selected) {
                a.editing = Some(TextInput::new(line.new.clone()));
            }
        }
        Msg::ToggleBootLoader if restore && !applied => a.boot_loader = !a.boot_loader,
        Msg::Apply => {
            if !restore {
                a.note = Note::error("a compare has nothing to apply");
            } else if a.applying {
                a.note = Note::info("applying...");
            } else if applied {
                a.note = Note::info("already applied");
            } else {
                a.applying = true;
                a.leaving = None;
                a.note = Note::info("applying...");
                return Some(Command::Finalize {
                    fstab: a.fstab.clone(),
                    boot_loader: a.boot_loader,
                });
            }
        }
        Msg::Reboot | Msg::PowerOff => {
            let leave = if msg == Msg::Reboot {
                Leave::Reboot
            } else {
                Leave::PowerOff
            };
            if restore && !applied && a.leaving != Some(leave) {
                a.leaving = Some(leave);
                let key = if leave == Leave::Reboot {
                    "r to reboot"
                } else {
                    "p to power off"
                };
                a.note = Note::error(format!(
                    "fstab and boot loader are not applied (w applies them): {key} anyway"
                ));
                return None;
            }
            return Some(match leave {
                Leave::Reboot => Command::Reboot,
                _ => Command::PowerOff,
            });
        }
        Msg::Shell => return Some(Command::Shell),
        Msg::Back => {
            a.leaving = None;
            a.note = None;
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{AppInput, TargetDiskInfo};
    use crate::tui::fixtures::{self, GIB};
    use crate::tui::keys::key_to_msg;
    use crate::tui::msg::{Finished, FstabEdit, PlanStep, Progress, VolumeRequest};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use rescue_core::mountlist::MbrRole;
    use std::time::Duration;

    /// A key as the terminal gives it, through the key map and update.
    fn key(app: &mut App, code: KeyCode) -> Option<Command> {
        let msg = key_to_msg(app, KeyEvent::new(code, KeyModifiers::NONE))?;
        update(app, msg)
    }

    fn ch(app: &mut App, c: char) -> Option<Command> {
        key(app, KeyCode::Char(c))
    }

    fn ctrl(app: &mut App, c: char) {
        let msg = key_to_msg(app, KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
        if let Some(msg) = msg {
            update(app, msg);
        }
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            assert!(ch(app, c).is_none());
        }
    }

    fn note(n: &Option<Note>) -> String {
        n.as_ref().map(|n| n.text.clone()).unwrap_or_default()
    }

    fn plan_of(cmd: Option<Command>) -> PlanRequest {
        match cmd {
            Some(Command::BuildPlan(r)) => *r,
            other => panic!("expected BuildPlan, got {other:?}"),
        }
    }

    /// Interactive, on to the Layout screen with the automatic mapping.
    fn at_layout() -> App {
        let mut app = fixtures::app();
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Layout);
        app
    }

    fn at_files() -> App {
        let mut app = at_layout();
        ch(&mut app, 'c');
        assert_eq!(app.screen, Screen::Files, "{}", note(&app.layout.note));
        app
    }

    fn at_review() -> (App, PlanRequest) {
        let mut app = at_files();
        ch(&mut app, 'c');
        let req = plan_of(ch(&mut app, 'c'));
        assert_eq!(app.screen, Screen::Review);
        (app, req)
    }

    fn destructive_plan() -> Vec<PlanStep> {
        vec![
            PlanStep::destroying("wipe the signatures on /dev/vda", "/dev/vda")
                .with_details(vec!["$ wipefs -a /dev/vda".into()]),
            PlanStep::destroying("write a GPT with 4 partitions on /dev/vda", "/dev/vda"),
            PlanStep::new("restore every file of the backup into /mnt/restore"),
        ]
    }

    // ---- Start ----

    #[test]
    fn start_moves_and_enters_interactive() {
        let mut app = fixtures::app();
        assert_eq!(app.screen, Screen::Start);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        assert_eq!(app.start.selected, 2);
        key(&mut app, KeyCode::Home);
        assert!(key(&mut app, KeyCode::Enter).is_none());
        assert_eq!((app.screen, app.mode), (Screen::Disks, Mode::Interactive));
    }

    #[test]
    fn start_hands_shell_reboot_power_off_and_quit_to_the_outside() {
        let mut app = fixtures::app();
        assert!(matches!(ch(&mut app, 's'), Some(Command::Shell)));
        assert!(matches!(ch(&mut app, 'r'), Some(Command::Reboot)));
        assert!(matches!(ch(&mut app, 'p'), Some(Command::PowerOff)));
        assert!(matches!(ch(&mut app, 'q'), Some(Command::Quit)));
        assert_eq!(app.screen, Screen::Start);
    }

    #[test]
    fn compare_starts_at_once() {
        let mut app = fixtures::app();
        assert!(matches!(ch(&mut app, 'c'), Some(Command::Compare)));
        assert_eq!((app.screen, app.mode), (Screen::Progress, Mode::Compare));
    }

    #[test]
    fn nuke_asks_for_the_whole_plan_as_it_was() {
        let mut app = fixtures::app();
        let req = plan_of(ch(&mut app, 'n'));
        assert_eq!((app.screen, app.mode), (Screen::Review, Mode::Nuke));
        assert!(app.review.waiting);
        assert_eq!(req.mode, RestoreMode::Nuke);
        assert_eq!(req.maps.len(), 1);
        assert_eq!(
            (req.maps[0].from.as_str(), req.maps[0].to.path.as_str()),
            ("/dev/sda", "/dev/vda")
        );
        assert_eq!(req.maps[0].to.sectors, 20 * GIB);
        assert!(req.selection.paths.is_empty() && req.selection.renames.is_empty());
        assert_eq!(req.destination, Destination::Original);
        assert_eq!(req.layout.disks[0].partitions[1].path, "/dev/vda2");
        assert_eq!(req.layout.boot.esp.as_deref(), Some("/dev/vda1"));
        assert_eq!(req.actions.len(), 4);
        assert!(req
            .actions
            .values()
            .all(|a| *a == PartitionAction::CreateAndFormat));
    }

    #[test]
    fn nuke_shows_a_plan_given_beforehand() {
        let mut input = fixtures::input();
        input.plan = Some(destructive_plan());
        let mut app = App::new(input);
        assert!(ch(&mut app, 'n').is_none());
        assert_eq!(app.review.steps.as_ref().map(Vec::len), Some(3));
        assert!(!app.review.waiting);
    }

    #[test]
    fn nuke_without_a_target_disk_says_so() {
        let mut input = fixtures::input();
        input.targets.clear();
        let mut app = App::new(input);
        assert!(ch(&mut app, 'n').is_none());
        assert_eq!(app.screen, Screen::Review);
        let why = app.review.error.clone().unwrap();
        assert!(why.contains("/dev/sda has none"), "{why}");
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Start);
    }

    // ---- Disks ----

    #[test]
    fn disks_map_automatically_by_size_and_cycle_targets() {
        let mut app = fixtures::app();
        ch(&mut app, 'i');
        assert_eq!(app.disks.mapping, vec![Some(0)]);
        assert_eq!(app.disks.fit, vec![Fit::Same]);
        key(&mut app, KeyCode::Right);
        assert_eq!(app.disks.mapping, vec![Some(1)]);
        assert_eq!(app.disks.fit, vec![Fit::Grows(12 << 30)]);
        key(&mut app, KeyCode::Right);
        assert_eq!(app.disks.mapping, vec![None]);
        assert_eq!(app.disks.fit, vec![Fit::NoTarget]);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Disks);
        assert!(note(&app.disks.note).contains("at least one disk"));
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Left);
        assert_eq!(app.disks.mapping, vec![None]);
        key(&mut app, KeyCode::Left);
        assert_eq!(app.disks.mapping, vec![Some(1)]);
        ch(&mut app, 'r');
        assert_eq!(app.disks.resize, ResizeMode::GrowLast);
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Start);
    }

    #[test]
    fn a_larger_target_gets_a_fitted_layout() {
        let mut app = fixtures::app();
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Right);
        ch(&mut app, 'r'); // grow the last partition only
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Layout);
        let disk = &app.layout.mountlist.disks[0];
        assert_eq!(disk.path, "/dev/vdb");
        assert_eq!(disk.partitions[1].size, 8 * GIB, "root keeps its size");
        assert_eq!(disk.partitions[3].size, 2 * GIB, "so does swap");
        assert!(
            disk.partitions[2].size > 8 * GIB,
            "/home, the last data, grows"
        );
    }

    #[test]
    fn a_target_too_small_is_refused_on_the_disks_screen() {
        let mut input = fixtures::input();
        input.targets = vec![TargetDiskInfo {
            path: "/dev/vdc".into(),
            bytes: 4 << 30,
            model: None,
            sector_size: None,
            refused: None,
        }];
        let mut app = App::new(input);
        assert_eq!(app.disks.mapping, vec![None], "nothing fits automatically");
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Right);
        match &app.disks.fit[0] {
            Fit::No(why) => assert!(why.starts_with("/dev/vdc (4G) is too small"), "{why}"),
            other => panic!("{other:?}"),
        }
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Disks);
        assert!(
            note(&app.disks.note).contains("does not fit"),
            "{:?}",
            app.disks.note
        );
    }

    #[test]
    fn two_disks_onto_one_target_are_refused() {
        let mut input = fixtures::input();
        let mut second = fixtures::gpt_disk("/dev/sdb");
        second.sectors = 10 * GIB;
        second.partitions.truncate(1);
        second.partitions[0]
            .filesystem
            .as_mut()
            .unwrap()
            .mount_point = Some("/data".into());
        input.mountlist.disks.push(second);
        let mut app = App::new(input);
        ch(&mut app, 'i');
        assert_eq!(app.disks.mapping, vec![Some(0), Some(1)]);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Left);
        assert_eq!(app.disks.mapping, vec![Some(0), Some(0)]);
        key(&mut app, KeyCode::Enter);
        assert!(
            note(&app.disks.note).contains("target of both"),
            "{:?}",
            app.disks.note
        );
        // Leaving the second disk out: only the first is in the layout.
        key(&mut app, KeyCode::Left);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Layout);
        assert_eq!(app.layout.mountlist.disks.len(), 1);
    }

    #[test]
    fn a_new_mapping_remakes_the_layout_and_says_edits_are_gone() {
        let mut app = at_layout();
        key(&mut app, KeyCode::Down);
        ch(&mut app, 'd');
        app.layout.edited = true;
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Enter);
        assert!(
            app.layout.actions.contains_key("/dev/vda1"),
            "same mapping: kept"
        );
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Enter);
        assert!(app.layout.actions.is_empty());
        assert!(note(&app.layout.note).contains("earlier edits are gone"));
    }

    // ---- Layout ----

    #[test]
    fn layout_rows_and_edit_form_start_from_the_partition() {
        let mut app = at_layout();
        assert_eq!(app.layout.rows().len(), 5);
        assert!(app.layout.problems.is_empty(), "{:?}", app.layout.problems);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        let form = app.layout.form.as_ref().unwrap();
        assert_eq!(form.number, Some(2));
        assert_eq!(form.size.value(), "8G");
        assert_eq!(form.fs, "ext4");
        assert_eq!(form.label.value(), "root");
        assert_eq!(form.mount.value(), "/");
        assert!(app.typing());
        key(&mut app, KeyCode::Esc);
        assert!(app.layout.form.is_none());
    }

    #[test]
    fn a_size_edit_that_overlaps_shows_the_problem_on_the_row_and_blocks() {
        let mut app = at_layout();
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        ctrl(&mut app, 'u');
        typed(&mut app, "10G");
        key(&mut app, KeyCode::Enter);
        assert!(app.layout.form.is_none(), "{:?}", app.layout.form);
        let p = &app.layout.mountlist.disks[0].partitions[1];
        assert_eq!(p.size, 10 * GIB);
        // The overlap is reported on /dev/vda3, the row it runs into.
        let row = app.layout.rows()[3];
        let problems = app.layout.problems_of(row);
        assert!(problems[0].message.contains("overlaps"), "{problems:?}");
        ch(&mut app, 'c');
        assert_eq!(app.screen, Screen::Layout);
        assert!(note(&app.layout.note).contains("error"));
        // Back to 8G: clean again.
        key(&mut app, KeyCode::Enter);
        ctrl(&mut app, 'u');
        typed(&mut app, "8g");
        key(&mut app, KeyCode::Enter);
        assert!(app.layout.problems.is_empty(), "{:?}", app.layout.problems);
    }

    #[test]
    fn the_form_edits_label_mount_point_and_filesystem() {
        let mut app = at_layout();
        for _ in 0..3 {
            key(&mut app, KeyCode::Down);
        }
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Tab); // to the filesystem: a choice
        assert!(!app.typing());
        key(&mut app, KeyCode::Right);
        assert_eq!(app.layout.form.as_ref().unwrap().fs, "ext3");
        key(&mut app, KeyCode::Left);
        key(&mut app, KeyCode::Left);
        assert_eq!(
            app.layout.form.as_ref().unwrap().fs,
            "swap",
            "no \"none\" offered"
        );
        key(&mut app, KeyCode::Right);
        assert_eq!(app.layout.form.as_ref().unwrap().fs, "ext4");
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Down);
        ctrl(&mut app, 'u');
        typed(&mut app, "data");
        key(&mut app, KeyCode::Down);
        ctrl(&mut app, 'u');
        typed(&mut app, "srv");
        key(&mut app, KeyCode::Enter);
        let form = app
            .layout
            .form
            .as_ref()
            .expect("a bad mount point keeps the form");
        assert!(form.error.as_deref().unwrap().contains("must start with /"));
        key(&mut app, KeyCode::Home);
        typed(&mut app, "/");
        key(&mut app, KeyCode::Enter);
        assert!(app.layout.form.is_none());
        let f = app.layout.mountlist.disks[0].partitions[2]
            .filesystem
            .as_ref()
            .unwrap();
        assert_eq!(f.fs_type.as_str(), "xfs");
        assert_eq!(f.label.as_deref(), Some("data"));
        assert_eq!(f.mount_point.as_deref(), Some("/srv"));
        assert_eq!(f.uuid, None, "a new type drops the old UUID");
        assert!(app.layout.edited);
    }

    #[test]
    fn a_bad_size_is_shown_in_the_form() {
        let mut app = at_layout();
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        ctrl(&mut app, 'u');
        typed(&mut app, "lots");
        key(&mut app, KeyCode::Enter);
        let error = app.layout.form.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("lots"), "{error}");
    }

    #[test]
    fn actions_cycle_and_delete_leaves_a_partition_untouched() {
        let mut app = at_layout();
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        ch(&mut app, 'a');
        assert_eq!(app.layout.action("/dev/vda3"), PartitionAction::FormatOnly);
        ch(&mut app, 'a');
        assert_eq!(app.layout.action("/dev/vda3"), PartitionAction::KeepAsIs);
        ch(&mut app, 'a');
        assert_eq!(
            app.layout.action("/dev/vda3"),
            PartitionAction::CreateAndFormat
        );
        ch(&mut app, 'd');
        assert_eq!(app.layout.action("/dev/vda3"), PartitionAction::Untouched);
        assert_eq!(
            app.layout.mountlist.disks[0].partitions.len(),
            4,
            "the table keeps its entry"
        );
        ch(&mut app, 'a');
        assert!(note(&app.layout.note).contains("untouched"));
        ch(&mut app, 'd');
        assert_eq!(
            app.layout.action("/dev/vda3"),
            PartitionAction::CreateAndFormat
        );
        // The disk row cannot be deleted here.
        key(&mut app, KeyCode::Home);
        ch(&mut app, 'd');
        assert!(note(&app.layout.note).contains("Disks screen"));
    }

    #[test]
    fn untouched_partitions_reach_the_plan_as_such() {
        let mut app = at_layout();
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        ch(&mut app, 'd');
        ch(&mut app, 'c');
        ch(&mut app, 'c');
        let req = plan_of(ch(&mut app, 'c'));
        assert_eq!(req.actions["/dev/vda3"], PartitionAction::Untouched);
        assert_eq!(req.actions["/dev/vda2"], PartitionAction::CreateAndFormat);
        assert_eq!(req.layout.disks[0].partitions.len(), 4);
        assert!(!app.labels().iter().any(|(d, _, _)| d == "/dev/vda3"));
    }

    #[test]
    fn a_partition_is_added_in_the_free_space_and_deleted_for_good() {
        let mut app = at_layout();
        ch(&mut app, 'n');
        let form = app.layout.form.as_ref().unwrap();
        assert_eq!(form.number, None);
        assert_eq!(
            form.size.value(),
            "1534M",
            "the largest free space, exactly"
        );
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        typed(&mut app, "srv");
        key(&mut app, KeyCode::Down);
        typed(&mut app, "/srv");
        key(&mut app, KeyCode::Enter);
        assert!(app.layout.form.is_none(), "{:?}", app.layout.form);
        let disk = &app.layout.mountlist.disks[0];
        assert_eq!(disk.partitions.len(), 5);
        let p = &disk.partitions[4];
        assert_eq!(p.path, "/dev/vda5");
        assert_eq!(p.size, 1534 * 2048);
        assert_eq!(
            p.filesystem.as_ref().unwrap().mount_point.as_deref(),
            Some("/srv")
        );
        assert!(app.layout.problems.is_empty(), "{:?}", app.layout.problems);
        assert_eq!(app.layout.selected, 5, "the cursor is on the new row");
        ch(&mut app, 'd');
        assert_eq!(app.layout.mountlist.disks[0].partitions.len(), 4);
        assert!(app.layout.added.is_empty());
    }

    #[test]
    fn a_partition_that_does_not_fit_is_not_added() {
        let mut app = at_layout();
        ch(&mut app, 'n');
        ctrl(&mut app, 'u');
        typed(&mut app, "5G");
        key(&mut app, KeyCode::Enter);
        let error = app.layout.form.as_ref().unwrap().error.clone().unwrap();
        assert!(error.contains("needs 5G"), "{error}");
        assert_eq!(app.layout.mountlist.disks[0].partitions.len(), 4);
    }

    #[test]
    fn msdos_extended_partitions_follow_their_logicals() {
        let mut app = fixtures::msdos_app();
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Layout);
        assert_eq!(app.layout.rows().len(), 5);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down); // vda2, the extended partition
        ch(&mut app, 'a');
        assert!(note(&app.layout.note).contains("extended"));
        ch(&mut app, 'd');
        assert!(app.layout.actions.is_empty());
        key(&mut app, KeyCode::Enter);
        assert!(app.layout.form.is_none());
        assert!(note(&app.layout.note).contains("extended"));
    }

    #[test]
    fn msdos_logicals_added_and_deleted_renumber_their_actions() {
        let mut app = fixtures::msdos_app();
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Enter);
        for size in ["512M", "256M"] {
            ch(&mut app, 'n');
            assert_eq!(
                app.layout.form.as_ref().unwrap().fields.last(),
                Some(&Field::Role)
            );
            ctrl(&mut app, 'u');
            typed(&mut app, size);
            key(&mut app, KeyCode::BackTab); // to Kind, the last field
            key(&mut app, KeyCode::Right);
            assert_eq!(app.layout.form.as_ref().unwrap().role, MbrRole::Logical);
            key(&mut app, KeyCode::Enter);
            assert!(app.layout.form.is_none(), "{:?}", app.layout.form);
        }
        let paths: Vec<&str> = app.layout.mountlist.disks[0]
            .partitions
            .iter()
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "/dev/vda1",
                "/dev/vda2",
                "/dev/vda5",
                "/dev/vda6",
                "/dev/vda7",
                "/dev/vda8"
            ]
        );
        assert_eq!(app.layout.selected, 6, "on the new /dev/vda8");
        ch(&mut app, 'a');
        assert_eq!(app.layout.action("/dev/vda8"), PartitionAction::FormatOnly);
        key(&mut app, KeyCode::Up);
        ch(&mut app, 'd'); // /dev/vda7, added here: removed, vda8 becomes vda7
        let disk = &app.layout.mountlist.disks[0];
        assert_eq!(disk.partitions.len(), 5);
        assert_eq!(disk.partitions[4].path, "/dev/vda7");
        assert_eq!(disk.partitions[4].size, 256 * 2048);
        assert_eq!(app.layout.action("/dev/vda7"), PartitionAction::FormatOnly);
        assert!(app.layout.added.contains("/dev/vda7"));
        assert!(!app.layout.actions.contains_key("/dev/vda8"));
    }

    #[test]
    fn refused_disks_are_never_offered() {
        let mut input = fixtures::input();
        // The refused stick first: the automatic mapping passes it by.
        input.targets.rotate_right(1);
        let mut app = App::new(input);
        assert_eq!(app.targets[0].path, "/dev/sdc");
        assert_eq!(app.disks.mapping, vec![Some(1)]);
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Right);
        assert_eq!(app.disks.mapping, vec![None]);
        key(&mut app, KeyCode::Right);
        assert_eq!(app.disks.mapping, vec![Some(1)], "the stick is skipped");
        key(&mut app, KeyCode::Left);
        key(&mut app, KeyCode::Left);
        assert_eq!(app.disks.mapping, vec![Some(2)]);
    }

    // ---- Files ----

    fn row_named(app: &App, path: &str) -> usize {
        let tree = &app.files.tree;
        tree.rows()
            .iter()
            .position(|&n| tree.node(n).path == path.as_bytes())
            .unwrap_or_else(|| panic!("{path} not shown"))
    }

    #[test]
    fn files_expand_select_and_count() {
        let mut app = at_files();
        assert_eq!(app.files.tree.rows().len(), 6);
        app.files.selected = row_named(&app, "home");
        key(&mut app, KeyCode::Right);
        assert_eq!(app.files.tree.rows().len(), 8);
        key(&mut app, KeyCode::Down); // home/ann
        ch(&mut app, ' ');
        assert_eq!(app.files.tree.selection().unwrap().len(), 5);
        assert_eq!(app.files.tree.selected_totals().0, 13 - 3);
        key(&mut app, KeyCode::Left); // from a closed directory: to its parent
        assert_eq!(app.files.selected, row_named(&app, "home"));
        key(&mut app, KeyCode::Left);
        assert_eq!(app.files.tree.rows().len(), 6);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.files.tree.rows().len(), 8, "Enter opens a directory");
        // Nothing selected: cannot continue.
        key(&mut app, KeyCode::Home);
        ch(&mut app, ' '); // partly selected: all
        assert_eq!(app.files.tree.selection(), Some(vec![]));
        ch(&mut app, ' ');
        assert_eq!(app.files.tree.selection(), None);
        ch(&mut app, 'c');
        assert_eq!(app.screen, Screen::Files);
        assert!(note(&app.files.note).contains("nothing is selected"));
        app.files.selected = row_named(&app, "etc");
        ch(&mut app, ' ');
        ch(&mut app, 'c');
        assert_eq!(app.screen, Screen::Destination);
    }

    #[test]
    fn files_search_opens_the_way_and_finds_the_next() {
        let mut app = at_files();
        ch(&mut app, '/');
        assert!(app.typing());
        typed(&mut app, "snow");
        key(&mut app, KeyCode::Enter);
        assert!(!app.typing());
        let tree = &app.files.tree;
        let n = tree.rows()[app.files.selected];
        assert_eq!(tree.node(n).path, b"home/ann/photos/snow.jpg");
        assert!(note(&app.files.note).contains("/home/ann/photos/snow.jpg"));
        ch(&mut app, '/');
        typed(&mut app, "ssh");
        key(&mut app, KeyCode::Enter);
        let first = app.files.selected;
        assert_eq!(first, row_named(&app, "etc/ssh"));
        ch(&mut app, 'n');
        assert_eq!(app.files.selected, row_named(&app, "etc/ssh/ssh_config"));
        ch(&mut app, 'n');
        ch(&mut app, 'n');
        assert_eq!(app.files.selected, first, "wraps around");
        ch(&mut app, '/');
        typed(&mut app, "zzz");
        key(&mut app, KeyCode::Enter);
        assert!(note(&app.files.note).contains("no path holds"));
        ch(&mut app, '/');
        key(&mut app, KeyCode::Esc);
        assert!(app.files.search.is_none());
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Layout);
    }

    // ---- Destination ----

    #[test]
    fn destination_prefix_goes_into_the_plan_request() {
        let mut app = at_files();
        app.files.selected = row_named(&app, "usr");
        ch(&mut app, ' ');
        ch(&mut app, 'c');
        assert_eq!(app.screen, Screen::Destination);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        assert!(app.typing());
        ctrl(&mut app, 'u');
        typed(&mut app, "/mnt/x/");
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.dest.choice, DestChoice::Prefix);
        let req = plan_of(ch(&mut app, 'c'));
        assert_eq!(req.mode, RestoreMode::Interactive);
        assert_eq!(req.destination, Destination::Prefix("/mnt/x".into()));
        assert_eq!(req.selection.renames, vec![(vec![], b"mnt/x".to_vec())]);
        let paths: Vec<&[u8]> = req.selection.paths.iter().map(Vec::as_slice).collect();
        assert_eq!(paths, [&b"boot"[..], b"etc", b"home", b"var"]);
        assert!(app.review.waiting);
    }

    #[test]
    fn destination_renames_are_checked_edited_and_deleted() {
        let mut app = at_files();
        ch(&mut app, 'c');
        ch(&mut app, 'a');
        typed(&mut app, "home=/tmp/home");
        key(&mut app, KeyCode::Enter);
        assert!(note(&app.dest.note).contains("must start with /"));
        key(&mut app, KeyCode::Home);
        typed(&mut app, "/");
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.dest.renames, ["/home=/tmp/home"]);
        assert_eq!(app.dest.focus, 3);
        ch(&mut app, 'a');
        typed(&mut app, "/etc=/root/etc.old");
        key(&mut app, KeyCode::Enter);
        ch(&mut app, 'd');
        assert_eq!(app.dest.renames, ["/home=/tmp/home"]);
        let req = plan_of(ch(&mut app, 'c'));
        assert_eq!(
            req.destination,
            Destination::Rename(vec![("/home".into(), "/tmp/home".into())])
        );
        assert_eq!(
            req.selection.renames,
            vec![(b"home".to_vec(), b"tmp/home".to_vec())]
        );
    }

    #[test]
    fn destination_refuses_a_prefix_of_root_and_an_empty_rename_list() {
        let mut app = at_files();
        ch(&mut app, 'c');
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        ctrl(&mut app, 'u');
        typed(&mut app, "/");
        key(&mut app, KeyCode::Enter);
        assert!(ch(&mut app, 'c').is_none());
        assert!(note(&app.dest.note).contains("original places"));
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter); // Renamed: starts a new entry
        key(&mut app, KeyCode::Esc);
        assert!(ch(&mut app, 'c').is_none());
        assert!(note(&app.dest.note).contains("add a rename"));
        key(&mut app, KeyCode::Home);
        key(&mut app, KeyCode::Enter);
        assert!(ch(&mut app, 'c').is_some(), "the original places always do");
    }

    // ---- Review ----

    #[test]
    fn review_wants_the_disk_name_typed_before_it_starts() {
        let (mut app, _) = at_review();
        assert!(key(&mut app, KeyCode::Enter).is_none());
        assert!(note(&app.review.note).contains("being made"));
        update(&mut app, Msg::PlanBuilt(destructive_plan()));
        assert_eq!(app.review.confirm_word().as_deref(), Some("vda"));
        assert!(app.typing());
        key(&mut app, KeyCode::Down);
        assert_eq!(app.review.scroll, 1);
        typed(&mut app, "yes");
        assert!(key(&mut app, KeyCode::Enter).is_none());
        assert!(note(&app.review.note).contains("type vda"));
        assert_eq!(app.review.confirm.value(), "", "a wrong word is cleared");
        typed(&mut app, "vda");
        assert!(matches!(
            key(&mut app, KeyCode::Enter),
            Some(Command::StartRestore)
        ));
        assert_eq!(app.screen, Screen::Progress);
    }

    #[test]
    fn review_of_a_plan_that_destroys_nothing_starts_on_enter() {
        let (mut app, _) = at_review();
        update(
            &mut app,
            Msg::PlanBuilt(vec![PlanStep::new("restore /etc into /mnt/restore")]),
        );
        assert!(!app.typing());
        assert!(matches!(
            key(&mut app, KeyCode::Enter),
            Some(Command::StartRestore)
        ));
    }

    #[test]
    fn review_shows_a_refused_plan_and_goes_back() {
        let (mut app, _) = at_review();
        update(&mut app, Msg::PlanFailed("the layout does not fit".into()));
        assert_eq!(app.review.error.as_deref(), Some("the layout does not fit"));
        assert!(key(&mut app, KeyCode::Enter).is_none());
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Destination);
        // An answer that comes late is not taken for a new plan.
        update(&mut app, Msg::PlanBuilt(destructive_plan()));
        assert!(app.review.steps.is_none());
    }

    #[test]
    fn several_destroyed_disks_want_yes() {
        let (mut app, _) = at_review();
        let mut plan = destructive_plan();
        plan.push(PlanStep::destroying("write a GPT on /dev/vdb", "/dev/vdb"));
        update(&mut app, Msg::PlanBuilt(plan));
        assert_eq!(app.review.destroyed(), ["/dev/vda", "/dev/vdb"]);
        assert_eq!(app.review.confirm_word().as_deref(), Some("yes"));
    }

    // ---- Progress ----

    #[test]
    fn progress_keeps_the_latest_the_log_and_the_errors() {
        let (mut app, _) = at_review();
        update(&mut app, Msg::PlanBuilt(vec![PlanStep::new("restore")]));
        key(&mut app, KeyCode::Enter);
        update(
            &mut app,
            Msg::Progress(Progress {
                step: 3,
                steps: 9,
                step_text: "restore the files".into(),
                done_bytes: 1 << 30,
                total_bytes: 4 << 30,
                step_done: 1 << 30,
                step_total: 4 << 30,
                file: Some("home/ann/notes.txt".into()),
                elapsed: Duration::from_secs(10),
            }),
        );
        assert_eq!(app.progress.latest.as_ref().unwrap().step, 3);
        for i in 0..(LOG_LINES + 5) {
            update(&mut app, Msg::Log(format!("line {i}")));
        }
        assert_eq!(app.progress.log.len(), LOG_LINES);
        assert_eq!(app.progress.log[0], "line 5");
        update(&mut app, Msg::Problem("set 3 is damaged".into()));
        assert_eq!(app.progress.problems, ["set 3 is damaged"]);
        key(&mut app, KeyCode::PageUp);
        assert_eq!(app.progress.log_back, PAGE);
        key(&mut app, KeyCode::End);
        assert_eq!(app.progress.log_back, 0);
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Progress, "no way back while it runs");
    }

    fn volume_request(looked_again: u32) -> VolumeRequest {
        VolumeRequest {
            name: "volume 2 of 2".into(),
            backup_id: "1A2B3C4D".into(),
            label: "RESCUE_1A2B3C4D_2".into(),
            dir: None,
            seen: Vec::new(),
            looked_again,
        }
    }

    #[test]
    fn a_volume_asked_for_is_looked_for_again_or_skipped() {
        let (mut app, _) = at_review();
        update(&mut app, Msg::PlanBuilt(vec![PlanStep::new("restore")]));
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.screen, Screen::Progress);
        assert!(
            ch(&mut app, 's').is_none(),
            "s means nothing without a dialog"
        );
        update(&mut app, Msg::NeedVolume(volume_request(0)));
        assert!(app.progress.log.last().unwrap().contains("volume 2 of 2"));
        assert!(key(&mut app, KeyCode::Down).is_none());
        assert!(
            app.progress.need_volume.is_some(),
            "other keys leave it open"
        );
        assert!(matches!(
            key(&mut app, KeyCode::Enter),
            Some(Command::Volume(VolumeAnswer::LookAgain))
        ));
        assert!(app.progress.need_volume.is_none());
        // Not there yet: asked again, said once in the log.
        let logged = app.progress.log.len();
        update(&mut app, Msg::NeedVolume(volume_request(1)));
        assert_eq!(app.progress.log.len(), logged);
        assert!(matches!(
            ch(&mut app, 's'),
            Some(Command::Volume(VolumeAnswer::Skip))
        ));
        assert!(app.progress.need_volume.is_none());
        // A run that ends closes a question left open.
        update(&mut app, Msg::NeedVolume(volume_request(0)));
        update(&mut app, Msg::Finished(finished()));
        assert!(app.progress.need_volume.is_none());
    }

    // ---- After ----

    fn finished() -> Finished {
        Finished {
            ok: true,
            summary: vec!["14 files, 51.5M restored".into()],
            problems: vec![],
            differences: None,
            fstab: vec![FstabEdit {
                old: "/dev/sda2".into(),
                new: "/dev/vda2".into(),
            }],
        }
    }

    #[test]
    fn after_edits_fstab_and_applies_with_the_boot_loader_choice() {
        let (mut app, _) = at_review();
        update(&mut app, Msg::PlanBuilt(vec![PlanStep::new("restore")]));
        key(&mut app, KeyCode::Enter);
        assert!(update(&mut app, Msg::Finished(finished())).is_none());
        assert_eq!(app.screen, Screen::After);
        key(&mut app, KeyCode::Enter);
        assert!(app.typing());
        ctrl(&mut app, 'u');
        typed(&mut app, "LABEL=root");
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.after.fstab[0].new, "LABEL=root");
        ch(&mut app, 'b');
        assert!(!app.after.boot_loader);
        match ch(&mut app, 'w') {
            Some(Command::Finalize { fstab, boot_loader }) => {
                assert_eq!(fstab[0].new, "LABEL=root");
                assert!(!boot_loader);
            }
            other => panic!("{other:?}"),
        }
        assert!(app.after.applying);
        assert!(ch(&mut app, 'w').is_none());
        update(&mut app, Msg::Finalized(Ok(())));
        assert_eq!(app.after.applied, Some(Ok(())));
        assert!(matches!(ch(&mut app, 'r'), Some(Command::Reboot)));
    }

    #[test]
    fn after_asks_twice_before_leaving_unapplied() {
        let mut app = fixtures::app();
        app.screen = Screen::After;
        update(&mut app, Msg::Finished(finished()));
        assert!(ch(&mut app, 'p').is_none());
        assert!(note(&app.after.note).contains("not applied"));
        assert!(matches!(ch(&mut app, 'p'), Some(Command::PowerOff)));
        assert!(matches!(ch(&mut app, 's'), Some(Command::Shell)));
    }

    #[test]
    fn nuke_applies_by_itself_when_the_restore_went_well() {
        let mut app = fixtures::app();
        ch(&mut app, 'n');
        update(&mut app, Msg::PlanBuilt(destructive_plan()));
        typed(&mut app, "vda");
        key(&mut app, KeyCode::Enter);
        match update(&mut app, Msg::Finished(finished())) {
            Some(Command::Finalize { fstab, boot_loader }) => {
                assert_eq!(fstab, finished().fstab);
                assert!(boot_loader);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn after_a_compare_there_is_nothing_to_apply() {
        let mut app = fixtures::app();
        ch(&mut app, 'c');
        let mut f = finished();
        f.ok = false;
        f.problems = vec!["changed: etc/hostname".into(), "missing: etc/motd".into()];
        assert!(update(&mut app, Msg::Finished(f)).is_none());
        assert!(ch(&mut app, 'w').is_none());
        assert!(note(&app.after.note).contains("nothing to apply"));
        assert!(matches!(ch(&mut app, 'r'), Some(Command::Reboot)));
    }

    #[test]
    fn after_up_down_move_through_fstab_and_page_keys_scroll_the_problems() {
        let mut app = fixtures::app();
        ch(&mut app, 'i');
        let mut f = finished();
        f.ok = false;
        f.problems = (1..=30)
            .map(|n| format!("not restored: /data/f{n}"))
            .collect();
        f.fstab = (1..=6)
            .map(|n| FstabEdit {
                old: format!("/dev/loop0p{n}"),
                new: format!("/dev/vda{n}"),
            })
            .collect();
        app.after.problems_top = 7;
        update(&mut app, Msg::Finished(f.clone()));
        assert_eq!(
            app.after.problems_top, 0,
            "a new run shows its first problem"
        );
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        assert_eq!((app.after.selected, app.after.problems_top), (2, 0));
        key(&mut app, KeyCode::PageDown);
        assert_eq!((app.after.selected, app.after.problems_top), (2, PAGE));
        key(&mut app, KeyCode::End);
        assert_eq!(app.after.selected, 5);
        for _ in 0..5 {
            key(&mut app, KeyCode::PageDown);
        }
        assert_eq!(app.after.problems_top, 29, "no further than the last line");
        key(&mut app, KeyCode::PageUp);
        assert_eq!(app.after.problems_top, 19);

        // No problems: the page keys page through the fstab changes.
        f.problems.clear();
        update(&mut app, Msg::Finished(f));
        key(&mut app, KeyCode::PageDown);
        assert_eq!((app.after.selected, app.after.problems_top), (5, 0));
    }

    #[test]
    fn after_a_compare_up_and_down_scroll_the_report() {
        let mut app = fixtures::app();
        ch(&mut app, 'c');
        let mut f = finished();
        f.ok = false;
        f.fstab.clear();
        f.differences = Some(40);
        f.problems = std::iter::once("CHANGED (40):".to_string())
            .chain((1..=40).map(|n| format!("  /etc/f{n}: content (BLAKE3)")))
            .collect();
        update(&mut app, Msg::Finished(f));
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        assert_eq!(app.after.problems_top, 2);
        key(&mut app, KeyCode::Up);
        assert_eq!(app.after.problems_top, 1);
        key(&mut app, KeyCode::PageDown);
        assert_eq!(app.after.problems_top, 1 + PAGE);
        key(&mut app, KeyCode::Home);
        assert_eq!(app.after.problems_top, 0);
        key(&mut app, KeyCode::End);
        assert_eq!(app.after.problems_top, 40);
        assert_eq!(app.after.selected, 0);
    }

    // ---- the plan request ----

    #[test]
    fn the_layout_under_original_names_maps_back_to_itself() {
        let mut app = fixtures::app();
        ch(&mut app, 'i');
        key(&mut app, KeyCode::Right); // onto the 32G disk
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        ctrl(&mut app, 'u');
        typed(&mut app, "srv");
        key(&mut app, KeyCode::Enter);
        ch(&mut app, 'c');
        ch(&mut app, 'c');
        let req = plan_of(ch(&mut app, 'c'));
        let by_original = req.layout_by_original_names();
        assert_eq!(by_original.disks[0].path, "/dev/sda");
        assert_eq!(by_original.disks[0].partitions[2].path, "/dev/sda3");
        assert_eq!(by_original.boot.esp.as_deref(), Some("/dev/sda1"));
        let pairs: Vec<(&str, &TargetDisk)> =
            req.maps.iter().map(|m| (m.from.as_str(), &m.to)).collect();
        let again = map_disks(&by_original, &pairs, req.resize).unwrap();
        assert_eq!(again, req.layout);
        assert_eq!(
            again.disks[0].partitions[2]
                .filesystem
                .as_ref()
                .unwrap()
                .label
                .as_deref(),
            Some("srv")
        );
    }

    #[test]
    fn app_input_is_debug() {
        let input: AppInput = fixtures::input();
        assert!(format!("{input:?}").contains("MemoryCatalog"));
    }
}
