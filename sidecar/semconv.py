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
OWN_PROCESSOR_DURATION = f"{OWN_PREFIX}_processor_duration_seconds"
OWN_PROCESSOR_ITEMS = f"{OWN_PREFIX}_processor_items"
OWN_EXPORT_ATTEMPTS = f"{OWN_PREFIX}_export_attempts"
OWN_DERIVED_ITEMS = f"{OWN_PREFIX}_derived_items"
OWN_BUILD_INFO = f"{OWN_PREFIX}_build"
