"""Presidio engines built from an explicit spec: nothing is downloaded, nothing is implicit.

`EngineSpec` is the picklable description a worker process builds its engines from (once, at
worker start-up). `Analyzer` holds the engines and analyzes batches of texts:

* NER mode: a spaCy model loaded by its pinned name with only the ``ner`` component (the
  tagger, parser, lemmatizer... cost time and Presidio needs none of them; lemmas are the
  lower-cased tokens), run through ``nlp.pipe`` over the batch, then Presidio's recognizers.
* patterns mode: Presidio's ``NoOpNlpEngine``; pattern recognizers only.

Before any engine is built, tldextract (used by Presidio's e-mail recognizer) is pointed at
its bundled public-suffix snapshot, so nothing touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from processors.redaction.config import (
    CustomRecognizerConfig,
    Entity,
    Mode,
    ModelConfig,
    RedactionConfig,
)
from processors.redaction.normalize import View, base64_runs, needs_view

log = logging.getLogger(__name__)

LANGUAGE = "en"
#: spaCy components Presidio does not need (it reads tokens and entities only).
_EXCLUDED_COMPONENTS = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
#: spaCy labels -> Presidio entities; others are ignored.
_NER_MAPPING = {
    "PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
    "FAC": "LOCATION", "NORP": "NRP", "ORG": "ORGANIZATION", "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
_NER_IGNORED = ("CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "LANGUAGE", "PRODUCT",
                "EVENT", "WORK_OF_ART", "LAW")

#: Entities only the model reports (names and places never contain digits).
_NER_TYPES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})

#: One finding: (start, end, entity type, score).
Finding = tuple[int, int, str, float]


class ModelError(RuntimeError):
    """The pinned NLP model is missing or is not the pinned build (start-up must fail)."""


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Everything a worker needs to build its engines (picklable)."""

    mode: Mode
    model: ModelConfig
    entities: tuple[str, ...]
    score_threshold: float
    thresholds: tuple[tuple[str, float], ...]
    allow_exact: tuple[str, ...]
    allow_regex: tuple[str, ...]
    custom: tuple[CustomRecognizerConfig, ...]
    #: Build the patterns-only engine too (for ``scan_all_attributes`` in NER mode).
    patterns_pass: bool
    nlp_batch_size: int = 16

    @classmethod
    def from_config(cls, config: RedactionConfig) -> EngineSpec:
        return cls(
            mode=config.mode,
            model=config.model,
            entities=config.enabled_entities(),
            score_threshold=config.score_threshold,
            thresholds=tuple(sorted(config.thresholds.items())),
            allow_exact=tuple(config.allow_list.exact),
            allow_regex=tuple(config.allow_list.regex),
            custom=tuple(config.custom_recognizers),
            patterns_pass=config.content.scan_all_attributes,
            nlp_batch_size=config.workers.batch_size,
        )

    def fingerprint(self) -> str:
        """Changes whenever the findings for a text could change (a cache key part)."""
        data = json.dumps([self.mode.value, self.model.model_dump(mode="json"), self.entities,
                           self.score_threshold, self.thresholds, self.allow_exact,
                           self.allow_regex, [c.model_dump(mode="json") for c in self.custom]],
                          sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


def verify_model(model: ModelConfig) -> Path:
    """Check that the pinned model is installed, at its version, with its files intact.

    Returns the package directory. Raises `ModelError` otherwise; never downloads.
    """
    try:
        dist = metadata.distribution(model.name)
    except metadata.PackageNotFoundError:
        raise ModelError(
            f"spaCy model {model.name!r} is not installed (pinned {model.name}=={model.version});"
            " install it with the package manager, the sidecar never downloads models"
        ) from None
    if dist.version != model.version:
        raise ModelError(f"spaCy model {model.name!r} is version {dist.version}; "
                         f"pinned {model.version}")
    if model.files_sha256:
        entries = _model_files(dist, model.name)
        got = _listing_sha256(entries)
        if got != model.files_sha256:
            raise ModelError(f"spaCy model {model.name!r} files sha256 {got} does not match "
                             f"the pinned {model.files_sha256}")
        for path, digest in entries:
            data = Path(dist.locate_file(path)).read_bytes()
            actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if actual != digest:
                raise ModelError(f"spaCy model file {path} does not match its recorded hash")
    return Path(dist.locate_file(model.name))


def _model_files(dist: metadata.Distribution, name: str) -> list[tuple[str, str]]:
    """Sorted (path, urlsafe-b64 sha256) of the model package's own files, from its RECORD.

    The pin covers these, not RECORD itself: RECORD's INSTALLER / REQUESTED / ``__pycache__``
    lines depend on how pip installed the model (directly or as a dependency, with or without
    bytecode), while the model's files and their hashes do not.
    """
    record_file = next((f for f in dist.files or () if f.name == "RECORD"), None)
    if record_file is None:
        return []
    entries = []
    for line in Path(record_file.locate()).read_text("utf-8", "replace").splitlines():
        path, _, rest = line.partition(",")
        digest = rest.rpartition(",")[0]
        if (digest.startswith("sha256=") and path.startswith(f"{name}/")
                and "/__pycache__/" not in path):
            entries.append((path, digest.removeprefix("sha256=")))
    return sorted(entries)


def _listing_sha256(entries: list[tuple[str, str]]) -> str:
    return hashlib.sha256("".join(f"{p},{d}\n" for p, d in entries).encode()).hexdigest()


def model_files_sha256(name: str) -> str:
    """The value to pin as ``model.files_sha256`` for the installed model ``name``."""
    dist = metadata.distribution(name)
    return _listing_sha256(_model_files(dist, name))


def preseed_tldextract() -> None:
    """Make tldextract use its bundled suffix-list snapshot: no fetch, no disk cache."""
    import tldextract
    import tldextract.tldextract as impl

    extractor = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(),
                                      fallback_to_snapshot=True)
    extractor("sidecar.example.com")  # builds the suffix trie now, not on the first e-mail
    impl.TLD_EXTRACTOR = extractor


