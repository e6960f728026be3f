//! 4. Files: the tree of the catalog, what is selected and how much it is.

use super::{bold, cursor, error, fit, fit_right, scroll_offset, text_field, Chrome};
use crate::tui::app::App;
use crate::tui::tree::{Node, NodeKind, Sel};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rescue_core::size::format_bytes;

/// The right-hand column: size, and for a directory what it holds.
const SIZE_WIDTH: usize = 22;

fn mark(sel: Sel) -> &'static str {
    match sel {
        Sel::All => "[x]",
        Sel::Part => "[-]",
        Sel::None => "[ ]",
    }
}

fn name(n: &Node) -> String {
    match &n.kind {
        NodeKind::Dir if n.path.is_empty() => "/".to_string(),
        NodeKind::Dir => format!("{}/", n.name()),
        NodeKind::Symlink { target } => {
            format!("{} -> {}", n.name(), String::from_utf8_lossy(target))
        }
        NodeKind::HardLink => format!("{} (hard link)", n.name()),
        NodeKind::Device => format!("{} (device)", n.name()),
        NodeKind::Fifo => format!("{} (fifo)", n.name()),
        NodeKind::File => n.name(),
    }
}

fn size(n: &Node) -> String {
    match n.kind {
        NodeKind::Dir => format!(
            "{} file{} {}",
            n.files,
            if n.files == 1 { "" } else { "s" },
            format_bytes(n.bytes)
        ),
        NodeKind::File => format_bytes(n.bytes),
        _ => String::new(),
    }
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let f = &app.files;
    let tree = &f.tree;
    let width = area.width as usize;
    let (files, bytes) = tree.selected_totals();
    let root = tree.root();
    let head = Line::from(vec![
        Span::styled(" Selected ", bold()),
        Span::raw(format!(
            "{files} of {} files, {} of {}",
            root.files,
            format_bytes(bytes),
            format_bytes(root.bytes)
        )),
    ]);
    let head_area = Rect {
        height: area.height.min(1),
        ..area
    };
    frame.render_widget(Paragraph::new(head), head_area);

    let search_height = u16::from(f.search.is_some());
    let list_area = Rect {
        y: head_area.bottom(),
        height: area.height.saturating_sub(1 + search_height),
        ..area
    };
    let rows = tree.rows();
    let height = list_area.height as usize;
    let offset = scroll_offset(f.selected, rows.len(), height);
    let name_width = width.saturating_sub(SIZE_WIDTH + 2);
    let mut lines: Vec<Line> = Vec::new();
    for (r, &i) in rows.iter().enumerate().skip(offset).take(height) {
        let n = tree.node(i);
        let expander = match (n.is_dir(), n.expanded) {
            (true, true) => "-",
            (true, false) => "+",
            _ => " ",
        };
        let left = format!(
            "{}{}{} {} {}",
            if r == f.selected { ">" } else { " " },
            "  ".repeat(n.depth),
            mark(n.sel),
            expander,
            name(n)
        );
        let text = format!(
            "{} {} ",
            fit(&left, name_width + 1),
            fit_right(&size(n), SIZE_WIDTH)
        );
        let style = if r == f.selected {
            cursor()
        } else if n.is_dir() {
            bold()
        } else {
            Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(Paragraph::new(lines), list_area);

    if let Some(search) = &f.search {
        let area = Rect {
            y: list_area.bottom(),
            height: 1,
            ..area
        };
        let mut spans = vec![Span::styled(" Search: /", bold())];
        let field = Rect {
            x: area.x + 10,
            width: area.width.saturating_sub(10),
            ..area
        };
        spans.extend(text_field(
            frame,
            search,
            field,
            width.saturating_sub(11).min(40),
            true,
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return Chrome::new("type a part of a path  Enter find  Esc cancel", None);
    }
    let mut chrome = Chrome::new(
        "Space select  Right/Left open/close  / search  n next  c continue  Esc back",
        f.note.as_ref(),
    );
    if chrome.status.is_none() {
        if let Some(p) = tree.problems.last() {
            chrome.status = Some(Line::from(Span::styled(format!(" {p}"), error())));
        }
    }
    chrome
}
