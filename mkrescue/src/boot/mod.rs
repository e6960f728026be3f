//! The boot loaders of the rescue media, taken from the host, and their menus.
//!
//! - BIOS: ISOLINUX (`isolinux.bin`, `ldlinux.c32`) as the El Torito no-emulation
//!   entry, and syslinux's `isohdpfx.bin` as the hybrid MBR's boot code.
//! - UEFI: GRUB built with `grub-mkstandalone --format=x86_64-efi` (through the
//!   [`Runner`]) with a built-in configuration that finds the media by its volume label
//!   and loads `/boot/grub/grub.cfg` from it, stored as `/EFI/BOOT/BOOTX64.EFI` in a FAT
//!   image (`/boot/efiboot.img`) that the El Torito UEFI entry and the GPT's EFI system
//!   partition point at.
//!
//! With only one of the two available, [`prepare`] builds that one and warns; with
//! neither, it fails naming the packages that provide them.

pub mod bios;
pub mod menu;
pub mod uefi;

use crate::iso::{BiosEntry, IsoSource};
use anyhow::{bail, Context, Result};
use rescue_core::runner::Runner;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Which console the default menu entry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Console {
    /// The screen (kernel messages also go to the first serial port).
    Vga,
    /// The first serial port, 115200 baud: for headless hosts.
    Serial,
}

/// What the menus boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootConfig {
    /// The ISO volume id, e.g. RESCUE_1A2B3C4D: `rescue.label=` on the kernel command
    /// line, and what the UEFI boot loader searches for.
    pub label: String,
    /// The kernel's path on the ISO: "/boot/vmlinuz".
    pub kernel: String,
    /// The initramfs's path on the ISO: "/boot/initrd.gz".
    pub initrd: String,
    pub console: Console,
    /// How long the menus wait before booting the default; 0 boots it at once.
    pub timeout_seconds: u32,
    /// Appended to every entry's kernel command line.
    pub extra_args: String,
}

/// Where the boot loader files are looked for; [`HostPaths::host`] for the running
/// system, other directories in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// Searched in order for `isolinux.bin`, `ldlinux.c32` and `isohdpfx.bin`.
    pub syslinux_dirs: Vec<PathBuf>,
    /// GRUB's x86_64-efi module directories, searched in order.
    pub grub_efi_dirs: Vec<PathBuf>,
    /// A `PATH`-style list searched for `grub-mkstandalone` (`grub2-mkstandalone` on
    /// RHEL).
    pub path: OsString,
}

