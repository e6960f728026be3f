//! Running a plan: each step in order, stopping at the first failure.
//!
//! Commands go through a [`Runner`] (real, dry run, or recording for tests). Steps done
//! in-process (writing a partition table, waiting for device nodes, restoring files,
//! rewriting fstab, writing the log) go through a [`Native`]: [`RealNative`] does them,
//! [`DryNative`] prints and records them instead, so a dry run writes nothing.
//!
//! A failure names the step, the command, its exit status and the tail of its stderr
//! ([`RunError`] carries them). Whatever the run mounted is unmounted again (in reverse
//! order), so the disks can be used or the restore tried again. Everything is logged;
//! the log is written into the restored system and returned.

use super::devices::{self, DevicePaths};
use super::fstab::{self, FstabChange};
use super::partition::Table;
use super::plan::{BootTool, Plan, Step};
use rescue_core::restore_files::{
    restore_from, NoMoreVolumes, RestoreOptions, RestoreReport, Selection, VolumeSource,
};
use rescue_core::runner::{Cmd, Output, RunError, Runner};
use rescue_core::volume::Volume;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An in-process step that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {cause}")]
pub struct NativeError {
    /// What was being done: "writing the partition table on /dev/vdb".
    pub what: String,
    /// Why it failed (the whole chain, as text).
    pub cause: String,
}

impl NativeError {
    pub fn new(what: impl Into<String>, cause: &dyn std::error::Error) -> NativeError {
        NativeError {
            what: what.into(),
            cause: rescue_core::error_text::chain(cause),
        }
    }
}

/// The steps a restore does in-process.
pub trait Native {
    fn write_table(&self, disk: &str, table: &Table) -> Result<(), NativeError>;
    /// Returns what was done beyond waiting (device nodes made).
    fn wait_for_partitions(
        &self,
        disk: &str,
        devices: &[String],
    ) -> Result<Vec<String>, NativeError>;
    fn restore_files(
        &self,
        root: &Path,
        selection: &Selection,
        progress: &mut dyn FnMut(&RestoreReport),
    ) -> Result<RestoreReport, NativeError>;
    /// Returns the lines changed ("line 4: /dev/sda4 -> /dev/vdb4 (none)").
    fn rewrite_fstab(
        &self,
        path: &Path,
        changes: &[FstabChange],
    ) -> Result<Vec<String>, NativeError>;
    fn exists(&self, path: &Path) -> bool;
    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), NativeError>;
}

/// Does the in-process steps for real, restoring from `volumes` and the volumes `source`
/// finds when the restore reaches their sets.
pub struct RealNative {
    pub volumes: Vec<Volume>,
    /// A mutex: `Native` takes `&self`, and a source keeps state (what it asked for).
    pub source: Mutex<Box<dyn VolumeSource + Send>>,
    pub devices: DevicePaths,
    /// How long to wait for the kernel to show new partitions.
    pub partition_timeout: Duration,
}

impl RealNative {
    /// Restores from `volumes` alone.
    pub fn new(volumes: Vec<Volume>) -> RealNative {
        RealNative::with_source(volumes, Box::new(NoMoreVolumes))
    }

    pub fn with_source(volumes: Vec<Volume>, source: Box<dyn VolumeSource + Send>) -> RealNative {
        RealNative {
            volumes,
            source: Mutex::new(source),
            devices: DevicePaths::default(),
            partition_timeout: Duration::from_secs(20),
        }
    }
}

impl std::fmt::Debug for RealNative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealNative")
            .field("volumes", &self.volumes)
            .field("devices", &self.devices)
            .field("partition_timeout", &self.partition_timeout)
            .finish_non_exhaustive()
    }
}

