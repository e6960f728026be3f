//! External commands as values.
//!
//! A [`Cmd`] says what to run (program, arguments, stdin bytes, environment, working
//! directory) and why (a human description). Code that needs an external program builds
//! a `Cmd` and hands it to a [`Runner`]:
//!
//! - [`RealRunner`] runs it (std::process), captures stdout and stderr, and turns a failure
//!   into a [`RunError`] that names the command line, the exit status and what stderr
//!   said (its first line and its last lines);
//! - [`DryRun`] records and prints what would run and answers success with empty output;
//! - [`Recording`] records every command and answers from a scripted queue, so tests
//!   assert the transcript without running anything.
//!
//! ```
//! use rescue_core::runner::{Cmd, Recording, Runner};
//!
//! let cmd = Cmd::new("mkfs.ext4")
//!     .arg("-L")
//!     .arg("my root")
//!     .arg("/dev/vda2")
//!     .describe("format the root filesystem");
//! assert_eq!(cmd.to_string(), "mkfs.ext4 -L 'my root' /dev/vda2");
//!
//! let runner = Recording::new();
//! runner.reply_stdout("done\n");
//! let out = runner.run(&cmd).unwrap();
//! assert_eq!(out.stdout, b"done\n");
//! assert_eq!(runner.transcript(), ["mkfs.ext4 -L 'my root' /dev/vda2"]);
//! ```

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};

/// How much of a failed command's stderr its error keeps: the first line and the last
/// lines, at most this many lines and bytes in all, the first line at most
/// [`STDERR_FIRST_LINE_BYTES`].
const STDERR_EXCERPT_BYTES: usize = 2048;
const STDERR_EXCERPT_LINES: usize = 20;
const STDERR_FIRST_LINE_BYTES: usize = 512;
/// Stands for the lines, or the part of a line, left out.
const LEFT_OUT: &str = "...";

/// One external command, as a value.
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program: a name looked up in `PATH`, or a path.
    pub program: String,
    pub args: Vec<OsString>,
    /// Bytes written to the command's stdin; `None` gives it an empty stdin (never the
    /// caller's terminal).
    pub stdin: Option<Vec<u8>>,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// What the command is for, in words: "build the UEFI boot loader".
    pub description: String,
    /// Exit codes that count as success; `[0]` unless set.
    pub ok_codes: Vec<i32>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            env: Vec::new(),
            cwd: None,
            description: String::new(),
            ok_codes: vec![0],
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub fn describe(mut self, description: impl Into<String>) -> Cmd {
        self.description = description.into();
        self
    }

    /// Makes `code` a success too (e2fsck's 1, "errors corrected"; cmp's 1).
    pub fn ok_code(mut self, code: i32) -> Cmd {
        if !self.ok_codes.contains(&code) {
            self.ok_codes.push(code);
        }
        self
    }

    /// The program's name without its directory, as errors name it.
    pub fn program_name(&self) -> &str {
        self.program.rsplit('/').next().unwrap_or(&self.program)
    }
}

/// The command as a shell command line that does the same:
/// `cd DIR && KEY=VALUE program 'arg with spaces'` (stdin is not shown).
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "cd {} && ", quote(dir.as_os_str()))?;
        }
        for (key, value) in &self.env {
            write!(f, "{key}={} ", quote(OsStr::new(value)))?;
        }
        write!(f, "{}", quote(OsStr::new(&self.program)))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Cmd");
        d.field("line", &self.to_string());
        if let Some(stdin) = &self.stdin {
            d.field("stdin_bytes", &stdin.len());
        }
        if !self.description.is_empty() {
            d.field("description", &self.description);
        }
        if self.ok_codes != [0] {
            d.field("ok_codes", &self.ok_codes);
        }
        d.finish()
    }
}

