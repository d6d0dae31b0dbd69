//! `simpul`: the binary. Parses the command line and configuration, wires the crates together,
//! and turns errors into a message and a non-zero exit. Nothing else lives here.

mod cli;
mod config;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let default_level = match args.command {
        cli::Command::Serve(_) => "info",
        _ => "warn",
    };
    config::init_tracing(args.log_format, default_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
