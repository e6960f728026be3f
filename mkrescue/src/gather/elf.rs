//! What the dynamic loader reads from an ELF file: its interpreter (PT_INTERP), the
//! libraries it needs (DT_NEEDED), where to look for them (DT_RPATH, DT_RUNPATH) and its
//! class and machine, so that a library of another architecture is never picked.
//! Also a light section reader for kernel modules (`.modinfo`, `.symtab`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use goblin::container::{Container, Ctx};
use goblin::elf::{Elf, SectionHeader};

/// The loader-relevant facts of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// ELFCLASS64 (true) or ELFCLASS32.
    pub is_64: bool,
    /// e_machine (EM_X86_64 = 62, EM_386 = 3, ...).
    pub machine: u16,
    pub little_endian: bool,
    /// e_type (ET_EXEC, ET_DYN, ET_REL ...).
    pub e_type: u16,
    /// PT_INTERP: the dynamic loader's path, for programs.
    pub interp: Option<String>,
    /// DT_NEEDED, in order.
    pub needed: Vec<String>,
    /// DT_RPATH entries (split at ':'), unexpanded.
    pub rpath: Vec<String>,
    /// DT_RUNPATH entries (split at ':'), unexpanded.
    pub runpath: Vec<String>,
    pub soname: Option<String>,
    /// DF_1_NODEFLIB: the default directories (and ld.so.cache) are not searched.
    pub nodeflib: bool,
}

impl ElfInfo {
    /// Whether a library `other` can satisfy this object's needs (same class, machine and
    /// byte order), as ld.so checks before it accepts a candidate file.
    pub fn compatible(&self, other: &ElfInfo) -> bool {
        self.is_64 == other.is_64
            && self.machine == other.machine
            && self.little_endian == other.little_endian
    }

    /// No loader and no libraries: runs as it is (static, or static-pie).
    pub fn is_static(&self) -> bool {
        self.interp.is_none() && self.needed.is_empty()
    }
}

pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Parses the program headers and the dynamic section of an ELF file.
pub fn parse(data: &[u8]) -> anyhow::Result<ElfInfo> {
    if !is_elf(data) {
        bail!("not an ELF file");
    }
    let elf = Elf::parse(data).context("parsing the ELF headers")?;
    let split = |list: &[&str]| -> Vec<String> {
        list.iter()
            .flat_map(|s| s.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let nodeflib = elf
        .dynamic
        .as_ref()
        .is_some_and(|d| d.info.flags_1 & goblin::elf::dynamic::DF_1_NODEFLIB != 0);
    Ok(ElfInfo {
        is_64: elf.is_64,
        machine: elf.header.e_machine,
        little_endian: elf.little_endian,
        e_type: elf.header.e_type,
        interp: elf.interpreter.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        soname: elf.soname.map(str::to_string),
        nodeflib,
    })
}

/// Reads and parses the ELF file at `path`.
pub fn read(path: &Path) -> anyhow::Result<ElfInfo> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&data).with_context(|| format!("reading the ELF headers of {}", path.display()))
}

/// Class, machine and byte order from the first bytes of a file, without parsing the rest:
/// enough to reject a library candidate of the wrong architecture.
pub fn read_ident(path: &Path) -> Option<(bool, u16, bool)> {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    if !is_elf(&head) {
        return None;
    }
    let is_64 = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match head[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let m = [head[18], head[19]];
    let machine = if le {
        u16::from_le_bytes(m)
    } else {
        u16::from_be_bytes(m)
    };
    Some((is_64, machine, le))
}

/// True for an ELF program with no PT_INTERP and no DT_NEEDED (static-pie counts as static).
pub fn is_static(path: &Path) -> anyhow::Result<bool> {
    Ok(read(path)?.is_static())
}

/// The multiarch triplet Debian uses for an architecture (lib/x86_64-linux-gnu).
pub fn multiarch_triplet(is_64: bool, machine: u16) -> Option<&'static str> {
    use goblin::elf::header::*;
    Some(match (machine, is_64) {
        (EM_X86_64, true) => "x86_64-linux-gnu",
        (EM_X86_64, false) => "x86_64-linux-gnux32",
        (EM_386, false) => "i386-linux-gnu",
        (EM_AARCH64, true) => "aarch64-linux-gnu",
        (EM_ARM, false) => "arm-linux-gnueabihf",
        (EM_PPC64, true) => "powerpc64le-linux-gnu",
        (EM_S390, true) => "s390x-linux-gnu",
        (EM_RISCV, true) => "riscv64-linux-gnu",
        (EM_LOONGARCH, true) => "loongarch64-linux-gnu",
        _ => return None,
    })
}

