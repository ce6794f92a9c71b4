"""The router without sockets: per-plugin contexts, gRPC call context, error isolation.

The connection side is replaced at its boundary (the session ``Outbox``) by a recorder.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from gateway_core.backend_clients import grpc_call_context
from gateway_core.metrics import GatewayMetrics
from gateway_core.plugins import PacketRegistration, PluginError
from gateway_core.protocol.packets import CliAlive, CliNormalChat
from gateway_core.router import FatalHandlerError, PacketContext, Router
from gateway_core.session import ConnectionRegistry, Session, SessionState

pytestmark = pytest.mark.anyio


class Outbox:
    """Outbox boundary: records closes and packets instead of writing to a socket."""

    def __init__(self) -> None:
        self.closed = False
        self.reasons: list[str] = []
        self.packets: list[Any] = []

    def send_packet(self, packet: Any) -> None:
        self.packets.append(packet)

    def send_encoded(self, data: bytes, type_name: str) -> None:
        self.packets.append(data)

    def close(self, reason: str) -> None:
        self.closed = True
        self.reasons.append(reason)


class Settings:
    POLICY_BEFORE_AUTH = "close"
    POLICY_AFTER_AUTH = "drop"
    PACKET_PROFILE = "2026"


def build(handlers: dict[str, Any], clients: dict[str, Any] | None = None) -> tuple[
        Router, Session, Outbox, GatewayMetrics]:
    service = ConnectionRegistry(encode=lambda p: b"")
    metrics = GatewayMetrics(process_metrics=False)
    regs = {name: PacketRegistration(plugin, name, handler, frozenset(SessionState))
            for name, (plugin, handler) in handlers.items()}
    router = Router(regs, connections=service, settings=Settings(), metrics=metrics,
                    clients_for=lambda plugin: (clients or {}).get(plugin, {}))
    outbox = Outbox()
    session = Session(1, outbox=outbox)
    service.add(session)
    return router, session, outbox, metrics


async def test_contexts_are_cached_per_plugin_and_carry_its_clients() -> None:
    seen: list[PacketContext] = []

    async def handler(ctx: PacketContext, packet: Any) -> None:
        seen.append(ctx)

    router, session, _, _ = build(
        {"PAKCS_ALIVE": ("a", handler), "PAKCS_NORMAL_CHAT": ("b", handler)},
        clients={"b": {"auth": "stub"}},
    )
    contexts: dict[str, PacketContext] = {}
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), contexts)
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), contexts)
    await router.dispatch(session, "PAKCS_NORMAL_CHAT", CliNormalChat(message=b""), contexts)
    assert seen[0] is seen[1] and seen[0] is not seen[2]
    assert (seen[0].plugin, dict(seen[0].clients)) == ("a", {})
    assert (seen[2].plugin, dict(seen[2].clients)) == ("b", {"auth": "stub"})
    assert seen[0].session is session and seen[0].settings.PACKET_PROFILE == "2026"


async def test_backend_call_context_is_set_only_around_handlers_with_clients() -> None:
    seen: list[Any] = []

    async def handler(ctx: PacketContext, packet: Any) -> None:
        seen.append(grpc_call_context.get())

    router, session, _, _ = build(
        {"PAKCS_ALIVE": ("plain", handler), "PAKCS_NORMAL_CHAT": ("backend", handler)},
        clients={"backend": {"auth": object()}},
    )
    session.user_id = 42
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    await router.dispatch(session, "PAKCS_NORMAL_CHAT", CliNormalChat(message=b""), {})
    assert seen[0] is None
    assert seen[1].user_id == 42 and seen[1].connection_id == 1
    assert grpc_call_context.get() is None


async def test_handler_exceptions_never_escape_the_router() -> None:
    async def broken(ctx: PacketContext, packet: Any) -> None:
        raise KeyError("bug")

    async def fatal(ctx: PacketContext, packet: Any) -> None:
        raise FatalHandlerError("stop")

    router, session, outbox, metrics = build(
        {"PAKCS_ALIVE": ("p", broken), "PAKCS_NORMAL_CHAT": ("p", fatal)})
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    assert not outbox.closed
    assert metrics.registry.get_sample_value("gateway_handler_errors_total",
                                             {"plugin": "p"}) == 1
    await router.dispatch(session, "PAKCS_NORMAL_CHAT", CliNormalChat(message=b""), {})
    assert outbox.reasons == ["fatal handler error: stop"]
    assert metrics.registry.get_sample_value(
        "gateway_packet_processing_seconds_count", {"type": "PAKCS_ALIVE"}) == 1


async def test_unknown_packet_closes_before_auth_and_is_dropped_after() -> None:
    router, session, outbox, metrics = build({})
    await session.set_state(SessionState.IN_WORLD)
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    assert not outbox.closed
    session._state = SessionState.CONNECTED
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    assert outbox.reasons == ["unknown_type: PAKCS_ALIVE"]
    assert metrics.registry.get_sample_value("gateway_router_drops_total",
                                             {"reason": "unknown_type"}) == 2


def test_router_rejects_names_outside_the_profile_and_bad_policies() -> None:
    service = ConnectionRegistry(encode=lambda p: b"")
    metrics = GatewayMetrics(process_metrics=False)

    async def handler(ctx: PacketContext, packet: Any) -> None:
        pass

    reg = PacketRegistration("p", "NOPE", handler, frozenset({SessionState.CONNECTED}))
    with pytest.raises(PluginError, match="'p' registered NOPE"):
        Router({"NOPE": reg}, connections=service, settings=Settings(), metrics=metrics,
               known_packet=lambda name: name != "NOPE")

    class Bad(Settings):
        POLICY_AFTER_AUTH = "explode"

    with pytest.raises(ValueError, match="explode"):
        Router({}, connections=service, settings=Bad(), metrics=metrics)


async def test_handler_that_finishes_without_suspending_is_done_without_an_await() -> None:
    async def handler(ctx: PacketContext, packet: Any) -> None:
        ctx.reply(packet)

    router, session, outbox, metrics = build({"PAKCS_ALIVE": ("p", handler)})
    assert router.dispatch_nowait(session, "PAKCS_ALIVE", CliAlive(), {}) is None
    assert outbox.packets == [CliAlive()]
    assert metrics.registry.get_sample_value(
        "gateway_packet_processing_seconds_count", {"type": "PAKCS_ALIVE"}) == 1


async def test_suspending_handler_is_finished_by_the_returned_awaitable() -> None:
    seen: list[Any] = []

    async def handler(ctx: PacketContext, packet: Any) -> None:
        ctx.reply(CliAlive())
        seen.append(grpc_call_context.get())
        await anyio.sleep(0.01)
        seen.append(grpc_call_context.get())
        with anyio.fail_after(5):  # needs the current task, as in any handler
            await anyio.sleep(0)
        raise KeyError("after the suspension")

    router, session, outbox, metrics = build({"PAKCS_ALIVE": ("p", handler)},
                                             clients={"p": {"auth": object()}})
    rest = router.dispatch_nowait(session, "PAKCS_ALIVE", CliAlive(), {})
    assert rest is not None
    assert outbox.packets == [CliAlive()]  # what ran before the suspension
    assert metrics.registry.get_sample_value(
        "gateway_packet_processing_seconds_count", {"type": "PAKCS_ALIVE"}) is None
    await rest
    assert seen[0] is seen[1] and seen[0].connection_id == 1
    assert grpc_call_context.get() is None
    assert metrics.registry.get_sample_value("gateway_handler_errors_total",
                                             {"plugin": "p"}) == 1
    assert metrics.registry.get_sample_value(
        "gateway_packet_processing_seconds_count", {"type": "PAKCS_ALIVE"}) == 1


async def test_fatal_error_after_a_suspension_closes_the_connection() -> None:
    async def handler(ctx: PacketContext, packet: Any) -> None:
        await anyio.sleep(0)
        raise FatalHandlerError("later")

    router, session, outbox, _ = build({"PAKCS_ALIVE": ("p", handler)})
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    assert outbox.reasons == ["fatal handler error: later"]


async def test_handler_returning_another_awaitable_is_awaited() -> None:
    done: list[str] = []

    class Step:
        def __await__(self) -> Any:
            yield from anyio.sleep(0).__await__()
            done.append("awaited")

    def handler(ctx: PacketContext, packet: Any) -> Step:
        return Step()

    router, session, _, metrics = build({"PAKCS_ALIVE": ("p", handler)})
    await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    assert done == ["awaited"]
    assert metrics.registry.get_sample_value(
        "gateway_packet_processing_seconds_count", {"type": "PAKCS_ALIVE"}) == 1


async def test_cancelling_a_suspended_handler_reaches_the_handler() -> None:
    events: list[str] = []

    async def handler(ctx: PacketContext, packet: Any) -> None:
        try:
            await anyio.sleep(30)
        except BaseException as exc:
            events.append(type(exc).__name__)
            raise
        finally:
            events.append("cleaned up")

    router, session, _, _ = build({"PAKCS_ALIVE": ("p", handler)},
                                  clients={"p": {"auth": object()}})
    with anyio.move_on_after(0.05):
        await router.dispatch(session, "PAKCS_ALIVE", CliAlive(), {})
    assert events == ["CancelledError", "cleaned up"]
    assert grpc_call_context.get() is None
