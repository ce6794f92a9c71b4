"""A party across two gateways sharing one set of services (gateway A embeds them, gateway B
points every ``<SERVICE>_SERVICE_ADDR`` at A's), driven over TCP by headless clients: a party
formed across them, its chat and a kill's XP reaching the member on the other gateway, and the
party surviving a restart of that member's gateway (offline meanwhile, back within the grace
and sent its party again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway_core.protocol.packets import (
    CliPartyChat,
    PartyMemberAction,
    SrvPartyChat,
    SrvPartyMember,
    SrvPartyMemberUpdate,
    SrvSetExp,
)
from gateway_core.testing import running_gateway

from .conftest import SETTINGS, Arena, kill_dummy

pytestmark = pytest.mark.anyio

SERVICES = ("auth", "character", "chat", "world", "party")


@asynccontextmanager
async def second_gateway(first: Arena, tmp_path: Path) -> AsyncIterator[Arena]:
    """A gateway on the services ``first`` embeds."""
    host = first.gateway.service_host
    assert host is not None
    settings = {
        **SETTINGS,
        "DATA_DIR": str(tmp_path / "data-b"),
        "GATEWAY_ID": "gateway-b",
        **{f"{name.upper()}_SERVICE_ADDR": host.address for name in SERVICES},
    }
    async with running_gateway(settings, Arena) as running:
        yield running


async def test_a_party_across_gateways_survives_a_restart_of_one(tmp_path: Path) -> None:
    settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), "PARTY_OFFLINE_GRACE": 30.0}
    async with running_gateway(settings, Arena) as a:
        alice = await a.player("Alice")
        async with second_gateway(a, tmp_path) as b:
            bob = await b.player("Bob")
            await a.form(alice, bob)
            await alice.send(CliPartyChat(message=b"over there?"))
            line = await bob.expect(SrvPartyChat, "party chat on the other gateway")
            assert (line.char_id, line.message) == (alice.object_id, b"over there?")
            dummy_id = await kill_dummy(alice)
            shared = await bob.expect(SrvSetExp, "shared xp", lambda p: p.source_id == dummy_id)
            assert shared.exp == 20
        # Gateway B is gone: Bob is offline for Alice, still a member.
        offline = await alice.expect(SrvPartyMemberUpdate, "offline",
                                     lambda p: p.member.tag == bob.tag and p.member.id == 0)
        assert offline.member.hp == 0
        assert [m.online for m in (await a.party_of(alice)).members] == [True, False]
        async with second_gateway(a, tmp_path) as b:
            bob = await b.player("Bob", new=False)
            listed = await bob.expect(SrvPartyMember, "party sent again",
                                      lambda p: p.member.tag == alice.tag)
            assert listed.action == PartyMemberAction.ADD
            online = await alice.expect(
                SrvPartyMemberUpdate, "online again",
                lambda p: p.member.tag == bob.tag and p.member.id == bob.object_id)
            assert online.member.hp > 0
            state = await a.party_of(alice)
            assert [(m.name, m.online) for m in state.members] == [("Alice", True),
                                                                  ("Bob", True)]
            # The world was told the party again after Bob's new join: a kill still shares.
            dummy_id = await kill_dummy(alice)
            shared = await bob.expect(SrvSetExp, "shared after the restart",
                                      lambda p: p.source_id == dummy_id)
            assert shared.exp == 40
            await bob.send(CliPartyChat(message=b"back"))
            line = await alice.expect(SrvPartyChat, "chat after the restart",
                                      lambda p: p.message == b"back")
            assert line.char_id == bob.object_id
