//! The `trustpub` command line.

pub mod demo;
pub mod eval;
pub mod idp;
pub mod migrate;
pub mod operator;
pub mod serve;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "trustpub",
    version,
    about = "Trusted-publishing token exchange: OIDC tokens in, short-lived registry API keys out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the token exchange service.
    Serve(serve::ServeArgs),
    /// Run one evaluator component offline, in the sandbox, and print its verdict as JSON.
    Eval(eval::EvalArgs),
    /// Show a full exchange on loopback: test IdP, service, policy, token, key.
    Demo(demo::DemoArgs),
    /// The local test identity provider: serve discovery + JWKS, mint tokens.
    Idp(idp::IdpArgs),
    /// Manage users (against a running server or the database).
    User(operator::UserArgs),
    /// Manage federated credential policies (against a running server or the database).
    Policy(operator::PolicyArgs),
    /// Deploy, roll back and list evaluator components.
    Evaluator(operator::EvaluatorArgs),
    /// Show the audit log: exchange attempts (failed checks, near misses) and operator actions.
    Audit(operator::AuditArgs),
    /// Copy a SQLite database into an empty PostgreSQL database, verified by counts.
    Migrate(migrate::MigrateArgs),
}
