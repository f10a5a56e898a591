//! GraphQL execution: parse and validate with apollo-compiler, compute the
//! complexity, then resolve fields from the world with `ObjectValue`s.

use crate::auth::{self, TokenSpec};
use crate::dates;
use crate::events::{ChangeType, ObjectType};
use crate::model::*;
use crate::query::{self, OrderFilter, OrderSort, arg_i64, arg_str, int_list, str_list};
use crate::state::World;
use crate::stock::{StockFilter, decode_id_cursor, encode_id_cursor, size_id_order};
use crate::{Simulator, complexity, read};
use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::OperationType;
use apollo_compiler::resolvers::{Execution, FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{GraphQLError, JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The application version reported in `extensions.appVersion`.
pub(crate) const APP_VERSION: &str = concat!("centra-sim-", env!("CARGO_PKG_VERSION"));

/// A finished response.
pub(crate) struct Response {
    pub status: StatusCode,
    pub bytes: Vec<u8>,
    pub body: serde_json::Value,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [GraphQLError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Option<JsonMap>>,
    extensions: Extensions<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extensions<'a> {
    complexity: u64,
    permissions_used: Vec<&'a str>,
    app_version: &'static str,
}

fn respond(
    status: StatusCode,
    errors: &[GraphQLError],
    data: Option<&Option<JsonMap>>,
    complexity: u64,
    perms: Vec<&str>,
    want_value: bool,
) -> Response {
    let body = Body {
        errors,
        data,
        extensions: Extensions { complexity, permissions_used: perms, app_version: APP_VERSION },
    };
    // Serializing plain JSON maps and strings cannot fail.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let value = if want_value {
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Null
    };
    Response { status, bytes, body: value }
}

/// A GraphQL error without location, with a category.
pub(crate) fn simple_error(message: impl Into<String>, category: &str) -> GraphQLError {
    let mut extensions = JsonMap::new();
    extensions.insert("category", JsonValue::from(category));
    GraphQLError { message: message.into(), locations: Vec::new(), path: Vec::new(), extensions }
}

/// An error response (request errors: no `data`).
pub(crate) fn error_response(
    status: StatusCode,
    errors: Vec<GraphQLError>,
    complexity: u64,
) -> Response {
    respond(status, &errors, None, complexity, Vec::new(), true)
}

/// A request that parsed and validated and is ready to run.
pub(crate) struct Prepared {
    doc: Valid<ExecutableDocument>,
    variables: JsonMap,
    operation_name: Option<String>,
    pub complexity: u64,
    pub is_mutation: bool,
}

/// Parses, validates and prices a request body.
pub(crate) fn prepare(sim: &Simulator, body: &serde_json::Value) -> Result<Prepared, Response> {
    let schema = &sim.inner.schema;
    let Some(query) = body.get("query").and_then(|q| q.as_str()) else {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            vec![simple_error("Request body must contain a \"query\" string", "request")],
            0,
        ));
    };
    let variables = match body.get("variables") {
        None | Some(serde_json::Value::Null) => JsonMap::new(),
        Some(v @ serde_json::Value::Object(_)) => match JsonValue::from(v.clone()) {
            JsonValue::Object(m) => m,
            _ => JsonMap::new(),
        },
        Some(_) => {
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                vec![simple_error("\"variables\" must be an object", "request")],
                0,
            ));
        }
    };
    let operation_name = body.get("operationName").and_then(|o| o.as_str()).map(str::to_string);
    let doc = match ExecutableDocument::parse_and_validate(schema, query, "query.graphql") {
        Ok(d) => d,
        Err(e) => {
            let errors: Vec<GraphQLError> = e
                .errors
                .iter()
                .map(|d| {
                    let mut g = d.unstable_to_json_compat();
                    g.extensions.insert("category", JsonValue::from("graphql"));
                    g
                })
                .collect();
            return Err(error_response(StatusCode::OK, errors, 0));
        }
    };
    let op = match doc.operations.get(operation_name.as_deref()) {
        Ok(op) => op,
        Err(e) => {
            return Err(error_response(StatusCode::OK, vec![e.to_graphql_error(&doc.sources)], 0));
        }
    };
    let complexity = complexity::complexity(&doc, op, &variables);
    let is_mutation = op.operation_type == OperationType::Mutation;
    Ok(Prepared { doc, variables, operation_name, complexity, is_mutation })
}

/// Executes a prepared request for `token`.
pub(crate) fn run(
    sim: &Simulator,
    token: &Arc<TokenSpec>,
    p: &Prepared,
    want_value: bool,
) -> Response {
    let world = read(&sim.inner.world);
    let ctx = Ctx {
        w: &world,
        sim,
        token,
        perms: RefCell::new(BTreeSet::new()),
        stores: crate::data::stores(),
        markets: crate::data::markets(),
    };
    let root = O { ctx: &ctx, k: if p.is_mutation { K::Mutation } else { K::Query } };
    sim.inner.counters.complexity_total.fetch_add(p.complexity, Ordering::Relaxed);
    let exec = Execution::new(&sim.inner.schema, &p.doc)
        .raw_variable_values(&p.variables)
        .enable_schema_introspection(true)
        .operation_name(p.operation_name.as_deref());
    let result = exec.and_then(|e| e.execute_sync(&root));
    let perms_set = ctx.perms.borrow().clone();
    let perms: Vec<&str> = perms_set.iter().copied().collect();
    match result {
        Ok(mut r) => {
            for e in &mut r.errors {
                // apollo-compiler prefixes resolver messages; Centra's have no prefix.
                if let Some(m) = e.message.strip_prefix("resolver error: ") {
                    e.message = m.to_string();
                }
                let cat = if e.message.starts_with("You need ") {
                    "authorization"
                } else if e.message.starts_with("Limit must be")
                    || e.message.starts_with("Page must")
                    || e.message.starts_with("Invalid")
                    || e.message.starts_with("Cursor")
                    || e.message.starts_with("Exactly one")
                {
                    "userInput"
                } else {
                    "graphql"
                };
                e.extensions.insert("category", JsonValue::from(cat));
            }
            respond(StatusCode::OK, &r.errors, Some(&r.data), p.complexity, perms, want_value)
        }
        Err(e) => {
            let mut g = e.to_graphql_error(&p.doc.sources);
            g.extensions.insert("category", JsonValue::from("graphql"));
            respond(StatusCode::OK, &[g], None, p.complexity, perms, want_value)
        }
    }
}

/// Prepares and runs in one go (in-process use).
pub(crate) fn execute(
    sim: &Simulator,
    token: &Arc<TokenSpec>,
    body: &serde_json::Value,
    _unused: Option<()>,
) -> Response {
    match prepare(sim, body) {
        Ok(p) => run(sim, token, &p, true),
        Err(r) => r,
    }
}

struct Ctx<'c> {
    w: &'c World,
    sim: &'c Simulator,
    token: &'c TokenSpec,
    perms: RefCell<BTreeSet<&'static str>>,
    stores: Vec<Store>,
    markets: Vec<Market>,
}

struct ScConn<'c> {
    total: usize,
    edges: Vec<(String, &'c StockChange)>,
    has_next: bool,
    has_prev: bool,
}

struct Conn {
    total: usize,
    edges: Vec<(String, Order)>,
    has_next: bool,
    has_prev: bool,
}

