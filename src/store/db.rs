//! One connection type over both backends (rusqlite, sqlx), so every query is written once.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row as _};

/// A query argument. Nulls carry their type: PostgreSQL wants to know it.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    /// PostgreSQL's arrays, for statements that take a batch in one round trip
    /// (`… FROM unnest($1::bigint[], $2::text[])`); SQLite has none.
    Ints(&'a [i64]),
    Texts(&'a [&'a str]),
    MaybeTexts(&'a [Option<&'a str>]),
    MaybeInts(&'a [Option<i64>]),
}

impl<'a> From<&'a Vec<Option<i64>>> for Value<'a> {
    fn from(v: &'a Vec<Option<i64>>) -> Self {
        Self::MaybeInts(v)
    }
}

impl<'a> From<&'a [i64]> for Value<'a> {
    fn from(v: &'a [i64]) -> Self {
        Self::Ints(v)
    }
}

impl<'a> From<&'a Vec<i64>> for Value<'a> {
    fn from(v: &'a Vec<i64>) -> Self {
        Self::Ints(v)
    }
}

impl<'a> From<&'a Vec<&'a str>> for Value<'a> {
    fn from(v: &'a Vec<&'a str>) -> Self {
        Self::Texts(v)
    }
}

impl<'a> From<&'a Vec<Option<&'a str>>> for Value<'a> {
    fn from(v: &'a Vec<Option<&'a str>>) -> Self {
        Self::MaybeTexts(v)
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<&i64> for Value<'_> {
    fn from(v: &i64) -> Self {
        Self::Int(Some(*v))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Self::Int(Some(i64::from(v)))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Self::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Self::Text(v)
    }
}

#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::Value::from($v)),*] };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] sqlx::Error),
    #[error("migrating the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the query returned no row")]
    NoRow,
    /// A write job gave up for a reason of its own, so its batch rolls it back.
    #[error("{0}")]
    Aborted(String),
    #[error("column {column}: {reason}")]
    Decode { column: String, reason: String },
    #[error("the database is busy: {0}")]
    Busy(&'static str),
    /// One failed commit answers every job of its batch, and errors are not `Clone`.
    #[error("{message}")]
    Batch { message: String, unavailable: bool },
}

impl StoreError {
    /// "The database cannot serve us now" (503, retry) rather than "this query is wrong" (500).
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                matches!(f.code, DatabaseBusy | DatabaseLocked | SystemIoFailure | CannotOpen | DiskFull)
            }
            Self::Sqlite(_) | Self::Migrate(_) | Self::NoRow | Self::Aborted(_) | Self::Decode { .. } => false,
            Self::Postgres(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(db) => {
                    // Connection exceptions, shutdown, too many connections.
                    let code = db.code().unwrap_or_default();
                    code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                }
                _ => false,
            },
            Self::Busy(_) => true,
            Self::Batch { unavailable, .. } => *unavailable,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE,
            Self::Postgres(sqlx::Error::Database(db)) => db.is_unique_violation(),
            _ => false,
        }
    }

    pub(super) fn replicate(&self) -> Self {
        Self::Batch { message: self.to_string(), unavailable: self.is_unavailable() }
    }
}

pub trait Column: rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> {}
impl<T: rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>> Column for T {}

pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r PgRow),
}

impl Row<'_> {
    pub fn get<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        match self {
            Self::Sqlite(r) => r.get(column).map_err(|e| decode(column, e)),
            Self::Postgres(r) => r.try_get(column).map_err(|e| decode(column, e)),
        }
    }

    pub fn get_parsed<T>(&self, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
        let text: String = self.get(column)?;
        parse(&text).ok_or_else(|| decode(column, format!("unknown value {text:?}")))
    }

    pub fn at<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        match self {
            Self::Sqlite(r) => r.get(index).map_err(|e| decode(&index.to_string(), e)),
            Self::Postgres(r) => r.try_get(index).map_err(|e| decode(&index.to_string(), e)),
        }
    }
}

fn decode(column: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Decode { column: column.to_owned(), reason: reason.to_string() }
}

pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError>;
}

