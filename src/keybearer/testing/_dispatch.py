"""The request dispatch of :class:`~keybearer.testing.LocalCognito`: a table, then moto.

Every request reaches :class:`Dispatcher`, a WSGI app in front of moto. It
counts the call, answers a failure planned with ``fail_next`` if one matches,
and otherwise looks the call up:

* a ``cognito-idp`` call (``POST /`` with ``X-Amz-Target``) in
  :attr:`Dispatcher.operations`, by operation name;
* any other request in :attr:`Dispatcher.paths`, by URL path
  (``/oauth2/token``).

A handler is ``handler(call, moto) -> Reply``. It may answer on its own, or
call ``moto()`` to have moto answer the (possibly changed) call and return or
rewrite that answer. An operation with no handler goes to moto unchanged. To
add or wrap an operation, put a handler in the table (see
``LocalCognito.operations``)::

    previous = cognito.operations["InitiateAuth"]

    def initiate_auth(call: Call, moto: Moto) -> Reply:
        if call.json().get("AuthFlow") == "USER_SRP_AUTH":
            return my_srp_start(call)
        return previous(call, moto)

    cognito.operations["InitiateAuth"] = initiate_auth

Observers (:attr:`Dispatcher.observers`) see every ``cognito-idp`` exchange
after it is answered, e.g. to check it against botocore's service model.
"""

from __future__ import annotations

import http
import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from keybearer.testing._calls import CallCounts, Failures

__all__ = [
    "Call",
    "CognitoError",
    "Dispatcher",
    "Handler",
    "Moto",
    "Observer",
    "Reply",
    "error_body",
]

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
JSON_1_1 = "application/x-amz-json-1.1"

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body and the headers that matter to a Cognito client."""

    status: int
    body: bytes
    content_type: str = JSON_1_1
    error_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, document: object, status: int = 200) -> Reply:
        """A ``cognito-idp`` answer with a JSON body."""
        return cls(status, json.dumps(document).encode())

    def document(self) -> Any:
        """The body parsed as JSON, or ``None`` if it is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def error_body(error_type: str | None, message: str) -> bytes:
    """Cognito's error document, ``{"__type": ..., "message": ...}``, as bytes to send."""
    return json.dumps({"__type": error_type, "message": message}).encode()


class CognitoError(Exception):
    """A refusal in Cognito's wire format: ``{"__type": ..., "message": ...}``.

    Raise it from a handler; the dispatcher turns it into the answer, with the
    ``x-amzn-ErrorType`` header Cognito sends.
    """

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.status = status

    def reply(self) -> Reply:
        body = error_body(self.error_type, self.message)
        return Reply(self.status, body, error_type=self.error_type)


@dataclass
class Call:
    """One request to the stand-in, as a handler sees it.

    ``operation`` is the ``cognito-idp`` operation (``"InitiateAuth"``) or,
    for other requests, ``""``; ``path`` is the URL path; ``headers`` have
    lower-case names. :meth:`json` parses the body once.
    """

    operation: str
    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    #: Whether the answer was one planned with ``fail_next`` rather than worked out.
    planned: bool = False
    _parsed: Any = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; anything else is Cognito's ``SerializationException``."""
        if self._parsed is None:
            try:
                value = json.loads(self.body or b"{}")
            except ValueError as exc:
                raise CognitoError("SerializationException", "Malformed JSON body") from exc
            if not isinstance(value, dict):
                raise CognitoError("SerializationException", "The body is not a JSON object")
            self._parsed = value
        document: dict[str, Any] = self._parsed
        return document

    def json_or_none(self) -> dict[str, Any] | None:
        """The body as a JSON object, or ``None`` if it is not one."""
        try:
            return self.json()
        except CognitoError:
            return None

    def replace_json(self, document: dict[str, Any]) -> None:
        """Change the body moto will get when the handler calls ``moto()``."""
        self._parsed = document
        self.body = json.dumps(document).encode()


#: Has moto answer the call (as it stands now) and returns moto's answer.
Moto = Callable[[], Reply]
#: Answers one call: on its own, or through ``moto()``.
Handler = Callable[[Call, Moto], Reply]
#: Sees every ``cognito-idp`` exchange: the call and the answer it got.
Observer = Callable[[Call, Reply], None]


