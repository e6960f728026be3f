//! Keys into messages: what a key means depends on the screen, and on whether a text field
//! has the keyboard (then letters are typed, not commands).
//!
//! Only plain keys are used (letters, arrows, Enter, Esc, Space, Tab, Backspace): they come
//! through the same on a VGA console and over a serial line. Function keys are not needed.

use super::app::{App, Screen};
use super::input::TextEdit;
use super::msg::{Move, Msg, StartChoice};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The message a key press means on the current screen, if any.
pub fn key_to_msg(app: &App, key: KeyEvent) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if app.typing() {
        return typing(app, key.code, ctrl);
    }
    if ctrl {
        return None;
    }
    if let Some(m) = movement(key.code) {
        return Some(Msg::Move(m));
    }
    match key.code {
        KeyCode::Esc => return Some(Msg::Back),
        KeyCode::Enter => return Some(Msg::Activate),
        _ => {}
    }
    match app.screen {
        Screen::Start => start(key.code),
        Screen::Disks => match key.code {
            KeyCode::Left | KeyCode::Char('h') => Some(Msg::Cycle(-1)),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => Some(Msg::Cycle(1)),
            KeyCode::Char('r') => Some(Msg::ToggleResizeMode),
            KeyCode::Char('c') | KeyCode::Tab => Some(Msg::Next),
            _ => None,
        },
        Screen::Layout if app.layout.form.is_some() => match key.code {
            // A choice field has the focus (text fields are typed into).
            KeyCode::Left | KeyCode::Char('h') => Some(Msg::Cycle(-1)),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => Some(Msg::Cycle(1)),
            KeyCode::Tab => Some(Msg::Move(Move::Down)),
            KeyCode::BackTab => Some(Msg::Move(Move::Up)),
            _ => None,
        },
        Screen::Layout => match key.code {
            KeyCode::Char('e') => Some(Msg::Edit),
            KeyCode::Char('n') | KeyCode::Char('+') => Some(Msg::Add),
            KeyCode::Char('d') | KeyCode::Delete => Some(Msg::Delete),
            KeyCode::Char('a') | KeyCode::Char(' ') => Some(Msg::CycleAction),
            KeyCode::Char('c') | KeyCode::Tab => Some(Msg::Next),
            _ => None,
        },
        Screen::Files => match key.code {
            KeyCode::Char(' ') => Some(Msg::Toggle),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('+') => Some(Msg::Expand),
            KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('-') => Some(Msg::Collapse),
            KeyCode::Char('/') => Some(Msg::Search),
            KeyCode::Char('n') => Some(Msg::NextMatch),
            KeyCode::Char('c') | KeyCode::Tab => Some(Msg::Next),
            _ => None,
        },
        Screen::Destination => match key.code {
            KeyCode::Char(' ') => Some(Msg::Toggle),
            KeyCode::Char('a') | KeyCode::Char('+') => Some(Msg::Add),
            KeyCode::Char('d') | KeyCode::Delete => Some(Msg::Delete),
            KeyCode::Char('c') | KeyCode::Tab => Some(Msg::Next),
            _ => None,
        },
        Screen::Progress if app.progress.need_volume.is_some() => match key.code {
            KeyCode::Char('s') | KeyCode::Char('S') => Some(Msg::SkipVolume),
            _ => None,
        },
        Screen::Review | Screen::Progress => None,
        Screen::After => match key.code {
            KeyCode::Char('e') => Some(Msg::Edit),
            KeyCode::Char('b') => Some(Msg::ToggleBootLoader),
            KeyCode::Char('w') => Some(Msg::Apply),
            KeyCode::Char('r') => Some(Msg::Reboot),
            KeyCode::Char('p') => Some(Msg::PowerOff),
            KeyCode::Char('s') => Some(Msg::Shell),
            _ => None,
        },
    }
}

fn movement(code: KeyCode) -> Option<Move> {
    Some(match code {
        KeyCode::Up | KeyCode::Char('k') => Move::Up,
        KeyCode::Down | KeyCode::Char('j') => Move::Down,
        KeyCode::PageUp => Move::PageUp,
        KeyCode::PageDown => Move::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Move::Home,
        KeyCode::End | KeyCode::Char('G') => Move::End,
        _ => return None,
    })
}

fn start(code: KeyCode) -> Option<Msg> {
    let KeyCode::Char(c) = code else {
        return None;
    };
    if c == 'q' {
        return Some(Msg::Quit);
    }
    StartChoice::ALL
        .into_iter()
        .find(|s| s.key() == c)
        .map(Msg::Choose)
}

