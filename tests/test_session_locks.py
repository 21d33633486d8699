"""Where the cross-process lock lives, and what logout does with it and with the keyring.

Regression tests for three findings of the outside review (issue 11):

1. the keyring's lock folder sat in the shared temporary directory, where
   another local user could create it first (open to all, or a symlink);
2. ``logout()`` read the keyring's ``PasswordDeleteError`` as "not found" and
   said "signed out locally" while the entry was still there;
3. ``logout()`` revoked the refresh token in memory, without the refresh lock
   and without re-reading the store, so a token another process had rotated
   stayed alive.

The provider is an ``httpx.MockTransport`` handed to the client through its
``transport`` seam: what matters here is which refresh token reaches it.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

import keybearer
from cognito_shapes import CLIENT, POOL
from keybearer import errors
from keybearer._locks import FileProcessLock, private_lock_dir
from keybearer.stores import ProcessLock, ProcessLockingStore
from keybearer.stores.keyring import KeyringStore
from support import FakeClock

KEY = f"cognito:{POOL}:{CLIENT}:default"


class DictKeyring(KeyringBackend):
    """In memory; ``refuse_deletes`` makes delete fail the way a cancelled prompt does."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.refuse_deletes = False

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.refuse_deletes:
            raise PasswordDeleteError("the user cancelled the KWallet prompt")
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user state directory, and no XDG runtime directory."""
    home = tmp_path / "state"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return home


def session(clock: FakeClock, *, refresh_token: str | None, origin: str) -> keybearer.TokenSet:
    return keybearer.TokenSet.model_validate(
        {
            "access_token": f"access-for-{refresh_token}",
            "refresh_token": refresh_token,
            "expires_at": clock() + 3600,
            "obtained_at": clock(),
            "origin": origin,
            "username": "alice",
        }
    )


# -- 1. the lock folder --


def test_the_keyring_lock_is_not_in_a_folder_another_user_made_in_the_temp_dir(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    planted = shared_tmp / f"keybearer-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)  # made first by someone else, open to everyone

    lock = Path(KeyringStore("svc").lock_path(KEY))

    assert planted not in lock.parents
    assert lock.parent == state_home / "keybearer" / "locks"
    assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o700


def test_a_lock_folder_open_to_others_is_refused_with_its_path(state_home: Path) -> None:
    folder = state_home / "keybearer" / "locks"
    folder.mkdir(parents=True)
    folder.chmod(0o777)

    with pytest.raises(errors.StoreError, match="open to other users") as caught:
        KeyringStore("svc").lock_path(KEY)
    assert str(folder) in str(caught.value)


def test_a_symlinked_lock_folder_is_refused(state_home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (state_home / "keybearer").mkdir()
    (state_home / "keybearer" / "locks").symlink_to(elsewhere)

    with pytest.raises(errors.StoreError, match="symbolic link"):
        private_lock_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_a_lock_folder_owned_by_another_user_is_refused(state_home: Path) -> None:
    folder = state_home / "keybearer" / "locks"
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 4242, 4242)

    with pytest.raises(errors.StoreError, match="another user"):
        private_lock_dir()


def test_a_refused_lock_folder_stops_logout_with_a_typed_error(
    state_home: Path, clock: FakeClock
) -> None:
    folder = state_home / "keybearer" / "locks"
    folder.mkdir(parents=True)
    folder.chmod(0o757)
    store = KeyringStore("svc", backend=DictKeyring())
    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock)
    with client, pytest.raises(errors.StoreError, match="lock folder"):
        client.logout()


def test_a_symlinked_lock_file_is_never_followed(tmp_path: Path, clock: FakeClock) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o640)
    tokens = tmp_path / "tokens.json"
    Path(f"{tokens}.lock").symlink_to(victim)
    store = keybearer.FileStore(tokens)

    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock)
    with client, pytest.raises(errors.StoreError, match="symbolic link"):
        client.logout()

    assert victim.read_text() == "precious"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o640


def test_a_store_can_hand_out_its_own_process_lock(clock: FakeClock) -> None:
    events: list[str] = []

    class Lease:
        def acquire(self, timeout: float) -> bool:
            events.append(f"acquire {timeout:g}")
            return True

        def release(self) -> None:
            events.append("release")

    class LeasingStore(keybearer.MemoryStore):
        def process_lock(self, key: str) -> ProcessLock:
            events.append(f"lock for {key}")
            return Lease()

    store = LeasingStore()
    assert isinstance(store, ProcessLockingStore)
    store.save(KEY, session(clock, refresh_token=None, origin="implicit").to_json())
    with keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock) as client:
        assert client.logout() is False  # an implicit session has nothing to revoke
        client.logout()

    assert events == [f"lock for {KEY}", "acquire 35", "release", "acquire 35", "release"]
    assert store.load(KEY) is None


def test_the_file_lock_serializes_two_holders(tmp_path: Path) -> None:
    path = str(tmp_path / "k.lock")
    first, second = FileProcessLock(path), FileProcessLock(path)
    assert first.acquire(1.0)
    try:
        assert not second.acquire(0.0)  # a second holder (another process) must wait
    finally:
        first.release()
    assert second.acquire(0.0)
    second.release()


# -- 2. logout and a keyring that refuses to delete --


def test_logout_does_not_claim_success_when_the_keyring_keeps_the_entry(
    state_home: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = DictKeyring()
    store = KeyringStore("svc", backend=backend)
    store.save(KEY, session(clock, refresh_token=None, origin="implicit").to_json())
    backend.refuse_deletes = True

    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock)
    with (
        client,
        caplog.at_level(logging.INFO, logger="keybearer"),
        pytest.raises(errors.StoreError, match="not signed out"),
    ):
        client.logout()

    assert store.load(KEY) is not None
    assert not [r for r in caplog.records if "signed out locally" in r.getMessage()]


def test_deleting_a_missing_keyring_entry_still_succeeds(state_home: Path) -> None:
    store = KeyringStore("svc", backend=DictKeyring())
    store.delete(KEY)  # PasswordDeleteError("not found") from the backend: nothing to do


# -- 3. logout under rotation --


class Revocations:
    """cognito-idp's RevokeToken, recording the refresh tokens it is given."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        target = request.headers["X-Amz-Target"].rsplit(".", 1)[-1]
        assert target == "RevokeToken", target
        self.tokens.append(json.loads(request.content)["Token"])
        return httpx.Response(200, json={})


