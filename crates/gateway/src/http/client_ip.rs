//! The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest address
//! in `X-Forwarded-For` that is not itself a trusted proxy (so a client cannot forge it).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The address rate limits and the audit trail use.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.ip();
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        headers
    }

    #[test]
    fn untrusted_peers_are_taken_as_they_are() {
        let peer: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        assert_eq!(client_ip(peer, &headers("1.2.3.4"), &[]), peer.ip());
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let lb: IpAddr = "10.0.0.2".parse().unwrap();
        let peer = SocketAddr::new(lb, 4000);
        let trusted = [lb, "10.0.0.3".parse().unwrap()];
        // The client forged the first entry; the load balancers appended the real one.
        let ip = client_ip(peer, &headers("6.6.6.6, 198.51.100.7, 10.0.0.3"), &trusted);
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), lb);
    }
}
