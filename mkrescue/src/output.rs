//! Writing output files and directories so that nothing half-written ever carries the final
//! name, and nothing is written through a name someone else planted.
//!
//! Every output is first made under a fresh temporary name beside its final path, created
//! with `O_EXCL` (a file) or `mkdir` (a directory) under a random name, so a symlink or file
//! planted in a shared output directory is never opened, followed or chmodded. It is synced,
//! then renamed over the final name: `rename` replaces a planted symlink there, never what
//! it points at. On any error, or when dropped uncommitted, the temporary is removed.

use anyhow::Context;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every directory a backup writes (a backup holds /etc/shadow and keys).
pub const PRIVATE_DIR: u32 = 0o700;
/// The mode of every file a backup writes.
pub const PRIVATE_FILE: u32 = 0o600;

/// The directory `path` lies in ("." for a bare name) and its file name.
fn split(path: &Path) -> anyhow::Result<(&Path, &std::ffi::OsStr)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    Ok((dir, name))
}

/// A temporary name's prefix: `.NAME.` (the random part and `.partial` follow).
fn prefix(name: &std::ffi::OsStr) -> String {
    format!(".{}.", name.to_string_lossy())
}

/// Makes a rename durable; a directory that cannot be opened or synced changes nothing for
/// the file, which is complete.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A file being written under a private temporary name beside its final path.
#[derive(Debug)]
pub struct StagedFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl StagedFile {
    /// A new, empty temporary file for `dest`, with `mode` (never more than the umask
    /// allows), opened for reading and writing.
    pub fn create(dest: &Path, mode: u32) -> anyhow::Result<StagedFile> {
        let (dir, name) = split(dest)?;
        let tmp = tempfile::Builder::new()
            .prefix(&prefix(name))
            .suffix(".partial")
            .permissions(fs::Permissions::from_mode(mode))
            .tempfile_in(dir)
            .with_context(|| {
                format!(
                    "creating a temporary file for {} in {}",
                    dest.display(),
                    dir.display()
                )
            })?;
        Ok(StagedFile {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temporary file's path (for messages).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Syncs the file and renames it to its final name (replacing whatever is there,
    /// never following it).
    pub fn commit(self) -> anyhow::Result<()> {
        let StagedFile { tmp, dest } = self;
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("flushing {}", tmp.path().display()))?;
        let from = tmp.path().to_path_buf();
        tmp.persist(&dest).map_err(|e| {
            anyhow::Error::new(e.error).context(format!(
                "renaming {} to {}",
                from.display(),
                dest.display()
            ))
        })?;
        sync_dir(split(&dest)?.0);
        Ok(())
    }
}

/// Writes `data` to `path` through a [`StagedFile`] with `mode`.
pub fn write_atomically(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut staged = StagedFile::create(path, mode)?;
    let tmp = staged.path().to_path_buf();
    staged
        .file()
        .write_all(data)
        .with_context(|| format!("writing {}", tmp.display()))?;
    staged.commit()
}

/// A directory being filled under a private temporary name (mode 0700) beside its final
/// path; its files are created 0600 and nobody else can plant anything inside it.
#[derive(Debug)]
pub struct StagedDir {
    tmp: tempfile::TempDir,
    dest: PathBuf,
}

impl StagedDir {
    pub fn create(dest: &Path) -> anyhow::Result<StagedDir> {
        let (dir, name) = split(dest)?;
        let tmp = tempfile::Builder::new()
            .prefix(&prefix(name))
            .suffix(".partial")
            .permissions(fs::Permissions::from_mode(PRIVATE_DIR))
            .tempdir_in(dir)
            .with_context(|| {
                format!(
                    "creating a temporary directory for {} in {}",
                    dest.display(),
                    dir.display()
                )
            })?;
        Ok(StagedDir {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Creates the file `rel` (a relative path; missing directories are made 0700) with
    /// `write` filling it, syncs it, and returns the bytes written.
    pub fn add_file(
        &self,
        rel: &str,
        write: impl FnOnce(&mut File) -> std::io::Result<u64>,
    ) -> anyhow::Result<u64> {
        use std::os::unix::fs::OpenOptionsExt;
        let rel = Path::new(rel.trim_start_matches('/'));
        anyhow::ensure!(
            rel.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{}: not a plain relative path",
            rel.display()
        );
        let dest = self.tmp.path().join(rel);
        if let Some(parent) = dest.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR)
                .create(parent)
                .with_context(|| format!("making {}", parent.display()))?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PRIVATE_FILE)
            .open(&dest)
            .with_context(|| format!("creating {}", dest.display()))?;
        let bytes = write(&mut file).with_context(|| format!("writing {}", dest.display()))?;
        file.sync_all()
            .with_context(|| format!("flushing {}", dest.display()))?;
        Ok(bytes)
    }

    /// Renames the directory to its final name. What was there before (an older volume, a
    /// planted symlink) is moved aside first and removed after, never followed.
    pub fn commit(self) -> anyhow::Result<()> {
        let StagedDir { tmp, dest } = self;
        let (dir, _) = split(&dest)?;
        let old = match fs::symlink_metadata(&dest) {
            Ok(_) => {
                let aside = tempfile::Builder::new()
                    .prefix(".old.")
                    .tempdir_in(dir)
                    .with_context(|| format!("making room in {}", dir.display()))?;
                let moved = aside.path().join("old");
                fs::rename(&dest, &moved)
                    .with_context(|| format!("moving the old {} aside", dest.display()))?;
                Some(aside)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("looking at {}", dest.display()));
            }
        };
        let from = tmp.keep();
        if let Err(e) = fs::rename(&from, &dest) {
            let _ = fs::remove_dir_all(&from);
            return Err(e)
                .with_context(|| format!("renaming {} to {}", from.display(), dest.display()));
        }
        sync_dir(dir);
        if let Some(aside) = old {
            // remove_dir_all removes a symlink itself, never what it points at.
            aside
                .close()
                .with_context(|| format!("removing the old {}", dest.display()))?;
        }
        Ok(())
    }
}

/// Makes the output directory (and its missing parents) private when it does not exist;
/// an existing one is left as its owner set it.
pub fn make_output_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .with_context(|| format!("making the output directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomically(&path, b"{}", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        assert_eq!(names(dir.path()), ["out.json"]);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let err = write_atomically(Path::new("/nonexistent/dir/x.json"), b"{}", 0o600).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("/nonexistent/dir"), "{msg}");
        assert!(msg.contains("x.json"), "{msg}");
    }

    /// The old fixed temporary name, planted as a symlink by another user of a shared
    /// output directory, is neither written through nor chmodded, and the final name is a
    /// plain file.
    #[test]
    fn a_planted_partial_symlink_leaves_its_target_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        symlink(&victim, dir.path().join(".out.json.partial")).unwrap();
        let out = dir.path().join("out.json");
        write_atomically(&out, b"{}", 0o600).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o777, 0o644);
        assert!(fs::symlink_metadata(&out).unwrap().file_type().is_file());
        assert_eq!(fs::read(&out).unwrap(), b"{}");
    }

