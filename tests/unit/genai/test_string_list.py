"""genai.string_list: finish reasons and similar values arrive as arrays or JSON strings."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1 import common_pb2

from processors import genai


def s(text: str) -> common_pb2.AnyValue:
    return common_pb2.AnyValue(string_value=text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(common_pb2.AnyValue(array_value=common_pb2.ArrayValue(
            values=[s("stop"), s("length")])), ["stop", "length"], id="array"),
        pytest.param(s('["stop", "tool_calls"]'), ["stop", "tool_calls"], id="json-array"),
        pytest.param(s("stop"), ["stop"], id="plain-string"),
        pytest.param(s("  "), [], id="blank"),
        pytest.param(s("[not json"), ["[not json"], id="broken-json-kept-as-text"),
        pytest.param(s('["stop", {"x": 1}, 3]'), ["stop", "3"], id="non-strings-dropped"),
        pytest.param(common_pb2.AnyValue(int_value=3), [], id="int"),
    ],
)
def test_string_list(value, expected):
    assert genai.string_list(value) == expected
