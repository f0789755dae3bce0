"""``genai-sidecar price``: price one call from the command line, as the processor would.

Exit codes: 0 priced; 2 usage or invalid overrides file; 3 unpriced (the reason is printed).
"""

from __future__ import annotations

import argparse
import sys

from processors import genai
from processors.cost.pricing import Catalog
from processors.cost.processor import Pricer, load_overrides
from sidecar import semconv as sc
from sidecar.config import ConfigError

EXIT_UNPRICED = 3


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        msg = f"expected a whole number of tokens, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if n < 0:
        raise argparse.ArgumentTypeError("a token count cannot be negative")
    return n


def cmd_price(args: argparse.Namespace) -> int:
    """Print the cost breakdown and matched entry, or why the call is unpriced (exit 3)."""
    try:
        overrides = load_overrides(args.overrides)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    pricer = Pricer(overrides, Catalog())
    provider = genai.normalize_provider(args.provider)
    call = genai.LLMCall(
        convention=genai.Convention.OTEL_GENAI,
        provider=provider,
        operation=genai.Operation.EMBEDDINGS if args.embeddings else genai.Operation.CHAT,
        request_model=args.model,
        response_model=None,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        cache_read_tokens=args.cache_read_tokens,
        cache_write_tokens=args.cache_write_tokens,
        reasoning_tokens=args.reasoning_tokens,
        flags=genai.TokenFlag.NONE,
        service_tier=args.service_tier.lower() if args.service_tier else None,
        error_type=None,
        duplicate=False,
        existing_cost_key=None,
        foreign_cost=None,
        streaming=None,
        time_to_first_chunk=None,
        content_keys=(),
        content_events=(),
    )
    q = pricer.quote(call)
    print(f"model:        {args.model}" + (f" (provider {provider})" if provider else ""))
    if q.cost is None:
        print(f"status:       {q.status}")
        print(f"reason:       {q.reason}")
        return EXIT_UNPRICED
    c, m = q.cost, q.match
    print(f"status:       {sc.COST_STATUS_PRICED}")
    print(f"matched:      {m.ref}")
    print(f"version:      {m.version}")
    print(f"input:        {c.input:.10f} USD")
    print(f"cache_read:   {c.cache_read:.10f} USD")
    print(f"cache_write:  {c.cache_write:.10f} USD")
    print(f"output:       {c.output:.10f} USD")
    print(f"total:        {c.amount:.10f} USD")
    return 0


def add_price(sub: argparse._SubParsersAction) -> None:
    """Add the ``price`` subcommand to the ``genai-sidecar`` parser."""
    p = sub.add_parser(
        "price",
        help="price one LLM call from the catalog and overrides (exit 3 when unpriced)",
        description="Token counts follow OTel: --input-tokens includes cache reads and writes; "
        "--output-tokens includes reasoning.",
    )
    p.add_argument("--model", required=True, help="model name as sent (any convention)")
    p.add_argument("--provider", help="provider (gen_ai.provider.name or any known spelling)")
    p.add_argument("--input-tokens", type=_count, required=True)
    p.add_argument("--output-tokens", type=_count, required=True)
    p.add_argument("--cache-read-tokens", type=_count)
    p.add_argument("--cache-write-tokens", type=_count)
    p.add_argument("--reasoning-tokens", type=_count)
    p.add_argument("--service-tier", help="e.g. default, flex, priority, batch")
    p.add_argument("--embeddings", action="store_true", help="price as an embeddings call")
    p.add_argument("--overrides", metavar="FILE", help="price overrides YAML file")
    p.set_defaults(func=cmd_price)
