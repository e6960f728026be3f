//! Restoring files into a directory of a running system (no partitioning): the everyday
//! "I need /etc back" case, from any volume of a backup.

use crate::engine::volumes::{host_places, say_uncovered, scan_at, Ask, Finder, Search};
use crate::init::console::{self, Input};
use anyhow::{bail, Context};
use rescue_core::restore_files::{restore_from, RestoreOptions, RestoreReport, Selection};
use rescue_core::signature::Trust;
use rescue_core::size::format_bytes;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Request {
    pub media: PathBuf,
    pub target: PathBuf,
    pub select: Vec<String>,
    pub rename: Vec<String>,
    pub yes: bool,
    pub no_same_owner: bool,
    pub no_special: bool,
    /// Which volumes are accepted (`--trusted-key`).
    pub trust: Trust,
}

/// "/home/ann/" -> "home/ann": paths as the archive holds them.
fn archive_path(path: &str) -> anyhow::Result<Vec<u8>> {
    let trimmed = path.trim_matches('/');
    if trimmed.split('/').any(|c| c == "..") {
        bail!("{path:?}: paths with \"..\" cannot be selected or renamed");
    }
    Ok(trimmed.as_bytes().to_vec())
}

pub fn selection(select: &[String], rename: &[String]) -> anyhow::Result<Selection> {
    let mut s = Selection::default();
    for p in select {
        s.paths.push(archive_path(p)?);
    }
    for r in rename {
        let (old, new) = r.split_once('=').with_context(|| {
            format!("--rename {r:?}: expected OLD=NEW, such as /home=/tmp/home")
        })?;
        s.renames.push((archive_path(old)?, archive_path(new)?));
    }
    Ok(s)
}

pub fn run(req: &Request) -> anyhow::Result<i32> {
    let selection = selection(&req.select, &req.rename)?;
    let mut scan = scan_at(&req.media, &req.trust)?;
    let volumes = std::mem::take(&mut scan.volumes);
    let first = volumes.first().context("no volume found")?;
    if first.manifest().volume == 1 {
        say_uncovered(first);
    }
    let m = first.manifest();
    let sets: usize = volumes.iter().map(|v| v.manifest().sets.len()).sum();
    println!(
        "backup {} of {}: {} volume(s) here, {sets} set(s)",
        m.backup_id,
        m.hostname,
        volumes.len()
    );
    let what = if req.select.is_empty() {
        "everything".to_string()
    } else {
        req.select.join(", ")
    };
    println!("restore {what} into {}", req.target.display());
    for r in &req.rename {
        println!("  renaming {r}");
    }
    if !req.yes && !confirm()? {
        println!("nothing restored");
        return Ok(1);
    }
    // A directory that was there keeps its own owner and mode: the backup's root entry
    // describes the backed-up system's root, not this directory.
    let existed = req.target.is_dir();
    std::fs::create_dir_all(&req.target)
        .with_context(|| format!("making {}", req.target.display()))?;
    let options = RestoreOptions {
        no_same_owner: req.no_same_owner,
        no_special: req.no_special,
        keep_root: existed,
        // Signed media are trusted only as far as the signature reaches: no byte of a set
        // is written before the set is found to be the one the signed manifest names.
        check_sets_first: matches!(req.trust, Trust::SignedBy(_)),
    };
    // Volumes not here are looked for (and asked for) when the restore reaches them.
    let mut finder = Finder::new(
        Search::new(host_places(), req.trust.clone()).looking_in(&scan),
        Ask::from_yes(req.yes),
    );
    let report = restore_from(
        volumes,
        &mut finder,
        &req.target,
        &selection,
        &options,
        &mut |_| {},
    )
    .with_context(|| format!("restoring into {}", req.target.display()))?;
    print_report(&report);
    Ok(if report.clean() { 0 } else { 1 })
}

/// Read a byte at a time: the lines after the answer are for the volume prompts.
fn confirm() -> anyhow::Result<bool> {
    print!("go ahead? [y/N] ");
    std::io::stdout().flush()?;
    match console::read_line().context("reading the answer")? {
        Input::Line(line) => Ok(matches!(line.trim(), "y" | "Y" | "yes")),
        Input::Eof => bail!("no answer (the input ended): add --yes to restore without asking"),
    }
}

/// Every set-level problem, entry that could not be restored and content mismatch, on
/// stderr, one a line.
pub fn print_problems(r: &RestoreReport) {
    for line in problem_lines(r) {
        eprintln!("{line}");
    }
}

/// The lines [`print_problems`] prints.
pub fn problem_lines(r: &RestoreReport) -> Vec<String> {
    [
        ("problem", &r.problems),
        ("not restored", &r.failed),
        ("content differs from the backup", &r.mismatched),
    ]
    .into_iter()
    .flat_map(|(title, list)| list.iter().map(move |item| format!("{title}: {item}")))
    .collect()
}

fn print_report(r: &RestoreReport) {
    println!(
        "restored {} files ({}) from {} sets, {} entries read",
        r.files,
        format_bytes(r.bytes),
        r.sets,
        r.entries
    );
    print_problems(r);
    for w in r.warnings.iter().take(20) {
        eprintln!("warning: {w}");
    }
    if r.warnings.len() > 20 {
        eprintln!("warning: ... and {} more", r.warnings.len() - 20);
    }
}
