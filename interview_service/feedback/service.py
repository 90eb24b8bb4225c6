"""Rules of feedback generation: claim the session's report, ask the model, validate its
answer, store the report and save the linked interview's performance."""

import json
import logging
import os
import secrets
import socket
import time

from flask import current_app
from marshmallow import ValidationError
from mongoengine.errors import DoesNotExist
from prometheus_client import Counter, Histogram

from interview_service.errors import BadGateway, Conflict, NotFound
from interview_service.feedback import prompt
from interview_service.feedback.provider import ChatProvider, ProviderUnavailable
from interview_service.performance import service as performance_service
from interview_service.sessions import service as sessions_service
from interview_service.sessions.models import ASSISTANT, PENDING, USER
from interview_service.sessions.schemas import GeneratedContentSchema

log = logging.getLogger(__name__)

# The model's answer is validated like a posted report plus evidence and questions; the
# statistics are always the server's, so an answer carrying its own is invalid.
CONTENT_SCHEMA = GeneratedContentSchema(exclude=("statistics",))
ATTEMPTS = 2  # the first answer and one retry with its validation errors
PASSING_SCORE = 60  # an answered question scored this or more counts as a correct answer
# A request generating in place holds its report's lease this much longer than its budget.
LEASE_MARGIN_SECONDS = 5
WAIT_POLL_SECONDS = 0.2
EVIDENCE_KINDS = ("strengths", "weaknesses", "recommendations")
PROVIDERS = "interview_service.feedback.providers"

GENERATIONS = Counter(
    "feedback_generations_total", "Feedback generations finished, by outcome", ["outcome"]
)
GENERATION_LATENCY = Histogram(
    "feedback_generation_seconds",
    "Time from the first model call to a validated answer or the failure",
    buckets=(0.5, 1, 2.5, 5, 10, 15, 20, 30, 60, 120),
)
TOKENS = Counter("feedback_tokens_total", "Model tokens used by feedback generation", ["kind"])


class GenerationFailed(BadGateway):
    """The model's answer stayed invalid; `generator` says what was spent on it."""

    def __init__(self, message, generator):
        super().__init__(message)
        self.generator = generator


def chat_provider(max_retries=0):
    """The app's provider client, one per retry policy (the SDK's client is thread-safe and
    keeps its connections); ProviderUnavailable when none is configured."""
    providers = current_app.extensions.setdefault(PROVIDERS, {})
    if max_retries not in providers:
        providers[max_retries] = ChatProvider(current_app.config, max_retries)
    return providers[max_retries]


def owner_id():
    """A name for this process's claims that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def interview_is_users(user, interview_id):
    """True when `interview_id` is one of `user`'s interviews (the sessions link check)."""
    try:
        performance_service.get_interview(user, interview_id)
    except NotFound:
        return False
    return True


# --- in the request ---------------------------------------------------------------------


def generate(user, session_id, idempotency_key=None, queue=False):
    """Generate the session's report within LLM_TIMEOUT, or queue it for a feedback-worker
    (`queue`); a retried call with the same Idempotency-Key returns the first report."""
    session = sessions_service.get_session(user, session_id)
    earlier = sessions_service.report_for_key(session, idempotency_key)
    if earlier is not None:
        return earlier if queue else _finished(earlier)
    transcript = sessions_service.generation_transcript(session)
    chat = chat_provider()
    if queue:
        report, _ = sessions_service.start_report(session, idempotency_key)
        return report
    owner, budget = owner_id(), current_app.config["LLM_TIMEOUT"]
    report, started = sessions_service.start_report(
        session, idempotency_key, owner, budget + LEASE_MARGIN_SECONDS
    )
    if not started:  # a call with the same key won the race: its result is ours
        return _finished(report)
    try:
        content, generator = run(chat, session, transcript, time.monotonic() + budget, budget)
        save_performance(session, content)
    except Exception:
        sessions_service.discard_report(report, owner)  # an error stores nothing
        raise
    sessions_service.finish_report(report, owner, content, generator)
    report.reload()
    return report


def _finished(report):
    """`report` once its generation (in another request) is done; Conflict if it takes too long."""
    deadline = time.monotonic() + current_app.config["LLM_TIMEOUT"]
    while report.status == PENDING and time.monotonic() < deadline:
        time.sleep(WAIT_POLL_SECONDS)
        try:
            report.reload()
        except DoesNotExist:  # that generation failed and stored nothing: this call may retry
            raise Conflict(
                "The generation with this Idempotency-Key failed", retry_after=1
            ) from None
    if report.status == PENDING:
        raise Conflict("The report is still being generated", retry_after=WAIT_POLL_SECONDS * 10)
    return report


# --- the generation itself --------------------------------------------------------------


