//! Pooled connections that keep their prepared statements.
//!
//! `postgres::Client::query(&str, …)` prepares the statement, then runs it:
//! two round trips to the server. The exchange's statements are prepared once
//! per connection and kept here, so each later call is one round trip.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use postgres::{Client, NoTls, Statement};
use r2d2_postgres::PostgresConnectionManager;

/// A client and the statements prepared on it, by their SQL text.
pub(in crate::store) struct CachedClient {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl CachedClient {
    /// `sql` prepared on this connection, the first time only.
    pub(super) fn prepared(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}

impl Deref for CachedClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for CachedClient {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// r2d2's manager for [`CachedClient`]s: connects and checks as
/// `r2d2_postgres` does, with an empty statement cache per connection.
pub(in crate::store) struct Manager(PostgresConnectionManager<NoTls>);

impl Manager {
    pub(super) fn new(config: postgres::Config) -> Self {
        Self(PostgresConnectionManager::new(config, NoTls))
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = CachedClient;
    type Error = postgres::Error;

    fn connect(&self) -> Result<CachedClient, postgres::Error> {
        Ok(CachedClient {
            client: self.0.connect()?,
            prepared: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut CachedClient) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut CachedClient) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}