def _ner_engine(model: ModelConfig):
    import spacy
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
    from spacy.attrs import IDX, LENGTH
    from thinc.api import use_ops

    class PinnedSpacyNlpEngine(SpacyNlpEngine):
        """SpacyNlpEngine that loads one verified model with only NER and never downloads."""

        def load(self) -> None:
            verify_model(model)
            self._keyword_verdicts: dict[str, list[str]] = {}
            # numpy's BLAS for the model's matrix products: the NER pass runs about 1.6x
            # faster here than with thinc's default (blis), with the same entities
            # (bench: `python -m bench redaction`; tests/unit/redaction/test_engine.py).
            with use_ops("numpy", use_blis=False):
                nlp = spacy.load(model.name, exclude=list(_EXCLUDED_COMPONENTS))
            self.nlp = {LANGUAGE: nlp}

        def _doc_to_nlp_artifact(self, doc, language):
            """Presidio's artifacts for ``doc`` in one pass over its tokens.

            The same fields as ``SpacyNlpEngine._doc_to_nlp_artifact`` (entities and scores
            through its own mapping), except that without the lemmatizer the lower-cased
            tokens serve as lemmas; keywords as ``NlpArtifacts.set_keywords`` computes them
            from those, with the per-word stop / punctuation verdicts memoized.
            """
            text = doc.text
            lemmas = []
            indices = []
            for start, length in doc.to_array([IDX, LENGTH]).tolist():
                lemmas.append(text[start:start + length].lower())
                indices.append(start)
            entities, scores = self._get_updated_entities(
                self._get_entities(doc), self._get_scores_for_entities(doc))
            # nlp_engine=None: NlpArtifacts computes no keywords; ours are set below.
            artifacts = NlpArtifacts(entities=entities, tokens=doc, tokens_indices=indices,
                                     lemmas=lemmas, nlp_engine=None, language=language,
                                     scores=scores)
            artifacts.nlp_engine = self
            artifacts.keywords = self._keywords(lemmas, language)
            return artifacts

        def _keywords(self, lemmas: list[str], language: str) -> list[str]:
            verdicts = self._keyword_verdicts
            out: list[str] = []
            for lemma in lemmas:
                parts = verdicts.get(lemma)
                if parts is None:
                    parts = NlpArtifacts.set_keywords(self, [lemma], language)
                    if len(verdicts) < 100_000:
                        verdicts[lemma] = parts
                out.extend(parts)
            return out

    ner_config = NerModelConfiguration(
        model_to_presidio_entity_mapping=_NER_MAPPING, labels_to_ignore=list(_NER_IGNORED),
    )
    engine = PinnedSpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": model.name}],
                                  ner_model_configuration=ner_config)
    engine.load()
    return engine


