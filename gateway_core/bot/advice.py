"""What a bot failure means and what to do about it: the failure summary of ``gateway bot``.

Strategy: a failed :class:`~gateway_core.bot.results.FlowResult` names its step, its result
code (a refusal) and its kind of error; :func:`advise` matches those against a short table of
the failures an operator meets (``ALREADY_LOGGEDIN`` after an earlier run, login ``FAILED``
under a burst that outgrows the argon2 queue, an unreachable leg address, ...) and returns a
meaning and an action naming the setting or option involved. Unknown combinations get a
generic answer by kind, never nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_core.bot.results import FlowResult

__all__ = ["Advice", "advise"]


@dataclass(frozen=True, slots=True)
class Advice:
    """What a failure means, and what to do."""

    meaning: str
    action: str


_JOINS = ("char_join", "world_join")
_CONNECTS = ("char_connect", "world_connect")

_ALREADY_LOGGEDIN = Advice(
    "the account already has a live session: clients of an earlier run that did not log out "
    "(a session outlives its last connection by the gateway's SESSION_GRACE, default 60 s), or "
    "someone playing it",
    "wait SESSION_GRACE seconds, or log those clients out (PAKCS_LOGOUT_REQ ends a session at "
    "once; this bot sends it after a failure and on Ctrl-C), or use other accounts (--user, "
    "--first-index)",
)
_LOGIN_FAILED = Advice(
    "the gateway got no answer from the auth service in time: under a burst of logins the "
    "argon2 queue (AUTH_HASH_CONCURRENCY hashes at a time) outgrows GRPC_DEADLINE; or the auth "
    "service is down",
    "start the clients at a rate the auth service keeps up with (--ramp, e.g. --ramp 20), or "
    "raise AUTH_HASH_CONCURRENCY (up to the auth host's cores) or GRPC_DEADLINE; the gateway "
    "log names the cause",
)

#: (step, code) -> advice; the step None matches any step.
_BY_CODE: dict[tuple[str | None, str], Advice] = {
    ("login", "ALREADY_LOGGEDIN"): _ALREADY_LOGGEDIN,
    ("login", "FAILED"): _LOGIN_FAILED,
    ("login", "UNKNOWN_ACCOUNT"): Advice(
        "there is no account of that name",
        "create it (gateway account create NAME --password PW), or run the gateway with "
        "AUTH_CREATE_ACCOUNT_ON_FAIL=true",
    ),
    ("login", "INVALID_PASSWORD"): Advice(
        "the password does not match the account's", "check --password"),
    ("login", "NO_RIGHT_TO_CONNECT"): Advice(
        "the account may not connect (banned, or below the access level required)",
        "gateway account unban NAME, or gateway account set-access NAME LEVEL",
    ),
    ("login", "REFUSED_ACCOUNT"): Advice(
        "the auth service refused the account", "see gateway account list and the gateway log"),
    ("login", "TOO_MANY_USERS"): Advice(
        "the server is full", "fewer clients, or raise the capacity of the world's channels"),
    ("select_server", "FAILED"): Advice(
        "server select failed: the session ended meanwhile, or the auth service did not answer "
        "within GRPC_DEADLINE",
        "check the gateway log; under load use --ramp",
    ),
    ("select_server", "FULL"): Advice("the channel is full", "choose another --channel-id"),
    ("select_server", "INVALID_CHANNEL"): Advice(
        "the server or channel does not exist", "check --server-id and --channel-id"),
    ("create_character", "NAME_TAKEN"): Advice(
        "another account has a character of that name",
        "choose another --character (with '{i}' each client gets its own)",
    ),
    ("create_character", "TOO_MANY_CHARS"): Advice(
        "the account has as many characters as it may have",
        "play an existing one (--character NAME, or none for the first listed)",
    ),
    ("create_character", "INVALID_VALUE"): Advice(
        "the character name (or looks) is not allowed", "choose another --character"),
    ("create_character", "BLOCKED"): Advice(
        "the character name is blocked", "choose another --character"),
    ("create_character", "FAILED"): Advice(
        "the character service did not create it (down, or slower than GRPC_DEADLINE)",
        "check the gateway log; under load use --ramp",
    ),
}

_JOIN_REFUSED = Advice(
    "the next leg did not accept the session: it ended or expired between the legs (a client "
    "slower than AUTH_SESSION_TTL, a restarted auth service) or the auth service timed out",
    "check the gateway log; under load use --ramp",
)

_BY_KIND: dict[str, Advice] = {
    "interrupted": Advice(
        "stopped by Ctrl-C before it finished",
        "nothing, unless its release failed (then its session ends after SESSION_GRACE)",
    ),
    "total_timeout": Advice(
        "the run's --total-timeout passed before this client finished",
        "raise --total-timeout, start the clients at a rate (--ramp), or see which step is "
        "slow in the step timings",
    ),
    "timeout": Advice(
        "no reply within --timeout: the backend behind that step is slow or overloaded",
        "raise --timeout or start the clients at a rate (--ramp); the gateway log and "
        "metrics name the cause",
    ),
    "closed": Advice(
        "the gateway closed the connection",
        "the gateway log says why (flood limit MAX_PACKETS_PER_SECOND, IDLE_TIMEOUT, a "
        "protocol error, a ban, a shutdown)",
    ),
    "connect": Advice(
        "nothing accepted the TCP connection",
        "start the gateway (gateway serve) or check --host and --port (default: the "
        "SERVICE_PORT setting); MAX_CONCURRENT_CONNECTIONS caps the connections",
    ),
    "bad_data": Advice(
        "the server sent bytes the protocol rejects: usually a cipher or numbering mismatch",
        "match --cipher and --profile to the gateway's CIPHER and PACKET_PROFILE",
    ),
    "unexpected": Advice(
        "the server sent the packets of a step out of order",
        "a gateway or plugin bug: capture the flow and report it",
    ),
    "flow": Advice("the flow could not go on", "see the error message"),
    "cannot_send": Advice(
        "a name or message cannot be encoded on the wire (Latin-1 only)",
        "use Latin-1 names and messages",
    ),
    "internal": Advice("an error inside the bot", "report it with the --json output"),
    "refused": Advice("the server refused the request with that result code",
                      "see the gateway log"),
}


def advise(result: FlowResult) -> Advice | None:
    """What the failure of ``result`` means and what to do; ``None`` for a flow that
    completed."""
    if result.ok:
        return None
    step = result.failed_step or ""
    kind = result.error_kind or ""
    if result.code is not None:
        found = _BY_CODE.get((step, result.code)) or _BY_CODE.get((None, result.code))
        if found is not None:
            return found
        if step in _JOINS:
            return _JOIN_REFUSED
    if kind == "connect" and step in _CONNECTS:
        return Advice(
            "the address the gateway handed out for the next leg cannot be reached",
            "set PUBLIC_HOST and PUBLIC_PORT on the gateway to an address the clients reach, "
            "or run the bot with --no-follow",
        )
    if kind == "timeout" and step == "login":
        return Advice("the login got no reply within --timeout: " + _LOGIN_FAILED.meaning,
                      _LOGIN_FAILED.action)
    if kind == "flow" and step == "char_list":
        return Advice("the character is not on the account's list",
                      "add --create, or name an existing one with --character")
    return _BY_KIND.get(kind, Advice("the flow failed", "see the error message"))
