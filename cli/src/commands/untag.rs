//! `untag`: the sync tags removed, so no sync touches the target group again.

use std::fmt::Write as _;

use clap::Args;
use nlb_target_sync::Untagged;
use serde::Serialize;

use super::{Invocation, Outcome};
use crate::error::CliError;
use crate::output::TargetGroupJson;
use crate::text::{GOOD, heading, paint};

/// Remove the sync tags, so no sync touches the target group again (its
/// targets stay).
#[derive(Debug, Args)]
pub struct UntagArgs {
    /// Target group name or ARN.
    target_group: String,
}

pub async fn run(invocation: &Invocation, args: UntagArgs) -> Result<Outcome, CliError> {
    let engine = invocation.engine().await?;
    let untagged = engine.untag(&args.target_group).await?;
    invocation.output.write(|| UntaggedJson::from(&untagged), || text(&untagged))?;
    Ok(Outcome::Done)
}

/// `{"targetGroupArn", "targetGroupName", "removedTags", "written"}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UntaggedJson<'a> {
    #[serde(flatten)]
    target_group: TargetGroupJson<'a>,
    removed_tags: &'a [&'static str],
    written: bool,
}

impl<'a> From<&'a Untagged> for UntaggedJson<'a> {
    fn from(untagged: &'a Untagged) -> Self {
        UntaggedJson {
            target_group: TargetGroupJson::new(&untagged.arn, &untagged.name),
            removed_tags: &untagged.removed,
            written: untagged.written,
        }
    }
}

fn text(untagged: &Untagged) -> String {
    let mut out = String::new();
    heading(&mut out, &untagged.name, &untagged.arn);
    if untagged.removed.is_empty() {
        let _ = writeln!(out, "  it has no sync tags: nothing to remove");
    } else {
        let verb = if untagged.written { "removed" } else { "would remove (dry run)" };
        let _ = writeln!(out, "  {verb} {}", untagged.removed.join(", "));
        let _ = writeln!(out, "  {}", paint(GOOD, "no sync touches it any more; its targets stay as they are"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_json_shape() {
        let untagged = Untagged { arn: "arn:tg".into(), name: "tg".into(), removed: vec!["a", "b"], written: false };
        assert_eq!(
            serde_json::to_value(UntaggedJson::from(&untagged)).unwrap(),
            json!({"targetGroupArn": "arn:tg", "targetGroupName": "tg", "removedTags": ["a", "b"], "written": false})
        );
    }
}
