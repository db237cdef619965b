//! Source-address allow lists: single addresses and CIDR blocks, IPv4 and IPv6,
//! matched by hand (a prefix compare on integers) so no crate is needed for it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why one allow-list entry could not be read, so the config error can say what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpRuleError {
    /// The entry is empty or only whitespace.
    #[error("empty entry: write an address such as 52.89.214.238 or a block such as 10.0.0.0/8")]
    Empty,
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("{0:?} is not an IPv4 or IPv6 address")]
    BadAddress(String),
    /// The part after `/` is not a whole number.
    #[error("prefix {0:?} is not a whole number of bits")]
    BadPrefix(String),
    /// The prefix has more bits than the address.
    #[error("prefix /{prefix} is longer than the {max} bits of the address")]
    PrefixTooLong {
        /// The prefix written.
        prefix: u32,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
}

/// One allow-list entry: a network and its prefix length (a single address is a full-length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRule {
    /// An IPv4 block; the address is stored with its host bits cleared.
    V4 {
        /// The network address.
        net: u32,
        /// Prefix length, 0..=32.
        prefix: u8,
    },
    /// An IPv6 block; the address is stored with its host bits cleared.
    V6 {
        /// The network address.
        net: u128,
        /// Prefix length, 0..=128.
        prefix: u8,
    },
}

fn mask_v4(prefix: u8) -> u32 {
    // checked_shl: a shift by 32 (prefix 0) would overflow.
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is how a dual-stack socket reports an IPv4 peer:
/// treat it as the IPv4 address so IPv4 rules and buckets apply to it.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl IpRule {
    /// A rule from one address and prefix, host bits cleared; mapped IPv6 blocks become IPv4 ones.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpRule, IpRuleError> {
        match addr {
            IpAddr::V4(v4) => {
                if prefix > 32 {
                    return Err(IpRuleError::PrefixTooLong {
                        prefix: u32::from(prefix),
                        max: 32,
                    });
                }
                Ok(IpRule::V4 {
                    net: u32::from(v4) & mask_v4(prefix),
                    prefix,
                })
            }
            IpAddr::V6(v6) => {
                if prefix > 128 {
                    return Err(IpRuleError::PrefixTooLong {
                        prefix: u32::from(prefix),
                        max: 128,
                    });
                }
                if let (Some(v4), true) = (v6.to_ipv4_mapped(), prefix >= 96) {
                    return IpRule::new(IpAddr::V4(v4), prefix - 96);
                }
                Ok(IpRule::V6 {
                    net: u128::from(v6) & mask_v6(prefix),
                    prefix,
                })
            }
        }
    }

    /// Whether `ip` lies inside this block. A peer is judged the same whichever socket it
    /// came in on: IPv4 rules see `::ffff:a.b.c.d` as `a.b.c.d`, and IPv6 rules see an IPv4
    /// peer as `::ffff:a.b.c.d` (so `::/0` admits everyone).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, canonical(ip)) {
            (IpRule::V4 { net, prefix }, IpAddr::V4(v4)) => {
                u32::from(v4) & mask_v4(*prefix) == *net
            }
            (IpRule::V4 { .. }, IpAddr::V6(_)) => false,
            (IpRule::V6 { net, prefix }, any) => {
                let v6 = match any {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    IpAddr::V6(v6) => v6,
                };
                u128::from(v6) & mask_v6(*prefix) == *net
            }
        }
    }
}

impl FromStr for IpRule {
    type Err = IpRuleError;

    fn from_str(s: &str) -> Result<IpRule, IpRuleError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(IpRuleError::Empty);
        }
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a.trim(), Some(p.trim())),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| IpRuleError::BadAddress(addr_text.to_owned()))?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IpRuleError::BadPrefix(p.to_owned()));
                }
                let bits: u32 = p.parse().map_err(|_| IpRuleError::PrefixTooLong {
                    prefix: u32::MAX,
                    max,
                })?;
                if bits > u32::from(max) {
                    return Err(IpRuleError::PrefixTooLong { prefix: bits, max });
                }
                // bits <= 128 here, so it fits.
                u8::try_from(bits).map_err(|_| IpRuleError::PrefixTooLong { prefix: bits, max })?
            }
        };
        IpRule::new(addr, prefix)
    }
}

impl fmt::Display for IpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpRule::V4 { net, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(*net)),
            IpRule::V6 { net, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(*net)),
        }
    }
}

/// The parsed `allow_ips`: which source addresses may call the guarded routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowList {
    rules: Vec<IpRule>,
}

