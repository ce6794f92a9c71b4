"""The plugin manager: discovery, selection, scoped registrars and lifecycle calls.

Strategy: pluggy is used where it shines (hookspec validation, entry points, introspection)
and bypassed where the gateway needs more than it offers. ``gateway_register_*`` hooks are
called one implementation at a time with a registrar bound to that implementation's plugin,
so every registration carries its owner and a duplicate names both owners. Lifecycle hooks
(session opened/changed/closed, startup, shutdown) are also called one implementation at a
time: each may return an awaitable, which is awaited, and an exception in one plugin is
logged and counted without stopping the others. Per-packet dispatch never touches pluggy: the
router reads :attr:`GatewayPluginManager.packet_handlers` once at start-up.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from gateway_core import core_packets, hookspecs
from gateway_core.hookspecs import ENTRY_POINT_GROUP, PROJECT_NAME
from gateway_core.protocol.numbering import NumberingProfile
from gateway_core.registry import (
    ChatCommandRegistrar,
    ClientRegistration,
    CommandRegistrar,
    GrpcClientRegistrar,
    PacketRegistrar,
    PacketRegistration,
    PluginError,
    Registry,
    RuntimeRegistrar,
    RuntimeRegistration,
    ServiceRegistrar,
    ServiceRegistration,
    SettingRegistration,
    SettingsRegistrar,
)

# Registration types are re-exported: the manager's attributes hold them.
__all__ = [
    "BUILTIN_PLUGIN_NAME",
    "ClientRegistration",
    "GatewayPluginManager",
    "PacketRegistration",
    "PluginError",
    "PluginInfo",
    "RuntimeRegistration",
    "ServiceRegistration",
    "SettingRegistration",
    "handlers_by_plugin",
    "parse_plugin_list",
]

log = logging.getLogger("gateway.plugins")

#: Name under which the core's own packets (accept, alive, screenshot time) are registered.
BUILTIN_PLUGIN_NAME = "core"


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What ``gateway plugins`` prints for one registered plugin."""

    name: str
    version: str | None
    dist_name: str | None
    hooks: tuple[str, ...]


_REGISTER_HOOKS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("gateway_register_settings", SettingsRegistrar),
    ("gateway_register_packets", PacketRegistrar),
    ("gateway_register_grpc_clients", GrpcClientRegistrar),
    ("gateway_register_services", ServiceRegistrar),
    ("gateway_register_runtime", RuntimeRegistrar),
    ("gateway_register_commands", CommandRegistrar),
    ("gateway_register_chat_commands", ChatCommandRegistrar),
)

_Impl = tuple[str, Callable[..., Any], tuple[str, ...]]


def parse_plugin_list(value: object) -> list[str] | None:
    """A GATEWAY_LOAD_PLUGINS-style value (comma string, list or None) as a list of names;
    ``None`` for unset. An empty string means "no plugins"."""
    if value is None:
        return None
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, Iterable):
        return [str(p).strip() for p in value if str(p).strip()]
    raise PluginError(f"cannot read a plugin list from {value!r}")


