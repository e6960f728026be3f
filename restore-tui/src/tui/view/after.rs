//! 8. After: what was done, fstab changes (editable), boot loader, labels; reboot or shell.
//!
//! The headline, the summary, the Boot loader and State rows (and the help line) always
//! show; the problems and the fstab changes get the rows that remain, each scrolling with
//! a line that says where it is when it is cut.

use super::{bold, cursor, error, good, scroll_offset, text_field, warning, wrap, Chrome};
use crate::tui::app::{App, Mode};
use crate::tui::msg::Finished;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Rows a list is given at least before the optional rows (blank lines, labels, the fstab
/// title) make way for it.
const LIST_MIN: usize = 3;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let a = &app.after;
    let width = area.width as usize;
    let height = area.height as usize;
    let compare = app.mode == Mode::Compare;
    let mut lines: Vec<Line> = vec![headline(a.finished.as_ref(), compare)];
    if let Some(f) = &a.finished {
        for s in &f.summary {
            for l in wrap(s, width.saturating_sub(3)) {
                lines.push(Line::from(format!("   {l}")));
            }
        }
    }
    let problems: &[String] = a.finished.as_ref().map_or(&[], |f| &f.problems);
    // Up/Down scroll the problems when there is no fstab change to move through.
    let keys = if a.fstab.is_empty() {
        "Up/Down/PgUp/PgDn"
    } else {
        "PgUp/PgDn"
    };

    if compare {
        let rows = height.saturating_sub(lines.len());
        let cut = push_problems(&mut lines, problems, a.problems_top, rows, keys);
        frame.render_widget(Paragraph::new(lines), area);
        let help = if cut {
            "Up/Down/PgUp/PgDn scroll  r reboot  p power off  s shell"
        } else {
            "r reboot  p power off  s shell"
        };
        return Chrome::new(help, a.note.as_ref());
    }

    let labels: Vec<String> = app
        .labels()
        .into_iter()
        .map(|(dev, label, fs)| format!("{dev} {label} ({fs})"))
        .collect();
    let labels = if labels.is_empty() {
        "none".to_string()
    } else {
        labels.join(", ")
    };
    let labels = wrap(&labels, width.saturating_sub(15));

    // The rows each part takes. The optional ones make way, in this order, when the two
    // lists would not get the rows they want, up to LIST_MIN each.
    let fstab_rows = if a.fstab.is_empty() {
        1
    } else {
        2 * a.fstab.len()
    };
    let mut gap_labels = true;
    let mut gap_fstab = true;
    let mut label_rows = labels.len();
    let mut title = true;
    let fixed = |gap_labels: bool, gap_fstab: bool, label_rows: usize, title: bool| {
        lines.len()
            + usize::from(gap_fstab)
            + usize::from(title)
            + usize::from(gap_labels)
            + label_rows
            + 2
    };
    let want = problems.len().min(LIST_MIN) + fstab_rows.min(LIST_MIN);
    while fixed(gap_labels, gap_fstab, label_rows, title) + want > height {
        if gap_labels {
            gap_labels = false;
        } else if gap_fstab {
            gap_fstab = false;
        } else if label_rows > 1 {
            label_rows = 1;
        } else if label_rows > 0 {
            label_rows = 0;
        } else if title {
            title = false;
        } else {
            break;
        }
    }
    let room = height.saturating_sub(fixed(gap_labels, gap_fstab, label_rows, title));
    let (mut problem_room, mut fstab_room) = share(room, problems.len(), fstab_rows);
    // A cut fstab list shows whole changes (two rows) and its position (one): a row
    // left over goes to the problems when they are cut too.
    if fstab_rows > fstab_room
        && fstab_room > 0
        && fstab_room % 2 == 0
        && problems.len() > problem_room
    {
        fstab_room -= 1;
        problem_room += 1;
    }

    push_problems(&mut lines, problems, a.problems_top, problem_room, keys);
    if gap_fstab {
        lines.push(Line::from(""));
    }
    if title {
        lines.push(Line::from(Span::styled(
            " /etc/fstab of the restored system: devices that change",
            bold(),
        )));
    }
    if a.fstab.is_empty() {
        if fstab_room > 0 {
            lines.push(Line::from(
                "   none: every line still names the right device",
            ));
        }
    } else {
        let n = a.fstab.len();
        // Two rows a change; a cut list keeps one row for where it is.
        let shown = if fstab_rows <= fstab_room {
            n
        } else {
            fstab_room.saturating_sub(1) / 2
        };
        let first = scroll_offset(a.selected, n, shown);
        for (i, change) in a.fstab.iter().enumerate().skip(first).take(shown) {
            let selected = i == a.selected;
            let old = format!(" {} {}", if selected { ">" } else { " " }, change.old);
            lines.push(if selected && a.editing.is_none() {
                Line::from(Span::styled(old, cursor()))
            } else {
                Line::from(old)
            });
            let lead = "       becomes ";
            let lead_width = lead.chars().count();
            match (&a.editing, selected) {
                (Some(input), true) => {
                    let y = area.y.saturating_add(lines.len() as u16);
                    let field = Rect {
                        x: area.x + lead_width as u16,
                        y,
                        width: area.width.saturating_sub(lead_width as u16),
                        height: u16::from(y < area.bottom()),
                    };
                    let mut spans = vec![Span::raw(lead)];
                    spans.extend(text_field(
                        frame,
                        input,
                        field,
                        width.saturating_sub(lead_width + 1),
                        true,
                    ));
                    lines.push(Line::from(spans));
                }
                _ => lines.push(Line::from(format!("{lead}{}", change.new))),
            }
        }
        if shown < n && fstab_room > 0 {
            lines.push(where_in("changes", first, shown, n, "Up/Down"));
        }
    }
    if gap_labels {
        lines.push(Line::from(""));
    }
    for (k, l) in labels.into_iter().take(label_rows).enumerate() {
        lines.push(Line::from(vec![
            Span::styled(
                if k == 0 {
                    " Labels       "
                } else {
                    "              "
                },
                bold(),
            ),
            Span::raw(l),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled(" Boot loader  ", bold()),
        Span::raw(format!(
            "{} reinstall GRUB for {} boot",
            if a.boot_loader { "[x]" } else { "[ ]" },
            app.layout.mountlist.boot.mode
        )),
    ]));
    let state = match (&a.applied, a.applying) {
        (_, true) => Span::styled("applying...", warning()),
        (Some(Ok(())), _) => Span::styled("applied: safe to reboot", good()),
        (Some(Err(e)), _) => Span::styled(format!("failed: {e}"), error()),
        (None, _) => Span::styled(
            "not applied yet (w: fstab, boot loader, unmount, flush)",
            warning(),
        ),
    };
    lines.push(Line::from(vec![
        Span::styled(" State        ", bold()),
        state,
    ]));
    frame.render_widget(Paragraph::new(lines), area);
    let help = if a.editing.is_some() {
        "type the new device  Enter done  Esc cancel"
    } else {
        "Enter edit  b boot loader  w apply  r reboot  p power off  s shell"
    };
    Chrome::new(help, a.note.as_ref())
}

/// The top line: how the run ended. A compare counts the files that differ (its problems
/// are the report's lines, headers and all); a restore its problems.
fn headline(finished: Option<&Finished>, compare: bool) -> Line<'static> {
    let what = if compare { "Compare" } else { "Restore" };
    let Some(f) = finished else {
        return Line::from(Span::styled(format!(" {what}"), bold()));
    };
    let problems = f.problems.len();
    let (text, style) = match f.differences {
        Some(n) if compare && n > 0 => (
            format!(
                " Compare finished: {n} difference{} from the backup",
                if n == 1 { "" } else { "s" }
            ),
            error(),
        ),
        Some(0) if compare && f.ok => (
            " Compare finished: no difference from the backup".to_string(),
            good(),
        ),
        Some(0) if compare => (
            format!(" Compare finished with {problems} problem(s): no difference from the backup"),
            error(),
        ),
        _ if f.ok => (format!(" {what} finished"), good()),
        _ => (
            format!(" {what} finished with {problems} problem(s)"),
            error(),
        ),
    };
    Line::from(Span::styled(text, style))
}

