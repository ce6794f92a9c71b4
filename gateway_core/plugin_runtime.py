"""Plugin runtimes: created with their gateway, handed to handlers and hooks, told of sessions.

Strategy: one :class:`GatewayLifecycle` per running gateway holds the runtime of every plugin
that registered a factory (``gateway_register_runtime``) and is the one place the gateway's
lifecycle events go through: each event calls the runtimes' methods, then the plugins'
lifecycle hooks with their own runtime as ``runtime``. So a handler finds its runtime as
``ctx.runtime`` (no registry, no per-packet scan), and several gateways in one process never
share one. :class:`InWorldRuntime` is the shape the chat and world plugins share: a drop
counter and the sessions that entered the world, told when one enters or leaves.
"""

from __future__ import annotations

import abc
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, Self

from prometheus_client import Counter

from gateway_core.context import GatewayView, PluginRuntime
from gateway_core.registry import RuntimeRegistration
from gateway_core.session import Session, SessionState

__all__ = ["GatewayLifecycle", "InWorldRuntime", "LifecycleHooks"]

log = logging.getLogger("gateway.plugins")

#: The runtime method each lifecycle hook corresponds to.
_RUNTIME_METHODS: dict[str, str] = {
    "gateway_session_opened": "session_opened",
    "gateway_session_state_changed": "session_state_changed",
    "gateway_session_closed": "session_closed",
}


class LifecycleHooks(Protocol):
    """What :class:`GatewayLifecycle` needs of the plugin manager."""

    async def call_lifecycle(
        self, hook_name: str, *, runtimes: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None: ...


class GatewayLifecycle:
    """The runtimes of one gateway and the dispatch of its lifecycle events.

    ``on_error(plugin, what)`` counts a runtime method that raised (logged here).
    """

    def __init__(
        self,
        registrations: Mapping[str, RuntimeRegistration],
        hooks: LifecycleHooks,
        *,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self._registrations = dict(registrations)
        self._hooks = hooks
        self._on_error = on_error
        #: The runtime of each plugin that has one on this gateway.
        self.runtimes: dict[str, Any] = {}

    def get(self, plugin: str) -> Any:
        """The runtime of ``plugin`` (``None`` when it has none)."""
        return self.runtimes.get(plugin)

    async def start(self, gateway: GatewayView) -> None:
        """Create every runtime (``factory(gateway)``) and start it. A factory or a start
        that raises fails start-up: a gateway without a plugin's runtime would be half up."""
        for plugin, registration in self._registrations.items():
            runtime = registration.factory(gateway)
            if runtime is None:
                continue
            self.runtimes[plugin] = runtime
            await _maybe_await(getattr(runtime, "start", _none)())

    async def stop(self) -> None:
        """Stop every runtime (newest first), isolating failures, and forget them."""
        for plugin, runtime in reversed(list(self.runtimes.items())):
            await self._call(plugin, runtime, "stop")
        self.runtimes.clear()

    async def call_lifecycle(self, hook_name: str, **kwargs: Any) -> None:
        """Run lifecycle event ``hook_name``: the runtimes' method, then the hooks."""
        method = _RUNTIME_METHODS.get(hook_name)
        if method is not None:
            for plugin, runtime in list(self.runtimes.items()):
                await self._call(plugin, runtime, method, *kwargs.values())
        await self._hooks.call_lifecycle(hook_name, runtimes=self.runtimes, **kwargs)

    async def session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> None:
        """``gateway_session_state_changed`` (bound into the connection registry)."""
        await self.call_lifecycle("gateway_session_state_changed", session=session, old=old,
                                  new=new)

    async def _call(self, plugin: str, runtime: Any, method: str, *args: Any) -> None:
        function = getattr(runtime, method, None)
        if function is None:
            return
        try:
            await _maybe_await(function(*args))
        except Exception:
            log.exception("plugin %s: runtime raised in %s", plugin, method)
            if self._on_error is not None:
                self._on_error(plugin, method)


def _none() -> None:
    return None


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if inspect.isawaitable(value):
        await value


class InWorldRuntime(PluginRuntime, abc.ABC):
    """Base of a runtime that follows the sessions in the world (chat, world).

    ``sessions`` are the sessions that entered the world, by character id. ``drops`` counts
    (by reason) the requests the plugin did not carry out: ``gateway_<PLUGIN>_drops_total
    {reason}`` on the gateway's metrics registry, described by ``DROPS_HELP``. ``records``
    writes the session records the plugin claimed.
    """

    #: The plugin's name: metric name, log prefix.
    PLUGIN: ClassVar[str]
    #: Help text of the drop counter.
    DROPS_HELP: ClassVar[str]
    #: The backend service the runtime works through, and what is lost without its client.
    SERVICE: ClassVar[str]
    WITHOUT_SERVICE: ClassVar[str]

    @classmethod
    def create(cls, gateway: GatewayView) -> Self | None:
        """The runtime factory to register: a runtime of ``gateway``, or none (logged) when
        the gateway has no client of :attr:`SERVICE`."""
        if cls.SERVICE not in gateway.clients:
            logging.getLogger(cls.__module__).warning(
                "%s: no %s client; %s", cls.PLUGIN, cls.SERVICE, cls.WITHOUT_SERVICE
            )
            return None
        return cls(gateway)

    def __init__(self, gateway: GatewayView) -> None:
        super().__init__(gateway)
        self.sessions: dict[int, Session] = {}
        self.records = gateway.record_writer(self.PLUGIN)
        self.drops = Counter(
            f"gateway_{self.PLUGIN}_drops", self.DROPS_HELP, ["reason"],
            registry=gateway.metrics_registry,
        )

    @property
    def app(self) -> GatewayView:
        """The gateway this runtime runs on."""
        return self.gateway

    def drop(self, session: Session, reason: str, detail: str = "") -> None:
        """Count (and log, on the logger of the runtime's module) a request that was not
        carried out."""
        self.drops.labels(reason).inc()
        logging.getLogger(type(self).__module__).info(
            "%s: dropped a request of connection #%d (%s)%s",
            self.PLUGIN,
            session.connection_id,
            reason,
            f": {detail}" if detail else "",
        )

    async def session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> None:
        """Enter on IN_WORLD; leave when the session leaves it."""
        if new is SessionState.IN_WORLD:
            await self.entered(session)
        elif old is SessionState.IN_WORLD:
            await self.left(session)

    async def session_closed(self, session: Session) -> None:
        """The connection is gone: it left the world."""
        await self.left(session)

    @abc.abstractmethod
    async def entered(self, session: Session) -> None:
        """``session`` entered the world."""

    @abc.abstractmethod
    async def left(self, session: Session) -> None:
        """``session`` left the world or closed."""
