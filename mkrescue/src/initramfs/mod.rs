//! The rescue system's initramfs: a file tree written as a gzip-compressed newc cpio
//! archive, byte-identical for the same tree and time.

pub mod cpio;
pub mod tree;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use std::io::Write;
pub use tree::Tree;

/// Writes `tree` as a gzip'd newc archive; returns the uncompressed statistics.
pub fn write_gzip(
    tree: &Tree,
    out: &mut dyn Write,
    mtime: u32,
    level: u32,
) -> Result<cpio::Stats, cpio::CpioError> {
    // A zero gzip mtime and no file name keep the output reproducible.
    let mut gz: GzEncoder<&mut dyn Write> = GzBuilder::new()
        .mtime(0)
        .write(out, Compression::new(level.min(9)));
    let stats = cpio::write_tree(tree, &mut gz, mtime)?;
    gz.try_finish().map_err(cpio::CpioError::Write)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn sample(dir: &std::path::Path) -> Tree {
        let host = dir.join("host-file");
        std::fs::write(&host, b"from the host\n").unwrap();
        let mut t = Tree::new();
        t.symlink("/bin", "usr/bin").unwrap();
        t.bytes("/usr/bin/hello", b"#!/bin/sh\necho hi\n".to_vec(), 0o755)
            .unwrap();
        t.host_file("/etc/motd", &host, 0o644).unwrap();
        t.dir("/tmp", 0o1777).unwrap();
        t.char_device("/dev/console", 5, 1, 0o600).unwrap();
        t.bytes("/odd name with spaces", b"x".to_vec(), 0o600)
            .unwrap();
        t
    }

    #[test]
    fn gnu_cpio_lists_and_extracts_what_was_written() {
        if Command::new("cpio").arg("--version").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI needs cpio"
            );
            eprintln!("skipped: cpio is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let tree = sample(dir.path());
        let archive = dir.path().join("a.cpio");
        let mut file = std::fs::File::create(&archive).unwrap();
        let stats = cpio::write_tree(&tree, &mut file, 1_700_000_000).unwrap();
        assert_eq!(stats.bytes, std::fs::metadata(&archive).unwrap().len());
        assert_eq!(stats.bytes % 4, 0);

        let list = Command::new("cpio")
            .args(["-t", "-v", "--quiet", "-F"])
            .arg(&archive)
            .output()
            .unwrap();
        assert!(
            list.status.success(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let text = String::from_utf8(list.stdout).unwrap();
        for want in [
            "lrwxrwxrwx",
            "bin -> usr/bin",
            "-rwxr-xr-x",
            "usr/bin/hello",
            "etc/motd",
            "drwxrwxrwt",
            "crw-------",
            "dev/console",
            "odd name with spaces",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        // Unpack (without device nodes, which need root) and compare contents.
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let x = Command::new("cpio")
            .args(["-i", "-d", "--quiet", "--no-absolute-filenames", "-F"])
            .arg(&archive)
            .arg("--nonmatching")
            .arg("dev/console")
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
        assert_eq!(
            std::fs::read(out.join("usr/bin/hello")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            std::fs::read(out.join("etc/motd")).unwrap(),
            b"from the host\n"
        );
    }

    #[test]
    fn gzip_output_is_deterministic_and_zcat_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sample(dir.path());
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_gzip(&tree, &mut a, 42, 6).unwrap();
        write_gzip(&tree, &mut b, 42, 6).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_gzip(&tree, &mut c, 43, 6).unwrap();
        assert_ne!(a, c, "the time is in the headers");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&a[..]), &mut raw).unwrap();
        assert!(raw.starts_with(b"070701"));
        assert!(raw.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn a_short_or_full_output_is_an_error_not_a_corrupt_archive() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "full"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let tree = sample(dir.path());
        let err = cpio::write_tree(&tree, &mut Full(300), 0).unwrap_err();
        assert!(matches!(err, cpio::CpioError::Write(_)), "{err}");
    }

    #[test]
    fn a_vanished_host_file_is_named() {
        let mut t = Tree::new();
        t.host_file("/x", "/nonexistent/file", 0o644).unwrap();
        let err = cpio::write_tree(&t, &mut Vec::new(), 0).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/file"), "{err}");
    }
}
