//! The catalog and hash-list readers and their join on any bytes: every record or an error
//! naming its line, never a panic or a hang. The input is a catalog and a hash list
//! (`rescue_fuzz::split_two`: a u32 length, then the two); each is taken as it is when it is
//! a zstd frame, else compressed first so that the JSON lines behind it get fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rescue_core::catalog::{join, CatalogReader, HashListReader};
use rescue_fuzz::{as_zstd, split_two};

/// Records taken from one input at most.
const MAX_RECORDS: usize = 100_000;

fuzz_target!(|data: &[u8]| {
    let (catalog, hashes) = split_two(data);
    let catalog = as_zstd(catalog);
    let hashes = as_zstd(hashes);

    if let Ok(reader) = CatalogReader::new(&catalog[..]) {
        for record in reader.take(MAX_RECORDS) {
            match record {
                Ok(r) => {
                    let _ = (r.sets(), r.expected_hashes(), r.kind.type_name());
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
    if let Ok(reader) = HashListReader::new(&hashes[..]) {
        for record in reader.take(MAX_RECORDS) {
            let _ = record.map_err(|e| e.to_string());
        }
    }
    let (Ok(c), Ok(h)) = (
        CatalogReader::new(&catalog[..]),
        HashListReader::new(&hashes[..]),
    ) else {
        return;
    };
    for joined in join(c, h).take(MAX_RECORDS) {
        match joined {
            Ok(j) => {
                let _ = (j.complete(), j.hash());
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
