"""A realistic demo history for one user, created through the blueprints' services.

Everything goes through the same service functions the API calls (interview lifecycle,
idempotent saves, atomic transcript appends, computed report statistics), so the seeded
data obeys the same rules as real data. Seeding is additive: each run adds a new history.
"""

import random
from datetime import timedelta

from interview_service import times
from interview_service.performance import service as performance_service
from interview_service.sessions import service as sessions_service

HISTORY_DAYS = 120
COMPANIES = ("Google", "Stripe", "Shopify", "Atlassian", "Netflix", "Spotify", "Datadog")
# (job title, interview type, experience level) of the kinds of interview practised.
TRACKS = (
    ("Backend Engineer", "technical", "mid"),
    ("Software Engineer", "dsa", "entry"),
    ("Senior Software Engineer", "system-design", "senior"),
    ("Engineering Manager", "behavioral", "senior"),
    ("Full-Stack Developer", "mixed", "mid"),
    ("Graduate Analyst", "aptitude", "entry"),
)
ROUNDS = {
    "technical": ("coding", "technical-discussion"),
    "dsa": ("arrays-and-strings", "graphs", "dynamic-programming"),
    "system-design": ("requirements", "high-level-design", "deep-dive"),
    "behavioral": ("behavioral", "culture-fit"),
    "mixed": ("coding", "behavioral"),
    "aptitude": ("quantitative", "logical-reasoning"),
}
STRENGTHS = (
    "Clear communication",
    "Structured problem solving",
    "Good use of examples",
    "Solid data structure knowledge",
    "Asks clarifying questions",
    "Calm under pressure",
)
IMPROVEMENTS = (
    "Consider edge cases earlier",
    "Quantify impact in answers",
    "Manage time across questions",
    "Explain trade-offs explicitly",
    "Test code before finishing",
    "Keep answers concise",
)
RECOMMENDATIONS = (
    "Practise timed coding problems",
    "Prepare STAR stories for leadership questions",
    "Review caching and consistency patterns",
    "Do a mock interview with a peer each week",
)
QUESTIONS = (
    ("Tell me about a project you are proud of?", "I led the migration of our billing service "
     "to an event-driven design, cutting failed invoices by 40%."),
    ("How would you design a rate limiter for a public API?", "A token bucket per client, kept "
     "in a shared store, with the limits in configuration and a Retry-After header."),
    ("Describe a disagreement with a teammate and how you resolved it?", "We disagreed on a "
     "schema change; I wrote up both options with their costs and we chose together."),
    ("What happens when you type a URL into the browser?", "DNS resolution, a TCP and TLS "
     "handshake, the HTTP request, then parsing and rendering of the response."),
)  # fmt: skip


def seed_demo(user, count, rng=None, now=None, progress=None):
    """Create `count` completed interviews (plus one in progress and one ready) over recent
    months, and two agent sessions (one completed with a report, one abandoned).

    `progress(1)` is called after each completed interview. Returns what was created: counts
    and the time span of the history.
    """
    rng = rng or random.Random()
    now = now or times.now()
    completed = []
    for number in range(count):
        completed.append(_completed_interview(user, number, count, rng, now))
        if progress:
            progress(1)
    track = rng.choice(TRACKS)
    started = _interview(user, track, rng, now - timedelta(days=1))
    performance_service.start_interview(user, str(started.id), "in-progress")
    _interview(user, rng.choice(TRACKS), rng, now - timedelta(hours=2))
    sessions = [
        _session(user, rng, now - timedelta(days=3), questions=4, status="completed"),
        _session(user, rng, now - timedelta(days=1, hours=5), questions=2, status="abandoned"),
    ]
    return {
        "interviews": count + 2,
        "performances": count,
        "first_completed_at": completed[0].completed_at,
        "last_completed_at": completed[-1].completed_at,
        "sessions": len(sessions),
        "conversations": sum(messages for messages, _ in sessions),
        "reports": sum(reports for _, reports in sessions),
    }


def _interview(user, track, rng, created_at):
    """A ready interview for `track` at a random company."""
    job_title, interview_type, experience_level = track
    data = {
        "job_title": job_title,
        "company_name": rng.choice(COMPANIES),
        "interview_type": interview_type,
        "experience_level": experience_level,
    }
    return performance_service.create_interview(user, data, created_at=created_at)