def run(chat, session, transcript, deadline, call_timeout):
    """Ask `chat` for the report (one retry with the validation errors) before `deadline`;
    return (content, generator). Nothing of the prompt or the answer is ever logged."""
    conversation = prompt.conversation(session, transcript)
    started = time.monotonic()
    generator = {
        "provider": chat.name,
        "model": chat.model,
        "prompt_version": prompt.PROMPT_VERSION,
        "input_tokens": 0,
        "output_tokens": 0,
        "attempts": 0,
    }
    try:
        for _ in range(ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProviderUnavailable("The feedback provider did not answer in time")
            completion = chat.complete(conversation, min(call_timeout, remaining))
            generator["attempts"] += 1
            generator["input_tokens"] += completion.input_tokens or 0
            generator["output_tokens"] += completion.output_tokens or 0
            try:
                content = validated(completion.text, session, transcript)
            except ValidationError as error:
                conversation += prompt.correction(completion.text, error.messages)
                continue
            _record(generator, started, "ready")
            return content, generator
    except ProviderUnavailable:
        _record(generator, started, "unavailable")
        raise
    except BadGateway:
        _record(generator, started, "refused")
        raise
    _record(generator, started, "invalid")
    generator["error"] = f"The model's answer did not validate in {ATTEMPTS} attempts"
    raise GenerationFailed("The feedback model's answer stayed invalid after a retry", generator)


def _record(generator, started, outcome):
    """Finish `generator`'s figures and count the generation in the metrics."""
    elapsed = time.monotonic() - started
    generator["latency_ms"] = round(elapsed * 1000)
    GENERATIONS.labels(outcome).inc()
    GENERATION_LATENCY.observe(elapsed)
    TOKENS.labels("input").inc(generator["input_tokens"])
    TOKENS.labels("output").inc(generator["output_tokens"])
    log.info(
        "feedback generation %s",
        outcome,
        extra={
            "outcome": outcome,
            "attempts": generator["attempts"],
            "latency_ms": generator["latency_ms"],
            "input_tokens": generator["input_tokens"],
            "output_tokens": generator["output_tokens"],
        },
    )


def validated(text, session, transcript):
    """The model's answer as report content, or ValidationError: evidence and questions kept
    to what the transcript holds, statistics the server's own."""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ValidationError({"_schema": ["The answer must be one JSON object."]})
    content = CONTENT_SCHEMA.load(answer)
    roles = {message["message_index"]: message["role"] for message in transcript}
    content["evidence"] = {
        kind: [[i for i in dict.fromkeys(item) if i in roles] for item in content["evidence"][kind]]
        for kind in EVIDENCE_KINDS
    }
    content["questions"] = _answered_questions(content["questions"], roles)
    content["statistics"] = sessions_service.transcript_statistics(session)
    return content


def _answered_questions(questions, roles):
    """Questions that are assistant messages, with answers that are candidate messages."""
    kept = {}
    for item in questions:
        answers = [i for i in dict.fromkeys(item["answer_indexes"]) if roles.get(i) == USER]
        if roles.get(item["question_index"]) == ASSISTANT and answers:
            kept.setdefault(item["question_index"], {**item, "answer_indexes": answers})
    return list(kept.values())


# --- into the analytics -----------------------------------------------------------------


def save_performance(session, content):
    """Save the linked interview's performance from the report (idempotent: the first stays)."""
    interview_id = session.config.interview_id
    if not interview_id or not session.user_id:
        return None
    try:
        interview = performance_service.get_interview(session.user_id, interview_id)
        return performance_service.save_performance(
            session.user_id,
            interview_id,
            performance_of(session, content, interview.interview_type),
            completed_at=session.end_time,
        )
    except NotFound:  # the interview was deleted since: the report still stands
        log.warning("linked interview gone; no performance saved")
        return None


def performance_of(session, content, interview_type):
    """DESIGN's mapping of a report to a performance; a field with no source stays null."""
    scores, statistics, answered = content["scores"], content["statistics"], content["questions"]
    total = statistics["question_count"]
    correct = sum(1 for item in answered if item["score"] >= PASSING_SCORE)
    minutes = session.duration / 60_000 if session.duration is not None else None
    if total is not None:
        correct = min(correct, total)
    return {
        "score": scores["overall"],
        "total_questions": total,
        "correct_answers": correct,
        "time_spent": minutes,
        "feedback": {
            "overall": content["summary"],
            "strengths": content["strengths"],
            "improvements": content["weaknesses"],
            "recommendations": content["recommendations"],
        },
        "round_results": [
            {
                "round_type": interview_type,
                "score": scores["overall"],
                "questions_answered": len(answered) if total is None else min(len(answered), total),
                "total_questions": total,
                "time_spent": minutes,
            }
        ],
    }
