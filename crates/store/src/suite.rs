//! The tests every store passes. Each backend's tests implement [`Fixture`] (a fresh database,
//! and ways to open it and to change it behind the store's back) and call [`suite!`], which
//! makes one `#[test]` per function here.

use crate::interface::{
    Batch, EventQuery, EventRow, LogEntry, Store, StoreError, TaskQuery, TaskRow, KEPT_SNAPSHOTS,
};

/// A fresh, empty database of one backend, gone when dropped.
pub(crate) trait Fixture {
    /// A new database.
    fn new() -> Self;
    /// The writer.
    fn open(&self) -> Result<Box<dyn Store>, StoreError>;
    /// A reader beside the writer (a read-only connection, as a whole store to show that it
    /// cannot write).
    fn reader(&self) -> Box<dyn Store>;
    /// Runs SQL on a connection of its own.
    fn execute(&self, sql: &str);
    /// Records `version` as the database's schema version, as a newer program would.
    fn set_version(&self, version: i64);
}

/// One `#[test]` per suite test, for the fixture type given.
macro_rules! suite {
    ($fixture:ty) => {
        $crate::suite::suite!(@tests $fixture;
            a_committed_batch_survives_reopening,
            the_log_is_numbered_without_gaps,
            a_visitor_that_fails_stops_the_replay,
            a_long_log_is_read_whole_and_in_order,
            events_filter_and_page_in_order,
            events_are_ordered_by_time_then_by_commit,
            finished_tasks_are_kept_replaced_and_deleted,
            settings_are_set_and_overwritten,
            a_failed_batch_writes_nothing,
            a_reader_sees_each_commit_and_cannot_write,
            a_newer_schema_is_refused,
            prune_deletes_old_events_and_tasks_in_bounded_batches,
            prune_of_many_rows_takes_many_short_calls,
            a_snapshot_and_the_tail_after_it,
            the_log_is_pruned_behind_the_older_snapshot,
            seq_goes_on_after_pruning,
            a_snapshot_is_never_seen_half_written,
        );
    };
    (@tests $fixture:ty; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$name(&<$fixture as $crate::suite::Fixture>::new());
            }
        )*
    };
}
pub(crate) use suite;

fn event(sid: &str, ty: &str, at: i64, task: &str) -> EventRow {
    EventRow {
        sid: sid.into(),
        workspace_sid: "WS1".into(),
        event_type: ty.into(),
        at_ms: at,
        task_sid: task.into(),
        data: format!("{{\"sid\":\"{sid}\"}}"),
        ..Default::default()
    }
}

fn entry(at_ms: i64, body: &str) -> LogEntry {
    LogEntry {
        seq: 0,
        at_ms,
        body: body.into(),
    }
}

fn task(sid: &str, status: &str, created: i64) -> TaskRow {
    TaskRow {
        sid: sid.into(),
        workspace_sid: "WS1".into(),
        status: status.into(),
        date_created_ms: created,
        date_updated_ms: created + 1,
        data: format!("{{\"sid\":\"{sid}\"}}"),
    }
}

fn all_events() -> EventQuery {
    EventQuery {
        workspace_sid: "WS1".into(),
        ..Default::default()
    }
}

fn sids(rows: Vec<EventRow>) -> Vec<String> {
    rows.into_iter().map(|e| e.sid).collect()
}

fn log_of(s: &mut dyn Store) -> Vec<(i64, i64, String)> {
    let mut seen = Vec::new();
    s.read_log(&mut |e| {
        seen.push((e.seq, e.at_ms, e.body));
        Ok(())
    })
    .unwrap();
    seen
}

