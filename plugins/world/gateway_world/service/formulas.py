"""The combat rules of the reference world service: stats, hits, damage, experience, recovery.

Strategy: pure functions of plain numbers and frozen records, with no I/O, no clock and no
global random state, so the world state calls them on its event loop and tests pin every rule
down with tables and properties. Randomness is drawn only from the :class:`random.Random`
handed in (:func:`roll_hit`), in a documented order, so a seeded generator replays a fight.

The formulas are ROSE-like, not the original server's: simple integer arithmetic (floor
division), every input clamped to its documented range first, so content or a client can never
produce a negative damage, a zero maximum or an attack interval of zero. ``docs/combat.md``
lists each formula with worked examples.

Units: positions and ranges are map units (1 unit = 1 cm); speeds are map units per second;
``attack_speed`` is the client's attack speed number (100 = base rate); ``critical`` is a
per-mille chance (0..1000).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: Highest level that experience leads to (``xp_to_next`` is 0 there).
MAX_LEVEL: Final = 200
#: Highest level a character may have at all (a GM may set levels above :data:`MAX_LEVEL`).
TOP_LEVEL: Final = 255
#: Client's base run and walk speeds, map units per second.
BASE_RUN_SPEED: Final = 425.0
BASE_WALK_SPEED: Final = 200.0
#: Slowest a debuffed character moves: a speed of 0 would make every walk endless.
MIN_MOVE_SPEED: Final = 1.0
#: Melee reach without a weapon, map units.
UNARMED_RANGE: Final = 120.0

#: Attack speed numbers are clamped to this range (the client animates nothing outside it).
MIN_ATTACK_SPEED: Final = 30
MAX_ATTACK_SPEED: Final = 300
#: Seconds between two hits at attack speed 100.
BASE_ATTACK_INTERVAL: Final = 1.5

#: Every attack can miss and every attack can hit.
MIN_HIT_CHANCE: Final = 0.05
MAX_HIT_CHANCE: Final = 0.95
#: Largest damage of one hit (fits the client's damage field with room to spare).
MAX_DAMAGE: Final = 99_999_999
#: Random spread of a hit's damage, percent of the computed damage (inclusive).
DAMAGE_SPREAD: Final = (90, 110)
#: Level difference effect on damage: percent per level, and its bounds.
LEVEL_DAMAGE_STEP: Final = 2
LEVEL_DAMAGE_BOUNDS: Final = (50, 150)
#: A critical hit does this many halves of the damage (x1.5).
CRITICAL_HALVES: Final = 3

#: Highest value a base stat may be raised to with stat points.
MAX_BASE_STAT: Final = 300

#: Seconds between two regeneration ticks, out of combat.
REGEN_INTERVAL: Final = 4.0
#: Seconds after the last hit given or taken before regeneration resumes.
COMBAT_COOLDOWN: Final = 8.0
#: Share of the maximum HP a revived character comes back with, percent.
REVIVE_PERCENT: Final = 30
#: Share of the level's ``xp_to_next`` lost on death, percent.
DEATH_PENALTY_PERCENT: Final = 3

#: Per job family (job // 100: visitor, soldier, muse, hawker, dealer): HP and MP per level.
FAMILY_GROWTH: Final[tuple[tuple[int, int], ...]] = ((10, 4), (14, 3), (8, 10), (11, 5), (12, 6))


def clamp(value: int, low: int, high: int) -> int:
    """``value`` within ``low..high``."""
    return max(low, min(high, value))


def clamp_level(level: int) -> int:
    """A level within 1..:data:`TOP_LEVEL`: content and GM input may be anything."""
    return clamp(level, 1, TOP_LEVEL)


def family(job: int) -> int:
    """The job family (0 visitor, 1 soldier, 2 muse, 3 hawker, 4 dealer); unknown jobs are
    visitors, so a bad job id never gives a character another class's growth."""
    group = job // 100 if job >= 0 else 0
    return group if group < len(FAMILY_GROWTH) else 0


