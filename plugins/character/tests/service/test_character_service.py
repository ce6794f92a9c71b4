"""The reference character service over a real loopback gRPC server and a real SQLite file."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from gateway_character.service import CharacterOptions
from gateway_character.service.inventory import starter_inventory
from gateway_character.service.items import equipped_item, visible_items
from gateway_protos.v1 import character_pb2 as c
from gateway_protos.v1 import common_pb2

from gateway_core.api import load_default_pack

from ..conftest import DELETE_DELAY, CharacterHarness

pytestmark = pytest.mark.anyio

ACCOUNT = 7
OTHER_ACCOUNT = 8


async def create(
    h: CharacterHarness, name: str = "Hero", account: int = ACCOUNT, race: int = 0
) -> c.CreateCharacterReply:
    return await h.stub.CreateCharacter(
        c.CreateCharacterRequest(
            account_id=account, name=name, race=race, stone=1, hair=2, face=3, weapon=1, zone=20
        )
    )


def by_index(index: int) -> c.CharacterRef:
    return c.CharacterRef(index=index)


def by_name(name: str) -> c.CharacterRef:
    return c.CharacterRef(name=name)


async def names(h: CharacterHarness, account: int = ACCOUNT) -> list[str]:
    listed = await h.stub.ListCharacters(c.ListCharactersRequest(account_id=account))
    return [ch.name for ch in listed.characters]


async def expect_status(call: Awaitable[Any], code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code
    assert info.value.details()


def test_result_values_match_the_packet_enum() -> None:
    assert [
        c.CREATE_CHAR_RESULT_OK,
        c.CREATE_CHAR_RESULT_FAILED,
        c.CREATE_CHAR_RESULT_NAME_TAKEN,
        c.CREATE_CHAR_RESULT_INVALID_VALUE,
        c.CREATE_CHAR_RESULT_TOO_MANY_CHARS,
        c.CREATE_CHAR_RESULT_BLOCKED,
    ] == [0, 1, 2, 3, 4, 5]


def test_equipped_item_packs_id_gem_socket_and_grade() -> None:
    header = 3 | 500 << 5 | 1 << 15  # type 3, id 500, created
    data = 7 | 1 << 26 | 9 << 28  # gem 7, socket, refine 9
    assert equipped_item(header, data) == 500 | 7 << 10 | 1 << 19 | 9 << 20
    assert equipped_item(0, 12345) == 0


def test_visible_items_use_body_part_order() -> None:
    inventory = [[(slot << 5) | 1, 0] if 1 <= slot <= 8 else [0, 0] for slot in range(140)]
    # HELMET(slot 2), ARMOR(3), GAUNTLET(5), BOOTS(6), GOGGLES(1), BACKPACK(4), WEAPON_R(7), L(8)
    assert visible_items(inventory) == [2, 3, 5, 6, 1, 4, 7, 8]


# -- list and create -----------------------------------------------------------------------


async def test_list_of_a_new_account_is_empty(chars: CharacterHarness) -> None:
    assert await names(chars) == []


async def test_create_returns_the_new_character_and_lists_it(chars: CharacterHarness) -> None:
    reply = await create(chars, "Hero", race=1)
    assert reply.result == c.CREATE_CHAR_RESULT_OK
    assert reply.reason == c.CREATE_CHAR_REASON_UNSPECIFIED
    summary = reply.character
    assert summary.id > 0 and summary.name == "Hero"
    assert (summary.race, summary.level, summary.job, summary.face, summary.hair) == (1, 1, 0, 3, 2)
    # The visitor starter kit's equipped items (docs/content.md; the default pack).
    start, _ = starter_inventory(load_default_pack(), 0)
    assert list(summary.equipped_items) == visible_items(start) != [0] * 8
    assert summary.remaining_delete_seconds == 0
    listed = await chars.stub.ListCharacters(c.ListCharactersRequest(account_id=ACCOUNT))
    assert list(listed.characters) == [summary]


async def test_list_is_in_creation_order_and_per_account(chars: CharacterHarness) -> None:
    await create(chars, "Bravo")
    await create(chars, "Alpha")
    await create(chars, "Other", account=OTHER_ACCOUNT)
    assert await names(chars) == ["Bravo", "Alpha"]
    assert await names(chars, OTHER_ACCOUNT) == ["Other"]


async def test_create_refuses_a_taken_name_ignoring_case(chars: CharacterHarness) -> None:
    await create(chars, "Hero")
    reply = await create(chars, "HERO", account=OTHER_ACCOUNT)
    assert reply.result == c.CREATE_CHAR_RESULT_NAME_TAKEN
    assert reply.reason == c.CREATE_CHAR_REASON_NAME_TAKEN
    assert reply.message


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Ab", c.CREATE_CHAR_REASON_NAME_TOO_SHORT),
        ("A" * 17, c.CREATE_CHAR_REASON_NAME_TOO_LONG),
        ("Bad Name", c.CREATE_CHAR_REASON_NAME_BAD_CHARACTERS),
        ("1stHero", c.CREATE_CHAR_REASON_NAME_BAD_CHARACTERS),
        ("Héro", c.CREATE_CHAR_REASON_NAME_BAD_CHARACTERS),
    ],
)
async def test_create_refuses_names_that_break_a_rule(
    chars: CharacterHarness, name: str, reason: int
) -> None:
    reply = await create(chars, name)
    assert reply.result == c.CREATE_CHAR_RESULT_INVALID_VALUE
    assert reply.reason == reason
    assert await names(chars) == []


async def test_create_refuses_a_race_that_is_not_playable(chars: CharacterHarness) -> None:
    reply = await create(chars, "Hero", race=9)
    assert reply.result == c.CREATE_CHAR_RESULT_INVALID_VALUE
    assert reply.reason == c.CREATE_CHAR_REASON_BAD_RACE


async def test_create_refuses_blocked_names(chars: CharacterHarness) -> None:
    reply = await create(chars, "Admin")
    assert reply.result == c.CREATE_CHAR_RESULT_BLOCKED
    assert reply.reason == c.CREATE_CHAR_REASON_NAME_BLOCKED


async def test_create_refuses_more_than_the_maximum(chars: CharacterHarness) -> None:
    for name in ("One", "Two", "Three"):
        assert (await create(chars, name)).result == c.CREATE_CHAR_RESULT_OK
    reply = await create(chars, "Four")
    assert reply.result == c.CREATE_CHAR_RESULT_TOO_MANY_CHARS
    assert reply.reason == c.CREATE_CHAR_REASON_TOO_MANY_CHARS
    assert (await create(chars, "Four", account=OTHER_ACCOUNT)).result == c.CREATE_CHAR_RESULT_OK


@pytest.mark.parametrize(
    "request_",
    [
        c.CreateCharacterRequest(account_id=ACCOUNT, name=""),
        c.CreateCharacterRequest(account_id=ACCOUNT, name="x" * 65),
        c.CreateCharacterRequest(account_id=ACCOUNT, name="Bad\x00Name"),
        c.CreateCharacterRequest(account_id=0, name="Hero"),
        c.CreateCharacterRequest(account_id=ACCOUNT, name="Hero", race=256),
        c.CreateCharacterRequest(account_id=ACCOUNT, name="Hero", face=300),
        c.CreateCharacterRequest(account_id=ACCOUNT, name="Hero", zone=70000),
    ],
)
async def test_create_rejects_bad_arguments(
    chars: CharacterHarness, request_: c.CreateCharacterRequest
) -> None:
    await expect_status(chars.stub.CreateCharacter(request_), grpc.StatusCode.INVALID_ARGUMENT)


async def test_create_answers_failed_when_the_database_fails(chars: CharacterHarness) -> None:
    # The boundary replaced here: the table vanishes under the running service.
    await chars.drop_table("character_characters")
    reply = await create(chars, "Hero")
    assert reply.result == c.CREATE_CHAR_RESULT_FAILED


async def test_list_answers_internal_when_the_database_fails(chars: CharacterHarness) -> None:
    await chars.drop_table("character_characters")
    await expect_status(
        chars.stub.ListCharacters(c.ListCharactersRequest(account_id=ACCOUNT)),
        grpc.StatusCode.INTERNAL,
    )


# -- delete and undelete -------------------------------------------------------------------


async def test_delete_schedules_and_the_character_goes_after_the_delay(
    chars: CharacterHarness,
) -> None:
    await create(chars, "Keep")
    await create(chars, "Gone")
    reply = await chars.stub.DeleteCharacter(
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_index(1))
    )
    assert (reply.name, reply.remaining_seconds, reply.deleted) == ("Gone", DELETE_DELAY, False)
    chars.clock.advance(400)
    listed = await chars.stub.ListCharacters(c.ListCharactersRequest(account_id=ACCOUNT))
    assert [ch.remaining_delete_seconds for ch in listed.characters] == [0, DELETE_DELAY - 400]
    # Asking again keeps the first schedule.
    again = await chars.stub.DeleteCharacter(
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_name("gone"))
    )
    assert again.remaining_seconds == DELETE_DELAY - 400
    # A pending deletion still holds the name.
    assert (await create(chars, "Gone", OTHER_ACCOUNT)).result == c.CREATE_CHAR_RESULT_NAME_TAKEN
    chars.clock.advance(DELETE_DELAY)
    assert await names(chars) == ["Keep"]
    assert (await create(chars, "Gone", OTHER_ACCOUNT)).result == c.CREATE_CHAR_RESULT_OK


async def test_undelete_cancels_a_pending_deletion(chars: CharacterHarness) -> None:
    await create(chars, "Hero")
    ref = c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_name("Hero"))
    await chars.stub.DeleteCharacter(ref)
    reply = await chars.stub.UndeleteCharacter(ref)
    assert (reply.name, reply.remaining_seconds, reply.deleted) == ("Hero", 0, False)
    chars.clock.advance(DELETE_DELAY * 2)
    assert await names(chars) == ["Hero"]
    # Undeleting what is not pending is fine.
    assert (await chars.stub.UndeleteCharacter(ref)).remaining_seconds == 0


async def test_pending_deletion_counts_toward_the_maximum(chars: CharacterHarness) -> None:
    for name in ("One", "Two", "Three"):
        await create(chars, name)
    await chars.stub.DeleteCharacter(
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_index(0))
    )
    assert (await create(chars, "Four")).result == c.CREATE_CHAR_RESULT_TOO_MANY_CHARS
    chars.clock.advance(DELETE_DELAY)
    assert (await create(chars, "Four")).result == c.CREATE_CHAR_RESULT_OK


@pytest.mark.parametrize("options", [CharacterOptions(delete_delay=0)])
async def test_delete_with_no_delay_is_immediate(chars: CharacterHarness) -> None:
    await create(chars, "Hero")
    reply = await chars.stub.DeleteCharacter(
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_index(0))
    )
    assert (reply.name, reply.remaining_seconds, reply.deleted) == ("Hero", 0, True)
    assert await names(chars) == []


async def test_delete_of_a_character_the_account_does_not_own(chars: CharacterHarness) -> None:
    await create(chars, "Hero")
    for request in (
        c.DeleteCharacterRequest(account_id=OTHER_ACCOUNT, character=by_name("Hero")),
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_index(1)),
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_name("Nobody")),
    ):
        await expect_status(chars.stub.DeleteCharacter(request), grpc.StatusCode.NOT_FOUND)
        await expect_status(chars.stub.UndeleteCharacter(request), grpc.StatusCode.NOT_FOUND)


async def test_delete_without_a_target_is_invalid(chars: CharacterHarness) -> None:
    for ref in (c.CharacterRef(), by_name(""), by_name("x" * 65)):
        await expect_status(
            chars.stub.DeleteCharacter(c.DeleteCharacterRequest(account_id=ACCOUNT, character=ref)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


# -- select, get, save ---------------------------------------------------------------------


async def test_select_by_index_or_name_returns_the_full_state(chars: CharacterHarness) -> None:
    await create(chars, "First")
    created = (await create(chars, "Hero", race=1)).character
    for ref in (by_index(1), by_name("hero")):
        state = await chars.stub.SelectCharacter(
            c.SelectCharacterRequest(account_id=ACCOUNT, character=ref)
        )
        assert (state.id, state.account_id, state.name, state.race) == (
            created.id,
            ACCOUNT,
            "Hero",
            1,
        )
        assert (state.stone, state.hair, state.face, state.level) == (1, 2, 3, 1)
        assert (state.map_id, state.x, state.y) == (1, 520000.0, 520000.0)
        assert state.stats.str == 15 and state.hp > 0 and state.mp > 0
        assert len(state.inventory) == 140 and len(state.hotbar) == 32 and len(state.skills) == 120
        assert len(state.equipped_items) == 8


async def test_select_refuses_a_character_pending_deletion(chars: CharacterHarness) -> None:
    await create(chars, "Hero")
    await chars.stub.DeleteCharacter(
        c.DeleteCharacterRequest(account_id=ACCOUNT, character=by_index(0))
    )
    await expect_status(
        chars.stub.SelectCharacter(
            c.SelectCharacterRequest(account_id=ACCOUNT, character=by_index(0))
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )


async def test_select_of_another_accounts_character_is_not_found(chars: CharacterHarness) -> None:
    await create(chars, "Hero")
    await expect_status(
        chars.stub.SelectCharacter(
            c.SelectCharacterRequest(account_id=OTHER_ACCOUNT, character=by_name("Hero"))
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_status(
        chars.stub.SelectCharacter(c.SelectCharacterRequest(account_id=ACCOUNT)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_get_character_by_id(chars: CharacterHarness) -> None:
    created = (await create(chars, "Hero")).character
    state = await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=created.id))
    assert state.name == "Hero"
    await expect_status(
        chars.stub.GetCharacter(c.GetCharacterRequest(character_id=created.id + 100)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_save_then_get_round_trips_the_state(chars: CharacterHarness) -> None:
    """Everything but the items and money, which only ChangeItems changes, and the hotbar,
    which only SetHotbar changes."""
    created = (await create(chars, "Hero")).character
    state = await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=created.id))
    before = c.CharacterState()
    before.CopyFrom(state)
    state.level, state.job, state.hp, state.mp, state.xp = 12, 111, 321, 45, 9999
    state.stats.str, state.stats.sense = 40, 22
    state.money, state.map_id, state.x, state.y, state.spawn = 123456789012, 1, 5100.5, 5300.25, 2
    state.stat_points, state.skill_points, state.penalty_xp, state.stamina = 5, 3, 10, 4000
    helmet = 2 | 77 << 5
    del state.inventory[:]
    state.inventory.extend([common_pb2.Item()] * 2 + [common_pb2.Item(header=helmet, data=5)])
    state.hotbar[:] = [1, 2, 3]
    state.skills[:] = [11, 12]
    await chars.stub.SaveCharacter(c.SaveCharacterRequest(state=state))
    saved = await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=created.id))
    assert (saved.level, saved.job, saved.hp, saved.mp, saved.xp) == (12, 111, 321, 45, 9999)
    assert (saved.stats.str, saved.stats.sense) == (40, 22)
    assert saved.money == before.money  # not written by SaveCharacter
    assert (saved.map_id, saved.x, saved.y, saved.spawn) == (1, 5100.5, 5300.25, 2)
    assert (saved.stat_points, saved.skill_points, saved.penalty_xp, saved.stamina) == (
        5,
        3,
        10,
        4000,
    )
    assert list(saved.inventory) == list(before.inventory)  # not written by SaveCharacter
    assert list(saved.equipped_items) == list(before.equipped_items)
    assert list(saved.hotbar) == [0] * 32  # not written by SaveCharacter
    assert list(saved.skills[:3]) == [11, 12, 0] and len(saved.skills) == 120
    assert (saved.name, saved.account_id) == ("Hero", ACCOUNT)
    listed = await chars.stub.ListCharacters(c.ListCharactersRequest(account_id=ACCOUNT))
    assert listed.characters[0].level == 12
    assert list(listed.characters[0].equipped_items) == list(before.equipped_items)


async def test_save_of_an_unknown_character_is_not_found(chars: CharacterHarness) -> None:
    await expect_status(
        chars.stub.SaveCharacter(c.SaveCharacterRequest(state=c.CharacterState(id=99))),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.mark.parametrize(
    "state",
    [
        c.CharacterState(),
        c.CharacterState(id=1, level=70000),
        c.CharacterState(id=1, stats=c.BaseStats(dex=70000)),
        c.CharacterState(id=1, money=-1),
        c.CharacterState(id=1, x=float("nan")),
        c.CharacterState(id=1, inventory=[common_pb2.Item()] * 141),
        c.CharacterState(id=1, inventory=[common_pb2.Item(header=70000)]),
        c.CharacterState(id=1, hotbar=[0] * 33),
        c.CharacterState(id=1, skills=[70000]),
    ],
)
async def test_save_rejects_values_outside_their_ranges(
    chars: CharacterHarness, state: c.CharacterState
) -> None:
    await create(chars, "Hero")
    await expect_status(
        chars.stub.SaveCharacter(c.SaveCharacterRequest(state=state)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


# -- SaveCharacters ----------------------------------------------------------------------------


async def test_a_batch_save_stores_each_entry_like_a_save_and_reports_each_outcome(
    chars: CharacterHarness,
) -> None:
    """A refused entry (out of range, unknown character) fails alone; the others are stored,
    their items, money and hotbar untouched like SaveCharacter's."""
    ids = [(await create(chars, f"Hero{n}", account=ACCOUNT + n)).character.id for n in range(3)]
    states = [await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=i)) for i in ids]
    for n, state in enumerate(states):
        state.level, state.x, state.y, state.money = 10 + n, 5000.0 + n, 6000.0 + n, 1
        state.hotbar[:] = [7]
    bad = c.CharacterState(id=ids[1], level=70000)
    unknown = c.CharacterState(id=ids[-1] + 100)
    reply = await chars.stub.SaveCharacters(
        c.SaveCharactersRequest(states=[states[0], bad, unknown, states[1], states[2]]))
    codes = [grpc.StatusCode.OK.value[0], grpc.StatusCode.INVALID_ARGUMENT.value[0],
             grpc.StatusCode.NOT_FOUND.value[0], 0, 0]
    assert [o.code for o in reply.outcomes] == codes
    assert all(o.message for o in reply.outcomes[1:3]) and not reply.outcomes[0].message
    for n, character_id in enumerate(ids):
        saved = await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=character_id))
        assert (saved.level, saved.x, saved.y) == (10 + n, 5000.0 + n, 6000.0 + n)
        assert saved.money == 1000 and list(saved.hotbar) == [0] * 32  # never written


