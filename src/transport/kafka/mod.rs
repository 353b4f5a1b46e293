//! Kafka: each event one message of `kafka_topic`, through librdkafka (the
//! `rdkafka` crate's BaseProducer, polled by the worker: no thread of ours).
//!
//! A chunk is handed to librdkafka whole and gets a ticket (`Sent::Written`);
//! its rows are deleted only when every message of it has a delivery report
//! (the ledger). librdkafka owns the retries: the producer is idempotent by
//! default and never times a message out, so a broker that is down, restarted
//! or refusing our credentials costs time, never a duplicate or a reordering,
//! and the trouble is reported through `take_trouble` (writes stay valid).
//! What Kafka refuses for good (message too large, unknown topic) is dropped,
//! counted and reported; any other failed report voids the unconfirmed chunks
//! (they are resent). A fatal producer error (idempotence state lost) creates
//! a new producer and resends: the one case with possible duplicates.

mod key;
mod ledger;
mod settings;

use super::{Rejection, SendError, Sent, Transport};
use crate::buffer::Chunk;
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
/// Events served per `confirmed_through` at most (each librdkafka event is
/// a batch of delivery reports), so one call stays short.
const MAX_EVENTS_PER_POLL: usize = 256;

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
    rejection: Option<Rejection>,
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
            rejection: None,
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
    /// old one held is purged by its Drop, and void.
    fn drop_producer(&mut self) {
        if let Some(next) = self.ledger().map(|l| l.next_ticket()) {
            self.next_ticket = next;
        }
        self.producer = None;
    }

    /// Records the refused events of confirmed tickets for the worker.
    fn take_refusals(&mut self) {
        let Some(r) = self.ledger().and_then(|mut l| l.take_refusals()) else {
            return;
        };
        self.rejection = Some(Rejection {
            in_failed_prefix: r.events,
            message: format!("{} events: {}", r.events, r.reasons.join("; ")),
        });
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
    fn send(&mut self, chunk: &Chunk) -> Result<Sent, SendError> {
        self.serve();
        if self.outstanding() == 0 {
            self.last_progress = Instant::now();
        }
        self.producer()?;
        let producer = self.producer.as_ref().expect("created above");
        // Counted before producing: one lock per chunk, not per message.
        let events = chunk.events().count() as u32;
        let ticket = {
            let mut ledger = producer.context().ledger.lock();
            let ticket = ledger.open();
            ledger.produced(ticket, events);
            ticket
        };
        self.counters.produced.fetch_add(u64::from(events), Relaxed);
        let deadline = Instant::now() + self.timeout;
        for event in chunk.events() {
            if let Err(e) = self.produce(producer, ticket, event, deadline) {
                // Messages of this chunk already produced are void with it.
                producer.context().ledger.lock().void();
                return Err(e);
            }
        }
        Ok(Sent::Written { ticket })
    }

    fn confirmed_through(&mut self, _now: Instant) -> Result<u64, SendError> {
        let before = self.outstanding();
        self.serve();
        let Some(p) = &self.producer else {
            return Ok(self.next_ticket - 1);
        };
        let fatal = p.context().error.lock().clone().filter(|e| e.1);
        if let Some((reason, _)) = fatal {
            let reason = p
                .client()
                .fatal_error()
                .map_or(reason, |(_, r)| format!("kafka: fatal error: {r}"));
            self.drop_producer();
            return Err(SendError::new(format!(
                "{reason}; a new producer sends the unconfirmed events again"
            )));
        }
        let outstanding = self.outstanding();
        if outstanding < before || outstanding == 0 {
            self.last_progress = Instant::now();
        }
        let confirmed = self.ledger().map_or(Ok(0), |mut l| l.confirm());
        self.take_refusals();
        confirmed.map_err(|reason| {
            if let Some(mut l) = self.ledger() {
                l.void();
            }
            SendError::new(reason)
        })
    }

    fn ready(&self) -> bool {
        self.producer
            .as_ref()
            .is_none_or(|p| u64::try_from(p.in_flight_count()).unwrap_or(0) < MAX_OUTSTANDING)
    }

    fn take_rejection(&mut self) -> Option<Rejection> {
        self.rejection.take()
    }

    fn take_trouble(&mut self) -> Option<String> {
        let outstanding = self.outstanding();
        let p = self.producer.as_ref()?;
        let mut error = p.context().error.lock();
        if outstanding == 0 {
            *error = None; // (a disconnect while idle is no trouble)
            return None;
        }
        if self.last_progress.elapsed() < TROUBLE_GRACE {
            return None;
        }
        error.take().map(|(reason, _)| reason)
    }

    fn close(&mut self, deadline: Instant) -> u64 {
        if let Some(p) = &self.producer {
            let _ = p.flush(deadline.saturating_duration_since(Instant::now()));
        }
        self.serve();
        let confirmed = match self.ledger() {
            Some(mut l) => l.confirm().unwrap_or_else(|_| l.confirmed()),
            None => self.next_ticket - 1,
        };
        self.take_refusals();
        // What is left is purged (its rows stay in the buffer).
        self.drop_producer();
        confirmed
    }
}
