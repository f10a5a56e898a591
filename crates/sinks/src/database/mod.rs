//! `DatabaseSink`: the one sink for SQLite, PostgreSQL and MySQL/MariaDB,
//! over a sea-orm connection.
//!
//! A commit is one transaction: child rows of the batch's parents are marked
//! deleted, every table is upserted in multi-row statements, the rows the
//! source reports deleted (and their children) are marked, then the state
//! row is upserted, then the transaction commits. Statement text is built
//! once per (table, rows per statement) and reused; row counts are split into
//! a full chunk size and powers of two so the set of distinct statements (and
//! so the driver's prepared-statement cache) stays small.
//!
//! A snapshot batch is one transaction too, but writes its rows into the
//! staging tables, and the last one swaps them in (see [`snapshot`]).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cartage_core::{
    ColumnType, CommitBatch, CommitStats, Row, RowCheck, SharedSchema, Sink, SnapshotPart,
    StreamState, TableDeletes, TableSchema, Value,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, Index, OnConflict, Order, Query, Table, Value as SqValue,
    ValueTuple,
};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use tracing::debug;

use crate::config::{SessionSettings, redact_url, scrub, tls_required};

pub(crate) mod check;
mod copy;
pub(crate) mod dialect;
mod exec;
pub(crate) mod nodelay;
mod snapshot;
mod sqlite;

use crate::error::{DriverError, SinkError, is_lock_timeout, is_transient, is_unique_violation};
use check::{BackendCheck, TextLimit};
pub use dialect::Backend;
pub(crate) use dialect::{decimal_text, sqlite_timestamp};
use exec::Tx;
pub use snapshot::STAGE_PREFIX;
use sqlite::UpsertError;

/// The table holding each stream's committed state.
pub const STATE_TABLE: &str = "_cartage_state";
/// When a row was last written (UTC).
pub const SYNCED_AT: &str = "_synced_at";
/// When the source said the row is gone (UTC), or NULL.
pub const DELETED_AT: &str = "_deleted_at";

/// Rows per statement never exceed this, whatever the parameter limit allows:
/// larger statements cost more to prepare than they save.
const MAX_ROWS_PER_STATEMENT: usize = 512;

/// A row as stored, with its system columns.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub row: Row,
    pub synced_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One table's part of a commit: its schema, its de-duplicated rows, and
/// for a child table the bound keys of the parents whose children it marks.
type TableWrite = (SharedSchema, Vec<Row>, Option<Vec<Vec<SqValue>>>);

/// What a commit runs, planned before its transaction opens.
enum Plan {
    /// An ordinary batch: upserts into the live tables, then deletions.
    Live { writes: Vec<TableWrite>, deletes: Vec<DeleteStatement> },
    /// A snapshot batch: each table's de-duplicated rows, to stage.
    Snapshot { part: SnapshotPart, writes: Vec<(SharedSchema, Vec<Row>)> },
}

/// Statement text cached for one table's staging table.
struct StageSql {
    /// The live table's schema the text was built from.
    live: TableSchema,
    /// The staging table (same columns and key, no system columns).
    stage: TableSchema,
    /// Rows per statement -> `INSERT INTO stage ... ON CONFLICT ...` text.
    upsert: HashMap<usize, String>,
}

/// Statement text cached for one table shape.
struct TableSql {
    /// The schema the text was built from; rebuilt when it changes.
    schema: TableSchema,
    /// Rows per statement -> `INSERT ... ON CONFLICT ...` text.
    upsert: HashMap<usize, String>,
    /// Parents per statement -> `UPDATE ... SET _deleted_at` text.
    mark_deleted: HashMap<usize, String>,
}

/// A sink writing into SQLite, PostgreSQL or MySQL/MariaDB through sea-orm.
///
/// Build it with a database config's `connect` (e.g.
/// [`crate::SqliteConfig::connect`]), or `build` for a `Box<dyn Sink>`.
pub struct DatabaseSink {
    db: DatabaseConnection,
    backend: Backend,
    /// The URL without its password, for messages.
    url: String,
    sql: HashMap<String, TableSql>,
    /// Per live table name, its staging table's statements.
    stage_sql: HashMap<String, StageSql>,
    session: SessionSettings,
    /// MySQL: per table, per text column, how much text it holds (read in
    /// `prepare`).
    text_limits: HashMap<String, HashMap<String, TextLimit>>,
    /// SQLite: the connection commits run on (see [`sqlite`]).
    writer: Option<sqlite::Writer>,
    /// PostgreSQL: per table, whether a batch tries `COPY` straight in.
    direct_copy: std::sync::Mutex<HashMap<String, copy::DirectCopy>>,
}

impl std::fmt::Debug for DatabaseSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSink")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .finish()
    }
}

impl DatabaseSink {
    /// Connects with the default session settings (test databases).
    #[cfg(feature = "testing")]
    pub(crate) async fn connect(backend: Backend, url: &str) -> Result<Self, SinkError> {
        Self::connect_with(backend, url, SessionSettings::default()).await
    }

