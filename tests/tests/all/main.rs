//! The black-box tests, as one test binary: each module is one area, run
//! against the built `trustpub` binary and components over real HTTP on
//! loopback. One binary links trustpub and wasmtime once instead of once per
//! area, which is most of a clean build's link time.

mod case_tables;
mod cluster;
mod console;
mod contract_versions;
mod corpus;
mod demo;
mod durability;
mod entra_id_component;
mod eval_cli;
mod exchange_http;
mod github_http;
mod handlers;
mod hostile_components;
mod hot_swap;
mod migrate;
mod operator_cli;
mod outage;
mod providers;
mod raw_http;
mod signed_evaluators;
