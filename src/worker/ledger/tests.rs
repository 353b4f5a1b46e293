use super::*;

/// Chunks 1..=n of `per` events each, event i of chunk c being `c.i`.
fn chunks(n: i64, per: u32) -> Vec<Arc<Chunk>> {
    (1..=n)
        .map(|id| {
            let lines: String = (0..per).map(|i| format!("{id}.{i}\n")).collect();
            Arc::new(Chunk {
                id,
                lines: lines.into_bytes(),
                count: per,
                newest_ms: 0,
            })
        })
        .collect()
}

fn fetcher(all: Vec<Arc<Chunk>>) -> impl Fn(i64, usize) -> buffer::Result<Vec<Arc<Chunk>>> {
    move |after, limit| {
        Ok(all
            .iter()
            .filter(|c| c.id > after)
            .take(limit)
            .cloned()
            .collect())
    }
}

fn cap(events: u32) -> Capacity {
    Capacity {
        max_events: events,
        max_bytes: usize::MAX,
    }
}

fn names(batch: &Batch) -> Vec<String> {
    batch
        .events()
        .map(|e| String::from_utf8(e.to_vec()).unwrap())
        .collect()
}

fn ids(sizes: &[ChunkSize]) -> Vec<i64> {
    sizes.iter().map(|c| c.id).collect()
}

#[test]
fn batches_span_chunks_and_chunks_span_batches() {
    let fetch = fetcher(chunks(3, 3));
    let mut source = Source::new(&fetch);
    let mut ledger = Ledger::default();
    let a = ledger.build(cap(5), &mut source).unwrap().unwrap();
    assert_eq!(names(&a), ["1.0", "1.1", "1.2", "2.0", "2.1"]);
    let b = ledger.build(cap(5), &mut source).unwrap().unwrap();
    assert_eq!(names(&b), ["2.2", "3.0", "3.1", "3.2"]);
    assert!(ledger.build(cap(5), &mut source).unwrap().is_none());
    assert_eq!(ledger.unsent(9), 0);
    assert_eq!(ledger.sent_through, 3);
    // Out of order: the second batch first.
    assert_eq!(ledger.done(b.ticket), Some(4));
    assert_eq!(ids(&ledger.take_finished()), [3]);
    assert_eq!(ledger.removable(1), None, "batch a holds it");
    assert_eq!(ledger.removable(3), Some(0));
    assert_eq!(ledger.done(a.ticket), Some(5));
    assert_eq!(ids(&ledger.take_finished()), [1, 2]);
    assert_eq!(ledger.done(a.ticket), None, "reported twice");
    assert!(!ledger.has_batches());
    assert!(ledger.touched.is_empty() && ledger.in_batches.is_empty());
}

#[test]
fn a_batch_returned_in_part_sends_exactly_its_rest_again_first() {
    let fetch = fetcher(chunks(4, 3));
    let mut source = Source::new(&fetch);
    let mut ledger = Ledger::default();
    let a = ledger.build(cap(5), &mut source).unwrap().unwrap();
    let b = ledger.build(cap(2), &mut source).unwrap().unwrap();
    assert_eq!(names(&b), ["2.2", "3.0"]);
    assert_eq!(ledger.returned(a.ticket, 4), Some(1));
    assert_eq!(ids(&ledger.take_finished()), [1]);
    assert_eq!(
        ledger.unsent(12 - 3),
        1 + 2 + 3,
        "2.1 again, 3.1 3.2 and chunk 4"
    );
    let c = ledger.build(cap(3), &mut source).unwrap().unwrap();
    assert_eq!(
        names(&c),
        ["2.1", "3.1", "3.2"],
        "the retry first, then the cursor"
    );
    assert_eq!(ledger.done(c.ticket), Some(3));
    assert!(
        ledger.take_finished().is_empty(),
        "2.2 and 3.0 are still out"
    );
    let progress = ledger.progress();
    let rows: Vec<(i64, Vec<(u32, u32)>)> =
        progress.iter().map(|(c, r)| (c.id, r.clone())).collect();
    assert_eq!(rows, [(2, vec![(0, 2)]), (3, vec![(1, 3)])]);
    assert_eq!(ledger.returned(b.ticket, 0), Some(2));
    let d = ledger.build(cap(10), &mut source).unwrap().unwrap();
    assert_eq!(names(&d), ["2.2", "3.0", "4.0", "4.1", "4.2"]);
    assert_eq!(ledger.done(d.ticket), Some(5));
    assert_eq!(ids(&ledger.take_finished()), [2, 3, 4]);
    assert_eq!(ledger.unsent(0), 0);
}

#[test]
fn bytes_bound_a_batch_but_a_lone_event_larger_than_that_still_goes() {
    let big = Arc::new(Chunk {
        id: 1,
        lines: b"aaaaaaaaaa\nb\nc\n".to_vec(),
        count: 3,
        newest_ms: 0,
    });
    let fetch = fetcher(vec![big]);
    let mut source = Source::new(&fetch);
    let mut ledger = Ledger::default();
    let bytes = |n| Capacity {
        max_events: 100,
        max_bytes: n,
    };
    let a = ledger.build(bytes(4), &mut source).unwrap().unwrap();
    assert_eq!(names(&a), ["aaaaaaaaaa"]);
    let b = ledger.build(bytes(4), &mut source).unwrap().unwrap();
    assert_eq!(names(&b), ["b", "c"]);
    assert_eq!(b.bytes(), 4);
}

#[test]
fn forgetting_ignores_later_outcomes_and_keeps_tickets_growing() {
    let fetch = fetcher(chunks(2, 2));
    let mut source = Source::new(&fetch);
    let mut ledger = Ledger::default();
    let a = ledger.build(cap(3), &mut source).unwrap().unwrap();
    ledger.forget();
    assert_eq!(ledger.done(a.ticket), None);
    assert_eq!(ledger.sent_through, 0);
    let mut source = Source::new(&fetch);
    let b = ledger.build(cap(3), &mut source).unwrap().unwrap();
    assert!(b.ticket > a.ticket);
    assert_eq!(names(&b), ["1.0", "1.1", "2.0"]);
}

#[test]
fn ranges_merge() {
    let mut r = Vec::new();
    add_range(&mut r, 4, 6);
    add_range(&mut r, 0, 2);
    add_range(&mut r, 8, 9);
    assert_eq!(r, [(0, 2), (4, 6), (8, 9)]);
    add_range(&mut r, 2, 4);
    assert_eq!(r, [(0, 6), (8, 9)]);
    add_range(&mut r, 6, 8);
    assert_eq!(r, [(0, 9)]);
}

#[test]
fn chunks_not_in_a_batch_can_be_removed_with_their_retries() {
    let fetch = fetcher(chunks(3, 4));
    let mut source = Source::new(&fetch);
    let mut ledger = Ledger::default();
    let a = ledger.build(cap(6), &mut source).unwrap().unwrap();
    assert_eq!(ledger.removable(2), None);
    assert_eq!(ledger.returned(a.ticket, 5), Some(1));
    assert_eq!(ids(&ledger.take_finished()), [1]);
    assert_eq!(
        ledger.removable(2),
        Some(1),
        "2.0 is finished, 2.1 to resend"
    );
    // Chunk 2 expires: 2.1 and the rest of it (the cursor) are not sent.
    ledger.drop_chunks(&[2]);
    assert_eq!(ledger.unsent(4), 4, "chunk 3 only");
    let b = ledger.build(cap(10), &mut source).unwrap().unwrap();
    assert_eq!(names(&b), ["3.0", "3.1", "3.2", "3.3"]);
}
