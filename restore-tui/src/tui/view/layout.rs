//! 3. Layout: the partitions to make, with their problems under them; the edit form.

use super::Chrome;
use super::{bold, boxed, cursor, error, fit, fit_right, scroll_offset, text_field, warning, wrap};
use crate::tui::app::{role_name, App, Field, LayoutState, PartForm, Row};
use crate::tui::msg::PartitionAction;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rescue_core::mountlist::validate::{Problem, Severity};
use rescue_core::size::format_bytes;

/// Column widths: device, size, type, filesystem, label, mount point, action.
const COLS: [usize; 7] = [10, 6, 16, 5, 9, 11, 13];

fn columns(cells: [&str; 7]) -> String {
    let mut s = String::new();
    for (i, (c, w)) in cells.iter().zip(COLS).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&if i == 1 { fit_right(c, w) } else { fit(c, w) });
    }
    s
}

fn problem_style(p: &Problem) -> Style {
    match p.severity {
        Severity::Error => error(),
        Severity::Warning => warning(),
    }
}

fn row_text(l: &LayoutState, row: Row) -> String {
    let ml = &l.mountlist;
    match row {
        Row::Disk(d) => {
            let disk = &ml.disks[d];
            format!(
                "{}  {}  {}{}",
                disk.path,
                format_bytes(disk.size_bytes()),
                disk.table.name(),
                disk.model
                    .as_deref()
                    .map(|m| format!("  {m}"))
                    .unwrap_or_default()
            )
        }
        Row::Whole(d) => {
            let disk = &ml.disks[d];
            let f = disk.filesystem.as_ref();
            let short = disk.path.strip_prefix("/dev/").unwrap_or(&disk.path);
            columns([
                short,
                &format_bytes(disk.size_bytes()),
                "whole disk",
                f.map_or("-", |f| f.fs_type.as_str()),
                f.and_then(|f| f.label.as_deref()).unwrap_or("-"),
                f.and_then(|f| f.target_mount_point()).unwrap_or("-"),
                l.action(&disk.path).label(),
            ])
        }
        Row::Part(d, i) => {
            let disk = &ml.disks[d];
            let p = &disk.partitions[i];
            let f = p.filesystem.as_ref();
            let short = p.path.strip_prefix("/dev/").unwrap_or(&p.path);
            let mount = match f {
                Some(f) if f.fs_type.as_str() == "swap" => "[swap]",
                Some(f) => f.target_mount_point().unwrap_or("-"),
                None => "-",
            };
            let action = if p.is_extended() {
                "(extended)"
            } else {
                l.action(&p.path).label()
            };
            columns([
                short,
                &format_bytes(p.size * u64::from(disk.logical_sector_size)),
                &p.type_name(),
                f.map_or("-", |f| f.fs_type.as_str()),
                f.and_then(|f| f.label.as_deref()).unwrap_or("-"),
                mount,
                action,
            ])
        }
    }
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let l = &app.layout;
    let width = area.width as usize;
    let errors = l
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = l.problems.len() - errors;

    let mut head: Vec<Line> = vec![Line::from(vec![
        Span::styled(" Layout to make", bold()),
        Span::raw(format!(" ({} boot", l.mountlist.boot.mode)),
        Span::raw(match &l.mountlist.boot.esp {
            Some(esp) => format!(", ESP {esp}): "),
            None => "): ".to_string(),
        }),
        if errors > 0 {
            Span::styled(format!("{errors} error(s)"), error())
        } else {
            Span::raw("no errors")
        },
        Span::raw(", "),
        if warnings > 0 {
            Span::styled(format!("{warnings} warning(s)"), warning())
        } else {
            Span::raw("no warnings")
        },
    ])];
    head.push(Line::from(Span::styled(
        format!(
            "    {}",
            columns(["Device", "Size", "Type", "FS", "Label", "Mount", "Action"])
        ),
        bold(),
    )));
    for p in l.general_problems() {
        head.push(Line::from(Span::styled(
            format!("   ! {}: {}", p.severity, p.message),
            problem_style(p),
        )));
    }

    // Rows, each followed by its problems; the cursor row is kept in view.
    let rows = l.rows();
    let mut lines: Vec<Line> = Vec::new();
    let mut cursor_line = 0;
    for (i, &row) in rows.iter().enumerate() {
        let selected = i == l.selected;
        if selected {
            cursor_line = lines.len();
        }
        let device = l.device(row);
        let untouched = device.is_some_and(|d| l.action(d) == PartitionAction::Untouched);
        let indent = if matches!(row, Row::Disk(_)) {
            " "
        } else {
            "   "
        };
        let text = format!(
            "{}{indent}{}",
            if selected { ">" } else { " " },
            row_text(l, row)
        );
        let style = match (selected, row, untouched) {
            (true, _, _) => cursor(),
            (false, Row::Disk(_), _) => bold(),
            (false, _, true) => warning(),
            _ => Style::new(),
        };
        lines.push(Line::from(Span::styled(text, style)));
        for p in l.problems_of(row) {
            lines.push(Line::from(Span::styled(
                format!("      ! {}", p.message),
                problem_style(p),
            )));
        }
    }

    // The form, when open, takes the bottom of the screen.
    let form_height = l.form.as_ref().map_or(0, |f| f.fields.len() as u16 + 4);
    let detail = selected_detail(l, width);
    let detail_height = if l.form.is_some() {
        0
    } else {
        (detail.len() as u16).min(3)
    };
    let list_height = area
        .height
        .saturating_sub(head.len() as u16 + form_height + detail_height);
    let head_area = Rect {
        height: (head.len() as u16).min(area.height),
        ..area
    };
    let list_area = Rect {
        y: head_area.bottom(),
        height: list_height,
        ..area
    };
    let offset = scroll_offset(cursor_line, lines.len(), list_height as usize);
    frame.render_widget(Paragraph::new(head), head_area);
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(offset).collect::<Vec<_>>()),
        list_area,
    );
    if detail_height > 0 {
        let detail_area = Rect {
            y: list_area.bottom(),
            height: detail_height.min(area.bottom().saturating_sub(list_area.bottom())),
            ..area
        };
        frame.render_widget(Paragraph::new(detail), detail_area);
    }
    if let Some(form) = &l.form {
        let form_area = Rect {
            y: list_area.bottom(),
            height: form_height.min(area.bottom().saturating_sub(list_area.bottom())),
            ..area
        };
        render_form(app, form, frame, form_area);
        return Chrome::new(
            if form.field().is_choice() {
                "Left/Right change  Up/Down/Tab field  Enter apply  Esc cancel"
            } else {
                "type  Up/Down/Tab field  Enter apply  Esc cancel"
            },
            None,
        );
    }
    Chrome::new(
        "Enter edit  n new  d delete/undo  a action  c continue  Esc back",
        l.note.as_ref(),
    )
}

