//! `tag`: source tokens checked by the tag grammar, then written as the
//! target group's sync tags.

use std::fmt::Write as _;

use clap::Args;
use nlb_target_sync::{OperateError, Tagged, spec_from_tokens};
use nlb_target_sync::{PORT_TAG, SOURCES_TAG};
use serde::Serialize;

use super::{Invocation, Outcome};
use crate::error::CliError;
use crate::output::{TargetGroupJson, texts};
use crate::text::{GOOD, QUIET, heading, paint};

/// Validate source tokens with the tag grammar and write them as the
/// target group's sync tags; prints the resulting spec.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Target group name or ARN.
    target_group: String,
    /// One or more source tokens.
    #[arg(required = true)]
    sources: Vec<String>,
    /// Port to register (default: the target group's port).
    #[arg(long)]
    port: Option<u16>,
}

pub async fn run(invocation: &Invocation, args: TagArgs) -> Result<Outcome, CliError> {
    // The tokens are checked before anything is asked of AWS (guard "tokens before tags").
    let spec = spec_from_tokens(&args.sources, args.port).map_err(OperateError::from)?;
    let engine = invocation.engine().await?;
    let tagged = engine.tag(&args.target_group, spec).await?;
    invocation.output.write(|| TaggedJson::from(&tagged), || text(&tagged))?;
    Ok(Outcome::Done)
}

/// `{"targetGroupArn", "targetGroupName", "previousSources", "sources", "port", "written"}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TaggedJson<'a> {
    #[serde(flatten)]
    target_group: TargetGroupJson<'a>,
    previous_sources: Option<&'a str>,
    sources: Vec<String>,
    port: Option<u16>,
    written: bool,
}

impl<'a> From<&'a Tagged> for TaggedJson<'a> {
    fn from(tagged: &'a Tagged) -> Self {
        TaggedJson {
            target_group: TargetGroupJson::new(&tagged.arn, &tagged.name),
            previous_sources: tagged.previous.as_deref(),
            sources: texts(&tagged.spec.sources),
            port: tagged.spec.port,
            written: tagged.written,
        }
    }
}

fn text(tagged: &Tagged) -> String {
    let mut out = String::new();
    heading(&mut out, &tagged.name, &tagged.arn);
    let verb = if tagged.written { "now" } else { "would be (dry run)" };
    let _ = writeln!(out, "  {SOURCES_TAG} {verb} '{}'", tagged.spec.sources_tag_value());
    let port = tagged.spec.port.map_or_else(|| "absent: the target group's port".to_string(), |p| p.to_string());
    let _ = writeln!(out, "  {PORT_TAG} {port}");
    if let Some(previous) = &tagged.previous {
        let _ = writeln!(out, "  {}", paint(QUIET, &format!("was '{previous}'")));
    }
    let _ = writeln!(out, "  {}", paint(GOOD, "the next sync (or `apply`) fills the target group"));
    out
}
