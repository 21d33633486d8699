"""RedisStore against a real redis-server: sealing, the lease lock, and Redis faults."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

import keybearer
from keybearer.errors import ConfigurationError, StoreError
from keybearer.stores import ProcessLockingStore, RedisStore, TokenStore
from redis_peer import RedisServer

SECRET = "service-secret-0123456789abcdefghijklmnopqrstuvwxyz"
VALUE = '{"access_token": "eyJhbGciOiJSUzI1NiJ9.payload-that-must-stay-hidden.sig"}'


def test_saves_loads_and_deletes_through_redis_sealed(redis_clean: RedisServer) -> None:
    store = RedisStore(url=redis_clean.url, prefix="kb-test:", secret=SECRET)
    assert isinstance(store, TokenStore)
    assert isinstance(store, ProcessLockingStore)
    assert store.load("cognito:pool:client:default") is None

    store.save("cognito:pool:client:default", VALUE)
    assert store.load("cognito:pool:client:default") == VALUE
    with redis_clean.client() as raw:
        at_rest = raw.get("kb-test:cognito:pool:client:default")
    assert at_rest is not None
    assert b"payload-that-must-stay-hidden" not in at_rest
    assert b"access_token" not in at_rest
    assert at_rest.startswith(b"kb1.")

    store.delete("cognito:pool:client:default")
    store.delete("cognito:pool:client:default")  # a missing key is no error
    assert store.load("cognito:pool:client:default") is None


def test_another_process_with_the_same_secret_reads_it(redis_clean: RedisServer) -> None:
    RedisStore(url=redis_clean.url, secret=SECRET).save("k", VALUE)
    with redis_clean.client() as client:
        assert RedisStore(client=client, secret=SECRET).load("k") == VALUE


def test_a_value_that_does_not_open_counts_as_absent(
    redis_clean: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    RedisStore(url=redis_clean.url, secret=SECRET).save("k", VALUE)
    assert RedisStore(url=redis_clean.url, secret="another secret").load("k") is None
    assert "does not open" in caplog.text

    with redis_clean.client() as raw:
        sealed = raw.get("keybearer:k")
        assert sealed is not None
        raw.set("keybearer:moved", sealed)  # the store key is bound into the seal
        raw.set("keybearer:plain", VALUE)
        raw.set("keybearer:garbage", b"kb1.!!!not-base64")
        raw.set("keybearer:short", b"kb1.AAAA")
        flipped = bytearray(sealed)
        flipped[-3] = ord("A") if flipped[-3] != ord("A") else ord("B")
        raw.set("keybearer:tampered", bytes(flipped))
    store = RedisStore(url=redis_clean.url, secret=SECRET)
    for key in ("moved", "plain", "garbage", "short", "tampered"):
        assert store.load(key) is None, key
    assert SECRET not in caplog.text


def test_prefixes_keep_stores_apart(redis_clean: RedisServer) -> None:
    one = RedisStore(url=redis_clean.url, prefix="one:", secret=SECRET)
    two = RedisStore(url=redis_clean.url, prefix="two:", secret=SECRET)
    one.save("k", VALUE)
    assert two.load("k") is None
    assert one.identity != two.identity
    assert one.identity == RedisStore(url=redis_clean.url, prefix="one:").identity
    assert SECRET not in repr(one)
    assert SECRET not in one.identity


def test_construction_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="exactly one of url= or client="):
        RedisStore()
    with pytest.raises(ConfigurationError, match="exactly one of url= or client="):
        RedisStore(url="redis://127.0.0.1:1/0", client=redis.Redis())
    with pytest.raises(ConfigurationError, match="lease"):
        RedisStore(url="redis://127.0.0.1:1/0", lease=0)


def test_an_unsealed_store_needs_a_secret_from_somewhere(redis_clean: RedisServer) -> None:
    store = RedisStore(url=redis_clean.url)
    with pytest.raises(ConfigurationError, match="no sealing key"):
        store.load("k")
    with pytest.raises(ConfigurationError, match="pass RedisStore"):
        keybearer.OAuthClient.cognito("us-east-1_AbCdEf123", "publicclient", store=store)
    # An app client with a secret seals with it.
    client = keybearer.OAuthClient.cognito(
        "us-east-1_AbCdEf123", "secretclient", SECRET, store=store
    )
    assert client.tokens is None
    sealed_twice = store.sealed_with(SECRET)
    sealed_twice.save("k", VALUE)
    assert RedisStore(url=redis_clean.url, secret=SECRET).load("k") == VALUE
    assert sealed_twice.sealed_with("another") is sealed_twice


# -- the lock --


def test_the_lock_is_exclusive_and_released_by_its_holder_only(redis_clean: RedisServer) -> None:
    store = RedisStore(url=redis_clean.url, secret=SECRET)
    first = store.process_lock("k")
    second = store.process_lock("k")
    assert first.acquire(timeout=1.0)
    assert first.held
    assert not second.acquire(timeout=0.05)
    second.release()  # not held: a no-op, and the first keeps the lock
    assert not store.process_lock("k").acquire(timeout=0)
    first.release()
    assert not first.held
    assert second.acquire(timeout=1.0)
    second.release()


def test_a_dead_holder_blocks_no_one_longer_than_the_lease(redis_clean: RedisServer) -> None:
    store = RedisStore(url=redis_clean.url, secret=SECRET, lease=0.3)
    abandoned = store.process_lock("k")
    assert abandoned.acquire(timeout=0)
    # Never released (its process died): the lease frees it.
    waiter = store.process_lock("k")
    assert waiter.acquire(timeout=10.0)
    # The old holder waking up must not free the new holder's lock.
    abandoned.release()
    assert not store.process_lock("k").acquire(timeout=0)
    waiter.release()


def test_the_lock_hands_over_between_threads(redis_clean: RedisServer) -> None:
    store = RedisStore(url=redis_clean.url, secret=SECRET)
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            lock = store.process_lock("k")
            assert lock.acquire(timeout=30.0)
            with guard:
                inside += 1
                most = max(most, inside)
            with guard:
                inside -= 1
            lock.release()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


async def test_async_lock(redis_clean: RedisServer) -> None:
    store = RedisStore(url=redis_clean.url, secret=SECRET)
    lock = store.process_lock("k")
    assert await lock.aacquire(timeout=1.0)
    assert not await store.process_lock("k").aacquire(timeout=0.05)
    await lock.arelease()
    assert await store.process_lock("k").aacquire(timeout=0)


# -- Redis faults --


def test_redis_down_means_absent_a_refused_write_and_no_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RedisServer().start()
    store = RedisStore(url=server.url, secret=SECRET, timeout=0.5)
    store.save("k", VALUE)
    server.stop()
    caplog.set_level(logging.WARNING, "keybearer")

    # Unreadable is not absent: keybearer reads a store that failed again next time.
    with pytest.raises(StoreError, match="Redis could not be read"):
        store.load("k")
    with pytest.raises(StoreError, match="Redis refused the write"):
        store.save("k", VALUE)
    with pytest.raises(StoreError, match="Redis refused the delete"):
        store.delete("k")
    assert store.process_lock("k").acquire(timeout=5.0) is False
    assert store.process_lock("k").acquire(timeout=5.0) is False
    # One warning a minute, not one per attempt.
    assert caplog.text.count("went on without the Redis lock") == 1
    assert SECRET not in caplog.text

    server.start()
    try:
        assert store.load("k") is None  # persistence off: the restarted Redis is empty
        store.save("k", VALUE)
        assert store.load("k") == VALUE
    finally:
        server.stop()