    pub(crate) async fn connect_with(
        backend: Backend,
        url: &str,
        session: SessionSettings,
    ) -> Result<Self, SinkError> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            // Also how long a refused connection is retried before `connect` fails.
            .acquire_timeout(Duration::from_secs(10));
        match backend {
            Backend::Sqlite => {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                // One writer; a second connection would only wait on the lock.
                opts.max_connections(1);
                let create = !url.contains("mode=");
                opts.map_sqlx_sqlite_opts(move |o| {
                    // WAL + synchronous=NORMAL: a commit survives a crash of
                    // the process (the WAL is in the OS page cache); only a
                    // power loss can drop the last commits, never tear one.
                    let o = o
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(30))
                        // 16 MiB of page cache (the default is 2 MiB): upserts
                        // walk the primary key index of tables of millions of rows.
                        .pragma("cache_size", "-16384")
                        // Statement journals (an upsert's rollback point inside
                        // the batch's transaction) in memory, not in temp files.
                        .pragma("temp_store", "MEMORY")
                        // Checkpoint the WAL every ~32 MiB instead of ~4 MiB:
                        // pages rewritten between checkpoints are copied once.
                        .pragma("wal_autocheckpoint", "8192")
                        .statement_cache_capacity(256);
                    if create { o.create_if_missing(true) } else { o }
                });
            }
            Backend::Postgres => {
                use sea_orm::sqlx::postgres::PgSslMode;
                opts.max_connections(2).min_connections(1);
                let env_mode = std::env::var("PGSSLMODE").ok();
                let require_tls = tls_required(url, env_mode.as_deref());
                // Milliseconds, the unit PostgreSQL assumes; 0 is no limit.
                let timeouts = [
                    ("lock_timeout", session.lock_timeout_secs.saturating_mul(1000)),
                    ("statement_timeout", session.statement_timeout_secs.saturating_mul(1000)),
                ];
                opts.map_sqlx_postgres_opts(move |o| {
                    let o = o
                        .statement_cache_capacity(256)
                        .options(timeouts)
                        // Plan each execution for the table as it is now. A
                        // prepared statement's generic plan is made once, and
                        // one made while a table was small (a backfill's
                        // start; stale statistics) scans the whole table for
                        // every batch's 200 parents once it is large.
                        .options([("plan_cache_mode", "force_custom_plan")]);
                    if require_tls { o.ssl_mode(PgSslMode::Require) } else { o }
                });
                opts.map_sqlx_postgres_pool_opts(|p| {
                    p.after_connect(|conn, _meta| {
                        Box::pin(async move {
                            nodelay::postgres(conn).await;
                            Ok(())
                        })
                    })
                });
            }
            Backend::Mysql => {
                use sea_orm::sqlx::mysql::MySqlSslMode;
                opts.max_connections(2).min_connections(1);
                let require_tls = tls_required(url, None);
                opts.map_sqlx_mysql_opts(move |o| {
                    let o = o.statement_cache_capacity(256);
                    if require_tls { o.ssl_mode(MySqlSslMode::Required) } else { o }
                });
                // MySQL's default waits a year; its minimum is 1 second.
                let lock_wait = match session.lock_timeout_secs {
                    0 => 31_536_000,
                    secs => secs,
                };
                // Strict mode: a NULL in a NOT NULL column or a value out of
                // range is an error, never a silent default or truncation.
                let setup = format!(
                    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), time_zone = '+00:00', lock_wait_timeout = {lock_wait}"
                );
                opts.map_sqlx_mysql_pool_opts(move |p| {
                    let setup = setup.clone();
                    p.after_connect(move |conn, _meta| {
                        let setup = sea_orm::sqlx::AssertSqlSafe(setup.clone());
                        Box::pin(async move {
                            use sea_orm::sqlx::Executor;
                            conn.execute(setup).await?;
                            nodelay::mysql(conn).await;
                            Ok(())
                        })
                    })
                });
            }
        }
        let redacted = redact_url(url);
        let db = Database::connect(opts).await.map_err(|e| {
            let message = scrub(&e.to_string(), url);
            SinkError::Connect { url: redacted.clone(), message, transient: is_transient(&e) }
        })?;
        let writer = match backend {
            Backend::Sqlite => {
                Some(sqlite::Writer::open(url).map_err(|message| SinkError::Connect {
                    url: redacted.clone(),
                    message: scrub(&message, url),
                    transient: false,
                })?)
            }
            Backend::Postgres | Backend::Mysql => None,
        };
        Ok(DatabaseSink {
            db,
            backend,
            url: redacted,
            sql: HashMap::new(),
            stage_sql: HashMap::new(),
            session,
            text_limits: HashMap::new(),
            writer,
            direct_copy: std::sync::Mutex::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The sea-orm connection (for tests and tools that query the tables).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the connection pool.
    pub async fn close(self) -> Result<(), cartage_core::Error> {
        drop(self.writer);
        self.db
            .close()
            .await
            .map_err(|e| SinkError::statement(format!("closing {}", self.url), e).into())
    }

    /// Every row of `tenant` in a table, with its system columns, ordered by
    /// primary key (compared as values: byte order for text, the same on
    /// every backend), each column decoded into the `Value` of its type.
    pub async fn read_table(
        &self,
        schema: &TableSchema,
        tenant: &str,
    ) -> Result<Vec<StoredRow>, cartage_core::Error> {
        Ok(self.read_table_inner(schema, tenant).await?)
    }

    async fn read_table_inner(
        &self,
        schema: &TableSchema,
        tenant: &str,
    ) -> Result<Vec<StoredRow>, SinkError> {
        let table = schema.name.as_str();
        let mut q = Query::select();
        q.from(Alias::new(table))
            .columns(schema.columns.iter().map(|c| Alias::new(&c.name)))
            .columns([Alias::new(SYNCED_AT), Alias::new(DELETED_AT)])
            .and_where(Expr::col(Alias::new("tenant")).eq(tenant));
        for k in &schema.primary_key {
            q.order_by(Alias::new(k), Order::Asc);
        }
        let stmt = self.backend.db_backend().build(&q);
        let results = self
            .db
            .query_all_raw(stmt)
            .await
            .map_err(|e| SinkError::statement(format!("reading table {table}"), e))?;
        let n = schema.columns.len();
        let decode_err = |column: &str, reason: String| SinkError::Decode {
            table: table.to_owned(),
            column: column.to_owned(),
            reason,
        };
        let mut rows = Vec::with_capacity(results.len());
        for r in &results {
            let mut values = Vec::with_capacity(n);
            for (i, c) in schema.columns.iter().enumerate() {
                values.push(self.backend.decode(r, i, c.ty).map_err(|e| decode_err(&c.name, e))?);
            }
            let synced_at = self
                .backend
                .decode_timestamp(r, n)
                .map_err(|e| decode_err(SYNCED_AT, e))?
                .ok_or_else(|| decode_err(SYNCED_AT, "null".into()))?;
            let deleted_at =
                self.backend.decode_timestamp(r, n + 1).map_err(|e| decode_err(DELETED_AT, e))?;
            rows.push(StoredRow { row: Row(values), synced_at, deleted_at });
        }
        let key = schema.primary_key_indexes();
        rows.sort_by(|a, b| compare_keys(&a.row, &b.row, &key));
        Ok(rows)
    }

    async fn prepare_inner(
        &mut self,
        tables: &[SharedSchema],
        staged: bool,
    ) -> Result<(), SinkError> {
        // Every table is checked before any is changed: a refused run
        // leaves the database as it found it.
        for schema in tables {
            validate_schema(schema)?;
            self.check_types(schema).await?;
        }
        for schema in tables {
            self.create_table(schema, true).await?;
            if self.backend == Backend::Mysql {
                let limits = self.text_limits_of(&schema.name).await?;
                self.text_limits.insert(schema.name.clone(), limits);
            }
            if staged {
                let stage = snapshot::stage_schema(self.backend, schema)?;
                self.create_table(&stage, false).await?;
            }
        }
        let state = state_schema();
        self.create_table(&state, false).await?;
        Ok(())
    }

    /// Creates `schema`'s table if missing and adds the columns it lacks;
    /// `system_columns`: with `_synced_at` and `_deleted_at`.
    async fn create_table(
        &self,
        schema: &TableSchema,
        system_columns: bool,
    ) -> Result<(), SinkError> {
        let table = schema.name.as_str();
        let b = self.backend;
        let mut create = Table::create();
        create.table(Alias::new(table)).if_not_exists();
        for c in &schema.columns {
            let in_key = schema.primary_key.contains(&c.name);
            let mut def = ColumnDef::new(Alias::new(&c.name));
            def.custom(Alias::new(b.column_sql(c.ty, in_key)));
            if c.nullable && !in_key {
                def.null();
            } else {
                def.not_null();
            }
            create.col(&mut def);
        }
        if system_columns {
            create.col(
                ColumnDef::new(Alias::new(SYNCED_AT))
                    .custom(Alias::new(b.column_sql(ColumnType::Timestamp, false)))
                    .not_null(),
            );
            create.col(
                ColumnDef::new(Alias::new(DELETED_AT))
                    .custom(Alias::new(b.column_sql(ColumnType::Timestamp, false)))
                    .null(),
            );
        }
        let mut pk = Index::create();
        for k in &schema.primary_key {
            pk.col(Alias::new(k));
        }
        create.primary_key(&mut pk);
        if b == Backend::Mysql {
            create.engine("InnoDB").character_set("utf8mb4").collate("utf8mb4_bin");
        }
        let stmt = b.db_backend().build(&create);
        self.db
            .execute_raw(stmt)
            .await
            .map_err(|e| self.ddl_error(format!("creating table {table}"), table, e))?;

        // The table may predate columns the mapping now declares.
        let existing = self.existing_columns(table).await?;
        let mut wanted: Vec<(&str, ColumnType)> =
            schema.columns.iter().map(|c| (c.name.as_str(), c.ty)).collect();
        if system_columns {
            wanted.push((SYNCED_AT, ColumnType::Timestamp));
            wanted.push((DELETED_AT, ColumnType::Timestamp));
        }
        for (name, ty) in wanted {
            if existing.iter().any(|(e, _)| e.eq_ignore_ascii_case(name)) {
                continue;
            }
            // Nullable: the rows already stored have no value for it.
            let mut alter = Table::alter();
            alter.table(Alias::new(table)).add_column(
                ColumnDef::new(Alias::new(name)).custom(Alias::new(b.column_sql(ty, false))).null(),
            );
            let stmt = b.db_backend().build(&alter);
            self.db.execute_raw(stmt).await.map_err(|e| {
                self.ddl_error(format!("adding column {name} to table {table}"), table, e)
            })?;
            debug!(table, column = name, "added column");
        }
        Ok(())
    }

    /// MySQL: how much text each text column of `table` holds, as the table
    /// is (a table created before text became `LONGTEXT` has `TEXT`).
    async fn text_limits_of(&self, table: &str) -> Result<HashMap<String, TextLimit>, SinkError> {
        let stmt = Statement::from_sql_and_values(
            self.backend.db_backend(),
            "SELECT CAST(column_name AS CHAR), CAST(character_maximum_length AS UNSIGNED), \
             CAST(character_octet_length AS UNSIGNED) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? \
             AND data_type IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext')",
            [SqValue::String(Some(table.to_owned()))],
        );
        let action = || format!("reading the text columns of table {table}");
        let rows =
            self.db.query_all_raw(stmt).await.map_err(|e| SinkError::statement(action(), e))?;
        let mut limits = HashMap::new();
        for r in &rows {
            let get =
                |i| r.try_get_by_index::<u64>(i).map_err(|e| SinkError::statement(action(), e));
            let name =
                r.try_get_by_index::<String>(0).map_err(|e| SinkError::statement(action(), e))?;
            limits.insert(name, TextLimit { chars: get(1)?, bytes: get(2)? });
        }
        Ok(limits)
    }

    /// The error of a schema change on `table`: a lock not obtained in time
    /// says so (another session holds the table), anything else as is.
    fn ddl_error(&self, action: String, table: &str, e: sea_orm::DbErr) -> SinkError {
        if is_lock_timeout(&e) {
            SinkError::LockTimeout {
                action,
                table: table.to_owned(),
                timeout_secs: self.session.lock_timeout_secs,
            }
        } else {
            SinkError::statement(action, e)
        }
    }

    /// Refuses a table whose stored columns have another type than the one
    /// `schema` gives them (a mapping changed an extra column's type, or
    /// two tenants' mappings disagree on it): writing would mix types
    /// (SQLite) or fail every batch (PostgreSQL, MySQL). A missing table or
    /// column is not refused: `create_table` adds it.
    async fn check_types(&self, schema: &TableSchema) -> Result<(), SinkError> {
        let table = schema.name.as_str();
        let existing = self.existing_columns(table).await?;
        // SQLite tables created before text-stored types had declared types
        // of their own say `TEXT` for all of them, `_synced_at` included.
        let legacy_text = self.backend == Backend::Sqlite
            && existing.iter().any(|(n, t)| n == SYNCED_AT && t == "text");
        for c in &schema.columns {
            let Some((_, stored)) = existing.iter().find(|(n, _)| n.eq_ignore_ascii_case(&c.name))
            else {
                continue;
            };
            if self.backend.catalog_types(c.ty, legacy_text).contains(&stored.as_str()) {
                continue;
            }
            return Err(SinkError::TypeChanged {
                table: table.to_owned(),
                column: c.name.clone(),
                stored: stored.to_uppercase(),
                wanted: c.ty.name(),
            });
        }
        Ok(())
    }

    /// The columns of `table` (none if it does not exist) and their types as
    /// the catalog names them, lowercased.
    async fn existing_columns(&self, table: &str) -> Result<Vec<(String, String)>, SinkError> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT name, type FROM pragma_table_info(?)",
            Backend::Postgres => {
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            Backend::Mysql => {
                "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) \
                 FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
        };
        let stmt = Statement::from_sql_and_values(
            self.backend.db_backend(),
            sql,
            [SqValue::String(Some(table.to_owned()))],
        );
        let action = || format!("reading the columns of table {table}");
        let rows =
            self.db.query_all_raw(stmt).await.map_err(|e| SinkError::statement(action(), e))?;
        let get = |r: &sea_orm::QueryResult, i| {
            r.try_get_by_index::<String>(i).map_err(|e| SinkError::statement(action(), e))
        };
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?.to_lowercase()))).collect()
    }

    async fn read_state_inner(
        &self,
        tenant: &str,
        stream: &str,
    ) -> Result<Option<StreamState>, SinkError> {
        let mut q = Query::select();
        q.from(Alias::new(STATE_TABLE))
            .column(Alias::new("state"))
            .and_where(Expr::col(Alias::new("tenant")).eq(tenant))
            .and_where(Expr::col(Alias::new("stream")).eq(stream));
        let stmt = self.backend.db_backend().build(&q);
        let row = self.db.query_one_raw(stmt).await.map_err(|e| {
            SinkError::statement(
                format!("reading the state of tenant {tenant}, stream {stream}"),
                e,
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        match self.backend.decode(&row, 0, ColumnType::Json) {
            Ok(Value::Json(v)) => Ok(Some(StreamState(v))),
            Ok(other) => Err(SinkError::State {
                tenant: tenant.into(),
                stream: stream.into(),
                reason: format!("stored state is {other:?}, not json"),
            }),
            Err(reason) => {
                Err(SinkError::State { tenant: tenant.into(), stream: stream.into(), reason })
            }
        }
    }

    async fn commit_inner(&mut self, batch: CommitBatch) -> Result<CommitStats, SinkError> {
        let started = Instant::now();
        let CommitBatch { tenant, stream, tables, deleted, state, synced_at, snapshot } = batch;
        let b = self.backend;
        let synced = b.timestamp(synced_at);

        // Everything that can fail on the data itself is done before the
        // transaction opens.
        self.check_rows(&tables)?;
        let plan = match snapshot {
            None => self.plan_live(tables, deleted, &synced, &tenant)?,
            Some(part) => self.plan_snapshot(tables, deleted, part, &stream)?,
        };

        let mut txn = Tx::begin(&self.db, b, self.writer.as_ref())
            .await
            .map_err(|e| SinkError::statement("beginning a transaction", e))?;
        let result = self.write(&mut txn, plan, &synced, &tenant, &stream, state).await;
        let stats = match result {
            Ok(stats) => stats,
            Err(e) => {
                // Dropping the transaction would roll back too; doing it here
                // returns the connection clean before the error travels up.
                if let Err(rollback) = txn.rollback().await {
                    debug!(%rollback, "rollback after a failed commit failed");
                }
                return Err(e);
            }
        };
        txn.commit().await.map_err(|e| {
            SinkError::statement(format!("committing the batch of stream {stream}"), e)
        })?;
        debug!(
            tenant,
            stream,
            rows = stats.rows.iter().map(|(_, n)| n).sum::<u64>(),
            snapshot = ?snapshot,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "committed batch"
        );
        Ok(stats)
    }

    fn checker(&self) -> BackendCheck {
        BackendCheck { backend: self.backend, text_limits: self.text_limits.clone() }
    }

    /// Refuses a batch holding a row the database would refuse (or alter),
    /// naming table, column and key, before anything is written.
    fn check_rows(&self, tables: &[cartage_core::TableRows]) -> Result<(), SinkError> {
        if self.backend == Backend::Sqlite {
            return Ok(());
        }
        let checker = self.checker();
        for t in tables {
            for row in &t.rows {
                checker.check(&t.schema, row).map_err(|reason| SinkError::Refused { reason })?;
            }
        }
        Ok(())
    }

    /// Checks and de-duplicates an ordinary batch, and binds what marks
    /// removed children and deleted rows.
    fn plan_live(
        &mut self,
        tables: Vec<cartage_core::TableRows>,
        deleted: Vec<TableDeletes>,
        synced: &SqValue,
        tenant: &str,
    ) -> Result<Plan, SinkError> {
        let b = self.backend;
        let mut plans = Vec::with_capacity(tables.len());
        for t in &tables {
            let parents = match &t.schema.parent_key {
                Some(pk) => Some(parent_keys(&t.schema, pk, &tables)?),
                None => None,
            };
            plans.push(parents);
        }
        let mut writes = Vec::with_capacity(tables.len());
        for (t, parents) in tables.into_iter().zip(plans) {
            let schema = t.schema;
            validate_schema(&schema)?;
            let rows = dedupe(&schema, t.rows)?;
            self.ensure_sql(&schema);
            let parents = match parents {
                Some(keys) => Some(bind_parent_keys(b, &schema, keys)?),
                None => None,
            };
            writes.push((schema, rows, parents));
        }
        let schemas: Vec<SharedSchema> =
            writes.iter().map(|(s, _, _)| SharedSchema::clone(s)).collect();
        let mut deletes = Vec::with_capacity(deleted.len());
        for d in deleted {
            deletes.extend(delete_statements(b, &d, &schemas, synced, tenant)?);
        }
        Ok(Plan::Live { writes, deletes })
    }

    /// Checks and de-duplicates a snapshot batch. No parent rule: a batch
    /// holds only part of the snapshot, so a parent's children may come in
    /// another batch; the swap marks what the whole snapshot lacks instead.
    fn plan_snapshot(
        &mut self,
        tables: Vec<cartage_core::TableRows>,
        deleted: Vec<TableDeletes>,
        part: SnapshotPart,
        stream: &str,
    ) -> Result<Plan, SinkError> {
        if let Some(d) = deleted.first() {
            return Err(SinkError::Snapshot {
                stream: stream.to_owned(),
                reason: format!(
                    "a snapshot batch cannot mark rows of table {} deleted: rows the snapshot lacks are the deleted ones",
                    d.schema.name
                ),
            });
        }
        let mut writes = Vec::with_capacity(tables.len());
        for t in tables {
            validate_schema(&t.schema)?;
            let rows = dedupe(&t.schema, t.rows)?;
            self.ensure_stage_sql(&t.schema)?;
            writes.push((t.schema, rows));
        }
        Ok(Plan::Snapshot { part, writes })
    }

    /// Runs the planned statements, then writes the state, in `txn`.
    async fn write(
        &self,
        txn: &mut Tx,
        plan: Plan,
        synced: &SqValue,
        tenant: &str,
        stream: &str,
        state: StreamState,
    ) -> Result<CommitStats, SinkError> {
        let stats = match plan {
            Plan::Live { writes, deletes } => self.write_live(txn, writes, deletes, synced).await?,
            Plan::Snapshot { part, writes } => {
                self.write_snapshot(txn, part, writes, synced, tenant).await?
            }
        };
        let b = self.backend;
        let values = vec![
            SqValue::String(Some(tenant.to_owned())),
            SqValue::String(Some(stream.to_owned())),
            b.bind(ColumnType::Json, Value::Json(state.0)).map_err(|found| {
                SinkError::value_type(STATE_TABLE, "state", 0, ColumnType::Json, found)
            })?,
            synced.clone(),
        ];
        txn.execute(&state_upsert_sql(b), values).await.map_err(|e| {
            SinkError::statement(
                format!("writing the state of tenant {tenant}, stream {stream}"),
                e,
            )
        })?;
        Ok(stats)
    }

    async fn write_live(
        &self,
        txn: &mut Tx,
        writes: Vec<TableWrite>,
        deletes: Vec<DeleteStatement>,
        synced: &SqValue,
    ) -> Result<CommitStats, SinkError> {
        let b = self.backend;
        let mut stats = CommitStats::default();
        for (schema, rows, parents) in writes {
            let table = schema.name.as_str();
            let Some(sql) = self.sql.get(table) else {
                return Err(no_statements(table));
            };
            if let Some(parents) = parents {
                let per = schema.parent_key.as_ref().map_or(1, Vec::len);
                let max = chunk_limit(b, per, 1);
                let mut parents = parents.into_iter();
                for (real, n) in padded_chunk_sizes(parents.len(), max) {
                    let mut values = Vec::with_capacity(1 + n * per);
                    values.push(synced.clone());
                    values.extend(parents.by_ref().take(real).flatten());
                    // A parent named twice changes nothing: the padding
                    // repeats the last one, and the batch takes one statement.
                    let last = values[values.len() - per..].to_vec();
                    for _ in real..n {
                        values.extend(last.iter().cloned());
                    }
                    let text = sql.mark_deleted.get(&n).map_or_else(
                        || Cow::Owned(mark_deleted_sql(b, &schema, n)),
                        |t| Cow::Borrowed(t.as_str()),
                    );
                    txn.execute(&text, values).await.map_err(|e| {
                        SinkError::statement(format!("marking removed rows of table {table}"), e)
                    })?;
                }
            }
            let action = || format!("upserting into table {table}");
            let count = if b == Backend::Postgres {
                copy_upsert(txn, &schema, rows, synced, &self.direct_copy).await?
            } else {
                self.upsert_rows(txn, table, action, &schema, &sql.upsert, rows, Some(synced))
                    .await?
            };
            stats.rows.push((schema.name.clone(), count));
        }

        for d in deletes {
            let marked = txn.execute(&d.sql, d.values).await.map_err(|e| {
                SinkError::statement(format!("marking deleted rows of table {}", d.table), e)
            })?;
            match stats.deleted.iter_mut().find(|(t, _)| *t == d.table) {
                Some((_, n)) => *n += marked,
                None => stats.deleted.push((d.table, marked)),
            }
        }
        Ok(stats)
    }

    /// Stages a snapshot batch's rows (after discarding an abandoned
    /// snapshot's, on `first`) and, on `last`, swaps each table's snapshot
    /// in (see [`snapshot`]).
    async fn write_snapshot(
        &self,
        txn: &mut Tx,
        part: SnapshotPart,
        writes: Vec<(SharedSchema, Vec<Row>)>,
        synced: &SqValue,
        tenant: &str,
    ) -> Result<CommitStats, SinkError> {
        let b = self.backend;
        let mut stats = CommitStats::default();
        for (schema, rows) in writes {
            let table = schema.name.as_str();
            let Some(sql) = self.stage_sql.get(table) else {
                return Err(no_statements(table));
            };
            let clear = || run(snapshot::clear(b, &sql.stage, tenant));
            if part.first {
                let (text, values) = clear();
                txn.execute(&text, values).await.map_err(|e| {
                    SinkError::statement(format!("discarding the staged rows of table {table}"), e)
                })?;
            }
            let action = || format!("staging rows of table {table}");
            let count =
                self.upsert_rows(txn, table, action, &sql.stage, &sql.upsert, rows, None).await?;
            stats.rows.push((schema.name.clone(), count));
            if !part.last {
                continue;
            }
            let swapping = || format!("swapping the snapshot of table {table} in");
            let started = Instant::now();
            let (text, values) = run(snapshot::swap(b, &schema, &sql.stage, synced, tenant)?);
            let swapped = txn
                .execute(&text, values)
                .await
                .map_err(|e| SinkError::statement(swapping(), e))?;
            let upsert_ms = started.elapsed().as_millis() as u64;
            let (text, values) =
                run(snapshot::mark_missing(b, &schema, &sql.stage, synced, tenant));
            let marked = txn.execute(&text, values).await.map_err(|e| {
                SinkError::statement(format!("marking rows the snapshot of table {table} lacks"), e)
            })?;
            let mark_ms = started.elapsed().as_millis() as u64 - upsert_ms;
            let (text, values) = clear();
            txn.execute(&text, values).await.map_err(|e| SinkError::statement(swapping(), e))?;
            let clear_ms = started.elapsed().as_millis() as u64 - upsert_ms - mark_ms;
            debug!(table, swapped, marked, upsert_ms, mark_ms, clear_ms, "swapped snapshot in");
            stats.deleted.push((schema.name.clone(), marked));
        }
        Ok(stats)
    }

    /// Upserts `rows` into `target` in multi-row statements (text from
    /// `cached`, or built for an unusual size); with `synced`, the table has
    /// the system columns and every row gets that `_synced_at`. Errors name
    /// `table` and `action`. Returns the number of rows.
    #[allow(clippy::too_many_arguments)]
    async fn upsert_rows(
        &self,
        txn: &mut Tx,
        table: &str,
        action: impl Fn() -> String,
        target: &TableSchema,
        cached: &HashMap<usize, String>,
        rows: Vec<Row>,
        synced: Option<&SqValue>,
    ) -> Result<u64, SinkError> {
        let b = self.backend;
        let count = rows.len() as u64;
        let width = target.columns.len();
        let extra = usize::from(synced.is_some());
        let max = chunk_limit(b, width, extra);
        if let Tx::Sqlite(t) = txn {
            let synced = match synced {
                Some(SqValue::String(Some(s))) => Some(s.as_str()),
                Some(_) => {
                    let bug = DriverError::Internal("a SQLite _synced_at that is not text");
                    return Err(SinkError::statement(action(), bug));
                }
                None => None,
            };
            let mut start = 0;
            for n in chunk_sizes(rows.len(), max) {
                let chunk = &rows[start..start + n];
                let text = cached.get(&n).map_or_else(
                    || Cow::Owned(upsert_sql(b, target, n, synced.is_some())),
                    |t| Cow::Borrowed(t.as_str()),
                );
                t.upsert(&text, &target.columns, chunk, synced).map_err(|e| match e {
                    UpsertError::Type { row, column, found } => {
                        let c = &target.columns[column];
                        SinkError::value_type(table, &c.name, start + row, c.ty, found)
                    }
                    UpsertError::Driver(e) => {
                        let keys = (
                            check::show_key(target, &chunk[0]),
                            check::show_key(target, &chunk[n - 1]),
                        );
                        SinkError::statement(format!("{} ({})", action(), rows_label(n, &keys)), e)
                    }
                })?;
                start += n;
            }
            return Ok(count);
        }
        // Not padded as the marking of deleted children is: a row written
        // twice by one MySQL `ON DUPLICATE KEY UPDATE` costs more than the
        // round trips it saves (`cargo xtask bench sinks`), and PostgreSQL
        // refuses it.
        let mut rows = rows.into_iter().enumerate();
        for n in chunk_sizes(rows.len(), max) {
            let mut values = Vec::with_capacity(n * (width + extra));
            // The keys the statement writes, for an error: a value the
            // database refuses is in one of these rows.
            let mut keys = (String::new(), String::new());
            for (k, (i, row)) in rows.by_ref().take(n).enumerate() {
                if k == 0 {
                    keys.0 = check::show_key(target, &row);
                }
                if k + 1 == n {
                    keys.1 = check::show_key(target, &row);
                }
                let Row(row) = row;
                for (v, c) in row.into_iter().zip(&target.columns) {
                    values.push(
                        b.bind(c.ty, v).map_err(|found| {
                            SinkError::value_type(table, &c.name, i, c.ty, found)
                        })?,
                    );
                }
                if let Some(synced) = synced {
                    values.push(synced.clone());
                }
            }
            let text = cached.get(&n).map_or_else(
                || Cow::Owned(upsert_sql(b, target, n, synced.is_some())),
                |t| Cow::Borrowed(t.as_str()),
            );
            txn.execute(&text, values).await.map_err(|e| {
                SinkError::statement(format!("{} ({})", action(), rows_label(n, &keys)), e)
            })?;
        }
        Ok(count)
    }

    /// Builds (once per table shape) the statement text for every chunk size
    /// a commit can use.
    fn ensure_sql(&mut self, schema: &TableSchema) {
        if self.sql.get(&schema.name).is_some_and(|s| s.schema == *schema) {
            return;
        }
        let b = self.backend;
        let mut upsert = HashMap::new();
        let max = chunk_limit(b, schema.columns.len(), 1);
        let mut n = max;
        while n >= 1 {
            upsert.insert(n, upsert_sql(b, schema, n, true));
            n /= 2;
        }
        let mut mark_deleted = HashMap::new();
        if let Some(pk) = &schema.parent_key {
            let max = chunk_limit(b, pk.len(), 1);
            let mut n = max;
            while n >= 1 {
                mark_deleted.insert(n, mark_deleted_sql(b, schema, n));
                n /= 2;
            }
        }
        self.sql
            .insert(schema.name.clone(), TableSql { schema: schema.clone(), upsert, mark_deleted });
    }

    /// Builds (once per table shape) the statement text that stages rows of
    /// `live` for every chunk size a commit can use.
    fn ensure_stage_sql(&mut self, live: &TableSchema) -> Result<(), SinkError> {
        if self.stage_sql.get(&live.name).is_some_and(|s| s.live == *live) {
            return Ok(());
        }
        let b = self.backend;
        let stage = snapshot::stage_schema(b, live)?;
        let mut upsert = HashMap::new();
        let mut n = chunk_limit(b, stage.columns.len(), 0);
        while n >= 1 {
            upsert.insert(n, upsert_sql(b, &stage, n, false));
            n /= 2;
        }
        self.stage_sql.insert(live.name.clone(), StageSql { live: live.clone(), stage, upsert });
        Ok(())
    }
}

#[async_trait]
impl Sink for DatabaseSink {
    async fn prepare(
        &mut self,
        tables: &[SharedSchema],
        staged: bool,
    ) -> Result<(), cartage_core::Error> {
        Ok(self.prepare_inner(tables, staged).await?)
    }

    async fn read_state(
        &mut self,
        tenant: &str,
        stream: &str,
    ) -> Result<Option<StreamState>, cartage_core::Error> {
        Ok(self.read_state_inner(tenant, stream).await?)
    }

    async fn commit(&mut self, batch: CommitBatch) -> Result<CommitStats, cartage_core::Error> {
        Ok(self.commit_inner(batch).await?)
    }

    fn row_check(&self) -> Option<std::sync::Arc<dyn RowCheck>> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres | Backend::Mysql => Some(std::sync::Arc::new(self.checker())),
        }
    }
}

