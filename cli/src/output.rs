//! Where a command's result goes: `--output table` (text for people, see
//! `text.rs`) or `--output json`, the shapes scripts read (the README
//! documents them). Each command's JSON is a typed `Serialize` struct in its
//! module. Keys are camelCase; a key is never dropped: absent values are
//! `null`, empty lists `[]`. New keys may be added; existing ones keep their
//! meaning.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

impl Output {
    /// Writes the result on stdout: the JSON shape for scripts, else the text for people.
    pub fn write<J: Serialize>(self, json: impl FnOnce() -> J, text: impl FnOnce() -> String) -> Result<(), CliError> {
        match self {
            Output::Json => {
                // Through `Value`, whose objects keep their keys sorted, as the output always had them.
                let value = serde_json::to_value(json()).map_err(CliError::Json)?;
                let body = serde_json::to_string_pretty(&value).map_err(CliError::Json)?;
                writeln!(std::io::stdout().lock(), "{body}").map_err(CliError::Write)
            }
            Output::Table => anstream::stdout().write_all(text().as_bytes()).map_err(CliError::Write),
        }
    }
}

/// `"targetGroupArn", "targetGroupName"`: which target group an answer is about.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupJson<'a> {
    pub target_group_arn: &'a str,
    pub target_group_name: &'a str,
}

impl<'a> TargetGroupJson<'a> {
    pub fn new(arn: &'a str, name: &'a str) -> Self {
        TargetGroupJson { target_group_arn: arn, target_group_name: name }
    }
}

/// Each item as its text (sources, targets).
pub fn texts<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}
