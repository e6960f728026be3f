//! The terminal UI at work: owns the terminal, reads keys, feeds them and the engine's news
//! to [`crate::tui::update`], draws [`crate::tui::view`], and hands the commands that come
//! out to the engine thread ([`worker`]) or does them itself (shell, reboot, quit).
//!
//! `restore-tui --mode interactive --media PATH [--disk DEV]...` on any machine; in the
//! rescue system PID 1 starts it for `rescue.mode=interactive`.

mod ask_volume;
pub mod bridge;
pub mod targets;
mod terminal;
pub mod worker;

use crate::engine::plan::DiskMap;
use crate::engine::safety::SystemPaths;
use crate::engine::volumes::{backup_at, host_places, Search};
use crate::tui::{key_to_msg, update, view, App, AppInput, CatalogFile, Command, Msg, StartChoice};
use anyhow::Context as _;
use ratatui::crossterm::event::{self, Event as TermEvent};
use rescue_core::media::CATALOG_PATH;
use rescue_core::signature::Trust;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;
use worker::{Job, Worker};

/// How the UI is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// The backup: an ISO image, a device, a volume directory or a directory of volumes.
    pub media: PathBuf,
    /// The disks offered as targets; empty: every whole disk found.
    pub disks: Vec<String>,
    /// Where the restored system is mounted while its files are restored.
    pub root: PathBuf,
    /// A choice of the Start screen made at once (`rescue.mode=compare`).
    pub start: Option<StartChoice>,
    /// PID 1 of the rescue system (its shells take the console).
    pub pid1: bool,
    /// Which volumes are accepted (`--trusted-key`, `rescue.trusted-key`).
    pub trust: Trust,
}

/// How the UI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Reboot,
    PowerOff,
}

/// How long a key is waited for before the engine's news are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Runs the UI until the user leaves it.
pub fn run(opts: &Options) -> anyhow::Result<Exit> {
    let (scan, first) = backup_at(&opts.media, &opts.trust)?;
    let search = Search::new(host_places(), opts.trust.clone()).looking_in(&scan);
    let volumes = scan.volumes;
    let mountlist = first.read_mountlist()?;
    let mut protected = vec![opts.media.clone()];
    protected.extend(volumes.iter().map(|v| v.path().to_path_buf()));
    let paths = SystemPaths::default();
    let targets = targets::find_targets(&opts.disks, &protected, &paths)?;
    let catalog_volume = first.clone();
    let catalog = CatalogFile::new(first.display_file(CATALOG_PATH), move || {
        catalog_volume.open_file(CATALOG_PATH)
    });
    let mut app = App::new(AppInput {
        manifest: first.manifest().clone(),
        mountlist: mountlist.clone(),
        targets,
        catalog: Box::new(catalog),
        plan: None,
    });

    let (news_tx, news) = channel();
    let ctx = worker::Context {
        mountlist,
        volumes,
        search,
        root: opts.root.clone(),
    };
    let worker = worker::spawn(ctx, news_tx);
    let result = event_loop(&mut app, opts, &worker, &news);
    // The engine thread ends once it has no more jobs (unmounting what a restore left
    // mounted); a restore it is running is never cut short (a volume it asks for is
    // skipped: no one is left to answer).
    let Worker {
        jobs,
        answers,
        handle,
    } = worker;
    drop((jobs, answers));
    if handle.join().is_err() {
        anyhow::bail!("the engine thread panicked (see the message above)");
    }
    result
}

fn event_loop(
    app: &mut App,
    opts: &Options,
    worker: &Worker,
    news: &Receiver<Msg>,
) -> anyhow::Result<Exit> {
    let jobs = &worker.jobs;
    let mut screen = terminal::Screen::enter().context("taking the terminal")?;
    let mut pending: Vec<Msg> = opts.start.map(Msg::Choose).into_iter().collect();
    loop {
        let mut later = Vec::new();
        for msg in pending.drain(..) {
            let Some(cmd) = update(app, msg) else {
                continue;
            };
            match cmd {
                Command::BuildPlan(req) => send(jobs, Job::Plan(req))?,
                Command::StartRestore => send(
                    jobs,
                    Job::Restore {
                        bytes: app.files.tree.selected_totals().1,
                    },
                )?,
                Command::Finalize { fstab, boot_loader } => {
                    send(jobs, Job::Finalize { fstab, boot_loader })?;
                }
                Command::Compare => send(
                    jobs,
                    Job::Compare {
                        maps: compare_maps(app),
                    },
                )?,
                Command::Volume(answer) => send(&worker.answers, answer)?,
                Command::Shell => {
                    screen
                        .suspend()
                        .context("giving the terminal to the shell")?;
                    let shell = crate::init::shell::run_shell(opts.pid1);
                    screen.resume().context("taking the terminal back")?;
                    if let Err(e) = shell {
                        later.push(Msg::Problem(format!("the shell: {e:#}")));
                    }
                }
                Command::Reboot => return Ok(Exit::Reboot),
                Command::PowerOff => return Ok(Exit::PowerOff),
                Command::Quit => return Ok(Exit::Quit),
            }
        }
        pending.extend(later);
        screen
            .term
            .draw(|frame| view(app, frame))
            .context("drawing the screen")?;
        if event::poll(TICK).context("reading the keyboard")? {
            if let TermEvent::Key(key) = event::read().context("reading the keyboard")? {
                pending.extend(key_to_msg(app, key));
            }
        }
        pending.extend(news.try_iter());
    }
}

/// A job or an answer to the engine thread.
fn send<T>(to: &Sender<T>, what: T) -> anyhow::Result<()> {
    to.send(what)
        .map_err(|_| anyhow::anyhow!("the engine thread has stopped"))
}

/// The disks a compare mounts: each original disk where a disk of its name is found, else
/// the one the Disks screen maps it to; a disk with neither keeps its name.
fn compare_maps(app: &App) -> Vec<DiskMap> {
    app.original
        .disks
        .iter()
        .zip(&app.disks.mapping)
        .filter_map(|(disk, mapped)| {
            let same = app.targets.iter().find(|t| t.path == disk.path);
            let target = same.or_else(|| mapped.map(|i| &app.targets[i]))?;
            Some(DiskMap {
                from: disk.path.clone(),
                to: target.target_disk(disk.logical_sector_size),
            })
        })
        .collect()
}
