//! The canonical form of a URL, which is what URL grants are checked on,
//! and which addresses a `*`-host grant may reach.
//!
//! Servers decode the path before they route it: `http.server` and nginx
//! serve `/allowed/..%2fsecret` as `/secret`. So a URL is checked in the
//! form the server will act on: percent-encoded unreserved characters are
//! decoded, and an encoded `/` or `\`, or a segment that decodes to `.` or
//! `..`, is refused outright. The parser has already removed literal dot
//! segments and turned `\` into `/`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// `url` in canonical form, or why it cannot be used.
pub fn canonical(url: &Url) -> Result<Url, String> {
    if url.cannot_be_a_base() {
        return Err("it has no path a grant can name".into());
    }
    let mut segments = Vec::new();
    for raw in url.path().split('/').skip(1) {
        let segment = decode_segment(raw)?;
        if segment == "." || segment == ".." {
            return Err(format!(
                "its path has an encoded dot segment ('{raw}'), which a server would resolve"
            ));
        }
        segments.push(segment);
    }
    let mut canonical = url.clone();
    canonical.set_path(&format!("/{}", segments.join("/")));
    Ok(canonical)
}

/// Decodes `%XX` of unreserved characters, uppercases the rest, refuses
/// encoded separators and malformed escapes.
fn decode_segment(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(char::from(bytes[i]));
            i += 1;
            continue;
        }
        let hex = raw
            .get(i + 1..i + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("its path has a malformed escape in '{raw}'"))?;
        let value = u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        match value {
            b'/' | b'\\' => {
                return Err(format!(
                    "its path has an encoded '{}' ('%{hex}' in '{raw}'), which a server may treat as a separator",
                    char::from(value)
                ));
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(value));
            }
            _ => out.push_str(&format!("%{}", hex.to_ascii_uppercase())),
        }
        i += 3;
    }
    Ok(out)
}

/// Whether `ip` is a public unicast address: not loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, broadcast,
/// documentation or otherwise reserved. IPv4-mapped and NAT64 IPv6
/// addresses are judged by the IPv4 address inside.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Result<String, String> {
        canonical(&Url::parse(s).unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn encoded_separators_and_dot_segments_are_refused() {
        for bad in [
            "http://h/allowed/..%2fsecret",
            "http://h/allowed/..%2Fsecret",
            "http://h/allowed/%2e%2e%2fsecret",
            "http://h/allowed/..%5csecret",
            "http://h/allowed/.%2e%2Fx",
            "http://h/a/%zz",
            "http://h/a/%2",
        ] {
            assert!(canon(bad).is_err(), "{bad} accepted as {:?}", canon(bad));
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_kept() {
        assert_eq!(
            canon("http://h/%61llowed/x%7e%2D").unwrap(),
            "http://h/allowed/x~-"
        );
        assert_eq!(
            canon("http://h/a%20b/%c3%a9").unwrap(),
            "http://h/a%20b/%C3%A9"
        );
        // The parser resolves literal and fully encoded dot segments itself.
        assert_eq!(
            canon("http://h/allowed/../secret").unwrap(),
            "http://h/secret"
        );
        assert_eq!(
            canon("http://h/allowed/%2e%2e/secret").unwrap(),
            "http://h/secret"
        );
        assert_eq!(canon("http://h/a?q=%2f").unwrap(), "http://h/a?q=%2f");
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "151.101.2.132",
            "2a04:4e42::644",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
