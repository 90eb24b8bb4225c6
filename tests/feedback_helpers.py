"""A fake OpenAI-compatible chat-completions server on loopback, and builders for the
feedback tests: an ended session with a known transcript, the model's answers."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.account_helpers import SESSION_CONFIG as CONFIG
from tests.performance_helpers import create_interview

# messageIndex 0..3: question, answer, question, answer. The texts are searched for in logs.
TRANSCRIPT = [
    {"role": "assistant", "content": "How would you shard a zebra-ledger?", "isQuestion": True},
    {"role": "user", "content": "By customer id, with a quokka-rebalancer moving hot ranges."},
    {"role": "assistant", "content": "How do you test a flaky marmot-queue?", "isQuestion": True},
    {"role": "user", "content": "Record the seed and replay it in a narwhal-harness."},
]
SECRET_WORDS = ("zebra-ledger", "quokka-rebalancer", "marmot-queue", "narwhal-harness")


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


def ended_session(client, headers=None, interview_id=None, messages=TRANSCRIPT, end=True):
    """A session with `messages`, ended (unless `end` is False); returns its sessionId."""
    config = {**CONFIG, "interviewId": interview_id} if interview_id else CONFIG
    response = client.post("/api/sessions", json={"config": config}, headers=headers)
    assert response.status_code == 201, response.get_json()
    session_id = response.get_json()["sessionId"]
    if messages:
        batch = [
            {"role": m["role"], "content": m["content"], "metadata": {"isQuestion": True}}
            if m.get("isQuestion")
            else {"role": m["role"], "content": m["content"]}
            for m in messages
        ]
        response = client.post(
            f"/api/sessions/{session_id}/conversations",
            json={"messages": batch},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
    if end:
        response = client.put(f"/api/sessions/{session_id}/end", headers=headers)
        assert response.status_code == 200, response.get_json()
    return session_id


def linked_session(client, headers, **interview):
    """An interview of the caller and an ended session linked to it: (session_id, interview_id)."""
    interview_id = create_interview(client, headers, **interview)["id"]
    return ended_session(client, headers, interview_id), interview_id


def generate(client, session_id, headers=None, path="feedback/generate", **extra):
    """POST a generation; returns the response."""
    return client.post(f"/api/sessions/{session_id}/{path}", headers={**(headers or {}), **extra})
