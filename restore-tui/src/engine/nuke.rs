//! `restore-tui --mode nuke`: rebuild the disks and restore everything without the UI.
//!
//! Finds the volumes, reads the mountlist from volume 1, maps each original disk to its
//! target (`--disk-map OLD=NEW[:SIZE]`, or the disk of the same name when it exists and
//! is large enough), refuses targets in use, prints the plan, asks for the word "nuke"
//! (or the target disks' names) unless `--yes`, applies it and prints a summary. Volumes
//! not at the media are looked for on the attached devices when the restore reaches them,
//! and asked for (see [`super::volumes`]). With `--verify` the restored disks are then
//! compared with the catalog ([`super::verify`]).

use super::apply::{apply, DryNative, Event, RealNative};
use super::plan::{plan, Choices, DiskMap, Plan};
use super::safety::{check_targets, SystemPaths};
use super::verify::{self, BootLoaderWatch, Expectations, Restored};
use super::volumes::{host_places, say_uncovered, scan_at, Ask, Finder, Search};
use crate::init::console::{self, Input};
use crate::init::media::Places;
use anyhow::{bail, Context};
use rescue_core::mountlist::disk_map::DiskMapSpec;
use rescue_core::mountlist::resize::{ResizeMode, TargetDisk};
use rescue_core::mountlist::Mountlist;
use rescue_core::restore_files::{RestoreReport, VolumeSource};
use rescue_core::runner::{DryRun, RealRunner};
use rescue_core::signature::Trust;
use rescue_core::size::format_bytes;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Request {
    pub media: PathBuf,
    /// `OLD=NEW[:SIZE]`, as given.
    pub disk_map: Vec<String>,
    pub resize: ResizeMode,
    pub root: PathBuf,
    pub yes: bool,
    pub dry_run: bool,
    pub boot_loader: bool,
    /// Which volumes are accepted (`--trusted-key`, `rescue.trusted-key`).
    pub trust: Trust,
}

/// Where a nuke looks beyond its request: sysfs for the target disks, and the block
/// devices for the volumes not at the media (under a test root in the init's test mode).
#[derive(Debug, Clone)]
pub struct Env {
    pub sys: PathBuf,
    pub places: Places,
}

impl Default for Env {
    fn default() -> Env {
        Env {
            sys: PathBuf::from("/sys"),
            places: host_places(),
        }
    }
}

/// What a nuke did: for its exit code, a verification and the rehearsal report.
#[derive(Debug)]
pub struct NukeOutcome {
    /// 0 when everything was restored (or the dry run went through), 1 otherwise.
    pub code: i32,
    pub backup_id: String,
    /// What the file restore did, once it ran.
    pub restore: Option<RestoreReport>,
    /// Problems that did not stop the restore but leave it incomplete.
    pub problems: Vec<String>,
    /// What a verification needs: only when the restore ran to its end.
    pub restored: Option<Restored>,
}

impl NukeOutcome {
    /// Nothing was written (a dry run, or not confirmed).
    fn nothing_written(code: i32, backup_id: String) -> NukeOutcome {
        NukeOutcome {
            code,
            backup_id,
            restore: None,
            problems: Vec::new(),
            restored: None,
        }
    }

    /// The restore's problems as printed: each file or set that went wrong, then what is
    /// left incomplete.
    pub fn problem_lines(&self) -> Vec<String> {
        let mut lines = self
            .restore
            .as_ref()
            .map(crate::files::problem_lines)
            .unwrap_or_default();
        lines.extend(self.problems.iter().map(|p| format!("problem: {p}")));
        lines
    }
}

/// Runs the nuke on this host, then with `verify` compares the restored disks with the
/// catalog (read-only, mounted at the target root again); the exit code: 0 when
/// everything was restored (and verified), 1 otherwise.
pub fn run(req: &Request, verify: bool) -> anyhow::Result<i32> {
    let outcome = run_in(req, &Env::default())?;
    if !verify {
        return Ok(outcome.code);
    }
    let Some(restored) = outcome.restored.as_ref().filter(|_| outcome.code == 0) else {
        println!(
            "verify: not run ({})",
            if req.dry_run {
                "a dry run writes nothing to verify"
            } else {
                "the restore did not succeed"
            }
        );
        return Ok(outcome.code);
    };
    println!();
    println!(
        "verify: comparing the restored disks with the backup's catalog, read-only at {}",
        req.root.display()
    );
    let verification = verify::verify(restored, &req.root, &RealRunner);
    // Printed without the rescue system's "restore-tui: " prefix, like "done: ...".
    match verification {
        Ok(v) => {
            for line in v.lines() {
                println!("{line}");
            }
            println!("{}", v.finished_line());
            Ok(if v.ok() { 0 } else { 1 })
        }
        Err(e) => {
            println!(
                "verify finished: FAILED ({})",
                format!("{e:#}").replace('\n', " ")
            );
            Ok(1)
        }
    }
}