def _completed_interview(user, number, count, rng, now):
    """The `number`-th of `count` interviews, spread over HISTORY_DAYS and improving slowly."""
    progress = number / max(count - 1, 1)
    created_at = now - timedelta(days=HISTORY_DAYS * (1 - progress) + 2, hours=rng.randint(0, 9))
    track = rng.choice(TRACKS)
    interview = _interview(user, track, rng, created_at)
    performance_service.start_interview(user, str(interview.id), "in-progress")
    score = _clamp(55 + 25 * progress + rng.uniform(-8, 8))
    rounds = _rounds(track[1], score, rng)
    total = sum(item["total_questions"] for item in rounds)
    time_spent = sum(item["time_spent"] for item in rounds)
    data = {
        "score": score,
        "total_questions": total,
        "correct_answers": round(total * score / 100),
        "time_spent": time_spent,
        "feedback": {
            "overall": _overall(score),
            "strengths": rng.sample(STRENGTHS, 2),
            "improvements": rng.sample(IMPROVEMENTS, 2),
            "recommendations": rng.sample(RECOMMENDATIONS, 1),
        },
        "round_results": rounds,
    }
    completed_at = created_at + timedelta(minutes=time_spent + rng.randint(5, 30))
    result = performance_service.save_performance(
        user, str(interview.id), data, completed_at=completed_at
    )
    return result.performance


def _rounds(interview_type, score, rng):
    """Round results around the overall score."""
    rounds = []
    for round_type in ROUNDS[interview_type]:
        total = rng.randint(2, 5)
        rounds.append(
            {
                "round_type": round_type,
                "score": _clamp(score + rng.uniform(-12, 12)),
                "questions_answered": rng.randint(max(total - 2, 1), total),
                "total_questions": total,
                "time_spent": float(rng.randint(10, 25)),
            }
        )
    return rounds


def _overall(score):
    """A one-line verdict for the score."""
    if score >= 80:
        return "Strong interview: ready for the real thing."
    if score >= 65:
        return "Solid performance with a few gaps to close."
    return "A good start; focus on the improvements below."


def _clamp(score):
    return round(min(max(score, 0.0), 100.0), 1)


def _session(user, rng, started_at, questions, status):
    """An agent session with `questions` question/answer pairs, ended as `status`; a completed
    one gets a feedback report. Returns (messages stored, reports stored)."""
    company = rng.choice(COMPANIES)
    data = {
        "config": {
            "role": "Backend Engineer",
            "company_name": company,
            "interview_type": "mixed",
            "difficulty": "mid",
            "interaction_mode": "text",
        },
        "resume": {
            "file_name": "resume.txt",
            "content": "Backend engineer, 5 years: Python, Go, PostgreSQL, MongoDB, Kubernetes.",
        },
    }
    session, _ = sessions_service.create_session(user, data, started_at=started_at)
    messages, moment = [], started_at
    for asked, answer in rng.sample(QUESTIONS, questions):
        moment += timedelta(seconds=rng.randint(20, 60))
        messages.append(
            {"role": "assistant", "content": asked, "timestamp": moment,
             "metadata": {"isQuestion": True}}
        )  # fmt: skip
        moment += timedelta(seconds=rng.randint(45, 180))
        messages.append({"role": "user", "content": answer, "timestamp": moment})
    sessions_service.append_messages(user, session.session_id, messages, batch=True)
    end_time = moment + timedelta(minutes=2)
    sessions_service.end_session(user, session.session_id, status, end_time)
    if status != "completed":
        return len(messages), 0
    overall = rng.randint(65, 85)
    content = {
        "summary": f"A confident mixed interview for {company}; answers were concrete.",
        "strengths": rng.sample(STRENGTHS, 2),
        "weaknesses": rng.sample(IMPROVEMENTS, 2),
        "recommendations": rng.sample(RECOMMENDATIONS, 2),
        "scores": {
            "overall": overall,
            "communication": _clamp(overall + rng.randint(-5, 10)),
            "technical": _clamp(overall + rng.randint(-10, 5)),
            "behavior": _clamp(overall + rng.randint(-5, 5)),
        },
    }
    sessions_service.add_report(user, session.session_id, "feedback", content)
    return len(messages), 1
