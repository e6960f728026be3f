//! `view`: the model drawn into a frame, one module per screen.
//!
//! Made for an 80x24 VGA console and serial terminals: ASCII only (no box drawing, no
//! block characters), the eight basic colors for emphasis and reverse video for the cursor
//! row and the bars, so it reads the same on a monochrome line. Smaller terminals get the
//! same screens clipped; the help line stays at the bottom.

mod after;
mod destination;
mod disks;
mod files;
mod layout;
mod progress;
mod review;
mod start;

use super::app::{App, Note, Screen};
use super::input::TextInput;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// Draws the current screen.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let help = Rect {
        y: area.bottom() - 1,
        height: 1,
        ..area
    };
    let mut body = Rect {
        height: area.height - 1,
        ..area
    };
    if body.height >= 3 {
        header(app, frame, Rect { height: 1, ..body });
        body.y += 1;
        body.height -= 1;
    }
    let status = if body.height >= 5 {
        body.height -= 1;
        Some(Rect {
            y: body.bottom(),
            height: 1,
            ..body
        })
    } else {
        None
    };
    let ctx = match app.screen {
        Screen::Start => start::render(app, frame, body),
        Screen::Disks => disks::render(app, frame, body),
        Screen::Layout => layout::render(app, frame, body),
        Screen::Files => files::render(app, frame, body),
        Screen::Destination => destination::render(app, frame, body),
        Screen::Review => review::render(app, frame, body),
        Screen::Progress => progress::render(app, frame, body),
        Screen::After => after::render(app, frame, body),
    };
    if let (Some(area), Some(line)) = (status, ctx.status) {
        frame.render_widget(Paragraph::new(line), area);
    }
    frame.render_widget(
        Paragraph::new(format!(" {}", ctx.help))
            .style(Style::new().add_modifier(Modifier::REVERSED)),
        help,
    );
}

/// What a screen leaves for the frame around it.
struct Chrome {
    help: String,
    status: Option<Line<'static>>,
}

impl Chrome {
    fn new(help: impl Into<String>, note: Option<&Note>) -> Chrome {
        Chrome {
            help: help.into(),
            status: note.map(note_line),
        }
    }
}

fn note_line(note: &Note) -> Line<'static> {
    if note.error {
        Line::from(Span::styled(format!(" {}", note.text), error()))
    } else {
        Line::from(format!(" {}", note.text))
    }
}

/// The top line: the steps of a restore, the current one marked.
fn header(app: &App, frame: &mut Frame, area: Rect) {
    let reversed = Style::new().add_modifier(Modifier::REVERSED);
    let mut spans = vec![Span::styled(
        "restore-tui",
        reversed.add_modifier(Modifier::BOLD),
    )];
    for s in Screen::ALL {
        let text = format!(" {}.{}", s.number(), s.title());
        spans.push(if s == app.screen {
            // Normal video on the reversed bar: visible on any terminal.
            Span::styled(text, Style::new().add_modifier(Modifier::BOLD))
        } else {
            Span::styled(text, reversed)
        });
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(reversed), area);
}

fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

fn warning() -> Style {
    Style::new().fg(Color::Yellow)
}

fn good() -> Style {
    Style::new().fg(Color::Green)
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn cursor() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// `s` in exactly `width` characters: padded, or cut with "~" marking the cut.
fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s}{}", " ".repeat(width - n))
    } else if width == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(width - 1).collect();
        out.push('~');
        out
    }
}

/// `s` right-aligned in `width` characters.
fn fit_right(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{}{s}", " ".repeat(width - n))
    } else {
        fit(s, width)
    }
}

/// The first row shown so that row `selected` of `len` is visible in `height` rows: the
/// cursor stays in the middle once the list is longer than the view.
fn scroll_offset(selected: usize, len: usize, height: usize) -> usize {
    if len <= height || height == 0 {
        0
    } else {
        selected.saturating_sub(height / 2).min(len - height)
    }
}

/// An ASCII bar: `[#####-----]` filling `width` characters in all.
fn bar(fraction: f64, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let filled = ((fraction.clamp(0.0, 1.0) * inner as f64).round() as usize).min(inner);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(inner - filled))
}

/// ASCII borders for the boxes drawn over a screen (forms).
const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// A box over `area` titled `title`; returns the inside.
fn boxed(frame: &mut Frame, area: Rect, title: &str) -> Rect {
    let block = Block::bordered()
        .border_set(ASCII_BORDER)
        .title(format!(" {title} "));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    inner
}

/// A text field of `width` characters: the part around the cursor, the cursor cell in
/// reverse video; the terminal's cursor is put there too.
fn text_field(
    frame: &mut Frame,
    input: &TextInput,
    area: Rect,
    width: usize,
    focused: bool,
) -> Vec<Span<'static>> {
    let chars: Vec<char> = input.value().chars().collect();
    let width = width.max(1);
    let at = input.cursor();
    let start = (at + 1).saturating_sub(width);
    let shown: String = chars.iter().skip(start).take(width).collect();
    if !focused {
        return vec![Span::raw(fit(&shown, width))];
    }
    let rel = at - start;
    let before: String = shown.chars().take(rel).collect();
    let under: String = shown.chars().nth(rel).map_or(" ".into(), String::from);
    let after: String = shown.chars().skip(rel + 1).collect();
    let pad = width.saturating_sub(shown.chars().count().max(rel + 1));
    let x = area.x.saturating_add(rel as u16);
    if x < area.right() && area.height > 0 && area.y < frame.area().bottom() {
        frame.set_cursor_position(Position::new(x, area.y));
    }
    vec![
        Span::raw(before),
        Span::styled(under, cursor()),
        Span::raw(format!("{after}{}", " ".repeat(pad))),
    ]
}

/// Text wrapped at word boundaries to `width` columns (long words are cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word = word.to_string();
            loop {
                let len = line.chars().count();
                let wlen = word.chars().count();
                let need = if len == 0 { wlen } else { len + 1 + wlen };
                if need <= width {
                    if len > 0 {
                        line.push(' ');
                    }
                    line.push_str(&word);
                    break;
                }
                if len > 0 {
                    lines.push(std::mem::take(&mut line));
                    continue;
                }
                // A word longer than the line.
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                lines.push(head);
                if word.is_empty() {
                    break;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// "1:02:03" or "2:03".
fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_pads_and_marks_cuts() {
        assert_eq!(fit("sda1", 6), "sda1  ");
        assert_eq!(fit("nvme0n1p1", 6), "nvme0~");
        assert_eq!(fit_right("20G", 5), "  20G");
        assert_eq!(fit("x", 0), "");
    }

    #[test]
    fn scrolling_keeps_the_cursor_in_view() {
        assert_eq!(scroll_offset(3, 5, 10), 0);
        assert_eq!(scroll_offset(3, 50, 10), 0);
        assert_eq!(scroll_offset(20, 50, 10), 15);
        assert_eq!(scroll_offset(49, 50, 10), 40);
    }

    #[test]
    fn bars_and_clocks() {
        assert_eq!(bar(0.5, 12), "[#####-----]");
        assert_eq!(bar(2.0, 4), "[##]");
        assert_eq!(bar(0.0, 1), "[]");
        assert_eq!(clock(67), "1:07");
        assert_eq!(clock(3723), "1:02:03");
    }

    #[test]
    fn wrap_breaks_at_words() {
        assert_eq!(
            wrap("the layout does not fit onto /dev/vdb", 16),
            ["the layout does", "not fit onto", "/dev/vdb"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }
}
