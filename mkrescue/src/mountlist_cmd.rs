//! `mkrescue mountlist`: capture (or read) a mountlist, check it and print it.

use crate::cli::SystemArgs;
use crate::identity;
use crate::output::write_atomically;
use crate::probe;
use anyhow::Context;
use clap::Args;
use rescue_core::blockdev;
use rescue_core::mountlist::disk_map::DiskMapSpec;
use rescue_core::mountlist::{
    self, render,
    resize::{map_disks, ResizeMode, TargetDisk},
    validate::{validate, Severity},
    Mountlist,
};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct MountlistArgs {
    /// Capture the system mounted under DIR (its root filesystem at DIR, the others below it)
    /// instead of the running host
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Print the versioned JSON mountlist instead of a table
    #[arg(long)]
    pub json: bool,

    /// Read a saved mountlist file instead of capturing one; it is checked and printed,
    /// and the exit code is 1 when it has errors
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub input: Option<PathBuf>,

    /// Also write the JSON mountlist to FILE (under a temporary name, renamed when complete)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Show the layout laid onto another disk: OLD is a disk in the mountlist, NEW the disk
    /// it would be restored to, SIZE its size (such as 20g) when NEW is not attached here.
    /// Repeatable
    #[arg(long = "disk-map", value_name = "OLD=NEW[:SIZE]")]
    pub disk_map: Vec<String>,

    /// How --disk-map fits partitions onto a disk of another size: "proportional" scales
    /// every resizable partition, "grow-last" keeps sizes and grows or shrinks the last one
    #[arg(long, value_name = "MODE", default_value = "proportional")]
    pub resize: ResizeMode,

    #[command(flatten)]
    pub system: SystemArgs,
}

pub fn run(args: &MountlistArgs) -> anyhow::Result<i32> {
    let from_file = args.input.is_some();
    let mut ml = match &args.input {
        Some(path) => {
            mountlist::read_file(path).with_context(|| format!("loading {}", path.display()))?
        }
        None => {
            let paths = args.system.paths();
            let ml = probe::capture(&args.root, &paths, identity::epoch())?;
            for warning in &ml.warnings {
                eprintln!("warning: {warning}");
            }
            ml
        }
    };
    if !args.disk_map.is_empty() {
        ml = apply_disk_maps(&ml, &args.disk_map, args.resize, &args.system.sysfs)?;
    }

    if let Some(path) = &args.output {
        write_atomically(path, mountlist::to_json(&ml).as_bytes(), 0o600)
            .with_context(|| format!("writing the mountlist to {}", path.display()))?;
    }
    if args.json {
        print!("{}", mountlist::to_json(&ml));
    } else {
        print!("{}", render::table(&ml));
    }

    let problems = validate(&ml);
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    for problem in &problems {
        let tag = match problem.severity {
            Severity::Error => "problem",
            Severity::Warning => "warning",
        };
        eprintln!("{tag}: {problem}");
    }
    if errors > 0 && (from_file || !args.disk_map.is_empty()) {
        eprintln!(
            "error: the mountlist has {errors} problem(s) that a restore would refuse; fix them \
             and check again"
        );
        return Ok(1);
    }
    if errors > 0 {
        eprintln!(
            "note: the layout has {errors} problem(s) that a restore would refuse until the \
             mountlist is edited"
        );
    }
    Ok(0)
}

/// Applies `OLD=NEW[:SIZE]` mappings all at once (so two disks can trade names).
pub fn apply_disk_maps(
    ml: &Mountlist,
    specs: &[String],
    mode: ResizeMode,
    sysfs: &Path,
) -> anyhow::Result<Mountlist> {
    let mut targets = Vec::with_capacity(specs.len());
    for spec in specs {
        let map: DiskMapSpec = spec.parse()?;
        let old_disk = ml.disk(&map.old).with_context(|| {
            let known: Vec<&str> = ml.disks.iter().map(|d| d.path.as_str()).collect();
            format!(
                "--disk-map {spec:?}: {} is not a disk of this mountlist (it has {})",
                map.old,
                known.join(", ")
            )
        })?;
        let lss = old_disk.logical_sector_size;
        let bytes = match map.size {
            Some(bytes) => bytes,
            None => blockdev::size_bytes(&map.new, sysfs).with_context(|| {
                format!(
                    "--disk-map {spec:?}: give the size as {}={}:SIZE for a disk that is not \
                     attached",
                    map.old, map.new
                )
            })?,
        };
        let target = TargetDisk {
            path: map.new.clone(),
            sectors: bytes / u64::from(lss),
            logical_sector_size: lss,
        };
        targets.push((map.old, target));
    }
    let maps: Vec<(&str, &TargetDisk)> = targets.iter().map(|(o, t)| (o.as_str(), t)).collect();
    Ok(map_disks(ml, &maps, mode)?)
}
