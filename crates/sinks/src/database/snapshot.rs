//! Snapshot batches: staging tables and the swap that turns a finished
//! snapshot into the live rows.
//!
//! A staging table `_cartage_stage_<table>` has the live table's columns and
//! primary key (so `tenant` first) and no system columns. Snapshot batches
//! upsert into it; the batch marked `last` then runs, per table and inside
//! the batch's transaction, three set-based statements:
//!
//! 1. `INSERT INTO live (…, _synced_at) SELECT …, ? FROM stage WHERE tenant = ?
//!    ON CONFLICT (pk) DO UPDATE SET …, _deleted_at = NULL` (MySQL:
//!    `ON DUPLICATE KEY UPDATE`);
//! 2. `UPDATE live SET _deleted_at = ? WHERE tenant = ? AND _deleted_at IS NULL
//!    AND NOT EXISTS (SELECT 1 FROM stage WHERE stage.pk = live.pk)`;
//! 3. `DELETE FROM stage WHERE tenant = ?`.
//!
//! Each walks the rows once through the shared primary key index, so a swap
//! costs about as much as writing the rows once, with no round trip per row.

use cartage_core::TableSchema;
use sea_orm::Statement;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, Value as SqValue};

use super::dialect::Backend;
use crate::database::{DELETED_AT, SYNCED_AT};
use crate::error::SinkError;

/// Staging tables are named by this prefix and the live table's name.
pub const STAGE_PREFIX: &str = "_cartage_stage_";

/// The staging table's name for `table`, if the backend accepts it whole:
/// PostgreSQL would silently cut a name past 63 bytes (two long names could
/// then meet in one staging table), MySQL refuses one past 64 characters.
pub(crate) fn stage_name(b: Backend, table: &str) -> Result<String, SinkError> {
    let name = format!("{STAGE_PREFIX}{table}");
    let (length, max, unit) = match b {
        Backend::Sqlite => return Ok(name),
        Backend::Postgres => (name.len(), 63, "bytes"),
        Backend::Mysql => (name.chars().count(), 64, "characters"),
    };
    if length > max {
        return Err(SinkError::Schema {
            table: table.to_owned(),
            reason: format!(
                "its staging table {name} would be {length} {unit} long, but {} allows {max}; \
                 shorten the table name to at most {} {unit} for a stream that sends snapshots",
                b.name(),
                max - STAGE_PREFIX.len()
            ),
        });
    }
    Ok(name)
}

/// The staging table of `live`: the same columns and primary key, no parent
/// key (a snapshot marks children by their own keys).
pub(crate) fn stage_schema(b: Backend, live: &TableSchema) -> Result<TableSchema, SinkError> {
    Ok(TableSchema {
        name: stage_name(b, &live.name)?,
        columns: live.columns.clone(),
        primary_key: live.primary_key.clone(),
        parent_key: None,
    })
}

/// `DELETE FROM stage WHERE tenant = ?`: drops a tenant's staged rows.
pub(crate) fn clear(b: Backend, stage: &TableSchema, tenant: &str) -> Statement {
    let mut q = Query::delete();
    q.from_table(Alias::new(&stage.name)).and_where(Expr::col(Alias::new("tenant")).eq(tenant));
    b.db_backend().build(&q)
}

/// Upserts the tenant's staged rows into the live table, live again and
/// synced at `synced`.
pub(crate) fn swap(
    b: Backend,
    live: &TableSchema,
    stage: &TableSchema,
    synced: &SqValue,
    tenant: &str,
) -> Result<Statement, SinkError> {
    let columns = || live.columns.iter().map(|c| Alias::new(&c.name));
    let mut select = Query::select();
    select
        .from(Alias::new(&stage.name))
        .columns(columns())
        .expr(Expr::val(synced.clone()))
        // SQLite needs a WHERE before `ON CONFLICT` in `INSERT … SELECT`
        // (it would read `ON` as a join's); the tenant filter is one.
        .and_where(Expr::col(Alias::new("tenant")).eq(tenant));
    let mut q = Query::insert();
    q.into_table(Alias::new(&live.name))
        .columns(columns().chain([Alias::new(SYNCED_AT)]))
        .select_from(select)
        .map_err(|e| SinkError::Schema {
            table: live.name.clone(),
            reason: format!("building the snapshot swap: {e}"),
        })?;
    let updates = live
        .columns
        .iter()
        .filter(|c| !live.primary_key.contains(&c.name))
        .map(|c| Alias::new(&c.name))
        .chain([Alias::new(SYNCED_AT)]);
    q.on_conflict(
        OnConflict::columns(live.primary_key.iter().map(Alias::new))
            .update_columns(updates)
            .value(Alias::new(DELETED_AT), Expr::null())
            .to_owned(),
    );
    Ok(b.db_backend().build(&q))
}

