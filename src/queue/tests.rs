//! The queue as a whole: order across blocks and shards, capacity, the
//! overflow policies, with concurrent producers.

use super::block::BLOCK_BYTES;
use super::shard::home_shard;
use super::*;
use std::sync::Barrier;

/// What one drain yields, in order: (seq, event JSON as text or "extra:KEY").
fn drain_all(queue: &Queue) -> Vec<(u64, String)> {
    let mut drained = queue.drain();
    let mut out = Vec::new();
    let mut events = 0;
    while let Some(item) = drained.next_item() {
        match item {
            Item::SetExtra { seq, key, .. } => out.push((seq, format!("extra:{key}"))),
            Item::Event { seq, event } => {
                out.push((seq, String::from_utf8(event.json.to_vec()).unwrap()));
                events += 1;
            }
        }
    }
    drained.release(events);
    out
}

fn contents(queue: &Queue) -> Vec<String> {
    drain_all(queue).into_iter().map(|(_, s)| s).collect()
}

fn queue(capacity: usize, policy: OverflowPolicy) -> Queue {
    Queue::new(capacity, 10, policy, Duration::from_millis(1))
}

#[test]
fn events_and_extras_keep_their_order_across_blocks() {
    let q = queue(100_000, OverflowPolicy::DropNewest);
    let thread = Origin::named("t");
    let big = format!("\"{}\"", "x".repeat(BLOCK_BYTES + 10));
    let mut expected = Vec::new();
    for i in 0..3000 {
        let ev = if i == 1500 {
            big.clone()
        } else {
            format!("{{\"i\":{i}}}")
        };
        assert!(q.push_event(0, thread.clone(), ev.as_bytes()).is_ok());
        expected.push(ev);
        if i % 700 == 0 {
            q.push_set_extra(format!("k{i}"), None).unwrap();
            expected.push(format!("extra:k{i}"));
        }
    }
    assert_eq!(q.len(), 3000);
    assert_eq!(contents(&q), expected);
    assert_eq!(q.len(), 0);
    // Blocks come back from the pool empty.
    q.push_event(0, thread, b"{}").ok().unwrap();
    assert_eq!(contents(&q), vec!["{}".to_string()]);
}

#[test]
fn blocks_beyond_the_slab_come_from_the_heap_and_slots_are_reused() {
    // 8 shards, capacity 200: 2 + 16 + 16 = 34 slots. Events of 40 KB
    // take a block each: 200 blocks, most of them on the heap.
    let q = Queue::with_shards(8, 200, 1000, OverflowPolicy::DropNewest, Duration::ZERO);
    assert!(q.pool.has_slab(), "the mapping is made");
    let t = Origin::named("t");
    for round in 0..3 {
        let events: Vec<String> = (0..200)
            .map(|i| format!("\"{round}:{i}:{}\"", "x".repeat(40_000)))
            .collect();
        for ev in &events {
            q.push_event(0, t.clone(), ev.as_bytes()).unwrap();
        }
        q.push_set_extra(format!("k{round}"), None).unwrap();
        assert!(q.push_event(0, t.clone(), b"{}").is_err(), "full");
        if round == 0 {
            let (mut in_slots, mut on_heap) = (0, 0);
            for shard in q.shards.iter() {
                for block in &shard.lock().blocks {
                    *if block.is_in_slot() {
                        &mut in_slots
                    } else {
                        &mut on_heap
                    } += 1;
                }
            }
            assert_eq!((in_slots, on_heap), (34, 166));
        }
        let mut expected = events;
        expected.push(format!("extra:k{round}"));
        assert_eq!(contents(&q), expected);
        assert_eq!(q.len(), 0);
    }
}

#[test]
fn tiny_and_huge_capacities_work() {
    let t = Origin::named("t");
    for capacity in [1, 2, 1 << 40, usize::MAX / 2] {
        let q = queue(capacity, OverflowPolicy::DropNewest);
        q.push_event(0, t.clone(), b"1").unwrap();
        let big = format!("\"{}\"", "x".repeat(BLOCK_BYTES * 2));
        let second = q.push_event(0, t.clone(), big.as_bytes());
        assert_eq!(second.is_ok(), capacity > 1);
        let mut expected = vec!["1".to_string()];
        if capacity > 1 {
            expected.push(big);
        }
        assert_eq!(contents(&q), expected);
    }
}

