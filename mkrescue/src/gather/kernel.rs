//! Which kernel the rescue media boots, and where its modules are.
//!
//! By default the running kernel: its image from /boot and its modules from
//! /lib/modules/RELEASE. `--kernel FILE` names another image, whose release is read from
//! its own boot header; `--modules-dir DIR` names the modules when they are elsewhere.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::compress::read_decompressed;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSpec {
    /// The kernel image (bzImage) the boot loader starts.
    pub image: PathBuf,
    /// Its release (`uname -r` once it runs): names /lib/modules/RELEASE in the rescue system.
    pub release: String,
    /// The host's /lib/modules/RELEASE directory for this kernel.
    pub modules_dir: PathBuf,
    /// Things worth telling the user that do not stop the build.
    pub warnings: Vec<String>,
}

/// Finds the kernel and its modules; see the module documentation.
///
/// `boot_dir` and `lib_modules` are /boot and /lib/modules on a real host;
/// `running_release` is `uname -r`.
pub fn find_kernel(
    kernel: Option<&Path>,
    modules_dir: Option<&Path>,
    boot_dir: &Path,
    lib_modules: &Path,
    running_release: &str,
) -> anyhow::Result<KernelSpec> {
    let mut warnings = Vec::new();
    let (image, release) = match kernel {
        Some(image) => {
            if !image.is_file() {
                bail!(
                    "the kernel given with --kernel, {}, is not a file",
                    image.display()
                );
            }
            let release = match bzimage_release(image) {
                Ok(Some(r)) => r,
                Ok(None) | Err(_) => match modules_dir.and_then(dir_release) {
                    Some(r) => {
                        warnings.push(format!(
                            "{} has no readable release string in its boot header; using {r}, \
                             the release of the modules in --modules-dir",
                            image.display()
                        ));
                        r
                    }
                    None => bail!(
                        "cannot tell the release of the kernel {}: its boot header (\"HdrS\") \
                         holds no version string; pass --modules-dir DIR with its modules \
                         (a /lib/modules/RELEASE directory)",
                        image.display()
                    ),
                },
            };
            (image.to_path_buf(), release)
        }
        None => {
            let candidates = [
                boot_dir.join(format!("vmlinuz-{running_release}")),
                boot_dir.join("vmlinuz"),
                boot_dir.join(format!("bzImage-{running_release}")),
                // Arch, Fedora and others keep a copy beside the modules.
                lib_modules.join(running_release).join("vmlinuz"),
            ];
            let Some(image) = candidates.iter().find(|p| p.is_file()) else {
                let looked: Vec<String> =
                    candidates.iter().map(|p| p.display().to_string()).collect();
                bail!(
                    "no kernel image found for the running kernel {running_release}: looked for {}; \
                     pass --kernel FILE to name the kernel to boot (and --modules-dir DIR if its \
                     modules are not in {})",
                    looked.join(", "),
                    lib_modules.join("RELEASE").display()
                );
            };
            let release = match bzimage_release(image) {
                Ok(Some(r)) if r != running_release => {
                    warnings.push(format!(
                        "{} is the kernel {r}, not the running {running_release}: \
                         the rescue media boots {r}",
                        image.display()
                    ));
                    r
                }
                _ => running_release.to_string(),
            };
            (image.clone(), release)
        }
    };

    let modules_dir = match modules_dir {
        Some(dir) => {
            if !dir.is_dir() {
                bail!(
                    "the modules directory given with --modules-dir, {}, is not a directory",
                    dir.display()
                );
            }
            dir.to_path_buf()
        }
        None => {
            let dir = lib_modules.join(&release);
            if !dir.is_dir() {
                bail!(
                    "no modules for the kernel {release}: looked for {}; pass --modules-dir DIR \
                     (its /lib/modules/RELEASE directory){}",
                    dir.display(),
                    if kernel.is_none() {
                        ", or --kernel FILE for a kernel whose modules are installed"
                    } else {
                        ""
                    }
                );
            }
            dir
        }
    };
    match dir_release(&modules_dir) {
        Some(r) if r != release => warnings.push(format!(
            "the modules in {} are for the kernel {r}, but the kernel is {release}: \
             they may not load",
            modules_dir.display()
        )),
        Some(_) => {}
        None => warnings.push(format!(
            "cannot tell which kernel the modules in {} are for",
            modules_dir.display()
        )),
    }
    Ok(KernelSpec {
        image,
        release,
        modules_dir,
        warnings,
    })
}

/// The release string of an x86 bzImage, from its setup header: the "HdrS" magic at 0x202,
/// the protocol version at 0x206 and the offset of the version string (less 0x200) at 0x20E.
/// Ok(None) when the file is not such an image or holds no version string.
pub fn bzimage_release(image: &Path) -> anyhow::Result<Option<String>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(image)
        .with_context(|| format!("opening {}", image.display()))?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {}", image.display()))?;
    Ok(release_from_setup_header(&head))
}

