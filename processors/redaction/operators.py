"""Apply operators to findings: replace, mask, redact, keyed pseudonym, drop.

Runs in the main process on findings returned by the workers (cheap string work), so the
pseudonym key never leaves the main process.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from processors.redaction.config import OperatorConfig, OperatorType, RedactionConfig
from processors.redaction.engine import Finding
from sidecar import semconv


class KeyError_(ValueError):
    """The pseudonym key cannot be read (start-up must fail)."""


@dataclass(frozen=True, slots=True)
class Redacted:
    """The outcome for one text: what replaces it and what was found (no raw content)."""

    text: str
    count: int
    types: frozenset[str]
    failed: bool = False
    pseudonymized: bool = False
    #: Not analyzed in time (overload); withheld.
    deferred: bool = False


FAILED = Redacted(semconv.REDACTION_FAILED_TEXT, 0, frozenset(), failed=True)
DEFERRED = Redacted(semconv.REDACTION_DEFERRED_TEXT, 0, frozenset(), deferred=True)
#: Shortest pseudonym key accepted: 256 bits, so that no dictionary recovers it.
MIN_KEY_BYTES = 32
#: Hex digits of a pseudonym: 64 bits, so that distinct values do not collide (an 8-digit
#: token collides from about 77,000 values and merges people in analytics).
PSEUDONYM_HEX = 16


def load_key(config: RedactionConfig,
             env: dict[str, str] | None = None) -> tuple[bytes, str] | None:
    """The pseudonym key and its id, or None when no key is configured.

    Raises:
        KeyError_: the variable is unset / empty, or the file is unreadable / empty.
    """
    p = config.pseudonym
    environ = os.environ if env is None else env
    if p.key_env:
        value = environ.get(p.key_env, "")
        if not value:
            raise KeyError_(f"processors.redaction.pseudonym.key_env: environment variable "
                            f"{p.key_env} is not set or empty")
        key = value.encode()
    elif p.key_file:
        try:
            key = Path(p.key_file).read_bytes().strip()
        except OSError as exc:
            raise KeyError_(f"processors.redaction.pseudonym.key_file: cannot read "
                            f"{p.key_file}: {exc.strerror}") from None
        if not key:
            raise KeyError_(f"processors.redaction.pseudonym.key_file: {p.key_file} is empty")
    else:
        return None
    if len(key) < MIN_KEY_BYTES:
        raise KeyError_(f"processors.redaction.pseudonym: the key must be at least "
                        f"{MIN_KEY_BYTES} bytes of random data (it is {len(key)}); make one "
                        "with `genai-sidecar keygen`")
    # Nothing derived from the key is published: the id is the operator's label, or none.
    return key, p.key_id


class Operators:
    """Turns (text, findings) into a `Redacted`. Built once from config."""

    def __init__(self, config: RedactionConfig, key: bytes | None) -> None:
        self._config = config
        self._key = key
        self._cache: dict[str, OperatorConfig] = {}

    def _op(self, entity: str) -> OperatorConfig:
        op = self._cache.get(entity)
        if op is None:
            op = self._cache[entity] = self._config.operator_for(entity)
        return op

    def pseudonym(self, entity: str, value: str) -> str:
        """``<TYPE:hex16>``: HMAC-SHA256(key, TYPE NUL value), first 16 hex digits."""
        assert self._key is not None
        mac = hmac.new(self._key, f"{entity}\x00{value.strip()}".encode(), hashlib.sha256)
        return f"<{entity}:{mac.hexdigest()[:PSEUDONYM_HEX]}>"


    def apply(self, text: str, findings: list[Finding]) -> Redacted:
        """Replace every finding (overlaps merged: the higher score names the span)."""
        if not findings:
            return Redacted(text, 0, frozenset())
        merged = merge(findings)
        types = frozenset(f[2] for f in merged)
        if any(self._op(f[2]).type is OperatorType.DROP for f in merged):
            return Redacted(semconv.REDACTION_DROPPED_TEXT, len(merged), types)
        parts: list[str] = []
        pos = 0
        pseudo = False
        for start, end, entity, _score in merged:
            parts.append(text[pos:start])
            op = self._op(entity)
            value = text[start:end]
            kind = op.type
            if kind is OperatorType.REPLACE:
                parts.append(f"<{entity}>")
            elif kind is OperatorType.MASK:
                keep = min(op.keep_last, len(value))
                parts.append(op.masking_char * (len(value) - keep) + value[len(value) - keep:])
            elif kind is OperatorType.REDACT:
                pass
            else:  # PSEUDONYM
                parts.append(self.pseudonym(entity, value))
                pseudo = True
            pos = end
        parts.append(text[pos:])
        return Redacted("".join(parts), len(merged), types, pseudonymized=pseudo)


def merge(findings: list[Finding]) -> list[Finding]:
    """Sorted, non-overlapping findings: overlapping ones are united under the best scorer
    (ties go to the longer span)."""
    out: list[Finding] = []
    for f in sorted(findings):
        if out and f[0] < out[-1][1]:
            last = out[-1]
            best = max((last, f), key=lambda x: (x[3], x[1] - x[0]))
            out[-1] = (last[0], max(last[1], f[1]), best[2], best[3])
        else:
            out.append(f)
    return out


def keygen() -> str:
    """A new pseudonym key: 32 random bytes as 64 hex digits (read as the key's bytes)."""
    import secrets

    return secrets.token_hex(MIN_KEY_BYTES)