#[test]
fn capacity_counts_events_the_worker_still_holds() {
    let q = queue(3, OverflowPolicy::DropNewest);
    let t = Origin::named("t");
    for _ in 0..3 {
        assert!(q.push_event(0, t.clone(), b"{}").is_ok());
    }
    let mut drained = q.drain();
    let mut n = 0;
    while drained.next_item().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
    assert!(q.push_event(0, t.clone(), b"{}").is_err());
    assert_eq!(q.len(), 3);
    drained.release(2);
    assert!(q.push_event(0, t.clone(), b"{}").is_ok());
    assert!(q.push_event(0, t.clone(), b"{}").is_ok());
    assert!(q.push_event(0, t, b"{}").is_err());
    assert_eq!(q.len(), 3);
}

#[test]
fn drop_oldest_evicts_the_oldest_queued_event_and_keeps_extras() {
    let q = queue(2, OverflowPolicy::DropOldest);
    let t = Origin::named("t");
    q.push_set_extra("k".into(), None).unwrap();
    for i in 0..5 {
        assert!(q
            .push_event(0, t.clone(), format!("{i}").as_bytes())
            .is_ok());
    }
    assert_eq!(q.drain().evicted(), 3);
    assert_eq!(contents(&q), vec!["extra:k", "3", "4"]);
}

#[test]
fn a_thread_that_moves_to_another_shard_keeps_its_order() {
    let q = Queue::with_shards(8, 1000, 10, OverflowPolicy::DropNewest, Duration::ZERO);
    let t = Origin::named("t");
    q.push_event(0, t.clone(), b"1").unwrap();
    let home = home_shard() & 7;
    // The home shard busy (as if its holder were preempted): the next
    // event goes to another shard, and is still drained after the first.
    let busy = q.shards.iter().nth(home).unwrap().lock();
    q.push_event(0, t.clone(), b"2").unwrap();
    q.push_set_extra("k".into(), None).unwrap();
    drop(busy);
    q.push_event(0, t.clone(), b"3").unwrap();
    assert_ne!(home_shard() & 7, home, "moved to a free shard");
    assert_eq!(contents(&q), vec!["1", "2", "extra:k", "3"]);
}

#[test]
fn an_extra_set_on_one_thread_precedes_events_queued_after_it_on_others() {
    let q = Queue::with_shards(8, 1000, 10, OverflowPolicy::DropNewest, Duration::ZERO);
    let t = Origin::named("t");
    std::thread::scope(|s| {
        s.spawn(|| q.push_event(0, t.clone(), b"before").unwrap());
    });
    std::thread::scope(|s| {
        s.spawn(|| q.push_set_extra("k".into(), None).unwrap());
    });
    std::thread::scope(|s| {
        s.spawn(|| q.push_event(0, t.clone(), b"after").unwrap());
    });
    assert_eq!(contents(&q), vec!["before", "extra:k", "after"]);
}

/// Producers emit "THREAD:N" while a drainer consumes; returns what the
/// drainer saw, in order, with the number of events each producer had accepted.
fn run_concurrently(q: &Queue, producers: usize, per: usize) -> (Vec<(u64, String)>, Vec<usize>) {
    let done = AtomicUsize::new(0);
    let start = Barrier::new(producers + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let (q, done, start) = (&q, &done, &start);
                s.spawn(move || {
                    let t = Origin::named("t");
                    start.wait();
                    let mut accepted = 0;
                    for i in 0..per {
                        if i % 1000 == 0 {
                            q.push_set_extra(format!("{p}:{i}"), None).unwrap();
                        }
                        let ev = format!("{p}:{i}");
                        accepted += usize::from(q.push_event(0, t.clone(), ev.as_bytes()).is_ok());
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    accepted
                })
            })
            .collect();
        start.wait();
        let mut seen = Vec::new();
        // Bounded: the producers finish in a bounded number of steps.
        loop {
            let finished = done.load(Ordering::SeqCst) == producers;
            seen.extend(drain_all(q));
            if finished {
                break;
            }
            std::thread::yield_now();
        }
        let accepted = handles.into_iter().map(|h| h.join().unwrap()).collect();
        (seen, accepted)
    })
}

