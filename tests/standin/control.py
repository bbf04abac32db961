"""The stand-in's control endpoint: plain JSON over HTTP under `/elb-standin/`,
next to moto's own API, so tests (in Rust) set the health-check knobs and
the access rules.

    GET  /elb-standin/settings
         -> {"initialSeconds": 0.0, "unreachable": [], "deny": []}
    POST /elb-standin/settings      {"initialSeconds": 3}
         how long a target registered from now on stays `initial`
    POST /elb-standin/reachability  {"address": "10.1.2.10", "reachable": false}
         whether health checks reach that address (any port, every target group)
    POST /elb-standin/access        {"deny": ["elasticloadbalancing:AddTags"]}
         the actions answered AccessDenied from now on (`access.py`)
    POST /elb-standin/slow  {"action": "DeregisterTargets", "seconds": 3, "times": 1}
         the next `times` calls of that action wait `seconds` before they take
         effect (`slow_calls.py`); answers {"slow": {...}}
    GET  /elb-standin/calls
         -> {"calls": [{"action": "RegisterTargets", "targetGroups": ["arn:..."]}]}
         every call that named a target group, in order (`journal.py`)
    GET  /elb-standin/api-calls
         -> {"describeBucket": null, "calls": {"elasticloadbalancing":
             {"DescribeTags": 3}}, "throttled": {}}   (`api_budget.py`)
    POST /elb-standin/api-calls  {"clear": true}
         starts the counts again from zero
    POST /elb-standin/describe-bucket  {"enabled": true, "capacity": 40, "refillPerSecond": 10}
         ELB's shared `Describe*` token bucket on (full) or off; capacity and
         refill default to ELB's 40 and 10

Each POST answers the settings as they are afterwards. A malformed request gets
HTTP 400 with {"error": "..."} saying what is wrong. `POST /moto-api/reset`
resets the settings too, then goes on to moto.
"""

import ipaddress
import json

import access
import api_budget
import journal
import slow_calls
import target_health

PREFIX = "/elb-standin/"


def _answer(start_response, status, document):
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _read_json(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ValueError("Content-Length is not a number") from None
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        document = json.loads(raw or b"{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    return document


def _change_settings(document):
    unknown = set(document) - {"initialSeconds"}
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: initialSeconds")
    if "initialSeconds" in document:
        seconds = document["initialSeconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
            raise ValueError(f"initialSeconds must be a number from 0 to 3600, got {seconds!r}")
        target_health.SETTINGS.set_initial_seconds(float(seconds))


def _change_reachability(document):
    address = document.get("address")
    reachable = document.get("reachable")
    try:
        ip = ipaddress.ip_address(address)
    except (TypeError, ValueError):
        raise ValueError(f"address must be an IP address, got {address!r}") from None
    if not isinstance(reachable, bool):
        raise ValueError(f"reachable must be true or false, got {reachable!r}")
    target_health.SETTINGS.set_reachable(str(ip), reachable)


def _change_slow(document):
    action, seconds, times = document.get("action"), document.get("seconds"), document.get("times", 1)
    if not isinstance(action, str) or not action.isalnum():
        raise ValueError(f"action must be an API action name such as DeregisterTargets, got {action!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 60:
        raise ValueError(f"seconds must be a number from 0 to 60, got {seconds!r}")
    if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 100:
        raise ValueError(f"times must be a whole number from 0 to 100, got {times!r}")
    slow_calls.set_slow(action, float(seconds), times)


def _change_api_calls(document):
    unknown = set(document) - {"clear"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; known: clear")
    if document.get("clear") is not True:
        raise ValueError(f"clear must be true, got {document.get('clear')!r}")
    api_budget.BUDGET.clear_counts()


def _change_describe_bucket(document):
    unknown = set(document) - {"enabled", "capacity", "refillPerSecond"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; known: enabled, capacity, refillPerSecond")
    enabled = document.get("enabled")
    if not isinstance(enabled, bool):
        raise ValueError(f"enabled must be true or false, got {enabled!r}")
    capacity, refill = document.get("capacity", 40), document.get("refillPerSecond", 10)
    for name, value in (("capacity", capacity), ("refillPerSecond", refill)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10000:
            raise ValueError(f"{name} must be a number above 0 and at most 10000, got {value!r}")
    api_budget.BUDGET.set_bucket(enabled, capacity, refill)


ROUTES = {
    ("GET", "calls"): None,
    ("GET", "settings"): None,
    ("POST", "settings"): _change_settings,
    ("POST", "reachability"): _change_reachability,
    ("POST", "access"): access.change_rules,
    ("POST", "slow"): _change_slow,
    ("GET", "api-calls"): None,
    ("POST", "api-calls"): _change_api_calls,
    ("POST", "describe-bucket"): _change_describe_bucket,
}


def _snapshot():
    return {**target_health.SETTINGS.snapshot(), **access.RULES.snapshot()}


def _control(environ, start_response):
    method = environ.get("REQUEST_METHOD", "GET")
    name = environ.get("PATH_INFO", "")[len(PREFIX) :]
    if (method, name) not in ROUTES:
        known = ", ".join(f"{m} {PREFIX}{n}" for m, n in ROUTES)
        return _answer(start_response, "404 Not Found", {"error": f"no {method} {PREFIX}{name}; known: {known}"})
    change = ROUTES[(method, name)]
    if change is not None:
        try:
            change(_read_json(environ))
        except ValueError as error:
            return _answer(start_response, "400 Bad Request", {"error": str(error)})
    if name == "slow":
        return _answer(start_response, "200 OK", {"slow": slow_calls.snapshot()})
    if name in ("api-calls", "describe-bucket"):
        return _answer(start_response, "200 OK", api_budget.BUDGET.snapshot())
    if name == "calls":
        return _answer(start_response, "200 OK", {"calls": journal.snapshot()})
    return _answer(start_response, "200 OK", _snapshot())


def with_control_endpoint(moto_app):
    """A WSGI application serving the control endpoint, refusing the denied
    actions, and passing every other request to moto."""

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return _control(environ, start_response)
        if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            target_health.SETTINGS.reset()
            slow_calls.reset()
            journal.reset()
            access.RULES.reset()
            api_budget.BUDGET.reset()
        # A throttled call does nothing: it is neither delayed, journaled nor checked.
        refused = api_budget.refusal(environ, start_response)
        if refused is not None:
            return refused
        slow_calls.delay_if_slow(environ)
        journal.record(environ)
        refused = access.refusal(environ)
        if refused is not None:
            status, headers, body = refused
            start_response(status, headers + [("Content-Length", str(len(body)))])
            return [body]
        return moto_app(environ, start_response)

    return application