/// The schema of the state table.
fn state_schema() -> TableSchema {
    use cartage_core::Column;
    TableSchema {
        name: STATE_TABLE.into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("stream", ColumnType::Text, false),
            Column::new("state", ColumnType::Json, false),
            Column::new("updated_at", ColumnType::Timestamp, false),
        ],
        primary_key: vec!["tenant".into(), "stream".into()],
        parent_key: None,
    }
}

pub(crate) fn validate_schema(schema: &TableSchema) -> Result<(), SinkError> {
    let err = |reason: String| SinkError::Schema { table: schema.name.clone(), reason };
    if schema.name == STATE_TABLE {
        return Err(err(format!("the name {STATE_TABLE} is reserved for sync state")));
    }
    if schema.primary_key.is_empty() {
        return Err(err("no primary key".into()));
    }
    for k in &schema.primary_key {
        if schema.column_index(k).is_none() {
            return Err(err(format!("primary key column {k} is not a column")));
        }
    }
    if schema.column_index("tenant").is_none() {
        return Err(err("no tenant column".into()));
    }
    for c in &schema.columns {
        if c.name == SYNCED_AT || c.name == DELETED_AT {
            return Err(err(format!("column name {} is reserved", c.name)));
        }
    }
    if let Some(parent) = &schema.parent_key
        && (parent.is_empty()
            || parent.len() >= schema.primary_key.len()
            || !schema.primary_key.starts_with(parent))
    {
        return Err(err(format!(
            "parent key {parent:?} must be a proper leading part of the primary key {:?}",
            schema.primary_key
        )));
    }
    Ok(())
}

