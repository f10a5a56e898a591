//! A connector's record schema as the compiler sees it: which fields a type
//! has, what they return, and which concrete types an interface stands for.

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;
use cartage_core::{ColumnType, RecordSchema, SchemaFormat};

/// What a leaf field returns, as far as conversions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    String,
    Id,
    Int,
    Float,
    Boolean,
    Enum,
    /// A custom scalar the connector's description does not type: text.
    Other,
}

/// A field of a type as the compiler needs it.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    /// The named type under all list and non-null wrappers.
    pub type_name: String,
    pub is_list: bool,
    /// Arguments that must be given (non-null and without a default).
    pub required_args: Vec<String>,
}

/// A parsed, validated schema.
pub struct GqlSchema {
    schema: Schema,
    /// Scalars the schema's own language types (a JSON Schema's
    /// `format: date-time`), beside those the connector describes.
    scalars: Vec<(String, ColumnType)>,
}

impl std::fmt::Debug for GqlSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GqlSchema").field("types", &self.schema.types.len()).finish()
    }
}

impl GqlSchema {
    /// Parses and validates SDL text; the error lists the schema's problems.
    pub fn parse(sdl: &str, path: &str) -> Result<Self, String> {
        match Schema::parse_and_validate(sdl, path) {
            Ok(valid) => Ok(GqlSchema { schema: valid.into_inner(), scalars: Vec::new() }),
            Err(with) => {
                Err(with.errors.to_string().lines().next().unwrap_or("invalid schema").to_owned())
            }
        }
    }

    /// The schema a connector describes its records with.
    pub fn from_description(described: &RecordSchema) -> Result<Self, String> {
        match described.format {
            SchemaFormat::GraphqlSdl => Self::parse(&described.text, &described.path),
            SchemaFormat::JsonSchema => {
                let sdl = crate::json_schema::to_sdl(&described.text)?;
                let mut schema = Self::parse(&sdl, &described.path)?;
                schema.scalars = crate::json_schema::SCALARS
                    .iter()
                    .map(|(name, ty)| ((*name).to_owned(), *ty))
                    .collect();
                Ok(schema)
            }
        }
    }

    /// The column type of a scalar the schema's language defines, if any.
    pub fn scalar_type(&self, name: &str) -> Option<ColumnType> {
        self.scalars.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }

    pub fn has_type(&self, name: &str) -> bool {
        self.schema.types.contains_key(name)
    }

    /// Whether values of the type are objects (need a sub-selection).
    pub fn is_composite(&self, name: &str) -> bool {
        matches!(
            self.schema.types.get(name),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        )
    }

    pub fn scalar_kind(&self, name: &str) -> ScalarKind {
        match name {
            "String" => ScalarKind::String,
            "ID" => ScalarKind::Id,
            "Int" => ScalarKind::Int,
            "Float" => ScalarKind::Float,
            "Boolean" => ScalarKind::Boolean,
            _ => match self.schema.types.get(name) {
                Some(ExtendedType::Enum(_)) => ScalarKind::Enum,
                _ => ScalarKind::Other,
            },
        }
    }

    /// The field `name` of type `ty`, if the type declares it.
    pub fn field(&self, ty: &str, name: &str) -> Option<FieldInfo> {
        let def = match self.schema.types.get(ty)? {
            ExtendedType::Object(o) => o.fields.get(name)?,
            ExtendedType::Interface(i) => i.fields.get(name)?,
            _ => return None,
        };
        Some(FieldInfo {
            type_name: def.ty.inner_named_type().as_str().to_owned(),
            is_list: is_list(&def.ty),
            required_args: def
                .arguments
                .iter()
                .filter(|a| a.ty.is_non_null() && a.default_value.is_none())
                .map(|a| a.name.as_str().to_owned())
                .collect(),
        })
    }

