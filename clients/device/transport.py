"""Talking to the server: the transports (Flask test client, HTTP), answers and errors."""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class NetworkError(Exception):
    """The exchange failed: the server may or may not have received (and committed) the request."""


class SyncError(Exception):
    """An answer that retrying will not change (bad credentials, a refused request, a store
    older than the server's view of this device)."""


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body_json: Any  # the decoded JSON body, or None


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Response:
        """Send one request (a JSON body, or raw `data`); return the answer (any status), or
        raise NetworkError."""
        ...


def read_response(status: int, headers, raw: bytes) -> Response:
    names = {str(k).lower(): str(v) for k, v in headers.items()}
    if raw and names.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Response(status, names, body)


class FlaskTransport:
    """Requests through a Flask test client (tests, benchmarks): a real app, no sockets."""

    def __init__(self, test_client):
        self.client = test_client

    def request(self, method, path, *, json=None, params=None, headers=None, data=None):
        answer = self.client.open(
            path,
            method=method,
            json=json,
            data=data,
            query_string=params or None,
            headers={"Accept-Encoding": "gzip", **(headers or {})},
        )
        return read_response(answer.status_code, answer.headers, answer.get_data())


class HttpTransport:
    """Requests to a real server over HTTP(S) with urllib."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout

    def request(self, method, path, *, json=None, params=None, headers=None, data=None):
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        names = {"Accept": "application/json", "Accept-Encoding": "gzip", **(headers or {})}
        if json is not None:
            data = dumps(json).encode()
            names["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=names)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return read_response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as exc:  # an answer, only not a 2xx one
            with exc:
                return read_response(exc.code, exc.headers, exc.read())
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise NetworkError(str(exc)) from exc


def dumps(value) -> str:
    """JSON as the client writes it, on the wire and in its store: compact, UTF-8 kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
