//! restore-tui as /init, PID 1 of the rescue system: mount the kernel's file systems, load
//! the bundled modules, find the boot media, read what it says, list the disks, print the
//! ready line and the status, then offer shell, reboot and power off, forever.
//!
//! `restore-tui --init [--root-dir DIR]` runs the same sequence as an ordinary process for
//! tests ("test mode"): /proc, /sys, /dev and /etc are read under DIR, nothing is mounted,
//! modules are opened but not loaded, the media is read directly, and reboot or power off
//! only print what they would do and exit 0.

pub mod blockdevs;
pub mod cmdline;
pub mod console;
pub mod fw_cfg;
pub mod interactive;
pub mod manifest;
pub mod media;
pub mod menu;
pub mod modules;
pub mod mounts;
pub mod nuke;
pub mod rehearsal;
pub mod shell;
pub mod status;

use crate::tui::StartChoice;
use anyhow::Context;
use cmdline::Mode;
use console::say;
use media::{Access, Places, Search};
use rescue_core::media::CoveredFile;
use rescue_core::mountlist;
use rescue_core::signature::{Trust, TrustedKey};
use rescue_core::volume::{Volume, VolumeError};
use status::Boot;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Where the boot media is mounted.
pub const MEDIA_MOUNT: &str = "/run/rescue/media";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How the init sequence runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Really PID 1: mount, load modules, reboot. Otherwise test mode.
    pub pid1: bool,
    /// Where /proc, /sys, /dev, /lib/modules and /etc/rescue are looked for ("/" as PID 1).
    pub root: PathBuf,
    /// The kernel release whose modules to load (default: the running kernel's).
    pub kernel_release: Option<String>,
}

impl Config {
    /// An absolute path of the rescue system, under the root.
    fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}

/// Whether this process is PID 1.
pub fn is_pid1() -> bool {
    rustix::process::getpid().is_init()
}

/// The whole life of PID 1.
pub fn run_pid1() -> ! {
    let cfg = Config {
        pid1: true,
        root: PathBuf::from("/"),
        kernel_release: None,
    };
    run(&cfg);
    // `run` only returns in test mode; PID 1 must never exit.
    menu::idle_forever()
}

/// Runs the init sequence and the menu. As PID 1 it never returns; in test mode it returns
/// the exit code.
pub fn run(cfg: &Config) -> i32 {
    install_panic_hook(cfg.pid1);
    let mut boot = Boot::default();
    if catch_unwind(AssertUnwindSafe(|| start(cfg, &mut boot))).is_err() {
        say("start-up stopped early");
    }
    say(status::ready_line(&boot));
    if let Ok(Some(code)) = catch_unwind(AssertUnwindSafe(|| start_mode(cfg, &boot))) {
        return code;
    }
    let mut panics = 0;
    loop {
        match catch_unwind(AssertUnwindSafe(|| menu::run(&boot, cfg.pid1))) {
            Ok(code) if !cfg.pid1 => return code,
            Ok(_) => {}
            Err(_) => {
                panics += 1;
                if panics >= 10 {
                    if cfg.pid1 {
                        say("the menu keeps failing: idling");
                        menu::idle_forever();
                    }
                    return 101;
                }
            }
        }
    }
}

/// Every panic is printed; unwinding then lands in `run`, which carries on with the menu.
/// Were unwinding compiled out (panic = "abort"), PID 1 runs the menu from the hook.
fn install_panic_hook(pid1: bool) {
    std::panic::set_hook(Box::new(move |info| {
        say(format_args!(
            "panic: {}",
            info.to_string().replace('\n', " ")
        ));
        if pid1 && cfg!(panic = "abort") {
            menu::run(&Boot::default(), true);
            menu::idle_forever();
        }
    }));
}

/// Steps 1 to 5: each says what it did in one line, and an error in one is printed and
/// does not stop the next.
fn start(cfg: &Config, boot: &mut Boot) {
    if cfg.pid1 {
        setup_pid1();
    } else {
        say(format_args!(
            "test mode (not PID 1): nothing is mounted, loaded or rebooted; reading {}",
            cfg.root.display()
        ));
    }
    let cmdline = read_cmdline(cfg);
    boot.options = cmdline::parse(&cmdline);
    say_options(&boot.options, 0);
    load_modules(cfg, boot.options.debug);
    // The qemu_fw_cfg module is loaded now: the host's options, then where they say the
    // console is, before anything else is said.
    read_host_options(cfg, &cmdline, boot);
    if let Some(name) = boot.options.console.clone() {
        use_console(cfg, &name, boot);
    }
    read_trusted_key(cfg, boot);
    find_media(cfg, boot);
    read_tools(cfg, boot);
    list_disks(cfg, boot);
}