/// `word` quoted for a POSIX shell (bash's `$'...'` for bytes that are not UTF-8).
pub fn quote(word: &OsStr) -> String {
    let bytes = word.as_bytes();
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => {
            format!("'{}'", text.replace('\'', r"'\''"))
        }
        _ => {
            let mut out = String::from("$'");
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '\'' => out.push_str(r"\'"),
                        '\\' => out.push_str(r"\\"),
                        '\n' => out.push_str(r"\n"),
                        '\t' => out.push_str(r"\t"),
                        c if c.is_control() => {
                            let mut buf = [0; 4];
                            for b in c.encode_utf8(&mut buf).bytes() {
                                out.push_str(&format!("\\x{b:02x}"));
                            }
                        }
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out.push('\'');
            out
        }
    }
}

/// What a command printed, and its exit code (one of the command's `ok_codes`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("code", &self.code)
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &String::from_utf8_lossy(&self.stderr))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program is not installed (or not in `PATH`).
    #[error("{program}: command not found (needed to {purpose})")]
    NotFound { program: String, purpose: String },
    /// The program ran and failed.
    #[error("`{command}` failed ({status}){}", tail_suffix(.stderr_tail))]
    Failed {
        command: String,
        /// "exit status 2", "killed by signal 9".
        status: String,
        /// The exit code, `None` when a signal ended it.
        code: Option<i32>,
        /// What its stderr said: the first line and the last lines ([`stderr_excerpt`]).
        stderr_tail: String,
    },
    /// Starting the program, or talking to it, failed.
    #[error("`{command}`: {what}")]
    Io {
        command: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

impl RunError {
    /// A failure of `cmd` with this exit code and stderr, as [`RealRunner`] reports it.
    pub fn failed(cmd: &Cmd, code: Option<i32>, status: String, stderr: &[u8]) -> RunError {
        RunError::Failed {
            command: cmd.to_string(),
            status,
            code,
            stderr_tail: stderr_excerpt(stderr),
        }
    }

    pub fn not_found(cmd: &Cmd) -> RunError {
        let purpose = if cmd.description.is_empty() {
            format!("run `{cmd}`")
        } else {
            cmd.description.clone()
        };
        RunError::NotFound {
            program: cmd.program.clone(),
            purpose,
        }
    }
}

/// What a failed command's error shows of its `stderr`: the first line that says
/// something, since tools such as mkfs.xfs print the reason first and their usage after
/// it, and as many of the last lines as fit, at most [`STDERR_EXCERPT_LINES`] lines and
/// [`STDERR_EXCERPT_BYTES`] bytes in all, joined by newlines. "..." stands for what is
/// left out.
pub fn stderr_excerpt(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let Some((first, rest)) = lines.split_first() else {
        return String::new();
    };
    let head = clip_end(first, STDERR_FIRST_LINE_BYTES);
    // Room for the newline after the head and a line saying lines were left out.
    let mut budget = STDERR_EXCERPT_BYTES.saturating_sub(head.len() + 2 + LEFT_OUT.len());
    let mut tail: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    for line in rest.iter().rev().take(STDERR_EXCERPT_LINES - 1) {
        if line.len() + 1 > budget {
            if tail.is_empty() {
                // The last line alone is too long: its end says most.
                tail.push(clip_start(line, budget.saturating_sub(1)));
            }
            break;
        }
        budget -= line.len() + 1;
        tail.push((*line).into());
    }
    tail.reverse();
    let mut out = head.into_owned();
    if tail.len() < rest.len() {
        out.push('\n');
        out.push_str(LEFT_OUT);
    }
    for line in tail {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

/// `line` in at most `max` bytes, its end cut off.
fn clip_end(line: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if line.len() <= max {
        return line.into();
    }
    let mut cut = max.saturating_sub(LEFT_OUT.len());
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{LEFT_OUT}", &line[..cut]).into()
}

/// `line` in at most `max` bytes, its start cut off.
fn clip_start(line: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if line.len() <= max {
        return line.into();
    }
    let mut cut = line.len() - max.saturating_sub(LEFT_OUT.len());
    while !line.is_char_boundary(cut) {
        cut += 1;
    }
    format!("{LEFT_OUT}{}", &line[cut..]).into()
}

/// Runs commands. `&dyn Runner` is what code that runs commands takes.
pub trait Runner: Send + Sync {
    /// Runs `cmd` to its end. An exit code outside `cmd.ok_codes` is
    /// [`RunError::Failed`].
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError>;
}

impl<R: Runner + ?Sized> Runner for &R {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        (**self).run(cmd)
    }
}

impl<R: Runner + ?Sized> Runner for Box<R> {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        (**self).run(cmd)
    }
}

/// Runs commands for real.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealRunner;

impl Runner for RealRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        let io_err = |what, source| RunError::Io {
            command: cmd.to_string(),
            what,
            source,
        };
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A missing working directory also spawns as NotFound.
                return Err(match &cmd.cwd {
                    Some(dir) if !dir.is_dir() => io_err("the working directory does not exist", e),
                    _ => RunError::not_found(cmd),
                });
            }
            Err(e) => return Err(io_err("cannot start it", e)),
        };
        // Feed stdin from a thread so a command that writes much before it reads all of
        // its input cannot deadlock against us.
        let feeder = match (child.stdin.take(), &cmd.stdin) {
            (Some(mut pipe), Some(bytes)) => {
                let bytes = bytes.clone();
                Some(std::thread::spawn(move || {
                    match pipe.write_all(&bytes) {
                        // A command may exit without reading all of its input.
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                        other => other,
                    }
                }))
            }
            _ => None,
        };
        let out = child
            .wait_with_output()
            .map_err(|e| io_err("waiting for it failed", e))?;
        if let Some(feeder) = feeder {
            match feeder.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(io_err("writing its stdin failed", e)),
                Err(_) => {
                    return Err(io_err(
                        "writing its stdin failed",
                        io::Error::other("the stdin writer panicked"),
                    ))
                }
            }
        }
        check_status(cmd, out.status, out.stdout, out.stderr)
    }
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}

