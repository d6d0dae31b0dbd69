//! `simpul`: the binary. Parses the command line and configuration, wires the crates together,
//! and turns errors into a message and an exit code (`cli::exit`, the README's table). Nothing
//! else lives here.

mod cli;
mod config;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::exit::Exit;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(error) => {
            // Help and version on stdout, usage errors on stderr, as clap's `exit` does.
            let _ = error.print();
            return Exit::of_clap(&error).into();
        }
    };
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
            return Exit::Failed.into();
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => Exit::Success.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            Exit::of(&error).into()
        }
    }
}