/// The largest power of two of rows (of `width` columns plus `extra` system
/// parameters) one statement may carry.
fn chunk_limit(b: Backend, width: usize, extra: usize) -> usize {
    let cap = (b.max_params() / (width + extra).max(1)).clamp(1, MAX_ROWS_PER_STATEMENT);
    1 << cap.ilog2()
}

/// Splits `n` rows into full chunks of `max` and the rest into powers of two,
/// so only `log2(max) + 1` statement shapes exist.
fn chunk_sizes(n: usize, max: usize) -> Vec<usize> {
    let mut sizes = vec![max; n / max];
    let rest = n % max;
    let mut bit = max;
    while bit >= 1 {
        if rest & bit != 0 {
            sizes.push(bit);
        }
        bit /= 2;
    }
    sizes
}

/// Splits `n` keys into full chunks of `max` and a rest padded up to a power
/// of two: (keys, statement size) per chunk. For statements where a key
/// named twice changes nothing (marking rows deleted), so a batch takes one
/// statement, not one per bit of its size.
fn padded_chunk_sizes(n: usize, max: usize) -> Vec<(usize, usize)> {
    let mut sizes = vec![(max, max); n / max];
    let rest = n % max;
    if rest > 0 {
        sizes.push((rest, rest.next_power_of_two().min(max)));
    }
    sizes
}

