//! The `icebroker` binary: parse the command line and hand over to the library.

use clap::Parser;

/// mimalloc instead of glibc's malloc: the proxy's hot path allocates per request, and glibc's
/// bin bookkeeping was about a tenth of the broker's CPU per call (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
