//! The compiler: a merged mapping document and the connector's description in, a
//! checked plan (or every error found) out.
//!
//! Parse, then validate into types: only [`crate::CompiledMapping`] reaches
//! the engine. Every error names `file:line:column`, the field it concerns,
//! and what was expected; errors are collected, never returned one by one.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use cartage_core::{Column, ColumnType, MoneyShape, SourceDescription, TableSchema, Value};
use chrono_tz::Tz;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, Node};

use crate::CompiledMapping;
use crate::error::{Diagnostic, Diagnostics, Location};
use crate::json::Layout;
use crate::load::{Files, Loader, SourceLoader};
use crate::mapper::{Cell, OnError, StreamMapper, TablePlan};
use crate::plan::{
    self, ArithOp, Attr, AttrSlots, Case, Cond, Conv, Expr, FmtPart, MoneyConv, Path, RStep, Step,
    Test, Unmapped,
};
use crate::schema::{GqlSchema, ScalarKind};
use crate::select::Sel;
use crate::tables::{self, REJECTS_TABLE, STANDARD_TABLES};

/// What compiling needs besides the mapping files.
#[derive(Debug, Clone)]
pub struct CompileContext {
    /// The tenant the plan fills rows for (the `tenant` column, and the
    /// per-tenant settings under `tenants:`).
    pub tenant: String,
    /// What the connector reads: its record schema, the record type of each
    /// stream, its money and custom-field shapes and its default time zone.
    pub source: SourceDescription,
    /// Overrides the mapping's time zone of the source.
    pub timezone: Option<String>,
    /// Overrides and adds constants (as if written under `constants:`).
    pub constants: BTreeMap<String, String>,
}

impl CompileContext {
    /// The context for `tenant` of a connector described by `source`.
    pub fn new(tenant: impl Into<String>, source: SourceDescription) -> Self {
        CompileContext { tenant: tenant.into(), source, timezone: None, constants: BTreeMap::new() }
    }
}

const TOP_KEYS: &[&str] =
    &["source", "extends", "timezone", "on_error", "constants", "tenants", "tables"];
const TENANT_KEYS: &[&str] = &["timezone", "constants"];
const TABLE_KEYS: &[&str] = &["stream", "each", "columns", "extra_columns", "custom"];
const SOURCE_KEYS: &[&str] = &[
    "path",
    "value",
    "constant",
    "attribute",
    "coalesce",
    "concat",
    "format",
    "add",
    "sub",
    "mul",
    "div",
    "if",
];
const MODIFIER_KEYS: &[&str] = &["trim", "case", "map", "unmapped", "type", "round", "default"];
const HELPER_KEYS: &[&str] = &["of", "separator", "then", "else"];
const TEST_KEYS: &[&str] =
    &["equals", "not_equals", "in", "not_in", "is_null", "greater_than", "less_than"];
const TYPE_NAMES: &[&str] =
    &["string", "integer", "boolean", "decimal", "money", "timestamp", "date", "json"];

/// The closest candidate to a misspelt name, if one is close enough.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(name, candidates).map(|s| format!("; did you mean {s:?}?")).unwrap_or_default()
}

/// A compiled expression and its static type (`None`: only ever null).
struct Typed {
    e: Expr,
    ty: Option<ColumnType>,
}

/// Where paths of an expression start.
#[derive(Clone)]
struct Scope {
    stream: usize,
    root_type: String,
    /// For a child table: the list element's type and the steps to the list.
    elem: Option<(String, Vec<Step>)>,
}

/// A path resolved against the schema.
struct Resolved {
    steps: Vec<Step>,
    /// Whether each field step's value is an object (parallel to `steps`).
    composite: Vec<bool>,
    end_type: String,
    end_is_list: bool,
    typename: bool,
    from_root: bool,
}

struct StreamAcc {
    name: String,
    sel: Sel,
    tables: Vec<(TablePlan, Option<Vec<Step>>)>,
}

pub(crate) struct Compiler<'s> {
    files: Files,
    diags: Vec<Diagnostic>,
    schema: &'s GqlSchema,
    ctx: &'s CompileContext,
    constants: BTreeMap<String, Value>,
    zone: Tz,
    streams: Vec<StreamAcc>,
    /// Fields selected twice with different arguments, for the path being compiled.
    conflicts: Vec<String>,
}

/// Compiles the mapping file `root` (and what it extends) for `ctx.tenant`.
pub fn compile(
    root: &str,
    loader: &dyn SourceLoader,
    ctx: &CompileContext,
) -> Result<CompiledMapping, Diagnostics> {
    let described = &ctx.source.schema;
    let schema = match GqlSchema::from_description(described) {
        Ok(s) => s,
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic {
                location: Location { file: described.path.clone(), line: 0, column: 0 },
                message: format!(
                    "invalid record schema of connector {}: {e}",
                    ctx.source.connector
                ),
            }]));
        }
    };
    let mut load = Loader { loader, files: Files::default(), diags: Vec::new() };
    let doc = load.load(root, &mut Vec::new(), None);
    let Some(doc) = doc else { return Err(Diagnostics(load.diags)) };
    let mut c = Compiler {
        files: load.files,
        diags: load.diags,
        schema: &schema,
        ctx,
        constants: BTreeMap::new(),
        zone: Tz::UTC,
        streams: Vec::new(),
        conflicts: Vec::new(),
    };
    let out = c.document(&doc);
    if c.diags.is_empty()
        && let Some(out) = out
    {
        return Ok(out);
    }
    let mut diags = c.diags;
    diags.sort_by(|a, b| a.location.cmp(&b.location));
    diags.dedup();
    Err(Diagnostics(diags))
}

/// The connector a mapping says it is written for: the `source:` of the
/// file `root` or of a file it extends (the nearest wins), read without
/// compiling, so the caller can pick the connector's description.
pub fn declared_source(
    root: &str,
    loader: &dyn SourceLoader,
) -> Result<Option<String>, Diagnostics> {
    let mut load = Loader { loader, files: Files::default(), diags: Vec::new() };
    let doc = load.load(root, &mut Vec::new(), None);
    let Some(doc) = doc else { return Err(Diagnostics(load.diags)) };
    match doc.get_node("source") {
        None => Ok(None),
        Some(Node::Scalar(s)) => Ok(Some(s.as_str().to_owned())),
        Some(other) => Err(Diagnostics(vec![Diagnostic {
            location: load.files.loc(other.span()),
            message: format!("source: expected a connector name, found {}", kind(other)),
        }])),
    }
}

