//! Shared helpers for the host-level tests (the "host" tier of the design): real tools,
//! loop devices and mounts, as root. The restore tests of later issues reuse them.
//!
//! # Finding the mkrescue binary
//!
//! Cargo hands `CARGO_BIN_EXE_<name>` only to tests inside the package that owns the binary,
//! and this crate does not depend on `mkrescue`. So:
//!
//! 1. `scripts/test` runs `cargo build -p mkrescue` before any test and exports
//!    `MKRESCUE_BIN` with the path of the binary it built; when set, [`mkrescue_bin`] uses it
//!    as it is (point it at a release build to test that one).
//! 2. Without `MKRESCUE_BIN` (a plain `cargo test -p host-tests` or `cargo nextest run`),
//!    the binary is looked up beside the test executable: a test runs as
//!    `<target-dir>/<profile>/deps/<test>-<hash>`, and cargo puts the workspace's binaries in
//!    `<target-dir>/<profile>/`. This follows `CARGO_TARGET_DIR` and the profile without
//!    asking cargo. Such a run needs `cargo build -p mkrescue` first; a missing binary, or
//!    one older than a source file it was built from (the list cargo keeps beside it in
//!    `mkrescue.d`), is an error that says so, so a stale build is never tested by mistake.
//!
//! # Skips
//!
//! A test that needs root or a tool calls [`require_root_or_skip`] / [`require_tools`] first
//! and returns when they say false: it prints `skipped: ...` and passes. With `CI=true` a
//! skip is a failure instead (the helpers panic), so CI never goes green by skipping.
//!
//! # Cleanup
//!
//! Every resource is a guard that releases it on drop, also while a failing test unwinds:
//! [`LoopDisk`] (partitions dropped from the kernel, loop detached, device nodes it made
//! removed, image deleted with its temp dir), [`Mount`] / [`Mounts`] (unmounted in reverse
//! order, lazily as a last resort), [`HostLock`]. Declare the loop disks before the mounts
//! on them so the mounts go first. Drops never panic; they print what they could not undo.
//!
//! # Safety rails
//!
//! The helpers that write to block devices ([`mkfs`], [`LoopDisk::partition`]) refuse any
//! device that is not a loop device, so a wrong variable can never reach the host's disk.

pub mod hostile;
pub mod tmux;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------

/// Directories searched for tools besides `$PATH`: the sbin ones are missing from a plain
/// user's PATH on Debian, and sfdisk, losetup, mkfs.* live there.
const EXTRA_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in EXTRA_PATH {
        let extra = PathBuf::from(extra);
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    dirs
}

/// Where `name` is on the search path (PATH plus the sbin directories), if anywhere.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    search_path().into_iter().map(|d| d.join(name)).find(|p| {
        fs::metadata(p)
            .map(|m| m.is_file() && m.mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// A command for `program`, found on PATH or in the sbin directories, in the C locale
/// (tool output is parsed).
pub fn command(program: &str) -> Command {
    let path = find_tool(program).unwrap_or_else(|| PathBuf::from(program));
    let mut cmd = Command::new(path);
    cmd.env("LC_ALL", "C");
    cmd
}

/// The command line as a shell would show it, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![quote(&cmd.get_program().to_string_lossy())];
    words.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    words.join(" ")
}

fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What a finished command did.
#[derive(Debug)]
pub struct CmdOutput {
    pub description: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    /// The exit code; None when a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout and stderr together, for "must never contain" checks.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// A multi-line report of the run for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.description, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to the end (with `stdin` as its input, else none) and returns what it did,
/// whatever its exit status. Panics only when it cannot be started.
pub fn output_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> CmdOutput {
    let description = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{description}`: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input)
            .unwrap_or_else(|e| panic!("cannot write the input of `{description}`: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for `{description}`: {e}"));
    CmdOutput {
        description,
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `cmd` without input and returns what it did, whatever its exit status.
pub fn output(cmd: &mut Command) -> CmdOutput {
    output_with_stdin(cmd, None)
}

/// Runs `cmd` and returns its stdout; panics with the command, its exit status and its
/// stderr when it fails.
pub fn run(cmd: &mut Command) -> String {
    checked(output(cmd))
}

/// An ed25519 key pair as users make it for signed media (`openssl genpkey`, then
/// `openssl pkey -pubout`): the private and the public key's PEM files in `dir`.
pub fn openssl_key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    run(command("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key));
    run(command("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public));
    (key, public)
}

/// [`run`] with `stdin` as the command's input.
pub fn run_with_stdin(cmd: &mut Command, stdin: &str) -> String {
    checked(output_with_stdin(cmd, Some(stdin.as_bytes())))
}

fn checked(out: CmdOutput) -> String {
    if !out.success() {
        panic!(
            "`{}` failed with {}\n--- stderr ---\n{}--- stdout ---\n{}",
            out.description, out.status, out.stderr, out.stdout
        );
    }
    out.stdout
}

/// Parses JSON printed by `what`, panicking with the text when it is not JSON.
pub fn parse_json(text: &str, what: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what} did not print JSON ({e}):\n{text}"))
}

// ---------------------------------------------------------------------------------------
// Skips
// ---------------------------------------------------------------------------------------

/// True when running under CI (`CI=true`), where a skipped test is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips the calling test: prints `skipped: {reason}` and returns false; with `CI=true`
/// it panics instead, because CI must not pass by skipping.
pub fn skip(reason: &str) -> bool {
    if in_ci() {
        panic!("{reason}; CI=true, where a skipped test is a failure");
    }
    println!("skipped: {reason}");
    eprintln!("skipped: {reason}");
    false
}

/// The effective user id, from /proc/self/status.
pub fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// True when running as root; otherwise skips (see [`skip`]).
pub fn require_root_or_skip() -> bool {
    is_root() || skip("needs root (loop devices and mounts); run the tests as root")
}

/// True when every tool is installed; otherwise skips naming the missing ones.
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find_tool(t).is_none())
        .collect();
    missing.is_empty()
        || skip(&format!(
            "needs {} (scripts/setup installs them)",
            missing.join(", ")
        ))
}

// ---------------------------------------------------------------------------------------
// The mkrescue binary
// ---------------------------------------------------------------------------------------

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The mkrescue binary to test: `MKRESCUE_BIN`, else the one cargo built beside this test
/// executable (see the crate docs). Panics with what to do when it is missing or stale.
pub fn mkrescue_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MKRESCUE_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "MKRESCUE_BIN={} does not exist",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    // <target>/<profile>/deps/<test>-<hash> -> <target>/<profile>/mkrescue
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join("mkrescue");
    let built = fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} not found: build it first with `cargo build -p mkrescue` \
             (scripts/test does), or set MKRESCUE_BIN",
                bin.display()
            )
        });
    // The sources the binary was built from, as cargo recorded them beside it: if one is
    // newer (or gone), `cargo build` would rebuild it, so this one is stale.
    for source in dep_info_sources(&bin.with_extension("d")) {
        let changed = fs::metadata(&source).and_then(|m| m.modified());
        let stale = match &changed {
            Ok(time) => *time > built,
            Err(_) => true,
        };
        assert!(
            !stale,
            "{} is older than {} ({}): rebuild it with `cargo build -p mkrescue` \
             (scripts/test does), or set MKRESCUE_BIN",
            bin.display(),
            source.display(),
            if changed.is_ok() {
                "changed since"
            } else {
                "gone"
            },
        );
    }
    bin
}

/// The dependencies in a Makefile-style dep-info file that cargo writes beside each
/// binary (`<target>/<profile>/mkrescue.d`: "OUTPUT: SOURCE SOURCE ...", spaces in names
/// escaped with a backslash). Empty when there is no such file.
pub fn dep_info_sources(dep_info: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(dep_info) else {
        return Vec::new();
    };
    let Some((_, deps)) = text.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    let mut sources = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    sources.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        sources.push(PathBuf::from(current));
    }
    sources
}

/// A command running the mkrescue binary under test with `args`.
pub fn mkrescue_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(mkrescue_bin());
    cmd.args(args)
        .env("LC_ALL", "C")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// Runs mkrescue with `args` and returns what it did, whatever its exit status.
pub fn mkrescue(args: &[&str]) -> CmdOutput {
    output(&mut mkrescue_command(args))
}

// ---------------------------------------------------------------------------------------
// Serialising tests that change the host's block devices and mount table
// ---------------------------------------------------------------------------------------

/// Held by every test that attaches loop devices, mounts, or reads the whole host's
/// layout, so that (under nextest's process-per-test) one test's loop disks never appear
/// and vanish in the middle of another's capture. Released on drop; a lock left by a dead
/// process is taken over.
#[derive(Debug)]
pub struct HostLock {
    path: PathBuf,
}

/// Waits (up to 30 minutes) for the host lock: /run/lock/mkrescue-host-tests.lock (on
/// tmpfs, so a reboot clears it; the same for every run whatever its TMPDIR).
pub fn host_lock() -> HostLock {
    let dir = Path::new("/run/lock");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let path = dir.join("mkrescue-host-tests.lock");
    let me = std::process::id().to_string();
    let deadline = Instant::now() + Duration::from_secs(30 * 60);
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(me.as_bytes())
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
                return HostLock { path };
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if lock_is_stale(&path) {
                    let _ = fs::remove_file(&path);
                    continue;
                }
            }
            Err(e) => panic!("cannot create {}: {e}", path.display()),
        }
        assert!(
            Instant::now() < deadline,
            "waited 30 minutes for {} (held by process {}); remove it if that process is gone",
            path.display(),
            fs::read_to_string(&path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lock_is_stale(path: &Path) -> bool {
    match fs::read_to_string(path) {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
            // Just created and not yet written, or garbage: stale once it is old.
            Err(_) => fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(30)),
        },
        Err(_) => false,
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        let mine = fs::read_to_string(&self.path)
            .is_ok_and(|t| t.trim() == std::process::id().to_string());
        if mine {
            if let Err(e) = fs::remove_file(&self.path) {
                eprintln!("warning: cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Loop disks
// ---------------------------------------------------------------------------------------

/// Panics unless `device` is a loop device or one of its partitions.
pub fn assert_loop_device(device: &str) {
    let name = device.strip_prefix("/dev/").unwrap_or("");
    let rest = name.strip_prefix("loop").unwrap_or("");
    assert!(
        !rest.is_empty() && rest.starts_with(|c: char| c.is_ascii_digit()),
        "refusing to write to {device}: the tests only ever write to loop devices"
    );
}

/// A sparse disk image attached to a loop device; detached on drop.
#[derive(Debug)]
pub struct LoopDisk {
    device: String,
    image: PathBuf,
    made_nodes: Vec<PathBuf>,
    _image_dir: Option<tempfile::TempDir>,
}

impl LoopDisk {
    /// A new sparse image of `size_bytes` in a temp dir of its own (under /var/tmp, which
    /// is on disk rather than in memory), attached to a free loop device.
    pub fn new(size_bytes: u64) -> LoopDisk {
        let dir = tempfile::Builder::new()
            .prefix("mkrescue-loop-")
            .tempdir_in("/var/tmp")
            .expect("create a temp dir for a disk image");
        let image = dir.path().join("disk.img");
        let mut disk = LoopDisk::create(&image, size_bytes);
        disk._image_dir = Some(dir);
        disk
    }

    /// Creates (or truncates) a sparse image at `image` and attaches it. The image file
    /// stays when the guard drops; only the loop device goes.
    pub fn create(image: &Path, size_bytes: u64) -> LoopDisk {
        let file = fs::File::create(image)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", image.display()));
        file.set_len(size_bytes)
            .unwrap_or_else(|e| panic!("cannot size {}: {e}", image.display()));
        drop(file);
        LoopDisk::attach(image)
    }

    /// Attaches an existing image to a free loop device, and adds its partitions (if it
    /// has a partition table) to the kernel.
    pub fn attach(image: &Path) -> LoopDisk {
        let stdout = run(command("losetup").args(["--find", "--show"]).arg(image));
        let device = stdout.trim().to_string();
        assert_loop_device(&device);
        let mut disk = LoopDisk {
            device,
            image: image.to_path_buf(),
            made_nodes: Vec::new(),
            _image_dir: None,
        };
        if has_partition_table(&disk.device) {
            disk.rescan();
        }
        disk
    }

    /// The loop device, "/dev/loopN".
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The kernel's name, "loopN".
    pub fn name(&self) -> &str {
        self.device.trim_start_matches("/dev/")
    }

    pub fn image(&self) -> &Path {
        &self.image
    }

    /// /sys/block/loopN
    pub fn sys_dir(&self) -> PathBuf {
        Path::new("/sys/block").join(self.name())
    }

    /// "/dev/loopNpM"
    pub fn partition_path(&self, number: u32) -> String {
        format!("{}p{number}", self.device)
    }

    /// Writes a partition table with `sfdisk` from `script` (sfdisk's input format), then
    /// makes the kernel and /dev show the partitions. Returns their device paths.
    pub fn partition(&mut self, script: &str) -> Vec<String> {
        assert_loop_device(&self.device);
        run_with_stdin(
            command("sfdisk")
                .args([
                    "--quiet",
                    "--no-reread",
                    "--no-tell-kernel",
                    "--wipe",
                    "always",
                ])
                .arg(&self.device),
            script,
        );
        self.rescan()
    }

    /// The partitions the kernel has for this disk now: (number, kernel name).
    pub fn kernel_partitions(&self) -> Vec<(u32, String)> {
        let prefix = format!("{}p", self.name());
        let mut parts: Vec<(u32, String)> = fs::read_dir(self.sys_dir())
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let number = name.strip_prefix(&prefix)?.parse().ok()?;
                        Some((number, name))
                    })
                    .collect()
            })
            .unwrap_or_default();
        parts.sort();
        parts
    }

    /// Makes the kernel's partitions match the table on the disk (`partx -a`, or `-u` when
    /// it already has some: `losetup -P` does not always do it) and makes sure each has a
    /// correct /dev node, with mknod where devtmpfs did not make one. Returns the paths.
    pub fn rescan(&mut self) -> Vec<String> {
        let mode = if self.kernel_partitions().is_empty() {
            "--add"
        } else {
            "--update"
        };
        run(command("partx").arg(mode).arg(&self.device));
        let expected: Vec<u32> = table_partition_numbers(&self.device);
        // The kernel adds partitions synchronously, but be patient with sysfs.
        let deadline = Instant::now() + Duration::from_secs(5);
        let parts = loop {
            let parts = self.kernel_partitions();
            let numbers: Vec<u32> = parts.iter().map(|p| p.0).collect();
            if numbers == expected || Instant::now() > deadline {
                break parts;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let numbers: Vec<u32> = parts.iter().map(|p| p.0).collect();
        assert_eq!(
            numbers, expected,
            "the kernel's partitions of {} do not match its partition table",
            self.device
        );
        parts
            .iter()
            .map(|(number, name)| {
                self.ensure_node(name);
                self.partition_path(*number)
            })
            .collect()
    }

    fn ensure_node(&mut self, name: &str) {
        let devnum = read_sys(&self.sys_dir().join(name).join("dev"));
        let (major, minor) = devnum
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
            .unwrap_or_else(|| panic!("bad dev number {devnum:?} for {name}"));
        let node = Path::new("/dev").join(name);
        // devtmpfs usually makes the node at once; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match node_matches(&node, major, minor) {
                Some(true) => return,
                Some(false) => {
                    // A stale node from an earlier loop device of the same name.
                    fs::remove_file(&node)
                        .unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", node.display()));
                }
                None if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                None => {}
            }
            let out = output(
                command("mknod")
                    .args(["-m", "0660"])
                    .arg(&node)
                    .arg("b")
                    .arg(major.to_string())
                    .arg(minor.to_string()),
            );
            // devtmpfs may have won the race meanwhile; check the node either way.
            if node_matches(&node, major, minor) == Some(true) {
                if out.success() {
                    self.made_nodes.push(node);
                }
                return;
            }
            assert!(
                out.success(),
                "cannot make {}:\n{}",
                node.display(),
                out.report()
            );
        }
    }
}

/// Some(true) when `node` is the block device major:minor, Some(false) when it is
/// something else, None when it does not exist.
fn node_matches(node: &Path, major: u64, minor: u64) -> Option<bool> {
    let meta = fs::symlink_metadata(node).ok()?;
    let rdev = meta.rdev();
    let (maj, min) = (
        ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff),
        (rdev & 0xff) | ((rdev >> 12) & !0xff),
    );
    Some(meta.file_type().is_block_device() && maj == major && min == minor)
}

/// True when `device` (or image) holds a partition table sfdisk can read.
fn has_partition_table(device: &str) -> bool {
    output(command("sfdisk").args(["--json"]).arg(device)).success()
}

/// The partition numbers in the table on `device`, sorted.
fn table_partition_numbers(device: &str) -> Vec<u32> {
    let table = sfdisk_json(device);
    let mut numbers: Vec<u32> = table["partitions"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| {
                    let node = p["node"].as_str()?;
                    let digits = node.trim_start_matches(|c: char| !c.is_ascii_digit());
                    let (_, number) = digits.rsplit_once('p')?;
                    number.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    numbers.sort_unstable();
    numbers
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        // losetup -d does not drop partitions added with partx (the loop has no partscan
        // flag), so remove them first, while the device is still attached.
        if !self.kernel_partitions().is_empty() {
            let out = output(command("partx").arg("--delete").arg(&self.device));
            if !out.success() {
                eprintln!(
                    "warning: cannot remove the partitions of {} (still mounted?):\n{}",
                    self.device,
                    out.report()
                );
            }
        }
        let out = output(command("losetup").arg("--detach").arg(&self.device));
        if !out.success() {
            eprintln!("warning: cannot detach {}:\n{}", self.device, out.report());
        }
        for node in &self.made_nodes {
            if let Err(e) = fs::remove_file(node) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("warning: cannot remove {}: {e}", node.display());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------------------

/// A mounted filesystem; unmounted on drop.
#[derive(Debug)]
pub struct Mount {
    target: PathBuf,
}

impl Mount {
    /// Mounts `source` at `target` (made if missing) with `options` ("-o"), the type
    /// detected by mount.
    pub fn new(source: &str, target: &Path, options: Option<&str>) -> Mount {
        fs::create_dir_all(target)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", target.display()));
        let mut cmd = command("mount");
        if let Some(options) = options {
            cmd.args(["-o", options]);
        }
        run(cmd.arg(source).arg(target));
        Mount {
            target: target.to_path_buf(),
        }
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Takes over a mount made otherwise (`mount -t tmpfs ...`): unmounted on drop.
    pub fn adopt(target: &Path) -> Mount {
        Mount {
            target: target.to_path_buf(),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let mut last = None;
        for _ in 0..10 {
            let out = output(command("umount").arg(&self.target));
            if out.success() {
                return;
            }
            last = Some(out);
            std::thread::sleep(Duration::from_millis(200));
        }
        let lazy = output(command("umount").arg("--lazy").arg(&self.target));
        eprintln!(
            "warning: {} was busy; {} a lazy unmount\n{}",
            self.target.display(),
            if lazy.success() { "did" } else { "even failed" },
            last.map(|o| o.report()).unwrap_or_default()
        );
    }
}

/// A stack of mounts, unmounted in reverse order on drop (children before parents).
#[derive(Debug, Default)]
pub struct Mounts {
    stack: Vec<Mount>,
}

impl Mounts {
    pub fn new() -> Mounts {
        Mounts::default()
    }

    /// Mounts like [`Mount::new`] and keeps the guard.
    pub fn mount(&mut self, source: &str, target: &Path, options: Option<&str>) -> &Mount {
        self.stack.push(Mount::new(source, target, options));
        self.stack.last().expect("just pushed")
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        while let Some(mount) = self.stack.pop() {
            drop(mount);
        }
    }
}

/// What a program under test mounts at or below a directory, unmounted on drop (deepest
/// first) in case it was killed before it could: a failing test must not leave mounts.
#[derive(Debug)]
pub struct MountedBelow {
    dir: PathBuf,
}

impl MountedBelow {
    pub fn new(dir: &Path) -> MountedBelow {
        MountedBelow {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for MountedBelow {
    fn drop(&mut self) {
        let info = match fs::read_to_string("/proc/self/mountinfo") {
            Ok(info) => info,
            Err(e) => {
                eprintln!("warning: cannot read /proc/self/mountinfo: {e}");
                return;
            }
        };
        // The fifth field; spaces in it are written as \040 (not expected in temp dirs).
        let mut points: Vec<PathBuf> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&self.dir))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in points {
            drop(Mount { target: p });
        }
    }
}

// ---------------------------------------------------------------------------------------
// Filesystems
// ---------------------------------------------------------------------------------------

/// Makes a filesystem: `mkfs.<fstype>` (or mkswap for "swap") on a loop device only, quiet,
/// with `args` before the device. Returns what the tool printed.
pub fn mkfs(fstype: &str, device: &str, args: &[&str]) -> String {
    assert_loop_device(device);
    let mut cmd = match fstype {
        "swap" => command("mkswap"),
        "ext2" | "ext3" | "ext4" => {
            let mut c = command(&format!("mkfs.{fstype}"));
            c.arg("-q");
            c
        }
        "xfs" => {
            let mut c = command("mkfs.xfs");
            c.args(["-q", "-f"]);
            c
        }
        "btrfs" => {
            let mut c = command("mkfs.btrfs");
            c.args(["-q", "-f"]);
            c
        }
        other => command(&format!("mkfs.{other}")),
    };
    run(cmd.args(args).arg(device))
}

// ---------------------------------------------------------------------------------------
// What the judges say: sfdisk, blkid, findmnt, sysfs
// ---------------------------------------------------------------------------------------

/// `sfdisk --json DEVICE`, the "partitiontable" object.
pub fn sfdisk_json(device: &str) -> Value {
    let text = run(command("sfdisk").arg("--json").arg(device));
    let mut value = parse_json(&text, &format!("sfdisk --json {device}"));
    value["partitiontable"].take()
}

/// `blkid -p -o export DEVICE` as a map (values unescaped); empty when blkid finds nothing.
pub fn blkid_probe(device: &str) -> BTreeMap<String, String> {
    let out = output(command("blkid").args(["-p", "-o", "export"]).arg(device));
    match out.code() {
        Some(0) => {}
        // 2: nothing identified
        Some(2) if out.stdout.trim().is_empty() => return BTreeMap::new(),
        _ => panic!("blkid failed:\n{}", out.report()),
    }
    out.stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), unescape_blkid(v)))
        .collect()
}

/// Asserts that `dev` holds the filesystem `fs` of a mountlist, as a restore must leave it:
/// blkid's TYPE, UUID and LABEL (`blkid`: [`blkid_probe`] of `dev`) are `fs`'s, and the
/// filesystem is clean: `e2fsck -fn` (ext2/3/4), `xfs_repair -n` (xfs), `fsck.fat -n` (vfat).
#[track_caller]
pub fn assert_restored_filesystem(
    dev: &str,
    blkid: &BTreeMap<String, String>,
    fs: &rescue_core::mountlist::Filesystem,
) {
    assert_eq!(
        blkid.get("TYPE").map(String::as_str),
        Some(fs.fs_type.as_str()),
        "{dev}: {blkid:?}"
    );
    assert_eq!(blkid.get("UUID"), fs.uuid.as_ref(), "{dev}: {blkid:?}");
    assert_eq!(blkid.get("LABEL"), fs.label.as_ref(), "{dev}: {blkid:?}");
    let fsck = match fs.fs_type {
        ref t if t.is_ext() => Some(("e2fsck", "-fn")),
        rescue_core::mountlist::FsType::Xfs => Some(("xfs_repair", "-n")),
        rescue_core::mountlist::FsType::Vfat => Some(("fsck.fat", "-n")),
        _ => None,
    };
    if let Some((tool, flag)) = fsck {
        let out = output(command(tool).arg(flag).arg(dev));
        assert!(out.success(), "{tool} {flag} {dev}: {}", out.report());
    }
}

/// blkid's export format escapes with a backslash before the character.
fn unescape_blkid(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of `findmnt --real`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub target: String,
    pub source: String,
    pub fstype: String,
    pub options: String,
}

/// `findmnt -J -l -o TARGET,SOURCE,FSTYPE,OPTIONS --real`: every real filesystem mounted.
pub fn findmnt_real() -> Vec<MountEntry> {
    findmnt(&[])
}

/// `findmnt -J -l -o TARGET,SOURCE,FSTYPE,OPTIONS --real [ARGS]`.
pub fn findmnt(args: &[&str]) -> Vec<MountEntry> {
    let text = run(command("findmnt")
        .args(["-J", "-l", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS", "--real"])
        .args(args));
    let value = parse_json(&text, "findmnt");
    let field = |fs: &Value, key: &str| fs[key].as_str().unwrap_or_default().to_string();
    value["filesystems"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|fs| MountEntry {
                    target: field(fs, "target"),
                    source: field(fs, "source"),
                    fstype: field(fs, "fstype"),
                    options: field(fs, "options"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A sysfs (or any small text) file, trimmed.
pub fn read_sys(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A sysfs number.
pub fn read_sys_u64(path: &Path) -> u64 {
    let text = read_sys(path);
    text.parse()
        .unwrap_or_else(|_| panic!("{} holds {text:?}, not a number", path.display()))
}

/// GPT attribute bits from sfdisk's `attrs` text ("RequiredPartition LegacyBIOSBootable
/// GUID:60,63"): bit 0 RequiredPartition, 1 NoBlockIOProtocol, 2 LegacyBIOSBootable,
/// GUID:N bit N.
pub fn parse_gpt_attrs(attrs: &str) -> u64 {
    let mut bits = 0u64;
    for word in attrs.split_whitespace() {
        match word {
            "RequiredPartition" => bits |= 1,
            "NoBlockIOProtocol" => bits |= 1 << 1,
            "LegacyBIOSBootable" => bits |= 1 << 2,
            other => {
                let list = other
                    .strip_prefix("GUID:")
                    .unwrap_or_else(|| panic!("unknown GPT attribute {other:?} from sfdisk"));
                for n in list.split(',') {
                    let n: u32 = n
                        .parse()
                        .unwrap_or_else(|_| panic!("bad GPT attribute bit {n:?} from sfdisk"));
                    assert!(n < 64, "GPT attribute bit {n} out of range");
                    bits |= 1 << n;
                }
            }
        }
    }
    bits
}

/// Writes `contents` to `path`, making its parent directories.
pub fn write_file(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt_attrs_parse_as_sfdisk_prints_them() {
        assert_eq!(parse_gpt_attrs(""), 0);
        assert_eq!(
            parse_gpt_attrs("RequiredPartition GUID:63"),
            0x8000_0000_0000_0001
        );
        assert_eq!(parse_gpt_attrs("LegacyBIOSBootable"), 4);
        assert_eq!(parse_gpt_attrs("GUID:60,62"), 0x5000_0000_0000_0000);
    }

    #[test]
    fn blkid_values_are_unescaped() {
        assert_eq!(unescape_blkid(r"EFI\ system"), "EFI system");
        assert_eq!(unescape_blkid(r"a\\b"), r"a\b");
    }

    #[test]
    fn loop_devices_only() {
        assert_loop_device("/dev/loop0");
        assert_loop_device("/dev/loop12p3");
        for bad in [
            "/dev/vda",
            "/dev/loop",
            "/dev/loop-control",
            "loop0",
            "/dev/sda1",
        ] {
            assert!(
                std::panic::catch_unwind(|| assert_loop_device(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn dep_info_lists_sources_with_escaped_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mkrescue.d");
        fs::write(
            &file,
            "/t/debug/mkrescue: /w/a.rs /w/my\\ dir/b.rs  /w/c.rs\n\n",
        )
        .unwrap();
        assert_eq!(
            dep_info_sources(&file),
            ["/w/a.rs", "/w/my dir/b.rs", "/w/c.rs"].map(PathBuf::from)
        );
        assert!(dep_info_sources(&dir.path().join("missing.d")).is_empty());
    }

    #[test]
    fn commands_are_described_for_a_shell() {
        let mut cmd = Command::new("echo");
        cmd.args(["a b", "it's", "-x=1"]);
        assert_eq!(describe(&cmd), r"echo 'a b' 'it'\''s' -x=1");
    }
}
