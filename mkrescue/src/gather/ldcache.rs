//! The dynamic loader's configuration, read from files: /etc/ld.so.cache (what ldconfig
//! wrote; glibc's "glibc-ld.so.cache1.1" format, possibly behind the old "ld.so-1.7.0"
//! table), /etc/ld.so.conf with its `include` globs, and the loader's built-in directories.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::elf::multiarch_triplet;
use super::pattern::{glob, has_wildcards};

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";

/// Bit 62 of `hwcap` marks an entry found in a glibc-hwcaps subdirectory (x86-64-v3 ...).
pub const HWCAP_EXTENSION: u64 = 1 << 62;

/// One library in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The name programs ask for (the SONAME: "libc.so.6").
    pub name: String,
    /// Where it is on the host.
    pub path: PathBuf,
    /// FLAG_ELF_LIBC6 (3) and the architecture bits (0x0300 = x86-64; none = i386).
    pub flags: i32,
    /// Non-zero for libraries optimised for some CPUs (glibc-hwcaps, legacy hwcap dirs).
    pub hwcap: u64,
}

impl CacheEntry {
    /// The description `ldconfig -p` prints in parentheses: "libc6,x86-64".
    pub fn describe(&self) -> String {
        let kind = match self.flags & 0xff {
            0 => "libc4",
            1 => "ELF",
            2 => "libc5",
            3 => "libc6",
            _ => "unknown",
        };
        let arch = match self.flags & 0xff00 {
            0 => String::new(),
            0x0100 | 0x0400 | 0x0500 | 0x0700 => ",64bit".to_string(),
            0x0200 => ",IA-64".to_string(),
            0x0300 => ",x86-64".to_string(),
            0x0600 => ",N32".to_string(),
            0x0800 => ",x32".to_string(),
            0x0900 => ",hard-float".to_string(),
            0x0a00 => ",AArch64".to_string(),
            0x0b00 => ",soft-float".to_string(),
            0x0c00 => ",nan2008".to_string(),
            0x0d00 => ",N32,nan2008".to_string(),
            0x0e00 => ",64bit,nan2008".to_string(),
            0x0f00 => ",soft-float".to_string(),
            0x1000 => ",double-float".to_string(),
            other => format!(",{other}"),
        };
        format!("{kind}{arch}")
    }

    /// Built for some CPUs only: not what a rescue system that may boot anywhere wants.
    pub fn is_hwcap_specific(&self) -> bool {
        self.hwcap != 0
    }
}

/// The parsed /etc/ld.so.cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdCache {
    /// In the cache's own order (ld.so's search order for equal names).
    pub entries: Vec<CacheEntry>,
}

impl LdCache {
    /// Parses the bytes of an ld.so.cache file.
    pub fn parse(data: &[u8]) -> anyhow::Result<LdCache> {
        if data.starts_with(NEW_MAGIC) {
            return parse_new(data, 0);
        }
        if data.starts_with(OLD_MAGIC) {
            let nlibs = read_u32(data, OLD_MAGIC.len() + 1, true)
                .context("ld.so.cache: truncated header")? as usize;
            // The old table (16-byte header, 12-byte entries), then the new format.
            let after = 16usize
                .checked_add(nlibs.checked_mul(12).context("ld.so.cache: bad count")?)
                .context("ld.so.cache: bad count")?;
            if let Some(pos) = data
                .get(after..)
                .and_then(|rest| find(rest, NEW_MAGIC))
                .map(|p| p + after)
            {
                return parse_new(data, pos);
            }
            return parse_old(data, nlibs, after);
        }
        bail!("not an ld.so.cache file (unknown magic)")
    }

