"""The normalized, read-only view of one LLM span, whatever convention produced it.

`view` reads a span once and answers in one vocabulary (shared/CONVENTIONS.md): provider,
operation, models, the five token counts, service tier, error type, where the content lives.
It never modifies the span. `batch_view` does it for a whole OTLP traces request, once per
request (memoized in ``BatchContext.scratch``), and resolves what needs more than one span: the
Anthropic SDK's own CLIENT span nested in an instrumentation's LLM span (one call, two spans).

Token normalization, in order (each step is recorded in `TokenFlag`):

1. Each concept takes the FIRST valid key of its precedence list in ``sidecar.semconv``; the
   same number under two keys (Vercel's ``ai.usage.*`` and ``gen_ai.usage.*``) is never added.
2. Values sent as strings (``"12"``) or doubles (``12.0``) are accepted; negative, fractional,
   non-finite or absurd (> `MAX_TOKENS`) values are ignored (``INVALID_IGNORED``).
3. Input is made inclusive of cache tokens, as OTel says it should be. It is known to be
   exclusive when ``cache_read + cache_write > input`` or when OpenLIT reports Anthropic;
   then the cache tokens are added (``INPUT_EXCLUDED_CACHE``). Likewise output is made inclusive
   of reasoning when ``reasoning > output`` (``OUTPUT_EXCLUDED_REASONING``).

Cost: a few µs per LLM span; a span without any GenAI marker is rejected after one pass over
its attribute keys and is never touched.
"""

from __future__ import annotations

import enum
import json
import math
import re
from typing import Any, NamedTuple

from opentelemetry.proto.trace.v1 import trace_pb2

from sidecar import semconv as sc

#: Larger token counts are taken as garbage (no context window is near it).
MAX_TOKENS = 100_000_000


class Convention(enum.StrEnum):
    """The instrumentation family a span's shape comes from (best guess, for diagnostics)."""

    OTEL_GENAI = "otel_genai"
    OPENLLMETRY = "openllmetry"
    OPENINFERENCE = "openinference"
    OPENLIT = "openlit"
    VERCEL_AI = "vercel_ai"
    PYDANTIC_AI = "pydantic_ai"
    ANTHROPIC_SDK = "anthropic_sdk"


class TokenFlag(enum.IntFlag):
    """What normalization did to the token counts (0 when the counts were taken as sent)."""

    NONE = 0
    #: Input was reported without its cache tokens; they were added to ``input_tokens``.
    INPUT_EXCLUDED_CACHE = enum.auto()
    #: Output was reported without its reasoning tokens; they were added to ``output_tokens``.
    OUTPUT_EXCLUDED_REASONING = enum.auto()
    #: A count was negative, fractional, non-numeric or absurd and was ignored.
    INVALID_IGNORED = enum.auto()
    #: Two keys for one concept disagreed; the first in precedence order was kept.
    CONFLICTING_KEYS = enum.auto()
    #: The emitter is known not to record cache tokens (so a cache discount may be missing).
    CACHE_DETAIL_UNKNOWN = enum.auto()
    #: The emitter may estimate tokens of streams without usage (OpenLIT: characters / 2);
    #: set for OpenLIT spans unless they say they were not streamed.
    MAY_BE_ESTIMATED = enum.auto()
    #: Input was only given per modality (text / image / audio) and was summed.
    INPUT_FROM_MODALITIES = enum.auto()


