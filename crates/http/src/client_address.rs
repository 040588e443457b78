//! The client's address, as the login throttle counts it: the peer's, or the last
//! `X-Forwarded-For` hop when the peer is a proxy we were told to trust.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The peer address, or, when the peer is in `trusted`, the last `X-Forwarded-For` entry (the
/// one that proxy added; entries before it are whatever the client claimed). An untrusted
/// peer's header is ignored, so nobody can pick the address they are counted under.
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .last()
        .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
    Some(forwarded.unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const PROXY: &str = "10.0.0.2";

    fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(value) = forwarded {
            req = req.insert_header(("X-Forwarded-For", value));
        }
        req.to_http_request()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let req = request("198.51.100.7", Some("203.0.113.1"));
        assert_eq!(client_address(&req, &[]), Some("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn a_trusted_proxy_s_last_hop_is_the_client() {
        let req = request(PROXY, Some("1.2.3.4, 203.0.113.1"));
        assert_eq!(client_address(&req, &[PROXY.parse().unwrap()]), Some("203.0.113.1".parse().unwrap()));
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let req = request("198.51.100.7", Some("203.0.113.1"));
        assert_eq!(client_address(&req, &[PROXY.parse().unwrap()]), Some("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn a_garbled_header_from_a_trusted_proxy_falls_back_to_the_proxy() {
        let req = request(PROXY, Some("not-an-ip"));
        assert_eq!(client_address(&req, &[PROXY.parse().unwrap()]), Some(PROXY.parse().unwrap()));
    }
}
