"""Combat in the reference world: attacks, monsters that fight back, XP and levels, death and
revive, skills, walk/run and sitting, regeneration, and the loot on the ground.

Strategy: the service decides everything; a client only asks. Each player, NPC-less monster
and ground item is an :class:`~gateway_world.service.entities.Entity` of its map instance; a
fighting one carries a :class:`Fighter` (its level, stats, vitals, what it attacks, its
cooldowns and buffs). ``PAKCS_ATTACK`` only *chooses* a target (checked: on the map, in
view, alive, allowed); the hits land on the service's tick, one every
:func:`~gateway_world.service.formulas.attack_interval` of the attacker's attack speed, while
the target is within reach (attack range plus :data:`RANGE_SLACK`; out of reach the attacker
walks after it). So a client that sends attacks faster than its speed gains nothing, and
``PAKCS_DAMAGE`` (a client's claim of damage) is never taken.

Everything a change implies is sent as the protocol's packets, encoded here with the core's
packet declarations and carried as game actions (``PAKWC_ATTACK``, ``PAKWC_DAMAGE``,
``PAKWC_SET_EXP``, ``PAKWC_LEVELUP``, ``PAKWC_SET_HP_AND_MP``, the skill packets ...); ground
items are view objects of their own (``ground_item`` events, PAKWC_DROP_ITEM). What the
character service stores (level, XP, HP/MP, stats, points, skills) goes to the character's
own gateway as one ``progress`` event per delivery tick at most (:meth:`Combat.emit_progress`).

A refused request raises :class:`~gateway_world.service.entities.Refused` with a reason the
gateway counts, and changes nothing; where the protocol has a refusal packet (the skill
cancel and skill-level replies) it is sent first. docs/combat.md documents the rules.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Iterable
from typing import Any, Final, Protocol

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import (
    CliAttack,
    CliHpReq,
    CliSkillCastPosition,
    CliSkillCastSelf,
    CliSkillCastTarget,
    CliSkillLevelReq,
    CliStatAddReq,
    CliToggleMove,
    ContentPack,
    Item,
    ItemDef,
    MonsterDef,
    Packet,
    ServiceError,
    SkillCancelResult,
    SkillDef,
    SkillLevelResult,
    SrvAttack,
    SrvClearStatus,
    SrvDamage,
    SrvHpReply,
    SrvLevelup,
    SrvSetExp,
    SrvSetHpAndMp,
    SrvSkillCancel,
    SrvSkillCastPosition,
    SrvSkillCastSelf,
    SrvSkillCastTarget,
    SrvSkillDamage,
    SrvSkillEffect,
    SrvSkillFinish,
    SrvSkillLevelReply,
    SrvSkillStart,
    SrvStatAddReply,
    SrvToggleMove,
    SrvUseItem,
    ToggleMove,
)
from gateway_world.service import formulas
from gateway_world.service.entities import (
    MONSTER,
    PLAYER,
    Buff,
    Entity,
    Fighter,
    GroundDrop,
    HealOverTime,
    MapState,
    Refused,
)
from gateway_world.service.formulas import BaseStats, Bonus


class World(Protocol):
    """What the combat rules need of the world state (:class:`~.state.WorldState`)."""

    content: ContentPack | None
    rng: random.Random
    characters: dict[int, Entity]

    def clock(self) -> float: ...
    def send(self, recipients: Iterable[Entity], kind: str, body: Any, subject: int) -> None: ...
    def wake(self) -> None: ...
    def instance_of(self, entity: Entity) -> MapState: ...
    def place_entity(self, entity: Entity) -> None: ...
    def point_near(self, instance: MapState, x: float, y: float,
                   radius: float) -> tuple[float, float]: ...
    def teleport(self, entity: Entity, map_id: int, position: world_pb2.Position, *,
                 reload: bool = False) -> None: ...
    def remove_monster(self, channel_id: int, map_id: int, object_id: int) -> Entity: ...
    def place_ground_item(self, instance: MapState, x: float, y: float,
                          ground: GroundDrop) -> Entity: ...
    def remove_ground_item(self, instance: MapState, entity: Entity) -> None: ...
    def close_stall(self, entity: Entity) -> None: ...

#: PAKWC_DAMAGE ``action`` bits (the client's damage flags).
DAMAGE_ATTACK: Final = 0x02
DAMAGE_HIT: Final = 0x04
DAMAGE_CRITICAL: Final = 0x08
DAMAGE_DEAD: Final = 0x10

#: A player's melee reach in map units (the pack's weapons carry no range).
PLAYER_ATTACK_RANGE: Final = 150.0
#: Added to every reach check: the two bodies, and the client's walk running a little apart
#: from the service's.
RANGE_SLACK: Final = 100.0
#: Seconds a killed monster lies dead (the client plays its death) before it is removed.
CORPSE_SECONDS: Final = 4.0
#: A monster that chases farther than this from its spawn circle gives up and walks home.
LEASH_DISTANCE: Final = 2500.0
#: Seconds between two looks around of an aggressive monster with no target.
AGGRO_CHECK_SECONDS: Final = 0.5
#: Farthest (map units) a party member may be from a monster its party killed to share the XP
#: and the drops (members on the monster's map instance only).
PARTY_SHARE_RADIUS: Final = 5000.0
#: Party rule bits (PAKCS_PARTY_RULE): XP split equally among the members in range (else in
#: proportion to their levels); drops owned by the members in turn (else by the party).
RULE_EXP_PER_PLAYER: Final = 0x01
RULE_ITEM_IN_ORDER: Final = 0x80

#: Seconds loot lies on the ground, and how long only its owner may take it.
GROUND_ITEM_SECONDS: Final = 120
OWNER_WINDOW_SECONDS: Final = 30
#: How far from the corpse loot falls (map units).
LOOT_SCATTER: Final = 120.0
#: The client's item type of zuly on the ground.
ZULY_ITEM_TYPE: Final = 31
#: Seconds between two steps of a heal over time.
HEAL_STEP_SECONDS: Final = 1.0
#: Skill slots of a character.
SKILL_SLOTS: Final = 120
#: ReviveRequest values (PAKCS_REVIVE_REQ).
REVIVE_POSITION, SAVE_POSITION, START_POSITION, CURRENT_POSITION = 1, 2, 3, 4

_MAX_U16: Final = 0xFFFF
_MAX_I16: Final = 0x7FFF
#: Walk mode as PAKWC_TOGGLE_MOVE reports it (RUN and SIT are the enum's own values).
WALKING: Final = 0


def _u16(value: float) -> int:
    return min(max(int(value), 0), _MAX_U16)


def _i16(value: int) -> int:
    return min(max(int(value), -0x8000), _MAX_I16)


def _i32(value: int) -> int:
    return min(max(int(value), -(2**31)), 2**31 - 1)


def skill_wire_id(skill_id: int) -> tuple[int, int]:
    """The skill number split over the cast packets' ``id`` (i8) and the byte after it: the
    two bytes are the client's 16-bit skill number, low byte first (docs/protocol.md §10.15)."""
    low = skill_id & 0xFF
    return (low - 0x100 if low > 0x7F else low), (skill_id >> 8) & 0xFF


