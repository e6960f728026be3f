//! ISOLINUX from the host: the El Torito BIOS boot image, its core module and the
//! hybrid MBR's boot code.

use super::HostPaths;
use std::path::{Path, PathBuf};

/// The host's ISOLINUX files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiosFiles {
    pub isolinux: PathBuf,
    /// The core module ISOLINUX 5 and later load; from the same syslinux as isolinux.bin.
    pub ldlinux: PathBuf,
    /// MBR boot code for hybrid images; without it the image boots from CD only.
    pub isohdpfx: Option<PathBuf>,
}

/// The packages that provide the BIOS boot files.
pub const PACKAGES: &str = "install isolinux and syslinux-common on Debian/Ubuntu, \
                            syslinux on RHEL/Fedora/SUSE";

/// Finds the files, or says what is missing and which packages provide it.
pub fn find(search: &HostPaths) -> Result<BiosFiles, String> {
    let isolinux = first(search, "isolinux.bin");
    // ldlinux.c32 must come from the same syslinux release as isolinux.bin: prefer the
    // one beside it.
    let ldlinux = isolinux
        .as_deref()
        .and_then(Path::parent)
        .map(|dir| dir.join("ldlinux.c32"))
        .filter(|p| p.is_file())
        .or_else(|| first(search, "ldlinux.c32"));
    match (isolinux, ldlinux) {
        (Some(isolinux), Some(ldlinux)) => Ok(BiosFiles {
            isolinux,
            ldlinux,
            isohdpfx: first(search, "isohdpfx.bin"),
        }),
        (isolinux, _) => {
            let what = if isolinux.is_none() {
                "isolinux.bin"
            } else {
                "ldlinux.c32"
            };
            Err(format!(
                "ISOLINUX: {what} was not found in {} ({PACKAGES})",
                dirs_list(search)
            ))
        }
    }
}

fn first(search: &HostPaths, name: &str) -> Option<PathBuf> {
    search
        .syslinux_dirs
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The searched directories, for messages.
pub fn dirs_list(search: &HostPaths) -> String {
    let dirs: Vec<String> = search
        .syslinux_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    dirs.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn prefers_ldlinux_beside_isolinux() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("ldlinux.c32"), b"other release").unwrap();
        fs::write(a.join("isohdpfx.bin"), b"mbr").unwrap();
        fs::write(b.join("isolinux.bin"), b"iso").unwrap();
        fs::write(b.join("ldlinux.c32"), b"same release").unwrap();
        let paths = HostPaths {
            syslinux_dirs: vec![a.clone(), b.clone()],
            grub_efi_dirs: vec![],
            path: Default::default(),
        };
        let found = find(&paths).unwrap();
        assert_eq!(found.isolinux, b.join("isolinux.bin"));
        assert_eq!(found.ldlinux, b.join("ldlinux.c32"));
        assert_eq!(found.isohdpfx, Some(a.join("isohdpfx.bin")));

        fs::remove_file(b.join("ldlinux.c32")).unwrap();
        assert_eq!(find(&paths).unwrap().ldlinux, a.join("ldlinux.c32"));
        fs::remove_file(a.join("ldlinux.c32")).unwrap();
        let err = find(&paths).unwrap_err();
        assert!(
            err.starts_with("ISOLINUX: ldlinux.c32 was not found in "),
            "{err}"
        );
    }
}