def _analyzer_engine(nlp_engine, spec: EngineSpec, with_ner: bool):
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    from processors.redaction import precision, recognizers, rulesets

    wanted = frozenset(spec.entities)
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp_engine)
    kept = []
    for rec in registry.recognizers:
        if isinstance(rec, SpacyRecognizer):
            if not with_ner:
                continue
            rec = precision.foreign_aware(rec)
        if type(rec).__name__ == "PhoneRecognizer":
            # phonenumbers' matcher is half of the pattern time and, without a context word,
            # scores below the threshold; recognizers.phone_recognizer covers the shapes.
            continue
        if wanted.intersection(rec.supported_entities):
            kept.append(rec)
    registry.recognizers = kept
    registry.recognizers.extend(recognizers.secret_recognizers(wanted))
    # One recognizer per entry, built when its entity is enabled (order is Presidio's
    # tie-break between equal scores, so it is kept as it was).
    builders = (
        (Entity.PERSON, recognizers.person_recognizer),
        (Entity.PHONE_NUMBER, recognizers.phone_recognizer),
        (Entity.CREDIT_CARD, recognizers.card_recognizer),
        (Entity.STREET_ADDRESS, recognizers.street_address_recognizer),
        (None, lambda: rulesets.key_value_recognizers(wanted)),
        (Entity.SECRET, rulesets.vendor_secret_recognizer),
        (Entity.GENERIC_SECRET, rulesets.entropy_secret_recognizer),
        (Entity.DATE_OF_BIRTH, rulesets.birth_date_recognizer),
        (Entity.US_SSN, rulesets.ssn_cue_recognizer),
        (Entity.PERSONAL_URL, rulesets.personal_url_recognizer),
        (Entity.PERSON, rulesets.person_header_recognizer),
        (Entity.PERSON, rulesets.given_name_recognizer),
    )
    for entity, build in builders:
        if entity is None:
            registry.recognizers.extend(build())
        elif entity.value in wanted:
            registry.recognizers.append(build())
    registry.recognizers.extend(recognizers.custom_recognizers(spec.custom))
    enhancer = None
    if not with_ner:
        class _NoContext(ContextAwareEnhancer):
            """Without NLP tokens there is no context to use; skip the per-result loop."""

            def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers,
                                      context=None):
                return raw_results

        enhancer = _NoContext(context_similarity_factor=0.0,
                              min_score_with_context_similarity=0.0,
                              context_prefix_count=0, context_suffix_count=0)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine,
                          supported_languages=[LANGUAGE], default_score_threshold=0.0,
                          context_aware_enhancer=enhancer)


