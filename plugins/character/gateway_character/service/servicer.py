"""The gRPC servicer of the reference character service (contract: .../character.proto).

Strategy: every RPC validates its arguments first (a bad argument is answered with a gRPC status
and a message), then runs one short transaction that commits before the reply. A pending
deletion is a timestamp; characters whose timestamp has passed are purged whenever the service
touches characters, so they vanish from lists and free their names exactly when the delay runs
out. Creates run under one asyncio lock so that the per-account limit cannot be raced past (a
database file belongs to one service process); name uniqueness is the database's unique index.

Items: a character's inventory and money and its account's storage change only through
ChangeItems (and the starter kit given in the creating transaction). ChangeItems locks the
character row (``SELECT ... FOR UPDATE`` on PostgreSQL, whose replicas share the database; one
asyncio lock per process on SQLite, whose file belongs to one process), then the account's
storage (an advisory lock of the account on PostgreSQL), answers a request id seen before with
its stored reply, applies the pure model of :mod:`gateway_character.service.inventory` and
stores the new values with the reply in the same transaction. SaveCharacter therefore never
writes inventory, money or equipped items: the gateway's copy may be older than a ChangeItems
since, and the gateway never writes an inventory it read earlier back over a newer one.

Exchange (a player trade, a personal shop's sale): the same for two characters at once, their
rows locked in id order; its request id is kept for the first character, under a prefix of its
own in the same table as ChangeItems' ids.

Hotbar: likewise, a character's hotbar changes only through SetHotbar (one slot, one UPDATE of
the row's hotbar in a transaction, under the same row lock as ChangeItems); SaveCharacter never
writes it, so a save carrying the hotbar read at the join cannot undo a SetHotbar since.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable

import grpc
from gateway_protos.v1 import character_pb2, character_pb2_grpc, common_pb2
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway_character.service.db import CharacterRow, ItemRequestRow, StorageRow
from gateway_character.service.inventory import (
    MAX_EXCHANGE_ITEMS,
    MAX_OPS,
    STORAGE_SLOTS,
    apply_change,
    apply_exchange,
    empty_storage,
    starter_inventory,
    weight,
)
from gateway_character.service.items import (
    HOTBAR_SLOTS,
    INVENTORY_SLOTS,
    SKILL_SLOTS,
    visible_items,
)
from gateway_character.service.options import MAX_NAME_CHARS, CharacterOptions
from gateway_character.service.starter import starter_skills
from gateway_core.api import (
    ContentPack,
    ServiceError,
    WriteQueue,
    abort,
    abort_internal,
    load_default_pack,
    name_error,
)
from gateway_core.api import ServicerContext as Context

log = logging.getLogger("gateway.service.character")

U8 = 0xFF
U16 = 0xFFFF
U32 = 0xFFFFFFFF
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MAX = 2**63 - 1

#: Namespace of the per-account creation locks (PostgreSQL advisory locks: high 32 bits).
_CREATE_LOCK_SPACE = 0x43484152  # "CHAR"
#: Namespace of the per-account storage locks (PostgreSQL advisory locks: high 32 bits).
_STORAGE_LOCK_SPACE = 0x53544F52  # "STOR"
#: Longest ChangeItems request id (bytes of its UTF-8).
MAX_REQUEST_ID_BYTES = 64
#: An exchange's request id is kept under this prefix in the table of ChangeItems request ids
#: of its first character, so that the two kinds of request never answer for each other.
EXCHANGE_KEY_PREFIX = "exchange:"
#: Longest Exchange request id (bytes of its UTF-8): the prefix and it fit the column.
MAX_EXCHANGE_ID_BYTES = MAX_REQUEST_ID_BYTES - len(EXCHANGE_KEY_PREFIX)
# Starting values of a new character (level 1 visitor, job 0); its skills come from the content
# pack's starter kit of job 0.
_START_JOB = 0
_START_STATS = {"str_": 15, "dex": 15, "int_": 15, "con": 15, "charm": 10, "sense": 10}
_START_HP, _START_MP, _START_STAMINA = 100, 50, 5000

_R = character_pb2

#: Most entries of one SaveCharacters call.
MAX_SAVE_BATCH = 1000
#: Entries of SaveCharacters stored in one transaction (its rows locked together): short
#: enough that another replica's save of one of them waits little.
SAVE_CHUNK = 250

#: How long (seconds) an applied ChangeItems or Exchange request id is remembered for its
#: retries: far longer than any caller retries (a gateway settles a lost answer within a
#: minute), short enough that the table does not grow with every change ever made.
REQUEST_KEEP_SECONDS = 24 * 3600.0


class CharacterServicer(character_pb2_grpc.CharacterServicer):
    """grpc.aio implementation of the Character service over an async session factory."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: CharacterOptions,
        *,
        clock: Callable[[], float] = time.time,
        content: ContentPack | None = None,
    ) -> None:
        self._db = sessionmaker
        self._options = options
        self._clock = clock
        #: The pack new characters are made from (``None``: the built-in pack).
        self.content = load_default_pack() if content is None else content
        self._start_skills = starter_skills(self.content, _START_JOB)
        self._start_inventory, self._start_zuly = starter_inventory(self.content, _START_JOB)
        self._name_re = re.compile(options.name_pattern)
        self._blocked = {name.casefold() for name in options.blocked_names}
        self._create_lock = asyncio.Lock()
        #: Every write transaction (queued on SQLite; PostgreSQL locks the rows instead).
        self._writes = WriteQueue(sessionmaker)

    # -- helpers ---------------------------------------------------------------------------

    async def _forget_old_requests(self, db: AsyncSession, character_id: int) -> None:
        """Forget the item request ids of ``character_id`` older than
        :data:`REQUEST_KEEP_SECONDS` (no retry comes back that late), so the table stays the
        size of the recent changes."""
        await db.execute(delete(ItemRequestRow).where(
            ItemRequestRow.character_id == character_id,
            ItemRequestRow.created_at < self._clock() - REQUEST_KEEP_SECONDS))

    async def _purge(self, db: AsyncSession) -> None:
        """Delete every character whose deletion delay has run out."""
        await db.execute(
            delete(CharacterRow).where(
                CharacterRow.delete_at.is_not(None), CharacterRow.delete_at <= self._clock()
            )
        )

    async def _owned(self, db: AsyncSession, account_id: int) -> list[CharacterRow]:
        result = await db.execute(
            select(CharacterRow)
            .where(CharacterRow.account_id == account_id)
            .order_by(CharacterRow.id)
        )
        return list(result.scalars())

    async def _check_ref(self, context: Context, ref: character_pb2.CharacterRef) -> None:
        which = ref.WhichOneof("target")
        if which is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "character: give an index or a name"
            )
        if which == "name":
            error = name_error(ref.name, "name", MAX_NAME_CHARS)
            if error is not None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)

    async def _resolve(
        self, db: AsyncSession, account_id: int, ref: character_pb2.CharacterRef
    ) -> CharacterRow:
        """The account's character ``ref`` points at (purged ones excluded), or ServiceError."""
        owned = await self._owned(db, account_id)
        if ref.WhichOneof("target") == "index":
            if ref.index < len(owned):
                return owned[ref.index]
            raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no character at index {ref.index}")
        key = ref.name.casefold()
        for row in owned:
            if row.name_key == key:
                return row
        raise ServiceError(grpc.StatusCode.NOT_FOUND, f"the account has no character {ref.name!r}")

    def _remaining(self, row: CharacterRow) -> int:
        if row.delete_at is None:
            return 0
        return max(1, math.ceil(row.delete_at - self._clock()))

    def _summary(self, row: CharacterRow) -> character_pb2.CharacterSummary:
        return character_pb2.CharacterSummary(
            id=row.id,
            name=row.name,
            race=row.race,
            level=row.level,
            job=row.job,
            remaining_delete_seconds=self._remaining(row),
            face=row.face,
            hair=row.hair,
            equipped_items=visible_items(row.inventory),
        )

    def _state(self, row: CharacterRow) -> character_pb2.CharacterState:
        return character_pb2.CharacterState(
            id=row.id,
            account_id=row.account_id,
            name=row.name,
            race=row.race,
            stone=row.stone,
            face=row.face,
            hair=row.hair,
            level=row.level,
            job=row.job,
            stats=character_pb2.BaseStats(
                str=row.str_,
                dex=row.dex,
                int_=row.int_,
                con=row.con,
                charm=row.charm,
                sense=row.sense,
            ),
            hp=row.hp,
            mp=row.mp,
            xp=row.xp,
            stat_points=row.stat_points,
            skill_points=row.skill_points,
            penalty_xp=row.penalty_xp,
            stamina=row.stamina,
            money=row.money,
            map_id=row.map_id,
            x=row.x,
            y=row.y,
            spawn=row.spawn,
            equipped_items=visible_items(row.inventory),
            inventory=[common_pb2.Item(header=h, data=d) for h, d in row.inventory],
            hotbar=row.hotbar,
            skills=row.skills,
            remaining_delete_seconds=self._remaining(row),
        )

    def _refuse(self, result: int, reason: int, message: str) -> character_pb2.CreateCharacterReply:
        return character_pb2.CreateCharacterReply(
            result=result,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            message=message,
        )

    # -- RPCs ------------------------------------------------------------------------------

    async def ListCharacters(
        self, request: character_pb2.ListCharactersRequest, context: Context
    ) -> character_pb2.ListCharactersReply:
        """The account's characters in creation order.

        Listing is the most frequent call, so it only reads, unless one of the account's own
        characters is past its deletion delay: then the purge runs first (every other call
        that could meet such a character purges too).
        """
        try:
            async with self._writes.begin() as db:
                rows = await self._owned(db, request.account_id)
                now = self._clock()
                if any(row.delete_at is not None and row.delete_at <= now for row in rows):
                    await self._purge(db)
                    rows = await self._owned(db, request.account_id)
                reply = character_pb2.ListCharactersReply(
                    characters=[self._summary(row) for row in rows]
                )
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "ListCharacters", exc)
        return reply

    async def CreateCharacter(
        self, request: character_pb2.CreateCharacterRequest, context: Context
    ) -> character_pb2.CreateCharacterReply:
        """Create a character; each broken rule gives its own result and reason."""
        error = name_error(request.name, "name", MAX_NAME_CHARS)
        if error is None and request.account_id == 0:
            error = "account_id is required"
        for field in ("race", "stone", "hair", "face", "weapon"):
            if getattr(request, field) > U8:
                error = f"{field} is above 255"
        if request.zone > U16:
            error = "zone is above 65535"
        if error is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        refusal = self._check_new_name(request.name)
        if refusal is not None:
            return refusal
        if request.race not in self._options.races:
            return self._refuse(
                _R.CREATE_CHAR_RESULT_INVALID_VALUE,
                _R.CREATE_CHAR_REASON_BAD_RACE,
                f"race {request.race} is not playable",
            )
        try:
            async with self._create_lock:
                return await self._create(request)
        except SQLAlchemyError as exc:
            log.error("character CreateCharacter failed: %s", exc, exc_info=exc)
            return self._refuse(
                _R.CREATE_CHAR_RESULT_FAILED,
                _R.CREATE_CHAR_REASON_UNSPECIFIED,
                "backend error",
            )

    def _check_new_name(self, name: str) -> character_pb2.CreateCharacterReply | None:
        options = self._options
        if len(name) < options.name_min_length:
            return self._refuse(
                _R.CREATE_CHAR_RESULT_INVALID_VALUE,
                _R.CREATE_CHAR_REASON_NAME_TOO_SHORT,
                f"names have at least {options.name_min_length} characters",
            )
        if len(name) > options.name_max_length:
            return self._refuse(
                _R.CREATE_CHAR_RESULT_INVALID_VALUE,
                _R.CREATE_CHAR_REASON_NAME_TOO_LONG,
                f"names have at most {options.name_max_length} characters",
            )
        if self._name_re.fullmatch(name) is None:
            return self._refuse(
                _R.CREATE_CHAR_RESULT_INVALID_VALUE,
                _R.CREATE_CHAR_REASON_NAME_BAD_CHARACTERS,
                "the name has characters that are not allowed",
            )
        if name.casefold() in self._blocked:
            return self._refuse(
                _R.CREATE_CHAR_RESULT_BLOCKED,
                _R.CREATE_CHAR_REASON_NAME_BLOCKED,
                "this name is reserved",
            )
        return None

    async def _create(
        self, request: character_pb2.CreateCharacterRequest
    ) -> character_pb2.CreateCharacterReply:
        options = self._options
        async with self._writes.begin() as db:
            if db.get_bind().dialect.name == "postgresql":
                # Replicas share the database: the per-account limit is checked and the row
                # inserted under a lock of that account held by this transaction (the name is
                # unique by its constraint). SQLite serves one process, under _create_lock.
                await db.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _CREATE_LOCK_SPACE << 32 | request.account_id},
                )
            await self._purge(db)
            count = (
                await db.execute(
                    select(func.count())
                    .select_from(CharacterRow)
                    .where(CharacterRow.account_id == request.account_id)
                )
            ).scalar_one()
            if count >= options.max_per_account:
                return self._refuse(
                    _R.CREATE_CHAR_RESULT_TOO_MANY_CHARS,
                    _R.CREATE_CHAR_REASON_TOO_MANY_CHARS,
                    f"an account has at most {options.max_per_account} characters",
                )
            taken = await db.execute(
                select(CharacterRow.id).where(CharacterRow.name_key == request.name.casefold())
            )
            if taken.first() is not None:
                return self._refuse(
                    _R.CREATE_CHAR_RESULT_NAME_TAKEN,
                    _R.CREATE_CHAR_REASON_NAME_TAKEN,
                    "the name is taken",
                )
            row = CharacterRow(
                account_id=request.account_id,
                name=request.name,
                name_key=request.name.casefold(),
                race=request.race,
                stone=request.stone,
                face=request.face,
                hair=request.hair,
                level=1,
                job=_START_JOB,
                **_START_STATS,
                hp=_START_HP,
                mp=_START_MP,
                xp=0,
                stat_points=0,
                skill_points=0,
                penalty_xp=0,
                stamina=_START_STAMINA,
                # The job's starter kit: zuly, items (equipped or in the bag) and skills.
                money=self._start_zuly,
                map_id=options.start_map,
                x=options.start_x,
                y=options.start_y,
                spawn=0,
                inventory=[list(item) for item in self._start_inventory],
                hotbar=[0] * HOTBAR_SLOTS,
                skills=list(self._start_skills),
                created_at=self._clock(),
                delete_at=None,
            )
            db.add(row)
            try:
                await db.flush()
            except IntegrityError:  # a concurrent create won the name
                return self._refuse(
                    _R.CREATE_CHAR_RESULT_NAME_TAKEN,
                    _R.CREATE_CHAR_REASON_NAME_TAKEN,
                    "the name is taken",
                )
            summary = self._summary(row)
        log.info("character %d created for account %d", summary.id, request.account_id)
        return character_pb2.CreateCharacterReply(
            result=_R.CREATE_CHAR_RESULT_OK, character=summary
        )

    async def _delete_or_undelete(
        self, request: character_pb2.DeleteCharacterRequest, context: Context, *, undo: bool
    ) -> character_pb2.DeleteCharacterReply:
        await self._check_ref(context, request.character)
        rpc = "UndeleteCharacter" if undo else "DeleteCharacter"
        try:
            async with self._writes.begin() as db:
                await self._purge(db)
                row = await self._resolve(db, request.account_id, request.character)
                name = row.name
                if undo:
                    row.delete_at = None
                    reply = character_pb2.DeleteCharacterReply(name=name)
                elif self._options.delete_delay <= 0:
                    await db.delete(row)
                    reply = character_pb2.DeleteCharacterReply(name=name, deleted=True)
                else:
                    if row.delete_at is None:  # asking again keeps the first schedule
                        row.delete_at = self._clock() + self._options.delete_delay
                    reply = character_pb2.DeleteCharacterReply(
                        name=name, remaining_seconds=self._remaining(row)
                    )
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", rpc, exc)
        log.info("character %r: %s", name, rpc)
        return reply

    async def DeleteCharacter(
        self, request: character_pb2.DeleteCharacterRequest, context: Context
    ) -> character_pb2.DeleteCharacterReply:
        """Schedule a deletion (or delete at once with a delay of 0)."""
        return await self._delete_or_undelete(request, context, undo=False)

    async def UndeleteCharacter(
        self, request: character_pb2.DeleteCharacterRequest, context: Context
    ) -> character_pb2.DeleteCharacterReply:
        """Cancel a pending deletion."""
        return await self._delete_or_undelete(request, context, undo=True)

    async def SelectCharacter(
        self, request: character_pb2.SelectCharacterRequest, context: Context
    ) -> character_pb2.CharacterState:
        """The full state of the account's character, unless its deletion is pending."""
        await self._check_ref(context, request.character)
        try:
            async with self._writes.begin() as db:
                await self._purge(db)
                row = await self._resolve(db, request.account_id, request.character)
                if row.delete_at is not None:
                    raise ServiceError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"{row.name!r} is being deleted; undelete it first",
                    )
                state = self._state(row)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "SelectCharacter", exc)
        return state

    async def GetCharacter(
        self, request: character_pb2.GetCharacterRequest, context: Context
    ) -> character_pb2.CharacterState:
        """A character's state by id."""
        try:
            async with self._writes.begin() as db:
                await self._purge(db)
                row = await db.get(CharacterRow, request.character_id)
                if row is None:
                    raise ServiceError(
                        grpc.StatusCode.NOT_FOUND, f"no character {request.character_id}"
                    )
                state = self._state(row)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "GetCharacter", exc)
        return state

    async def SaveCharacter(
        self, request: character_pb2.SaveCharacterRequest, context: Context
    ) -> character_pb2.SaveCharacterReply:
        """Store the world's view of a character (see the contract for what is replaced).

        Never the inventory, money or equipped items: they change through ChangeItems only,
        and the gateway's copy in ``state`` may be older than a ChangeItems since (the
        gateway never writes an inventory it read earlier back over a newer one). Nor the
        hotbar, which changes through SetHotbar only, for the same reason. They are still
        checked to be in their wire ranges."""
        state = request.state
        error = _save_error(state)
        if error is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        try:
            async with self._writes.begin() as db:
                row = await db.get(CharacterRow, state.id)
                if row is None:
                    raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no character {state.id}")
                for column, value in _saved_values(state).items():
                    setattr(row, column, value)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "SaveCharacter", exc)
        return character_pb2.SaveCharacterReply()

    async def SaveCharacters(
        self, request: character_pb2.SaveCharactersRequest, context: Context
    ) -> character_pb2.SaveCharactersReply:
        """SaveCharacter for each entry, each with its own outcome.

        The valid entries are stored in transactions of :data:`SAVE_CHUNK` entries: the rows
        of one are locked in id order first (``FOR UPDATE`` on PostgreSQL, so two replicas'
        batches, or a batch and a ChangeItems or an Exchange, which lock in id order too,
        wait for each other instead of interleaving or deadlocking), then updated in request
        order in one statement (of one character, the last entry wins). A chunk whose
        transaction fails reports INTERNAL for its entries and the next chunk goes on."""
        states = request.states
        if len(states) > MAX_SAVE_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"more than {MAX_SAVE_BATCH} states")
        outcomes = [character_pb2.SaveOutcome() for _ in states]
        valid: list[int] = []
        for index, state in enumerate(states):
            error = _save_error(state)
            if error is None:
                valid.append(index)
            else:
                outcomes[index] = _outcome(grpc.StatusCode.INVALID_ARGUMENT, error)
        for start in range(0, len(valid), SAVE_CHUNK):
            chunk = valid[start:start + SAVE_CHUNK]
            stored: list[int] = []
            try:
                async with self._writes.begin() as db:
                    wanted = sorted({states[i].id for i in chunk})
                    query = (select(CharacterRow.id).where(CharacterRow.id.in_(wanted))
                             .order_by(CharacterRow.id))
                    if db.get_bind().dialect.name != "sqlite":
                        query = query.with_for_update()
                    present = set((await db.execute(query)).scalars())
                    rows: list[dict[str, object]] = []
                    for index in chunk:
                        state = states[index]
                        if state.id in present:
                            rows.append({"id": state.id, **_saved_values(state)})
                            stored.append(index)
                        else:
                            outcomes[index] = _outcome(grpc.StatusCode.NOT_FOUND,
                                                       f"no character {state.id}")
                    if rows:  # one executemany by primary key, in request order
                        await db.execute(update(CharacterRow), rows)
            except SQLAlchemyError as exc:
                log.error("character: SaveCharacters: a transaction of %d entries failed: %r",
                          len(chunk), exc)
                for index in chunk:
                    if index in stored or outcomes[index].code == 0:
                        outcomes[index] = _outcome(grpc.StatusCode.INTERNAL,
                                                   "the database failed; not stored")
        return character_pb2.SaveCharactersReply(outcomes=outcomes)

    async def ChangeItems(
        self, request: character_pb2.ChangeItemsRequest, context: Context
    ) -> character_pb2.ChangeItemsReply:
        """Apply a change of items and zuly all or nothing, once per request id."""
        error = None
        if request.character_id == 0:
            error = "character_id is required"
        elif not request.request_id:
            error = "request_id is required"
        elif len(request.request_id.encode()) > MAX_REQUEST_ID_BYTES:
            error = f"request_id is longer than {MAX_REQUEST_ID_BYTES} bytes"
        elif len(request.ops) > MAX_OPS:
            error = f"more than {MAX_OPS} operations"
        if error is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        try:
            async with self._writes.begin() as db:
                sqlite = db.get_bind().dialect.name == "sqlite"
                reply = await self._change_items(db, request, postgres=not sqlite)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "ChangeItems", exc)
        return reply

    async def Exchange(
        self, request: character_pb2.ExchangeRequest, context: Context
    ) -> character_pb2.ExchangeReply:
        """Exchange items and zuly between two characters all or nothing, once per request id
        (kept for the first character)."""
        error = None
        a, b = request.a.character_id, request.b.character_id
        if a == 0 or b == 0:
            error = "both character ids are required"
        elif a == b:
            error = "a character cannot exchange with itself"
        elif not request.request_id:
            error = "request_id is required"
        elif len(request.request_id.encode()) > MAX_EXCHANGE_ID_BYTES:
            error = f"request_id is longer than {MAX_EXCHANGE_ID_BYTES} bytes"
        elif max(len(request.a.gives), len(request.b.gives)) > MAX_EXCHANGE_ITEMS:
            error = f"more than {MAX_EXCHANGE_ITEMS} items a side"
        elif request.a.zuly < 0 or request.b.zuly < 0:
            error = "zuly is negative"
        if error is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        try:
            async with self._writes.begin() as db:
                sqlite = db.get_bind().dialect.name == "sqlite"
                reply = await self._exchange(db, request, postgres=not sqlite)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "Exchange", exc)
        return reply

    async def _exchange(
        self, db: AsyncSession, request: character_pb2.ExchangeRequest, *, postgres: bool
    ) -> character_pb2.ExchangeReply:
        # Rows are locked in id order (FOR UPDATE on PostgreSQL), so two exchanges of the same
        # two characters, or an exchange and a ChangeItems, never wait on each other in a
        # circle.
        ids = sorted((request.a.character_id, request.b.character_id))
        rows = {cid: await self._live_character(db, cid, lock=postgres) for cid in ids}
        first = rows[request.a.character_id]
        key = EXCHANGE_KEY_PREFIX + request.request_id
        seen = (
            await db.execute(
                select(ItemRequestRow.reply).where(
                    ItemRequestRow.character_id == first.id,
                    ItemRequestRow.request_id == key,
                )
            )
        ).scalar_one_or_none()
        if seen is not None:
            replayed = character_pb2.ExchangeReply.FromString(seen)
            replayed.replayed = True
            return replayed
        second = rows[request.b.character_id]
        done = apply_exchange(self.content, request, first.inventory, first.money,
                              second.inventory, second.money)
        reply = character_pb2.ExchangeReply(
            result=done.result,  # type: ignore[arg-type]
            message=done.message,
        )
        if done.ok:
            for row, after, outcome in ((first, done.a, reply.a), (second, done.b, reply.b)):
                if after.changed:
                    row.inventory = [list(item) for item in after.inventory]
                if after.zuly != row.money:
                    row.money = after.zuly
                outcome.character_id = row.id
                outcome.changed.extend(
                    character_pb2.SlotItem(slot=slot, item=_item(after.inventory[slot]))
                    for slot in after.changed
                )
                outcome.zuly = after.zuly
                outcome.weight = min(weight(self.content, after.inventory), U32)
        else:
            reply.failed_character_id = first.id if done.failed == "a" else second.id
        await self._forget_old_requests(db, first.id)
        db.add(
            ItemRequestRow(
                character_id=first.id,
                request_id=key,
                reply=reply.SerializeToString(),
                created_at=self._clock(),
            )
        )
        await db.flush()
        if done.ok:
            log.info("characters %d and %d: exchange made (request %r)", first.id, second.id,
                     request.request_id)
        return reply

    async def SetHotbar(
        self, request: character_pb2.SetHotbarRequest, context: Context
    ) -> character_pb2.SetHotbarReply:
        """Put ``icon`` (a HotbarItem u16; 0 clears) in hotbar slot ``slot`` of a character."""
        error = None
        if request.character_id == 0:
            error = "character_id is required"
        elif request.slot >= HOTBAR_SLOTS:
            error = f"slot is above {HOTBAR_SLOTS - 1}"
        elif request.icon > U16:
            error = "icon is above 65535"
        if error is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        try:
            async with self._writes.begin() as db:
                sqlite = db.get_bind().dialect.name == "sqlite"
                row = await self._live_character(db, request.character_id, lock=not sqlite)
                hotbar = list(row.hotbar or [])[:HOTBAR_SLOTS]
                hotbar += [0] * (HOTBAR_SLOTS - len(hotbar))
                hotbar[request.slot] = request.icon
                row.hotbar = hotbar  # a new list: the JSON column sees the change
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "SetHotbar", exc)
        return character_pb2.SetHotbarReply()

    async def _live_character(
        self, db: AsyncSession, character_id: int, *, lock: bool = False
    ) -> CharacterRow:
        """The character ``character_id`` (locked FOR UPDATE with ``lock``), or NOT_FOUND."""
        query = select(CharacterRow).where(CharacterRow.id == character_id)
        if lock:
            query = query.with_for_update()
        row = (await db.execute(query)).scalar_one_or_none()
        if row is None or (row.delete_at is not None and row.delete_at <= self._clock()):
            raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no character {character_id}")
        return row

    async def _change_items(
        self, db: AsyncSession, request: character_pb2.ChangeItemsRequest, *, postgres: bool
    ) -> character_pb2.ChangeItemsReply:
        row = await self._live_character(db, request.character_id, lock=postgres)
        seen = (
            await db.execute(
                select(ItemRequestRow.reply).where(
                    ItemRequestRow.character_id == row.id,
                    ItemRequestRow.request_id == request.request_id,
                )
            )
        ).scalar_one_or_none()
        if seen is not None:
            first = character_pb2.ChangeItemsReply.FromString(seen)
            first.replayed = True
            return first
        if postgres:  # the storage is shared by the account's characters (and replicas)
            await db.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": _STORAGE_LOCK_SPACE << 32 | row.account_id},
            )
        storage = await db.get(StorageRow, row.account_id)
        change = apply_change(
            self.content,
            request,
            row.inventory,
            row.money,
            storage.items if storage is not None else empty_storage(),
            storage.zuly if storage is not None else 0,
        )
        if change.ok:
            if change.changed:
                row.inventory = [list(item) for item in change.inventory]
            if change.zuly != row.money:
                row.money = change.zuly
            if change.storage_changed or request.storage_zuly_delta:
                if storage is None:
                    storage = StorageRow(account_id=row.account_id)
                    db.add(storage)
                storage.items = [list(item) for item in change.storage]
                storage.zuly = change.storage_zuly
        reply = character_pb2.ChangeItemsReply(
            result=change.result,  # type: ignore[arg-type]
            message=change.message,
            changed=[
                character_pb2.SlotItem(slot=slot, item=_item(change.inventory[slot]))
                for slot in change.changed
            ],
            zuly=change.zuly,
            storage_changed=[
                character_pb2.SlotItem(slot=slot, item=_item(change.storage[slot]))
                for slot in change.storage_changed
            ],
            storage_zuly=change.storage_zuly,
            weight=min(weight(self.content, change.inventory), U32),
        )
        await self._forget_old_requests(db, row.id)
        db.add(
            ItemRequestRow(
                character_id=row.id,
                request_id=request.request_id,
                reply=reply.SerializeToString(),
                created_at=self._clock(),
            )
        )
        await db.flush()
        if change.ok:
            log.info("character %d: items changed (request %r)", row.id, request.request_id)
        return reply

    async def GetStorage(
        self, request: character_pb2.GetStorageRequest, context: Context
    ) -> character_pb2.Storage:
        """The storage of the character's account (empty until its first change)."""
        try:
            async with self._writes.begin() as db:
                row = await self._live_character(db, request.character_id)
                storage = await db.get(StorageRow, row.account_id)
                items = storage.items if storage is not None else empty_storage()
                items = list(items) + [[0, 0]] * (STORAGE_SLOTS - len(items))
                reply = character_pb2.Storage(
                    items=[_item(item) for item in items[:STORAGE_SLOTS]],
                    zuly=storage.zuly if storage is not None else 0,
                )
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "character", "GetStorage", exc)
        return reply


