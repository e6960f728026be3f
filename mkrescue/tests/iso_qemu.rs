//! The "qemu" tier for the boot loaders: rescue media built with the host's ISOLINUX and
//! GRUB, a real kernel (scripts/test-kernel) and a tiny initramfs whose /init is a static
//! C program that prints `HELLO-FROM-INIT` with its command line on /dev/console and
//! powers off. Booted with SeaBIOS and OVMF, from `-cdrom` and as a disk, under TCG.
//!
//! The judge is the serial log: the boot loader's banner, the kernel's command line
//! with `rescue.label=`, and the HELLO line (the default entry is the serial one, so
//! /dev/console is ttyS0). QEMU is killed on every path.
//!
//! A missing tool, kernel or firmware skips with a message; with CI=true it fails.

mod iso_support;

use iso_support::*;
use mkrescue::boot::Console;
use mkrescue::initramfs;
use mkrescue::iso::IsoSource;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
const HELLO: &str = "HELLO-FROM-INIT";
/// Under TCG a boot to init takes seconds; this only bounds a hang.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

const INIT_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
    if (fd < 0) fd = 1;
    char cmdline[4096] = "";
    mkdir("/proc", 0755);
    if (mount("proc", "/proc", "proc", 0, NULL) == 0) {
        int c = open("/proc/cmdline", O_RDONLY);
        if (c >= 0) {
            ssize_t n = read(c, cmdline, sizeof cmdline - 1);
            if (n > 0) cmdline[n] = 0;
            cmdline[strcspn(cmdline, "\n")] = 0;
            close(c);
        }
    }
    dprintf(fd, "\nHELLO-FROM-INIT cmdline=[%s]\n", cmdline);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Firmware {
    SeaBios,
    Ovmf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Medium {
    Cdrom,
    Disk,
}

/// The kernel the tests boot: $TEST_KERNEL_DIR/vmlinuz or .cache/test-kernel/vmlinuz,
/// fetched by scripts/test-kernel when it is not there yet.
fn test_kernel() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = std::env::var_os("TEST_KERNEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/test-kernel"));
    let kernel = dir.join("vmlinuz");
    if !kernel.is_file() {
        let script = root.join("scripts/test-kernel");
        if script.is_file() {
            let _ = Command::new(&script).stdout(Stdio::null()).status();
        }
    }
    kernel.is_file().then_some(kernel)
}

fn prerequisites(firmware: Firmware) -> Option<PathBuf> {
    if !have_tools("qemu", &["qemu-system-x86_64", "gcc"]) || !host_has_boot_loaders() {
        return None;
    }
    if firmware == Firmware::Ovmf
        && !(Path::new(OVMF_CODE).is_file() && Path::new(OVMF_VARS).is_file())
    {
        skip(&format!(
            "qemu tier: OVMF missing ({OVMF_CODE}): install ovmf"
        ));
        return None;
    }
    match test_kernel() {
        Some(kernel) => Some(kernel),
        None => {
            skip("qemu tier: no test kernel (scripts/test-kernel could not fetch one)");
            None
        }
    }
}

/// A gzip'd newc initramfs holding the static /init, /dev/console and /proc.
fn initrd(dir: &Path) -> Vec<u8> {
    let src = dir.join("init.c");
    let bin = dir.join("init");
    fs::write(&src, INIT_C).unwrap();
    run_ok(
        Command::new("gcc")
            .args(["-static", "-Os", "-o"])
            .arg(&bin)
            .arg(&src),
    );
    let mut tree = initramfs::Tree::new();
    tree.host_file("/init", &bin, 0o755).unwrap();
    tree.dir("/dev", 0o755).unwrap();
    tree.char_device("/dev/console", 5, 1, 0o600).unwrap();
    tree.dir("/proc", 0o755).unwrap();
    let mut gz = Vec::new();
    initramfs::write_gzip(&tree, &mut gz, 0, 6).unwrap();
    gz
}

/// Kills QEMU when dropped, on every path.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Boot {
    log: String,
    /// From starting QEMU to the HELLO line.
    to_init: Duration,
}

