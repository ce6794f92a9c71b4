"""argon2 work bounded in concurrency and by deadlines; the session binding of joins."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time

import pytest
from argon2 import PasswordHasher
from gateway_auth.service.options import SETTINGS
from gateway_auth.service.passwords import (
    Argon2Params,
    HashBusy,
    PasswordService,
    SessionBinder,
    client_password_hash,
    default_hash_concurrency,
)

from ..conftest import FAST_ARGON2

pytestmark = pytest.mark.anyio

PW = client_password_hash("secret")
OTHER_PW = client_password_hash("not-the-secret")
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PW)


def test_defaults_are_owasps_argon2id_recommendation() -> None:
    assert Argon2Params() == Argon2Params(time_cost=2, memory_kib=19 * 1024, parallelism=1)
    defaults = {name: default for name, default, _validate, _doc in SETTINGS}
    assert defaults["AUTH_ARGON2_TIME_COST"] == 2
    assert defaults["AUTH_ARGON2_MEMORY_KIB"] == 19456
    assert defaults["AUTH_ARGON2_PARALLELISM"] == 1
    assert defaults["AUTH_HASH_CONCURRENCY"] == 0


def test_zero_concurrency_means_one_slot_per_cpu() -> None:
    assert PasswordService(FAST_ARGON2).concurrency == default_hash_concurrency() >= 1
    assert PasswordService(FAST_ARGON2, concurrency=3).concurrency == 3


async def test_the_default_parameters_hash_and_verify() -> None:
    service = PasswordService(Argon2Params())
    try:
        stored = await service.hash(PW)
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert await service.verify(stored, PW)
        assert not await service.verify(stored, OTHER_PW)
        assert not service.needs_rehash(stored)
    finally:
        service.close()


async def test_hashes_made_with_other_parameters_verify_and_need_a_rehash() -> None:
    old = PasswordHasher(time_cost=3, memory_cost=1024, parallelism=4).hash(PW)
    service = PasswordService(FAST_ARGON2)
    try:
        assert await service.verify(old, PW)
        assert not await service.verify(old, OTHER_PW)
        assert service.needs_rehash(old)
        assert not service.needs_rehash(await service.hash(PW))
        assert not await service.verify("not an argon2 hash", PW)
        assert service.needs_rehash("not an argon2 hash")
    finally:
        service.close()


async def test_a_deadline_already_too_close_is_busy_at_once() -> None:
    service = PasswordService(FAST_ARGON2, concurrency=1)
    with pytest.raises(HashBusy):
        await service.hash(PW, deadline=time.monotonic())
    assert service.operations == 0


async def test_a_caller_waiting_past_its_deadline_is_busy_and_later_ones_are_served() -> None:
    service = PasswordService(FAST_ARGON2, concurrency=1)
    release = threading.Event()
    try:
        # The boundary replaced here: the argon2 work itself, by one that blocks until told.
        holder = asyncio.ensure_future(service._run(None, lambda: release.wait(10)))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(HashBusy):
            await service.verify(FAST_HASH, PW, deadline=time.monotonic() + 0.3)
        assert time.monotonic() - started < 5.0  # answered, not left hanging with the holder
        release.set()
        assert await holder
        assert await service.verify(FAST_HASH, PW, deadline=time.monotonic() + 5.0)
    finally:
        release.set()
        service.close()


async def test_a_cancelled_caller_keeps_its_slot_until_its_thread_is_done() -> None:
    service = PasswordService(FAST_ARGON2, concurrency=1)
    release = threading.Event()
    try:
        holder = asyncio.ensure_future(service._run(None, lambda: release.wait(10)))
        await asyncio.sleep(0.05)
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        # The thread still runs: its slot is not free yet.
        with pytest.raises(HashBusy):
            await service.hash(PW, deadline=time.monotonic() + 0.2)
        release.set()
        assert await service.verify(FAST_HASH, PW, deadline=time.monotonic() + 5.0)
    finally:
        release.set()
        service.close()


async def test_at_most_concurrency_operations_run_at_once() -> None:
    service = PasswordService(FAST_ARGON2, concurrency=2)
    lock = threading.Lock()
    running = peak = 0

    def work() -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return True

    try:
        results = await asyncio.gather(*(service._run(None, work) for _ in range(10)))
    finally:
        service.close()
    assert results == [True] * 10
    assert 1 <= peak <= 2
    assert service.operations == 10



def test_a_binding_matches_only_the_bound_hash_account_and_credential() -> None:
    binder = SessionBinder()
    binding = binder.bind(7, FAST_HASH, PW)
    assert binder.check(binding, 7, FAST_HASH, PW) is True
    assert binder.check(binding, 7, FAST_HASH, OTHER_PW) is False
    assert binder.check(binding, 8, FAST_HASH, PW) is False
    assert binder.check(binding, 7, FAST_HASH + "x", PW) is False  # the password changed
    assert binder.check(binding.upper(), 7, FAST_HASH, PW) is None  # key id mismatch


def test_a_binding_of_another_key_or_none_is_left_to_argon2() -> None:
    binding = SessionBinder().bind(7, FAST_HASH, PW)
    other = SessionBinder()
    assert other.check(binding, 7, FAST_HASH, PW) is None
    assert other.check("", 7, FAST_HASH, PW) is None


def test_a_binding_does_not_contain_the_client_hash_or_its_plain_digest() -> None:
    binding = SessionBinder().bind(7, FAST_HASH, PW)
    _key_id, _, mac = binding.partition("$")
    assert len(mac) == 64 and PW not in binding
    assert mac != hashlib.sha256(PW.encode()).hexdigest()
    assert SessionBinder().bind(7, FAST_HASH, PW).partition("$")[2] != mac  # keyed per process
