//! Behaviour tables for the language. Each row is an input and the result it must give.

use std::cmp::Ordering;

use expect_test::expect;
use serde_json::{json, Value};

use crate::*;

fn task_doc() -> Value {
    json!({
        "type": "support",
        "priority": 5,
        "prio_s": "10",
        "ratio": 1.0,
        "zero_s": "0800",
        "spaced": " 5",
        "flag": true,
        "flag_s": "true",
        "langs": ["en", "es"],
        "nums": [1, 2.5, "3"],
        "with_null": [null, "a"],
        "nested": {"array": ["a", "b", "c"], "obj": {"k": "v"}, "deep": [{"x": 1}, [7, 8]]},
        "nothing": null,
        "name": "Ann Smith",
        "index": 1,
        "order": "x",
        "notes": "n",
        "android": true,
        "empty": [],
        "obj": {"a": 1},
        "preferred_agents": ["WK1"],
        "é_clé": "unicode",
        "$x": 1,
        "_y": 2,
        "taskrouter": {"currentTime": 5},
        "task": {"in": 1, "0": "zero"},
        "big": "1e5",
        "neg": -3,
        "letters": "b"
    })
}

fn filter(source: &str, doc: &Value) -> bool {
    let expression = match Expression::parse(source, Context::Filter) {
        Ok(e) => e,
        Err(e) => panic!("{source:?} did not parse: {e}"),
    };
    let scope = Scope {
        task: Some(TaskScope {
            attributes: doc,
            sid: None,
        }),
        ..Scope::default()
    };
    expression.evaluate(&scope)
}

