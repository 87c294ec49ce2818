//! `generate-env`: find the internal call's SIDs by friendly name, as the Flex plugin template's
//! mappings do, and write them as `.env` lines, keeping the rest of an existing file.

use serde_json::Value;

use crate::api::{field, Client};
use crate::error::{quoted_list, Error};
use crate::names::APPLICATION_NAME;
use crate::provision::{find_workspace, unique_by_name};

/// The workspace's SID.
pub const WORKSPACE_VAR: &str = "TWILIO_FLEX_WORKSPACE_SID";
/// The Internal Call workflow's SID.
pub const WORKFLOW_VAR: &str = "TWILIO_FLEX_INTERNAL_CALL_WORKFLOW_SID";
/// The Internal Call application's SID.
pub const APPLICATION_VAR: &str = "INTERNAL_CALL_APPLICATION_SID";
/// The internal queue's SID.
pub const QUEUE_VAR: &str = "INTERNAL_CALL_QUEUE_SID";

/// What the template's mappings match names against.
const PATTERN: &str = "Internal Call";
/// The queue used when none matches [`PATTERN`].
const FALLBACK_QUEUE: &str = "Everyone";

/// The variables, in the order they are written.
pub fn find_variables(
    client: &Client<'_>,
    workspace: &str,
) -> Result<Vec<(&'static str, String)>, Error> {
    let ws = match find_workspace(client, workspace)? {
        Some(ws) => ws,
        None => {
            let found = client
                .workspaces(None)
                .map_err(Error::request("list workspaces"))?;
            return Err(Error::Invalid(format!(
                "no workspace named \"{workspace}\"; found: {}",
                quoted_list(found.iter().map(|w| field(w, "friendly_name")))
            )));
        }
    };
    let ws_sid = field(&ws, "sid");
    let workflows = client.workflows(ws_sid).map_err(Error::request(format!(
        "list the workflows of workspace \"{workspace}\""
    )))?;
    let workflow = one_matching(&workflows, "workflow", workspace)?;
    let applications = client
        .applications(None)
        .map_err(Error::request("list applications"))?;
    let application = match unique_by_name(&applications, APPLICATION_NAME, "applications")? {
        Some(app) => app,
        None => {
            return Err(Error::Invalid(format!(
                "no application is named \"{APPLICATION_NAME}\"; found: {}",
                quoted_list(applications.iter().map(|a| field(a, "friendly_name")))
            )))
        }
    };
    let queues = client.task_queues(ws_sid).map_err(Error::request(format!(
        "list the task queues of workspace \"{workspace}\""
    )))?;
    let queue = if queues
        .iter()
        .any(|q| field(q, "friendly_name").contains(PATTERN))
    {
        one_matching(&queues, "task queue", workspace)?
    } else {
        unique_by_name(&queues, FALLBACK_QUEUE, "task queues")?.ok_or_else(|| {
            Error::Invalid(format!(
                "no task queue matches /{PATTERN}/ and none is named \"{FALLBACK_QUEUE}\" in \
                 workspace \"{workspace}\"; found: {}",
                quoted_list(queues.iter().map(|q| field(q, "friendly_name")))
            ))
        })?
    };
    Ok(vec![
        (WORKSPACE_VAR, ws_sid.to_string()),
        (WORKFLOW_VAR, field(workflow, "sid").to_string()),
        (APPLICATION_VAR, field(application, "sid").to_string()),
        (QUEUE_VAR, field(queue, "sid").to_string()),
    ])
}

/// The one resource whose name contains [`PATTERN`]; an error listing what was found otherwise.
fn one_matching<'v>(list: &'v [Value], kind: &str, workspace: &str) -> Result<&'v Value, Error> {
    let matching: Vec<&Value> = list
        .iter()
        .filter(|r| field(r, "friendly_name").contains(PATTERN))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::Invalid(format!(
            "no {kind} matches /{PATTERN}/ in workspace \"{workspace}\"; found: {}",
            quoted_list(list.iter().map(|r| field(r, "friendly_name")))
        ))),
        many => Err(Error::Invalid(format!(
            "{} {kind}s match /{PATTERN}/ in workspace \"{workspace}\", so which one is meant is \
             ambiguous: {}; rename all but one",
            many.len(),
            many.iter()
                .map(|r| format!("\"{}\" ({})", field(r, "friendly_name"), field(r, "sid")))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `existing` (a `.env` file's text) with each variable's lines set to the new value, in place,
/// and variables it did not have appended. Other lines, comments included, are kept as they are.
pub fn merge_env_file(existing: &str, variables: &[(&str, String)]) -> String {
    let mut seen = vec![false; variables.len()];
    let mut out = String::new();
    for line in existing.lines() {
        let trimmed = line.trim_start();
        let (export, rest) = match trimmed.strip_prefix("export ") {
            Some(rest) => ("export ", rest.trim_start()),
            None => ("", trimmed),
        };
        let replaced = variables.iter().enumerate().find_map(|(i, (name, value))| {
            let after = rest.strip_prefix(name)?;
            after
                .trim_start()
                .starts_with('=')
                .then(|| (i, format!("{export}{name}={value}")))
        });
        match replaced {
            Some((i, new_line)) => {
                seen[i] = true;
                out.push_str(&new_line);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for ((name, value), seen) in variables.iter().zip(seen) {
        if !seen {
            out.push_str(&format!("{name}={value}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_other_lines_and_replaces_in_place() {
        let existing = "# comment\nFOO=bar\nexport INTERNAL_CALL_QUEUE_SID=WQold\nTWILIO_FLEX_WORKSPACE_SID_X=keep\n";
        let vars = vec![
            (WORKSPACE_VAR, "WS1".to_string()),
            (QUEUE_VAR, "WQ2".to_string()),
        ];
        assert_eq!(
            merge_env_file(existing, &vars),
            "# comment\nFOO=bar\nexport INTERNAL_CALL_QUEUE_SID=WQ2\nTWILIO_FLEX_WORKSPACE_SID_X=keep\nTWILIO_FLEX_WORKSPACE_SID=WS1\n"
        );
        assert_eq!(
            merge_env_file("", &vars),
            "TWILIO_FLEX_WORKSPACE_SID=WS1\nINTERNAL_CALL_QUEUE_SID=WQ2\n"
        );
    }
}