class _PatternPass:
    """A patterns-only ``AnalyzerEngine`` run without its per-text orchestration.

    ``AnalyzerEngine.analyze`` spends a good share of a short text's time around the regexes:
    looking the recognizers up per entity, building NLP artifacts, routing every result
    through the context enhancers (a no-op without NLP tokens), then filtering and
    deduplicating. Here the same recognizers (Presidio's and ours, with their own
    ``analyze``, ``validate_result`` / ``invalidate_result`` and scores) run directly and
    the results go through the same per-recognizer score thresholds and
    ``EntityRecognizer.remove_duplicates``. Built only when that is exactly what the engine
    would do: every recognizer keeps the base class's (identity) context enhancement and
    the engine's enhancer is the no-op one; otherwise ``usable`` is False.

    For recognizers that keep ``PatternRecognizer.analyze`` (most of them), its pattern loop
    is run here as it is written there (same compiled regexes and flags, regex timeout,
    empty matches skipped, the pattern's score, ``validate_result`` -> max / min score,
    ``invalidate_result`` -> min score, results above the minimum, deduplicated per
    recognizer) without what only explains a result: two clock reads and a debug log per
    pattern, an ``AnalysisExplanation`` per match. And only for the patterns that the
    `Prefilter` scan of the text reports as possible (all of them if the scan fails).
    Recognizers with their own ``analyze`` (IBAN) are called as they are, when one of their
    entities' triggers occurs in the text.
    """

    def __init__(self, engine, enhancer_is_noop: bool) -> None:
        import regex
        from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
        from presidio_analyzer import pattern_recognizer as presidio_patterns

        from processors.redaction.prefilter import Prefilter
        from processors.redaction.recognizers import GatedRecognizer, triggered

        # Bound once: analyze and _patterns run per text.
        self._triggered = triggered
        self._compile = regex.compile
        self._dedup = EntityRecognizer.remove_duplicates
        self._engine = engine
        self._default = engine.default_score_threshold
        self._result = RecognizerResult
        self._timeout = presidio_patterns.REGEX_TIMEOUT_SECONDS
        self._recs = []
        sources: list[tuple[str, int]] = []
        for rec in engine.registry.recognizers:
            if rec.supported_language != LANGUAGE:
                continue
            plain = type(rec).analyze in (PatternRecognizer.analyze, GatedRecognizer.analyze)
            indexed = []
            if plain:
                for pattern in rec.patterns:
                    indexed.append((len(sources), pattern))
                    sources.append((pattern.regex, rec.global_regex_flags))
            self._recs.append((rec, frozenset(rec.supported_entities), rec.score_thresholds,
                               plain, tuple(indexed)))
        self.prefilter = Prefilter(sources)
        #: pattern index -> position of its recognizer; positions of the other recognizers
        self._owner = {i: position for position, r in enumerate(self._recs) for i, _ in r[4]}
        self._not_plain = frozenset(position for position, r in enumerate(self._recs)
                                    if not r[3])
        self._plans: dict[tuple[str, ...], dict[int, tuple]] = {}
        #: position -> whether the recognizer has gates (GatedRecognizer)
        self._gated = [isinstance(r[0], GatedRecognizer) for r in self._recs]
        base = EntityRecognizer.enhance_using_context
        self.usable = enhancer_is_noop and all(
            type(rec).enhance_using_context is base for rec, *_ in self._recs)

    def analyze(self, text: str, entities: list[str]) -> list:
        plan = self._plans.get(tuple(entities))
        if plan is None:
            plan = self._plans[tuple(entities)] = self._plan(entities)
        possible = self.prefilter.candidates(text)
        if possible is not None:
            # Only the recognizers with a possible pattern, and those filtered by trigger.
            owner = self._owner
            picked = sorted({owner[i] for i in possible if owner[i] in plan}
                            | plan.keys() & self._not_plain)
        else:
            picked = sorted(plan)
        artifacts = None
        results = []
        for position in picked:
            rec, thresholds, plain, indexed, ents = plan[position]
            gated = self._gated
            if not rec.is_loaded:
                rec.load()
                rec.is_loaded = True
            if plain:
                if possible is None:  # no scan: every pattern whose gate holds
                    patterns = (rec.active_patterns(text) if hasattr(rec, "active_patterns")
                                else rec.patterns)
                else:
                    patterns = [p for i, p in indexed if i in possible]
                    if patterns and gated[position]:
                        # A gate is a necessary condition too: apply it where the scan could
                        # not tell (a pattern whose only literal is in a lookahead).
                        active = rec.active_patterns(text)
                        patterns = [p for p in patterns if p in active]
                if not patterns:
                    continue
                found = self._patterns(rec, text, patterns)
            else:
                hit = self._triggered(text, ents)
                if not hit:
                    continue
                if artifacts is None:
                    artifacts = self._engine.nlp_engine.process_text(text, LANGUAGE)
                found = rec.analyze(text=text, entities=hit, nlp_artifacts=artifacts)
            for r in found or ():
                floor = thresholds.get(r.entity_type, thresholds.get("default", self._default))
                if r.score >= floor:
                    results.append(r)
        # (one result with a score is what remove_duplicates would return)
        return (self._dedup(results) if len(results) > 1 or (results and not results[0].score)
                else results)

    def _plan(self, entities: list[str]) -> dict[int, tuple]:
        """Position -> (recognizer, thresholds, plain, indexed patterns, wanted entities) of
        the recognizers serving ``entities``."""
        wanted = frozenset(entities)
        return {position: (rec, thresholds, plain, indexed,
                           [e for e in entities if e in supported])
                for position, (rec, supported, thresholds, plain, indexed)
                in enumerate(self._recs) if not supported.isdisjoint(wanted)}

    def _patterns(self, rec, text: str, patterns: list) -> list:
        """``PatternRecognizer.analyze`` (its pattern loop) for ``rec``; see the class doc."""
        flags = rec.global_regex_flags
        entity = rec.supported_entities[0]
        out = []
        for pattern in patterns:
            if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
                pattern.compiled_with_flags = flags
                pattern.compiled_regex = self._compile(pattern.regex, flags=flags)
            try:
                for match in pattern.compiled_regex.finditer(text, timeout=self._timeout):
                    start, end = match.span()
                    if start == end:
                        continue
                    current = text[start:end]
                    score = pattern.score
                    valid = rec.validate_result(current)
                    if valid is not None:
                        score = 1.0 if valid else 0.0  # EntityRecognizer.MAX / MIN_SCORE
                    if rec.invalidate_result(current):
                        score = 0.0
                    if score > 0.0:
                        out.append(self._result(
                            entity_type=entity, start=start, end=end, score=score,
                            recognition_metadata={
                                self._result.RECOGNIZER_NAME_KEY: rec.name,
                                self._result.RECOGNIZER_IDENTIFIER_KEY: rec.id}))
            except TimeoutError:
                continue  # Presidio skips a pattern whose regex timed out (it logs a warning)
        return self._dedup(out) if len(out) > 1 else out  # (every score here is above 0)