/// Runs the nuke with the devices of `env`.
pub fn run_in(req: &Request, env: &Env) -> anyhow::Result<NukeOutcome> {
    let mut scan = scan_at(&req.media, &req.trust)?;
    let mut volumes = std::mem::take(&mut scan.volumes);
    let mut finder = Finder::new(
        Search::new(env.places.clone(), req.trust.clone()).looking_in(&scan),
        Ask::from_yes(req.yes),
    );
    let first = match volumes.iter().find(|v| v.manifest().volume == 1) {
        Some(v) => v.clone(),
        None => {
            // Another volume was given: volume 1 may be on another disc.
            let m = volumes.first().context("no volume found")?.manifest();
            let (id, of) = (m.backup_id.clone(), m.volumes_known());
            let v = finder.volume(&id, 1, of).with_context(|| {
                format!(
                    "volume 1 of the backup (it holds the mountlist) is not at {}, nor \
                     on any attached device",
                    req.media.display()
                )
            })?;
            volumes.push(v.clone());
            v
        }
    };
    let ml = first.read_mountlist()?;
    say_uncovered(&first);
    let m = first.manifest();
    let backup_id = m.backup_id.clone();
    println!(
        "backup {} of {} ({} volume(s) found, {} set(s))",
        m.backup_id,
        m.hostname,
        volumes.len(),
        volumes
            .iter()
            .map(|v| v.manifest().sets.len())
            .sum::<usize>()
    );

    let maps = disk_maps(&ml, &req.disk_map, &env.sys)?;
    let existing: Vec<String> = maps
        .iter()
        .map(|m| m.to.path.clone())
        .filter(|p| !req.dry_run || Path::new(p).exists())
        .collect();
    let mut protected: Vec<PathBuf> = vec![req.media.clone()];
    protected.extend(volumes.iter().map(|v| v.path().to_path_buf()));
    check_targets(&existing, &protected, &SystemPaths::default())?;

    let choices = Choices {
        root: req.root.clone(),
        boot_loader: req.boot_loader,
        ..Choices::default()
    };
    let plan = plan(&ml, &maps, req.resize, &choices)?;
    print!("\n{plan}");
    println!();

    if req.dry_run {
        println!("Dry run: what would be done, in order:");
        let runner = DryRun::to_writer(std::io::stdout());
        let native = DryNative::to_writer(std::io::stdout());
        if let Err(e) = apply(&plan, &runner, &native, &mut |_| {}) {
            bail!("the dry run stopped: {e}");
        }
        println!("dry run: nothing was written");
        return Ok(NukeOutcome::nothing_written(0, backup_id));
    }
    if !req.yes && !confirm(&plan)? {
        println!("not confirmed: nothing was written");
        return Ok(NukeOutcome::nothing_written(1, backup_id));
    }
    let native = RealNative::with_source(volumes, Box::new(finder));
    let started = std::time::Instant::now();
    let mut sets_told = 0;
    let mut boot_loader = BootLoaderWatch::default();
    let result = apply(&plan, &RealRunner, &native, &mut |e| {
        boot_loader.see(&e);
        print_event(e, &mut sets_told)
    });
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(mut outcome) => {
            println!();
            println!(
                "restored {} onto {} in {seconds:.1} s",
                plan.original.host.hostname,
                plan.target_disks().join(", "),
            );
            if let Some(r) = &outcome.restore {
                println!(
                    "  {} files ({}) from {} sets",
                    r.files,
                    format_bytes(r.bytes),
                    r.sets
                );
                crate::files::print_problems(r);
            }
            for f in &outcome.fstab {
                println!("  fstab {f}");
            }
            for p in &outcome.problems {
                eprintln!("problem: {p}");
            }
            println!(
                "  the log is in {}",
                choices.root.join(&choices.log_file).display()
            );
            let code = if outcome.clean() {
                println!("done: every step succeeded");
                0
            } else {
                eprintln!("done, with problems: see above");
                1
            };
            let expected = Expectations::of(&plan, &outcome, boot_loader.ran());
            Ok(NukeOutcome {
                code,
                backup_id,
                restore: outcome.restore.take(),
                problems: std::mem::take(&mut outcome.problems),
                restored: Some(Restored {
                    // The volumes at the media; the catalog is on volume 1, among them.
                    volumes: native.volumes,
                    mountlist: ml,
                    maps,
                    expected,
                }),
            })
        }
        Err(e) => {
            for c in &e.cleanup {
                eprintln!("{c}");
            }
            Err(anyhow::Error::new(*e).context("the restore stopped"))
        }
    }
}

/// Prints what a step does as it starts, and the restore's progress once a set (the
/// progress within a set is for the terminal UI's bar).
fn print_event(e: Event<'_>, sets_told: &mut u32) {
    match e {
        Event::Start {
            number,
            total,
            step,
        } => {
            println!("[{number}/{total}] {}", step.description());
            if let Some(cmd) = step.command() {
                println!("        $ {cmd}");
            }
        }
        Event::Note(n) => println!("        note: {n}"),
        Event::Restore(r) if r.sets > *sets_told => {
            *sets_told = r.sets;
            println!(
                "        restored {} files ({}) from {} sets so far",
                r.files,
                format_bytes(r.bytes),
                r.sets
            );
        }
        Event::Restore(_) => {}
        Event::Failed { .. } | Event::Done { .. } | Event::Cleanup(_) => {}
    }
    let _ = std::io::stdout().flush();
}