/// The problems from line `top` on, in `rows` rows: all of them when they fit; else as
/// many as fit and a line that says where the view is (`keys` scroll it). Says whether
/// the list is cut.
fn push_problems(
    lines: &mut Vec<Line<'static>>,
    problems: &[String],
    top: usize,
    rows: usize,
    keys: &str,
) -> bool {
    let len = problems.len();
    let line = |p: &String| Line::from(Span::styled(format!("   ! {p}"), error()));
    if len <= rows {
        lines.extend(problems.iter().map(line));
        return false;
    }
    if rows == 0 {
        return true;
    }
    let shown = rows - 1;
    let top = top.min(len - 1);
    let end = (top + shown).min(len);
    lines.extend(problems[top..end].iter().map(line));
    // The rows below stay where they are while the list scrolls.
    lines.extend(std::iter::repeat_n(Line::from(""), shown - (end - top)));
    lines.push(where_in("lines", top, end - top, len, keys));
    true
}

/// "(lines 11-20 of 45: 25 more below, 10 above; PgUp/PgDn)": `shown` items from
/// `first` (0-based) of `len` are on the screen.
fn where_in(what: &str, first: usize, shown: usize, len: usize, keys: &str) -> Line<'static> {
    let below = len.saturating_sub(first + shown);
    let mut rest = Vec::new();
    if below > 0 {
        rest.push(format!("{below} more below"));
    }
    if first > 0 {
        rest.push(format!("{first} above"));
    }
    let text = if shown == 0 {
        format!("   ({len} {what}: no room to show them)")
    } else {
        format!(
            "   ({what} {}-{} of {len}: {}; {keys})",
            first + 1,
            first + shown,
            rest.join(", ")
        )
    };
    Line::from(Span::styled(text, warning()))
}

