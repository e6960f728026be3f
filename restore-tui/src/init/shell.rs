//! Child processes of PID 1: the shell on the console, and reaping every child (PID 1
//! inherits the orphans of the whole system).

use super::console;
use anyhow::Context;
use rustix::process::{Pid, WaitOptions, WaitStatus};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The hidden option that makes restore-tui the shell's session leader on the console.
pub const CONSOLE_SHELL_FLAG: &str = "--console-shell";

/// Set by PID 1 to the terminal `rescue.console=` put it on (`/dev/ttyS0`): the shell's
/// terminal then, rather than the one behind /dev/console.
pub const CONSOLE_ENV: &str = "RESCUE_CONSOLE";

/// bash where the rescue system has it, else sh.
pub fn choose_shell() -> &'static str {
    if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

/// Runs an interactive shell and waits for it. As PID 1 the shell gets the console as its
/// controlling terminal (job control, Ctrl-C): a fresh restore-tui process starts a session,
/// takes the console's terminal and execs the shell. In test mode the shell simply inherits
/// stdin, stdout and stderr.
pub fn run_shell(pid1: bool) -> anyhow::Result<()> {
    let shell = choose_shell();
    let mut cmd = if pid1 {
        let exe = std::env::current_exe().unwrap_or_else(|_| "/init".into());
        let mut c = Command::new(exe);
        c.arg(CONSOLE_SHELL_FLAG).arg(shell);
        c
    } else {
        Command::new(shell)
    };
    let child = cmd.spawn().with_context(|| format!("starting {shell}"))?;
    let pid = Pid::from_raw(child.id() as i32).context("the shell has no process id")?;
    // Reaped below with wait(2), which also collects orphans that die meanwhile.
    drop(child);
    let status = wait_for(pid).context("waiting for the shell")?;
    console::sane_tty();
    console::say(format_args!("shell ended ({})", describe_status(status)));
    Ok(())
}

/// The child side of `run_shell` as PID 1: becomes a session leader, makes the console's
/// real terminal (ttyS0, tty1) its controlling terminal and stdin/stdout/stderr, then
/// becomes the shell. Returns only when that fails.
pub fn exec_console_shell(shell: &str) -> anyhow::Error {
    if let Err(e) = rustix::process::setsid() {
        console::say(format_args!("warning: setsid: {e}"));
    }
    let tty = std::env::var_os(CONSOLE_ENV)
        .map(PathBuf::from)
        .or_else(|| console::console_tty(Path::new("/sys")).map(|t| Path::new("/dev").join(t)));
    match tty {
        Some(tty) => {
            if let Err(e) = take_terminal(&tty) {
                console::say(format_args!("warning: {e:#}; the shell has no job control"));
            }
        }
        None => console::say("warning: no console terminal found; the shell has no job control"),
    }
    let name = Path::new(shell)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sh".into());
    // A login shell ("-sh") reads /etc/profile.
    let err = Command::new(shell).arg0(format!("-{name}")).exec();
    anyhow::Error::new(err).context(format!("starting {shell}"))
}

fn take_terminal(tty: &Path) -> anyhow::Result<()> {
    let fd = rustix::fs::open(tty, rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty())
        .with_context(|| format!("opening {}", tty.display()))?;
    rustix::process::ioctl_tiocsctty(&fd)
        .with_context(|| format!("making {} the controlling terminal", tty.display()))?;
    rustix::stdio::dup2_stdin(&fd)?;
    rustix::stdio::dup2_stdout(&fd)?;
    rustix::stdio::dup2_stderr(&fd)?;
    Ok(())
}

/// Waits for `pid`, reaping any other child that ends meanwhile.
pub fn wait_for(pid: Pid) -> anyhow::Result<WaitStatus> {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((p, status))) if p == pid => return Ok(status),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reaps every child that has ended, without waiting. Returns how many.
pub fn reap() -> usize {
    let mut n = 0;
    while let Ok(Some(_)) = rustix::process::waitpid(None, WaitOptions::NOHANG) {
        n += 1;
    }
    n
}

/// "exit status 0", "killed by signal 9".
pub fn describe_status(status: WaitStatus) -> String {
    if let Some(code) = status.exit_status() {
        format!("exit status {code}")
    } else if let Some(sig) = status.terminating_signal() {
        format!("killed by signal {sig}")
    } else {
        format!("status {:#x}", status.as_raw())
    }
}
