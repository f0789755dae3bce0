"""The NER engine's speed-ups change nothing Presidio sees: the same entities with numpy's
BLAS as with thinc's default, and the same NLP artifacts as Presidio builds them."""

from __future__ import annotations

import os

import pytest

from bench.pii_eval.faker_legacy import Generator
from processors.redaction import worker_env
from processors.redaction.engine import _EXCLUDED_COMPONENTS, LANGUAGE


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [s.text for s in Generator(seed=7).samples(40)]


def test_ner_runs_on_numpy_blas_with_the_default_backends_entities(ner_analyzer, texts):
    import spacy

    nlp = ner_analyzer._nlp_engine.nlp[LANGUAGE]
    ops = nlp.get_pipe("ner").model.ops
    assert type(ops).__name__ == "NumpyOps" and ops.use_blis is False
    reference = spacy.load(ner_analyzer.spec.model.name, exclude=list(_EXCLUDED_COMPONENTS))
    assert reference.get_pipe("ner").model.ops.use_blis is True

    def ents(model):
        return [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in model.pipe(texts)]

    ours, theirs = ents(nlp), ents(reference)
    assert ours == theirs
    assert sum(map(len, ours)) > 50


def test_artifacts_are_presidios_with_lower_cased_lemmas(ner_analyzer, texts):
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

    engine = ner_analyzer._nlp_engine
    nlp = engine.nlp[LANGUAGE]
    for doc in nlp.pipe([*texts, "", "  \n", "Straße İstanbul ǅemal: a:b:c"]):
        ours = engine._doc_to_nlp_artifact(doc, LANGUAGE)
        ref = SpacyNlpEngine._doc_to_nlp_artifact(engine, doc, LANGUAGE)
        lemmas = [t.lower_ for t in doc]
        assert ours.lemmas == lemmas
        assert ours.keywords == NlpArtifacts.set_keywords(engine, lemmas, LANGUAGE)
        assert ours.tokens_indices == ref.tokens_indices
        assert ours.tokens is doc
        assert [(e.start_char, e.end_char, e.label_) for e in ours.entities] == [
            (e.start_char, e.end_char, e.label_) for e in ref.entities]
        assert ours.scores == ref.scores
        assert ours.nlp_engine is engine


def test_worker_env_sets_one_blas_thread_unless_the_operator_chose(monkeypatch):
    for name in worker_env.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    worker_env.apply()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "1"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason="with one CPU, BLAS starts no extra thread either way")
@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
async def test_workers_run_one_blas_thread(start_method):
    """A BLAS pool of one thread per core in each worker would oversubscribe the CPUs; the
    worker process has no thread but its own after a NER batch (BLAS did run)."""
    from processors.redaction.config import RedactionConfig
    from processors.redaction.engine import EngineSpec
    from processors.redaction.pool import WorkerPool

    pool = WorkerPool(EngineSpec.from_config(RedactionConfig()), 1, start_method, 8, 60.0, 120.0)
    await pool.start()
    try:
        out = await pool.analyze(["Jane Doe moved to Paris to work for Acme."] * 16, [False] * 16)
        assert all(o for o in out)  # analyzed, with findings
        (pid,) = pool.worker_pids()
        assert len(os.listdir(f"/proc/{pid}/task")) == 1
    finally:
        await pool.shutdown()
