"""``genai-sidecar redact [--config FILE] [--json] [TEXT]``: redact one text, show findings.

Reads TEXT, or standard input when TEXT is absent. Uses the ``redaction`` processor settings
of the config file (the first processor of type ``redaction``), or the embedded default.
Analysis runs in this process (no worker pool). Prints the redacted text, then one line per
finding: ``ENTITY start-end score 'value'``. Exit codes: 0 done, 1 the engines could not be
built (e.g. model missing), 2 invalid config or usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from processors.redaction.config import RedactionConfig
from sidecar.config import ConfigError


def _redaction_config(args: argparse.Namespace) -> RedactionConfig:
    path = args.config
    config = args.load_config(path)  # sidecar.cli sets it: the registry's loader
    for spec in config.processors.values():
        if spec.type == "redaction":
            return spec.config  # type: ignore[return-value]
    if path is None:
        return RedactionConfig()
    raise ConfigError([f"processors: no processor of type 'redaction' in {path}"], path)


def cmd_redact(args: argparse.Namespace) -> int:
    """Redact TEXT (or stdin) and print the result and the findings."""
    from processors.redaction.engine import Analyzer, EngineSpec, ModelError
    from processors.redaction.operators import KeyError_, Operators, load_key, merge

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # per-text warnings
    try:
        cfg = _redaction_config(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    text = args.text if args.text is not None else sys.stdin.read()
    try:
        key = load_key(cfg)
        analyzer = Analyzer(EngineSpec.from_config(cfg))
    except (ModelError, KeyError_) as exc:
        print(f"genai-sidecar redact: {exc}", file=sys.stderr)
        return 1
    if len(text) > cfg.limits.max_text_chars:
        print(f"genai-sidecar redact: text over limits.max_text_chars "
              f"({len(text)} > {cfg.limits.max_text_chars}); it would be withheld",
              file=sys.stderr)
        return 1
    findings = analyzer.analyze([text], [False])[0]
    red = Operators(cfg, key[0] if key else None).apply(text, findings)
    merged = merge(findings)
    if args.json:
        print(json.dumps({"text": red.text, "findings": [
            {"entity": e, "start": s, "end": n, "score": sc, "value": text[s:n]}
            for s, n, e, sc in merged]}, ensure_ascii=False, indent=2))
        return 0
    print(red.text)
    print(f"-- {len(merged)} finding(s)")
    for s, n, e, sc in merged:
        print(f"{e} {s}-{n} {sc:.2f} {text[s:n]!r}")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """Print a new pseudonym key (for ``pseudonym.key_env`` / ``key_file``)."""
    from processors.redaction.operators import keygen

    print(keygen())
    return 0


def add_keygen(sub: argparse._SubParsersAction) -> None:
    """Register the ``keygen`` subcommand (listed in sidecar.cli.SUBCOMMANDS)."""
    p = sub.add_parser("keygen", help="print a new random pseudonym key (64 hex digits)")
    p.set_defaults(func=cmd_keygen)


def add_redact(sub: argparse._SubParsersAction) -> None:
    """Register the ``redact`` subcommand (listed in sidecar.cli.SUBCOMMANDS)."""
    p = sub.add_parser("redact", help="redact a text with the configured Presidio engines")
    p.add_argument("--config", help="YAML config file (default: the embedded default config)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("text", nargs="?", help="text to redact (default: read standard input)")
    p.set_defaults(func=cmd_redact)
