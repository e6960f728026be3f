//! The engine's side of the terminal UI: a thread that takes the UI's commands (plan,
//! restore, finish, compare) one at a time and answers with messages, so the screen keeps
//! drawing and reading keys while disks are written.
//!
//! The restore runs in two parts on one [`Applier`]: up to and with the file restore, then
//! (after the After screen) fstab, the boot loader, the log and the unmounting. Between
//! them the restored system stays mounted. Should the UI end in between, whatever is
//! mounted is unmounted when the thread ends.

use super::ask_volume::AskTheUi;
use super::bridge::{engine_inputs, finish_steps, plan_steps, proposed_fstab, restore_part};
use crate::engine::apply::{Applier, Event, RealNative};
use crate::engine::compare::{report_lines, run_compare};
use crate::engine::plan::{plan, DiskMap, Plan};
use crate::engine::volumes::Search;
use crate::tui::{Finished, FstabEdit, Msg, PlanRequest, Progress, VolumeAnswer};
use rescue_core::compare::{show_path, CompareProgress};
use rescue_core::error_text::chain;
use rescue_core::mountlist::Mountlist;
use rescue_core::restore_files::RestoreReport;
use rescue_core::runner::RealRunner;
use rescue_core::size::format_bytes;
use rescue_core::volume::Volume;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the UI asks of the engine thread.
#[derive(Debug)]
pub enum Job {
    Plan(Box<PlanRequest>),
    /// Apply the plan built last, up to the file restore; `bytes` is what the selection
    /// holds (for the overall bar).
    Restore {
        bytes: u64,
    },
    Finalize {
        fstab: Vec<FstabEdit>,
        boot_loader: bool,
    },
    /// Compare the disks (mapped so) with the backup, mounted read-only.
    Compare {
        maps: Vec<DiskMap>,
    },
}

