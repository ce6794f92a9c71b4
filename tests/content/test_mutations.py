"""Property: any single breakage of the default pack is refused, and a problem names the place.

Each example takes the parsed default pack, breaks one thing (deletes a required field, sets a
number out of range, points a reference at an id that does not exist, or repeats an id) and
checks that :func:`build_pack` raises a ContentError with a problem at that file, entry and
field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.content import SECTIONS, ContentError, build_pack

Documents = list[tuple[str, dict[str, Any]]]

#: Values outside the range of a top-level field, by section.
OUT_OF_RANGE: dict[str, dict[str, list[Any]]] = {
    "map": {"id": [0, 65536]},
    "gate": {"id": [0, 70000], "radius": [0.0, -5.0], "map": [0]},
    "npc": {"type": [0, 65536], "direction": [360.0, -1.0]},
    "monster": {"level": [0, 256], "hp": [0], "attack_range": [0.0], "attack_speed": [0, 1001],
                "move_speed": [-1.0], "aggro_radius": [-1.0], "xp": [-1], "defence": [-3]},
    "spawn": {"count": [0, 501], "respawn_seconds": [0.0], "radius": [-1.0]},
    "item": {"type": [0, 15], "number": [0, 65536], "stack": [0, 1000], "price": [-1]},
    "skill": {"id": [0], "level": [0, 256], "mp_cost": [-1], "job": [1, 112], "next": [0],
              "points": [-1, 256]},
    "starter_kit": {"zuly": [-1], "job": [5, 500]},
}
MISSING_MAP = 65000
MISSING_KEY = "no_such_entry"
#: Reference fields: (section, path with [] for "some element of that array", target is a
#: number: a map or a skill id).
REFERENCES = [
    ("npc", "map", True), ("npc", "shop", False), ("gate", "map", True),
    ("gate", "destination.map", True), ("spawn", "monster", False), ("spawn", "map", True),
    ("monster", "drops[].item", False), ("shop", "items[].item", False),
    ("starter_kit", "items[].item", False), ("skill", "next", True),
    ("starter_kit", "skills[]", True),
]


def _entries(docs: Documents, section: str) -> list[tuple[int, int]]:
    """(document, index) of every entry of a section, in pack order."""
    return [(d, i) for d, (_, doc) in enumerate(docs) for i in range(len(doc.get(section, [])))]


def _label(docs: Documents, section: str, where: tuple[int, int]) -> tuple[str, str]:
    doc, index = where
    return docs[doc][0], f"{section}[{index}]"


def _delete_required(data: st.DataObject, docs: Documents) -> tuple[str, str, str]:
    section = data.draw(st.sampled_from([s for s in SECTIONS if _entries(docs, s)]))
    where = data.draw(st.sampled_from(_entries(docs, section)))
    entry = docs[where[0]][1][section][where[1]]
    required = [name for name, field in SECTIONS[section].model_fields.items()
                if field.is_required() and name in entry]
    name = data.draw(st.sampled_from(required))
    del entry[name]
    return (*_label(docs, section, where), name)


def _out_of_range(data: st.DataObject, docs: Documents) -> tuple[str, str, str]:
    section = data.draw(st.sampled_from([s for s in OUT_OF_RANGE if _entries(docs, s)]))
    name = data.draw(st.sampled_from(sorted(OUT_OF_RANGE[section])))
    where = data.draw(st.sampled_from(_entries(docs, section)))
    docs[where[0]][1][section][where[1]][name] = data.draw(
        st.sampled_from(OUT_OF_RANGE[section][name]))
    return (*_label(docs, section, where), name)


def _missing_reference(data: st.DataObject, docs: Documents) -> tuple[str, str, str]:
    section, path, is_map = data.draw(st.sampled_from(REFERENCES))
    missing: object = MISSING_MAP if is_map else MISSING_KEY
    head, _, leaf = path.partition("[].")
    scalars = path.endswith("[]")  # an array of references, not of tables
    head = head.removesuffix("[]")
    candidates: list[tuple[tuple[int, int], int | None]] = []
    for where in _entries(docs, section):
        entry = docs[where[0]][1][section][where[1]]
        if scalars:
            candidates += [(where, i) for i in range(len(entry.get(head, [])))]
        elif not leaf:
            candidates.append((where, None))
        else:
            candidates += [(where, i) for i, line in enumerate(entry.get(head, [])) if leaf in line]
    _require(candidates)
    where, element = data.draw(st.sampled_from(candidates))
    entry = docs[where[0]][1][section][where[1]]
    if scalars and element is not None:
        entry[head][element] = missing
        return (*_label(docs, section, where), f"{head}[{element}]")
    if element is not None:
        entry[head][element][leaf] = missing
        return (*_label(docs, section, where), f"{head}[{element}].{leaf}")
    parent, _, name = path.rpartition(".")
    (entry[parent] if parent else entry)[name] = missing
    return (*_label(docs, section, where), path)


def _duplicate_id(data: st.DataObject, docs: Documents) -> tuple[str, str, str]:
    section = data.draw(st.sampled_from([s for s in SECTIONS if len(_entries(docs, s)) >= 2]))
    key = "job" if section == "starter_kit" else "id"
    first, second = data.draw(st.lists(st.sampled_from(_entries(docs, section)), min_size=2,
                                       max_size=2, unique=True))
    later = max(first, second)
    docs[first[0]][1][section][first[1]][key] = docs[second[0]][1][section][second[1]][key]
    return (*_label(docs, section, later), key)


def _require(candidates: list[Any]) -> None:
    # The default pack has entries for every reference kind; an empty list means it changed.
    assert candidates, "the default pack lost the entries this test breaks"


MUTATIONS = [_delete_required, _out_of_range, _missing_reference, _duplicate_id]


def test_the_unbroken_pack_builds(default_documents: Documents) -> None:
    build_pack(copy.deepcopy(default_documents))


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_any_single_breakage_is_refused_naming_the_place(
        default_documents: Documents, data: st.DataObject) -> None:
    docs = copy.deepcopy(default_documents)
    mutate = data.draw(st.sampled_from(MUTATIONS))
    file, entry, field = mutate(data, docs)
    with pytest.raises(ContentError) as info:
        build_pack(docs)
    places = [(p.file, p.entry.split(" ")[0], p.field) for p in info.value.problems]
    assert (file, entry, field) in places, (mutate.__name__, file, entry, field,
                                            [str(p) for p in info.value.problems])
    named = next(str(p) for p in info.value.problems
                 if (p.file, p.entry.split(" ")[0], p.field) == (file, entry, field))
    assert named.startswith(f"{file}: {entry}") and f": {field}: " in named
