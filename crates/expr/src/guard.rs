//! Equality guards: a necessary condition of a filter expression that a caller can look up in
//! an index instead of evaluating the expression.
//!
//! `callToQueue == 'Sales'` can only be true when the task's `callToQueue` is the string
//! `Sales`, so a workflow with hundreds of such filters can find the few that may match a task
//! by looking its `callToQueue` up in a map, and evaluate only those.

use serde_json::Value;

use crate::ast::{CmpOp, Lit, Node, Operand, Path, Ref};

/// A path into a task's attributes, as a filter expression reads it (`a.b[2]`). Comparable and
/// hashable, so that guards on the same attribute can share an index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributePath(Path);

impl AttributePath {
    /// The value at this path in `attributes`; `None` when anything on the way is missing.
    pub fn lookup<'a>(&self, attributes: &'a Value) -> Option<&'a Value> {
        crate::eval::walk(attributes, &self.0)
    }
}

/// A necessary condition of an expression: it can be true only when the task attribute at
/// [`EqualityGuard::path`] is a JSON string equal (exactly, case-sensitively) to one of
/// [`EqualityGuard::values`].
#[derive(Debug, Clone, PartialEq)]
pub struct EqualityGuard {
    /// The attribute.
    pub path: AttributePath,
    /// The strings it must be one of, without duplicates, in the order written. Empty when the
    /// expression can never be true (`x IN []`).
    pub values: Vec<Box<str>>,
    /// Whether the condition is also sufficient: the expression is exactly "the attribute is
    /// one of these strings", so a task that passes the guard needs no evaluation.
    pub exact: bool,
}

/// The guard of a filter expression's tree, if it has one:
///
/// * `attr == 'text'` (either side) where `'text'` is not a number: strings equal only strings,
///   except that a numeric string also equals the number, so numeric strings are left out;
/// * `attr IN ['a', 'b']` where every element is such a string (NULL elements match a missing
///   attribute, so they are left out too);
/// * an `AND` of items, one of which has a guard (the first one found);
/// * an `OR` of items that all have guards on the same attribute (the union).
///
/// Anything else (`!=`, `NOT`, numbers, booleans, `HAS`, references on both sides) has none.
pub(crate) fn guard(node: &Node) -> Option<EqualityGuard> {
    match node {
        Node::Cmp { op, lhs, rhs } => {
            let (path, values): (&Path, Vec<&str>) = match (op, lhs, rhs) {
                (CmpOp::Eq, Operand::Ref(Ref::TaskAttr(p)), Operand::Lit(l))
                | (CmpOp::Eq, Operand::Lit(l), Operand::Ref(Ref::TaskAttr(p))) => {
                    (p, vec![plain_string(l)?])
                }
                (CmpOp::In, Operand::Ref(Ref::TaskAttr(p)), Operand::Array(items)) => (
                    p,
                    items.iter().map(plain_string).collect::<Option<Vec<_>>>()?,
                ),
                _ => return None,
            };
            let mut out: Vec<Box<str>> = Vec::with_capacity(values.len());
            for v in values {
                if !out.iter().any(|o| &**o == v) {
                    out.push(v.into());
                }
            }
            Some(EqualityGuard {
                path: AttributePath(path.clone()),
                values: out,
                exact: true,
            })
        }
        Node::And(items) => items.iter().find_map(guard).map(|g| EqualityGuard {
            exact: g.exact && items.len() == 1,
            ..g
        }),
        Node::Or(items) => {
            let mut union: Option<EqualityGuard> = None;
            for item in items {
                let g = guard(item)?;
                match &mut union {
                    None => union = Some(g),
                    Some(u) if u.path == g.path => {
                        u.exact &= g.exact;
                        for v in g.values {
                            if !u.values.contains(&v) {
                                u.values.push(v);
                            }
                        }
                    }
                    Some(_) => return None,
                }
            }
            union
        }
        Node::Not(_) => None,
    }
}

/// A string literal that is not a number in the literal grammar.
fn plain_string(l: &Lit) -> Option<&str> {
    match l {
        Lit::Str {
            value,
            number: None,
        } => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, Expression};

    /// `(attribute's first name, values, exact)` of an expression's guard.
    fn guard(source: &str) -> Option<(String, Vec<String>, bool)> {
        let e = Expression::parse(source, Context::Filter).unwrap();
        e.equality_guard().map(|g| {
            let first = format!("{:?}", g.path);
            (
                first,
                g.values.iter().map(|v| v.to_string()).collect(),
                g.exact,
            )
        })
    }

    #[test]
    fn which_expressions_have_a_guard() {
        let values = |s: &str| guard(s).map(|(_, v, exact)| (v, exact));
        let v =
            |items: &[&str], exact| Some((items.iter().map(|s| s.to_string()).collect(), exact));
        assert_eq!(values("q == 'Sales'"), v(&["Sales"], true));
        assert_eq!(values("'Sales' == q"), v(&["Sales"], true));
        assert_eq!(values("q IN ['a', 'b', 'a']"), v(&["a", "b"], true));
        assert_eq!(values("q IN []"), v(&[], true));
        assert_eq!(values("q == 'a' OR q == 'b'"), v(&["a", "b"], true));
        assert_eq!(values("q == 'a' AND level > 3"), v(&["a"], false));
        assert_eq!(values("level > 3 AND q IN ['a']"), v(&["a"], false));
        assert_eq!(
            values("(q == 'a' OR q == 'b') AND x == 1"),
            v(&["a", "b"], false)
        );
        // Numeric strings equal numbers, NULL elements equal a missing key, and the rest are
        // not equality tests on strings.
        for none in [
            "q == '5'",
            "q == 5",
            "q == true",
            "q == null",
            "q IN ['a', null]",
            "q IN ['a', '1.5']",
            "q != 'a'",
            "NOT (q == 'a')",
            "q HAS 'a'",
            "'a' IN q",
            "q == 'a' OR r == 'b'",
            "q == 'a' OR level > 3",
            "taskrouter.dayOfWeek == 'Mon'",
            "1 == 1",
        ] {
            assert_eq!(guard(none), None, "{none}");
        }
        // Other contexts have none.
        let e = Expression::parse("skills == 'a'", Context::TargetWorkers).unwrap();
        assert!(e.equality_guard().is_none());
    }
}
