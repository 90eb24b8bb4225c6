"""`flask --app wsgi feedback-worker`: runs queued generations, coordinating through the
database with leases (any number of workers, on any host)."""

import logging
import signal
import threading
import time

from flask import current_app

from interview_service.errors import ServiceError
from interview_service.feedback import service
from interview_service.feedback.provider import ProviderUnavailable
from interview_service.sessions import service as sessions_service

log = logging.getLogger(__name__)

# A report claimed this many times without an answer fails (a poison pill or a dead provider).
MAX_CLAIMS = 5


def budget_of(config):
    """(lease, budget) in seconds: a generation's budget covers each attempt's call with every
    transport retry, and the lease must outlast it, so no live worker is ever taken over."""
    lease = config["FEEDBACK_LEASE_SECONDS"]
    budget = service.ATTEMPTS * (1 + config["LLM_MAX_RETRIES"]) * config["LLM_TIMEOUT"]
    if lease <= budget:
        raise RuntimeError(
            f"FEEDBACK_LEASE_SECONDS ({lease}) must exceed {budget} s: "
            f"{service.ATTEMPTS} attempts × (1 + LLM_MAX_RETRIES) × LLM_TIMEOUT"
        )
    return lease, budget


def run(stop, once=False):
    """Claim and run pending reports until `stop` is set (or, with `once`, none is left)."""
    config = current_app.config
    lease, budget = budget_of(config)
    owner = service.owner_id()
    log.info("feedback worker started", extra={"owner": owner})
    while not stop.is_set():
        report = sessions_service.claim_report(owner, lease)
        if report is not None:
            process(report, owner, budget)
        elif once:
            break
        else:
            stop.wait(config["FEEDBACK_POLL_SECONDS"])
    log.info("feedback worker stopped", extra={"owner": owner})


def process(report, owner, budget):
    """Run the generation of a claimed report: ready, failed, or released for a later retry."""
    session = sessions_service.find_session(report)
    if session is None:  # deleted while queued
        sessions_service.discard_report(report, owner)
        return
    failure = {"attempts": 0, "error": None}
    try:
        transcript = sessions_service.generation_transcript(session)
        config = current_app.config
        chat = service.chat_provider(config["LLM_MAX_RETRIES"])
        deadline = time.monotonic() + budget
        content, generator = service.run(chat, session, transcript, deadline, config["LLM_TIMEOUT"])
        service.save_performance(session, content)
    except ProviderUnavailable as error:
        if report.claims < MAX_CLAIMS:
            sessions_service.release_report(report, owner, error.retry_after)
            return
        failure["error"] = f"{error.message} ({report.claims} tries)"
    except service.GenerationFailed as error:
        failure = error.generator
    except ServiceError as error:
        failure["error"] = error.message
    else:
        if not sessions_service.finish_report(report, owner, content, generator):
            log.warning("feedback lease lost before the report was stored")
        return
    sessions_service.fail_report(report, owner, failure)


def serve(once=False):
    """Run until SIGTERM or SIGINT; the generation in progress finishes first."""
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        run(stop, once)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
