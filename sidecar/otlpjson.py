"""OTLP/JSON <-> protobuf, as the OTLP specification encodes it.

OTLP/JSON is the protobuf JSON mapping with two exceptions that `google.protobuf.json_format`
does not know: trace and span ids are hex strings (not base64), and enums are integers. Used by
golden test files, the CLI and the end-to-end tests; never on the hot path.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format

from sidecar.component import REQUEST_TYPES, Signal

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def _walk(node: Any, convert) -> Any:
    if isinstance(node, dict):
        return {k: (convert(v) if k in _ID_KEYS and isinstance(v, str) else _walk(v, convert))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, convert) for v in node]
    return node


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_b64(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def to_dict(message: Any) -> dict[str, Any]:
    """A protobuf OTLP message as an OTLP/JSON-shaped dict (hex ids, integer enums)."""
    data = json_format.MessageToDict(message, use_integers_for_enums=True)
    return _walk(data, _b64_to_hex)


def dumps(message: Any, indent: int | None = 2) -> str:
    """A protobuf OTLP message as OTLP/JSON text (keys sorted, for stable golden files)."""
    return json.dumps(to_dict(message), indent=indent, sort_keys=True, ensure_ascii=False) + "\n"


def from_dict(signal: Signal, data: dict[str, Any]) -> Any:
    """An OTLP/JSON dict as the export request message of ``signal``."""
    message = REQUEST_TYPES[signal]()
    json_format.ParseDict(_walk(data, _hex_to_b64), message)
    return message


def loads(signal: Signal, text: str) -> Any:
    """OTLP/JSON text as the export request message of ``signal``."""
    return from_dict(signal, json.loads(text))
