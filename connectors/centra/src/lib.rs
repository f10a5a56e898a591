//! The Centra GraphQL Integration API source: a rate-limit aware GraphQL
//! client and its streams.
//!
//! [`describe`] is what the connector tells the mapping compiler and the
//! runner (schema, stream record types, money and attribute shapes).
//!
//! Build a source from its configuration with [`CentraConfig::build`]; the
//! result implements [`cartage_core::Source`] with three streams: `orders`
//! (primary key `id`, cursor `updatedAt`, incremental, upsert), whose
//! records are the raw JSON of each order node, lines inside;
//! `purchase_orders` (the same keys and modes); and `indeliveries` (purchase
//! order deliveries with their lines, read whole each run: Centra cannot
//! filter them by `updatedAt`).
//!
//! - [`client`]: the GraphQL client: bearer token, timeouts, retries with
//!   full-jitter backoff for retriable failures, `Retry-After` by the
//!   server's clock on 429, fatal errors for refused tokens, missing
//!   permissions and invalid queries (backoff, `Retry-After`, capped bodies
//!   and checkpoints come from the shared toolkit, `cartage-http-source`).
//! - [`budget`]: Centra's four rate-limit buckets on the toolkit's budget,
//!   calibrated from the `rateLimits` query, so a sync waits instead of
//!   meeting 429.
//! - [`orders`]: the queries, the default selection and the checkpoint
//!   ([`OrdersState`]); [`source`]: the run loop over `updatedAt` windows.
//! - [`purchase_orders`]: the `purchase_orders` stream, by `updatedAt`
//!   window, walked from its last page down (`purchaseOrders` has no keyset
//!   cursor, and a window's set can only shrink during the walk).
//! - [`window`]: the `updatedAt` windows: the upper bound from the server's
//!   clock within `max_clock_skew_secs` of the local one, the bounds written
//!   as naive time in the instance's zone, safe in the autumn DST fold.
//! - [`deliveries`]: the `indeliveries` stream; `paging`: the walk from the
//!   last page down that both list streams use.
//! - Deleted orders (opt-in, `track_deletions`): read from Centra's
//!   `Order` `DELETED` events after each window and confirmed only once the
//!   batch marking them is committed.

pub mod budget;
pub mod client;
pub mod config;
pub(crate) mod deletions;
pub mod deliveries;
pub mod describe;
pub mod error;
pub mod inventory;
pub mod orders;
pub(crate) mod paging;
pub mod purchase_orders;
pub mod source;
pub mod window;

pub use budget::Budget;
pub use cartage_http_source::{Checkpoint, RetryPolicy};
pub use client::CentraClient;
pub use config::{CentraConfig, Tier};
pub use describe::{CONNECTOR, describe_read, description};
pub use error::CentraError;
pub use orders::{DEFAULT_ORDER_SELECTION, OrdersState};
pub use purchase_orders::{PURCHASE_ORDERS_STREAM, PurchaseOrdersState};
pub use source::{CentraSource, ORDERS_STREAM};
