//! Between the terminal UI's values and the engine's: a [`PlanRequest`] into the engine's
//! inputs, the engine's steps into [`PlanStep`]s for the Review screen, the plan cut in
//! two for the After screen, and the engine's events into progress. Pure: nothing here
//! touches a disk.

use crate::engine::fstab::{self, FstabChange};
use crate::engine::plan::{disk_holding, Choices, DiskMap, Phase, Plan, Step};
use crate::tui::{FstabEdit, PlanRequest, PlanStep};
use rescue_core::mountlist::Mountlist;
use std::path::Path;

/// The engine's inputs for a request: the layout under the original disk names (mapping
/// and fitting it again gives exactly what the user saw), the disk maps and the choices.
/// The boot loader steps are always planned: the After screen decides whether they run.
pub fn engine_inputs(req: &PlanRequest, root: &Path) -> (Mountlist, Vec<DiskMap>, Choices) {
    let ml = req.layout_by_original_names();
    let maps = req
        .maps
        .iter()
        .map(|m| DiskMap {
            from: m.from.clone(),
            to: m.to.clone(),
        })
        .collect();
    let choices = Choices {
        root: root.to_path_buf(),
        selection: req.selection.clone(),
        boot_loader: true,
        actions: req.actions.clone(),
        ..Choices::default()
    };
    (ml, maps, choices)
}

/// The disk whose contents a step destroys: the partition table written or erased, a
/// filesystem made or its signatures wiped (named by the disk that holds it, so that one
/// disk is one word to type).
fn destroys(step: &Step, layout: &Mountlist) -> Option<String> {
    match step {
        Step::WriteTable { disk, .. } => Some(disk.clone()),
        Step::Run {
            phase: Phase::Partition | Phase::Format,
            cmd,
        } => {
            let program = cmd.program.as_str();
            let destructive =
                program == "wipefs" || program.starts_with("mkfs") || program == "mkswap";
            if !destructive {
                return None;
            }
            cmd.args
                .iter()
                .rev()
                .find_map(|a| disk_holding(layout, &a.to_string_lossy()).map(|d| d.path.clone()))
        }
        _ => None,
    }
}

/// Every step of the plan in words, with the disk it destroys.
pub fn plan_steps(plan: &Plan) -> Vec<PlanStep> {
    let mut out: Vec<PlanStep> = plan
        .warnings
        .iter()
        .map(|w| PlanStep::new(format!("note: {w}")))
        .collect();
    out.extend(plan.steps.iter().map(|step| PlanStep {
        text: step.description(),
        details: step.details(),
        destroys: destroys(step, &plan.layout),
    }));
    out
}

/// Where the plan is cut: the steps up to and with the file restore run at once; the
/// rest (fstab, boot loader, log, unmounting) after the After screen.
pub fn restore_part(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .position(|s| s.phase() > Phase::Restore)
        .unwrap_or(plan.steps.len())
}

/// The fstab changes of the plan to propose on the After screen: those the restored fstab
/// references. `restored` is the text of the fstab the restore put where the plan
/// rewrites it (`None`: the restore put none there, so nothing is proposed). A change is
/// proposed when the captured fstab references its device (the engine's `referenced`) or
/// a line of the restored one names it: device renames of partitions the fstab knows by
/// `LABEL=`, `UUID=` or `PARTUUID=` are not.
pub fn proposed_fstab(plan: &Plan, restored: Option<&str>) -> Vec<FstabEdit> {
    let Some(text) = restored else {
        return Vec::new();
    };
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::RewriteFstab { changes, .. } => Some(changes),
            _ => None,
        })
        .flatten()
        .filter(|c| c.referenced || !fstab::rewrite(text, std::slice::from_ref(c)).1.is_empty())
        .map(|c| FstabEdit {
            old: c.old.clone(),
            new: c.new.clone(),
        })
        .collect()
}

