//! The commit path's transaction: sea-query statements run on the sqlx pool
//! that sea-orm's connection manages (PostgreSQL, MySQL), or on SQLite's own
//! write connection (see [`super::sqlite`]).
//!
//! Why not `DatabaseTransaction::execute_raw`: sea-orm clones every bound
//! value of a statement before handing it to sqlx; a commit binds ~30,000
//! values, and that clone (with its frees) was a fifth of the commit's CPU.
//! Here the values move into the driver's arguments instead.

use std::sync::Arc;

use sea_orm::sea_query::{Value as SqValue, Values};
use sea_orm::sqlx::{self, AssertSqlSafe, MySql, Postgres, Transaction};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use sea_query_sqlx::SqlxValues;

use super::Backend;
use super::sqlite::{SqliteTx, Writer};
use crate::error::DriverError;

/// An open transaction on one of the three backends.
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(Transaction<'static, Postgres>),
    Mysql(Transaction<'static, MySql>),
}

fn db_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

impl Tx {
    /// Begins a transaction: on SQLite on `writer` (which a SQLite sink
    /// always has), otherwise on `db`'s pool.
    pub(crate) async fn begin(
        db: &DatabaseConnection,
        backend: Backend,
        writer: Option<&Writer>,
    ) -> Result<Tx, DriverError> {
        // The pool getters panic on another backend; `backend` is the one
        // this connection was opened for (see `DatabaseSink::connect`).
        Ok(match backend {
            Backend::Sqlite => match writer {
                Some(w) => Tx::Sqlite(w.begin()?),
                None => {
                    return Err(DriverError::Internal(
                        "a SQLite sink without its write connection",
                    ));
                }
            },
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
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        values: Vec<SqValue>,
    ) -> Result<u64, DriverError> {
        if let Tx::Sqlite(t) = self {
            return t.execute(sql, values);
        }
        let args = SqlxValues(Values(values));
        let sql = AssertSqlSafe(sql);
        Ok(match self {
            Tx::Sqlite(_) => unreachable!("handled above"),
            Tx::Postgres(t) => {
                sqlx::query_with(sql, args).execute(&mut **t).await.map(|r| r.rows_affected())
            }
            Tx::Mysql(t) => {
                sqlx::query_with(sql, args).execute(&mut **t).await.map(|r| r.rows_affected())
            }
        }
        .map_err(db_err)?)
    }

    /// Runs a statement without parameters or a prepared statement (DDL).
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<u64, DriverError> {
        if let Tx::Sqlite(t) = self {
            return t.execute_batch(sql);
        }
        let sql = AssertSqlSafe(sql);
        Ok(match self {
            Tx::Sqlite(_) => unreachable!("handled above"),
            Tx::Postgres(t) => {
                sqlx::raw_sql(sql).execute(&mut **t).await.map(|r| r.rows_affected())
            }
            Tx::Mysql(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|r| r.rows_affected()),
        }
        .map_err(db_err)?)
    }

    /// PostgreSQL's `COPY ... FROM STDIN` of `data` (text format); returns
    /// the rows copied.
    pub(crate) async fn copy_in(
        &mut self,
        statement: &str,
        data: &[u8],
    ) -> Result<u64, DriverError> {
        let Tx::Postgres(t) = self else {
            return Err(DbErr::Custom("COPY is PostgreSQL's".into()).into());
        };
        let mut copy = t.copy_in_raw(statement).await.map_err(db_err)?;
        if let Err(e) = copy.send(data).await {
            // Abort leaves the connection usable; the transaction fails anyway.
            let _ = copy.abort(e.to_string()).await;
            return Err(db_err(e).into());
        }
        Ok(copy.finish().await.map_err(db_err)?)
    }

    pub(crate) async fn commit(self) -> Result<(), DriverError> {
        Ok(match self {
            Tx::Sqlite(t) => return t.commit(),
            Tx::Postgres(t) => t.commit().await,
            Tx::Mysql(t) => t.commit().await,
        }
        .map_err(db_err)?)
    }

    pub(crate) async fn rollback(self) -> Result<(), DriverError> {
        Ok(match self {
            Tx::Sqlite(t) => return t.rollback(),
            Tx::Postgres(t) => t.rollback().await,
            Tx::Mysql(t) => t.rollback().await,
        }
        .map_err(db_err)?)
    }
}
