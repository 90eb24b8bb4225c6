"""Request bodies: a JSON provider that turns hostile bodies into a 400 instead of a crash or
bad data, and a request class that says so."""

import json
import math

from flask import Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

MAX_DEPTH = 32
MAX_INT = 2**63 - 1  # BSON stores 64-bit integers at most


def _check(value):
    """Reject deep nesting, NUL or non-UTF-8 strings, and numbers BSON cannot hold."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise ValueError("JSON strings must not contain NUL characters")
            item.encode("utf-8")  # a lone surrogate ("\ud800") raises UnicodeEncodeError
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) > MAX_INT:
            raise ValueError("JSON integer out of the 64-bit range")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("JSON number out of range")


class StrictJSONProvider(DefaultJSONProvider):
    """Parses request bodies; every failure is a ValueError, which Flask answers with 400."""

    def loads(self, s, **kwargs):
        """Parse JSON, rejecting too-deep nesting, oversized integers and lone surrogates."""
        try:
            value = json.loads(s, parse_constant=_reject_constant, **kwargs)
            _check(value)
        except (RecursionError, UnicodeError) as error:
            raise ValueError(str(error) or "Malformed JSON") from None
        return value


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class MalformedJSON(BadRequest):
    """A body that claims to be JSON and is not: the client sees why."""

    type = "malformed_json"


class JSONRequest(Request):
    """Flask's request, whose JSON parse failure names the problem instead of a generic 400."""

    def on_json_loading_failed(self, e):
        """Answer 400 `malformed_json` with the parser's reason (415 stays for non-JSON)."""
        if e is None:
            return super().on_json_loading_failed(e)
        raise MalformedJSON(f"Request body is not valid JSON: {e}")
