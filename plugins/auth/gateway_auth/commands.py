"""``gateway account``: administer accounts through the auth service.

The command talks gRPC to the auth service (``cli.service_channel("auth")``): the remote one when
AUTH_SERVICE_ADDR is set, else the reference service started in-process for the command, on the
same SQLite file under DATA_DIR that ``gateway serve`` uses. Plain passwords are hashed to
SHA-256 hex here, exactly as the game client does, before anything leaves the process.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_auth.service.passwords import client_password_hash

if TYPE_CHECKING:
    from gateway_core.api import CommandContext, CommandRegistrar

# AuthAsyncStub exists only for type checkers.
_Action = Callable[["auth_pb2_grpc.AuthAsyncStub", argparse.Namespace], Awaitable[int]]


def register_account_command(register: CommandRegistrar) -> None:
    """Register ``gateway account`` with its subcommands."""
    register("account", help="create, list, ban and unban accounts", configure=configure, run=run)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``account`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an account")
    create.add_argument("name", help="username (1-32 letters, digits, '_', '-', '.')")
    create.add_argument("--password", help="plain password (prompted for when omitted)")
    create.add_argument("--access", type=int, default=1, help="access level (default 1)")
    create.set_defaults(account_action=_create)
    listing = sub.add_parser("list", help="list accounts")
    listing.set_defaults(account_action=_list)
    ban = sub.add_parser("ban", help="ban an account (ends its sessions)")
    ban.add_argument("name")
    ban.set_defaults(account_action=_ban)
    unban = sub.add_parser("unban", help="lift a ban")
    unban.add_argument("name")
    unban.set_defaults(account_action=_unban)
    access = sub.add_parser("set-access", help="set an account's access level")
    access.add_argument("name")
    access.add_argument("level", type=int)
    access.set_defaults(account_action=_set_access)


async def run(args: argparse.Namespace, cli: CommandContext) -> int:
    """Run the chosen subcommand against the auth service; returns the exit status."""
    action: _Action = args.account_action
    try:
        async with cli.service_channel("auth") as channel:
            stub: auth_pb2_grpc.AuthAsyncStub = auth_pb2_grpc.AuthStub(channel)
            return await action(stub, args)
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.details() or exc.code().name}", file=sys.stderr)
        return 1


def _read_password() -> str | None:
    if not sys.stdin.isatty():  # piped: one line, no prompt
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        print("error: the passwords differ", file=sys.stderr)
        return None
    return first


async def _create(stub: auth_pb2_grpc.AuthAsyncStub, args: argparse.Namespace) -> int:
    password = args.password if args.password is not None else _read_password()
    if password is None:
        return 1
    if not password:
        print("error: the password is empty", file=sys.stderr)
        return 1
    if not 0 <= args.access <= 0xFFFF:
        print("error: --access must be 0-65535", file=sys.stderr)
        return 1
    account = await stub.CreateAccount(
        auth_pb2.CreateAccountRequest(
            username=args.name,
            password_hash=client_password_hash(password),
            access_level=args.access,
        )
    )
    print(
        f"created account {account.username} (id {account.user_id}, access {account.access_level})"
    )
    return 0


def _when(seconds: int) -> str:
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


async def _list(stub: auth_pb2_grpc.AuthAsyncStub, args: argparse.Namespace) -> int:
    rows: list[Any] = []
    offset = 0
    while True:
        page = await stub.ListAccounts(auth_pb2.ListAccountsRequest(offset=offset, limit=1000))
        rows.extend(page.accounts)
        offset += len(page.accounts)
        if not page.accounts or offset >= page.total:
            break
    header = f"{'ID':>6}  {'USERNAME':<32}  {'ACCESS':>6}  {'STATE':<7}  LAST LOGIN (UTC)"
    print(header)
    for a in rows:
        state = "banned" if a.banned else ("online" if a.online else "offline")
        print(
            f"{a.user_id:>6}  {a.username:<32}  {a.access_level:>6}  {state:<7}  "
            f"{_when(a.last_login_at)}"
        )
    print(f"{len(rows)} account(s)")
    return 0


async def _ban(stub: auth_pb2_grpc.AuthAsyncStub, args: argparse.Namespace) -> int:
    account = await stub.SetBanned(auth_pb2.SetBannedRequest(username=args.name, banned=True))
    print(f"banned {account.username}")
    return 0


async def _unban(stub: auth_pb2_grpc.AuthAsyncStub, args: argparse.Namespace) -> int:
    account = await stub.SetBanned(auth_pb2.SetBannedRequest(username=args.name, banned=False))
    print(f"unbanned {account.username}")
    return 0


async def _set_access(stub: auth_pb2_grpc.AuthAsyncStub, args: argparse.Namespace) -> int:
    if not 0 <= args.level <= 0xFFFF:
        print("error: the level must be 0-65535", file=sys.stderr)
        return 1
    account = await stub.SetAccessLevel(
        auth_pb2.SetAccessLevelRequest(username=args.name, access_level=args.level)
    )
    print(f"{account.username}: access level {account.access_level}")
    return 0
