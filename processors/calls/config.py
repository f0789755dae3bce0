"""Settings of the ``genai_calls`` processor (``processors.genai_calls`` in the config)."""

from __future__ import annotations

from pydantic import Field

from sidecar.config import Duration, StrictModel


class CallsConfig(StrictModel):
    """Settle, across requests, which spans count as a model call (one call, counted once)."""

    #: How long a call that a later span may turn out to duplicate is held back from the
    #: derived outputs (metrics, inference logs); also how long a seen SDK span is remembered
    #: for its parent. 0 turns cross-request pairing off (pairs within one request still
    #: count once).
    pairing_window: Duration = Field(30.0, ge=0, le=600)
    #: Most calls held at once; past it the oldest is released (counted) early, and counted in
    #: ``genai_sidecar_calls_pairing_total{outcome="overflow"}``.
    max_pending: int = Field(10_000, ge=1, le=1_000_000)
    #: Most bytes of held spans (copies, content already redacted); same overflow rule.
    max_pending_mib: float = Field(64.0, gt=0, le=4096)
    #: Most SDK spans remembered for a parent still to come; past it the oldest is forgotten.
    max_remembered: int = Field(100_000, ge=1, le=10_000_000)
    #: How often held calls whose window closed are released, and idle runs rolled up, when no
    #: request arrives.
    tick_interval: Duration = Field(1.0, gt=0, le=60)
    #: A run (trace) with model calls is rolled up (``gen_ai.client.trace.cost`` / ``.calls``)
    #: once no span of it has arrived for this long.
    run_idle: Duration = Field(30.0, gt=0, le=3600)
    #: Most runs followed at once; past it the least recently active is rolled up early.
    max_runs: int = Field(100_000, ge=1, le=10_000_000)
    #: A session (``gen_ai.conversation.id`` / ``session.id``) not seen for this long is
    #: forgotten: its totals on the inference records start again from zero.
    session_idle: Duration = Field(1800.0, gt=0, le=7 * 86400)
    #: Most sessions followed; past it the least recently active is forgotten.
    max_sessions: int = Field(100_000, ge=1, le=10_000_000)
    #: A run whose cost so far (USD) crosses this is a runaway: one ``gen_ai.runaway`` log
    #: record and ``gen_ai.client.runaway.runs`` +1, while it is still going; null: off.
    runaway_cost_usd: float | None = Field(10.0, gt=0)
    #: Likewise for its number of model calls so far; null: off.
    runaway_calls: int | None = Field(200, ge=1)
    #: A session whose cost so far (USD, all its runs while followed) crosses this is a
    #: runaway too (``gen_ai.runaway.scope`` ``session``): many short runs of one conversation
    #: that no single run's limit catches; null: off.
    runaway_session_cost_usd: float | None = Field(50.0, gt=0)
    #: Likewise for the session's model calls so far; null: off.
    runaway_session_calls: int | None = Field(1000, ge=1)
