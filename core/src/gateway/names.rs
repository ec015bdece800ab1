//! Published names: every tool and prompt name the gateway publishes matches
//! `^[a-zA-Z0-9_-]{1,64}$` (OpenAI's rule, stricter than MCP's).
//!
//! The mapping, applied to `<server>__<tool>` when more than one server is published (to `<tool>`
//! alone when one is):
//! 1. Every character outside `[a-zA-Z0-9_-]` becomes `_`; an empty name becomes `_`.
//! 2. A name that had to change in step 1, or is longer than 64 characters, gets a suffix
//!    `_<h>` where `<h>` is the first 8 hex digits of SHA-256 over `server`, a NUL byte and the
//!    original name; an over-long name is cut to 55 characters before the suffix (55 + 1 + 8 = 64).
//! 3. Collisions (two upstream names mapping to the same published name): names are assigned
//!    in order of (server, original name); the first keeps the name, each later one gets the hash
//!    suffix of step 2 (and, in the practically impossible case that this still collides, a
//!    further `-<n>` counter, shortening the stem so the name stays within 64).
//!
//! The mapping depends only on the server's and the tool's names and on the set of names it is
//! published with, so it is stable across restarts; the gateway keeps the reverse table.

use sha2::{Digest, Sha256};

/// The longest published name.
pub const MAX_NAME: usize = 64;
const HASH_HEX: usize = 8;
/// The separator between server and tool names.
pub const SEPARATOR: &str = "__";

/// Whether `name` already matches `^[a-zA-Z0-9_-]{1,64}$`.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn short_hash(server: &str, name: &str) -> String {
    let mut h = Sha256::new();
    h.update(server.as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    h.finalize()
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sanitize(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_owned() } else { s }
}

fn with_suffix(stem: &str, suffix: &str) -> String {
    let keep = MAX_NAME.saturating_sub(suffix.len());
    let stem: String = stem.chars().take(keep).collect();
    format!("{stem}{suffix}")
}

/// The published name of `name` of `server` before collision handling (steps 1 and 2).
pub fn map_name(server: &str, name: &str, prefixed: bool) -> String {
    let raw = if prefixed {
        format!("{server}{SEPARATOR}{name}")
    } else {
        name.to_owned()
    };
    let clean = sanitize(&raw);
    if clean == raw && clean.len() <= MAX_NAME {
        return clean;
    }
    with_suffix(&clean, &format!("_{}", short_hash(server, name)))
}

/// Assigns published names to `(server, name)` pairs, applying the collision tie-break.
/// The input order does not matter; the output is in input order.
pub fn assign(items: &[(String, String)], prefixed: bool) -> Vec<String> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[a].cmp(&items[b]));
    let mut taken = std::collections::HashSet::new();
    let mut out = vec![String::new(); items.len()];
    for i in order {
        let (server, name) = &items[i];
        let mut published = map_name(server, name, prefixed);
        if taken.contains(&published) {
            let stem = sanitize(&if prefixed {
                format!("{server}{SEPARATOR}{name}")
            } else {
                name.clone()
            });
            let suffix = format!("_{}", short_hash(server, name));
            published = with_suffix(&stem, &suffix);
            let mut n = 2;
            while taken.contains(&published) {
                published = with_suffix(&stem, &format!("{suffix}-{n}"));
                n += 1;
            }
        }
        taken.insert(published.clone());
        out[i] = published;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(map_name("fx", "echo", false), "echo");
        assert_eq!(map_name("fx", "echo", true), "fx__echo");
        assert_eq!(map_name("a-b", "get_time", true), "a-b__get_time");
    }

    #[test]
    fn bad_characters_are_mapped_with_a_hash() {
        let n = map_name("fx", "get.time", false);
        assert!(n.starts_with("get_time_"), "{n}");
        assert!(is_valid(&n));
        assert_eq!(n, map_name("fx", "get.time", false), "deterministic");
        assert_ne!(
            n,
            map_name("fy", "get.time", false),
            "the hash covers the server"
        );
        assert!(is_valid(&map_name("fx", "", false)));
        assert!(is_valid(&map_name("fx", "日本語ツール", true)));
    }

    #[test]
    fn long_names_are_shortened_to_64() {
        let server = "s".repeat(45);
        let tool = "t".repeat(40);
        let n = map_name(&server, &tool, true);
        assert_eq!(n.len(), 64);
        assert!(is_valid(&n));
        assert!(n.starts_with(&format!("{server}__")));
        let other = map_name(&server, &format!("{}u", "t".repeat(39)), true);
        assert_ne!(n, other);
    }

    #[test]
    fn collisions_get_a_deterministic_tie_break() {
        let items = pairs(&[("fx", "a_b"), ("fx", "a.b")]);
        let names = assign(&items, false);
        assert_eq!(names[0], "a_b", "the exact name keeps it");
        assert!(names[1].starts_with("a_b_") && names[1] != names[0]);
        let mut rev = items.clone();
        rev.reverse();
        let again = assign(&rev, false);
        assert_eq!(again[1], names[0]);
        assert_eq!(again[0], names[1]);
        // cross-server collision through the separator
        let items = pairs(&[("a", "b__c"), ("a__b", "c")]);
        let names = assign(&items, true);
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| is_valid(n)));
    }
}