fn setup_pid1() {
    let out = mounts::mount_api();
    match console::reopen_if_needed(Path::new("/dev/console")) {
        Ok(true) => say("opened /dev/console as the console"),
        Ok(false) => {}
        Err(e) => console::error(&e),
    }
    let mut line = if out.mounted.is_empty() {
        "mounted nothing".to_string()
    } else {
        format!("mounted {}", out.mounted.join(" "))
    };
    if !out.already.is_empty() {
        line.push_str(&format!(" ({} already mounted)", out.already.join(" ")));
    }
    say(line);
    for e in &out.errors {
        console::error(e);
    }
    // PID 1 is single-threaded here: nothing reads the environment concurrently.
    std::env::set_var("PATH", PATH);
    std::env::set_var("HOME", "/root");
    if std::env::var_os("TERM").is_none() {
        std::env::set_var("TERM", "linux");
    }
}

/// The kernel command line; empty (after saying why) when it cannot be read.
fn read_cmdline(cfg: &Config) -> String {
    let path = cfg.path("/proc/cmdline");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        console::error(&anyhow::Error::new(e).context(format!("reading {}", path.display())));
        String::new()
    })
}

/// The warnings from the `said`-th on, and the mode the options give.
fn say_options(options: &cmdline::Options, said: usize) {
    for w in options.warnings.iter().skip(said) {
        say(format_args!("warning: kernel command line: {w}"));
    }
    let mut line = format!("mode {}", options.mode);
    if let Some(label) = &options.label {
        line.push_str(&format!(", media label {label}"));
    }
    say(line);
}

/// Options from the host through QEMU's fw_cfg (see [`fw_cfg`]): appended to the kernel
/// command line, so they win, and used from here on.
fn read_host_options(cfg: &Config, cmdline: &str, boot: &mut Boot) {
    let path = cfg.path(fw_cfg::CMDLINE_ITEM);
    let extra = match fw_cfg::read(&path) {
        Ok(Some(text)) => text,
        Ok(None) => {
            if boot.options.debug {
                say("no options from the host (no QEMU fw_cfg item opt/mkrescue/cmdline)");
            }
            return;
        }
        Err(e) => {
            say(format_args!(
                "warning: reading the options from the host ({}): {e}",
                fw_cfg::CMDLINE_ITEM
            ));
            return;
        }
    };
    say(format_args!("options from the host (QEMU fw_cfg): {extra}"));
    let said = boot.options.warnings.len();
    boot.options = cmdline::parse_with_extra(cmdline, &extra);
    say_options(&boot.options, said);
    boot.host_options = Some(extra);
}

/// `rescue.console=NAME`: stdin, stdout and stderr on /dev/NAME from here on, so that what
/// follows reaches that terminal (a rehearsal's serial port) whatever /dev/console is.
/// The options are said again there: the lines before went to the other console.
fn use_console(cfg: &Config, name: &str, boot: &Boot) {
    let tty = Path::new("/dev").join(name);
    if !cfg.pid1 {
        say(format_args!(
            "test mode: rescue.console={name}: would put stdin, stdout and stderr on {}",
            tty.display()
        ));
        return;
    }
    say(format_args!(
        "rescue.console={name}: the console moves to {}",
        tty.display()
    ));
    match console::reopen_on(&tty) {
        Ok(()) => {
            // PID 1 is single-threaded here: nothing reads the environment concurrently.
            std::env::set_var(shell::CONSOLE_ENV, &tty);
            say(format_args!(
                "rescue.console={name}: stdin, stdout and stderr are {}",
                tty.display()
            ));
            if let Some(extra) = &boot.host_options {
                say(format_args!("options from the host (QEMU fw_cfg): {extra}"));
            }
            say_options(&boot.options, 0);
        }
        Err(e) => say(format_args!(
            "warning: rescue.console={name}: {e:#}; keeping the console"
        )),
    }
}

fn load_modules(cfg: &Config, debug: bool) {
    let release = cfg.kernel_release.clone().unwrap_or_else(|| {
        rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned()
    });
    let dir = cfg.path("/lib/modules").join(&release);
    let dep = match std::fs::read_to_string(dir.join("modules.dep")) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            say(format_args!(
                "no modules to load (no /lib/modules/{release}/modules.dep)"
            ));
            return;
        }
        Err(e) => {
            console::error(
                &anyhow::Error::new(e)
                    .context(format!("reading /lib/modules/{release}/modules.dep")),
            );
            return;
        }
    };
    let builtin = std::fs::read_to_string(dir.join("modules.builtin"))
        .map(|t| modules::parse_builtin(&t))
        .unwrap_or_default();
    let (entries, warnings) = modules::parse_dep(&dep);
    for w in warnings {
        say(format_args!("warning: {w}"));
    }
    let plan = modules::plan(&entries, &builtin);
    if !plan.missing.is_empty() {
        let missing: Vec<String> = plan
            .missing
            .iter()
            .map(|(m, d)| format!("{d} (needed by {m})"))
            .collect();
        say(format_args!(
            "warning: modules not in the rescue system: {}",
            missing.join(", ")
        ));
    }
    let report = modules::load_all(&plan, |rel| {
        let path = dir.join(rel);
        let result = if cfg.pid1 {
            load_module(&path, modules::is_compressed(rel))
        } else {
            std::fs::File::open(&path).map(drop)
        };
        if debug {
            match &result {
                Ok(()) => say(format_args!("module {rel}: loaded")),
                Err(e) => say(format_args!("module {rel}: {}", modules::describe(e))),
            }
        }
        result
    });
    say(modules::summary(&report));
}

