"""A fake OpenAI-compatible chat-completions server on loopback, and the model's answers
(for factories.TRANSCRIPT) the feedback tests script it with."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(**changes):
    """A valid model answer for TRANSCRIPT (evidence and questions cite real indexes)."""
    body = {
        "summary": "Clear, structured answers with concrete mechanisms.",
        "strengths": ["Concrete sharding plan", "Reproducible testing"],
        "weaknesses": ["Little on failure modes"],
        "recommendations": ["Discuss rebalancing costs"],
        "scores": {"overall": 78, "communication": 82, "technical": 75, "behavior": 70},
        "evidence": {"strengths": [[1], [3]], "weaknesses": [[1]], "recommendations": [[0, 1]]},
        "questions": [
            {"questionIndex": 0, "answerIndexes": [1], "score": 80, "feedback": "Solid plan."},
            {"questionIndex": 2, "answerIndexes": [3], "score": 55, "feedback": "Go deeper."},
        ],
    }
    body.update(changes)
    return body


def completion(content, prompt_tokens=120, completion_tokens=80):
    """A chat-completions response body whose message is `content` (a dict is sent as JSON)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# What the fake does for one request:
def reply(content):
    """Answer 200 with `content` as the model's message."""
    return ("reply", content)


def status(code, headers=None):
    """Answer an HTTP error status (e.g. 429 with Retry-After, 500)."""
    return ("status", code, headers or {})


def slow(seconds, then):
    """Wait `seconds`, then do `then`."""
    return ("slow", seconds, then)


DROP = ("drop",)  # close the connection without answering


class FakeProvider:
    """The fake server: each request takes the next scripted behaviour, else `default`."""

    def __init__(self):
        self.script = []
        self.default = reply(answer())
        self.requests = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def then(self, *behaviours):
        """Script the next requests' behaviours."""
        with self.lock:
            self.script.extend(behaviours)
        return self

    def next_behaviour(self, body):
        with self.lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.act(fake.next_behaviour(body))

            def act(self, behaviour):
                kind = behaviour[0]
                if kind == "slow":
                    time.sleep(behaviour[1])
                    return self.act(behaviour[2])
                if kind == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return None
                if kind == "status":
                    self.send(behaviour[1], {"error": {"message": "fake failure"}}, behaviour[2])
                    return None
                return self.send(200, completion(behaviour[1]))

            def send(self, code, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def provider_settings(fake, **overrides):
    """App settings pointing at `fake` with short budgets."""
    return {
        "LLM_BASE_URL": fake.url,
        "LLM_API_KEY": "test-key",
        "LLM_MODEL": "fake-model",
        "LLM_TIMEOUT": 3,
        "LLM_MAX_RETRIES": 0,
        **overrides,
    }


def generate(client, session_id, headers=None, path="feedback/generate", **extra):
    """POST a generation; returns the response."""
    return client.post(f"/api/sessions/{session_id}/{path}", headers={**(headers or {}), **extra})
