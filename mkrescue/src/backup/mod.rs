//! Backing up the captured system's files into archive sets: select (`select`), read the
//! metadata (`meta`), plan the catalog and the sets (`plan`, pass 1), then store the data
//! (`store`, pass 2) through the compression `pipeline`.

pub mod meta;
pub mod pipeline;
pub mod plan;
pub mod select;
pub mod store;

use anyhow::Context;
use rescue_core::media::Compression;
use select::{Rules, Walker};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
pub use store::SetReady;

#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub root: PathBuf,
    pub rules: Rules,
    /// st_dev of every filesystem to back up.
    pub devices: HashSet<u64>,
    /// Directories never entered (the output and scratch folders).
    pub skip: Vec<PathBuf>,
    pub set_size: u64,
    pub compression: Compression,
    pub level: i32,
    pub workers: usize,
}

/// What a backup did.
#[derive(Debug)]
pub struct BackupSummary {
    pub catalog: PathBuf,
    pub plan: plan::PlanSummary,
    pub store: store::StoreSummary,
}

/// Plans (writing the catalog to `scratch/catalog.zst`), then writes the sets into
/// `scratch/sets/`, calling `ready` for each finished set in order.
pub fn run(
    opts: &BackupOptions,
    scratch: &Path,
    ready: &mut dyn FnMut(SetReady) -> anyhow::Result<()>,
) -> anyhow::Result<BackupSummary> {
    let sets_dir = scratch.join("sets");
    std::fs::create_dir_all(&sets_dir).with_context(|| format!("making {}", sets_dir.display()))?;
    let catalog = scratch.join("catalog.zst");
    let plan_file = scratch.join("plan.jsonl");
    let mut walker = Walker::new(
        &opts.root,
        opts.rules.clone(),
        opts.devices.clone(),
        &opts.skip,
    );
    let planned = plan::plan(&opts.root, &mut walker, opts.set_size, &catalog, &plan_file)
        .context("selecting the files and writing the catalog")?;
    let stored = store::store(
        &store::Options {
            root: &opts.root,
            plan: &plan_file,
            dir: &sets_dir,
            compression: opts.compression,
            level: opts.level,
            workers: opts.workers,
        },
        ready,
    )
    .context("writing the archive sets")?;
    // The plan served its purpose; a failure to remove scratch is not the user's problem.
    let _ = std::fs::remove_file(&plan_file);
    Ok(BackupSummary {
        catalog,
        plan: planned,
        store: stored,
    })
}
