//! Gathers what the rescue system needs from the host: the kernel, the kernel modules and
//! firmware they ask for, and the tools a restore runs with their shared libraries.
//!
//! Everything is read from files (ELF headers, `.modinfo`, `ld.so.cache`); nothing here
//! runs `ldd`, `depmod` or `modinfo`, so it works the same for any kernel on any host.

pub mod compress;
pub mod elf;
pub mod kernel;
pub mod ldcache;
pub mod modules;
pub mod pattern;
pub mod tools;

pub use kernel::{find_kernel, KernelSpec};
pub use modules::{gather_modules, ModuleReport, BUILTIN_SET};
pub use tools::{gather_files, gather_tools, ToolReport, DEFAULT_TOOLS, OPTIONAL_TOOLS};