/// Marks the tenant's live rows that are not staged deleted at `synced`.
pub(crate) fn mark_missing(
    b: Backend,
    live: &TableSchema,
    stage: &TableSchema,
    synced: &SqValue,
    tenant: &str,
) -> Statement {
    let mut staged = Query::select();
    staged.expr(Expr::cust("1")).from(Alias::new(&stage.name));
    for k in &live.primary_key {
        staged.and_where(
            Expr::col((Alias::new(&stage.name), Alias::new(k)))
                .equals((Alias::new(&live.name), Alias::new(k))),
        );
    }
    let mut q = Query::update();
    q.table(Alias::new(&live.name))
        .value(Alias::new(DELETED_AT), Expr::val(synced.clone()))
        .and_where(Expr::col(Alias::new("tenant")).eq(tenant))
        .and_where(Expr::col(Alias::new(DELETED_AT)).is_null())
        .and_where(Expr::exists(staged).not());
    b.db_backend().build(&q)
}

#[cfg(test)]
mod tests {
    use cartage_core::{Column, ColumnType};

    use super::*;

    fn live(name: &str) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: vec![
                Column::new("tenant", ColumnType::Text, false),
                Column::new("warehouse", ColumnType::Text, false),
                Column::new("size_id", ColumnType::Int, false),
                Column::new("available", ColumnType::Int, true),
            ],
            primary_key: vec!["tenant".into(), "warehouse".into(), "size_id".into()],
            parent_key: None,
        }
    }

    #[test]
    fn the_swap_upserts_staged_rows_live_again() {
        let live = live("inventory_levels");
        let stage = stage_schema(Backend::Postgres, &live).expect("short name");
        let synced = SqValue::String(Some("t".into()));
        let sql = swap(Backend::Postgres, &live, &stage, &synced, "acme").expect("swap").sql;
        assert_eq!(
            sql,
            r#"INSERT INTO "inventory_levels" ("tenant", "warehouse", "size_id", "available", "_synced_at") SELECT "tenant", "warehouse", "size_id", "available", $1 FROM "_cartage_stage_inventory_levels" WHERE "tenant" = $2 ON CONFLICT ("tenant", "warehouse", "size_id") DO UPDATE SET "available" = "excluded"."available", "_synced_at" = "excluded"."_synced_at", "_deleted_at" = NULL"#
        );
        let sql = swap(Backend::Mysql, &live, &stage, &synced, "acme").expect("swap").sql;
        assert!(
            sql.ends_with("ON DUPLICATE KEY UPDATE `available` = VALUES(`available`), `_synced_at` = VALUES(`_synced_at`), `_deleted_at` = NULL"),
            "{sql}"
        );
    }

    #[test]
    fn rows_not_staged_are_marked_by_their_whole_key() {
        let live = live("inventory_levels");
        let stage = stage_schema(Backend::Sqlite, &live).expect("short name");
        let synced = SqValue::String(Some("t".into()));
        let sql = mark_missing(Backend::Sqlite, &live, &stage, &synced, "acme").sql;
        assert_eq!(
            sql,
            r#"UPDATE "inventory_levels" SET "_deleted_at" = ? WHERE "tenant" = ? AND "_deleted_at" IS NULL AND (NOT EXISTS(SELECT 1 FROM "_cartage_stage_inventory_levels" WHERE "_cartage_stage_inventory_levels"."tenant" = "inventory_levels"."tenant" AND "_cartage_stage_inventory_levels"."warehouse" = "inventory_levels"."warehouse" AND "_cartage_stage_inventory_levels"."size_id" = "inventory_levels"."size_id"))"#
        );
    }

    #[test]
    fn a_staging_name_past_the_backends_limit_is_refused_by_name() {
        let table = "t".repeat(49);
        assert_eq!(stage_name(Backend::Mysql, &table).expect("64 characters").len(), 64);
        let e = stage_name(Backend::Postgres, &table).expect_err("64 bytes");
        assert_eq!(
            e.to_string(),
            format!(
                "table {table}: its staging table _cartage_stage_{table} would be 64 bytes long, \
                 but postgres allows 63; shorten the table name to at most 48 bytes for a stream \
                 that sends snapshots"
            )
        );
        let long = "t".repeat(50);
        assert!(stage_name(Backend::Mysql, &long).is_err());
        assert!(stage_name(Backend::Sqlite, &"t".repeat(500)).is_ok());
    }
}
