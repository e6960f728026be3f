//! The terminal UI driven end to end over the serial console, as a sysadmin at a serial
//! terminal would: rescue media made with `--console serial` boot in QEMU to the UI (drawn
//! at 80x24 on ttyS0), keys are typed one at a time on the serial port, and each screen is
//! read back by a terminal emulator (the `vt100` crate) fed with what the guest wrote.
//!
//! - An interactive restore of /home alone, renamed to /tmp/home, onto a blank disk: the
//!   Start, Disks, Layout, Files, Where, Review and After screens, the boot loader left
//!   out, applied, powered off from the UI. From the host, the disk's table is valid, the
//!   root filesystem holds /tmp/home/corpus equal to the source's /home/corpus and nothing
//!   else of the backup, and the /home partition is made but empty.
//! - Compare, on a machine's own disk with one file changed since its backup (same size,
//!   same mtime: only the content's BLAKE3 tells): the After screen names exactly that
//!   file as CHANGED and nothing else.
//!
//! The console is a stream of escape sequences (ratatui redraws only the cells that
//! changed), so text is looked for on the emulated screen, never in the raw bytes. The
//! bytes are read from QEMU's serial socket, not from its log file (see [`Console`]).
//! Kernel messages, should the kernel print any on the console while the UI runs
//! (`[   12.345678] EXT4-fs ...`), are taken out of the stream: they are not the UI's,
//! and the end of such a line would scroll the emulated screen.
//!
//! On a failure the last screen and the tail of the console are printed; the whole
//! console is kept in target/qemu-artifacts/<test>/serial.log after every run.

use host_tests::{command, host_lock, output, require_root_or_skip, HostLock, LoopDisk, Mounts};
use mkrescue::rehearse::vm::VmFiles;
use qemu_tests::machines::{self, Kind, Machine, MachineOptions};
use qemu_tests::{mkrescue_bin, mkrescue_create, require_qemu, tail, Firmware, Vm, VmOptions};
use std::fs::{self, FileTimes};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// TCG boots the media in well under a minute; the margin is for a loaded machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
/// A screen that follows a key at once (no engine work in between).
const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);
/// The UI polls the keyboard every 100 ms: one key per poll, with room to spare.
const KEY_GAP: Duration = Duration::from_millis(150);
const ROWS: u16 = 24;
const COLS: u16 = 80;

const DOWN: &str = "\x1b[B";
const RIGHT: &str = "\x1b[C";
const ENTER: &str = "\r";
const SPACE: &str = " ";

/// Where the UI takes the terminal (crossterm's EnterAlternateScreen).
const ALT_SCREEN: &[u8] = b"\x1b[?1049h";
/// How every frame the UI draws ends (crossterm's Hide).
const FRAME_END: &[u8] = b"\x1b[?25l";

/// A QEMU machine whose serial console runs the UI, with the console's bytes read from
/// its socket as they come (see `Console`).
struct Ui {
    vm: Vm,
    console: Console,
    test: String,
}

/// The guest's serial console, read from QEMU's socket by a thread of its own and typed
/// into through the same connection.
///
/// QEMU's own log of the console (`VmOptions`' serial log file) is not used to read the
/// screen: QEMU 7.2 writes a byte to that log when the socket is momentarily full (its
/// send returns EAGAIN) and again when its retry goes through, so the log holds some bytes
/// twice while a client is connected. A doubled digit in a cursor position or a doubled
/// `[` leaves wrong cells on the emulated screen for good (ratatui redraws only what
/// changed). What arrives on the socket is each byte once.
struct Console {
    stream: UnixStream,
    got: Arc<Mutex<Vec<u8>>>,
    _reader: std::thread::JoinHandle<()>,
}

impl Console {
    /// Connects to `socket` (made by QEMU as it starts) before the guest prints anything.
    fn connect(socket: &Path) -> Console {
        let until = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(s) => break s,
                Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("connecting to {}: {e}", socket.display()),
            }
        };
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut from = stream.try_clone().expect("cloning the console socket");
        let into = Arc::clone(&got);
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Console {
            stream,
            got,
            _reader: reader,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.got.lock().unwrap().clone()
    }
}

