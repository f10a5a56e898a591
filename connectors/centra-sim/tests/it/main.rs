//! Integration tests of centra-sim over real HTTP.

mod auth;
mod churn;
mod cli;
mod common;
mod events;
mod faults;
mod inventory;
mod paging;
mod queries;
mod ratelimit;
mod schema;
