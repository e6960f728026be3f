//! A program run in a real terminal: a tmux session of 80x24, driven by keys and read
//! back screen by screen (the terminal UI's tests).

use crate::run;
use std::process::Command;
use std::time::{Duration, Instant};

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A tmux session running one command in an 80x24 window; killed on drop.
#[derive(Debug)]
pub struct Tmux {
    name: String,
}

impl Tmux {
    pub fn start(name: &str, command_line: &str) -> Tmux {
        // A session of an earlier, killed run would be in the way.
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", name])
            .output();
        run(Command::new("tmux")
            .args(["new-session", "-d", "-x", "80", "-y", "24", "-s", name])
            .arg(command_line)
            .env("TERM", "xterm")
            .env("PATH", PATH)
            .env("LC_ALL", "C"));
        // The pane stays after the command ends, so its last screen can be read.
        run(Command::new("tmux").args(["set-option", "-t", name, "remain-on-exit", "on"]));
        Tmux {
            name: name.to_string(),
        }
    }

    pub fn screen(&self) -> String {
        run(Command::new("tmux").args(["capture-pane", "-p", "-t", &self.name]))
    }

    /// Keys in tmux's names ("Down", "Enter", "Space", "C-u") or literal text.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            run(Command::new("tmux").args(["send-keys", "-t", &self.name, k]));
            // The UI reads keys every 100 ms; one at a time keeps their order obvious in
            // the screens a failure prints.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn text(&self, text: &str) {
        run(Command::new("tmux").args(["send-keys", "-t", &self.name, "-l", text]));
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Waits until the screen shows `text`; returns the screen.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "waited {timeout:?} for {text:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}
