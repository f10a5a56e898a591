//! Access tokens and Centra's permissions: who may call the API, and what each field needs.
//!
//! A request carries its token as `Authorization: Bearer <token>` or as the
//! cookie `graphql-access=<token>` (the header wins when both are present).
//! A token has an integration name (its event queue), a set of permissions
//! and an optional expiry compared with the *simulated* clock. A missing,
//! unknown or expired token is answered with HTTP 401 and
//! [`AuthError::graphql_body`] (`extensions.category: "authentication"`, a
//! value the simulator invents: Centra does not document this case).
//!
//! Permissions are named `Type:read`/`Type:write`, with nested ones
//! `Type.field:read` for addresses, attributes and stock, as in Centra since
//! 3.7. [`permission_for`] says which permission a field needs: root queries
//! need the read permission of what they list, fields whose object type has
//! its own read permission ([`permission_for_type`]) need it wherever they
//! appear, and the nested fields need their nested permission. `rateLimits`
//! and `counters` need none (`counters.orders` needs `Order:read`). A field
//! the token lacks is answered with Centra's error:
//! [`permission_error_message`], `extensions.category: "authorization"`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};

/// Every permission the simulator checks, sorted.
pub const ALL_PERMISSIONS: &[&str] = &[
    "Account.attributes:read",
    "Account:read",
    "Customer.attributes:read",
    "Customer:read",
    "Event:read",
    "Event:write",
    "Market:read",
    "Order.attributes:read",
    "Order.billingAddress:read",
    "Order.shippingAddress:read",
    "Order:read",
    "Pricelist:read",
    "Product:read",
    "ProductSize.stock:read",
    "ProductSize:read",
    "ProductVariant:read",
    "PurchaseOrder:read",
    "PurchaseOrderDelivery:read",
    "StockChange:read",
    "Store:read",
    "Supplier:read",
    "Warehouse.stock:read",
    "Warehouse:read",
];

/// A token the simulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// The secret bearer token (never printed: `Debug` redacts it).
    pub token: String,
    /// The integration name; tokens with the same name share one event queue.
    pub integration: String,
    /// Permissions such as `Order:read`; `*` grants all.
    pub permissions: BTreeSet<String>,
    /// When the token stops working, in simulated time; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TokenSpec {
    /// A token holding every permission in [`ALL_PERMISSIONS`], never expiring.
    pub fn all_permissions(token: impl Into<String>, integration: impl Into<String>) -> Self {
        Self::with_permissions(token, integration, ALL_PERMISSIONS.iter().copied())
    }

    /// A token holding exactly `permissions`, never expiring.
    pub fn with_permissions<'a>(
        token: impl Into<String>,
        integration: impl Into<String>,
        permissions: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            token: token.into(),
            integration: integration.into(),
            permissions: permissions.into_iter().map(str::to_string).collect(),
            expires_at: None,
        }
    }

    /// The same token, expiring at `at` (simulated time).
    pub fn expiring_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Whether the token holds `permission` (or the wildcard `*`).
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission) || self.permissions.contains("*")
    }
}

impl fmt::Debug for TokenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSpec")
            .field("token", &"[redacted]")
            .field("integration", &self.integration)
            .field("permissions", &self.permissions)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a request was not authenticated; `Display` is the message of the 401 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Neither an `Authorization: Bearer` header nor a `graphql-access` cookie.
    #[error(
        "Access token is missing. Send it as \"Authorization: Bearer <token>\" or as the graphql-access cookie."
    )]
    Missing,
    /// A token the simulator does not know (or a revoked one).
    #[error("Access token is invalid.")]
    Unknown,
    /// A known token past its expiry.
    #[error("Access token has expired.")]
    Expired,
}

impl AuthError {
    /// The `extensions.category` of the error: `authentication` (invented).
    pub const CATEGORY: &'static str = "authentication";

    /// The JSON body of the 401 answer: a GraphQL error with
    /// `extensions.category: "authentication"`, and the top-level
    /// `extensions` every response carries (complexity 0, no permissions used).
    pub fn graphql_body(&self) -> serde_json::Value {
        serde_json::json!({
            "errors": [{ "message": self.to_string(), "extensions": { "category": Self::CATEGORY } }],
            "extensions": { "complexity": 0, "permissionsUsed": [] }
        })
    }
}

