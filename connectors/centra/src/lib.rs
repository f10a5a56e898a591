//! The Centra GraphQL Integration API source: a rate-limit aware GraphQL
//! client and the `orders` stream.
//!
//! Build a source from its configuration with [`CentraConfig::build`]; the
//! result implements [`cartage_core::Source`].

pub mod budget;
pub mod client;
pub mod config;
pub mod error;
pub mod orders;
pub mod retry;
pub mod source;

pub use budget::Budget;
pub use client::CentraClient;
pub use config::{CentraConfig, Tier};
pub use error::CentraError;
pub use orders::{DEFAULT_ORDER_SELECTION, OrdersState};
pub use source::{CentraSource, ORDERS_STREAM};
