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

Each POST answers the settings as they are afterwards. A malformed request gets
HTTP 400 with {"error": "..."} saying what is wrong. `POST /moto-api/reset`
resets the settings too, then goes on to moto.
"""

import ipaddress
import json

import access
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


ROUTES = {
    ("GET", "settings"): None,
    ("POST", "settings"): _change_settings,
    ("POST", "reachability"): _change_reachability,
    ("POST", "access"): access.change_rules,
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
            access.RULES.reset()
        refused = access.refusal(environ)
        if refused is not None:
            status, headers, body = refused
            start_response(status, headers + [("Content-Length", str(len(body)))])
            return [body]
        return moto_app(environ, start_response)

    return application
