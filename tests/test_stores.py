"""The token stores: one contract for all three, then what each adds.

Keyring tests run against real backends: keyrings.alt's plain-text file
keyring in a temporary directory, and small in-memory backends defined here.
Defining a ``KeyringBackend`` subclass registers it with keyring for the whole
process, so the ones here have a negative priority: keyring's own detection
never picks them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.compat import properties
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError
from keyrings.alt.file import PlaintextKeyring

from keybearer.errors import ConfigurationError, KeyringUnavailableError, StoreError
from keybearer.stores import FileStore, KeyringStore, MemoryStore, TokenStore

SERVICE = "keybearer-test"
KEY = "cognito:eu-west-1_Pool:client:default"
POSIX = os.name == "posix"
IS_ROOT = POSIX and os.geteuid() == 0


def token_json(size: int) -> str:
    """A JSON token set of about ``size`` characters, the shape a store is given."""
    payload = {"access_token": "", "refresh_token": "r" * 100, "token_type": "Bearer"}
    payload["access_token"] = "a" * max(0, size - len(json.dumps(payload)))
    return json.dumps(payload)


# --- keyring backends for tests ---------------------------------------------------


class CredentialTooLargeError(OSError):
    """What pywin32 raises when a credential blob is too big: (1783, 'CredWrite', ...)."""


class SizeLimitedKeyring(KeyringBackend):
    """An in-memory keyring that refuses long entries the way Windows does.

    Windows Credential Manager holds at most 2,560 bytes of UTF-16 per entry.
    """

    priority = -0.5  # type: ignore[assignment]

    def __init__(self, max_chars: int = 1280) -> None:
        super().__init__()
        self.max_chars = max_chars
        self.entries: dict[tuple[str, str], str] = {}
        self.writes = 0
        self.fail_on_write: int | None = None

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(password.encode("utf-16-le")) > 2 * self.max_chars:
            raise CredentialTooLargeError(1783, "CredWrite: The stub received bad data.")
        self.writes += 1
        if self.fail_on_write is not None and self.writes >= self.fail_on_write:
            raise SystemExit("simulated crash")  # not an Exception: nothing may catch it
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("Password not found")

    def names(self) -> set[str]:
        return {username for (_, username) in self.entries}


class WinVaultKeyring(SizeLimitedKeyring):
    """Named like keyring's Windows backend, which KeyringStore recognises by name."""

    __module__ = "keyring.backends.Windows"


class UndeletableKeyring(SizeLimitedKeyring):
    """A backend that fails to delete for a reason other than "not found"."""

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("access denied")


class BrokenKeyring(KeyringBackend):
    """A backend whose ``fails`` operation raises, quoting what it was given or holds."""

    priority = -0.5  # type: ignore[assignment]

    def __init__(self, fails: str = "get") -> None:
        super().__init__()
        self.fails = fails

    def get_password(self, service: str, username: str) -> str | None:
        if self.fails == "get":
            raise KeyringLocked("could not unlock; it held SECRET-IN-BACKEND")
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError(f"refused to store {password}")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("delete failed")


class NotHereKeyring(KeyringBackend):
    """A backend unfit for this machine: its priority raises, as keyring's convention says."""

    priority_checks = 0

    @properties.classproperty
    def priority(cls) -> float:
        cls.priority_checks += 1
        raise RuntimeError("no D-Bus session bus")

    def get_password(self, service: str, username: str) -> str | None:
        raise AssertionError("must not be used")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("must not be used")


# --- fixtures -----------------------------------------------------------------------


def plaintext_keyring(directory: Path) -> PlaintextKeyring:
    backend = PlaintextKeyring()
    backend.file_path = str(directory / "keyring_pass.cfg")
    return backend