/// `INSERT ... ON CONFLICT (pk) DO UPDATE` for `rows` rows of `schema`;
/// `system_columns`: also `_synced_at` (bound) and `_deleted_at` (NULL).
fn upsert_sql(b: Backend, schema: &TableSchema, rows: usize, system_columns: bool) -> String {
    let system: &[&str] = if system_columns { &[SYNCED_AT, DELETED_AT] } else { &[] };
    let mut q = Query::insert();
    q.into_table(Alias::new(&schema.name)).columns(
        schema
            .columns
            .iter()
            .map(|c| Alias::new(&c.name))
            .chain(system.iter().map(|c| Alias::new(*c))),
    );
    let mut placeholders: Vec<Expr> =
        schema.columns.iter().map(|c| Expr::val(b.null(c.ty))).collect();
    if system_columns {
        placeholders.extend([Expr::val(b.null(ColumnType::Timestamp)), Expr::null()]);
    }
    for _ in 0..rows {
        // Cannot panic: one placeholder per column listed above.
        q.values_panic(placeholders.iter().cloned());
    }
    let mut updates: Vec<Alias> = schema
        .columns
        .iter()
        .filter(|c| !schema.primary_key.contains(&c.name))
        .map(|c| Alias::new(&c.name))
        .chain(system.iter().map(|c| Alias::new(*c)))
        .collect();
    if updates.is_empty() {
        // A staging table of key columns only: the row is already there, and
        // `DO UPDATE` needs a column (setting the first key to itself).
        updates.extend(schema.primary_key.first().map(Alias::new));
    }
    q.on_conflict(
        OnConflict::columns(schema.primary_key.iter().map(Alias::new))
            .update_columns(updates)
            .to_owned(),
    );
    b.db_backend().build(&q).sql
}

