//! Who is on the other end: the client's address for the per-address limits, through trusted proxies.
//! Reads `server.trusted_proxies` (parsed into `AppState::trusted_proxies`).
//!
//! `X-Forwarded-For` is read only when the peer itself is a trusted proxy, and then from the right: each
//! trusted hop appends the address it saw, so the rightmost address that is not a trusted proxy is the client.
//! Anything further left was written by the client and proves nothing.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The client's address: the peer, or what trusted proxies in front of it say.
pub fn client_address(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    Some(through_proxies(peer, &forwarded, trusted))
}

/// The rightmost address of `peer` and `forwarded` (a comma-separated `X-Forwarded-For`) that is not a trusted
/// proxy; the peer when it is not trusted, or when the header is missing or malformed.
pub fn through_proxies(peer: IpAddr, forwarded: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A hop we cannot read: stop at the last address we could vouch for.
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A direct client cannot claim another address.
        assert_eq!(
            through_proxies(ip("203.0.113.5"), "198.51.100.1", &trusted),
            ip("203.0.113.5")
        );
        // Behind the proxy, the rightmost untrusted hop is the client; what the client wrote is ignored.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), "1.2.3.4, 198.51.100.7, 10.0.0.9", &trusted),
            ip("198.51.100.7")
        );
        // No header: the proxy itself.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), "", &trusted),
            ip("10.0.0.2")
        );
        // Nothing trusted (the default): headers never matter.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), "198.51.100.7", &[]),
            ip("10.0.0.2")
        );
        // Garbage stops the walk at the last readable hop.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), "198.51.100.7, junk", &trusted),
            ip("10.0.0.2")
        );
    }
}
