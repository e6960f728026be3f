//! GRUB for UEFI from the host: a standalone `BOOTX64.EFI` built with
//! `grub-mkstandalone`, in a FAT image for El Torito and the GPT.

use super::{menu, BootConfig, Found, HostPaths};
use anyhow::{bail, Context, Result};
use hadris_fs::{Node, Tree};
use rescue_core::runner::{find_program, Cmd, RunError, Runner};
use std::path::{Path, PathBuf};

/// The packages that provide the UEFI boot files.
pub const PACKAGES: &str = "install grub-efi-amd64-bin and grub-common on Debian/Ubuntu, \
                            grub2-efi-x64-modules and grub2-tools-extra on RHEL/Fedora";

/// Modules built into the EFI binary: find the media (search by label on a CD, a
/// partitioned or a whole disk), read its menu, talk over serial, boot Linux with a
/// gzip'd initramfs, keep a screen on UEFI's graphics output.
pub const MODULES: &[&str] = &[
    "iso9660",
    "part_gpt",
    "part_msdos",
    "fat",
    "search",
    "search_label",
    "configfile",
    "normal",
    "linux",
    "gzio",
    "serial",
    "terminal",
    "echo",
    "test",
    "all_video",
    "efi_gop",
];

/// The programs that build it, by distribution.
const TOOLS: [&str; 2] = ["grub-mkstandalone", "grub2-mkstandalone"];

/// Builds `scratch/BOOTX64.EFI` and `scratch/efiboot.img`; `Found::Missing` when the
/// host has no GRUB for UEFI.
pub(super) fn build(
    cfg: &BootConfig,
    search: &HostPaths,
    runner: &dyn Runner,
    scratch: &Path,
) -> Result<Found<PathBuf>> {
    let Some(modules_dir) = search
        .grub_efi_dirs
        .iter()
        .find(|d| d.join("linux.mod").is_file())
    else {
        let dirs: Vec<String> = search
            .grub_efi_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        return Ok(Found::Missing(format!(
            "GRUB's x86_64-efi modules were not found in {} ({PACKAGES})",
            dirs.join(", ")
        )));
    };
    let Some(tool) = TOOLS.iter().find_map(|t| find_program(t, &search.path)) else {
        return Ok(Found::Missing(format!(
            "neither {} is installed ({PACKAGES})",
            TOOLS.join(" nor ")
        )));
    };
    let missing: Vec<&str> = MODULES
        .iter()
        .copied()
        .filter(|m| !modules_dir.join(format!("{m}.mod")).is_file())
        .collect();
    if !missing.is_empty() {
        bail!(
            "GRUB in {} lacks the modules {} that the rescue media needs",
            modules_dir.display(),
            missing.join(", ")
        );
    }

    std::fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let early = scratch.join("early.cfg");
    std::fs::write(&early, menu::grub_early_cfg(&cfg.label)?)
        .with_context(|| format!("writing {}", early.display()))?;
    let efi = scratch.join("BOOTX64.EFI");
    let modules = MODULES.join(" ");
    let mut grub_cfg = std::ffi::OsString::from("boot/grub/grub.cfg=");
    grub_cfg.push(&early);
    let mut output = std::ffi::OsString::from("--output=");
    output.push(&efi);
    let mut directory = std::ffi::OsString::from("--directory=");
    directory.push(modules_dir);
    let cmd = Cmd::new(tool.to_string_lossy())
        .arg("--format=x86_64-efi")
        .arg(directory)
        .arg(output)
        .arg(format!("--modules={modules}"))
        .arg(format!("--install-modules={modules}"))
        .args(["--locales=", "--fonts=", "--themes="])
        .arg(grub_cfg)
        .describe("build the UEFI boot loader (GRUB)");
    match runner.run(&cmd) {
        Ok(_) => {}
        Err(RunError::NotFound { .. }) => {
            return Ok(Found::Missing(format!(
                "{} could not be run ({PACKAGES})",
                tool.display()
            )))
        }
        Err(e) => return Err(e).context("building the UEFI boot loader"),
    }
    let img = scratch.join("efiboot.img");
    make_esp(&efi, &img).context("making the EFI system partition image")?;
    Ok(Found::Yes(img))
}

/// Writes a FAT image at `img` holding `efi` as /EFI/BOOT/BOOTX64.EFI, the path UEFI
/// firmware boots from removable media.
pub fn make_esp(efi: &Path, img: &Path) -> Result<()> {
    let content = hadris_fs::host::file(efi)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| {
            format!(
                "reading {} (did grub-mkstandalone write it?)",
                efi.display()
            )
        })?;
    if content.is_empty() {
        bail!("{} is empty", efi.display());
    }
    let size = esp_size(content.len());
    let mut tree = Tree::new();
    tree.insert("EFI/BOOT/BOOTX64.EFI", Node::file(content))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut image: Vec<u8> = Vec::with_capacity(size as usize);
    let options = hadris_fat::FatOptions::new().with_size(size);
    hadris_fat::sync::write(&mut image, &tree, &options)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("writing the FAT file system")?;
    image.resize(size as usize, 0);
    std::fs::write(img, &image).with_context(|| format!("writing {}", img.display()))?;
    Ok(())
}

/// The image's size: the binary, room for FAT structures, whole MiB.
fn esp_size(binary: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    (binary + binary / 16 + MIB).div_ceil(MIB) * MIB
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_size_leaves_room() {
        assert_eq!(esp_size(1), 2 << 20);
        assert_eq!(esp_size(1_310_720), 3 << 20);
        assert_eq!(esp_size(6 << 20), 8 << 20);
    }
}
