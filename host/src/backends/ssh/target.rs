//! `user@host[:port]`, parsed strictly: it becomes ssh arguments and
//! policy entries, never part of a local shell string.

use std::fmt;
use std::path::PathBuf;

/// A remote machine and the user to log in as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    user: String,
    /// A host name or an IPv4 address (lowercase), or an IPv6 address
    /// without its brackets.
    host: String,
    port: u16,
}

/// Why a target is not `user@host[:port]`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not user@host[:port]: {why}")]
pub struct TargetError {
    pub given: String,
    pub why: String,
}

/// The ssh port when a target names none.
pub const DEFAULT_PORT: u16 = 22;

impl Target {
    /// Parses `user@host[:port]` (`user@[v6addr]:port` for IPv6). The user
    /// and host may hold letters, digits, `.`, `_` and `-` (no leading
    /// `-`); anything else, a shell metacharacter included, is refused.
    pub fn parse(given: &str) -> Result<Target, TargetError> {
        let bad = |why: &str| TargetError {
            given: given.chars().take(200).collect(),
            why: why.to_owned(),
        };
        let (user, rest) = given
            .split_once('@')
            .ok_or_else(|| bad("it names no user (user@host)"))?;
        if user.is_empty() {
            return Err(bad("the user is empty"));
        }
        if user.len() > 64 {
            return Err(bad("the user is longer than 64 characters"));
        }
        if user.starts_with('-') {
            return Err(bad("the user starts with '-'"));
        }
        if !user.bytes().all(name_byte) {
            return Err(bad(
                "the user may hold only letters, digits, '.', '_' and '-'",
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address lacks its closing ']'"))?;
            let addr: std::net::Ipv6Addr = addr
                .parse()
                .map_err(|_| bad("the address in [...] is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("only :PORT may follow the IPv6 address"))?,
                ),
            };
            (addr.to_string(), port)
        } else {
            let (host, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            if host.is_empty() {
                return Err(bad("the host is empty"));
            }
            if host.len() > 253 {
                return Err(bad("the host is longer than 253 characters"));
            }
            if host.starts_with(['-', '.']) {
                return Err(bad("the host starts with '-' or '.'"));
            }
            if !host.bytes().all(name_byte) {
                return Err(bad(
                    "the host may hold only letters, digits, '.', '_' and '-' (an IPv6 address goes in [...])",
                ));
            }
            (host.to_ascii_lowercase(), port)
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the port is not a number from 1 to 65535"));
                }
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(bad("the port is not a number from 1 to 65535")),
                }
            }
        };
        Ok(Target {
            user: user.to_owned(),
            host,
            port,
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host as ssh takes it (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host as rsync and known_hosts write it: `[v6]` in brackets.
    pub fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The name under which known_hosts files record the host's key:
    /// `host`, or `[host]:port` off port 22.
    pub fn known_hosts_name(&self) -> String {
        if self.port == DEFAULT_PORT {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

/// `user@host:port`, the form `ssh-hosts` entries take.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.bracketed_host(), self.port)
    }
}

impl std::str::FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::parse(s)
    }
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Where runs' commands go with `--ssh`: the machine, the key and how its
/// host key is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub target: Target,
    /// `--ssh-privkey FILE`; none: ssh's default keys and agent.
    pub key: Option<PathBuf>,
    pub known_hosts: KnownHosts,
}

/// How the remote host's key is checked. Never not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnownHosts {
    /// `--ssh-known-hosts FILE`: the key must be in it
    /// (`StrictHostKeyChecking=yes`).
    Given(PathBuf),
    /// taskhost's own store: a host's key is recorded the first time it is
    /// seen and must match from then on (`StrictHostKeyChecking=accept-new`).
    FirstUse(PathBuf),
}

impl KnownHosts {
    pub fn path(&self) -> &std::path::Path {
        match self {
            KnownHosts::Given(p) | KnownHosts::FirstUse(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, String, u16) {
        let t = Target::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (t.user, t.host, t.port)
    }

    fn why(s: &str) -> String {
        Target::parse(s).unwrap_err().why
    }

    #[test]
    fn targets_parse_with_or_without_a_port() {
        assert_eq!(
            ok("root@example.org"),
            ("root".into(), "example.org".into(), 22)
        );
        assert_eq!(
            ok("qa_bot@Build-01.Example.org:2222"),
            ("qa_bot".into(), "build-01.example.org".into(), 2222)
        );
        assert_eq!(
            ok("u@127.0.0.1:65535"),
            ("u".into(), "127.0.0.1".into(), 65535)
        );
        assert_eq!(ok("u@[::1]:2200"), ("u".into(), "::1".into(), 2200));
        assert_eq!(ok("u@[fe80::1]"), ("u".into(), "fe80::1".into(), 22));
        assert_eq!(
            Target::parse("u@[::1]:2200").unwrap().to_string(),
            "u@[::1]:2200"
        );
        assert_eq!(Target::parse("u@H").unwrap().to_string(), "u@h:22");
        assert_eq!(
            Target::parse("u@h:2222").unwrap().known_hosts_name(),
            "[h]:2222"
        );
        assert_eq!(Target::parse("u@h").unwrap().known_hosts_name(), "h");
    }

    #[test]
    fn hostile_or_malformed_targets_are_refused() {
        assert!(why("example.org").contains("no user"));
        assert!(why("@h").contains("user is empty"));
        assert!(why("-oProxyCommand=x@h").contains("user starts with '-'"));
        assert!(why("u@-oProxyCommand=x").contains("host starts with"));
        assert!(why("u@.h").contains("host starts with"));
        assert!(why("u@").contains("host is empty"));
        for bad_host in [
            "u@h;id", "u@h id", "u@$(id)", "u@h`id`", "u@h|x", "u@h\nx", "u@h&", "u@h/x", "u@h'",
            "u@h\"", "u@h*", "u@h\\x", "u@hé",
        ] {
            assert!(why(bad_host).contains("host may hold only"), "{bad_host:?}");
        }
        for bad_user in ["u;x@h", "u x@h", "$u@h", "u'@h", "u\n@h"] {
            assert!(why(bad_user).contains("user may hold only"), "{bad_user:?}");
        }
        for bad_port in [
            "u@h:",
            "u@h:0",
            "u@h:65536",
            "u@h:22x",
            "u@h:-1",
            "u@h:+22",
            "u@h:123456",
            "u@h:1:2",
        ] {
            assert!(
                why(bad_port).contains("port"),
                "{bad_port:?}: {}",
                why(bad_port)
            );
        }
        assert!(why("u@[::1").contains("closing"));
        assert!(why("u@[nope]:22").contains("not an IPv6"));
        assert!(why("u@[::1]x").contains("only :PORT"));
        assert!(why("u@h@g").contains("host may hold only"));
        assert!(why(&format!("{}@h", "u".repeat(65))).contains("longer"));
    }
}
