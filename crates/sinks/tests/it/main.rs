//! Integration tests of the database sinks against real SQLite files and
//! real PostgreSQL and MariaDB/MySQL servers (see `cartage_sinks::testing`).
//! Every scenario runs once per backend.

mod support;

mod commit;
mod connect;
mod prepare;
mod snapshot;
mod values;
