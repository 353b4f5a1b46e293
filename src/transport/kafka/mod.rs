//! Kafka: each event one message of `kafka_topic`, through librdkafka (the
//! `rdkafka` crate's BaseProducer, polled by the worker: no thread of ours).
//!
//! A batch is handed to librdkafka whole (the worker's ticket kept in the
//! ledger); it is done (`Outcome::Done`) only when every message of it, and
//! of every batch before it, has a delivery report (the ledger). librdkafka
//! owns the retries: the producer is idempotent by default and never times a
//! message out, so a broker that is down, restarted or refusing our
//! credentials costs time, never a duplicate or a reordering; the trouble is
//! reported as an `Outcome::Failed` with no batch returned (what is out stays
//! valid). What Kafka refuses for good (message too large, unknown topic) is
//! dropped, counted and reported; any other failed report returns the
//! unconfirmed batches (they are resent, in order). A fatal producer error
//! (idempotence state lost) creates a new producer and resends: the one case
//! with possible duplicates. Delivery reports are served when the worker
//! polls (every 20 ms while messages are out).

mod key;
mod ledger;
mod settings;

use super::{Batch, Capacity, Outcome as BatchOutcome, SendError, Transport};
use crate::config::Config;
use crate::stats::KafkaCounters;
use key::KeyField;
use ledger::{Ledger, Outcome};
use parking_lot::{Mutex, MutexGuard};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode as Code;
use rdkafka::{ClientConfig, ClientContext, Message};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages librdkafka may hold before the worker stops handing it chunks.
const MAX_OUTSTANDING: u64 = 200_000;
/// How long deliveries must stall after an error before it is reported (a
/// broker that reconnects at once is no trouble).
const TROUBLE_GRACE: Duration = Duration::from_secs(1);
/// Events served per poll at most (each librdkafka event is a batch of
/// delivery reports), so one call stays short.
const MAX_EVENTS_PER_POLL: usize = 256;
/// How often delivery reports are looked for while messages are out.
const REPORT_POLL: Duration = Duration::from_millis(20);
/// The largest batch (messages of one ledger ticket).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// What librdkafka tells the worker thread, from inside `poll`.
struct Context {
    ledger: Mutex<Ledger>,
    /// The latest error event (a broker down, authentication refused) and
    /// whether it is fatal.
    error: Mutex<Option<(String, bool)>>,
    /// The latest error other than "all brokers down" (why they are).
    cause: Mutex<Option<String>>,
    /// Callbacks run (delivery reports and errors): tells a poll that served something.
    served: std::sync::atomic::AtomicU64,
    counters: Arc<KafkaCounters>,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        self.served.fetch_add(1, Relaxed);
        let code = error.rdkafka_error_code();
        let mut cause = self.cause.lock();
        let message = if code == Some(Code::AllBrokersDown) {
            // Says less than the error that brought the brokers down.
            match cause.as_deref() {
                Some(c) => format!("kafka: {reason} ({c})"),
                None => format!("kafka: {reason}"),
            }
        } else {
            *cause = Some(reason.to_owned());
            format!("kafka: {reason}")
        };
        *self.error.lock() = Some((message, code == Some(Code::Fatal)));
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, ticket: usize) {
        self.served.fetch_add(1, Relaxed);
        let outcome = match result {
            Ok(_) => {
                self.counters.delivered.fetch_add(1, Relaxed);
                Ok(())
            }
            Err((e, message)) => {
                self.counters.failed.fetch_add(1, Relaxed);
                Err(classify(e, message.topic()))
            }
        };
        self.ledger.lock().reported(ticket as u64, outcome);
    }
}

/// Refused for good, or worth sending again.
fn classify(e: &KafkaError, topic: &str) -> Outcome {
    let text = format!("kafka: topic {topic}: {e}");
    match e.rdkafka_error_code() {
        Some(
            Code::MessageSizeTooLarge
            | Code::UnknownTopic
            | Code::UnknownTopicOrPartition
            | Code::UnknownPartition
            | Code::InvalidTopic
            | Code::InvalidRecord
            | Code::InvalidMessage,
        ) => Outcome::Refused(text),
        _ => Outcome::Failed(text),
    }
}

pub struct KafkaTransport {
    client_config: ClientConfig,
    /// None after a fatal error until the next send creates a new one.
    producer: Option<BaseProducer<Context>>,
    /// The first ticket of the next producer's ledger (tickets keep growing).
    next_ticket: u64,
    counters: Arc<KafkaCounters>,
    topic: String,
    key: Option<KeyField>,
    /// The last delivery report (or when nothing was outstanding).
    last_progress: Instant,
    /// What happened since the worker last polled.
    outcomes: Vec<BatchOutcome>,
    /// How long a send may wait for room in librdkafka's queue.
    timeout: Duration,
}

