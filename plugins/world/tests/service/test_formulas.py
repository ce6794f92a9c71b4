"""The combat rules of the reference world service (gateway_world.service.formulas): tables of
worked examples (the ones docs/combat.md shows) and properties that hold for any input. Every
random draw comes from a seeded random.Random, so each run checks the same fights."""

from __future__ import annotations

import itertools
import random

import pytest
from gateway_world.service.formulas import (
    BASE_RUN_SPEED,
    BASE_WALK_SPEED,
    MAX_DAMAGE,
    MAX_HIT_CHANCE,
    MAX_LEVEL,
    MIN_HIT_CHANCE,
    MIN_MOVE_SPEED,
    BaseStats,
    Bonus,
    Derived,
    attack_interval,
    compute_damage,
    death_penalty,
    derive,
    family,
    gain_xp,
    hit_chance,
    kill_xp,
    monster_derived,
    regeneration,
    revive_hp,
    roll_hit,
    stat_point_cost,
    xp_to_next,
)
from hypothesis import given
from hypothesis import strategies as st

levels = st.integers(min_value=1, max_value=255)
xp_levels = st.integers(min_value=1, max_value=MAX_LEVEL)
stat_values = st.integers(min_value=0, max_value=400)
bonuses = st.builds(
    Bonus,
    attack=st.integers(-500, 5000),
    defence=st.integers(-500, 5000),
    magic_defence=st.integers(-500, 5000),
    hit=st.integers(-500, 5000),
    dodge=st.integers(-500, 5000),
    move_speed=st.integers(-1000, 1000),
    attack_speed=st.integers(-500, 500),
    max_hp=st.integers(-10_000, 10_000),
    max_mp=st.integers(-10_000, 10_000),
)
players = st.builds(
    derive,
    levels,
    st.sampled_from([0, 111, 121, 122, 211, 221, 222, 311, 321, 322, 411, 421, 422, 999, -1]),
    st.builds(
        BaseStats, stat_values, stat_values, stat_values, stat_values, stat_values, stat_values
    ),
    bonuses,
)
monsters = st.builds(
    monster_derived,
    levels,
    st.integers(-10, 10**9),
    st.integers(-10, 10**9),
    st.integers(-10, 10**9),
    st.integers(-10, 1000),
    st.floats(min_value=-100.0, max_value=2000.0),
)
fighters = st.one_of(players, monsters)

STARTER = BaseStats(15, 15, 15, 15, 10, 10)


# --- base stats and bonuses ------------------------------------------------------------------


def test_base_stats_of_a_short_list_fills_the_missing_stats_with_zero() -> None:
    assert BaseStats.of([10, 11, 12]) == BaseStats(10, 11, 12, 0, 0, 0)


def test_base_stats_of_clamps_negatives_to_zero_and_ignores_extra_values() -> None:
    assert BaseStats.of([-5, 1, 2, 3, 4, 5, 6, 7]).as_tuple() == (0, 1, 2, 3, 4, 5)


def test_base_stats_as_tuple_is_in_the_client_order() -> None:
    assert BaseStats(1, 2, 3, 4, 5, 6).as_tuple() == (1, 2, 3, 4, 5, 6)


def test_bonuses_add_field_by_field() -> None:
    total = Bonus(attack=5, move_speed=50) + Bonus(attack=3, defence=-2, max_mp=10)
    assert total == Bonus(attack=8, defence=-2, move_speed=50, max_mp=10)


@pytest.mark.parametrize(
    ("job", "expected"),
    [(0, 0), (111, 1), (122, 1), (211, 2), (321, 3), (422, 4), (999, 0), (-1, 0)],
)
def test_the_job_family_is_the_hundreds_digit_and_unknown_jobs_are_visitors(
    job: int, expected: int
) -> None:
    assert family(job) == expected


# --- derived stats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "job", "stats", "expected"),
    [
        (1, 0, STARTER, Derived(70, 54, 8, 5, 5, 16, 13, 25, 100, 425.0, 200.0)),
        (
            50,
            121,
            BaseStats(80, 60, 20, 60, 10, 40),
            Derived(850, 210, 90, 45, 31, 110, 100, 40, 100, 425.0, 200.0),
        ),
        (
            50,
            221,
            BaseStats(20, 40, 90, 40, 10, 40),
            Derived(510, 700, 60, 38, 55, 90, 90, 40, 100, 425.0, 200.0),
        ),
        (
            100,
            311,
            BaseStats(120, 120, 30, 80, 20, 80),
            Derived(1290, 580, 160, 76, 60, 200, 200, 60, 100, 425.0, 200.0),
        ),
    ],
)
def test_derive_matches_the_documented_examples(
    level: int, job: int, stats: BaseStats, expected: Derived
) -> None:
    assert derive(level, job, stats) == expected


