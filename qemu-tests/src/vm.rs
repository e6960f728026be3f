//! One QEMU virtual machine, killed when dropped.

use anyhow::{bail, Context};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS, QEMU's default.
    Bios,
    /// OVMF.
    Uefi,
}

#[derive(Debug, Clone)]
pub struct VmOptions {
    pub firmware: Firmware,
    /// An ISO attached as a CD-ROM drive.
    pub cdrom: Option<PathBuf>,
    /// An image attached read-only as the first (boot) virtio disk.
    pub boot_disk: Option<PathBuf>,
    /// Blank disks of these sizes in bytes, attached as virtio disks.
    pub blank_disks: Vec<u64>,
    pub memory_mb: u32,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            firmware: Firmware::Bios,
            cdrom: None,
            boot_disk: None,
            blank_disks: Vec::new(),
            memory_mb: 512,
        }
    }
}

#[derive(Debug)]
pub struct Vm {
    child: Child,
    serial: PathBuf,
    socket: PathBuf,
    input: Option<UnixStream>,
    _dir: tempfile::TempDir,
}

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

impl Vm {
    pub fn start(opts: &VmOptions) -> anyhow::Result<Vm> {
        let dir = tempfile::tempdir().context("making the VM's scratch directory")?;
        let serial = dir.path().join("serial.log");
        let socket = dir.path().join("serial.sock");
        let mut cmd = Command::new("qemu-system-x86_64");
        // TCG: KVM hangs on these machines. The serial port is a socket for typing into
        // the guest, and everything it prints also goes to a log file.
        cmd.args([
            "-accel",
            "tcg",
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
        ])
        .args(["-m", &opts.memory_mb.to_string()])
        .arg("-chardev")
        .arg(format!(
            "socket,id=ser0,path={},server=on,wait=off,logfile={}",
            socket.display(),
            serial.display()
        ))
        .args(["-serial", "chardev:ser0"]);
        if opts.firmware == Firmware::Uefi {
            let vars = dir.path().join("OVMF_VARS.fd");
            fs::copy(OVMF_VARS, &vars).with_context(|| format!("copying {OVMF_VARS}"))?;
            cmd.arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
                ))
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
        }
        if let Some(disk) = &opts.boot_disk {
            cmd.arg("-drive").arg(format!(
                "file={},format=raw,if=virtio,readonly=on",
                disk.display()
            ));
        }
        for (i, size) in opts.blank_disks.iter().enumerate() {
            let path = dir.path().join(format!("disk{i}.img"));
            fs::File::create(&path)?.set_len(*size)?;
            cmd.arg("-drive")
                .arg(format!("file={},format=raw,if=virtio", path.display()));
        }
        if let Some(iso) = &opts.cdrom {
            cmd.arg("-drive").arg(format!(
                "file={},media=cdrom,if=ide,readonly=on",
                iso.display()
            ));
            cmd.args(["-boot", "order=d"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting qemu-system-x86_64")?;
        Ok(Vm {
            child,
            serial,
            socket,
            input: None,
            _dir: dir,
        })
    }

    pub fn serial_log(&self) -> String {
        fs::read(&self.serial)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits until the serial console shows `needle`; returns the whole log so far.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let log = self.serial_log();
            if log.contains(needle) {
                return Ok(log);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "QEMU exited ({status}) before {needle:?} appeared; serial log tail:\n{}",
                    tail(&log, 40)
                );
            }
            if start.elapsed() > timeout {
                bail!(
                    "{needle:?} did not appear on the serial console within {}s; log tail:\n{}",
                    timeout.as_secs(),
                    tail(&log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn serial_path(&self) -> &Path {
        &self.serial
    }

    /// The image of blank disk `i` (of [`VmOptions::blank_disks`]), as the guest left it;
    /// removed with the VM.
    pub fn blank_disk(&self, i: usize) -> PathBuf {
        self._dir.path().join(format!("disk{i}.img"))
    }

    /// Waits for QEMU to exit by itself (the guest powered off), at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                bail!(
                    "QEMU did not exit within {}s; serial log tail:\n{}",
                    timeout.as_secs(),
                    tail(&self.serial_log(), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Types `text` on the guest's serial console.
    pub fn send(&mut self, text: &str) -> anyhow::Result<()> {
        if self.input.is_none() {
            let stream = UnixStream::connect(&self.socket)
                .with_context(|| format!("connecting to {}", self.socket.display()))?;
            // What the guest prints comes back on the socket too; drain it so the guest
            // never waits on a full buffer (the log file keeps it).
            let mut drain = stream.try_clone()?;
            std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while matches!(drain.read(&mut sink), Ok(n) if n > 0) {}
            });
            self.input = Some(stream);
        }
        let stream = self.input.as_mut().context("serial socket")?;
        // A slow typist: the guest's line discipline may drop a burst.
        for chunk in text.as_bytes().chunks(16) {
            stream.write_all(chunk)?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // The VM is disposable; a kill that fails means it is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
