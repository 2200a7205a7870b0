"""A small OpenAI-compatible chat-completions server on loopback, answering from a script.

Each POST to /v1/chat/completions takes the next scripted answer: a rewrite (text, or a function of the draft
it was sent), an HTTP error, a body that is not what the API returns, or an answer that comes too late. Every
request is kept, so tests can check what Plixo sent and that it sent nothing at all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    content: str | Callable[[str], str] = ""  # the assistant's message, or made from the draft sent
    status: int = 200
    raw: bytes | None = None  # sent as the body instead of a chat completion
    delay: float = 0.0  # seconds to wait before answering


@dataclass
class FakeLLM:
    base: str = ""
    script: list[Answer] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def answer(self, *answers: Answer) -> None:
        """Queue answers for the next requests, in order."""
        with self.lock:
            self.script.extend(answers)

    def next_answer(self, request: dict) -> Answer:
        with self.lock:
            self.requests.append(request)
            return self.script.pop(0) if self.script else Answer(status=500, raw=b'{"error": "nothing scripted"}')

    @staticmethod
    def draft_of(request: dict) -> str:
        """The e-mail a request asked to rewrite (the user's message)."""
        return next(m["content"] for m in request["json"]["messages"] if m["role"] == "user")


def completion(content: str, model: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }).encode()


def serve() -> tuple[FakeLLM, ThreadingHTTPServer]:
    """Start the fake on a free loopback port; stop it with `stop(fake, server)`."""
    fake = FakeLLM()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            request = {"path": self.path, "headers": dict(self.headers), "json": body}
            answer = fake.next_answer(request)
            if answer.delay and fake.stopping.wait(answer.delay):
                return
            if answer.raw is not None:
                payload = answer.raw
            else:
                content = answer.content(fake.draft_of(request)) if callable(answer.content) else answer.content
                payload = completion(content, body.get("model", ""))
            self._send(answer.status, payload)

        def _send(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: what a timeout test expects

        def log_message(self, format, *args):  # the test output stays quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return fake, server


def stop(fake: FakeLLM, server: ThreadingHTTPServer) -> None:
    fake.stopping.set()  # a late answer still waiting gives up
    server.shutdown()
    server.server_close()
