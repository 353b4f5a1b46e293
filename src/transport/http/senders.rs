//! The http transport's sender threads: up to `http_max_in_flight` of them,
//! started as requests need them, each taking the next request from a
//! queue, POSTing it (ureq blocks: fine here, the worker never waits for
//! it), and reporting the answer, which wakes the worker.

use super::request::{Answer, RequestSettings};
use crate::transport::reports::Reports;
use crate::transport::{Batch, Waker};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;

/// A request to make.
pub struct Job {
    pub host: usize,
    pub url: Arc<str>,
    pub batch: Batch,
}

/// A request answered.
pub struct Answered {
    pub ticket: u64,
    pub host: usize,
    pub events: u32,
    pub answer: Answer,
}

pub struct Senders {
    shared: Arc<Shared>,
    /// Threads started so far, and the most there may be.
    started: usize,
    max: usize,
}

struct Shared {
    jobs: Mutex<Jobs>,
    ready: Condvar,
    settings: RequestSettings,
    reports: Arc<Reports<Answered>>,
    waker: Mutex<Waker>,
}

#[derive(Default)]
struct Jobs {
    queue: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Shutdown: threads end once the queue is empty.
    stop: bool,
}

impl Senders {
    pub fn new(settings: RequestSettings, max: usize, reports: Arc<Reports<Answered>>) -> Senders {
        Senders {
            shared: Arc::new(Shared {
                jobs: Mutex::new(Jobs::default()),
                ready: Condvar::new(),
                settings,
                reports,
                waker: Mutex::new(Waker::none()),
            }),
            started: 0,
            max,
        }
    }

    pub fn set_waker(&self, waker: Waker) {
        *self.shared.waker.lock() = waker;
    }

    /// Queues a request; starts a thread when none is idle (up to `max`).
    pub fn send(&mut self, job: Job) -> Result<(), (String, Job)> {
        let mut jobs = self.shared.jobs.lock();
        let start = jobs.idle == 0 && self.started < self.max;
        jobs.queue.push_back(job);
        drop(jobs);
        if start {
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("logstash-http".into())
                .spawn(move || shared.serve());
            match spawned {
                Ok(_) => self.started += 1,
                Err(e) if self.started == 0 => {
                    let job = self.shared.jobs.lock().queue.pop_back().expect("queued");
                    return Err((format!("cannot start an http sender thread: {e}"), job));
                }
                // The threads running take it.
                Err(_) => {}
            }
        }
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Threads end once the requests queued are made.
    pub fn stop(&self) {
        self.shared.jobs.lock().stop = true;
        self.shared.ready.notify_all();
    }
}

impl Shared {
    fn serve(&self) {
        loop {
            let job = {
                let mut jobs = self.jobs.lock();
                loop {
                    if let Some(job) = jobs.queue.pop_front() {
                        break job;
                    }
                    if jobs.stop {
                        return;
                    }
                    jobs.idle += 1;
                    self.ready.wait(&mut jobs);
                    jobs.idle -= 1;
                }
            };
            let answer = self.settings.post(&job.url, &job.batch);
            self.reports.push(Answered {
                ticket: job.batch.ticket,
                host: job.host,
                events: job.batch.len(),
                answer,
            });
            // The batch's chunks are released before the worker looks.
            drop(job);
            self.waker.lock().wake();
        }
    }
}
