//! The rehearsal report: the one line `restore-tui: rehearsal-report {json}` that
//! `mkrescue rehearse` reads from the serial console before the rescue system powers off
//! (the types are rescue-core's, shared with the reader; docs/rehearsal.md describes them).

use super::nuke::NOT_EVERYTHING;
use crate::engine::nuke::NukeOutcome;
use crate::engine::verify::{Verification, SHOW};
use rescue_core::rehearsal::{GuestReport, RestoreResult, VerifyResult, REPORT_VERSION};

/// How a verification after the nuke went.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyRun {
    /// Not asked for, or the nuke did not finish OK.
    NotRun,
    /// The compare itself could not run (the "verify finished" line says why).
    Stopped {
        seconds: f64,
    },
    Done(Verification),
}

/// The report of a rehearsal's nuke (`nuke`: its outcome, or why it failed; `seconds`: how
/// long it took) and of the verification after it.
pub fn report(
    backup_id: &str,
    nuke: &Result<NukeOutcome, String>,
    seconds: f64,
    verify: &VerifyRun,
) -> GuestReport {
    GuestReport {
        version: REPORT_VERSION,
        backup_id: backup_id.to_string(),
        restore: restore_result(nuke, seconds),
        verify: verify_result(verify),
    }
}

fn restore_result(nuke: &Result<NukeOutcome, String>, seconds: f64) -> RestoreResult {
    let (outcome, why) = match nuke {
        Ok(o) => (Some(o), None),
        Err(why) => (None, Some(why.clone())),
    };
    let mut problems = outcome.map(NukeOutcome::problem_lines).unwrap_or_default();
    problems.extend(why);
    if problems.is_empty() && outcome.is_some_and(|o| o.code != 0) {
        problems.push(NOT_EVERYTHING.to_string());
    }
    let report = outcome.and_then(|o| o.restore.as_ref());
    RestoreResult {
        ok: outcome.is_some_and(|o| o.code == 0),
        seconds: tenths(seconds),
        files: report.map_or(0, |r| r.files),
        bytes: report.map_or(0, |r| r.bytes),
        sets: report.map_or(0, |r| r.sets),
        problems: capped(problems),
    }
}

fn verify_result(verify: &VerifyRun) -> VerifyResult {
    match verify {
        VerifyRun::NotRun => VerifyResult::default(),
        VerifyRun::Stopped { seconds } => VerifyResult {
            ran: true,
            seconds: tenths(*seconds),
            ..VerifyResult::default()
        },
        VerifyRun::Done(v) => {
            let named = v.differences.len().min(SHOW);
            VerifyResult {
                ran: true,
                ok: v.ok(),
                seconds: tenths(v.seconds),
                files: v.files,
                bytes: v.bytes,
                differences: v.differences[..named].to_vec(),
                expected: capped(v.expected.clone()),
                more_differences: v.difference_count() - named as u64,
            }
        }
    }
}

/// The first [`SHOW`] items, and a last one counting the rest.
fn capped(mut items: Vec<String>) -> Vec<String> {
    if items.len() > SHOW {
        let more = items.len() - SHOW;
        items.truncate(SHOW);
        items.push(format!("... and {more} more"));
    }
    items
}

/// Seconds to a tenth: `12.3`, not `12.345678`.
fn tenths(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::restore_files::RestoreReport;

    fn outcome() -> NukeOutcome {
        NukeOutcome {
            code: 0,
            backup_id: "1A2B3C4D".into(),
            restore: Some(RestoreReport {
                sets: 7,
                entries: 1300,
                files: 1234,
                bytes: 5_678_901,
                ..RestoreReport::default()
            }),
            problems: Vec::new(),
            restored: None,
        }
    }

    #[test]
    fn the_report_is_one_line_of_json_in_the_documented_order() {
        let verification = Verification {
            seconds: 3.44,
            entries: 1290,
            files: 1230,
            bytes: 5_678_000,
            expected: vec!["/etc/fstab: rewritten by the restore".into()],
            differences: vec!["CHANGED /etc/x: content (BLAKE3)".into()],
            unlisted: 2,
            ..Verification::default()
        };
        let report = report(
            "1A2B3C4D",
            &Ok(outcome()),
            12.34,
            &VerifyRun::Done(verification),
        );
        assert_eq!(
            report.line().unwrap(),
            "rehearsal-report {\"version\":1,\"backup_id\":\"1A2B3C4D\",\
             \"restore\":{\"ok\":true,\"seconds\":12.3,\"files\":1234,\"bytes\":5678901,\
             \"sets\":7,\"problems\":[]},\
             \"verify\":{\"ran\":true,\"ok\":false,\"seconds\":3.4,\"files\":1230,\
             \"bytes\":5678000,\"differences\":[\"CHANGED /etc/x: content (BLAKE3)\"],\
             \"expected\":[\"/etc/fstab: rewritten by the restore\"],\"more_differences\":2}}"
        );
    }

    #[test]
    fn a_failed_nuke_has_its_reason_and_no_verification() {
        let report = report("", &Err("no media found".into()), 0.04, &VerifyRun::NotRun);
        assert_eq!(
            report.line().unwrap(),
            "rehearsal-report {\"version\":1,\"backup_id\":\"\",\
             \"restore\":{\"ok\":false,\"seconds\":0.0,\"files\":0,\"bytes\":0,\"sets\":0,\
             \"problems\":[\"no media found\"]},\
             \"verify\":{\"ran\":false,\"ok\":false,\"seconds\":0.0,\"files\":0,\"bytes\":0,\
             \"differences\":[],\"expected\":[],\"more_differences\":0}}"
        );
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let mut o = outcome();
        o.code = 1;
        o.restore.as_mut().unwrap().failed = (0..60).map(|i| format!("f{i}")).collect();
        o.problems = vec!["the files were restored with problems".into()];
        let v = Verification {
            differences: (0..70).map(|i| format!("EXTRA /d{i}")).collect(),
            unlisted: 5,
            expected: (0..51).map(|i| format!("/boot/grub/m{i}: x")).collect(),
            ..Verification::default()
        };
        let r = report("X", &Ok(o), 1.0, &VerifyRun::Done(v));
        assert!(!r.restore.ok);
        assert_eq!(r.restore.problems.len(), SHOW + 1);
        assert_eq!(r.restore.problems[0], "not restored: f0");
        assert_eq!(r.restore.problems[SHOW], "... and 11 more");
        assert_eq!(r.verify.differences.len(), SHOW);
        assert_eq!(r.verify.more_differences, 20 + 5);
        assert_eq!(r.verify.expected.last().unwrap(), "... and 1 more");
        let stopped = report(
            "X",
            &Ok(outcome()),
            1.0,
            &VerifyRun::Stopped { seconds: 2.0 },
        );
        assert!(stopped.verify.ran && !stopped.verify.ok);
    }
}