impl KafkaTransport {
    /// Creates the producer now, so a property librdkafka refuses fails create.
    pub fn new(config: &Config, counters: Arc<KafkaCounters>) -> Result<KafkaTransport, String> {
        let client_config = settings::client_config(config);
        let producer = create(&client_config, 1, &counters)?;
        Ok(KafkaTransport {
            client_config,
            producer: Some(producer),
            next_ticket: 1,
            counters,
            topic: config.kafka.topic.clone(),
            key: config.kafka.key_field.as_deref().map(KeyField::new),
            last_progress: Instant::now(),
            outcomes: Vec::new(),
            timeout: config.socket_timeout,
        })
    }

    fn producer(&mut self) -> Result<&BaseProducer<Context>, SendError> {
        if self.producer.is_none() {
            let p = create(&self.client_config, self.next_ticket, &self.counters);
            self.producer = Some(p.map_err(SendError::new)?);
        }
        Ok(self.producer.as_ref().expect("just created"))
    }

    fn ledger(&self) -> Option<MutexGuard<'_, Ledger>> {
        self.producer.as_ref().map(|p| p.context().ledger.lock())
    }

    fn outstanding(&self) -> u64 {
        self.ledger().map_or(0, |l| l.outstanding())
    }

    /// Serves waiting delivery reports and errors without blocking.
    fn serve(&mut self) {
        let Some(p) = &self.producer else { return };
        let served = &p.context().served;
        for _ in 0..MAX_EVENTS_PER_POLL {
            let before = served.load(Relaxed);
            p.poll(Duration::ZERO);
            if served.load(Relaxed) == before {
                break;
            }
        }
        let held = u64::try_from(p.in_flight_count()).unwrap_or(0);
        self.counters.in_flight.store(held, Relaxed);
    }

    /// After a fatal error: the next send creates a new producer; what the
    /// old one held is purged by its Drop, and void: its batches come back
    /// (`written`: unless `reported`, for shutdown, where they stay stored).
    fn drop_producer(&mut self, report: bool) {
        let voided = self.ledger().map(|mut l| (l.next_ticket(), l.void()));
        if let Some((next, void)) = voided {
            self.next_ticket = next;
            if report {
                self.outcomes
                    .extend(void.into_iter().map(|ticket| BatchOutcome::Returned {
                        ticket,
                        finished: 0,
                        rejected: 0,
                        written: true,
                    }));
            }
        }
        self.producer = None;
    }

    /// Reports the batches now confirmed, and the unconfirmed ones as
    /// returned when the oldest failed (in order, they are all resent).
    fn confirm(&mut self) {
        let Some((done, failure)) = self.ledger().map(|mut l| l.confirm()) else {
            return;
        };
        for (ticket, rejected) in done {
            self.outcomes.push(BatchOutcome::Done { ticket, rejected });
        }
        if let Some(r) = self.ledger().and_then(|mut l| l.take_refusals()) {
            let message = format!("{} events: {}", r.events, r.reasons.join("; "));
            self.outcomes.push(BatchOutcome::Rejected(message));
        }
        if let Some(reason) = failure {
            let void = self.ledger().map(|mut l| l.void()).unwrap_or_default();
            self.outcomes
                .push(BatchOutcome::Failed(SendError::new(reason)));
            self.outcomes
                .extend(void.into_iter().map(|ticket| BatchOutcome::Returned {
                    ticket,
                    finished: 0,
                    rejected: 0,
                    written: true,
                }));
        }
    }

    /// A fatal producer error: a new producer sends everything out again.
    fn check_fatal(&mut self) {
        let Some(p) = &self.producer else { return };
        let fatal = p.context().error.lock().clone().filter(|e| e.1);
        let Some((reason, _)) = fatal else { return };
        let reason = p
            .client()
            .fatal_error()
            .map_or(reason, |(_, r)| format!("kafka: fatal error: {r}"));
        self.drop_producer(true);
        self.outcomes
            .push(BatchOutcome::Failed(SendError::new(format!(
                "{reason}; a new producer sends the unconfirmed events again"
            ))));
    }

    /// A trouble librdkafka works through itself (a broker down, credentials
    /// refused) once deliveries stalled for TROUBLE_GRACE: reported, nothing
    /// returned (what is out stays valid).
    fn check_trouble(&mut self) {
        let outstanding = self.outstanding();
        let Some(p) = self.producer.as_ref() else {
            return;
        };
        let mut error = p.context().error.lock();
        if outstanding == 0 {
            *error = None; // (a disconnect while idle is no trouble)
            return;
        }
        if self.last_progress.elapsed() < TROUBLE_GRACE {
            return;
        }
        if let Some((reason, _)) = error.take() {
            drop(error);
            self.outcomes
                .push(BatchOutcome::Failed(SendError::new(reason)));
        }
    }

    /// Produces one event, already counted in the ledger (its report may
    /// come in any poll); waits (polling) while librdkafka's queue is full.
    fn produce(
        &self,
        producer: &BaseProducer<Context>,
        ticket: u64,
        event: &[u8],
        deadline: Instant,
    ) -> Result<(), SendError> {
        let key = self.key.as_ref().and_then(|k| k.extract(event));
        loop {
            let mut record =
                BaseRecord::with_opaque_to(&self.topic, ticket as usize).payload(event);
            if let Some(k) = &key {
                record = record.key(k.as_ref());
            }
            let Err((e, _)) = producer.send(record) else {
                return Ok(());
            };
            if e.rdkafka_error_code() == Some(Code::QueueFull) && Instant::now() < deadline {
                producer.poll(Duration::from_millis(5));
                continue;
            }
            return match classify(&e, &self.topic) {
                Outcome::Refused(reason) => {
                    let refused = Err(Outcome::Refused(reason));
                    producer.context().ledger.lock().reported(ticket, refused);
                    Ok(())
                }
                Outcome::Failed(reason) => Err(SendError::new(reason)),
            };
        }
    }
}

