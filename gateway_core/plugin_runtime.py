"""A plugin's per-gateway runtime: the state a plugin keeps for one running gateway (a
delivery stream to its backend, the sessions it hosts there, its drop counter).

Strategy: the runtime lives on its gateway, in ``app.plugin_state`` under the plugin's typed
:class:`~gateway_core.session.Key`, so it is created and ended with that gateway and several
gateways in one process never share one. ``gateway_startup``/``gateway_shutdown`` receive the
gateway; the session hooks and the packet handlers receive only a session, so
:class:`Runtimes` also indexes, weakly, the gateways that have a runtime of the plugin and finds
the one a session belongs to (:meth:`PluginRuntime.owns`). The plugin's lifecycle hooks are
one-line calls into :class:`Runtimes`; what a session entering or leaving the world means is the
runtime's :meth:`~PluginRuntime.entered` / :meth:`~PluginRuntime.left`.
"""

from __future__ import annotations

import abc
import logging
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from prometheus_client import Counter

from gateway_core.session import Key, Session, SessionState

__all__ = ["PluginRuntime", "Runtimes"]


class PluginRuntime(abc.ABC):
    """Base of a plugin's runtime on one gateway (``app``).

    ``sessions`` are the sessions the runtime tracks, by character id. ``drops`` counts (by
    reason) the requests the plugin did not carry out: ``gateway_<PLUGIN>_drops_total{reason}``
    on the gateway's metrics registry, described by ``DROPS_HELP``.
    """

    #: The plugin's name: metric name, log prefix.
    PLUGIN: ClassVar[str]
    #: Help text of the drop counter.
    DROPS_HELP: ClassVar[str]

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sessions: dict[int, Session] = {}
        registry = getattr(getattr(app, "metrics", None), "registry", None)
        self.drops = Counter(
            f"gateway_{self.PLUGIN}_drops", self.DROPS_HELP, ["reason"], registry=registry
        )

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

    def owns(self, session: Session) -> bool:
        """True when ``session`` is tracked here or a connection of this runtime's gateway."""
        if session.character_id is not None and self.sessions.get(session.character_id) is session:
            return True
        return bool(self.app.connections.get(session.connection_id) is session)

    @abc.abstractmethod
    def start(self) -> None:
        """Start the runtime's background work (its backend stream)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop the background work (the gateway is shutting down)."""

    @abc.abstractmethod
    async def entered(self, session: Session) -> None:
        """``session`` entered the world."""

    @abc.abstractmethod
    async def left(self, session: Session) -> None:
        """``session`` left the world or closed."""


R = TypeVar("R", bound=PluginRuntime)


class Runtimes(Generic[R]):
    """Where plugin ``plugin`` keeps its runtime of each gateway (declare one at module level):
    ``app.plugin_state`` under :attr:`key`. ``log`` is the plugin's logger.
    """

    def __init__(self, plugin: str, *, log: logging.Logger) -> None:
        self.plugin = plugin
        self.key = Key[R](f"{plugin}.runtime")
        self._log = log
        # Weak: a gateway dropped without a shutdown takes its runtime with it.
        self._apps: weakref.WeakSet[Any] = weakref.WeakSet()

    def get(self, app: Any) -> R | None:
        """The runtime of gateway ``app`` (None before start-up, after shutdown, or without
        the plugin's backend client)."""
        runtime: R | None = app.plugin_state.get(self.key)
        return runtime

    def for_session(self, session: Session) -> R | None:
        """The runtime of the gateway ``session`` belongs to (for hooks and handlers)."""
        for app in list(self._apps):
            runtime = self.get(app)
            if runtime is not None and runtime.owns(session):
                return runtime
        return None

    def start(self, app: Any, service: str, make: Callable[[Any], R], *, disabled: str) -> None:
        """Create (``make(app)``), store and start the runtime of ``app``; without a client
        of ``service`` log that ``disabled`` and create none."""
        if app.clients is None or service not in app.clients:
            self._log.warning("%s: no %s client; %s", self.plugin, service, disabled)
            return
        runtime = make(app)
        app.plugin_state.set(self.key, runtime)
        self._apps.add(app)
        runtime.start()

    async def stop(self, app: Any) -> None:
        """Forget and close the runtime of ``app`` (if it has one)."""
        self._apps.discard(app)
        runtime: R | None = app.plugin_state.pop(self.key)
        if runtime is not None:
            await runtime.aclose()

    async def session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> None:
        """Tell the session's runtime it entered or left the world."""
        runtime = self.for_session(session)
        if runtime is None:
            return
        if new is SessionState.IN_WORLD:
            await runtime.entered(session)
        elif old is SessionState.IN_WORLD:
            await runtime.left(session)

    async def session_closed(self, session: Session) -> None:
        """Tell the session's runtime it left (its connection is gone)."""
        runtime = self.for_session(session)
        if runtime is not None:
            await runtime.left(session)
