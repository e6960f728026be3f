//! The console: status lines out, menu choices in (a line at a time, so a serial console
//! works), and putting the console back on stdin/stdout/stderr when the kernel could not.

use anyhow::Context;
use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, InputModes, LocalModes, OptionalActions, OutputModes};
use std::fmt::Display;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
use std::path::Path;

/// Prints one `restore-tui: ` line on the console. Written whole in one write, and never
/// fails: a console that cannot be written to is no reason to stop.
pub fn say(msg: impl Display) {
    show(&format!("restore-tui: {msg}\n"));
}

/// Prints an error with its whole chain: `restore-tui: error: mounting ...: No such device`.
pub fn error(e: &anyhow::Error) {
    say(format_args!("error: {e:#}"));
}

/// Prints text as it is (the status screen, the menu).
pub fn show(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// What reading a line from the console gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Line(String),
    Eof,
}

/// Reads one line from stdin a byte at a time: nothing beyond the newline is taken, so a
/// shell started next reads the rest. Carriage returns are dropped.
pub fn read_line() -> io::Result<Input> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(io::stdin().as_fd(), &mut byte) {
            Ok(0) if line.is_empty() => return Ok(Input::Eof),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if byte[0] == b'\r' => {}
            Ok(_) if line.len() < 4096 => line.push(byte[0]),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Input::Line(String::from_utf8_lossy(&line).into_owned()))
}

/// Whether stdin is a terminal (the console) rather than a pipe or /dev/null.
pub fn stdin_is_tty() -> bool {
    termios::isatty(io::stdin().as_fd())
}

/// As PID 1: when stdin, stdout or stderr is closed or not a terminal (the kernel found no
/// /dev/console in the initramfs, and the Rust runtime put /dev/null there), opens
/// `console` (the devtmpfs /dev/console) onto all three. Returns whether it did.
pub fn reopen_if_needed(console: &Path) -> anyhow::Result<bool> {
    let fds = [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ];
    let valid = fds
        .iter()
        .all(|fd| rustix::io::fcntl_getfd(fd).is_ok() && termios::isatty(fd));
    if valid {
        return Ok(false);
    }
    reopen_on(console)?;
    Ok(true)
}

/// Opens the terminal `tty` onto stdin, stdout and stderr (`rescue.console=`). A device
/// that is no terminal is refused, and the console stays as it was.
pub fn reopen_on(tty: &Path) -> anyhow::Result<()> {
    let fd = rustix::fs::open(
        tty,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {}", tty.display()))?;
    if !termios::isatty(&fd) {
        anyhow::bail!("{} is not a terminal", tty.display());
    }
    // What was written so far reaches the old console before it is let go.
    drain();
    rustix::stdio::dup2_stdin(&fd).context("putting the console on stdin")?;
    rustix::stdio::dup2_stdout(&fd).context("putting the console on stdout")?;
    rustix::stdio::dup2_stderr(&fd).context("putting the console on stderr")?;
    if fd.as_raw_fd() <= 2 {
        // The open itself landed on a standard descriptor: it must stay open.
        let _ = fd.into_raw_fd();
    }
    Ok(())
}

/// Waits until what was written to stdout has left the terminal (a serial port sends it
/// slowly, and a power off would cut it short). Not a terminal: nothing to wait for.
pub fn drain() {
    if let Err(e) = termios::tcdrain(rustix::stdio::stdout()) {
        if e != rustix::io::Errno::NOTTY && e != rustix::io::Errno::BADF {
            say(format_args!(
                "warning: waiting for the console to send its output: {e}"
            ));
        }
    }
}

/// Puts the console's line discipline back to what a line-based menu needs (canonical
/// input, echo, CR to NL, NL to CR NL), in case a program left it otherwise.
pub fn sane_tty() {
    let fd = io::stdin();
    let Ok(mut t) = termios::tcgetattr(fd.as_fd()) else {
        return;
    };
    t.local_modes |= LocalModes::ICANON
        | LocalModes::ECHO
        | LocalModes::ECHOE
        | LocalModes::ECHOK
        | LocalModes::ISIG
        | LocalModes::IEXTEN;
    t.input_modes |= InputModes::ICRNL;
    t.input_modes -= InputModes::INLCR | InputModes::IGNCR;
    t.output_modes |= OutputModes::OPOST | OutputModes::ONLCR;
    let _ = termios::tcsetattr(fd.as_fd(), OptionalActions::Now, &t);
}

/// The terminal behind /dev/console, found the way busybox's cttyhack does: the last
/// name in /sys/class/tty/console/active, and for the virtual console `tty0` the one
/// /sys/class/tty/tty0/active names. /dev/console itself cannot be a controlling terminal.
pub fn console_tty(sys: &Path) -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(sys.join(p)).ok();
    let name = last_word(&read("class/tty/console/active")?)?.to_string();
    if name == "tty0" {
        return read("class/tty/tty0/active").and_then(|t| last_word(&t).map(str::to_string));
    }
    Some(name)
}

fn last_word(text: &str) -> Option<&str> {
    text.split_whitespace().last()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_terminal_from_sysfs() {
        let sys = tempfile::tempdir().unwrap();
        let tty = sys.path().join("class/tty");
        std::fs::create_dir_all(tty.join("console")).unwrap();
        std::fs::create_dir_all(tty.join("tty0")).unwrap();
        assert_eq!(console_tty(sys.path()), None);
        std::fs::write(tty.join("console/active"), "tty0 ttyS0\n").unwrap();
        assert_eq!(console_tty(sys.path()).as_deref(), Some("ttyS0"));
        std::fs::write(tty.join("console/active"), "ttyS0 tty0\n").unwrap();
        std::fs::write(tty.join("tty0/active"), "tty1\n").unwrap();
        assert_eq!(console_tty(sys.path()).as_deref(), Some("tty1"));
        std::fs::write(tty.join("console/active"), "\n").unwrap();
        assert_eq!(console_tty(sys.path()), None);
    }
}
