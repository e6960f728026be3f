//! The tar reader on any bytes: every entry and its data read (as content and as stored
//! bytes), never a panic, a hang or an allocation beyond the input's size. An entry the
//! reader accepts and our writer can store must read back the same after a round trip
//! through the writer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rescue_core::archive::writer::validate;
use rescue_core::archive::{stored_size, EntryKind, EntryMeta, TarReader, TarWriter};
use rescue_fuzz::MAX_READ_PER_INPUT;
use std::io::Read;

/// Entries larger than this are not written back: the writer hashes a sparse file's holes,
/// which takes time in proportion to its size.
const MAX_ROUND_TRIP: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut reader = TarReader::new(data);
    let mut budget = MAX_READ_PER_INPUT;
    let mut buf = vec![0u8; 64 << 10];
    let mut n = 0u32;
    loop {
        let before = reader.offset();
        let (meta, content) = match reader.next_entry() {
            Ok(None) => break,
            Ok(Some((meta, mut entry))) => {
                n += 1;
                // Odd entries as stored bytes, even ones as content (holes as zeros).
                let mut content = Vec::new();
                let result = if n % 2 == 1 {
                    read_some(&mut entry.stored(), &mut buf, &mut budget, &mut content)
                } else {
                    read_some(&mut entry, &mut buf, &mut budget, &mut content)
                };
                match result {
                    Ok(()) if n % 2 == 1 => (meta, Some(content)),
                    Ok(()) | Err(_) => (meta, None),
                }
            }
            Err(e) => {
                let _ = e.to_string();
                if e.is_fatal() {
                    break;
                }
                continue;
            }
        };
        assert!(reader.offset() > before, "an entry took no bytes");
        if let Some(stored) = content {
            round_trip(&meta, &stored);
        }
    }
});

/// Reads to the end, or until the input's budget is spent.
fn read_some(
    src: &mut dyn Read,
    buf: &mut [u8],
    budget: &mut u64,
    keep: &mut Vec<u8>,
) -> std::io::Result<()> {
    loop {
        if *budget == 0 {
            return Err(std::io::Error::other("budget spent"));
        }
        let want = buf
            .len()
            .min(usize::try_from(*budget).unwrap_or(usize::MAX));
        let got = src.read(&mut buf[..want])?;
        if got == 0 {
            return Ok(());
        }
        *budget -= got as u64;
        if keep.len() < MAX_ROUND_TRIP as usize {
            keep.extend_from_slice(&buf[..got]);
        }
    }
}

/// Writes the entry with our writer and reads it back: the same entry, and as many bytes as
/// `stored_size` says.
fn round_trip(meta: &EntryMeta, stored: &[u8]) {
    let small = match &meta.kind {
        EntryKind::File { size, .. } => *size <= MAX_ROUND_TRIP,
        _ => true,
    };
    if !small || validate(meta).is_err() {
        return;
    }
    let mut writer = TarWriter::new(Vec::new());
    let outcome = writer
        .append(meta, &mut &stored[..])
        .expect("writing into memory");
    assert_eq!(
        outcome.stored,
        stored_size(meta),
        "stored_size is not what append wrote"
    );
    let bytes = writer.finish().expect("writing into memory");
    let mut back = TarReader::new(&bytes[..]);
    let (again, mut entry) = back
        .next_entry()
        .unwrap_or_else(|e| panic!("our own entry does not read back: {e}"))
        .expect("our own entry is there");
    assert_eq!(
        &again, meta,
        "the entry changed in a round trip through the writer"
    );
    // Only regular files carry data through the writer (the reader also gives what other
    // entries have, to skip it).
    if matches!(meta.kind, EntryKind::File { .. }) {
        let mut data = Vec::new();
        entry
            .stored()
            .read_to_end(&mut data)
            .expect("reading our own entry");
        assert_eq!(data, stored, "the data changed in a round trip");
    }
}