pub(crate) fn a_committed_batch_survives_reopening(db: &impl Fixture) {
    {
        let mut s = db.open().unwrap();
        let first = s
            .commit(&Batch {
                log: vec![entry(5, "a"), entry(6, "b")],
                events: vec![event("EV1", "task.created", 5, "WT1")],
                finished: vec![task("WT9", "completed", 3)],
                settings: vec![("k".into(), "v".into())],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(first, 1);
    }
    let mut s = db.open().unwrap();
    assert_eq!(
        log_of(s.as_mut()),
        [(1, 5, "a".to_owned()), (2, 6, "b".to_owned())]
    );
    assert_eq!(s.setting("k").unwrap().as_deref(), Some("v"));
    assert_eq!(s.setting("absent").unwrap(), None);
    let events = s.events(&all_events(), 0, 10).unwrap();
    assert_eq!(events, [event("EV1", "task.created", 5, "WT1")]);
    assert_eq!(
        s.finished_task("WS1", "WT9").unwrap(),
        Some(task("WT9", "completed", 3))
    );
}

pub(crate) fn the_log_is_numbered_without_gaps(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    assert_eq!(
        s.commit(&Batch {
            log: vec![entry(1, "a")],
            ..Default::default()
        })
        .unwrap(),
        1
    );
    // A batch without log entries has no first seq.
    assert_eq!(
        s.commit(&Batch {
            settings: vec![("k".into(), "v".into())],
            ..Default::default()
        })
        .unwrap(),
        0
    );
    assert_eq!(
        s.commit(&Batch {
            log: vec![entry(2, "b"), entry(2, "c")],
            ..Default::default()
        })
        .unwrap(),
        2
    );
    drop(s);
    // Numbering goes on after reopening.
    let mut s = db.open().unwrap();
    assert_eq!(
        s.commit(&Batch {
            log: vec![entry(3, "d")],
            ..Default::default()
        })
        .unwrap(),
        4
    );
    let seqs: Vec<i64> = log_of(s.as_mut()).into_iter().map(|e| e.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

pub(crate) fn a_visitor_that_fails_stops_the_replay(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    s.commit(&Batch {
        log: (0..5).map(|i| entry(i, "x")).collect(),
        ..Default::default()
    })
    .unwrap();
    let mut seen = 0;
    let err = s
        .read_log(&mut |e| {
            seen += 1;
            if e.seq == 3 {
                Err("bad entry 3".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Visit(m) if m == "bad entry 3"),
        "{err}"
    );
    assert_eq!(seen, 3);
    // The store is still usable after a replay stopped half-way.
    s.commit(&Batch {
        log: vec![entry(9, "y")],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(log_of(s.as_mut()).len(), 6);
}

pub(crate) fn a_long_log_is_read_whole_and_in_order(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    let n = 2500;
    s.commit(&Batch {
        log: (0..n).map(|i| entry(i, &format!("e{i}"))).collect(),
        ..Default::default()
    })
    .unwrap();
    let log = log_of(s.as_mut());
    assert_eq!(log.len(), 2500);
    for (i, (seq, at, body)) in (0..).zip(log) {
        assert_eq!((seq, at, body), (i + 1, i, format!("e{i}")));
    }
}

pub(crate) fn events_filter_and_page_in_order(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    let mut other = event("EV4", "task.created", 1, "WT1");
    other.workspace_sid = "WS2".into();
    let mut with_columns = event("EV5", "reservation.accepted", 3, "WT2");
    with_columns.worker_sid = "WK1".into();
    with_columns.reservation_sid = "WR1".into();
    with_columns.workflow_sid = "WW1".into();
    with_columns.queue_sid = "WQ1".into();
    with_columns.channel = "voice".into();
    s.commit(&Batch {
        events: vec![
            event("EV1", "task.created", 1, "WT1"),
            event("EV2", "reservation.created", 1, "WT1"),
            event("EV3", "task.created", 2, "WT2"),
            other,
            with_columns,
        ],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        sids(s.events(&all_events(), 0, 10).unwrap()),
        ["EV1", "EV2", "EV3", "EV5"]
    );
    assert_eq!(sids(s.events(&all_events(), 1, 2).unwrap()), ["EV2", "EV3"]);
    assert!(s.events(&all_events(), 4, 2).unwrap().is_empty());
    assert!(s.events(&all_events(), 0, 0).unwrap().is_empty());
    // Offsets and limits too large for the database are "all".
    assert_eq!(s.events(&all_events(), 0, usize::MAX).unwrap().len(), 4);
    let q = |f: &dyn Fn(&mut EventQuery)| {
        let mut q = all_events();
        f(&mut q);
        q
    };
    for (query, want) in [
        (
            q(&|q| {
                q.task_sid = "WT1".into();
                q.event_types = vec!["task.created".into()];
            }),
            vec!["EV1"],
        ),
        (
            q(&|q| q.event_types = vec!["task.created".into(), "reservation.accepted".into()]),
            vec!["EV1", "EV3", "EV5"],
        ),
        (q(&|q| q.sid = "EV3".into()), vec!["EV3"]),
        (q(&|q| q.worker_sid = "WK1".into()), vec!["EV5"]),
        (q(&|q| q.reservation_sid = "WR1".into()), vec!["EV5"]),
        (q(&|q| q.workflow_sid = "WW1".into()), vec!["EV5"]),
        (q(&|q| q.queue_sid = "WQ1".into()), vec!["EV5"]),
        (q(&|q| q.channel = "voice".into()), vec!["EV5"]),
        (q(&|q| q.from_ms = Some(2)), vec!["EV3", "EV5"]),
        (q(&|q| q.to_ms = Some(2)), vec!["EV1", "EV2", "EV3"]),
        (
            q(&|q| {
                q.from_ms = Some(2);
                q.to_ms = Some(2);
            }),
            vec!["EV3"],
        ),
        (q(&|q| q.workspace_sid = "WS2".into()), vec!["EV4"]),
        (q(&|q| q.workspace_sid = "WS3".into()), vec![]),
    ] {
        assert_eq!(sids(s.events(&query, 0, 10).unwrap()), want, "{query:?}");
    }
    assert_eq!(
        s.event_counts(&all_events()).unwrap(),
        [
            ("reservation.accepted".to_owned(), 1),
            ("reservation.created".to_owned(), 1),
            ("task.created".to_owned(), 2)
        ]
    );
    assert_eq!(
        s.event_counts(&q(&|q| q.task_sid = "WT1".into())).unwrap(),
        [
            ("reservation.created".to_owned(), 1),
            ("task.created".to_owned(), 1)
        ]
    );
}

pub(crate) fn events_are_ordered_by_time_then_by_commit(db: &impl Fixture) {
    {
        let mut s = db.open().unwrap();
        s.commit(&Batch {
            events: vec![event("EVb", "a", 2, ""), event("EVa", "a", 1, "")],
            ..Default::default()
        })
        .unwrap();
        s.commit(&Batch {
            events: vec![event("EVz", "a", 1, "")],
            ..Default::default()
        })
        .unwrap();
    }
    // After reopening, new events still come after the old ones of the same time.
    let mut s = db.open().unwrap();
    s.commit(&Batch {
        events: vec![event("EVc", "a", 1, "")],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        sids(s.events(&all_events(), 0, 10).unwrap()),
        ["EVa", "EVz", "EVc", "EVb"]
    );
    // An event written again with the same SID replaces the old one, in the new place.
    let mut again = event("EVa", "b", 1, "");
    again.data = "{}".into();
    s.commit(&Batch {
        events: vec![again.clone()],
        ..Default::default()
    })
    .unwrap();
    let rows = s.events(&all_events(), 0, 10).unwrap();
    assert_eq!(sids(rows.clone()), ["EVz", "EVc", "EVa", "EVb"]);
    assert_eq!(rows[2], again);
}

pub(crate) fn finished_tasks_are_kept_replaced_and_deleted(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    let mut other = task("WT0", "completed", 1);
    other.workspace_sid = "WS2".into();
    s.commit(&Batch {
        finished: vec![
            task("WTb", "completed", 2),
            task("WTa", "canceled", 2),
            task("WTc", "completed", 1),
            // Upper case sorts before lower case, byte by byte, in every backend.
            task("WTB", "completed", 2),
            other,
        ],
        ..Default::default()
    })
    .unwrap();
    let list = |s: &mut Box<dyn Store>, statuses: &[&str]| -> Vec<String> {
        s.finished_tasks(&TaskQuery {
            workspace_sid: "WS1".into(),
            statuses: statuses.iter().map(|&x| x.to_owned()).collect(),
        })
        .unwrap()
        .into_iter()
        .map(|t| t.sid)
        .collect()
    };
    assert_eq!(list(&mut s, &[]), ["WTc", "WTB", "WTa", "WTb"]);
    assert_eq!(list(&mut s, &["completed"]), ["WTc", "WTB", "WTb"]);
    assert_eq!(list(&mut s, &["canceled", "completed"]).len(), 4);
    assert_eq!(list(&mut s, &["pending"]), Vec::<String>::new());
    assert_eq!(s.finished_task("WS2", "WTa").unwrap(), None);
    assert_eq!(
        s.finished_task("WS2", "WT0").unwrap().map(|t| t.status),
        Some("completed".to_owned())
    );
    let mut replaced = task("WTa", "completed", 7);
    replaced.data = "{\"again\":true}".into();
    s.commit(&Batch {
        finished: vec![replaced.clone()],
        deleted_tasks: vec!["WTc".into(), "WTnever".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.finished_task("WS1", "WTa").unwrap(), Some(replaced));
    assert_eq!(s.finished_task("WS1", "WTc").unwrap(), None);
    assert_eq!(list(&mut s, &[]), ["WTB", "WTb", "WTa"]);
}

pub(crate) fn settings_are_set_and_overwritten(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    s.commit(&Batch {
        settings: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        ..Default::default()
    })
    .unwrap();
    s.commit(&Batch {
        settings: vec![("a".into(), "3".into())],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.setting("a").unwrap().as_deref(), Some("3"));
    assert_eq!(s.setting("b").unwrap().as_deref(), Some("2"));
    // Keys and values are kept exactly, whatever they hold.
    let odd = "k'\"; DROP TABLE settings; -- é\u{1F600}";
    s.commit(&Batch {
        settings: vec![(odd.into(), odd.into())],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.setting(odd).unwrap().as_deref(), Some(odd));
    assert_eq!(s.setting("A").unwrap(), None);
}

pub(crate) fn a_failed_batch_writes_nothing(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    s.commit(&Batch {
        events: vec![event("EV1", "a", 1, "")],
        ..Default::default()
    })
    .unwrap();
    // Make the batch's last step fail (its table is gone): the log entry and the event written
    // before it in the same transaction must not survive.
    db.execute("DROP TABLE settings");
    let err = s.commit(&Batch {
        log: vec![entry(1, "x")],
        events: vec![event("EV2", "a", 1, "")],
        settings: vec![("k".into(), "v".into())],
        ..Default::default()
    });
    assert!(err.is_err());
    assert!(
        log_of(s.as_mut()).is_empty(),
        "the log entry of the failed batch was rolled back"
    );
    assert_eq!(sids(s.events(&all_events(), 0, 10).unwrap()), ["EV1"]);
    // The next batch that can be written is, and numbering did not skip the failed one.
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    assert_eq!(
        s.commit(&Batch {
            log: vec![entry(2, "y")],
            ..Default::default()
        })
        .unwrap(),
        1
    );
}

pub(crate) fn a_reader_sees_each_commit_and_cannot_write(db: &impl Fixture) {
    let mut w = db.open().unwrap();
    let mut r = db.reader();
    assert!(r.events(&all_events(), 0, 10).unwrap().is_empty());
    for (i, sid) in ["EV1", "EV2"].iter().enumerate() {
        w.commit(&Batch {
            events: vec![event(sid, "task.created", 5, "WT1")],
            finished: vec![task(&format!("WT{i}"), "completed", 1)],
            settings: vec![("n".into(), i.to_string())],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.events(&all_events(), 0, 10).unwrap().len(), i + 1);
        assert_eq!(r.event_counts(&all_events()).unwrap()[0].1, i as i64 + 1);
        assert_eq!(r.setting("n").unwrap(), Some(i.to_string()));
        assert!(r.finished_task("WS1", &format!("WT{i}")).unwrap().is_some());
        assert_eq!(
            r.finished_tasks(&TaskQuery {
                workspace_sid: "WS1".into(),
                statuses: vec![],
            })
            .unwrap()
            .len(),
            i + 1
        );
    }
    assert!(r
        .commit(&Batch {
            events: vec![event("EV9", "x", 1, "")],
            ..Default::default()
        })
        .is_err());
    assert_eq!(w.events(&all_events(), 0, 10).unwrap().len(), 2);
}

pub(crate) fn a_newer_schema_is_refused(db: &impl Fixture) {
    drop(db.open().unwrap());
    db.set_version(99);
    match db.open() {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 99);
            assert!((1..99).contains(&supported), "{supported}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a database of a newer version was opened"),
    }
}

fn all_tasks() -> TaskQuery {
    TaskQuery {
        workspace_sid: "WS1".into(),
        statuses: vec![],
    }
}

fn task_sids(s: &mut dyn Store) -> Vec<String> {
    s.finished_tasks(&all_tasks())
        .unwrap()
        .into_iter()
        .map(|t| t.sid)
        .collect()
}

pub(crate) fn prune_deletes_old_events_and_tasks_in_bounded_batches(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    // Five old events (at 10..50), two recent ones; finished tasks aged by when they finished
    // (`date_updated_ms`), so a task created long ago that finished recently stays.
    s.commit(&Batch {
        log: vec![entry(1, "a"), entry(2, "b")],
        events: [50, 10, 40, 20, 30, 100, 200]
            .iter()
            .map(|&at| event(&format!("EV{at}"), "task.created", at, "WT1"))
            .collect(),
        finished: vec![
            task("WTold", "completed", 5),
            task("WTold2", "canceled", 6),
            TaskRow {
                date_updated_ms: 150,
                ..task("WTlate", "completed", 1)
            },
            task("WTnew", "completed", 300),
        ],
        ..Default::default()
    })
    .unwrap();
    let log_before = log_of(s.as_mut());
    // Nothing is older than the oldest row: nothing goes.
    assert_eq!(s.prune(3, 100).unwrap(), Default::default());
    // One call deletes at most `limit` rows in all, the oldest events first.
    let first = s.prune(100, 2).unwrap();
    assert_eq!((first.events, first.finished_tasks), (2, 0));
    assert_eq!(
        sids(s.events(&all_events(), 0, 10).unwrap()),
        ["EV30", "EV40", "EV50", "EV100", "EV200"]
    );
    // The events run out part-way through a batch: old tasks fill the rest of it.
    let second = s.prune(100, 4).unwrap();
    assert_eq!((second.events, second.finished_tasks), (3, 1));
    assert_eq!(second.total(), 4);
    // Fewer than `limit`: nothing older is left.
    let third = s.prune(100, 4).unwrap();
    assert_eq!((third.events, third.finished_tasks), (0, 1));
    assert_eq!(s.prune(100, 4).unwrap().total(), 0);
    assert_eq!(
        sids(s.events(&all_events(), 0, 10).unwrap()),
        ["EV100", "EV200"]
    );
    assert_eq!(task_sids(s.as_mut()), ["WTlate", "WTnew"]);
    assert_eq!(
        s.event_counts(&all_events()).unwrap(),
        [("task.created".to_owned(), 2)]
    );
    // The log is never pruned, and commits go on after a prune, numbered as before.
    assert_eq!(log_of(s.as_mut()), log_before);
    assert_eq!(
        s.commit(&Batch {
            log: vec![entry(3, "c")],
            events: vec![event("EV300", "task.created", 300, "WT2")],
            ..Default::default()
        })
        .unwrap(),
        3
    );
    assert_eq!(
        sids(s.events(&all_events(), 0, 10).unwrap()),
        ["EV100", "EV200", "EV300"]
    );
    // What is pruned stays pruned when the database is opened again; a reader cannot prune.
    drop(s);
    let mut s = db.open().unwrap();
    assert_eq!(s.events(&all_events(), 0, 10).unwrap().len(), 3);
    assert_eq!(task_sids(s.as_mut()), ["WTlate", "WTnew"]);
    assert!(db.reader().prune(i64::MAX, 10).is_err());
    assert_eq!(s.events(&all_events(), 0, 10).unwrap().len(), 3);
}

pub(crate) fn prune_of_many_rows_takes_many_short_calls(db: &impl Fixture) {
    let mut s = db.open().unwrap();
    for chunk in 0..5 {
        s.commit(&Batch {
            events: (0..100)
                .map(|i| {
                    let at = chunk * 100 + i;
                    event(&format!("EV{at:04}"), "task.created", at, "")
                })
                .collect(),
            ..Default::default()
        })
        .unwrap();
    }
    let mut calls = 0;
    loop {
        let r = s.prune(450, 64).unwrap();
        assert!(r.total() <= 64);
        calls += 1;
        if r.total() < 64 {
            break;
        }
    }
    assert_eq!(calls, 8, "450 rows in batches of 64");
    let left = s.events(&all_events(), 0, 100).unwrap();
    assert_eq!(left.len(), 50);
    assert_eq!(left[0].sid, "EV0450");
}

/// Commits `n` log entries, one batch each, with bodies `e1`, `e2`, ... from `from`.
fn entries(s: &mut dyn Store, from: i64, n: i64) {
    for i in from..from + n {
        s.commit(&Batch {
            log: vec![entry(i, &format!("e{i}"))],
            ..Default::default()
        })
        .unwrap();
    }
}

fn seqs_after(s: &mut dyn Store, after: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    s.read_log_after(after, &mut |e| {
        seen.push(e.seq);
        Ok(())
    })
    .unwrap();
    seen
}

fn kept(s: &mut dyn Store) -> Vec<i64> {
    s.snapshots().unwrap().iter().map(|i| i.seq).collect()
}

pub(crate) fn a_snapshot_and_the_tail_after_it(db: &impl Fixture) {
    {
        let mut s = db.open().unwrap();
        assert_eq!(s.latest_snapshot().unwrap(), None);
        assert_eq!(s.log_bounds().unwrap(), None);
        assert!(matches!(
            s.write_snapshot(1, 1, b"x"),
            Err(StoreError::SnapshotRefused { seq: 1, .. })
        ));
        entries(s.as_mut(), 1, 10);
        s.write_snapshot(6, 3, b"state after six").unwrap();
        // Not past the newest, and not past the log's end: refused, and nothing changes.
        for seq in [6, 5, 11] {
            match s.write_snapshot(seq, 3, b"wrong") {
                Err(StoreError::SnapshotRefused { seq: refused, .. }) => assert_eq!(refused, seq),
                other => panic!("a snapshot through {seq} was not refused: {other:?}"),
            }
        }
    }
    let mut s = db.open().unwrap();
    let latest = s.latest_snapshot().unwrap().unwrap();
    assert_eq!(
        (latest.info.seq, latest.info.format, latest.info.size),
        (6, 3, 15)
    );
    assert_eq!(latest.bytes, b"state after six");
    assert!(latest.info.created_at_ms > 1_600_000_000_000);
    assert_eq!(seqs_after(s.as_mut(), 6), [7, 8, 9, 10]);
    assert_eq!(seqs_after(s.as_mut(), 10), Vec::<i64>::new());
    assert_eq!(log_of(s.as_mut()).len(), 10, "one snapshot prunes nothing");
    assert_eq!(s.prune_log(100).unwrap(), 0);
    assert_eq!(s.log_bounds().unwrap(), Some((1, 10)));
    assert_eq!(s.read_snapshot(5).unwrap(), None);
    // A reader sees them too.
    let mut r = db.reader();
    assert_eq!(r.latest_snapshot().unwrap().unwrap().info.seq, 6);
    assert!(
        r.write_snapshot(7, 1, b"x").is_err(),
        "a reader cannot write"
    );
}

pub(crate) fn the_log_is_pruned_behind_the_older_snapshot(db: &impl Fixture) {
    assert_eq!(KEPT_SNAPSHOTS, 2);
    let mut s = db.open().unwrap();
    entries(s.as_mut(), 1, 30);
    s.write_snapshot(10, 1, b"10").unwrap();
    assert_eq!(s.prune_log(100).unwrap(), 0);
    s.write_snapshot(20, 1, b"20").unwrap();
    assert_eq!(kept(s.as_mut()), [20, 10]);
    // Bounded steps, oldest first, down to the older snapshot.
    assert_eq!(s.prune_log(4).unwrap(), 4);
    assert_eq!(s.log_bounds().unwrap(), Some((5, 30)));
    assert_eq!(s.prune_log(4).unwrap(), 4);
    assert_eq!(s.prune_log(4).unwrap(), 2);
    assert_eq!(s.prune_log(4).unwrap(), 0);
    assert_eq!(s.log_bounds().unwrap(), Some((11, 30)));
    assert_eq!(seqs_after(s.as_mut(), 10).len(), 20);
    // A third snapshot lets the oldest go, and the log behind the one before it.
    s.write_snapshot(25, 1, b"25").unwrap();
    assert_eq!(kept(s.as_mut()), [25, 20]);
    assert_eq!(s.read_snapshot(10).unwrap(), None);
    assert_eq!(s.prune_log(1000).unwrap(), 10);
    assert_eq!(s.log_bounds().unwrap(), Some((21, 30)));
    assert_eq!(s.read_snapshot(20).unwrap().unwrap().bytes, b"20");
    // What is left is read whole and in order, events and settings untouched.
    let log = log_of(s.as_mut());
    assert_eq!(log.first().map(|e| e.0), Some(21));
    assert_eq!(log.last().map(|e| e.2.clone()), Some("e30".to_owned()));
}

pub(crate) fn seq_goes_on_after_pruning(db: &impl Fixture) {
    {
        let mut s = db.open().unwrap();
        entries(s.as_mut(), 1, 5);
        s.write_snapshot(3, 1, b"3").unwrap();
        s.write_snapshot(5, 1, b"5").unwrap();
        assert_eq!(s.prune_log(100).unwrap(), 3);
        assert_eq!(s.log_bounds().unwrap(), Some((4, 5)));
    }
    {
        let mut s = db.open().unwrap();
        let first = s
            .commit(&Batch {
                log: vec![entry(6, "e6")],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(first, 6, "numbering goes on after a reopen");
        s.write_snapshot(6, 1, b"6").unwrap();
    }
    // Even with every entry a snapshot covers gone (here behind the store's back), a seq is
    // never used twice.
    db.execute("DELETE FROM log");
    let mut s = db.open().unwrap();
    assert_eq!(s.log_bounds().unwrap(), None);
    let first = s
        .commit(&Batch {
            log: vec![entry(7, "e7")],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(first, 7);
    assert_eq!(seqs_after(s.as_mut(), 5), [7]);
}

pub(crate) fn a_snapshot_is_never_seen_half_written(db: &impl Fixture) {
    /// A snapshot's bytes: `len` copies of one byte that depends on its seq.
    fn pattern(seq: i64, len: usize) -> Vec<u8> {
        vec![(seq % 251) as u8; len]
    }
    fn whole(s: &crate::interface::StoredSnapshot) -> bool {
        let expected = pattern(s.info.seq, (s.info.seq as usize % 7 + 1) * 300_000);
        s.bytes == expected && s.info.size == expected.len() as i64
    }
    let mut w = db.open().unwrap();
    entries(w.as_mut(), 1, 12);
    w.write_snapshot(1, 1, &pattern(1, 2 * 300_000)).unwrap();
    // A write paused inside its transaction: a reader still sees the snapshot before it.
    w.set_test_pause_inside_snapshot_writes(std::time::Duration::from_millis(400));
    let writing = std::thread::spawn(move || {
        w.write_snapshot(2, 1, &pattern(2, 3 * 300_000)).unwrap();
        w
    });
    std::thread::sleep(std::time::Duration::from_millis(150));
    let mut r = db.reader();
    let seen = r.latest_snapshot().unwrap().unwrap();
    assert_eq!(seen.info.seq, 1, "an uncommitted snapshot was visible");
    assert!(whole(&seen));
    let mut w = writing.join().unwrap();
    assert_eq!(r.latest_snapshot().unwrap().unwrap().info.seq, 2);
    // Readers polling while snapshots of several sizes replace each other see each one whole.
    w.set_test_pause_inside_snapshot_writes(std::time::Duration::ZERO);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let polling = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let s = r.latest_snapshot().unwrap().unwrap();
                assert!(whole(&s), "snapshot {} was read half-written", s.info.seq);
                seen.insert(s.info.seq);
            }
            seen
        })
    };
    for seq in 3..=12 {
        w.write_snapshot(seq, 1, &pattern(seq, (seq as usize % 7 + 1) * 300_000))
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = polling.join().unwrap();
    assert!(!seen.is_empty());
    assert_eq!(kept(w.as_mut()), [12, 11]);
}