impl HostPaths {
    /// Where Debian/Ubuntu, RHEL/Fedora, SUSE and Arch put these files.
    pub fn host() -> HostPaths {
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        for dir in [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ] {
            if !std::env::split_paths(&path).any(|p| p == Path::new(dir)) {
                if !path.is_empty() {
                    path.push(":");
                }
                path.push(dir);
            }
        }
        HostPaths {
            syslinux_dirs: [
                "/usr/lib/ISOLINUX",              // Debian, Ubuntu: isolinux
                "/usr/lib/syslinux/modules/bios", // Debian, Ubuntu: syslinux-common
                "/usr/lib/syslinux/mbr",          // Debian, Ubuntu: syslinux-common
                "/usr/share/syslinux",            // RHEL, Fedora, SUSE: syslinux
                "/usr/lib/syslinux/bios",         // Arch
                "/usr/lib/syslinux",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            grub_efi_dirs: ["/usr/lib/grub/x86_64-efi", "/usr/lib/grub2/x86_64-efi"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            path,
        }
    }
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths::host()
    }
}

/// The boot files of the media.
#[derive(Debug, Clone)]
pub struct BootFiles {
    /// Files to add to the ISO, by ISO path (the kernel and initrd are not among them).
    pub files: Vec<(String, IsoSource)>,
    pub bios: Option<BiosEntry>,
    /// ISO path of the FAT image for the UEFI entry.
    pub uefi: Option<String>,
    /// What the media will lack ("no UEFI boot: ...").
    pub warnings: Vec<String>,
}

/// ISO paths of the boot files.
pub const ISOLINUX_DIR: &str = "/boot/isolinux";
pub const GRUB_CFG: &str = "/boot/grub/grub.cfg";
pub const EFIBOOT_IMG: &str = "/boot/efiboot.img";

/// What the host offers, or why it offers nothing.
enum Found<T> {
    Yes(T),
    /// A message naming what is missing and the packages that provide it.
    Missing(String),
}

/// Gathers the BIOS and UEFI boot loaders from the host and renders their menus.
/// `scratch` is a directory for built files (the GRUB EFI binary, the FAT image); it
/// must outlive the ISO writing, which reads them from there.
pub fn prepare(
    cfg: &BootConfig,
    search: &HostPaths,
    runner: &dyn Runner,
    scratch: &Path,
) -> Result<BootFiles> {
    menu::check(cfg)?;
    let mut out = BootFiles {
        files: Vec::new(),
        bios: None,
        uefi: None,
        warnings: Vec::new(),
    };
    let bios = match bios::find(search) {
        Ok(files) => Found::Yes(files),
        Err(missing) => Found::Missing(missing),
    };
    let uefi = uefi::build(cfg, search, runner, scratch)?;
    match (&bios, &uefi) {
        (Found::Missing(b), Found::Missing(u)) => {
            bail!("the rescue media cannot boot: no boot loader found on this host\n- {b}\n- {u}")
        }
        (Found::Missing(b), _) => out
            .warnings
            .push(format!("the media will not boot on BIOS machines: {b}")),
        (_, Found::Missing(u)) => out
            .warnings
            .push(format!("the media will not boot on UEFI machines: {u}")),
        _ => {}
    }
    if let Found::Yes(files) = bios {
        let dir = ISOLINUX_DIR;
        out.files.push((
            format!("{dir}/isolinux.bin"),
            IsoSource::Host(files.isolinux),
        ));
        out.files
            .push((format!("{dir}/ldlinux.c32"), IsoSource::Host(files.ldlinux)));
        out.files.push((
            format!("{dir}/isolinux.cfg"),
            IsoSource::Bytes(menu::isolinux_cfg(cfg)?.into_bytes()),
        ));
        out.files.push((
            format!("{dir}/boot.msg"),
            IsoSource::Bytes(menu::isolinux_msg(cfg)?.into_bytes()),
        ));
        let mbr = match &files.isohdpfx {
            Some(path) => {
                let code =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                if code.len() > 432 {
                    out.warnings.push(format!(
                        "{} is {} bytes, not the 432 of isohybrid boot code: written to a \
                         USB stick, the media will not boot on BIOS machines",
                        path.display(),
                        code.len()
                    ));
                    None
                } else {
                    Some(code)
                }
            }
            None => {
                out.warnings.push(format!(
                    "isohdpfx.bin was not found in {}: written to a USB stick, the media \
                     will not boot on BIOS machines (install isolinux on Debian/Ubuntu, \
                     syslinux on RHEL/Fedora)",
                    bios::dirs_list(search)
                ));
                None
            }
        };
        out.bios = Some(BiosEntry {
            image: format!("{dir}/isolinux.bin"),
            catalog: format!("{dir}/boot.cat"),
            mbr,
        });
    }
    if let Found::Yes(esp) = uefi {
        out.files.push((
            GRUB_CFG.to_string(),
            IsoSource::Bytes(menu::grub_cfg(cfg)?.into_bytes()),
        ));
        out.files
            .push((EFIBOOT_IMG.to_string(), IsoSource::Host(esp)));
        out.uefi = Some(EFIBOOT_IMG.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::runner::Recording;
    use std::fs;

    fn cfg() -> BootConfig {
        BootConfig {
            label: "RESCUE_TEST".into(),
            kernel: "/boot/vmlinuz".into(),
            initrd: "/boot/initrd.gz".into(),
            console: Console::Vga,
            timeout_seconds: 5,
            extra_args: String::new(),
        }
    }

    /// A fake host: syslinux files in one directory, GRUB modules in another, a
    /// grub-mkstandalone on the PATH (the recording runner never runs it).
    struct FakeHost {
        dir: tempfile::TempDir,
    }

    impl FakeHost {
        fn new(bios: bool, grub: bool) -> FakeHost {
            let dir = tempfile::tempdir().unwrap();
            let sys = dir.path().join("syslinux");
            let grub_dir = dir.path().join("grub/x86_64-efi");
            let bin = dir.path().join("bin");
            for d in [&sys, &grub_dir, &bin] {
                fs::create_dir_all(d).unwrap();
            }
            if bios {
                fs::write(sys.join("isolinux.bin"), vec![0xfa; 2048]).unwrap();
                fs::write(sys.join("ldlinux.c32"), b"ldlinux").unwrap();
                fs::write(sys.join("isohdpfx.bin"), vec![0x33; 432]).unwrap();
            }
            if grub {
                for m in uefi::MODULES {
                    fs::write(grub_dir.join(format!("{m}.mod")), b"").unwrap();
                }
                fs::write(grub_dir.join("moddep.lst"), b"").unwrap();
                let tool = bin.join("grub-mkstandalone");
                fs::write(&tool, "#!/bin/sh\nexit 1\n").unwrap();
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
            }
            FakeHost { dir }
        }

        fn paths(&self) -> HostPaths {
            HostPaths {
                syslinux_dirs: vec![self.dir.path().join("syslinux")],
                grub_efi_dirs: vec![self.dir.path().join("grub/x86_64-efi")],
                path: self.dir.path().join("bin").into_os_string(),
            }
        }

        /// What the recording runner does not: leave grub-mkstandalone's output behind.
        fn fake_efi_binary(&self, scratch: &Path) {
            fs::create_dir_all(scratch).unwrap();
            fs::write(scratch.join("BOOTX64.EFI"), vec![0x4d; 300_000]).unwrap();
        }
    }

    #[test]
    fn both_loaders_give_both_entries_and_every_file() {
        let host = FakeHost::new(true, true);
        let scratch = host.dir.path().join("scratch");
        host.fake_efi_binary(&scratch);
        let runner = Recording::new();
        let files = prepare(&cfg(), &host.paths(), &runner, &scratch).unwrap();
        assert!(files.warnings.is_empty(), "{:?}", files.warnings);
        let paths: Vec<_> = files.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/boot/isolinux/isolinux.bin",
                "/boot/isolinux/ldlinux.c32",
                "/boot/isolinux/isolinux.cfg",
                "/boot/isolinux/boot.msg",
                "/boot/grub/grub.cfg",
                "/boot/efiboot.img"
            ]
        );
        let bios = files.bios.unwrap();
        assert_eq!(bios.image, "/boot/isolinux/isolinux.bin");
        assert_eq!(bios.catalog, "/boot/isolinux/boot.cat");
        assert_eq!(bios.mbr, Some(vec![0x33; 432]));
        assert_eq!(files.uefi.as_deref(), Some("/boot/efiboot.img"));

        let transcript = runner.transcript();
        assert_eq!(transcript.len(), 1, "{transcript:?}");
        let cmds = runner.commands();
        let grub = &cmds[0];
        assert!(grub.program.ends_with("/bin/grub-mkstandalone"));
        assert_eq!(grub.description, "build the UEFI boot loader (GRUB)");
        let line = &transcript[0];
        for part in [
            "--format=x86_64-efi",
            "--directory=",
            "--locales= --fonts= --themes=",
            &format!("--output={}/BOOTX64.EFI", scratch.display()),
            &format!("boot/grub/grub.cfg={}/early.cfg", scratch.display()),
        ] {
            assert!(line.contains(part), "{part} not in {line}");
        }
        let modules = grub
            .args
            .iter()
            .find_map(|a| a.to_str()?.strip_prefix("--modules="))
            .unwrap();
        for m in [
            "iso9660",
            "search_label",
            "linux",
            "serial",
            "part_gpt",
            "gzio",
        ] {
            assert!(modules.split(' ').any(|x| x == m), "{m} not in {modules}");
        }
        let early = fs::read_to_string(scratch.join("early.cfg")).unwrap();
        assert!(early.contains("--label RESCUE_TEST\n"), "{early}");

        // The FAT image holds the binary where firmware looks for it.
        let esp = fs::read(scratch.join("efiboot.img")).unwrap();
        assert_eq!(&esp[510..512], &[0x55, 0xAA]);
        let fs = hadris_fs::sync::Volume::new(
            hadris_fat::sync::FatFs::mount(
                hadris_storage::MemDevice::new(esp, hadris_storage::BlockSize::new(512).unwrap()),
                hadris_fs::MountOptions::new(),
            )
            .unwrap(),
        );
        let meta = fs.metadata("/EFI/BOOT/BOOTX64.EFI").unwrap();
        assert_eq!(meta.len(), 300_000);
    }

    #[test]
    fn only_bios_warns_about_uefi() {
        let host = FakeHost::new(true, false);
        let scratch = host.dir.path().join("scratch");
        let runner = Recording::new();
        let files = prepare(&cfg(), &host.paths(), &runner, &scratch).unwrap();
        assert!(files.bios.is_some());
        assert!(files.uefi.is_none());
        assert!(runner.transcript().is_empty());
        assert_eq!(files.warnings.len(), 1);
        let w = &files.warnings[0];
        assert!(
            w.starts_with("the media will not boot on UEFI machines"),
            "{w}"
        );
        assert!(
            w.contains("grub-efi-amd64-bin") && w.contains("grub2-efi-x64-modules"),
            "{w}"
        );
    }

    #[test]
    fn only_uefi_warns_about_bios() {
        let host = FakeHost::new(false, true);
        let scratch = host.dir.path().join("scratch");
        host.fake_efi_binary(&scratch);
        let files = prepare(&cfg(), &host.paths(), &Recording::new(), &scratch).unwrap();
        assert!(files.bios.is_none());
        assert_eq!(files.uefi.as_deref(), Some("/boot/efiboot.img"));
        assert_eq!(files.warnings.len(), 1);
        let w = &files.warnings[0];
        assert!(
            w.starts_with("the media will not boot on BIOS machines"),
            "{w}"
        );
        assert!(
            w.contains("isolinux") && w.contains("syslinux-common"),
            "{w}"
        );
        assert!(w.contains("syslinux on RHEL"), "{w}");
    }

    #[test]
    fn neither_is_an_error_naming_every_package() {
        let host = FakeHost::new(false, false);
        let scratch = host.dir.path().join("scratch");
        let err = prepare(&cfg(), &host.paths(), &Recording::new(), &scratch)
            .unwrap_err()
            .to_string();
        for pkg in [
            "isolinux",
            "syslinux-common",
            "syslinux on RHEL",
            "grub-efi-amd64-bin",
            "grub2-efi-x64-modules",
        ] {
            assert!(err.contains(pkg), "{pkg} not in {err}");
        }
    }

    #[test]
    fn a_missing_grub_tool_is_missing_uefi_not_a_failure() {
        let host = FakeHost::new(true, true);
        let scratch = host.dir.path().join("scratch");
        // The runner says the program vanished between lookup and run.
        let runner = Recording::new();
        runner.reply_not_found();
        let files = prepare(&cfg(), &host.paths(), &runner, &scratch).unwrap();
        assert!(files.uefi.is_none());
        assert!(
            files.warnings[0].contains("grub-mkstandalone"),
            "{:?}",
            files.warnings
        );
    }

    #[test]
    fn a_failing_grub_tool_is_an_error() {
        let host = FakeHost::new(true, true);
        let scratch = host.dir.path().join("scratch");
        let runner = Recording::new();
        runner.reply_exit(
            1,
            "grub-mkstandalone: error: cannot open `x': No such file.\n",
        );
        let err = format!(
            "{:#}",
            prepare(&cfg(), &host.paths(), &runner, &scratch).unwrap_err()
        );
        assert!(err.contains("building the UEFI boot loader"), "{err}");
        assert!(err.contains("cannot open"), "{err}");
    }

    #[test]
    fn a_bad_label_fails_first() {
        let host = FakeHost::new(true, true);
        let mut c = cfg();
        c.label = "no good".into();
        let runner = Recording::new();
        assert!(prepare(&c, &host.paths(), &runner, host.dir.path()).is_err());
        assert!(runner.transcript().is_empty());
    }
}
