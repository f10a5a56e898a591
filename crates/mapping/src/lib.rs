//! The YAML schema-mapping engine: compiles a mapping file into a checked plan
//! and applies it to source records.
//!
//! Architecture Invariant: this crate does no I/O; a plan is a pure function
//! of (compiled mapping, record). Mapping files arrive through the caller's
//! [`SourceLoader`]; the connector's record schema, stream types, money and
//! custom-field shapes in the [`CompileContext`]'s
//! [`cartage_core::SourceDescription`].
//!
//! ```text
//! files --load+extends--> YAML nodes (with spans) --compile--> CompiledMapping
//!   one StreamMapper per stream: tables, GraphQL selection, layout, cells
//! record JSON --layout-driven parse--> slots --cells--> rows
//! ```
//!
//! The language is documented in `docs/mapping.md`.
//!
//! ```
//! use cartage_core::{
//!     AmountKind, MappedRows, MoneyShape, Record, RecordSchema, SchemaFormat, SourceDescription,
//!     StreamType, Value,
//! };
//! use cartage_mapping::{CompileContext, compile};
//!
//! // What a connector says about its records.
//! let source = SourceDescription {
//!     connector: "shop".into(),
//!     schema: RecordSchema {
//!         format: SchemaFormat::GraphqlSdl,
//!         text: "type Money { cents: Int! currency: String! }
//!             type Order { id: String! total: Money! }
//!             type Query { orders: [Order!]! }".into(),
//!         path: "shop.graphql".into(),
//!     },
//!     streams: vec![StreamType::new("orders", "Order")],
//!     money: vec![MoneyShape {
//!         amount: "cents".into(),
//!         amount_kind: AmountKind::MinorUnits,
//!         currency: vec!["currency".into()],
//!     }],
//!     attributes: None,
//!     scalars: vec![],
//!     default_timezone: "UTC".into(),
//! };
//! let file = "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: total\n";
//! let loader = |name: &str| (name == "acme.yaml").then(|| (name.to_owned(), file.to_owned()));
//! let mapping = compile("acme.yaml", &loader, &CompileContext::new("acme", source))
//!     .map_err(|d| d.to_string())?;
//! assert_eq!(mapping.selection("orders"), Some("id\ntotal {\n  cents\n  currency\n}\n"));
//!
//! let mapper = mapping.stream("orders").unwrap();
//! let mut rows = MappedRows::new(mapper.tables().len());
//! let record = Record::from_json_str(r#"{"id":"a1","total":{"cents":12345,"currency":"SEK"}}"#)?;
//! mapper.map_record(&record, &mut rows)?;
//! let total = mapper.tables()[0].column_index("total_gross").unwrap();
//! assert_eq!(rows.tables[0][0].0[total], Value::Decimal("123.45".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compile;
mod convert;
pub mod error;
mod json;
mod json_schema;
mod load;
mod mapper;
pub mod names;
mod plan;
mod schema;
mod select;
pub mod tables;
pub mod version;

use std::collections::BTreeMap;
use std::sync::Arc;

use cartage_core::{RecordMapper, SharedSchema};

pub use compile::{CompileContext, compile, declared_source};
pub use error::{Diagnostic, Diagnostics, Location, MapError};
pub use load::SourceLoader;
pub use mapper::{OnError, StreamMapper};

/// A checked mapping: one [`StreamMapper`] per stream it reads.
#[derive(Debug, Clone)]
pub struct CompiledMapping {
    streams: BTreeMap<String, Arc<StreamMapper>>,
    tables: Vec<SharedSchema>,
}

impl CompiledMapping {
    /// The streams the mapping reads, in name order.
    pub fn streams(&self) -> Vec<&str> {
        self.streams.keys().map(String::as_str).collect()
    }

    /// The mapper of one stream, as the pipeline takes it.
    pub fn stream(&self, name: &str) -> Option<Arc<dyn RecordMapper>> {
        self.streams.get(name).map(|m| Arc::clone(m) as Arc<dyn RecordMapper>)
    }

    /// The concrete mapper of one stream (selection text, policy).
    pub fn stream_mapper(&self, name: &str) -> Option<&Arc<StreamMapper>> {
        self.streams.get(name)
    }

    /// Every table the mapping fills, over all streams.
    pub fn tables(&self) -> &[SharedSchema] {
        &self.tables
    }

    /// The GraphQL selection set the source sends for one record of `stream`.
    pub fn selection(&self, stream: &str) -> Option<&str> {
        self.streams.get(stream).map(|m| m.selection_text())
    }
}
