//! Connection limits: at most `server.max_connections_per_address` open connections from one address. A
//! connection over the limit is still accepted (the listener cannot refuse by address), but every request on
//! it is answered `503 unavailable` at once and the connection is closed, before any body is read. The
//! total (`server.max_connections`) is actix's own per-worker limit, kept below the process's file limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::ResponseError;
use actix_web::dev::{Extensions, Service, ServiceRequest, ServiceResponse};

use super::ApiError;

/// Open connections per address.
#[derive(Debug)]
pub struct ConnectionCounter {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// Kept in a connection's data while it is open; dropping it (when the connection closes) frees its place.
#[derive(Debug)]
pub struct ConnectionSlot {
    counter: Arc<ConnectionCounter>,
    ip: IpAddr,
    /// The address had more open connections than allowed when this one arrived.
    pub over_limit: bool,
}

impl ConnectionCounter {
    /// A counter allowing `limit` open connections per address.
    pub fn new(limit: usize) -> Arc<ConnectionCounter> {
        Arc::new(ConnectionCounter {
            limit: limit.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a new connection from `ip`; the slot says whether it is over the limit.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> ConnectionSlot {
        let mut open = self.lock();
        let n = open.entry(ip).or_insert(0);
        *n += 1;
        ConnectionSlot {
            counter: Arc::clone(self),
            ip,
            over_limit: *n > self.limit,
        }
    }

    /// `on_connect` hook: counts the connection and keeps its slot in the connection's data.
    pub fn register(self: &Arc<Self>, conn: &dyn std::any::Any, data: &mut Extensions) {
        use actix_tls::accept::openssl::TlsStream;
        use actix_web::rt::net::TcpStream;
        let peer = conn
            .downcast_ref::<TlsStream<TcpStream>>()
            .and_then(|tls| tls.get_ref().peer_addr().ok())
            .or_else(|| {
                conn.downcast_ref::<TcpStream>()
                    .and_then(|tcp| tcp.peer_addr().ok())
            });
        if let Some(peer) = peer {
            data.insert(self.open(peer.ip()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Plain counters stay usable after a panic elsewhere.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.counter.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Middleware: a request on a connection over its address's limit gets `503 unavailable` at once and the
/// connection closes; nothing of it (body, credentials) is read.
pub fn refuse_crowded<S>(
    req: ServiceRequest,
    srv: &S,
) -> futures_util::future::Either<
    S::Future,
    std::future::Ready<Result<ServiceResponse, actix_web::Error>>,
>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
{
    let crowded = req
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.over_limit);
    if !crowded {
        return futures_util::future::Either::Left(srv.call(req));
    }
    log::warn!("request refused: too many open connections from its address");
    let mut response = ApiError::Unavailable.error_response();
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    futures_util::future::Either::Right(std::future::ready(Ok(req.into_response(response))))
}

/// The process's limit on open files (soft), from `/proc/self/limits`; `None` where it cannot be read.
pub fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The connection limit actually applied: the configured total, kept 64 files below the process's limit
/// (database connections, the log, certificates and mapping files need descriptors too).
pub fn effective_max_connections(configured: usize, open_files: Option<usize>) -> usize {
    match open_files {
        Some(files) => configured.min(files.saturating_sub(64).max(16)),
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_over_the_per_address_limit_are_marked_and_freed_on_close() {
        let c = ConnectionCounter::new(2);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let a = c.open(ip);
        let b = c.open(ip);
        let over = c.open(ip);
        assert!(!a.over_limit && !b.over_limit && over.over_limit);
        assert!(!c.open("192.0.2.2".parse().expect("ip")).over_limit);
        drop(over);
        drop(a);
        assert!(
            !c.open(ip).over_limit,
            "a closed connection frees its place"
        );
    }

    #[test]
    fn the_total_stays_below_the_file_limit() {
        assert_eq!(effective_max_connections(2048, Some(1024)), 960);
        assert_eq!(effective_max_connections(100, Some(1024)), 100);
        assert_eq!(effective_max_connections(100, None), 100);
    }
}
