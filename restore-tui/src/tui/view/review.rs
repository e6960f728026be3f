//! 6. Review: every step of the plan in words; a typed word before anything is destroyed.

use super::{bold, error, text_field, wrap, Chrome};
use crate::tui::app::{App, Mode};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let r = &app.review;
    let width = area.width as usize;
    let back = if app.mode == Mode::Interactive {
        "Esc back"
    } else {
        "Esc back to the start"
    };
    if r.waiting {
        frame.render_widget(Paragraph::new(" Making the plan..."), area);
        return Chrome::new(back, r.note.as_ref());
    }
    let Some(steps) = &r.steps else {
        let mut lines = vec![Line::from(Span::styled(
            " No plan: nothing was written",
            error(),
        ))];
        for l in wrap(r.error.as_deref().unwrap_or("-"), width.saturating_sub(2)) {
            lines.push(Line::from(format!(" {l}")));
        }
        frame.render_widget(Paragraph::new(lines), area);
        return Chrome::new(back, r.note.as_ref());
    };

    let destroyed = r.destroyed();
    let title = if destroyed.is_empty() {
        format!(" The plan: {} steps; no disk is erased", steps.len())
    } else {
        format!(
            " The plan: {} steps; ERASES {}",
            steps.len(),
            destroyed.join(", ")
        )
    };
    let head = Line::from(Span::styled(
        title,
        if destroyed.is_empty() {
            bold()
        } else {
            error()
        },
    ));

    let word = r.confirm_word();
    let foot_height: u16 = if word.is_some() { 2 } else { 1 };
    let list_height = area.height.saturating_sub(1 + foot_height);
    let mut lines: Vec<Line> = Vec::new();
    let text_width = width.saturating_sub(7);
    let mut last_shown = r.scroll;
    for (i, step) in steps.iter().enumerate().skip(r.scroll) {
        if lines.len() >= list_height as usize {
            break;
        }
        last_shown = i + 1;
        let (mark, style) = match step.destroys {
            Some(_) => ("!", error()),
            None => (" ", Style::new()),
        };
        for (k, l) in wrap(&step.text, text_width).into_iter().enumerate() {
            let number = if k == 0 {
                format!("{:>3} {mark} ", i + 1)
            } else {
                "      ".to_string()
            };
            lines.push(Line::from(Span::styled(format!("{number}{l}"), style)));
        }
        for d in &step.details {
            lines.push(Line::from(format!("        {d}")));
        }
    }
    let head_area = Rect {
        height: area.height.min(1),
        ..area
    };
    let list_area = Rect {
        y: head_area.bottom(),
        height: list_height,
        ..area
    };
    let foot_area = Rect {
        y: list_area.bottom(),
        height: area.bottom().saturating_sub(list_area.bottom()),
        ..area
    };
    frame.render_widget(Paragraph::new(head), head_area);
    frame.render_widget(Paragraph::new(lines), list_area);

    let more = format!(
        " steps {}-{last_shown} of {} shown{}",
        (r.scroll + 1).min(last_shown),
        steps.len(),
        if steps.len() > last_shown || r.scroll > 0 {
            " (Up/Down/PgUp/PgDn scroll)"
        } else {
            ""
        }
    );
    match word {
        Some(word) => {
            let prompt = format!(" Type {word} and Enter to erase and start: ");
            let field_area = Rect {
                x: foot_area.x + prompt.chars().count() as u16,
                y: foot_area.y + 1,
                width: foot_area
                    .width
                    .saturating_sub(prompt.chars().count() as u16),
                height: foot_area.height.saturating_sub(1),
            };
            let mut spans = vec![Span::styled(prompt, error())];
            spans.extend(text_field(frame, &r.confirm, field_area, 16, true));
            frame.render_widget(
                Paragraph::new(vec![Line::from(more), Line::from(spans)]),
                foot_area,
            );
            Chrome::new(format!("type {word}  Enter start  {back}"), r.note.as_ref())
        }
        None => {
            frame.render_widget(Paragraph::new(more), foot_area);
            Chrome::new(
                format!("Up/Down scroll  Enter start  {back}"),
                r.note.as_ref(),
            )
        }
    }
}