fn create(
    config: &ClientConfig,
    first_ticket: u64,
    counters: &Arc<KafkaCounters>,
) -> Result<BaseProducer<Context>, String> {
    let context = Context {
        ledger: Mutex::new(Ledger::starting_at(first_ticket)),
        error: Mutex::new(None),
        cause: Mutex::new(None),
        served: Default::default(),
        counters: counters.clone(),
    };
    config
        .create_with_context(context)
        .map_err(|e| format!("kafka: cannot create the producer: {e}"))
}

impl Transport for KafkaTransport {
    fn capacity(&self, _now: Instant) -> Option<Capacity> {
        let held = self
            .producer
            .as_ref()
            .map_or(0, |p| u64::try_from(p.in_flight_count()).unwrap_or(0));
        (held < MAX_OUTSTANDING).then_some(Capacity {
            max_events: u32::MAX,
            max_bytes: MAX_BATCH_BYTES,
        })
    }

    fn submit(&mut self, batch: Batch, _now: Instant) {
        self.serve();
        if self.outstanding() == 0 {
            self.last_progress = Instant::now();
        }
        if let Err(e) = self.producer() {
            self.outcomes.push(BatchOutcome::Failed(e));
            self.outcomes.push(BatchOutcome::unsent(batch.ticket));
            return;
        }
        let producer = self.producer.as_ref().expect("created above");
        // Counted before producing: one lock per batch, not per message.
        let events = batch.len();
        let ticket = {
            let mut ledger = producer.context().ledger.lock();
            let ticket = ledger.open(batch.ticket);
            ledger.produced(ticket, events);
            ticket
        };
        self.counters.produced.fetch_add(u64::from(events), Relaxed);
        let deadline = Instant::now() + self.timeout;
        let failed = batch
            .events()
            .find_map(|event| self.produce(producer, ticket, event, deadline).err());
        if let Some(e) = failed {
            // Messages already produced are void with their batches, which
            // come back (this one and every one out: order).
            let void = producer.context().ledger.lock().void();
            self.outcomes.push(BatchOutcome::Failed(e));
            self.outcomes
                .extend(void.into_iter().map(|ticket| BatchOutcome::Returned {
                    ticket,
                    finished: 0,
                    rejected: 0,
                    written: true,
                }));
        }
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<BatchOutcome>) {
        let before = self.outstanding();
        self.serve();
        self.check_fatal();
        let outstanding = self.outstanding();
        if outstanding < before || outstanding == 0 {
            self.last_progress = Instant::now();
        }
        self.confirm();
        self.check_trouble();
        out.append(&mut self.outcomes);
    }

    fn next_poll(&self, now: Instant) -> Option<Instant> {
        (self.outstanding() > 0).then_some(now + REPORT_POLL)
    }

    fn close(&mut self, deadline: Instant, out: &mut Vec<BatchOutcome>) {
        if let Some(p) = &self.producer {
            let _ = p.flush(deadline.saturating_duration_since(Instant::now()));
        }
        self.serve();
        self.confirm();
        // What is left is purged (its rows stay in the buffer).
        self.drop_producer(false);
        out.append(&mut self.outcomes);
    }
}
