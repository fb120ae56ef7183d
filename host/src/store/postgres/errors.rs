//! Which PostgreSQL failures mean "the database is unavailable" (the caller
//! answers 503 and retries later) and which are plain errors.

use crate::store::StoreError;

/// SQLSTATE classes and codes of an outage rather than a mistake: connection
/// exceptions (08), insufficient resources (53), operator intervention (57:
/// shutdown, restart, statement timeout), lock timeout.
fn is_outage(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57") || code == "55P03"
}

pub(in crate::store) fn map(e: postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return if is_outage(code) {
            StoreError::Unavailable(format!("{} ({code})", db.message()))
        } else {
            StoreError::Database(format!("{} ({code})", db.message()))
        };
    }
    let text = e.to_string();
    // Encoding a parameter or decoding a column is our mistake, not an outage.
    if text.starts_with("error serializing") || text.starts_with("error deserializing") {
        return StoreError::Database(text);
    }
    // Everything else is the connection: refused, closed, reset, timed out.
    StoreError::Unavailable(text)
}

pub(super) fn pool(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}