/// What `$PLATFORM` (AT_PLATFORM) is for an architecture.
fn platform(is_64: bool, machine: u16) -> &'static str {
    use goblin::elf::header::*;
    match (machine, is_64) {
        (EM_X86_64, _) => "x86_64",
        (EM_386, _) => "i686",
        (EM_AARCH64, _) => "aarch64",
        (EM_PPC64, _) => "powerpc64le",
        (EM_S390, _) => "s390x",
        (EM_RISCV, _) => "riscv64",
        _ => "",
    }
}

/// The values `$LIB` may stand for. glibc builds it in as the last component of its own
/// library directory: "lib64" on Red Hat-like systems, the multiarch triplet on Debian,
/// "lib" elsewhere. All candidates are tried, and each found file is checked for its class.
fn lib_values(is_64: bool, machine: u16) -> Vec<String> {
    let mut v = Vec::new();
    if is_64 {
        v.push("lib64".to_string());
    } else {
        v.push("lib32".to_string());
    }
    if let Some(t) = multiarch_triplet(is_64, machine) {
        v.push(format!("lib/{t}"));
        v.push(t.to_string());
    }
    v.push("lib".to_string());
    v
}

/// Expands the dynamic string tokens of one RPATH/RUNPATH entry as ld.so does: `$ORIGIN`
/// and `${ORIGIN}` (the directory of the object), `$LIB`, `$PLATFORM`; ".." stays in the
/// result, to be resolved against the file system (after symlinks). Several results when
/// `$LIB` is in it (see [`lib_values`]). An entry with an unknown token is dropped, as ld.so
/// drops it.
pub fn expand_dst(entry: &str, origin: &Path, is_64: bool, machine: u16) -> Vec<PathBuf> {
    let mut outs = vec![String::new()];
    let bytes = entry.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            let next = entry[i..].find('$').map_or(entry.len(), |n| i + n);
            for o in &mut outs {
                o.push_str(&entry[i..next]);
            }
            i = next;
            continue;
        }
        let rest = &entry[i + 1..];
        let (name, used) = if let Some(r) = rest.strip_prefix('{') {
            match r.find('}') {
                Some(end) => (&r[..end], end + 2),
                None => return Vec::new(),
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], end)
        };
        let values: Vec<String> = match name {
            "ORIGIN" => vec![origin.to_string_lossy().into_owned()],
            "PLATFORM" => vec![platform(is_64, machine).to_string()],
            "LIB" => lib_values(is_64, machine),
            _ => return Vec::new(),
        };
        outs = outs
            .iter()
            .flat_map(|o| values.iter().map(move |v| format!("{o}{v}")))
            .collect();
        i += 1 + used;
    }
    // Kept as text, as ld.so keeps it ("$ORIGIN/../lib" -> "/opt/app/bin/../lib").
    outs.into_iter()
        .filter(|o| !o.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// One section of an ELF file, located in its bytes.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub sh_type: u32,
    pub offset: usize,
    pub size: usize,
    pub link: u32,
}

/// An ELF file's section headers with their names, read without parsing anything else:
/// kernel modules are relocatable objects with hundreds of sections, most of no interest.
#[derive(Debug)]
pub struct Sections<'a> {
    data: &'a [u8],
    ctx: Ctx,
    pub list: Vec<Section>,
}

