//! The C ABI. Everything here is a thin, defensive layer over [`crate::Client`]:
//! every pointer is checked, every export runs inside a panic boundary, and
//! nothing but result codes and documented pointers crosses to C. Only this
//! module (with `result.rs` and `version.rs`) makes the generated header.
//!
//! | file | job |
//! |---|---|
//! | `api.rs` | create, emit_json, log, set_extra, flush, shutdown, stats |
//! | `fields.rs` | logging without JSON: typed fields, records, levels |
//! | `context.rs` | the calling thread's context |
//! | `options.rs` | create with callbacks; notices (callback and poll) |
//! | `custom.rs` | the custom transport |
//! | `handle.rs` | the handle, its tombstone after shutdown |
//! | `host.rs` | the fence around calls into the host |
//! | `boundary.rs` | the panic boundary and pointer helpers |

mod api;
mod boundary;
mod context;
mod custom;
mod fields;
mod handle;
mod host;
mod options;
mod prometheus;

pub use api::*;
pub use context::*;
pub use custom::*;
pub use fields::*;
pub use handle::logstash_async_handle;
pub use options::*;
pub use prometheus::*;
