//! Booting rescue media in QEMU for tests: the prerequisites (test kernel, static
//! restore-tui, mkrescue, the media), a VM guard that is always killed, and waiting for a
//! line on the serial console.

pub mod debian;
pub mod machines;
mod prerequisites;

pub use mkrescue::rehearse::vm::{tail, Accel, Firmware, Vm, VmOptions};
pub use prerequisites::{
    media, mkrescue_bin, mkrescue_create, require_qemu, restore_tui_bin, test_kernel, Media,
};
