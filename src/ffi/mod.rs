//! The C ABI. Everything here is a thin, defensive layer over [`crate::Client`]:
//! every pointer is checked, every export runs inside a panic boundary, and
//! nothing but result codes and documented pointers crosses to C.

mod api;
mod boundary;
mod custom;
mod prometheus;

pub use api::*;
pub use custom::*;
pub use prometheus::*;