fn check_filter_table(rows: &[(&str, bool)]) {
    let doc = task_doc();
    let mut failures = Vec::new();
    for (source, expected) in rows {
        let got = filter(source, &doc);
        if got != *expected {
            failures.push(format!("{source:?}: expected {expected}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

fn error(source: &str, context: Context) -> String {
    match Expression::parse(source, context) {
        Ok(_) => panic!("{source:?} parsed in {context:?} but should not"),
        Err(e) => e.to_string(),
    }
}

fn check_errors(context: Context, rows: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (source, expected) in rows {
        match Expression::parse(source, context) {
            Ok(_) => failures.push(format!("{source:?}: parsed, expected error {expected:?}")),
            Err(e) if e.to_string() != *expected => failures.push(format!(
                "{source:?}:\n  expected {expected:?}\n  got      {:?}",
                e.to_string()
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn equality_and_aliases() {
    check_filter_table(&[
        ("type == 'support'", true),
        ("type = 'support'", true),
        ("type == \"support\"", true),
        ("type == 'Support'", false),
        ("type != 'support'", false),
        ("type != 'sales'", true),
        ("'support' == type", true),
        ("priority == 5", true),
        ("priority == 5.0", true),
        ("ratio == 1", true),
        ("priority == '5'", true),
        ("'5' == priority", true),
        ("priority == '5.0'", true),
        ("priority == ' 5'", false),
        ("spaced == 5", false),
        ("spaced != 5", true),
        ("prio_s == 10", true),
        ("prio_s == '10.0'", false),
        ("zero_s == 800", true),
        ("big == 100000", false),
        ("flag == true", true),
        ("flag == TRUE", true),
        ("flag != false", true),
        ("flag == 'true'", false),
        ("flag != 'true'", true),
        ("flag_s == true", false),
        ("flag_s == 'true'", true),
        ("flag == 1", false),
        ("1 == 1", true),
        ("1 == 2", false),
        ("'a' == 'a'", true),
        ("neg == -3", true),
        ("neg == -3.0", true),
        ("-0 == 0", true),
    ]);
}

#[test]
fn null_and_missing() {
    check_filter_table(&[
        ("missing == null", true),
        ("missing != null", false),
        ("nothing == null", true),
        ("nothing == NULL", true),
        ("type == null", false),
        ("type != null", true),
        ("null == null", true),
        ("null != null", false),
        ("missing == 'x'", false),
        ("missing != 'x'", true),
        ("'x' != missing", true),
        ("missing != missing2", false),
        ("missing == missing2", true),
        ("missing > 1", false),
        ("missing < 1", false),
        ("missing >= 1", false),
        ("missing <= 1", false),
        ("missing CONTAINS 'x'", false),
        ("name CONTAINS missing", false),
        ("missing HAS 'x'", false),
        ("'x' IN missing", false),
        ("missing IN ['a']", false),
        ("missing IN ['a', null]", true),
        ("nothing IN [null]", true),
        ("'x' NOT IN missing", false),
        ("missing NOT IN ['a']", true),
        ("missing NOT IN ['a', null]", false),
        // Presence tests work on any type.
        ("preferred_agents != null", true),
        ("preferred_agents == null", false),
        ("obj != null", true),
        ("empty != null", true),
        ("null != langs", true),
        ("missing != ['a']", true),
        ("nested.missing.deeper == null", true),
        ("type.sub == null", true),
        ("nested.array[3] == null", true),
        ("nested.array[99999999999999999999999] == null", true),
        ("with_null HAS null", true),
        ("langs HAS null", false),
    ]);
}

#[test]
fn containers_with_scalar_operators_are_false() {
    check_filter_table(&[
        ("langs == 'en'", false),
        ("langs != 'en'", false),
        ("langs == ['en', 'es']", false),
        ("langs != ['en', 'es']", false),
        ("obj == obj", false),
        ("obj != 1", false),
        ("langs > 1", false),
        ("langs CONTAINS 'en'", false),
        ("'en' CONTAINS langs", false),
        ("['a'] == ['a']", false),
    ]);
}

#[test]
fn ordering() {
    check_filter_table(&[
        ("priority > 4", true),
        ("priority > 5", false),
        ("priority >= 5", true),
        ("priority < 6", true),
        ("priority <= 5", true),
        ("priority <= 4.99", false),
        ("prio_s > 9", true),
        ("prio_s < 9", false),
        ("9 < prio_s", true),
        ("zero_s >= 0800", true),
        ("neg < -2.5", true),
        ("neg > -3", false),
        ("letters > 'a'", true),
        ("letters < 'a'", false),
        ("letters >= 'b'", true),
        ("'B' < 'a'", true),
        ("'é' > 'z'", true),
        ("prio_s > '9'", false),
        ("name > 1", false),
        ("flag > false", false),
        ("flag >= true", false),
        ("nothing < 1", false),
        ("priority > '4x'", false),
    ]);
}

#[test]
fn contains() {
    check_filter_table(&[
        ("name CONTAINS 'Smith'", true),
        ("name contains 'smith'", false),
        ("name Contains 'Ann S'", true),
        ("name CONTAINS ''", true),
        ("priority CONTAINS '5'", false),
        ("'abc' CONTAINS 'b'", true),
        ("name CONTAINS 5", false),
    ]);
}

#[test]
fn array_operators() {
    check_filter_table(&[
        ("langs HAS 'en'", true),
        ("langs has 'fr'", false),
        ("langs >- 'es'", true),
        ("nums HAS 3", true),
        ("nums HAS '1'", true),
        ("nums HAS 2.5", true),
        ("langs HAS ['en']", false),
        ("type HAS 'support'", false),
        ("['a', 'b'] HAS 'b'", true),
        ("empty HAS 'x'", false),
        ("type IN ['support', 'sales']", true),
        ("type in ['sales']", false),
        ("type <- ['support']", true),
        ("'en' IN langs", true),
        ("priority IN [1, 5]", true),
        ("priority IN ['5']", true),
        ("flag IN [true]", true),
        ("flag IN ['true']", false),
        ("type IN []", false),
        ("type IN 'support'", false),
        ("langs IN ['en', 'es']", false),
        ("type NOT IN ['sales']", true),
        ("type not in ['support']", false),
        ("type NOT IN []", true),
        ("type NOT IN 'x'", false),
        ("langs NOT IN ['x']", false),
        ("priority NOT IN ['5']", false),
        ("'fr' NOT IN langs", true),
    ]);
}

#[test]
fn paths_indexes_and_names() {
    check_filter_table(&[
        ("nested.array[2] == 'c'", true),
        ("nested.array[0] == 'a'", true),
        ("nested.obj.k == 'v'", true),
        ("nested.deep[0].x == 1", true),
        ("nested.deep[1][1] == 8", true),
        ("nested.obj[0] == null", true),
        ("nested.array.x == null", true),
        ("langs[1] == 'es'", true),
        ("index == 1", true),
        ("order == 'x'", true),
        ("notes == 'n'", true),
        ("android == true", true),
        ("task.in == 1", true),
        ("task.0 == 'zero'", true),
        ("é_clé == 'unicode'", true),
        ("$x == 1", true),
        ("_y == 2", true),
        ("  type\t==\n'support'  ", true),
        ("(type=='support')AND(priority==5)", true),
        ("type=='support'AND priority==5", true),
        // Built-ins win over an attribute named taskrouter.
        ("taskrouter.currentTime == 5", false),
        ("taskrouter.currentTime == null", true),
    ]);
}

#[test]
fn literals() {
    check_filter_table(&[
        (r#"'it\'s' == "it's""#, true),
        (r#""say \"hi\"" == 'say "hi"'"#, true),
        (r"'a\\b' CONTAINS '\\'", true),
        (r"'a\\b' == 'a\b'", true),
        (r"'a\nb' CONTAINS 'n'", true),
        ("0800 == 800", true),
        ("007.50 == 7.5", true),
        ("-1 < 0", true),
        ("-0.5 < 0", true),
        ("[] HAS 1", false),
        ("[1, 'a', true, null, -2.5] HAS -2.5", true),
    ])
}

#[test]
fn logic_precedence_and_short_circuit() {
    check_filter_table(&[
        ("type == 'support' AND priority == 5", true),
        ("type == 'support' AND priority == 6", false),
        ("type == 'x' OR priority == 5", true),
        ("type == 'x' or priority == 6", false),
        ("type == 'x' && priority == 5", false),
        ("type == 'x' || priority == 5", true),
        // AND binds tighter than OR.
        ("1 == 1 OR 1 == 2 AND 1 == 2", true),
        ("(1 == 1 OR 1 == 2) AND 1 == 2", false),
        ("1 == 2 AND 1 == 2 OR 1 == 1", true),
        ("NOT type == 'x'", true),
        ("NOT (type == 'support')", false),
        ("not (1 == 1) OR 1 == 1", true),
        ("NOT 1 == 1 AND 1 == 2", false),
        ("NOT (1 == 1 AND 1 == 2)", true),
        ("NOT NOT (1 == 1)", true),
        ("NOT (langs HAS 'fr')", true),
        ("((((type == 'support'))))", true),
        ("1 == 2 Or 1 == 1 aNd 2 == 2", true),
        ("type Not In ['x'] AnD langs HaS 'en'", true),
        // Longest operator first: `>-` is HAS, so a space is needed before a negative number.
        ("priority>-1", false),
        ("priority > -1", true),
        ("langs>-'en'", true),
        ("priority<-[5]", true),
    ])
}

#[test]
fn long_flat_chains_and_limits() {
    // 10,000 comparisons in one flat chain (written compactly to fit the byte limit).
    let chain = vec!["a=1"; 10_000].join("&&");
    assert!(chain.len() <= MAX_SOURCE_BYTES);
    let doc = json!({"a": 1});
    assert!(filter(&chain, &doc));
    assert!(!filter(&chain, &json!({"a": 2})));
    let or_chain = vec!["a=2"; 10_000].join("||");
    assert!(!filter(&or_chain, &doc));

    let depth_ok = format!("{}a==1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(filter(&depth_ok, &doc));
    let too_deep = format!(
        "{}a==1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        error(&too_deep, Context::Filter),
        "expression nested deeper than 64 levels of parentheses and NOT at column 65"
    );
    let nots = format!("{}a==1", "NOT ".repeat(MAX_DEPTH + 1));
    assert_eq!(
        error(&nots, Context::Filter),
        "expression nested deeper than 64 levels of parentheses and NOT at column 257"
    );
    // A huge unbalanced input fails on length or depth, never on the stack.
    let huge = "(".repeat(100_000);
    assert!(Expression::parse(&huge, Context::Filter).is_err());
    let deep_but_short = "(".repeat(60_000);
    assert!(error(&deep_but_short, Context::Filter).contains("nested deeper"));

    let long = format!("a == '{}'", "x".repeat(MAX_SOURCE_BYTES));
    assert_eq!(
        error(&long, Context::Filter),
        "expression is longer than the limit of 65536 bytes at column 65537"
    );
    let long_wide = format!("a == '{}'", "é".repeat(MAX_SOURCE_BYTES / 2));
    assert_eq!(
        error(&long_wide, Context::Filter),
        "expression is longer than the limit of 65536 bytes at column 32772"
    );
    let just_fits = format!("a == '{}'", "x".repeat(MAX_SOURCE_BYTES - 7));
    assert_eq!(just_fits.len(), MAX_SOURCE_BYTES);
    assert!(Expression::parse(&just_fits, Context::Filter).is_ok());
}

#[test]
fn syntax_errors() {
    check_errors(
        Context::Filter,
        &[
            ("is_vip", "expected an operator after 'is_vip' at column 1"),
            ("true", "expected an operator after 'true' at column 1"),
            ("\"abc\"", "expected an operator after \"abc\" at column 1"),
            ("['a'] OR 1 == 1", "expected an operator after the array at column 1"),
            ("-12.5 AND 1 == 1", "expected an operator after '-12.5' at column 1"),
            ("a == 1 AND is_vip", "expected an operator after 'is_vip' at column 12"),
            ("(is_vip)", "expected an operator after 'is_vip' at column 2"),
            ("", "expected an expression, found end of input at column 1"),
            ("type IN", "expected a value after IN at column 8"),
            ("skills HAS 'x' IN", "expected AND, OR or the end of the expression, found IN at column 16"),
            ("customer IN ) ", "expected a value after IN, found ')' at column 13"),
            ("a == 1 AND", "expected a value after AND at column 11"),
            ("a ==", "expected a value after '==' at column 5"),
            ("'abc", "unterminated string starting at column 1"),
            ("a == 'abc", "unterminated string starting at column 6"),
            (r"a == 'abc\'", "unterminated string starting at column 6"),
            ("a == #", "unexpected character '#' at column 6"),
            ("a ! b", "unexpected character '!' (write != for inequality, NOT for negation) at column 3"),
            ("a & b", "unexpected character '&' at column 3"),
            ("(a == 1 AND b == 2", "expected ')' to close '(' from column 1, found end of input at column 19"),
            ("(a == 1 b", "expected ')' to close '(' from column 1, found 'b' at column 9"),
            ("a == 1)", "unexpected ')' with no '(' to close at column 7"),
            ("customer-value == 1", "TaskRouter does not allow hyphens in names ('-') at column 9"),
            ("a.customer-value == 1", "TaskRouter does not allow hyphens in names ('-') at column 11"),
            ("a HAS NOT", "expected a value after HAS, found NOT at column 7"),
            ("skills NOT HAS 'x'", "NOT HAS is not supported; write NOT (x HAS y) instead at column 8"),
            ("name not contains 'x'", "NOT CONTAINS is not supported; write NOT (x CONTAINS y) instead at column 6"),
            ("a NOT == 1", "expected IN after NOT, found '==' at column 7"),
            ("a IN [1, b]", "expected a string, number, true, false or null in the array, found 'b' at column 10"),
            ("a IN [1 2]", "expected ',' or ']' to close '[' from column 6, found '2' at column 9"),
            ("a IN [1,]", "expected a string, number, true, false or null in the array, found ']' at column 9"),
            ("a IN [[1]]", "expected a string, number, true, false or null in the array, found '[' at column 7"),
            ("a == 1.", "expected a digit after '.' in a number at column 8"),
            ("a == 1x", "unexpected character 'x' in a number at column 7"),
            ("a == 1.5.2", "unexpected character '.' in a number at column 9"),
            ("a == - 1", "unexpected character '-' at column 6"),
            ("a. b == 1", "expected a name after '.' at column 3"),
            ("a[1 == 1", "expected ']' to close '[' from column 2, found ' ' at column 4"),
            ("a == 1 == 1", "expected AND, OR or the end of the expression, found '==' at column 8"),
            ("AND", "expected a value, found AND at column 1"),
            ("in == 1", "expected a value, found IN at column 1"),
        ],
    );
    let huge_number = format!("a == {}", "9".repeat(400));
    assert!(error(&huge_number, Context::Filter).starts_with("number 999"));
    expect!["number 9999999999999999999999999999999999999999… is out of range at column 6"]
        .assert_eq(&error(&huge_number, Context::Filter));
}

#[test]
fn error_snapshots() {
    expect!["expected a value after IN at column 17"]
        .assert_eq(&error("x == 1 OR lan IN", Context::Filter));
    expect!["unexpected character '#' at column 5"].assert_eq(&error("a ==#", Context::Filter));
    expect!["expected ')' to close '(' from column 1, found end of input at column 20"]
        .assert_eq(&error("(a == 1 OR b == 'x'", Context::Filter));
    expect!["unterminated string starting at column 3"]
        .assert_eq(&error("a=\"xyz", Context::Filter));
    // Columns count characters, not bytes.
    expect!["unexpected character '#' at column 10"]
        .assert_eq(&error("é == 'ü' #", Context::Filter));
    let e = Expression::parse("é == 'ü' #", Context::Filter).err();
    assert_eq!(
        e.map(|e| (e.message, e.column)),
        Some(("unexpected character '#'".to_owned(), 10))
    );
}

struct TestWorker {
    attributes: Value,
    builtins: bool,
}

impl WorkerFacts for TestWorker {
    fn attributes(&self) -> &Value {
        &self.attributes
    }
    fn sid(&self) -> Option<&str> {
        self.builtins.then_some("WK_builtin")
    }
    fn friendly_name(&self) -> Option<&str> {
        self.builtins.then_some("Alice")
    }
    fn activity_sid(&self) -> Option<&str> {
        self.builtins.then_some("WA_idle")
    }
    fn activity_name(&self) -> Option<&str> {
        self.builtins.then_some("Available")
    }
    fn channel(&self, unique_name: &str) -> Option<ChannelFacts> {
        (self.builtins && unique_name == "voice").then_some(ChannelFacts {
            configured_capacity: 2,
            assigned_tasks: 1,
            available_capacity_percentage: 50,
        })
    }
}

fn worker_attributes() -> Value {
    json!({
        "skills": ["support", "sales"],
        "langs": ["en", "fr"],
        "level": 3,
        "sid": "WK_attr",
        "friendly_name": "attr name",
        "activity_name": "attr activity",
        "channel": {"voice": {"assigned_tasks": 99}},
        "contact_uri": "client:alice",
        "taskrouter": {"currentTime": 1}
    })
}

#[test]
fn target_workers_context() {
    let with = TestWorker {
        attributes: worker_attributes(),
        builtins: true,
    };
    let without = TestWorker {
        attributes: worker_attributes(),
        builtins: false,
    };
    let rows: &[(&str, bool, bool)] = &[
        // (expression, with built-ins, without built-ins)
        ("skills HAS 'support'", true, true),
        ("level >= 3 AND langs HAS 'fr'", true, true),
        ("sid == 'WK_builtin'", true, false),
        ("sid == 'WK_attr'", false, true),
        ("friendly_name == 'Alice'", true, false),
        ("friendly_name == 'attr name'", false, true),
        ("activity_sid == 'WA_idle'", true, false),
        ("activity_sid == null", false, true),
        ("activity_name == 'Available'", true, false),
        ("activity_name CONTAINS 'attr'", false, true),
        ("channel.voice.assigned_tasks == 99", true, true),
        ("task.x == null", true, true),
        ("1 == 1", true, true),
    ];
    let mut failures = Vec::new();
    for (source, expect_with, expect_without) in rows {
        let e = Expression::parse(source, Context::TargetWorkers).map_err(|e| e.to_string());
        let Ok(e) = e else {
            failures.push(format!("{source:?}: {e:?}"));
            continue;
        };
        for (worker, expected) in [(&with, expect_with), (&without, expect_without)] {
            let scope = Scope {
                worker: Some(worker),
                ..Scope::default()
            };
            if e.evaluate(&scope) != *expected {
                failures.push(format!(
                    "{source:?} builtins={}: expected {expected}",
                    worker.builtins
                ));
            }
        }
        // No worker at all: everything reads NULL.
        let _ = e.evaluate(&Scope::default());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let e = Expression::parse(
        "skills HAS 'x' AND activity_name == 'A' OR level > 1",
        Context::TargetWorkers,
    );
    let roots: Vec<_> = e
        .iter()
        .flat_map(|e| e.worker_roots().iter().cloned())
        .collect();
    assert_eq!(roots, ["activity_name", "level", "skills"]);
    assert!(e
        .iter()
        .all(|e| e.task_roots().is_empty() && !e.uses_clock()));

    expect!["'taskrouter.currentHour' cannot be used in target_workers: queue membership must not depend on the time; use time of day in workflow filters or target expressions instead at column 1"]
        .assert_eq(&error("taskrouter.currentHour == '08'", Context::TargetWorkers));
    assert!(error(
        "level > 1 AND taskrouter.dayOfWeek == 'Mon'",
        Context::TargetWorkers
    )
    .ends_with("at column 15"));
}

#[test]
fn filter_context() {
    let e = Expression::parse(
        "type == 'a' AND nested.x[0] == 1 OR taskrouter.currentHour > 8",
        Context::Filter,
    );
    let e = e.ok();
    let roots: Vec<_> = e
        .iter()
        .flat_map(|e| e.task_roots().iter().cloned())
        .collect();
    assert_eq!(roots, ["nested", "type"]);
    assert!(e
        .as_ref()
        .is_some_and(|e| e.uses_clock() && e.worker_roots().is_empty()));
    assert!(e.is_some_and(|e| e.context() == Context::Filter && e.source().starts_with("type")));
    assert!(!Expression::parse("taskrouter.x == 1", Context::Filter).is_ok_and(|_| true));
    check_errors(
        Context::Filter,
        &[
            (
                "taskrouter.currentDay == 'Mon'",
                "unknown 'taskrouter.currentDay': taskrouter.* is one of taskrouter.currentTime, taskrouter.currentHour, taskrouter.currentMin, taskrouter.dayOfWeek at column 1",
            ),
            ("taskrouter == 1", "unknown 'taskrouter': taskrouter.* is one of taskrouter.currentTime, taskrouter.currentHour, taskrouter.currentMin, taskrouter.dayOfWeek at column 1"),
            ("taskrouter.currentTime.x == 1", "unknown 'taskrouter.currentTime.x': taskrouter.* is one of taskrouter.currentTime, taskrouter.currentHour, taskrouter.currentMin, taskrouter.dayOfWeek at column 1"),
        ],
    );
    // Workers' fields are just attribute names in a filter.
    assert!(filter(
        "worker.sid == 'x'",
        &json!({"worker": {"sid": "x"}})
    ));
}

#[test]
fn target_context() {
    let task = json!({"lang": "fr", "sid": "WT_attr", "worker_sid": "WK_builtin", "ignore": "client:alice", "n": 1});
    let task_without_sid = json!({"lang": "fr"});
    let worker = TestWorker {
        attributes: worker_attributes(),
        builtins: true,
    };
    let bare = TestWorker {
        attributes: worker_attributes(),
        builtins: false,
    };
    let rows: &[(&str, bool)] = &[
        ("task.lang IN worker.langs", true),
        ("task.lang == 'fr' AND worker.level > 2", true),
        ("worker.skills HAS task.lang", false),
        ("task.worker_sid == worker.sid", true),
        ("task.worker_sid = worker.sid", true),
        ("worker.contact_uri != task.ignore", false),
        ("worker.contact_uri != task.missing", true),
        ("task.sid == 'WT_attr'", true),
        ("worker.friendly_name == 'Alice'", true),
        ("worker.activity_name == 'Available'", true),
        ("worker.activity_sid == 'WA_idle'", true),
        ("worker.channel.voice.configured_capacity == 2", true),
        ("worker.channel.voice.assigned_tasks == 1", true),
        (
            "worker.channel.voice.available_capacity_percentage >= 50",
            true,
        ),
        ("worker.channel.sms.assigned_tasks == null", true),
        ("worker.channel.sms.assigned_tasks == 0", false),
        ("taskrouter.currentTime == null", true),
        ("task.n == 1 AND worker.missing == null", true),
    ];
    let mut failures = Vec::new();
    for (source, expected) in rows {
        let e = match Expression::parse(source, Context::Target) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{source:?}: {e}"));
                continue;
            }
        };
        let s = Scope {
            task: Some(TaskScope {
                attributes: &task,
                sid: Some("WT_scope"),
            }),
            worker: Some(&worker),
            ..Scope::default()
        };
        if e.evaluate(&s) != *expected {
            failures.push(format!("{source:?}: expected {expected}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let long_key = format!("{} == 1", "k".repeat(100));
    assert_eq!(
        error(&long_key, Context::Target),
        format!(
            "unknown key '{}…': keys in a target expression must start with 'task.' or 'worker.' at column 1",
            "k".repeat(40)
        )
    );

    // task.sid falls back to the task's SID when the attributes have no `sid` key.
    let e = Expression::parse("task.sid == 'WT_scope'", Context::Target).ok();
    let s = Scope {
        task: Some(TaskScope {
            attributes: &task_without_sid,
            sid: Some("WT_scope"),
        }),
        worker: Some(&bare),
        ..Scope::default()
    };
    assert!(e.as_ref().is_some_and(|e| e.evaluate(&s)));
    let s2 = Scope {
        task: Some(TaskScope {
            attributes: &task,
            sid: Some("WT_scope"),
        }),
        ..s
    };
    assert!(e.is_some_and(|e| !e.evaluate(&s2)));
    // Without built-ins, worker fields read the attributes; channel reads NULL, never the attribute.
    let e = Expression::parse(
        "worker.sid == 'WK_attr' AND worker.channel.voice.assigned_tasks == null",
        Context::Target,
    );
    assert!(e.is_ok_and(|e| e.evaluate(&s)));

    let e = Expression::parse(
        "task.lang IN worker.langs AND worker.channel.voice.assigned_tasks < 2 AND worker.activity_name == 'x' AND task.sid == 1",
        Context::Target,
    );
    let e = e.ok();
    let worker_roots: Vec<_> = e
        .iter()
        .flat_map(|e| e.worker_roots().iter().cloned())
        .collect();
    let task_roots: Vec<_> = e
        .iter()
        .flat_map(|e| e.task_roots().iter().cloned())
        .collect();
    assert_eq!(worker_roots, ["activity_name", "langs"]);
    assert_eq!(task_roots, ["lang", "sid"]);

    check_errors(
        Context::Target,
        &[
            ("lang == 'fr'", "unknown key 'lang': keys in a target expression must start with 'task.' or 'worker.' at column 1"),
            ("task.a == 1 OR workers.available > 1", "unknown key 'workers': keys in a target expression must start with 'task.' or 'worker.' at column 16"),
            ("task == 1", "expected task.<attribute> after 'task' at column 1"),
            ("worker[0] == 1", "expected worker.<attribute> after 'worker' at column 1"),
            ("worker.channel.voice == 1", "unknown 'worker.channel.voice': expected worker.channel.<name>.configured_capacity, .assigned_tasks or .available_capacity_percentage at column 1"),
            ("worker.channel.voice.capacity == 1", "unknown 'worker.channel.voice.capacity': expected worker.channel.<name>.configured_capacity, .assigned_tasks or .available_capacity_percentage at column 1"),
            ("taskrouter.now == 1", "unknown 'taskrouter.now': taskrouter.* is one of taskrouter.currentTime, taskrouter.currentHour, taskrouter.currentMin, taskrouter.dayOfWeek at column 1"),
        ],
    );
}

struct Counts;

impl QueueCounts for Counts {
    fn available(&self) -> u64 {
        0
    }
    fn unavailable(&self) -> u64 {
        4
    }
    fn in_activity(&self, activity_sid: &str) -> u64 {
        if activity_sid == "WAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            2
        } else {
            0
        }
    }
}

#[test]
fn skip_if_context() {
    let scope = Scope {
        workers: Some(&Counts),
        ..Scope::default()
    };
    let rows: &[(&str, bool)] = &[
        ("workers.available == 0", true),
        ("workers.available == '0'", true),
        ("workers.unavailable > 3", true),
        ("workers.available == 0 AND workers.unavailable < 4", false),
        ("workers.WAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa == 2", true),
        ("workers.WA0123456789ABCDEFabcdef0123456789 == 0", true),
        ("1 == 1", true),
        ("taskrouter.currentTime == null", true),
    ];
    for (source, expected) in rows {
        let e = Expression::parse(source, Context::SkipIf).map_err(|e| e.to_string());
        assert_eq!(e.map(|e| e.evaluate(&scope)), Ok(*expected), "{source}");
    }
    // Without counters, counters are NULL.
    let e = Expression::parse("workers.available == null", Context::SkipIf);
    assert!(e.is_ok_and(|e| e.evaluate(&Scope::default())));

    let e = Expression::parse(
        "workers.WAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa > 0 OR workers.WA0123456789ABCDEFabcdef0123456789 > 0 OR workers.available > 0",
        Context::SkipIf,
    );
    let sids: Vec<_> = e
        .iter()
        .flat_map(|e| e.activity_sids().iter().cloned())
        .collect();
    assert_eq!(
        sids,
        [
            "WA0123456789ABCDEFabcdef0123456789",
            "WAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ]
    );

    let rejected = [
        "available == 0",
        "workers.busy == 0",
        "workers.WA123 == 0",
        "workers.WAgggggggggggggggggggggggggggggggg == 0",
        "workers.available.x == 0",
        "workers == 0",
        "worker.level == 1",
        "task.x == 1",
    ];
    for source in rejected {
        let e = error(source, Context::SkipIf);
        assert!(
            e.contains("skip_if can read only workers.available, workers.unavailable, workers.<ActivitySid> and taskrouter.*"),
            "{source}: {e}"
        );
    }
    expect!["unknown key 'workers.busy': skip_if can read only workers.available, workers.unavailable, workers.<ActivitySid> and taskrouter.* at column 27"]
        .assert_eq(&error("workers.available == 0 OR workers.busy == 0", Context::SkipIf));
}

fn clock_values(unix_millis: i64) -> (bool, String) {
    let scope = Scope {
        now: Some(Clock::from_unix_millis(unix_millis)),
        ..Scope::default()
    };
    let mut out = String::new();
    for (name, candidates) in [
        (
            "currentTime",
            (0..2400).map(|n| n.to_string()).collect::<Vec<_>>(),
        ),
        (
            "currentHour",
            (0..24).map(|n| format!("'{n:02}'")).collect(),
        ),
        ("currentMin", (0..60).map(|n| format!("'{n:02}'")).collect()),
        (
            "dayOfWeek",
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
                .iter()
                .map(|d| format!("'{d}'"))
                .collect(),
        ),
    ] {
        let matching: Vec<_> = candidates
            .iter()
            .filter(|c| {
                Expression::parse(&format!("taskrouter.{name} == {c}"), Context::Filter)
                    .is_ok_and(|e| e.evaluate(&scope))
            })
            .cloned()
            .collect();
        out.push_str(&format!("{name}={} ", matching.join("|")));
    }
    (true, out.trim_end().to_owned())
}

#[test]
fn time_of_day() {
    // 2024-03-14T08:30:59.999Z, a Thursday.
    expect!["currentTime=830 currentHour='08' currentMin='30' dayOfWeek='Thu'"]
        .assert_eq(&clock_values(1_710_405_059_999).1);
    // 1970-01-01T00:00:00Z, a Thursday.
    expect!["currentTime=0 currentHour='00' currentMin='00' dayOfWeek='Thu'"]
        .assert_eq(&clock_values(0).1);
    // One millisecond before the epoch: 1969-12-31T23:59:59.999Z, a Wednesday.
    expect!["currentTime=2359 currentHour='23' currentMin='59' dayOfWeek='Wed'"]
        .assert_eq(&clock_values(-1).1);
    // 1900-01-01T13:05:00Z was a Monday.
    expect!["currentTime=1305 currentHour='13' currentMin='05' dayOfWeek='Mon'"]
        .assert_eq(&clock_values(-2_208_941_700_000).1);
    // 2025-11-29T23:00:00Z, a Saturday; 2026-11-29T23:00:00Z, a Sunday.
    expect!["currentTime=2300 currentHour='23' currentMin='00' dayOfWeek='Sat'"]
        .assert_eq(&clock_values(1_764_457_200_000).1);
    expect!["currentTime=2300 currentHour='23' currentMin='00' dayOfWeek='Sun'"]
        .assert_eq(&clock_values(1_795_993_200_000).1);
    // Extremes do not overflow.
    let _ = clock_values(i64::MIN);
    let _ = clock_values(i64::MAX);

    // The documented examples: numeric comparison of the hour string, and 0800.
    let at = |millis| Scope {
        now: Some(Clock::from_unix_millis(millis)),
        ..Scope::default()
    };
    let e = Expression::parse(
        "taskrouter.currentHour > 8 AND taskrouter.currentTime > 0800 AND taskrouter.dayOfWeek IN ['Mon', 'Tue', 'Wed', 'Thu', 'Fri']",
        Context::Filter,
    );
    let e = e.ok();
    assert!(e
        .as_ref()
        .is_some_and(|e| e.uses_clock() && e.task_roots().is_empty()));
    assert!(e
        .as_ref()
        .is_some_and(|e| e.evaluate(&at(1_710_410_400_000)))); // Thu 10:00
    assert!(e
        .as_ref()
        .is_some_and(|e| !e.evaluate(&at(1_710_405_059_999)))); // Thu 08:30
    assert!(e.as_ref().is_some_and(|e| !e.evaluate(&Scope::default())));
}

#[test]
fn order_by() {
    let worker = |v: Value| v;
    let a = worker(json!({"level": 3, "tenure": 10, "nested": {"x": [5]}}));
    let b = worker(json!({"level": 3, "tenure": 2, "nested": {"x": [1]}}));
    let c = worker(json!({"level": 1.0, "tenure": "7"}));
    let d = worker(json!({"level": 2.5}));
    let e = worker(json!({}));
    let order = |s: &str| OrderBy::parse(s).map_err(|e| e.to_string());

    let by_level_desc = order("worker.level DESC");
    let by_level_desc = by_level_desc.as_ref().ok();
    let cmp = |o: Option<&OrderBy>, x: &Value, y: &Value| o.map(|o| o.compare(x, y));
    assert_eq!(cmp(by_level_desc, &a, &c), Some(Ordering::Less));
    assert_eq!(cmp(by_level_desc, &c, &a), Some(Ordering::Greater));
    assert_eq!(cmp(by_level_desc, &a, &b), Some(Ordering::Equal));
    // Not an integer, or missing: after every worker that has one, in either direction.
    assert_eq!(cmp(by_level_desc, &d, &c), Some(Ordering::Greater));
    assert_eq!(cmp(by_level_desc, &e, &c), Some(Ordering::Greater));
    assert_eq!(cmp(by_level_desc, &d, &e), Some(Ordering::Equal));
    let by_level_asc = order("worker.level asc");
    let by_level_asc = by_level_asc.as_ref().ok();
    assert_eq!(cmp(by_level_asc, &c, &a), Some(Ordering::Less));
    assert_eq!(cmp(by_level_asc, &e, &c), Some(Ordering::Greater));
    assert_eq!(cmp(by_level_asc, &c, &e), Some(Ordering::Less));

    let two = order("worker.level DESC, worker.tenure ASC");
    let two = two.as_ref().ok();
    assert_eq!(cmp(two, &a, &b), Some(Ordering::Greater));
    assert_eq!(cmp(two, &b, &a), Some(Ordering::Less));
    let nested = order("worker.nested.x[0] Desc");
    assert_eq!(cmp(nested.as_ref().ok(), &a, &b), Some(Ordering::Less));
    assert_eq!(
        two.map(|o| o.source()),
        Some("worker.level DESC, worker.tenure ASC")
    );

    let errors = [
        (
            "worker.level",
            "expected ASC or DESC after 'worker.level', found end of input at column 13",
        ),
        (
            "level DESC",
            "expected worker.<attribute> in order_by, found 'level' at column 1",
        ),
        (
            "task.level DESC",
            "expected worker.<attribute> in order_by, found 'task.level' at column 1",
        ),
        (
            "worker DESC",
            "expected worker.<attribute> in order_by, found 'worker' at column 1",
        ),
        (
            "worker.level UP",
            "expected ASC or DESC after 'worker.level', found 'UP' at column 14",
        ),
        (
            "worker.level DESC worker.x ASC",
            "expected ',' or the end of order_by, found 'worker.x' at column 19",
        ),
        (
            "worker.level DESC,",
            "expected worker.<attribute> in order_by, found end of input at column 19",
        ),
        (
            "",
            "expected worker.<attribute> in order_by, found end of input at column 1",
        ),
        (
            "worker.a-b ASC",
            "TaskRouter does not allow hyphens in names ('-') at column 9",
        ),
    ];
    for (source, expected) in errors {
        assert_eq!(order(source).err().as_deref(), Some(expected), "{source}");
    }
}

#[test]
fn task_reference() {
    let attributes = json!({"agent": "WK1", "nested": {"ids": ["WK2"]}, "n": 1, "nothing": null});
    let resolve =
        |s: &str| TaskReference::parse(s).map(|r| r.resolve(&attributes).map(str::to_owned));
    assert_eq!(resolve("task.agent"), Ok(Some("WK1".to_owned())));
    assert_eq!(resolve("task.nested.ids[0]"), Ok(Some("WK2".to_owned())));
    assert_eq!(resolve(" task.agent "), Ok(Some("WK1".to_owned())));
    assert_eq!(resolve("task.n"), Ok(None));
    assert_eq!(resolve("task.nothing"), Ok(None));
    assert_eq!(resolve("task.missing"), Ok(None));
    assert_eq!(
        TaskReference::parse("task.agent").map(|r| r.source().to_owned()),
        Ok("task.agent".to_owned())
    );
    let errors = [
        (
            "agent",
            "expected a reference of the form task.<attribute>, found 'agent' at column 1",
        ),
        (
            "worker.sid",
            "expected a reference of the form task.<attribute>, found 'worker.sid' at column 1",
        ),
        (
            "task",
            "expected a reference of the form task.<attribute>, found 'task' at column 1",
        ),
        (
            "",
            "expected a reference of the form task.<attribute>, found end of input at column 1",
        ),
        (
            "task.a == 1",
            "expected only task.<attribute>, found '==' after it at column 8",
        ),
        (
            "'task.a'",
            "expected a reference of the form task.<attribute>, found 'task.a' at column 1",
        ),
    ];
    for (source, expected) in errors {
        assert_eq!(
            TaskReference::parse(source)
                .map_err(|e| e.to_string())
                .err()
                .as_deref(),
            Some(expected)
        );
    }
}

/// Every file in fuzz/regressions/ once made the fuzzer fail; none may panic now.
#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(!entries.is_empty(), "no files in {}", dir.display());
    let attributes = task_doc();
    let worker = TestWorker {
        attributes: worker_attributes(),
        builtins: true,
    };
    let scope = Scope {
        task: Some(TaskScope {
            attributes: &attributes,
            sid: Some("WT1"),
        }),
        worker: Some(&worker),
        workers: Some(&Counts),
        now: Some(Clock::from_unix_millis(-1)),
    };
    for entry in entries {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        let Ok(source) = std::str::from_utf8(&bytes) else {
            continue;
        };
        for context in [
            Context::Filter,
            Context::TargetWorkers,
            Context::Target,
            Context::SkipIf,
        ] {
            if let Ok(e) = Expression::parse(source, context) {
                let _ = e.evaluate(&scope);
            }
        }
        let _ = OrderBy::parse(source).map(|o| o.compare(&attributes, &worker));
        let _ = TaskReference::parse(source).map(|r| r.resolve(&attributes).is_some());
    }
}
