//! What the rescue system says on the serial console during a rehearsal, read from the
//! log: the ready line, how the nuke and the verification finished, and the one-line JSON
//! report (`restore-tui: rehearsal-report {...}`) it prints before powering off.

use rescue_core::rehearsal::GuestReport;

pub const READY: &str = "restore-tui: ready";
pub const NUKE_FINISHED: &str = "restore-tui: nuke finished: ";
pub const VERIFY_FINISHED: &str = "restore-tui: verify finished: ";
/// `restore-tui: ` and rescue-core's `REPORT_TAG`.
pub const REPORT: &str = "restore-tui: rehearsal-report ";

/// `OK`, or `FAILED (why)`, as a line says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    Ok,
    Failed(String),
}

/// The line that starts with `prefix` (anywhere in it: the kernel may have written on the
/// same line first), with what follows the prefix.
fn line_after<'a>(log: &'a str, prefix: &str) -> Option<&'a str> {
    log.lines()
        .find_map(|l| l.find(prefix).map(|at| l[at + prefix.len()..].trim_end()))
}

/// How the step whose line starts with `prefix` finished, once it has.
pub fn finished(log: &str, prefix: &str) -> Option<Finished> {
    let rest = line_after(log, prefix)?;
    Some(if rest.starts_with("OK") {
        Finished::Ok
    } else {
        let why = rest.strip_prefix("FAILED").unwrap_or(rest).trim();
        let why = why
            .strip_prefix('(')
            .and_then(|w| w.strip_suffix(')'))
            .unwrap_or(why);
        Finished::Failed(why.to_string())
    })
}

/// The report line, read; an error says why it cannot be.
pub fn report(log: &str) -> Option<Result<GuestReport, String>> {
    let json = line_after(log, REPORT)?;
    Some(
        serde_json::from_str(json.trim())
            .map_err(|e| format!("the rescue system's report cannot be read ({e}): {json}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "[    1.2] Linux version 6.1\r\n\
        restore-tui: ready (media RESCUE_1A2B3C4D_1, mode nuke)\r\n\
        [   30.1] EXT4-fs (vda2): mounted filesystem\r\n\
        [   40.0] sd 0:0:0:0: x restore-tui: nuke finished: OK\r\n\
        restore-tui: verify finished: FAILED (2 differences from the backup)\r\n\
        restore-tui: rehearsal-report {\"version\":1,\"backup_id\":\"1A2B3C4D\",\
        \"restore\":{\"ok\":true,\"seconds\":12.5,\"files\":10,\"bytes\":2048,\"sets\":2,\
        \"problems\":[]},\"verify\":{\"ran\":true,\"ok\":false,\"seconds\":1.5,\"files\":10,\
        \"bytes\":2048,\"differences\":[\"CHANGED /etc/motd: content\"],\
        \"expected\":[\"/etc/fstab: rewritten by the restore\"],\"more_differences\":1}}\r\n\
        restore-tui: power off\r\n";

    #[test]
    fn the_lines_are_found_where_the_kernel_left_them() {
        assert!(line_after(LOG, READY).is_some());
        assert_eq!(finished(LOG, NUKE_FINISHED), Some(Finished::Ok));
        assert_eq!(
            finished(LOG, VERIFY_FINISHED),
            Some(Finished::Failed("2 differences from the backup".into()))
        );
        assert_eq!(finished("restore-tui: ready", NUKE_FINISHED), None);
    }

    #[test]
    fn the_report_line_is_the_one_restore_tui_writes() {
        let line = GuestReport::default().line().unwrap();
        assert!(format!("restore-tui: {line}").starts_with(REPORT));
    }

    #[test]
    fn the_report_is_read() {
        let r = report(LOG).unwrap().unwrap();
        assert_eq!(r.backup_id, "1A2B3C4D");
        assert!(r.restore.ok && r.verify.ran && !r.verify.ok);
        assert_eq!(
            (r.restore.files, r.restore.bytes, r.restore.sets),
            (10, 2048, 2)
        );
        assert_eq!(r.verify.differences, ["CHANGED /etc/motd: content"]);
        assert_eq!(r.verify.more_differences, 1);
        let broken = report("restore-tui: rehearsal-report {\"version\":").unwrap();
        assert!(broken.unwrap_err().contains("cannot be read"));
        assert!(report("nothing").is_none());
    }
}