@dataclass(frozen=True, slots=True)
class BaseStats:
    """A character's six base stats, in the order the client sends them."""

    strength: int
    dexterity: int
    intelligence: int
    concentration: int
    charm: int
    sense: int

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.strength,
            self.dexterity,
            self.intelligence,
            self.concentration,
            self.charm,
            self.sense,
        )

    @classmethod
    def of(cls, values: Sequence[int]) -> BaseStats:
        """From stored or wire values: missing ones are 0, negatives 0, values past the sixth
        ignored (a short or corrupt record still gives a usable character)."""
        padded = [max(0, int(v)) for v in values[:6]]
        padded += [0] * (6 - len(padded))
        return cls(*padded)


@dataclass(frozen=True, slots=True)
class Bonus:
    """What equipment and buffs add to the derived stats (may be negative for debuffs)."""

    attack: int = 0
    defence: int = 0
    magic_defence: int = 0
    hit: int = 0
    dodge: int = 0
    move_speed: int = 0
    attack_speed: int = 0
    max_hp: int = 0
    max_mp: int = 0

    def __add__(self, other: Bonus) -> Bonus:
        return Bonus(
            attack=self.attack + other.attack,
            defence=self.defence + other.defence,
            magic_defence=self.magic_defence + other.magic_defence,
            hit=self.hit + other.hit,
            dodge=self.dodge + other.dodge,
            move_speed=self.move_speed + other.move_speed,
            attack_speed=self.attack_speed + other.attack_speed,
            max_hp=self.max_hp + other.max_hp,
            max_mp=self.max_mp + other.max_mp,
        )


@dataclass(frozen=True, slots=True)
class Derived:
    """Everything combat reads of a character or monster."""

    max_hp: int
    max_mp: int
    attack: int
    defence: int
    magic_defence: int
    hit: int
    dodge: int
    #: Per-mille chance of a critical hit, 0..1000.
    critical: int
    attack_speed: int
    run_speed: float
    walk_speed: float


def _speeds(run_speed: float) -> tuple[float, float]:
    """Run and walk speeds: never below :data:`MIN_MOVE_SPEED`, and walking never faster
    than running (a slowed character walks at its run speed)."""
    run = max(MIN_MOVE_SPEED, run_speed)
    return run, min(BASE_WALK_SPEED, run)


