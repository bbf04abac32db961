//! How a list reads inside a message: `a, b, c`.

use std::fmt::Display;

/// Each item's text, `separator` between them.
pub(crate) fn joined<T: Display>(items: &[T], separator: &str) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(separator)
}
