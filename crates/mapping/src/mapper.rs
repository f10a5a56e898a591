//! A compiled stream: implements `cartage_core::RecordMapper` by parsing a
//! record with the plan's layout and evaluating each table's cells.

use std::sync::Arc;

use cartage_core::{
    ColumnType, Deletion, Error, MappedRows, Record, RecordMapper, Row, SharedSchema, Value,
};
use chrono_tz::Tz;

use crate::error::MapError;
use crate::json::{self, Doc, Layout, N};
use crate::plan::{self, Ctx, Expr, Fail, Path};

/// What happens to a record that cannot be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The run fails with the error (a data error naming record, field, value).
    Fail,
    /// The record's rows are dropped and one row goes to `_rejects` with the reason.
    Reject,
}

/// How one column of a row is filled.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Tenant,
    Null,
    Expr {
        expr: Expr,
        ty: ColumnType,
        field: String,
        pk: bool,
    },
    /// The `custom` JSON object: name, expression, field label.
    Custom(Vec<(String, Expr, String)>),
}

#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    pub schema: SharedSchema,
    /// For a child table: the list whose elements become rows.
    pub each: Option<Path>,
    pub cells: Vec<Cell>,
}

/// The compiled mapping of one stream.
#[derive(Debug)]
pub struct StreamMapper {
    stream: String,
    tenant: String,
    plans: Vec<TablePlan>,
    tables: Vec<SharedSchema>,
    layout: Arc<Layout>,
    id_slot: Option<usize>,
    zone: Tz,
    selection: String,
    on_error: OnError,
    rejects: Option<usize>,
    /// Per root table: the columns a deleted record can name it by, as
    /// (source field, column index): columns read straight from one field.
    delete_keys: Vec<(usize, Vec<(String, usize)>)>,
    /// See [`crate::version::mapping_version`].
    version: String,
}