impl Native for RealNative {
    fn write_table(&self, disk: &str, table: &Table) -> Result<(), NativeError> {
        let what = || format!("writing the partition table on {disk}");
        // O_EXCL on a block device: refused while anything holds it (a mounted partition).
        let mut dev = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::EXCL.bits() as i32)
            .open(disk)
            .map_err(|e| NativeError::new(what(), &e))?;
        table
            .write(&mut dev)
            .map_err(|e| NativeError::new(what(), &e))?;
        dev.sync_all().map_err(|e| NativeError::new(what(), &e))
    }

    fn wait_for_partitions(
        &self,
        disk: &str,
        devices: &[String],
    ) -> Result<Vec<String>, NativeError> {
        devices::wait_for_partitions(&self.devices, disk, devices, self.partition_timeout)
            .map_err(|e| NativeError::new(format!("waiting for the partitions of {disk}"), &e))
    }

    fn restore_files(
        &self,
        root: &Path,
        selection: &Selection,
        progress: &mut dyn FnMut(&RestoreReport),
    ) -> Result<RestoreReport, NativeError> {
        // A source that panicked while asking leaves nothing inconsistent behind.
        let mut source = self.source.lock().unwrap_or_else(|p| p.into_inner());
        // A full restore recreates everything as it was, the roots of new filesystems too.
        restore_from(
            self.volumes.clone(),
            &mut **source,
            root,
            selection,
            &RestoreOptions::default(),
            progress,
        )
        .map_err(|e| NativeError::new(format!("restoring the files into {}", root.display()), &e))
    }

    fn rewrite_fstab(
        &self,
        path: &Path,
        changes: &[FstabChange],
    ) -> Result<Vec<String>, NativeError> {
        let what = || format!("rewriting {}", path.display());
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(vec![format!(
                    "{} was not restored: nothing to rewrite",
                    path.display()
                )])
            }
            Err(e) => return Err(NativeError::new(what(), &e)),
        };
        let text = String::from_utf8_lossy(&text);
        let (new, done) = fstab::rewrite(&text, changes);
        if !done.is_empty() {
            // In place: the file keeps its owner, mode and inode.
            std::fs::write(path, new).map_err(|e| NativeError::new(what(), &e))?;
        }
        Ok(done)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), NativeError> {
        let what = || format!("writing {}", path.display());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| NativeError::new(what(), &e))?;
        }
        std::fs::write(path, contents).map_err(|e| NativeError::new(what(), &e))
    }
}

/// Prints what the in-process steps would do, and records it; does nothing.
pub struct DryNative {
    out: Mutex<Option<Box<dyn Write + Send>>>,
    actions: Mutex<Vec<String>>,
}

impl std::fmt::Debug for DryNative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DryNative")
            .field("actions", &*lock(&self.actions))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DryNative {
    /// Prints to `out`.
    pub fn to_writer(out: impl Write + Send + 'static) -> DryNative {
        DryNative {
            out: Mutex::new(Some(Box::new(out))),
            actions: Mutex::new(Vec::new()),
        }
    }

    /// Records only.
    pub fn silent() -> DryNative {
        DryNative {
            out: Mutex::new(None),
            actions: Mutex::new(Vec::new()),
        }
    }

    /// What would have been done, in order, one line each.
    pub fn actions(&self) -> Vec<String> {
        lock(&self.actions).clone()
    }

    fn note(&self, line: String, more: &str) {
        if let Some(out) = lock(&self.out).as_mut() {
            // Printing is best effort, as DryRun's.
            let _ = writeln!(out, "would {line}");
            for l in more.lines() {
                let _ = writeln!(out, "    {l}");
            }
            let _ = out.flush();
        }
        lock(&self.actions).push(line);
    }
}

impl Native for DryNative {
    fn write_table(&self, disk: &str, table: &Table) -> Result<(), NativeError> {
        self.note(
            format!("write {} on {disk}", table.summary()),
            &table.sfdisk_script(disk),
        );
        Ok(())
    }

    fn wait_for_partitions(
        &self,
        _disk: &str,
        devices: &[String],
    ) -> Result<Vec<String>, NativeError> {
        self.note(format!("wait for {}", devices.join(", ")), "");
        Ok(Vec::new())
    }

    fn restore_files(
        &self,
        root: &Path,
        _selection: &Selection,
        _progress: &mut dyn FnMut(&RestoreReport),
    ) -> Result<RestoreReport, NativeError> {
        self.note(format!("restore the files into {}", root.display()), "");
        Ok(RestoreReport::default())
    }

    fn rewrite_fstab(
        &self,
        path: &Path,
        changes: &[FstabChange],
    ) -> Result<Vec<String>, NativeError> {
        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
        self.note(
            format!("rewrite {}: {}", path.display(), list.join(", ")),
            "",
        );
        Ok(Vec::new())
    }

    fn exists(&self, _path: &Path) -> bool {
        true
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), NativeError> {
        self.note(
            format!("write {} ({} bytes)", path.display(), contents.len()),
            "",
        );
        Ok(())
    }
}

