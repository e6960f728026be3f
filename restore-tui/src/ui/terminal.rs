//! The terminal while the UI runs: raw mode and the alternate screen, given back on
//! leaving, on a shell's turn, and on a panic.
//!
//! A serial console reports no size (0x0): the UI then draws on 80x24, the size of the VGA
//! console it is designed for.

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, size, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::io::{self, Stdout};
use std::sync::Once;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// The terminal, in the UI's hands until dropped.
pub struct Screen {
    pub term: Term,
}

fn take() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, Hide)
}

fn give_back() -> io::Result<()> {
    disable_raw_mode()?;
    execute!(io::stdout(), LeaveAlternateScreen, Show)
}

/// A panic prints its message on a usable terminal, then whatever hook was there runs.
fn restore_on_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = give_back();
            previous(info);
        }));
    });
}

impl Screen {
    pub fn enter() -> io::Result<Screen> {
        restore_on_panic();
        take()?;
        let viewport = match size() {
            Ok((w, h)) if w > 0 && h > 0 => Viewport::Fullscreen,
            _ => Viewport::Fixed(Rect::new(0, 0, 80, 24)),
        };
        let term = Terminal::with_options(
            CrosstermBackend::new(io::stdout()),
            TerminalOptions { viewport },
        );
        match term {
            Ok(term) => Ok(Screen { term }),
            Err(e) => {
                let _ = give_back();
                Err(e)
            }
        }
    }

    /// Gives the terminal back for a while (a shell).
    pub fn suspend(&mut self) -> io::Result<()> {
        give_back()
    }

    /// Takes it again and draws everything anew.
    pub fn resume(&mut self) -> io::Result<()> {
        take()?;
        self.term.clear()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        // Nothing more can be done about a terminal that cannot be reset.
        let _ = give_back();
    }
}