fn check_status(
    cmd: &Cmd,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
) -> Result<Output, RunError> {
    match status.code() {
        Some(code) if cmd.ok_codes.contains(&code) => Ok(Output {
            code,
            stdout,
            stderr,
        }),
        code => Err(RunError::failed(
            cmd,
            code,
            describe_status(status),
            &stderr,
        )),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the data usable: it is only appended to.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records and prints the commands instead of running them; each "succeeds" with empty
/// output.
pub struct DryRun {
    commands: Mutex<Vec<Cmd>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DryRun")
            .field("commands", &*lock(&self.commands))
            .finish_non_exhaustive()
    }
}

impl Default for DryRun {
    fn default() -> Self {
        DryRun::new()
    }
}

impl DryRun {
    /// Prints to stderr.
    pub fn new() -> DryRun {
        DryRun::to_writer(io::stderr())
    }

    /// Prints to `out`.
    pub fn to_writer(out: impl Write + Send + 'static) -> DryRun {
        DryRun {
            commands: Mutex::new(Vec::new()),
            out: Mutex::new(Box::new(out)),
        }
    }

    /// The commands that would have run, in order.
    pub fn commands(&self) -> Vec<Cmd> {
        lock(&self.commands).clone()
    }
}

impl Runner for DryRun {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        lock(&self.commands).push(cmd.clone());
        let mut out = lock(&self.out);
        let line = if cmd.description.is_empty() {
            format!("would run: {cmd}\n")
        } else {
            format!("would run: {cmd}    # {}\n", cmd.description)
        };
        // Printing is best effort: a closed stderr must not fail the dry run.
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        Ok(Output::default())
    }
}

/// A scripted answer of a [`Recording`] runner.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The command succeeded with this output.
    Output(Output),
    /// The command exited with this code and stderr (a failure unless the command
    /// allows the code).
    Exit { code: i32, stderr: Vec<u8> },
    /// The program is not installed.
    NotFound,
}

