//! Writing finished volumes: an ISO image (or a plain directory) per volume, with its
//! manifest and sets, volume 1 with the boot files, mountlist and catalog; the user's
//! hooks around each one.

use crate::backup::SetReady;
use crate::iso::{self, BiosEntry, IsoSource, IsoSpec};
use crate::output::StagedDir;
use anyhow::{bail, Context};
use rescue_core::catalog::to_hex;
use rescue_core::hooks::{hook_command, HookKind};
use rescue_core::media::{self, Compression, CoveredFile, Manifest, SetInfo, MANIFEST_VERSION};
use rescue_core::runner::Runner;
use rescue_core::signature::SigningKey;
use rescue_core::volumes::MediaSizes;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// ISO 9660 images: rescue-1.iso, rescue-2.iso ...
    Iso,
    /// Plain directories with the same contents: rescue-1/, rescue-2/ ... (for NFS, USB
    /// disks, DVD-RAM mounted as a removable disk)
    Dir,
}

/// What only volume 1 carries.
#[derive(Debug, Clone)]
pub struct FirstVolume {
    /// Boot files, mountlist, catalog: (path on the volume, source).
    pub files: Vec<(String, IsoSource)>,
    pub bios: Option<BiosEntry>,
    pub uefi: Option<String>,
}

pub struct VolumeWriter<'a> {
    pub output: PathBuf,
    pub format: OutputFormat,
    pub backup_id: String,
    pub created: u64,
    pub hostname: String,
    pub kernel_release: String,
    pub compression: Compression,
    pub before_hook: Option<String>,
    pub after_hook: Option<String>,
    pub runner: &'a dyn Runner,
    pub first: Option<FirstVolume>,
    /// Size limit of each volume, checked after writing.
    pub sizes: MediaSizes,
    /// Signs each volume's manifest (`--sign KEY`): the signature goes beside it.
    pub signer: Option<SigningKey>,
}

impl std::fmt::Debug for VolumeWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeWriter")
            .field("output", &self.output)
            .field("format", &self.format)
            .field("backup_id", &self.backup_id)
            .finish_non_exhaustive()
    }
}

/// One volume as written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenVolume {
    pub number: u32,
    pub path: PathBuf,
    pub label: String,
    pub bytes: u64,
    pub sets: Vec<u32>,
}

impl VolumeWriter<'_> {
    pub fn volume_path(&self, n: u32) -> PathBuf {
        match self.format {
            OutputFormat::Iso => self.output.join(format!("rescue-{n}.iso")),
            OutputFormat::Dir => self.output.join(format!("rescue-{n}")),
        }
    }

    /// Writes volume `n` holding `sets`; `volumes` is the total when known (else 0).
    /// The set files are removed from the scratch area once the volume holds them.
    pub fn write(
        &mut self,
        n: u32,
        volumes: u32,
        sets: &[SetReady],
        mtime: i64,
    ) -> anyhow::Result<WrittenVolume> {
        let path = self.volume_path(n);
        let label = Manifest::volume_label(&self.backup_id, n);
        if let Some(template) = &self.before_hook {
            self.run_hook(HookKind::BeforeVolume, template, &path, n)?;
        }
        let first = if n == 1 { self.first.take() } else { None };
        let covered = |file: CoveredFile| match &first {
            Some(f) => covered_b3(&f.files, file),
            None => Ok(None),
        };
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            backup_id: self.backup_id.clone(),
            label: label.clone(),
            volume: n,
            volumes,
            created: self.created,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            hostname: self.hostname.clone(),
            kernel_release: self.kernel_release.clone(),
            sets: sets.iter().map(|s| set_info(s, self.compression)).collect(),
            compression: self.compression,
            mountlist_b3: covered(CoveredFile::Mountlist)?,
            catalog_b3: covered(CoveredFile::Catalog)?,
        };
        let manifest_bytes = manifest_bytes(&manifest)?;
        // The signature covers the manifest's exact bytes, as written.
        let signature = self.signer.as_ref().map(|key| key.sign(&manifest_bytes));
        let mut files = vec![(
            media::MANIFEST_PATH.to_string(),
            IsoSource::Bytes(manifest_bytes),
        )];
        if let Some(signature) = signature {
            files.push((
                media::SIGNATURE_PATH.to_string(),
                IsoSource::Bytes(signature.to_vec()),
            ));
        }
        for s in sets {
            files.push((
                format!("/{}", media::set_file(s.set.number, self.compression)),
                IsoSource::Host(s.set.path.clone()),
            ));
            files.push((
                format!("/{}", media::hash_list_file(s.set.number)),
                IsoSource::Host(s.hashes.clone()),
            ));
        }
        let (bios, uefi) = match &first {
            Some(f) => {
                files.extend(f.files.iter().cloned());
                (f.bios.clone(), f.uefi.clone())
            }
            None => (None, None),
        };
        let bytes = match self.format {
            OutputFormat::Iso => {
                let spec = IsoSpec {
                    volume_id: label.clone(),
                    files,
                    bios,
                    uefi,
                    hybrid: n == 1,
                    publisher: format!("mkrescue {}", env!("CARGO_PKG_VERSION")),
                    mtime,
                };
                iso::write_iso(&spec, &path)
                    .with_context(|| format!("writing volume {n} to {}", path.display()))?
                    .bytes
            }
            OutputFormat::Dir => write_dir(&files, &path)
                .with_context(|| format!("writing volume {n} to {}", path.display()))?,
        };
        let limit = self.sizes.size_of(n);
        if bytes > limit {
            // An image that does not fit its medium must not stay under the final name.
            let _ = match self.format {
                OutputFormat::Iso => fs::remove_file(&path),
                OutputFormat::Dir => fs::remove_dir_all(&path),
            };
            bail!(
                "volume {n} came out {bytes} bytes, over its size of {limit}: make the media \
                 size a little larger"
            );
        }
        for s in sets {
            // Scratch copies; the volume now holds them.
            let _ = fs::remove_file(&s.set.path);
            let _ = fs::remove_file(&s.hashes);
        }
        if let Some(template) = &self.after_hook {
            self.run_hook(HookKind::AfterVolume, template, &path, n)?;
        }
        Ok(WrittenVolume {
            number: n,
            path,
            label,
            bytes,
            sets: sets.iter().map(|s| s.set.number).collect(),
        })
    }

    fn run_hook(&self, kind: HookKind, template: &str, path: &Path, n: u32) -> anyhow::Result<()> {
        let cmd = hook_command(kind, template, &path.display().to_string(), n);
        self.runner.run(&cmd).with_context(|| {
            format!("the {} hook for volume {n} failed; stopping", kind.option())
        })?;
        Ok(())
    }
}

