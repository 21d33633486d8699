"""``OidcPeer``: oidc-provider (Node) as a stand-in for Cognito's hosted UI, on 127.0.0.1.

The server lives in ``tests/peers/oidc/server.mjs``; read its header for what
it does and why. This module installs its npm dependencies when needed, starts
it on a free port, reads the one JSON line it prints when ready, and stops it.

:func:`sign_in` plays the browser: it drives the hosted-UI sign-in with httpx
alone and returns the URL the provider redirects to at the end (``redirect_uri``
with ``?code=...&state=...&iss=...``, or Cognito's implicit ``#id_token=...``
fragment), without following it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = [
    "OIDC_DIR",
    "OidcPeer",
    "OidcPeerError",
    "PeerClient",
    "PeerUser",
    "SignInError",
    "npm_ci",
    "sign_in",
]

#: Where ``package.json``, ``package-lock.json`` and ``server.mjs`` live.
OIDC_DIR = Path(__file__).resolve().parent / "oidc"

# Written into node_modules after a successful `npm ci`: the sha256 of the
# package-lock.json it installed. A different lock means node_modules is stale.
_STAMP = ".keybearer-lock-sha256"
_NPM_CI_TIMEOUT = 300.0
_STOP_TIMEOUT = 5.0


class OidcPeerError(RuntimeError):
    """The peer could not be installed or started."""


class SignInError(RuntimeError):
    """:func:`sign_in` did not reach a redirect away from the provider.

    ``response`` is the last response seen (the login form shown again after
    a wrong password, an error page, ...).
    """

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True)
class PeerClient:
    """An app client registered in the peer; ``secret`` is ``None`` when public."""

    id: str
    secret: str | None = field(repr=False)
    auth_method: str


@dataclass(frozen=True)
class PeerUser:
    """A user the peer's ``/login`` form accepts."""

    username: str
    password: str = field(repr=False)
    sub: str
    email: str | None = None


def _lock_digest() -> str:
    return hashlib.sha256((OIDC_DIR / "package-lock.json").read_bytes()).hexdigest()