/// A text field has the keyboard: characters are typed; Enter submits, Esc cancels.
fn typing(app: &App, code: KeyCode, ctrl: bool) -> Option<Msg> {
    if ctrl {
        return match code {
            KeyCode::Char('u') => Some(Msg::Text(TextEdit::Clear)),
            KeyCode::Char('h') => Some(Msg::Text(TextEdit::Backspace)),
            KeyCode::Char('a') => Some(Msg::Text(TextEdit::Home)),
            KeyCode::Char('e') => Some(Msg::Text(TextEdit::End)),
            _ => None,
        };
    }
    let in_form = app.screen == Screen::Layout;
    let scrolls = app.screen == Screen::Review;
    Some(match code {
        KeyCode::Char(c) => Msg::Text(TextEdit::Insert(c)),
        KeyCode::Backspace => Msg::Text(TextEdit::Backspace),
        KeyCode::Delete => Msg::Text(TextEdit::Delete),
        KeyCode::Left => Msg::Text(TextEdit::Left),
        KeyCode::Right => Msg::Text(TextEdit::Right),
        KeyCode::Home => Msg::Text(TextEdit::Home),
        KeyCode::End => Msg::Text(TextEdit::End),
        KeyCode::Enter => Msg::Activate,
        KeyCode::Esc => Msg::Back,
        // In the partition form, Up/Down/Tab go from field to field.
        KeyCode::Tab | KeyCode::Down if in_form => Msg::Move(Move::Down),
        KeyCode::BackTab | KeyCode::Up if in_form => Msg::Move(Move::Up),
        // On Review the plan scrolls while the confirmation is typed.
        KeyCode::Up if scrolls => Msg::Move(Move::Up),
        KeyCode::Down if scrolls => Msg::Move(Move::Down),
        KeyCode::PageUp if scrolls => Msg::Move(Move::PageUp),
        KeyCode::PageDown if scrolls => Msg::Move(Move::PageDown),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures;
    use crate::tui::msg::PlanStep;
    use crate::tui::update::update;

    fn press(app: &App, code: KeyCode) -> Option<Msg> {
        key_to_msg(app, KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn releases_are_ignored_and_start_has_its_letters() {
        let app = fixtures::app();
        let mut release = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(key_to_msg(&app, release), None);
        assert_eq!(
            press(&app, KeyCode::Char('n')),
            Some(Msg::Choose(StartChoice::Nuke))
        );
        assert_eq!(press(&app, KeyCode::Char('q')), Some(Msg::Quit));
        assert_eq!(press(&app, KeyCode::Char('j')), Some(Msg::Move(Move::Down)));
        assert_eq!(press(&app, KeyCode::Char('x')), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(key_to_msg(&app, ctrl_c), None);
    }

    #[test]
    fn the_same_key_means_what_the_screen_says() {
        let mut app = fixtures::app();
        app.screen = Screen::Files;
        assert_eq!(press(&app, KeyCode::Char(' ')), Some(Msg::Toggle));
        assert_eq!(press(&app, KeyCode::Right), Some(Msg::Expand));
        assert_eq!(press(&app, KeyCode::Char('n')), Some(Msg::NextMatch));
        app.screen = Screen::Disks;
        assert_eq!(press(&app, KeyCode::Right), Some(Msg::Cycle(1)));
        assert_eq!(press(&app, KeyCode::Char('c')), Some(Msg::Next));
        app.screen = Screen::Layout;
        assert_eq!(press(&app, KeyCode::Char('n')), Some(Msg::Add));
        assert_eq!(press(&app, KeyCode::Char('a')), Some(Msg::CycleAction));
        app.screen = Screen::After;
        assert_eq!(press(&app, KeyCode::Char('w')), Some(Msg::Apply));
        assert_eq!(press(&app, KeyCode::Char('r')), Some(Msg::Reboot));
    }

    #[test]
    fn a_text_field_takes_the_letters() {
        let mut app = fixtures::app();
        app.screen = Screen::Files;
        update(&mut app, Msg::Search);
        assert!(app.typing());
        assert_eq!(
            press(&app, KeyCode::Char('n')),
            Some(Msg::Text(TextEdit::Insert('n')))
        );
        assert_eq!(press(&app, KeyCode::Left), Some(Msg::Text(TextEdit::Left)));
        assert_eq!(press(&app, KeyCode::Enter), Some(Msg::Activate));
        assert_eq!(press(&app, KeyCode::Esc), Some(Msg::Back));
        let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(key_to_msg(&app, ctrl_u), Some(Msg::Text(TextEdit::Clear)));
    }

    #[test]
    fn the_partition_form_moves_between_fields_and_cycles_choices() {
        let mut app = fixtures::app();
        update(&mut app, Msg::Choose(StartChoice::Interactive));
        update(&mut app, Msg::Next);
        update(&mut app, Msg::Move(Move::Down));
        update(&mut app, Msg::Edit);
        assert_eq!(
            press(&app, KeyCode::Char('h')),
            Some(Msg::Text(TextEdit::Insert('h')))
        );
        assert_eq!(press(&app, KeyCode::Tab), Some(Msg::Move(Move::Down)));
        assert_eq!(press(&app, KeyCode::Up), Some(Msg::Move(Move::Up)));
        update(&mut app, Msg::Move(Move::Down));
        assert_eq!(press(&app, KeyCode::Left), Some(Msg::Cycle(-1)));
        assert_eq!(press(&app, KeyCode::Char(' ')), Some(Msg::Cycle(1)));
    }

    #[test]
    fn review_types_the_word_and_still_scrolls() {
        let mut app = fixtures::app();
        update(&mut app, Msg::Choose(StartChoice::Nuke));
        update(
            &mut app,
            Msg::PlanBuilt(vec![PlanStep::destroying("write a GPT", "/dev/vda")]),
        );
        assert_eq!(
            press(&app, KeyCode::Char('j')),
            Some(Msg::Text(TextEdit::Insert('j')))
        );
        assert_eq!(press(&app, KeyCode::Down), Some(Msg::Move(Move::Down)));
        assert_eq!(press(&app, KeyCode::PageUp), Some(Msg::Move(Move::PageUp)));
    }
}