impl Ui {
    fn start(opts: &VmOptions, dir: &Path) -> Ui {
        let vm = Vm::start_in(opts, dir).expect("starting QEMU");
        let console = Console::connect(&VmFiles::in_dir(dir, 0).serial_socket);
        let test = std::thread::current()
            .name()
            .unwrap_or("serial_ui")
            .replace("::", "-");
        Ui { vm, console, test }
    }

    /// The serial console as the guest wrote it (bytes: escape sequences and UTF-8).
    fn log_bytes(&self) -> Vec<u8> {
        self.console.bytes()
    }

    /// The UI's screen now: the console from where the UI last took the terminal, its
    /// kernel messages taken out, through a 24x80 terminal emulator; rows joined by '\n',
    /// trailing blanks kept off.
    fn screen(&self) -> String {
        screen_of(&self.log_bytes())
    }

    /// Waits until the screen shows `text`, polling every 200 ms; returns that screen once
    /// it is drawn to its end (the log is read while the guest writes it: a frame can be
    /// half there). Panics with the last screen and the log's tail on timeout or when QEMU
    /// ends.
    fn wait_screen(&mut self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return self.settled(screen);
            }
            self.give_up_after(start, timeout, &format!("the screen showed {text:?}"));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Fails the test when QEMU has ended or `timeout` since `start` has passed, saying
    /// what did not happen.
    fn give_up_after(&mut self, start: Instant, timeout: Duration, what: &str) {
        let exited = self.vm.try_exit().ok().flatten();
        if exited.is_some() || start.elapsed() > timeout {
            let why = match exited {
                Some(status) => format!("QEMU exited ({status}) before"),
                None => format!("not within {}s:", timeout.as_secs()),
            };
            self.fail(&format!("{why} {what}"));
        }
    }

