"""Builders shared by the cost tests."""

from __future__ import annotations

from processors import genai

#: 2026-11-18T08:53:20Z: prices are resolved as of this instant (the catalog has dated prices).
WHEN_NS = 1_795_000_000_000_000_000


def llm_call(
    model: str | None,
    provider: str | None = None,
    input_tokens: int | None = 1000,
    output_tokens: int | None = 1000,
    cache_read: int | None = None,
    cache_write: int | None = None,
    reasoning: int | None = None,
    tier: str | None = None,
    operation: genai.Operation = genai.Operation.CHAT,
    response_model: str | None = None,
) -> genai.LLMCall:
    """A normalized call as processors.genai would produce it."""
    return genai.LLMCall(
        convention=genai.Convention.OTEL_GENAI, provider=provider, operation=operation,
        request_model=model, response_model=response_model, input_tokens=input_tokens,
        output_tokens=output_tokens, cache_read_tokens=cache_read, cache_write_tokens=cache_write,
        reasoning_tokens=reasoning, flags=genai.TokenFlag.NONE, service_tier=tier,
        error_type=None, duplicate=False, existing_cost_key=None, foreign_cost=None,
        streaming=None, time_to_first_chunk=None, content_keys=(), content_events=(),
    )