def _installed() -> bool:
    stamp = OIDC_DIR / "node_modules" / _STAMP
    return stamp.is_file() and stamp.read_text().strip() == _lock_digest()


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialise `npm ci` between processes (e.g. pytest-xdist workers)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; concurrent installs are unlikely there
        yield
        return
    key = hashlib.sha256(str(OIDC_DIR).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"keybearer-oidc-npm-{key}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def npm_ci(*, force: bool = False) -> bool:
    """Install the peer's pinned npm packages unless they are already in place.

    Runs ``npm ci`` (from npm's cache when it can, from the registry otherwise)
    when ``node_modules`` is missing or was installed from another
    ``package-lock.json``. Returns whether it ran.
    """
    with _install_lock():
        if not force and _installed():
            return False
        npm = shutil.which("npm")
        if npm is None:
            raise OidcPeerError("npm is not on PATH: it is needed to install oidc-provider")
        command = [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(
                command,
                cwd=OIDC_DIR,
                capture_output=True,
                text=True,
                timeout=_NPM_CI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OidcPeerError(f"`npm ci` in {OIDC_DIR} took more than {exc.timeout} s") from exc
        if done.returncode != 0:
            raise OidcPeerError(
                f"`npm ci` in {OIDC_DIR} failed with exit code {done.returncode}:\n"
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        (OIDC_DIR / "node_modules" / _STAMP).write_text(_lock_digest() + "\n")
        return True


def _drain(stream: IO[str], sink: queue.Queue[str | None] | list[str]) -> None:
    """Read a pipe to its end so the child never blocks on a full pipe."""
    for line in stream:
        if isinstance(sink, list):
            sink.append(line)
        else:
            sink.put(line)
    if not isinstance(sink, list):
        sink.put(None)


class OidcPeer:
    """oidc-provider on a free 127.0.0.1 port, as a context manager.

    ``rotate_refresh_token`` and the TTLs (seconds) are the settings at start;
    :meth:`configure` changes them later. Attributes once started: ``issuer``
    (equal to ``url``, no trailing slash), ``port``, the endpoint URLs,
    ``public_client``, ``basic_client``, ``post_client``, ``user`` (alice, with
    an email), ``users`` (by username), ``api_identifier``, ``api_scopes``.
    """

    def __init__(
        self,
        *,
        rotate_refresh_token: bool = False,
        access_token_ttl: int = 60,
        id_token_ttl: int = 60,
        refresh_token_ttl: int = 86_400,
        startup_timeout: float = 30.0,
    ) -> None:
        self._settings: dict[str, Any] = {
            "rotate_refresh_token": rotate_refresh_token,
            "access_token_ttl": access_token_ttl,
            "id_token_ttl": id_token_ttl,
            "refresh_token_ttl": refresh_token_ttl,
        }
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []
        self._http: httpx.Client | None = None
        #: Seconds spent in `npm ci` (0.0 when node_modules was up to date) and
        #: from spawning node to its ready line, for the last :meth:`start`.
        self.npm_ci_seconds = 0.0
        self.start_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> OidcPeer:
        """Install if needed, start node, wait for the ready line; return ``self``."""
        if self._process is not None:
            raise OidcPeerError("this OidcPeer is already running")
        node = shutil.which("node")
        if node is None:
            raise OidcPeerError("node is not on PATH: the oidc-provider peer needs Node.js 20+")
        began = time.perf_counter()
        npm_ci()
        self.npm_ci_seconds = time.perf_counter() - began

        env = {
            **os.environ,
            "OIDC_PEER_ROTATE_REFRESH_TOKEN": str(int(self._settings["rotate_refresh_token"])),
            "OIDC_PEER_ACCESS_TOKEN_TTL": str(self._settings["access_token_ttl"]),
            "OIDC_PEER_ID_TOKEN_TTL": str(self._settings["id_token_ttl"]),
            "OIDC_PEER_REFRESH_TOKEN_TTL": str(self._settings["refresh_token_ttl"]),
        }
        began = time.perf_counter()
        process = subprocess.Popen(
            [node, "server.mjs", "0"],
            cwd=OIDC_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._process = process
        self._stderr = []
        lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        assert process.stderr is not None
        for stream, sink in ((process.stdout, lines), (process.stderr, self._stderr)):
            threading.Thread(target=_drain, args=(stream, sink), daemon=True).start()
        try:
            ready = self._wait_ready(lines)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - began
        self._adopt(ready)
        return self

    def _wait_ready(self, lines: queue.Queue[str | None]) -> dict[str, Any]:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OidcPeerError(
                    f"oidc-provider did not print its ready line within "
                    f"{self._startup_timeout} s; its stderr:\n{self.stderr}"
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:  # stdout closed: node exited
                code = self._process.wait(timeout=_STOP_TIMEOUT) if self._process else None
                raise OidcPeerError(
                    f"oidc-provider exited with code {code} before it was ready; "
                    f"its stderr:\n{self.stderr}"
                )
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("ready") is True:
                    return message

    def _adopt(self, ready: dict[str, Any]) -> None:
        self.issuer: str = ready["issuer"]
        self.url: str = self.issuer
        self.port: int = ready["port"]
        self.discovery_url = f"{self.url}/.well-known/openid-configuration"
        self.jwks_url = f"{self.url}/.well-known/jwks.json"
        self.authorize_url = f"{self.url}/oauth2/authorize"
        self.token_url = f"{self.url}/oauth2/token"
        self.revoke_url = f"{self.url}/oauth2/revoke"
        self.userinfo_url = f"{self.url}/oauth2/userInfo"
        self.logout_url = f"{self.url}/logout"
        clients = {
            name: PeerClient(c["client_id"], c["client_secret"], c["token_endpoint_auth_method"])
            for name, c in ready["clients"].items()
        }
        self.public_client = clients["public"]
        self.basic_client = clients["basic"]
        self.post_client = clients["post"]
        self.service_client = clients["service"]
        self.service_post_client = clients["service_post"]
        self.users = {
            u["username"]: PeerUser(u["username"], u["password"], u["sub"], u["email"])
            for u in ready["users"]
        }
        self.user = self.users["alice"]
        self.api_identifier: str = ready["api"]["identifier"]
        self.api_scopes: tuple[str, ...] = tuple(ready["api"]["scopes"])
        self.redirect_uris: tuple[str, ...] = tuple(ready["redirect_uris"])
        self._http = httpx.Client(base_url=self.url, timeout=10.0)

    def stop(self) -> None:
        """Stop node (terminate, wait, then kill). Safe to call twice."""
        if self._http is not None:
            self._http.close()
            self._http = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> OidcPeer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def stderr(self) -> str:
        """What node wrote to stderr so far (warnings, server errors)."""
        return "".join(self._stderr)

    # -- test controls -----------------------------------------------------

    @property
    def _client(self) -> httpx.Client:
        if self._http is None:
            raise OidcPeerError("the OidcPeer is not running")
        return self._http

    def counts(self) -> dict[str, int]:
        """Calls received, e.g. ``{"token": 2, "token:refresh_token": 1, "jwks": 1}``.

        Keys: ``token`` and ``token:<grant_type>``, ``authorize``, ``login``,
        ``revoke``, ``userinfo``, ``jwks``, ``discovery``, ``logout``. A key
        appears once counted; use ``.get(key, 0)``.
        """
        response = self._client.get("/__test__/counts")
        response.raise_for_status()
        counts: dict[str, int] = response.json()
        return counts

    def reset_counts(self) -> None:
        self._client.delete("/__test__/counts").raise_for_status()

    def configure(self, **settings: bool | int) -> dict[str, Any]:
        """Change settings at run time: ``rotate_refresh_token``, ``*_token_ttl``.

        Applies to tokens issued from now on. Returns all current settings.
        """
        response = self._client.post("/__test__/config", json=settings)
        if response.status_code != 200:
            raise OidcPeerError(f"configure({settings}) refused: {response.text}")
        current: dict[str, Any] = response.json()
        return current

    def set_rotation(self, on: bool) -> None:
        """Whether a refresh returns a new refresh token (Cognito's rotation)."""
        self.configure(rotate_refresh_token=on)

    def reset(self) -> None:
        """Back to the settings given at start, and no counts."""
        self.configure(**self._settings)
        self.reset_counts()


# -- the browser stand-in ------------------------------------------------------


class _FormParser(HTMLParser):
    """Collect the first form's action, its inputs, and an error text."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.has_password = False
        self.error: str = ""
        self._in_error = False
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = attributes.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form:
            if attributes.get("type") == "hidden":
                self.hidden[attributes.get("name", "")] = attributes.get("value", "")
            elif attributes.get("type") == "password":
                self.has_password = True
        elif attributes.get("id") == "error":
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error += data


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def sign_in(
    authorization_url: str,
    username: str,
    password: str,
    *,
    client: httpx.Client | None = None,
    max_steps: int = 10,
) -> str:
    """Sign in through the peer's hosted UI and return where it finally redirects.

    Follows the provider's own redirects (``/oauth2/authorize`` -> 303
    ``/login`` -> POST the form -> 303 ``/oauth2/authorize/<uid>`` -> ...) and
    stops at the first redirect that leaves the provider's origin, returning
    that URL unvisited: ``redirect_uri?code=...&state=...&iss=...`` for the
    code flow, ``redirect_uri#id_token=...&access_token=...`` for Cognito's
    implicit flow, or ``redirect_uri?error=...`` when the provider refuses the
    request after validating the client and redirect URI.

    Like a browser, it also submits the script-submitted form with which
    oidc-provider ends the previous session when another user signs in
    (``prompt=login``). Pass ``client`` (one with a cookie jar) to keep
    the hosted-UI session between calls, like a browser would; by default each
    call starts with no cookies. Raises :class:`SignInError` when the provider
    shows the form again (wrong password) or an error page.
    """
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=10.0)
    try:
        provider_origin = _origin(authorization_url)
        url = authorization_url
        response = http.get(url, follow_redirects=False)
        posted = False
        for _ in range(max_steps):
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                if _origin(url) != provider_origin:
                    return url
                response = http.get(url, follow_redirects=False)
                continue
            form = _FormParser()
            form.feed(response.text)
            if response.status_code == 200 and form.action is not None:
                data = dict(form.hidden)
                if form.has_password:  # the sign-in form
                    if posted:
                        reason = form.error.strip() or "the form was shown again"
                        raise SignInError(f"sign-in refused for {username!r}: {reason}", response)
                    data.update(username=username, password=password)
                    posted = True
                # else a form a browser submits by script: oidc-provider ends
                # the previous session this way when another user signs in.
                url = urljoin(url, form.action)
                response = http.post(url, data=data, follow_redirects=False)
                continue
            detail = form.error.strip() or response.text[:500]
            raise SignInError(
                f"sign-in stopped at {url} with HTTP {response.status_code}: {detail}", response
            )
        raise SignInError(f"sign-in did not leave the provider in {max_steps} steps", response)
    finally:
        if own_client:
            http.close()


if __name__ == "__main__":  # manual check: start, print the ready data, wait for Ctrl-C
    with OidcPeer() as peer:
        took = f"npm ci {peer.npm_ci_seconds:.2f} s, start {peer.start_seconds:.2f} s"
        print(f"issuer {peer.issuer} ({took})")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