/// See [`bzimage_release`]; `head` is at least the first kilobytes of the image.
pub fn release_from_setup_header(head: &[u8]) -> Option<String> {
    if head.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let protocol = u16::from_le_bytes(head.get(0x206..0x208)?.try_into().ok()?);
    if protocol < 0x0200 {
        return None;
    }
    let ptr = u16::from_le_bytes(head.get(0x20E..0x210)?.try_into().ok()?);
    if ptr == 0 {
        return None;
    }
    let start = usize::from(ptr) + 0x200;
    let rest = head.get(start..)?;
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    // "6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ..."
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    let release = text.split_whitespace().next()?;
    Some(release.to_string())
}

/// The release the modules in `dir` were built for, from the `vermagic=` of one of them
/// (the directory's name proves nothing: scripts/test-kernel calls it "modules").
pub fn dir_release(dir: &Path) -> Option<String> {
    if let Some(module) = first_module(dir) {
        if let Ok(data) = read_decompressed(&module) {
            if let Some(vermagic) = super::modules::modinfo_values(&data, "vermagic").first() {
                return vermagic.split_whitespace().next().map(str::to_string);
            }
        }
    }
    None
}

/// A module file in `dir`: the first one of modules.order, else the first found.
fn first_module(dir: &Path) -> Option<PathBuf> {
    if let Ok(order) = std::fs::read_to_string(dir.join("modules.order")) {
        for line in order.lines().map(str::trim).filter(|l| !l.is_empty()) {
            for ext in ["", ".zst", ".xz", ".gz"] {
                let p = dir.join(format!("{line}{ext}"));
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    let mut stack = vec![dir.join("kernel"), dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = read.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            if name == "build" || name == "source" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if super::modules::module_stem(&name).is_some() {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage(version: &str) -> Vec<u8> {
        let mut img = vec![0u8; 0x1000];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
        let at = 0x400usize;
        img[0x20E..0x210].copy_from_slice(&((at - 0x200) as u16).to_le_bytes());
        img[at..at + version.len()].copy_from_slice(version.as_bytes());
        img
    }

    #[test]
    fn reads_the_release_from_the_setup_header() {
        let img = fake_bzimage("6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP");
        assert_eq!(
            release_from_setup_header(&img).as_deref(),
            Some("6.1.0-56-cloud-amd64")
        );
        let mut no_magic = img.clone();
        no_magic[0x202] = b'X';
        assert_eq!(release_from_setup_header(&no_magic), None);
        let mut no_ptr = img;
        no_ptr[0x20E] = 0;
        no_ptr[0x20F] = 0;
        assert_eq!(release_from_setup_header(&no_ptr), None);
        assert_eq!(release_from_setup_header(b"short"), None);
    }

    #[test]
    fn a_missing_kernel_names_what_was_looked_for_and_the_options() {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        let lib = dir.path().join("lib/modules");
        std::fs::create_dir_all(&boot).unwrap();
        let err = find_kernel(None, None, &boot, &lib, "6.18.0-test").unwrap_err();
        let msg = format!("{err:#}");
        for want in [
            "6.18.0-test",
            "boot/vmlinuz-6.18.0-test",
            "boot/vmlinuz,",
            "boot/bzImage-6.18.0-test",
            "lib/modules/6.18.0-test/vmlinuz",
            "--kernel FILE",
            "--modules-dir DIR",
        ] {
            assert!(msg.contains(want), "{want:?} not in: {msg}");
        }
    }

    #[test]
    fn the_running_kernel_without_modules_is_an_error_naming_the_dir() {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        std::fs::write(boot.join("vmlinuz-9.9.9"), fake_bzimage("9.9.9 #1")).unwrap();
        let lib = dir.path().join("lib/modules");
        let err = find_kernel(None, None, &boot, &lib, "9.9.9").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("lib/modules/9.9.9"), "{msg}");
        assert!(msg.contains("--modules-dir DIR"), "{msg}");

        std::fs::create_dir_all(lib.join("9.9.9")).unwrap();
        let spec = find_kernel(None, None, &boot, &lib, "9.9.9").unwrap();
        assert_eq!(spec.image, boot.join("vmlinuz-9.9.9"));
        assert_eq!(spec.release, "9.9.9");
        assert_eq!(spec.modules_dir, lib.join("9.9.9"));
        // An empty modules dir: nothing to tell the release by.
        assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    }

    #[test]
    fn an_explicit_kernel_takes_its_release_from_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("bzImage");
        std::fs::write(&img, fake_bzimage("5.10.0-x #1 SMP")).unwrap();
        let lib = dir.path().join("lib/modules");
        std::fs::create_dir_all(lib.join("5.10.0-x")).unwrap();
        let spec = find_kernel(Some(&img), None, dir.path(), &lib, "6.18.0").unwrap();
        assert_eq!(spec.release, "5.10.0-x");
        assert_eq!(spec.modules_dir, lib.join("5.10.0-x"));

        let err =
            find_kernel(Some(&dir.path().join("nope")), None, dir.path(), &lib, "6").unwrap_err();
        assert!(err.to_string().contains("--kernel"), "{err}");

        std::fs::write(&img, b"not a kernel").unwrap();
        let err = find_kernel(Some(&img), None, dir.path(), &lib, "6").unwrap_err();
        assert!(format!("{err:#}").contains("--modules-dir DIR"), "{err:#}");
    }
}
