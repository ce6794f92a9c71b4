"""Failed-login throttling and abandoned logins (gateway_auth.service.throttle), the fair
password-hashing queue (gateway_auth.service.passwords.FairSlots), and both through the real
auth service on a loopback gRPC server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from gateway_auth.service import AuthOptions
from gateway_auth.service.passwords import FairSlots, HashBusy, client_password_hash
from gateway_auth.service.throttle import LoginAttempts, LoginThrottle, ThrottlePolicy
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_core.testing import ManualClock

from ..conftest import FAST_ARGON2, SESSION_TTL, serve_auth

pytestmark = pytest.mark.anyio

PW = client_password_hash("secret")
WRONG = client_password_hash("guess")
POLICY = ThrottlePolicy(free_failures=3, base_delay=1.0, max_delay=8.0, lock_failures=8,
                        lock_seconds=100.0, forget_seconds=1000.0)


def throttle(clock: ManualClock) -> LoginThrottle:
    return LoginThrottle(POLICY, ThrottlePolicy(free_failures=6, lock_failures=50),
                         clock=clock)


# -- the policy ------------------------------------------------------------------------------


def test_failures_past_the_free_ones_close_for_a_doubling_delay_then_lock() -> None:
    assert [POLICY.closed_for(n) for n in range(1, 10)] == [
        0, 0, 0, 1, 2, 4, 8, 100, 100]


def test_a_guesser_waits_and_the_owner_from_another_address_does_not() -> None:
    clock = ManualClock()
    guard = throttle(clock)
    for _ in range(4):
        assert guard.retry_after("Alice", "10.0.0.9") == 0
        guard.failed("alice", "10.0.0.9")
    assert guard.retry_after("ALICE", "10.0.0.9") == pytest.approx(1.0)
    assert guard.retry_after("alice", "192.168.1.5") == 0  # the owner, elsewhere
    clock.advance(1.0)
    assert guard.retry_after("alice", "10.0.0.9") == 0
    assert guard.refused == 1


def test_one_address_guessing_many_accounts_is_slowed_as_an_address() -> None:
    clock = ManualClock()
    guard = throttle(clock)
    for n in range(7):
        guard.failed(f"user{n}", "10.0.0.9")
    assert guard.retry_after("someone-new", "10.0.0.9") > 0
    assert guard.retry_after("someone-new", "10.0.0.10") == 0


def test_a_success_forgives_the_pair_and_old_failures_are_forgotten() -> None:
    clock = ManualClock()
    guard = throttle(clock)
    for _ in range(3):
        guard.failed("alice", "a")
    guard.succeeded("alice", "a")
    guard.failed("alice", "a")
    assert guard.retry_after("alice", "a") == 0  # the count started again
    for _ in range(5):
        guard.failed("bob", "b")
    assert guard.retry_after("bob", "b") > 0
    clock.advance(1001.0)
    assert guard.retry_after("bob", "b") == 0


def test_records_are_bounded() -> None:
    guard = LoginThrottle(POLICY, POLICY, max_records=100, clock=ManualClock())
    for n in range(1000):
        guard.failed("x", f"10.0.{n // 256}.{n % 256}")
    assert len(guard) == 100


def test_an_abandoned_attempt_ends_its_session_whether_it_finished_first_or_not() -> None:
    clock = ManualClock()
    attempts = LoginAttempts(keep_seconds=60.0, clock=clock)
    assert attempts.opened("a1", 11)
    assert attempts.abandon("a1") == 11           # finished first: end session 11
    assert attempts.abandon("a2") is None         # still running ...
    assert not attempts.opened("a2", 12)          # ... so its session is ended when it opens
    assert attempts.opened("a3", 13)
    clock.advance(61.0)
    assert attempts.abandon("a3") is None         # too old: forgotten


# -- the fair queue --------------------------------------------------------------------------


async def test_slots_go_in_turn_between_sources() -> None:
    slots = FairSlots(1)
    await slots.acquire("flood", None)
    served: list[str] = []

    async def wait(source: str) -> None:
        await slots.acquire(source, None)
        served.append(source)

    tasks = [asyncio.create_task(wait("flood")) for _ in range(5)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(wait("honest")))
    await asyncio.sleep(0)
    for _ in range(6):
        slots.release()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert served.index("honest") <= 1  # not behind the five flood logins


async def test_a_source_over_its_pending_cap_is_refused_at_once_and_timeouts_free_the_queue(
) -> None:
    slots = FairSlots(1, max_pending=2)
    await slots.acquire("a", None)
    waiting = [asyncio.create_task(slots.acquire("a", 5.0)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(HashBusy, match="too many"):
        await slots.acquire("a", 5.0)
    with pytest.raises(HashBusy, match="stayed busy"):
        await slots.acquire("b", 0.01)
    assert slots.pending("b") == 0
    slots.release()  # the first holder is done: the first waiter holds
    slots.release()  # ... done too: the second waiter holds
    await asyncio.gather(*waiting)
    slots.release()
    assert slots.free == 1


async def test_callers_without_a_source_address_are_queued_uncapped_in_their_turn() -> None:
    slots = FairSlots(1, max_pending=2)
    await slots.acquire("", None)
    waiting = [asyncio.create_task(slots.acquire("", 5.0)) for _ in range(5)]
    await asyncio.sleep(0)
    assert slots.pending("") == 5  # account creation by an operator tool is not refused
    for _ in waiting:
        slots.release()
        await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    slots.release()
    assert slots.free == 1


# -- through the service ---------------------------------------------------------------------


async def test_the_service_throttles_a_guesser_and_lets_the_owner_in(tmp_path: Path) -> None:
    options = AuthOptions(session_ttl=SESSION_TTL, argon2=FAST_ARGON2, pair_throttle=POLICY)
    async with serve_auth(tmp_path, options) as (service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            stub = auth_pb2_grpc.AuthStub(channel)
            await stub.CreateAccount(auth_pb2.CreateAccountRequest(
                username="alice", password_hash=PW, access_level=1))

            async def login(pw: str, source: str) -> auth_pb2.LoginReply:
                reply: auth_pb2.LoginReply = await stub.Login(auth_pb2.LoginRequest(
                    username="alice", password_hash=pw, source_address=source))
                return reply

            for _ in range(4):
                assert (await login(WRONG, "10.9.9.9")).result == (
                    auth_pb2.LOGIN_RESULT_INVALID_PASSWORD)
            checked = service.servicer.passwords.operations
            refused = await login(PW, "10.9.9.9")  # even the right password waits its turn
            assert refused.result == auth_pb2.LOGIN_RESULT_FAILED
            assert refused.retry_after_seconds > 0
            assert service.servicer.passwords.operations == checked  # no argon2 spent on it
            owner = await login(PW, "192.168.7.7")
            assert owner.result == auth_pb2.LOGIN_RESULT_OK


async def test_an_abandoned_login_leaves_no_session(tmp_path: Path) -> None:
    async with serve_auth(tmp_path) as (_service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            stub = auth_pb2_grpc.AuthStub(channel)
            await stub.CreateAccount(auth_pb2.CreateAccountRequest(
                username="alice", password_hash=PW, access_level=1))
            request = auth_pb2.LoginRequest(username="alice", password_hash=PW,
                                            attempt_id="attempt-1")
            assert (await stub.Login(request)).result == auth_pb2.LOGIN_RESULT_OK
            ended = await stub.AbandonLogin(auth_pb2.AbandonLoginRequest(attempt_id="attempt-1"))
            assert ended.ended
            # Given up before it ran: the login finishes FAILED and opens nothing.
            await stub.AbandonLogin(auth_pb2.AbandonLoginRequest(attempt_id="attempt-2"))
            late = await stub.Login(auth_pb2.LoginRequest(
                username="alice", password_hash=PW, attempt_id="attempt-2"))
            assert late.result == auth_pb2.LOGIN_RESULT_FAILED
            again = await stub.Login(auth_pb2.LoginRequest(username="alice", password_hash=PW))
            assert again.result == auth_pb2.LOGIN_RESULT_OK  # nothing was left behind
