//! The one policy for every request Rolo makes on a subscriber's behalf (validation handshakes,
//! notifications, lifecycle events): which URLs and addresses it may reach. Subscriptions let any
//! user name a URL, so without this the server would POST to its own loopback services, the
//! private network and the cloud metadata endpoint.
//!
//! Two checks, both required: [`OutboundPolicy::check_url`] before anything is sent (scheme, plain
//! `http` only to configured hosts, IP literals classified), and [`client`]'s DNS resolver, which
//! drops every non-public address a name resolves to *at connect time*, so a name that resolved
//! to a public address when the subscription was made and to `127.0.0.1` later (DNS rebinding)
//! still cannot reach loopback. IP literals never reach a resolver, which is why the URL check
//! classifies them itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// What kind of address an IP is, for the outbound policy: only `Public` is reachable by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Unspecified,
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16).
    Private,
    /// 100.64/10, carrier-grade NAT (and some clouds' metadata services).
    SharedCgnat,
    /// 169.254/16 (the metadata endpoint 169.254.169.254) and fe80::/10.
    LinkLocal,
    /// fc00::/7 (and the deprecated site-local fec0::/10).
    UniqueLocal,
    Multicast,
    Broadcast,
    Documentation,
    /// Everything else special-purpose: 0/8, 192.0.0/24, benchmarking, 240/4, IPv6 translation
    /// and discard prefixes.
    Reserved,
}