/// What the engine thread works with.
pub struct Context {
    pub volumes: Vec<Volume>,
    /// Where volumes not given are looked for when the restore reaches their sets.
    pub search: Search,
    /// Where the restored system is mounted.
    pub root: PathBuf,
    /// The mountlist as captured (what compare mounts).
    pub mountlist: Mountlist,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("volumes", &self.volumes)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// The engine thread, as the UI holds it.
#[derive(Debug)]
pub struct Worker {
    pub jobs: Sender<Job>,
    /// Answers to [`Msg::NeedVolume`].
    pub answers: Sender<VolumeAnswer>,
    pub handle: JoinHandle<()>,
}

/// Starts the thread; it ends when the job sender is dropped.
pub fn spawn(ctx: Context, news: Sender<Msg>) -> Worker {
    let (jobs, rx) = channel();
    let (answers, answers_rx) = channel();
    let handle = std::thread::spawn(move || serve(ctx, &rx, &news, answers_rx));
    Worker {
        jobs,
        answers,
        handle,
    }
}

/// Lines of problems sent in one Finished; the rest are counted (the log has them all).
const MAX_PROBLEMS: usize = 200;

fn serve(ctx: Context, jobs: &Receiver<Job>, news: &Sender<Msg>, answers: Receiver<VolumeAnswer>) {
    // A send fails only when the UI is gone; the work is then finished regardless.
    let send = |m: Msg| {
        let _ = news.send(m);
    };
    let runner = RealRunner;
    let ask = AskTheUi {
        search: ctx.search.clone(),
        news: news.clone(),
        answers,
    };
    let native = RealNative::with_source(ctx.volumes.clone(), Box::new(ask));
    let mut built: Option<Plan> = None;
    let mut applier: Option<Applier<'_>> = None;
    for job in jobs {
        match job {
            Job::Plan(req) => {
                let (ml, maps, choices) = engine_inputs(&req, &ctx.root);
                match plan(&ml, &maps, req.resize, &choices) {
                    Ok(p) => {
                        send(Msg::PlanBuilt(plan_steps(&p)));
                        built = Some(p);
                    }
                    Err(e) => {
                        built = None;
                        send(Msg::PlanFailed(chain(&e)));
                    }
                }
            }
            Job::Restore { bytes } => {
                let Some(p) = &built else {
                    send(Msg::Finished(failed("there is no plan to apply".into())));
                    continue;
                };
                let mut a = Applier::new(p, &runner, &native, p.steps.len());
                let mut reporter = Reporter::new(&send, bytes);
                let result = a.run(&p.steps[..restore_part(p)], &mut |e| reporter.event(e));
                match result {
                    Ok(()) => {
                        send(Msg::Finished(restored(p, a.outcome().restore.as_ref(), &a)));
                        applier = Some(a);
                    }
                    Err(e) => {
                        let mut f = failed(e.to_string());
                        f.problems.extend(e.cleanup.iter().cloned());
                        send(Msg::Finished(f));
                    }
                }
            }
            Job::Finalize { fstab, boot_loader } => {
                let (Some(p), Some(mut a)) = (&built, applier.take()) else {
                    send(Msg::Finalized(Err(
                        "no restore is waiting to be finished".into()
                    )));
                    continue;
                };
                let steps = finish_steps(p, &fstab, boot_loader);
                let mut reporter = Reporter::new(&send, 0);
                let result = a.run(&steps, &mut |e| reporter.event(e));
                send(Msg::Finalized(match result {
                    Ok(()) => {
                        let outcome = a.finish();
                        for line in &outcome.fstab {
                            send(Msg::Log(format!("fstab: {line}")));
                        }
                        send(Msg::Log(
                            "finished: the restored system is written and unmounted".into(),
                        ));
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }));
            }
            Job::Compare { maps } => send(Msg::Finished(compare(&ctx, &maps, &runner, &send))),
        }
    }
    if let Some(mut a) = applier {
        a.unmount_all(&mut |_| {});
    }
}

/// Paths named in each list of a compare; the rest are counted.
const COMPARE_SHOW: usize = 100;

/// Mounts the disks read-only, compares them with the catalog and unmounts them.
fn compare(ctx: &Context, maps: &[DiskMap], runner: &RealRunner, send: &dyn Fn(Msg)) -> Finished {
    let started = Instant::now();
    let mut last = Instant::now();
    let mut progress = |p: &CompareProgress<'_>| {
        // The catalog goes by quickly: a screen update every 100 ms is plenty.
        if last.elapsed() < Duration::from_millis(100) {
            return;
        }
        last = Instant::now();
        send(Msg::Progress(Progress {
            step: 1,
            steps: 1,
            step_text: "compare every file with the backup's catalog".into(),
            done_bytes: p.content_bytes,
            file: Some(show_path(p.path)),
            elapsed: started.elapsed(),
            ..Progress::default()
        }));
    };
    match run_compare(
        &ctx.volumes,
        &ctx.mountlist,
        maps,
        &ctx.root,
        runner,
        COMPARE_SHOW,
        &mut progress,
    ) {
        Ok(outcome) => {
            for line in &outcome.lines {
                send(Msg::Log(line.clone()));
            }
            let differences = outcome.report.differences();
            let mut report = report_lines(&outcome.report, COMPARE_SHOW).into_iter();
            let mut summary: Vec<String> = report.next().into_iter().collect();
            summary.push(if differences == 0 {
                "the disks are as the backup has them".to_string()
            } else {
                format!("{differences} difference(s) from the backup:")
            });
            Finished {
                ok: outcome.clean(),
                summary,
                problems: report.chain(outcome.problems.iter().cloned()).collect(),
                fstab: Vec::new(),
            }
        }
        Err(e) => failed(format!("{e:#}")),
    }
}

/// A run that stopped.
fn failed(why: String) -> Finished {
    Finished {
        ok: false,
        summary: vec!["stopped: nothing after the failed step ran".into()],
        problems: vec![why],
        fstab: Vec::new(),
    }
}

/// The restore part went through: what was restored, what went wrong on the way, and the
/// fstab changes to review.
fn restored(p: &Plan, report: Option<&RestoreReport>, a: &Applier<'_>) -> Finished {
    let outcome = a.outcome();
    let mut summary = vec![format!(
        "{} restored onto {}",
        if p.original.host.hostname.is_empty() {
            "the system"
        } else {
            &p.original.host.hostname
        },
        p.mapped_disks().join(", ")
    )];
    let mut problems: Vec<String> = outcome.problems.clone();
    if let Some(r) = report {
        summary.push(format!(
            "{} files ({}) from {} sets",
            r.files,
            format_bytes(r.bytes),
            r.sets
        ));
        problems.extend(r.problems.iter().cloned());
        problems.extend(r.failed.iter().map(|f| format!("not restored: {f}")));
        problems.extend(
            r.mismatched
                .iter()
                .map(|f| format!("differs from the backup: {f}")),
        );
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(format!("... and {more} more (see the log)"));
    }
    summary.push(format!(
        "still mounted under {}: w finishes (fstab, boot loader, log) and unmounts",
        p.root.display()
    ));
    Finished {
        ok: outcome.clean(),
        summary,
        problems,
        fstab: proposed_fstab(p),
    }
}

/// Turns the engine's events into progress, log lines and problems.
struct Reporter<'s> {
    send: &'s dyn Fn(Msg),
    progress: Progress,
    started: Instant,
}

impl<'s> Reporter<'s> {
    fn new(send: &'s dyn Fn(Msg), total_bytes: u64) -> Reporter<'s> {
        Reporter {
            send,
            progress: Progress {
                total_bytes,
                ..Progress::default()
            },
            started: Instant::now(),
        }
    }

    fn event(&mut self, e: Event<'_>) {
        let p = &mut self.progress;
        match e {
            Event::Start {
                number,
                total,
                step,
            } => {
                p.step = number;
                p.steps = total;
                p.step_text = step.description();
                p.step_done = 0;
                p.step_total = 0;
                (self.send)(Msg::Log(format!("[{number}/{total}] {}", p.step_text)));
                if let Some(cmd) = step.command() {
                    (self.send)(Msg::Log(format!("  $ {cmd}")));
                }
            }
            Event::Restore(r) => {
                p.done_bytes = r.bytes;
                p.step_done = r.bytes;
                p.step_total = p.total_bytes;
                if !r.current.is_empty() {
                    p.file = Some(r.current.clone());
                }
            }
            Event::Note(n) => (self.send)(Msg::Log(format!("  note: {n}"))),
            Event::Failed { error, .. } => (self.send)(Msg::Problem(error.to_string())),
            Event::Cleanup(line) => (self.send)(Msg::Log(format!("  {line}"))),
            Event::Done { .. } => {}
        }
        p.elapsed = self.started.elapsed();
        (self.send)(Msg::Progress(p.clone()));
    }
}
