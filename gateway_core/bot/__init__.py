"""Headless ROSE game client: a library and the ``gateway bot`` command.

It runs the whole client journey (login, character select, world, optional chat and
movement, logout) against any gateway, with the ``plain`` or ``rosecrypt`` cipher and either
packet numbering profile; end-to-end tests, benchmarks and operators' smoke tests use it.

* :mod:`gateway_core.bot.client`: :class:`GameClient`, one connection (send, receive,
  ``expect`` a packet class with a timeout, unexpected packets collected);
* :mod:`gateway_core.bot.steps`: one building block per protocol step (:func:`connect`,
  :func:`login`, :func:`join`, :func:`select_character`, :func:`enter_world`, :func:`logout`, ...);
* :mod:`gateway_core.bot.journey`: :func:`run_flow` / :func:`run_clients` for whole runs
  (ramp, stay in the world, logout after a failure), :class:`RunControl` to stop one;
* :mod:`gateway_core.bot.results`: the typed per-step and per-client results;
* :mod:`gateway_core.bot.progress`: the live counters of a run and their rich rendering;
* :mod:`gateway_core.bot.advice`: what a failure means and what to do;
* :mod:`gateway_core.bot.cli`: ``configure(parser)`` and ``run(args, ctx)`` for ``gateway bot``.
"""

from __future__ import annotations

from gateway_core.bot.client import (
    BadServerData,
    BotError,
    ConnectFailed,
    ConnectionClosed,
    GameClient,
    StepTimeout,
    UnexpectedPacket,
)
from gateway_core.bot.journey import FlowFailed, FlowOptions, RunControl, run_clients, run_flow
from gateway_core.bot.results import FlowResult, RunSummary, SoakStats, StepResult, StepTimings
from gateway_core.bot.steps import (
    CharacterTemplate,
    InitialData,
    Refused,
    WorldEntry,
    accept,
    alive,
    change_map,
    channel_list,
    char_list,
    chat,
    connect,
    create_character,
    enter_world,
    find_character,
    hash_password,
    join,
    login,
    logout,
    move,
    receive_initial_data,
    require_ok,
    select_character,
    select_server,
    whisper,
)

__all__ = [
    "BadServerData",
    "BotError",
    "CharacterTemplate",
    "ConnectFailed",
    "ConnectionClosed",
    "FlowFailed",
    "FlowOptions",
    "FlowResult",
    "GameClient",
    "InitialData",
    "Refused",
    "RunControl",
    "RunSummary",
    "SoakStats",
    "StepResult",
    "StepTimeout",
    "StepTimings",
    "UnexpectedPacket",
    "WorldEntry",
    "accept",
    "alive",
    "change_map",
    "channel_list",
    "char_list",
    "chat",
    "connect",
    "create_character",
    "enter_world",
    "find_character",
    "hash_password",
    "join",
    "login",
    "logout",
    "move",
    "receive_initial_data",
    "require_ok",
    "run_clients",
    "run_flow",
    "select_character",
    "select_server",
    "whisper",
]
