//! The GraphQL selection a plan reads: built from the paths the mapping
//! uses, printed for the source, and flattened into the [`Layout`] that
//! parses the records it returns.

use std::sync::Arc;

use crate::json::Layout;

/// A selection set: fields (with sub-selections for objects) and inline
/// fragments `... on Type { … }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sel {
    pub fields: Vec<(String, Option<Sel>)>,
    pub frags: Vec<(String, Sel)>,
}

impl Sel {
    /// Adds a field; returns its sub-selection for an object field.
    pub fn field(&mut self, name: &str, composite: bool) -> Option<&mut Sel> {
        let i = match self.fields.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.fields.push((name.to_owned(), composite.then(Sel::default)));
                self.fields.len() - 1
            }
        };
        let slot = &mut self.fields[i].1;
        if composite && slot.is_none() {
            *slot = Some(Sel::default());
        }
        slot.as_mut()
    }

    pub fn frag(&mut self, ty: &str) -> &mut Sel {
        let i = match self.frags.iter().position(|(n, _)| n == ty) {
            Some(i) => i,
            None => {
                self.frags.push((ty.to_owned(), Sel::default()));
                self.frags.len() - 1
            }
        };
        &mut self.frags[i].1
    }

    /// Prints the selection's contents (without the enclosing braces).
    pub fn print(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        if self.fields.is_empty() && self.frags.is_empty() {
            out.push_str(&pad);
            out.push_str("__typename\n");
        }
        for (name, child) in &self.fields {
            out.push_str(&pad);
            out.push_str(name);
            if let Some(child) = child {
                out.push_str(" {\n");
                child.print(out, depth + 1);
                out.push_str(&pad);
                out.push('}');
            }
            out.push('\n');
        }
        for (ty, sel) in &self.frags {
            out.push_str(&pad);
            out.push_str("... on ");
            out.push_str(ty);
            out.push_str(" {\n");
            sel.print(out, depth + 1);
            out.push_str(&pad);
            out.push_str("}\n");
        }
    }

    fn merge(&mut self, src: &Sel) {
        for (name, child) in &src.fields {
            match self.fields.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => match (existing, child) {
                    (Some(e), Some(c)) => e.merge(c),
                    (e @ None, Some(c)) => *e = Some(c.clone()),
                    _ => {}
                },
                None => self.fields.push((name.clone(), child.clone())),
            }
        }
        for (ty, sel) in &src.frags {
            self.frag(ty).merge(sel);
        }
    }

    /// The fields a response object carries: fragments merged in.
    fn flatten(&self) -> Sel {
        let mut out = Sel { fields: self.fields.clone(), frags: Vec::new() };
        for (_, frag) in &self.frags {
            out.merge(&frag.flatten());
        }
        for (_, child) in out.fields.iter_mut() {
            if let Some(c) = child {
                *c = c.flatten();
            }
        }
        out
    }

    pub fn layout(&self) -> Arc<Layout> {
        layout_of(&self.flatten())
    }
}

fn layout_of(flat: &Sel) -> Arc<Layout> {
    Arc::new(Layout::new(
        flat.fields.iter().map(|(n, _)| crate::compile::response_key(n).into()).collect(),
        flat.fields.iter().map(|(_, c)| c.as_ref().map(layout_of)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_print_apart_and_parse_together() {
        let mut s = Sel::default();
        s.field("id", false);
        s.frag("A").field("customer", true).unwrap().field("id", false);
        s.frag("B").field("customer", true).unwrap().field("email", false);
        let mut out = String::new();
        s.print(&mut out, 0);
        assert_eq!(
            out,
            "id\n... on A {\n  customer {\n    id\n  }\n}\n... on B {\n  customer {\n    email\n  }\n}\n"
        );
        let l = s.layout();
        assert_eq!(l.keys, vec!["id".into(), "customer".into()] as Vec<Box<str>>);
        let c = l.kids[1].as_ref().unwrap();
        assert_eq!(c.keys, vec!["id".into(), "email".into()] as Vec<Box<str>>);
    }
}