    /// Reads `host_root`/etc/ld.so.cache; Ok(None) when the host has none.
    pub fn read(host_root: &Path) -> anyhow::Result<Option<LdCache>> {
        let path = host_root.join("etc/ld.so.cache");
        match std::fs::read(&path) {
            Ok(data) => LdCache::parse(&data)
                .with_context(|| format!("reading {}", path.display()))
                .map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The entries for a library name, the generic builds first (the cache's order within
    /// each group), then the CPU-specific ones.
    pub fn lookup<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a CacheEntry> + 'a {
        let generic = self
            .entries
            .iter()
            .filter(move |e| e.name == name && !e.is_hwcap_specific());
        let specific = self
            .entries
            .iter()
            .filter(move |e| e.name == name && e.is_hwcap_specific());
        generic.chain(specific)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_u32(data: &[u8], at: usize, le: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

fn read_u64(data: &[u8], at: usize, le: bool) -> Option<u64> {
    let b: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(b)
    } else {
        u64::from_be_bytes(b)
    })
}

fn cstr(data: &[u8], at: usize) -> Option<String> {
    let rest = data.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// struct cache_file_new: magic and version (20 bytes), nlibs, len_strings, flags (byte
/// order), padding, extension_offset, unused[3]; then 24-byte entries (flags, key, value,
/// osversion, hwcap). String offsets count from the start of this header.
fn parse_new(data: &[u8], base: usize) -> anyhow::Result<LdCache> {
    let h = data.get(base..).context("ld.so.cache: truncated")?;
    let le = match h.get(28) {
        Some(3) => false,
        Some(_) => true,
        None => bail!("ld.so.cache: truncated header"),
    };
    let nlibs = read_u32(h, 20, le).context("ld.so.cache: truncated header")? as usize;
    let mut entries = Vec::with_capacity(nlibs.min(100_000));
    for i in 0..nlibs {
        let at = 48 + i * 24;
        let bad = || format!("ld.so.cache: entry {i} is cut short");
        let flags = read_u32(h, at, le).with_context(bad)? as i32;
        let key = read_u32(h, at + 4, le).with_context(bad)? as usize;
        let value = read_u32(h, at + 8, le).with_context(bad)? as usize;
        let hwcap = read_u64(h, at + 16, le).with_context(bad)?;
        let name = cstr(h, key).with_context(|| format!("ld.so.cache: entry {i}: bad name"))?;
        let path = cstr(h, value).with_context(|| format!("ld.so.cache: entry {i}: bad path"))?;
        entries.push(CacheEntry {
            name,
            path: PathBuf::from(path),
            flags,
            hwcap,
        });
    }
    Ok(LdCache { entries })
}

/// The libc5-era table alone: 12-byte entries; string offsets from the end of the table.
fn parse_old(data: &[u8], nlibs: usize, strings: usize) -> anyhow::Result<LdCache> {
    let mut entries = Vec::with_capacity(nlibs.min(100_000));
    for i in 0..nlibs {
        let at = 16 + i * 12;
        let bad = || format!("ld.so.cache: entry {i} is cut short");
        let flags = read_u32(data, at, true).with_context(bad)? as i32;
        let key = read_u32(data, at + 4, true).with_context(bad)? as usize;
        let value = read_u32(data, at + 8, true).with_context(bad)? as usize;
        let name = cstr(data, strings + key).with_context(bad)?;
        let path = cstr(data, strings + value).with_context(bad)?;
        entries.push(CacheEntry {
            name,
            path: PathBuf::from(path),
            flags,
            hwcap: 0,
        });
    }
    Ok(LdCache { entries })
}

/// The directories listed in `host_root`/etc/ld.so.conf and the files it includes, in
/// order, without duplicates. Missing files are no error (a host may have none).
pub fn ld_so_conf_dirs(host_root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_conf(host_root, Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    dirs
}

fn read_conf(root: &Path, file: &Path, dirs: &mut Vec<PathBuf>, depth: usize) {
    if depth > 16 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(root.join(file.strip_prefix("/").unwrap_or(file)))
    else {
        return;
    };
    let here = file.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first == "include" {
            for pattern in words {
                let p = here.join(pattern);
                let files = if has_wildcards(pattern) {
                    glob(root, &p)
                } else {
                    vec![p]
                };
                for f in files {
                    read_conf(root, &f, dirs, depth + 1);
                }
            }
            continue;
        }
        if first == "hwcap" {
            continue;
        }
        for d in line.split(|c: char| c.is_whitespace() || c == ':' || c == ',') {
            // An old "DIR=TYPE" form names the library type; the directory is before "=".
            let d = d.split('=').next().unwrap_or("").trim_end_matches('/');
            if d.starts_with('/') {
                let d = PathBuf::from(d);
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
    }
}

/// The directories the loader searches last, built into it: for x86-64 /lib64 and
/// /usr/lib64 (Red Hat-like systems), the multiarch directories (Debian), then /lib and
/// /usr/lib.
pub fn default_dirs(is_64: bool, machine: u16) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let (a, b) = if is_64 {
        ("/lib64", "/usr/lib64")
    } else {
        ("/lib32", "/usr/lib32")
    };
    let multiarch = multiarch_triplet(is_64, machine);
    if is_64 {
        v.push(PathBuf::from(a));
        v.push(PathBuf::from(b));
    }
    if let Some(t) = multiarch {
        v.push(PathBuf::from(format!("/lib/{t}")));
        v.push(PathBuf::from(format!("/usr/lib/{t}")));
    }
    if !is_64 {
        v.push(PathBuf::from(a));
        v.push(PathBuf::from(b));
    }
    v.push(PathBuf::from("/lib"));
    v.push(PathBuf::from("/usr/lib"));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a new-format cache from (name, path, flags, hwcap).
    fn new_cache(libs: &[(&str, &str, i32, u64)]) -> Vec<u8> {
        let header = 48 + libs.len() * 24;
        let mut strings = Vec::new();
        let mut offsets = Vec::new();
        for (name, path, _, _) in libs {
            let k = header + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let v = header + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            offsets.push((k as u32, v as u32));
        }
        let mut out = Vec::new();
        out.extend_from_slice(NEW_MAGIC);
        out.extend_from_slice(&(libs.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        for ((_, _, flags, hwcap), (k, v)) in libs.iter().zip(&offsets) {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&hwcap.to_le_bytes());
        }
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn parses_the_new_format_and_prefers_generic_builds() {
        let data = new_cache(&[
            (
                "libz.so.1",
                "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1",
                0x0303,
                HWCAP_EXTENSION | 1,
            ),
            ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", 0x0303, 0),
            ("libz.so.1", "/lib/i386-linux-gnu/libz.so.1", 0x0003, 0),
        ]);
        let cache = LdCache::parse(&data).unwrap();
        assert_eq!(cache.entries.len(), 3);
        let found: Vec<&Path> = cache
            .lookup("libz.so.1")
            .map(|e| e.path.as_path())
            .collect();
        assert_eq!(
            found,
            vec![
                Path::new("/lib/x86_64-linux-gnu/libz.so.1"),
                Path::new("/lib/i386-linux-gnu/libz.so.1"),
                Path::new("/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1"),
            ]
        );
        assert_eq!(cache.entries[1].describe(), "libc6,x86-64");
        assert_eq!(cache.entries[2].describe(), "libc6");
    }

    #[test]
    fn parses_the_new_format_behind_the_old_table() {
        let inner = new_cache(&[("libc.so.6", "/lib/libc.so.6", 0x0303, 0)]);
        let mut data = Vec::new();
        data.extend_from_slice(OLD_MAGIC);
        data.push(0);
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&[0u8; 12]); // one old entry
        while data.len() % 8 != 0 {
            data.push(0);
        }
        data.extend_from_slice(&inner);
        let cache = LdCache::parse(&data).unwrap();
        assert_eq!(cache.entries[0].name, "libc.so.6");
        assert!(LdCache::parse(b"garbage").is_err());
        assert!(LdCache::parse(&inner[..60]).is_err());
    }

    #[test]
    fn reads_ld_so_conf_with_includes() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(etc.join("ld.so.conf.d")).unwrap();
        std::fs::write(
            etc.join("ld.so.conf"),
            "# comment\n/opt/a/lib\ninclude ld.so.conf.d/*.conf\n/opt/b/lib:/opt/c/lib=libc6\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("ld.so.conf.d/x.conf"),
            "/usr/local/lib\n/opt/a/lib\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("ld.so.conf.d/y.conf"),
            "hwcap 0 nosegneg\n/y/lib/\n",
        )
        .unwrap();
        assert_eq!(
            ld_so_conf_dirs(dir.path()),
            [
                "/opt/a/lib",
                "/usr/local/lib",
                "/y/lib",
                "/opt/b/lib",
                "/opt/c/lib"
            ]
            .iter()
            .map(PathBuf::from)
            .collect::<Vec<_>>()
        );
        assert!(ld_so_conf_dirs(&dir.path().join("none")).is_empty());
    }

    #[test]
    fn default_dirs_by_architecture() {
        use goblin::elf::header::{EM_386, EM_X86_64};
        let d = default_dirs(true, EM_X86_64);
        assert_eq!(d[0], PathBuf::from("/lib64"));
        assert!(d.contains(&PathBuf::from("/usr/lib/x86_64-linux-gnu")));
        assert_eq!(d.last().unwrap(), &PathBuf::from("/usr/lib"));
        let d = default_dirs(false, EM_386);
        assert_eq!(d[0], PathBuf::from("/lib/i386-linux-gnu"));
    }
}
