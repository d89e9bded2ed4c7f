//! Who is asking, and at which address the site is reached: the client address believed
//! from `X-Forwarded-For` / `X-Real-IP` only when the connection comes from a trusted
//! reverse proxy (`LIUYAN_TRUSTED_PROXIES`), and the site's own base URL from
//! `LIUYAN_PUBLIC_URL` (else the `Host` header) — never from a client-sent
//! `X-Forwarded-Host` or `Forwarded` header.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use ipnet::IpNet;

use crate::config::Config;

/// Parse `LIUYAN_TRUSTED_PROXIES`: addresses or CIDRs, separated by commas or spaces.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("LIUYAN_TRUSTED_PROXIES 中的“{s}”不是 IP 地址或网段（如 10.0.0.5 或 10.0.0.0/24）")
                })
        })
        .collect()
}

/// Parse `LIUYAN_PUBLIC_URL`: `http(s)://host[:port]`, without a path.
pub fn parse_public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let bad = || {
        format!("LIUYAN_PUBLIC_URL 应形如 https://liuyan.example.gov.cn（协议加主机名，可带端口，不带路径），而不是“{url}”")
    };
    let (scheme, host) = url.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https")
        || host.is_empty()
        || host.contains(['/', '?', '#', '@', ' '])
    {
        return Err(bad());
    }
    Ok(url.to_string())
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends
/// the address it saw), or `X-Real-IP`.
pub fn resolve(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    real_ip: Option<&str>,
    proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted(peer, proxies) {
        return Some(peer);
    }
    if let Some(list) = forwarded_for {
        let hops: Vec<IpAddr> = list
            .split(',')
            .filter_map(|h| h.trim().parse::<IpAddr>().ok())
            .collect();
        if let Some(ip) = hops.iter().rev().find(|ip| !trusted(**ip, proxies)) {
            return Some(*ip);
        }
        if let Some(first) = hops.first() {
            return Some(*first);
        }
    }
    real_ip
        .and_then(|r| r.trim().parse::<IpAddr>().ok())
        .or(Some(peer))
}

fn config_of(req: &HttpRequest) -> Option<&Config> {
    req.app_data::<actix_web::web::Data<Config>>()
        .map(|c| c.get_ref())
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The client address of a request (see `resolve`).
pub fn address(req: &HttpRequest) -> Option<IpAddr> {
    let proxies = config_of(req).map_or(&[][..], |c| &c.trusted_proxies[..]);
    resolve(
        req.peer_addr().map(|a| a.ip()),
        header_str(req, "x-forwarded-for"),
        header_str(req, "x-real-ip"),
        proxies,
    )
}

/// The client address as text, for the audit log and the sessions list.
pub fn ip(req: &HttpRequest) -> String {
    address(req).map_or_else(|| "unknown".to_string(), |a| a.to_string())
}

/// The site's base URL (QR codes, packages): `LIUYAN_PUBLIC_URL`, else the scheme and the
/// `Host` header of this request (https when a trusted proxy says so or cookies are
/// marked secure).
pub fn base_url(req: &HttpRequest) -> String {
    let config = config_of(req);
    if let Some(url) = config.and_then(|c| c.public_url.as_deref()) {
        return url.to_string();
    }
    let from_proxy = req
        .peer_addr()
        .is_some_and(|p| trusted(p.ip(), config.map_or(&[][..], |c| &c.trusted_proxies[..])));
    let https = config.is_some_and(|c| c.secure_cookies)
        || (from_proxy && header_str(req, "x-forwarded-proto") == Some("https"));
    format!("{}://{}", if https { "https" } else { "http" }, host(req))
}

/// `host[:port]` the site is reached at, for the Origin check: that of
/// `LIUYAN_PUBLIC_URL`, else the request's `Host` header.
pub fn host(req: &HttpRequest) -> String {
    if let Some(url) = config_of(req).and_then(|c| c.public_url.as_deref()) {
        return url.split_once("://").map_or(url, |(_, h)| h).to_string();
    }
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let proxies = parse_trusted("10.0.0.0/24, 192.168.1.5").expect("list");
        // A client sending its own header directly: ignored.
        assert_eq!(
            resolve(Some(ip("203.0.113.9")), Some("1.2.3.4"), None, &proxies),
            Some(ip("203.0.113.9"))
        );
        // Through the proxy: the address the proxy saw.
        assert_eq!(
            resolve(Some(ip("10.0.0.7")), Some("172.16.5.20"), None, &proxies),
            Some(ip("172.16.5.20"))
        );
        // A client that forges a first hop: the proxy appends the real one, taken.
        assert_eq!(
            resolve(
                Some(ip("10.0.0.7")),
                Some("6.6.6.6, 172.16.5.20, 192.168.1.5"),
                None,
                &proxies
            ),
            Some(ip("172.16.5.20"))
        );
        assert_eq!(
            resolve(Some(ip("192.168.1.5")), None, Some("172.16.5.21"), &proxies),
            Some(ip("172.16.5.21"))
        );
        assert_eq!(
            resolve(Some(ip("192.168.1.5")), None, None, &proxies),
            Some(ip("192.168.1.5"))
        );
        assert!(parse_trusted("10.0.0.0/33").is_err());
        assert!(parse_trusted("proxy.local").is_err());
        assert_eq!(parse_trusted("").expect("empty"), Vec::<IpNet>::new());
    }

    #[test]
    fn the_public_url_is_a_scheme_and_a_host() {
        assert_eq!(
            parse_public_url("https://liuyan.example.gov.cn/").as_deref(),
            Ok("https://liuyan.example.gov.cn")
        );
        assert!(parse_public_url("http://10.1.1.1:8080").is_ok());
        assert!(parse_public_url("liuyan.example.gov.cn").is_err());
        assert!(parse_public_url("https://x.example/path").is_err());
        assert!(parse_public_url("ftp://x.example").is_err());
    }
}
