//! The client's address, as the login throttle counts it: the peer's, or the last
//! `X-Forwarded-For` hop when the peer is a proxy we were told to trust ([`TrustedProxies`]).

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`): single addresses and
/// CIDR ranges, since behind Fly.io or a Kubernetes ingress the proxy's address is not fixed.
/// Cheap to clone. The default trusts nobody, so the header is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

/// An entry of `TRUSTED_PROXIES` that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is neither an IP address nor a CIDR range (like 10.0.0.0/8 or fd00::/8)")]
pub struct InvalidProxy {
    /// The entry as written.
    pub entry: String,
}

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// A comma-separated list such as `10.0.0.0/8, fd00::/8, 127.0.0.1`; blank entries are
    /// skipped. A range with host bits set (`10.1.2.3/8`) means its network (`10.0.0.0/8`).
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| match entry.parse::<IpAddr>() {
                Ok(ip) => Ok(IpNet::from(ip.to_canonical())),
                Err(_) => {
                    entry.parse::<IpNet>().map(|net| net.trunc()).map_err(|_| InvalidProxy { entry: entry.into() })
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| Self(nets.into()))
    }
}

impl TrustedProxies {
    /// Whether `peer` is one of the trusted proxies. An IPv4 peer seen through an IPv6 socket
    /// (`::ffff:10.0.0.2`) is matched as the IPv4 address it is.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|net| net.contains(&peer))
    }

    /// The address a connection from `peer` is counted under: `peer` itself, or, when `peer` is
    /// trusted, the last hop of its `X-Forwarded-For` header lines (the one that proxy added;
    /// entries before it are whatever the client claimed). An untrusted peer's header is
    /// ignored, so nobody can pick the address they are counted under; a garbled last hop falls
    /// back to the proxy.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        forwarded_for
            .into_iter()
            .flat_map(|line| line.split(','))
            .last()
            .and_then(|hop| hop.trim().parse::<IpAddr>().ok())
            .map_or(peer, |hop| hop.to_canonical())
    }
}

/// The address the login throttle counts for `req` ([`TrustedProxies::client`] over its peer
/// and every `X-Forwarded-For` line); `None` when the connection has no peer address.
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let lines = req.headers().get_all("x-forwarded-for").filter_map(|value| value.to_str().ok());
    Some(trusted.client(peer, lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const PROXY: &str = "10.0.0.2";

    fn request(peer: &str, forwarded: &[&str]) -> HttpRequest {
        let peer: IpAddr = peer.parse().unwrap();
        let mut req = TestRequest::default().peer_addr((peer, 4000).into());
        for value in forwarded {
            req = req.append_header(("X-Forwarded-For", *value));
        }
        req.to_http_request()
    }

    fn trusted(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let req = request("198.51.100.7", &["203.0.113.1"]);
        assert_eq!(client_address(&req, &TrustedProxies::default()), ip("198.51.100.7"));
        assert_eq!(client_address(&req, &trusted(" , ")), ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_s_last_hop_is_the_client() {
        let req = request(PROXY, &["1.2.3.4, 203.0.113.1"]);
        assert_eq!(client_address(&req, &trusted(PROXY)), ip("203.0.113.1"));
    }

    #[test]
    fn the_last_hop_is_taken_across_header_lines() {
        // HAProxy adds a line of its own rather than extending the client's.
        let req = request(PROXY, &["1.2.3.4", "203.0.113.1"]);
        assert_eq!(client_address(&req, &trusted(PROXY)), ip("203.0.113.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let req = request("198.51.100.7", &["203.0.113.1"]);
        assert_eq!(client_address(&req, &trusted(PROXY)), ip("198.51.100.7"));
        assert_eq!(client_address(&req, &trusted("10.0.0.0/8, fd00::/8")), ip("198.51.100.7"));
    }

    #[test]
    fn a_garbled_header_from_a_trusted_proxy_falls_back_to_the_proxy() {
        let req = request(PROXY, &["not-an-ip"]);
        assert_eq!(client_address(&req, &trusted(PROXY)), ip(PROXY));
    }

    #[test]
    fn ranges_trust_every_address_inside_them_and_none_outside() {
        let proxies = trusted("10.0.0.0/8, fd00::/8, 127.0.0.1");
        for inside in ["10.0.0.0", "10.255.255.255", "10.42.0.7", "fd12:3456::1", "127.0.0.1"] {
            assert!(proxies.trusts(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["11.0.0.1", "9.255.255.255", "fe80::1", "127.0.0.2", "::1"] {
            assert!(!proxies.trusts(outside.parse().unwrap()), "{outside}");
        }
        let req = request("10.42.0.7", &["203.0.113.1"]);
        assert_eq!(client_address(&req, &proxies), ip("203.0.113.1"));
    }

    #[test]
    fn host_bits_in_a_range_are_ignored() {
        let proxies = trusted("192.168.1.77/24");
        assert!(proxies.trusts("192.168.1.1".parse().unwrap()));
        assert!(!proxies.trusts("192.168.2.1".parse().unwrap()));
    }

    #[test]
    fn an_ipv4_peer_on_an_ipv6_socket_is_matched_as_ipv4() {
        let proxies = trusted("10.0.0.0/8");
        assert!(proxies.trusts("::ffff:10.1.2.3".parse().unwrap()));
        let req = request("::ffff:198.51.100.7", &["203.0.113.1"]);
        assert_eq!(client_address(&req, &proxies), ip("198.51.100.7"));
    }

    #[test]
    fn a_malformed_entry_is_named() {
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0", "fd00::/129", "10.0.0.0/8/8", "*"] {
            let error = format!("127.0.0.1, {bad}").parse::<TrustedProxies>().unwrap_err();
            assert_eq!(error, InvalidProxy { entry: bad.into() });
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }
}
