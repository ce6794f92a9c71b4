"""A GM change whose save fails changes nothing. The one boundary replaced is the character
service's stub, which answers UNAVAILABLE like a service that is down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from gateway_character.gm import on_zuly
from gateway_character.handlers import PLAYING, Playing
from gateway_protos.v1 import character_pb2

from gateway_core.api import ChatCommand, ChatCommandError, Session


class DownCharacterService:
    """Character stub boundary: every call fails as UNAVAILABLE (``saves`` counts them)."""

    def __init__(self) -> None:
        self.saves = 0

    async def _down(self, request: Any) -> Any:
        self.saves += 1
        raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(),
                                   grpc.aio.Metadata(), "down")

    SaveCharacter = GetCharacter = ChangeItems = _down


@pytest.mark.anyio
async def test_a_change_whose_save_fails_changes_nothing() -> None:
    session = Session(1)
    service = DownCharacterService()
    state = character_pb2.CharacterState(id=5, money=10)
    session.plugin_data.set(PLAYING, Playing(state, service))  # type: ignore[arg-type]
    replies: list[Any] = []
    ctx = SimpleNamespace(session=session, reply=replies.append)
    with pytest.raises(ChatCommandError, match="could not be saved; nothing changed"):
        await on_zuly(ctx, ChatCommand("zuly", "500", ("500",)))  # type: ignore[arg-type]
    assert service.saves == 1 and state.money == 10 and replies == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