/// `finit_module(2)`; the kernel decompresses .ko.xz/.ko.zst itself when told to.
fn load_module(path: &Path, compressed: bool) -> io::Result<()> {
    /// MODULE_INIT_COMPRESSED_FILE (Linux 5.17).
    const COMPRESSED_FILE: i32 = 4;
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let flags = if compressed { COMPRESSED_FILE } else { 0 };
    rustix::system::finit_module(&fd, c"", flags)?;
    Ok(())
}

/// `rescue.trusted-key=PATH`: from here on only volumes signed by that key are accepted;
/// a key that cannot be read refuses every volume.
fn read_trusted_key(cfg: &Config, boot: &mut Boot) {
    let Some(path) = boot.options.trusted_key.clone() else {
        return;
    };
    if path.is_empty() {
        boot.trust = Trust::Unusable("rescue.trusted-key names no file".into());
        return;
    }
    match TrustedKey::read(&cfg.path(&path)) {
        Ok(key) => {
            say(format_args!(
                "only media signed by the key in {path} are accepted ({})",
                key.fingerprint()
            ));
            boot.trust = Trust::SignedBy(key);
        }
        Err(e) => {
            let e = anyhow::Error::new(e).context("rescue.trusted-key");
            console::error(&e);
            say("every volume will be refused: only signed media were asked for");
            boot.trust = Trust::Unusable(format!("{e:#}"));
        }
    }
}

fn find_media(cfg: &Config, boot: &mut Boot) {
    let places = Places {
        class_block: cfg.path("/sys/class/block"),
        dev: cfg.path("/dev"),
        make_nodes: cfg.pid1,
    };
    let wanted = boot.options.label.clone();
    let what = match &wanted {
        Some(l) => format!("labelled {l}"),
        None => "labelled RESCUE_*".to_string(),
    };
    let wait = boot.options.wait;
    let search = media::wait_for(&places, wanted.as_deref(), wait, || {
        say(format_args!(
            "waiting up to {} s for the media {what}",
            wait.as_secs()
        ));
    });
    let found = match search {
        Search::Found(f, _) => f,
        Search::NotFound(seen) => {
            let seen = if seen.is_empty() {
                "no block device could hold it".to_string()
            } else {
                seen.join("; ")
            };
            say(format_args!(
                "no media {what} found after {} s: {seen}",
                wait.as_secs()
            ));
            boot.manifest_problem = Some("no media found".into());
            read_mountlist(cfg, boot, None);
            return;
        }
    };
    say(format_args!(
        "found media {} on {}",
        found.label,
        found.path()
    ));
    let device = places.dev.join(&found.name);
    let access = if cfg.pid1 {
        let target = Path::new(MEDIA_MOUNT);
        match mounts::mount_iso(&device, target) {
            Ok(()) => {
                say(format_args!("mounted {} on {MEDIA_MOUNT}", found.path()));
                Access::Mounted(target.to_path_buf())
            }
            Err(e) => {
                console::error(&e);
                say(format_args!("reading {} directly instead", found.path()));
                Access::Direct(device)
            }
        }
    } else {
        say(format_args!(
            "test mode: reading {} directly, not mounting it",
            found.path()
        ));
        Access::Direct(device)
    };
    let volume = read_manifest(&access, &found, boot);
    boot.media = Some(found);
    read_mountlist(cfg, boot, volume.as_ref());
    boot.access = Some(access);
}

