//! Integration tests of the Centra source against the simulator over real HTTP.

mod auth;
mod bodies;
mod clock;
mod deletions;
mod fake;
mod faults;
mod lies;
mod limits;
mod no_date;
mod orders;
mod purchase_orders;
mod support;
