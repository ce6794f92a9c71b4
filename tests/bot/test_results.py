"""The bot's result records: lookups, JSON form and the run summary."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from gateway_core.bot.results import (
    FlowResult,
    RunSummary,
    SoakStats,
    StepResult,
    failure_reason,
)


def flow(name: str, ok: bool, times: list[float], **fields: object) -> FlowResult:
    steps = [StepResult(name=f"s{k}", ok=True, elapsed=t) for k, t in enumerate(times)]
    return FlowResult(client=name, ok=ok, steps=steps, **fields)  # type: ignore[arg-type]


def test_step_lookup_names_the_steps_that_ran() -> None:
    result = flow("a", True, [0.1, 0.2])
    assert result.step("s1").elapsed == 0.2
    assert result.has_step("s0") and not result.has_step("logout")
    with pytest.raises(KeyError, match="'logout' did not run"):
        result.step("logout")


def test_to_dict_is_json_ready_in_milliseconds() -> None:
    result = flow("a", False, [0.0125], failed_step="login", code="INVALID_PASSWORD",
                  code_value=3, unexpected=Counter({"PAKWC_NPC_CHAR": 2}))
    document = json.loads(json.dumps(result.to_dict()))
    assert document["steps"][0]["elapsed_ms"] == 12.5
    assert document["code"] == "INVALID_PASSWORD"
    assert document["unexpected"] == {"PAKWC_NPC_CHAR": 2}


def test_failure_reason_prefers_the_code_and_drops_the_repeated_step_name() -> None:
    refused = flow("a", False, [], failed_step="login", code="INVALID_PASSWORD")
    timed_out = flow("b", False, [], failed_step="chat",
                     error="step 'chat': timed out after 1s waiting for PAKWC_NORMAL_CHAT")
    assert failure_reason(refused) == "login: INVALID_PASSWORD"
    assert failure_reason(timed_out) == "chat: timed out after 1s waiting for PAKWC_NORMAL_CHAT"


def test_summary_counts_failures_and_step_percentiles() -> None:
    results = [flow(f"c{k}", True, [k / 100]) for k in range(1, 21)]
    results.append(flow("bad", False, [], failed_step="login", code="UNKNOWN_ACCOUNT"))
    summary = RunSummary.from_results(results, elapsed=2.0)
    assert (summary.total, summary.succeeded, summary.failed, summary.ok) == (21, 20, 1, False)
    assert summary.failures == {"login: UNKNOWN_ACCOUNT": 1}
    (timing,) = summary.steps
    assert timing.count == 20
    assert timing.p50 == pytest.approx(0.105)
    assert timing.p95 == pytest.approx(0.19)  # nearest rank: the 19th of 20
    assert timing.max == pytest.approx(0.20)
    assert json.loads(json.dumps(summary.to_dict()))["steps"][0]["p95_ms"] == 190.0


def test_empty_run_is_not_ok() -> None:
    assert not RunSummary.from_results([], elapsed=0.0).ok


def test_an_interrupted_run_and_its_soak_in_json() -> None:
    stopped = FlowResult(client="a", failed_step="stay", error="step 'stay': interrupted",
                         error_kind="interrupted", release="logged_out",
                         soak=SoakStats(moves=3, move_replies=2, chats=1, chat_replies=1))
    done = FlowResult(client="b", ok=True, soak=SoakStats(moves=4, move_replies=4))
    summary = RunSummary.from_results([stopped, done], 1.0, not_started=2)
    document = json.loads(json.dumps(summary.to_dict()))
    assert (document["interrupted"], document["not_started"], document["ok"]) == (1, 2, False)
    assert document["releases"] == {"logged_out": 1}
    assert (document["soak"]["moves"], document["soak"]["unanswered"]) == (7, 1)
    client = json.loads(json.dumps(stopped.to_dict()))
    assert (client["error_kind"], client["release"], client["soak"]["moves"]) == (
        "interrupted", "logged_out", 3)
    assert RunSummary.from_results([done], 1.0).soak == SoakStats(moves=4, move_replies=4)
