//! Model checks of the queue's protocols with loom: every interleaving of the
//! threads' atomic and lock operations (up to a preemption bound) of small
//! scenarios, with the real Queue, shards, pool and slab (only the primitives
//! of `sync.rs` are loom's; blocks hold 2 entries, see block/mod.rs). Run
//! by `bash scripts/loom.sh`; `LOOM_MAX_PREEMPTIONS=N` overrides the bound
//! below. Each model prints its number of executions.

use super::*;
use loom::thread;

/// Preemptions per execution: 3 finds the known shapes of bugs in these
/// protocols (ABA needs 2, a lost wake-up 1) and keeps the suite in CI time.
const PREEMPTION_BOUND: usize = 3;

pub(crate) fn check(model: impl Fn() + Sync + Send + 'static) {
    check_with(PREEMPTION_BOUND, model)
}

/// Runs every execution of `model` and prints how many there were.
fn check_with(bound: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(bound));
    let executions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = executions.clone();
    let started = Instant::now();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        model()
    });
    eprintln!(
        "{}: {} executions, preemption bound {}, {:.1} s",
        std::thread::current().name().unwrap_or("model"),
        executions.load(Ordering::Relaxed),
        builder.preemption_bound.unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
}

/// A queue of 2 shards (drop_oldest holds both; producers may move).
fn queue(capacity: usize, wake_at: usize, policy: OverflowPolicy) -> Arc<Queue> {
    Arc::new(Queue::with_shards(
        2,
        capacity,
        wake_at,
        policy,
        Duration::from_secs(3600),
    ))
}

fn push(q: &Queue, text: &str) -> Result<(), ResultCode> {
    q.push_event(0, crate::context::Origin::named("t"), text.as_bytes())
}

/// One drain, released: (seq, event text or "extra:KEY") in order, and the
/// events evicted since the last drain.
fn drain(q: &Queue) -> (Vec<(u64, String)>, u64) {
    let mut drained = q.drain();
    let evicted = drained.evicted();
    let mut out = Vec::new();
    let mut events = 0;
    while let Some(item) = drained.next_item() {
        match item {
            Item::Event { seq, event } => {
                out.push((seq, String::from_utf8(event.json.to_vec()).unwrap()));
                events += 1;
            }
            Item::SetExtra { seq, key, .. } => out.push((seq, format!("extra:{key}"))),
        }
    }
    drained.release(events);
    (out, evicted)
}

/// Nothing queued, held or counted in a shard (each counter on its own:
/// `len()` is their sum, and an underflow of one could hide in it).
fn assert_empty(q: &Queue) {
    assert_eq!(q.hot.0.occupancy.counts(), (0, 0), "(queued, held)");
    for shard in q.shards.iter() {
        assert_eq!(shard.lock().events, 0, "a shard's events");
    }
}

fn texts(items: &[(u64, String)]) -> Vec<&str> {
    items.iter().map(|(_, s)| s.as_str()).collect()
}

/// What a drain before and after the producers finished yields: one order
/// for all (seqs ascending across drains), nothing twice, the queue empty.
fn drain_around(q: &Queue, producers: Vec<thread::JoinHandle<()>>) -> (Vec<(u64, String)>, u64) {
    let (mut seen, mut evicted) = drain(q);
    for p in producers {
        p.join().unwrap();
    }
    let (rest, more) = drain(q);
    seen.extend(rest);
    evicted += more;
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    assert_empty(q);
    (seen, evicted)
}

/// Each producer's items in the order it made them ("P:N").
fn assert_program_order(seen: &[(u64, String)]) {
    let mut last: std::collections::HashMap<&str, u32> = Default::default();
    for s in texts(seen) {
        let s = s.strip_prefix("extra:").unwrap_or(s);
        let (p, n) = s.split_once(':').unwrap();
        let n: u32 = n.parse().unwrap();
        if let Some(before) = last.insert(p, n) {
            assert!(before < n, "{p}: {before} then {n}: {seen:?}");
        }
    }
}

#[test]
fn three_producers_racing_a_drain_lose_nothing() {
    // Four threads: bound 3 takes 1.4M executions (about 4 min, the long
    // run's); 2 takes 44k.
    check_with(2, || {
        let q = queue(8, 8, OverflowPolicy::DropNewest);
        let producers = (0..3)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || push(&q, &format!("{p}:0")).unwrap())
            })
            .collect();
        let (seen, _) = drain_around(&q, producers);
        let mut got = texts(&seen);
        got.sort();
        assert_eq!(got, ["0:0", "1:0", "2:0"]);
    });
}