def read_body(environ: WSGIEnviron) -> bytes:
    """Read the whole request body and put it back for the wrapped app."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = bytes(stream.read(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug marks the end
        body = bytes(stream.read())
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _headers(environ: WSGIEnviron) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def call_keys(call: Call) -> list[str]:
    """Counter keys for a call, least specific first."""
    if call.operation:
        keys = [call.operation]
        if call.operation == "InitiateAuth":
            try:
                flow = call.json().get("AuthFlow")
            except CognitoError:
                flow = None
            if isinstance(flow, str) and flow:
                keys.append(f"InitiateAuth:{flow}")
        return keys
    if call.path.endswith("/.well-known/jwks.json"):
        return ["JWKS"]
    if call.path.endswith("/.well-known/openid-configuration"):
        return ["OpenIdConfiguration"]
    if call.path.startswith("/oauth2/"):
        return [call.path.lstrip("/")]  # "oauth2/token"
    return []


class Dispatcher:
    """The WSGI app LocalCognito serves: counting, planned failures, the table, moto."""

    def __init__(self, counts: CallCounts, failures: Failures) -> None:
        #: moto's WSGI app, set when the server starts (moto loads only then).
        self.moto_app: WSGIApp | None = None
        self._counts = counts
        self._failures = failures
        #: ``cognito-idp`` handlers by operation name.
        self.operations: MutableMapping[str, Handler] = {}
        #: Handlers of other requests by URL path (``"/oauth2/token"``).
        self.paths: MutableMapping[str, Handler] = {}
        #: Called after every ``cognito-idp`` exchange.
        self.observers: list[Observer] = []
        self._observers_lock = threading.Lock()

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        operation = target.rpartition(".")[2] if target else ""
        call = Call(
            operation=operation,
            path=str(environ.get("PATH_INFO") or "/"),
            method=str(environ.get("REQUEST_METHOD") or "GET"),
            headers=_headers(environ),
            body=read_body(environ),
        )
        keys = call_keys(call)
        self._counts._add(keys)
        planned = self._failures.take(keys) if keys else None
        if planned is not None:
            call.planned = True
            reply = Reply(planned.status, planned.body, error_type=planned.error_type)
        else:
            reply = self._dispatch(call, environ)
        if operation:
            with self._observers_lock:
                observers = list(self.observers)
            for observe in observers:
                observe(call, reply)
        return _send(reply, start_response)

    def _dispatch(self, call: Call, environ: WSGIEnviron) -> Reply:
        def moto() -> Reply:
            environ["wsgi.input"] = io.BytesIO(call.body)
            environ["CONTENT_LENGTH"] = str(len(call.body))
            if self.moto_app is None:
                raise RuntimeError("the dispatcher serves nothing before LocalCognito starts")
            return _run(self.moto_app, environ)

        handler = self.operations.get(call.operation) if call.operation else None
        if handler is None and not call.operation:
            handler = self.paths.get(call.path)
        if handler is None:
            return moto()
        try:
            return handler(call, moto)
        except CognitoError as exc:
            return exc.reply()


@runtime_checkable
class _Closable(Protocol):
    def close(self) -> None: ...


def _run(app: WSGIApp, environ: WSGIEnviron) -> Reply:
    """Run a WSGI app and collect its whole answer."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if isinstance(chunks, _Closable):  # WSGI: an answer with close() must be closed
            chunks.close()
    headers = {name.lower(): value for name, value in captured.get("headers", [])}
    return Reply(
        captured.get("status", 500),
        body,
        content_type=headers.get("content-type", JSON_1_1),
        error_type=headers.get("x-amzn-errortype"),
    )


def _send(reply: Reply, start_response: StartResponse) -> list[bytes]:
    headers = [
        ("Content-Type", reply.content_type),
        ("Content-Length", str(len(reply.body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        *reply.headers,
    ]
    if reply.error_type:
        headers.append(("x-amzn-ErrorType", reply.error_type))
    start_response(f"{reply.status} {http.HTTPStatus(reply.status).phrase}", headers)
    return [reply.body]
