"""Processors: one package each, exposing TYPE, SIGNALS, default_config() and create()."""