/// The tokens the simulator accepts. Thread-safe; tokens can be added while serving.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: RwLock<HashMap<String, Arc<TokenSpec>>>,
}

impl TokenStore {
    /// A store holding `tokens` (a later duplicate token replaces an earlier one).
    pub fn new(tokens: Vec<TokenSpec>) -> Self {
        let store = Self::default();
        for t in tokens {
            store.add(t);
        }
        store
    }

    /// Adds a token, replacing one with the same token string.
    pub fn add(&self, t: TokenSpec) {
        // Every write is a single insert or remove, so a poisoned map is consistent.
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        tokens.insert(t.token.clone(), Arc::new(t));
    }

    /// Revokes a token; returns whether it was known.
    pub fn revoke(&self, token: &str) -> bool {
        self.tokens.write().unwrap_or_else(PoisonError::into_inner).remove(token).is_some()
    }

    /// The token of a request: the bearer token of `Authorization`, else the
    /// `graphql-access` cookie; checked for existence and for expiry at `now`
    /// (simulated time; a token expiring exactly at `now` is expired).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<Arc<TokenSpec>, AuthError> {
        let presented =
            bearer_token(headers).or_else(|| cookie_token(headers)).ok_or(AuthError::Missing)?;
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        let spec = tokens.get(presented).ok_or(AuthError::Unknown)?;
        if spec.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Expired);
        }
        Ok(spec.clone())
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers.get_all(header::AUTHORIZATION).iter().find_map(|value| {
        let (scheme, token) = value.to_str().ok()?.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    })
}

/// The value of the `graphql-access` cookie, from any `Cookie` header.
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let value = value.trim().trim_matches('"');
            (name.trim() == "graphql-access" && !value.is_empty()).then_some(value)
        })
}

/// Centra's message for a missing permission, e.g.
/// `You need Order:read permission to access orders.`
pub fn permission_error_message(permission: &str, field: &str) -> String {
    format!("You need {permission} permission to access {field}.")
}

/// The read permission an object of type `type_name` needs wherever a field
/// returns it (`DirectToConsumerOrder` → `Order:read`); `None` for value types
/// (`MonetaryValue`, `Currency`, `Address`, …) covered by their parent. The
/// executor uses it for members of the `EventTarget` union (`Event.object`),
/// whose permission depends on the object's runtime type.
pub fn permission_for_type(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "Order" | "DirectToConsumerOrder" | "WholesaleOrder" => "Order:read",
        "Customer" => "Customer:read",
        "Account" => "Account:read",
        "Store" => "Store:read",
        "Market" => "Market:read",
        "Pricelist" => "Pricelist:read",
        "Product" => "Product:read",
        "ProductVariant" => "ProductVariant:read",
        "ProductSize" => "ProductSize:read",
        "Warehouse" => "Warehouse:read",
        "Supplier" => "Supplier:read",
        "PurchaseOrder" => "PurchaseOrder:read",
        "PurchaseOrderDelivery" => "PurchaseOrderDelivery:read",
        "Event" => "Event:read",
        "StockChange" => "StockChange:read",
        _ => return None,
    })
}

