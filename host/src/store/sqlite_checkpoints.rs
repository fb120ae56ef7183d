//! Checkpoints off the writer's path. SQLite's own automatic checkpoint runs
//! inside the commit that crossed its threshold (1,000 pages of log): it
//! copies the log's pages into the database and syncs the database file
//! while that commit — and every exchange queued behind the writer — waits.
//! Under load that stall was the exchanges' p99 (docs/BENCHMARKS.md).
//!
//! Here a thread with a connection of its own runs a passive checkpoint
//! [`PAUSE`] after the writing connection commits a transaction (any write:
//! the exchanges' groups, audit batches, purges, the operator's changes;
//! SQLite's commit hook tells, so reads on that connection wake nothing) —
//! late enough to cover that commit — concurrently with the writer: a passive
//! checkpoint takes no lock a writer or reader waits for. Once it has copied
//! everything, the writer starts the log from its beginning again at its
//! next transaction. The writer keeps an automatic checkpoint of its own at
//! a higher threshold ([`WRITER_CHECKPOINT_PAGES`]), so the log stays
//! bounded under constant writes or should this thread fall behind; by
//! then most of the log has been copied, and the writer's share is small.

use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// The writer's own automatic checkpoint, in pages of log (4 KiB each).
/// It is also what lets the log start over under constant writes: the log
/// is reused only by a writer that finds it entirely copied, which, with
/// commits landing while this thread copies, only the writer's own
/// checkpoint guarantees. It then copies just what came since this
/// thread's last pass. Each such checkpoint stalls the exchanges queued
/// behind it, so fewer is better: 10,000 pages (a log of at most about
/// 40 MiB) gave a p99 0.88-0.94x that of 4,000 under load.
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// From a commit to its checkpoint, so that commit is in the log and those
/// during the pause share the checkpoint. 100 ms
/// measured worse (p99 13.5-15.8 ms against 13.2-13.7 ms): the writer's
/// share grows. 5 ms: p99 0.84-0.93x, but 0.94x the exchanges per second
/// in two rounds of three, pages copied more often.
const PAUSE: Duration = Duration::from_millis(20);

/// Starts the checkpoint thread, with a connection of its own to `path`,
/// woken by every transaction `writer` commits. The thread ends when
/// `writer` is closed (which drops its commit hook, the only waker).
pub(super) fn start(
    path: &str,
    flags: OpenFlags,
    writer: &mut Connection,
) -> Result<(), StoreError> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Database(format!("cannot open '{path}': {e}")))?;
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("trustpub-checkpoint".into())
        .spawn(move || {
            while woken.recv().is_ok() {
                // Commits meanwhile share this checkpoint.
                std::thread::sleep(PAUSE);
                checkpoint(&conn);
            }
        })
        .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))?;
    // SQLite calls this only for transactions that wrote. A full channel
    // means a wake-up is pending, which covers this commit too; `false`
    // lets the commit go on.
    writer.commit_hook(Some(move || {
        let _ = wake.try_send(());
        false
    }))?;
    Ok(())
}

fn checkpoint(conn: &Connection) {
    // (busy, pages in the log, pages copied); busy when another
    // connection's checkpoint is running, which does the same work.
    let ran = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
    if let Err(e) = ran {
        // The writer's own checkpoint still bounds the log.
        tracing::warn!(error = %e, "background checkpoint failed");
    }
}