fn mark_deleted_sql(b: Backend, schema: &TableSchema, parents: usize) -> String {
    let parent_key = schema.parent_key.as_deref().unwrap_or_default();
    if b == Backend::Postgres {
        return mark_deleted_sql_postgres(schema, parent_key, parents);
    }
    let tuple: Vec<SqValue> = parent_key
        .iter()
        .map(|k| {
            let ty = schema.column_index(k).map_or(ColumnType::Text, |i| schema.columns[i].ty);
            b.null(ty)
        })
        .collect();
    let mut q = Query::update();
    q.table(Alias::new(&schema.name))
        .value(Alias::new(DELETED_AT), Expr::val(b.null(ColumnType::Timestamp)))
        .and_where(Expr::col(Alias::new(DELETED_AT)).is_null())
        .and_where(
            Expr::tuple(parent_key.iter().map(|k| Expr::col(Alias::new(k))))
                .in_tuples((0..parents).map(|_| ValueTuple::Many(tuple.clone()))),
        );
    b.db_backend().build(&q).sql
}

/// PostgreSQL's form: a join with the parents' keys as a `VALUES` list, so
/// each parent is one index lookup whatever the planner knows of the table.
/// The `IN ((..), ..)` form of the other backends is planned as "the
/// tenant's rows, filtered": without statistics (a table filling up in a
/// first backfill) PostgreSQL reads every line of the tenant for every
/// batch, which made a 1,100-row commit take 200 ms at 100k lines.
fn mark_deleted_sql_postgres(
    schema: &TableSchema,
    parent_key: &[String],
    parents: usize,
) -> String {
    let table = &schema.name;
    let ty = |k: &str| {
        let ty = schema.column_index(k).map_or(ColumnType::Text, |i| schema.columns[i].ty);
        Backend::Postgres.column_sql(ty, true)
    };
    let mut rows = Vec::with_capacity(parents);
    let mut n = 1;
    for _ in 0..parents {
        let tuple: Vec<String> = parent_key
            .iter()
            .map(|k| {
                n += 1;
                format!("${n}::{}", ty(k))
            })
            .collect();
        rows.push(format!("({})", tuple.join(", ")));
    }
    let names: Vec<String> = parent_key.iter().map(|k| format!(r#""{k}""#)).collect();
    let join: Vec<String> =
        parent_key.iter().map(|k| format!(r#""{table}"."{k}" = "p"."{k}""#)).collect();
    format!(
        r#"UPDATE "{table}" SET "{DELETED_AT}" = $1 FROM (VALUES {}) AS "p" ({}) WHERE "{table}"."{DELETED_AT}" IS NULL AND {}"#,
        rows.join(", "),
        names.join(", "),
        join.join(" AND ")
    )
}

/// PostgreSQL's bulk upsert of a live table's rows (see [`copy`]): straight
/// `COPY` when `direct` says to try and no key exists, else through a
/// temporary table.
async fn copy_upsert(
    txn: &mut Tx,
    schema: &TableSchema,
    rows: Vec<Row>,
    synced: &SqValue,
    direct: &std::sync::Mutex<HashMap<String, copy::DirectCopy>>,
) -> Result<u64, SinkError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let table = schema.name.as_str();
    let SqValue::ChronoDateTimeUtc(Some(synced)) = synced else {
        let bug = DriverError::Internal("a PostgreSQL _synced_at that is not a timestamp");
        return Err(SinkError::statement(format!("upserting into table {table}"), bug));
    };
    let data = copy::copy_text(schema, &rows, &sqlite_timestamp(*synced))?;
    let sql = copy::CopySql::new(schema);
    // One statement writes them all: an error names the batch's key range.
    let keys = (check::show_key(schema, &rows[0]), check::show_key(schema, &rows[rows.len() - 1]));
    let label = rows_label(rows.len(), &keys);
    let action = || format!("upserting into table {table} ({label})");
    if direct_copy(direct, table, copy::DirectCopy::attempt) {
        const SAVEPOINT: &str = "cartage_direct_copy";
        txn.execute_raw(&format!("SAVEPOINT {SAVEPOINT}"))
            .await
            .map_err(|e| SinkError::statement(action(), e))?;
        match txn.copy_in(&sql.direct, &data).await {
            Ok(_) => {
                txn.execute_raw(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| SinkError::statement(action(), e))?;
                direct_copy(direct, table, copy::DirectCopy::succeeded);
                return Ok(rows.len() as u64);
            }
            Err(e) if is_unique_violation(&e) => {
                debug!(table, "a key of the batch exists: upserting instead");
                txn.execute_raw(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| SinkError::statement(action(), e))?;
                direct_copy(direct, table, copy::DirectCopy::failed);
            }
            Err(e) => return Err(SinkError::statement(action(), e)),
        }
    }
    txn.execute_raw(&sql.create).await.map_err(|e| SinkError::statement(action(), e))?;
    txn.copy_in(&sql.copy, &data).await.map_err(|e| SinkError::statement(action(), e))?;
    txn.execute_raw(&sql.upsert).await.map_err(|e| SinkError::statement(action(), e))?;
    Ok(rows.len() as u64)
}

/// Runs `f` on `table`'s [`copy::DirectCopy`].
fn direct_copy<T>(
    direct: &std::sync::Mutex<HashMap<String, copy::DirectCopy>>,
    table: &str,
    f: impl FnOnce(&mut copy::DirectCopy) -> T,
) -> T {
    let mut map = direct.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(map.entry(table.to_owned()).or_default())
}

/// Which rows a failed statement wrote, by their keys.
fn rows_label(n: usize, (first, last): &(String, String)) -> String {
    match n {
        1 => format!("the row with key {first}"),
        _ => format!("{n} rows with keys from {first} to {last}"),
    }
}

fn no_statements(table: &str) -> SinkError {
    SinkError::Schema {
        table: table.into(),
        reason: "no statements were built for this table".into(),
    }
}

/// A built statement's text and values, for [`Tx::execute`].
fn run(built: Statement) -> (String, Vec<SqValue>) {
    (built.sql, built.values.map(|v| v.0).unwrap_or_default())
}

/// One `UPDATE ... SET _deleted_at` with its values bound.
struct DeleteStatement {
    table: String,
    sql: String,
    values: Vec<SqValue>,
}

impl DeleteStatement {
    fn new(table: String, built: Statement) -> Self {
        DeleteStatement {
            table,
            sql: built.sql,
            values: built.values.map(|v| v.0).unwrap_or_default(),
        }
    }
}

/// The statements that mark the rows `d` names, and the live children of
/// those rows in every child table of the batch, deleted.
fn delete_statements(
    b: Backend,
    d: &TableDeletes,
    schemas: &[SharedSchema],
    synced: &SqValue,
    tenant: &str,
) -> Result<Vec<DeleteStatement>, SinkError> {
    let root = &d.schema;
    let Some(col) = root.column_index(&d.column).map(|i| &root.columns[i]) else {
        return Err(SinkError::Schema {
            table: root.name.clone(),
            reason: format!(
                "deleted rows are named by column {}, which it does not have",
                d.column
            ),
        });
    };
    let mut bound = Vec::with_capacity(d.values.len());
    for (i, v) in d.values.iter().enumerate() {
        bound.push(
            b.bind(col.ty, v.clone())
                .map_err(|found| SinkError::value_type(&root.name, &col.name, i, col.ty, found))?,
        );
    }
    let tenant_value = || SqValue::String(Some(tenant.to_owned()));
    let mut out = Vec::new();
    // Parameters per statement: the values plus `_deleted_at` and two tenants.
    let max = chunk_limit(b, 1, 3);
    let mut rest = bound.as_slice();
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(max));
        rest = tail;
        let named = || Expr::col(Alias::new(&col.name)).is_in(chunk.iter().cloned().map(Expr::val));
        for child in schemas.iter().filter(|c| c.parent_key.as_ref() == Some(&root.primary_key)) {
            let mut parents = Query::select();
            parents
                .from(Alias::new(&root.name))
                .columns(root.primary_key.iter().map(Alias::new))
                .and_where(Expr::col(Alias::new("tenant")).eq(tenant_value()))
                .and_where(named());
            let mut q = Query::update();
            q.table(Alias::new(&child.name))
                .value(Alias::new(DELETED_AT), Expr::val(synced.clone()))
                .and_where(Expr::col(Alias::new("tenant")).eq(tenant_value()))
                .and_where(Expr::col(Alias::new(DELETED_AT)).is_null())
                .and_where(
                    Expr::tuple(root.primary_key.iter().map(|k| Expr::col(Alias::new(k))))
                        .in_subquery(parents),
                );
            out.push(DeleteStatement::new(child.name.clone(), b.db_backend().build(&q)));
        }
        let mut q = Query::update();
        q.table(Alias::new(&root.name))
            .value(Alias::new(DELETED_AT), Expr::val(synced.clone()))
            .and_where(Expr::col(Alias::new("tenant")).eq(tenant_value()))
            .and_where(Expr::col(Alias::new(DELETED_AT)).is_null())
            .and_where(named());
        out.push(DeleteStatement::new(root.name.clone(), b.db_backend().build(&q)));
    }
    Ok(out)
}

fn state_upsert_sql(b: Backend) -> String {
    let schema = state_schema();
    let mut q = Query::insert();
    q.into_table(Alias::new(STATE_TABLE))
        .columns(schema.columns.iter().map(|c| Alias::new(&c.name)))
        // Cannot panic: one placeholder per column listed above.
        .values_panic(schema.columns.iter().map(|c| Expr::val(b.null(c.ty))))
        .on_conflict(
            OnConflict::columns([Alias::new("tenant"), Alias::new("stream")])
                .update_columns([Alias::new("state"), Alias::new("updated_at")])
                .to_owned(),
        );
    b.db_backend().build(&q).sql
}

/// A primary key value, hashable and ordered (text by bytes).
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyPart<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Text(&'a str),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
    Json(String),
}

fn key_part(v: &Value) -> KeyPart<'_> {
    match v {
        Value::Null => KeyPart::Null,
        Value::Bool(b) => KeyPart::Bool(*b),
        Value::Int(i) => KeyPart::Int(*i),
        Value::Decimal(d) => KeyPart::Decimal(d.normalize()),
        Value::Text(s) => KeyPart::Text(s),
        Value::Timestamp(t) => KeyPart::Timestamp(*t),
        Value::Date(d) => KeyPart::Date(*d),
        Value::Json(j) => KeyPart::Json(j.to_string()),
    }
}