impl<'a> Sections<'a> {
    pub fn parse(data: &'a [u8]) -> anyhow::Result<Sections<'a>> {
        if !is_elf(data) {
            bail!("not an ELF file");
        }
        let header = Elf::parse_header(data).context("parsing the ELF header")?;
        let container = header.container().context("ELF class")?;
        let le = header.endianness().context("ELF byte order")?;
        let ctx = Ctx::new(container, le);
        let shoff = usize::try_from(header.e_shoff)?;
        if shoff == 0 {
            return Ok(Sections {
                data,
                ctx,
                list: Vec::new(),
            });
        }
        let mut count = usize::from(header.e_shnum);
        let mut shstrndx = usize::from(header.e_shstrndx);
        if count == 0 || shstrndx == usize::from(goblin::elf::section_header::SHN_XINDEX as u16) {
            // Extended numbering: the real values are in section 0.
            let first = SectionHeader::parse(data, shoff, 1, ctx).context("section 0")?;
            if count == 0 {
                count = usize::try_from(first[0].sh_size)?;
            }
            if shstrndx == usize::from(goblin::elf::section_header::SHN_XINDEX as u16) {
                shstrndx = first[0].sh_link as usize;
            }
        }
        let headers =
            SectionHeader::parse(data, shoff, count, ctx).context("parsing section headers")?;
        let names = headers.get(shstrndx).map(|h| (h.sh_offset, h.sh_size));
        let strtab = match names {
            Some((off, size)) => Some(
                goblin::strtab::Strtab::parse(
                    data,
                    usize::try_from(off)?,
                    usize::try_from(size)?,
                    0,
                )
                .context("section name table")?,
            ),
            None => None,
        };
        let list = headers
            .iter()
            .map(|h| Section {
                name: strtab
                    .as_ref()
                    .and_then(|t| t.get_at(h.sh_name))
                    .unwrap_or("")
                    .to_string(),
                sh_type: h.sh_type,
                offset: h.sh_offset as usize,
                size: h.sh_size as usize,
                link: h.sh_link,
            })
            .collect();
        Ok(Sections { data, ctx, list })
    }

    pub fn is_64(&self) -> bool {
        self.ctx.container == Container::Big
    }

    pub fn is_little_endian(&self) -> bool {
        self.ctx.le.is_little()
    }

    /// The bytes of the first section of that name (NOBITS sections have none).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        let s = self.list.iter().find(|s| s.name == name)?;
        if s.sh_type == goblin::elf::section_header::SHT_NOBITS {
            return Some(&[]);
        }
        self.data.get(s.offset..s.offset.checked_add(s.size)?)
    }

    /// The symbols of `.symtab` (index 0 included) with their names, in table order.
    pub fn symbols(&self) -> anyhow::Result<Vec<(String, goblin::elf::Sym)>> {
        let Some(symtab) = self
            .list
            .iter()
            .find(|s| s.sh_type == goblin::elf::section_header::SHT_SYMTAB)
        else {
            return Ok(Vec::new());
        };
        let strsec = self
            .list
            .get(symtab.link as usize)
            .context(".symtab links to no string table")?;
        let strtab = goblin::strtab::Strtab::parse(self.data, strsec.offset, strsec.size, 0)
            .context("parsing .strtab")?;
        let entsize = goblin::elf::sym::Sym::size(self.ctx.container);
        let count = symtab.size / entsize;
        let syms = goblin::elf::sym::Symtab::parse(self.data, symtab.offset, count, self.ctx)
            .context("parsing .symtab")?;
        Ok(syms
            .iter()
            .map(|s| (strtab.get_at(s.st_name).unwrap_or("").to_string(), s))
            .collect())
    }

    /// Reads an unsigned word of the file's byte order at `offset`.
    pub fn read_uint(&self, offset: usize, size: usize) -> Option<u64> {
        let b = self.data.get(offset..offset.checked_add(size)?)?;
        let mut v: u64 = 0;
        if self.is_little_endian() {
            for (i, &x) in b.iter().enumerate() {
                v |= u64::from(x) << (8 * i);
            }
        } else {
            for &x in b {
                v = (v << 8) | u64::from(x);
            }
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::header::{EM_386, EM_X86_64};

    #[test]
    fn expands_origin_lib_and_platform() {
        let o = Path::new("/opt/app/bin");
        assert_eq!(
            expand_dst("$ORIGIN/../lib", o, true, EM_X86_64),
            vec![PathBuf::from("/opt/app/bin/../lib")]
        );
        assert_eq!(
            expand_dst("${ORIGIN}/plugins", o, true, EM_X86_64),
            vec![PathBuf::from("/opt/app/bin/plugins")]
        );
        assert_eq!(
            expand_dst("/usr/$LIB/x", o, true, EM_X86_64),
            vec![
                PathBuf::from("/usr/lib64/x"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/x"),
                PathBuf::from("/usr/x86_64-linux-gnu/x"),
                PathBuf::from("/usr/lib/x"),
            ]
        );
        assert_eq!(
            expand_dst("/p/$PLATFORM", o, false, EM_386),
            vec![PathBuf::from("/p/i686")]
        );
        assert!(expand_dst("/p/$UNKNOWN", o, true, EM_X86_64).is_empty());
        assert!(expand_dst("${ORIGIN", o, true, EM_X86_64).is_empty());
        assert_eq!(
            expand_dst("/plain/dir", o, true, EM_X86_64),
            vec![PathBuf::from("/plain/dir")]
        );
    }

    #[test]
    fn reads_a_real_program() {
        let info = read(Path::new("/proc/self/exe")).unwrap();
        assert!(info.interp.is_some() || info.is_static());
        let ident = read_ident(Path::new("/proc/self/exe")).unwrap();
        assert_eq!(ident, (info.is_64, info.machine, info.little_endian));
        assert!(parse(b"#!/bin/sh\n").is_err());
    }
}
