//! The disks the terminal UI offers as targets: the ones named (`--disk`), or every whole
//! disk the system has (not the media's). A disk the restore must not write to (mounted,
//! swap, holding the media or the backup) is still listed, with the reason, and never
//! offered.

use crate::engine::safety::{check_targets, SafetyError, SystemPaths};
use crate::init::blockdevs;
use crate::tui::TargetDiskInfo;
use anyhow::Context;
use rescue_core::blockdev;
use std::path::{Path, PathBuf};

/// `name` under /sys/class/block, trimmed, if it holds some text.
fn sys_attr(sys: &Path, name: &str, attr: &str) -> Option<String> {
    let text = std::fs::read_to_string(sys.join("class/block").join(name).join(attr)).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Why the restore may not write to `disk`, if it may not.
fn refusal(disk: &str, protected: &[PathBuf], paths: &SystemPaths) -> Option<String> {
    match check_targets(&[disk.to_string()], protected, paths) {
        Ok(()) => None,
        Err(SafetyError::Refused(refusals)) => Some(
            refusals
                .iter()
                .flat_map(|r| r.reasons.iter().cloned())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(e) => Some(format!("it cannot be checked: {e}")),
    }
}

/// The target disks: `named` (paths or kernel names), or every whole disk found when none
/// is named. `protected`: the media and volume paths.
pub fn find_targets(
    named: &[String],
    protected: &[PathBuf],
    paths: &SystemPaths,
) -> anyhow::Result<Vec<TargetDiskInfo>> {
    let names: Vec<String> = if named.is_empty() {
        blockdevs::list_disks(&paths.sys.join("class/block"), &[])
            .context("listing the disks")?
            .into_iter()
            .map(|d| d.name)
            .collect()
    } else {
        named
            .iter()
            .map(|n| n.strip_prefix("/dev/").unwrap_or(n).to_string())
            .collect()
    };
    let mut out = Vec::new();
    for name in names {
        let path = format!("/dev/{name}");
        let bytes = blockdev::size_bytes(&path, &paths.sys)
            .with_context(|| format!("the disk {path} was named as a target"))?;
        let sector_size =
            sys_attr(&paths.sys, &name, "queue/logical_block_size").and_then(|s| s.parse().ok());
        out.push(TargetDiskInfo {
            refused: refusal(&path, protected, paths),
            model: sys_attr(&paths.sys, &name, "device/model"),
            sector_size,
            bytes,
            path,
        });
    }
    Ok(out)
}