#[test]
fn two_producers_racing_a_drain_keep_their_order_and_extras() {
    check(|| {
        let q = queue(8, 8, OverflowPolicy::DropNewest);
        let producers = (0..2)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || {
                    push(&q, &format!("{p}:0")).unwrap();
                    if p == 0 {
                        q.push_set_extra("0:1".into(), None).unwrap();
                    }
                    push(&q, &format!("{p}:2")).unwrap();
                })
            })
            .collect();
        let (seen, _) = drain_around(&q, producers);
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_program_order(&seen);
    });
}

#[test]
fn blocks_recycled_and_topped_up_by_the_worker_serve_a_producer() {
    check(|| {
        // Blocks hold 2 entries here: 5 events take 3 blocks, from the slab
        // or from the pool the worker's drains recycle into and top up.
        let q = queue(8, 8, OverflowPolicy::DropNewest);
        let producer = {
            let q = q.clone();
            thread::spawn(move || (0..5).for_each(|i| push(&q, &format!("p:{i}")).unwrap()))
        };
        let (mut seen, _) = drain(&q);
        seen.extend(drain(&q).0);
        producer.join().unwrap();
        seen.extend(drain(&q).0);
        assert_eq!(texts(&seen), ["p:0", "p:1", "p:2", "p:3", "p:4"]);
        assert_empty(&q);
    });
}

#[test]
fn an_extra_precedes_events_it_happened_before_on_other_threads() {
    check(|| {
        let q = queue(8, 8, OverflowPolicy::DropNewest);
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let (q, flag) = (q.clone(), flag.clone());
            thread::spawn(move || {
                q.push_set_extra("k".into(), None).unwrap();
                flag.store(true, Ordering::Release);
            })
        };
        let emitter = {
            let q = q.clone();
            thread::spawn(move || {
                let after = flag.load(Ordering::Acquire);
                push(&q, if after { "after" } else { "unordered" }).unwrap();
            })
        };
        let (seen, _) = drain_around(&q, vec![setter, emitter]);
        let got = texts(&seen);
        if got.contains(&"after") {
            assert_eq!(got, ["extra:k", "after"]);
        }
    });
}

#[test]
fn racing_producers_fill_the_capacity_exactly() {
    check(|| {
        let q = queue(2, 8, OverflowPolicy::DropNewest);
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || push(&q, &format!("{p}:0")))
            })
            .collect();
        let results: Vec<_> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        let refused: Vec<_> = results.iter().filter_map(|r| r.err()).collect();
        assert_eq!(refused, [ResultCode::LOGSTASH_ASYNC_QUEUE_FULL]);
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&q).0.len(), 2);
        assert_empty(&q);
    });
}

#[test]
fn a_full_queue_racing_a_drain_refuses_only_when_full() {
    check(|| {
        let q = queue(1, 8, OverflowPolicy::DropNewest);
        push(&q, "m:0").unwrap();
        let producer = {
            let q = q.clone();
            thread::spawn(move || push(&q, "p:0"))
        };
        let (mut seen, _) = drain(&q);
        let result = producer.join().unwrap();
        seen.extend(drain(&q).0);
        match result {
            Ok(()) => assert_eq!(texts(&seen), ["m:0", "p:0"]),
            Err(code) => {
                assert_eq!(code, ResultCode::LOGSTASH_ASYNC_QUEUE_FULL);
                assert_eq!(texts(&seen), ["m:0"]);
            }
        }
        assert_empty(&q);
        // The room the drain freed is there.
        push(&q, "m:1").unwrap();
    });
}

#[test]
fn the_capacity_counts_events_the_worker_holds() {
    check(|| {
        let q = queue(1, 8, OverflowPolicy::DropNewest);
        push(&q, "m:0").unwrap();
        let releasing = Arc::new(AtomicBool::new(false));
        let producer = {
            let (q, releasing) = (q.clone(), releasing.clone());
            thread::spawn(move || {
                if push(&q, "p:0").is_ok() {
                    assert!(
                        releasing.load(Ordering::SeqCst),
                        "accepted while the worker held the one event the capacity allows"
                    );
                }
            })
        };
        let mut drained = q.drain();
        let mut events = 0;
        while drained.next_item().is_some() {
            events += 1;
        }
        releasing.store(true, Ordering::SeqCst);
        drained.release(events);
        drop(drained);
        producer.join().unwrap();
        drain(&q);
        assert_empty(&q);
    });
}