async def test_a_batch_stores_its_entries_in_order_across_transactions(
    chars: CharacterHarness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several saves of one character in one batch: the last one wins, also when they fall in
    different transactions."""
    from gateway_character.service import servicer

    monkeypatch.setattr(servicer, "SAVE_CHUNK", 2)
    hero = (await create(chars, "Hero")).character.id
    other = (await create(chars, "Other")).character.id
    states = [c.CharacterState(id=hero if n % 2 else other, level=1, xp=n) for n in range(7)]
    reply = await chars.stub.SaveCharacters(c.SaveCharactersRequest(states=states))
    assert [o.code for o in reply.outcomes] == [0] * 7
    assert (await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=hero))).xp == 5
    assert (await chars.stub.GetCharacter(c.GetCharacterRequest(character_id=other))).xp == 6


async def test_a_batch_save_refuses_more_than_a_thousand_entries(
    chars: CharacterHarness,
) -> None:
    await expect_status(
        chars.stub.SaveCharacters(c.SaveCharactersRequest(
            states=[c.CharacterState(id=1)] * 1001)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    empty = await chars.stub.SaveCharacters(c.SaveCharactersRequest())
    assert list(empty.outcomes) == []


async def test_a_batch_save_reports_internal_for_each_entry_when_the_database_fails(
    chars: CharacterHarness,
) -> None:
    hero = (await create(chars, "Hero")).character.id
    await chars.drop_table("character_characters")
    reply = await chars.stub.SaveCharacters(c.SaveCharactersRequest(
        states=[c.CharacterState(id=hero), c.CharacterState(id=hero, level=70000)]))
    assert [o.code for o in reply.outcomes] == [grpc.StatusCode.INTERNAL.value[0],
                                                 grpc.StatusCode.INVALID_ARGUMENT.value[0]]