@pytest.fixture(params=["memory", "file", "keyring"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    """Each of the three stores, the keyring one on a real (file-backed) backend."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "file":
        return FileStore(tmp_path / "tokens.json")
    return KeyringStore(SERVICE, backend=plaintext_keyring(tmp_path))


@pytest.fixture
def limited() -> SizeLimitedKeyring:
    return SizeLimitedKeyring()


@pytest.fixture
def split_store(limited: SizeLimitedKeyring) -> KeyringStore:
    return KeyringStore(SERVICE, backend=limited, max_entry_chars=1200)


@pytest.fixture
def default_keyring() -> Iterator[Callable[[KeyringBackend], None]]:
    """Swap keyring's process-wide default backend, through its public API."""
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


# --- the contract every store keeps -------------------------------------------------


def test_every_store_speaks_the_token_store_protocol(store: TokenStore) -> None:
    assert isinstance(store, TokenStore)
    assert isinstance(store.identity, str)
    assert store.identity == store.identity


def test_loading_a_key_never_saved_returns_none(store: TokenStore) -> None:
    assert store.load(KEY) is None


def test_saved_value_loads_back_unchanged(store: TokenStore) -> None:
    value = token_json(3000)
    store.save(KEY, value)
    assert store.load(KEY) == value


def test_non_ascii_value_loads_back_unchanged(store: TokenStore) -> None:
    value = json.dumps({"name": "Zoë 🔑 東京"}, ensure_ascii=False)
    store.save(KEY, value)
    assert store.load(KEY) == value


def test_save_replaces_the_previous_value(store: TokenStore) -> None:
    store.save(KEY, token_json(500))
    store.save(KEY, token_json(600))
    assert store.load(KEY) == token_json(600)


def test_keys_are_independent(store: TokenStore) -> None:
    store.save("a", "1")
    store.save("b", "2")
    store.delete("a")
    assert store.load("a") is None
    assert store.load("b") == "2"


def test_delete_removes_the_value(store: TokenStore) -> None:
    store.save(KEY, token_json(4000))
    store.delete(KEY)
    assert store.load(KEY) is None


def test_deleting_a_missing_key_is_not_an_error(store: TokenStore) -> None:
    store.delete(KEY)
    store.delete(KEY)
    assert store.load(KEY) is None


def test_repr_never_shows_a_stored_value(store: TokenStore) -> None:
    store.save(KEY, "SECRET-TOKEN-VALUE")
    assert "SECRET-TOKEN-VALUE" not in repr(store)


# --- MemoryStore --------------------------------------------------------------------


def test_each_memory_store_is_its_own_place() -> None:
    first, second = MemoryStore(), MemoryStore()
    first.save(KEY, "v")
    assert first.identity != second.identity
    assert first.identity.startswith("memory:")
    assert second.load(KEY) is None


def test_memory_store_identity_is_not_reused_after_garbage_collection() -> None:
    seen = {MemoryStore().identity for _ in range(200)}
    assert len(seen) == 200


# --- thread safety --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "file", "keyring"])
def test_concurrent_writes_from_8_threads_lose_no_key(kind: str, tmp_path: Path) -> None:
    target: TokenStore
    if kind == "memory":
        target = MemoryStore()
    elif kind == "file":
        target = FileStore(tmp_path / "tokens.json")
    else:
        # keyrings.alt's file keyring rewrites its whole file per write; the store's
        # lock is what keeps threads from overwriting each other's keys.
        target = KeyringStore(SERVICE, backend=plaintext_keyring(tmp_path))
    writes = 50 if kind != "keyring" else 15
    errors: list[BaseException] = []

    def writer(thread: int) -> None:
        try:
            for i in range(writes):
                target.save(f"key-{thread}", f"value-{thread}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    for n in range(8):
        assert target.load(f"key-{n}") == f"value-{n}-{writes - 1}"


# --- FileStore ----------------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_file_store_creates_the_file_0600_and_its_directory_0700(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "tokens.json"
    FileStore(path).save(KEY, "v")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_file_store_tightens_a_loose_existing_file_to_0600_on_write(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"other": "x"}))
    path.chmod(0o644)
    FileStore(path).save(KEY, "v")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_store_write_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    FileStore(path).save("other", "kept")
    FileStore(path).save(KEY, "v")
    FileStore(path).delete(KEY)
    assert json.loads(path.read_text()) == {"other": "kept"}


def test_file_store_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "tokens.json")
    for i in range(5):
        store.save(f"k{i}", token_json(3000))
    store.delete("k0")
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


