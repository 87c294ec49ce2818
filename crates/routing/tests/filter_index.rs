//! The workflow filter index gives the same first matching filter as evaluating every filter in
//! order, for random workflows and random tasks, from every starting position.
//!
//! Filters are drawn from a pool that mixes indexable tests (`a == 'x'`, `'x' == a`,
//! `a IN [...]`, their AND/OR combinations) with look-alikes that must not be indexed (numeric
//! strings, numbers, booleans, NULL in a list, `!=`, `NOT`, `HAS`) and with more attributes
//! than the index keeps, so every path of the index is exercised. Task values include the
//! numeric and boolean look-alikes, arrays, objects and missing keys.
//!
//! `PROPTEST_CASES` overrides the number of cases (default 512).

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use switchboard_expr::{Clock, Scope, TaskScope};
use switchboard_routing::RoutingConfig;
use switchboard_sid::{Sid, TaskQueue};

/// Ten plain attributes (more than the index keeps) and one nested one.
const NAMES: [&str; 11] = [
    "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "n.x",
];
const STRINGS: [&str; 4] = ["x", "y", "z", "5"];

fn name() -> impl Strategy<Value = &'static str> {
    // Mostly the first three, so filters share attributes and values collide.
    prop_oneof![
        3 => (0usize..3).prop_map(|i| NAMES[i]),
        1 => (0usize..NAMES.len()).prop_map(|i| NAMES[i]),
    ]
}

fn string() -> impl Strategy<Value = &'static str> {
    (0usize..STRINGS.len()).prop_map(|i| STRINGS[i])
}

/// One comparison.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (name(), string()).prop_map(|(n, s)| format!("{n} == '{s}'")),
        1 => (name(), string()).prop_map(|(n, s)| format!("'{s}' == {n}")),
        2 => (name(), proptest::collection::vec(string(), 0..3)).prop_map(|(n, v)| {
            let items: Vec<String> = v.iter().map(|s| format!("'{s}'")).collect();
            format!("{n} IN [{}]", items.join(", "))
        }),
        1 => (name(), string()).prop_map(|(n, s)| format!("{n} IN ['{s}', null]")),
        1 => name().prop_map(|n| format!("{n} == 5")),
        1 => name().prop_map(|n| format!("{n} == true")),
        1 => name().prop_map(|n| format!("{n} == null")),
        1 => (name(), string()).prop_map(|(n, s)| format!("{n} != '{s}'")),
        1 => (name(), string()).prop_map(|(n, s)| format!("{n} HAS '{s}'")),
        1 => Just("1 == 1".to_owned()),
    ]
}

/// An expression: an atom, or AND / OR / NOT of a few.
fn expression() -> impl Strategy<Value = String> {
    let group =
        |sep: &'static str| proptest::collection::vec(atom(), 2..4).prop_map(move |v| v.join(sep));
    prop_oneof![
        4 => atom(),
        2 => group(" AND "),
        2 => group(" OR "),
        1 => atom().prop_map(|a| format!("NOT ({a})")),
        1 => (group(" OR "), atom()).prop_map(|(o, a)| format!("({o}) AND {a}")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => string().prop_map(|s| json!(s)),
        1 => Just(json!(5)),
        1 => Just(json!(5.0)),
        1 => Just(json!(true)),
        1 => Just(Value::Null),
        1 => string().prop_map(|s| json!([s])),
        1 => string().prop_map(|s| json!({"x": s})),
    ]
}

fn task() -> impl Strategy<Value = Value> {
    proptest::collection::vec((0usize..NAMES.len(), value()), 0..6).prop_map(|pairs| {
        let mut m = Map::new();
        for (i, v) in pairs {
            match NAMES[i] {
                "n.x" => {
                    m.insert("n".into(), json!({"x": v}));
                }
                n => {
                    m.insert(n.into(), v);
                }
            }
        }
        Value::Object(m)
    })
}

fn config(filters: &[String]) -> RoutingConfig {
    let queue = Sid::<TaskQueue>::from_u128(1).to_string();
    let filters: Vec<Value> = filters
        .iter()
        .map(|e| json!({"expression": e, "targets": [{"queue": queue}]}))
        .collect();
    let text = json!({"task_routing": {"filters": filters}}).to_string();
    RoutingConfig::parse(&text, &|_| true, &|_| true)
        .unwrap_or_else(|e| panic!("configuration refused: {e}\n{text}"))
}

fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn indexed_first_match_equals_evaluating_in_order(
        filters in proptest::collection::vec(expression(), 0..40),
        tasks in proptest::collection::vec(task(), 1..8),
    ) {
        let config = config(&filters);
        for attributes in &tasks {
            let scope = Scope {
                task: Some(TaskScope { attributes, sid: Some("WT00000000000000000000000000000001") }),
                now: Some(Clock::from_unix_millis(1_700_000_000_000)),
                ..Default::default()
            };
            for from in 0..=filters.len() + 1 {
                prop_assert_eq!(
                    config.first_match(&scope, from),
                    config.first_match_unindexed(&scope, from),
                    "task {} from {} over {:?}", attributes, from, filters
                );
            }
        }
    }
}

/// The Internal Call workflow's shape: every task lands where in-order evaluation puts it.
#[test]
fn internal_call_shape() {
    let mut filters = vec!["worker_sid != null AND callToQueue == null".to_owned()];
    filters.extend((0..100).map(|i| format!("callToQueue == 'queue {i}'")));
    filters.push("callToQueue IN ['queue 7', 'other'] OR callToQueue == 'queue 8'".to_owned());
    let config = config(&filters);
    let tasks = [
        json!({"worker_sid": "WK1"}),
        json!({"worker_sid": "WK1", "callToQueue": "queue 3"}),
        json!({"callToQueue": "queue 99"}),
        json!({"callToQueue": "other"}),
        json!({"callToQueue": "nothing"}),
        json!({}),
    ];
    for attributes in &tasks {
        let scope = Scope {
            task: Some(TaskScope {
                attributes,
                sid: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            config.first_match(&scope, 0),
            config.first_match_unindexed(&scope, 0),
            "{attributes}"
        );
    }
    let at = |attributes: Value| {
        config.first_match(
            &Scope {
                task: Some(TaskScope {
                    attributes: &attributes,
                    sid: None,
                }),
                ..Default::default()
            },
            0,
        )
    };
    assert_eq!(at(json!({"worker_sid": "WK1"})), Some(0));
    assert_eq!(at(json!({"callToQueue": "queue 99"})), Some(100));
    assert_eq!(at(json!({"callToQueue": "other"})), Some(101));
    assert_eq!(at(json!({"callToQueue": "nothing"})), None);
}