def test_soldiers_have_the_most_hp_and_muses_the_most_mp() -> None:
    by_family = {job: derive(60, job, STARTER) for job in (111, 211, 311, 411)}
    assert max(by_family, key=lambda job: by_family[job].max_hp) == 111
    assert max(by_family, key=lambda job: by_family[job].max_mp) == 211


def test_bonuses_add_to_the_derived_stats() -> None:
    plain = derive(30, 111, STARTER)
    bonus = Bonus(attack=10, defence=5, hit=3, max_hp=100, move_speed=75, attack_speed=20)
    boosted = derive(30, 111, STARTER, bonus)
    assert boosted.attack == plain.attack + 10
    assert boosted.defence == plain.defence + 5
    assert boosted.hit == plain.hit + 3
    assert boosted.max_hp == plain.max_hp + 100
    assert boosted.run_speed == BASE_RUN_SPEED + 75
    assert boosted.walk_speed == BASE_WALK_SPEED
    assert boosted.attack_speed == 120


def test_debuffs_never_break_a_character() -> None:
    crippled = derive(
        1,
        0,
        BaseStats.of([]),
        Bonus(
            attack=-99,
            defence=-99,
            max_hp=-9999,
            max_mp=-9999,
            move_speed=-9999,
            attack_speed=-9999,
        ),
    )
    assert (crippled.max_hp, crippled.max_mp, crippled.attack, crippled.defence) == (1, 1, 1, 0)
    assert crippled.attack_speed == 30
    assert crippled.run_speed == crippled.walk_speed == MIN_MOVE_SPEED


def test_monsters_take_content_stats_and_derive_the_rest_from_their_level() -> None:
    assert monster_derived(10, 300, 40, 20, 90, 300.0) == Derived(
        300, 1, 40, 20, 10, 30, 20, 15, 90, 300.0, 200.0
    )


@given(players)
def test_every_derived_player_stat_is_in_its_range(d: Derived) -> None:
    assert d.max_hp >= 1 and d.max_mp >= 1 and d.attack >= 1
    assert min(d.defence, d.magic_defence, d.hit, d.dodge) >= 0
    assert 0 <= d.critical <= 1000
    assert 30 <= d.attack_speed <= 300
    assert MIN_MOVE_SPEED <= d.walk_speed <= d.run_speed


# --- attack speed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("speed", "seconds"),
    [(100, 1.5), (150, 1.0), (200, 0.75), (300, 0.5), (50, 3.0), (30, 5.0), (1, 5.0), (999, 0.5)],
)
def test_attack_interval_is_one_and_a_half_seconds_at_speed_100_and_clamped(
    speed: int, seconds: float
) -> None:
    assert attack_interval(speed) == pytest.approx(seconds)


# --- hits and damage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hit", "hit_level", "dodge", "dodge_level", "expected"),
    [
        (100, 50, 100, 50, 0.75),
        (100, 55, 100, 50, 0.85),
        (100, 40, 100, 50, 0.55),
        (0, 1, 0, 1, 0.75),
        (0, 1, 500, 100, MIN_HIT_CHANCE),
        (500, 100, 0, 1, MAX_HIT_CHANCE),
    ],
)
def test_hit_chance_is_a_quarter_plus_the_hit_share_plus_two_percent_per_level(
    hit: int, hit_level: int, dodge: int, dodge_level: int, expected: float
) -> None:
    assert hit_chance(hit, hit_level, dodge, dodge_level) == pytest.approx(expected)


@given(st.integers(-1000, 10**6), levels, st.integers(-1000, 10**6), levels)
def test_hit_chance_is_always_between_5_and_95_percent(
    hit: int, hit_level: int, dodge: int, dodge_level: int
) -> None:
    assert MIN_HIT_CHANCE <= hit_chance(hit, hit_level, dodge, dodge_level) <= MAX_HIT_CHANCE


@pytest.mark.parametrize(
    ("attack", "guard", "attacker_level", "defender_level", "spread", "critical", "expected"),
    [
        (100, 100, 50, 50, 100, False, 50),
        (100, 100, 50, 50, 90, False, 45),
        (100, 100, 50, 50, 110, True, 82),
        (100, 0, 60, 50, 100, False, 120),
        (100, 0, 10, 50, 100, False, 50),
        (1, 10**6, 1, 255, 90, False, 1),
        (10**9, 0, 255, 1, 110, True, MAX_DAMAGE),
    ],
)
def test_compute_damage_matches_the_documented_examples(
    attack: int,
    guard: int,
    attacker_level: int,
    defender_level: int,
    spread: int,
    critical: bool,
    expected: int,
) -> None:
    got = compute_damage(
        attack, guard, attacker_level, defender_level, spread=spread, critical=critical
    )
    assert got == expected


