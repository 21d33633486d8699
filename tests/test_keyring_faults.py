"""A keyring that fails: on write, on read, or half-way through a split value.

Through the client (sign-in, refresh, API calls, a second process) against the
local Cognito stand-in and the protected API, with ``KeyringStore`` over
in-memory backends that fail on purpose:

- writes refused: the sign-in still works in this process, and the warning says
  the tokens were not persisted (also on the command line);
- reads refused: the session counts as signed out, and the error says the
  token store could not be read; signing in again works;
- a split value half-written (Windows' size limit, a crash mid-save): detected
  and ignored, never half-used; the next sign-in writes a clean one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

import keybearer
from keybearer import errors
from keybearer.stores.keyring import KeyringStore
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi
from support import FakeClock, MakeClient, Person

SERVICE = "keybearer-faults"
LIMIT = 300  # UTF-16 units per entry: a token set (~3 KB) is split over ~10 entries


class FaultyKeyring(KeyringBackend):
    """In memory; refuses long entries like Windows; fails reads or writes on demand.

    ``entries`` may be shared between instances: a new instance over the same
    entries is what a second process sees (keybearer caches per backend object).
    """

    priority = 1  # type: ignore[assignment]

    def __init__(self, entries: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__()
        self.entries = entries if entries is not None else {}
        self.fail_reads = 0  # how many reads to fail next (-1: all)
        self.fail_writes = 0
        self.crash_at_write: int | None = None  # the process "dies" at this write

    def get_password(self, service: str, username: str) -> str | None:
        if self.fail_reads:
            self.fail_reads -= 1 if self.fail_reads > 0 else 0
            raise KeyringLocked("the keychain is locked")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.fail_writes:
            self.fail_writes -= 1 if self.fail_writes > 0 else 0
            raise PasswordSetError("the user denied access to the keychain")
        if len(password.encode("utf-16-le")) > 2 * LIMIT:
            raise OSError(1783, "CredWrite: the stub received bad data")
        if self.crash_at_write is not None:
            if self.crash_at_write == 0:
                raise KeyboardInterrupt  # the process dies mid-save
            self.crash_at_write -= 1
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


def store_over(backend: FaultyKeyring) -> KeyringStore:
    return KeyringStore(SERVICE, backend=backend, max_entry_chars=LIMIT)


@pytest.fixture
def make(make_client: MakeClient) -> Callable[[FaultyKeyring], keybearer.OAuthClient]:
    """Clients of the suite's public app client whose store sits on ``backend``."""

    def build(backend: FaultyKeyring) -> keybearer.OAuthClient:
        return make_client(store=store_over(backend))

    return build


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- writes refused ------------------------------------------------------------------