class Operation(enum.StrEnum):
    """Normalized operation (OTel ``gen_ai.operation.name`` values where they exist)."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    GENERATE_CONTENT = "generate_content"
    EMBEDDINGS = "embeddings"
    #: An agent run (``invoke_agent``; OpenInference AGENT; Pydantic AI's agent run): sums the
    #: model calls below it, never priced itself.
    INVOKE_AGENT = "invoke_agent"
    #: Another span that sums several model calls (a chain, Vercel top-level ``ai.generateText``).
    AGGREGATE = "aggregate"
    EXECUTE_TOOL = "execute_tool"
    OTHER = "other"


#: Operations that are exactly one model call (priced, counted).
MODEL_CALL_OPERATIONS = frozenset(
    {Operation.CHAT, Operation.TEXT_COMPLETION, Operation.GENERATE_CONTENT, Operation.EMBEDDINGS}
)


class LLMCall(NamedTuple):
    """One span, normalized (immutable). Token counts are None when the span does not say.

    A NamedTuple rather than a frozen dataclass: it is built once per LLM span on the hot path
    and a frozen dataclass's ``__init__`` costs several times more. Use attribute access.

    Attributes:
        convention: the emitter family (diagnostics only).
        provider: normalized provider (``openai``, ``anthropic``, ``aws.bedrock``,
            ``azure.ai.openai``, ``gcp.vertex_ai``, ``gcp.gemini``, ...); None if unknown.
        operation: normalized operation; see `MODEL_CALL_OPERATIONS`.
        request_model / response_model: model names as sent (not canonicalized).
        input_tokens: input INCLUDING cache reads and writes (see module docstring).
        output_tokens: output INCLUDING reasoning.
        cache_read_tokens / cache_write_tokens / reasoning_tokens: subsets of the above.
        flags: what normalization did (`TokenFlag`).
        service_tier: ``default`` / ``flex`` / ``priority`` / ``batch`` ... as sent, lowercased.
        error_type: ``error.type`` cleaned (``<class 'a.B'>`` -> ``a.B``), ``_OTHER`` for an
            error status without a type, None when the call succeeded.
        duplicate: this span describes the same call as another span that is kept (the
            instrumentation span whose child is the Anthropic SDK's own span; see `batch_view`).
            Consumers must not count its tokens or cost again.
        existing_cost_key: our ``gen_ai.usage.cost.amount`` if already present, else None.
        foreign_cost: (key, amount) of a cost another tool wrote, if any.
        streaming: True / False when the span says, else None.
        time_to_first_chunk: seconds, when the span says.
        content_keys: attribute keys that hold prompt / completion / tool content.
        content_events: indexes into ``span.events`` of events that hold content.
        agent_name / tool_name: the agent or tool the span names (bounded), if any.
        session_id: the conversation or session the span belongs to (``gen_ai.conversation.id``,
            ``session.id``), bounded; None when it says none.
    """

    convention: Convention
    provider: str | None
    operation: Operation
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    flags: TokenFlag
    service_tier: str | None
    error_type: str | None
    duplicate: bool
    existing_cost_key: str | None
    foreign_cost: tuple[str, float] | None
    streaming: bool | None
    time_to_first_chunk: float | None
    content_keys: tuple[str, ...]
    content_events: tuple[int, ...]
    agent_name: str | None = None
    tool_name: str | None = None
    session_id: str | None = None

    @property
    def model(self) -> str | None:
        """The best model name to price or label by: response model, else request model."""
        return self.response_model or self.request_model

    @property
    def is_model_call(self) -> bool:
        """True for exactly one model call that is not a duplicate of another span."""
        return self.operation in MODEL_CALL_OPERATIONS and not self.duplicate

    @property
    def has_usage(self) -> bool:
        """True when the span reports input or output tokens."""
        return self.input_tokens is not None or self.output_tokens is not None


# --------------------------------------------------------------------------------------------
# Recognition tables (built once)
# --------------------------------------------------------------------------------------------
_CONCEPTS: dict[str, tuple[str, ...]] = {
    "provider": sc.GENAI_PROVIDER_KEYS,
    "request_model": sc.GENAI_REQUEST_MODEL_KEYS,
    "response_model": sc.GENAI_RESPONSE_MODEL_KEYS,
    "input": sc.GENAI_INPUT_TOKENS_KEYS,
    "input_modality": sc.GENAI_INPUT_MODALITY_TOKENS_KEYS,
    "output": sc.GENAI_OUTPUT_TOKENS_KEYS,
    "cache_read": sc.GENAI_CACHE_READ_TOKENS_KEYS,
    "cache_write": sc.GENAI_CACHE_WRITE_TOKENS_KEYS,
    "reasoning": sc.GENAI_REASONING_TOKENS_KEYS,
    "service_tier": sc.GENAI_SERVICE_TIER_KEYS,
    "streaming": sc.GENAI_STREAMING_KEYS,
    "ttfc_s": sc.GENAI_TIME_TO_FIRST_CHUNK_S_KEYS,
    "ttfc_ms": sc.GENAI_TIME_TO_FIRST_CHUNK_MS_KEYS,
    "foreign_cost": sc.GENAI_FOREIGN_COST_KEYS,
    "agent_name": sc.GENAI_AGENT_NAME_KEYS,
    "tool_name": sc.GENAI_TOOL_NAME_KEYS,
    "session": sc.GENAI_SESSION_KEYS,
}
_SINGLE = {
    sc.GENAI_OPERATION_NAME: "operation",
    sc.GENAI_OPENLLMETRY_REQUEST_TYPE: "llm_request_type",
    sc.GENAI_OPENINFERENCE_SPAN_KIND: "oi_kind",
    sc.GENAI_VERCEL_OPERATION_ID: "vercel_op",
    sc.GENAI_INVOCATION_PARAMETERS: "invocation_parameters",
    sc.GENAI_INPUT_VALUE: "input_value",
    sc.ERROR_TYPE: "error_type",
    sc.COST_AMOUNT: "our_cost",
}
#: key -> (concept, precedence rank).
_KEY_INDEX: dict[str, tuple[str, int]] = {
    key: (concept, rank) for concept, keys in _CONCEPTS.items() for rank, key in enumerate(keys)
}
for _k, _c in _SINGLE.items():
    _KEY_INDEX.setdefault(_k, (_c, 0))
_PYDANTIC_AGENT_KEYS = frozenset(sc.GENAI_PYDANTIC_AGENT_KEYS)
#: Pydantic AI's ``agent_name`` marks its agent-run span (and names the agent).
_PYDANTIC_AGENT_RANK = sc.GENAI_AGENT_NAME_KEYS.index("agent_name")
_CONTENT_KEYS = sc.GENAI_CONTENT_KEYS
_CONTENT_PREFIXES = sc.GENAI_CONTENT_KEY_PREFIXES
_CONTENT_EVENTS = sc.GENAI_CONTENT_EVENT_NAMES
#: Keys that on their own make a span a GenAI span (besides the concept keys above).
_MARKER_CONCEPTS = frozenset(
    {"provider", "request_model", "response_model", "input", "output", "operation",
     "llm_request_type", "oi_kind", "vercel_op"}
)

_PROVIDERS: dict[str, str] = {
    "openai": "openai", "anthropic": "anthropic",
    "aws.bedrock": "aws.bedrock", "aws": "aws.bedrock", "bedrock": "aws.bedrock",
    "aws_bedrock": "aws.bedrock", "amazon-bedrock": "aws.bedrock", "amazon_bedrock": "aws.bedrock",
    "azure.ai.openai": "azure.ai.openai", "az.ai.openai": "azure.ai.openai",
    "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "azure-openai": "azure.ai.openai", "azure.openai": "azure.ai.openai",
    "azure.ai.inference": "azure.ai.inference", "az.ai.inference": "azure.ai.inference",
    "gcp.vertex_ai": "gcp.vertex_ai", "vertex_ai": "gcp.vertex_ai", "vertexai": "gcp.vertex_ai",
    "google.vertex": "gcp.vertex_ai", "google": "gcp.vertex_ai", "vertex": "gcp.vertex_ai",
    "gcp.gemini": "gcp.gemini", "gemini": "gcp.gemini", "google.generative-ai": "gcp.gemini",
    "google_genai": "gcp.gemini", "google-genai": "gcp.gemini", "gcp.gen_ai": "gcp.gemini",
    "mistral_ai": "mistral_ai", "mistral": "mistral_ai", "mistralai": "mistral_ai",
    "cohere": "cohere", "groq": "groq", "deepseek": "deepseek",
    "x_ai": "x_ai", "xai": "x_ai", "together": "together_ai", "together_ai": "together_ai",
    "togetherai": "together_ai", "openrouter": "openrouter", "ollama": "ollama",
    "fireworks": "fireworks", "fireworks_ai": "fireworks", "perplexity": "perplexity",
    "ibm.watsonx.ai": "ibm.watsonx.ai", "watsonx": "ibm.watsonx.ai", "huggingface": "huggingface",
}
_ERROR_CLASS = re.compile(r"^<class '([^']+)'>$")
_MODEL_IN_JSON = re.compile(r'"model"\s*:\s*"([^"\\]{1,256})"')


#: Longest identifier copied from a span into derived data (metric attributes, log fields): a
#: longer model name, provider or error type is junk or an attack (30 spans with 1 MB model
#: names once took the sidecar to 3.9 GB), so it is cut with a marker.
MAX_DERIVED_CHARS = 256
TRUNCATED_MARK = "...[truncated]"
_CONTROL_ESCAPES = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)}


def bounded(value: str) -> str:
    """``value`` as derived data may carry it: at most `MAX_DERIVED_CHARS` characters (then
    `TRUNCATED_MARK`), control characters escaped as ``\\xNN``."""
    cut = len(value) > MAX_DERIVED_CHARS
    if cut:
        value = value[:MAX_DERIVED_CHARS]
    if not value.isprintable():
        value = value.translate(_CONTROL_ESCAPES)
        if len(value) > MAX_DERIVED_CHARS:
            value, cut = value[:MAX_DERIVED_CHARS], True
    return value + TRUNCATED_MARK if cut else value


def normalize_provider(value: str | None) -> str | None:
    """Map the provider spellings of every convention to the OTel ``gen_ai.provider.name``.

    Unknown values are returned lowercased (they still label metrics). ``ai.model.provider``
    values such as ``openai.chat`` are reduced to their vendor part.
    """
    if not value:
        return None
    v = value.strip().lower()
    hit = _PROVIDERS.get(v)
    if hit is not None:
        return hit
    head = v.split(".", 1)[0]
    return _PROVIDERS.get(head, v)


def _tokens(raw: Any) -> int | None:
    """A token count from an attribute value, or None when it is not a sane count."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        n = raw
    elif isinstance(raw, float):
        if not math.isfinite(raw) or raw != int(raw):
            return None
        n = int(raw)
    elif isinstance(raw, str):
        s = raw.strip()
        try:
            n = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                return None
            if not math.isfinite(f) or f != int(f):
                return None
            n = int(f)
    else:
        return None
    if n < 0 or n > MAX_TOKENS:
        return None
    return n


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        f = float(raw)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _truthy(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        s = raw.strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
    if isinstance(raw, int):
        return raw != 0
    return None



#: OpenLLMetry's llm.request.type -> operation.
_LLM_REQUEST_TYPES = {
    "chat": Operation.CHAT,
    "completion": Operation.TEXT_COMPLETION,
    "embedding": Operation.EMBEDDINGS,
    "embeddings": Operation.EMBEDDINGS,
}
#: OpenInference's openinference.span.kind -> operation (agents and chains sum their calls).
_OPENINFERENCE_KINDS = {
    "LLM": Operation.CHAT,
    "EMBEDDING": Operation.EMBEDDINGS,
    "TOOL": Operation.EXECUTE_TOOL,
    "AGENT": Operation.INVOKE_AGENT,
    "CHAIN": Operation.AGGREGATE,
}

def _operation(found: dict[str, Any], span_kind: int) -> Operation | None:
    """The normalized operation, or None when the span is not an LLM span at all."""
    vercel = found.get("vercel_op")
    if isinstance(vercel, str) and vercel.startswith("ai."):
        if vercel.endswith(".doEmbed"):
            return Operation.EMBEDDINGS
        if vercel.endswith((".doGenerate", ".doStream")):
            return Operation.CHAT
        if vercel == "ai.toolCall":
            return Operation.EXECUTE_TOOL
        return Operation.AGGREGATE
    op = found.get("operation")
    if isinstance(op, str) and op:
        op = op.strip().lower()
        if op in ("chat", "chat_completion", "chat.completions", "messages"):
            return Operation.CHAT
        if op in ("text_completion", "completion", "completions"):
            return Operation.TEXT_COMPLETION
        if op in ("generate_content", "generate"):
            return Operation.GENERATE_CONTENT
        if op in ("embeddings", "embedding", "embed"):
            return Operation.EMBEDDINGS
        if op == "execute_tool":
            return Operation.EXECUTE_TOOL
        if op in ("invoke_agent", "agent"):
            return Operation.INVOKE_AGENT
        if op in ("create_agent", "invoke_workflow"):
            return Operation.AGGREGATE
        return Operation.OTHER
    rt = found.get("llm_request_type")
    if isinstance(rt, str) and rt:
        return _LLM_REQUEST_TYPES.get(rt.strip().lower(), Operation.OTHER)
    kind = found.get("oi_kind")
    if isinstance(kind, str) and kind:
        return _OPENINFERENCE_KINDS.get(kind.strip().upper(), Operation.OTHER)
    if "agent" in found:
        return Operation.INVOKE_AGENT
    # No operation key: a span that names a model and reports usage is a model call.
    if found.get("request_model") is not None or found.get("response_model") is not None:
        return Operation.CHAT
    if "provider" in found or "input" in found or "output" in found:
        return Operation.OTHER
    return None


_TOKEN_CONCEPTS = frozenset({"input", "output", "cache_read", "cache_write", "reasoning"})
#: key -> (concept, rank, kind): kind 0 = token count, 1 = per-modality input, 2 = other value.
_DISPATCH: dict[str, tuple[str, int, int]] = {
    key: (c, r, 0 if c in _TOKEN_CONCEPTS else 1 if c == "input_modality" else 2)
    for key, (c, r) in _KEY_INDEX.items()
}
_I_EXCL_CACHE = int(TokenFlag.INPUT_EXCLUDED_CACHE)
_I_EXCL_REASONING = int(TokenFlag.OUTPUT_EXCLUDED_REASONING)
_I_INVALID = int(TokenFlag.INVALID_IGNORED)
_I_CONFLICT = int(TokenFlag.CONFLICTING_KEYS)
_I_CACHE_UNKNOWN = int(TokenFlag.CACHE_DETAIL_UNKNOWN)
_I_ESTIMATED = int(TokenFlag.MAY_BE_ESTIMATED)
_I_MODALITIES = int(TokenFlag.INPUT_FROM_MODALITIES)
#: int -> TokenFlag, filled lazily (IntFlag construction is slow on the hot path).
_FLAG_CACHE: dict[int, TokenFlag] = {0: TokenFlag.NONE}
_ERROR_CODE = trace_pb2.Status.STATUS_CODE_ERROR


def view(span: trace_pb2.Span, scope_name: str = "") -> LLMCall | None:
    """The normalized view of ``span``, or None when it is not a GenAI span.

    Args:
        span: the span (read only).
        scope_name: its instrumentation scope name (recognizes the Anthropic SDK's own span
            and OpenLIT, whose counts mean something different).

    Returns:
        An `LLMCall` (``duplicate`` is always False here; `batch_view` sets it), or None.
    """
    found: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    flags = 0
    content_keys: list[str] = []
    dispatch = _DISPATCH
    marker = False
    agent = False
    modality = None
    for kv in span.attributes:
        key = kv.key
        hit = dispatch.get(key)
        if hit is None:
            if key in _CONTENT_KEYS or key.startswith(_CONTENT_PREFIXES):
                content_keys.append(key)
            elif key in _PYDANTIC_AGENT_KEYS:
                agent = True
            continue
        concept, rank, kind = hit
        v = kv.value
        which = v.WhichOneof("value")
        if which is None or which == "array_value" or which == "kvlist_value" or (
            which == "bytes_value"
        ):
            continue
        value = getattr(v, which)
        if which == "string_value":
            if key in _CONTENT_KEYS:
                content_keys.append(key)
            if not value:
                continue
        if concept in _MARKER_CONCEPTS:
            marker = True
        if kind != 2:
            if which == "int_value" and 0 <= value <= MAX_TOKENS:
                n = value
            else:
                n = _tokens(value)
                if n is None:
                    flags |= _I_INVALID
                    continue
            if kind == 1:
                modality = n if modality is None else modality + n
                continue
            value = n
        prev = ranks.get(concept)
        if prev is None:
            found[concept] = value
            ranks[concept] = rank
        elif rank < prev:
            if found[concept] != value:
                flags |= _I_CONFLICT
            found[concept] = value
            ranks[concept] = rank
        elif found[concept] != value:
            flags |= _I_CONFLICT
    is_sdk = scope_name == sc.GENAI_SCOPE_ANTHROPIC_SDK
    if not marker and not is_sdk:
        return None
    if agent or ranks.get("agent_name") == _PYDANTIC_AGENT_RANK:
        found["agent"] = True
    operation = _operation(found, span.kind)
    if operation is None:
        if not is_sdk:
            return None
        operation = Operation.CHAT

    # Convention (diagnostics; also decides the meaning of some counts).
    if is_sdk:
        convention = Convention.ANTHROPIC_SDK
    elif scope_name.startswith(sc.GENAI_SCOPE_OPENLIT_PREFIX):
        convention = Convention.OPENLIT
    elif "vercel_op" in found:
        convention = Convention.VERCEL_AI
    elif "oi_kind" in found:
        convention = Convention.OPENINFERENCE
    elif "llm_request_type" in found:
        convention = Convention.OPENLLMETRY
    elif agent or "logfire" in scope_name or "pydantic" in scope_name:
        convention = Convention.PYDANTIC_AI
    else:
        convention = Convention.OTEL_GENAI

    raw_provider = found.get("provider")
    provider = normalize_provider(raw_provider if isinstance(raw_provider, str) else None)
    if provider is None and is_sdk:
        provider = "anthropic"

    request_model = found.get("request_model")
    request_model = request_model.strip() if isinstance(request_model, str) else None
    response_model = found.get("response_model")
    response_model = response_model.strip() if isinstance(response_model, str) else None
    if not request_model and not response_model:
        # OpenInference error spans: the model is only in the invocation parameters / request.
        for src in ("invocation_parameters", "input_value"):
            raw = found.get(src)
            if isinstance(raw, str):
                m = _MODEL_IN_JSON.search(raw, 0, 65536)
                if m:
                    request_model = m.group(1)
                    break

    inp = found.get("input")
    if inp is None and modality is not None:
        inp = modality
        flags |= _I_MODALITIES
    out = found.get("output")
    cr = found.get("cache_read")
    cw = found.get("cache_write")
    rs = found.get("reasoning")
    if inp is not None:
        if cr is None and cw is None:
            # openai-v2 and others record no cache detail at all: a discount may be missing.
            flags |= _I_CACHE_UNKNOWN
        else:
            cache = (cr or 0) + (cw or 0)
            if cache > inp or (
                convention is Convention.OPENLIT and provider == "anthropic" and cache > 0
            ):
                inp += cache
                flags |= _I_EXCL_CACHE
    if out is not None and rs is not None and rs > out:
        out += rs
        flags |= _I_EXCL_REASONING
    if convention is Convention.OPENLIT:
        if _truthy(found.get("streaming")) is not False:
            # OpenLIT estimates the tokens of streams that report no usage, unmarked.
            flags |= _I_ESTIMATED
        if provider == "anthropic" and not cr and not cw:
            # OpenLIT reports Anthropic cache counts as 0 when streaming.
            flags |= _I_CACHE_UNKNOWN

    tier = found.get("service_tier")
    tier = tier.strip().lower() if isinstance(tier, str) and tier.strip() else None

    error_type = found.get("error_type")
    if isinstance(error_type, str) and error_type:
        m = _ERROR_CLASS.match(error_type)
        error_type = m.group(1) if m else error_type
    elif span.status.code == _ERROR_CODE:
        error_type = "_OTHER"
    else:
        error_type = None

    streaming = _truthy(found["streaming"]) if "streaming" in found else None
    ttfc = None
    if "ttfc_s" in found:
        ttfc = _number(found["ttfc_s"])
    elif "ttfc_ms" in found:
        ms = _number(found["ttfc_ms"])
        ttfc = ms / 1000.0 if ms is not None else None
    if ttfc is not None and ttfc < 0:
        ttfc = None

    foreign = None
    if "foreign_cost" in found:
        amount = _number(found["foreign_cost"])
        if amount is not None and amount >= 0:
            foreign = (_CONCEPTS["foreign_cost"][ranks["foreign_cost"]], amount)

    content_events: tuple[int, ...] = ()
    events = span.events
    if events:
        content_events = tuple(i for i, ev in enumerate(events) if ev.name in _CONTENT_EVENTS)

    agent_name = _label(found.get("agent_name"))
    tool_name = _label(found.get("tool_name"))
    session_id = _label(found.get("session"))

    tf = _FLAG_CACHE.get(flags)
    if tf is None:
        tf = _FLAG_CACHE[flags] = TokenFlag(flags)
    return LLMCall(
        convention, provider and bounded(provider), operation,
        bounded(request_model) if request_model else None,
        bounded(response_model) if response_model else None,
        inp, out, cr, cw, rs, tf, tier and bounded(tier), error_type and bounded(error_type),
        False,
        sc.COST_AMOUNT if "our_cost" in found else None, foreign, streaming, ttfc,
        tuple(content_keys), content_events, agent_name, tool_name, session_id,
    )


def _label(raw: Any) -> str | None:
    """A name or id from a scalar attribute, as derived data may carry it."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    return bounded(text) if text else None


# --------------------------------------------------------------------------------------------
# Batch level
# --------------------------------------------------------------------------------------------
class Entry(NamedTuple):
    """One GenAI span of a batch with its context."""

    resource: Any  # opentelemetry.proto.resource.v1.Resource
    scope: Any  # opentelemetry.proto.common.v1.InstrumentationScope
    span: trace_pb2.Span
    call: LLMCall


_SCRATCH_KEY = ("processors.genai", "batch_view")


def batch_view(request: Any, scratch: dict[Any, Any] | None = None,
               scopes: list[tuple[Any, Any]] | None = None) -> list[Entry]:
    """Every GenAI span of an OTLP traces request, normalized; computed once per request.

    Memoized in ``scratch`` (pass ``ctx.scratch``) against ``request``, so the cost, metrics
    and logs processors of one chain share one computation. A processor that removes or
    replaces spans must call `invalidate` afterwards.

    Duplicate call rule (CONVENTIONS.md, "two spans for one call"): when the Anthropic SDK's own
    span (scope ``com.anthropic.sdk.python``) is the child of another GenAI model-call span in
    the same request, the SDK span is kept (its counts are the SDK's own, cache keys explicit)
    and the PARENT gets ``duplicate=True``: one call is counted and priced once. The parent
    keeps its content; only its usage is not counted again.

    ``scopes`` (pass ``ctx.scopes``): the (resource, scope) containers to look at, when the
    pipeline's prefilter kept only some; None: all.
    """
    if scratch is not None:
        memo = scratch.get(_SCRATCH_KEY)
        if memo is not None and memo[0] is request:
            return memo[1]
    entries: list[Entry] = []
    sdk_parents: set[tuple[bytes, bytes]] = set()
    pairs = scopes if scopes is not None else (
        (rs, ss) for rs in request.resource_spans for ss in rs.scope_spans)
    for rs, ss in pairs:
        resource = rs.resource
        scope_name = ss.scope.name
        is_sdk = scope_name == sc.GENAI_SCOPE_ANTHROPIC_SDK
        for span in ss.spans:
            call = view(span, scope_name)
            if call is None:
                continue
            if is_sdk and span.parent_span_id:
                sdk_parents.add((span.trace_id, span.parent_span_id))
            entries.append(Entry(resource, ss.scope, span, call))
    if sdk_parents:
        for i, e in enumerate(entries):
            if (
                e.call.convention is not Convention.ANTHROPIC_SDK
                and e.call.operation in MODEL_CALL_OPERATIONS
                and (e.span.trace_id, e.span.span_id) in sdk_parents
            ):
                entries[i] = Entry(e.resource, e.scope, e.span, _replace_duplicate(e.call))
    if scratch is not None:
        scratch[_SCRATCH_KEY] = (request, entries)
    return entries


def _replace_duplicate(call: LLMCall) -> LLMCall:
    return call._replace(duplicate=True)


def invalidate(scratch: dict[Any, Any]) -> None:
    """Forget the memoized `batch_view` (after spans were removed or replaced)."""
    scratch.pop(_SCRATCH_KEY, None)


def string_list(value: Any) -> list[str]:
    """An AnyValue holding a string or an array of strings (JSON-encoded arrays too) as a list.

    For values instrumentations send either way, e.g. ``gen_ai.response.finish_reasons``.
    """
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [v.string_value for v in value.array_value.values if v.HasField("string_value")]
    if kind == "string_value":
        text = value.string_value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                return [text]
            if isinstance(parsed, list):
                return [str(p) for p in parsed if isinstance(p, str | int | float)]
            return [text]
        return [text] if text else []
    return []


_COUNTED_KEY = ("processors.genai", "counted")


def publish_counted(scratch: dict[Any, Any], entries: list[Entry]) -> None:
    """Hand the later stages of a chain the model calls to count in this run (the
    ``genai_calls`` processor: this request's calls that are not held back, plus the held
    ones released now)."""
    scratch[_COUNTED_KEY] = entries


def counted(request: Any, ctx: Any) -> list[Entry]:
    """The model calls a deriving stage (metrics, inference logs) counts in this run: what the
    ``genai_calls`` processor settled when it ran earlier in the chain, else every
    `LLMCall.is_model_call` of the request's `batch_view`."""
    settled = ctx.scratch.get(_COUNTED_KEY)
    if settled is not None:
        return settled
    return [e for e in batch_view(request, ctx.scratch, ctx.scopes) if e.call.is_model_call]


class RunTotal(NamedTuple):
    """A run (one trace with model calls) once it went idle: what it cost and how many calls."""

    service: str | None
    #: The root-most agent of the run (earliest-starting ``invoke_agent`` span), if any.
    agent: str | None
    cost: float
    calls: int


class Runaway(NamedTuple):
    """A run, or a session, that crossed a runaway threshold (``cost`` or ``calls``) while
    still going."""

    service: str | None
    agent: str | None
    threshold: str
    #: ``run`` (one trace) or ``session`` (all runs of one conversation / session).
    scope: str = "run"


_RUNS_KEY = ("processors.genai", "runs")


def publish_runs(scratch: dict[Any, Any], totals: list[RunTotal],
                 runaways: list[Runaway]) -> None:
    """Hand the later stages the runs rolled up, and the runaways found, in this run."""
    scratch[_RUNS_KEY] = (totals, runaways)


def runs(ctx: Any) -> tuple[list[RunTotal], list[Runaway]]:
    """What `publish_runs` handed over in this run of the chain (nothing if no one did)."""
    return ctx.scratch.get(_RUNS_KEY, ((), ()))


class SessionTotal(NamedTuple):
    """A session's cost (USD) and model calls so far, as of one counted call."""

    session_id: str
    cost: float
    calls: int


_SESSIONS_KEY = ("processors.genai", "sessions")


def publish_sessions(scratch: dict[Any, Any], totals: dict[int, SessionTotal]) -> None:
    """Hand the later stages each counted call's session totals, keyed by ``id(span)``."""
    scratch[_SESSIONS_KEY] = totals


def session_of(ctx: Any, span: Any) -> SessionTotal | None:
    """The session totals `publish_sessions` handed over for this counted span, if any."""
    totals = ctx.scratch.get(_SESSIONS_KEY)
    return totals.get(id(span)) if totals else None
