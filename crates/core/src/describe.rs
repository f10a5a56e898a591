//! What a connector says about its records, so that code outside
//! `connectors/` (the mapping compiler, the runner) needs no knowledge of
//! any one platform: the record schema mappings compile against, the type of
//! each stream's records, how money and custom fields are shaped, and the
//! time zone naive timestamps are read in.

use crate::ColumnType;

/// A connector's description of what it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDescription {
    /// The connector's name, as a configuration's `type:` and a mapping's
    /// `source:` spell it.
    pub connector: String,
    /// The schema of the records, which mapping paths are checked against.
    pub schema: RecordSchema,
    /// Each stream the connector reads and the schema type of one record.
    pub streams: Vec<StreamType>,
    /// The shapes of a money value, tried in order: a schema type that has
    /// a shape's fields is money, and `type: money` reads it exactly.
    pub money: Vec<MoneyShape>,
    /// How the platform keeps custom fields, if it has a generic model for
    /// them that a mapping's `attribute:` reads; `None` if it has none (then
    /// mappings read custom fields with plain paths).
    pub attributes: Option<AttributeShape>,
    /// The schema's custom scalars and the column type each is read as
    /// (e.g. a `DateTime` scalar as a timestamp); an unlisted custom scalar
    /// is text. GraphQL's own scalars need no entry.
    pub scalars: Vec<ScalarType>,
    /// The IANA time zone naive date-times are read in when the mapping
    /// names none (a platform that sends offsets may give any zone).
    pub default_timezone: String,
}

impl SourceDescription {
    /// The record type of `stream`'s records, if the connector reads it.
    pub fn record_type(&self, stream: &str) -> Option<&str> {
        self.streams.iter().find(|s| s.stream == stream).map(|s| s.record_type.as_str())
    }

    /// The names of the streams, in the connector's order.
    pub fn stream_names(&self) -> Vec<&str> {
        self.streams.iter().map(|s| s.stream.as_str()).collect()
    }
}

/// One stream and the type of its records in [`SourceDescription::schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamType {
    pub stream: String,
    pub record_type: String,
}

impl StreamType {
    pub fn new(stream: impl Into<String>, record_type: impl Into<String>) -> Self {
        StreamType { stream: stream.into(), record_type: record_type.into() }
    }
}

/// A custom scalar of the schema and how its values are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarType {
    pub name: String,
    pub column_type: ColumnType,
}

impl ScalarType {
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        ScalarType { name: name.into(), column_type }
    }
}

/// A record schema as text, with the name errors in it are reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSchema {
    pub format: SchemaFormat,
    pub text: String,
    /// How diagnostics name the schema, e.g. `connectors/x/schema.graphql`.
    pub path: String,
}

/// The language of a [`RecordSchema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    /// GraphQL SDL: the record types are the schema's object, interface and
    /// union types, and a mapping's paths derive the query's selection.
    GraphqlSdl,
    /// A JSON Schema document, for sources without GraphQL: each record type
    /// is an entry of `$defs` (the subset read is documented in
    /// `docs/mapping.md`). The selection a mapping derives is written in
    /// GraphQL's selection syntax either way; a REST connector may use it
    /// to ask for fewer fields, or ignore it.
    JsonSchema,
}

/// How one kind of money object is shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyShape {
    /// The field holding the amount.
    pub amount: String,
    pub amount_kind: AmountKind,
    /// The path from the money object to its ISO 4217 currency code, e.g.
    /// `["currency", "code"]` or `["currencyCode"]`.
    pub currency: Vec<String>,
}

/// How a money amount is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountKind {
    /// An integer count of the currency's minor unit (cents), turned into
    /// a decimal with the currency's ISO 4217 exponent.
    MinorUnits,
    /// The amount itself as exact decimal text (or a JSON number's text),
    /// never through a binary float.
    Decimal,
}

/// How a platform keeps custom fields: a list of named groups on a record,
/// each with keyed entries (or a flat list of entries that name their
/// group). A mapping reads one with `attribute: group.key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeShape {
    /// The record field listing the groups, e.g. `attributes`.
    pub field: String,
    /// The path from a group to its name, e.g. `["type", "name"]`.
    pub group_name: Vec<String>,
    /// The group's field listing its entries, or `None` when each item of
    /// `field` is itself one entry carrying its group name.
    pub entries: Option<String>,
    /// The entry's key field.
    pub entry_key: String,
    /// The fields that may hold an entry's value, first non-null first; the
    /// compiler selects each on the entry types that have it.
    pub entry_values: Vec<String>,
    /// An example of `group.key` for error messages.
    pub example: String,
}