def derive(level: int, job: int, stats: BaseStats, bonus: Bonus = Bonus()) -> Derived:
    """A player's combat stats from level, job and base stats, plus equipment and buffs."""
    lv = clamp_level(level)
    hp_per_level, mp_per_level = FAMILY_GROWTH[family(job)]
    st, dex, intel, con, _cha, sen = (max(0, v) for v in stats.as_tuple())
    run, walk = _speeds(BASE_RUN_SPEED + bonus.move_speed)
    return Derived(
        max_hp=max(1, 30 + lv * hp_per_level + con * 2 + bonus.max_hp),
        max_mp=max(1, 20 + lv * mp_per_level + intel * 2 + bonus.max_mp),
        attack=max(1, lv + st // 2 + bonus.attack),
        defence=max(0, lv // 2 + con // 3 + bonus.defence),
        magic_defence=max(0, lv // 2 + intel // 3 + bonus.magic_defence),
        hit=max(0, lv + (dex + con) // 2 + bonus.hit),
        dodge=max(0, lv + (dex + sen) // 2 + bonus.dodge),
        critical=clamp(20 + sen // 2, 0, 1000),
        attack_speed=clamp(100 + bonus.attack_speed, MIN_ATTACK_SPEED, MAX_ATTACK_SPEED),
        run_speed=run,
        walk_speed=walk,
    )


def monster_derived(
    level: int, hp: int, attack: int, defence: int, attack_speed: int, move_speed: float
) -> Derived:
    """A monster's combat stats: content gives HP, attack, defence and speeds; hit, dodge,
    critical and magic defence follow the level so content need not balance them. Monsters
    have no mana: ``max_mp`` is 1, keeping ``max_mp >= 1`` true of every :class:`Derived`."""
    lv = clamp_level(level)
    run, walk = _speeds(move_speed)
    return Derived(
        max_hp=max(1, hp),
        max_mp=1,
        attack=max(1, attack),
        defence=max(0, defence),
        magic_defence=lv,
        hit=2 * lv + 10,
        dodge=2 * lv,
        critical=clamp(10 + lv // 2, 0, 1000),
        attack_speed=clamp(attack_speed, MIN_ATTACK_SPEED, MAX_ATTACK_SPEED),
        run_speed=run,
        walk_speed=walk,
    )


def attack_interval(attack_speed: int) -> float:
    """Seconds between two hits: 1.5 s at speed 100, inversely proportional to the speed."""
    return BASE_ATTACK_INTERVAL * 100 / clamp(attack_speed, MIN_ATTACK_SPEED, MAX_ATTACK_SPEED)


@dataclass(frozen=True, slots=True)
class Hit:
    """The outcome of one attack."""

    damage: int
    critical: bool
    missed: bool


def hit_chance(
    attacker_hit: int, attacker_level: int, defender_dodge: int, defender_level: int
) -> float:
    """Chance an attack lands: 0.25 + hit / (hit + dodge), so equal hit and dodge land 75%,
    plus 2% per level the attacker is above the defender (minus below), within 5%..95%."""
    hit, dodge = max(0, attacker_hit), max(0, defender_dodge)
    ratio = hit / (hit + dodge) if hit + dodge > 0 else 0.5
    levels = clamp_level(attacker_level) - clamp_level(defender_level)
    return max(MIN_HIT_CHANCE, min(MAX_HIT_CHANCE, 0.25 + ratio + 0.02 * levels))


def level_damage_percent(attacker_level: int, defender_level: int) -> int:
    """Damage percent from the level difference: 100 + 2 per level above, within 50..150, so
    an outleveled foe is hurt more but never one-shot by level alone."""
    low, high = LEVEL_DAMAGE_BOUNDS
    levels = clamp_level(attacker_level) - clamp_level(defender_level)
    return clamp(100 + LEVEL_DAMAGE_STEP * levels, low, high)


def compute_damage(
    attack: int,
    guard: int,
    attacker_level: int,
    defender_level: int,
    *,
    spread: int = 100,
    critical: bool = False,
) -> int:
    """Damage of a landed hit, deterministic given the ``spread`` percent.

    ``attack * attack / (attack + guard)``: defence always reduces and never cancels damage
    (a guard equal to the attack halves it), then the level percent, the spread percent and
    x1.5 on a critical, each floored; within 1..:data:`MAX_DAMAGE`.
    """
    offence, defence = max(1, attack), max(0, guard)
    damage = (
        offence * offence * level_damage_percent(attacker_level, defender_level) * max(0, spread)
    ) // ((offence + defence) * 100 * 100)
    if critical:
        damage = damage * CRITICAL_HALVES // 2
    return clamp(damage, 1, MAX_DAMAGE)


def roll_hit(
    rng: random.Random,
    attacker: Derived,
    attacker_level: int,
    defender: Derived,
    defender_level: int,
    *,
    power: int = 0,
    magic: bool = False,
) -> Hit:
    """One attack, ``power`` being a skill's added attack; ``magic`` is guarded by the
    defender's magic defence instead of its defence.

    Draws, in this order: ``rng.random()`` against :func:`hit_chance` (a miss stops here),
    ``rng.randint(90, 110)`` for the spread, ``rng.randrange(1000)`` against the attacker's
    per-mille ``critical``.
    """
    chance = hit_chance(attacker.hit, attacker_level, defender.dodge, defender_level)
    if rng.random() >= chance:
        return Hit(damage=0, critical=False, missed=True)
    spread = rng.randint(*DAMAGE_SPREAD)
    critical = rng.randrange(1000) < attacker.critical
    guard = defender.magic_defence if magic else defender.defence
    damage = compute_damage(
        attacker.attack + max(0, power),
        guard,
        attacker_level,
        defender_level,
        spread=spread,
        critical=critical,
    )
    return Hit(damage=damage, critical=critical, missed=False)


def xp_to_next(level: int) -> int:
    """XP from ``level`` to the next: (L + 3)(L + 5)(L + 10) * 7 // 10, a cubic that keeps
    every level a little longer than the last; 0 from :data:`MAX_LEVEL` on."""
    if level >= MAX_LEVEL:
        return 0
    lv = max(1, level)
    return (lv + 3) * (lv + 5) * (lv + 10) * 7 // 10


def kill_xp(monster_xp: int, monster_level: int, player_level: int) -> int:
    """XP for killing a monster: full within 5 levels above it, 10% less per level beyond
    (at least 10%, so grinding low monsters still pays a little), 5% more per level below it
    (at most +50%, so a high monster killed by a group's lowest member is not a jackpot)."""
    if monster_xp <= 0:
        return 0
    above = clamp_level(player_level) - clamp_level(monster_level)
    if above > 5:
        percent = max(10, 100 - 10 * (above - 5))
    elif above < 0:
        percent = min(150, 100 - 5 * above)
    else:
        percent = 100
    return monster_xp * percent // 100


def stat_points_for(level: int) -> int:
    """Stat points granted on reaching ``level``: level * 8 // 10 + 10."""
    return level * 8 // 10 + 10


def skill_points_for(level: int) -> int:
    """Skill points granted on reaching ``level``: 1, and 2 on every fifth level."""
    return 2 if level % 5 == 0 else 1


@dataclass(frozen=True, slots=True)
class Gain:
    """The result of gaining XP: the new level and XP, and what the level-ups granted."""

    level: int
    xp: int
    #: Levels gained.
    levels: int
    stat_points: int
    skill_points: int


def gain_xp(level: int, xp: int, gained: int) -> Gain:
    """Add ``gained`` XP and level up as many times as it covers.

    The XP of each level-up is consumed, so the total is conserved below the cap; on reaching
    :data:`MAX_LEVEL` the rest is dropped and XP stays 0 (a capped character has nothing to
    fill). At or above the cap, or for ``gained <= 0``, nothing changes.
    """
    if gained <= 0 or level >= MAX_LEVEL:
        return Gain(level=level, xp=xp, levels=0, stat_points=0, skill_points=0)
    lv = max(1, level)
    total = max(0, xp) + gained
    stat_points = skill_points = 0
    while lv < MAX_LEVEL and total >= xp_to_next(lv):
        total -= xp_to_next(lv)
        lv += 1
        stat_points += stat_points_for(lv)
        skill_points += skill_points_for(lv)
    if lv >= MAX_LEVEL:
        total = 0
    return Gain(
        level=lv,
        xp=total,
        levels=lv - max(1, level),
        stat_points=stat_points,
        skill_points=skill_points,
    )


def stat_point_cost(current_value: int) -> int:
    """Stat points to raise a base stat by one: current // 5, at least 1, so high stats cost
    more. The :data:`MAX_BASE_STAT` cap is the caller's check."""
    return max(1, current_value // 5)


def regeneration(max_value: int, *, sitting: bool, concentration: int = 0) -> int:
    """HP or MP restored per :data:`REGEN_INTERVAL` tick out of combat: 2% of the maximum plus
    concentration // 10, at least 1, doubled when sitting, never more than the maximum."""
    if max_value <= 0:
        return 0
    amount = max(1, max_value // 50 + max(0, concentration) // 10)
    if sitting:
        amount *= 2
    return min(max_value, amount)


def revive_hp(max_hp: int) -> int:
    """HP a revived character comes back with: 30% of the maximum, at least 1 (alive)."""
    return max(1, max_hp * REVIVE_PERCENT // 100)


def death_penalty(level: int, xp: int) -> int:
    """XP lost on death: 3% of the level's ``xp_to_next``, never more than the XP held, so a
    death never takes a level away (nothing at :data:`MAX_LEVEL`)."""
    return min(max(0, xp), xp_to_next(level) * DEATH_PENALTY_PERCENT // 100)
