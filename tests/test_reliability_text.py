"""Issue 17.2 at the HTTP boundary: text that is not valid Unicode is a clear 400, never a 500.

A JSON body may spell a lone surrogate (`"\\udcff"`); Python's JSON decoder accepts it and the failure
used to come later, when the answer or the error was encoded (a 500, a cut stream, a reset connection).
Bodies are sent as raw bytes, because an HTTP client would refuse to encode such a string.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_support import API_KEY

from crossroads.text.validity import decode_utf8, find_bad_text

LONE = "\\udcff"  # the six characters of the JSON escape, not the code point
GOOD = {"question": "How do I profile a slow Python loop?"}

CASES = [
    ("/v1/ask", '{"question": "hi ' + LONE + ' there"}', "question"),
    ("/v1/ask/stream", '{"question": "hi ' + LONE + '"}', "question"),
    ("/v1/ask", '{"question": "fine", "agent": "data' + LONE + '"}', "agent"),
    ("/v1/route", '{"question": "' + LONE + '"}', "question"),
    (
        "/v1/chat/completions",
        '{"model": "crossroads", "messages": [{"role": "user", "content": "x ' + LONE + '"}]}',
        "messages.0.content",
    ),
    (
        "/v1/chat/completions",
        '{"model": "crossroads", "stream": true, "messages": [{"role": "user", "content": [{"type": "text", '
        '"text": "' + LONE + '"}]}]}',
        "messages.0.content.0.text",
    ),
    (
        "/v1/chat/completions",
        '{"model": "crossroads", "user": "' + LONE + '", "messages": [{"role": "user", "content": "fine"}]}',
        "user",
    ),
]


@pytest.fixture
def http(service: tuple[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service[0], headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
        yield client


@pytest.mark.parametrize(("path", "body", "param"), CASES)
def test_lone_surrogate_is_a_400_and_the_connection_survives(
    http: httpx.Client, path: str, body: str, param: str
) -> None:
    reply = http.post(path, content=body.encode(), headers={"content-type": "application/json"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_text" and error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert "not valid Unicode" in error["message"] and "U+DCFF" in error["message"]
    # the same keep-alive connection serves the next request
    assert http.post("/v1/route", json=GOOD).status_code == 200


def test_invalid_utf8_bytes_are_a_clear_4xx(http: httpx.Client) -> None:
    reply = http.post("/v1/ask", content=b'{"question": "caf\xe9"}', headers={"content-type": "application/json"})
    assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_json"
    assert http.post("/v1/route", json=GOOD).status_code == 200


def test_find_bad_text_names_the_field() -> None:
    found = find_bad_text({"messages": [{"content": "ok"}, {"content": "ab\udcff"}]})
    assert found is not None and (found.path, found.index, found.codepoint) == ("messages.1.content", 2, 0xDCFF)
    assert find_bad_text({"a": ["fine", "\U0001f600 emoji"]}) is None  # valid astral characters pass
    bad_key = find_bad_text({"k\udc80": 1})
    assert bad_key is not None and "\\udc80" in bad_key.path
    bad_key.describe().encode("utf-8")  # the message itself can always be encoded


def test_decode_utf8_names_the_byte() -> None:
    assert decode_utf8("naïve".encode(), "stdin") == "naïve"
    with pytest.raises(ValueError, match=r"stdin: not valid UTF-8 \(byte 0xff at offset 3\)"):
        decode_utf8(b"abc\xffdef", "stdin")
