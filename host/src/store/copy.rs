//! `trustpub migrate`: copies a SQLite database into an empty PostgreSQL one
//! — users, policies with their pins and index keys, keys, used token ids,
//! audit events — keeping every id, in one PostgreSQL transaction, then
//! verifies that each table holds as many rows on both sides.
//!
//! Ids are kept so that keys still name their policies and audit events keep
//! their order; the identity sequences then continue past the highest id
//! SQLite ever handed out (its `sqlite_sequence`, which counts deleted
//! policies too), so no policy id is ever reused.

use postgres::types::ToSql;
use rusqlite::types::Value;

use super::postgres::map;
use super::{PostgresOptions, PostgresStore, SqliteStore, StoreError};

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
}

use Kind::{Int, Text};

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// The identity column whose sequence must move past the copied ids.
    identity: bool,
}

/// In foreign-key order.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[("id", Int), ("username", Text), ("created_at", Int)],
        identity: true,
    },
    Table {
        name: "policies",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("provider", Text),
            ("owner", Text),
            ("criteria", Text),
            ("scopes", Text),
            ("created_at", Int),
            ("renewed_at", Int),
            ("last_used_at", Int),
        ],
        identity: true,
    },
    Table {
        name: "policy_pins",
        columns: &[("policy_id", Int), ("name", Text), ("value", Text)],
        identity: false,
    },
    Table {
        name: "policy_index_keys",
        columns: &[("provider", Text), ("key", Text), ("policy_id", Int)],
        identity: false,
    },
    Table {
        name: "provider_index",
        columns: &[("provider", Text), ("digest", Text)],
        identity: false,
    },
    Table {
        name: "api_keys",
        columns: &[
            ("hash", Text),
            ("username", Text),
            ("owner", Text),
            ("scopes", Text),
            ("policy_id", Int),
            ("provider", Text),
            ("evaluator_digest", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("revoked_at", Int),
        ],
        identity: false,
    },
    Table {
        name: "used_token_ids",
        columns: &[("issuer", Text), ("token_id", Text), ("keep_until", Int)],
        identity: false,
    },
    Table {
        name: "audit_events",
        columns: &[
            ("id", Int),
            ("at", Int),
            ("provider", Text),
            ("username", Text),
            ("outcome", Text),
            ("detail", Text),
            ("policy_id", Int),
            ("evaluator_digest", Text),
            ("subject", Text),
            ("client_addr", Text),
            ("check_name", Text),
            ("near_misses", Text),
        ],
        identity: true,
    },
];

/// How many rows of one table were copied (and found on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub table: &'static str,
    pub rows: u64,
}

/// Copies the SQLite database at `sqlite_path` into the (empty) PostgreSQL
/// database at `postgres_url`; both are migrated to the current schema first.
pub fn sqlite_to_postgres(
    sqlite_path: &str,
    postgres_url: &str,
) -> Result<Vec<CopiedTable>, StoreError> {
    let source = SqliteStore::open(sqlite_path)?;
    let target = PostgresStore::open(postgres_url, &PostgresOptions::default())?;
    let source = source.conn()?;
    let mut target = target.conn()?;
    let mut tx = target.transaction().map_err(map)?;
    for table in TABLES {
        let present: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
            .map_err(map)?
            .get(0);
        if present > 0 {
            return Err(StoreError::Conflict(format!(
                "the PostgreSQL database is not empty ({} has {present} rows): migrate into a new database",
                table.name
            )));
        }
    }
    for table in TABLES {
        copy_table(&source, &mut tx, table)?;
    }
    tx.commit().map_err(map)?;

    let mut copied = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT count(*) FROM {}", table.name);
        let in_sqlite: i64 = source.query_row(&sql, [], |r| r.get(0))?;
        let in_postgres: i64 = target.query_one(&sql, &[]).map_err(map)?.get(0);
        if in_sqlite != in_postgres {
            return Err(StoreError::Database(format!(
                "verification failed: {} has {in_sqlite} rows in SQLite but {in_postgres} in PostgreSQL",
                table.name
            )));
        }
        copied.push(CopiedTable {
            table: table.name,
            rows: u64::try_from(in_sqlite).unwrap_or(0),
        });
    }
    Ok(copied)
}

fn copy_table(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &Table,
) -> Result<(), StoreError> {
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let order = if table.identity { " ORDER BY id" } else { "" };
    let mut select = source.prepare(&format!(
        "SELECT {} FROM {}{order}",
        names.join(", "),
        table.name
    ))?;
    let insert = tx
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            names.join(", "),
            placeholders.join(", ")
        ))
        .map_err(map)?;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(names.len());
        for (i, (column, kind)) in table.columns.iter().enumerate() {
            let value: Value = row.get(i)?;
            values.push(match (kind, value) {
                (Int, Value::Integer(n)) => Box::new(n),
                (Int, Value::Null) => Box::new(None::<i64>),
                (Text, Value::Text(s)) => Box::new(s),
                (Text, Value::Null) => Box::new(None::<String>),
                (_, other) => {
                    return Err(StoreError::Database(format!(
                        "{}.{column}: unexpected value {other:?}",
                        table.name
                    )));
                }
            });
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(&insert, &params).map_err(map)?;
    }
    if table.identity {
        // SQLite's AUTOINCREMENT high-water mark, when the table has one.
        let high_water: i64 = source
            .query_row(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0)",
                [table.name],
                |r| r.get(0),
            )
            .unwrap_or(0);
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{name}', 'id'), \
                 GREATEST($1, (SELECT COALESCE(MAX(id), 0) FROM {name}), 1), \
                 GREATEST($1, (SELECT COALESCE(MAX(id), 0) FROM {name})) > 0)",
                name = table.name
            ),
            &[&high_water],
        )
        .map_err(map)?;
    }
    Ok(())
}
