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
use crate::engine::plan::{plan, DiskMap, Plan, Step};
use crate::engine::volumes::Search;
use crate::tui::{Finished, FstabEdit, Msg, PlanRequest, Progress, VolumeAnswer};
use rescue_core::compare::{show_path, CompareProgress, CompareReport};
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
            compared(&outcome.report, &outcome.problems, outcome.clean())
        }
        Err(e) => failed(format!("{e:#}")),
    }
}

/// What a compare found, for the After screen: the headline counts the differences; the
/// report's first line is the summary; its sections (each with its first `COMPARE_SHOW`
/// paths and "... and N more") and its verdict are the problems, scrolled through there,
/// with what went wrong while unmounting. Without differences the report's lines are all
/// summary.
fn compared(report: &CompareReport, problems: &[String], clean: bool) -> Finished {
    let differences = report.differences();
    let lines = report_lines(report, COMPARE_SHOW);
    let (summary, listed) = if differences == 0 {
        (lines, Vec::new())
    } else {
        let mut lines = lines.into_iter();
        (lines.next().into_iter().collect(), lines.collect())
    };
    Finished {
        ok: clean,
        summary,
        problems: listed.into_iter().chain(problems.iter().cloned()).collect(),
        differences: Some(differences),
        fstab: Vec::new(),
    }
}

/// A run that stopped.
fn failed(why: String) -> Finished {
    Finished {
        ok: false,
        summary: vec!["stopped: nothing after the failed step ran".into()],
        problems: vec![why],
        differences: None,
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
        // The restore log names them all, when the plan writes one.
        problems.push(match log_file(p) {
            Some(log) => format!("... and {more} more: all are in {log}, which w writes"),
            None => format!("... and {more} more"),
        });
    }
    summary.push(format!(
        "still mounted at {} until w (fstab, boot loader, log, unmount)",
        p.root.display()
    ));
    // The fstab as restored: only the changes it references are proposed.
    let fstab_text = fstab_path(p).and_then(|path| std::fs::read(path).ok());
    Finished {
        ok: outcome.clean(),
        summary,
        problems,
        differences: None,
        fstab: proposed_fstab(
            p,
            fstab_text
                .as_deref()
                .map(String::from_utf8_lossy)
                .as_deref(),
        ),
    }
}

/// Where the restore log is, as the restored system sees it ("/var/log/restore-tui.log").
fn log_file(p: &Plan) -> Option<String> {
    p.steps.iter().find_map(|s| match s {
        Step::WriteLog { path } => Some(match path.strip_prefix(&p.root) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => path.display().to_string(),
        }),
        _ => None,
    })
}

/// The fstab the plan rewrites (in the restored system, mounted).
fn fstab_path(p: &Plan) -> Option<&std::path::Path> {
    p.steps.iter().find_map(|s| match s {
        Step::RewriteFstab { path, .. } => Some(path.as_path()),
        _ => None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::compare::Changed;
    use std::path::Path;

    fn report(changed: usize) -> CompareReport {
        let mut r = CompareReport::new(Path::new("/mnt/restore"));
        r.compared = 14;
        r.content_checked = 13;
        r.changed.count = changed as u64;
        r.changed.files = (0..changed.min(COMPARE_SHOW))
            .map(|n| Changed {
                path: format!("etc/f{n}"),
                what: vec!["content (BLAKE3)".into()],
            })
            .collect();
        r
    }

    #[test]
    fn a_compare_counts_its_differences_not_the_lines_of_its_report() {
        let f = compared(&report(1), &[], false);
        assert_eq!(f.differences, Some(1));
        assert_eq!(f.summary.len(), 1, "{f:?}");
        assert!(f.summary[0].starts_with("compared 14 entries"), "{f:?}");
        assert_eq!(
            f.problems,
            [
                "CHANGED (1):",
                "  /etc/f0: content (BLAKE3)",
                "1 difference: 0 missing, 1 changed, 0 extra"
            ]
        );

        // More than the report names: its own "... and N more", nothing else.
        let f = compared(&report(COMPARE_SHOW + 7), &[], false);
        assert_eq!(f.differences, Some(COMPARE_SHOW as u64 + 7));
        assert_eq!(f.problems.len(), COMPARE_SHOW + 3);
        assert_eq!(f.problems[COMPARE_SHOW + 1], "  ... and 7 more");
        assert_eq!(f.problems.iter().filter(|p| p.contains("more")).count(), 1);

        // The same as the backup: the report is the summary; only what went wrong while
        // unmounting is a problem.
        let f = compared(&report(0), &[], true);
        assert_eq!(f.differences, Some(0));
        assert!(f.ok && f.problems.is_empty(), "{f:?}");
        assert_eq!(
            f.summary.last().map(String::as_str),
            Some("identical: no file missing, changed or extra")
        );
        let stuck = ["/mnt/restore/home is still mounted: busy".to_string()];
        let f = compared(&report(0), &stuck, false);
        assert_eq!(f.problems, stuck);
    }
}