    /// The arguments of a field: name and named type.
    pub fn arguments(&self, ty: &str, field: &str) -> Vec<(String, String)> {
        let def = match self.schema.types.get(ty) {
            Some(ExtendedType::Object(o)) => o.fields.get(field),
            Some(ExtendedType::Interface(i)) => i.fields.get(field),
            _ => None,
        };
        def.map(|d| {
            d.arguments
                .iter()
                .map(|a| (a.name.as_str().to_owned(), a.ty.inner_named_type().as_str().to_owned()))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The values of an enum type (empty for other types).
    pub fn enum_values(&self, ty: &str) -> Vec<String> {
        match self.schema.types.get(ty) {
            Some(ExtendedType::Enum(e)) => e.values.keys().map(|k| k.as_str().to_owned()).collect(),
            _ => Vec::new(),
        }
    }

    /// The names of the fields of a type, for suggestions.
    pub fn field_names(&self, ty: &str) -> Vec<String> {
        match self.schema.types.get(ty) {
            Some(ExtendedType::Object(o)) => {
                o.fields.keys().map(|k| k.as_str().to_owned()).collect()
            }
            Some(ExtendedType::Interface(i)) => {
                i.fields.keys().map(|k| k.as_str().to_owned()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The concrete object types a value of `ty` can be (itself for an object).
    pub fn possible_types(&self, ty: &str) -> Vec<String> {
        match self.schema.types.get(ty) {
            Some(ExtendedType::Object(_)) => vec![ty.to_owned()],
            Some(ExtendedType::Union(u)) => {
                u.members.iter().map(|m| m.name.as_str().to_owned()).collect()
            }
            Some(ExtendedType::Interface(_)) => self
                .schema
                .types
                .iter()
                .filter_map(|(name, t)| match t {
                    ExtendedType::Object(o)
                        if o.implements_interfaces.iter().any(|i| i.name == ty) =>
                    {
                        Some(name.as_str().to_owned())
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Types a type condition `... on cond` may name inside `ty`: the
    /// possible types and the interfaces they share with it.
    pub fn can_narrow(&self, ty: &str, cond: &str) -> bool {
        if ty == cond {
            return true;
        }
        let inner = self.possible_types(ty);
        let cond_types = self.possible_types(cond);
        inner.iter().any(|t| cond_types.contains(t))
    }

    /// The fields of a type that are scalars or enums and take no required
    /// arguments: what a `json` conversion of an object selects.
    pub fn scalar_fields(&self, ty: &str) -> Vec<String> {
        self.field_names(ty)
            .into_iter()
            .filter(|f| {
                self.field(ty, f)
                    .is_some_and(|i| !self.is_composite(&i.type_name) && i.required_args.is_empty())
            })
            .collect()
    }
}

fn is_list(ty: &apollo_compiler::ast::Type) -> bool {
    use apollo_compiler::ast::Type;
    matches!(ty, Type::List(_) | Type::NonNullList(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = "interface Order { id: String! }\n\
        type A implements Order { id: String! customer: C }\n\
        type B implements Order { id: String! lines: [L!]! }\n\
        scalar Int64\n type C { id: Int! }\n type L { n: Int64 }\n\
        type Query { orders: [Order!]! }";

    #[test]
    fn knows_fields_lists_and_implementations() {
        let s = GqlSchema::parse(SDL, "schema.graphql").unwrap();
        assert_eq!(s.possible_types("Order"), vec!["A".to_owned(), "B".to_owned()]);
        assert!(s.field("Order", "customer").is_none());
        assert_eq!(s.field("A", "customer").unwrap().type_name, "C");
        assert!(s.field("B", "lines").unwrap().is_list);
        assert_eq!(s.scalar_kind("Int64"), ScalarKind::Other);
        assert_eq!(s.scalar_kind("Int"), ScalarKind::Int);
        assert!(s.can_narrow("Order", "A"));
        assert!(!s.can_narrow("Order", "C"));
    }

    #[test]
    fn a_broken_schema_is_refused() {
        assert!(GqlSchema::parse("type Query { x: Nope }", "s.graphql").is_err());
    }
}