/// The whole text of the first problem of the row under the cursor (rows cut them).
fn selected_detail(l: &LayoutState, width: usize) -> Vec<Line<'static>> {
    let Some(&row) = l.rows().get(l.selected) else {
        return Vec::new();
    };
    let Some(p) = l.problems_of(row).first().copied() else {
        return Vec::new();
    };
    let text = format!("{}: {}", p.place, p.message);
    wrap(&text, width.saturating_sub(2))
        .into_iter()
        .map(|s| Line::from(Span::styled(format!(" {s}"), problem_style(p))))
        .collect()
}

fn render_form(app: &App, form: &PartForm, frame: &mut Frame, area: Rect) {
    if area.height < 3 {
        return;
    }
    let inner = boxed(frame, area, &form.title(&app.layout.mountlist));
    let label_width = 13usize;
    let value_width = 24usize;
    let mut lines: Vec<Line> = Vec::new();
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let mut spans = vec![Span::styled(
            format!(" {} ", fit(field.name(), label_width - 2)),
            if focused { bold() } else { Style::new() },
        )];
        let row_area = Rect {
            x: inner.x + label_width as u16,
            y: inner.y + i as u16,
            width: inner.width.saturating_sub(label_width as u16),
            height: 1,
        };
        let hint = match field {
            Field::Size => "such as 8G, 512M, 50% or 2048s",
            Field::Fs => "Left/Right",
            Field::Label => "empty: none",
            Field::Mount => "/home; empty for swap",
            Field::Role => "Left/Right",
        };
        match field {
            Field::Size => spans.extend(text_field(
                frame,
                &form.size,
                row_area,
                value_width,
                focused,
            )),
            Field::Label => spans.extend(text_field(
                frame,
                &form.label,
                row_area,
                value_width,
                focused,
            )),
            Field::Mount => spans.extend(text_field(
                frame,
                &form.mount,
                row_area,
                value_width,
                focused,
            )),
            Field::Fs | Field::Role => {
                let value = if *field == Field::Fs {
                    form.fs.as_str()
                } else {
                    role_name(form.role)
                };
                let text = fit(&format!("< {value} >"), value_width);
                spans.push(if focused {
                    Span::styled(text, cursor())
                } else {
                    Span::raw(text)
                });
            }
        }
        spans.push(Span::raw(format!("  {hint}")));
        lines.push(Line::from(spans));
    }
    let fields_area = Rect {
        height: (lines.len() as u16).min(inner.height),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), fields_area);
    if let Some(e) = &form.error {
        let error_area = Rect {
            y: fields_area.bottom(),
            height: inner.bottom().saturating_sub(fields_area.bottom()),
            ..inner
        };
        let text: Vec<Line> = wrap(e, inner.width.saturating_sub(2) as usize)
            .into_iter()
            .map(|l| Line::from(Span::styled(format!(" {l}"), error())))
            .collect();
        frame.render_widget(Paragraph::new(text), error_area);
    }
}
