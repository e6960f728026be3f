//! 7. Progress: bars, rate, time left, the current file, the log and the errors.

use super::{bar, bold, boxed, clock, error, fit, wrap, Chrome};
use crate::tui::app::{App, Mode};
use crate::tui::msg::VolumeRequest;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rescue_core::size::format_bytes;

fn percent(f: f64) -> String {
    format!("{:>3}%", (f.clamp(0.0, 1.0) * 100.0).floor() as u32)
}

/// A line of dashes with a title: "-- Log ------".
fn rule(title: &str, width: usize) -> Line<'static> {
    let head = format!(" {title} ");
    let rest = width.saturating_sub(head.chars().count() + 1);
    Line::from(Span::styled(format!("-{head}{}", "-".repeat(rest)), bold()))
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) -> Chrome {
    let p = &app.progress;
    let width = area.width as usize;
    let what = if app.mode == Mode::Compare {
        "Comparing the disks with the backup"
    } else {
        "Restoring"
    };
    let bar_width = width.saturating_sub(30).max(10);
    let mut lines: Vec<Line> = Vec::new();
    match &p.latest {
        None => {
            lines.push(Line::from(Span::styled(
                format!(" {what}: starting"),
                bold(),
            )));
            lines.extend([Line::from(""), Line::from(""), Line::from("")]);
        }
        Some(pr) => {
            lines.push(Line::from(vec![
                Span::styled(
                    format!(" {what}, step {} of {}: ", pr.step, pr.steps),
                    bold(),
                ),
                Span::raw(pr.step_text.clone()),
            ]));
            let overall = if pr.total_bytes > 0 {
                pr.done_bytes as f64 / pr.total_bytes as f64
            } else if pr.steps > 0 {
                pr.step.saturating_sub(1) as f64 / pr.steps as f64
            } else {
                0.0
            };
            let amount = if pr.total_bytes > 0 {
                format!(
                    "  {} of {}",
                    format_bytes(pr.done_bytes),
                    format_bytes(pr.total_bytes)
                )
            } else {
                String::new()
            };
            lines.push(Line::from(format!(
                " Overall {} {}{amount}",
                bar(overall, bar_width),
                percent(overall)
            )));
            lines.push(Line::from(if pr.step_total > 0 {
                let f = pr.step_done as f64 / pr.step_total as f64;
                format!(" Step    {} {}", bar(f, bar_width), percent(f))
            } else {
                " Step    working...".to_string()
            }));
            let secs = pr.elapsed.as_secs_f64();
            let rate = if secs > 0.5 {
                pr.done_bytes as f64 / secs
            } else {
                0.0
            };
            let left = if rate > 0.0 && pr.total_bytes > pr.done_bytes {
                clock(((pr.total_bytes - pr.done_bytes) as f64 / rate) as u64)
            } else {
                "-".to_string()
            };
            lines.push(Line::from(format!(
                " Rate    {}/s   elapsed {}   left about {left}",
                format_bytes(rate as u64),
                clock(pr.elapsed.as_secs())
            )));
        }
    }
    let file = p
        .latest
        .as_ref()
        .and_then(|pr| pr.file.clone())
        .unwrap_or_else(|| "-".to_string());
    lines.push(Line::from(format!(
        " File    {}",
        fit(&file, width.saturating_sub(10))
    )));

    // The rest: the log, and the errors below it when there are any.
    let head = lines.len() as u16;
    let rest = area.height.saturating_sub(head) as usize;
    let errors_height = if p.problems.is_empty() {
        0
    } else {
        (p.problems.len() + 1).min(rest / 3).max(2.min(rest))
    };
    let log_height = rest.saturating_sub(errors_height);
    lines.push(rule(
        &if p.log_back > 0 {
            format!("Log ({} lines back; End follows)", p.log_back)
        } else {
            "Log".to_string()
        },
        width,
    ));
    let shown = log_height.saturating_sub(1);
    let end = p.log.len().saturating_sub(p.log_back);
    let start = end.saturating_sub(shown);
    for l in &p.log[start..end] {
        lines.push(Line::from(format!(" {l}")));
    }
    for _ in (end - start)..shown {
        lines.push(Line::from(""));
    }
    if errors_height > 0 {
        let head = format!("- Errors ({}) ", p.problems.len());
        let dashes = "-".repeat(width.saturating_sub(head.chars().count()));
        lines.push(Line::from(Span::styled(format!("{head}{dashes}"), error())));
        let room = errors_height - 1;
        let first = p.problems.len().saturating_sub(room);
        for e in &p.problems[first..] {
            lines.push(Line::from(Span::styled(format!(" {e}"), error())));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
    if let Some(request) = &p.need_volume {
        volume_dialog(request, frame, area);
        return Chrome::new(
            "Enter look for the volume again  s skip its files (listed as not restored)",
            None,
        );
    }
    Chrome::new("Up/Down/PgUp/PgDn scroll the log  End follow it", None)
}

/// Asks for a volume: what it is, where it may be put, what was seen instead.
fn volume_dialog(r: &VolumeRequest, frame: &mut Frame, area: Rect) {
    let width = area.width.min(72);
    let text_width = width.saturating_sub(4) as usize;
    let mut text = vec![
        format!("The restore needs {} of backup {}.", r.name, r.backup_id),
        String::new(),
    ];
    let mut put = format!("Insert or attach the disc or stick labelled {}", r.label);
    if let Some(dir) = &r.dir {
        put.push_str(&format!(", or copy the volume into {dir}"));
    }
    put.push_str(", then press Enter.");
    text.push(put);
    if r.looked_again > 0 {
        text.push(String::new());
        let times = if r.looked_again == 1 {
            "once".to_string()
        } else {
            format!("{} times", r.looked_again)
        };
        text.push(format!("Not found (looked again {times})."));
        text.extend(r.seen.iter().map(|s| format!("Seen: {s}")));
    }
    text.push(String::new());
    text.push("s goes on without it: its files are listed as not restored.".into());
    let mut lines: Vec<Line> = Vec::new();
    for t in &text {
        if t.is_empty() {
            lines.push(Line::from(""));
        }
        lines.extend(wrap(t, text_width).into_iter().map(Line::from));
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let dialog = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let inner = boxed(frame, dialog, "A volume is needed");
    let inside = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), inside);
}