def test_a_refused_write_still_signs_in_here_and_says_the_tokens_were_not_persisted(
    make: Any, person: Person, api: ProtectedApi, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FaultyKeyring()
    backend.fail_writes = -1
    client = make(backend)

    with caplog.at_level(logging.WARNING, logger="keybearer"):
        tokens = client.login_password(person.username, person.password)

    assert isinstance(tokens, keybearer.TokenSet)
    assert client.tokens is tokens
    with client.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200  # the session works in this process
    assert backend.entries == {}
    (warning,) = warnings_in(caplog)
    assert "in memory only" in warning
    assert "did not save" in warning
    assert "PasswordSetError" in warning  # why, without the backend's own words
    assert tokens.access_token.get_secret_value() not in warning


def test_a_refused_write_during_a_refresh_keeps_the_new_tokens_in_memory(
    make: Any,
    person: Person,
    api: ProtectedApi,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    cognito: LocalCognito,
) -> None:
    backend = FaultyKeyring()
    client = make(backend)
    client.login_password(person.username, person.password)
    stored = dict(backend.entries)
    backend.fail_writes = -1
    clock.advance(3600)

    with (
        caplog.at_level(logging.WARNING, logger="keybearer"),
        client.http(base_url=api.url) as http,
    ):
        assert http.get("/pets").status_code == 200
        assert http.get("/pets").status_code == 200

    assert cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1  # refreshed once, not per call
    assert backend.entries == stored  # the old session, whole, not half of the new one
    assert any("in memory only" in w for w in warnings_in(caplog))


def test_the_command_line_says_when_a_login_was_not_persisted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    person: Person,
) -> None:
    from keybearer.cli import main
    from keybearer.stores.file import FileStore

    for name in [n for n in os.environ if n.startswith("KEYBEARER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KEYBEARER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYBEARER_STORE", f"file:{tmp_path / 'tokens.json'}")
    runner = CliRunner()
    configured = runner.invoke(
        main,
        [
            "configure",
            "--user-pool-id",
            pool.id,
            "--client-id",
            public_client.id,
            "--idp-url",
            cognito.url,
            "--jwks-url",
            pool.jwks_url,
            "--no-verify",
        ],
    )
    assert configured.exit_code == 0, configured.output

    def refuse(self: FileStore, key: str, value: str) -> None:
        raise errors.StoreError(f"cannot write token file {self.path} (PermissionError)")

    monkeypatch.setattr(FileStore, "save", refuse)
    result = runner.invoke(
        main, ["login", "-u", person.username, "--password-stdin"], input=person.password
    )

    assert "in memory only" in result.stderr
    assert "cannot write token file" in result.stderr
    assert not (tmp_path / "tokens.json").exists()


# -- reads refused ----------------------------------------------------------------------


def test_an_unreadable_keyring_counts_as_signed_out_with_a_clear_message(
    make: Any, person: Person, api: ProtectedApi, caplog: pytest.LogCaptureFixture
) -> None:
    entries: dict[tuple[str, str], str] = {}
    make(FaultyKeyring(entries)).login_password(person.username, person.password)
    locked = FaultyKeyring(entries)  # the next process, while the keychain is locked
    locked.fail_reads = -1
    client = make(locked)

    with caplog.at_level(logging.WARNING, logger="keybearer"):
        assert client.tokens is None  # signed out, not a crash
    assert any("could not be read" in w for w in warnings_in(caplog))

    with client.http(base_url=api.url) as http, pytest.raises(errors.LoginRequiredError) as caught:
        http.get("/pets")
    assert "token store could not be read" in str(caught.value)
    assert "KeyringLocked" in str(caught.value)
    assert api.count(path="/pets") == 0


def test_signing_in_again_works_while_the_keyring_cannot_be_read(
    make: Any, person: Person, api: ProtectedApi
) -> None:
    locked = FaultyKeyring()
    locked.fail_reads = -1
    client = make(locked)

    tokens = client.login_password(person.username, person.password)

    assert client.tokens is tokens
    with client.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200


def test_a_keyring_that_recovers_is_read_again(make: Any, person: Person) -> None:
    entries: dict[tuple[str, str], str] = {}
    tokens = make(FaultyKeyring(entries)).login_password(person.username, person.password)
    flaky = FaultyKeyring(entries)
    flaky.fail_reads = 1  # one failed read (a D-Bus hiccup), then fine
    client = make(flaky)

    assert client.tokens is None
    assert client.tokens == tokens  # the next use reads the store again


def test_the_command_line_treats_an_unreadable_store_as_signed_out(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
) -> None:
    from keybearer.cli import EXIT_LOGIN_REQUIRED, main
    from keybearer.stores.file import FileStore

    for name in [n for n in os.environ if n.startswith("KEYBEARER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KEYBEARER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYBEARER_STORE", f"file:{tmp_path / 'tokens.json'}")
    runner = CliRunner()
    configured = runner.invoke(
        main,
        [
            "configure",
            "--user-pool-id",
            pool.id,
            "--client-id",
            public_client.id,
            "--idp-url",
            cognito.url,
            "--jwks-url",
            pool.jwks_url,
            "--no-verify",
        ],
    )
    assert configured.exit_code == 0, configured.output

    def unreadable(self: FileStore, key: str) -> str | None:
        raise errors.StoreError(f"cannot read token file {self.path} (PermissionError)")

    monkeypatch.setattr(FileStore, "load", unreadable)
    result = runner.invoke(main, ["whoami"])

    assert result.exit_code == EXIT_LOGIN_REQUIRED, result.output
    assert "cannot read token file" in result.stderr
    assert "keybearer login" in result.stderr


# -- a split value half-written ------------------------------------------------------------


def split_entries(entries: dict[tuple[str, str], str], key: str) -> list[str]:
    return sorted(
        (name for (_, name) in entries if name.startswith(key + "#")),
        key=lambda name: int(name.rsplit("#", 1)[1]),
    )


@pytest.mark.parametrize("damage", ["missing chunk", "chunk of another value", "stale manifest"])
def test_a_half_written_split_value_is_ignored_through_the_client(
    make: Any,
    person: Person,
    api: ProtectedApi,
    damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries: dict[tuple[str, str], str] = {}
    first = make(FaultyKeyring(entries))
    tokens = first.login_password(person.username, person.password)
    key = first.config.store_key
    chunks = split_entries(entries, key)
    assert len(chunks) >= 3, "the token set must be split for this test to mean anything"
    if damage == "missing chunk":
        del entries[(SERVICE, chunks[1])]
    elif damage == "chunk of another value":
        entries[(SERVICE, chunks[1])] = entries[(SERVICE, chunks[1])][::-1]
    else:  # the head names more chunks than there are: a save of a longer value died
        head = entries[(SERVICE, key)]
        marker, _, rest = head.rpartition(":")
        count_marker, _, _ = marker.rpartition(":")
        entries[(SERVICE, key)] = f"{count_marker}:{len(chunks) + 1}:{rest}"

    second = make(FaultyKeyring(entries))  # the next process
    with caplog.at_level(logging.WARNING, logger="keybearer"):
        assert second.tokens is None
    assert any("half-written" in w for w in warnings_in(caplog))
    with second.http(base_url=api.url) as http, pytest.raises(errors.LoginRequiredError):
        http.get("/pets")
    assert api.count(path="/pets") == 0  # no half token ever went out

    again = second.login_password(person.username, person.password)  # a new login heals it
    third = make(FaultyKeyring(entries))
    assert third.tokens == again != tokens  # whole, and no stale chunk got mixed in


@pytest.mark.parametrize("crash_at_write", range(0, 14, 3))
def test_a_crash_while_saving_a_refresh_leaves_the_old_session_or_none_never_a_mix(
    make: Any, person: Person, clock: FakeClock, crash_at_write: int
) -> None:
    entries: dict[tuple[str, str], str] = {}
    backend = FaultyKeyring(entries)
    client = make(backend)
    old = client.login_password(person.username, person.password)
    backend.crash_at_write = crash_at_write

    try:
        new = client.refresh()
    except KeyboardInterrupt:
        new = None

    reader = make(FaultyKeyring(entries))  # the next process
    assert reader.tokens in (old, None) or (new is not None and reader.tokens == new)
    if reader.tokens is not None:
        json.loads(reader.tokens.to_json())  # whole, usable
