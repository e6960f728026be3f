//! A running guest driven over its serial console as a person at a terminal drives it:
//! wait for the login prompt, log in as root, type commands, read what they print and
//! their exit status, power off.
//!
//! A command's output is found between two marker lines it prints around it. The marker
//! is typed as an arithmetic expansion (`@@B$((7))@`) and printed expanded (`@@B7@`), so
//! the terminal's echo of the typed line never passes for the output.

use crate::{tail, Vm, VmOptions};
use anyhow::{bail, Context};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a command did in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub status: i32,
    /// What it printed (stdout and stderr as the terminal showed them), without carriage
    /// returns.
    pub output: String,
}

#[derive(Debug)]
pub struct Guest {
    vm: Vm,
    started: Instant,
    /// How much of the serial log has been read past.
    seen: usize,
    /// The number of the next command's markers.
    next: u32,
}

/// How often the serial log is read.
const POLL: Duration = Duration::from_millis(200);

impl Guest {
    /// Starts the VM with its files (serial log, sockets) in `dir`.
    pub fn start(opts: &VmOptions, dir: &Path) -> anyhow::Result<Guest> {
        Ok(Guest {
            vm: Vm::start_in(opts, dir)?,
            started: Instant::now(),
            seen: 0,
            next: 1,
        })
    }

    /// Everything the guest printed so far.
    pub fn serial_log(&self) -> String {
        self.vm.serial_log()
    }

    pub fn serial_path(&self) -> &Path {
        self.vm.serial_path()
    }

    /// Time since the VM was started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits for `needle` after what was already read; returns the text up to and with it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let log = std::fs::read(self.vm.serial_path()).unwrap_or_default();
            let from = self.seen.min(log.len());
            if let Some(at) = find(&log[from..], needle.as_bytes()) {
                let end = from + at + needle.len();
                self.seen = end;
                return Ok(String::from_utf8_lossy(&log[from..end]).into_owned());
            }
            if let Some(status) = self.vm.try_exit()? {
                bail!(
                    "the guest ended ({status}) before {needle:?} appeared; serial log tail:\n{}",
                    tail(&String::from_utf8_lossy(&log), 40)
                );
            }
            if start.elapsed() > timeout {
                bail!(
                    "{needle:?} did not appear on the serial console within {} s; log tail:\n{}",
                    timeout.as_secs(),
                    tail(&String::from_utf8_lossy(&log), 40)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for a login prompt; returns the time from power-on.
    pub fn wait_for_login_prompt(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        self.wait_for("login:", timeout)
            .context("waiting for the login prompt")?;
        Ok(self.uptime())
    }

    /// Logs in as `user` with `password` at the prompt [`Guest::wait_for_login_prompt`]
    /// saw, then makes the shell plain for reading: no colours, no pager, no history
    /// expansion, long lines, no kernel messages on the console.
    pub fn log_in(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        self.vm.send(&format!("{user}\n"))?;
        self.wait_for("Password:", Duration::from_secs(60))
            .context("waiting for the password prompt")?;
        self.vm.send(&format!("{password}\n"))?;
        let greeting = self
            .wait_for("# ", Duration::from_secs(120))
            .with_context(|| format!("waiting for {user}'s shell prompt"))?;
        if greeting.contains("Login incorrect") {
            bail!(
                "the guest refused {user}'s password:\n{}",
                tail(&greeting, 10)
            );
        }
        self.run_ok(
            "set +H; export TERM=dumb PAGER=cat SYSTEMD_PAGER=cat SYSTEMD_COLORS=0; \
             stty cols 500; dmesg -n 1",
            Duration::from_secs(60),
        )
        .context("setting up the shell")?;
        Ok(())
    }

    /// Types `command` (one line) at the shell prompt and waits up to `timeout` for it.
    pub fn run(&mut self, command: &str, timeout: Duration) -> anyhow::Result<Ran> {
        ensure_one_line(command)?;
        let n = self.next;
        self.next += 1;
        self.vm.send(&format!(
            "echo @@B$(({n}))@; {command}; echo @@E$(({n}))@ $?\n"
        ))?;
        self.wait_for(&format!("@@B{n}@"), timeout)
            .with_context(|| format!("running {command:?}"))?;
        let text = self
            .wait_for(&format!("@@E{n}@ "), timeout)
            .with_context(|| format!("waiting for {command:?} to finish"))?;
        let status_line = self
            .wait_for("\n", Duration::from_secs(10))
            .with_context(|| format!("reading the exit status of {command:?}"))?;
        let status = status_line
            .trim()
            .parse()
            .with_context(|| format!("{command:?}: exit status {status_line:?}"))?;
        let output = text
            .strip_suffix(&format!("@@E{n}@ "))
            .unwrap_or(&text)
            .replace('\r', "");
        Ok(Ran {
            status,
            output: output.trim_start_matches('\n').to_string(),
        })
    }

    /// Like [`Guest::run`]; a non-zero exit status is an error with the output.
    pub fn run_ok(&mut self, command: &str, timeout: Duration) -> anyhow::Result<String> {
        let ran = self.run(command, timeout)?;
        if ran.status != 0 {
            bail!(
                "{command:?} exited with {} in the guest:\n{}",
                ran.status,
                ran.output
            );
        }
        Ok(ran.output)
    }

    /// Types `poweroff` and waits up to `timeout` for QEMU to end.
    pub fn power_off(mut self, timeout: Duration) -> anyhow::Result<()> {
        self.vm.send("poweroff\n")?;
        let status = self
            .vm
            .wait_exit(timeout)
            .context("waiting for the guest to power off")?;
        if !status.success() {
            bail!("QEMU ended with {status} after poweroff");
        }
        Ok(())
    }
}

fn ensure_one_line(command: &str) -> anyhow::Result<()> {
    if command.contains('\n') {
        bail!("a command typed at the guest's prompt is one line: {command:?}");
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bytes() {
        assert_eq!(find(b"abc@@B7@\r\n", b"@@B7@"), Some(3));
        assert_eq!(find(b"echo @@B$((7))@", b"@@B7@"), None);
        assert!(ensure_one_line("a\nb").is_err());
    }
}