fn key_of<'a>(row: &'a Row, idx: &[usize]) -> Vec<KeyPart<'a>> {
    idx.iter().map(|&i| row.0.get(i).map_or(KeyPart::Null, key_part)).collect()
}

pub(crate) fn compare_keys(a: &Row, b: &Row, idx: &[usize]) -> Ordering {
    key_of(a, idx).cmp(&key_of(b, idx))
}

/// Checks row widths and keeps the last row of each primary key, in the
/// order of those last occurrences.
fn dedupe(schema: &TableSchema, rows: Vec<Row>) -> Result<Vec<Row>, SinkError> {
    let width = schema.columns.len();
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.0.len() != width) {
        return Err(SinkError::RowWidth {
            table: schema.name.clone(),
            row: i,
            found: r.0.len(),
            expected: width,
        });
    }
    let key = schema.primary_key_indexes();
    let mut keep = vec![false; rows.len()];
    {
        let mut last: HashMap<Vec<KeyPart<'_>>, usize> = HashMap::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            last.insert(key_of(r, &key), i);
        }
        if last.len() == rows.len() {
            return Ok(rows);
        }
        for i in last.into_values() {
            keep[i] = true;
        }
    }
    Ok(rows.into_iter().zip(keep).filter_map(|(r, k)| k.then_some(r)).collect())
}

