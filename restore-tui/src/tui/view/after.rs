//! 8. After: what was done, fstab changes (editable), boot loader, labels; reboot or shell.

use super::{bold, cursor, error, good, text_field, warning, wrap, Chrome};
use crate::tui::app::{App, Mode};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let a = &app.after;
    let width = area.width as usize;
    let compare = app.mode == Mode::Compare;
    let mut lines: Vec<Line> = Vec::new();
    let what = if compare { "Compare" } else { "Restore" };
    match &a.finished {
        Some(f) if f.ok => lines.push(Line::from(Span::styled(
            format!(" {what} finished"),
            good(),
        ))),
        Some(f) => lines.push(Line::from(Span::styled(
            format!(" {what} finished with {} problem(s)", f.problems.len()),
            error(),
        ))),
        None => lines.push(Line::from(Span::styled(format!(" {what}"), bold()))),
    }
    if let Some(f) = &a.finished {
        for s in &f.summary {
            lines.push(Line::from(format!("   {s}")));
        }
        // The problems, as many as the screen leaves room for.
        let room = if compare { 10 } else { 4 };
        for p in f.problems.iter().take(room) {
            lines.push(Line::from(Span::styled(format!("   ! {p}"), error())));
        }
        if f.problems.len() > room {
            lines.push(Line::from(Span::styled(
                format!(
                    "   ... and {} more (in the log of the restored system)",
                    f.problems.len() - room
                ),
                error(),
            )));
        }
    }
    if compare {
        frame.render_widget(Paragraph::new(lines), area);
        return Chrome::new("r reboot  p power off  s shell", a.note.as_ref());
    }

    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " /etc/fstab of the restored system: devices that change",
        bold(),
    )));
    if a.fstab.is_empty() {
        lines.push(Line::from(
            "   none: every line still names the right device",
        ));
    }
    for (i, change) in a.fstab.iter().enumerate() {
        let selected = i == a.selected;
        let old = format!(" {} {}", if selected { ">" } else { " " }, change.old);
        lines.push(if selected && a.editing.is_none() {
            Line::from(Span::styled(old, cursor()))
        } else {
            Line::from(old)
        });
        let lead = "       becomes ".to_string();
        match (&a.editing, selected) {
            (Some(input), true) => {
                let field = Rect {
                    x: area.x + lead.chars().count() as u16,
                    y: area.y + lines.len() as u16,
                    width: area.width.saturating_sub(lead.chars().count() as u16),
                    height: 1,
                };
                let mut spans = vec![Span::raw(lead.clone())];
                spans.extend(text_field(
                    frame,
                    input,
                    field,
                    width.saturating_sub(lead.chars().count() + 1),
                    true,
                ));
                lines.push(Line::from(spans));
            }
            _ => lines.push(Line::from(format!("{lead}{}", change.new))),
        }
    }
    lines.push(Line::from(""));
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
    for (k, l) in wrap(&labels, width.saturating_sub(15))
        .into_iter()
        .enumerate()
    {
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
