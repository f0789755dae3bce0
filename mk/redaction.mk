# Redaction (processors/redaction): quality of the PII detection on independent labelled data
# (bench/pii_eval: hand-written cases, a mimesis generator, hard negatives; dev / test split).
.PHONY: pii-eval

pii-eval: install  ## PII recall / precision / look-alikes destroyed on the test split, NER and patterns modes; records docs/PERFORMANCE.md.
	$(PY) -m bench.pii_eval --split test
