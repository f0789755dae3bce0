"""The first wave's seeded Faker texts: a text source for differential tests, not an evaluation.

The recognizers were tuned on texts from this generator, so figures measured on it flatter the
detector; the evaluation (``python -m bench.pii_eval``) uses independent data instead. The unit
tests still draw texts from it where only sameness matters (the prefilter's findings equal
the plain recognizers', NER on numpy's BLAS equals thinc's default...).

Texts are shaped like chat prompts, tool outputs (JSON), support transcripts and config /
shell snippets with secrets, in several Faker locales, plus hard negatives; every inserted
value is labelled with its span.
"""

from __future__ import annotations

import base64
import json
import random
import string
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