/// The finishing steps as the user decided: fstab rewritten with `fstab` (the proposed
/// changes as edited), the boot loader steps kept only when asked for, then the log and
/// the unmounting.
pub fn finish_steps(plan: &Plan, fstab: &[FstabEdit], boot_loader: bool) -> Vec<Step> {
    let rest = &plan.steps[restore_part(plan)..];
    let changes: Vec<FstabChange> = fstab
        .iter()
        .filter(|e| e.old != e.new)
        .map(|e| FstabChange {
            old: e.old.clone(),
            new: e.new.clone(),
            referenced: true,
        })
        .collect();
    let fstab_path = plan.root.join("etc/fstab");
    let mut out = Vec::new();
    if !changes.is_empty() {
        out.push(Step::RewriteFstab {
            path: fstab_path,
            changes,
        });
    }
    for step in rest {
        match step {
            Step::RewriteFstab { .. } => {}
            Step::WriteLog { .. } => out.push(step.clone()),
            _ if step.phase() == Phase::Finish => {
                if boot_loader {
                    out.push(step.clone());
                }
            }
            _ => out.push(step.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::plan_with;
    use crate::tui::{fixtures, update, Command, Msg, StartChoice};

    /// The nuke of the fixtures' UEFI host onto /dev/vda, planned as the UI asks for it.
    fn nuke_plan() -> Plan {
        let mut app = fixtures::app();
        let Some(Command::BuildPlan(req)) = update(&mut app, Msg::Choose(StartChoice::Nuke)) else {
            panic!("nuke asks for a plan");
        };
        let (ml, maps, choices) = engine_inputs(&req, Path::new("/mnt/restore"));
        let mut n = 0;
        plan_with(&ml, &maps, req.resize, &choices, &mut || {
            n += 1;
            Ok(format!("{n:08}-0000-4000-8000-000000000000"))
        })
        .unwrap()
    }

    #[test]
    fn the_request_keeps_the_layout_the_user_saw() {
        let plan = nuke_plan();
        assert_eq!(plan.target_disks(), ["/dev/vda"]);
        let paths: Vec<&str> = plan.layout.disks[0]
            .partitions
            .iter()
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(paths, ["/dev/vda1", "/dev/vda2", "/dev/vda3", "/dev/vda4"]);
        assert!(plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::InstallBootLoader { .. })));
    }

    #[test]
    fn destructive_steps_name_their_disk_and_the_rest_nothing() {
        let plan = nuke_plan();
        let steps = plan_steps(&plan);
        let destroying: Vec<&str> = steps
            .iter()
            .filter(|s| s.destroys.is_some())
            .map(|s| s.text.as_str())
            .collect();
        assert!(destroying
            .iter()
            .any(|t| t.contains("wipefs") || t.contains("erase")));
        assert!(destroying.iter().any(|t| t.contains("GPT")));
        assert!(destroying.iter().any(|t| t.contains("ext4")));
        assert!(steps
            .iter()
            .filter_map(|s| s.destroys.as_deref())
            .all(|d| d == "/dev/vda"));
        for s in &steps {
            if s.text.starts_with("mount ") || s.text.starts_with("restore ") {
                assert_eq!(s.destroys, None, "{s:?}");
            }
        }
    }

    #[test]
    fn the_plan_is_cut_after_the_file_restore() {
        let plan = nuke_plan();
        let cut = restore_part(&plan);
        assert!(matches!(plan.steps[cut - 1], Step::RestoreFiles { .. }));
        assert!(plan.steps[cut..].iter().all(|s| s.phase() > Phase::Restore));
    }

    #[test]
    fn the_finish_follows_the_after_screen() {
        let plan = nuke_plan();
        let restored = "/dev/sda2 / ext4 defaults 0 1\n/dev/sda4 none swap sw 0 0\n";
        let proposed = proposed_fstab(&plan, Some(restored));
        assert_eq!(proposed.len(), 2, "{proposed:?}");

        let without = finish_steps(&plan, &proposed, false);
        assert!(!without
            .iter()
            .any(|s| matches!(s, Step::InstallBootLoader { .. })));
        assert!(!without.iter().any(|s| s.description().starts_with("bind ")));
        assert!(matches!(without[0], Step::RewriteFstab { .. }));
        assert!(without.iter().any(|s| matches!(s, Step::WriteLog { .. })));
        assert_eq!(
            without
                .last()
                .and_then(|s| s.command())
                .map(|c| c.program.as_str()),
            Some("sync")
        );

        let with = finish_steps(&plan, &proposed, true);
        assert!(with
            .iter()
            .any(|s| matches!(s, Step::InstallBootLoader { .. })));
        let unmounts = |steps: &[Step]| {
            steps
                .iter()
                .filter(|s| matches!(s, Step::Unmount { .. }))
                .count()
        };
        assert_eq!(unmounts(&with), unmounts(&without) + 3, "/dev, /proc, /sys");

        // An edited line replaces the proposal; an unchanged one is dropped.
        let edited = vec![
            FstabEdit {
                old: proposed[0].old.clone(),
                new: "LABEL=home".into(),
            },
            FstabEdit {
                old: "/dev/sdz9".into(),
                new: "/dev/sdz9".into(),
            },
        ];
        let Step::RewriteFstab { changes, path } = &finish_steps(&plan, &edited, false)[0] else {
            panic!("fstab is rewritten first");
        };
        assert_eq!(path, Path::new("/mnt/restore/etc/fstab"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].new, "LABEL=home");

        // Nothing to change: no fstab step at all.
        assert!(!finish_steps(&plan, &[], false)
            .iter()
            .any(|s| matches!(s, Step::RewriteFstab { .. })));
    }

    #[test]
    fn only_changes_the_restored_fstab_references_are_proposed() {
        let mut plan = nuke_plan();
        // The fixture's fstab knows every filesystem by UUID=: the plan renames the disk
        // and its partitions (/dev/sda2 -> /dev/vda2) in case a line names them.
        let by_uuid = "UUID=aaaaaaaa-0000-4000-8000-000000000002 / ext4 defaults 0 1\n\
                       # /dev/sda4 was swap\n";
        assert!(proposed_fstab(&plan, Some(by_uuid)).is_empty());
        // A line that names a renamed device: that rename alone.
        let with_swap = format!("{by_uuid}/dev/sda4 none swap sw 0 0\n");
        assert_eq!(
            proposed_fstab(&plan, Some(&with_swap)),
            [FstabEdit {
                old: "/dev/sda4".into(),
                new: "/dev/vda4".into(),
            }]
        );
        // No fstab restored (a selection without it, or put elsewhere): nothing.
        assert!(proposed_fstab(&plan, None).is_empty());
        // A change the captured fstab references (the engine knows): proposed.
        for step in &mut plan.steps {
            if let Step::RewriteFstab { changes, .. } = step {
                changes[2].referenced = true;
            }
        }
        let proposed = proposed_fstab(&plan, Some(by_uuid));
        assert_eq!(proposed.len(), 1);
        assert_eq!(proposed[0].old, "/dev/sda2");
        assert!(proposed_fstab(&plan, None).is_empty());
    }
}
