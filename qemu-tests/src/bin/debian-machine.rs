//! `debian-machine`: builds the Debian test machine (`qemu_tests::debian`) unless it is
//! cached, and prints its disk image's path. scripts/test runs it before the test tiers,
//! so the build's minutes are not counted against a test's time limit.

fn main() {
    match qemu_tests::debian::machine() {
        Ok(m) => println!("{}", m.image().display()),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
