"""Refused calls, as IAM answers them, for tests of what a person is told
when a permission is missing. moto allows every call; with a rule in force
the stand-in answers a denied action with AccessDenied before moto sees the
request: HTTP 403 with the query-protocol error document (ELB, RDS), HTTP 403
with EC2's own (`Response/Errors/Error`, code `UnauthorizedOperation`, the
message led by "You are not authorized to perform this operation."), or HTTP
400 with the JSON one (DynamoDB), all with IAM's wording:

    User: arn:aws:iam::123456789012:user/<access key id> is not authorized to
    perform: <action> [on resource: <arn>] because no identity-based policy
    allows the <action> action

An action is `<service>:<Operation>`: the service is the signing name in the
request's credential scope (`elasticloadbalancing`, `rds`, `dynamodb`), the
operation the form's `Action` or the operation in the `X-Amz-Target` header.
The resource is named when the request names one (a target group ARN, a
DynamoDB table, an RDS cluster or instance), as IAM does; a Describe call on
every resource names none.
"""

import io
import json
import re
import threading
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

ACCOUNT = "123456789012"
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")

_LOCK = threading.Lock()


class Rules:
    """The actions refused to everyone."""

    def __init__(self):
        self.reset()

    def reset(self):
        with _LOCK:
            self.deny = set()

    def set_deny(self, actions):
        with _LOCK:
            self.deny = set(actions)

    def denies(self, action):
        with _LOCK:
            return action in self.deny

    def snapshot(self):
        with _LOCK:
            return {"deny": sorted(self.deny)}


RULES = Rules()


def change_rules(document):
    """`{"deny": ["elasticloadbalancing:AddTags", ...]}` replaces the denied actions."""
    unknown = set(document) - {"deny"}
    if unknown:
        raise ValueError(f"unknown access settings {sorted(unknown)}; known: deny")
    deny = document.get("deny", [])
    if not isinstance(deny, list) or not all(isinstance(a, str) and ACTION.match(a) for a in deny):
        raise ValueError(f"deny must be a list of actions like elasticloadbalancing:AddTags, got {deny!r}")
    RULES.set_deny(deny)


def _scope(environ):
    """(access key id, region, service) of the request's SigV4 credential scope."""
    match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request", environ.get("HTTP_AUTHORIZATION", ""))
    return match.groups() if match else (None, None, None)


def _body(environ):
    """The request's body, read once and put back for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _resource(region, fields):
    """The ARN of the resource a request names, if it names one."""
    for key in ("TargetGroupArn", "ResourceArns.member.1"):
        if fields.get(key):
            return fields[key]
    if fields.get("TableName"):
        return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{fields['TableName']}"
    for key, kind in (("DBClusterIdentifier", "cluster"), ("DBInstanceIdentifier", "db")):
        if fields.get(key):
            return f"arn:aws:rds:{region}:{ACCOUNT}:{kind}:{fields[key]}"
    return None


def refusal(environ):
    """The AccessDenied answer for a denied request, as (status, headers,
    body), or None to let moto answer it."""
    key, region, service = _scope(environ)
    if service is None or not RULES.snapshot()["deny"]:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    body = _body(environ)
    if target:
        operation = target.rsplit(".", 1)[-1]
        try:
            fields = json.loads(body or b"{}")
        except json.JSONDecodeError:
            fields = {}
    else:
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        operation = fields.get("Action", "")
    action = f"{service}:{operation}"
    if not RULES.denies(action):
        return None
    resource = _resource(region, fields if isinstance(fields, dict) else {})
    on = f" on resource: {resource}" if resource else ""
    message = (
        f"User: arn:aws:iam::{ACCOUNT}:user/{key} is not authorized to perform: {action}{on} "
        f"because no identity-based policy allows the {action} action"
    )
    request_id = str(uuid.uuid4())
    if target:
        document = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": message})
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        return "400 Bad Request", headers, document.encode()
    if service == "ec2":
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code>'
            f"<Message>You are not authorized to perform this operation. {escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return "403 Forbidden", [("Content-Type", "text/xml;charset=UTF-8")], document.encode()
    document = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return "403 Forbidden", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], document.encode()