/// `from_row!(Type { field, field: "column", field => Kind::parse })`: fields read by column name.
#[macro_export]
macro_rules! from_row {
    ($t:ty { $($field:ident $(: $column:literal)? $(=> $parse:path)?),* $(,)? }) => {
        impl $crate::store::FromRow for $t {
            fn from_row(row: &$crate::store::Row<'_>) -> Result<Self, $crate::store::StoreError> {
                Ok(Self { $($field: $crate::from_row!(@get row, $crate::from_row!(@column $field $($column)?) $(, $parse)?)),* })
            }
        }
    };
    (@column $field:ident) => { stringify!($field) };
    (@column $field:ident $column:literal) => { $column };
    (@get $row:ident, $column:expr) => { $row.get($column)? };
    (@get $row:ident, $column:expr, $parse:path) => { $row.get_parsed($column, $parse)? };
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Column),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
                Ok(($(row.at::<$t>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A connection, and whether the job using it wrote outbox rows since it was last asked.
pub struct Conn(pub(super) Inner, pub(super) bool);

pub(super) enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(PoolConnection<Postgres>),
    PostgresTx(sqlx::Transaction<'static, Postgres>),
    /// Outside any transaction, for a write that is one statement: PostgreSQL runs it in an
    /// implicit transaction of its own, one round trip in all. A second statement would not be
    /// atomic with the first, so it is refused (`ran` says whether one ran).
    PostgresStatement {
        conn: PoolConnection<Postgres>,
        ran: bool,
    },
}

enum Side<'a> {
    Sqlite(&'a mut rusqlite::Connection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl Conn {
    pub(super) fn new(inner: Inner) -> Self {
        Self(inner, false)
    }

    /// Said by whatever writes an outbox row, so that the commit wakes the worker.
    pub(super) fn queued_outbox_row(&mut self) {
        self.1 = true;
    }

    pub(super) fn take_queued(&mut self) -> bool {
        std::mem::take(&mut self.1)
    }

    fn side(&mut self) -> Result<Side<'_>, StoreError> {
        Ok(match &mut self.0 {
            Inner::Sqlite(c) => Side::Sqlite(c),
            Inner::Postgres(c) => Side::Postgres(c),
            Inner::PostgresTx(c) => Side::Postgres(c),
            Inner::PostgresStatement { ran: true, .. } => {
                return Err(StoreError::Aborted("a second statement in a write made of one: it would not be atomic with the first".into()));
            }
            Inner::PostgresStatement { conn, ran } => {
                *ran = true;
                Side::Postgres(conn)
            }
        })
    }

    pub async fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, StoreError> {
        log(sql);
        match self.side()? {
            Side::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                bind(&mut stmt, args)?;
                Ok(stmt.raw_execute()? as u64)
            }
            Side::Postgres(c) => pg::execute(c, sql, args).await,
        }
    }

    pub async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        log(sql);
        match self.side()? {
            Side::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Side::Postgres(c) => pg::batch(c, sql).await,
        }
    }

    pub async fn fetch_all<R: FromRow>(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<R>, StoreError> {
        self.fetch_all_planned(sql, args, pg::Plan::Prepared).await
    }

    /// [`Conn::fetch_all`], planned by PostgreSQL for the tables as they stand at each run instead
    /// of prepared once, for reads that run seldom over tables that grow and shrink (pruning): a
    /// plan kept from when a table was nearly empty scans it whole once it has grown (measured:
    /// 133 ms to find that none of 200,000 dev-mailbox rows was old enough). Planning costs a round trip
    /// and a fraction of a millisecond.
    pub async fn fetch_all_replanned<R: FromRow>(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<R>, StoreError> {
        self.fetch_all_planned(sql, args, pg::Plan::EachRun).await
    }

    async fn fetch_all_planned<R: FromRow>(&mut self, sql: &str, args: &[Value<'_>], plan: pg::Plan) -> Result<Vec<R>, StoreError> {
        log(sql);
        match self.side()? {
            Side::Sqlite(c) => sqlite_rows(c, sql, args, usize::MAX),
            Side::Postgres(c) => pg::fetch_all(c, sql, args, plan).await?.iter().map(|r| R::from_row(&Row::Postgres(r))).collect(),
        }
    }

    pub async fn fetch_optional<R: FromRow>(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Option<R>, StoreError> {
        log(sql);
        match self.side()? {
            Side::Sqlite(c) => Ok(sqlite_rows(c, sql, args, 1)?.pop()),
            Side::Postgres(c) => pg::fetch_optional(c, sql, args).await?.map(|r| R::from_row(&Row::Postgres(&r))).transpose(),
        }
    }

    pub async fn fetch_one<R: FromRow>(&mut self, sql: &str, args: &[Value<'_>]) -> Result<R, StoreError> {
        self.fetch_optional(sql, args).await?.ok_or(StoreError::NoRow)
    }
}

/// In the asker's span: tests count a request's statements (and round trips) this way.
pub(super) fn log(sql: &str) {
    tracing::debug!(target: "usher::sql", { db.statement = sql }, "statement");
}

/// A statement that writes (`RETURNING`) is run to its end whatever `limit`, as SQLite wants.
fn sqlite_rows<R: FromRow>(c: &rusqlite::Connection, sql: &str, args: &[Value<'_>], limit: usize) -> Result<Vec<R>, StoreError> {
    let mut stmt = c.prepare_cached(sql)?;
    bind(&mut stmt, args)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if out.len() < limit {
            out.push(R::from_row(&Row::Sqlite(row))?);
        }
    }
    Ok(out)
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, args: &[Value<'_>]) -> Result<(), StoreError> {
    for index in 1..=stmt.parameter_count() {
        // `$3` is argument 3 wherever it stands; a bare `?` is positional.
        let n = match stmt.parameter_name(index) {
            Some(name) => name.trim_start_matches(['$', '?']).parse::<usize>().map_err(|_| decode(name, "not a $N parameter"))?,
            None => index,
        };
        let value = args.get(n - 1).ok_or_else(|| decode(&format!("${n}"), "no argument for it"))?;
        match value {
            Value::Int(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Text(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Ints(_) | Value::Texts(_) | Value::MaybeTexts(_) | Value::MaybeInts(_) => {
                return Err(decode(&format!("${n}"), "SQLite takes no arrays"));
            }
        }
    }
    Ok(())
}

/// Boxed: sqlx's `Executor` is implemented per lifetime, and an unboxed future of it
/// would not be `Send` for every lifetime, as the writer's jobs must be.
mod pg {
    use super::{StoreError, Value};
    use crate::store::BoxFuture;
    use sqlx::postgres::{PgArguments, PgRow};
    use sqlx::{Executor as _, PgConnection, Postgres};

    pub(super) fn execute<'a>(c: &'a mut PgConnection, sql: &'a str, args: &'a [Value<'a>]) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move { Ok(c.execute(query(sql, args)).await?.rows_affected()) })
    }

    pub(super) fn batch<'a>(c: &'a mut PgConnection, sql: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(c.execute(sql).await.map(|_| ())?) })
    }

    /// Whether PostgreSQL keeps a statement's plan (a named, prepared statement) or plans it anew
    /// each time (an unnamed one).
    #[derive(Clone, Copy)]
    pub(super) enum Plan {
        Prepared,
        EachRun,
    }

    pub(super) fn fetch_all<'a>(
        c: &'a mut PgConnection,
        sql: &'a str,
        args: &'a [Value<'a>],
        plan: Plan,
    ) -> BoxFuture<'a, Result<Vec<PgRow>, StoreError>> {
        let query = query(sql, args).persistent(matches!(plan, Plan::Prepared));
        Box::pin(async move { Ok(c.fetch_all(query).await?) })
    }

    pub(super) fn fetch_optional<'a>(
        c: &'a mut PgConnection,
        sql: &'a str,
        args: &'a [Value<'a>],
    ) -> BoxFuture<'a, Result<Option<PgRow>, StoreError>> {
        Box::pin(async move { Ok(c.fetch_optional(query(sql, args)).await?) })
    }

    fn query<'q>(sql: &'q str, args: &[Value<'q>]) -> sqlx::query::Query<'q, Postgres, PgArguments> {
        let mut q = sqlx::query(sql);
        for value in args {
            q = match *value {
                Value::Int(v) => q.bind(v),
                Value::Text(v) => q.bind(v),
                Value::Ints(v) => q.bind(v),
                Value::Texts(v) => q.bind(v),
                Value::MaybeTexts(v) => q.bind(v),
                Value::MaybeInts(v) => q.bind(v),
            };
        }
        q
    }
}
