"""Realistic LLM traffic: the OpenAI Python SDK, instrumented by a real instrumentation library,
calling the fake LLM server, exporting OTLP/gRPC to the collector. Prompts carry personal data.

One library per process (instrumentors of one SDK do not stack cleanly):
  openai-v2      the official opentelemetry-instrumentation-openai-v2 (latest GenAI conventions,
                 content on spans and as log events)
  openllmetry    Traceloop's opentelemetry-instrumentation-openai (indexed gen_ai.prompt.* keys)
  openinference  Arize's openinference-instrumentation-openai (llm.* keys, INTERNAL spans)
  manual         no library: the app writes GenAI convention spans itself: an agent run with two
                 tool calls (one failing) around a streamed call,
                 with the time to the first chunk (which none of the libraries records)
Every run makes: a chat call, a streamed chat call, a reasoning-model call, a truncated call
(finish reason length), a call to a self-hosted model no price table knows, a call rejected by
the server (context length exceeded) and an embeddings call. The resource carries the
attribution dimensions team and feature.

Run: ``python -m tests.e2e.traffic --library openai-v2 --otlp 127.0.0.1:4317
--llm http://127.0.0.1:PORT/v1 --service demo-openai-v2 --run-id abc``. Prints one JSON line:
the service name, the trace ids of the calls and the personal data strings put in the prompts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

LIBRARIES = ("openai-v2", "openllmetry", "openinference", "manual")


def pii_values(run_id: str) -> dict[str, str]:
    """Personal data inserted into prompts; unique per run so stale data cannot match."""
    return {
        "email": f"maria.gonzalez.{run_id}@example.org",
        "credit_card": "4111 1111 1111 1111",
        "phone": "(415) 555-0134",
    }


def _prompts(pii: dict[str, str]) -> list[str]:
    return [
        f"My name is Maria Gonzalez, my email is {pii['email']} and my phone number is "
        f"{pii['phone']}. Summarize my last three support tickets about the late delivery.",
        f"Please update the card on file to {pii['credit_card']} and confirm by e-mail to "
        f"{pii['email']}.",
    ]


def _instrument(library: str, tracer_provider, logger_provider) -> None:
    if library == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider,
                                        logger_provider=logger_provider)
    elif library == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    elif library == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    elif library == "manual":
        pass
    else:
        raise SystemExit(f"unknown library {library!r}; choose from {', '.join(LIBRARIES)}")


#: The SDK calls of one run, in order (each is one trace): those before the embeddings call
#: are chat calls, which get an inference log record each.
SDK_CALLS = ("chat", "chat-stream", "chat-reasoning", "chat-truncated", "chat-unpriced",
             "chat-rejected", "embeddings")


def _calls(openai, client, system: dict[str, str], first: str, second: str) -> None:
    """The SDK calls an instrumentation library describes (SDK_CALLS, in that order)."""
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[system, {"role": "user", "content": first}])
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[system, {"role": "user", "content": second}],
        stream=True, stream_options={"include_usage": True})
    for _ in stream:
        pass
    client.chat.completions.create(
        model="o3-mini", messages=[{"role": "user", "content": first}])
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": second}], max_tokens=4)
    client.chat.completions.create(
        model="acme-support-llm-7b", messages=[{"role": "user", "content": first}])
    with contextlib.suppress(openai.BadRequestError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": first * 200}])
    client.embeddings.create(model="text-embedding-3-small", input=[first, second])


def _manual_stream(tracer, client, system: dict[str, str], prompt: str,
                   max_tokens: int | None = None) -> None:
    """A streamed chat call described by the app itself with GenAI convention attributes."""
    from opentelemetry.trace import SpanKind

    messages = [system, {"role": "user", "content": prompt}]
    with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        span.set_attribute("gen_ai.request.stream", True)
        span.set_attribute("gen_ai.input.messages", json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]))
        started = time.monotonic()
        first_chunk = None
        answer, usage, finish, model = [], None, None, None
        if max_tokens is not None:
            span.set_attribute("gen_ai.request.max_tokens", max_tokens)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, max_tokens=max_tokens,
            stream_options={"include_usage": True})
        for chunk in stream:
            if first_chunk is None:
                first_chunk = time.monotonic() - started
            model = chunk.model
            for choice in chunk.choices:
                answer.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
        span.set_attribute("gen_ai.response.model", model)
        span.set_attribute("gen_ai.response.time_to_first_chunk", first_chunk)
        span.set_attribute("gen_ai.response.finish_reasons", [finish or "stop"])
        span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        span.set_attribute("gen_ai.usage.cache_read.input_tokens",
                           usage.prompt_tokens_details.cached_tokens)
        span.set_attribute("gen_ai.output.messages", json.dumps(
            [{"role": "assistant", "finish_reason": finish,
              "parts": [{"type": "text", "content": "".join(answer)}]}]))


#: A long, innocuous document the agent asks for a one-word verdict on: a large input for a
#: small output (a high-input / low-output call; the e2e sidecar config's low_yield limit).
_REPORT = " ".join(f"Ticket batch {i}: resolved within the service level, no escalation."
                   for i in range(90))
#: Model calls of one manual agent run (one trace): it crosses the e2e runaway_calls limit.
AGENT_MODEL_CALLS = 3


def _manual_agent(tracer, client, system: dict[str, str], prompt: str, run_id: str) -> None:
    """An agent run (GenAI agent span conventions) in one trace: a streamed chat call, a tool
    call that succeeds, one that fails, a follow-up chat call and a one-word verdict on a long
    report (AGENT_MODEL_CALLS model calls), all under one ``invoke_agent`` span."""
    from opentelemetry.trace import SpanKind, Status, StatusCode

    with tracer.start_as_current_span("invoke_agent support-agent",
                                      kind=SpanKind.INTERNAL) as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "support-agent")
        agent.set_attribute("gen_ai.conversation.id", f"conv-{run_id}")
        _manual_stream(tracer, client, system, prompt)
        for tool, ok in (("lookup_order", True), ("refund_order", False)):
            with tracer.start_as_current_span(f"execute_tool {tool}",
                                              kind=SpanKind.INTERNAL) as span:
                span.set_attribute("gen_ai.operation.name", "execute_tool")
                span.set_attribute("gen_ai.tool.name", tool)
                span.set_attribute("gen_ai.tool.call.id", f"call-{tool}-{run_id}")
                if not ok:
                    span.set_attribute("error.type", "PermissionError")
                    span.set_status(Status(StatusCode.ERROR))
        _manual_stream(tracer, client, system,
                       "The refund tool was refused; tell the customer what happens next.")
        _manual_stream(tracer, client, system,
                       f"One word: is this report fine? {_REPORT}", max_tokens=2)


def run(library: str, otlp: str, llm: str, service: str, run_id: str) -> dict[str, object]:
    """Make the calls; returns what was sent (service, trace ids, personal data)."""
    # Content capture switches, read by the instrumentations at instrument() time.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_and_event")
    os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "true")

    import openai
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    trace_ids: list[str] = []

    class _Record(SpanProcessor):
        def on_end(self, span) -> None:
            trace_id = f"{span.context.trace_id:032x}"
            if trace_id not in trace_ids:
                trace_ids.append(trace_id)

    resource = Resource.create({"service.name": service, "deployment.environment": "e2e",
                                "team": "support", "feature": f"tickets-{library}"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(_Record())
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp, insecure=True)))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=otlp, insecure=True)))
    _instrument(library, tracer_provider, logger_provider)

    pii = pii_values(run_id)
    client = openai.OpenAI(base_url=llm, api_key="sk-e2e-not-a-real-key", max_retries=0)
    first, second = _prompts(pii)
    system = {"role": "system", "content": "You are a concise customer support assistant."}
    if library == "manual":
        _manual_agent(tracer_provider.get_tracer("e2e.manual"), client, system, first, run_id)
    else:
        _calls(openai, client, system, first, second)

    tracer_provider.force_flush()
    logger_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    kinds = ("chat-agent",) if library == "manual" else SDK_CALLS
    assert len(trace_ids) == len(kinds), (trace_ids, kinds)
    model_calls = [AGENT_MODEL_CALLS] if library == "manual" else [1] * len(kinds)
    return {"library": library, "service": service, "trace_ids": trace_ids,
            "calls": dict(zip(trace_ids, kinds, strict=True)),
            "model_calls": dict(zip(trace_ids, model_calls, strict=True)),
            "pii": sorted(pii.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", choices=LIBRARIES, required=True)
    parser.add_argument("--otlp", default="127.0.0.1:4317", help="collector OTLP/gRPC endpoint")
    parser.add_argument("--llm", required=True, help="base URL of the OpenAI-compatible server")
    parser.add_argument("--service", help="service.name (default: demo-<library>)")
    parser.add_argument("--run-id", default="demo", help="makes the personal data unique")
    args = parser.parse_args()
    sent = run(args.library, args.otlp, args.llm, args.service or f"demo-{args.library}",
               args.run_id)
    json.dump(sent, sys.stdout)
    print()


if __name__ == "__main__":
    main()
