//! Opening a Redis connection, on the connector's thread: connect (and the
//! TLS handshake), then the greeting: AUTH, SELECT and the server's bulk
//! limit, each answered in turn.

use super::resp::Reply;
use super::{Link, DEFAULT_MAX_BULK, WRITE_SLICE};
use crate::config::Endpoint;
use crate::transport::connector;
use crate::transport::tls::TlsSettings;
use crate::transport::Interrupter;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a new connection says before its first command.
pub struct Greeting {
    pub db: u32,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// An attempt that opens a link to `endpoint` (host number `host`).
pub fn open(
    host: usize,
    endpoint: Endpoint,
    timeout: Duration,
    tls: Option<Arc<TlsSettings>>,
    interrupter: &Interrupter,
    greeting: Arc<Greeting>,
) -> impl FnOnce() -> Result<Link, String> + Send + 'static {
    let connect = connector::connect(endpoint, timeout, tls, interrupter);
    move || {
        let (conn, slot) = connect()?;
        let mut link = Link {
            conn,
            slot,
            host,
            output: Vec::new(),
            out_pos: 0,
            input: Vec::new(),
            pending: VecDeque::new(),
            last_progress: Instant::now(),
            max_bulk: DEFAULT_MAX_BULK,
        };
        if let Err(e) = greet(&mut link, &greeting) {
            link.conn.close(&link.slot);
            return Err(e);
        }
        // Writes after the greeting block at most WRITE_SLICE (see pump).
        let _ = link.conn.tcp().set_write_timeout(Some(WRITE_SLICE));
        Ok(link)
    }
}

fn greet(link: &mut Link, greeting: &Greeting) -> Result<(), String> {
    if let Some(password) = &greeting.password {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(user) = &greeting.username {
            args.push(user.as_bytes());
        }
        args.push(password.as_bytes());
        match link.call(&args)? {
            Reply::Status(_) => {}
            Reply::Error(e) => return Err(format!("authentication refused: {e}")),
            other => return Err(format!("AUTH: unexpected reply {other:?}")),
        }
    }
    if greeting.db != 0 {
        match link.call(&[b"SELECT", greeting.db.to_string().as_bytes()])? {
            Reply::Status(_) => {}
            Reply::Error(e) => return Err(format!("SELECT {}: {e}", greeting.db)),
            other => return Err(format!("SELECT: unexpected reply {other:?}")),
        }
    }
    // An ACL user may not run CONFIG (nor a managed service allow it):
    // then the default limit is assumed.
    match link.call(&[b"CONFIG", b"GET", b"proto-max-bulk-len"])? {
        Reply::Array(items) => {
            if let Some(Reply::Bulk(Some(v))) = items.get(1) {
                if let Some(n) = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()) {
                    link.max_bulk = n;
                }
            }
        }
        Reply::Error(e) if e.starts_with("NOAUTH") => {
            return Err(format!("authentication required (set password): {e}"))
        }
        _ => {}
    }
    Ok(())
}
