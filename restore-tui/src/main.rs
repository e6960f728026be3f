fn main() {
    std::process::exit(restore_tui::cli::main());
}
