//! The `icebroker` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = icebroker::cli::Cli::parse();
    match icebroker::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("icebroker: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
