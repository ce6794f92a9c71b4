"""docs/packets.md is generated and current; the project's protocol reference is its own.

The packet page must match what ``python -m gateway_core.packet_docs`` writes today, so that a
changed declaration, numbering or handler registration cannot leave it behind. The repository
cites only its own docs/protocol.md, and every section it cites exists there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway_core import packet_docs
from gateway_core.protocol import get_profile
from gateway_core.protocol.numbering import Direction

ROOT = Path(__file__).parent.parent
PACKETS_MD = ROOT / "docs" / "packets.md"
PROTOCOL_MD = ROOT / "docs" / "protocol.md"

#: File kinds whose text is checked for citations.
CHECKED_SUFFIXES = (".py", ".md", ".toml", ".txt", ".cfg", ".proto")

# Written so that this file does not match its own patterns.
_FOREIGN_DOCS = re.compile(r"(?:PROTOCOL|DESIGN)\.md")
_SHARED_PATH = re.compile(r"(?:\.\./|/work/)shared\b|\bshared/(?:protocol|hooks)\b")
_SECTION_REF = re.compile(r"§(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?")
_HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.MULTILINE)


@pytest.fixture(scope="module")
def rendered() -> str:
    return packet_docs.render()


@pytest.fixture(scope="module")
def handlers() -> dict[str, str]:
    return packet_docs.handler_plugins()


def _row(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"| `{name}` |"):
            return line
    raise AssertionError(f"no summary row for {name}")


def _unhandled_section(text: str) -> str:
    return text.split("## Client packets no plugin handles", 1)[1]


def test_packets_md_is_current(rendered: str) -> None:
    current = PACKETS_MD.read_text(encoding="utf-8") if PACKETS_MD.exists() else ""
    assert current == rendered, (
        f"docs/packets.md is stale; regenerate it with: {packet_docs.REGENERATE}"
    )


def test_row_shows_both_profile_values_and_the_handling_plugin(rendered: str) -> None:
    # A packet whose number differs between the profiles: 2021 lacks the token login.
    row = _row(rendered, "PAKCS_SRV_SELECT_REQ")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:5] == ["0x050D", "0x050C", "client->server", "auth"]
    assert cells[-1] == "auth"


def test_type_added_after_2021_has_no_2021_value(rendered: str) -> None:
    cells = [c.strip() for c in _row(rendered, "PAKCS_LOGIN_TOKEN_REQ").strip("|").split("|")]
    assert cells[1:3] == ["0x050A", "—"]


def test_types_without_declaration_are_listed_as_raw_frames(rendered: str) -> None:
    assert "raw frame" in _row(rendered, "PAKCS_CHAR_INFO_REQ")
    assert "inter-server" in _row(rendered, "ISC_TRANSFER")


def test_every_packet_type_of_both_profiles_has_a_row(rendered: str) -> None:
    for profile in ("2026", "2021"):
        for info in get_profile(profile):
            if not info.is_marker:
                _row(rendered, info.name)


def test_unhandled_list_is_exactly_the_client_packets_nobody_handles(
    rendered: str, handlers: dict[str, str]
) -> None:
    listed = set(re.findall(r"^- `(\w+)`", _unhandled_section(rendered), re.MULTILINE))
    expected = {
        info.name for info in get_profile("2026")
        if info.direction is Direction.CLIENT_TO_SERVER and info.name not in handlers
    }
    assert listed == expected
    assert "PAKCS_PARTY_REQ" in listed and "PAKCS_ATTACK" not in listed
    assert "PAKCS_LOGIN_REQ" not in listed
    assert "PAKCS_ACCEPT_REQ" not in listed  # the core's own packet


def test_check_mode_reports_a_stale_file_and_write_mode_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "packets.md"
    out.write_text("outdated\n", encoding="utf-8")
    assert packet_docs.main(["--check", "--output", str(out)]) == 1
    assert packet_docs.REGENERATE in capsys.readouterr().err
    assert packet_docs.main(["--output", str(out)]) == 0
    assert packet_docs.main(["--check", "--output", str(out)]) == 0


def _repository_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    files = [ROOT / name for name in listed if name.endswith(CHECKED_SUFFIXES)]
    return [f for f in files if f.is_file()]


def test_repository_cites_only_its_own_protocol_reference() -> None:
    offenders = []
    for path in _repository_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _FOREIGN_DOCS.search(line) or _SHARED_PATH.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "cite docs/protocol.md instead:\n" + "\n".join(offenders)


def test_every_cited_section_exists_in_docs_protocol_md() -> None:
    # In this repository a "§" always points into docs/protocol.md.
    sections = set(_HEADING.findall(PROTOCOL_MD.read_text(encoding="utf-8")))
    missing = []
    for path in _repository_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _SECTION_REF.finditer(line):
                for cited in filter(None, match.groups()):
                    if cited not in sections:
                        missing.append(f"{path.relative_to(ROOT)}:{number}: §{cited}")
    assert not missing, "sections not in docs/protocol.md:\n" + "\n".join(missing)
