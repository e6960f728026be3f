//! `corpus make DIR [BULK_BYTES [BIG_FILE_BYTES]]` fills DIR with a test corpus;
//! `corpus compare A B` prints every difference between two trees (exit 1 when any).

use std::path::Path;
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: corpus make DIR [BULK_BYTES [BIG_FILE_BYTES]] | corpus compare A B");
        exit(2)
    };
    let number = |s: &String| s.parse::<u64>().unwrap_or_else(|_| usage());
    let result = match args.first().map(String::as_str) {
        Some("make") if (2..=4).contains(&args.len()) => {
            let opts = corpus::Options {
                bulk_bytes: args.get(2).map(number).unwrap_or(2 << 20),
                big_file: args.get(3).map(number),
                seed: 1,
            };
            corpus::generate(Path::new(&args[1]), &opts).map(|s| {
                println!("{} files, {} bytes", s.files, s.bytes);
                for skipped in s.skipped {
                    eprintln!("skipped: {skipped}");
                }
                0
            })
        }
        Some("compare") if args.len() == 3 => {
            corpus::compare(Path::new(&args[1]), Path::new(&args[2])).map(|diffs| {
                for d in &diffs {
                    println!("{d}");
                }
                i32::from(!diffs.is_empty())
            })
        }
        _ => usage(),
    };
    match result {
        Ok(code) => exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit(1)
        }
    }
}