/// Classifies an address. IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`, the deprecated
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16`) is judged by its IPv4
/// address, so `::ffff:127.0.0.1` is loopback.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip.is_unspecified() => Unspecified,
        _ if ip.is_broadcast() => Broadcast,
        (127, ..) => Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => Private,
        (100, 64..=127, _) => SharedCgnat,
        (169, 254, _) => LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Documentation,
        (224..=239, ..) => Multicast,
        (0, ..) | (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) | (240..=255, ..) => Reserved,
        _ => Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if ip.is_unspecified() {
        return Unspecified;
    }
    if ip.is_loopback() {
        return Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let s = ip.segments();
    match s[0] {
        0xfe80..=0xfebf => LinkLocal,
        0xfec0..=0xfeff | 0xfc00..=0xfdff => UniqueLocal,
        0xff00..=0xffff => Multicast,
        0x2001 if s[1] == 0x0db8 => Documentation,
        0x3fff if s[1] < 0x1000 => Documentation,
        // 2001::/23 (IETF protocol assignments, Teredo), 100::/64 discard, 64:ff9b:1::/48 local
        // NAT64, and the rest of ::/8 (IPv4-compatible and unassigned).
        0x2001 if s[1] < 0x0200 => Reserved,
        0x0100 if s[1..4] == [0, 0, 0] => Reserved,
        0x0064 if s[1] == 0xff9b => Reserved,
        0x0000..=0x00ff => Reserved,
        _ => Public,
    }
}

/// The IPv4 address an IPv6 address stands for, where it is only a wrapper around one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(low),
        [0, 0, 0, 0, 0, 0, ..] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// Where outbound requests may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Hosts (as written in URLs: `localhost`, `127.0.0.1`, `[::1]`) that may be reached over
    /// plain `http`; everything else must be `https`.
    pub http_hosts: Vec<String>,
    /// Non-public networks that may be reached anyway (a local receiver in development and tests).
    pub private_networks: Vec<IpNet>,
}

/// Why a URL or address was refused: logged, never shown to the subscriber (who gets one error
/// for every refusal, so the answers cannot map an internal network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl OutboundPolicy {
    /// The emulator's and the test servers' policy: plain `http` and any port on loopback.
    pub fn loopback() -> OutboundPolicy {
        OutboundPolicy {
            http_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            private_networks: vec![
                IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::LOCALHOST, 8).unwrap_or_default()),
                IpNet::V6(ipnet::Ipv6Net::new(Ipv6Addr::LOCALHOST, 128).unwrap_or_default()),
            ],
        }
    }

    /// Public addresses always; others only inside an allowed network (checked on the address
    /// and, for IPv4 wrapped in IPv6, on the IPv4 address too).
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        if classify(ip) == AddressClass::Public {
            return true;
        }
        let unwrapped = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.private_networks.iter().any(|n| n.contains(&ip) || unwrapped.is_some_and(|v4| n.contains(&v4)))
    }

    /// The checks that need no DNS: an absolute `https` URL (or `http` to a configured host)
    /// without credentials, whose host, when an IP literal, is allowed.
    pub fn check_url(&self, raw: &str) -> Result<reqwest::Url, Refused> {
        let url = reqwest::Url::parse(raw).map_err(|e| Refused(format!("not an absolute URL: {e}")))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        match url.scheme() {
            "https" => {}
            "http" if self.http_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) => {}
            "http" => return Err(Refused(format!("plain http to {host} is not allowed"))),
            other => return Err(Refused(format!("scheme {other} is not allowed"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("URLs with credentials are not allowed".into()));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(d)) if !d.is_empty() => None,
            _ => return Err(Refused("the URL has no host".into())),
        };
        if let Some(ip) = literal.filter(|ip| !self.allows_ip(*ip)) {
            return Err(Refused(format!("{ip} is a {:?} address", classify(ip))));
        }
        Ok(url)
    }
}

/// Parses allowed networks, each a CIDR block (`10.1.0.0/16`, `fd00::/8`) or a single address.
pub fn parse_networks(items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .map(|item| {
            let item = item.trim();
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{item}' is not an address or a CIDR network"))
        })
        .collect()
}

/// Resolves names and keeps only the addresses the policy allows; a name with none left fails
/// to resolve, so the connection is never attempted.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| policy.allows_ip(a.ip())).collect();
            if allowed.is_empty() {
                let refused = std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{host} resolves to no address Rolo may reach"),
                );
                return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client for every outbound request: addresses filtered by `policy` at connect time, no
/// redirects (a receiver cannot bounce Rolo elsewhere), no proxy from the environment (a proxy
/// would resolve the target itself, past the filter), short connect timeouts.
pub fn client(policy: &OutboundPolicy) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver { policy: Arc::new(policy.clone()) }))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3))
        .user_agent("Rolo-Webhooks/1.0")
        .build()
        .map_err(|e| format!("building the webhook client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_classes() {
        for (ip, want) in [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("172.15.255.255", Public),
            ("172.32.0.1", Public),
            ("100.63.255.255", Public),
            ("100.128.0.0", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedCgnat),
            ("100.100.100.200", SharedCgnat),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("198.18.0.1", Reserved),
            ("192.0.0.8", Reserved),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_classes() {
        for (ip, want) in [
            ("2606:4700:4700::1111", Public),
            ("2a00:1450:4001:80b::200e", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fd00:ec2::254", UniqueLocal),
            ("fec0::1", UniqueLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            // IPv4 wrapped in IPv6 is judged by the IPv4 address.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:8.8.8.8", Public),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::808:808", Public),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn allow_list_admits_only_its_networks() {
        let strict = OutboundPolicy::default();
        let local = OutboundPolicy::loopback();
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "127.8.9.10"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!strict.allows_ip(ip), "{ip}");
            assert!(local.allows_ip(ip), "{ip}");
        }
        for ip in ["10.0.0.1", "169.254.169.254", "fd00::1", "::ffff:192.168.0.1"] {
            assert!(!local.allows_ip(ip.parse().unwrap()), "{ip}");
        }
        assert!(strict.allows_ip("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn networks_parse() {
        let nets = parse_networks(&["10.1.0.0/16".into(), "::1".into(), " 192.168.1.7 ".into()]).unwrap();
        assert_eq!(nets.len(), 3);
        let policy = OutboundPolicy { http_hosts: vec![], private_networks: nets };
        assert!(policy.allows_ip("10.1.2.3".parse().unwrap()));
        assert!(!policy.allows_ip("10.2.0.1".parse().unwrap()));
        assert!(policy.allows_ip("192.168.1.7".parse().unwrap()));
        assert!(parse_networks(&["intranet".into()]).is_err());
    }

    #[test]
    fn urls() {
        let strict = OutboundPolicy::default();
        let local = OutboundPolicy::loopback();
        assert!(strict.check_url("https://hooks.example.com/x").is_ok());
        assert!(strict.check_url("https://8.8.8.8/x").is_ok());
        for refused in [
            "http://hooks.example.com/x",
            "http://127.0.0.1:8080/x",
            "https://127.0.0.1/x",
            "https://127.1/x",
            "https://0x7f000001/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/x",
            "https://[fd00::1]/x",
            "https://0.0.0.0/x",
            "ftp://hooks.example.com/x",
            "file:///etc/passwd",
            "https://user:pw@hooks.example.com/x",
            "not a url",
        ] {
            assert!(strict.check_url(refused).is_err(), "{refused}");
        }
        assert!(local.check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(local.check_url("http://localhost:8080/x").is_ok());
        assert!(local.check_url("http://[::1]:8080/x").is_ok());
        assert!(local.check_url("https://127.0.0.1/x").is_ok());
        assert!(local.check_url("http://10.0.0.1/x").is_err());
        assert!(local.check_url("https://10.0.0.1/x").is_err());
    }

    /// The resolver refuses names that lead only to refused addresses, which is the check made
    /// again at connect time.
    #[tokio::test]
    async fn resolver_filters_at_connect_time() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let strict = PolicyResolver { policy: Arc::new(OutboundPolicy::default()) };
        assert!(strict.resolve(name("localhost")).await.is_err());
        let local = PolicyResolver { policy: Arc::new(OutboundPolicy::loopback()) };
        let addrs: Vec<SocketAddr> = local.resolve(name("localhost")).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    /// The client itself enforces the policy, with no URL check before it: a name that leads to
    /// loopback is never connected to.
    #[tokio::test]
    async fn client_never_connects_to_refused_addresses() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let policy = OutboundPolicy { http_hosts: vec!["localhost".into()], private_networks: vec![] };
        let sent = client(&policy).unwrap().get(format!("http://localhost:{port}/")).send().await;
        assert!(sent.is_err());
        let accepted = listener.accept();
        assert!(matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "{accepted:?}");
    }
}
