# Redaction (processors/redaction): quality of the PII detection on a labeled Faker set.
.PHONY: pii-eval

pii-eval: install  ## PII recall / precision / destroyed share, NER and patterns modes; records docs/PERFORMANCE.md.
	$(PY) -m processors.redaction.evaluation
