//! Addresses and targets as the tests write them: IPv4 addresses of DNS
//! answers (from the sandbox's VPC block, [`crate::VPC_CIDR`], unless a test
//! wants one outside it), and targets on the port of the target groups the
//! harness creates, in the form [`crate::Aws::registered_targets`] lists them.

use std::net::Ipv4Addr;

use crate::aws::TARGET_PORT;

/// The IPv4 address written as `text`.
///
/// # Panics
///
/// If `text` is not an IPv4 address.
pub fn ipv4(text: &str) -> Ipv4Addr {
    text.parse().unwrap_or_else(|e| panic!("{text:?} is not an IPv4 address: {e}"))
}

/// The target `<address>:5432`: `address` on the port of the harness's
/// target groups.
pub fn target(address: &str) -> String {
    format!("{address}:{TARGET_PORT}")
}

/// `targets` (each `ip:port`) sorted as [`crate::Aws::registered_targets`]
/// sorts them.
pub fn sorted_targets(targets: &[&str]) -> Vec<String> {
    let mut targets: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
    targets.sort();
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_written_as_moto_lists_them() {
        assert_eq!(ipv4("10.1.2.3"), Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(target("10.1.2.3"), "10.1.2.3:5432");
        assert_eq!(sorted_targets(&["10.1.2.3:5432", "10.1.1.9:5432"]), vec!["10.1.1.9:5432", "10.1.2.3:5432"]);
    }

    #[test]
    #[should_panic(expected = "\"10.1.2\" is not an IPv4 address")]
    fn a_malformed_address_fails() {
        ipv4("10.1.2");
    }
}
