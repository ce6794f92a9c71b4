"""pytest fixtures for gateway plugins, loaded in every pytest run by rose-gateway's ``pytest11``
entry point (or by hand: ``pytest -p gateway_core.pytest_plugin``).

* ``live_gateway``: a whole gateway (:func:`gateway_core.testing.running_gateway`) on 127.0.0.1 and
  a free port, as a :class:`~gateway_core.testing.RunningGateway` (``connect()``,
  ``account(...)``, ``join_world(name)``, ``sample(metric, labels)``); stopped after the test;
* ``game_client``: a headless client (:class:`gateway_core.bot.GameClient`) connected to it,
  accept exchange done;
* ``gateway_settings`` (a dict) and ``gateway_plugins`` (``(plugin, name)`` pairs registered by
  hand) configure ``live_gateway``: override them in a ``conftest.py``.

The async fixtures run on anyio's pytest plugin (mark the tests ``@pytest.mark.anyio``), on
asyncio. Importing this module imports pytest only: the gateway is imported when a fixture
runs, so a test run that uses none of them pays nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gateway_core.bot import GameClient
    from gateway_core.testing import RunningGateway

__all__ = ["BUILT_IN_PLUGINS", "game_client", "gateway_plugins", "gateway_settings",
           "live_gateway"]

#: The plugins shipped with rose-gateway; ``gateway_settings`` loads those that are installed.
BUILT_IN_PLUGINS = ("auth", "character", "chat", "world", "items", "party")


def _installed_built_ins() -> list[str]:
    import importlib.metadata

    from gateway_core.hookspecs import ENTRY_POINT_GROUP

    names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return [name for name in BUILT_IN_PLUGINS if name in names]


@pytest.fixture
def gateway_plugins() -> list[tuple[object, str]]:
    """Plugins ``live_gateway`` registers by hand besides the ones it loads: ``(module, name)``
    pairs, e.g. ``[(gateway_hello, "hello")]`` for a plugin that is not installed. Empty."""
    return []


@pytest.fixture
def gateway_settings(tmp_path: Path) -> dict[str, object]:
    """The settings of ``live_gateway``: :data:`gateway_core.testing.GATEWAY_TEST_SETTINGS`
    (loopback, a free game port, no metrics port, cheap argon2, short timeouts) with
    ``DATA_DIR`` under ``tmp_path`` and ``GATEWAY_LOAD_PLUGINS`` = the built-in plugins that
    are installed. Add or change keys in a fixture of the same name."""
    from gateway_core.testing import GATEWAY_TEST_SETTINGS

    return {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "gateway-data"),
            "GATEWAY_LOAD_PLUGINS": ",".join(_installed_built_ins())}


@pytest.fixture
async def live_gateway(
    anyio_backend: str, gateway_settings: dict[str, object],
    gateway_plugins: list[tuple[object, str]],
) -> AsyncIterator[RunningGateway]:
    """A gateway running on 127.0.0.1 with ``gateway_settings`` and ``gateway_plugins`` for
    the duration of the test (its clients are closed first, then it stops)."""
    from gateway_core.testing import RunningGateway, running_gateway

    async with running_gateway(gateway_settings, RunningGateway,
                               plugins=gateway_plugins) as running:
        yield running


@pytest.fixture
async def game_client(live_gateway: RunningGateway) -> GameClient:
    """A headless client connected to ``live_gateway``, accept exchange done (state
    ``CONNECTED``); ``await game_client.send(packet)``, ``await game_client.expect(Class,
    step=...)`` or ``receive()``. Closed with the gateway."""
    return await live_gateway.connect()
