//! Integration tests of the database sinks against real SQLite files and
//! real PostgreSQL and MariaDB/MySQL servers (see `cartage_sinks::testing`).
//! Every scenario runs once per backend; `files` runs the same scenarios
//! against the file sink in each format and compares it with SQLite.

mod support;

mod commit;
mod connect;
mod files;
mod prepare;
mod refused;
mod snapshot;
mod values;