/// The boot media as a volume, its manifest checked (and its signature, with
/// `rescue.trusted-key`); says what it holds, or why it cannot be used.
fn read_manifest(access: &Access, found: &media::Found, boot: &mut Boot) -> Option<Volume> {
    let volume = match Volume::open_with(access.path(), &boot.trust) {
        Ok(v) => v,
        Err(VolumeError::NotAVolume { .. }) => {
            say("warning: the media has no /rescue/manifest.json");
            boot.manifest_problem = Some("no /rescue/manifest.json on the media".into());
            return None;
        }
        Err(e) => {
            let e = anyhow::Error::new(e);
            console::error(&e);
            boot.manifest_problem = Some(format!("{e:#}"));
            return None;
        }
    };
    let m = volume.manifest().clone();
    say(format_args!(
        "backup {} of {}, made {}, volume {} of {}",
        m.backup_id,
        if m.hostname.is_empty() {
            "?"
        } else {
            &m.hostname
        },
        manifest::format_utc(m.created),
        m.volume,
        m.volumes
    ));
    if m.label != found.label {
        say(format_args!(
            "warning: the manifest is for {}, the volume is labelled {}",
            m.label, found.label
        ));
    }
    if m.volume != 1 {
        say(format_args!(
            "warning: this is volume {} of {}; the rescue system boots from volume 1",
            m.volume, m.volumes
        ));
    }
    for file in CoveredFile::ALL {
        if let Some(note) = volume.uncovered_note(file) {
            say(format_args!("note: {note}"));
        }
    }
    boot.manifest = Some(m);
    Some(volume)
}

/// The mountlist of the boot media (checked against its manifest), else the rescue
/// system's copy.
fn read_mountlist(cfg: &Config, boot: &mut Boot, volume: Option<&Volume>) {
    if let Some(volume) = volume {
        match volume.read_mountlist() {
            Ok(ml) => {
                say(format_args!(
                    "read the mountlist from the media ({} disk{})",
                    ml.disks.len(),
                    if ml.disks.len() == 1 { "" } else { "s" }
                ));
                boot.mountlist = Some(ml);
                boot.mountlist_source = "from the media".into();
                return;
            }
            Err(VolumeError::Mountlist { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                say("warning: the media has no /rescue/mountlist.json")
            }
            Err(e) => console::error(&anyhow::Error::new(e)),
        }
    }
    let copy = "/etc/rescue/mountlist.json";
    match mountlist::read_file(&cfg.path(copy)) {
        Ok(ml) => {
            say(format_args!(
                "using the rescue system's copy of the mountlist, {copy} ({} disk{})",
                ml.disks.len(),
                if ml.disks.len() == 1 { "" } else { "s" }
            ));
            boot.mountlist = Some(ml);
            boot.mountlist_source = format!("{copy}, the rescue system's copy");
        }
        Err(e) => {
            let e = anyhow::Error::new(e).context(format!("reading {copy}"));
            console::error(&e);
            boot.mountlist_source = format!("{e:#}");
        }
    }
}

fn read_tools(cfg: &Config, boot: &mut Boot) {
    let path = "/etc/rescue/tools.json";
    let tools = std::fs::read_to_string(cfg.path(path))
        .with_context(|| format!("reading {path}"))
        .and_then(|t| manifest::parse_tools(&t).with_context(|| format!("reading {path}")));
    match tools {
        Ok(t) => {
            let mut line = format!("restore tools: {} available", t.available.len());
            if !t.missing.is_empty() {
                line.push_str(&format!(
                    "; missing on the host when the media was made: {}",
                    t.missing.join(" ")
                ));
            }
            say(line);
            boot.tools = Some(t);
        }
        Err(e) => console::error(&e),
    }
}

fn list_disks(cfg: &Config, boot: &mut Boot) {
    let exclude: Vec<String> = boot.media.iter().map(|m| m.disk.clone()).collect();
    match blockdevs::list_disks(&cfg.path("/sys/class/block"), &exclude) {
        Ok(disks) => {
            if disks.is_empty() {
                say("found no disks");
            } else {
                let list: Vec<String> = disks
                    .iter()
                    .map(|d| {
                        format!(
                            "{} {}",
                            d.path(),
                            rescue_core::size::format_bytes(d.size_bytes)
                        )
                    })
                    .collect();
                say(format_args!(
                    "found {} disk{}: {}",
                    disks.len(),
                    if disks.len() == 1 { "" } else { "s" },
                    list.join(", ")
                ));
            }
            boot.disks = disks;
        }
        Err(e) => console::error(&e.context("listing the disks")),
    }
}

/// Step 6, after the ready line: what the mode does before the menu, one arm each.
/// Returns an exit code only in test mode, when the mode ends the run.
fn start_mode(cfg: &Config, boot: &Boot) -> Option<i32> {
    match boot.options.mode {
        Mode::Expert => {
            say("expert mode: starting a shell; the menu follows when it ends");
            if let Err(e) = shell::run_shell(cfg.pid1) {
                console::error(&e);
            }
            None
        }
        Mode::Nuke => {
            console::show(&status::render(boot));
            nuke::run(cfg, boot)
        }
        Mode::Interactive => {
            console::show(&status::render(boot));
            interactive::run(boot, cfg.pid1, None)
        }
        Mode::Compare => {
            console::show(&status::render(boot));
            interactive::run(boot, cfg.pid1, Some(StartChoice::Compare))
        }
    }
}
