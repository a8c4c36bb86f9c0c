//! The storage layer's errors. Each keeps its cause (`#[source]`) instead of flattening it into text;
//! [`crate::error::Error`] is built from one in exactly one place (the `From<StoreError>` below),
//! with the classes and messages the layers above have always seen.
use std::path::PathBuf;

use super::SCHEMA_VERSION;
use crate::error::{Error, Kind};

/// What went wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A SQLite call failed; classified by its code when converted (a full disk, an I/O failure or a
    /// damaged file, anything else).
    #[error("database: {source}")]
    Sqlite {
        /// The SQLite error, with its extended code.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value cannot be what its table holds.
    #[error("stored data is corrupt: {table} row {row}: {what}")]
    Corrupt {
        /// The table the row is in.
        table: &'static str,
        /// The row's key (an index, an id, a meta key).
        row: String,
        /// What is wrong with it.
        what: String,
    },
    /// A subject's stored tally (JSON) does not parse.
    #[error("stored data is corrupt: subjects row {row}: the tally does not parse: {source}")]
    Tally {
        /// The subject: its kind and id.
        row: String,
        /// Why the JSON does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// No database file where one must already be.
    #[error("no ledger database at {}", path.display())]
    NoDatabase {
        /// Where the database was looked for.
        path: PathBuf,
    },
    /// The database was written with another schema version.
    #[error(
        "database {} has schema version {found}, this accord expects {SCHEMA_VERSION}; run a matching accord or migrate",
        path.display()
    )]
    SchemaVersion {
        /// The database file.
        path: PathBuf,
        /// The version its `meta` table records.
        found: u32,
    },
    /// SQLite's `quick_check` found damaged pages or indexes.
    #[error("{} is damaged (SQLite quick_check: {problems}); restore it from a backup (accord restore)", path.display())]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What `quick_check` reported: its first five lines, joined by `; `.
        problems: String,
    },
    /// A backup must go to a new file.
    #[error("{} already exists", path.display())]
    BackupTargetExists {
        /// The file that already exists.
        path: PathBuf,
    },
    /// The copy a backup made fails SQLite's integrity check.
    #[error("backup copy fails SQLite's integrity check: {0}")]
    BackupIntegrity(String),
    /// The checkpointer's thread could not be started.
    #[error("spawning the checkpointer: {0}")]
    Spawn(#[source] std::io::Error),
    /// A tally could not be encoded for storage.
    #[error("tally: {0}")]
    EncodeTally(#[source] serde_json::Error),
    /// An error of a layer the storage calls into (decoding a stored leaf for a derived body).
    #[error(transparent)]
    Ledger(#[from] crate::error::Error),
}

/// Wrap a SQLite error. A value that a row closure found corrupt (`rows::CorruptColumn`) travels
/// inside rusqlite's conversion error and comes out as [`StoreError::Corrupt`].
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
            if let Some(c) = inner.downcast_ref::<super::rows::CorruptColumn>() {
                return Self::Corrupt { table: c.table, row: c.row.clone(), what: c.what.clone() };
            }
        }
        Self::Sqlite { source: e }
    }
}

impl StoreError {
    /// `table` row `row` is not what it must be (`what`).
    pub fn corrupt(table: &'static str, row: impl std::fmt::Display, what: impl Into<String>) -> Self {
        Self::Corrupt { table, row: row.to_string(), what: what.into() }
    }
}

/// The one conversion to the API's error, with the classes and messages callers have always seen: a full
/// disk is RESOURCE_EXHAUSTED (retry when space returns); an I/O error or a damaged file is UNAVAILABLE,
/// and the sequencer stops on it rather than retry (after a failed fsync the kernel may have dropped the
/// pages it could not write); corrupt rows are DATA_LOSS naming the table and the row; a missing database
/// is NOT_FOUND and a damaged one or another schema version FAILED_PRECONDITION; anything else internal.
/// (It lives here, not in `src/error.rs`, because the error module depends on no other module.)
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        use rusqlite::ErrorCode;
        let e = match e {
            StoreError::Ledger(inner) => return inner,
            other => other,
        };
        let classified = match &e {
            StoreError::Sqlite { source } => match source.sqlite_error_code() {
                Some(ErrorCode::DiskFull) => Error::new(
                    Kind::ResourceExhausted,
                    "",
                    "the disk holding the ledger is full; nothing was written (retry when space is freed)",
                ),
                Some(ErrorCode::SystemIoFailure | ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::new(
                    Kind::Unavailable,
                    "",
                    format!("storage failure ({source}); the ledger stopped taking writes until it is restarted"),
                ),
                _ => Error::internal(format!("database: {source}")),
            },
            StoreError::Corrupt { .. } | StoreError::Tally { .. } => Error::new(Kind::DataLoss, "", e.to_string()),
            StoreError::NoDatabase { .. } => Error::not_found("data_dir", e.to_string()),
            StoreError::SchemaVersion { .. } => Error::precondition("schema_version", e.to_string()),
            StoreError::Damaged { .. } => Error::precondition("data_dir", e.to_string()),
            StoreError::BackupTargetExists { .. } => Error::precondition("out", e.to_string()),
            StoreError::BackupIntegrity(_) | StoreError::Spawn(_) | StoreError::EncodeTally(_) => {
                Error::internal(e.to_string())
            }
            StoreError::Ledger(_) => Error::internal(e.to_string()),
        };
        classified.caused_by(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn sqlite(code: std::os::raw::c_int) -> StoreError {
        StoreError::from(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None))
    }

    #[test]
    fn classes_and_messages_are_the_ones_callers_saw_and_the_cause_is_kept() {
        let full = sqlite(rusqlite::ffi::SQLITE_FULL);
        assert!(full.source().is_some(), "the SQLite error is the source, not flattened");
        let e = Error::from(full);
        assert_eq!(e.kind, Kind::ResourceExhausted);
        // Classified, and still caused by the SQLite error: the chain reaches it.
        let cause = e.source().expect("the storage error is kept as the cause");
        assert!(cause.source().is_some_and(|s| s.to_string().contains("full")), "{cause}");
        assert!(e.message.starts_with("the disk holding the ledger is full"), "{e}");
        let e = Error::from(sqlite(rusqlite::ffi::SQLITE_IOERR));
        assert_eq!(e.kind, Kind::Unavailable);
        assert!(super::super::is_storage_failure(&e) && e.message.starts_with("storage failure ("), "{e}");
        let e = Error::from(sqlite(rusqlite::ffi::SQLITE_CONSTRAINT));
        assert_eq!(e.kind, Kind::Internal);
        assert!(e.message.starts_with("database: "), "{e}");
        let e = Error::from(StoreError::corrupt("party_keys", "k1", "public_key has 2 bytes, not 32"));
        assert_eq!(
            (e.kind, e.message.as_str()),
            (Kind::DataLoss, "stored data is corrupt: party_keys row k1: public_key has 2 bytes, not 32")
        );
        let e = Error::from(StoreError::NoDatabase { path: "/x/ledger.db".into() });
        assert_eq!(
            (e.kind, e.field.to_string().as_str(), e.message.as_str()),
            (Kind::NotFound, "data_dir", "no ledger database at /x/ledger.db")
        );
        let tally = serde_json::from_str::<u8>("{").unwrap_err();
        let t = StoreError::Tally { row: "plan P".into(), source: tally };
        assert!(t.source().is_some());
        assert_eq!(Error::from(t).kind, Kind::DataLoss);
    }
}
