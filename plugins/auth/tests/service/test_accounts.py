"""The account part of the reference auth service (:mod:`gateway_auth.service.accounts`):
create, list, ban/unban and set the access level of accounts, over a real loopback gRPC server
and a real SQLite file."""

from __future__ import annotations

import grpc
import pytest
from gateway_protos.v1 import auth_pb2

from ..conftest import AuthHarness
from .test_auth_service import PW, create, expect_status, login, to_character_select

pytestmark = pytest.mark.anyio


async def test_create_account_returns_the_account(auth: AuthHarness) -> None:
    account = await auth.stub.CreateAccount(
        auth_pb2.CreateAccountRequest(username="Alice", password_hash=PW, access_level=2)
    )
    assert account.user_id > 0
    assert account.username == "Alice"
    assert account.access_level == 2
    assert not account.banned and not account.online
    assert account.created_at == int(auth.clock.now)


async def test_create_account_stores_an_argon2id_hash_not_the_password(auth: AuthHarness) -> None:
    await create(auth)
    [(stored,)] = await auth.sql("SELECT password_hash FROM auth_accounts")
    assert stored.startswith("$argon2id$")
    assert PW not in stored


async def test_create_account_rejects_a_taken_name_ignoring_case(auth: AuthHarness) -> None:
    await create(auth, "alice")
    await expect_status(
        auth.stub.CreateAccount(
            auth_pb2.CreateAccountRequest(username="ALICE", password_hash=PW, access_level=1)
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )


@pytest.mark.parametrize(
    ("username", "pw", "level"),
    [
        ("", PW, 1),
        ("x" * 33, PW, 1),
        ("bad name", PW, 1),
        ("alice", "", 1),
        ("alice", "abc", 1),
        ("alice", "g" * 64, 1),
        ("alice", PW, 70000),
    ],
)
async def test_create_account_rejects_bad_arguments(
    auth: AuthHarness, username: str, pw: str, level: int
) -> None:
    await expect_status(
        auth.stub.CreateAccount(
            auth_pb2.CreateAccountRequest(username=username, password_hash=pw, access_level=level)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_list_accounts_pages_by_id_and_shows_online(auth: AuthHarness) -> None:
    for name in ("a1", "a2", "a3"):
        await create(auth, name)
    await login(auth, "a2")
    listed = await auth.stub.ListAccounts(auth_pb2.ListAccountsRequest())
    assert [a.username for a in listed.accounts] == ["a1", "a2", "a3"]
    assert [a.online for a in listed.accounts] == [False, True, False]
    assert listed.total == 3
    page = await auth.stub.ListAccounts(auth_pb2.ListAccountsRequest(offset=1, limit=1))
    assert [a.username for a in page.accounts] == ["a2"]
    assert page.total == 3
    await expect_status(
        auth.stub.ListAccounts(auth_pb2.ListAccountsRequest(limit=5000)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_set_access_level_changes_it(auth: AuthHarness) -> None:
    await create(auth)
    account = await auth.stub.SetAccessLevel(
        auth_pb2.SetAccessLevelRequest(username="ALICE", access_level=300)
    )
    assert account.access_level == 300
    assert (await login(auth)).access_level == 300


async def test_set_access_level_of_unknown_account_is_not_found(auth: AuthHarness) -> None:
    await expect_status(
        auth.stub.SetAccessLevel(auth_pb2.SetAccessLevelRequest(username="nobody")),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_status(
        auth.stub.SetAccessLevel(auth_pb2.SetAccessLevelRequest(username="")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await create(auth)
    await expect_status(
        auth.stub.SetAccessLevel(
            auth_pb2.SetAccessLevelRequest(username="alice", access_level=1 << 20)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_ban_refuses_login_and_ends_sessions_unban_restores(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    banned = await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="alice", banned=True))
    assert banned.banned and not banned.online
    joined = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
    )
    assert joined.result == auth_pb2.JOIN_RESULT_INVALID_PASSWORD
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT
    await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="alice", banned=False))
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_set_banned_of_unknown_account_is_not_found(auth: AuthHarness) -> None:
    await expect_status(
        auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="nobody", banned=True)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_admin_rpc_answers_internal_when_the_database_fails(auth: AuthHarness) -> None:
    await auth.drop_table("auth_sessions")
    await expect_status(
        auth.stub.ListAccounts(auth_pb2.ListAccountsRequest()), grpc.StatusCode.INTERNAL
    )