def test_a_magic_attack_is_guarded_by_magic_defence() -> None:
    attacker = derive(50, 221, BaseStats(20, 40, 90, 40, 10, 40))
    iron_wall = monster_derived(50, 1000, 50, 10_000, 100, 300.0)  # magic defence 50
    physical = [roll_hit(random.Random(seed), attacker, 50, iron_wall, 50) for seed in range(50)]
    magical = [
        roll_hit(random.Random(seed), attacker, 50, iron_wall, 50, magic=True) for seed in range(50)
    ]
    assert max(h.damage for h in physical) <= 1
    assert min(h.damage for h in magical if not h.missed) >= 27  # 60*60/110 * 90% = 29.4


def test_skill_power_adds_to_the_attack() -> None:
    attacker = derive(50, 121, BaseStats(80, 60, 20, 60, 10, 40))
    target = monster_derived(50, 1000, 50, 90, 100, 300.0)
    plain = roll_hit(random.Random(7), attacker, 50, target, 50)
    strong = roll_hit(random.Random(7), attacker, 50, target, 50, power=90)
    assert not plain.missed and not strong.missed
    assert strong.damage > plain.damage


def test_a_seeded_generator_replays_the_same_fight() -> None:
    attacker = derive(20, 111, STARTER)
    target = monster_derived(20, 500, 30, 15, 100, 300.0)
    first = [roll_hit(random.Random(3), attacker, 20, target, 20) for _ in range(3)]
    rng_a, rng_b = random.Random(11), random.Random(11)
    fight_a = [roll_hit(rng_a, attacker, 20, target, 20) for _ in range(100)]
    fight_b = [roll_hit(rng_b, attacker, 20, target, 20) for _ in range(100)]
    assert first[0] == first[1] == first[2]
    assert fight_a == fight_b
    assert any(h.missed for h in fight_a) and any(h.critical for h in fight_a)


def test_a_miss_does_no_damage_and_is_never_critical() -> None:
    clumsy = derive(1, 0, BaseStats.of([]))
    ghost = monster_derived(200, 1000, 50, 0, 100, 300.0)
    rng = random.Random(5)
    hits = [roll_hit(rng, clumsy, 1, ghost, 200) for _ in range(200)]
    misses = [h for h in hits if h.missed]
    assert len(misses) > 150  # a 5% chance to land
    assert all(h.damage == 0 and not h.critical for h in misses)


@given(
    fighters,
    levels,
    fighters,
    levels,
    st.integers(-100, 10**6),
    st.booleans(),
    st.integers(0, 2**32),
)
def test_damage_is_never_negative_never_above_the_cap_and_a_hit_does_at_least_one(
    attacker: Derived,
    attacker_level: int,
    defender: Derived,
    defender_level: int,
    power: int,
    magic: bool,
    seed: int,
) -> None:
    hit = roll_hit(
        random.Random(seed),
        attacker,
        attacker_level,
        defender,
        defender_level,
        power=power,
        magic=magic,
    )
    assert 0 <= hit.damage <= MAX_DAMAGE
    if hit.missed:
        assert hit.damage == 0 and not hit.critical
    else:
        assert hit.damage >= 1


# --- experience ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (1, 184),
        (2, 294),
        (10, 2730),
        (50, 122_430),
        (100, 832_755),
        (199, 6_028_730),
        (200, 0),
        (255, 0),
        (0, 184),
    ],
)
def test_xp_to_next_is_the_documented_cubic_and_zero_at_the_cap(level: int, expected: int) -> None:
    assert xp_to_next(level) == expected


def test_xp_to_next_strictly_increases_up_to_the_cap() -> None:
    needs = [xp_to_next(level) for level in range(1, MAX_LEVEL)]
    assert all(a < b for a, b in itertools.pairwise(needs))
    assert xp_to_next(MAX_LEVEL) == 0


@given(st.integers(1, MAX_LEVEL - 2))
def test_each_level_needs_more_xp_than_the_one_before(level: int) -> None:
    assert 0 < xp_to_next(level) < xp_to_next(level + 1)


