//! Backing up the captured system's files into archive sets: select (`select`), read the
//! metadata (`meta`), plan the catalog and the sets (`plan`, pass 1), then store the data
//! (`store`, pass 2) through the compression `pipeline`.

pub mod binds;
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
    /// Where each filesystem is read from (see [`select::Walker::with_sources`]); empty:
    /// the live tree.
    pub sources: Vec<(Vec<u8>, PathBuf)>,
    pub set_size: u64,
    pub compression: Compression,
    pub level: i32,
    pub workers: usize,
}

/// What a backup did.
#[derive(Debug)]
pub struct BackupSummary {
    pub catalog: PathBuf,
    /// Seconds of pass 1 (walk, catalog, plan).
    pub plan_seconds: f64,
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
    let mut walker = Walker::new(
        &opts.root,
        opts.rules.clone(),
        opts.devices.clone(),
        &opts.skip,
    )
    .with_sources(opts.sources.clone());
    // Pass 1 plans on its own thread while pass 2 stores what is planned; sets finished
    // before the catalog is complete wait, so the caller sees the catalog before any set.
    let (tx, rx) = std::sync::mpsc::sync_channel::<plan::PlanItem>(4096);
    let started = std::time::Instant::now();
    let plan_done = std::sync::atomic::AtomicBool::new(false);
    let (planned, plan_seconds, stored, waiting) = std::thread::scope(|scope| {
        let planner = scope.spawn(|| {
            let result = plan::plan(
                &opts.root,
                &mut walker,
                opts.set_size,
                &catalog,
                &mut |item| {
                    tx.send(item)
                        .map_err(|_| anyhow::anyhow!("the archive writer stopped"))
                },
            );
            drop(tx);
            let ok = result.is_ok();
            plan_done.store(ok, std::sync::atomic::Ordering::Release);
            (result, started.elapsed().as_secs_f64())
        });
        let mut waiting: Vec<SetReady> = Vec::new();
        let mut items = rx.into_iter();
        let stored = store::store(
            &store::Options {
                root: &opts.root,
                dir: &sets_dir,
                compression: opts.compression,
                level: opts.level,
                workers: opts.workers,
            },
            &mut items,
            &mut |set| {
                waiting.push(set);
                if plan_done.load(std::sync::atomic::Ordering::Acquire) {
                    for set in waiting.drain(..) {
                        ready(set)?;
                    }
                }
                Ok(())
            },
        );
        // A planner blocked on a full channel must see it close before it is joined.
        drop(items);
        let (planned, seconds) = match planner.join() {
            Ok(r) => r,
            Err(_) => (Err(anyhow::anyhow!("the planner panicked")), 0.0),
        };
        (planned, seconds, stored, waiting)
    });
    let planned = planned.context("selecting the files and writing the catalog")?;
    let stored = stored.context("writing the archive sets")?;
    for set in waiting {
        ready(set)?;
    }
    Ok(BackupSummary {
        catalog,
        plan_seconds,
        plan: planned,
        store: stored,
    })
}
