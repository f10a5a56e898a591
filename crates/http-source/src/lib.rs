//! The shared toolkit of Cartage's HTTP connectors: what every connector
//! needs and none should write again.
//!
//! - [`retry`]: exponential backoff with full jitter, and `Retry-After` in
//!   every form servers send, measured by the server's clock.
//! - [`budget`]: a client-side mirror of the API's rate limits, request-count
//!   buckets and cost-based (leaky) buckets alike, corrected by the cost the
//!   server reports and set from its own view when it gives one.
//! - [`body`]: response bodies capped at a size (after decompression), and
//!   transport errors described with their causes.
//! - [`checkpoint`]: a stream's versioned checkpoint, read back strictly.
//!
//! It knows no platform: a connector supplies its buckets, its request
//! shapes, and how to read its responses.

pub mod body;
pub mod budget;
pub mod checkpoint;
pub mod retry;

pub use body::{BodyError, MIB, describe, read_capped};
pub use budget::{Bucket, Budget, BudgetState, Cancelled, Permit, Resource};
pub use checkpoint::Checkpoint;
pub use retry::{RetryPolicy, parse_retry_after};