/// The target disks: as `--disk-map` says, else each original disk onto itself when it
/// exists as a whole disk at least as large as it was.
pub fn disk_maps(ml: &Mountlist, specs: &[String], sys: &Path) -> anyhow::Result<Vec<DiskMap>> {
    if specs.is_empty() {
        let mut maps = Vec::new();
        for d in &ml.disks {
            let to = attached_disk(&d.path, sys, d.logical_sector_size).with_context(|| {
                format!(
                    "{} of the backup: there is no such disk here to restore it onto; name \
                     its target with --disk-map {}=NEW",
                    d.path, d.path
                )
            })?;
            if to.sectors < d.sectors {
                bail!(
                    "{} is {}, smaller than the {} it had: name the target with --disk-map \
                     {}=NEW (a smaller disk works when the data fits)",
                    d.path,
                    format_bytes(to.sectors * u64::from(to.logical_sector_size)),
                    format_bytes(d.size_bytes()),
                    d.path
                );
            }
            maps.push(DiskMap {
                from: d.path.clone(),
                to,
            });
        }
        return Ok(maps);
    }
    let mut maps = Vec::new();
    for s in specs {
        let spec: DiskMapSpec = s.parse()?;
        let original_lss = ml
            .disk(&spec.old)
            .map(|d| d.logical_sector_size)
            .unwrap_or(512);
        let to = match (attached_disk(&spec.new, sys, original_lss), spec.size) {
            (Ok(mut t), Some(size)) => {
                let attached = t.sectors * u64::from(t.logical_sector_size);
                if size > attached {
                    bail!(
                        "--disk-map {s}: {} has only {}, less than the {} given",
                        spec.new,
                        format_bytes(attached),
                        format_bytes(size)
                    );
                }
                t.sectors = size / u64::from(t.logical_sector_size);
                t
            }
            (Ok(t), None) => t,
            (Err(_), Some(size)) => TargetDisk {
                path: spec.new.clone(),
                sectors: size / u64::from(original_lss),
                logical_sector_size: original_lss,
            },
            (Err(e), None) => {
                return Err(e.context(format!(
                    "--disk-map {s}: {} is not an attached disk (give its size as \
                     {}={}:SIZE to plan for it)",
                    spec.new, spec.old, spec.new
                )))
            }
        };
        maps.push(DiskMap { from: spec.old, to });
    }
    Ok(maps)
}

/// An attached whole disk: its size and logical sector size from sysfs.
fn attached_disk(path: &str, sys: &Path, default_lss: u32) -> anyhow::Result<TargetDisk> {
    let name = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| path.rsplit('/').next().unwrap_or(path).to_string());
    let dir = sys.join("class/block").join(&name);
    if dir.join("partition").exists() {
        bail!("{path} is a partition, not a whole disk");
    }
    let bytes = rescue_core::blockdev::size_bytes(&name, sys)?;
    let lss = std::fs::read_to_string(dir.join("queue/logical_block_size"))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .unwrap_or(default_lss);
    Ok(TargetDisk {
        path: path.to_string(),
        sectors: bytes / u64::from(lss.max(1)),
        logical_sector_size: lss,
    })
}

/// Asks for the word "nuke" or the names of the target disks. Read a byte at a time: the
/// lines after the answer are for the volume prompts (and, in the rescue system, the menu).
fn confirm(plan: &Plan) -> anyhow::Result<bool> {
    let disks = plan.target_disks();
    print!(
        "Type \"nuke\" (or the target disk names: {}) to erase {} and restore: ",
        disks.join(" "),
        if disks.len() == 1 { "it" } else { "them" }
    );
    std::io::stdout().flush()?;
    match console::read_line().context("reading the answer")? {
        Input::Line(line) => Ok(confirmed(&line, &disks)),
        Input::Eof => Ok(false),
    }
}

/// The typed answer agrees: "nuke", or every target disk named (with or without /dev/).
pub fn confirmed(answer: &str, disks: &[&str]) -> bool {
    let answer = answer.trim();
    if answer == "nuke" {
        return true;
    }
    let mut words: Vec<String> = answer
        .split_whitespace()
        .map(|w| {
            if w.starts_with('/') {
                w.to_string()
            } else {
                format!("/dev/{w}")
            }
        })
        .collect();
    let mut want: Vec<String> = disks.iter().map(|d| d.to_string()).collect();
    words.sort();
    want.sort();
    !want.is_empty() && words == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_takes_nuke_or_every_disk_name() {
        let disks = ["/dev/vdb", "/dev/vdc"];
        assert!(confirmed("nuke\n", &disks));
        assert!(confirmed(" vdc /dev/vdb ", &disks));
        assert!(!confirmed("vdb", &disks));
        assert!(!confirmed("yes", &disks));
        assert!(!confirmed("", &disks));
        assert!(!confirmed("NUKE", &disks));
    }
}
