//! 1. Start: what the backup is, and what to do with it.

use super::{bold, cursor, error, fit, wrap, Chrome};
use crate::init::manifest::format_utc;
use crate::tui::app::App;
use crate::tui::msg::StartChoice;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rescue_core::mountlist::render;
use rescue_core::size::format_bytes;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let m = &app.manifest;
    let ml = &app.original;
    let mut lines: Vec<Line> = Vec::new();
    let volumes = match m.volumes_known() {
        Some(n) => format!("volume {} of {n}", m.volume),
        None => format!("volume {}", m.volume),
    };
    let host = if m.hostname.is_empty() {
        "?"
    } else {
        &m.hostname
    };
    lines.push(Line::from(vec![
        Span::styled(" Backup  ", bold()),
        Span::raw(format!(
            "{} of {host}, made {}, {volumes}",
            m.backup_id,
            format_utc(m.created)
        )),
    ]));
    lines.push(Line::from(vec![
        Span::styled(" Kernel  ", bold()),
        Span::raw(format!(
            "{}, by mkrescue {}, sets {}",
            if m.kernel_release.is_empty() {
                "?"
            } else {
                &m.kernel_release
            },
            m.tool_version,
            m.compression
        )),
    ]));
    let root = app.files.tree.root();
    lines.push(Line::from(vec![
        Span::styled(" Data    ", bold()),
        Span::raw(format!(
            "{} files, {} in the catalog",
            root.files,
            format_bytes(root.bytes)
        )),
    ]));
    for p in &app.files.tree.problems {
        lines.push(Line::from(Span::styled(format!(" {p}"), error())));
    }
    let esp = ml
        .boot
        .esp
        .as_ref()
        .map(|e| format!(", ESP {e}"))
        .unwrap_or_default();
    lines.push(Line::from(vec![
        Span::styled(" Layout  ", bold()),
        Span::raw(format!("{} boot{esp}", ml.boot.mode)),
    ]));
    for l in render::compact(ml).lines() {
        lines.push(Line::from(format!("   {l}")));
    }
    let found: Vec<String> = app
        .targets
        .iter()
        .map(|t| {
            let model = t
                .model
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default();
            let refused = if t.refused.is_some() {
                " (not offered)"
            } else {
                ""
            };
            format!("{} {}{model}{refused}", t.path, format_bytes(t.bytes))
        })
        .collect();
    let found = if found.is_empty() {
        "no disk to restore onto was found".to_string()
    } else {
        found.join("; ")
    };
    let width = area.width as usize;
    for (k, l) in wrap(&found, width.saturating_sub(10))
        .into_iter()
        .enumerate()
    {
        lines.push(Line::from(vec![
            Span::styled(if k == 0 { " Here    " } else { "         " }, bold()),
            Span::raw(l),
        ]));
    }

    // The menu keeps its place at the bottom; the summary above it is cut when long.
    let menu_height = (StartChoice::ALL.len() as u16 + 1).min(area.height);
    let summary = Rect {
        height: area.height - menu_height,
        ..area
    };
    let menu_area = Rect {
        y: summary.bottom(),
        height: menu_height,
        ..area
    };
    frame.render_widget(Paragraph::new(lines), summary);

    let mut menu: Vec<Line> = vec![Line::from("")];
    for (i, c) in StartChoice::ALL.iter().enumerate() {
        let text = format!(
            " {} {}  {}  {}",
            if i == app.start.selected { ">" } else { " " },
            c.key(),
            fit(c.label(), 20),
            c.hint()
        );
        menu.push(if i == app.start.selected {
            Line::from(Span::styled(text, cursor()))
        } else {
            Line::from(text)
        });
    }
    frame.render_widget(Paragraph::new(menu), menu_area);
    Chrome::new(
        "Up/Down choose  Enter go  i n c s r p: straight to one  q leave",
        app.start.note.as_ref(),
    )
}