@pytest.mark.parametrize(
    ("monster_xp", "monster_level", "player_level", "expected"),
    [
        (100, 10, 10, 100),
        (100, 10, 15, 100),
        (100, 10, 16, 90),
        (100, 10, 20, 50),
        (100, 10, 40, 10),
        (100, 10, 9, 105),
        (100, 10, 1, 145),
        (100, 30, 1, 150),
        (0, 10, 1, 0),
        (-5, 10, 10, 0),
    ],
)
def test_kill_xp_shrinks_when_outleveling_and_grows_when_underleveled(
    monster_xp: int, monster_level: int, player_level: int, expected: int
) -> None:
    assert kill_xp(monster_xp, monster_level, player_level) == expected


@given(st.integers(-10, 10**7), levels, levels)
def test_kill_xp_is_between_nothing_and_one_and_a_half_times_the_content_xp(
    monster_xp: int, monster_level: int, player_level: int
) -> None:
    assert 0 <= kill_xp(monster_xp, monster_level, player_level) <= max(0, monster_xp) * 3 // 2


@pytest.mark.parametrize(
    ("level", "xp", "gained", "expected"),
    [
        (1, 0, 100, (1, 100, 0, 0, 0)),
        (1, 100, 84, (2, 0, 1, 11, 1)),
        (1, 0, 1000, (4, 86, 3, 36, 3)),
        (4, 0, 617 + 840 + 10, (6, 10, 2, 28, 3)),  # level 5 gives 2 skill points
        (1, 0, 0, (1, 0, 0, 0, 0)),
        (1, 50, -20, (1, 50, 0, 0, 0)),
        (199, 0, 10**9, (200, 0, 1, 170, 2)),
        (200, 0, 1000, (200, 0, 0, 0, 0)),
    ],
)
def test_gain_xp_levels_up_as_often_as_the_xp_covers(
    level: int, xp: int, gained: int, expected: tuple[int, int, int, int, int]
) -> None:
    g = gain_xp(level, xp, gained)
    assert (g.level, g.xp, g.levels, g.stat_points, g.skill_points) == expected


@given(xp_levels, st.integers(0, 10**7), st.integers(-100, 10**9))
def test_gain_xp_never_goes_back_and_conserves_xp_below_the_cap(
    level: int, xp_share: int, gained: int
) -> None:
    xp = xp_share % max(1, xp_to_next(level))
    g = gain_xp(level, xp, gained)
    assert (g.level, g.xp) >= (level, xp)
    assert g.level == level + g.levels
    if g.level < MAX_LEVEL:
        spent = sum(xp_to_next(lv) for lv in range(level, g.level))
        assert spent + g.xp == xp + max(0, gained)
        assert g.xp < xp_to_next(g.level)
    else:
        assert g.xp == 0


@pytest.mark.parametrize(
    ("current", "cost"), [(-3, 1), (0, 1), (9, 1), (10, 2), (14, 2), (50, 10), (299, 59)]
)
def test_raising_a_stat_costs_a_fifth_of_its_value_and_at_least_one(
    current: int, cost: int
) -> None:
    assert stat_point_cost(current) == cost


# --- recovery and death ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_value", "sitting", "concentration", "expected"),
    [
        (1000, False, 0, 20),
        (1000, True, 0, 40),
        (1000, False, 55, 25),
        (10, False, 0, 1),
        (1, True, 0, 1),
        (0, True, 100, 0),
    ],
)
def test_regeneration_is_two_percent_plus_concentration_and_doubled_when_sitting(
    max_value: int, sitting: bool, concentration: int, expected: int
) -> None:
    assert regeneration(max_value, sitting=sitting, concentration=concentration) == expected


@given(st.integers(1, 10**7), st.booleans(), st.integers(-10, 1000))
def test_regeneration_restores_at_least_one_and_at_most_the_maximum(
    max_value: int, sitting: bool, concentration: int
) -> None:
    assert 1 <= regeneration(max_value, sitting=sitting, concentration=concentration) <= max_value


@given(st.integers(1, 10**7))
def test_a_revived_character_has_between_one_hp_and_its_maximum(max_hp: int) -> None:
    assert 1 <= revive_hp(max_hp) <= max_hp


def test_revive_gives_thirty_percent_of_the_maximum() -> None:
    assert (revive_hp(1000), revive_hp(3), revive_hp(0)) == (300, 1, 1)


@pytest.mark.parametrize(
    ("level", "xp", "lost"),
    [(10, 5000, 81), (10, 50, 50), (1, 0, 0), (100, 10**6, 24_982), (200, 10**6, 0)],
)
def test_death_costs_three_percent_of_the_level_but_never_a_level(
    level: int, xp: int, lost: int
) -> None:
    assert death_penalty(level, xp) == lost


@given(levels, st.integers(-10, 10**8))
def test_death_never_takes_more_xp_than_held(level: int, xp: int) -> None:
    assert 0 <= death_penalty(level, xp) <= max(0, xp)