impl Compiler<'_> {
    fn err(&mut self, node_span: &marked_yaml::Span, message: impl Into<String>) {
        let location = self.files.loc(node_span);
        self.diags.push(Diagnostic { location, message: message.into() });
    }

    /// Refuses keys not in `allowed`, with a near-miss suggestion.
    fn check_keys(&mut self, map: &MarkedMappingNode, allowed: &[&str], what: &str) -> bool {
        let mut unknown = false;
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = did_you_mean(key.as_str(), allowed.iter().copied());
                let msg = if hint.is_empty() {
                    format!(
                        "{what}: unknown key {:?} (expected one of {})",
                        key.as_str(),
                        allowed.join(", ")
                    )
                } else {
                    format!("{what}: unknown key {:?}{hint}", key.as_str())
                };
                self.err(key.span(), msg);
                unknown = true;
            }
        }
        unknown
    }

    /// Whether a key the author misspelt stands for `key` (already reported
    /// as unknown with a suggestion, so "missing" would only repeat it).
    fn misspelt(map: &MarkedMappingNode, key: &str, allowed: &[&str]) -> bool {
        map.keys().any(|k| {
            !allowed.contains(&k.as_str())
                && suggest(k.as_str(), allowed.iter().copied()) == Some(key)
        })
    }

    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                self.err(
                    other.span(),
                    format!("{what}: expected a mapping, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn scalar<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        expected: &str,
    ) -> Option<&'n MarkedScalarNode> {
        match node {
            Node::Scalar(s) => Some(s),
            other => {
                self.err(
                    other.span(),
                    format!("{what}: expected {expected}, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn document(&mut self, doc: &MarkedMappingNode) -> Option<CompiledMapping> {
        self.check_keys(doc, TOP_KEYS, "mapping");
        if let Some(n) = doc.get_node("source")
            && let Some(s) = self.scalar(n, "source", "a connector name")
            && s.as_str() != self.ctx.source.connector
        {
            let msg = format!(
                "source: the mapping is written for the {:?} connector, but is compiled for {:?}",
                s.as_str(),
                self.ctx.source.connector
            );
            self.err(s.span(), msg);
            return None;
        }
        let tenant_node = self.tenant_settings(doc);

        // Time zone: context, then the tenant's, then the file's, then the source's default.
        let zone_node =
            tenant_node.and_then(|t| t.get_node("timezone")).or_else(|| doc.get_node("timezone"));
        let zone_text = match (&self.ctx.timezone, zone_node) {
            (Some(z), _) => Some((z.clone(), None)),
            (None, Some(n)) => self
                .scalar(n, "timezone", "a time zone name")
                .map(|s| (s.as_str().to_owned(), Some(*s.span()))),
            (None, None) => Some((self.ctx.source.default_timezone.clone(), None)),
        };
        if let Some((z, span)) = zone_text {
            match Tz::from_str(&z) {
                Ok(tz) => self.zone = tz,
                Err(_) => {
                    let hint = did_you_mean(&z, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()));
                    let msg = format!(
                        "timezone: unknown time zone {z:?} (expected an IANA name such as \"Europe/Stockholm\"){hint}"
                    );
                    match span {
                        Some(span) => self.err(&span, msg),
                        None => self.diags.push(Diagnostic {
                            location: Location { file: "context".into(), line: 0, column: 0 },
                            message: msg,
                        }),
                    }
                }
            }
        }

        self.constants(doc.get_node("constants"), "constants");
        if let Some(t) = tenant_node {
            self.constants(
                t.get_node("constants"),
                &format!("tenants.{}.constants", self.ctx.tenant),
            );
        }
        for (k, v) in &self.ctx.constants {
            self.constants.insert(k.clone(), literal_text(v, true));
        }

        let on_error = match doc.get_node("on_error") {
            None => OnError::Fail,
            Some(n) => match self.scalar(n, "on_error", "fail or reject").map(|s| s.as_str()) {
                Some("fail") => OnError::Fail,
                Some("reject") => OnError::Reject,
                Some(other) => {
                    let hint = did_you_mean(other, ["fail", "reject"]);
                    self.err(
                        n.span(),
                        format!(
                            "on_error: unknown policy {other:?} (expected fail or reject){hint}"
                        ),
                    );
                    OnError::Fail
                }
                None => OnError::Fail,
            },
        };

        let Some(tables_node) = doc.get_node("tables") else {
            if !Self::misspelt(doc, "tables", TOP_KEYS) {
                let file = self.files.names.first().cloned().unwrap_or_default();
                self.diags.push(Diagnostic {
                    location: Location { file, line: 1, column: 1 },
                    message:
                        "mapping: missing key \"tables\" (expected the tables this mapping fills)"
                            .into(),
                });
            }
            return None;
        };
        let tables = self.mapping(tables_node, "tables")?;
        for (name, node) in tables.iter() {
            self.table(name, node);
        }
        if !self.diags.is_empty() {
            return None;
        }
        self.finish(on_error)
    }

    fn tenant_settings<'d>(&mut self, doc: &'d MarkedMappingNode) -> Option<&'d MarkedMappingNode> {
        let tenants = self.mapping(doc.get_node("tenants")?, "tenants")?;
        let mut found = None;
        for (name, node) in tenants.iter() {
            let what = format!("tenants.{}", name.as_str());
            if let Some(m) = self.mapping(node, &what) {
                self.check_keys(m, TENANT_KEYS, &what);
                if name.as_str() == self.ctx.tenant {
                    found = Some(m);
                }
            }
        }
        found
    }

    fn constants(&mut self, node: Option<&Node>, what: &str) {
        let Some(node) = node else { return };
        let Some(map) = self.mapping(node, what) else { return };
        for (k, v) in map.iter() {
            let field = format!("{what}.{}", k.as_str());
            if let Some(s) = self.scalar(v, &field, "a scalar value") {
                let value = literal(s);
                self.constants.insert(k.as_str().to_owned(), value);
            }
        }
    }

    fn table(&mut self, name: &MarkedScalarNode, node: &Node) {
        let tname = name.as_str();
        let Some(std_table) = tables::standard_table(tname) else {
            let hint = did_you_mean(tname, STANDARD_TABLES.iter().map(|t| t.name));
            let names: Vec<&str> = STANDARD_TABLES.iter().map(|t| t.name).collect();
            self.err(
                name.span(),
                format!("unknown table {tname:?} (expected one of {}){hint}", names.join(", ")),
            );
            return;
        };
        let what = format!("table {tname}");
        let Some(map) = self.mapping(node, &what) else { return };
        self.check_keys(map, TABLE_KEYS, &what);

        let Some(stream_node) = map.get_node("stream") else {
            if Self::misspelt(map, "stream", TABLE_KEYS) {
                return;
            }
            self.err(
                name.span(),
                format!("{what}: missing key \"stream\" (expected the stream that feeds it)"),
            );
            return;
        };
        let Some(stream) = self.scalar(stream_node, &format!("{what}: stream"), "a stream name")
        else {
            return;
        };
        let Some(root_type) = self.ctx.source.record_type(stream.as_str()).map(str::to_owned)
        else {
            let names = self.ctx.source.stream_names();
            let hint = did_you_mean(stream.as_str(), names.iter().copied());
            self.err(
                stream.span(),
                format!(
                    "{what}: unknown stream {:?} (expected one of {}){hint}",
                    stream.as_str(),
                    names.join(", ")
                ),
            );
            return;
        };
        if !self.schema.has_type(&root_type) {
            self.err(
                stream.span(),
                format!(
                    "{what}: the schema has no type {root_type:?} for stream {:?}",
                    stream.as_str()
                ),
            );
            return;
        }
        let stream_idx = match self.streams.iter().position(|s| s.name == stream.as_str()) {
            Some(i) => i,
            None => {
                let mut sel = Sel::default();
                if self.schema.field(&root_type, "id").is_some() {
                    sel.field("id", false);
                }
                self.streams.push(StreamAcc {
                    name: stream.as_str().to_owned(),
                    sel,
                    tables: Vec::new(),
                });
                self.streams.len() - 1
            }
        };
        let mut scope = Scope { stream: stream_idx, root_type: root_type.clone(), elem: None };

        let mut each_path = None;
        if let Some(each) = map.get_node("each") {
            let field = format!("{what}: each");
            if let Some(s) = self.scalar(each, &field, "a path to a list") {
                if let Some(r) = self.resolve(s.as_str(), s, &scope, &field) {
                    if !r.end_is_list || !self.schema.is_composite(&r.end_type) {
                        self.err(
                            s.span(),
                            format!(
                                "{field}: path {:?} is not a list of objects (it is {})",
                                s.as_str(),
                                r.end_type
                            ),
                        );
                        return;
                    } else {
                        self.select(&scope, &r, |_| {});
                        if self.flush_conflicts(s, &field) {
                            return;
                        }
                        each_path = Some((r.steps.clone(), without_args(s.as_str())));
                        scope.elem = Some((r.end_type.clone(), r.steps.clone()));
                    }
                } else {
                    return;
                }
            } else {
                return;
            }
        }

        let mut mapped: BTreeMap<String, (Typed, String, marked_yaml::Span)> = BTreeMap::new();
        if let Some(node) = map.get_node("columns") {
            if let Some(m) = self.mapping(node, &format!("{what}: columns")) {
                for (col, expr) in m.iter() {
                    let c = col.as_str();
                    let field = format!("column {c} of table {tname}");
                    let Some(col_ty) = std_table.column(c) else {
                        let hint = did_you_mean(c, std_table.columns.iter().map(|(n, _)| *n));
                        self.err(
                            col.span(),
                            format!("{what}: unknown column {c:?}{hint} (declare your own under extra_columns, or put it in custom)"),
                        );
                        continue;
                    };
                    if c == "tenant" {
                        self.err(
                            col.span(),
                            format!(
                                "{field}: tenant is filled from the connection and cannot be mapped"
                            ),
                        );
                        continue;
                    }
                    if c == "custom" && map.get_node("custom").is_some() {
                        self.err(col.span(), format!("{field}: give custom either as a column or as a custom: section, not both"));
                        continue;
                    }
                    let Some(t) = self.expr(expr, &scope, &field) else { continue };
                    let Some(t) = self.assign(t, col_ty, expr, &field) else { continue };
                    mapped.insert(c.to_owned(), (t, field, *expr.span()));
                }
            }
        } else {
            if !Self::misspelt(map, "columns", TABLE_KEYS) {
                self.err(name.span(), format!("{what}: missing key \"columns\""));
            }
        }

        let mut extra: Vec<(String, ColumnType, Typed, String)> = Vec::new();
        if let Some(node) = map.get_node("extra_columns")
            && let Some(m) = self.mapping(node, &format!("{what}: extra_columns"))
        {
            for (col, expr) in m.iter() {
                let c = col.as_str();
                let field = format!("extra column {c} of table {tname}");
                if std_table.column(c).is_some() {
                    self.err(
                        col.span(),
                        format!("{field}: {c:?} is a standard column; map it under columns"),
                    );
                    continue;
                }
                if let Some(problem) = crate::names::name_problem(c) {
                    self.err(col.span(), format!("{field}: {problem}"));
                    continue;
                }
                let declared = match expr {
                    Node::Mapping(em) => em
                        .get_node("type")
                        .and_then(|t| t.as_scalar())
                        .map(|t| t.as_str().to_owned()),
                    _ => None,
                };
                let Some(declared) = declared else {
                    self.err(
                        expr.span(),
                        format!(
                            "{field}: an extra column needs a type (one of {})",
                            TYPE_NAMES.join(", ")
                        ),
                    );
                    continue;
                };
                let Some(ty) = self.expr(expr, &scope, &field) else { continue };
                let col_ty = match declared.as_str() {
                    "money" => ColumnType::Decimal,
                    other => type_by_name(other).unwrap_or(ColumnType::Text),
                };
                extra.push((c.to_owned(), col_ty, ty, field));
            }
        }

        let mut custom: Vec<(String, Expr, String)> = Vec::new();
        if let Some(node) = map.get_node("custom") {
            if !std_table.has_custom() {
                self.err(node.span(), format!("{what}: custom: table {tname} has no custom column; declare extra_columns instead"));
            } else if let Some(m) = self.mapping(node, &format!("{what}: custom")) {
                for (key, expr) in m.iter() {
                    let field = format!("custom field {} of table {tname}", key.as_str());
                    if let Some(t) = self.expr(expr, &scope, &field) {
                        custom.push((
                            key.as_str().to_owned(),
                            t.e,
                            format!("{tname}.custom.{}", key.as_str()),
                        ));
                    }
                }
            }
        }

        for key in std_table.primary_key.iter().skip(1) {
            let written = map.get_mapping("columns").is_some_and(|m| m.get_node(key).is_some());
            if !written && map.get_node("columns").is_some() {
                self.err(name.span(), format!("{what}: primary key column {key} is not mapped"));
            }
        }

        // The row: standard columns in the data model's order, then extras.
        let mut columns = Vec::new();
        let mut cells = Vec::new();
        for (col, col_ty) in std_table.columns {
            let pk = std_table.primary_key.contains(col);
            columns.push(Column::new(*col, *col_ty, !pk));
            let cell = if *col == "tenant" {
                Cell::Tenant
            } else if *col == "custom" && !custom.is_empty() {
                Cell::Custom(std::mem::take(&mut custom))
            } else if let Some((t, _, _)) = mapped.remove(*col) {
                Cell::Expr { expr: t.e, ty: *col_ty, field: format!("{tname}.{col}"), pk }
            } else {
                Cell::Null
            };
            cells.push(cell);
        }
        for (col, col_ty, t, field) in extra {
            let Some(t) = self.assign_unchecked(t, col_ty, &field) else { continue };
            columns.push(Column::new(col.clone(), col_ty, true));
            cells.push(Cell::Expr {
                expr: t.e,
                ty: col_ty,
                field: format!("{tname}.{col}"),
                pk: false,
            });
        }
        let schema = Arc::new(TableSchema {
            name: tname.to_owned(),
            columns,
            primary_key: std_table.primary_key.iter().map(|s| (*s).to_owned()).collect(),
            parent_key: std_table.parent_key.map(|k| k.iter().map(|s| (*s).to_owned()).collect()),
        });
        let each = each_path.map(|(steps, text)| Path {
            text,
            steps,
            from_root: true,
            linked: Vec::new(),
        });
        let base = scope.elem.as_ref().map(|(_, s)| s.clone());
        self.streams[stream_idx].tables.push((TablePlan { schema, each, cells }, base));
    }

    /// Checks that an expression fits a standard column, adding the
    /// conversions that are implicit.
    fn assign(&mut self, t: Typed, col_ty: ColumnType, node: &Node, field: &str) -> Option<Typed> {
        let Some(ty) = t.ty else { return Some(t) };
        if ty == col_ty {
            return Some(t);
        }
        if implicit(ty, col_ty) {
            return Some(Typed { e: Expr::Cast(Box::new(t.e), col_ty), ty: Some(col_ty) });
        }
        let how = if castable(ty, col_ty) {
            format!(
                "; add `type: {}` to convert it at run time",
                col_ty.name().replace("text", "string")
            )
        } else {
            String::new()
        };
        self.err(
            node.span(),
            format!(
                "{field}: type clash: the column is {} but the value is {}{how}",
                type_label(col_ty),
                type_label(ty)
            ),
        );
        None
    }

    fn assign_unchecked(&mut self, t: Typed, col_ty: ColumnType, _field: &str) -> Option<Typed> {
        match t.ty {
            Some(ty) if ty != col_ty => {
                Some(Typed { e: Expr::Cast(Box::new(t.e), col_ty), ty: Some(col_ty) })
            }
            _ => Some(t),
        }
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, node: &Node, scope: &Scope, field: &str) -> Option<Typed> {
        match node {
            Node::Scalar(s) => {
                // A plain number, true, false or null is a literal: no GraphQL
                // name starts with a digit, so nothing else can be meant.
                if s.may_coerce() {
                    let lit = literal(s);
                    if !matches!(lit, Value::Text(_)) {
                        let ty = lit.column_type();
                        return Some(Typed { e: Expr::Lit(lit), ty });
                    }
                }
                self.path_expr(s.as_str(), s, scope, field)
            }
            Node::Sequence(seq) => {
                self.err(
                    seq.span(),
                    format!(
                        "{field}: expected a path or a mapping such as {{path: …}}, found a list"
                    ),
                );
                None
            }
            Node::Mapping(m) => self.expr_map(m, scope, field, &[]),
        }
    }

    fn expr_map(
        &mut self,
        m: &MarkedMappingNode,
        scope: &Scope,
        field: &str,
        extra_allowed: &[&str],
    ) -> Option<Typed> {
        let allowed: Vec<&str> = SOURCE_KEYS
            .iter()
            .chain(MODIFIER_KEYS)
            .chain(HELPER_KEYS)
            .chain(extra_allowed)
            .copied()
            .collect();
        let unknown = self.check_keys(m, &allowed, field);
        let sources: Vec<(&MarkedScalarNode, &Node)> =
            m.iter().filter(|(k, _)| SOURCE_KEYS.contains(&k.as_str())).collect();
        let (key, src) = match sources.as_slice() {
            [one] => *one,
            [] => {
                if unknown {
                    return None;
                }
                self.err(
                    m.span(),
                    format!(
                        "{field}: expected one of {} to say where the value comes from",
                        SOURCE_KEYS.join(", ")
                    ),
                );
                return None;
            }
            [_, second, ..] => {
                let names: Vec<&str> = sources.iter().map(|(k, _)| k.as_str()).collect();
                self.err(
                    second.0.span(),
                    format!(
                        "{field}: give only one of {} (found {})",
                        SOURCE_KEYS.join(", "),
                        names.join(" and ")
                    ),
                );
                return None;
            }
        };
        for (helper, owner) in
            [("of", "attribute"), ("separator", "concat"), ("then", "if"), ("else", "if")]
        {
            if let Some(k) = m.keys().find(|k| k.as_str() == helper)
                && key.as_str() != owner
            {
                self.err(k.span(), format!("{field}: {helper} only goes with {owner}"));
            }
        }
        let mut t = self.source(key.as_str(), src, m, scope, field)?;
        t = self.modifiers(t, m, field)?;
        Some(t)
    }

    fn source(
        &mut self,
        key: &str,
        src: &Node,
        m: &MarkedMappingNode,
        scope: &Scope,
        field: &str,
    ) -> Option<Typed> {
        match key {
            "path" => {
                let s = self.scalar(
                    src,
                    &format!("{field}: path"),
                    "a path such as grandTotal.currency.code",
                )?;
                self.path_expr(s.as_str(), s, scope, field)
            }
            "value" => {
                let s = self.scalar(src, &format!("{field}: value"), "a single value")?;
                let v = literal(s);
                let ty = v.column_type();
                Some(Typed { e: Expr::Lit(v), ty })
            }
            "constant" => {
                let s =
                    self.scalar(src, &format!("{field}: constant"), "the name of a constant")?;
                match self.constants.get(s.as_str()) {
                    Some(v) => Some(Typed { e: Expr::Lit(v.clone()), ty: v.column_type() }),
                    None => {
                        let hint =
                            did_you_mean(s.as_str(), self.constants.keys().map(|k| k.as_str()));
                        self.err(
                            s.span(),
                            format!(
                                "{field}: unknown constant {:?} (define it under constants){hint}",
                                s.as_str()
                            ),
                        );
                        None
                    }
                }
            }
            "attribute" => self.attribute(src, m.get_node("of"), scope, field),
            "coalesce" => {
                let items = self.list(src, scope, field, "coalesce", 1)?;
                let (items, ty) = self.unify(items, src, field, "coalesce")?;
                Some(Typed { e: Expr::Coalesce(items), ty })
            }
            "concat" => {
                let items = self.list(src, scope, field, "concat", 1)?;
                let separator = match m.get_node("separator") {
                    Some(n) => self
                        .scalar(n, &format!("{field}: separator"), "a string")?
                        .as_str()
                        .to_owned(),
                    None => String::new(),
                };
                for (t, n) in items.iter().zip(seq_items(src)) {
                    if t.ty == Some(ColumnType::Json) {
                        self.err(
                            n.span(),
                            format!("{field}: concat: a json value cannot be joined into text"),
                        );
                    }
                }
                Some(Typed {
                    e: Expr::Concat { parts: items.into_iter().map(|t| t.e).collect(), separator },
                    ty: Some(ColumnType::Text),
                })
            }
            "format" => {
                let s = self.scalar(
                    src,
                    &format!("{field}: format"),
                    "a template such as \"{number}-{market.name}\"",
                )?;
                let parts = self.template(s, scope, field)?;
                Some(Typed { e: Expr::Format(parts), ty: Some(ColumnType::Text) })
            }
            "add" | "sub" | "mul" | "div" => {
                let items = self.list(src, scope, field, key, 2)?;
                let mut all_int = key != "div";
                for (t, n) in items.iter().zip(seq_items(src)) {
                    match t.ty {
                        None | Some(ColumnType::Int) => {}
                        Some(ColumnType::Decimal) => all_int = false,
                        Some(other) => {
                            self.err(n.span(), format!("{field}: {key}: expected a number, found {}; add `type: decimal` to convert it", type_label(other)));
                            return None;
                        }
                    }
                }
                let op = match key {
                    "add" => ArithOp::Add,
                    "sub" => ArithOp::Sub,
                    "mul" => ArithOp::Mul,
                    _ => ArithOp::Div,
                };
                let ty = if all_int { ColumnType::Int } else { ColumnType::Decimal };
                Some(Typed {
                    e: Expr::Arith {
                        op,
                        args: items.into_iter().map(|t| t.e).collect(),
                        int: all_int,
                    },
                    ty: Some(ty),
                })
            }
            "if" => {
                let cond = self.cond(src, scope, field)?;
                let Some(then_node) = m.get_node("then") else {
                    self.err(m.span(), format!("{field}: if needs then (and may have else)"));
                    return None;
                };
                let then = self.expr(then_node, scope, field)?;
                let otherwise = match m.get_node("else") {
                    Some(n) => self.expr(n, scope, field)?,
                    None => Typed { e: Expr::Lit(Value::Null), ty: None },
                };
                let (mut both, ty) = self.unify(
                    vec![then, otherwise],
                    m.get_node("then").unwrap_or(src),
                    field,
                    "if",
                )?;
                let otherwise = both.pop().unwrap_or(Expr::Lit(Value::Null));
                let then = both.pop().unwrap_or(Expr::Lit(Value::Null));
                Some(Typed {
                    e: Expr::If {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                    ty,
                })
            }
            _ => None,
        }
    }

    fn list(
        &mut self,
        src: &Node,
        scope: &Scope,
        field: &str,
        key: &str,
        min: usize,
    ) -> Option<Vec<Typed>> {
        let Node::Sequence(seq) = src else {
            self.err(
                src.span(),
                format!("{field}: {key}: expected a list of values, found {}", kind(src)),
            );
            return None;
        };
        if seq.len() < min {
            self.err(
                seq.span(),
                format!("{field}: {key}: expected at least {min} values, found {}", seq.len()),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for item in seq.iter() {
            match self.expr(item, scope, field) {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Gives alternatives one type: equal types, or integers widened to decimal.
    fn unify(
        &mut self,
        items: Vec<Typed>,
        at: &Node,
        field: &str,
        what: &str,
    ) -> Option<(Vec<Expr>, Option<ColumnType>)> {
        let mut ty: Option<ColumnType> = None;
        for t in &items {
            match (ty, t.ty) {
                (_, None) => {}
                (None, Some(x)) => ty = Some(x),
                (Some(a), Some(b)) if a == b => {}
                (Some(ColumnType::Int), Some(ColumnType::Decimal))
                | (Some(ColumnType::Decimal), Some(ColumnType::Int)) => {
                    ty = Some(ColumnType::Decimal)
                }
                (Some(a), Some(b)) => {
                    self.err(
                        at.span(),
                        format!(
                            "{field}: {what} mixes {} and {}; convert one with `type:`",
                            type_label(a),
                            type_label(b)
                        ),
                    );
                    return None;
                }
            }
        }
        let exprs = items
            .into_iter()
            .map(|t| match (t.ty, ty) {
                (Some(a), Some(b)) if a != b => Expr::Cast(Box::new(t.e), b),
                _ => t.e,
            })
            .collect();
        Some((exprs, ty))
    }

    fn cond(&mut self, node: &Node, scope: &Scope, field: &str) -> Option<Cond> {
        match node {
            Node::Mapping(m) => {
                let tests: Vec<(&MarkedScalarNode, &Node)> =
                    m.iter().filter(|(k, _)| TEST_KEYS.contains(&k.as_str())).collect();
                let test = match tests.as_slice() {
                    [] => Test::Truthy,
                    [(k, v)] => self.test(k.as_str(), v, field)?,
                    [_, (k, _), ..] => {
                        self.err(
                            k.span(),
                            format!("{field}: if: give only one of {}", TEST_KEYS.join(", ")),
                        );
                        return None;
                    }
                };
                let t = self.expr_map(m, scope, field, TEST_KEYS)?;
                Some(Cond { expr: t.e, test })
            }
            other => {
                let t = self.expr(other, scope, field)?;
                Some(Cond { expr: t.e, test: Test::Truthy })
            }
        }
    }

    fn test(&mut self, key: &str, v: &Node, field: &str) -> Option<Test> {
        let lits = |c: &mut Self, n: &Node| -> Option<Vec<Value>> {
            match n {
                Node::Scalar(s) => Some(vec![literal(s)]),
                Node::Sequence(seq) => {
                    let mut out = Vec::new();
                    for item in seq.iter() {
                        out.push(literal(c.scalar(item, &format!("{field}: {key}"), "a value")?));
                    }
                    Some(out)
                }
                Node::Mapping(m) => {
                    c.err(
                        m.span(),
                        format!(
                            "{field}: {key}: expected a value or a list of values, found a mapping"
                        ),
                    );
                    None
                }
            }
        };
        Some(match key {
            "equals" | "in" => Test::In(lits(self, v)?),
            "not_equals" | "not_in" => Test::NotIn(lits(self, v)?),
            "is_null" => {
                match self.scalar(v, &format!("{field}: is_null"), "true or false")?.as_str() {
                    "true" => Test::IsNull(true),
                    "false" => Test::IsNull(false),
                    _ => {
                        self.err(v.span(), format!("{field}: is_null: expected true or false"));
                        return None;
                    }
                }
            }
            "greater_than" => {
                Test::Greater(literal(self.scalar(v, &format!("{field}: {key}"), "a value")?))
            }
            _ => Test::Less(literal(self.scalar(v, &format!("{field}: {key}"), "a value")?)),
        })
    }

    fn template(
        &mut self,
        s: &MarkedScalarNode,
        scope: &Scope,
        field: &str,
    ) -> Option<Vec<FmtPart>> {
        let text = s.as_str();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((_, ch)) = chars.next() {
            match ch {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed || name.trim().is_empty() {
                        self.err(s.span(), format!("{field}: format: unclosed or empty {{…}} in {text:?} (write {{{{ for a literal brace)"));
                        return None;
                    }
                    if !lit.is_empty() {
                        parts.push(FmtPart::Text(std::mem::take(&mut lit)));
                    }
                    let t = self.path_expr(name.trim(), s, scope, field)?;
                    if t.ty == Some(ColumnType::Json) {
                        self.err(
                            s.span(),
                            format!(
                                "{field}: format: {{{}}} is an object; name one of its fields",
                                name.trim()
                            ),
                        );
                        return None;
                    }
                    parts.push(FmtPart::Expr(t.e));
                }
                '}' => {
                    self.err(s.span(), format!("{field}: format: unmatched }} in {text:?} (write }}}} for a literal brace)"));
                    return None;
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(FmtPart::Text(lit));
        }
        Some(parts)
    }

    fn modifiers(&mut self, mut t: Typed, m: &MarkedMappingNode, field: &str) -> Option<Typed> {
        let need_text = |c: &mut Self, t: &Typed, key: &str, node: &Node| -> bool {
            match t.ty {
                None | Some(ColumnType::Text) => true,
                Some(other) => {
                    c.err(
                        node.span(),
                        format!(
                            "{field}: {key} needs a string, the value is {}",
                            type_label(other)
                        ),
                    );
                    false
                }
            }
        };
        if let Some(n) = m.get_node("trim") {
            let s = self.scalar(n, &format!("{field}: trim"), "true or false")?;
            match s.as_str() {
                "true" => {
                    if !need_text(self, &t, "trim", n) {
                        return None;
                    }
                    t = Typed { e: Expr::Trim(Box::new(t.e)), ty: t.ty };
                }
                "false" => {}
                _ => {
                    self.err(n.span(), format!("{field}: trim: expected true or false"));
                    return None;
                }
            }
        }
        if let Some(n) = m.get_node("case") {
            let s = self.scalar(n, &format!("{field}: case"), "lower or upper")?;
            let case = match s.as_str() {
                "lower" => Case::Lower,
                "upper" => Case::Upper,
                other => {
                    let hint = did_you_mean(other, ["lower", "upper"]);
                    self.err(
                        n.span(),
                        format!("{field}: case: expected lower or upper, found {other:?}{hint}"),
                    );
                    return None;
                }
            };
            if !need_text(self, &t, "case", n) {
                return None;
            }
            t = Typed { e: Expr::Case(Box::new(t.e), case), ty: t.ty };
        }
        let unmapped_node = m.get_node("unmapped");
        if let Some(n) = m.get_node("map") {
            let map = self.mapping(n, &format!("{field}: map"))?;
            if t.ty == Some(ColumnType::Json) {
                self.err(n.span(), format!("{field}: map needs a single value, the value is json"));
                return None;
            }
            let mut entries = Vec::new();
            let mut out_ty: Option<ColumnType> = None;
            for (k, v) in map.iter() {
                let Some(vs) =
                    self.scalar(v, &format!("{field}: map.{}", k.as_str()), "a single value")
                else {
                    continue;
                };
                let value = literal(vs);
                match (out_ty, value.column_type()) {
                    (_, None) => {}
                    (None, Some(x)) => out_ty = Some(x),
                    (Some(a), Some(b)) if a == b => {}
                    (Some(a), Some(b)) => {
                        self.err(
                            v.span(),
                            format!(
                                "{field}: map mixes {} and {} values; quote numbers meant as text",
                                type_label(a),
                                type_label(b)
                            ),
                        );
                        return None;
                    }
                }
                entries.push((k.as_str().to_owned(), value));
            }
            let unmapped = match unmapped_node {
                None => Unmapped::Error,
                Some(u) => match self
                    .scalar(u, &format!("{field}: unmapped"), "error, keep or null")?
                    .as_str()
                {
                    "error" => Unmapped::Error,
                    "null" => Unmapped::Null,
                    "keep" => {
                        if out_ty.is_some() && t.ty.is_some() && out_ty != t.ty {
                            self.err(u.span(), format!("{field}: unmapped: keep needs map values of the source's type ({}), found {}", type_label_opt(t.ty), type_label_opt(out_ty)));
                            return None;
                        }
                        out_ty = out_ty.or(t.ty);
                        Unmapped::Keep
                    }
                    other => {
                        let hint = did_you_mean(other, ["error", "keep", "null"]);
                        self.err(u.span(), format!("{field}: unmapped: expected error, keep or null, found {other:?}{hint}"));
                        return None;
                    }
                },
            };
            t = Typed { e: Expr::Map { inner: Box::new(t.e), entries, unmapped }, ty: out_ty };
        } else if let Some(u) = unmapped_node {
            self.err(u.span(), format!("{field}: unmapped only goes with map"));
        }
        if let Some(n) = m.get_node("type") {
            let s = self.scalar(n, &format!("{field}: type"), "a type name")?;
            t = self.convert(t, s, field)?;
        }
        if let Some(n) = m.get_node("round") {
            let s = self.scalar(n, &format!("{field}: round"), "a number of decimals")?;
            let Some(dp) = s.as_str().parse::<u32>().ok().filter(|d| *d <= 28) else {
                self.err(
                    n.span(),
                    format!(
                        "{field}: round: expected a number of decimals from 0 to 28, found {:?}",
                        s.as_str()
                    ),
                );
                return None;
            };
            if !matches!(t.ty, None | Some(ColumnType::Decimal)) {
                self.err(
                    n.span(),
                    format!(
                        "{field}: round needs a decimal, the value is {}",
                        type_label_opt(t.ty)
                    ),
                );
                return None;
            }
            t = Typed { e: Expr::Round(Box::new(t.e), dp), ty: t.ty };
        }
        if let Some(n) = m.get_node("default") {
            let s = self.scalar(n, &format!("{field}: default"), "a single value")?;
            let mut value = literal(s);
            if let Some(ty) = t.ty {
                match plan::cast(value.clone(), ty, self.zone) {
                    Ok(v) => value = v,
                    Err(_) => {
                        self.err(
                            n.span(),
                            format!(
                                "{field}: default: {:?} is not {}",
                                s.as_str(),
                                with_article(type_label(ty))
                            ),
                        );
                        return None;
                    }
                }
            }
            let ty = t.ty.or(value.column_type());
            t = Typed { e: Expr::Default(Box::new(t.e), value), ty };
        }
        Some(t)
    }

    /// `type:`: converts the value, checking that the conversion can work.
    fn convert(&mut self, t: Typed, s: &MarkedScalarNode, field: &str) -> Option<Typed> {
        let name = s.as_str();
        if name == "money" {
            return match &t.e {
                Expr::Path { conv: Conv::Money(_), .. } => Some(t),
                _ => {
                    let shapes = self.money_shapes_text();
                    self.err(s.span(), format!("{field}: type money needs a path to a money object ({shapes}), the value is {}", type_label_opt(t.ty)));
                    None
                }
            };
        }
        let Some(to) = type_by_name(name) else {
            let hint = did_you_mean(name, TYPE_NAMES.iter().copied());
            self.err(
                s.span(),
                format!(
                    "{field}: unknown type {name:?} (expected one of {}){hint}",
                    TYPE_NAMES.join(", ")
                ),
            );
            return None;
        };
        let Some(from) = t.ty else {
            return Some(Typed { e: t.e, ty: Some(to) });
        };
        if from == to {
            return Some(t);
        }
        if !castable(from, to) {
            self.err(
                s.span(),
                format!(
                    "{field}: type clash: cannot convert {} to {}",
                    type_label(from),
                    type_label(to)
                ),
            );
            return None;
        }
        // A date-time read straight from the record becomes its local date,
        // as written, not the date of the UTC instant.
        if let Expr::Path { path, conv: Conv::Timestamp } = &t.e
            && to == ColumnType::Date
        {
            return Some(Typed {
                e: Expr::Path { path: path.clone(), conv: Conv::Date },
                ty: Some(to),
            });
        }
        Some(Typed { e: Expr::Cast(Box::new(t.e), to), ty: Some(to) })
    }

    fn attribute(
        &mut self,
        src: &Node,
        of: Option<&Node>,
        scope: &Scope,
        field: &str,
    ) -> Option<Typed> {
        let s = self.scalar(src, &format!("{field}: attribute"), "group.key")?;
        let Some(shape) = self.ctx.source.attributes.clone() else {
            self.err(
                s.span(),
                format!(
                    "{field}: attribute: the {} connector has no custom attributes; read custom fields with a path",
                    self.ctx.source.connector
                ),
            );
            return None;
        };
        let Some((group, key)) =
            s.as_str().split_once('.').filter(|(a, b)| !a.is_empty() && !b.is_empty())
        else {
            self.err(
                s.span(),
                format!(
                    "{field}: attribute: expected group.key (e.g. {}), found {:?}",
                    shape.example,
                    s.as_str()
                ),
            );
            return None;
        };
        let (of_text, of_node) = match of {
            Some(n) => {
                let os =
                    self.scalar(n, &format!("{field}: of"), "a path to an object with attributes")?;
                (os.as_str().to_owned(), os)
            }
            None => (String::new(), s),
        };
        let r = if of_text.is_empty() {
            let (ty, steps) = match &scope.elem {
                Some((ty, _)) => (ty.clone(), Vec::new()),
                None => (scope.root_type.clone(), Vec::new()),
            };
            Resolved {
                steps,
                composite: Vec::new(),
                end_type: ty,
                end_is_list: false,
                typename: false,
                from_root: false,
            }
        } else {
            self.resolve(&of_text, of_node, scope, field)?
        };
        let list = (!r.end_is_list).then(|| self.schema.field(&r.end_type, &shape.field)).flatten();
        let Some(list) = list.filter(|l| l.is_list && self.schema.is_composite(&l.type_name))
        else {
            let with: Vec<String> = self
                .schema
                .possible_types(&r.end_type)
                .into_iter()
                .filter(|t| self.schema.field(t, &shape.field).is_some())
                .collect();
            let hint = match with.first() {
                Some(t) if of_text.is_empty() => format!("; {t} has them: add `of: {t}`"),
                Some(t) => format!("; {t} has them: write `of: {of_text}.{t}`"),
                None => String::new(),
            };
            let at = if of_text.is_empty() { s } else { of_node };
            self.err(
                at.span(),
                format!("{field}: attribute: type {} has no {}{hint}", r.end_type, shape.field),
            );
            return None;
        };
        // Check the shape against the schema: the group name, the entries,
        // their key and the value fields.
        let mut problem = None;
        let mut ty = list.type_name.clone();
        for (i, f) in shape.group_name.iter().enumerate() {
            match self.schema.field(&ty, f) {
                Some(info)
                    if !info.is_list
                        && self.schema.is_composite(&info.type_name)
                            == (i + 1 < shape.group_name.len()) =>
                {
                    ty = info.type_name;
                }
                _ => {
                    problem =
                        Some(format!("{} has no {}", list.type_name, shape.group_name.join(".")))
                }
            }
            if problem.is_some() {
                break;
            }
        }
        let entry_type = match &shape.entries {
            Some(e) => match self.schema.field(&list.type_name, e) {
                Some(info) if info.is_list && self.schema.is_composite(&info.type_name) => {
                    info.type_name
                }
                _ => {
                    problem.get_or_insert(format!("{} has no list {e}", list.type_name));
                    String::new()
                }
            },
            None => list.type_name.clone(),
        };
        let mut value_types = Vec::new();
        if problem.is_none() {
            if self.schema.field(&entry_type, &shape.entry_key).is_none() {
                problem = Some(format!("{entry_type} has no {}", shape.entry_key));
            }
            for t in self.schema.possible_types(&entry_type) {
                for f in &shape.entry_values {
                    if self
                        .schema
                        .field(&t, f)
                        .is_some_and(|i| !self.schema.is_composite(&i.type_name))
                    {
                        // A fragment only where the entry type is abstract.
                        value_types.push(((t != entry_type).then(|| t.clone()), f.clone()));
                    }
                }
            }
        }
        if let Some(p) = problem {
            self.err(
                s.span(),
                format!("{field}: attribute: the schema does not have the {} connector's custom attributes: {p}", self.ctx.source.connector),
            );
            return None;
        }
        self.select(scope, &r, |sel| {
            let Some(items) = sel.field(&shape.field, true) else { return };
            let mut at = Some(&mut *items);
            let last = shape.group_name.len().saturating_sub(1);
            for (i, f) in shape.group_name.iter().enumerate() {
                at = at.and_then(|s| s.field(f, i < last));
            }
            let entries = match &shape.entries {
                Some(e) => items.field(e, true),
                None => Some(items),
            };
            if let Some(els) = entries {
                els.field(&shape.entry_key, false);
                for (t, f) in &value_types {
                    match t {
                        Some(t) => els.frag(t).field(f, false),
                        None => els.field(f, false),
                    };
                }
            }
        });
        if self.flush_conflicts(if of_text.is_empty() { s } else { of_node }, field) {
            return None;
        }
        let of = Path { text: of_text, steps: r.steps, from_root: r.from_root, linked: Vec::new() };
        Some(Typed {
            e: Expr::Attribute {
                of,
                attr: Box::new(Attr {
                    shape,
                    group: group.to_owned(),
                    key: key.to_owned(),
                    slots: AttrSlots::default(),
                }),
            },
            ty: Some(ColumnType::Text),
        })
    }

    /// The connector's money shapes, for error messages.
    fn money_shapes_text(&self) -> String {
        let shapes: Vec<String> = self
            .ctx
            .source
            .money
            .iter()
            .map(|m| format!("an object with {} and {}", m.amount, m.currency.join(".")))
            .collect();
        if shapes.is_empty() {
            format!("the {} connector has none", self.ctx.source.connector)
        } else {
            shapes.join(", or ")
        }
    }

    fn path_expr(
        &mut self,
        text: &str,
        at: &MarkedScalarNode,
        scope: &Scope,
        field: &str,
    ) -> Option<Typed> {
        let r = self.resolve(text, at, scope, field)?;
        let (conv, ty) = if r.typename {
            self.select(scope, &r, |_| {});
            (Conv::Text, ColumnType::Text)
        } else if r.end_is_list || self.schema.is_composite(&r.end_type) {
            let money = if r.end_is_list { None } else { self.money_shape(&r.end_type) };
            if let Some(shape) = money {
                if !self.currency_resolves(&r.end_type, &shape.currency) {
                    self.err(
                        at.span(),
                        format!(
                            "{field}: {} has no {} (the currency code of a money value)",
                            r.end_type,
                            shape.currency.join(".")
                        ),
                    );
                    return None;
                }
                self.select(scope, &r, |sel| {
                    sel.field(&shape.amount, false);
                    let mut at = Some(sel);
                    let last = shape.currency.len() - 1;
                    for (i, f) in shape.currency.iter().enumerate() {
                        at = at.and_then(|s| s.field(f, i < last));
                    }
                });
                let conv = MoneyConv { shape, amount: 0, currency: Vec::new() };
                (Conv::Money(Box::new(conv)), ColumnType::Decimal)
            } else if self.schema.is_composite(&r.end_type) {
                let fields = self.schema.scalar_fields(&r.end_type);
                self.select(scope, &r, |sel| {
                    for f in &fields {
                        sel.field(f, false);
                    }
                    if fields.is_empty() {
                        sel.field("__typename", false);
                    }
                });
                (Conv::Json(None), ColumnType::Json)
            } else {
                self.select(scope, &r, |_| {});
                (Conv::Json(None), ColumnType::Json)
            }
        } else {
            self.select(scope, &r, |_| {});
            let custom = self.ctx.source.scalars.iter().find(|s| s.name == r.end_type);
            let custom = custom.map(|s| s.column_type).or(self.schema.scalar_type(&r.end_type));
            match custom {
                Some(ColumnType::Text) => (Conv::Text, ColumnType::Text),
                Some(ColumnType::Int) => (Conv::Int, ColumnType::Int),
                Some(ColumnType::Decimal) => (Conv::Decimal, ColumnType::Decimal),
                Some(ColumnType::Bool) => (Conv::Bool, ColumnType::Bool),
                Some(ColumnType::Timestamp) => (Conv::Timestamp, ColumnType::Timestamp),
                Some(ColumnType::Date) => (Conv::Date, ColumnType::Date),
                Some(ColumnType::Json) => (Conv::Json(None), ColumnType::Json),
                None => match self.schema.scalar_kind(&r.end_type) {
                    ScalarKind::String | ScalarKind::Id | ScalarKind::Enum | ScalarKind::Other => {
                        (Conv::Text, ColumnType::Text)
                    }
                    ScalarKind::Int => (Conv::Int, ColumnType::Int),
                    ScalarKind::Float => (Conv::Decimal, ColumnType::Decimal),
                    ScalarKind::Boolean => (Conv::Bool, ColumnType::Bool),
                },
            }
        };
        if self.flush_conflicts(at, field) {
            return None;
        }
        let path = Path {
            text: text.to_owned(),
            steps: r.steps,
            from_root: r.from_root,
            linked: Vec::new(),
        };
        Some(Typed { e: Expr::Path { path, conv }, ty: Some(ty) })
    }

    /// Reports fields the last path selected with other arguments than before.
    fn flush_conflicts(&mut self, at: &MarkedScalarNode, field: &str) -> bool {
        let conflicts = std::mem::take(&mut self.conflicts);
        for c in &conflicts {
            self.err(at.span(), format!("{field}: {c}"));
        }
        !conflicts.is_empty()
    }

    /// The connector's money shape that `ty` has, if any: a composite type
    /// with the shape's amount field and the first field of its currency.
    fn money_shape(&self, ty: &str) -> Option<MoneyShape> {
        self.ctx
            .source
            .money
            .iter()
            .find(|m| {
                !m.currency.is_empty()
                    && self.schema.field(ty, &m.amount).is_some()
                    && self.schema.field(ty, &m.currency[0]).is_some()
            })
            .cloned()
    }

    /// Whether the path `currency` leads from `ty` to a scalar.
    fn currency_resolves(&self, ty: &str, currency: &[String]) -> bool {
        let mut cur = ty.to_owned();
        for (i, f) in currency.iter().enumerate() {
            let Some(info) = self.schema.field(&cur, f) else { return false };
            if info.is_list || self.schema.is_composite(&info.type_name) != (i + 1 < currency.len())
            {
                return false;
            }
            cur = info.type_name;
        }
        true
    }

    /// Resolves a path against the schema from the scope's start type.
    fn resolve(
        &mut self,
        text: &str,
        at: &MarkedScalarNode,
        scope: &Scope,
        field: &str,
    ) -> Option<Resolved> {
        let (from_root, rest) = match text.strip_prefix("$.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut cur = match (&scope.elem, from_root) {
            (Some((elem, _)), false) => elem.clone(),
            _ => scope.root_type.clone(),
        };
        let bad = |c: &mut Self, msg: String| {
            c.err(at.span(), format!("{field}: path {text:?}: {msg}"));
            None
        };
        if rest.trim().is_empty() {
            return bad(self, "expected a field name".into());
        }
        let mut r = Resolved {
            steps: Vec::new(),
            composite: Vec::new(),
            end_type: String::new(),
            end_is_list: false,
            typename: false,
            from_root,
        };
        let mut in_list: Option<String> = None;
        let segs = split_path(rest);
        for (i, seg) in segs.iter().enumerate() {
            let (seg_name, args) = match seg.split_once('(') {
                Some((n, rest)) => match rest.rsplit_once(')') {
                    Some((a, tail)) => (format!("{n}{tail}"), Some(a.to_owned())),
                    None => return bad(self, format!("unclosed ( in {seg:?}")),
                },
                None => ((*seg).to_owned(), None),
            };
            let (name, index) = match seg_name.split_once('[') {
                Some((n, idx)) => {
                    let Some(num) =
                        idx.strip_suffix(']').and_then(|s| s.trim().parse::<i64>().ok())
                    else {
                        return bad(
                            self,
                            format!(
                                "bad list index in {seg:?} (expected e.g. lines[0] or lines[-1])"
                            ),
                        );
                    };
                    (n, Some(num))
                }
                None => (seg_name.as_str(), None),
            };
            if args.is_some() && self.schema.field(&cur, name).is_none() {
                return bad(self, format!("{name:?} takes no arguments here"));
            }
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return bad(self, format!("{seg:?} is not a field name"));
            }
            if let Some(list) = &in_list {
                return bad(
                    self,
                    format!(
                        "{list} is a list; pick one element ({list}[0]) or map its elements in a child table with `each: {list}`"
                    ),
                );
            }
            if !self.schema.is_composite(&cur) {
                return bad(
                    self,
                    format!(
                        "{} is of type {cur}, not an object; it has no field {name:?}",
                        segs[..i].join(".")
                    ),
                );
            }
            if name == "__typename" {
                if index.is_some() || i + 1 != segs.len() {
                    return bad(self, "__typename must end the path".into());
                }
                r.steps.push(Step::Field(name.to_owned()));
                r.composite.push(false);
                r.typename = true;
                r.end_type = "String".into();
                return Some(r);
            }
            if let Some(f) = self.schema.field(&cur, name) {
                let given = match &args {
                    Some(a) => match self.arguments(&cur, name, a) {
                        Ok(list) => list,
                        Err(msg) => return bad(self, msg),
                    },
                    None => Vec::new(),
                };
                if let Some(arg) =
                    f.required_args.iter().find(|a| !given.iter().any(|(g, _)| g == *a))
                {
                    return bad(
                        self,
                        format!("field {name} needs argument {arg}: write {name}({arg}: …)"),
                    );
                }
                let key = if given.is_empty() {
                    name.to_owned()
                } else {
                    let list: Vec<String> =
                        given.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{name}({})", list.join(", "))
                };
                r.steps.push(Step::Field(key));
                r.composite.push(self.schema.is_composite(&f.type_name));
                cur = f.type_name.clone();
                if f.is_list {
                    match index {
                        Some(n) => {
                            r.steps.push(Step::Index(n));
                            r.composite.push(false);
                        }
                        None => in_list = Some(segs[..=i].join(".")),
                    }
                } else if index.is_some() {
                    return bad(self, format!("{name} is not a list; it takes no [index]"));
                }
            } else if self.schema.has_type(name)
                && name != cur
                && self.schema.can_narrow(&cur, name)
                && self.schema.is_composite(name)
            {
                if index.is_some() {
                    return bad(self, format!("{name} is a type; it takes no [index]"));
                }
                let concrete: Vec<String> = self
                    .schema
                    .possible_types(name)
                    .into_iter()
                    .filter(|t| self.schema.possible_types(&cur).contains(t))
                    .collect();
                r.steps.push(Step::TypeIs { name: name.to_owned(), concrete });
                r.composite.push(false);
                cur = name.to_owned();
            } else if name == cur {
                // naming the type a path is already at is allowed and changes nothing
            } else {
                let implementers: Vec<String> = self
                    .schema
                    .possible_types(&cur)
                    .into_iter()
                    .filter(|t| self.schema.field(t, name).is_some())
                    .collect();
                let prefix = segs[..i].join(".");
                let dotted = if prefix.is_empty() { String::new() } else { format!("{prefix}.") };
                let msg = if let Some(t) = implementers.first() {
                    format!(
                        "field {name:?} is not on every {cur}; it is on {}: write \"{dotted}{t}.{}\"",
                        implementers.join(", "),
                        segs[i..].join(".")
                    )
                } else {
                    let names = self.schema.field_names(&cur);
                    let hint = did_you_mean(name, names.iter().map(|s| s.as_str()));
                    format!("type {cur} has no field {name:?}{hint}")
                };
                return bad(self, msg);
            }
        }
        r.end_type = cur;
        r.end_is_list = in_list.is_some();
        Some(r)
    }

    /// Checks `a: v, b: w` against the field's arguments in the schema.
    fn arguments(
        &self,
        ty: &str,
        field: &str,
        text: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let known = self.schema.arguments(ty, field);
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once(':').map(|(k, v)| (k.trim(), v.trim())) else {
                return Err(format!("argument {part:?} of {field}: expected name: value"));
            };
            let Some((_, arg_ty)) = known.iter().find(|(n, _)| n == k) else {
                let hint = did_you_mean(k, known.iter().map(|(n, _)| n.as_str()));
                return Err(format!("field {field} has no argument {k:?}{hint}"));
            };
            let ok = match arg_ty.as_str() {
                "Boolean" => matches!(v, "true" | "false"),
                "Int" | "Int64" => v.parse::<i64>().is_ok(),
                "Float" => v.parse::<f64>().is_ok(),
                "String" | "ID" | "DateTimeTz" => {
                    v.len() >= 2 && v.starts_with('"') && v.ends_with('"')
                }
                other => self.schema.enum_values(other).iter().any(|e| e == v),
            };
            if !ok {
                return Err(format!("argument {k} of {field}: {v:?} is not a {arg_ty}"));
            }
            out.push((k.to_owned(), v.to_owned()));
        }
        Ok(out)
    }

    /// Adds a resolved path to its stream's selection; `end` fills the
    /// sub-selection of an object the path ends at.
    fn select(&mut self, scope: &Scope, r: &Resolved, end: impl FnOnce(&mut Sel)) {
        let base: Vec<Step> = match (&scope.elem, r.from_root) {
            (Some((_, steps)), false) => steps.clone(),
            _ => Vec::new(),
        };
        // The each-path's steps lead to a list of objects.
        let base_composite: Vec<bool> = base.iter().map(|s| matches!(s, Step::Field(_))).collect();
        let steps: Vec<(&Step, bool)> = base
            .iter()
            .zip(base_composite)
            .chain(r.steps.iter().zip(r.composite.iter().copied()))
            .collect();
        let mut sel = &mut self.streams[scope.stream].sel;
        for (step, composite) in steps {
            match step {
                Step::Field(name) => {
                    let base = response_key(name);
                    if let Some((other, _)) =
                        sel.fields.iter().find(|(f, _)| f != name && response_key(f) == base)
                    {
                        let msg = format!("{base} is read both as {other} and as {name}; use one");
                        self.conflicts.push(msg);
                        return;
                    }
                    match sel.field(name, composite) {
                        Some(child) => sel = child,
                        None => return,
                    }
                }
                Step::TypeIs { name, .. } => {
                    sel.field("__typename", false);
                    sel = sel.frag(name);
                }
                Step::Index(_) => {}
            }
        }
        end(sel);
    }

    // ----------------------------------------------------------------- linking

    fn finish(&mut self, on_error: OnError) -> Option<CompiledMapping> {
        let mut streams = BTreeMap::new();
        let mut all_tables = Vec::new();
        let accs = std::mem::take(&mut self.streams);
        for acc in accs {
            let layout = acc.sel.layout();
            let mut selection = String::new();
            acc.sel.print(&mut selection, 0);
            let mut plans = Vec::new();
            for (mut plan, base) in acc.tables {
                let base = base.unwrap_or_default();
                if let Some(each) = plan.each.as_mut()
                    && let Err(e) = link_path(&layout, &[], each)
                {
                    self.internal(&e);
                }
                for cell in plan.cells.iter_mut() {
                    let res = match cell {
                        Cell::Expr { expr, .. } => link_expr(expr, &layout, &base),
                        Cell::Custom(entries) => entries
                            .iter_mut()
                            .try_for_each(|(_, e, _)| link_expr(e, &layout, &base)),
                        Cell::Tenant | Cell::Null => Ok(()),
                    };
                    if let Err(e) = res {
                        self.internal(&e);
                    }
                }
                all_tables.push(Arc::clone(&plan.schema));
                plans.push(plan);
            }
            let id_slot = layout.slot("id");
            let rejects =
                (on_error == OnError::Reject).then(|| Arc::new(table_schema(&REJECTS_TABLE)));
            let mapper = StreamMapper::new(
                acc.name.clone(),
                self.ctx.tenant.clone(),
                plans,
                layout,
                id_slot,
                self.zone,
                selection,
                on_error,
                rejects.clone(),
            );
            if let Some(r) = rejects
                && !all_tables.iter().any(|t| t.name == r.name)
            {
                all_tables.push(r);
            }
            streams.insert(acc.name, Arc::new(mapper));
        }
        if !self.diags.is_empty() {
            return None;
        }
        Some(CompiledMapping { streams, tables: all_tables })
    }

    fn internal(&mut self, e: &str) {
        self.diags.push(Diagnostic {
            location: Location {
                file: self.files.names.first().cloned().unwrap_or_default(),
                line: 0,
                column: 0,
            },
            message: format!("internal error linking the plan: {e}"),
        });
    }
}

pub(crate) fn table_schema(t: &tables::StandardTable) -> TableSchema {
    TableSchema {
        name: t.name.to_owned(),
        columns: t
            .columns
            .iter()
            .map(|(n, ty)| Column::new(*n, *ty, !t.primary_key.contains(n)))
            .collect(),
        primary_key: t.primary_key.iter().map(|s| (*s).to_owned()).collect(),
        parent_key: t.parent_key.map(|k| k.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// Walks a layout along name steps, producing slot steps.
fn link_steps<'l>(
    layout: &'l Arc<Layout>,
    steps: &[Step],
    out: &mut Vec<RStep>,
) -> Result<Option<&'l Arc<Layout>>, String> {
    let mut cur = Some(layout);
    for step in steps {
        let Some(l) = cur else { return Err(format!("step {step:?} below a leaf")) };
        match step {
            Step::Field(name) => {
                let slot = l
                    .slot(response_key(name))
                    .ok_or_else(|| format!("field {name} not selected"))?;
                out.push(RStep::Slot(slot));
                cur = l.kids[slot].as_ref();
            }
            Step::TypeIs { concrete, .. } => {
                let slot = l.slot("__typename").ok_or("__typename not selected")?;
                out.push(RStep::TypeIs {
                    typename: slot,
                    names: concrete.iter().map(|c| format!("{c:?}").into()).collect(),
                });
            }
            Step::Index(i) => out.push(RStep::Index(*i)),
        }
    }
    Ok(cur)
}

fn link_path(
    layout: &Arc<Layout>,
    base: &[Step],
    path: &mut Path,
) -> Result<Option<Arc<Layout>>, String> {
    let mut scratch = Vec::new();
    let start = if path.from_root {
        layout
    } else {
        match link_steps(layout, base, &mut scratch)? {
            Some(l) => l,
            None => return Err("child table base is a leaf".into()),
        }
    };
    let mut linked = Vec::new();
    let end = link_steps(start, &path.steps, &mut linked)?.cloned();
    path.linked = linked;
    Ok(end)
}

fn link_expr(e: &mut Expr, layout: &Arc<Layout>, base: &[Step]) -> Result<(), String> {
    match e {
        Expr::Path { path, conv } => {
            let end = link_path(layout, base, path)?;
            match conv {
                Conv::Money(m) => {
                    let l = end.ok_or("money below a leaf")?;
                    m.amount = l.slot(&m.shape.amount).ok_or("money amount not selected")?;
                    m.currency.clear();
                    let mut at = Some(l);
                    for f in &m.shape.currency {
                        let here = at.ok_or("money currency below a leaf")?;
                        let slot = here.slot(f).ok_or("money currency not selected")?;
                        m.currency.push(slot);
                        at = here.kids[slot].clone();
                    }
                }
                Conv::Json(layout_slot) => *layout_slot = end,
                _ => {}
            }
            Ok(())
        }
        Expr::Attribute { of, attr } => {
            let plan::Attr { shape, slots, .. } = attr.as_mut();
            let l = link_path(layout, base, of)?.ok_or("attributes below a leaf")?;
            slots.list = l.slot(&shape.field).ok_or("attributes not selected")?;
            let item = l.kids[slots.list].clone().ok_or("attributes is a leaf")?;
            slots.group_name.clear();
            let mut at = Some(Arc::clone(&item));
            for f in &shape.group_name {
                let here = at.ok_or("attribute group name below a leaf")?;
                let slot = here.slot(f).ok_or("attribute group name not selected")?;
                slots.group_name.push(slot);
                at = here.kids[slot].clone();
            }
            let entry = match &shape.entries {
                Some(f) => {
                    let slot = item.slot(f).ok_or("attribute entries not selected")?;
                    slots.entries = Some(slot);
                    item.kids[slot].clone().ok_or("attribute entries is a leaf")?
                }
                None => {
                    slots.entries = None;
                    item
                }
            };
            slots.key = entry.slot(&shape.entry_key).ok_or("attribute key not selected")?;
            slots.values = shape.entry_values.iter().filter_map(|f| entry.slot(f)).collect();
            Ok(())
        }
        Expr::Lit(_) => Ok(()),
        Expr::Coalesce(items)
        | Expr::Concat { parts: items, .. }
        | Expr::Arith { args: items, .. } => {
            items.iter_mut().try_for_each(|i| link_expr(i, layout, base))
        }
        Expr::Format(parts) => parts.iter_mut().try_for_each(|p| match p {
            FmtPart::Expr(e) => link_expr(e, layout, base),
            FmtPart::Text(_) => Ok(()),
        }),
        Expr::If { cond, then, otherwise } => {
            link_expr(&mut cond.expr, layout, base)?;
            link_expr(then, layout, base)?;
            link_expr(otherwise, layout, base)
        }
        Expr::Trim(i)
        | Expr::Case(i, _)
        | Expr::Cast(i, _)
        | Expr::Round(i, _)
        | Expr::Default(i, _) => link_expr(i, layout, base),
        Expr::Map { inner, .. } => link_expr(inner, layout, base),
    }
}

/// Splits a path at dots outside parentheses (arguments may hold dots).
fn split_path(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in path.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

/// A path as shown in run-time messages: without field arguments.
fn without_args(path: &str) -> String {
    split_path(path).iter().map(|seg| response_key(seg)).collect::<Vec<_>>().join(".")
}

/// The response key of a selected field: its name without arguments.
pub(crate) fn response_key(field: &str) -> &str {
    field.split_once('(').map(|(n, _)| n).unwrap_or(field)
}

fn kind(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a scalar",
        Node::Sequence(_) => "a list",
        Node::Mapping(_) => "a mapping",
    }
}

fn seq_items(node: &Node) -> Vec<&Node> {
    match node {
        Node::Sequence(s) => s.iter().collect(),
        _ => Vec::new(),
    }
}

/// A YAML scalar as a literal: quoted text stays text; plain `true`/`false`,
/// integers and decimals are typed; plain `null`/`~` is null.
fn literal(s: &MarkedScalarNode) -> Value {
    literal_text(s.as_str(), s.may_coerce())
}

fn literal_text(text: &str, plain: bool) -> Value {
    if !plain {
        return Value::Text(text.to_owned());
    }
    match text {
        "" | "~" | "null" => return Value::Null,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let numeric = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        && text.chars().any(|c| c.is_ascii_digit());
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(d) = rust_decimal::Decimal::from_str(text) {
            return Value::Decimal(d);
        }
    }
    Value::Text(text.to_owned())
}

fn type_by_name(name: &str) -> Option<ColumnType> {
    Some(match name {
        "string" => ColumnType::Text,
        "integer" => ColumnType::Int,
        "boolean" => ColumnType::Bool,
        "decimal" | "money" => ColumnType::Decimal,
        "timestamp" => ColumnType::Timestamp,
        "date" => ColumnType::Date,
        "json" => ColumnType::Json,
        _ => return None,
    })
}

fn type_label(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Text => "string",
        other => other.name(),
    }
}

fn with_article(word: &str) -> String {
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {word}")
}

fn type_label_opt(t: Option<ColumnType>) -> &'static str {
    t.map(type_label).unwrap_or("null")
}

/// Conversions a column assignment makes by itself.
fn implicit(from: ColumnType, to: ColumnType) -> bool {
    matches!((from, to), (ColumnType::Int, ColumnType::Decimal) | (_, ColumnType::Json))
}

/// Conversions `type:` may ask for (some can still fail on a value at run time).
fn castable(from: ColumnType, to: ColumnType) -> bool {
    use ColumnType::*;
    match to {
        Text | Json => true,
        Int => matches!(from, Text | Int | Decimal | Bool | Json),
        Decimal => matches!(from, Text | Int | Decimal | Json),
        Bool => matches!(from, Text | Int | Bool | Json),
        Timestamp => matches!(from, Text | Timestamp | Date | Json),
        Date => matches!(from, Text | Timestamp | Date | Json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested_and_far_names_are_not() {
        assert_eq!(suggest("decmal", TYPE_NAMES.iter().copied()), Some("decimal"));
        assert_eq!(suggest("colums", TABLE_KEYS.iter().copied()), Some("columns"));
        assert_eq!(suggest("zzzzzz", TABLE_KEYS.iter().copied()), None);
    }

    #[test]
    fn literals_keep_quoted_text_as_text() {
        assert_eq!(literal_text("12", true), Value::Int(12));
        assert_eq!(literal_text("12", false), Value::Text("12".into()));
        assert_eq!(literal_text("1.50", true), Value::Decimal("1.50".parse().unwrap()));
        assert_eq!(literal_text("true", true), Value::Bool(true));
        assert_eq!(literal_text("dtc", true), Value::Text("dtc".into()));
        assert_eq!(literal_text("1-2", true), Value::Text("1-2".into()));
    }
}
