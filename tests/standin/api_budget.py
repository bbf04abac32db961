"""ELB's API budget and AWS's page limits, which moto does not have, and a
count of the calls each API action received.

- **Calls counted**: every query-protocol call (ELB, RDS, ...) is counted per
  service (the signing name in the Authorization header's credential scope,
  e.g. `elasticloadbalancing`, `rds`) and action, and so is every call
  answered with a throttling error.
- **The `Describe*` token bucket** (off until a test switches it on): ELB
  shares one bucket per account and Region between every `Describe*` action,
  40 tokens refilled at 10 per second. A call that finds it empty is answered
  HTTP 400 with ELB's `Throttling` error ("Rate exceeded") and changes nothing.
- **Page limits**: DescribeTargetGroups takes a PageSize of 1 to 400 and
  answers at most that many groups with a NextMarker (moto answers every group
  at once); DescribeTags takes at most 20 ARNs; RDS's MaxRecords is 20 to 100.
  A request outside these gets the service's ValidationError /
  InvalidParameterValue, as AWS answers.
"""

import re
import threading
import time
import uuid
from urllib.parse import parse_qs

import request_body

TARGET_GROUPS_PAGE_MAX = 400
TAGS_ARNS_MAX = 20
RDS_RECORDS_MIN, RDS_RECORDS_MAX = 20, 100

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_NAMESPACES = {
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
}


class TokenBucket:
    """ELB's `Describe*` bucket: `capacity` tokens, refilled continuously at
    `refill_per_second`; starts full."""

    def __init__(self, capacity, refill_per_second):
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Budget:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._bucket = None
            self._calls = {}
            self._throttled = {}

    def set_bucket(self, enabled, capacity, refill_per_second):
        with self._lock:
            self._bucket = TokenBucket(capacity, refill_per_second) if enabled else None

    def clear_counts(self):
        with self._lock:
            self._calls = {}
            self._throttled = {}

    def snapshot(self):
        with self._lock:
            bucket = self._bucket
            return {
                "describeBucket": None
                if bucket is None
                else {"capacity": bucket.capacity, "refillPerSecond": bucket.refill_per_second},
                "calls": {service: dict(actions) for service, actions in self._calls.items()},
                "throttled": {service: dict(actions) for service, actions in self._throttled.items()},
            }

    def admit(self, service, action):
        """Counts the call; False when the `Describe*` bucket refuses it."""
        with self._lock:
            calls = self._calls.setdefault(service, {})
            calls[action] = calls.get(action, 0) + 1
            throttled = (
                self._bucket is not None
                and service == "elasticloadbalancing"
                and action.startswith("Describe")
                and not self._bucket.take()
            )
            if throttled:
                counts = self._throttled.setdefault(service, {})
                counts[action] = counts.get(action, 0) + 1
            return not throttled


BUDGET = Budget()


def _error(start_response, service, code, message):
    namespace = _NAMESPACES.get(service, "")
    body = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _int_param(params, name):
    values = params.get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


def _limit_violation(service, action, params):
    """The error (code, message) AWS answers for a request over a page limit."""
    if service == "elasticloadbalancing" and action == "DescribeTargetGroups":
        size = _int_param(params, "PageSize")
        if size is not None and not 1 <= size <= TARGET_GROUPS_PAGE_MAX:
            return ("ValidationError", f"Page size must be between 1 and {TARGET_GROUPS_PAGE_MAX}")
    if service == "elasticloadbalancing" and action == "DescribeTags":
        arns = [k for k in params if k.startswith("ResourceArns.member.")]
        if len(arns) > TAGS_ARNS_MAX:
            return ("ValidationError", f"You cannot specify more than {TAGS_ARNS_MAX} resources")
    if service == "rds" and action.startswith("Describe"):
        records = _int_param(params, "MaxRecords")
        if records is not None and not RDS_RECORDS_MIN <= records <= RDS_RECORDS_MAX:
            return (
                "InvalidParameterValue",
                f"Invalid value {records} for MaxRecords. Must be between {RDS_RECORDS_MIN} and {RDS_RECORDS_MAX}",
            )
    return None


def read_action(environ):
    """The (service, action, params) of a query-protocol POST, leaving the
    body readable for moto; None for anything else."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    body = request_body.peek(environ)
    params = parse_qs(body.decode("utf-8", "replace"))
    actions = params.get("Action")
    if not actions:
        return None
    return scope.group(1), actions[0], params


def refusal(environ, start_response):
    """Counts the call; answers it when the bucket or a page limit refuses it,
    None when moto should handle it."""
    call = read_action(environ)
    if call is None:
        return None
    service, action, params = call
    if not BUDGET.admit(service, action):
        return _error(start_response, service, "Throttling", "Rate exceeded")
    violation = _limit_violation(service, action, params)
    if violation is not None:
        return _error(start_response, service, *violation)
    return None


def install():
    """Makes moto's DescribeTargetGroups answer pages (PageSize, default 400,
    and Marker), as ELB does."""
    from moto.core.responses import ActionResult
    from moto.elbv2.responses import ELBV2Response

    moto_describe = ELBV2Response.describe_target_groups

    def paged_describe(self):
        result = moto_describe(self)
        groups = list(result.result.get("TargetGroups", []))
        if self._get_param("TargetGroupArns") or self._get_param("Names"):
            return result
        size = self._get_int_param("PageSize", TARGET_GROUPS_PAGE_MAX)
        marker = self._get_param("Marker")
        start = int(marker) if marker and marker.isdigit() else 0
        page = groups[start : start + size]
        answer = {"TargetGroups": page}
        if start + size < len(groups):
            answer["NextMarker"] = str(start + size)
        return ActionResult(answer)

    ELBV2Response.describe_target_groups = paged_describe