def with_provider(
    store: keybearer.TokenStore, clock: FakeClock, provider: Revocations, **options: bool
) -> keybearer.OAuthClient:
    """A Cognito client whose provider calls go to ``provider`` (the transport seam)."""
    config = keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, **options).config
    transport = httpx.MockTransport(provider)
    return keybearer.OAuthClient(config, store=store, clock=clock, transport=transport)


@pytest.fixture
def revocations() -> Revocations:
    return Revocations()


@pytest.fixture
def rotated(
    tmp_path: Path, clock: FakeClock, revocations: Revocations
) -> Iterator[keybearer.OAuthClient]:
    """A client holding refresh token r1 in memory while the shared file holds r2."""
    path = tmp_path / "tokens.json"
    client = with_provider(
        keybearer.FileStore(path), clock, revocations, rotate_refresh_tokens=True
    )
    client._session.cache.put(session(clock, refresh_token="r1", origin="password"))
    assert client.tokens is not None
    # Another process refreshed meanwhile: its store write is all this one can see.
    other_process = json.loads(path.read_text())
    other_process[KEY] = session(clock, refresh_token="r2", origin="password").to_json()
    path.write_text(json.dumps(other_process))
    yield client
    client.close()


def test_logout_revokes_the_refresh_token_another_process_rotated_to(
    rotated: keybearer.OAuthClient, revocations: Revocations
) -> None:
    assert rotated.logout() is True
    assert revocations.tokens == ["r2"]
    assert rotated.tokens is None


async def test_async_logout_revokes_the_rotated_refresh_token_too(
    rotated: keybearer.OAuthClient, revocations: Revocations
) -> None:
    assert await rotated.alogout() is True
    assert revocations.tokens == ["r2"]


def test_logout_waits_for_a_refresh_holding_the_lock_in_another_process(
    tmp_path: Path, clock: FakeClock, revocations: Revocations
) -> None:
    path = tmp_path / "tokens.json"
    store = keybearer.FileStore(path)
    client = with_provider(store, clock, revocations)
    client._session.cache.put(session(clock, refresh_token="r1", origin="password"))
    other = FileProcessLock(store.lock_path(KEY))
    assert other.acquire(1.0)  # the other process is mid-refresh
    done = threading.Event()
    logging_out = threading.Thread(target=lambda: (client.logout(), done.set()))
    logging_out.start()
    try:
        # The other process finishes its refresh, stores r2, lets go.
        entries = json.loads(path.read_text())
        entries[KEY] = session(clock, refresh_token="r2", origin="password").to_json()
        path.write_text(json.dumps(entries))
        assert not done.is_set()  # logout cannot have finished while the lock is held
    finally:
        other.release()
    logging_out.join(10)
    assert done.is_set()
    assert revocations.tokens == ["r2"]
    client.close()
