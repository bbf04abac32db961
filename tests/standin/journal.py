"""Which calls named which target groups: every query-protocol request (ELB,
RDS) whose parameters hold a target group ARN, in arrival order, as
`{"action": "DescribeTargetHealth", "targetGroups": ["arn:...:targetgroup/db/1"]}`.

Tests read it through `GET /elb-standin/calls` to show that the functions
never name a group with DescribeTargetHealth, RegisterTargets,
DeregisterTargets, AddTags or RemoveTags when they must leave it alone.
`POST /moto-api/reset` empties it.
"""

import io
import threading
from urllib.parse import parse_qsl

_LOCK = threading.Lock()
_CALLS = []


def reset():
    with _LOCK:
        _CALLS.clear()


def snapshot():
    with _LOCK:
        return [dict(call) for call in _CALLS]


def record(environ):
    """Reads a form-encoded request body, records it if it names a target
    group, and puts the body back for moto."""
    if environ.get("REQUEST_METHOD") != "POST":
        return
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    params = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    action = next((value for key, value in params if key == "Action"), None)
    groups = sorted({value for _, value in params if ":targetgroup/" in value})
    if action and groups:
        with _LOCK:
            _CALLS.append({"action": action, "targetGroups": groups})
