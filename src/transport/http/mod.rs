//! HTTP: each batch is POSTed as one JSON array (Logstash's `http` input with
//! `codec => json` splits it into events), up to `http_max_in_flight`
//! requests at once over kept-alive connections, each made by a sender
//! thread (`senders.rs`, `request.rs`) so the worker never waits for an
//! answer. A request holds at most `MAX_REQUEST_EVENTS` events and
//! `max_content_length` bytes; with `http_compression` "gzip" its body is
//! compressed on the sender thread.
//!
//! The status decides the batch's fate: 2xx delivered; 408, 429, 5xx, 3xx,
//! timeouts and connection errors are retried with the backoff (honouring
//! `Retry-After`); any other status means the receiver refuses these events
//! for good, so they are counted as undeliverable and reported instead of
//! being retried forever. With several `hosts`, requests go to one host at a
//! time (failover) or to every healthy one in turn (`loadbalance`), each
//! host with its own backoff, as for TCP.

mod request;
mod senders;

use super::hosts::HostSet;
use super::reports::Reports;
use super::tls::TlsSettings;
use super::{Batch, Capacity, Outcome, SendError, Transport, Waker};
use crate::config::{Compression, Config};
use request::{base64, Answer, RequestSettings};
use senders::{Answered, Job, Senders};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// Most events in one request: bounds a request's memory and latency when
/// `max_content_length` is large (100 MiB by default). Filebeat's Logstash
/// output sends at most 2,048 events per batch as well.
const MAX_REQUEST_EVENTS: u32 = 2048;

pub struct HttpTransport {
    hosts: HostSet,
    /// The URL of each host.
    urls: Vec<Arc<str>>,
    senders: Senders,
    reports: Arc<Reports<Answered>>,
    max_in_flight: usize,
    /// Tickets of the requests out.
    in_flight: HashSet<u64>,
    max_content_length: usize,
    outcomes: Vec<Outcome>,
}

/// A TLS connector that verifies `ssl_server_name`, when one is configured,
/// instead of each URL's host (as the tcp transport does).
struct NamedTls {
    connector: native_tls::TlsConnector,
    server_name: Option<String>,
}

impl ureq::TlsConnector for NamedTls {
    fn connect(
        &self,
        dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        let name = self.server_name.as_deref().unwrap_or(dns_name);
        ureq::TlsConnector::connect(&self.connector, name, io)
    }
}

impl HttpTransport {
    /// Builds the transport; TLS material is loaded now (errors name the file).
    pub fn new(config: &Config, hosts: HostSet) -> Result<HttpTransport, String> {
        let timeout = config.socket_timeout;
        let in_flight = config.http.max_in_flight;
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout_read(timeout)
            .timeout_write(timeout)
            // A redirect of a POST would turn it into a GET: never follow one.
            .redirects(0)
            .max_idle_connections_per_host(in_flight)
            .max_idle_connections(in_flight * hosts.len())
            .user_agent(concat!("logstash-async/", env!("CARGO_PKG_VERSION")));
        let scheme = if config.tls.enable {
            let (connector, _) = TlsSettings::load(&config.tls, &config.host)?.into_parts();
            builder = builder.tls_connector(Arc::new(NamedTls {
                connector,
                server_name: config.tls.server_name.clone(),
            }));
            "https"
        } else {
            "http"
        };
        let urls = (0..hosts.len())
            .map(|i| {
                Arc::from(format!(
                    "{scheme}://{}{}",
                    hosts.endpoint(i),
                    config.http.path
                ))
            })
            .collect();
        let password = config.http.password.as_ref().map(|p| p.0.clone());
        let mut headers = Vec::new();
        if let (Some(user), Some(pass)) = (&config.http.username, &password) {
            let credentials = base64(format!("{user}:{pass}").as_bytes());
            headers.push(("Authorization".to_owned(), format!("Basic {credentials}")));
        }
        headers.extend(config.http.headers.iter().cloned());
        let settings = RequestSettings {
            agent: builder.build(),
            headers,
            password,
            max_content_length: config.http.max_content_length,
            gzip: config.http.compression == Compression::Gzip,
        };
        let reports = Arc::new(Reports::default());
        Ok(HttpTransport {
            hosts,
            urls,
            senders: Senders::new(settings, in_flight, Arc::clone(&reports)),
            reports,
            max_in_flight: in_flight,
            in_flight: HashSet::new(),
            max_content_length: config.http.max_content_length,
            outcomes: Vec::new(),
        })
    }

    fn apply(&mut self, answered: Answered, now: Instant) {
        if !self.in_flight.remove(&answered.ticket) {
            return;
        }
        let (ticket, host) = (answered.ticket, answered.host);
        match answered.answer {
            Answer::Delivered => {
                self.hosts.succeeded(host);
                self.outcomes.push(Outcome::Done {
                    ticket,
                    rejected: 0,
                });
            }
            Answer::Refused(message) => {
                // The receiver answered: it is up, it does not want these.
                self.hosts.succeeded(host);
                self.outcomes.push(Outcome::Rejected(message));
                self.outcomes.push(Outcome::Done {
                    ticket,
                    rejected: answered.events,
                });
            }
            Answer::Retry {
                message,
                retry_after,
            } => {
                self.hosts.failed_for(host, now, retry_after);
                self.outcomes.push(Outcome::Failed(SendError {
                    message,
                    another_host_ready: self.hosts.other_healthy(host, now),
                    retry_after,
                }));
                self.outcomes.push(Outcome::Returned {
                    ticket,
                    finished: 0,
                    rejected: 0,
                    written: true,
                });
            }
        }
    }

    fn take_reports(&mut self, now: Instant) {
        for answered in self.reports.take() {
            self.apply(answered, now);
        }
    }
}

impl Transport for HttpTransport {
    fn start(&mut self, waker: Waker) {
        self.senders.set_waker(waker);
    }

    fn capacity(&self, _now: Instant) -> Option<Capacity> {
        (self.in_flight.len() < self.max_in_flight).then_some(Capacity {
            max_events: MAX_REQUEST_EVENTS,
            // The body adds `[` and `]` and turns each `\n` into a `,`.
            max_bytes: self.max_content_length - 1,
        })
    }

    fn submit(&mut self, batch: Batch, now: Instant) {
        let host = self.hosts.order(now)[0];
        let ticket = batch.ticket;
        let job = Job {
            host,
            url: Arc::clone(&self.urls[host]),
            batch,
        };
        match self.senders.send(job) {
            Ok(()) => {
                self.in_flight.insert(ticket);
            }
            Err((message, _)) => {
                self.outcomes.push(Outcome::Failed(SendError::new(message)));
                self.outcomes.push(Outcome::unsent(ticket));
            }
        }
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Outcome>) {
        self.take_reports(now);
        out.append(&mut self.outcomes);
    }

    fn close(&mut self, deadline: Instant, out: &mut Vec<Outcome>) {
        self.senders.stop();
        // Requests out may still be answered until the deadline; a sender
        // stuck on a receiver after it is left to its socket timeout.
        while !self.in_flight.is_empty() && Instant::now() < deadline {
            self.reports.wait(deadline);
            self.take_reports(Instant::now());
        }
        out.append(&mut self.outcomes);
    }
}