impl IpAllowList {
    /// Reads every entry, reporting every bad one at once as `(index, entry, error)`.
    pub fn parse<S: AsRef<str>>(
        entries: &[S],
    ) -> Result<IpAllowList, Vec<(usize, String, IpRuleError)>> {
        let mut rules = Vec::with_capacity(entries.len());
        let mut errors = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            match entry.as_ref().parse::<IpRule>() {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.push((i, entry.as_ref().to_owned(), e)),
            }
        }
        if errors.is_empty() {
            Ok(IpAllowList { rules })
        } else {
            Err(errors)
        }
    }

    /// A list from rules already parsed.
    pub fn from_rules(rules: Vec<IpRule>) -> IpAllowList {
        IpAllowList { rules }
    }

    /// Whether no rule is configured (the guard then allows every address).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in configured order.
    pub fn rules(&self) -> &[IpRule] {
        &self.rules
    }

    /// Whether some rule matches `ip`; an empty list contains nothing (see [`IpAllowList::permits`]).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.rules.iter().any(|r| r.contains(ip))
    }

    /// The guard's policy: an empty list allows everyone, an unknown address only then.
    pub fn permits(&self, ip: Option<IpAddr>) -> bool {
        self.is_empty() || ip.is_some_and(|ip| self.contains(ip))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_blocks() {
        let list = IpAllowList::parse(&["52.89.214.238", "10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert!(list.contains(ip("52.89.214.238")));
        assert!(!list.contains(ip("52.89.214.239")));
        assert!(list.contains(ip("10.255.3.4")));
        assert!(!list.contains(ip("11.0.0.1")));
        assert!(list.contains(ip("2001:db8:ffff::1")));
        assert!(!list.contains(ip("2001:db9::1")));
    }

    #[test]
    fn ipv4_mapped_ipv6_matches_ipv4_rules_both_ways() {
        let list = IpAllowList::parse(&["192.168.1.0/24"]).unwrap();
        assert!(list.contains(ip("::ffff:192.168.1.77")));
        assert!(!list.contains(ip("::ffff:192.168.2.77")));
        let mapped_rule = IpAllowList::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert_eq!(mapped_rule.rules()[0].to_string(), "10.0.0.0/8");
        assert!(mapped_rule.contains(ip("10.1.2.3")));
    }

    #[test]
    fn zero_prefix_matches_its_family_only() {
        let list = IpAllowList::parse(&["0.0.0.0/0"]).unwrap();
        assert!(list.contains(ip("8.8.8.8")));
        assert!(!list.contains(ip("2001:db8::1")));
        let v6 = IpAllowList::parse(&["::/0", "2001:db8::/32"]).unwrap();
        assert!(v6.contains(ip("2001:db8::1")));
        let only_v6 = IpAllowList::parse(&["2001:db8::/32"]).unwrap();
        assert!(!only_v6.contains(ip("8.8.8.8")));
        assert!(!only_v6.contains(ip("::ffff:8.8.8.8")));
    }

    #[test]
    fn host_bits_are_cleared() {
        let rule: IpRule = "10.1.2.3/8".parse().unwrap();
        assert_eq!(rule.to_string(), "10.0.0.0/8");
    }

    #[test]
    fn bad_entries_are_all_reported() {
        let errs =
            IpAllowList::parse(&["1.2.3.4", "nope", "10.0.0.0/33", "::/129", "1.2.3.4/x", " "])
                .unwrap_err();
        let kinds: Vec<_> = errs.iter().map(|(i, _, e)| (*i, e.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                (1, IpRuleError::BadAddress("nope".into())),
                (
                    2,
                    IpRuleError::PrefixTooLong {
                        prefix: 33,
                        max: 32
                    }
                ),
                (
                    3,
                    IpRuleError::PrefixTooLong {
                        prefix: 129,
                        max: 128
                    }
                ),
                (4, IpRuleError::BadPrefix("x".into())),
                (5, IpRuleError::Empty),
            ]
        );
    }

    #[test]
    fn empty_list_permits_everyone_and_unknown_only_then() {
        assert!(IpAllowList::default().permits(None));
        assert!(IpAllowList::default().permits(Some(ip("1.1.1.1"))));
        let list = IpAllowList::parse(&["1.1.1.1"]).unwrap();
        assert!(!list.permits(None));
        assert!(list.permits(Some(ip("1.1.1.1"))));
    }

    proptest! {
        #[test]
        fn parsing_any_string_never_panics(s in "\\PC*") {
            let _ = s.parse::<IpRule>();
        }

        #[test]
        fn parsing_cidr_like_strings_never_panics(s in "[0-9a-fA-F:./ ]{0,48}") {
            let _ = s.parse::<IpRule>();
        }

        #[test]
        fn v4_address_and_prefix_round_trip(a in any::<u32>(), prefix in 0u8..=32, flip in 0u32..32) {
            let addr = Ipv4Addr::from(a);
            let rule: IpRule = format!("{addr}/{prefix}").parse().unwrap();
            prop_assert!(rule.contains(IpAddr::V4(addr)));
            prop_assert!(rule.contains(IpAddr::V6(addr.to_ipv6_mapped())));
            // The rule's own text parses back to the same rule.
            prop_assert_eq!(rule.to_string().parse::<IpRule>().unwrap(), rule);
            // Flipping a bit inside the prefix leaves the block; outside it stays in.
            let other = Ipv4Addr::from(a ^ (1u32 << flip));
            let inside_prefix = flip >= 32 - u32::from(prefix);
            prop_assert_eq!(rule.contains(IpAddr::V4(other)), !inside_prefix);
        }

        #[test]
        fn v6_address_and_prefix_round_trip(a in any::<u128>(), prefix in 0u8..=128) {
            let addr = Ipv6Addr::from(a);
            let rule: IpRule = format!("{addr}/{prefix}").parse().unwrap();
            prop_assert!(rule.contains(IpAddr::V6(addr)));
        }
    }
}
