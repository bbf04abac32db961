"""The request body of a WSGI request, read once by the stand-in's own
layers (the API budget, access rules, slow calls, the call journal) and put
back for moto."""

import io


def peek(environ):
    """The body's bytes; `wsgi.input` is left holding them for the next
    reader. An unreadable Content-Length reads as an empty body."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body
