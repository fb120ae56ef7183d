//! The `trustpub` binary: parses the command line, sets up logging and the
//! async runtime, and maps outcomes to exit codes.

use std::process::ExitCode;

use clap::Parser;
use trustpub::cli::{Cli, Command, demo, eval, idp, migrate, operator, serve};
use trustpub::config::LogFormat;

/// Exit code for a command line that does not parse (sysexits' EX_USAGE),
/// kept apart from `eval`'s verdict codes 0-3.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Eval(args) => {
            serve::init_logging(LogFormat::Human);
            match eval::run(&args) {
                Ok((verdict, code)) => {
                    println!("{verdict}");
                    ExitCode::from(code)
                }
                Err(e) => {
                    eprintln!("trustpub eval: {e}");
                    ExitCode::from(eval::EXIT_ERROR)
                }
            }
        }
        Command::Serve(args) => match args.settings() {
            Ok(settings) => {
                serve::init_logging(settings.log_format);
                finish("serve", async_main(serve::run(settings)))
            }
            Err(e) => finish::<()>("serve", Err(e)),
        },
        Command::Demo(args) => {
            if std::env::var_os("TRUSTPUB_LOG").is_some() {
                serve::init_logging(LogFormat::Human);
            }
            finish("demo", async_main(demo::run(&args)))
        }
        Command::Idp(args) => {
            serve::init_logging(LogFormat::Human);
            finish("idp", async_main(idp::run(args)))
        }
        Command::User(args) => finish("user", async_main(operator::run_user(args))),
        Command::Policy(args) => finish("policy", async_main(operator::run_policy(args))),
        Command::Evaluator(args) => finish("evaluator", async_main(operator::run_evaluator(args))),
        Command::Audit(args) => finish("audit", async_main(operator::run_audit(args))),
        // Blocking database work only: no async runtime.
        Command::Migrate(args) => finish("migrate", migrate::run(&args)),
    }
}

fn async_main<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn finish<T>(command: &str, result: anyhow::Result<T>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trustpub {command}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
