//! The pieces every command's text for people is made of: tables
//! (comfy-table), headings and coloured verdicts. The text is written with
//! colour escapes; anstream removes them unless stdout is a terminal without
//! `NO_COLOR`. Table cells stay plain, so column widths stay right.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use comfy_table::{Table, presets};
use nlb_target_sync::SOURCES_TAG;

pub const HEADING: Style = Style::new().bold();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const PENDING: Style = AnsiColor::Yellow.on_default();
pub const BAD: Style = AnsiColor::Red.on_default().bold();
pub const QUIET: Style = Style::new().dimmed();

pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// A table with rounded corners and this header.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED.with_rounded_corners()).set_header(header.iter().copied());
    table
}

/// The items separated by spaces, or `empty` when there are none.
pub fn joined<T: ToString>(items: &[T], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    }
}

/// A target group's name in bold, then its ARN, dimmed.
pub fn heading(out: &mut String, name: &str, arn: &str) {
    let _ = writeln!(out, "{}  {}", paint(HEADING, name), paint(QUIET, arn));
}

/// What `status`, `plan` and `apply` say when no target group is managed.
pub fn no_managed_group(out: &mut String) {
    let _ = writeln!(out, "no target group carries the {SOURCES_TAG} tag in this account and region");
}
