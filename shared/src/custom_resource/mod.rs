//! CloudFormation custom resources that always answer.
//!
//! CloudFormation invokes the function with a request and then waits (up to the
//! resource's `ServiceTimeout`, one hour by default) for a JSON document PUT to
//! the request's pre-signed `ResponseURL`. A function that errors, panics, runs
//! out of time or receives a request it cannot read must still answer, or the
//! stack hangs. This module does that for any resource logic:
//!
//! - [`CustomResourceRequest::parse`] reads the raw Lambda payload leniently: a
//!   payload that is not a valid request but carries a `ResponseURL` yields an
//!   [`Unparsable`] that can still be answered `FAILED`.
//! - The resource logic returns an [`Outcome`] (`Result<Success, Failure>`);
//!   the `prop_*` readers turn malformed properties into a [`Failure`].
//! - [`Response::from_outcome`] applies the `PhysicalResourceId` rules and
//!   [`response_body`] renders a body that always fits CloudFormation's limits.
//! - A [`ResponseSink`] delivers it; [`HttpSink`] is the real one (HTTP PUT with
//!   retries).
//! - [`answer`] ties it together: it runs the logic in its own task (a panic
//!   becomes `FAILED`), races it against the Lambda deadline minus a margin (a
//!   timeout becomes `FAILED`, naming what the logic was doing according to its
//!   [`Progress`]), answers, and fails the invocation only when the answer
//!   could not be delivered.
//!
//! # `PhysicalResourceId` rules
//!
//! - `SUCCESS`: the id the logic returned. It must be non-empty and at most
//!   1024 bytes; otherwise the answer becomes `FAILED` (an id cannot be
//!   shortened without changing the resource's identity). On `Update`, an id
//!   different from the request's means replacement: CloudFormation later
//!   sends `Delete` for the old one.
//! - `FAILED`: the request's `PhysicalResourceId` when it carries one (always
//!   on `Update` and `Delete`: the resource keeps its identity); else (`Create`)
//!   the id named by the [`Failure`], if any; else the stable id
//!   [`failed_create_physical_id`] derives from the request,
//!   `failed-create-<LogicalResourceId>-<RequestId>`. CloudFormation follows a
//!   failed `Create` with a `Delete` of that id: the logic must take an id it
//!   could not have made (such as this one) as "nothing of mine to delete"
//!   and, like on every `Delete`, tolerate resources that do not exist.
//!
//! # Returning an error from the function
//!
//! [`answer`] returns `Ok` once an answer — `SUCCESS` or `FAILED` — has been
//! delivered, and `Err` when none could be (no `ResponseURL`, or delivery failed
//! after retries) so the invocation counts in the function's `Errors` metric.
//! CloudFormation invokes asynchronously, so Lambda retries an invocation that
//! failed (twice by default): the logic runs again and must be idempotent.

// The module depends on nothing else in the crate, so that it can serve any
// custom resource. The files follow the life of a request: it is parsed, its
// properties read, an answer built, delivered, and `answer` drives all that.
mod answer;
mod delivery;
mod properties;
mod request;
mod response;
#[cfg(test)]
mod testing;

pub use answer::{CustomResourceError, DEFAULT_MARGIN, Progress, answer};
pub use delivery::{DeliveryError, HttpSink, ResponseSink, RetryPolicy};
pub use properties::{PropertyError, optional, prop_str, prop_string_list, prop_u16, prop_u64};
pub use request::{CustomResourceRequest, RequestEcho, RequestType, Unparsable};
pub use response::{
    FAILED_CREATE_ID_PREFIX, Failure, MAX_BODY_BYTES, MAX_PHYSICAL_ID_BYTES, Outcome, Response, Status, Success,
    TRUNCATION_MARKER, failed_create_physical_id, response_body,
};
