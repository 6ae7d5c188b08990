//! Storage: one Diesel schema over SQLite (embedded default) and PostgreSQL (production), picked by the URL
//! scheme of `database.url`. Owns the connection pool, the embedded per-backend migrations, the repository
//! functions and the group-commit writer. Reads `[database]`. Knows nothing of HTTP.

pub mod audit_log;
pub mod console;
pub mod erasure;
pub mod events;
pub mod images;
pub mod listing;
pub mod mapping_versions;
pub mod overview;
pub mod quarantine;
pub mod retention;
pub mod review;
pub mod rotation;
mod schema;
mod sql_text;
pub mod submissions;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use schema::{
    audit_checkpoints, audit_events, audit_head, quarantine as quarantine_table, reviews,
    submission_images, submissions as submissions_table,
};

use crate::config::DatabaseSettings;
pub use crate::config::DbUrl;

/// Rows per multi-row INSERT: 200 rows of the widest table stay far below SQLite's 32 766 and PostgreSQL's
/// 65 535 bound parameters.
pub const ROWS_PER_INSERT: usize = 200;

/// A multi-row INSERT run on the concrete connection: diesel's `MultiBackend` has no batch-insert dialect,
/// each backend has its own.
macro_rules! insert_many {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::store::DbConnection::Postgresql(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
            $crate::store::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
    };
}
pub(crate) use insert_many;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The backend type of [`DbConnection`], for boxed queries.
pub type Backend = <DbConnection as Connection>::Backend;

/// A connection to whichever backend the URL named.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL through libpq.
    Postgresql(diesel::PgConnection),
    /// Bundled SQLite.
    Sqlite(diesel::SqliteConnection),
}

/// The pool every request and writer takes connections from.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// Storage failures, split by what the caller should tell its client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is locked; the client should retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed for another reason (a bug or a broken schema).
    #[error("database error: {0}")]
    Query(#[source] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The URL in `database.url` is not one we serve.
    #[error("{0}")]
    BadUrl(String),
}

impl From<diesel::result::Error> for StoreError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &err {
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)
            | Error::BrokenTransactionManager => StoreError::Unavailable(err.to_string()),
            // SQLite reports lock timeouts and I/O trouble as unknown database errors.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_transient_message(info.message()) =>
            {
                StoreError::Unavailable(err.to_string())
            }
            _ => StoreError::Query(err),
        }
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(err: r2d2::PoolError) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

fn is_transient_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("locked")
        || m.contains("busy")
        || m.contains("disk i/o")
        || m.contains("terminating connection")
        || m.contains("server closed")
        || m.contains("no connection")
}

/// Opens connections by scheme. Diesel's derived `establish` tries each backend in turn and hides the real
/// error (and would create a SQLite file named after a mistyped URL), so dispatch happens here.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DbUrl,
    busy_timeout_ms: u32,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DbUrl::Postgres(url) => {
                let mut conn =
                    diesel::PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // Diesel keeps prepared statements for the connection's life, and PostgreSQL switches them
                // to a generic plan after five runs. Planned while the tables were nearly empty (a new
                // database, or one that autovacuum never analysed), that plan scans whole tables later:
                // throughput fell from 2 000 to 900 submissions/s within 24 s until the process restarted.
                conn.batch_execute("SET plan_cache_mode = force_custom_plan;")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgresql(conn))
            }
            DbUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL + synchronous=FULL: an acknowledged commit survives power loss, readers never block writers.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON;",
                    self.busy_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Builds the pool without connecting (so a database that is down at start gives one clear error from
/// [`migrate`] instead of r2d2's retry loop).
pub fn make_pool(settings: &DatabaseSettings) -> Result<(Pool, DbUrl), StoreError> {
    let url = DbUrl::parse(&settings.url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
    if let DbUrl::Sqlite(path) = &url
        && let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    // SQLite has one writer at a time; a large pool only adds lock contention.
    let max = match url {
        DbUrl::Sqlite(_) => settings.pool_size.min(4),
        DbUrl::Postgres(_) => settings.pool_size,
    };
    let manager = ConnectionManager {
        url: url.clone(),
        busy_timeout_ms: settings.busy_timeout_ms,
    };
    let pool = r2d2::Pool::builder()
        .max_size(max)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
        .build_unchecked(manager);
    Ok((pool, url))
}

/// Applies pending migrations for the connection's backend; returns the versions applied.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(applied.iter().map(|m| m.to_string()).collect())
}

/// Cheap reachability check for `/readyz`.
pub fn ping(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1").map_err(StoreError::from)
}
