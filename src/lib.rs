//! logstash-async: ships log events to Logstash asynchronously, durably and
//! without ever slowing the caller. The native counterpart of the Python
//! package python-logstash-async, with a C ABI (see `include/logstash_async.h`).
//!
//! Architecture: emit (caller's thread) validates an event ([`event`]) and
//! copies it into a bounded in-memory [`queue`]; one [`worker`] thread per
//! handle formats events ([`layout`]), stores them in the SQLite [`buffer`]
//! and hands them to a [`transport`], deleting rows only once delivered.

pub mod buffer;
pub mod client;
pub mod config;
pub mod context;
pub mod event;
pub mod ffi;
mod handshake;
pub mod layout;
pub mod level;
#[doc(hidden)]
pub mod lumberjack;
pub mod notice;
pub mod prometheus;
pub mod queue;
mod report;
pub mod result;
mod shaping;
mod shared;
pub mod stats;
pub mod sys;
pub mod transport;
pub mod version;
mod worker;

pub use client::Client;
pub use config::Config;
pub use level::Level;
pub use result::ResultCode;
pub use stats::Stats;

/// The library version (from Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
