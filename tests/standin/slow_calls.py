"""Calls answered late, for tests of runs that overlap: the next `times` calls
of one API action (the form-encoded `Action`, e.g. DeregisterTargets) wait
`seconds` before moto handles them, so their effect lands late, as a call in
flight does. Other requests go on meanwhile (the server is threaded).
"""

import threading
import time
from urllib.parse import parse_qs

import request_body

_LOCK = threading.Lock()
# action -> [seconds, calls left]
_SLOW = {}


def set_slow(action, seconds, times):
    with _LOCK:
        if times > 0:
            _SLOW[action] = [seconds, times]
        else:
            _SLOW.pop(action, None)


def reset():
    with _LOCK:
        _SLOW.clear()


def snapshot():
    with _LOCK:
        return {action: {"seconds": s, "times": n} for action, (s, n) in _SLOW.items()}


def _delay_for(action):
    with _LOCK:
        rule = _SLOW.get(action)
        if rule is None:
            return 0.0
        rule[1] -= 1
        if rule[1] <= 0:
            del _SLOW[action]
        return rule[0]


def delay_if_slow(environ):
    """Waits as a rule for this request's Action says; leaves the body readable."""
    if not _SLOW or environ.get("REQUEST_METHOD") != "POST":
        return
    body = request_body.peek(environ)
    actions = parse_qs(body.decode("utf-8", "replace")).get("Action", [])
    seconds = _delay_for(actions[0]) if actions else 0.0
    if seconds > 0:
        time.sleep(seconds)