#[test]
fn concurrent_producers_lose_nothing_and_keep_their_order() {
    let q = Queue::with_shards(4, 1 << 20, 64, OverflowPolicy::DropNewest, Duration::ZERO);
    let (seen, accepted) = run_concurrently(&q, 6, 20_000);
    assert_eq!(accepted, vec![20_000; 6]);
    // Seqs strictly ascending across drains: one order for everything.
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(seen.len(), 6 * (20_000 + 20));
    assert_eq!(seen.last().unwrap().0, q.accepted_seq());
    // Each thread's events and extras in the order it made them.
    let mut next = [0usize; 6];
    let mut next_extra = [0usize; 6];
    for (_, s) in &seen {
        let (extra, rest) = match s.strip_prefix("extra:") {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        let (p, i) = rest.split_once(':').unwrap();
        let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
        if extra {
            assert_eq!(i, next_extra[p] * 1000);
            assert_eq!(next[p], i, "the extra comes before event {i} of its thread");
            next_extra[p] += 1;
        } else {
            assert_eq!(i, next[p]);
            next[p] += 1;
        }
    }
    assert_eq!(q.len(), 0);
}

#[test]
fn concurrent_producers_never_exceed_the_capacity() {
    let q = Queue::with_shards(4, 5000, 64, OverflowPolicy::DropNewest, Duration::ZERO);
    let mut accepted = 0;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let t = Origin::named("t");
                    (0..10_000)
                        .filter(|_| q.push_event(0, t.clone(), b"{}").is_ok())
                        .count()
                })
            })
            .collect();
        for h in handles {
            accepted += h.join().unwrap();
        }
    });
    assert_eq!(accepted, 5000);
    assert_eq!(q.len(), 5000);
    assert_eq!(contents(&q).len(), 5000);
    // And with a drainer: never more in memory than the capacity.
    let q = Queue::with_shards(4, 300, 64, OverflowPolicy::DropNewest, Duration::ZERO);
    let (seen, accepted) = run_concurrently(&q, 4, 20_000);
    let events = seen
        .iter()
        .filter(|(_, s)| !s.starts_with("extra:"))
        .count();
    assert_eq!(events, accepted.iter().sum::<usize>());
    assert_eq!(q.len(), 0);
}

#[test]
fn concurrent_drop_oldest_keeps_the_newest_events() {
    let q = Queue::with_shards(4, 100, 64, OverflowPolicy::DropOldest, Duration::ZERO);
    std::thread::scope(|s| {
        for p in 0..4 {
            let q = &q;
            s.spawn(move || {
                let t = Origin::named("t");
                for i in 0..2000 {
                    q.push_event(0, t.clone(), format!("{p}:{i}").as_bytes())
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(q.len(), 100);
    assert_eq!(q.drain().evicted(), 8000 - 100);
    let seen = drain_all(&q);
    assert_eq!(seen.len(), 100);
    // The survivors are the 100 last accepted.
    let last = q.accepted_seq();
    assert_eq!(seen.first().unwrap().0, last - 99);
    assert_eq!(seen.last().unwrap().0, last);
}

#[test]
fn block_waits_for_room_and_close_refuses() {
    let q = Queue::with_shards(8, 2, 1, OverflowPolicy::Block, Duration::from_secs(30));
    let t = Origin::named("t");
    q.push_event(0, t.clone(), b"1").unwrap();
    q.push_event(0, t.clone(), b"2").unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| q.push_event(0, t.clone(), b"3"));
        // The waiter gets room once the worker stores what it holds.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = contents(&q);
        while got.len() < 3 {
            assert!(Instant::now() < deadline, "the waiter never pushed");
            std::thread::sleep(Duration::from_millis(1));
            got.extend(contents(&q));
        }
        assert_eq!(got, vec!["1", "2", "3"]);
        assert!(waiter.join().unwrap().is_ok());
    });
    q.push_event(0, t.clone(), b"4").unwrap();
    q.push_event(0, t.clone(), b"5").unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| q.push_event(0, t.clone(), b"6"));
        std::thread::sleep(Duration::from_millis(20));
        q.close();
        assert_eq!(
            waiter.join().unwrap(),
            Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN)
        );
    });
    assert_eq!(
        q.push_event(0, t.clone(), b"7"),
        Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN)
    );
    assert_eq!(contents(&q), vec!["4", "5"]);
}
