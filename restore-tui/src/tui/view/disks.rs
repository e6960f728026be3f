//! 2. Disks: each original disk beside the target it goes onto.

use super::{bold, cursor, error, fit, fit_right, good, warning, wrap, Chrome};
use crate::tui::app::{App, Fit};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rescue_core::mountlist::resize::ResizeMode;
use rescue_core::size::format_bytes;

fn fit_text(f: &Fit) -> (String, Style) {
    match f {
        Fit::NoTarget => ("not restored".into(), warning()),
        Fit::Same => ("same size".into(), good()),
        Fit::Grows(b) => (format!("{} larger", format_bytes(*b)), good()),
        Fit::Shrinks(b) => (format!("{} smaller, fits", format_bytes(*b)), warning()),
        Fit::No(_) => ("does not fit".into(), error()),
    }
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let d = &app.disks;
    let width = area.width as usize;
    let mut lines: Vec<Line> = vec![Line::from(Span::styled(
        format!(
            "   {} {} {}   {} {}    Fit",
            fit("Backup disk", 12),
            fit_right("Size", 6),
            fit("Table", 5),
            fit("Target", 12),
            fit_right("Size", 6),
        ),
        bold(),
    ))];
    for (i, disk) in app.original.disks.iter().enumerate() {
        let target = match d.mapping.get(i).copied().flatten() {
            Some(t) => {
                let t = &app.targets[t];
                format!(
                    "{} {}",
                    fit(&t.path, 12),
                    fit_right(&format_bytes(t.bytes), 6)
                )
            }
            None => fit("(not restored)", 19),
        };
        let (fit_note, style) = d.fit.get(i).map(fit_text).unwrap_or_default();
        let selected = i == d.selected;
        let row = format!(
            " {} {} {} {}  <{}>  ",
            if selected { ">" } else { " " },
            fit(&disk.path, 12),
            fit_right(&format_bytes(disk.size_bytes()), 6),
            fit(disk.table.name(), 5),
            target,
        );
        let row_style = if selected { cursor() } else { Style::new() };
        lines.push(Line::from(vec![
            Span::styled(row, row_style),
            Span::styled(fit_note, style),
        ]));
    }
    lines.push(Line::from(""));

    // The disk under the cursor, in detail.
    if let Some(disk) = app.original.disks.get(d.selected) {
        let mounts: Vec<&str> = disk
            .filesystem
            .iter()
            .chain(disk.partitions.iter().filter_map(|p| p.filesystem.as_ref()))
            .map(|f| match f.target_mount_point() {
                Some(m) => m,
                None => f.fs_type.as_str(),
            })
            .collect();
        let text = format!(
            "{}: {} {}, {}, {} partition(s): {}",
            disk.path,
            format_bytes(disk.size_bytes()),
            disk.table.name(),
            disk.model.as_deref().unwrap_or("model unknown"),
            disk.partitions.len(),
            if mounts.is_empty() {
                "-".to_string()
            } else {
                mounts.join(" ")
            }
        );
        for l in wrap(&text, width.saturating_sub(2)) {
            lines.push(Line::from(format!(" {l}")));
        }
        if let Some(Fit::No(why)) = d.fit.get(d.selected) {
            for l in wrap(why, width.saturating_sub(2)) {
                lines.push(Line::from(Span::styled(format!(" {l}"), error())));
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(" Disks found here", bold())));
    if app.targets.is_empty() {
        lines.push(Line::from(Span::styled(
            "   none: attach a disk and restart, or use the shell",
            error(),
        )));
    }
    for (t, target) in app.targets.iter().enumerate() {
        let from: Vec<&str> = d
            .mapping
            .iter()
            .enumerate()
            .filter(|(_, m)| **m == Some(t))
            .map(|(i, _)| app.original.disks[i].path.as_str())
            .collect();
        let disk = format!(
            "   {} {}  {}",
            fit(&target.path, 12),
            fit_right(&format_bytes(target.bytes), 6),
            fit(target.model.as_deref().unwrap_or("-"), 24),
        );
        match &target.refused {
            Some(why) => {
                lines.push(Line::from(disk));
                let text = format!("not offered: {why}");
                for l in wrap(&text, width.saturating_sub(8)) {
                    lines.push(Line::from(Span::styled(format!("       {l}"), warning())));
                }
            }
            None if from.is_empty() => lines.push(Line::from(disk)),
            None => lines.push(Line::from(format!("{disk} <- {}", from.join(", ")))),
        }
    }
    lines.push(Line::from(""));
    let other = match d.resize {
        ResizeMode::Proportional => "grow or shrink only the last",
        ResizeMode::GrowLast => "resize every partition by the same factor",
    };
    lines.push(Line::from(vec![
        Span::styled(" Resize  ", bold()),
        Span::raw(format!(
            "{} (r: {other})",
            match d.resize {
                ResizeMode::Proportional => "every partition by the same factor",
                ResizeMode::GrowLast => "only the last partition",
            }
        )),
    ]));
    frame.render_widget(Paragraph::new(lines), area);
    Chrome::new(
        "Up/Down disk  Left/Right target  r resize  Enter/c continue  Esc back",
        d.note.as_ref(),
    )
}
