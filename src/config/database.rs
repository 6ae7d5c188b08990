//! `[database]`: where the data lives and how the pool and the group-commit writer behave. The URL's scheme
//! picks the backend ([`DbUrl`]); the store builds its pool from these settings.

use serde::Deserialize;

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://…`; the scheme picks the backend.
    pub url: String,
    /// Largest number of pooled connections (SQLite is capped at 4).
    pub pool_size: u32,
    /// How long a request waits for a connection before answering 503.
    pub connect_timeout_secs: u64,
    /// SQLite only: how long a writer waits on a lock before giving up.
    pub busy_timeout_ms: u32,
    /// Writer threads doing group commits; 0 = automatic (1: every commit holds the audit-chain head lock, so
    /// more writers only wait for each other).
    pub writers: usize,
    /// Most submissions one commit carries.
    pub batch_max_rows: usize,
    /// Most payload bytes one commit carries.
    pub batch_max_bytes: usize,
    /// How long a commit may wait, in microseconds, for submissions already being prepared to join it.
    pub batch_max_wait_us: u64,
    /// Submissions waiting for a writer before new ones are refused with 503.
    pub queue_depth: usize,
}

/// Which backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `postgres://…` or `postgresql://…`, passed to libpq as is.
    Postgres(String),
    /// `sqlite://PATH` (relative to the working directory) or `sqlite:///ABS/PATH`.
    Sqlite(String),
}

/// `database.url` names no backend this service serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadDatabaseUrl(String);

impl DbUrl {
    /// Parses `database.url`; unknown schemes are refused rather than mistaken for a SQLite file name.
    pub fn parse(url: &str) -> Result<DbUrl, BadDatabaseUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(BadDatabaseUrl("sqlite:// needs a file path".into()));
            }
            Ok(DbUrl::Sqlite(path.to_string()))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(BadDatabaseUrl(format!(
                "unsupported scheme `{scheme}`; use sqlite://PATH or postgres://…"
            )))
        }
    }

    /// `sqlite` or `postgres`, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            DbUrl::Postgres(_) => "postgres",
            DbUrl::Sqlite(_) => "sqlite",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_pick_the_backend() {
        assert_eq!(
            DbUrl::parse("sqlite://data/kyc.sqlite").ok(),
            Some(DbUrl::Sqlite("data/kyc.sqlite".into()))
        );
        assert_eq!(
            DbUrl::parse("sqlite:///var/lib/kyc.db").ok(),
            Some(DbUrl::Sqlite("/var/lib/kyc.db".into()))
        );
        assert!(matches!(
            DbUrl::parse("postgresql://u@h/db"),
            Ok(DbUrl::Postgres(_))
        ));
    }

    #[test]
    fn unknown_or_sloppy_schemes_are_refused() {
        for url in [
            "mysql://h/db",
            "postgres:db",
            "data/kyc.sqlite",
            "sqlite://",
            "",
        ] {
            assert!(DbUrl::parse(url).is_err(), "{url} should be refused");
        }
    }
}
