//! The menu PID 1 ends in: the restore UI, shell, reboot, power off, status. As PID 1 it never returns.

use super::console::{self, say, Input};
use super::status::{self, Boot};
use super::{mounts, shell};
use rustix::system::RebootCommand;
use std::path::Path;
use std::time::{Duration, Instant};

pub const MENU: &str = "[i] restore  [s] shell  [r] reboot  [p] power off  [t] status";

/// A line typed at the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The terminal UI.
    Restore,
    Shell,
    Reboot,
    PowerOff,
    Status,
    Nothing,
    Unknown(String),
}

pub fn parse_choice(line: &str) -> Choice {
    let l = line.trim().to_ascii_lowercase();
    match l.as_str() {
        "" => Choice::Nothing,
        "i" | "restore" => Choice::Restore,
        "s" | "shell" => Choice::Shell,
        "r" | "reboot" => Choice::Reboot,
        "p" | "poweroff" | "power off" => Choice::PowerOff,
        "t" | "status" => Choice::Status,
        _ => Choice::Unknown(line.trim().to_string()),
    }
}

/// Reboot or power off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Reboot,
    Off,
}

/// Runs the menu. As PID 1 it never returns; in test mode it returns the exit code when
/// the input ends or a reboot or power off is chosen.
pub fn run(boot: &Boot, pid1: bool) -> i32 {
    let mut eofs = 0u32;
    let mut last_eof: Option<Instant> = None;
    loop {
        shell::reap();
        if console::stdin_is_tty() {
            console::sane_tty();
        }
        if eofs < QUIET_AFTER_EOFS {
            console::show(&format!("\n{MENU}\n> "));
        }
        let input = match console::read_line() {
            Ok(i) => i,
            Err(e) => {
                console::error(&anyhow::Error::new(e).context("reading the console"));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let line = match input {
            Input::Line(l) => {
                eofs = 0;
                l
            }
            Input::Eof => {
                if !pid1 {
                    console::show("\n");
                    say("console input ended");
                    return 0;
                }
                if !console::stdin_is_tty() {
                    console::show("\n");
                    say("no console input: idling");
                    idle_forever();
                }
                // Ctrl-D on the console: show the menu again, but never spin on a
                // terminal that keeps answering end-of-file.
                if last_eof.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
                    eofs = eofs.saturating_add(1);
                    std::thread::sleep(Duration::from_secs(if eofs < QUIET_AFTER_EOFS {
                        1
                    } else {
                        5
                    }));
                }
                last_eof = Some(Instant::now());
                console::show("\n");
                continue;
            }
        };
        match parse_choice(&line) {
            Choice::Nothing => {}
            Choice::Status => console::show(&status::render(boot)),
            Choice::Restore => {
                if let Some(code) = super::interactive::run(boot, pid1, None) {
                    return code;
                }
            }
            Choice::Shell => {
                if let Err(e) = shell::run_shell(pid1) {
                    console::error(&e);
                }
            }
            Choice::Reboot => {
                if let Some(code) = power(Power::Reboot, pid1) {
                    return code;
                }
            }
            Choice::PowerOff => {
                if let Some(code) = power(Power::Off, pid1) {
                    return code;
                }
            }
            Choice::Unknown(what) => say(format_args!("unknown choice {what:?}")),
        }
    }
}

/// Consecutive end-of-files after which the menu stops printing itself.
const QUIET_AFTER_EOFS: u32 = 5;

/// Syncs, unmounts and reboots or powers off. As PID 1 it returns only when the kernel
/// refused (after saying why); in test mode it says what it would do and returns exit
/// code 0.
pub fn power(what: Power, pid1: bool) -> Option<i32> {
    let word = match what {
        Power::Reboot => "reboot",
        Power::Off => "power off",
    };
    if !pid1 {
        say(word);
        return Some(0);
    }
    say("syncing and unmounting file systems");
    rustix::fs::sync();
    let failures = mounts::unmount_all(Path::new("/proc/mounts"));
    if !failures.is_empty() {
        say(format_args!(
            "warning: still mounted read-write: {}",
            failures.join(", ")
        ));
    }
    rustix::fs::sync();
    say(word);
    // A serial console is still sending the last lines (a rehearsal's report).
    console::drain();
    let cmd = match what {
        Power::Reboot => RebootCommand::Restart,
        Power::Off => RebootCommand::PowerOff,
    };
    if let Err(e) = rustix::system::reboot(cmd) {
        console::error(&anyhow::Error::new(e).context(word));
    }
    None
}

/// PID 1 with nothing left to do: reaps orphans forever.
pub fn idle_forever() -> ! {
    loop {
        shell::reap();
        std::thread::sleep(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices() {
        assert_eq!(parse_choice("i"), Choice::Restore);
        assert_eq!(parse_choice("s\n"), Choice::Shell);
        assert_eq!(parse_choice(" R "), Choice::Reboot);
        assert_eq!(parse_choice("power off"), Choice::PowerOff);
        assert_eq!(parse_choice("t"), Choice::Status);
        assert_eq!(parse_choice(""), Choice::Nothing);
        assert_eq!(parse_choice("x"), Choice::Unknown("x".into()));
    }
}