enum K<'c> {
    Query,
    Mutation,
    Counters,
    Order(Box<Order>),
    OrderRef(&'c Order),
    Totals(&'c Order),
    Line(&'c Order, &'c OrderLine),
    Money(i64, &'c Currency, f64),
    Currency(&'c Currency),
    Store(&'c Store),
    Market(i64, &'c str),
    Pricelist(&'c Pricelist),
    Address(&'c Address),
    Country(&'c Country),
    Customer(&'c Customer),
    Account(&'c Account),
    Attribute(&'c Attribute),
    AttributeType(&'c Attribute),
    Element(&'c AttributeElement),
    Product(&'c Product),
    Variant(&'c Product, &'c Variant),
    Size(&'c Product, &'c Variant, &'c Size),
    Stock(&'c StockLevel),
    Warehouse(&'c Warehouse),
    Supplier(&'c Supplier),
    PurchaseOrder(&'c PurchaseOrder),
    PoLine(&'c PurchaseOrder, &'c PurchaseOrderLine),
    Delivery(&'c Delivery),
    DeliveryLine(&'c Delivery, &'c DeliveryLine),
    Connection(Box<Conn>),
    Edge(&'c str, &'c Order),
    PageInfo(&'c Conn),
    StockChange(&'c StockChange),
    StockChangeLine(&'c StockChangeLine),
    ScConnection(Box<ScConn<'c>>),
    ScEdge(&'c str, &'c StockChange),
    ScPageInfo(&'c ScConn<'c>),
    Event(crate::events::Event),
    Listener(crate::events::Listener),
    /// `SetEventListenersPayload`, or `EventListenerUnsetPayload` when the bool is true.
    ListenersPayload(Vec<crate::events::Listener>, Vec<String>, bool),
    ConfirmPayload(Vec<String>),
    UserError(String, Vec<String>),
    RateLimit(crate::ratelimit::RateLimitRow),
}

struct O<'c> {
    ctx: &'c Ctx<'c>,
    k: K<'c>,
}

type R<'a> = Result<ResolvedValue<'a>, FieldError>;

fn err(message: impl Into<String>) -> FieldError {
    FieldError { message: message.into() }
}

/// A `PageInfo` field of a connection page, shared by every connection
/// type; `None` for a field `PageInfo` does not have.
fn page_info<'x>(
    field: &str,
    has_next: bool,
    has_prev: bool,
    (start, end): (Option<&'x str>, Option<&'x str>),
) -> Option<ResolvedValue<'x>> {
    let cursor = |c: Option<&'x str>| c.map_or(ResolvedValue::null(), ResolvedValue::leaf);
    Some(match field {
        "hasNextPage" => ResolvedValue::leaf(has_next),
        "hasPreviousPage" => ResolvedValue::leaf(has_prev),
        "startCursor" => cursor(start),
        "endCursor" => cursor(end),
        _ => return None,
    })
}

fn leaf<'x>(v: impl Into<JsonValue>) -> R<'x> {
    Ok(ResolvedValue::leaf(v))
}

fn opt_str<'x>(v: &Option<String>) -> R<'x> {
    Ok(match v {
        Some(s) => ResolvedValue::leaf(s.as_str()),
        None => ResolvedValue::null(),
    })
}

fn args_bool(info: &ResolveInfo<'_>, k: &str, default: bool) -> bool {
    info.arguments().get(k).and_then(JsonValue::as_bool).unwrap_or(default)
}

/// Validates `limit`/`page` of a plain list: limit 1..=200, page ≥ 1.
fn limit_page(args: &JsonMap) -> Result<(usize, usize), FieldError> {
    let limit = arg_i64(args, "limit").unwrap_or(20);
    let page = arg_i64(args, "page").unwrap_or(1);
    if !(1..=200).contains(&limit) {
        return Err(err("Limit must be in range 1 - 200"));
    }
    if page < 1 {
        return Err(err("Page must be greater than or equal to 1"));
    }
    Ok((limit as usize, page as usize))
}

fn paginate<T>(items: Vec<T>, limit: usize, page: usize) -> impl Iterator<Item = T> {
    items.into_iter().skip(limit * (page - 1)).take(limit)
}

fn string_match(args: &JsonMap, k: &str, value: &str) -> Result<bool, FieldError> {
    let Some(m) = args.get(k).and_then(JsonValue::as_object) else {
        return Ok(true);
    };
    let eq = arg_str(m, "equals");
    let co = arg_str(m, "contains");
    match (eq, co) {
        (Some(e), None) => Ok(value == e),
        (None, Some(c)) => Ok(value.to_lowercase().contains(&c.to_lowercase())),
        _ => Err(err(format!("Exactly one field of StringMatch must be provided in {k}"))),
    }
}

fn in_list(list: &Option<Vec<i64>>, v: i64) -> bool {
    list.as_ref().is_none_or(|l| l.contains(&v))
}

fn in_list_opt(list: &Option<Vec<i64>>, v: Option<i64>) -> bool {
    match list {
        None => true,
        Some(l) => v.is_some_and(|v| l.contains(&v)),
    }
}

fn where_of(args: &JsonMap) -> JsonMap {
    args.get("where").and_then(JsonValue::as_object).cloned().unwrap_or_default()
}

fn sort_keys(args: &JsonMap) -> Vec<String> {
    match args.get("sort") {
        Some(JsonValue::Array(a)) => {
            a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        Some(JsonValue::String(s)) => vec![s.as_str().to_string()],
        _ => Vec::new(),
    }
}

impl<'c> O<'c> {
    fn o(&self, k: K<'c>) -> ResolvedValue<'c> {
        ResolvedValue::object(O { ctx: self.ctx, k })
    }

    fn date(&self, info: &ResolveInfo<'_>, t: DateTime<Utc>) -> R<'c> {
        let default = match self.k {
            K::PurchaseOrder(_) | K::Delivery(_) => "Y-m-d\\TH:i:sO",
            _ => dates::FORMAT_P,
        };
        let f = arg_str(info.arguments(), "format").unwrap_or(default);
        leaf(dates::php_format(t, f))
    }

    fn opt_date(&self, info: &ResolveInfo<'_>, t: Option<DateTime<Utc>>) -> R<'c> {
        match t {
            Some(t) => self.date(info, t),
            None => Ok(ResolvedValue::null()),
        }
    }

    fn money(&self, minor: i64, cur: &'c Currency, rate: f64) -> R<'c> {
        Ok(self.o(K::Money(minor, cur, rate)))
    }

    fn size_ref(&self, id: i64) -> ResolvedValue<'c> {
        match self.ctx.w.generator.size(id) {
            Some((p, v, s)) => self.o(K::Size(p, v, s)),
            None => ResolvedValue::null(),
        }
    }

    fn variant_ref(&self, id: i64) -> ResolvedValue<'c> {
        match self.ctx.w.generator.size(id) {
            Some((p, v, _)) => self.o(K::Variant(p, v)),
            None => ResolvedValue::null(),
        }
    }

    fn product_ref(&self, id: i64) -> ResolvedValue<'c> {
        match self.ctx.w.generator.size(id) {
            Some((p, _, _)) => self.o(K::Product(p)),
            None => ResolvedValue::null(),
        }
    }

    fn warehouse_ref(&self, id: Option<i64>) -> ResolvedValue<'c> {
        match id.and_then(|id| self.ctx.w.warehouses.iter().find(|w| w.id == id)) {
            Some(w) => self.o(K::Warehouse(w)),
            None => ResolvedValue::null(),
        }
    }

    fn order_list(&self, numbers: Vec<i64>) -> ResolvedValue<'c> {
        let ctx = self.ctx;
        ResolvedValue::List(Box::new(numbers.into_iter().filter_map(move |n| {
            ctx.w.order(n).map(|o| Ok(ResolvedValue::object(O { ctx, k: K::Order(Box::new(o)) })))
        })))
    }

    fn stock_list(
        &self,
        args: &JsonMap,
        only_warehouse: Option<i64>,
        only_size: Option<i64>,
    ) -> R<'c> {
        let (limit, page) = limit_page(args)?;
        let w = self.ctx.w;
        let filter = StockFilter::parse(&where_of(args));
        let mut keys = sort_keys(args);
        if keys.is_empty() {
            keys = if only_size.is_some() {
                vec!["warehouseId_ASC".into()]
            } else {
                vec![
                    "productId_ASC".into(),
                    "productVariantId_ASC".into(),
                    "productSizeSort_ASC".into(),
                ]
            };
        }
        let warehouses: Vec<usize> = (0..w.warehouses.len())
            .filter(|&wi| {
                let id = w.warehouses[wi].id;
                only_warehouse.is_none_or(|x| x == id) && in_list(&filter.warehouse_ids, id)
            })
            .collect();
        // The sizes to look at, ascending by id: one, the filter's list, or all.
        let size_ids: Box<dyn Iterator<Item = i64> + '_> = match (only_size, &filter.size_ids) {
            (Some(s), _) => Box::new(std::iter::once(s)),
            (None, Some(ids)) => {
                let mut ids = ids.clone();
                ids.sort_unstable();
                ids.dedup();
                Box::new(ids.into_iter())
            }
            (None, None) => Box::new(1..=w.generator.sizes.len() as i64),
        };
        // Without conditions on the rows, page `p` of one warehouse starts at
        // size id `limit × (p − 1) + 1`: no row before it is looked at.
        let trivial = only_size.is_none() && filter.is_trivial();
        let ctx = self.ctx;
        let rows_of = |sid: i64, wi: usize| -> Option<&'c StockLevel> {
            let l = w.stock[wi].get(usize::try_from(sid - 1).ok()?)?;
            let (_, _, s) = w.generator.size(sid)?;
            filter.matches(l, s).then_some(l)
        };
        // Size ids ascend with (product, variant, size position), so within
        // one warehouse these sorts are size-id order: a page is a slice of
        // the warehouse's index, found without touching the rows after it.
        if warehouses.len() == 1 && size_id_order(&keys) {
            let wi = warehouses[0];
            let skip = limit * (page - 1);
            let rows: Vec<&StockLevel> = if trivial {
                let n = w.stock[wi].len();
                w.stock[wi][skip.min(n)..(skip + limit).min(n)].iter().collect()
            } else {
                size_ids.filter_map(|sid| rows_of(sid, wi)).skip(skip).take(limit).collect()
            };
            return Ok(ResolvedValue::list(
                rows.into_iter().map(move |l| ResolvedValue::object(O { ctx, k: K::Stock(l) })),
            ));
        }
        let size_ids: Vec<i64> = size_ids.collect();
        let mut rows: Vec<(&StockLevel, &Size)> = Vec::new();
        for &wi in &warehouses {
            for &sid in &size_ids {
                if let (Some(l), Some((_, _, s))) = (rows_of(sid, wi), w.generator.size(sid)) {
                    rows.push((l, s));
                }
            }
        }
        rows.sort_by(|a, b| {
            for k in &keys {
                let ord = match k.as_str() {
                    "productId_ASC" => a.1.product_id.cmp(&b.1.product_id),
                    "productVariantId_ASC" => a.1.variant_id.cmp(&b.1.variant_id),
                    "productSizeSort_ASC" => a.1.sort.cmp(&b.1.sort),
                    _ => a.0.warehouse_id.cmp(&b.0.warehouse_id),
                };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            // A stable tie-break keeps pages disjoint.
            (a.0.warehouse_id, a.0.size_id).cmp(&(b.0.warehouse_id, b.0.size_id))
        });
        Ok(ResolvedValue::list(
            paginate(rows, limit, page)
                .map(move |(l, _)| ResolvedValue::object(O { ctx, k: K::Stock(l) })),
        ))
    }

    /// The stock changes matching a `StockChangeFilter`, by id ascending.
    fn stock_changes_matching(&self, f: &JsonMap) -> Result<Vec<&'c StockChange>, FieldError> {
        let w = self.ctx.w;
        let created = query::date_range(f, "createdAt", w.date_filter).map_err(err)?;
        let types = str_list(f, "type");
        let whs = int_list(f, "warehouseId");
        Ok(w.stock_changes
            .iter()
            .filter(|sc| {
                created.contains(sc.created_at.timestamp())
                    && types.as_ref().is_none_or(|t| t.iter().any(|t| t == sc.change_type.as_str()))
                    && in_list(&whs, sc.warehouse_id)
            })
            .collect())
    }

    fn warehouse_stock_changes(&self, args: &JsonMap, warehouse_id: i64) -> R<'c> {
        let (limit, page) = limit_page(args)?;
        let rows: Vec<&StockChange> = self
            .stock_changes_matching(&where_of(args))?
            .into_iter()
            .filter(|sc| sc.warehouse_id == warehouse_id)
            .collect();
        self.page_by_id(args, rows, |sc| sc.id, true, (limit, page), K::StockChange)
    }

    /// `stockChangeConnection`: keyset pages over stock change ids, with
    /// cursors like `orderConnection`'s (`base64("id:N")`).
    fn stock_change_connection(&self, args: &JsonMap) -> R<'c> {
        let first = arg_i64(args, "first");
        let last = arg_i64(args, "last");
        for v in [first, last].into_iter().flatten() {
            if !(1..=200).contains(&v) {
                return Err(err("Limit must be in range 1 - 200"));
            }
        }
        let desc = sort_keys(args).first().is_some_and(|s| s == "id_DESC");
        let after = arg_str(args, "after").map(decode_id_cursor).transpose().map_err(err)?;
        let before = arg_str(args, "before").map(decode_id_cursor).transpose().map_err(err)?;
        let mut all = self.stock_changes_matching(&where_of(args))?;
        if desc {
            all.reverse();
        }
        let total = all.len();
        // Position of the first row past `after` and of the first row at or past `before`.
        let beyond = |c: i64, sc: &StockChange| if desc { sc.id < c } else { sc.id > c };
        let lo = after.map_or(0, |a| all.iter().position(|sc| beyond(a, sc)).unwrap_or(total));
        let hi = before.map_or(total, |b| {
            all.iter().position(|sc| sc.id == b || beyond(b, sc)).unwrap_or(total)
        });
        let hi = hi.max(lo);
        let (from, to) = match (first, last) {
            (Some(n), _) => {
                let to = (lo + n as usize).min(hi);
                match last {
                    Some(l) => (to.saturating_sub(l as usize).max(lo), to),
                    None => (lo, to),
                }
            }
            (None, Some(l)) => (hi.saturating_sub(l as usize).max(lo), hi),
            (None, None) => (lo, (lo + 20).min(hi)),
        };
        let edges =
            all[from..to].iter().map(|sc| (encode_id_cursor(sc.id), *sc)).collect::<Vec<_>>();
        let conn = ScConn { total, edges, has_next: to < total, has_prev: from > 0 };
        Ok(self.o(K::ScConnection(Box::new(conn))))
    }

    fn deliveries(&self, args: &JsonMap, only_po: Option<i64>) -> R<'c> {
        let (limit, page) = limit_page(args)?;
        let w = self.ctx.w;
        let f = where_of(args);
        let ids = int_list(&f, "id");
        let numbers = str_list(&f, "number");
        let status = arg_str(&f, "status").and_then(DeliveryStatus::parse);
        let created = query::date_range(&f, "createdAt", w.date_filter).map_err(err)?;
        let eta = query::date_range(&f, "ETA", w.date_filter).map_err(err)?;
        let suppliers = int_list(&f, "supplierId");
        let whs = int_list(&f, "warehouseId");
        let rows: Vec<&Delivery> = w
            .deliveries
            .iter()
            .filter(|d| {
                let po = w.purchase_orders.iter().find(|p| p.id == d.purchase_order_id);
                only_po.is_none_or(|p| p == d.purchase_order_id)
                    && in_list(&ids, d.id)
                    && numbers.as_ref().is_none_or(|n| n.contains(&d.number))
                    && status.is_none_or(|s| s == d.status)
                    && created.contains(d.created_at.timestamp())
                    && eta.contains_opt(d.eta.map(|t| t.timestamp()))
                    && in_list_opt(&suppliers, po.map(|p| p.supplier.id))
                    && in_list_opt(&whs, d.warehouse_id)
            })
            .collect();
        // Centra lists deliveries newest first unless asked otherwise.
        self.page_by_id(args, rows, |d| d.id, true, (limit, page), K::Delivery)
    }

    /// Sorts `rows` by id, in the direction the `sort` argument asks for
    /// (`id_ASC`/`id_DESC`; without one, descending if `default_desc`), and
    /// returns the page as objects made by `kind`.
    fn page_by_id<T: 'c>(
        &self,
        args: &JsonMap,
        mut rows: Vec<T>,
        id: impl Fn(&T) -> i64,
        default_desc: bool,
        (limit, page): (usize, usize),
        kind: impl Fn(T) -> K<'c> + 'c,
    ) -> R<'c> {
        let desc = sort_keys(args).first().map_or(default_desc, |s| s == "id_DESC");
        rows.sort_by_key(|r| if desc { -id(r) } else { id(r) });
        let ctx = self.ctx;
        Ok(ResolvedValue::list(
            paginate(rows, limit, page).map(move |r| ResolvedValue::object(O { ctx, k: kind(r) })),
        ))
    }

    fn purchase_orders(&self, args: &JsonMap) -> R<'c> {
        let (limit, page) = limit_page(args)?;
        let w = self.ctx.w;
        let f = where_of(args);
        let ids = int_list(&f, "id");
        let statuses = str_list(&f, "status");
        let created = query::date_range(&f, "createdAt", w.date_filter).map_err(err)?;
        let updated = query::date_range(&f, "updatedAt", w.date_filter).map_err(err)?;
        let eta = query::date_range(&f, "ETA", w.date_filter).map_err(err)?;
        let suppliers = int_list(&f, "supplierId");
        let whs = int_list(&f, "preferredWarehouseId");
        let rows: Vec<&PurchaseOrder> = w
            .purchase_orders
            .iter()
            .filter(|p| {
                in_list(&ids, p.id)
                    && statuses.as_ref().is_none_or(|s| s.iter().any(|s| s == p.status.as_str()))
                    && created.contains(p.created_at.timestamp())
                    && updated.contains(p.updated_at.timestamp())
                    && eta.contains_opt(p.eta.map(|t| t.timestamp()))
                    && in_list(&suppliers, p.supplier.id)
                    && in_list_opt(&whs, p.preferred_warehouse_id)
            })
            .collect();
        self.page_by_id(args, rows, |p| p.id, false, (limit, page), K::PurchaseOrder)
    }

    fn connection(&self, args: &JsonMap) -> R<'c> {
        let w = self.ctx.w;
        let filter = OrderFilter::parse(w, args).map_err(err)?;
        let sort = OrderSort::parse(args);
        let first = arg_i64(args, "first");
        let last = arg_i64(args, "last");
        for v in [first, last].into_iter().flatten() {
            if !(1..=200).contains(&v) {
                return Err(err("Limit must be in range 1 - 200"));
            }
        }
        let after = arg_str(args, "after").map(|c| sort.decode(c)).transpose().map_err(err)?;
        let before = arg_str(args, "before").map(|c| sort.decode(c)).transpose().map_err(err)?;
        // Bounds in number space (exclusive).
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        if sort.desc {
            if let Some(a) = after {
                hi = a;
            }
            if let Some(b) = before {
                lo = b;
            }
        } else {
            if let Some(a) = after {
                lo = a;
            }
            if let Some(b) = before {
                hi = b;
            }
        }
        let total = filter.count(w);
        let mut items = Vec::new();
        let (has_next, has_prev);
        if last.is_some() && first.is_none() {
            let n = last.unwrap_or(20) as usize;
            filter.scan(w, !sort.desc, lo, hi, |x| {
                items.push(x);
                items.len() <= n
            });
            has_prev = items.len() > n;
            items.truncate(n);
            items.reverse();
            has_next = match items.last() {
                Some(&l) => exists(&filter, w, sort.desc, l, lo, hi, true),
                None => false,
            };
        } else {
            let n = first.unwrap_or(20) as usize;
            filter.scan(w, sort.desc, lo, hi, |x| {
                items.push(x);
                items.len() <= n
            });
            has_next = items.len() > n;
            items.truncate(n);
            if let Some(l) = last {
                let l = l as usize;
                if items.len() > l {
                    items.drain(..items.len() - l);
                }
            }
            has_prev = match items.first() {
                Some(&f) => exists(&filter, w, sort.desc, f, lo, hi, false),
                None => false,
            };
        }
        let edges =
            items.into_iter().filter_map(|n| w.order(n).map(|o| (sort.cursor(w, n), o))).collect();
        Ok(self.o(K::Connection(Box::new(Conn { total, edges, has_next, has_prev }))))
    }

    fn check_permission(&self, info: &ResolveInfo<'_>) -> Result<(), FieldError> {
        let field = info.field_name();
        if let Some(p) = auth::permission_for(self.type_name(), field) {
            if !self.ctx.token.has(p) {
                return Err(err(auth::permission_error_message(p, field)));
            }
            self.ctx.perms.borrow_mut().insert(p);
        }
        Ok(())
    }
}

/// Whether a match exists beyond `pivot` (`forward`: in the sort direction)
/// or before it, ignoring the cursor bounds (Relay's hasNext/hasPrevious).
fn exists(
    f: &OrderFilter,
    w: &World,
    desc: bool,
    pivot: i64,
    _lo: i64,
    _hi: i64,
    forward: bool,
) -> bool {
    let mut found = false;
    let go_up = forward != desc;
    let (lo, hi) = if go_up { (pivot, i64::MAX) } else { (i64::MIN, pivot) };
    f.scan(w, !go_up, lo, hi, |_| {
        found = true;
        false
    });
    found
}

/// The `input` list of `setEventListeners` / `unsetEventListeners`.
fn listener_input(args: &JsonMap) -> Vec<(ObjectType, Option<Vec<ChangeType>>)> {
    args.get("input")
        .and_then(JsonValue::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    let o = x.as_object()?;
                    let ot = arg_str(o, "objectType")?.parse().ok()?;
                    Some((ot, parse_change_types(o.get("changeTypes"))))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_object_types(v: Option<&JsonValue>) -> Option<Vec<ObjectType>> {
    v.and_then(JsonValue::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().and_then(|s| s.parse().ok())).collect())
}

fn parse_change_types(v: Option<&JsonValue>) -> Option<Vec<ChangeType>> {
    v.and_then(JsonValue::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().and_then(|s| s.parse().ok())).collect())
}

impl<'c> ObjectValue for O<'c> {
    fn type_name(&self) -> &str {
        match &self.k {
            K::Query => "Query",
            K::Mutation => "Mutation",
            K::Counters => "Counters",
            K::Order(o) => o.type_name(),
            K::OrderRef(o) => o.type_name(),
            K::Totals(_) => "OrderTotals",
            K::Line(..) => "ProductOrderLine",
            K::Money(..) => "MonetaryValue",
            K::Currency(_) => "Currency",
            K::Store(_) => "Store",
            K::Market(..) => "Market",
            K::Pricelist(_) => "Pricelist",
            K::Address(_) => "Address",
            K::Country(_) => "Country",
            K::Customer(_) => "Customer",
            K::Account(_) => "Account",
            K::Attribute(_) => "Attribute",
            K::AttributeType(_) => "AttributeType",
            K::Element(e) => match e.value {
                AttributeValue::String { .. } => "AttributeStringElement",
                AttributeValue::Choice { .. } => "AttributeChoiceElement",
                AttributeValue::File { .. } => "AttributeFileElement",
            },
            K::Product(_) => "Product",
            K::Variant(..) => "ProductVariant",
            K::Size(..) => "ProductSize",
            K::Stock(_) => "Stock",
            K::Warehouse(_) => "Warehouse",
            K::Supplier(_) => "Supplier",
            K::PurchaseOrder(_) => "PurchaseOrder",
            K::PoLine(..) => "PurchaseOrderLine",
            K::Delivery(_) => "PurchaseOrderDelivery",
            K::DeliveryLine(..) => "PurchaseOrderDeliveryLine",
            K::Connection(_) => "OrderConnection",
            K::Edge(..) => "OrderEdge",
            K::PageInfo(_) => "PageInfo",
            K::Event(_) => "Event",
            K::Listener(_) => "EventListener",
            K::ListenersPayload(_, _, false) => "SetEventListenersPayload",
            K::ListenersPayload(_, _, true) => "EventListenerUnsetPayload",
            K::StockChange(_) => "StockChange",
            K::StockChangeLine(_) => "StockChangeLine",
            K::ScConnection(_) => "StockChangeConnection",
            K::ScEdge(..) => "StockChangeEdge",
            K::ScPageInfo(_) => "PageInfo",
            K::ConfirmPayload(_) => "ConfirmEventsPayload",
            K::UserError(..) => "UserError",
            K::RateLimit(_) => "RateLimit",
        }
    }

    fn resolve_field<'a>(&'a self, info: &'a ResolveInfo<'a>) -> R<'a> {
        self.check_permission(info)?;
        let f = info.field_name();
        let args = info.arguments();
        let ctx = self.ctx;
        let w = ctx.w;
        match (&self.k, f) {
            // ------------------------------------------------------------ roots
            (K::Query, "orders") => {
                let (limit, page) = limit_page(args)?;
                let filter = OrderFilter::parse(w, args).map_err(err)?;
                let sort = OrderSort::parse(args);
                Ok(self.order_list(filter.page(w, sort.desc, limit, page)))
            }
            (K::Query, "order") => {
                let id = arg_str(args, "id").unwrap_or_default();
                Ok(match w.generator.number_of_id(id).and_then(|n| w.order(n)) {
                    Some(o) => self.o(K::Order(Box::new(o))),
                    None => ResolvedValue::null(),
                })
            }
            (K::Query, "orderConnection") => self.connection(args),
            (K::Query, "stockChangeConnection") => self.stock_change_connection(args),
            (K::Query, "counters") => Ok(self.o(K::Counters)),
            (K::Counters, "orders") => {
                let filter = OrderFilter::parse(w, args).map_err(err)?;
                leaf(filter.count(w) as i64)
            }
            (K::Query, "warehouses") => {
                let (limit, page) = limit_page(args)?;
                let fl = where_of(args);
                let ids = int_list(&fl, "id");
                let status = arg_str(&fl, "status");
                let mut rows = Vec::new();
                for wh in &w.warehouses {
                    if in_list(&ids, wh.id)
                        && status.is_none_or(|s| s == wh.status.as_str())
                        && string_match(&fl, "name", &wh.name)?
                    {
                        rows.push(wh);
                    }
                }
                if sort_keys(args).first().is_some_and(|s| s == "id_DESC") {
                    rows.reverse();
                }
                Ok(ResolvedValue::list(
                    paginate(rows, limit, page)
                        .map(move |x| ResolvedValue::object(O { ctx, k: K::Warehouse(x) })),
                ))
            }
            (K::Query, "purchaseOrders") => self.purchase_orders(args),
            (K::Query, "purchaseOrderDeliveries") => self.deliveries(args, None),
            (K::Query, "events") => {
                let limit = arg_i64(args, "limit").unwrap_or(20);
                if !(1..=200).contains(&limit) {
                    return Err(err("Limit must be in range 1 - 200"));
                }
                let fl = where_of(args);
                let ots = parse_object_types(fl.get("objectType"));
                let cts = parse_change_types(fl.get("changeType"));
                let stores = int_list(&fl, "storeId");
                let markets = int_list(&fl, "marketId");
                let evs = ctx.sim.inner.events.pending_in_markets(
                    &ctx.token.integration,
                    ots.as_deref(),
                    cts.as_deref(),
                    stores.as_deref(),
                    markets.as_deref(),
                    limit as usize,
                );
                Ok(ResolvedValue::list(
                    evs.into_iter().map(move |e| ResolvedValue::object(O { ctx, k: K::Event(e) })),
                ))
            }
            (K::Query, "eventListeners") => {
                let ls = ctx.sim.inner.events.listeners(&ctx.token.integration);
                Ok(ResolvedValue::list(
                    ls.into_iter()
                        .map(move |l| ResolvedValue::object(O { ctx, k: K::Listener(l) })),
                ))
            }
            (K::Query, "rateLimits") => {
                let rows = ctx.sim.inner.limiter.snapshot(std::time::Instant::now());
                Ok(ResolvedValue::list(
                    rows.into_iter()
                        .map(move |r| ResolvedValue::object(O { ctx, k: K::RateLimit(r) })),
                ))
            }
            (K::Mutation, "setEventListeners") => {
                let input = listener_input(args);
                let ls = ctx.sim.inner.events.set_listeners_at(
                    &ctx.token.integration,
                    input,
                    ctx.sim.now(),
                );
                Ok(self.o(K::ListenersPayload(ls, Vec::new(), false)))
            }
            (K::Mutation, "unsetEventListeners") => {
                let input = listener_input(args);
                let ls = ctx.sim.inner.events.unset_listeners_at(
                    &ctx.token.integration,
                    input,
                    ctx.sim.now(),
                );
                Ok(self.o(K::ListenersPayload(ls, Vec::new(), true)))
            }
            (K::Mutation, "confirmEvents") => {
                let ids = args
                    .get("input")
                    .and_then(JsonValue::as_object)
                    .and_then(|o| int_list(o, "eventsIds"))
                    .unwrap_or_default();
                let errors = ctx.sim.inner.events.confirm(&ctx.token.integration, &ids);
                Ok(self.o(K::ConfirmPayload(errors)))
            }

            // ----------------------------------------------------------- orders
            (K::Order(o), _) => self.order_field(o, info),
            (K::OrderRef(o), _) => self.order_field(o, info),
            (K::Totals(o), _) => {
                let t = &o.totals;
                let v = match f {
                    "lineValues" => t.line_values,
                    "shipping" => t.shipping,
                    "handling" => t.handling,
                    "discounts" => t.discounts,
                    "taxAdded" => t.tax_added,
                    "taxDeducted" => t.tax_deducted,
                    "taxIncluded" => t.tax_included,
                    _ => return Err(self.unknown_field_error(info)),
                };
                self.money(v, &o.currency, o.currency_base_rate)
            }
            (K::Line(o, l), _) => {
                let incl = args_bool(info, "includingTax", true);
                let cur = &o.currency;
                let rate = o.currency_base_rate;
                match f {
                    "id" => leaf(l.id),
                    "productName" => opt_str(&l.product_name),
                    "productNumber" => leaf(l.product_number.as_str()),
                    "productVariantName" => opt_str(&l.product_variant_name),
                    "size" => leaf(l.size.as_str()),
                    "quantity" => leaf(l.quantity),
                    "cancelledQuantity" => leaf(l.cancelled_quantity),
                    "returnedQuantity" => leaf(l.returned_quantity),
                    "unitPrice" => self.money(
                        if incl { l.unit_price_incl_tax } else { l.unit_price_excl_tax },
                        cur,
                        rate,
                    ),
                    "unitOriginalPrice" => self.money(
                        if incl {
                            l.unit_original_price_incl_tax
                        } else {
                            l.unit_original_price_excl_tax
                        },
                        cur,
                        rate,
                    ),
                    "lineValue" => self.money(
                        if incl { l.line_value_incl_tax() } else { l.line_value_excl_tax() },
                        cur,
                        rate,
                    ),
                    "discountPercent" => leaf(l.discount_percent),
                    "taxPercent" => leaf(l.tax_percent),
                    "product" => Ok(self.product_ref(l.size_id)),
                    "productVariant" => Ok(self.variant_ref(l.size_id)),
                    "productSize" => Ok(self.size_ref(l.size_id)),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            (K::Money(minor, cur, rate), _) => match f {
                "value" => leaf(cur.major_f64(*minor)),
                "valueInCents" => leaf(*minor),
                "formattedValue" => leaf(cur.format(*minor)),
                "currency" => Ok(self.o(K::Currency(cur))),
                "conversionRate" => leaf(*rate),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Currency(c), _) => match f {
                "id" => leaf(c.id),
                "code" => leaf(c.code.as_str()),
                "name" => leaf(c.name.as_str()),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Store(s), _) => match f {
                "id" => leaf(s.id),
                "name" => leaf(s.name.as_str()),
                "type" => leaf(s.store_type.as_str()),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Market(id, name), _) => match f {
                "id" => leaf(*id),
                "name" => leaf(*name),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Pricelist(p), _) => match f {
                "id" => leaf(p.id),
                "name" => leaf(p.name.as_str()),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Address(a), _) => match f {
                "firstName" => opt_str(&a.first_name),
                "lastName" => opt_str(&a.last_name),
                "companyName" => opt_str(&a.company_name),
                "attention" => opt_str(&a.attention),
                "address1" => opt_str(&a.address1),
                "address2" => opt_str(&a.address2),
                "city" => opt_str(&a.city),
                "zipCode" => opt_str(&a.zip_code),
                "stateOrProvince" => opt_str(&a.state_or_province),
                "state" => Ok(ResolvedValue::null()),
                "country" => Ok(match &a.country {
                    Some(c) => self.o(K::Country(c)),
                    None => ResolvedValue::null(),
                }),
                "email" => opt_str(&a.email),
                "phoneNumber" => opt_str(&a.phone_number),
                "cellPhoneNumber" => opt_str(&a.cell_phone_number),
                "vatNumber" => opt_str(&a.vat_number),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Country(c), _) => match f {
                "id" => leaf(c.id),
                "name" => leaf(c.name.as_str()),
                "code" => leaf(c.code.as_str()),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Customer(c), _) => match f {
                "id" => leaf(c.id),
                "email" => leaf(c.email.as_str()),
                "firstName" => opt_str(&c.first_name),
                "lastName" => opt_str(&c.last_name),
                "attributes" => attributes_list(ctx, &c.attributes, args),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Account(a), _) => match f {
                "id" => leaf(a.id),
                "name" => leaf(a.name.as_str()),
                "attributes" => attributes_list(ctx, &a.attributes, args),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Attribute(a), _) => match f {
                "type" => Ok(self.o(K::AttributeType(a))),
                "description" => leaf(a.description.as_str()),
                "objectType" => leaf(a.object_type.as_str()),
                "elements" => Ok(ResolvedValue::list(
                    a.elements
                        .iter()
                        .map(move |e| ResolvedValue::object(O { ctx, k: K::Element(e) })),
                )),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::AttributeType(a), _) => match f {
                "name" => leaf(a.type_name.as_str()),
                "isMapped" => leaf(a.is_mapped),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Element(e), _) => match (f, &e.value) {
                ("key", _) => leaf(e.key.as_str()),
                ("description", _) => leaf(e.description.as_str()),
                ("kind", _) => leaf(e.kind.as_str()),
                ("value", AttributeValue::String { value }) => leaf(value.as_str()),
                ("isMulti", AttributeValue::Choice { is_multi, .. }) => leaf(*is_multi),
                ("selectedValue", AttributeValue::Choice { selected_value, .. }) => {
                    opt_str(selected_value)
                }
                ("selectedValueName", AttributeValue::Choice { selected_value_name, .. }) => {
                    opt_str(selected_value_name)
                }
                ("url", AttributeValue::File { url }) => opt_str(url),
                _ => Err(self.unknown_field_error(info)),
            },

            // --------------------------------------------------------- products
            (K::Product(p), _) => match f {
                "id" => leaf(p.id),
                "name" => leaf(p.name.as_str()),
                "productNumber" => leaf(p.product_number.as_str()),
                "status" => leaf(p.status.as_str()),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Variant(p, v), _) => match f {
                "id" => leaf(v.id),
                "name" => leaf(v.name.as_str()),
                "variantNumber" => leaf(v.variant_number.as_str()),
                "product" => Ok(self.o(K::Product(p))),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Size(p, v, s), _) => match f {
                "id" => leaf(s.id),
                "SKU" => leaf(s.sku.as_str()),
                "EAN" => opt_str(&s.ean),
                "sizeNumber" => leaf(s.size_number.as_str()),
                "description" => leaf(s.description.as_str()),
                "preorder" => leaf(s.preorder),
                "updatedAt" => self.date(info, s.updated_at),
                "productVariant" => Ok(match s.product_variant_id {
                    Some(_) => self.o(K::Variant(p, v)),
                    None => ResolvedValue::null(),
                }),
                "stock" => self.stock_list(args, None, Some(s.id)),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Stock(l), _) => match f {
                "freeToAllocateQuantity" => leaf(l.free_to_allocate()),
                "physicalQuantity" => leaf(l.physical),
                "allocatedQuantity" => leaf(l.allocated),
                "demandQuantity" => leaf(l.demand),
                "unshippedQuantity" => leaf(l.unshipped),
                "availableNowQuantity" => leaf(l.available_now()),
                "incomingQuantity" => leaf(l.incoming()),
                "linkedIncomingQuantity" => leaf(l.linked_incoming),
                "unlinkedIncomingQuantity" => leaf(l.unlinked_incoming),
                "onDeliveryQuantity" => leaf(l.on_delivery),
                "availableQuantity" => leaf(l.available()),
                "productSize" => Ok(self.size_ref(l.size_id)),
                "warehouse" => Ok(self.warehouse_ref(Some(l.warehouse_id))),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Warehouse(wh), _) => match f {
                "id" => leaf(wh.id),
                "name" => leaf(wh.name.as_str()),
                "status" => leaf(wh.status.as_str()),
                "stock" => self.stock_list(args, Some(wh.id), None),
                "stockChanges" => self.warehouse_stock_changes(args, wh.id),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::StockChange(sc), _) => match f {
                "id" => leaf(sc.id),
                "createdAt" => self.date(info, sc.created_at),
                "comment" => opt_str(&sc.comment),
                "type" => leaf(sc.change_type.as_str()),
                "warehouse" => Ok(self.warehouse_ref(Some(sc.warehouse_id))),
                "lines" => {
                    let (limit, page) = limit_page(args)?;
                    Ok(ResolvedValue::list(
                        sc.lines.iter().skip(limit * (page - 1)).take(limit).map(move |l| {
                            ResolvedValue::object(O { ctx, k: K::StockChangeLine(l) })
                        }),
                    ))
                }
                _ => Err(self.unknown_field_error(info)),
            },
            (K::StockChangeLine(l), _) => match f {
                "id" => leaf(l.id),
                "deliveredQuantity" => leaf(l.delivered_quantity),
                "productSize" => Ok(self.size_ref(l.size_id)),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::ScConnection(c), _) => match f {
                "totalCount" => leaf(c.total as i64),
                "edges" => Ok(ResolvedValue::list(c.edges.iter().map(move |(cur, sc)| {
                    ResolvedValue::object(O { ctx, k: K::ScEdge(cur, sc) })
                }))),
                "pageInfo" => Ok(self.o(K::ScPageInfo(c))),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::ScEdge(cur, sc), _) => match f {
                "cursor" => leaf(*cur),
                "node" => Ok(self.o(K::StockChange(sc))),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::ScPageInfo(c), _) => {
                let cursors =
                    (c.edges.first().map(|e| e.0.as_str()), c.edges.last().map(|e| e.0.as_str()));
                page_info(f, c.has_next, c.has_prev, cursors)
                    .ok_or_else(|| self.unknown_field_error(info))
            }

            // ----------------------------------------------------- indeliveries
            (K::Supplier(s), _) => match f {
                "id" => leaf(s.id),
                "name" => leaf(s.name.as_str()),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::PurchaseOrder(p), _) => match f {
                "id" => leaf(p.id),
                "status" => leaf(p.status.as_str()),
                "createdAt" => self.date(info, p.created_at),
                "updatedAt" => self.date(info, p.updated_at),
                "ETA" => self.opt_date(info, p.eta),
                "confirmedETD" => self.opt_date(info, p.confirmed_etd),
                "ourReference" => opt_str(&p.our_reference),
                "productsCount" => leaf(p.products_count()),
                "productsTotal" => self.money(p.products_total(), &p.currency, p.conversion_rate),
                "currency" => Ok(self.o(K::Currency(&p.currency))),
                "supplier" => Ok(self.o(K::Supplier(&p.supplier))),
                "preferredWarehouse" => Ok(self.warehouse_ref(p.preferred_warehouse_id)),
                "lines" => Ok(ResolvedValue::list(
                    p.lines
                        .iter()
                        .map(move |l| ResolvedValue::object(O { ctx, k: K::PoLine(p, l) })),
                )),
                "purchaseOrderDeliveries" => self.deliveries(args, Some(p.id)),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::PoLine(p, l), _) => match f {
                "quantity" => leaf(l.quantity),
                "linkedQuantity" => leaf(l.linked_quantity),
                "unlinkedQuantity" => leaf(l.unlinked_quantity),
                "unitCost" => self.money(l.unit_cost, &p.currency, p.conversion_rate),
                "product" => Ok(self.product_ref(l.size_id)),
                "productVariant" => Ok(self.variant_ref(l.size_id)),
                "productSize" => Ok(self.size_ref(l.size_id)),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Delivery(d), _) => {
                let po = w.purchase_orders.iter().find(|p| p.id == d.purchase_order_id);
                let Some(po) = po else {
                    return Err(err(format!(
                        "purchase order {} of delivery {} is missing",
                        d.purchase_order_id, d.id
                    )));
                };
                match f {
                    "id" => leaf(d.id),
                    "number" => leaf(d.number.as_str()),
                    "status" => leaf(d.status.as_str()),
                    "createdAt" => self.date(info, d.created_at),
                    "ETA" => self.opt_date(info, d.eta),
                    "exFactoryDate" => self.opt_date(info, d.ex_factory_date),
                    "shippingCost" => self.money(d.shipping_cost, &po.currency, po.conversion_rate),
                    "otherCosts" => self.money(d.other_costs, &po.currency, po.conversion_rate),
                    "currency" => Ok(self.o(K::Currency(&po.currency))),
                    "supplier" => Ok(self.o(K::Supplier(&po.supplier))),
                    "purchaseOrder" => Ok(self.o(K::PurchaseOrder(po))),
                    "warehouse" => Ok(self.warehouse_ref(d.warehouse_id)),
                    "lines" => {
                        Ok(ResolvedValue::list(d.lines.iter().map(move |l| {
                            ResolvedValue::object(O { ctx, k: K::DeliveryLine(d, l) })
                        })))
                    }
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            (K::DeliveryLine(d, l), _) => {
                let po = w.purchase_orders.iter().find(|p| p.id == d.purchase_order_id);
                let Some(po) = po else {
                    return Err(err(format!(
                        "purchase order {} of delivery {} is missing",
                        d.purchase_order_id, d.id
                    )));
                };
                match f {
                    "quantity" => leaf(l.quantity),
                    "linkedQuantity" => leaf(l.linked_quantity),
                    "unlinkedQuantity" => leaf(l.unlinked_quantity),
                    "unitCost" => self.money(l.unit_cost, &po.currency, po.conversion_rate),
                    "landedCost" => self.money(l.landed_cost, &po.currency, po.conversion_rate),
                    "product" => Ok(self.product_ref(l.size_id)),
                    "productVariant" => Ok(self.variant_ref(l.size_id)),
                    "productSize" => Ok(self.size_ref(l.size_id)),
                    _ => Err(self.unknown_field_error(info)),
                }
            }

            // ------------------------------------------------------ connections
            (K::Connection(c), _) => {
                match f {
                    "totalCount" => leaf(c.total as i64),
                    "edges" => Ok(ResolvedValue::list(c.edges.iter().map(move |(cur, o)| {
                        ResolvedValue::object(O { ctx, k: K::Edge(cur, o) })
                    }))),
                    "pageInfo" => Ok(self.o(K::PageInfo(c))),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            (K::Edge(cur, o), _) => match f {
                "cursor" => leaf(*cur),
                "node" => Ok(self.o(K::OrderRef(o))),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::PageInfo(c), _) => {
                let cursors =
                    (c.edges.first().map(|e| e.0.as_str()), c.edges.last().map(|e| e.0.as_str()));
                page_info(f, c.has_next, c.has_prev, cursors)
                    .ok_or_else(|| self.unknown_field_error(info))
            }

            // ----------------------------------------------------------- events
            (K::Event(e), _) => match f {
                "id" => leaf(e.id),
                "objectType" => leaf(e.object_type.as_str()),
                "changeType" => leaf(e.change_type.as_str()),
                "objectReference" => leaf(e.object_reference),
                "createdAt" => self.date(info, e.created_at),
                "store" => {
                    Ok(match e.store_id.and_then(|id| ctx.stores.iter().find(|s| s.id == id)) {
                        Some(s) => self.o(K::Store(s)),
                        None => ResolvedValue::null(),
                    })
                }
                "market" => {
                    Ok(match e.market_id.and_then(|id| ctx.markets.iter().find(|m| m.id == id)) {
                        Some(m) => self.o(K::Market(m.id, &m.name)),
                        None => ResolvedValue::null(),
                    })
                }
                "object" => self.event_object(e),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::Listener(l), _) => match f {
                "integrationName" => leaf(l.integration.as_str()),
                "objectType" => leaf(l.object_type.as_str()),
                "changeTypes" => Ok(ResolvedValue::list(
                    l.change_types.iter().map(|c| ResolvedValue::leaf(c.as_str())),
                )),
                "createdAt" => self.date(info, l.created_at),
                "updatedAt" => self.date(info, l.updated_at),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::ListenersPayload(ls, errors, _), _) => match f {
                "eventListeners" => Ok(ResolvedValue::list(
                    ls.iter()
                        .map(move |l| ResolvedValue::object(O { ctx, k: K::Listener(l.clone()) })),
                )),
                "userErrors" => Ok(user_errors(ctx, errors)),
                "userWarnings" => Ok(ResolvedValue::list(std::iter::empty())),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::ConfirmPayload(errors), _) => match f {
                "userErrors" => Ok(user_errors(ctx, errors)),
                "userWarnings" => Ok(ResolvedValue::list(std::iter::empty())),
                _ => Err(self.unknown_field_error(info)),
            },
            (K::UserError(m, path), _) => match f {
                "message" => leaf(m.as_str()),
                "path" => {
                    Ok(ResolvedValue::list(path.iter().map(|p| ResolvedValue::leaf(p.as_str()))))
                }
                _ => Err(self.unknown_field_error(info)),
            },
            (K::RateLimit(r), _) => match f {
                "type" => leaf(r.kind),
                "intervalSeconds" => leaf(r.interval),
                "quota" => leaf(r.quota as i64),
                "usedQuota" => leaf(r.used as i64),
                "remainingQuota" => leaf(r.remaining as i64),
                _ => Err(self.unknown_field_error(info)),
            },
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

impl<'c> O<'c> {
    fn order_field<'a>(&'a self, o: &'a Order, info: &'a ResolveInfo<'a>) -> R<'a> {
        let f = info.field_name();
        let args = info.arguments();
        let ctx = self.ctx;
        let cur = &o.currency;
        let rate = o.currency_base_rate;
        match f {
            "id" => leaf(o.id.as_str()),
            "number" => leaf(o.number),
            "status" => leaf(o.status.as_str()),
            "isOnHold" => leaf(o.is_on_hold),
            "createdAt" | "orderDate" => self.date(info, o.created_at),
            "updatedAt" => self.date(info, o.updated_at),
            "store" => Ok(self.o(K::Store(&o.store))),
            "market" => Ok(self.o(K::Market(o.market_id, &o.market_name))),
            "pricelist" => Ok(self.o(K::Pricelist(&o.pricelist))),
            "currencyBaseRate" => leaf(rate),
            "grandTotal" => self.money(
                if args_bool(info, "includingTax", true) {
                    o.totals.grand_total_incl_tax
                } else {
                    o.totals.grand_total_excl_tax
                },
                cur,
                rate,
            ),
            "totals" => Ok(self.o(K::Totals(o))),
            "shippingAddress" => Ok(match &o.shipping_address {
                Some(a) => self.o(K::Address(a)),
                None => ResolvedValue::null(),
            }),
            "billingAddress" => Ok(match &o.billing_address {
                Some(a) => self.o(K::Address(a)),
                None => ResolvedValue::null(),
            }),
            "otherComment" => leaf(o.other_comment.as_str()),
            "lines" => {
                let all = args_bool(info, "includeFullyCancelled", false);
                Ok(ResolvedValue::list(
                    o.lines
                        .iter()
                        .filter(move |l| all || l.quantity > 0)
                        .map(move |l| ResolvedValue::object(O { ctx, k: K::Line(o, l) })),
                ))
            }
            "customer" => Ok(match &o.party {
                OrderParty::DirectToConsumer { customer: Some(c), .. } => self.o(K::Customer(c)),
                _ => ResolvedValue::null(),
            }),
            "attributes" => {
                let attrs: &'a [Attribute] = match &o.party {
                    OrderParty::DirectToConsumer { attributes, .. } => attributes,
                    _ => &[],
                };
                attributes_list(ctx, attrs, args)
            }
            "account" => Ok(match &o.party {
                OrderParty::Wholesale { account: Some(a), .. } => self.o(K::Account(a)),
                _ => ResolvedValue::null(),
            }),
            "purchaseOrderNumber" => match &o.party {
                OrderParty::Wholesale { purchase_order_number, .. } => {
                    opt_str(purchase_order_number)
                }
                _ => Ok(ResolvedValue::null()),
            },
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

fn user_errors<'a>(ctx: &'a Ctx<'a>, errors: &'a [String]) -> ResolvedValue<'a> {
    ResolvedValue::list(errors.iter().map(move |m| {
        ResolvedValue::object(O {
            ctx,
            k: K::UserError(m.clone(), vec!["input".into(), "eventsIds".into()]),
        })
    }))
}

fn attributes_list<'a>(ctx: &'a Ctx<'a>, attrs: &'a [Attribute], args: &JsonMap) -> R<'a> {
    let names =
        args.get("where").and_then(JsonValue::as_object).and_then(|w| str_list(w, "typeName"));
    Ok(ResolvedValue::list(
        attrs
            .iter()
            .filter(move |a| names.as_ref().is_none_or(|n| n.contains(&a.type_name)))
            .map(move |a| ResolvedValue::object(O { ctx, k: K::Attribute(a) })),
    ))
}

impl<'c> O<'c> {
    fn event_object(&self, e: &crate::events::Event) -> R<'c> {
        let w = self.ctx.w;
        let r = e.object_reference;
        let v = match e.object_type {
            ObjectType::Order => match w.order(r) {
                Some(o) => self.o(K::Order(Box::new(o))),
                None => ResolvedValue::null(),
            },
            ObjectType::PurchaseOrder => match w.purchase_orders.iter().find(|p| p.id == r) {
                Some(p) => self.o(K::PurchaseOrder(p)),
                None => ResolvedValue::null(),
            },
            ObjectType::PurchaseOrderDelivery => match w.deliveries.iter().find(|d| d.id == r) {
                Some(d) => self.o(K::Delivery(d)),
                None => ResolvedValue::null(),
            },
            ObjectType::ProductSize => self.size_ref(r),
            ObjectType::Warehouse => self.warehouse_ref(Some(r)),
            ObjectType::StockChange => {
                match usize::try_from(r - 1).ok().and_then(|i| w.stock_changes.get(i)) {
                    Some(sc) => self.o(K::StockChange(sc)),
                    None => ResolvedValue::null(),
                }
            }
        };
        // The object's permission depends on its runtime type.
        if let ResolvedValue::Object(obj) = &v
            && let Some(p) = auth::permission_for_type(obj.type_name())
        {
            if !self.ctx.token.has(p) {
                return Err(err(auth::permission_error_message(p, "object")));
            }
            self.ctx.perms.borrow_mut().insert(p);
        }
        Ok(v)
    }
}