/// For tests: records every command and answers from a queue of scripted replies, in
/// order. With the queue empty a command succeeds with empty output.
#[derive(Debug, Default)]
pub struct Recording {
    commands: Mutex<Vec<Cmd>>,
    replies: Mutex<VecDeque<Reply>>,
}

impl Recording {
    pub fn new() -> Recording {
        Recording::default()
    }

    /// Queues the answer to the next command not yet answered.
    pub fn reply(&self, reply: Reply) -> &Recording {
        lock(&self.replies).push_back(reply);
        self
    }

    pub fn reply_stdout(&self, stdout: impl Into<Vec<u8>>) -> &Recording {
        self.reply(Reply::Output(Output {
            code: 0,
            stdout: stdout.into(),
            stderr: Vec::new(),
        }))
    }

    pub fn reply_exit(&self, code: i32, stderr: impl Into<Vec<u8>>) -> &Recording {
        self.reply(Reply::Exit {
            code,
            stderr: stderr.into(),
        })
    }

    pub fn reply_not_found(&self) -> &Recording {
        self.reply(Reply::NotFound)
    }

    /// Every command run so far.
    pub fn commands(&self) -> Vec<Cmd> {
        lock(&self.commands).clone()
    }

    /// Every command run so far, as shell command lines.
    pub fn transcript(&self) -> Vec<String> {
        lock(&self.commands).iter().map(Cmd::to_string).collect()
    }

    /// Replies queued and not used yet.
    pub fn unused_replies(&self) -> usize {
        lock(&self.replies).len()
    }
}

impl Runner for Recording {
    fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        lock(&self.commands).push(cmd.clone());
        match lock(&self.replies).pop_front() {
            None => Ok(Output::default()),
            Some(Reply::Output(out)) => Ok(out),
            Some(Reply::NotFound) => Err(RunError::not_found(cmd)),
            Some(Reply::Exit { code, stderr }) => {
                check_status(cmd, ExitStatus::from_raw(code << 8), Vec::new(), stderr)
            }
        }
    }
}

