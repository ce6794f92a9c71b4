"""``gateway console`` in a real terminal (a tmux pane) against a real gateway with two
clients in the world: their users, states and packet counts on the screen at 80 and 160
columns, sorting, filtering, and ``q`` quitting with the terminal restored (echo and line
mode back, nothing typed shown on the console's screen)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from gateway_core.bot import steps as flow
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, free_port, running_gateway

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

TIMEOUT = 15.0
USERS = ("Alpha", "Zulu")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Pane:
    """One tmux session on a private server socket (``-L``), killed at the end."""

    def __init__(self, width: int, height: int) -> None:
        self.socket = f"gw-console-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_")}
        env["TERM"] = "xterm-256color"
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   "bash --norc --noprofile", env=env)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                                text=True, timeout=10, env=env, check=True)
        return result.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def wait(self, what: str, ok: Callable[[str], bool]) -> str:
        end = time.monotonic() + TIMEOUT
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if ok(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{what} not on the screen within {TIMEOUT}s:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10, check=False)


def world_rows(screen: str) -> dict[str, list[str]]:
    """The table rows of in-world connections by user: their cells (split on spaces)."""
    rows = {}
    for line in screen.splitlines():
        cells = line.split()
        if "IN_WORLD" in cells:
            for user in USERS:
                if user.lower() in cells:
                    rows[user.lower()] = cells
    return rows


def counted(screen: str) -> bool:
    """Both in-world rows show packet counts (in, out: after the state and the map)."""
    rows = world_rows(screen)
    if len(rows) != len(USERS):
        return False
    for cells in rows.values():
        state = cells.index("IN_WORLD")
        counts = cells[state + 2:state + 4]
        if len(counts) != 2 or not all(c.isdigit() and int(c) > 0 for c in counts):
            return False
    return True


def order(screen: str) -> list[str]:
    found = []
    for line in screen.splitlines():
        cells = line.split()
        found += [u.lower() for u in USERS if u.lower() in cells and "IN_WORLD" in cells]
    return found


@pytest.fixture
def pane() -> Iterator[Pane]:
    terminal = Pane(80, 40)
    try:
        yield terminal
    finally:
        terminal.kill()


@pytest.mark.anyio
async def test_console_in_a_terminal_shows_sorts_filters_and_quits(pane: Pane,
                                                                    tmp_path: Path) -> None:
    admin = free_port()
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "PACKET_METRICS_PORT": admin}
    async with running_gateway(settings, RunningGateway) as running:
        for name in USERS:
            world, _ = await running.join_world(name)
            await flow.change_map(world)
        url = running.gateway.metrics_server.url  # type: ignore[union-attr]
        command = f"{sys.executable} -m gateway_core console --url {url} --interval 0.3"

        def drive() -> None:
            pane.keys(command, "Enter")
            screen = pane.wait("two in-world rows with packet counts at 80 columns", counted)
            assert "…" not in screen, screen  # nothing cut: columns dropped instead
            assert re.search(r"\d+ columns? hidden", screen), screen
            assert "READY" in screen and "packets/s in" in screen
            assert "backends:" in screen and "SERVING" in screen

            pane.resize(160, 40)
            screen = pane.wait("the peer and last packet columns at 160 columns",
                               lambda s: "last packet" in s and "peer" in s and counted(s))
            assert "…" not in screen, screen

            pane.keys("s")  # sort by user
            pane.wait("sorted by user", lambda s: "sort user asc" in s
                      and order(s) == ["alpha", "zulu"])
            pane.keys("r")
            pane.wait("reversed", lambda s: "sort user desc" in s
                      and order(s) == ["zulu", "alpha"])

            pane.keys("u")
            pane.wait("the filter prompt", lambda s: "filter user:" in s)
            pane.keys("zul", literal=True)
            pane.keys("Enter")
            screen = pane.wait("only zulu", lambda s: "filter user=zul" in s
                               and order(s) == ["zulu"])
            assert "alpha" not in screen.split()
            pane.keys("c")
            pane.keys("t")
            pane.keys("in_world", literal=True)
            pane.keys("Enter")
            screen = pane.wait("the state filter", lambda s: "filter state=in_world" in s
                               and sorted(order(s)) == ["alpha", "zulu"])
            assert "CHARACTER_SELECT" not in screen  # the character legs are filtered out

            pane.keys("x")  # not a key: nothing echoes on the console's screen
            pane.keys("q")
            pane.wait("the shell prompt after the console",
                      lambda s: re.search(r"console --url .*\n\S*[#$] *$", s, re.M) is not None)
            probe = ("import termios; a = termios.tcgetattr(0); "
                     "print('TERMINAL', bool(a[3] & termios.ECHO), bool(a[3] & termios.ICANON))")
            pane.keys(f'{sys.executable} -c "{probe}"', "Enter")
            screen = pane.wait("the terminal's modes", lambda s: re.search(
                r"^TERMINAL \w+ \w+$", s, re.M) is not None)
            assert re.search(r"^TERMINAL True True$", screen, re.M), screen  # echo, line mode

        await anyio.to_thread.run_sync(drive)