def party_shares(pool: int, levels: list[int], *, per_player: bool) -> list[int]:
    """A kill's XP ``pool`` split among party members of ``levels`` (the killer first):
    equal parts (``per_player``) or parts in proportion to the levels; what the rounding down
    leaves goes to the killer, so the shares always add up to the pool."""
    if not levels:
        return []
    if per_player:
        shares = [pool // len(levels)] * len(levels)
    else:
        total = sum(max(1, level) for level in levels)
        shares = [pool * max(1, level) // total for level in levels]
    shares[0] += pool - sum(shares)
    return shares


def _bonus_of(buffs: Iterable[Buff]) -> Bonus:
    total: dict[str, int] = {}
    for buff in buffs:
        total[buff.stat] = total.get(buff.stat, 0) + buff.power
    return Bonus(**total)


def equipment_bonus(content: ContentPack | None, equipment: Iterable[int]) -> Bonus:
    """What the visible equipment adds: each packed EquippedItem of the look (body-part order,
    so the slot gives the item type) found in the pack adds its ``stats``."""
    if content is None:
        return Bonus()
    bonus = Bonus()
    for item_type, equipped in zip(_VISIBLE_TYPES, equipment, strict=False):
        number = equipped & 0x3FF
        if not number:
            continue
        bonus = bonus + item_bonus(content.item_by_client(item_type, number))
    return bonus


def item_bonus(item: ItemDef | None) -> Bonus:
    """What wearing ``item`` adds (nothing for an unknown item or one without stats)."""
    if item is None or item.stats is None:
        return Bonus()
    stats = item.stats
    return Bonus(
        attack=stats.attack, defence=stats.defence, magic_defence=stats.magic_defence,
        hit=stats.hit, dodge=stats.dodge, move_speed=stats.move_speed,
        attack_speed=stats.attack_speed, max_hp=stats.max_hp, max_mp=stats.max_mp,
    )


#: Item types of the look's 8 visible items, in its body-part order (helmet, armour,
#: gauntlets, boots, goggles, back, right and left weapon).
_VISIBLE_TYPES: Final = (2, 3, 4, 5, 1, 6, 8, 9)


def player_fighter(
    combatant: world_pb2.Combatant | None, look: world_pb2.PlayerLook, content: ContentPack | None
) -> Fighter:
    """A player's fighter from what the character service stored (a level 1 character at
    full HP and MP when nothing was); HP above the maximum is cut to it, a character stored
    dead comes back with the revive share of its HP."""
    full = combatant is None  # nothing stored (no character data): full vitals
    if combatant is None:
        combatant = world_pb2.Combatant(level=max(1, look.level), job=max(0, look.job))
    level = min(max(1, combatant.level), 255)
    stats = BaseStats.of(list(combatant.stats))
    gear = equipment_bonus(content, look.equipment)
    derived = formulas.derive(level, combatant.job, stats, gear)
    hp = derived.max_hp if full else min(max(0, combatant.hp), derived.max_hp)
    if hp <= 0:
        hp = formulas.revive_hp(derived.max_hp)
    skills = list(combatant.skills[:SKILL_SLOTS])
    skills += [0] * (SKILL_SLOTS - len(skills))
    return Fighter(
        level=level, job=combatant.job, xp=combatant.xp, hp=hp,
        mp=derived.max_mp if full else min(max(0, combatant.mp), derived.max_mp),
        stats=stats, derived=derived,
        attack_range=PLAYER_ATTACK_RANGE, stat_points=combatant.stat_points,
        skill_points=combatant.skill_points, penalty_xp=combatant.penalty_xp,
        stamina=combatant.stamina, skills=skills, gear=gear,
        base_run_speed=float(look.run_speed) if look.run_speed > 0 else formulas.BASE_RUN_SPEED,
    )


def monster_fighter(kind: MonsterDef) -> Fighter:
    """A monster's fighter from its kind in the pack."""
    derived = formulas.monster_derived(
        kind.level, kind.hp, kind.attack, kind.defence, kind.attack_speed, kind.move_speed
    )
    return Fighter(
        level=kind.level, job=0, xp=0, hp=derived.max_hp, mp=derived.max_mp,
        stats=BaseStats.of(()), derived=derived, attack_range=kind.attack_range, monster=kind,
    )


class Combat:
    """The combat rules of one :class:`WorldState` (its content, clock and random source).

    ``revive_in_place`` allows PAKCS_REVIVE_REQ's "where it fell" (else it revives at the
    map's revive point).
    """

    def __init__(self, state: World, *, revive_in_place: bool = False) -> None:
        self.state = state
        self.revive_in_place = revive_in_place
        #: Entities with a target.
        self.fighting: set[Entity] = set()
        #: Players below their maximum HP or MP, or with buffs: what the tick restores.
        self.recovering: set[Entity] = set()
        #: Characters whose stored data changed since the last progress event (value: a
        #: level-up was among the changes).
        self.dirty: dict[Entity, bool] = {}
        self._sequence = itertools.count()
        #: (due, sequence, entity): dead monsters to remove, ground items to expire.
        self._timers: list[tuple[float, int, Entity]] = []
        #: Parties (SetParty): the members on maps by party id, each member's (party, rule),
        #: and whose turn the next drop of a party with the item-in-order rule is.
        self.parties: dict[int, set[Entity]] = {}
        self.party_of: dict[Entity, tuple[int, int]] = {}
        self._drop_turn: dict[int, int] = {}
        self.shared_kills = 0
        self.hits = 0
        self.kills = 0
        self.deaths = 0
        self.ticks = 0
        self.tick_seconds = 0.0

    @property
    def content(self) -> ContentPack | None:
        return self.state.content

    # -- sending ----------------------------------------------------------------------------

    def _show(self, recipients: Iterable[Entity], packet: Packet, subject: int) -> None:
        self.state.send(
            recipients,
            "action",
            world_pb2.GameActionDelivery(packet_name=packet.NAME, payload=packet.encode_payload()),
            subject,
        )

    def _around(self, entity: Entity) -> list[Entity]:
        return [entity, *entity.seen]

    def _vitals(self, entity: Entity) -> None:
        """PAKWC_SET_HP_AND_MP to the character itself."""
        fighter = entity.fighter
        assert fighter is not None
        self._show([entity], SrvSetHpAndMp(id=entity.object_id, hp=_i32(fighter.hp),
                                           mp=_i32(fighter.mp)), entity.object_id)

    def mark(self, entity: Entity, *, level_up: bool = False) -> None:
        """The character's stored data changed: a progress event at the next delivery tick."""
        if not entity.is_player:
            return
        self.dirty[entity] = self.dirty.get(entity, False) or level_up
        if entity.fighter is not None and (
            entity.fighter.hp < entity.fighter.max_hp
            or entity.fighter.mp < entity.fighter.max_mp
            or entity.fighter.buffs
        ):
            self.recovering.add(entity)
        self.state.wake()

    def progress(self, entity: Entity, *, level_up: bool = False) -> world_pb2.Progress:
        """The ``progress`` event body of a character."""
        fighter = entity.fighter
        assert fighter is not None
        return world_pb2.Progress(
            object_id=entity.object_id,
            combatant=world_pb2.Combatant(
                level=fighter.level, job=fighter.job, xp=fighter.xp, hp=max(0, fighter.hp),
                mp=max(0, fighter.mp), stats=list(fighter.stats.as_tuple()),
                stat_points=fighter.stat_points, skill_points=fighter.skill_points,
                penalty_xp=fighter.penalty_xp, skills=fighter.skills, stamina=fighter.stamina,
            ),
            max_hp=fighter.max_hp,
            max_mp=fighter.max_mp,
            level_up=level_up,
        )

    def emit_progress(self) -> None:
        """One progress event per changed character (the delivery tick calls this)."""
        if not self.dirty:
            return
        dirty, self.dirty = self.dirty, {}
        for entity, level_up in dirty.items():
            if entity.fighter is not None and entity.gateway is not None:
                self.state.send([entity], "progress", self.progress(entity, level_up=level_up),
                                entity.object_id)

    # -- checks -----------------------------------------------------------------------------

    @staticmethod
    def _refuse(reason: str, message: str,
                code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION) -> Exception:
        return Refused(code, reason, message)

    def _alive(self, entity: Entity) -> Fighter:
        fighter = entity.fighter
        if fighter is None:
            raise self._refuse("no_fighter", f"object {entity.object_id} cannot fight")
        if fighter.dead:
            raise self._refuse("dead", f"character {entity.character_id} is dead")
        return fighter

    def _decode(self, cls: type[Any], payload: bytes) -> Any:
        decoded = cls.decode_payload(payload)
        if decoded.missing is not None:
            raise self._refuse("bad_payload", f"{cls.NAME} payload lacks {decoded.missing}",
                               grpc.StatusCode.INVALID_ARGUMENT)
        return decoded.packet

    def _visible(self, entity: Entity, object_id: int) -> Entity:
        """The object ``object_id`` of the entity's instance, if it sees it (or is it)."""
        target = self.state.instance_of(entity).objects.get(object_id)
        if target is None or (target is not entity and target not in entity.seen):
            raise self._refuse("unknown_target",
                               f"object {object_id} is not in view of {entity.object_id}",
                               grpc.StatusCode.NOT_FOUND)
        return target

    def _may_attack(self, attacker: Entity, target: Entity) -> Fighter:
        fighter = target.fighter
        if target is attacker or fighter is None or target.kind not in (MONSTER, PLAYER):
            raise self._refuse("not_attackable", f"object {target.object_id} cannot be attacked")
        if fighter.dead:
            raise self._refuse("target_dead", f"object {target.object_id} is dead")
        if target.kind == PLAYER and attacker.kind == PLAYER:
            map_def = self.state.instance_of(attacker).map_def
            if map_def is None or not map_def.pvp:
                raise self._refuse("no_pvp", f"map {attacker.map_id} does not allow PvP")
        return fighter

    # -- client actions ---------------------------------------------------------------------

    def attack(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_ATTACK: choose the target; the hits come from the tick."""
        packet: CliAttack = self._decode(CliAttack, payload)
        fighter = self._alive(entity)
        target = self._visible(entity, packet.target_id)
        self._may_attack(entity, target)
        if fighter.target is target:
            raise self._refuse("already_attacking", f"already attacking {target.object_id}")
        fighter.sitting = False
        self._engage(entity, target)

    def _engage(self, entity: Entity, target: Entity) -> None:
        fighter = entity.fighter
        assert fighter is not None
        now = self.state.clock()
        entity.advance(now)
        target.advance(now)
        fighter.target = target
        entity.target_object_id = target.object_id
        self.fighting.add(entity)
        distance = math.hypot(target.x - entity.x, target.y - entity.y)
        self._show(
            self._around(entity),
            SrvAttack(attacker_id=entity.object_id, defender_id=target.object_id,
                      distance=_u16(distance), x=target.x, y=target.y, z=_u16(target.z)),
            entity.object_id,
        )
        if distance > fighter.attack_range + RANGE_SLACK:
            self._chase(entity, target, now, announce=False)

    def hp_request(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_HP_REQ: PAKWC_HP_REPLY with the HP of an object in view."""
        packet: CliHpReq = self._decode(CliHpReq, payload)
        target = self._visible(entity, packet.target_id)
        hp = target.fighter.hp if target.fighter is not None else target.hp
        self._show([entity], SrvHpReply(id=target.object_id, hp=_i32(hp)), target.object_id)

    def add_stat(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_STAT_ADD_REQ: spend stat points on one base stat."""
        packet: CliStatAddReq = self._decode(CliStatAddReq, payload)
        fighter = self._alive(entity)
        index = int(packet.stat)
        values = list(fighter.stats.as_tuple())
        if not 0 <= index < len(values):
            raise self._refuse("bad_stat", f"no stat {index}", grpc.StatusCode.INVALID_ARGUMENT)
        if values[index] >= formulas.MAX_BASE_STAT:
            raise self._refuse("stat_max", f"stat {index} is at its maximum")
        cost = formulas.stat_point_cost(values[index])
        if fighter.stat_points < cost:
            raise self._refuse("no_stat_points",
                               f"stat {index} costs {cost}, {fighter.stat_points} left")
        values[index] += 1
        fighter.stat_points -= cost
        fighter.stats = BaseStats.of(values)
        self.rederive(entity)
        self._show([entity], SrvStatAddReply(stat=index, value=_i16(values[index])),
                   entity.object_id)
        self.mark(entity)

    def toggle_move(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_TOGGLE_MOVE: walk/run (type 0 or RUN) or sit/stand (SIT); carts are refused."""
        packet: CliToggleMove = self._decode(CliToggleMove, payload)
        fighter = self._alive(entity)
        mode = int(packet.type)
        now = self.state.clock()
        entity.advance(now)
        if mode in (WALKING, ToggleMove.RUN):
            fighter.running = not fighter.running
            entity.move_started = now
            entity.speed = self._speed(fighter)
            entity.look.run_speed = int(entity.speed)
            entity.look.move_mode = 1 if fighter.running else 0
            shown = int(ToggleMove.RUN) if fighter.running else WALKING
        elif mode == ToggleMove.SIT:
            if entity.moving:
                raise self._refuse("moving", "cannot sit while walking")
            fighter.sitting = not fighter.sitting
            shown = int(ToggleMove.SIT) if fighter.sitting else WALKING
            if fighter.sitting:
                self.recovering.add(entity)
        else:
            raise self._refuse("no_cart", "the character has no cart to drive")
        self._show(self._around(entity),
                   SrvToggleMove(object_id=entity.object_id, type=shown,
                                 run_speed=_u16(entity.speed)),
                   entity.object_id)

    @staticmethod
    def _speed(fighter: Fighter) -> float:
        if not fighter.running:
            return fighter.derived.walk_speed
        bonus = fighter.derived.run_speed - formulas.BASE_RUN_SPEED
        return max(1.0, fighter.base_run_speed + bonus)

    def moved(self, entity: Entity) -> None:
        """The character walks (a move request): it stands up and stops attacking; a dead
        one may not walk."""
        fighter = entity.fighter
        if fighter is None:
            return
        if fighter.dead:
            raise self._refuse("dead", f"character {entity.character_id} is dead")
        fighter.sitting = False
        if fighter.target is not None and entity.target_object_id != fighter.target.object_id:
            self._disengage(entity)

    # -- skills -----------------------------------------------------------------------------

    def _skill_in(self, entity: Entity, fighter: Fighter, slot: int) -> SkillDef:
        skill_id = fighter.skills[slot] if 0 <= slot < len(fighter.skills) else 0
        skill = self.content.skills.get(skill_id) if self.content is not None and skill_id else None
        if skill is None:
            self._cancel(entity, SkillCancelResult.INVALID_SKILL)
            raise self._refuse("unknown_skill", f"no skill in slot {slot}")
        return skill

    def _ready_to_cast(self, fighter: Fighter, skill: SkillDef, now: float) -> None:
        if fighter.mp < skill.mp_cost:
            raise self._refuse("no_mp", f"skill {skill.id} needs {skill.mp_cost} MP, "
                                        f"{fighter.mp} left")
        ready = fighter.cooldowns.get(skill.id, 0.0)
        if now < ready:
            raise self._refuse("cooldown", f"skill {skill.id} is ready in {ready - now:.1f} s")

    def learn_skill(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_SKILL_LEVEL_REQ: learn a skill into an empty slot, or raise the slot's skill
        to its next level, for the skill's points; PAKWC_SKILL_LEVEL_REPLY says how it went."""
        packet: CliSkillLevelReq = self._decode(CliSkillLevelReq, payload)
        fighter = self._alive(entity)
        slot, wanted = packet.slot, packet.next_index
        skill = self.content.skills.get(wanted) if self.content is not None else None
        result = SkillLevelResult.SUCCEEDED
        reason = ""
        if skill is None or not 0 <= slot < SKILL_SLOTS:
            result, reason = SkillLevelResult.FAILED, "unknown_skill"
        else:
            current = fighter.skills[slot]
            family = fighter.job // 100
            if skill.job != 0 and skill.job // 100 != family:
                result, reason = SkillLevelResult.NEED_JOB, "skill_job"
            elif (current == 0 and wanted in fighter.skills) or (
                current != 0 and self._next_of(current) != wanted
            ):
                result, reason = SkillLevelResult.NEED_SKILL, "skill_order"
            elif fighter.level < skill.level:
                result, reason = SkillLevelResult.FAILED, "skill_level"
            elif fighter.skill_points < skill.points:
                result, reason = SkillLevelResult.NO_POINTS, "no_skill_points"
        if result is not SkillLevelResult.SUCCEEDED:
            self._show([entity], SrvSkillLevelReply(result=result, slot=slot & 0xFF,
                                                    id=_i16(wanted),
                                                    points=_i16(fighter.skill_points)),
                       entity.object_id)
            raise self._refuse(reason, f"skill {wanted} in slot {slot}: {result.name}")
        assert skill is not None
        fighter.skills[slot] = wanted
        fighter.skill_points -= skill.points
        self._show([entity], SrvSkillLevelReply(result=result, slot=slot, id=_i16(wanted),
                                                points=_i16(fighter.skill_points)),
                   entity.object_id)
        self.mark(entity)

    def _next_of(self, skill_id: int) -> int | None:
        skill = self.content.skills.get(skill_id) if self.content is not None else None
        return skill.next if skill is not None else None

    def cast_self(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_SKILL_CAST_SELF: a skill on the caster (heal, buff, or damage around it)."""
        packet: CliSkillCastSelf = self._decode(CliSkillCastSelf, payload)
        fighter = self._alive(entity)
        skill = self._skill_in(entity, fighter, packet.slot)
        now = self.state.clock()
        self._ready_to_cast(fighter, skill, now)
        if skill.effect.kind == "damage":
            targets = self._area(entity, entity.x, entity.y, skill.effect.radius or skill.range)
            if not targets:
                raise self._refuse("no_target", f"skill {skill.id}: nothing in reach")
        else:
            targets = [entity]
        low, high = skill_wire_id(skill.id)
        self._cast(entity, fighter, skill, now,
                   SrvSkillCastSelf(target=entity.object_id, id=low, animation=high), targets)

    def cast_target(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_SKILL_CAST_TARGET: a skill on an object in view, within the skill's range."""
        packet: CliSkillCastTarget = self._decode(CliSkillCastTarget, payload)
        fighter = self._alive(entity)
        skill = self._skill_in(entity, fighter, packet.slot)
        try:
            target = self._visible(entity, packet.target)
        except Exception:
            self._cancel(entity, SkillCancelResult.TARGET_NOT_FOUND)
            raise
        now = self.state.clock()
        entity.advance(now)
        target.advance(now)
        if skill.effect.kind == "damage":
            try:
                self._may_attack(entity, target)
            except Exception:
                self._cancel(entity, SkillCancelResult.INVALID_TARGET)
                raise
            targets = [target]
            if skill.effect.radius > 0:
                targets += [e for e in self._area(entity, target.x, target.y, skill.effect.radius)
                            if e is not target]
        else:
            if not target.is_player or target.fighter is None or target.fighter.dead:
                self._cancel(entity, SkillCancelResult.INVALID_TARGET)
                raise self._refuse("not_attackable", f"skill {skill.id} needs a living player")
            targets = [target]
        distance = math.hypot(target.x - entity.x, target.y - entity.y)
        if distance > max(skill.range, fighter.attack_range) + RANGE_SLACK:
            raise self._refuse("out_of_range",
                               f"target {target.object_id} is {distance:.0f} units away")
        self._ready_to_cast(fighter, skill, now)
        low, high = skill_wire_id(skill.id)
        self._cast(entity, fighter, skill, now,
                   SrvSkillCastTarget(source=entity.object_id, target=target.object_id, id=low,
                                      distance=_u16(distance), x=target.x, y=target.y,
                                      animation=high),
                   targets)

    def cast_position(self, entity: Entity, payload: bytes) -> None:
        """PAKCS_SKILL_CAST_POSITION: a damage skill on a point within its range."""
        packet: CliSkillCastPosition = self._decode(CliSkillCastPosition, payload)
        fighter = self._alive(entity)
        skill = self._skill_in(entity, fighter, packet.slot)
        if not (math.isfinite(packet.x) and math.isfinite(packet.y)):
            raise self._refuse("bad_position", "not a point", grpc.StatusCode.INVALID_ARGUMENT)
        now = self.state.clock()
        entity.advance(now)
        distance = math.hypot(packet.x - entity.x, packet.y - entity.y)
        if distance > skill.range + RANGE_SLACK:
            raise self._refuse("out_of_range", f"point is {distance:.0f} units away")
        if skill.effect.kind != "damage":
            self._cancel(entity, SkillCancelResult.INVALID_SKILL)
            raise self._refuse("unknown_skill", f"skill {skill.id} is not cast on a point")
        self._ready_to_cast(fighter, skill, now)
        targets = self._area(entity, packet.x, packet.y, max(skill.effect.radius, RANGE_SLACK))
        self._cast(entity, fighter, skill, now,
                   SrvSkillCastPosition(source=entity.object_id, id=_i16(skill.id),
                                        x=packet.x, y=packet.y, animation=0),
                   targets)

    def _cancel(self, entity: Entity, result: SkillCancelResult) -> None:
        self._show([entity], SrvSkillCancel(target=entity.object_id, result=result),
                   entity.object_id)

    def _area(self, caster: Entity, x: float, y: float, radius: float) -> list[Entity]:
        """What the caster may damage within ``radius`` of a point, among what it sees."""
        found = []
        for other in caster.seen:
            if other.fighter is None or other.fighter.dead:
                continue
            try:
                self._may_attack(caster, other)
            except Exception:
                continue
            if math.hypot(other.x - x, other.y - y) <= radius + RANGE_SLACK:
                found.append(other)
        return found

    def _cast(self, caster: Entity, fighter: Fighter, skill: SkillDef, now: float,
              cast: Packet, targets: list[Entity]) -> None:
        fighter.mp -= skill.mp_cost
        fighter.cooldowns[skill.id] = now + skill.cooldown_seconds
        fighter.sitting = False
        around = self._around(caster)
        self._show(around, cast, caster.object_id)
        self._show(around, SrvSkillStart(target=caster.object_id), caster.object_id)
        effect = skill.effect
        for target in targets:
            target_fighter = target.fighter
            if target_fighter is None or target_fighter.dead:
                continue
            if effect.kind == "damage":
                hit = formulas.roll_hit(self.state.rng, fighter.derived, fighter.level,
                                        target_fighter.derived, target_fighter.level,
                                        power=effect.power, magic=fighter.job // 100 == 2)
                self.damage(caster, target, hit, skill_id=skill.id)
            elif effect.kind == "heal":
                amount = effect.power + fighter.stats.intelligence // 4
                target_fighter.hp = min(target_fighter.max_hp, target_fighter.hp + amount)
                target.look.hp = target_fighter.hp
                self._show(self._around(target),
                           SrvSkillEffect(target=target.object_id, source=caster.object_id,
                                          id=skill.id, amount=float(amount), state=0),
                           target.object_id)
                self._vitals(target)
                self.mark(target)
            else:
                stat = effect.stat or "attack"
                target_fighter.buffs = [b for b in target_fighter.buffs if b.skill_id != skill.id]
                target_fighter.buffs.append(
                    Buff(skill.id, stat, effect.power, now + effect.duration_seconds))
                self.rederive(target)
                self.recovering.add(target)
                self._show(self._around(target),
                           SrvSkillEffect(target=target.object_id, source=caster.object_id,
                                          id=skill.id, amount=float(effect.power), state=1),
                           target.object_id)
        self._show(around, SrvSkillFinish(target=caster.object_id, id=skill.id),
                   caster.object_id)
        self._vitals(caster)
        self.mark(caster)

    # -- damage, death, XP --------------------------------------------------------------------

    def damage(self, attacker: Entity, target: Entity, hit: formulas.Hit, *,
               skill_id: int = 0) -> None:
        """Apply one hit: HP falls, those around see it, a killed target dies."""
        fighter = target.fighter
        attacker_fighter = attacker.fighter
        assert fighter is not None and attacker_fighter is not None
        now = self.state.clock()
        attacker_fighter.last_combat = fighter.last_combat = now
        amount = 0 if hit.missed else min(hit.damage, max(0, fighter.hp))
        fighter.hp -= amount
        self.hits += 1
        if target.is_player:
            target.look.hp = fighter.hp
            fighter.sitting = False
        else:
            target.hp = fighter.hp
            if attacker.is_player:
                fighter.damage_by[attacker.character_id] = (
                    fighter.damage_by.get(attacker.character_id, 0) + amount)
        action = 0 if hit.missed else DAMAGE_HIT
        if hit.critical and not hit.missed:
            action |= DAMAGE_CRITICAL
        dead = fighter.hp <= 0
        if dead:
            action = (action & ~DAMAGE_HIT) | DAMAGE_DEAD
        recipients = self._around(target)
        if attacker not in target.seen and attacker is not target:
            recipients.append(attacker)
        if skill_id:
            packet: Packet = SrvSkillDamage(target=target.object_id, source=attacker.object_id,
                                            id=skill_id, amount=0.0, state=0, damage=amount,
                                            action=action, item=Item())
        else:
            packet = SrvDamage(attacker_id=attacker.object_id, defender_id=target.object_id,
                               damage=amount, action=action,
                               x=0.0, y=0.0, item=Item(), id=0, owner_id=0)
        self._show(recipients, packet, target.object_id)
        if target.is_player:
            self.mark(target)
        if dead:
            self._die(target, attacker, now)
        elif fighter.target is None and not target.is_player:
            self._engage(target, attacker)  # a monster fights back

    def _die(self, entity: Entity, killer: Entity, now: float) -> None:
        fighter = entity.fighter
        assert fighter is not None
        fighter.dead = True
        fighter.hp = 0
        entity.moving = False
        self._disengage(entity)
        self._forget_target(entity)
        if entity.is_player:
            self.deaths += 1
            self.state.close_stall(entity)
            lost = formulas.death_penalty(fighter.level, fighter.xp)
            fighter.xp -= lost
            fighter.penalty_xp += lost
            fighter.buffs.clear()
            self.rederive(entity)
            self._show([entity], SrvSetExp(exp=fighter.xp, stamina=_i16(fighter.stamina),
                                           source_id=killer.object_id), entity.object_id)
            self.mark(entity)
            return
        self.kills += 1
        entity.next_wander = math.inf
        winner = self._top_damager(entity)
        if winner is not None and fighter.monster is not None:
            sharing = self.party_near(winner, entity)
            self._award(winner, entity, fighter.monster, sharing)
            self._loot(entity, winner, fighter.monster, now, sharing)
        heapq.heappush(self._timers, (now + CORPSE_SECONDS, next(self._sequence), entity))

    def _top_damager(self, monster: Entity) -> Entity | None:
        fighter = monster.fighter
        assert fighter is not None
        best: Entity | None = None
        best_damage = -1
        for character_id, dealt in fighter.damage_by.items():
            candidate = self.state.characters.get(character_id)
            if (candidate is None or candidate.map_id != monster.map_id
                    or candidate.channel_id != monster.channel_id):
                continue
            if dealt > best_damage:
                best, best_damage = candidate, dealt
        return best

    # -- parties ------------------------------------------------------------------------------

    def find_player(self, character_id: int, object_id: int) -> int:
        """The character id of the player with ``object_id`` on the map instance of
        ``character_id``, or NOT_FOUND."""
        asker = self.state.characters.get(character_id)
        if asker is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND,
                               f"character {character_id} is not on any map")
        found = self.state.instance_of(asker).objects.get(object_id)
        if found is None or not found.is_player:
            raise ServiceError(grpc.StatusCode.NOT_FOUND,
                               f"no player has object id {object_id} on that map")
        return found.character_id

    def set_party(self, character_id: int, party_id: int, rule: int) -> int:
        """Put a character on a map into ``party_id`` (0: none) with ``rule``; the number
        of that party's members on maps now (NOT_FOUND when the character is on none)."""
        entity = self.state.characters.get(character_id)
        if entity is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND,
                               f"character {character_id} is not on any map")
        self._leave_party(entity)
        if not party_id:
            return 0
        self.party_of[entity] = (party_id, rule)
        members = self.parties.setdefault(party_id, set())
        members.add(entity)
        # The rule is the party's: the latest word on it holds for every member.
        for member in members:
            self.party_of[member] = (party_id, rule)
        return len(members)

    def _leave_party(self, entity: Entity) -> None:
        entry = self.party_of.pop(entity, None)
        if entry is None:
            return
        members = self.parties.get(entry[0])
        if members is not None:
            members.discard(entity)
            if not members:
                del self.parties[entry[0]]
                self._drop_turn.pop(entry[0], None)

    def may_take(self, taker: Entity, ground: GroundDrop, now: float) -> bool:
        """Whether ``taker`` may take ``ground`` now: nobody's, its owner's, past the owner
        window, or a drop of a party kill taken by a member of that party."""
        if ground.owner_character_id in (0, taker.character_id) or now >= ground.owner_until:
            return True
        party_id = self.party_of.get(taker, (0, 0))[0]
        return bool(ground.owner_party_id) and party_id == ground.owner_party_id

    def party_near(self, killer: Entity, monster: Entity) -> list[Entity]:
        """Who shares a kill of ``killer``: the killer first, then the living members of its
        party on the monster's map instance within :data:`PARTY_SHARE_RADIUS` of it."""
        entry = self.party_of.get(killer)
        if entry is None:
            return [killer]
        near = [killer]
        for member in sorted(self.parties.get(entry[0], ()), key=lambda m: m.character_id):
            fighter = member.fighter
            if (member is killer or fighter is None or fighter.dead
                    or member.map_id != monster.map_id or member.channel_id != monster.channel_id
                    or math.hypot(member.x - monster.x, member.y - monster.y)
                    > PARTY_SHARE_RADIUS):
                continue
            near.append(member)
        return near

    def _award(self, player: Entity, monster: Entity, kind: MonsterDef,
               sharing: list[Entity]) -> None:
        """The kill's XP: the killer's alone, or split among the party members near it by
        the party's rule."""
        fighter = player.fighter
        if fighter is None:
            return
        pool = formulas.kill_xp(kind.xp, kind.level, fighter.level)
        if len(sharing) < 2:
            self._grant(player, monster, pool)
            return
        self.shared_kills += 1
        rule = self.party_of.get(player, (0, 0))[1]
        levels = [m.fighter.level if m.fighter is not None else 1 for m in sharing]
        shares = party_shares(pool, levels, per_player=bool(rule & RULE_EXP_PER_PLAYER))
        for member, share in zip(sharing, shares, strict=True):
            self._grant(member, monster, share)

    def _grant(self, player: Entity, monster: Entity, gained: int) -> None:
        """Give a player XP from a kill: PAKWC_SET_EXP, and a level-up when reached."""
        fighter = player.fighter
        if fighter is None or fighter.dead:
            return
        gain = formulas.gain_xp(fighter.level, fighter.xp, gained)
        fighter.xp = gain.xp
        self._show([player], SrvSetExp(exp=fighter.xp, stamina=_i16(fighter.stamina),
                                       source_id=monster.object_id), player.object_id)
        if gain.levels:
            fighter.level = gain.level
            fighter.stat_points += gain.stat_points
            fighter.skill_points += gain.skill_points
            self.rederive(player)
            fighter.hp, fighter.mp = fighter.max_hp, fighter.max_mp
            player.look.level = min(fighter.level, 0xFF)
            player.look.hp = fighter.hp
            self._show(self._around(player),
                       SrvLevelup(id=player.object_id, level=_i16(fighter.level), exp=fighter.xp,
                                  stat_points=_i16(fighter.stat_points),
                                  skill_points=_i16(fighter.skill_points)),
                       player.object_id)
            self._vitals(player)
        self.mark(player, level_up=gain.levels > 0)

    def _loot(self, monster: Entity, owner: Entity, kind: MonsterDef, now: float,
              sharing: list[Entity]) -> None:
        """The kill's drops on the ground. The killer owns them; when a party shares the
        kill the party owns them too (``owner_party_id``), and under the item-in-order rule
        they go to the members near in turn."""
        content = self.content
        if content is None:
            return
        party_id, rule = self.party_of.get(owner, (0, 0)) if len(sharing) > 1 else (0, 0)
        killer = owner
        rng = self.state.rng
        for drop in kind.drops:
            if rng.random() >= drop.chance:
                continue
            if drop.item is not None:
                item: ItemDef | None = content.items[drop.item]
                count = rng.randint(drop.min, drop.max)
            elif drop.zuly is not None:
                item = None
                count = rng.randint(drop.zuly.min, drop.zuly.max)
                if count <= 0:
                    continue
            else:
                continue
            instance = self.state.instance_of(monster)
            x, y = self.state.point_near(instance, monster.x, monster.y, LOOT_SCATTER)
            owner = killer
            if party_id and rule & RULE_ITEM_IN_ORDER:
                turn = self._drop_turn.get(party_id, 0)
                self._drop_turn[party_id] = turn + 1
                owner = sharing[turn % len(sharing)]
            ground = GroundDrop(item=item, count=count, owner_character_id=owner.character_id,
                                owner_object_id=owner.object_id,
                                owner_until=now + OWNER_WINDOW_SECONDS,
                                expires=now + GROUND_ITEM_SECONDS,
                                owner_party_id=0 if rule & RULE_ITEM_IN_ORDER else party_id)
            entity = self.state.place_ground_item(instance, x, y, ground)
            self.expire_at(entity, ground.expires)

    def expire_at(self, entity: Entity, when: float) -> None:
        """Remove a ground item (or a corpse) at ``when`` unless it is gone by then."""
        heapq.heappush(self._timers, (when, next(self._sequence), entity))

    def ground_item(self, entity: Entity) -> world_pb2.GroundItem:
        """The ``ground_item`` event body of a ground item entity."""
        ground = entity.ground
        assert ground is not None
        now = self.state.clock()
        owner = ground.owner_object_id if now < ground.owner_until else 0
        return world_pb2.GroundItem(
            object_id=entity.object_id,
            position=entity.position(),
            item_type=ground.item.type if ground.item is not None else ZULY_ITEM_TYPE,
            item_number=ground.item.number if ground.item is not None else 0,
            count=ground.count,
            owner_object_id=owner,
            seconds_left=max(0, math.ceil(ground.expires - now)),
        )

    def rederive(self, entity: Entity) -> None:
        """Recompute the derived values after a change of level, stats, gear or buffs."""
        fighter = entity.fighter
        assert fighter is not None
        if fighter.monster is not None:
            return
        fighter.derived = formulas.derive(fighter.level, fighter.job, fighter.stats,
                                          fighter.gear + _bonus_of(fighter.buffs))
        fighter.hp = min(fighter.hp, fighter.max_hp)
        fighter.mp = min(fighter.mp, fighter.max_mp)
        speed = self._speed(fighter)
        if speed != entity.speed:
            entity.advance(self.state.clock())
            entity.speed = speed
            entity.look.run_speed = int(speed)
        entity.look.atk_speed = fighter.derived.attack_speed

    def _return(self, entity: Entity) -> None:
        """A return scroll: to the map's revive point nearest to the character (its spawn
        point without any), reloading the map like a gate; the gateway is told."""
        map_def = self.state.instance_of(entity).map_def
        entity.advance(self.state.clock())
        x, y = entity.x, entity.y
        if map_def is not None:
            points = map_def.revive or (map_def.spawn,)
            point = min(points, key=lambda p: math.hypot(p.x - x, p.y - y))
            x, y = point.x, point.y
        position = world_pb2.Position(x=x, y=y, z=entity.z)
        self.state.teleport(entity, entity.map_id, position, reload=True)
        self.state.send([entity], "teleported", world_pb2.Ack(
            character_id=entity.character_id, map_id=entity.map_id,
            object_id=entity.object_id, position=position), entity.object_id)

    def revive(self, entity: Entity, revive_type: int) -> None:
        """PAKCS_REVIVE_REQ of a dead character: back with part of its HP at the chosen point
        (the map reloads, like a warp)."""
        fighter = entity.fighter
        if fighter is None or not fighter.dead:
            raise Refused(grpc.StatusCode.FAILED_PRECONDITION, "alive",
                          f"character {entity.character_id} is not dead")
        instance = self.state.instance_of(entity)
        map_def = instance.map_def
        x, y = entity.x, entity.y
        if map_def is not None:
            if revive_type in (SAVE_POSITION, START_POSITION):
                x, y = map_def.spawn.x, map_def.spawn.y
            elif revive_type != CURRENT_POSITION or not self.revive_in_place:
                point = min(map_def.revive, key=lambda p: math.hypot(p.x - x, p.y - y))
                x, y = point.x, point.y
        fighter.dead = False
        fighter.hp = formulas.revive_hp(fighter.max_hp)
        fighter.last_combat = -math.inf
        entity.look.hp = fighter.hp
        self.state.teleport(entity, entity.map_id, world_pb2.Position(x=x, y=y, z=entity.z),
                            reload=True)
        # Now, not at the tick: the gateway must have the revived HP before the map reply it
        # builds once the client has reloaded (the progress goes ahead of the answer).
        self.dirty.pop(entity, None)
        self.state.send([entity], "progress", self.progress(entity), entity.object_id)

    def adjust(self, entity: Entity, *, level: int = 0, heal: bool = False) -> None:
        """A GM's change: ``level`` (0: unchanged; XP within it 0, HP and MP full) and/or a
        heal (HP and MP to their maximum). The gateway gets the progress at once."""
        fighter = entity.fighter
        if fighter is None:
            raise self._refuse("no_fighter", f"object {entity.object_id} cannot fight")
        if heal and fighter.dead:
            raise self._refuse("dead", f"character {entity.character_id} is dead")
        changed_level = 0 < level != fighter.level
        if level:
            fighter.level, fighter.xp = level, 0
            self.rederive(entity)
            fighter.hp, fighter.mp = fighter.max_hp, fighter.max_mp
            fighter.dead = False
            entity.look.level = min(level, 0xFF)
            self._show(self._around(entity),
                       SrvLevelup(id=entity.object_id, level=_i16(level), exp=0,
                                  stat_points=_i16(fighter.stat_points),
                                  skill_points=_i16(fighter.skill_points)),
                       entity.object_id)
        if heal:
            fighter.hp, fighter.mp = fighter.max_hp, fighter.max_mp
        entity.look.hp = fighter.hp
        self._vitals(entity)
        self.dirty.pop(entity, None)
        self.recovering.discard(entity)
        self.state.send([entity], "progress", self.progress(entity, level_up=changed_level),
                        entity.object_id)

    # -- lifecycle of entities ----------------------------------------------------------------

    def _disengage(self, entity: Entity) -> None:
        fighter = entity.fighter
        if fighter is not None:
            fighter.target = None
        entity.target_object_id = 0
        self.fighting.discard(entity)

    def _forget_target(self, target: Entity) -> None:
        """Whoever attacks ``target`` stops (it died, left, or changed map)."""
        for attacker in [a for a in self.fighting if a.fighter is not None
                         and a.fighter.target is target]:
            self._disengage(attacker)
            if not attacker.is_player:
                self._go_home(attacker, self.state.clock())

    def hidden(self, entity: Entity) -> None:
        """The entity left view of everyone (teleport, leaving, removal)."""
        self._disengage(entity)
        self._forget_target(entity)

    def removed(self, entity: Entity) -> None:
        """The entity is gone for good (a character's party is forgotten with it)."""
        self._leave_party(entity)
        self.hidden(entity)
        self.recovering.discard(entity)
        self.dirty.pop(entity, None)

    # -- the tick -----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Hits, chases, monsters looking for prey, regeneration, buffs, corpses and loot."""
        started = time.thread_time()
        for entity in list(self.fighting):
            if entity in self.fighting:
                self._fight(entity, now)
        self._recover(now)
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, entity = heapq.heappop(timers)
            self._expire(entity)
        self.ticks += 1
        self.tick_seconds += time.thread_time() - started

    def aggro(self, monster: Entity, now: float) -> None:
        """An aggressive monster without a target attacks the nearest living player within
        its aggro radius."""
        fighter = monster.fighter
        if (fighter is None or fighter.monster is None or fighter.dead or fighter.target is not None
                or now < fighter.next_aggro or fighter.monster.aggro_radius <= 0):
            return
        fighter.next_aggro = now + AGGRO_CHECK_SECONDS
        radius = fighter.monster.aggro_radius
        best: Entity | None = None
        best_distance = math.inf
        for other in monster.seen:
            if not other.is_player or other.fighter is None or other.fighter.dead:
                continue
            distance = math.hypot(other.x - monster.x, other.y - monster.y)
            if distance <= radius and distance < best_distance:
                best, best_distance = other, distance
        if best is not None:
            self._engage(monster, best)

    def _fight(self, entity: Entity, now: float) -> None:
        fighter = entity.fighter
        target = fighter.target if fighter is not None else None
        if fighter is None or target is None or fighter.dead:
            self._disengage(entity)
            return
        target_fighter = target.fighter
        instance = self.state.instance_of(entity)
        if (target_fighter is None or target_fighter.dead or not target.ready
                or instance.objects.get(target.object_id) is not target
                or target not in entity.seen):
            self._disengage(entity)
            if not entity.is_player:
                self._go_home(entity, now)
            return
        entity.advance(now)
        target.advance(now)
        if not entity.is_player and self._leashed(entity):
            self._disengage(entity)
            self._go_home(entity, now)
            return
        distance = math.hypot(target.x - entity.x, target.y - entity.y)
        if distance > fighter.attack_range + RANGE_SLACK:
            self._chase(entity, target, now, announce=not entity.is_player)
            return
        if entity.moving:
            entity.moving = False
            self.state.place_entity(entity)
            if not entity.is_player:
                self.state.send(entity.seen, "stopped",
                                world_pb2.Stopped(object_id=entity.object_id,
                                                  position=entity.position()),
                                entity.object_id)
        if now < fighter.next_hit:
            return
        fighter.next_hit = now + formulas.attack_interval(fighter.derived.attack_speed)
        hit = formulas.roll_hit(self.state.rng, fighter.derived, fighter.level,
                                target_fighter.derived, target_fighter.level)
        self.damage(entity, target, hit)

    def _leashed(self, monster: Entity) -> bool:
        home = monster.home
        if home is None:
            return False
        return math.hypot(monster.x - home.centre.x, monster.y - home.centre.y) > (
            home.radius + LEASH_DISTANCE)

    def _chase(self, entity: Entity, target: Entity, now: float, *, announce: bool) -> None:
        """Walk towards the target (again, when it moved away from where the walk leads)."""
        if entity.moving and math.hypot(entity.dest_x - target.x, entity.dest_y - target.y) < (
                RANGE_SLACK):
            return
        entity.dest_x, entity.dest_y, entity.dest_z = target.x, target.y, target.z
        entity.move_started = now
        entity.moving = True
        if announce:
            distance = math.hypot(target.x - entity.x, target.y - entity.y)
            self.state.send(entity.seen, "moved", world_pb2.Moved(
                object_id=entity.object_id, target_object_id=target.object_id,
                distance=_u16(distance), destination=target.position(), speed=entity.speed),
                entity.object_id)

    def _go_home(self, monster: Entity, now: float) -> None:
        """A monster that lost its target walks back to its spawn circle, healed."""
        fighter = monster.fighter
        home = monster.home
        if fighter is None or home is None or fighter.dead:
            return
        fighter.hp = fighter.max_hp
        monster.hp = fighter.hp
        fighter.damage_by.clear()
        fighter.next_aggro = now + AGGRO_CHECK_SECONDS * 4
        monster.advance(now)
        if math.hypot(monster.x - home.centre.x, monster.y - home.centre.y) <= home.radius:
            monster.next_wander = now
            return
        monster.dest_x, monster.dest_y, monster.dest_z = home.centre.x, home.centre.y, monster.z
        monster.move_started = now
        monster.moving = True
        distance = math.hypot(home.centre.x - monster.x, home.centre.y - monster.y)
        monster.next_wander = now + distance / monster.speed + 1.0
        self.state.send(monster.seen, "moved", world_pb2.Moved(
            object_id=monster.object_id, distance=_u16(distance),
            destination=world_pb2.Position(x=home.centre.x, y=home.centre.y, z=monster.z),
            speed=monster.speed), monster.object_id)

    def _recover(self, now: float) -> None:
        for entity in list(self.recovering):
            fighter = entity.fighter
            if fighter is None or entity.gateway is None:
                self.recovering.discard(entity)
                continue
            if fighter.buffs:
                kept = [b for b in fighter.buffs if b.expires > now]
                if len(kept) != len(fighter.buffs):
                    fighter.buffs = kept
                    self.rederive(entity)
                    self._show(self._around(entity),
                               SrvClearStatus(target=entity.object_id, status=0,
                                              hp=_i16(fighter.hp), mp=_i16(fighter.mp)),
                               entity.object_id)
                    self.mark(entity)
            if fighter.heals:
                self._heal_over_time(entity, fighter, now)
            full = fighter.hp >= fighter.max_hp and fighter.mp >= fighter.max_mp
            if full and not fighter.buffs and not fighter.heals:
                self.recovering.discard(entity)
                continue
            if (full or fighter.dead or now < fighter.next_regen
                    or now - fighter.last_combat < formulas.COMBAT_COOLDOWN):
                continue
            fighter.next_regen = now + formulas.REGEN_INTERVAL
            concentration = fighter.stats.concentration
            fighter.hp = min(fighter.max_hp, fighter.hp + formulas.regeneration(
                fighter.max_hp, sitting=fighter.sitting, concentration=concentration))
            fighter.mp = min(fighter.max_mp, fighter.mp + formulas.regeneration(
                fighter.max_mp, sitting=fighter.sitting, concentration=concentration))
            entity.look.hp = fighter.hp
            self._vitals(entity)
            self.mark(entity)

    def _heal_over_time(self, entity: Entity, fighter: Fighter, now: float) -> None:
        """Consumables restore their amount evenly over their duration (once a second)."""
        changed = False
        kept = []
        for heal in fighter.heals:
            if now < heal.next and now < heal.end:
                kept.append(heal)
                continue
            heal.next = now + HEAL_STEP_SECONDS
            span = heal.end - heal.start
            share = 1.0 if span <= 0 else min(1.0, (now - heal.start) / span)
            due = int(heal.amount * share) - heal.applied
            if due > 0 and not fighter.dead:
                heal.applied += due
                if heal.kind == "heal_hp":
                    fighter.hp = min(fighter.max_hp, fighter.hp + due)
                else:
                    fighter.mp = min(fighter.max_mp, fighter.mp + due)
                changed = True
            if share < 1.0 and not fighter.dead:
                kept.append(heal)
        fighter.heals = kept
        if changed:
            entity.look.hp = fighter.hp
            self._vitals(entity)
            self.mark(entity)

    def use_consumable(self, entity: Entity, item: ItemDef, slot: int, *,
                       check_only: bool = False) -> str:
        """A consumable's effect and cooldown; the reason it cannot be used, else ''."""
        fighter = entity.fighter
        effect = item.effect
        if fighter is None or effect is None:
            return "not_consumable"
        if fighter.dead:
            return "dead"
        now = self.state.clock()
        key = (item.type, item.number)
        if now < fighter.item_cooldowns.get(key, 0.0):
            return "cooldown"
        if check_only:
            return ""
        fighter.item_cooldowns[key] = now + effect.cooldown_seconds
        if effect.kind == "return":
            self._return(entity)
            return ""
        fighter.heals.append(HealOverTime(effect.kind, effect.amount, now,
                                          now + effect.duration_seconds))
        self.recovering.add(entity)
        self._show(self._around(entity),
                   SrvUseItem(char_id=entity.object_id, item_id=item.number, index=slot & 0xFF),
                   entity.object_id)
        self._heal_over_time(entity, fighter, now)
        return ""

    def _expire(self, entity: Entity) -> None:
        """A corpse's or a ground item's time is up."""
        instance: MapState = self.state.instance_of(entity)
        if instance.objects.get(entity.object_id) is not entity:
            return  # already gone (picked up, or removed by other means)
        if entity.kind == MONSTER:
            self.state.remove_monster(entity.channel_id, entity.map_id, entity.object_id)
        else:
            self.state.remove_ground_item(instance, entity)

    def stats(self) -> dict[str, Any]:
        """The combat counters for WorldStats."""
        return {
            "hits": self.hits, "kills": self.kills, "deaths": self.deaths,
            "combat_ticks": self.ticks, "combat_tick_seconds": self.tick_seconds,
        }