/// Looks `program` up in the directories of `path` (a `PATH`-style list), as `execvp`
/// would; a program given with a `/` is taken as it is if it exists.
pub fn find_program(program: &str, path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn q(s: &str) -> String {
        quote(OsStr::new(s))
    }

    #[test]
    fn quoting_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(q("grub-mkstandalone"), "grub-mkstandalone");
        assert_eq!(q("--format=x86_64-efi"), "--format=x86_64-efi");
        assert_eq!(
            q("/boot/grub/grub.cfg=/tmp/x"),
            "/boot/grub/grub.cfg=/tmp/x"
        );
        assert_eq!(q(""), "''");
        assert_eq!(q("a b"), "'a b'");
        assert_eq!(q("it's"), r"'it'\''s'");
        assert_eq!(q("$HOME"), "'$HOME'");
        assert_eq!(q("*"), "'*'");
        assert_eq!(q("ünïcode"), "'ünïcode'");
        assert_eq!(q("two\nlines"), r"$'two\nlines'");
        assert_eq!(
            quote(OsStr::from_bytes(b"bad\xffname's")),
            r"$'bad\xffname\'s'"
        );
    }

    #[test]
    fn quoted_lines_mean_the_same_to_a_shell() {
        let words = [
            "plain",
            "a b",
            "it's",
            "$HOME",
            "two\nlines",
            "",
            "tab\there",
        ];
        let cmd = Cmd::new("printf").arg("%s|").args(words);
        let out = RealRunner
            .run(&Cmd::new("bash").arg("-c").arg(cmd.to_string()))
            .unwrap();
        assert_eq!(out.stdout_text(), format!("{}|", words.join("|")));
    }

    #[test]
    fn display_shows_directory_environment_and_arguments() {
        let cmd = Cmd::new("mkfs.ext4")
            .args(["-L", "my root"])
            .arg("/dev/vda2")
            .env("LC_ALL", "C")
            .env("E2FSPROGS_FAKE_TIME", "1 2")
            .cwd("/tmp/a dir")
            .describe("format /");
        assert_eq!(
            cmd.to_string(),
            "cd '/tmp/a dir' && LC_ALL=C E2FSPROGS_FAKE_TIME='1 2' mkfs.ext4 -L 'my root' /dev/vda2"
        );
        assert_eq!(cmd.description, "format /");
        assert_eq!(Cmd::new("/usr/sbin/mkswap").program_name(), "mkswap");
    }

    #[test]
    fn system_captures_output_stdin_env_and_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg("cat; echo \"$GREETING\"; pwd; echo oops >&2")
            .stdin("from stdin\n")
            .env("GREETING", "hello there")
            .cwd(dir.path());
        let out = RealRunner.run(&cmd).unwrap();
        let canonical = dir.path().canonicalize().unwrap();
        assert_eq!(
            out.stdout_text(),
            format!("from stdin\nhello there\n{}\n", canonical.display())
        );
        assert_eq!(out.stderr_text(), "oops\n");
        assert_eq!(out.code, 0);
    }

    #[test]
    fn system_gives_an_empty_stdin_when_none_is_set() {
        let out = RealRunner.run(&Cmd::new("cat")).unwrap();
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn system_feeds_large_stdin_without_deadlock() {
        let data = vec![b'x'; 4 << 20];
        let out = RealRunner
            .run(&Cmd::new("cat").stdin(data.clone()))
            .unwrap();
        assert_eq!(out.stdout.len(), data.len());
        // A command that does not read its stdin is not an error.
        RealRunner.run(&Cmd::new("true").stdin(data)).unwrap();
    }

    #[test]
    fn system_reports_failure_with_status_and_stderr_tail() {
        let script = "for i in $(seq 1 50); do echo line$i >&2; done; exit 3";
        let cmd = Cmd::new("sh").arg("-c").arg(script);
        match RealRunner.run(&cmd).unwrap_err() {
            RunError::Failed {
                command,
                status,
                code,
                stderr_tail,
            } => {
                assert_eq!(command, cmd.to_string());
                assert_eq!(status, "exit status 3");
                assert_eq!(code, Some(3));
                assert!(stderr_tail.ends_with("line49\nline50"), "{stderr_tail}");
                assert!(!stderr_tail.contains("line30\n"), "{stderr_tail}");
            }
            other => panic!("{other:?}"),
        }
        let msg = RealRunner.run(&cmd).unwrap_err().to_string();
        assert!(msg.starts_with("`sh -c "), "{msg}");
        assert!(msg.contains("failed (exit status 3): "), "{msg}");
    }

    #[test]
    fn system_accepts_allowed_exit_codes() {
        let cmd = Cmd::new("sh").args(["-c", "exit 1"]).ok_code(1);
        assert_eq!(RealRunner.run(&cmd).unwrap().code, 1);
    }

    #[test]
    fn system_reports_signals() {
        let err = RealRunner
            .run(&Cmd::new("sh").args(["-c", "kill -9 $$"]))
            .unwrap_err();
        match err {
            RunError::Failed { status, code, .. } => {
                assert_eq!(status, "killed by signal 9");
                assert_eq!(code, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn system_names_a_missing_program() {
        let cmd = Cmd::new("no-such-program-here").describe("build the UEFI boot loader");
        let err = RealRunner.run(&cmd).unwrap_err();
        assert!(matches!(err, RunError::NotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "no-such-program-here: command not found (needed to build the UEFI boot loader)"
        );
        // A missing working directory is not a missing program.
        let err = RealRunner
            .run(&Cmd::new("true").cwd("/no/such/dir"))
            .unwrap_err();
        assert!(matches!(err, RunError::Io { .. }), "{err:?}");
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn dry_run_prints_and_records_without_running() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker");
        let printed = Shared::default();
        let runner = DryRun::to_writer(printed.clone());
        let cmd = Cmd::new("touch").arg(&marker).describe("leave a marker");
        let out = runner.run(&cmd).unwrap();
        assert_eq!(out, Output::default());
        assert!(!marker.exists());
        runner.run(&Cmd::new("true")).unwrap();
        assert_eq!(runner.commands().len(), 2);
        let text = String::from_utf8(lock(&printed.0).clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "would run: touch {}    # leave a marker\nwould run: true\n",
                marker.display()
            )
        );
    }

    #[test]
    fn recording_answers_from_its_script_and_keeps_the_transcript() {
        let runner = Recording::new();
        runner
            .reply_stdout("vda\n")
            .reply_exit(2, "mkfs: bad things\n")
            .reply_not_found()
            .reply_exit(1, "");
        let r: &dyn Runner = &runner;
        assert_eq!(r.run(&Cmd::new("lsblk")).unwrap().stdout_text(), "vda\n");
        let err = r.run(&Cmd::new("mkfs.ext4").arg("/dev/vda1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`mkfs.ext4 /dev/vda1` failed (exit status 2): mkfs: bad things"
        );
        assert!(matches!(
            r.run(&Cmd::new("mkfs.xfs")).unwrap_err(),
            RunError::NotFound { .. }
        ));
        assert_eq!(r.run(&Cmd::new("e2fsck").ok_code(1)).unwrap().code, 1);
        // Past the script, commands succeed quietly.
        assert_eq!(r.run(&Cmd::new("sync")).unwrap(), Output::default());
        assert_eq!(
            runner.transcript(),
            ["lsblk", "mkfs.ext4 /dev/vda1", "mkfs.xfs", "e2fsck", "sync"]
        );
        assert_eq!(runner.unused_replies(), 0);
    }

    #[test]
    fn stderr_excerpt_keeps_the_first_and_the_last_lines_within_bounds() {
        assert_eq!(stderr_excerpt(b""), "");
        assert_eq!(stderr_excerpt(b"\n\none\n\n"), "one");
        assert_eq!(
            stderr_excerpt(b"one\n  \ntwo  \nthree\n"),
            "one\ntwo\nthree"
        );

        // The reason first, then a long usage text: the reason, a gap, the end.
        let usage: String = (1..=40).map(|i| format!("usage line {i}\n")).collect();
        let excerpt = stderr_excerpt(format!("\nThe reason.\n{usage}").as_bytes());
        let lines: Vec<&str> = excerpt.lines().collect();
        assert_eq!(lines.len(), STDERR_EXCERPT_LINES + 1, "{excerpt}");
        assert_eq!(lines[..2], ["The reason.", "..."]);
        assert_eq!(lines[2], "usage line 22");
        assert_eq!(lines.last(), Some(&"usage line 40"));

        // Long lines are cut, the whole stays within its bounds.
        let long = "y".repeat(5000);
        let excerpt = stderr_excerpt(format!("first\n{long}\n").as_bytes());
        assert!(excerpt.starts_with("first\n...yyy"), "{excerpt}");
        assert!(excerpt.len() <= STDERR_EXCERPT_BYTES, "{}", excerpt.len());
        let excerpt = stderr_excerpt(format!("{long}\n{long}\n{long}\n").as_bytes());
        assert!(excerpt.starts_with("yyy"), "{excerpt}");
        assert_eq!(excerpt.lines().nth(1), Some("..."));
        assert!(excerpt.len() <= STDERR_EXCERPT_BYTES, "{}", excerpt.len());
        let many = "é\n".repeat(100_000);
        assert!(stderr_excerpt(many.as_bytes()).len() <= STDERR_EXCERPT_BYTES);
    }

    #[test]
    fn find_program_searches_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths(["/nonexistent", dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(find_program("tool", &path), None, "not executable yet");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program("tool", &path), Some(tool.clone()));
        assert_eq!(
            find_program(tool.to_str().unwrap(), OsStr::new("")),
            Some(tool)
        );
        assert_eq!(find_program("absent", &path), None);
    }
}
