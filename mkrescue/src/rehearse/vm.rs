//! One QEMU virtual machine: its command line made from [`VmOptions`] (apart, so it can be
//! checked without QEMU), the serial console logged to a file and open for typing, and a
//! monitor for a clean power-down. The process is killed when the [`Vm`] is dropped, on
//! every path.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS, QEMU's default.
    Bios,
    /// OVMF.
    Uefi,
}

impl Firmware {
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// How QEMU runs the guest's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accel {
    /// Emulated: slow, works everywhere.
    #[default]
    Tcg,
    /// The host's KVM.
    Kvm,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

#[derive(Debug, Clone)]
pub struct VmOptions {
    pub firmware: Firmware,
    pub accel: Accel,
    /// ISO images attached as CD-ROM drives, in order; the machine boots from the first
    /// when there is one. The first four are IDE drives, the rest SCSI (virtio-scsi).
    pub cdroms: Vec<PathBuf>,
    /// An image attached read-only as the first (boot) virtio disk.
    pub boot_disk: Option<PathBuf>,
    /// Disk images attached writable as virtio disks, after `boot_disk`.
    pub disks: Vec<PathBuf>,
    /// Blank disks of these sizes in bytes, made in the VM's scratch directory and
    /// attached as virtio disks after `disks` (see [`Vm::blank_disk`]).
    pub blank_disks: Vec<u64>,
    pub memory_mb: u32,
    /// Named strings for the guest (`-fw_cfg name=...,string=...`): under Linux, files in
    /// /sys/firmware/qemu_fw_cfg/by_name/.
    pub fw_cfg: Vec<(String, String)>,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            firmware: Firmware::Bios,
            accel: Accel::Tcg,
            cdroms: Vec::new(),
            boot_disk: None,
            disks: Vec::new(),
            blank_disks: Vec::new(),
            memory_mb: 512,
            fw_cfg: Vec::new(),
        }
    }
}

pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// IDE has two buses of two drives.
const IDE_DRIVES: usize = 4;

/// Where a VM keeps its files.
#[derive(Debug, Clone)]
pub struct VmFiles {
    pub serial_log: PathBuf,
    pub serial_socket: PathBuf,
    pub monitor_socket: PathBuf,
    /// What the firmware says on its debug port (0x402): SeaBIOS tells which device it
    /// boots from, or that there is none.
    pub firmware_log: PathBuf,
    /// A copy of OVMF's variable store (UEFI only): the guest writes to it.
    pub ovmf_vars: PathBuf,
    /// Blank disk `i` is `blank_disks[i]`.
    pub blank_disks: Vec<PathBuf>,
}

impl VmFiles {
    pub fn in_dir(dir: &Path, blank_disks: usize) -> VmFiles {
        VmFiles {
            serial_log: dir.join("serial.log"),
            serial_socket: dir.join("serial.sock"),
            monitor_socket: dir.join("monitor.sock"),
            firmware_log: dir.join("firmware.log"),
            ovmf_vars: dir.join("OVMF_VARS.fd"),
            blank_disks: (0..blank_disks)
                .map(|i| dir.join(format!("disk{i}.img")))
                .collect(),
        }
    }
}

