//! The commit path's transaction: sea-query statements run on the sqlx pool
//! that sea-orm's connection manages.
//!
//! Why not `DatabaseTransaction::execute_raw`: sea-orm clones every bound
//! value of a statement before handing it to sqlx; a commit binds ~30,000
//! values, and that clone (with its frees) was a fifth of the commit's CPU.
//! Here the values move into the driver's arguments instead.

use std::sync::Arc;

use sea_orm::sea_query::{Value as SqValue, Values};
use sea_orm::sqlx::{self, AssertSqlSafe, MySql, Postgres, Sqlite, Transaction};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use sea_query_sqlx::SqlxValues;

use super::Backend;

/// An open transaction on one of the three backends.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
    Mysql(Transaction<'static, MySql>),
}

fn db_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

impl Tx {
    pub(crate) async fn begin(db: &DatabaseConnection, backend: Backend) -> Result<Tx, DbErr> {
        // The pool getters panic on another backend; `backend` is the one
        // this connection was opened for (see `DatabaseSink::connect`).
        Ok(match backend {
            Backend::Sqlite => {
                Tx::Sqlite(db.get_sqlite_connection_pool().begin().await.map_err(db_err)?)
            }
            Backend::Postgres => {
                Tx::Postgres(db.get_postgres_connection_pool().begin().await.map_err(db_err)?)
            }
            Backend::Mysql => {
                Tx::Mysql(db.get_mysql_connection_pool().begin().await.map_err(db_err)?)
            }
        })
    }

    /// Runs one statement, moving `values` into its arguments; returns the
    /// rows it affected.
    pub(crate) async fn execute(&mut self, sql: &str, values: Vec<SqValue>) -> Result<u64, DbErr> {
        let args = SqlxValues(Values(values));
        let sql = AssertSqlSafe(sql);
        match self {
            Tx::Sqlite(t) => {
                sqlx::query_with(sql, args).execute(&mut **t).await.map(|r| r.rows_affected())
            }
            Tx::Postgres(t) => {
                sqlx::query_with(sql, args).execute(&mut **t).await.map(|r| r.rows_affected())
            }
            Tx::Mysql(t) => {
                sqlx::query_with(sql, args).execute(&mut **t).await.map(|r| r.rows_affected())
            }
        }
        .map_err(db_err)
    }

    /// Runs a statement without parameters or a prepared statement (DDL).
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<u64, DbErr> {
        let sql = AssertSqlSafe(sql);
        match self {
            Tx::Sqlite(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|r| r.rows_affected()),
            Tx::Postgres(t) => {
                sqlx::raw_sql(sql).execute(&mut **t).await.map(|r| r.rows_affected())
            }
            Tx::Mysql(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|r| r.rows_affected()),
        }
        .map_err(db_err)
    }

    /// PostgreSQL's `COPY ... FROM STDIN` of `data` (text format); returns
    /// the rows copied.
    pub(crate) async fn copy_in(&mut self, statement: &str, data: Vec<u8>) -> Result<u64, DbErr> {
        let Tx::Postgres(t) = self else {
            return Err(DbErr::Custom("COPY is PostgreSQL's".into()));
        };
        let mut copy = t.copy_in_raw(statement).await.map_err(db_err)?;
        if let Err(e) = copy.send(data).await {
            // Abort leaves the connection usable; the transaction fails anyway.
            let _ = copy.abort(e.to_string()).await;
            return Err(db_err(e));
        }
        copy.finish().await.map_err(db_err)
    }

    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
            Tx::Mysql(t) => t.commit().await,
        }
        .map_err(db_err)
    }

    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
            Tx::Mysql(t) => t.rollback().await,
        }
        .map_err(db_err)
    }
}