/// Regression: the drain moved events from `queued` to `held` in two steps,
/// and a producer reading between them counted them twice: QUEUE_FULL (or
/// an eviction, with drop_oldest) with the queue half full.
#[test]
fn a_drain_never_makes_a_half_full_queue_refuse() {
    check(|| {
        let q = queue(2, 8, OverflowPolicy::DropNewest);
        push(&q, "m:0").unwrap();
        let producer = {
            let q = q.clone();
            thread::spawn(move || push(&q, "p:0"))
        };
        let drained = q.drain();
        assert_eq!(
            producer.join().unwrap(),
            Ok(()),
            "one of two places was free"
        );
        drop(drained);
    });
}

#[test]
fn drop_oldest_evictions_racing_each_other_keep_the_newest() {
    check(|| {
        let q = queue(2, 8, OverflowPolicy::DropOldest);
        push(&q, "m:0").unwrap();
        push(&q, "m:1").unwrap();
        let producers = (0..2)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || push(&q, &format!("{p}:0")).unwrap())
            })
            .collect::<Vec<_>>();
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(q.len(), 2);
        let (seen, evicted) = drain(&q);
        assert_eq!(evicted, 2);
        let mut got = texts(&seen);
        got.sort();
        assert_eq!(got, ["0:0", "1:0"], "the two oldest were evicted");
        assert_empty(&q);
    });
}

#[test]
fn drop_oldest_eviction_racing_a_push_and_a_drain_loses_nothing_uncounted() {
    check(|| {
        let q = queue(1, 8, OverflowPolicy::DropOldest);
        push(&q, "m:0").unwrap();
        let producers = (0..2)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || push(&q, &format!("{p}:0")).unwrap())
            })
            .collect();
        let (seen, evicted) = drain_around(&q, producers);
        // Every accepted event is either delivered or counted as evicted.
        assert_eq!(seen.len() as u64 + evicted, 3, "{seen:?}");
        assert_program_order(&seen);
    });
}

#[test]
fn close_racing_pushes_refuses_or_keeps_each_event() {
    for policy in [OverflowPolicy::DropNewest, OverflowPolicy::DropOldest] {
        check(move || {
            let q = queue(1, 8, policy);
            let producers: Vec<_> = (0..2)
                .map(|p| {
                    let q = q.clone();
                    thread::spawn(move || push(&q, &format!("{p}:0")).is_ok())
                })
                .collect();
            q.close();
            assert_eq!(
                push(&q, "late"),
                Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN)
            );
            // The worker's last drain, as at shutdown: whatever a producer
            // pushes after it is lost, so every accepted event must be in it.
            let (seen, evicted) = drain(&q);
            let accepted = producers
                .into_iter()
                .map(|p| usize::from(p.join().unwrap()))
                .sum::<usize>();
            assert_eq!(seen.len() + evicted as usize, accepted, "{seen:?}");
            assert_empty(&q);
        });
    }
}

#[test]
fn close_wakes_a_producer_waiting_for_room() {
    check(|| {
        let q = queue(1, 8, OverflowPolicy::Block);
        push(&q, "m:0").unwrap();
        let waiter = {
            let q = q.clone();
            thread::spawn(move || push(&q, "w:0"))
        };
        q.close();
        // Loom's waits never time out: a lost wake-up is a deadlock here.
        assert_eq!(
            waiter.join().unwrap(),
            Err(ResultCode::LOGSTASH_ASYNC_SHUTTING_DOWN)
        );
    });
}

#[test]
fn release_wakes_a_producer_waiting_for_room() {
    check(|| {
        let q = queue(1, 8, OverflowPolicy::Block);
        push(&q, "m:0").unwrap();
        let waiter = {
            let q = q.clone();
            thread::spawn(move || push(&q, "w:0").unwrap())
        };
        let (mut seen, _) = drain(&q);
        waiter.join().unwrap();
        seen.extend(drain(&q).0);
        assert_eq!(texts(&seen), ["m:0", "w:0"]);
    });
}

#[test]
fn the_worker_is_woken_when_enough_events_are_queued() {
    check(|| {
        let q = queue(4, 1, OverflowPolicy::DropNewest);
        let producer = {
            let q = q.clone();
            thread::spawn(move || push(&q, "p:0").unwrap())
        };
        // Loom's waits never time out: returning means the push woke it.
        let now = Instant::now();
        q.wait(now + Duration::from_secs(3600), now);
        assert_eq!(q.len(), 1);
        producer.join().unwrap();
    });
}
