"""A small OpenAI-compatible LLM server for the end-to-end suite and ``make demo``.

Answers ``POST /v1/chat/completions`` (plain and streamed, with ``usage`` including cached and
reasoning token details) and ``POST /v1/embeddings``. Over-long prompts answer 400
(``context_length_exceeded``); a small ``max_tokens`` truncates (finish reason ``length``).
Token counts are derived from the request text, so they vary per call like real ones; the answer
repeats the user's first e-mail address, so responses carry personal data too (as real
assistants' answers do). In echo mode (``FakeLLM(echo=True)``, ``--echo``) the answer is
"You said: " and the whole user prompt, so every personal value of the prompt is in the answer.

Run: ``python -m tests.e2e.fake_llm --port 0`` prints ``fake-llm listening on port N``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Request model -> the dated model name the API answers with (as OpenAI does).
RESPONSE_MODELS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "o3-mini": "o3-mini-2025-01-31",
    "text-embedding-3-small": "text-embedding-3-small",
}
#: Prompts longer than this many tokens answer 400 context_length_exceeded.
CONTEXT_WINDOW = 4096
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _tokens(text: str) -> int:
    """Roughly four characters per token, at least one."""
    return max(1, len(text) // 4)


def _text_of(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _usage(prompt: str, answer: str, model: str) -> dict[str, Any]:
    prompt_tokens = _tokens(prompt)
    completion_tokens = _tokens(answer)
    # Long prompts are partly served from the prompt cache (OpenAI caches 1024-token prefixes;
    # scaled down here so the demo prompts hit it); reasoning models think before answering.
    cached = (prompt_tokens // 2) if prompt_tokens >= 32 else 0
    reasoning = 3 * completion_tokens if model.startswith("o") else 0
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens + reasoning,
        "total_tokens": prompt_tokens + completion_tokens + reasoning,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def _answer(prompt: str) -> str:
    email = _EMAIL.search(prompt)
    contact = f" I will send the summary to {email.group(0)}." if email else ""
    return "Here is a short summary of your request." + contact


def _echo(messages: list[dict[str, Any]]) -> str:
    """The echo-mode answer: the text of the user messages, quoted back."""
    return "You said: " + _text_of([m for m in messages if m.get("role") == "user"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no line per request
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request"}})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            self._chat(request)
        elif path.endswith("/embeddings"):
            self._embeddings(request)
        else:
            self._json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

    def _chat(self, request: dict[str, Any]) -> None:
        model = str(request.get("model", "gpt-4o-mini"))
        prompt = _text_of(request.get("messages", []))
        if _tokens(prompt) > CONTEXT_WINDOW:
            self._json(400, {"error": {
                "message": f"This model's maximum context length is {CONTEXT_WINDOW} tokens.",
                "type": "invalid_request_error", "param": "messages",
                "code": "context_length_exceeded"}})
            return
        echo = getattr(self.server, "echo", False)
        answer = _echo(request.get("messages", [])) if echo else _answer(prompt)
        # A small max_tokens cuts the answer: finish reason "length", as the real API does.
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        finish = "stop"
        if limit and _tokens(answer) > int(limit):
            answer, finish = answer[: 4 * int(limit)], "length"
        usage = _usage(prompt, answer, model)
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        response_model = RESPONSE_MODELS.get(model, model)
        if not request.get("stream"):
            self._json(200, {
                "id": ident, "object": "chat.completion", "created": created,
                "model": response_model, "system_fingerprint": "fp_e2e",
                "service_tier": "default",
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                             "message": {"role": "assistant", "content": answer,
                                         "refusal": None}}],
                "usage": usage,
            })
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta: dict[str, Any], finish: str | None, with_usage: bool = False) -> None:
            body: dict[str, Any] = {
                "id": ident, "object": "chat.completion.chunk", "created": created,
                "model": response_model, "system_fingerprint": "fp_e2e",
                "choices": [] if with_usage else [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
            if with_usage:
                body["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")

        chunk({"role": "assistant", "content": ""}, None)
        for word in answer.split(" "):
            chunk({"content": word + " "}, None)
        chunk({}, finish)
        if (request.get("stream_options") or {}).get("include_usage"):
            chunk({}, None, with_usage=True)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _embeddings(self, request: dict[str, Any]) -> None:
        inputs = request.get("input", "")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        tokens = sum(_tokens(str(i)) for i in inputs)
        self._json(200, {
            "object": "list",
            "model": RESPONSE_MODELS.get(str(request.get("model")), str(request.get("model"))),
            "data": [{"object": "embedding", "index": i,
                      "embedding": [((len(str(text)) + k) % 17) / 17.0 for k in range(8)]}
                     for i, text in enumerate(inputs)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


class FakeLLM:
    """The server on a background thread; ``with FakeLLM() as llm: llm.base_url``.

    ``echo=True`` answers "You said: " + the user prompt instead of the short summary.
    """

    def __init__(self, port: int = 0, echo: bool = False) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.echo = echo  # read by the handler
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--echo", action="store_true", help="answer with the user prompt")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    server.echo = args.echo
    print(f"fake-llm listening on port {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
