//! Which chunks Kafka has taken: one ticket per chunk, the delivery reports of
//! its messages counted against it, and tickets confirmed in order once every
//! message of them (and of every earlier ticket) has a report.
//!
//! A report says one of three things: delivered; refused for good (too large,
//! no such topic), which drops that event and counts it; or failed otherwise,
//! which makes the chunk and everything after it void, to be sent again. The
//! ledger knows nothing of librdkafka: it is the part issue 16's reworked
//! transport trait will reuse.

use std::collections::VecDeque;

#[derive(Default, Clone)]
struct Entry {
    /// Messages without a delivery report yet.
    outstanding: u32,
    /// Messages refused for good.
    refused: u32,
    /// Why a message of this chunk failed (then the chunk is resent).
    failure: Option<String>,
}

/// Refused events of confirmed chunks, with their distinct reasons.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    pub events: u32,
    pub reasons: Vec<String>,
}

#[derive(Default)]
pub struct Ledger {
    /// Unconfirmed tickets, oldest first: entry i is ticket `first + i`.
    entries: VecDeque<Entry>,
    first: u64,
    /// The highest confirmed ticket (0: none yet).
    confirmed: u64,
    /// Messages of live entries without a report.
    outstanding: u64,
    refusals: Refusals,
}

impl Ledger {
    /// A ledger whose first ticket is `first` (1 for the first producer;
    /// a replacement continues where the last one stopped).
    pub fn starting_at(first: u64) -> Ledger {
        Ledger {
            first: first.max(1),
            confirmed: first.max(1) - 1,
            ..Ledger::default()
        }
    }

    /// The ticket the next `open` returns.
    pub fn next_ticket(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Opens the ticket of a new chunk.
    pub fn open(&mut self) -> u64 {
        self.entries.push_back(Entry::default());
        self.first + self.entries.len() as u64 - 1
    }

    fn entry(&mut self, ticket: u64) -> Option<&mut Entry> {
        let i = ticket.checked_sub(self.first)?;
        self.entries.get_mut(usize::try_from(i).ok()?)
    }

    /// `n` messages of `ticket` are handed to the producer.
    pub fn produced(&mut self, ticket: u64, n: u32) {
        if let Some(e) = self.entry(ticket) {
            e.outstanding += n;
            self.outstanding += u64::from(n);
        }
    }

    /// A delivery report. `refused`: refused for good (with the reason);
    /// reports of void tickets are ignored.
    pub fn reported(&mut self, ticket: u64, outcome: Result<(), Outcome>) {
        let Some(i) = ticket.checked_sub(self.first) else {
            return;
        };
        let Some(e) = usize::try_from(i)
            .ok()
            .and_then(|i| self.entries.get_mut(i))
        else {
            return;
        };
        if e.outstanding == 0 {
            return;
        }
        e.outstanding -= 1;
        self.outstanding -= 1;
        match outcome {
            Ok(()) => {}
            Err(Outcome::Refused(reason)) => {
                e.refused += 1;
                if !self.refusals.reasons.contains(&reason) {
                    self.refusals.reasons.push(reason);
                }
            }
            Err(Outcome::Failed(reason)) => {
                e.failure.get_or_insert(reason);
            }
        }
    }

    /// Confirms complete tickets in order: the highest confirmed ticket, or
    /// the failure of the oldest unconfirmed chunk once all its messages have
    /// reports (then everything unconfirmed is void: see `void`).
    pub fn confirm(&mut self) -> Result<u64, String> {
        while let Some(front) = self.entries.front() {
            if front.outstanding > 0 {
                break;
            }
            if let Some(failure) = &front.failure {
                return Err(failure.clone());
            }
            self.refusals.events += front.refused;
            self.entries.pop_front();
            self.confirmed = self.first;
            self.first += 1;
        }
        Ok(self.confirmed)
    }

    /// Forgets every unconfirmed ticket (the worker sends those chunks again
    /// under new tickets); later reports of them are ignored.
    pub fn void(&mut self) {
        self.first += self.entries.len() as u64;
        self.entries.clear();
        self.outstanding = 0;
    }

    /// Messages of live tickets still without a report.
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }

    pub fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// Refused events of the tickets confirmed since the last call.
    pub fn take_refusals(&mut self) -> Option<Refusals> {
        if self.refusals.events == 0 {
            return None;
        }
        Some(std::mem::take(&mut self.refusals))
    }
}

/// How a message failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Never deliverable (too large, no such topic): dropped and counted.
    Refused(String),
    /// Not delivered this time: its chunk is sent again.
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_confirm_in_order_once_every_message_is_reported() {
        let mut l = Ledger::starting_at(1);
        let a = l.open();
        l.produced(a, 2);
        let b = l.open();
        l.produced(b, 1);
        assert_eq!((a, b), (1, 2));
        assert_eq!(l.outstanding(), 3);
        l.reported(b, Ok(()));
        assert_eq!(l.confirm(), Ok(0), "b waits for a");
        l.reported(a, Ok(()));
        assert_eq!(l.confirm(), Ok(0));
        l.reported(a, Ok(()));
        assert_eq!(l.confirm(), Ok(2));
        assert_eq!(l.outstanding(), 0);
        assert_eq!(l.take_refusals(), None);
    }

    #[test]
    fn refused_events_are_counted_with_their_distinct_reasons() {
        let mut l = Ledger::starting_at(1);
        let a = l.open();
        l.produced(a, 2);
        l.reported(a, Err(Outcome::Refused("too large".into())));
        l.reported(a, Err(Outcome::Refused("too large".into())));
        let b = l.open();
        l.produced(b, 1);
        l.reported(b, Err(Outcome::Refused("no topic".into())));
        assert_eq!(l.confirm(), Ok(2));
        let r = l.take_refusals().unwrap();
        assert_eq!(r.events, 3);
        assert_eq!(
            r.reasons,
            vec!["too large".to_string(), "no topic".to_string()]
        );
        assert_eq!(l.take_refusals(), None);
    }

    #[test]
    fn a_failure_voids_the_unconfirmed_and_old_reports_are_ignored() {
        let mut l = Ledger::starting_at(1);
        let a = l.open();
        l.produced(a, 1);
        let b = l.open();
        l.produced(b, 2);
        l.reported(a, Ok(()));
        l.reported(b, Err(Outcome::Failed("broker said no".into())));
        assert_eq!(l.confirm(), Ok(1), "b still has a message out");
        l.reported(b, Ok(()));
        assert_eq!(l.confirm(), Err("broker said no".into()));
        l.void();
        assert_eq!(l.outstanding(), 0);
        let c = l.open();
        assert_eq!(c, 3, "tickets keep growing");
        l.reported(b, Ok(())); // a late report of a void ticket
        l.produced(c, 1);
        l.reported(c, Ok(()));
        assert_eq!(l.confirm(), Ok(3));
    }
}