    #[test]
    fn a_symlink_at_the_final_name_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let out = dir.path().join("out.json");
        symlink(&victim, &out).unwrap();
        write_atomically(&out, b"{}", 0o600).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(fs::symlink_metadata(&out).unwrap().file_type().is_file());
    }

    #[test]
    fn an_uncommitted_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = StagedFile::create(&dir.path().join("x.iso"), 0o600).unwrap();
        staged.file().write_all(b"half").unwrap();
        drop(staged);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_staged_directory_is_private_and_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rescue-1");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("stale"), b"old").unwrap();
        let staged = StagedDir::create(&out).unwrap();
        staged
            .add_file("/sets/set-00001.tar.zst", |f| {
                f.write_all(b"data")?;
                Ok(4)
            })
            .unwrap();
        staged.commit().unwrap();
        assert_eq!(names(dir.path()), ["rescue-1"]);
        assert_eq!(names(&out), ["sets"]);
        for p in [out.clone(), out.join("sets")] {
            assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o700, "{p:?}");
        }
        let set = out.join("sets/set-00001.tar.zst");
        assert_eq!(fs::metadata(&set).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::read(set).unwrap(), b"data");
    }

    #[test]
    fn a_symlinked_volume_directory_is_replaced_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        fs::write(elsewhere.join("keep"), b"x").unwrap();
        let out = dir.path().join("rescue-1");
        symlink(&elsewhere, &out).unwrap();
        let staged = StagedDir::create(&out).unwrap();
        staged.add_file("a", |_| Ok(0)).unwrap();
        staged.commit().unwrap();
        assert_eq!(names(&elsewhere), ["keep"]);
        assert!(fs::symlink_metadata(&out).unwrap().is_dir());
        assert_eq!(names(dir.path()), ["elsewhere", "rescue-1"]);
    }

    #[test]
    fn paths_that_climb_out_of_a_staged_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let staged = StagedDir::create(&dir.path().join("v")).unwrap();
        assert!(staged.add_file("../escape", |_| Ok(0)).is_err());
        assert!(!dir.path().join("escape").exists());
    }
}