/// What a step failed with.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Command(#[from] RunError),
    #[error(transparent)]
    Native(#[from] NativeError),
}

/// What happened as a plan ran.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Steps completed.
    pub steps_done: usize,
    /// What the file restore did (None until it ran).
    pub restore: Option<RestoreReport>,
    /// fstab lines changed.
    pub fstab: Vec<String>,
    /// What was done beyond the plan, or left out (device nodes made, boot loader skipped).
    pub notes: Vec<String>,
    /// Problems that did not stop the run but make it incomplete.
    pub problems: Vec<String>,
    /// The whole log.
    pub log: String,
}

impl Outcome {
    /// Everything was restored as planned.
    pub fn clean(&self) -> bool {
        self.problems.is_empty() && self.restore.as_ref().is_none_or(RestoreReport::clean)
    }
}

/// A step failed: which one, why, and what was undone.
#[derive(Debug, thiserror::Error)]
#[error("step {number} of {total} failed ({description}): {cause}")]
pub struct ApplyError {
    pub number: usize,
    pub total: usize,
    pub description: String,
    pub cause: StepError,
    /// Unmounts done (or tried) after the failure.
    pub cleanup: Vec<String>,
    pub outcome: Outcome,
}

/// What [`apply`] reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    Start {
        number: usize,
        total: usize,
        step: &'a Step,
    },
    Done {
        number: usize,
        total: usize,
    },
    /// Something worth telling (a device node made, a step skipped).
    Note(&'a str),
    /// After each archive set.
    Restore(&'a RestoreReport),
    Failed {
        number: usize,
        total: usize,
        error: &'a StepError,
    },
    /// An unmount after a failure.
    Cleanup(&'a str),
}

/// The names grub-install has in the restored systems we know, tried in order.
const GRUB_INSTALL: [&str; 6] = [
    "usr/sbin/grub-install",
    "usr/bin/grub-install",
    "sbin/grub-install",
    "usr/sbin/grub2-install",
    "usr/bin/grub2-install",
    "sbin/grub2-install",
];

/// Where bootctl is in the restored systems we know.
const BOOTCTL: [&str; 3] = ["usr/bin/bootctl", "bin/bootctl", "usr/sbin/bootctl"];

/// Where the running firmware's variables are: present only on UEFI firmware.
const EFIVARS: &str = "/sys/firmware/efi/efivars";

struct Log {
    text: String,
    start: Instant,
}

impl Log {
    fn line(&mut self, s: &str) {
        let t = self.start.elapsed().as_secs_f64();
        let _ = writeln!(self.text, "[{t:7.1}s] {s}");
    }

    fn indented(&mut self, prefix: &str, s: &str) {
        for l in s.lines() {
            let _ = writeln!(self.text, "           {prefix}{l}");
        }
    }

    fn output(&mut self, out: &Output) {
        for (name, bytes) in [("", &out.stdout), ("stderr: ", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let skip = lines.len().saturating_sub(20);
            if skip > 0 {
                self.indented("| ", &format!("({skip} lines before)"));
            }
            for l in &lines[skip..] {
                // Progress output is drawn with backspaces and carriage returns.
                let clean: String = l
                    .chars()
                    .filter(|c| !c.is_control() || *c == '\t')
                    .collect();
                self.indented("| ", &format!("{name}{}", clean.trim_end()));
            }
        }
    }
}

/// Runs every step of `plan` in order through `runner` and `native`, reporting to
/// `events`; stops at the first failure (then unmounts what it mounted).
pub fn apply(
    plan: &Plan,
    runner: &dyn Runner,
    native: &dyn Native,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome, Box<ApplyError>> {
    let mut applier = Applier::new(plan, runner, native, plan.steps.len());
    applier.run(&plan.steps, events)?;
    Ok(applier.finish())
}

/// A plan run in parts: the terminal UI restores the files, lets the user review fstab and
/// the boot loader, then runs the finishing steps. Between the parts the filesystems stay
/// mounted; the log, the outcome and what is mounted carry over, so a failure in a later
/// part unmounts what an earlier one mounted, and the log written into the restored system
/// tells the whole story.
pub struct Applier<'a> {
    runner: &'a dyn Runner,
    native: &'a dyn Native,
    log: Log,
    outcome: Outcome,
    mounted: Vec<PathBuf>,
    /// Steps of every part, for "step N of TOTAL".
    total: usize,
    /// Steps run so far, over all parts.
    done: usize,
}

impl std::fmt::Debug for Applier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("done", &self.done)
            .field("total", &self.total)
            .field("mounted", &self.mounted)
            .finish_non_exhaustive()
    }
}

impl<'a> Applier<'a> {
    /// Starts the log; `total` counts the steps of all the parts to come.
    pub fn new(
        plan: &Plan,
        runner: &'a dyn Runner,
        native: &'a dyn Native,
        total: usize,
    ) -> Applier<'a> {
        let mut log = Log {
            text: String::new(),
            start: Instant::now(),
        };
        log.line(&format!(
            "restore-tui {}: restoring {} onto {}",
            env!("CARGO_PKG_VERSION"),
            if plan.original.host.hostname.is_empty() {
                "-"
            } else {
                &plan.original.host.hostname
            },
            plan.mapped_disks().join(", ")
        ));
        for w in &plan.warnings {
            log.line(&format!("warning: {w}"));
        }
        Applier {
            runner,
            native,
            log,
            outcome: Outcome::default(),
            mounted: Vec::new(),
            total,
            done: 0,
        }
    }

    /// The outcome so far.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Runs `steps` in order; stops at the first failure, then unmounts everything mounted
    /// by this and the earlier parts, in reverse order.
    pub fn run(
        &mut self,
        steps: &[Step],
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Box<ApplyError>> {
        let total = self.total.max(self.done + steps.len());
        for step in steps {
            let number = self.done + 1;
            events(Event::Start {
                number,
                total,
                step,
            });
            self.log
                .line(&format!("{number}/{total} {}", step.description()));
            for d in step.details() {
                self.log.indented("", &d);
            }
            let result = run_step(
                step,
                self.runner,
                self.native,
                &mut self.log,
                &mut self.outcome,
                &mut self.mounted,
                events,
            );
            match result {
                Ok(()) => {
                    self.done = number;
                    self.outcome.steps_done = number;
                    events(Event::Done { number, total });
                }
                Err(cause) => {
                    self.log.line(&format!("FAILED: {cause}"));
                    events(Event::Failed {
                        number,
                        total,
                        error: &cause,
                    });
                    let cleanup = self.unmount_all(events);
                    let mut outcome = std::mem::take(&mut self.outcome);
                    outcome.log = self.log.text.clone();
                    return Err(Box::new(ApplyError {
                        number,
                        total,
                        description: step.description(),
                        cause,
                        cleanup,
                        outcome,
                    }));
                }
            }
        }
        Ok(())
    }

    /// Unmounts whatever is still mounted (a run abandoned between parts), in reverse
    /// order; the lines say what was done.
    pub fn unmount_all(&mut self, events: &mut dyn FnMut(Event<'_>)) -> Vec<String> {
        let mut cleanup = Vec::new();
        while let Some(dir) = self.mounted.pop() {
            let line = unmount_after_failure(self.runner, &dir);
            self.log.line(&line);
            events(Event::Cleanup(&line));
            cleanup.push(line);
        }
        cleanup
    }

    /// The outcome, with the whole log.
    pub fn finish(mut self) -> Outcome {
        self.log.line(if self.outcome.clean() {
            "restore complete"
        } else {
            "restore complete, with problems (listed above)"
        });
        self.outcome.log = self.log.text;
        self.outcome
    }
}

fn run_cmd(runner: &dyn Runner, cmd: &Cmd, log: &mut Log) -> Result<Output, StepError> {
    let out = runner.run(cmd)?;
    log.output(&out);
    Ok(out)
}

fn run_step(
    step: &Step,
    runner: &dyn Runner,
    native: &dyn Native,
    log: &mut Log,
    outcome: &mut Outcome,
    mounted: &mut Vec<PathBuf>,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<(), StepError> {
    let mut note = |outcome: &mut Outcome, log: &mut Log, text: String| {
        log.indented("note: ", &text);
        events(Event::Note(&text));
        outcome.notes.push(text);
    };
    match step {
        Step::Run { cmd, .. } => {
            run_cmd(runner, cmd, log)?;
        }
        Step::Mount { dir, cmd, .. } => {
            run_cmd(runner, cmd, log)?;
            mounted.push(dir.clone());
        }
        Step::Unmount { dir, cmd, .. } => {
            run_cmd(runner, cmd, log)?;
            if let Some(pos) = mounted.iter().rposition(|d| d == dir) {
                mounted.remove(pos);
            }
        }
        Step::WriteTable { disk, table } => native.write_table(disk, table)?,
        Step::WaitForPartitions { disk, devices } => {
            for n in native.wait_for_partitions(disk, devices)? {
                note(outcome, log, n);
            }
        }
        Step::RestoreFiles { root, selection } => {
            let report = native.restore_files(root, selection, &mut |r| {
                events(Event::Restore(r));
            })?;
            log.indented(
                "",
                &format!(
                    "restored {} files ({} bytes) from {} sets, {} entries read",
                    report.files, report.bytes, report.sets, report.entries
                ),
            );
            for (title, list) in [
                ("problem", &report.problems),
                ("not restored", &report.failed),
                ("content differs from the backup", &report.mismatched),
                ("warning", &report.warnings),
            ] {
                for item in list {
                    log.indented("", &format!("{title}: {item}"));
                }
            }
            if !report.clean() {
                outcome.problems.push(format!(
                    "the files were restored with problems: {} set problem(s), {} file(s) not \
                     restored, {} file(s) differing from the backup",
                    report.problems.len(),
                    report.failed.len(),
                    report.mismatched.len()
                ));
            }
            outcome.restore = Some(report);
        }
        Step::RewriteFstab { path, changes } => {
            let done = native.rewrite_fstab(path, changes)?;
            for d in &done {
                log.indented("", d);
            }
            outcome.fstab = done;
        }
        Step::InstallBootLoader {
            root,
            tool,
            nvram,
            cmd,
        } => {
            let names: &[&str] = match tool {
                BootTool::Grub => &GRUB_INSTALL,
                BootTool::Bootctl => &BOOTCTL,
            };
            let found = names
                .iter()
                .find(|rel| native.exists(&root.join(rel)))
                .map(|rel| rel.rsplit('/').next().unwrap_or(rel));
            match found {
                Some(program) => {
                    let mut cmd = cmd.clone();
                    if let Some(arg) = cmd.args.get_mut(1) {
                        *arg = program.into();
                    }
                    // Firmware boot entries can be written only on UEFI firmware; GRUB's
                    // other EFI installs never touch them.
                    let efi_target = cmd.args.iter().any(|a| a == "--target=x86_64-efi");
                    let on_uefi = native.exists(Path::new(EFIVARS));
                    match tool {
                        BootTool::Grub
                            if efi_target
                                && !(*nvram && on_uefi)
                                && !cmd.args.iter().any(|a| a == "--removable") =>
                        {
                            cmd.args.push("--no-nvram".into());
                        }
                        BootTool::Bootctl if !(*nvram && on_uefi) => {
                            cmd.args.push("--no-variables".into());
                        }
                        _ => {}
                    }
                    run_cmd(runner, &cmd, log)?;
                }
                None => {
                    let text = format!(
                        "the restored system has no {} (looked in {}): the boot loader was not \
                         reinstalled",
                        tool.program(),
                        root.display()
                    );
                    outcome.problems.push(text.clone());
                    note(outcome, log, text);
                }
            }
        }
        Step::WriteLog { path } => {
            let mut text = log.text.clone();
            text.push_str("(then the filesystems are unmounted and flushed)\n");
            native.write_file(path, text.as_bytes())?;
        }
    }
    Ok(())
}

/// `umount DIR`, and `umount --lazy DIR` when that fails: the line for the log.
fn unmount_after_failure(runner: &dyn Runner, dir: &Path) -> String {
    let cmd = Cmd::new("umount")
        .arg(dir)
        .describe(format!("unmount {} after the failure", dir.display()));
    match runner.run(&cmd) {
        Ok(_) => format!("unmounted {}", dir.display()),
        Err(e) => {
            let lazy = Cmd::new("umount")
                .args(["--lazy".as_ref(), dir.as_os_str()])
                .describe(format!("detach {} lazily", dir.display()));
            match runner.run(&lazy) {
                Ok(_) => format!("{e}; detached {} lazily", dir.display()),
                Err(e2) => format!("cannot unmount {}: {e}; {e2}", dir.display()),
            }
        }
    }
}