/// `room` rows for two lists that want `a` and `b`: each what it wants when both fit,
/// else half each, a list that needs less giving the rest to the other.
fn share(room: usize, a: usize, b: usize) -> (usize, usize) {
    if a + b <= room {
        return (a, b);
    }
    let half = room / 2;
    if a <= half {
        (a, room - a)
    } else if b <= room - half {
        (room - b, b)
    } else {
        (half, room - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lists_share_the_rows() {
        assert_eq!(share(10, 3, 4), (3, 4));
        assert_eq!(share(10, 2, 12), (2, 8));
        assert_eq!(share(10, 30, 1), (9, 1));
        assert_eq!(share(10, 30, 12), (5, 5));
        assert_eq!(share(0, 3, 1), (0, 0));
    }

    #[test]
    fn a_cut_list_says_where_it_is() {
        let text = |l: Line<'_>| l.to_string();
        assert_eq!(
            text(where_in("lines", 0, 10, 45, "PgUp/PgDn")),
            "   (lines 1-10 of 45: 35 more below; PgUp/PgDn)"
        );
        assert_eq!(
            text(where_in("changes", 2, 3, 6, "Up/Down")),
            "   (changes 3-5 of 6: 1 more below, 2 above; Up/Down)"
        );
        assert_eq!(
            text(where_in("lines", 40, 5, 45, "PgUp/PgDn")),
            "   (lines 41-45 of 45: 40 above; PgUp/PgDn)"
        );
    }

    fn finished(ok: bool, problems: usize, differences: Option<u64>) -> Finished {
        Finished {
            ok,
            problems: vec!["x".into(); problems],
            differences,
            ..Finished::default()
        }
    }

    #[test]
    fn a_compare_counts_differences_and_a_restore_problems() {
        let text = |f: Finished, compare| headline(Some(&f), compare).to_string();
        // One changed file: its section header, the file, the verdict.
        assert_eq!(
            text(finished(false, 3, Some(1)), true),
            " Compare finished: 1 difference from the backup"
        );
        assert_eq!(
            text(finished(false, 9, Some(4)), true),
            " Compare finished: 4 differences from the backup"
        );
        assert_eq!(
            text(finished(true, 0, Some(0)), true),
            " Compare finished: no difference from the backup"
        );
        assert_eq!(
            text(finished(false, 1, Some(0)), true),
            " Compare finished with 1 problem(s): no difference from the backup"
        );
        assert_eq!(
            text(finished(false, 1, None), true),
            " Compare finished with 1 problem(s)"
        );
        assert_eq!(
            text(finished(false, 3, None), false),
            " Restore finished with 3 problem(s)"
        );
        assert_eq!(text(finished(true, 0, None), false), " Restore finished");
        assert_eq!(headline(None, false).to_string(), " Restore");
    }
}
