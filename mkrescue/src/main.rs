fn main() {
    std::process::exit(mkrescue::cli::main());
}