impl StreamMapper {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream: String,
        tenant: String,
        plans: Vec<TablePlan>,
        layout: Arc<Layout>,
        id_slot: Option<usize>,
        zone: Tz,
        selection: String,
        on_error: OnError,
        rejects: Option<SharedSchema>,
    ) -> Self {
        let mut tables: Vec<SharedSchema> = plans.iter().map(|p| Arc::clone(&p.schema)).collect();
        let rejects = rejects.map(|r| {
            tables.push(r);
            tables.len() - 1
        });
        let delete_keys = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.each.is_none())
            .map(|(t, p)| (t, delete_keys(p)))
            .collect();
        let version = crate::version::mapping_version(&selection, &tables);
        StreamMapper {
            version,
            stream,
            tenant,
            plans,
            tables,
            layout,
            id_slot,
            zone,
            selection,
            on_error,
            rejects,
            delete_keys,
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    pub fn on_error(&self) -> OnError {
        self.on_error
    }

    /// The GraphQL selection set (without its braces) for one record.
    pub fn selection_text(&self) -> &str {
        &self.selection
    }

    fn no_delete_key(&self, fields: &[String], table: usize) -> Error {
        Error::config(format!(
            "the source names deleted records by {}, but table {} has no column read straight from {}",
            fields.join(", "),
            self.plans[table].schema.name,
            if fields.len() == 1 { "it" } else { "any of them" },
        ))
    }

    /// The rows a deleted record names, one per root table.
    fn deletions(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error> {
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(record.json()).map_err(|e| {
                Error::data(format!(
                    "a deleted record is not a JSON object ({e}): {}",
                    record.json()
                ))
            })?;
        json::with_parsed(record.json(), &self.layout, |parsed| {
            let doc = parsed
                .map_err(|e| Error::data(format!("deleted record {}: {e}", record.json())))?;
            for (t, keys) in &self.delete_keys {
                let table = &self.plans[*t];
                let Some((_, col)) = keys.iter().find(|(name, _)| fields.contains_key(name)) else {
                    let names: Vec<String> = fields.keys().cloned().collect();
                    return Err(self.no_delete_key(&names, *t));
                };
                let Cell::Expr { expr, ty, field, .. } = &table.cells[*col] else {
                    return Err(Error::internal("a delete key is not an expression column"));
                };
                let cx = Ctx { doc: &doc, here: doc.root, zone: self.zone };
                let failed = |f: plan::Fail| {
                    Error::data(format!(
                        "deleted record {}: {field}: cannot convert {} to {}",
                        record.json(),
                        f.value,
                        f.expected
                    ))
                };
                let mut value = expr.eval(&cx).map_err(failed)?;
                if !value.is_null() && value.column_type() != Some(*ty) {
                    value = plan::cast(value, *ty, self.zone).map_err(failed)?;
                }
                if value.is_null() {
                    return Err(Error::data(format!(
                        "deleted record {}: {field} is null",
                        record.json()
                    )));
                }
                out.deleted.push(Deletion { table: *t, column: *col, value });
            }
            Ok(())
        })
    }

    fn record_id(&self, doc: &Doc<'_>) -> String {
        if let Some(raw) = self.id_slot.and_then(|slot| doc.raw(doc.slot(doc.root, slot))) {
            return json::leaf_str(raw).map(|s| s.into_owned()).unwrap_or_else(|| raw.to_owned());
        }
        "(without id)".to_owned()
    }

    /// Evaluates every table for one parsed record, appending to `out`.
    fn rows(&self, doc: &Doc<'_>, id: &str, out: &mut MappedRows) -> Result<(), MapError> {
        for (t, plan) in self.plans.iter().enumerate() {
            match &plan.each {
                None => {
                    let cx = Ctx { doc, here: doc.root, zone: self.zone };
                    let row = self.row(plan, &cx, id, None)?;
                    out.tables[t].push(row);
                }
                Some(each) => match plan::walk(doc, doc.root, &each.linked) {
                    list @ N::Arr { .. } => {
                        for (i, &item) in doc.items(list).iter().enumerate() {
                            if item.is_nullish() {
                                continue;
                            }
                            let cx = Ctx { doc, here: item, zone: self.zone };
                            let row = self.row(plan, &cx, id, Some((i, &each.text)))?;
                            out.tables[t].push(row);
                        }
                    }
                    N::Absent | N::Null => {}
                    other => {
                        return Err(MapError::Convert {
                            record: id.to_owned(),
                            field: format!("{} (each: {})", plan.schema.name, each.text),
                            value: json::to_json(doc, other, None).to_string(),
                            expected: "a list".into(),
                            detail: None,
                        });
                    }
                },
            }
        }
        Ok(())
    }

    fn row(
        &self,
        plan: &TablePlan,
        cx: &Ctx<'_, '_>,
        id: &str,
        elem: Option<(usize, &str)>,
    ) -> Result<Row, MapError> {
        let mut values = Vec::with_capacity(plan.cells.len());
        let label = |field: &str| match elem {
            Some((i, list)) => format!("{field} ({list}[{i}])"),
            None => field.to_owned(),
        };
        let convert_err = |field: &str, f: Fail| {
            let f = *f;
            MapError::Convert {
                record: id.to_owned(),
                field: label(field),
                value: f.value,
                expected: f.expected,
                detail: f.detail,
            }
        };
        for cell in &plan.cells {
            let v = match cell {
                Cell::Tenant => Value::Text(self.tenant.clone()),
                Cell::Null => Value::Null,
                Cell::Expr { expr, ty, field, pk } => {
                    let mut v = expr.eval(cx).map_err(|f| convert_err(field, f))?;
                    if !v.is_null() && v.column_type() != Some(*ty) {
                        v = plan::cast(v, *ty, self.zone).map_err(|f| convert_err(field, f))?;
                    }
                    if *pk && v.is_null() {
                        return Err(MapError::NullKey {
                            record: id.to_owned(),
                            field: label(field),
                        });
                    }
                    v
                }
                Cell::Custom(entries) => {
                    let mut map = serde_json::Map::new();
                    for (name, expr, field) in entries {
                        let v = expr.eval(cx).map_err(|f| convert_err(field, f))?;
                        if !v.is_null() {
                            map.insert(name.clone(), plan::into_json_value(v));
                        }
                    }
                    Value::Json(serde_json::Value::Object(map))
                }
            };
            values.push(v);
        }
        Ok(Row(values))
    }

    /// Appends the reject row of `record`. NUL characters become U+FFFD in
    /// it: some databases (PostgreSQL) store no NUL in text or JSON, and a
    /// record is often rejected for holding one.
    fn reject(&self, record: &Record, id: String, reason: String, out: &mut MappedRows) {
        if let Some(t) = self.rejects {
            let mut raw = serde_json::from_str(record.json())
                .unwrap_or_else(|_| serde_json::Value::String(record.json().to_owned()));
            if record.json().contains("\\u0000") || record.json().contains('\0') {
                raw = without_nul_json(raw);
            }
            out.tables[t].push(Row(vec![
                Value::Text(self.tenant.clone()),
                Value::Text(self.stream.clone()),
                Value::Text(without_nul(id)),
                Value::Text(without_nul(reason)),
                Value::Json(raw),
            ]));
        }
    }

    /// The id of a record, as errors name it.
    fn id_of(&self, record: &Record) -> String {
        json::with_parsed(record.json(), &self.layout, |parsed| match parsed {
            Ok(doc) => self.record_id(&doc),
            Err(_) => sniff_id(record.json()),
        })
    }
}

/// `s` with each NUL character replaced by U+FFFD (the replacement character).
fn without_nul(s: String) -> String {
    if s.contains('\0') { s.replace('\0', "\u{FFFD}") } else { s }
}

fn without_nul_json(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::String(s) => J::String(without_nul(s)),
        J::Array(items) => J::Array(items.into_iter().map(without_nul_json).collect()),
        J::Object(map) => {
            J::Object(map.into_iter().map(|(k, v)| (without_nul(k), without_nul_json(v))).collect())
        }
        other => other,
    }
}