/// The permission field `field` of type `parent_type` needs, or `None`.
/// `parent_type` may be an interface (`Order`, `OrderLine`) or an object type
/// implementing it (`DirectToConsumerOrder`, `ProductOrderLine`): both give
/// the same answer. `Event.object` gives `None`: check
/// [`permission_for_type`] of the object's runtime type instead.
pub fn permission_for(parent_type: &str, field: &str) -> Option<&'static str> {
    let order = matches!(parent_type, "Order" | "DirectToConsumerOrder" | "WholesaleOrder");
    let line = matches!(
        parent_type,
        "OrderLine" | "ProductOrderLine" | "PurchaseOrderLine" | "PurchaseOrderDeliveryLine"
    );
    Some(match (parent_type, field) {
        ("Query", "orders" | "order" | "orderConnection") => "Order:read",
        ("Query", "warehouses") => "Warehouse:read",
        ("Query", "purchaseOrders") => "PurchaseOrder:read",
        ("Query", "purchaseOrderDeliveries") => "PurchaseOrderDelivery:read",
        ("Query", "events" | "eventListeners") => "Event:read",
        ("Mutation", "setEventListeners" | "unsetEventListeners" | "confirmEvents") => {
            "Event:write"
        }
        ("Counters", "orders") => "Order:read",
        (_, "shippingAddress") if order => "Order.shippingAddress:read",
        (_, "billingAddress") if order => "Order.billingAddress:read",
        (_, "store") if order => "Store:read",
        (_, "market") if order => "Market:read",
        (_, "pricelist") if order => "Pricelist:read",
        ("DirectToConsumerOrder", "attributes") => "Order.attributes:read",
        ("DirectToConsumerOrder", "customer") => "Customer:read",
        ("WholesaleOrder", "account") => "Account:read",
        ("Customer", "attributes") => "Customer.attributes:read",
        ("Account", "attributes") => "Account.attributes:read",
        ("OrderEdge", "node") => "Order:read",
        (_, "product") if line => "Product:read",
        (_, "productVariant") if line => "ProductVariant:read",
        (_, "productSize") if line => "ProductSize:read",
        ("ProductVariant", "product") => "Product:read",
        ("ProductSize", "productVariant") => "ProductVariant:read",
        ("ProductSize", "stock") => "ProductSize.stock:read",
        ("Warehouse", "stock") => "Warehouse.stock:read",
        ("Stock", "productSize") => "ProductSize:read",
        ("Stock", "warehouse") => "Warehouse:read",
        ("PurchaseOrder", "supplier") => "Supplier:read",
        ("PurchaseOrder", "preferredWarehouse") => "Warehouse:read",
        ("PurchaseOrder", "purchaseOrderDeliveries") => "PurchaseOrderDelivery:read",
        ("PurchaseOrderDelivery", "supplier") => "Supplier:read",
        ("PurchaseOrderDelivery", "purchaseOrder") => "PurchaseOrder:read",
        ("PurchaseOrderDelivery", "warehouse") => "Warehouse:read",
        ("Event", "store") => "Store:read",
        ("Event", "market") => "Market:read",
        ("Query", "stockChangeConnection") => "StockChange:read",
        ("Warehouse", "stockChanges") => "StockChange:read",
        ("StockChangeEdge", "node") => "StockChange:read",
        ("StockChange", "warehouse") => "Warehouse:read",
        ("StockChangeLine", "productSize") => "ProductSize:read",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use apollo_compiler::schema::ExtendedType;
    use axum::http::HeaderValue;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn store() -> TokenStore {
        TokenStore::new(vec![
            TokenSpec::all_permissions("good", "erp"),
            TokenSpec::with_permissions("reader", "bi", ["Warehouse:read"]).expiring_at(at(100)),
        ])
    }

    #[test]
    fn bearer_header_and_cookie_both_authenticate() {
        let store = store();
        let t =
            store.authenticate(&headers(&[(header::AUTHORIZATION, "Bearer good")]), at(0)).unwrap();
        assert_eq!(t.integration, "erp");
        let t = store
            .authenticate(&headers(&[(header::AUTHORIZATION, "bearer   reader ")]), at(0))
            .unwrap();
        assert_eq!(t.integration, "bi");
        let t = store
            .authenticate(&headers(&[(header::COOKIE, "a=1; graphql-access=reader; b=2")]), at(0))
            .unwrap();
        assert_eq!(t.integration, "bi");
        // The header wins over the cookie.
        let both = headers(&[
            (header::AUTHORIZATION, "Bearer good"),
            (header::COOKIE, "graphql-access=reader"),
        ]);
        assert_eq!(store.authenticate(&both, at(0)).unwrap().integration, "erp");
        // A non-bearer Authorization falls back to the cookie.
        let basic = headers(&[
            (header::AUTHORIZATION, "Basic Zm9vOmJhcg=="),
            (header::COOKIE, "graphql-access=good"),
        ]);
        assert_eq!(store.authenticate(&basic, at(0)).unwrap().integration, "erp");
    }

    #[test]
    fn missing_unknown_and_expired_tokens_are_refused() {
        let store = store();
        let check = |h: HeaderMap, now: DateTime<Utc>, expected: AuthError| {
            assert_eq!(store.authenticate(&h, now).unwrap_err(), expected);
        };
        check(HeaderMap::new(), at(0), AuthError::Missing);
        check(headers(&[(header::AUTHORIZATION, "Bearer ")]), at(0), AuthError::Missing);
        check(headers(&[(header::AUTHORIZATION, "Basic Zm9vOmJhcg==")]), at(0), AuthError::Missing);
        check(headers(&[(header::COOKIE, "other=good")]), at(0), AuthError::Missing);
        check(headers(&[(header::AUTHORIZATION, "Bearer nope")]), at(0), AuthError::Unknown);
        check(headers(&[(header::AUTHORIZATION, "Bearer GOOD")]), at(0), AuthError::Unknown);
        check(headers(&[(header::COOKIE, "graphql-access=nope")]), at(0), AuthError::Unknown);
        // Expiry is checked against the simulated clock passed in.
        let reader = || headers(&[(header::AUTHORIZATION, "Bearer reader")]);
        assert!(store.authenticate(&reader(), at(99)).is_ok());
        check(reader(), at(100), AuthError::Expired);
        check(reader(), at(10_000), AuthError::Expired);
    }

    #[test]
    fn tokens_can_be_added_replaced_and_revoked() {
        let store = store();
        let h = headers(&[(header::AUTHORIZATION, "Bearer late")]);
        assert_eq!(store.authenticate(&h, at(0)).unwrap_err(), AuthError::Unknown);
        store.add(TokenSpec::all_permissions("late", "wms"));
        assert_eq!(store.authenticate(&h, at(0)).unwrap().integration, "wms");
        store.add(TokenSpec::all_permissions("late", "wms2"));
        assert_eq!(store.authenticate(&h, at(0)).unwrap().integration, "wms2");
        assert!(store.revoke("late"));
        assert!(!store.revoke("late"));
        assert_eq!(store.authenticate(&h, at(0)).unwrap_err(), AuthError::Unknown);
    }

    #[test]
    fn error_body_is_graphql_shaped_and_has_no_token() {
        let body = AuthError::Unknown.graphql_body();
        assert_eq!(body["errors"][0]["message"], "Access token is invalid.");
        assert_eq!(body["errors"][0]["extensions"]["category"], "authentication");
        assert_eq!(body["extensions"]["complexity"], 0);
        assert_eq!(body["extensions"]["permissionsUsed"], serde_json::json!([]));
        assert_eq!(AuthError::Expired.to_string(), "Access token has expired.");
        assert!(AuthError::Missing.to_string().contains("graphql-access"));
    }

    #[test]
    fn debug_redacts_the_token() {
        let t = TokenSpec::all_permissions("s3cr3t-token", "erp");
        let printed = format!("{t:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("erp"));
    }

    #[test]
    fn permissions_are_exact_with_a_wildcard() {
        let t = TokenSpec::with_permissions("t", "i", ["Order:read"]);
        assert!(t.has("Order:read"));
        assert!(!t.has("Order.shippingAddress:read"));
        assert!(!t.has("order:read"));
        assert!(TokenSpec::with_permissions("t", "i", ["*"]).has("Event:write"));
        let all = TokenSpec::all_permissions("t", "i");
        assert!(ALL_PERMISSIONS.iter().all(|p| all.has(p)));
        assert!(!all.has("Shipment:read"));
        assert_eq!(
            permission_error_message("Order:read", "orders"),
            "You need Order:read permission to access orders."
        );
    }

    #[test]
    fn nested_permissions_are_centras() {
        let check = |parent: &str, field: &str, expected: Option<&str>| {
            assert_eq!(permission_for(parent, field), expected, "{parent}.{field}");
        };
        for order in ["Order", "DirectToConsumerOrder", "WholesaleOrder"] {
            check(order, "shippingAddress", Some("Order.shippingAddress:read"));
            check(order, "billingAddress", Some("Order.billingAddress:read"));
            check(order, "lines", None);
            check(order, "totals", None);
        }
        check("DirectToConsumerOrder", "attributes", Some("Order.attributes:read"));
        check("Customer", "attributes", Some("Customer.attributes:read"));
        check("Account", "attributes", Some("Account.attributes:read"));
        check("Warehouse", "stock", Some("Warehouse.stock:read"));
        check("ProductSize", "stock", Some("ProductSize.stock:read"));
        check("Query", "purchaseOrders", Some("PurchaseOrder:read"));
        check("Query", "purchaseOrderDeliveries", Some("PurchaseOrderDelivery:read"));
        check("PurchaseOrder", "supplier", Some("Supplier:read"));
        check("Query", "events", Some("Event:read"));
        check("Mutation", "confirmEvents", Some("Event:write"));
        check("Query", "rateLimits", None);
        check("Counters", "orders", Some("Order:read"));
        check("MonetaryValue", "currency", None);
        check("Event", "object", None);
    }

    /// Walks every field of the served schema so that no field that returns
    /// a permission-guarded type, and no root field, is forgotten.
    #[test]
    fn every_field_of_the_schema_is_covered() {
        let schema = apollo_compiler::Schema::parse_and_validate(
            include_str!("../../centra/schema.graphql"),
            "schema.graphql",
        )
        .unwrap();
        // Fields needing another permission than the read permission of their
        // type: nested ones, and roots returning wrappers (connections, payloads).
        let nested: HashMap<(&str, &str), &str> = [
            (("Order", "shippingAddress"), "Order.shippingAddress:read"),
            (("Order", "billingAddress"), "Order.billingAddress:read"),
            (("DirectToConsumerOrder", "shippingAddress"), "Order.shippingAddress:read"),
            (("DirectToConsumerOrder", "billingAddress"), "Order.billingAddress:read"),
            (("WholesaleOrder", "shippingAddress"), "Order.shippingAddress:read"),
            (("WholesaleOrder", "billingAddress"), "Order.billingAddress:read"),
            (("DirectToConsumerOrder", "attributes"), "Order.attributes:read"),
            (("Customer", "attributes"), "Customer.attributes:read"),
            (("Account", "attributes"), "Account.attributes:read"),
            (("Warehouse", "stock"), "Warehouse.stock:read"),
            (("ProductSize", "stock"), "ProductSize.stock:read"),
            (("Counters", "orders"), "Order:read"),
            (("Query", "orderConnection"), "Order:read"),
            (("Query", "stockChangeConnection"), "StockChange:read"),
            (("Query", "eventListeners"), "Event:read"),
            (("Mutation", "setEventListeners"), "Event:write"),
            (("Mutation", "unsetEventListeners"), "Event:write"),
            (("Mutation", "confirmEvents"), "Event:write"),
        ]
        .into_iter()
        .collect();
        let free_roots = ["rateLimits", "counters"];
        let mut used = BTreeSet::new();
        let mut root_fields = 0;
        for (type_name, ty) in &schema.types {
            if ty.is_built_in() {
                continue;
            }
            let fields = match ty {
                ExtendedType::Object(o) => &o.fields,
                ExtendedType::Interface(i) => &i.fields,
                _ => continue,
            };
            for (field_name, field) in fields {
                let (parent, name) = (type_name.as_str(), field_name.as_str());
                let returns = field.ty.inner_named_type().as_str();
                let expected = if let Some(p) = nested.get(&(parent, name)) {
                    Some(*p)
                } else if parent == "Query" && free_roots.contains(&name) {
                    None
                } else if let Some(p) = permission_for_type(returns) {
                    Some(p)
                } else if matches!(schema.types.get(returns), Some(ExtendedType::Union(_))) {
                    // Checked per runtime type; every member must have a permission.
                    let Some(ExtendedType::Union(u)) = schema.types.get(returns) else {
                        unreachable!()
                    };
                    for member in &u.members {
                        assert!(
                            permission_for_type(member.as_str()).is_some(),
                            "{member} in {returns}"
                        );
                    }
                    None
                } else {
                    None
                };
                if matches!(parent, "Query" | "Mutation") {
                    root_fields += 1;
                    assert_eq!(
                        expected.is_some(),
                        !free_roots.contains(&name),
                        "root field {parent}.{name}"
                    );
                }
                let got = permission_for(parent, name);
                assert_eq!(got, expected, "{parent}.{name}: {returns}");
                used.extend(got);
            }
        }
        assert_eq!(root_fields, 14);
        // ALL_PERMISSIONS is exactly what the schema's fields need, sorted.
        assert_eq!(used.into_iter().collect::<Vec<_>>(), ALL_PERMISSIONS);
    }
}