/// A value of QEMU's key=value option lists: a comma is written twice.
fn opt_value(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// The arguments of `qemu-system-x86_64` for `opts`, with its files in `files`.
pub fn qemu_args(opts: &VmOptions, files: &VmFiles) -> Vec<OsString> {
    let mut a: Vec<String> = vec![
        "-accel".into(),
        opts.accel.name().into(),
        "-nodefaults".into(),
        "-display".into(),
        "none".into(),
        "-no-reboot".into(),
        "-m".into(),
        opts.memory_mb.to_string(),
        // The serial port is a socket for typing into the guest; everything it prints
        // also goes to a log file.
        "-chardev".into(),
        format!(
            "socket,id=ser0,path={},server=on,wait=off,logfile={}",
            opt_value(&files.serial_socket),
            opt_value(&files.serial_log)
        ),
        "-serial".into(),
        "chardev:ser0".into(),
        "-monitor".into(),
        format!(
            "unix:{},server=on,wait=off",
            opt_value(&files.monitor_socket)
        ),
        "-chardev".into(),
        format!("file,id=fwlog,path={}", opt_value(&files.firmware_log)),
        "-device".into(),
        "isa-debugcon,iobase=0x402,chardev=fwlog".into(),
    ];
    if opts.firmware == Firmware::Uefi {
        a.push("-drive".into());
        a.push(format!(
            "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
        ));
        a.push("-drive".into());
        a.push(format!(
            "if=pflash,format=raw,unit=1,file={}",
            opt_value(&files.ovmf_vars)
        ));
    }
    if let Some(disk) = &opts.boot_disk {
        a.push("-drive".into());
        a.push(format!(
            "file={},format=raw,if=virtio,readonly=on",
            opt_value(disk)
        ));
    }
    for disk in opts.disks.iter().chain(&files.blank_disks) {
        a.push("-drive".into());
        a.push(format!("file={},format=raw,if=virtio", opt_value(disk)));
    }
    if opts.cdroms.len() > IDE_DRIVES {
        a.push("-device".into());
        a.push("virtio-scsi-pci,id=scsi0".into());
    }
    for (i, iso) in opts.cdroms.iter().enumerate() {
        a.push("-drive".into());
        if i < IDE_DRIVES {
            a.push(format!(
                "file={},media=cdrom,if=ide,index={i},readonly=on",
                opt_value(iso)
            ));
        } else {
            a.push(format!(
                "file={},media=cdrom,if=none,id=cd{i},readonly=on",
                opt_value(iso)
            ));
            a.push("-device".into());
            a.push(format!("scsi-cd,bus=scsi0.0,drive=cd{i}"));
        }
    }
    if !opts.cdroms.is_empty() {
        a.push("-boot".into());
        a.push("order=d".into());
    }
    for (name, value) in &opts.fw_cfg {
        a.push("-fw_cfg".into());
        a.push(format!("name={name},string={}", value.replace(',', ",,")));
    }
    a.into_iter().map(OsString::from).collect()
}

#[derive(Debug)]
pub struct Vm {
    child: Child,
    files: VmFiles,
    input: Option<UnixStream>,
    /// The scratch directory, when the VM made its own.
    _dir: Option<tempfile::TempDir>,
}

impl Vm {
    /// Starts QEMU with its files in a scratch directory of its own (removed with the VM).
    pub fn start(opts: &VmOptions) -> anyhow::Result<Vm> {
        let dir = tempfile::tempdir().context("making the VM's scratch directory")?;
        let mut vm = Vm::start_in(opts, dir.path())?;
        vm._dir = Some(dir);
        Ok(vm)
    }

    /// Starts QEMU with its files in `dir` (kept).
    pub fn start_in(opts: &VmOptions, dir: &Path) -> anyhow::Result<Vm> {
        let files = VmFiles::in_dir(dir, opts.blank_disks.len());
        for p in [
            &files.serial_log,
            &files.serial_socket,
            &files.monitor_socket,
        ] {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
            }
        }
        if opts.firmware == Firmware::Uefi {
            fs::copy(OVMF_VARS, &files.ovmf_vars)
                .with_context(|| format!("copying {OVMF_VARS} (is OVMF installed?)"))?;
        }
        for (path, size) in files.blank_disks.iter().zip(&opts.blank_disks) {
            fs::File::create(path)
                .and_then(|f| f.set_len(*size))
                .with_context(|| format!("making the blank disk {}", path.display()))?;
        }
        let child = Command::new("qemu-system-x86_64")
            .args(qemu_args(opts, &files))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting qemu-system-x86_64 (is QEMU installed?)")?;
        Ok(Vm {
            child,
            files,
            input: None,
            _dir: None,
        })
    }

    pub fn serial_log(&self) -> String {
        fs::read(&self.files.serial_log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// What the firmware wrote on its debug port so far.
    pub fn firmware_log(&self) -> String {
        fs::read(&self.files.firmware_log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn serial_path(&self) -> &Path {
        &self.files.serial_log
    }

    /// The image of blank disk `i` (of [`VmOptions::blank_disks`]), as the guest left it.
    pub fn blank_disk(&self, i: usize) -> PathBuf {
        self.files.blank_disks[i].clone()
    }

    /// QEMU's exit status, if it has ended.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        self.child.try_wait().context("asking whether QEMU ended")
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
                    "QEMU exited ({status}{}) before {needle:?} appeared; serial log tail:\n{}",
                    self.stderr_note(),
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

    /// Waits for QEMU to exit by itself (the guest powered off), at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
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

    /// What QEMU wrote on stderr, once it has ended: ": <first lines>" or nothing.
    fn stderr_note(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            // Best effort: the note only adds to an error already being reported.
            let _ = err.read_to_string(&mut text);
        }
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!("; QEMU said: {}", tail(text, 5))
        }
    }

    /// Asks the guest to power off (ACPI, as a power button does) and waits up to `grace`
    /// for it; then QEMU is made to quit. Whether the guest went by itself is returned.
    pub fn power_down(&mut self, grace: Duration) -> anyhow::Result<bool> {
        if self.child.try_wait()?.is_some() {
            return Ok(true);
        }
        self.monitor("system_powerdown")?;
        if self.wait_exit(grace).is_ok() {
            return Ok(true);
        }
        // The monitor may be gone with a QEMU that is ending anyway.
        let _ = self.monitor("quit");
        if self.wait_exit(Duration::from_secs(10)).is_err() {
            self.child.kill().context("killing QEMU")?;
            self.child.wait().context("waiting for QEMU")?;
        }
        Ok(false)
    }

    /// One command to QEMU's monitor.
    fn monitor(&self, command: &str) -> anyhow::Result<()> {
        let path = &self.files.monitor_socket;
        let mut s = UnixStream::connect(path)
            .with_context(|| format!("connecting to QEMU's monitor at {}", path.display()))?;
        s.write_all(format!("{command}\n").as_bytes())
            .with_context(|| format!("sending {command:?} to QEMU's monitor"))?;
        // Give the monitor time to read the line before the socket closes.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// Types `text` on the guest's serial console.
    pub fn send(&mut self, text: &str) -> anyhow::Result<()> {
        if self.input.is_none() {
            let path = &self.files.serial_socket;
            let stream = UnixStream::connect(path)
                .with_context(|| format!("connecting to {}", path.display()))?;
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

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(opts: &VmOptions) -> Vec<String> {
        let files = VmFiles::in_dir(Path::new("/run/vm"), opts.blank_disks.len());
        qemu_args(opts, &files)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn three_volumes_are_three_ide_cd_drives_and_the_disks_virtio() {
        let a = args(&VmOptions {
            firmware: Firmware::Uefi,
            cdroms: vec!["/m/rescue-1.iso".into(), "/m/rescue-2.iso".into()],
            disks: vec!["/k/disk0.img".into()],
            blank_disks: vec![1 << 30],
            fw_cfg: vec![("opt/mkrescue/cmdline".into(), "rescue.mode=nuke a,b".into())],
            ..VmOptions::default()
        });
        let line = a.join(" ");
        assert!(line.starts_with("-accel tcg -nodefaults"), "{line}");
        assert!(line.contains("if=pflash,format=raw,unit=1,file=/run/vm/OVMF_VARS.fd"));
        assert!(line.contains(
            "-drive file=/k/disk0.img,format=raw,if=virtio -drive \
             file=/run/vm/disk0.img,format=raw,if=virtio"
        ));
        assert!(line.contains("file=/m/rescue-1.iso,media=cdrom,if=ide,index=0,readonly=on"));
        assert!(line.contains("file=/m/rescue-2.iso,media=cdrom,if=ide,index=1,readonly=on"));
        assert!(line.contains("-boot order=d"));
        assert!(line.ends_with("-fw_cfg name=opt/mkrescue/cmdline,string=rescue.mode=nuke a,,b"));
        assert!(!line.contains("scsi"));
    }

    #[test]
    fn a_fifth_volume_goes_on_scsi() {
        let a = args(&VmOptions {
            cdroms: (1..=5)
                .map(|i| format!("/m/rescue-{i}.iso").into())
                .collect(),
            ..VmOptions::default()
        })
        .join(" ");
        assert!(a.contains("-device virtio-scsi-pci,id=scsi0"));
        assert!(a.contains("file=/m/rescue-5.iso,media=cdrom,if=none,id=cd4,readonly=on"));
        assert!(a.contains("-device scsi-cd,bus=scsi0.0,drive=cd4"));
        assert!(!a.contains("pflash"));
    }
}
