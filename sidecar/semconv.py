"""Every attribute key and metric name genai-sidecar reads or writes.

This module is the one place names live (shared/DESIGN.md section 3). Processors import the
constants; a key spelled out anywhere else is a bug. Sections:

* Keys we write on priced spans (cost) and on processed content (redaction).
* Metrics derived from GenAI spans (OTLP, GenAI semantic conventions v1.41 + PR #443).
* The sidecar's own Prometheus metrics (its health, not the data's).

Keys that processors only *read* (the many conventions of shared/CONVENTIONS.md) are grouped
below the written ones, by concept.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# Written: cost (aligned with semantic-conventions-genai PR #443)
# --------------------------------------------------------------------------------------------
COST_AMOUNT = "gen_ai.usage.cost.amount"
COST_CURRENCY = "gen_ai.usage.cost.currency"
COST_SOURCE = "gen_ai.usage.cost.source"
COST_INPUT = "gen_ai.usage.cost.input"
COST_OUTPUT = "gen_ai.usage.cost.output"
COST_CACHE_READ = "gen_ai.usage.cost.cache_read"
COST_CACHE_WRITE = "gen_ai.usage.cost.cache_write"
COST_STATUS = "gen_ai.usage.cost.status"
COST_REASON = "gen_ai.usage.cost.reason"
COST_PRICING_REF = "gen_ai.usage.cost.pricing.ref"
COST_PRICING_VERSION = "gen_ai.usage.cost.pricing.version"

# Values and extra keys of the cost processor (processors/cost).
COST_STATUS_PRICED = "priced"
COST_STATUS_UNPRICED = "unpriced"
COST_STATUS_NO_USAGE = "no_usage"
COST_STATUS_PREEXISTING = "preexisting"
#: The call is priced on another span (Anthropic SDK span under an instrumentation span).
COST_STATUS_DUPLICATE = "duplicate"
COST_SOURCE_LOCAL = "local"
COST_REASON_NO_MODEL = "no_model"
COST_REASON_UNKNOWN_MODEL = "unknown_model"
COST_REASON_FINE_TUNED = "fine_tuned_model"
COST_REASON_UNRESOLVABLE_ARN = "unresolvable_model_arn"
COST_REASON_NOT_PER_TOKEN = "not_priced_per_token"
COST_REASON_INCOMPLETE_USAGE = "incomplete_usage"
COST_REASON_CATALOG_ERROR = "catalog_error"
#: String array on priced spans: what limits the answer (values below).
COST_CAVEATS = "gen_ai.usage.cost.caveats"
COST_CAVEAT_CACHE_DETAIL_MISSING = "cache_detail_missing"
COST_CAVEAT_INPUT_EXCLUDED_CACHE = "input_excluded_cache"
COST_CAVEAT_OUTPUT_EXCLUDED_REASONING = "output_excluded_reasoning"
COST_CAVEAT_INVALID_COUNTS = "invalid_counts_ignored"
COST_CAVEAT_MAY_BE_ESTIMATED = "tokens_may_be_estimated"
COST_CAVEAT_MODALITY_RATES = "modality_rates_not_applied"

# Optional compatibility keys, off by default.
COMPAT_OPENLIT_COST = "gen_ai.usage.cost"
COMPAT_OPENINFERENCE_COST_TOTAL = "llm.cost.total"
COMPAT_OPENINFERENCE_COST_PROMPT = "llm.cost.prompt"
COMPAT_OPENINFERENCE_COST_COMPLETION = "llm.cost.completion"

# --------------------------------------------------------------------------------------------
# Written: redaction summary
# --------------------------------------------------------------------------------------------
REDACTION_COUNT = "redaction.pii.count"
REDACTION_TYPES = "redaction.pii.types"
REDACTION_STATUS = "redaction.pii.status"
REDACTION_FAILED_TEXT = "[REDACTION_FAILED]"
#: Content withheld because the workers could not analyze it in time (overload.policy withhold).
REDACTION_DEFERRED_TEXT = "[REDACTION_DEFERRED]"
#: What a value becomes under the ``drop`` operator.
REDACTION_DROPPED_TEXT = "[REDACTED]"
#: The operator's label of the pseudonym key, on spans / log records carrying pseudonyms.
REDACTION_KEY_ID = "redaction.pii.key_id"
#: Attributes of content events / log records that are never content (metadata kept as is).
REDACTION_METADATA_KEYS = frozenset({
    "event.name", "gen_ai.system", "gen_ai.provider.name", "gen_ai.operation.name",
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.id",
    "gen_ai.response.finish_reasons", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "role", "index", "finish_reason", "id", "type", "name",
})
#: The redaction processor's own Prometheus counters (health, never content).
OWN_REDACTION_VALUES = "genai_sidecar_redaction_values"
OWN_REDACTION_FAILURES = "genai_sidecar_redaction_failures"
OWN_REDACTION_DEFERRED = "genai_sidecar_redaction_deferred"
OWN_REDACTION_CACHE = "genai_sidecar_redaction_cache_lookups"
OWN_REDACTION_WORKER_RESTARTS = "genai_sidecar_redaction_worker_restarts"

# --------------------------------------------------------------------------------------------
# Derived GenAI metrics (OTLP)
# --------------------------------------------------------------------------------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_OPERATION_COST = "gen_ai.client.operation.cost"

# --------------------------------------------------------------------------------------------
# Read: general OpenTelemetry keys
# --------------------------------------------------------------------------------------------
SERVICE_NAME = "service.name"
SERVICE_INSTANCE_ID = "service.instance.id"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"

# --------------------------------------------------------------------------------------------
# The sidecar's own metrics (Prometheus exposition names, without the _total suffix that
# prometheus-client appends to counters).
# --------------------------------------------------------------------------------------------
OWN_PREFIX = "genai_sidecar"
OWN_RECEIVED_ITEMS = f"{OWN_PREFIX}_received_items"
OWN_EXPORTED_ITEMS = f"{OWN_PREFIX}_exported_items"
OWN_FAILED_ITEMS = f"{OWN_PREFIX}_failed_items"
OWN_REQUESTS = f"{OWN_PREFIX}_requests"
OWN_REQUEST_DURATION = f"{OWN_PREFIX}_request_duration_seconds"
OWN_IN_FLIGHT = f"{OWN_PREFIX}_in_flight_requests"
OWN_REFUSED_BYTES = f"{OWN_PREFIX}_refused_request_bytes"
OWN_PROCESSOR_DURATION = f"{OWN_PREFIX}_processor_duration_seconds"
OWN_PROCESSOR_ITEMS = f"{OWN_PREFIX}_processor_items"
OWN_EXPORT_ATTEMPTS = f"{OWN_PREFIX}_export_attempts"
OWN_DERIVED_ITEMS = f"{OWN_PREFIX}_derived_items"
OWN_BUILD_INFO = f"{OWN_PREFIX}_build"
# Cost processor (processors/cost).
OWN_COST_SPANS = f"{OWN_PREFIX}_cost_spans"
OWN_COST_UNPRICED = f"{OWN_PREFIX}_cost_unpriced_spans"
OWN_COST_OVERRIDE_RELOADS = f"{OWN_PREFIX}_cost_override_reloads"
OWN_COST_RELOAD_OK = "ok"
OWN_COST_RELOAD_FAILED = "failed"
OWN_CALLS_PAIRING = f"{OWN_PREFIX}_calls_pairing"

# --------------------------------------------------------------------------------------------
# Read: GenAI span conventions (processors/genai; shared/CONVENTIONS.md "Where each concept
# lives"). Tuples are in precedence order: the first key present wins, later keys holding the
# same concept are never added to it.
# --------------------------------------------------------------------------------------------
GENAI_PROVIDER_NAME = "gen_ai.provider.name"
GENAI_SYSTEM = "gen_ai.system"
GENAI_OPERATION_NAME = "gen_ai.operation.name"
GENAI_REQUEST_MODEL = "gen_ai.request.model"
GENAI_RESPONSE_MODEL = "gen_ai.response.model"
GENAI_PROVIDER_KEYS = (
    GENAI_PROVIDER_NAME, GENAI_SYSTEM, "gen_ai.request.provider", "llm.provider", "llm.system",
    "ai.model.provider",
)
GENAI_REQUEST_MODEL_KEYS = (
    GENAI_REQUEST_MODEL, "llm.request.model_name", "llm.model_name", "ai.model.id",
    "embedding.model_name", "langfuse.observation.model.name",
)
GENAI_RESPONSE_MODEL_KEYS = (GENAI_RESPONSE_MODEL, "llm.response.model_name", "ai.response.model")
GENAI_INVOCATION_PARAMETERS = "llm.invocation_parameters"
GENAI_INPUT_VALUE = "input.value"
GENAI_INPUT_TOKENS_KEYS = (
    "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens",
    "llm.token_count.prompt", "ai.usage.inputTokens", "ai.usage.promptTokens",
)
GENAI_INPUT_MODALITY_TOKENS_KEYS = (
    "gen_ai.usage.text.input_tokens", "gen_ai.usage.image.input_tokens",
    "gen_ai.usage.audio.input_tokens",
)
GENAI_OUTPUT_TOKENS_KEYS = (
    "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens",
    "llm.token_count.completion", "ai.usage.outputTokens", "ai.usage.completionTokens",
)
GENAI_CACHE_READ_TOKENS_KEYS = (
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.prompt_tokens_details.cached_tokens", "gen_ai.usage.details.cache_read_tokens",
    "llm.token_count.prompt_details.cache_read", "llm.token_count.prompt_details.cache_input",
    "ai.usage.cachedInputTokens", "ai.usage.inputTokenDetails.cacheReadTokens",
    "gen_ai.usage.input_tokens.cached",
)
GENAI_CACHE_WRITE_TOKENS_KEYS = (
    "gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.prompt_tokens_details.cache_creation_tokens",
    "gen_ai.usage.details.cache_write_tokens", "llm.token_count.prompt_details.cache_write",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
)
GENAI_REASONING_TOKENS_KEYS = (
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
    "llm.usage.reasoning_tokens", "gen_ai.usage.completion_tokens_details.reasoning_tokens",
    "llm.token_count.completion_details.reasoning", "ai.usage.reasoningTokens",
    "ai.usage.outputTokenDetails.reasoningTokens", "gen_ai.usage.output_tokens.reasoning",
)
GENAI_SERVICE_TIER_KEYS = (
    "openai.response.service_tier", "gen_ai.openai.response.service_tier",
    "openai.request.service_tier", "gen_ai.openai.request.service_tier",
    "gen_ai.response.service_tier", "gen_ai.request.service_tier",
)
GENAI_STREAMING_KEYS = ("gen_ai.request.stream", "gen_ai.request.is_stream", "llm.is_streaming")
#: Seconds to the first chunk of a stream.
GENAI_TIME_TO_FIRST_CHUNK_S_KEYS = (
    "gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token",
)
#: Milliseconds to the first chunk (Vercel AI SDK).
GENAI_TIME_TO_FIRST_CHUNK_MS_KEYS = ("ai.response.msToFirstChunk",)
GENAI_OPENLLMETRY_REQUEST_TYPE = "llm.request.type"
GENAI_OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
GENAI_VERCEL_OPERATION_ID = "ai.operationId"
#: Markers of Pydantic AI agent-run spans (their usage is the sum of the run's model calls).
GENAI_PYDANTIC_AGENT_KEYS = (
    "agent_name", "pydantic_ai.all_messages", "all_messages_events", "final_result",
)
#: Agent, tool and session identity (agent / tool telemetry, per-run and per-session roll-ups).
GENAI_AGENT_NAME = "gen_ai.agent.name"
GENAI_TOOL_NAME = "gen_ai.tool.name"
GENAI_CONVERSATION_ID = "gen_ai.conversation.id"
GENAI_AGENT_NAME_KEYS = (GENAI_AGENT_NAME, "agent.name", "agent_name")
GENAI_TOOL_NAME_KEYS = (GENAI_TOOL_NAME, "tool.name", "ai.toolCall.name")
GENAI_SESSION_KEYS = (GENAI_CONVERSATION_ID, "session.id", "ai.telemetry.metadata.sessionId")
#: Instrumentation scopes with a known shape.
GENAI_SCOPE_ANTHROPIC_SDK = "com.anthropic.sdk.python"
GENAI_SCOPE_OPENLIT_PREFIX = "openlit"
#: Costs other tools write (read only; ours are the COST_* keys above).
GENAI_FOREIGN_COST_KEYS = (
    COMPAT_OPENLIT_COST, COMPAT_OPENINFERENCE_COST_TOTAL, "operation.cost",
    "gen_ai.cost.total_cost", "gen_ai.usage.total_cost",
)
#: Attribute keys holding prompt / completion / system / tool content (exact keys).
GENAI_CONTENT_KEYS = frozenset({
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.definitions", "gen_ai.prompt", "gen_ai.completion", "input.value",
    "output.value", "ai.prompt", "ai.prompt.messages", "ai.response.text", "ai.response.object",
    "ai.response.toolCalls", "ai.response.reasoning", "ai.toolCall.args", "ai.toolCall.result",
    "traceloop.entity.input", "traceloop.entity.output", "events", "all_messages_events",
    "pydantic_ai.all_messages", "final_result", "request_data", "response_data",
    "langfuse.observation.input", "langfuse.observation.output", "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result", "llm.prompt_template.template",
    "llm.prompt_template.variables", "embedding.text",
    # Google ADK, MLflow, Laminar, Haystack.
    "gcp.vertex.agent.llm_request", "gcp.vertex.agent.llm_response",
    "gcp.vertex.agent.tool_call_args", "gcp.vertex.agent.tool_response",
    "mlflow.spanInputs", "mlflow.spanOutputs", "lmnr.span.input", "lmnr.span.output",
    "haystack.component.input", "haystack.component.output",
})
#: The span event OTel records an exception with; on a span with content its message and
#: stack trace are content too (they quote the prompt, the tool's input, the user's data).
EVENT_EXCEPTION = "exception"
#: Prefixes of indexed content keys (``gen_ai.prompt.0.content``, ``llm.input_messages.1...``).
GENAI_CONTENT_KEY_PREFIXES = (
    "gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
    "llm.prompts.", "llm.choices.", "embedding.embeddings.",
)
#: Span event / log record names whose attributes or body carry content.
GENAI_CONTENT_EVENT_NAMES = frozenset({
    "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message",
    "gen_ai.tool.message", "gen_ai.choice", "gen_ai.content.prompt", "gen_ai.content.completion",
    "gen_ai.client.inference.operation.details",
})

#: Bedrock model invocation logs (CloudWatch Logs / S3 delivery): the JSON document's marker.
BEDROCK_INVOCATION_LOG_SCHEMA = "ModelInvocationLog"

# --------------------------------------------------------------------------------------------
# What "GenAI telemetry" is: the one definition the shipped collector configs route by (their
# filter/genai and filter/not_genai conditions are rendered from it, processors/genai/routing.py,
# and a test compares them) and the sidecar classifies log records by. A span or log record is
# GenAI when one of its attribute keys starts with one of these prefixes or is one of the
# exact keys, or (log records) when its event name is a GenAI content event or its body is a
# Bedrock invocation log. Every key the processors read (usage, model, provider, content) is
# covered; a test checks that too. Resource attributes are not looked at.
# --------------------------------------------------------------------------------------------
GENAI_ROUTE_KEY_PREFIXES = (
    "gen_ai.", "llm.", "ai.", "openinference.", "traceloop.", "embedding.", "langfuse.",
    "gcp.vertex.agent.", "mlflow.span", "lmnr.", "haystack.", "pydantic_ai.",
)
#: Exact keys outside those prefixes (OpenInference's input / output, Pydantic AI / Logfire).
GENAI_ROUTE_KEYS = frozenset({
    "input.value", "output.value", "events", "all_messages_events", "final_result",
    "request_data", "response_data", "agent_name", "operation.cost",
})

# --------------------------------------------------------------------------------------------
# Derived metrics and inference logs (processors/metrics, processors/logs); the Prometheus
# series they become after the collector's prometheus exporter translates them (checked by
# tests/integration/test_metric_names.py), as used by collector-config/alerts and dashboards.
# --------------------------------------------------------------------------------------------
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
#: Counter of LLM calls by outcome (``error.type`` absent on success).
METRIC_REQUESTS = "gen_ai.client.requests"
#: Counter of LLM spans we could not price, by ``gen_ai.usage.cost.reason``.
METRIC_UNPRICED = "gen_ai.client.operation.unpriced"
#: Counter of spend by cost part (``gen_ai.cost.type``: input, output, cache_read, cache_write).
METRIC_COST_USAGE = "gen_ai.client.cost.usage"
#: Counter of responses by normalized finish reason.
METRIC_FINISH_REASONS = "gen_ai.client.response.finish_reasons"
#: Counter of spans whose content went through redaction, by ``redaction.pii.status``.
METRIC_REDACTION_SPANS = "redaction.pii.spans"
#: Counter of spans in which an entity type was found, by ``redaction.pii.type``.
METRIC_REDACTION_ENTITIES = "redaction.pii.entities"
#: Per-run roll-ups (processors/calls): one observation per trace with model calls, once idle.
METRIC_TRACE_COST = "gen_ai.client.trace.cost"
METRIC_TRACE_CALLS = "gen_ai.client.trace.calls"
#: Counter of prompt-cache tokens (subsets of input), by ``gen_ai.token.type`` cache_read /
#: cache_write: the cache share of input tokens, by model.
METRIC_TOKEN_CACHE = "gen_ai.client.token.cache"
#: Counter of model calls with a large input and a small output (genai_metrics low_yield_*).
METRIC_LOW_YIELD_CALLS = "gen_ai.client.low_yield.calls"
#: Counter of runs (traces) that crossed a runaway threshold, by ``gen_ai.runaway.threshold``.
METRIC_RUNAWAY_RUNS = "gen_ai.client.runaway.runs"
GENAI_RUNAWAY_THRESHOLD = "gen_ai.runaway.threshold"
#: ``run`` (one trace) or ``session`` (all runs of one conversation): what crossed the limit.
GENAI_RUNAWAY_SCOPE = "gen_ai.runaway.scope"
RUNAWAY_SCOPE_RUN = "run"
RUNAWAY_SCOPE_SESSION = "session"
#: Gauge of the configured spend budgets (genai_metrics ``budgets``), USD: one series per
#: budget and period, labelled with ``genai.budget.period`` and the budget's dimension (its
#: own attribute name, e.g. ``team``), so that PromQL joins it to the spend on that label.
METRIC_BUDGET = "gen_ai.client.budget"
GENAI_BUDGET_PERIOD = "genai.budget.period"
BUDGET_PERIOD_DAILY = "daily"
BUDGET_PERIOD_MONTHLY = "monthly"
UNIT_CALL = "{call}"
UNIT_RUN = "{run}"
#: The log record emitted when a run crosses a runaway threshold, and its attributes.
EVENT_RUNAWAY = "gen_ai.runaway"
LOG_RUN_COST = "gen_ai.run.cost"
LOG_RUN_CALLS = "gen_ai.run.calls"
LOG_RUNAWAY_LIMIT = "gen_ai.runaway.limit"
#: On an inference record: the session's cost (USD) and model calls so far, this call included.
LOG_SESSION_COST = "gen_ai.session.cost"
LOG_SESSION_CALLS = "gen_ai.session.calls"

UNIT_TOKEN = "{token}"
UNIT_SECONDS = "s"
UNIT_USD = "USD"
UNIT_REQUEST = "{request}"
UNIT_SPAN = "{span}"
UNIT_RESPONSE = "{response}"

#: Datapoint attributes of the derived metrics.
GENAI_TOKEN_TYPE = "gen_ai.token.type"
GENAI_COST_TYPE = "gen_ai.cost.type"
GENAI_FINISH_REASON = "gen_ai.response.finish_reason"
REDACTION_TYPE = "redaction.pii.type"

#: Log records derived per LLM call.
EVENT_INFERENCE = "gen_ai.inference"
LOG_DURATION = "gen_ai.client.operation.duration"
LOG_FINISH_REASONS = "gen_ai.response.finish_reasons"
LOG_INPUT_TOKENS = "gen_ai.usage.input_tokens"
LOG_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
LOG_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
LOG_CACHE_WRITE_TOKENS = "gen_ai.usage.cache_write.input_tokens"
LOG_REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
LOG_PROMPT_TEMPLATE = "gen_ai.prompt.template.name"
LOG_PROMPT_TEMPLATE_VERSION = "gen_ai.prompt.template.version"
LOG_PROMPT_PREVIEW = "gen_ai.prompt.preview"
LOG_RESPONSE_PREVIEW = "gen_ai.response.preview"
#: Where prompt templates are found on spans (read), first present wins.
PROMPT_TEMPLATE_KEYS = (
    "gen_ai.prompt.template.name", "traceloop.prompt.key", "llm.prompt_template.name",
    "langfuse.observation.prompt.name",
)
PROMPT_TEMPLATE_VERSION_KEYS = (
    "gen_ai.prompt.template.version", "traceloop.prompt.version", "llm.prompt_template.version",
    "langfuse.observation.prompt.version",
)

# Prometheus series (collector prometheus exporter, default translation: units in braces
# dropped, ``s`` -> ``seconds``, other units appended verbatim, counters get ``_total``).
PROM_TOKEN_USAGE = "gen_ai_client_token_usage"
PROM_OPERATION_DURATION = "gen_ai_client_operation_duration_seconds"
PROM_OPERATION_COST = "gen_ai_client_operation_cost_USD"
PROM_TIME_TO_FIRST_CHUNK = "gen_ai_client_operation_time_to_first_chunk_seconds"
PROM_REQUESTS = "gen_ai_client_requests_total"
PROM_UNPRICED = "gen_ai_client_operation_unpriced_total"
PROM_COST_USAGE = "gen_ai_client_cost_usage_USD_total"
PROM_FINISH_REASONS = "gen_ai_client_response_finish_reasons_total"
PROM_REDACTION_SPANS = "redaction_pii_spans_total"
PROM_REDACTION_ENTITIES = "redaction_pii_entities_total"
PROM_TRACE_COST = "gen_ai_client_trace_cost_USD"
PROM_TRACE_CALLS = "gen_ai_client_trace_calls"
PROM_RUNAWAY_RUNS = "gen_ai_client_runaway_runs_total"
PROM_TOKEN_CACHE = "gen_ai_client_token_cache_total"
PROM_LOW_YIELD_CALLS = "gen_ai_client_low_yield_calls_total"
#: The budgets gauge (a gauge gets its unit appended, no ``_total``).
PROM_BUDGET = "gen_ai_client_budget_USD"
#: Recording rules holding the global budgets the alert rules compare with (USD).
PROM_BUDGET_DAILY = "genai:budget_daily_usd"
PROM_BUDGET_MONTHLY = "genai:budget_monthly_usd"
#: The redaction processor's own failure counter, on the sidecar's /metrics (not derived): it
#: also covers log records, which the derived redaction.pii.spans does not see.
PROM_OWN_REDACTION_FAILURES = "genai_sidecar_redaction_failures_total"
#: Texts withheld as [REDACTION_DEFERRED] (overload), on the sidecar's /metrics.
PROM_OWN_REDACTION_DEFERRED = f"{OWN_REDACTION_DEFERRED}_total"
#: Where finish reasons are found on spans (read), first present wins; string or string array.
FINISH_REASONS_KEYS = (
    "gen_ai.response.finish_reasons", "ai.response.finishReason",
    "gen_ai.completion.0.finish_reason", "llm.response.finish_reason",
)
#: ``service.name`` of the derived metrics' resource (Prometheus ``job``).
DERIVED_SERVICE_NAME = "genai-sidecar"
#: Instrumentation scope of the derived metrics and log records.
DERIVED_SCOPE = "genai-sidecar"
#: processors/metrics' own counters: attribution values folded into the overflow value, by
#: dimension; periodic exports of the derived metrics, by outcome.
OWN_METRICS_OVERFLOW = "genai_sidecar_metrics_attribution_overflow"
OWN_METRICS_EXPORTS = "genai_sidecar_metrics_exports"
#: Where an inference log's prompt / response preview is taken from (first present wins); only
#: from spans the redaction processor passed (``redaction.pii.status`` clean or redacted).
PREVIEW_PROMPT_KEYS = (
    "gen_ai.input.messages", "gen_ai.prompt", "gen_ai.prompt.0.content", "ai.prompt.messages",
    "ai.prompt", "llm.input_messages.0.message.content", "input.value",
)
PREVIEW_RESPONSE_KEYS = (
    "gen_ai.output.messages", "gen_ai.completion", "gen_ai.completion.0.content",
    "ai.response.text", "llm.output_messages.0.message.content", "output.value",
)
LOG_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