/// The columns of a root table read straight from one top-level field (any
/// conversion, no transform): a deleted record carrying that field names
/// the table's rows by that column.
fn delete_keys(plan: &TablePlan) -> Vec<(String, usize)> {
    let mut keys = Vec::new();
    for (i, cell) in plan.cells.iter().enumerate() {
        if let Cell::Expr { expr: Expr::Path { path, .. }, .. } = cell
            && let [plan::Step::Field(name)] = path.steps.as_slice()
        {
            keys.push((name.clone(), i));
        }
    }
    keys
}

/// The id of a record the plan could not parse, if plain JSON finds one.
fn sniff_id(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => match v.get("id") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "(without id)".into(),
        },
        Err(_) => "(not json)".into(),
    }
}

impl RecordMapper for StreamMapper {
    fn tables(&self) -> &[SharedSchema] {
        &self.tables
    }

    fn check_deleted(&self, fields: &[String]) -> Result<(), Error> {
        if fields.is_empty() {
            return Ok(());
        }
        for (t, keys) in &self.delete_keys {
            if !keys.iter().any(|(name, _)| fields.contains(name)) {
                return Err(self.no_delete_key(fields, *t));
            }
        }
        Ok(())
    }

    /// Names each root table's rows by the first column read straight from
    /// a field the deleted record carries (an order deleted as
    /// `{"number": 1234}`: `orders.order_number`). Child tables follow their
    /// parent in the sink. A value that does not convert is a data error,
    /// handled by the mapping's `on_error` like a record's.
    fn map_deleted(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error> {
        let before = out.deleted.len();
        let Err(error) = self.deletions(record, out) else { return Ok(()) };
        out.deleted.truncate(before);
        match self.on_error {
            OnError::Reject if error.kind() == cartage_core::ErrorKind::Data => {
                let reason = error.message().to_owned();
                self.reject(record, record.json().to_owned(), reason, out);
                Ok(())
            }
            _ => Err(error.context(format!("stream {}", self.stream))),
        }
    }

    fn selection(&self) -> Option<String> {
        Some(self.selection.clone())
    }

    fn version(&self) -> Option<String> {
        Some(self.version.clone())
    }

    /// A row the sink cannot store: rejected or failed like a record that
    /// cannot be mapped.
    fn refused(&self, record: &Record, reason: String, out: &mut MappedRows) -> Result<(), Error> {
        let id = self.id_of(record);
        match self.on_error {
            OnError::Fail => Err(Error::data(format!("record {id:?}: {reason}"))
                .context(format!("stream {}", self.stream))),
            OnError::Reject => {
                self.reject(record, id, reason, out);
                Ok(())
            }
        }
    }

    fn map_record(&self, record: &Record, out: &mut MappedRows) -> Result<(), Error> {
        while out.tables.len() < self.tables.len() {
            out.tables.push(Vec::new());
        }
        let before: Vec<usize> = out.tables.iter().map(Vec::len).collect();
        let result = json::with_parsed(record.json(), &self.layout, |parsed| match parsed {
            Ok(doc) => {
                let id = self.record_id(&doc);
                self.rows(&doc, &id, out).map_err(|e| Box::new((id, e)))
            }
            Err(e) => {
                let id = sniff_id(record.json());
                Err(Box::new((
                    id.clone(),
                    MapError::Malformed { record: id, reason: e.to_string() },
                )))
            }
        });
        let Err(failed) = result else { return Ok(()) };
        let (id, error) = *failed;
        for (rows, len) in out.tables.iter_mut().zip(before) {
            rows.truncate(len);
        }
        match self.on_error {
            OnError::Fail => Err(Error::from(error).context(format!("stream {}", self.stream))),
            OnError::Reject => {
                self.reject(record, id, error.to_string(), out);
                Ok(())
            }
        }
    }
}