/// The manifest as written, after the checks every reader makes: a volume whose manifest
/// a restore would refuse is not written.
fn manifest_bytes(manifest: &Manifest) -> anyhow::Result<Vec<u8>> {
    manifest.check().with_context(|| {
        format!(
            "the manifest of volume {} would be refused by a restore",
            manifest.volume
        )
    })?;
    let bytes = serde_json::to_vec_pretty(manifest)?;
    if bytes.len() as u64 > media::MAX_MANIFEST_BYTES {
        bail!(
            "the manifest of volume {} lists {} sets in {} bytes, more than the {} a restore \
             reads: give a larger --set-size",
            manifest.volume,
            manifest.sets.len(),
            bytes.len(),
            media::MAX_MANIFEST_BYTES
        );
    }
    Ok(bytes)
}

/// The BLAKE3 of a file volume 1 carries and its manifest covers, when it is among
/// `files`.
fn covered_b3(files: &[(String, IsoSource)], file: CoveredFile) -> anyhow::Result<Option<String>> {
    let Some((_, source)) = files.iter().find(|(path, _)| path == file.path()) else {
        return Ok(None);
    };
    let hash = match source {
        IsoSource::Bytes(b) => blake3::hash(b),
        IsoSource::Host(p) => {
            let mut hasher = blake3::Hasher::new();
            let mut f = fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            std::io::copy(&mut f, &mut hasher)
                .with_context(|| format!("reading {}", p.display()))?;
            hasher.finalize()
        }
    };
    Ok(Some(to_hex(hash.as_bytes())))
}

/// The manifest's record of a finished set.
pub fn set_info(s: &SetReady, compression: Compression) -> SetInfo {
    SetInfo {
        number: s.set.number,
        file: media::set_file(s.set.number, compression),
        bytes: s.set.bytes,
        tar_bytes: s.set.tar_bytes,
        entries: s.entries,
        b3: to_hex(&s.set.b3),
        hashes: media::hash_list_file(s.set.number),
        hashes_b3: to_hex(&s.hashes_b3),
    }
}

/// Writes a volume as a directory through a [`StagedDir`]: every directory 0700 and every
/// file 0600 (a backup holds /etc/shadow and private keys), renamed into place when complete.
fn write_dir(files: &[(String, IsoSource)], out: &Path) -> anyhow::Result<u64> {
    let staged = StagedDir::create(out)?;
    let mut bytes = 0;
    for (path, source) in files {
        bytes += staged.add_file(path, |dest| match source {
            IsoSource::Host(p) => {
                let mut src = fs::File::open(p)?;
                std::io::copy(&mut src, dest)
            }
            IsoSource::Bytes(b) => {
                dest.write_all(b)?;
                Ok(b.len() as u64)
            }
        })?;
    }
    staged.commit()?;
    Ok(bytes)
}