class GatewayPluginManager(pluggy.PluginManager):
    """pluggy's manager with the gateway's hookspecs, discovery and registrations.

    Call :meth:`load_plugins` (discovery and selection), then :meth:`collect_registrations`;
    read :attr:`packet_handlers`, :attr:`grpc_clients`, :attr:`services` and
    :attr:`plugin_settings` afterwards.
    """

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.packet_handlers = self.registry.packet_handlers
        self.grpc_clients = self.registry.grpc_clients
        self.services = self.registry.services
        self.plugin_settings = self.registry.plugin_settings
        self.runtimes = self.registry.runtimes
        self.commands = self.registry.commands
        self.chat_commands = self.registry.chat_commands
        #: Called as ``on_hook_error(plugin, hook_name)`` when a lifecycle hook raised.
        self.on_hook_error: Callable[[str, str], None] | None = None
        #: Names in GATEWAY_DISABLE_PLUGINS that match no installed plugin (after loading).
        self.unknown_disabled: tuple[str, ...] = ()
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self._impl_cache: dict[str, list[_Impl]] = {}
        self._done: set[str] = set()

    # pluggy's register/unregister invalidate the lifecycle call cache.
    def register(self, plugin: object, name: str | None = None) -> str | None:
        self._impl_cache.clear()
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self._impl_cache.clear()
        return super().unregister(plugin, name)

    # -- discovery -----------------------------------------------------------------------------

    def load_plugins(
        self,
        *,
        load: Collection[str] | None = None,
        disable: Collection[str] = (),
        builtins: bool = True,
    ) -> list[str]:
        """Register the core built-ins and every installed plugin of the ``gateway.plugins``
        entry point group, restricted to ``load`` (entry point or distribution names, ``core``
        for the built-ins; ``None`` = all installed) and without ``disable``. Returns the names
        registered. A name in ``load`` that is not installed fails; one in ``disable`` is kept
        in :attr:`unknown_disabled` (the gateway reports it: disabling what is not there does
        no harm)."""
        disabled = {d.lower() for d in disable}
        wanted = None if load is None else {n.lower() for n in load}
        names: list[str] = []
        if builtins and BUILTIN_PLUGIN_NAME not in disabled:
            if self.get_plugin(BUILTIN_PLUGIN_NAME) is None:
                self.register(core_packets, BUILTIN_PLUGIN_NAME)
                self._dists[BUILTIN_PLUGIN_NAME] = ("rose-gateway", _version("rose-gateway"))
            names.append(BUILTIN_PLUGIN_NAME)
        seen: set[str] = set()
        installed: set[str] = {BUILTIN_PLUGIN_NAME}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist_name = ep.dist.name if ep.dist is not None else None
            aliases = {ep.name.lower()}
            if dist_name:
                aliases.add(dist_name.lower())
            installed |= aliases
            if wanted is not None and not aliases & wanted:
                continue
            if aliases & disabled or ep.name in seen:
                continue
            seen.add(ep.name)
            if self.get_plugin(ep.name) is not None:
                names.append(ep.name)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            self.register(plugin, ep.name)
            version = ep.dist.version if ep.dist is not None else None
            self._dists[ep.name] = (dist_name, version)
            names.append(ep.name)
        # Plugins registered by hand (tests, embedding code) count as installed.
        installed |= {name.lower() for name, _ in self.list_name_plugin() if name}
        if wanted is not None:
            missing = wanted - installed
            if missing:
                raise PluginError(
                    f"GATEWAY_LOAD_PLUGINS names plugins that are not installed: "
                    f"{', '.join(sorted(missing))}"
                )
        self.unknown_disabled = tuple(sorted(disabled - installed))
        return names

    def plugin_infos(self) -> list[PluginInfo]:
        """Name, version, distribution and implemented hooks of every registered plugin."""
        infos = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:
                continue
            dist_name, version = self._dists.get(name, (None, None))
            hooks = tuple(sorted(
                caller.name for caller in self.get_hookcallers(plugin) or ()
            ))
            infos.append(PluginInfo(name, version, dist_name, hooks))
        return sorted(infos, key=lambda i: i.name)

    # -- registrations -------------------------------------------------------------------------

    def collect_settings(self) -> list[SettingRegistration]:
        """Run ``gateway_register_settings`` (once) and return the declared settings."""
        if not self._collected("gateway_register_settings"):
            self._run_register("gateway_register_settings", SettingsRegistrar)
        return self.plugin_settings

    def collect_registrations(self, profile: NumberingProfile | None = None) -> None:
        """Run every ``gateway_register_*`` hook not run yet, one plugin at a time with its
        own registrar; packet names are checked against ``profile`` (default: the default
        numbering). A duplicate or an exception fails with :class:`PluginError`."""
        if profile is not None:
            self.registry.profile = profile
        for hook_name, registrar in _REGISTER_HOOKS:
            if not self._collected(hook_name):
                self._run_register(hook_name, registrar)

    def _collected(self, hook_name: str) -> bool:
        return hook_name in self._done

    def _run_register(self, hook_name: str, registrar: Callable[..., Any]) -> None:
        self._done.add(hook_name)
        for plugin, function, argnames in self._impls(hook_name):
            try:
                function(**dict.fromkeys(argnames, registrar(self.registry, plugin)))
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {plugin!r} failed in {hook_name}: {exc!r}") from exc

    # -- lifecycle -------------------------------------------------------------------------------

    def _impls(self, hook_name: str) -> list[_Impl]:
        impls = self._impl_cache.get(hook_name)
        if impls is None:
            caller = getattr(self.hook, hook_name)
            # pluggy calls the most recently registered implementation first; so do we.
            impls = [
                (impl.plugin_name, impl.function, tuple(impl.argnames))
                for impl in reversed(caller.get_hookimpls())
                if not (impl.hookwrapper or impl.wrapper)
            ]
            self._impl_cache[hook_name] = impls
        return impls

    def has_impls(self, hook_name: str) -> bool:
        """True when any plugin implements ``hook_name``."""
        return bool(self._impls(hook_name))

    async def call_lifecycle(
        self, hook_name: str, *, runtimes: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Call every implementation of lifecycle hook ``hook_name``, awaiting what each
        returns; an implementation that names a ``runtime`` argument gets its own plugin's
        entry of ``runtimes`` (``None`` when it has none). An exception is logged with the
        plugin, counted through :attr:`on_hook_error`, and does not stop the other plugins."""
        for plugin, function, argnames in self._impls(hook_name):
            try:
                args = {k: kwargs[k] for k in argnames if k != "runtime"}
                if "runtime" in argnames:
                    args["runtime"] = runtimes.get(plugin) if runtimes is not None else None
                result = function(**args)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin %s raised in %s", plugin, hook_name)
                if self.on_hook_error is not None:
                    self.on_hook_error(plugin, hook_name)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def handlers_by_plugin(pm: GatewayPluginManager) -> Mapping[str, list[str]]:
    """Packet names per owning plugin (for ``gateway plugins`` and docs)."""
    out: dict[str, list[str]] = {}
    for reg in pm.packet_handlers.values():
        out.setdefault(reg.plugin, []).append(reg.name)
    return out