fn boot(dir: &Path, iso: &Path, firmware: Firmware, medium: Medium) -> Boot {
    let log = dir.join(format!("{firmware:?}-{medium:?}.log"));
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args([
        "-accel",
        "tcg",
        "-m",
        "256",
        "-display",
        "none",
        "-no-reboot",
    ])
    .args(["-monitor", "none", "-nic", "none"])
    .arg("-serial")
    .arg(format!("file:{}", log.display()));
    if firmware == Firmware::Ovmf {
        let vars = dir.join("OVMF_VARS.fd");
        fs::copy(OVMF_VARS, &vars).unwrap();
        cmd.arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()));
    }
    match medium {
        Medium::Cdrom => cmd.arg("-cdrom").arg(iso),
        // snapshot=on: the guest's writes (none expected) never reach the image.
        Medium::Disk => cmd.arg("-drive").arg(format!(
            "file={},format=raw,if=ide,snapshot=on",
            iso.display()
        )),
    };
    let stderr_path = dir.join(format!("{firmware:?}-{medium:?}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path).unwrap());
    let started = Instant::now();
    let mut qemu = Qemu(cmd.spawn().expect("starting qemu-system-x86_64"));
    let mut to_init = None;
    loop {
        let text = String::from_utf8_lossy(&fs::read(&log).unwrap_or_default()).into_owned();
        if to_init.is_none() && text.contains(HELLO) {
            to_init = Some(started.elapsed());
        }
        if let Some(status) = qemu.0.try_wait().unwrap() {
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            // The guest powers itself off after the HELLO line.
            let text = String::from_utf8_lossy(&fs::read(&log).unwrap_or_default()).into_owned();
            let to_init = to_init.or_else(|| text.contains(HELLO).then(|| started.elapsed()));
            return match to_init {
                Some(to_init) => Boot { log: text, to_init },
                None => panic!(
                    "{firmware:?} from {medium:?}: QEMU ended ({status}) before init ran\n\
                     stderr: {stderr}\nserial log:\n{}",
                    tail(&text)
                ),
            };
        }
        if started.elapsed() > BOOT_TIMEOUT {
            // The guard kills QEMU.
            panic!(
                "{firmware:?} from {medium:?}: no {HELLO} within {BOOT_TIMEOUT:?}\nserial log:\n{}",
                tail(&text)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Builds media, boots it and checks the serial log.
fn boots_to_init(firmware: Firmware, medium: Medium) {
    let Some(kernel) = prerequisites(firmware) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let initrd = initrd(dir.path());
    // Serial default entry, so /dev/console (and the HELLO line) is ttyS0.
    let m = build(
        dir.path(),
        &config(Console::Serial, 1),
        IsoSource::Host(kernel),
        IsoSource::Bytes(initrd),
    );
    let b = boot(dir.path(), &m.iso, firmware, medium);
    eprintln!(
        "{firmware:?} from {medium:?}: init ran {:.1} s after QEMU started",
        b.to_init.as_secs_f64()
    );
    let banner = match firmware {
        Firmware::SeaBios => "ISOLINUX ",
        Firmware::Ovmf => "GNU GRUB",
    };
    assert!(
        b.log.contains(banner),
        "no {banner:?} in the serial log:\n{}",
        tail(&b.log)
    );
    let kernel_line = b
        .log
        .lines()
        .find(|l| l.contains("Command line:"))
        .unwrap_or_else(|| panic!("the kernel printed no command line:\n{}", tail(&b.log)));
    let expected =
        format!("rescue.label={LABEL} rescue.mode=interactive console=tty0 console=ttyS0,115200");
    assert!(kernel_line.contains(&expected), "{kernel_line}");
    let hello = b.log.lines().find(|l| l.starts_with(HELLO)).unwrap();
    assert!(hello.contains(&expected), "{hello}");
}

#[test]
fn seabios_boots_the_cdrom() {
    boots_to_init(Firmware::SeaBios, Medium::Cdrom);
}

#[test]
fn ovmf_boots_the_cdrom() {
    boots_to_init(Firmware::Ovmf, Medium::Cdrom);
}

#[test]
fn seabios_boots_the_image_as_a_disk() {
    boots_to_init(Firmware::SeaBios, Medium::Disk);
}

#[test]
fn ovmf_boots_the_image_as_a_disk() {
    boots_to_init(Firmware::Ovmf, Medium::Disk);
}