class Analyzer:
    """The Presidio engines of one process. Build once; ``analyze`` many times.

    Not thread-safe; one per worker process (or per CLI run / test session).
    """

    def __init__(self, spec: EngineSpec) -> None:
        if "numpy" not in sys.modules:
            # One BLAS thread, as in the workers (before Presidio's imports load numpy): a
            # multi-threaded BLAS sums in a varying order, and a borderline entity can flip
            # between two runs of the same text (the CLI, the evaluation).
            import processors.redaction.worker_env  # noqa: F401
        import regex
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        from processors.redaction.precision import Refiner
        from processors.redaction.recognizers import triggered

        self._triggered = triggered
        self._refiner = Refiner()
        preseed_tldextract()
        self.spec = spec
        self._entities = list(spec.entities)
        self._thresholds = dict(spec.thresholds)
        self._allow_exact = frozenset(spec.allow_exact)
        self._allow_regex = (regex.compile("|".join(f"(?:{r})" for r in spec.allow_regex))
                             if spec.allow_regex else None)
        noop = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
        noop.load()
        self._patterns = None
        self._ner = None
        if spec.mode is Mode.NER:
            self._nlp_engine = _ner_engine(spec.model)
            self._ner = _analyzer_engine(self._nlp_engine, spec, with_ner=True)
            if spec.patterns_pass:
                self._patterns = _analyzer_engine(noop, spec, with_ner=False)
        else:
            self._patterns = _analyzer_engine(noop, spec, with_ner=False)
        self._noop = noop
        self._direct = None
        if self._patterns is not None:
            direct = _PatternPass(self._patterns, enhancer_is_noop=True)
            self._direct = direct if direct.usable else None
        # Warm every recognizer up (lazy loads, regex compilation) before the first batch.
        self.analyze(["Warm-up: John Smith, john@example.com, 10 Downing Street."], [False])

    def analyze(self, texts: list[str], patterns_only: list[bool]) -> list[list[Finding]]:
        """Findings per text, sorted by start. ``patterns_only[i]`` skips NER for text i.

        Detection runs on each text's normalized view (`normalize.View`: format characters
        dropped, NFKC, HTML entities and percent-escapes decoded) and the findings are mapped
        back to the original; a base64 run whose decoded text holds personal data is one
        finding over the whole run.

        Raises whatever Presidio raises; the caller fails the batch closed.
        """
        views = [View(t) if needs_view(t) else None for t in texts]
        out = self._analyze([v.text if v else t for v, t in zip(views, texts, strict=True)],
                            patterns_only)
        for i, view in enumerate(views):
            if view is not None:
                out[i] = sorted({(*view.span(s, e), kind, score) for s, e, kind, score in out[i]})
        runs = [(i, s, e, decoded) for i, t in enumerate(texts)
                for s, e, decoded in base64_runs(t)]
        if runs:
            inner = self._analyze([r[3] for r in runs], [patterns_only[r[0]] for r in runs])
            for (i, s, e, _decoded), found in zip(runs, inner, strict=True):
                if found:
                    kind = max(found, key=lambda f: f[3])[2]
                    out[i] = sorted([*out[i], (s, e, kind, max(f[3] for f in found))])
        return out

    def _analyze(self, texts: list[str], patterns_only: list[bool]) -> list[list[Finding]]:
        out: list[list[Finding]] = [[] for _ in texts]
        ner_idx = [i for i, p in enumerate(patterns_only) if not p and self._ner is not None]
        pat_idx = [i for i in range(len(texts)) if i not in set(ner_idx)]
        if ner_idx:
            docs = self._nlp_engine.process_batch([texts[i] for i in ner_idx], LANGUAGE,
                                                  batch_size=self.spec.nlp_batch_size)
            for i, (_text, artifacts) in zip(ner_idx, docs, strict=True):
                out[i] = self._run(self._ner, texts[i], artifacts)
        engine = self._patterns
        if pat_idx and engine is None:  # NER mode without a patterns pass: use the NER engine
            engine = self._ner
        direct = engine is self._patterns and self._direct is not None
        for i in pat_idx:
            artifacts = (self._noop.process_text(texts[i], LANGUAGE)
                         if engine is self._patterns and not direct else None)
            out[i] = self._run(engine, texts[i], artifacts)
        return out

    def _run(self, engine, text: str, artifacts) -> list[Finding]:
        if engine is self._patterns and self._direct is not None:
            # The direct pass skips what cannot match by itself (a prefilter scan; triggers).
            results = self._direct.analyze(text, self._entities)
        else:
            entities = self._triggered(text, self._entities)
            if not entities:  # (an empty list would mean "all" to Presidio)
                return []
            results = engine.analyze(text=text, language=LANGUAGE, entities=entities,
                                     nlp_artifacts=artifacts)
        found: list[Finding] = []
        floor = self.spec.score_threshold
        for r in results:
            if r.score < self._thresholds.get(r.entity_type, floor):
                continue
            value = text[r.start:r.end]
            if r.entity_type in _NER_TYPES and any(c.isdigit() for c in value):
                continue  # the model calls hex ids, UUIDs and versions names and places
            if value in self._allow_exact or (
                self._allow_regex is not None and self._allow_regex.fullmatch(value)
            ):
                continue
            found.append((r.start, r.end, r.entity_type, round(float(r.score), 4)))
        return self._refiner.refine(text, found)
