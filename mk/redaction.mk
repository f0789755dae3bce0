# Redaction (processors/redaction): quality of the PII detection on independent labelled data
# (bench/pii_eval: hand-written cases, a mimesis generator, hard negatives; dev / test split).
.PHONY: pii-eval

pii-eval: install  ## PII recall / precision / look-alikes on the test split (NER, patterns) and the replay of real instrumentation libraries; records docs/PERFORMANCE.md.
	$(PY) -m bench.pii_eval --split test
	$(PY) -m bench.pii_eval.replay --record
