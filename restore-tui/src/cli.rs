//! Command-line parsing and dispatch.

use anyhow::Context;
use clap::Parser;
use rescue_core::mountlist::{self, render, validate};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "restore-tui",
    version,
    about = "Rebuild disks and restore files from mkrescue rescue media"
)]
struct Cli {
    /// A mountlist file (as mkrescue writes it) to check and show: every disk, partition and
    /// filesystem the restore would recreate, and any problem that would stop it
    #[arg(long, value_name = "FILE")]
    mountlist: PathBuf,
}

/// Runs restore-tui with the process arguments and returns the exit code:
/// 0 success, 1 failure, 2 usage error.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            // Printing help or the usage error can only fail on a closed stdout/stderr.
            let _ = e.print();
            return code;
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    let ml = mountlist::read_file(&cli.mountlist)
        .with_context(|| format!("loading {}", cli.mountlist.display()))?;
    print!("{}", render::table(&ml));
    for warning in &ml.warnings {
        println!("captured with warning: {warning}");
    }
    let problems = validate::validate(&ml);
    for problem in &problems {
        eprintln!("{}: {problem}", problem.severity);
    }
    Ok(if validate::has_errors(&problems) {
        1
    } else {
        0
    })
}
