"""PII evaluation: a labeled, seeded Faker set and per-type recall / precision (``make pii-eval``).

    python -m processors.redaction.evaluation [--texts N] [--seed S] [--no-record]

The set has texts shaped like chat prompts, tool outputs (JSON), support transcripts and
config / shell snippets with secrets, in several Faker locales, plus hard negatives that hold
no PII at all: trace and span ids, UUIDs, git SHAs, model names, versions, timestamps, code
and 16-digit numbers that fail the Luhn check. Every inserted value is labeled with its span.

Measures, per mode (NER, patterns), with the same engines the processor uses:

* recall per type: share of inserted values entirely covered by findings (of any type: what
  matters is that nothing is left); for STREET_ADDRESS the street line must be covered;
* precision per reported type: share of findings that overlap an inserted PII value;
* hard-negative false positives: share of negative items touched by any finding;
* share of non-PII characters destroyed, and detections per text.

The tables are printed and recorded in docs/PERFORMANCE.md (``<!-- bench:pii-eval -->``).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES")
#: Eval categories: the inserted value's label.
CATEGORIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE",
              "IP_ADDRESS", "STREET_ADDRESS", "SECRET")
TARGETS = {"EMAIL_ADDRESS": 0.99, "CREDIT_CARD": 0.99, "US_SSN": 0.99, "IBAN_CODE": 0.99,
           "IP_ADDRESS": 0.99, "SECRET": 0.99, "PHONE_NUMBER": 0.95, "PERSON": 0.90,
           "STREET_ADDRESS": 0.90}
SECRET_TYPES = frozenset({"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_ACCESS_KEY",
                          "AWS_SECRET_KEY", "GITHUB_TOKEN", "JWT", "PRIVATE_KEY",
                          "BEARER_TOKEN", "GENERIC_SECRET"})
NEGATIVE = "NEGATIVE"


@dataclass
class Sample:
    """One text and its labeled spans: (start, end, category); NEGATIVE marks hard negatives."""

    shape: str
    locale: str
    text: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, piece: str, label: str | None = None) -> None:
        if label:
            self.spans.append((len(self.text), len(self.text) + len(piece), label))
        self.text += piece


class Generator:
    """Seeded generator of samples."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers = {}
        for i, loc in enumerate(LOCALES):
            f = Faker(loc)
            f.seed_instance(seed + i)
            self.fakers[loc] = f
        self.en = self.fakers["en_US"]

    # -- values ---------------------------------------------------------------------------
    def _rand(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def secret(self) -> str:
        an = string.ascii_letters + string.digits
        kind = self.rng.randrange(7)
        if kind == 0:
            return "sk-proj-" + self._rand(an + "_-", 48)
        if kind == 1:
            return "sk-ant-api03-" + self._rand(an + "_-", 93) + "AA"
        if kind == 2:
            return "AKIA" + self._rand(string.ascii_uppercase + "234567", 16)
        if kind == 3:
            return "ghp_" + self._rand(an, 36)
        if kind == 4:
            def b64(obj):
                raw = json.dumps(obj).encode()
                return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            return (b64({"alg": "HS256", "typ": "JWT"}) + "." +
                    b64({"sub": self._rand(string.digits, 8), "iat": 1716200000}) + "." +
                    self._rand(an + "_-", 43))
        if kind == 5:
            body = "\n".join(self._rand(an + "+/", 64) for _ in range(4))
            return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
        return self._rand(an, 40)  # bearer token (labeled after the word Bearer)

    def card(self) -> str:
        n = self.en.credit_card_number(card_type=self.rng.choice(["visa16", "mastercard",
                                                                  "amex", "discover"]))
        if len(n) == 16 and self.rng.random() < 0.5:
            n = " ".join(n[i:i + 4] for i in range(0, 16, 4))
        return n

    def negatives(self) -> list[str]:
        """Hard negatives: identifiers and numbers that are not personal data."""
        hexd = "0123456789abcdef"
        rng = self.rng

        def non_luhn() -> str:
            while True:
                digits = [rng.randrange(10) for _ in range(16)]
                total = 0
                for i, d in enumerate(reversed(digits)):
                    d = d * 2 if i % 2 else d
                    total += d - 9 if d > 9 else d
                if total % 10:
                    return "".join(map(str, digits))

        return [
            self._rand(hexd, 32),  # trace id
            self._rand(hexd, 16),  # span id
            str(self.en.uuid4()),
            self._rand(hexd, 40),  # git sha
            rng.choice(["claude-3-5-sonnet-20240620", "gpt-4o-2024-08-06", "gpt-4o-mini",
                        "gemini-1.5-pro-002", "us.anthropic.claude-sonnet-4-6",
                        "mistral-large-2411", "llama-3.1-70b-instruct", "o3-mini-2025-01-31"]),
            f"v{rng.randrange(1, 9)}.{rng.randrange(30)}.{rng.randrange(99)}",
            self.en.iso8601() + "Z",
            str(rng.randrange(1_600_000_000_000, 1_800_000_000_000)),  # epoch ms
            non_luhn(),
            rng.choice(["def handler(event, ctx):", "for (let i = 0; i < n; i++) {",
                        "SELECT id, total FROM orders WHERE status = 'open';",
                        "kubectl rollout restart deploy/api -n prod",
                        "return json.dumps(result, indent=2)"]),
            f"{rng.randrange(100, 999)} ms",
            f"HTTP {rng.choice([200, 201, 404, 429, 500, 503])}",
        ]

    # -- shapes ---------------------------------------------------------------------------
    def filler(self, f) -> str:
        return " " + self.en.paragraph(nb_sentences=self.rng.randrange(2, 5)) + " "

    def chat(self, loc: str) -> Sample:
        f = self.fakers[loc]
        s = Sample("chat", loc)
        s.add("Hi, my name is ")
        s.add(f"{f.first_name()} {f.last_name()}", "PERSON")
        s.add(" and I need help with my account." + self.filler(f) + "You can reach me at ")
        s.add(f.email(), "EMAIL_ADDRESS")
        s.add(" or call me on ")
        s.add(f.phone_number(), "PHONE_NUMBER")
        s.add(". Please send the replacement to ")
        s.add(f.street_address().replace("\n", ", ").strip(), "STREET_ADDRESS")
        s.add(", " + f.city() + "." + self.filler(f))
        s.add("The failing request had trace id ")
        s.add(self.negatives()[0], NEGATIVE)
        s.add(" and used model ")
        s.add(self.negatives()[4], NEGATIVE)
        s.add(".")
        return s

    def transcript(self, loc: str) -> Sample:
        f = self.fakers[loc]
        s = Sample("transcript", loc)
        agent = self.en.first_name()
        s.add(f"Agent: Thanks for calling, this is {agent}. Who am I speaking with?\nCaller: ")
        s.spans.append((len("Agent: Thanks for calling, this is "),
                        len("Agent: Thanks for calling, this is ") + len(agent), "PERSON"))
        s.add("This is ")
        s.add(f"{f.first_name()} {f.last_name()}", "PERSON")
        s.add(". My card number is ")
        s.add(self.card(), "CREDIT_CARD")
        s.add(" and the last payment bounced.\nAgent: I need to verify you. Your SSN please?\n"
              "Caller: It's ")
        s.add(self.en.ssn(), "US_SSN")
        s.add(".\nAgent: And the IBAN for the refund?\nCaller: ")
        s.add(f.iban(), "IBAN_CODE")
        s.add(".\nAgent: Done. Reference ")
        s.add(str(self.en.uuid4()), NEGATIVE)
        s.add(", logged at ")
        s.add(self.en.iso8601() + "Z", NEGATIVE)
        s.add("." + self.filler(f))
        return s

    def tool_output(self, loc: str) -> Sample:
        f = self.fakers[loc]
        s = Sample("tool_json", loc)
        s.add('{"customer": {"name": "')
        s.add(f"{f.first_name()} {f.last_name()}", "PERSON")
        s.add('", "email": "')
        s.add(f.email(), "EMAIL_ADDRESS")
        s.add('", "phone": "')
        s.add(f.phone_number(), "PHONE_NUMBER")
        s.add('", "address": "')
        s.add(f.street_address().replace("\n", ", ").strip(), "STREET_ADDRESS")
        s.add('", "last_ip": "')
        s.add(self.rng.choice([self.en.ipv4_public(), self.en.ipv6()]), "IP_ADDRESS")
        s.add('"}, "order_id": "')
        s.add(str(self.en.uuid4()), NEGATIVE)
        s.add('", "span_id": "')
        s.add(self.negatives()[1], NEGATIVE)
        s.add('", "amount_cents": ')
        s.add(self.negatives()[8], NEGATIVE)
        s.add(', "model": "')
        s.add(self.negatives()[4], NEGATIVE)
        s.add('"}')
        return s

    def secrets(self, loc: str) -> Sample:
        s = Sample("secrets", loc)
        s.add("Deploy failed at commit ")
        s.add(self.negatives()[3], NEGATIVE)
        s.add(" (")
        s.add(self.negatives()[5], NEGATIVE)
        s.add(").\n```\nexport API_KEY=")
        s.add(self.secret(), "SECRET")
        s.add("\ncurl -H 'Authorization: Bearer ")
        s.add(self.secret() if self.rng.random() < 0.3 else self._rand(
            string.ascii_letters + string.digits, 40), "SECRET")
        s.add("' https://api.internal/v1/jobs\n```\nThe server at ")
        s.add(self.en.ipv4_private(), "IP_ADDRESS")
        s.add(" returned an error.\n")
        s.add(self.rng.choice(self.negatives()[9:10]), NEGATIVE)
        s.add("\n")
        return s

    def negative_only(self, loc: str) -> Sample:
        s = Sample("negatives", loc)
        for item in self.negatives():
            s.add(self.rng.choice(["id ", "value: ", "see ", "", "=> "]))
            s.add(item, NEGATIVE)
            s.add(self.rng.choice(["\n", ". ", ", ", " | "]))
        return s

    def samples(self, n: int) -> list[Sample]:
        shapes = (self.chat, self.transcript, self.tool_output, self.secrets, self.negative_only)
        return [shapes[i % len(shapes)](LOCALES[(i // len(shapes)) % len(LOCALES)])
                for i in range(n)]


def _covered(findings, start: int, end: int) -> bool:
    marks = [False] * (end - start)
    for s, e, _t, _sc in findings:
        for i in range(max(s, start), min(e, end)):
            marks[i - start] = True
    return all(marks)


def score(samples: list[Sample], results: list[list[tuple]]) -> dict:
    """Recall, precision, hard-negative FP rate, destroyed share and detections per text."""
    found = defaultdict(int)
    total = defaultdict(int)
    tp = defaultdict(int)
    reported = defaultdict(int)
    neg_hit = neg_total = 0
    destroyed = non_pii = 0
    detections = 0
    for sample, findings in zip(samples, results, strict=True):
        pii = [(s, e) for s, e, c in sample.spans if c != NEGATIVE]
        for s, e, cat in sample.spans:
            if cat == NEGATIVE:
                neg_total += 1
                neg_hit += any(fs < e and s < fe for fs, fe, _t, _sc in findings)
                continue
            total[cat] += 1
            found[cat] += _covered(findings, s, e)
        detections += len(findings)
        for fs, fe, typ, _sc in findings:
            label = "SECRET" if typ in SECRET_TYPES else typ
            reported[label] += 1
            tp[label] += any(fs < e and s < fe for s, e in pii)
        in_pii = [False] * len(sample.text)
        for s, e in pii:
            for i in range(s, e):
                in_pii[i] = True
        hit = [False] * len(sample.text)
        for fs, fe, _t, _sc in findings:
            for i in range(fs, fe):
                hit[i] = True
        for i, p in enumerate(in_pii):
            if not p:
                non_pii += 1
                destroyed += hit[i]
    return {
        "recall": {c: (found[c] / total[c], total[c]) for c in CATEGORIES if total[c]},
        "precision": {t: (tp[t] / reported[t], reported[t]) for t in sorted(reported)},
        "negatives": (neg_hit / neg_total if neg_total else 0.0, neg_total),
        "destroyed": destroyed / non_pii if non_pii else 0.0,
        "detections_per_text": detections / len(samples),
        "texts": len(samples),
        "inserted_per_text": sum(total.values()) / len(samples),
    }


def evaluate(mode: str, samples: list[Sample]) -> tuple[dict, float]:
    import logging

    from processors.redaction.config import RedactionConfig
    from processors.redaction.engine import Analyzer, EngineSpec

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    analyzer = Analyzer(EngineSpec.from_config(RedactionConfig(mode=mode)))
    texts = [s.text for s in samples]
    t0 = time.perf_counter()
    results = []
    for i in range(0, len(texts), 32):
        results.extend(analyzer.analyze(texts[i:i + 32], [False] * len(texts[i:i + 32])))
    elapsed = time.perf_counter() - t0
    return score(samples, results), elapsed


def render(reports: dict[str, tuple[dict, float]], n: int, seed: int) -> str:
    modes = list(reports)
    lines = [
        "## PII evaluation (processors/redaction)",
        "",
        f"`make pii-eval` (`python -m processors.redaction.evaluation --texts {n} --seed {seed}`):"
        f" {n} seeded Faker texts (chat prompts, transcripts, tool JSON, secrets in snippets,"
        f" hard-negative lists; locales {', '.join(LOCALES)}), default entities, one process.",
        "",
        "Recall (value entirely covered by findings; STREET_ADDRESS: the whole street line):",
        "",
        "| type | target (NER) | " + " | ".join(modes) + " | values |",
        "|---|---|" + "---|" * len(modes) + "---|",
    ]
    first = reports[modes[0]][0]
    for cat in CATEGORIES:
        if cat not in first["recall"]:
            continue
        cells = [f"{reports[m][0]['recall'][cat][0]:.3f}" for m in modes]
        lines.append(f"| {cat} | >= {TARGETS[cat]:.2f} | " + " | ".join(cells)
                     + f" | {first['recall'][cat][1]} |")
    lines += ["", "Precision per reported type (finding overlaps an inserted PII value):", "",
              "| type | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    types = sorted({t for m in modes for t in reports[m][0]["precision"]})
    for t in types:
        cells = []
        for m in modes:
            p = reports[m][0]["precision"].get(t)
            cells.append(f"{p[0]:.3f} ({p[1]})" if p else "-")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "| summary | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    rows = [
        ("hard negatives touched (target <= 0.02)",
         lambda r: f"{r['negatives'][0]:.3f} of {r['negatives'][1]}"),
        ("non-PII characters destroyed", lambda r: f"{r['destroyed']:.3f}"),
        ("detections per text", lambda r: f"{r['detections_per_text']:.1f}"),
        ("inserted PII values per text", lambda r: f"{r['inserted_per_text']:.1f}"),
    ]
    for name, fn in rows:
        lines.append(f"| {name} | " + " | ".join(fn(reports[m][0]) for m in modes) + " |")
    lines.append("| analysis time (s, one process) | "
                 + " | ".join(f"{reports[m][1]:.1f}" for m in modes) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processors.redaction.evaluation")
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-record", action="store_true", help="do not write PERFORMANCE.md")
    args = parser.parse_args(argv)
    samples = Generator(args.seed).samples(args.texts)
    reports = {}
    for mode in ("ner", "patterns"):
        print(f"== pii-eval {mode}", file=sys.stderr, flush=True)
        reports[mode] = evaluate(mode, samples)
    section = render(reports, args.texts, args.seed)
    print(section)
    if not args.no_record:
        from bench.__main__ import record

        record("pii-eval", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