    /// `screen` once two reads 200 ms apart agree (at most two seconds on).
    fn settled(&self, mut screen: String) -> String {
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
            let again = self.screen();
            if again == screen {
                break;
            }
            screen = again;
        }
        screen
    }

    /// How much of the console has come so far (for [`Ui::wait_drawn`]).
    fn mark(&self) -> usize {
        self.console.got.lock().unwrap().len()
    }

    /// Waits until a screen drawn after `mark` showed `text`, even if only for one frame
    /// (a note that comes and goes between two polls).
    fn wait_drawn(&mut self, mark: usize, text: &str, timeout: Duration) {
        let start = Instant::now();
        while !screens_since(&self.log_bytes(), mark)
            .iter()
            .any(|s| s.contains(text))
        {
            self.give_up_after(start, timeout, &format!("a screen showed {text:?}"));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the screen no longer shows `text`; returns that screen, settled.
    fn wait_screen_without(&mut self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if !screen.contains(text) {
                let screen = self.settled(screen);
                if !screen.contains(text) {
                    return screen;
                }
            }
            self.give_up_after(
                start,
                timeout,
                &format!("the screen stopped showing {text:?}"),
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for `text` on the serial console outside the UI (the rescue system's lines).
    fn wait_line(&mut self, text: &str, timeout: Duration) {
        let start = Instant::now();
        while !String::from_utf8_lossy(&self.log_bytes()).contains(text) {
            self.give_up_after(start, timeout, &format!("the console showed {text:?}"));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Types one key (a character or an escape sequence), then leaves the UI a poll.
    fn key(&mut self, key: &str) {
        if let Err(e) = self.console.stream.write_all(key.as_bytes()) {
            self.fail(&format!("typing {key:?}: {e}"));
        }
        std::thread::sleep(KEY_GAP);
    }

    /// Types `text` one character at a time.
    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(&c.to_string());
        }
    }

    /// Panics with `why`, the last screen and the serial log's tail; the whole log is
    /// kept in target/qemu-artifacts/<test>/serial.log.
    fn fail(&self, why: &str) -> ! {
        panic!("{why}\n{}", self.context());
    }

    /// Keeps the console as read from the socket in target/qemu-artifacts/<test>/
    /// serial.log, and QEMU's own log of it beside (qemu-serial.log, with its doubled
    /// bytes).
    fn keep_log(&self) -> std::io::Result<PathBuf> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("../qemu-artifacts")
            .join(&self.test);
        fs::create_dir_all(&dir)?;
        let to = dir.join("serial.log");
        fs::write(&to, self.log_bytes())?;
        fs::copy(self.vm.serial_path(), dir.join("qemu-serial.log"))?;
        Ok(to)
    }

    /// The last screen and the tail of the serial log (escape sequences taken out), for
    /// a failure message.
    fn context(&self) -> String {
        let bytes = self.log_bytes();
        let kept = self
            .keep_log()
            .map_or_else(|e| format!("(not kept: {e})"), |p| p.display().to_string());
        let plain = String::from_utf8_lossy(&strip_escapes(&bytes)).into_owned();
        format!(
            "last screen:\n{}\n--- serial log tail (escape sequences taken out; whole log: \
             {kept}) ---\n{}",
            framed(&self.screen()),
            tail(&plain, 40)
        )
    }
}

impl Drop for Ui {
    /// The serial log outlives the test: target/qemu-artifacts/<test>/serial.log.
    fn drop(&mut self) {
        let _ = self.keep_log();
    }
}

/// The screen the bytes `log` leave on a 24x80 terminal, from the UI's last start on.
fn screen_of(log: &[u8]) -> String {
    let from = find_last(log, ALT_SCREEN).unwrap_or(0);
    let mut parser = vt100::Parser::new(ROWS, COLS, 0);
    parser.process(&without_kernel_messages(&log[from..]));
    parser
        .screen()
        .rows(0, COLS)
        .map(|r| r.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The screen at the end of each frame drawn after `mark` (ratatui ends every draw by
/// hiding the cursor, `ESC[?25l`).
fn screens_since(log: &[u8], mark: usize) -> Vec<String> {
    let start = find_last(&log[..mark], ALT_SCREEN).unwrap_or(0);
    let mut parser = vt100::Parser::new(ROWS, COLS, 0);
    parser.process(&without_kernel_messages(&log[start..mark]));
    let mut screens = Vec::new();
    let mut rest = &log[mark..];
    while !rest.is_empty() {
        let end = rest
            .windows(FRAME_END.len())
            .position(|w| w == FRAME_END)
            .map_or(rest.len(), |at| at + FRAME_END.len());
        parser.process(&without_kernel_messages(&rest[..end]));
        screens.push(parser.screen().contents());
        rest = &rest[end..];
    }
    screens
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// `log` without the kernel's console lines (`[ 1234.567890] text` up to and with the
/// line's end): they land between (or even inside) the UI's escape sequences, at the
/// cursor, and are no part of what the UI drew.
fn without_kernel_messages(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    let mut i = 0;
    while i < log.len() {
        if let Some(len) = timestamp_len(&log[i..]) {
            let end = log[i + len..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(log.len(), |n| i + len + n + 1);
            i = end;
            continue;
        }
        out.push(log[i]);
        i += 1;
    }
    out
}

/// The length of a printk timestamp (`[    5.123456] `) at the start of `s`, if there is
/// one.
fn timestamp_len(s: &[u8]) -> Option<usize> {
    let rest = s.strip_prefix(b"[")?;
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let rest = &rest[spaces..];
    let secs = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest[secs..].strip_prefix(b".")?;
    let micros = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest[micros..].strip_prefix(b"] ")?;
    (secs > 0 && micros == 6).then(|| s.len() - rest.len())
}

/// `log` with CSI and other escape sequences removed (for showing a log tail).
fn strip_escapes(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    let mut i = 0;
    while i < log.len() {
        match log[i] {
            0x1b if log.get(i + 1) == Some(&b'[') => {
                i += 2;
                while i < log.len() && !(0x40..=0x7e).contains(&log[i]) {
                    i += 1;
                }
                i += 1;
            }
            0x1b => i += 2,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A screen inside a frame, so blank rows and edges show in a failure message.
fn framed(screen: &str) -> String {
    let bar = format!("+{}+", "-".repeat(COLS as usize));
    let rows: Vec<String> = screen
        .split('\n')
        .map(|l| format!("|{l:<width$}|", width = COLS as usize))
        .collect();
    format!("{bar}\n{}\n{bar}", rows.join("\n"))
}

/// The row of `screen` the cursor (`>`) is on, if any.
fn cursor_row(screen: &str) -> Option<&str> {
    screen
        .lines()
        .skip(1) // the tab bar
        .find(|l| l.trim_start().starts_with('>'))
}

/// Builds a machine of `kind` in `work` and makes its media (backup included) in
/// `work/media`, interactive on the serial console by default.
fn machine_and_media(kind: Kind, work: &Path, lock: &HostLock) -> (Machine, PathBuf) {
    let machine = machines::build(kind, work, &MachineOptions::default(), lock)
        .expect("building the machine");
    let out = work.join("media");
    host_tests::run(
        mkrescue_create(&mkrescue_bin().unwrap(), machine.root(), &out).args([
            "--console",
            "serial",
            "--boot-timeout",
            "1",
        ]),
    );
    (machine, out.join("rescue-1.iso"))
}

/// Every path below `dir`, relative, sorted; lost+found's own contents left out.
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if e.file_type().unwrap().is_dir() && rel != "lost+found" {
                stack.push(path);
            }
            out.push(rel);
        }
    }
    out.sort();
    out
}

#[test]
fn an_interactive_restore_over_the_serial_console_puts_home_under_tmp_home() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let lock = host_lock();
    let started = Instant::now();
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    // The UEFI machine has /home as a filesystem of its own (and home/corpus on it). Its
    // media boot under SeaBIOS as well, faster than OVMF under TCG; the boot loader is
    // not reinstalled, so the firmware does not matter to the restore.
    let (machine, iso) = machine_and_media(Kind::Uefi, work.path(), &lock);
    let source_home = machine.root().join("home/corpus");
    let disk_bytes = fs::metadata(machine.image()).unwrap().len();
    let vm_dir = work.path().join("vm");
    fs::create_dir_all(&vm_dir).unwrap();
    let mut ui = Ui::start(
        &VmOptions {
            firmware: Firmware::Bios,
            cdroms: vec![iso],
            blank_disks: vec![disk_bytes],
            memory_mb: 1024,
            ..VmOptions::default()
        },
        &vm_dir,
    );
    eprintln!("machine and media made in {:?}", started.elapsed());

    ui.wait_line("restore-tui: ready (media", BOOT_TIMEOUT);
    let start = ui.wait_screen("Interactive restore", BOOT_TIMEOUT);
    assert!(start.contains("1.Start"), "{start}");
    eprintln!("the UI is up after {:?}", started.elapsed());

    // Disks: the backup's one disk goes to the blank disk of the same size.
    ui.key("i");
    let disks = ui.wait_screen("Enter/c continue", SCREEN_TIMEOUT);
    let mapped = disks.lines().find(|l| l.contains("</dev/vda"));
    assert!(
        mapped.is_some_and(|l| l.contains("same size")),
        "the disk is mapped onto /dev/vda:\n{disks}"
    );

    // Layout: kept as the backup has it.
    ui.key("c");
    let layout = ui.wait_screen("Layout to make", SCREEN_TIMEOUT);
    assert!(layout.contains("no errors"), "{layout}");
    ui.key("c");

    // Files: everything is selected; Space on the root row selects nothing, then
    // home/corpus alone.
    let files = ui.wait_screen("Selected", SCREEN_TIMEOUT);
    assert!(
        cursor_row(&files).is_some_and(|r| r.contains("- /")),
        "the cursor starts on the root row:\n{files}"
    );
    ui.key(SPACE);
    let none = ui.wait_screen("Selected 0 of", SCREEN_TIMEOUT);
    let home_row = none
        .lines()
        .skip_while(|l| !l.contains("- /"))
        .position(|l| l.contains(" home/"))
        .unwrap_or_else(|| ui.fail("no home/ row on the Files screen"));
    for _ in 0..home_row {
        ui.key(DOWN);
    }
    let at_home = ui.screen();
    assert!(
        cursor_row(&at_home).is_some_and(|r| r.contains(" home/")),
        "the cursor is on home/:\n{at_home}"
    );
    ui.key(RIGHT);
    ui.wait_screen("corpus/", SCREEN_TIMEOUT);
    ui.key(DOWN);
    let at_corpus = ui.screen();
    assert!(
        cursor_row(&at_corpus).is_some_and(|r| r.contains("corpus/")),
        "the cursor is on home/corpus/:\n{at_corpus}"
    );
    ui.key(SPACE);
    let selected = ui.wait_screen("[x] + corpus/", SCREEN_TIMEOUT);
    assert!(
        !selected.contains("Selected 0 of"),
        "home/corpus is selected:\n{selected}"
    );
    ui.key("c");

    // Where: renamed, /home=/tmp/home.
    let dest = ui.wait_screen("Where do the files go?", SCREEN_TIMEOUT);
    assert!(dest.contains("Restoring /home/corpus"), "{dest}");
    ui.key("a");
    ui.wait_screen("new:", SCREEN_TIMEOUT);
    ui.type_text("/home=/tmp/home");
    ui.key(ENTER);
    let renamed = ui.wait_screen("(*) Renamed", SCREEN_TIMEOUT);
    assert!(
        renamed
            .lines()
            .any(|l| l.trim_start_matches([' ', '>']) == "/home=/tmp/home"),
        "the rename is listed:\n{renamed}"
    );
    ui.key("c");

    // Review: the plan (made by the engine in the guest), then the disk's name typed.
    let review = ui.wait_screen("and Enter to erase", Duration::from_secs(60));
    assert!(review.contains("ERASES /dev/vda"), "{review}");
    ui.type_text("vda");
    ui.key(ENTER);

    // Restore, then After: no boot loader, applied, power off.
    let after = ui.wait_screen("w apply", Duration::from_secs(150));
    eprintln!("restored after {:?}", started.elapsed());
    assert!(
        after.contains("Restore finished") && !after.contains("problem(s)"),
        "the restore went through:\n{after}"
    );
    // The boot loader is left out: grub-install would fail in a root holding only
    // /tmp/home. `p` powers off at once only once the changes are applied (else it asks
    // again); the host then sees no boot loader written.
    ui.key("b");
    ui.wait_screen("[ ] reinstall GRUB", SCREEN_TIMEOUT);
    let before_w = ui.mark();
    ui.key("w");
    ui.wait_drawn(before_w, "applying...", SCREEN_TIMEOUT);
    let applied = ui.wait_screen_without("applying...", Duration::from_secs(60));
    assert!(
        !applied.contains("failed"),
        "fstab, log and unmounting were applied:\n{applied}"
    );
    assert!(applied.contains("applied: safe to reboot"), "{applied}");
    ui.key("p");
    if let Err(e) = ui.vm.wait_exit(Duration::from_secs(60)) {
        ui.fail(&format!(
            "p did not power off at once (not applied?): {e:#}"
        ));
    }
    let screens = format!(
        "disks:\n{disks}\nlayout:\n{layout}\nreview:\n{review}\nafter:\n{after}\n\
         applied:\n{applied}"
    );
    eprintln!("powered off after {:?}", started.elapsed());

    // From the host: the table, then the root and /home filesystems read-only.
    let mut disk = LoopDisk::attach(&ui.vm.blank_disk(0));
    disk.rescan();
    let verify = output(command("sfdisk").arg("--verify").arg(disk.device()));
    assert!(verify.success(), "sfdisk --verify: {}", verify.report());
    let root_part = machine.volume("/").unwrap().number;
    let home_part = machine.volume("/home").unwrap().number;
    let check = work.path().join("check");
    let mut mounts = Mounts::new();
    mounts.mount(&disk.partition_path(root_part), &check, Some("ro,noload"));
    let restored = check.join("tmp/home/corpus");
    let diffs = corpus::compare(&source_home, &restored).unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}\n{screens}");
    // Nothing else of the backup: the root holds the renamed tree, the mount points the
    // restore made, and its log.
    let others: Vec<String> = entries(&check)
        .into_iter()
        .filter(|p| !p.starts_with("tmp/home/corpus/"))
        .collect();
    eprintln!("on the restored root besides tmp/home/corpus/: {others:?}");
    for gone in [
        "etc/fstab",
        "boot/vmlinuz",
        "boot/grub",
        "usr",
        "etc/hostname",
    ] {
        assert!(
            !check.join(gone).exists(),
            "/{gone} was not selected but is on the restored root: {others:?}"
        );
    }
    let allowed = [
        "boot",
        "boot/efi",
        "home",
        "lost+found",
        "srv",
        "tmp",
        "tmp/home",
        "tmp/home/corpus",
        "var",
        "var/log",
        "var/log/restore-tui.log",
    ];
    let unexpected: Vec<&String> = others
        .iter()
        .filter(|p| !allowed.contains(&p.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "only /home/corpus (as /tmp/home/corpus) was restored, but the root also holds \
         {unexpected:?}"
    );
    drop(mounts);
    // /home's own partition was made, and nothing restored into it.
    let mut home = Mounts::new();
    home.mount(&disk.partition_path(home_part), &check, Some("ro,noload"));
    let in_home = entries(&check);
    assert_eq!(in_home, ["lost+found"], "/home's filesystem is empty");
    drop(home);
    drop(disk);
    drop(ui);
    drop(machine);
    drop(lock);
    eprintln!("done in {:?}", started.elapsed());
}

/// A regular file of a corpus is overwritten with other bytes of the same length, and its
/// mtime set back: size and mtime as the catalog has them, only the content differs.
fn change_content_keep_size_and_mtime(path: &Path) {
    let meta = fs::metadata(path).unwrap();
    assert!(meta.len() > 0, "{} is empty", path.display());
    let mut bytes = fs::read(path).unwrap();
    for b in bytes.iter_mut().take(4096) {
        *b = !*b;
    }
    fs::write(path, &bytes).unwrap();
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_times(FileTimes::new().set_modified(meta.modified().unwrap()))
        .unwrap();
    drop(f);
    assert_eq!(
        fs::metadata(path).unwrap().modified().unwrap(),
        meta.modified().unwrap()
    );
}

#[test]
fn compare_over_the_serial_console_reports_the_one_file_changed_since_the_backup() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let lock = host_lock();
    let started = Instant::now();
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    // The machine's own disk, not one restored by `mkrescue rehearse`: after a nuke,
    // grub-install has rewritten some 290 files under /boot/grub (new mtimes), which a
    // compare rightly lists as CHANGED too; on the machine's own disk the one change made
    // here is the only difference.
    let (mut machine, iso) = machine_and_media(Kind::Bios, work.path(), &lock);
    // After the backup, one file of /var/corpus changes on the machine's own disk.
    let corpus = &machine.corpora()[0].dir;
    let rel = corpus.join("srv/data/d00/f00000.bin");
    change_content_keep_size_and_mtime(&machine.root().join(&rel));
    let changed = format!("/{}", rel.display());
    // Unmounted and detached: the disk image is the machine's disk in QEMU.
    machine.detach();
    let vm_dir = work.path().join("vm");
    fs::create_dir_all(&vm_dir).unwrap();
    let mut ui = Ui::start(
        &VmOptions {
            firmware: Firmware::Bios,
            cdroms: vec![iso],
            disks: vec![machine.image().to_path_buf()],
            memory_mb: 1024,
            ..VmOptions::default()
        },
        &vm_dir,
    );
    eprintln!("machine and media made in {:?}", started.elapsed());
    ui.wait_line("restore-tui: ready (media", BOOT_TIMEOUT);
    ui.wait_screen("Interactive restore", BOOT_TIMEOUT);
    eprintln!("the UI is up after {:?}", started.elapsed());
    ui.key("c");
    let result = ui.wait_screen("Compare finished", Duration::from_secs(120));
    eprintln!("compared after {:?}:\n{result}", started.elapsed());

    // The problems are the lines `   ! ...`: the report's sections (CHANGED (1): and its
    // paths) and its verdict.
    let problems: Vec<&str> = result
        .lines()
        .filter_map(|l| l.strip_prefix("   ! "))
        .collect();
    let listed: Vec<&str> = problems
        .iter()
        .filter_map(|p| p.strip_prefix("  "))
        .collect();
    assert_eq!(
        listed,
        [format!("{changed}: content (BLAKE3)")],
        "exactly the changed file is listed, as changed in content:\n{result}"
    );
    assert!(
        problems.contains(&"CHANGED (1):"),
        "listed as CHANGED:\n{result}"
    );
    for section in ["MISSING", "EXTRA", "UNREADABLE"] {
        assert!(
            !problems.iter().any(|p| p.starts_with(section)),
            "nothing {section}:\n{result}"
        );
    }
    assert!(
        result.contains("Compare finished: 1 difference from the backup"),
        "{result}"
    );
    assert!(!result.contains("more"), "nothing left off:\n{result}");

    // Compare changes nothing: power off from the After screen.
    ui.key("p");
    if let Err(e) = ui.vm.wait_exit(Duration::from_secs(60)) {
        ui.fail(&format!("{e:#}"));
    }
    drop(ui);
    drop(machine);
    drop(lock);
    eprintln!("done in {:?}", started.elapsed());
}

#[cfg(test)]
mod emulator {
    use super::*;

    #[test]
    fn kernel_lines_are_taken_out_even_inside_an_escape_sequence() {
        let log = b"\x1b[?1049h\x1b[1;1Habc\x1b[2[   12.345678] EXT4-fs (vda2): mounted\r\n;1Hdef";
        assert_eq!(
            screen_of(log).lines().take(2).collect::<Vec<_>>(),
            ["abc", "def"]
        );
        assert_eq!(timestamp_len(b"[    5.123456] x"), Some(15));
        assert_eq!(timestamp_len(b"[x] + corpus/"), None);
        assert_eq!(timestamp_len(b"[12.34] "), None);
    }

    #[test]
    fn a_note_drawn_for_one_frame_is_seen() {
        let first = b"\x1b[?1049h\x1b[?25l\x1b[23;2Hready\x1b[?25l";
        let mut log = first.to_vec();
        log.extend_from_slice(b"\x1b[23;2Happlying...\x1b[?25l\x1b[23;2H          \x1b[?25l");
        let screens = screens_since(&log, first.len());
        assert_eq!(screens.len(), 2);
        assert!(screens[0].contains("applying..."));
        assert!(!screens[1].contains("applying") && !screens[1].contains("ready"));
        assert!(screens_since(&log, log.len()).is_empty());
    }

    #[test]
    fn the_screen_is_read_from_the_ui_s_last_start() {
        let log = b"boot text\r\n\x1b[?1049hold\x1b[?1049l$ \x1b[?1049h\x1b[5;3Hnew";
        let screen = screen_of(log);
        assert_eq!(screen.lines().nth(4), Some("  new"));
        assert!(!screen.contains("old"));
        assert_eq!(screen.split('\n').count(), ROWS as usize);
    }
}
