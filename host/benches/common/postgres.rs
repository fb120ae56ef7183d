//! Throwaway PostgreSQL databases for the benches that can run on one
//! (`cluster`, and `load` with `TRUSTPUB_LOAD_POSTGRES_URL`). Included by
//! path in those two only, so the other benches do not carry it unused.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A new, empty database on the server of `admin_url` (named for this
/// process and a counter); its URL.
pub fn create_database(admin_url: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "trustpub_bench_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    postgres::Client::connect(admin_url, postgres::NoTls)
        .expect("connect to the PostgreSQL server")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let cut = base.rfind('/').expect("a database in the URL");
    format!("{}/{name}", &base[..cut])
}

/// Drops the database of `url` (made by [`create_database`]).
pub fn drop_database(admin_url: &str, url: &str) {
    let name = url.rsplit('/').next().unwrap_or_default();
    if let Ok(mut c) = postgres::Client::connect(admin_url, postgres::NoTls) {
        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