@pytest.mark.parametrize(
    "content",
    [b'{"k": "SECRET-PART', b'["SECRET-PART"]', b'{"k": ["SECRET-PART"]}', b"\xffSECRET-PART"],
    ids=["truncated-json", "not-an-object", "non-string-value", "not-utf8"],
)
def test_corrupt_file_raises_store_error_naming_the_path_not_the_content(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        FileStore(path).load(KEY)
    assert str(path) in str(caught.value)
    assert "SECRET-PART" not in str(caught.value)
    assert caught.value.__cause__ is None  # decode errors carry the file's text


def test_corrupt_file_is_not_overwritten_by_save(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("not json")
    with pytest.raises(StoreError):
        FileStore(path).save(KEY, "v")
    assert path.read_text() == "not json"


@pytest.mark.skipif(not POSIX or IS_ROOT, reason="needs POSIX permissions that bind")
def test_unreadable_file_raises_store_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({KEY: "SECRET-PART"}))
    path.chmod(0)
    try:
        with pytest.raises(StoreError, match="cannot read token file") as caught:
            FileStore(path).load(KEY)
        assert str(path) in str(caught.value)
    finally:
        path.chmod(0o600)


@pytest.mark.skipif(not POSIX or IS_ROOT, reason="needs POSIX permissions that bind")
def test_failed_write_leaves_the_old_file_intact(tmp_path: Path) -> None:
    directory = tmp_path / "locked"
    path = directory / "tokens.json"
    FileStore(path).save(KEY, "old")
    directory.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="cannot write token file"):
            FileStore(path).save(KEY, "SECRET-NEW")
    finally:
        directory.chmod(0o700)
    assert FileStore(path).load(KEY) == "old"
    assert [p.name for p in directory.iterdir()] == ["tokens.json"]


def test_file_store_identity_is_the_resolved_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = FileStore("tokens.json")
    absolute = FileStore(tmp_path / "sub" / ".." / "tokens.json")
    assert relative.identity == absolute.identity == f"file:{tmp_path.resolve() / 'tokens.json'}"


# --- KeyringStore: identity and laziness -------------------------------------------


def test_keyring_store_identity_names_the_service() -> None:
    assert KeyringStore("my-app").identity == "keyring:my-app"
    assert KeyringStore().identity == "keyring:keybearer"


def test_stores_on_different_explicit_backends_do_not_share_an_identity() -> None:
    shared = SizeLimitedKeyring()
    assert (
        KeyringStore(SERVICE, backend=shared).identity
        == KeyringStore(SERVICE, backend=shared).identity
    )
    assert (
        KeyringStore(SERVICE, backend=SizeLimitedKeyring()).identity
        != KeyringStore(SERVICE, backend=shared).identity
    )


def test_importing_the_stores_does_not_import_keyring() -> None:
    code = "import sys, keybearer.stores; print('keyring' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_no_keyring_backend_raises_unavailable_naming_both_alternatives(
    backend: KeyringBackend,
) -> None:
    store = KeyringStore(SERVICE, backend=backend)  # checked on first use, not here
    for use in (lambda: store.load(KEY), lambda: store.save(KEY, "v"), lambda: store.delete(KEY)):
        with pytest.raises(KeyringUnavailableError) as caught:
            use()
        message = str(caught.value)
        assert "No OS keyring backend is available" in message
        assert "keybearer.FileStore(path)" in message
        assert "keybearer.MemoryStore()" in message
        assert "PYTHON_KEYRING_BACKEND" in message


def test_default_backend_is_looked_up_on_first_use_not_at_construction(
    default_keyring: Callable[[KeyringBackend], None],
) -> None:
    default_keyring(fail.Keyring())
    store = KeyringStore(SERVICE)
    with pytest.raises(KeyringUnavailableError, match="FileStore"):
        store.load(KEY)