def _item(item: tuple[int, int] | list[int]) -> common_pb2.Item:
    return common_pb2.Item(header=item[0], data=item[1])


def _saved_values(state: character_pb2.CharacterState) -> dict[str, object]:
    """The columns a save replaces, from ``state`` (never items, money or the hotbar)."""
    return {
        "level": state.level, "job": state.job,
        "str_": state.stats.str, "dex": state.stats.dex, "int_": state.stats.int_,
        "con": state.stats.con, "charm": state.stats.charm, "sense": state.stats.sense,
        "hp": state.hp, "mp": state.mp, "xp": state.xp,
        "stat_points": state.stat_points, "skill_points": state.skill_points,
        "penalty_xp": state.penalty_xp, "stamina": state.stamina,
        "map_id": state.map_id, "x": state.x, "y": state.y, "spawn": state.spawn,
        "skills": list(state.skills) + [0] * (SKILL_SLOTS - len(state.skills)),
    }


def _outcome(code: grpc.StatusCode, message: str) -> character_pb2.SaveOutcome:
    return character_pb2.SaveOutcome(code=code.value[0], message=message)


def _save_error(state: character_pb2.CharacterState) -> str | None:
    """Why ``state`` cannot be stored (values outside their wire ranges), or None."""
    if state.id == 0:
        return "state.id is required"
    u16_fields: dict[str, int] = {
        "level": state.level,
        "job": state.job,
        "stamina": state.stamina,
        "map_id": state.map_id,
        "spawn": state.spawn,
        "stats.str": state.stats.str,
        "stats.dex": state.stats.dex,
        "stats.int_": state.stats.int_,
        "stats.con": state.stats.con,
        "stats.charm": state.stats.charm,
        "stats.sense": state.stats.sense,
    }
    for name, value in u16_fields.items():
        if value > U16:
            return f"{name} is above 65535"
    if state.money < 0:
        return "money is negative"
    if not (math.isfinite(state.x) and math.isfinite(state.y)):
        return "position is not finite"
    if len(state.inventory) > INVENTORY_SLOTS:
        return f"inventory has more than {INVENTORY_SLOTS} slots"
    if any(item.header > U16 for item in state.inventory):
        return "an item header is above 65535"
    if len(state.hotbar) > HOTBAR_SLOTS or any(v > U16 for v in state.hotbar):
        return f"hotbar has more than {HOTBAR_SLOTS} slots or a value above 65535"
    if len(state.skills) > SKILL_SLOTS or any(v > U16 for v in state.skills):
        return f"skills has more than {SKILL_SLOTS} slots or a value above 65535"
    return None
