//! 5. Destination: the original places, under a prefix, or renamed.

use super::{bold, cursor, text_field, Chrome};
use crate::tui::app::{App, DestChoice, DestEdit};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let d = &app.dest;
    let paths = app.files.tree.selection().unwrap_or_default();
    let shown: Vec<String> = paths
        .iter()
        .take(4)
        .map(|p| format!("/{}", String::from_utf8_lossy(p)))
        .collect();
    let what = if paths.is_empty() {
        "everything".to_string()
    } else if paths.len() > shown.len() {
        format!(
            "{} and {} more",
            shown.join(", "),
            paths.len() - shown.len()
        )
    } else {
        shown.join(", ")
    };
    // An example of where a selected path lands.
    let example = paths.first().map_or("/etc".to_string(), |p| {
        format!("/{}", String::from_utf8_lossy(p))
    });

    let mut lines: Vec<Line> = vec![
        Line::from(vec![Span::styled(" Restoring ", bold()), Span::raw(what)]),
        Line::from(""),
        Line::from(Span::styled(" Where do the files go?", bold())),
    ];
    let radio = |c: DestChoice| if d.choice == c { "(*)" } else { "( )" };
    let marker = |i: usize| if d.focus == i { ">" } else { " " };
    let style = |i: usize| {
        if d.focus == i && d.editing.is_none() {
            cursor()
        } else {
            Style::new()
        }
    };
    let first_row = lines.len() as u16;

    lines.push(Line::from(Span::styled(
        format!(
            " {} {} The original places      {example} stays {example}",
            marker(0),
            radio(DestChoice::Original)
        ),
        style(0),
    )));

    // The prefix row, with its field.
    let prefix_row = area.y + first_row + 1;
    let label = format!(
        " {} {} Under a prefix:          ",
        marker(1),
        radio(DestChoice::Prefix)
    );
    let editing_prefix = matches!(d.editing, Some((DestEdit::Prefix, _)));
    let mut spans = vec![Span::styled(label.clone(), style(1))];
    let field_area = Rect {
        x: area.x + label.chars().count() as u16,
        y: prefix_row,
        width: area.width.saturating_sub(label.chars().count() as u16),
        height: 1,
    };
    match &d.editing {
        Some((DestEdit::Prefix, input)) => {
            spans.extend(text_field(frame, input, field_area, 30, true));
        }
        _ => spans.push(Span::styled(d.prefix.value().to_string(), style(1))),
    }
    if !editing_prefix {
        let prefix = d.prefix.value().trim_end_matches('/');
        spans.push(Span::raw(format!("  {example} goes to {prefix}{example}")));
    }
    lines.push(Line::from(spans));

    lines.push(Line::from(Span::styled(
        format!(
            " {} {} Renamed (OLD=NEW):       {}",
            marker(2),
            radio(DestChoice::Rename),
            if d.renames.is_empty() {
                "none yet: a adds one"
            } else {
                ""
            }
        ),
        style(2),
    )));
    for (i, r) in d.renames.iter().enumerate() {
        let row = 3 + i;
        match &d.editing {
            Some((DestEdit::Rename(Some(at)), input)) if *at == i => {
                let label = format!(" {}       ", marker(row));
                let field_area = Rect {
                    x: area.x + label.len() as u16,
                    y: area.y + lines.len() as u16,
                    width: area.width.saturating_sub(label.len() as u16),
                    height: 1,
                };
                let mut spans = vec![Span::raw(label)];
                spans.extend(text_field(frame, input, field_area, 50, true));
                lines.push(Line::from(spans));
            }
            _ => lines.push(Line::from(Span::styled(
                format!(" {}       {r}", marker(row)),
                style(row),
            ))),
        }
    }
    if let Some((DestEdit::Rename(None), input)) = &d.editing {
        let label = "         new: ";
        let field_area = Rect {
            x: area.x + label.len() as u16,
            y: area.y + lines.len() as u16,
            width: area.width.saturating_sub(label.len() as u16),
            height: 1,
        };
        let mut spans = vec![Span::styled(label, bold())];
        spans.extend(text_field(frame, input, field_area, 50, true));
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        " Paths are those of the restored system: /mnt/x puts /home at /mnt/x/home;",
    ));
    lines.push(Line::from(
        " /home=/tmp/home puts /home/ann at /tmp/home/ann. Nothing lands outside it.",
    ));
    frame.render_widget(Paragraph::new(lines), area);
    let help = if d.editing.is_some() {
        "type  Enter done  Esc cancel"
    } else {
        "Up/Down  Enter choose/edit  a add rename  d delete  c continue  Esc back"
    };
    Chrome::new(help, d.note.as_ref())
}
