//! Compressed kernel modules and firmware (`.xz`, `.zst`, `.gz`), unpacked at build time so
//! the rescue kernel needs no in-kernel decompression.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

/// How a module or firmware file is compressed, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Xz,
    Zstd,
    Gzip,
}

impl Compression {
    /// The suffixes looked for, in the order the kernel and kmod prefer them.
    pub const SUFFIXES: [(&'static str, Compression); 3] = [
        (".zst", Compression::Zstd),
        (".xz", Compression::Xz),
        (".gz", Compression::Gzip),
    ];

    pub fn from_name(name: &str) -> Compression {
        Compression::SUFFIXES
            .iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map_or(Compression::None, |(_, c)| *c)
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
            Compression::Gzip => ".gz",
        }
    }
}

/// Unpacks `data` (read from `path`, named in errors).
pub fn decompress(data: &[u8], how: Compression, path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 3);
    let what = || format!("decompressing {}", path.display());
    match how {
        Compression::None => out.extend_from_slice(data),
        Compression::Xz => {
            // Kernel modules may be several concatenated streams; the multi decoder reads on.
            liblzma::read::XzDecoder::new_multi_decoder(data)
                .read_to_end(&mut out)
                .with_context(what)?;
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(data)
                .with_context(what)?
                .read_to_end(&mut out)
                .with_context(what)?;
        }
        Compression::Gzip => {
            flate2::read::MultiGzDecoder::new(data)
                .read_to_end(&mut out)
                .with_context(what)?;
        }
    }
    Ok(out)
}

/// Reads a file and unpacks it according to its name.
pub fn read_decompressed(path: &Path) -> anyhow::Result<Vec<u8>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let how = Compression::from_name(&path.to_string_lossy());
    if how == Compression::None {
        return Ok(data);
    }
    decompress(&data, how, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn names_tell_the_compression() {
        assert_eq!(Compression::from_name("a.ko.xz"), Compression::Xz);
        assert_eq!(Compression::from_name("a.ko.zst"), Compression::Zstd);
        assert_eq!(Compression::from_name("a.ko.gz"), Compression::Gzip);
        assert_eq!(Compression::from_name("a.ko"), Compression::None);
    }

    #[test]
    fn round_trips_each_format() {
        let plain: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let p = Path::new("x");

        let mut xz = Vec::new();
        let mut enc = liblzma::write::XzEncoder::new(&mut xz, 6);
        enc.write_all(&plain).unwrap();
        enc.finish().unwrap();
        assert_eq!(decompress(&xz, Compression::Xz, p).unwrap(), plain);

        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        assert_eq!(decompress(&zst, Compression::Zstd, p).unwrap(), plain);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress(&gz, Compression::Gzip, p).unwrap(), plain);

        let err = decompress(b"not xz", Compression::Xz, p).unwrap_err();
        assert!(format!("{err:#}").contains("decompressing x"), "{err:#}");
    }
}
