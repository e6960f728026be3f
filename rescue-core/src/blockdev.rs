//! Facts about attached block devices that both binaries need, read from /sys.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BlockDevError {
    #[error("{device} is not an attached block device ({file} cannot be read)")]
    NotAttached {
        device: String,
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} holds {text:?}, not a number")]
    Garbled { file: String, text: String },
}

/// Size of an attached block device in bytes, from `<sys>/class/block/<name>/size`
/// (always in 512-byte units, whatever the sector size).
pub fn size_bytes(device: &str, sys: &Path) -> Result<u64, BlockDevError> {
    let name = device.strip_prefix("/dev/").unwrap_or(device);
    let file = sys.join("class/block").join(name).join("size");
    let text = std::fs::read_to_string(&file).map_err(|source| BlockDevError::NotAttached {
        device: device.to_string(),
        file: file.display().to_string(),
        source,
    })?;
    let sectors: u64 = text.trim().parse().map_err(|_| BlockDevError::Garbled {
        file: file.display().to_string(),
        text: text.clone(),
    })?;
    Ok(sectors.saturating_mul(512))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_size_in_512_byte_units() {
        let sys = tempfile::tempdir().unwrap();
        let dir = sys.path().join("class/block/vdb");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("size"), "2048\n").unwrap();
        assert_eq!(size_bytes("/dev/vdb", sys.path()).unwrap(), 1 << 20);
        let err = size_bytes("/dev/vdc", sys.path()).unwrap_err();
        assert!(
            err.to_string().contains("/dev/vdc is not an attached"),
            "{err}"
        );
    }
}