/// The distinct parent keys of a child table's batch: those of the parent
/// table's rows in the same batch (the table whose primary key is the child's
/// parent key), and those of the child rows themselves.
fn parent_keys(
    child: &TableSchema,
    parent_key: &[String],
    tables: &[cartage_core::TableRows],
) -> Result<Vec<Vec<Value>>, SinkError> {
    let idx_in = |schema: &TableSchema| -> Option<Vec<usize>> {
        parent_key.iter().map(|k| schema.column_index(k)).collect()
    };
    let mut seen: HashSet<Vec<KeyPart<'_>>> = HashSet::new();
    let mut keys = Vec::new();
    let sources = tables
        .iter()
        .filter(|t| t.schema.name == child.name || t.schema.primary_key.as_slice() == parent_key);
    for t in sources {
        let Some(idx) = idx_in(&t.schema) else {
            return Err(SinkError::Schema {
                table: t.schema.name.clone(),
                reason: format!("parent key {parent_key:?} names a missing column"),
            });
        };
        for r in &t.rows {
            if seen.insert(key_of(r, &idx)) {
                keys.push(
                    idx.iter().map(|&i| r.0.get(i).cloned().unwrap_or(Value::Null)).collect(),
                );
            }
        }
    }
    Ok(keys)
}

fn bind_parent_keys(
    b: Backend,
    schema: &TableSchema,
    keys: Vec<Vec<Value>>,
) -> Result<Vec<Vec<SqValue>>, SinkError> {
    let parent_key = schema.parent_key.as_deref().unwrap_or_default();
    let cols: Vec<&cartage_core::Column> = parent_key
        .iter()
        .filter_map(|k| schema.column_index(k).map(|i| &schema.columns[i]))
        .collect();
    keys.into_iter()
        .enumerate()
        .map(|(i, key)| {
            key.into_iter()
                .zip(&cols)
                .map(|(v, c)| {
                    b.bind(c.ty, v).map_err(|found| {
                        SinkError::value_type(&schema.name, &c.name, i, c.ty, found)
                    })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartage_core::Column;

    fn schema() -> TableSchema {
        TableSchema {
            name: "order_lines".into(),
            columns: vec![
                Column::new("tenant", ColumnType::Text, false),
                Column::new("order_id", ColumnType::Text, false),
                Column::new("line_id", ColumnType::Int, false),
                Column::new("sku", ColumnType::Text, true),
            ],
            primary_key: vec!["tenant".into(), "order_id".into(), "line_id".into()],
            parent_key: Some(vec!["tenant".into(), "order_id".into()]),
        }
    }

    fn row(order: &str, line: i64, sku: &str) -> Row {
        Row(vec![
            Value::Text("acme".into()),
            Value::Text(order.into()),
            Value::Int(line),
            Value::Text(sku.into()),
        ])
    }

    #[test]
    fn chunks_are_full_then_powers_of_two() {
        assert_eq!(chunk_sizes(0, 512), Vec::<usize>::new());
        assert_eq!(chunk_sizes(900, 512), vec![512, 256, 128, 4]);
        assert_eq!(chunk_sizes(1200, 256), vec![256, 256, 256, 256, 128, 32, 16]);
        assert_eq!(chunk_sizes(1, 1), vec![1]);
        assert_eq!(padded_chunk_sizes(0, 512), vec![]);
        assert_eq!(padded_chunk_sizes(200, 512), vec![(200, 256)]);
        assert_eq!(padded_chunk_sizes(1100, 512), vec![(512, 512), (512, 512), (76, 128)]);
        assert_eq!(padded_chunk_sizes(512, 512), vec![(512, 512)]);
    }

    #[test]
    fn chunk_limits_respect_each_backends_parameter_limit() {
        // 26 data columns + _synced_at.
        assert_eq!(chunk_limit(Backend::Sqlite, 26, 1), 512);
        assert_eq!(chunk_limit(Backend::Sqlite, 100, 1), 256);
        assert_eq!(chunk_limit(Backend::Postgres, 1000, 1), 64);
        assert!(chunk_limit(Backend::Sqlite, 100, 1) * 101 <= 32_766);
    }

    #[test]
    fn dedupe_keeps_the_last_row_of_each_key() {
        let rows = vec![row("1", 1, "a"), row("1", 2, "b"), row("1", 1, "c"), row("2", 1, "d")];
        let kept = dedupe(&schema(), rows).expect("valid rows");
        assert_eq!(kept, vec![row("1", 2, "b"), row("1", 1, "c"), row("2", 1, "d")]);
    }

    #[test]
    fn dedupe_rejects_a_row_of_the_wrong_width() {
        let e = dedupe(&schema(), vec![row("1", 1, "a"), Row(vec![Value::Null])])
            .expect_err("short row");
        assert_eq!(e.to_string(), "table order_lines, row 1: 1 values for 4 columns");
    }

    #[test]
    fn upsert_text_has_one_parameter_per_value_and_updates_non_key_columns() {
        let sql = upsert_sql(Backend::Sqlite, &schema(), 2, true);
        assert_eq!(
            sql,
            r#"INSERT INTO "order_lines" ("tenant", "order_id", "line_id", "sku", "_synced_at", "_deleted_at") VALUES (?, ?, ?, ?, ?, NULL), (?, ?, ?, ?, ?, NULL) ON CONFLICT ("tenant", "order_id", "line_id") DO UPDATE SET "sku" = "excluded"."sku", "_synced_at" = "excluded"."_synced_at", "_deleted_at" = "excluded"."_deleted_at""#
        );
        let sql = upsert_sql(Backend::Mysql, &schema(), 1, true);
        assert!(sql.ends_with("ON DUPLICATE KEY UPDATE `sku` = VALUES(`sku`), `_synced_at` = VALUES(`_synced_at`), `_deleted_at` = VALUES(`_deleted_at`)"), "{sql}");
    }

    #[test]
    fn mark_deleted_text_sets_deleted_at_on_live_children_of_the_parents() {
        let sql = mark_deleted_sql(Backend::Sqlite, &schema(), 2);
        assert_eq!(
            sql,
            r#"UPDATE "order_lines" SET "_deleted_at" = ? WHERE "_deleted_at" IS NULL AND ("tenant", "order_id") IN ((?, ?), (?, ?))"#
        );
        let sql = mark_deleted_sql(Backend::Postgres, &schema(), 2);
        assert_eq!(
            sql,
            r#"UPDATE "order_lines" SET "_deleted_at" = $1 FROM (VALUES ($2::TEXT, $3::TEXT), ($4::TEXT, $5::TEXT)) AS "p" ("tenant", "order_id") WHERE "order_lines"."_deleted_at" IS NULL AND "order_lines"."tenant" = "p"."tenant" AND "order_lines"."order_id" = "p"."order_id""#
        );
    }

    #[test]
    fn a_parent_key_that_is_not_a_leading_part_of_the_key_is_refused() {
        let mut s = schema();
        s.parent_key = Some(vec!["order_id".into()]);
        let e = validate_schema(&s).expect_err("bad parent key");
        assert!(e.to_string().contains("must be a proper leading part"), "{e}");
    }

    #[test]
    fn keys_sort_text_by_bytes() {
        let idx = [1usize];
        assert_eq!(compare_keys(&row("B", 1, ""), &row("a", 1, ""), &idx), Ordering::Less);
        assert_eq!(compare_keys(&row("10", 1, ""), &row("9", 1, ""), &idx), Ordering::Less);
    }
}