def test_default_backend_is_used_when_none_is_passed(
    default_keyring: Callable[[KeyringBackend], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A plain-text backend counts only when the user names it.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    backend = plaintext_keyring(tmp_path)
    default_keyring(backend)
    KeyringStore(SERVICE).save(KEY, "v")
    assert backend.get_password(SERVICE, KEY) == "v"


def test_a_plain_text_backend_keyring_falls_back_to_is_refused(
    default_keyring: Callable[[KeyringBackend], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-keyringrc"))
    backend = plaintext_keyring(tmp_path)
    default_keyring(backend)

    with pytest.raises(KeyringUnavailableError, match="PlaintextKeyring"):
        KeyringStore(SERVICE).save(KEY, "v")
    assert backend.get_password(SERVICE, KEY) is None


def test_backend_unfit_for_this_machine_is_unavailable_and_checked_once() -> None:
    store = KeyringStore(SERVICE, backend=NotHereKeyring())
    NotHereKeyring.priority_checks = 0
    for _ in range(3):
        with pytest.raises(KeyringUnavailableError, match="no D-Bus session bus"):
            store.load(KEY)
    assert NotHereKeyring.priority_checks == 1


def test_max_entry_chars_too_small_for_a_manifest_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="max_entry_chars"):
        KeyringStore(SERVICE, max_entry_chars=50)


# --- KeyringStore: backend failures -------------------------------------------------


@pytest.mark.parametrize("fails", ["get", "set"])
def test_backend_failures_become_store_errors_without_the_value(fails: str) -> None:
    store = KeyringStore(SERVICE, backend=BrokenKeyring(fails))
    value = "SECRET-TOKEN-VALUE"
    with pytest.raises(StoreError) as caught:
        store.save(KEY, value) if fails == "set" else store.load(KEY)
    message = str(caught.value)
    assert not isinstance(caught.value, KeyringUnavailableError)
    assert SERVICE in message
    assert KEY in message
    assert value not in message
    assert "SECRET-IN-BACKEND" not in message
    # The backend's exception quoted a secret: nothing of it stays reachable but its type.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert ("KeyringLocked" if fails == "get" else "PasswordSetError") in message


def test_a_delete_failure_other_than_missing_is_a_store_error() -> None:
    backend = UndeletableKeyring()
    store = KeyringStore(SERVICE, backend=backend)
    store.delete(KEY)  # nothing there, so nothing to fail
    store.save(KEY, "v")
    with pytest.raises(StoreError, match="could not delete") as caught:
        store.delete(KEY)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert "RuntimeError" in str(caught.value)


def test_a_refused_write_names_service_key_and_error_type() -> None:
    store = KeyringStore(SERVICE, backend=SizeLimitedKeyring())  # no splitting: no limit known
    value = token_json(5000)
    with pytest.raises(StoreError) as caught:
        store.save(KEY, value)
    assert "CredentialTooLargeError" in str(caught.value)
    assert value not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


# --- KeyringStore: splitting long values -----------------------------------------


def test_backend_with_size_limit_refuses_a_5000_char_value_in_one_entry(
    limited: SizeLimitedKeyring,
) -> None:
    with pytest.raises(CredentialTooLargeError):
        limited.set_password(SERVICE, KEY, token_json(5000))


def test_5000_char_value_round_trips_when_split_over_a_size_limited_backend(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    value = token_json(5000)
    split_store.save(KEY, value)
    assert split_store.load(KEY) == value
    assert limited.names() == {KEY, f"{KEY}#1", f"{KEY}#2", f"{KEY}#3", f"{KEY}#4", f"{KEY}#5"}
    assert all(len(entry) <= 1200 for entry in limited.entries.values())


def test_head_entry_of_a_split_value_holds_only_a_manifest(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    value = token_json(5000)
    split_store.save(KEY, value)
    head = limited.entries[(SERVICE, KEY)]
    assert head == f"keybearer-split:v1:5:{hashlib.sha256(value.encode()).hexdigest()}"


def test_short_value_is_stored_as_is_in_one_entry(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, token_json(1000))
    assert limited.entries == {(SERVICE, KEY): token_json(1000)}


def test_windows_credential_manager_is_split_at_1200_chars_without_configuration() -> None:
    backend = WinVaultKeyring()
    store = KeyringStore(SERVICE, backend=backend)
    value = token_json(5000)
    store.save(KEY, value)
    assert store.load(KEY) == value
    assert max(len(entry) for entry in backend.entries.values()) == 1200


def test_characters_outside_the_bmp_count_double_when_splitting() -> None:
    backend = WinVaultKeyring()
    store = KeyringStore(SERVICE, backend=backend)
    value = "🔑" * 3000  # 6,000 UTF-16 units
    store.save(KEY, value)
    assert store.load(KEY) == value


def test_value_that_looks_like_a_manifest_round_trips(limited: SizeLimitedKeyring) -> None:
    store = KeyringStore(SERVICE, backend=limited)
    value = "keybearer-split:v1:2:" + "0" * 64
    store.save(KEY, value)
    assert store.load(KEY) == value


def test_missing_chunk_loads_as_none_and_warns_without_content(
    split_store: KeyringStore, limited: SizeLimitedKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    value = token_json(5000)
    split_store.save(KEY, value)
    del limited.entries[(SERVICE, f"{KEY}#3")]
    with caplog.at_level(logging.WARNING, logger="keybearer"):
        assert split_store.load(KEY) is None
    [record] = [r for r in caplog.records if r.name == "keybearer"]
    assert record.levelno == logging.WARNING
    assert "chunk 3 of 5 is missing" in record.getMessage()
    assert "aaaa" not in record.getMessage()


def test_tampered_digest_loads_as_none(
    split_store: KeyringStore, limited: SizeLimitedKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    split_store.save(KEY, token_json(5000))
    head = limited.entries[(SERVICE, KEY)]
    limited.entries[(SERVICE, KEY)] = head[:-8] + "00000000"
    with caplog.at_level(logging.WARNING, logger="keybearer"):
        assert split_store.load(KEY) is None
    assert "digest" in caplog.text


def test_chunk_from_another_value_loads_as_none(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, token_json(5000))
    limited.entries[(SERVICE, f"{KEY}#2")] = "b" * 1200
    assert split_store.load(KEY) is None


def test_save_interrupted_mid_chunks_over_a_split_value_never_loads_a_mix(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, token_json(5000))
    limited.fail_on_write = limited.writes + 3  # crash while writing the third chunk
    with pytest.raises(SystemExit):
        split_store.save(KEY, json.dumps({"access_token": "n" * 5000}))
    limited.fail_on_write = None
    assert split_store.load(KEY) is None


def test_save_interrupted_mid_chunks_over_a_short_value_keeps_the_old_value(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, "old")
    limited.fail_on_write = limited.writes + 3
    with pytest.raises(SystemExit):
        split_store.save(KEY, token_json(5000))
    limited.fail_on_write = None
    assert split_store.load(KEY) == "old"


def test_overwriting_a_long_value_with_a_short_one_leaves_no_stale_chunks(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, token_json(5000))
    split_store.save(KEY, "short")
    assert limited.names() == {KEY}
    assert split_store.load(KEY) == "short"


def test_overwriting_with_a_shorter_long_value_removes_the_extra_chunks(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, token_json(5000))
    split_store.save(KEY, token_json(2000))
    assert limited.names() == {KEY, f"{KEY}#1", f"{KEY}#2"}
    assert split_store.load(KEY) == token_json(2000)


def test_delete_removes_the_head_and_every_chunk(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save("other", "kept")
    split_store.save(KEY, token_json(5000))
    split_store.delete(KEY)
    assert limited.names() == {"other"}


def test_delete_tolerates_chunks_that_are_already_gone(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    split_store.save(KEY, token_json(5000))
    del limited.entries[(SERVICE, f"{KEY}#2")]
    split_store.delete(KEY)
    assert limited.names() == set()


def test_delete_removes_chunks_left_by_a_first_save_that_never_wrote_its_head(
    split_store: KeyringStore, limited: SizeLimitedKeyring
) -> None:
    limited.fail_on_write = 3
    with pytest.raises(SystemExit):
        split_store.save(KEY, token_json(5000))
    limited.fail_on_write = None
    assert limited.names() == {f"{KEY}#1", f"{KEY}#2"}
    split_store.delete(KEY)
    assert limited.names() == set()


def test_split_value_round_trips_through_a_real_file_keyring(tmp_path: Path) -> None:
    backend = plaintext_keyring(tmp_path)
    store = KeyringStore(SERVICE, backend=backend, max_entry_chars=1200)
    value = token_json(5000)
    store.save(KEY, value)
    assert KeyringStore(SERVICE, backend=backend).load(KEY) == value
    store.save(KEY, "short")
    assert backend.get_password(SERVICE, f"{KEY}#1") is None
    store.delete(KEY)
    assert backend.get_password(SERVICE, KEY) is None
