"""Performance analytics: one `$facet` aggregation, then O(groups + points) shaping in Python.

Operators are limited to those both MongoDB-compatible servers and mongomock implement
($facet, $group with $sum/$avg/$max/$last/$push, $unwind, $sort, $limit, $project with
$slice, $ifNull, $cond, $eq): no $setWindowFields or $reduce, so the least-squares slope and
the moving average are computed from the trend points the answer returns anyway.
"""

import hashlib
import math
from datetime import timedelta

from bson import json_util

from interview_service import db, times
from interview_service.performance.models import Performance, StatsCacheEntry

RECENT_SCORES = 10  # legacy `recentPerformance`
TREND_WINDOW = 3  # legacy `improvementTrend` and the recent/previous windows of `trend`
MOVING_AVERAGE_WINDOW = 3
STEADY_SLOPE = 0.5  # |points per interview| below this is "steady"
TOP_THEMES = 10
TOP_COMPANY_IMPROVEMENTS = 3
RECENT_PERFORMANCES = 5
# How long a cached answer may serve; also bounds what a write whose generation bump was lost
# (a crash between the two) could leave stale.
CACHE_LIFETIME = timedelta(minutes=10)
# Part of every answer's id: bumped when what is stored changes shape (2: the answer as the
# response schema dumps it), so an entry an earlier version stored is never served.
ANSWER_FORMAT = 2


def _present(path):
    """1 when the field at `path` holds a value (not missing, not null), else 0."""
    return {"$cond": [{"$eq": [{"$ifNull": [path, None]}, None]}, 0, 1]}


def _group_by(key):
    """Count, average, best, latest and average time of performances grouped by `key`."""
    return [
        {
            "$group": {
                "_id": key,
                "count": {"$sum": 1},
                "averageScore": {"$avg": "$score"},
                "bestScore": {"$max": "$score"},
                "latestScore": {"$last": "$score"},  # input is sorted oldest first
                "averageTimeSpent": {"$avg": "$timeSpent"},
            }
        },
        {"$sort": {"count": -1, "_id": 1}},
    ]


def _theme_counts(path):
    """The most frequent normalised phrases at `path` (each counts once per performance)."""
    return [
        {"$unwind": path},
        {"$group": {"_id": path, "count": {"$sum": 1}}},
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": TOP_THEMES},
    ]


def _minutes_per_question(key):
    """Time and questions of the performances that have both, grouped by `key`."""
    return [
        {"$match": {"timeSpent": {"$ne": None}, "totalQuestions": {"$gt": 0}}},
        {
            "$group": {
                "_id": key,
                "minutes": {"$sum": "$timeSpent"},
                "questions": {"$sum": "$totalQuestions"},
            }
        },
        {"$sort": {"_id": 1}},
    ]


def pipeline(limit):
    """The `$facet` stage; its input is the filtered performances sorted oldest first."""
    newest_first = {"$sort": {"completedAt": -1, "_id": -1}}
    answered = "$roundResults.questionsAnswered"
    asked = "$roundResults.totalQuestions"
    both_counts = {"$eq": [{"$add": [_present(answered), _present(asked)]}, 2]}
    return [
        {
            "$facet": {
                "summary": [
                    {
                        "$group": {
                            "_id": None,
                            "count": {"$sum": 1},
                            "averageScore": {"$avg": "$score"},
                            "bestScore": {"$max": "$score"},
                            "latestScore": {"$last": "$score"},
                            "totalTimeSpent": {"$sum": "$timeSpent"},
                            "averageTimeSpent": {"$avg": "$timeSpent"},
                        }
                    }
                ],
                "accuracy": [
                    {"$match": {"correctAnswers": {"$ne": None}, "totalQuestions": {"$gt": 0}}},
                    {
                        "$group": {
                            "_id": None,
                            "correct": {"$sum": "$correctAnswers"},
                            "asked": {"$sum": "$totalQuestions"},
                        }
                    },
                ],
                "latestScores": [
                    newest_first,
                    {"$limit": RECENT_SCORES},
                    {"$project": {"_id": 0, "score": 1}},
                ],
                "points": [
                    newest_first,
                    {"$limit": limit},
                    {
                        "$project": {
                            "_id": 0,
                            "completedAt": 1,
                            "score": 1,
                            "interviewType": 1,
                            "companyName": 1,
                        }
                    },
                ],
                "byType": _group_by("$interviewType"),
                "byCompany": _group_by("$companyName"),
                "byExperienceLevel": _group_by("$experienceLevel"),
                "companyImprovements": [
                    {"$unwind": "$themes.improvements"},
                    {
                        "$group": {
                            "_id": {"company": "$companyName", "text": "$themes.improvements"},
                            "count": {"$sum": 1},
                        }
                    },
                    {"$sort": {"count": -1, "_id.text": 1}},
                    {
                        "$group": {
                            "_id": "$_id.company",
                            "top": {"$push": {"text": "$_id.text", "count": "$count"}},
                        }
                    },
                    {"$project": {"top": {"$slice": ["$top", TOP_COMPANY_IMPROVEMENTS]}}},
                ],
                "rounds": [
                    {"$unwind": "$roundResults"},
                    {
                        "$group": {
                            "_id": "$roundResults.roundType",
                            "count": {"$sum": 1},
                            "averageScore": {"$avg": "$roundResults.score"},
                            "questionsAnswered": {"$sum": {"$cond": [both_counts, answered, 0]}},
                            "totalQuestions": {"$sum": {"$cond": [both_counts, asked, 0]}},
                            "averageTimeSpent": {"$avg": "$roundResults.timeSpent"},
                        }
                    },
                    {"$sort": {"_id": 1}},
                ],
                "timeOverall": _minutes_per_question(None),
                "timeByType": _minutes_per_question("$interviewType"),
                "strengths": _theme_counts("$themes.strengths"),
                "improvements": _theme_counts("$themes.improvements"),
            }
        }
    ]


def compute(queryset, active_interviews, limit):
    """The analytics of the performances of `queryset` (already owned and filtered)."""
    facets = next(
        queryset.order_by("completed_at", "id").aggregate(pipeline(limit), allowDiskUse=True)
    )
    summary = _one(facets["summary"])
    accuracy = _one(facets["accuracy"])
    scores_newest_first = [item["score"] for item in facets["latestScores"]]
    points = list(reversed(facets["points"]))
    rounds = [_round(item) for item in facets["rounds"]]
    recent = _recent(queryset, limit)

    return {
        "stats": {
            "total_interviews": summary.get("count", 0),
            "average_score": _round_half_up(summary.get("averageScore") or 0),
            "total_time_spent": _round2(summary.get("totalTimeSpent")) or 0,
            "improvement_trend": _round_half_up(_improvement(scores_newest_first)),
            "strongest_area": _extreme_round(rounds, best=True),
            "weakest_area": _extreme_round(rounds, best=False),
            "recent_performance": list(reversed(scores_newest_first)),
        },
        "performances": recent[:limit],
        "summary": {
            "completed_interviews": summary.get("count", 0),
            "active_interviews": active_interviews,
            "average_score": _round2(summary.get("averageScore")),
            "best_score": summary.get("bestScore"),
            "latest_score": summary.get("latestScore"),
            "total_time_spent": _round2(summary.get("totalTimeSpent")) or 0,
            "average_time_spent": _round2(summary.get("averageTimeSpent")),
            "accuracy": _ratio(accuracy.get("correct"), accuracy.get("asked"), digits=4),
        },
        "trend": _trend(points),
        "by_type": [_group(item) for item in facets["byType"]],
        "by_company": _companies(facets["byCompany"], facets["companyImprovements"]),
        "by_experience_level": [_group(item) for item in facets["byExperienceLevel"]],
        "rounds": rounds,
        "time_management": {
            "minutes_per_question": _minutes(_one(facets["timeOverall"])),
            "by_type": [
                {"interview_type": item["_id"], "minutes_per_question": _minutes(item)}
                for item in facets["timeByType"]
            ],
        },
        "feedback_themes": {
            "strengths": _themes(facets["strengths"]),
            "improvements": _themes(facets["improvements"]),
        },
        "recent": recent[:RECENT_PERFORMANCES],
    }


def cached(user_id, key, compute):
    """The stats answer of `user_id` for `key` (its filters and limit): the shared cached one
    while no write happened since (one indexed read), else `compute()`d and stored for every
    worker."""
    collection = StatsCacheEntry._get_collection()
    generation_id, answer_id = _generation_id(user_id), _answer_id(user_id, key)
    found = {
        entry["_id"]: entry
        for entry in collection.find({"_id": {"$in": [generation_id, answer_id]}})
    }
    generation = found.get(generation_id, {}).get("generation", 0)
    entry = found.get(answer_id)
    now = times.now()
    if entry and entry["generation"] == generation and entry["expireAt"] > now:
        return entry["answer"]
    answer = compute()
    # Stored under the generation read before computing: a write meanwhile bumped it, so an
    # answer that might predate that write is never served.
    collection.replace_one(
        {"_id": answer_id},
        {
            "userId": user_id,
            "generation": generation,
            "answer": answer,
            "expireAt": now + CACHE_LIFETIME,
        },
        upsert=True,
    )
    return answer


invalidate = StatsCacheEntry.invalidate
_generation_id = StatsCacheEntry.generation_id


def forget(user_id):
    """Drop the cached answers of `user_id` (their account is deleted)."""
    invalidate(user_id)
    StatsCacheEntry.objects(user_id=user_id, id__ne=_generation_id(user_id)).delete()


def _answer_id(user_id, key):
    """A fixed-size id of the user's answer for `key` (filters may hold any text)."""
    raw = json_util.dumps([ANSWER_FORMAT, user_id, sorted(key.items())])
    return "answer:" + hashlib.sha256(raw.encode()).hexdigest()


def _recent(queryset, limit):
    """The newest max(limit, RECENT_PERFORMANCES) performances, as documents.

    A plain indexed find rather than a facet: full documents could outgrow the 16 MB a
    single facet result may hold.
    """
    count = max(limit, RECENT_PERFORMANCES)
    newest = queryset.order_by("-completed_at", "-id").exclude("search_terms", "themes")
    return db.read_raw(Performance, newest.limit(count))


def _one(rows):
    """The single row of a facet grouped by null, or {} when nothing matched."""
    return rows[0] if rows else {}


def _round2(value, digits=2):
    """`value` rounded for display; None stays None."""
    return None if value is None else round(value, digits)


def _round_half_up(value):
    """`value` as a whole number, halves up like JavaScript's Math.round (2.5 → 3, -2.5 → -2)."""
    whole = math.floor(value)
    return whole + 1 if value - whole >= 0.5 else whole


def _ratio(part, whole, digits=2):
    """part / whole, or None when there is no whole."""
    return round(part / whole, digits) if whole else None


def _minutes(row):
    """Minutes per question of a time facet row."""
    return _ratio(row.get("minutes"), row.get("questions"))


def _mean(values):
    """Arithmetic mean of a non-empty list."""
    return sum(values) / len(values)


def _improvement(scores_newest_first):
    """Average of the last TREND_WINDOW scores minus the TREND_WINDOW before; 0 when too few."""
    if len(scores_newest_first) < 2 * TREND_WINDOW:
        return 0
    recent = scores_newest_first[:TREND_WINDOW]
    previous = scores_newest_first[TREND_WINDOW : 2 * TREND_WINDOW]
    return _mean(recent) - _mean(previous)


def _group(row):
    """A byType/byCompany/byExperienceLevel entry."""
    return {
        "key": row["_id"],
        "count": row["count"],
        "average_score": _round2(row["averageScore"]),
        "best_score": row["bestScore"],
        "latest_score": row["latestScore"],
        "average_time_spent": _round2(row.get("averageTimeSpent")),
    }


def _companies(groups, improvements):
    """byCompany entries, each with its company's most frequent improvements."""
    top = {row["_id"]: row["top"] for row in improvements}
    return [{**_group(row), "top_improvements": top.get(row["_id"], [])} for row in groups]


def _round(row):
    """A `rounds` entry."""
    return {
        "round_type": row["_id"],
        "count": row["count"],
        "average_score": _round2(row.get("averageScore")),
        "questions_answered": row["questionsAnswered"],
        "total_questions": row["totalQuestions"],
        "answered_ratio": _ratio(row["questionsAnswered"], row["totalQuestions"], digits=4),
        "average_time_spent": _round2(row.get("averageTimeSpent")),
    }


def _extreme_round(rounds, best):
    """The round type with the highest (or lowest) average score; ties go to the name first."""
    scored = [item for item in rounds if item["average_score"] is not None]
    if not scored:
        return None
    sign = -1 if best else 1
    return min(scored, key=lambda item: (sign * item["average_score"], item["round_type"]))[
        "round_type"
    ]


def _themes(rows):
    """Theme facet rows as {text, count}."""
    return [{"text": row["_id"], "count": row["count"]} for row in rows]


def _trend(points):
    """Points oldest first with their moving average, least-squares slope and windows."""
    scores = [point["score"] for point in points]
    moving = [
        round(_mean(scores[max(0, index - MOVING_AVERAGE_WINDOW + 1) : index + 1]), 2)
        for index in range(len(scores))
    ]
    slope = _slope(scores)
    recent = scores[-TREND_WINDOW:] if len(scores) >= TREND_WINDOW else None
    previous = (
        scores[-2 * TREND_WINDOW : -TREND_WINDOW] if len(scores) >= 2 * TREND_WINDOW else None
    )
    recent_average = _mean(recent) if recent else None
    previous_average = _mean(previous) if previous else None
    return {
        "points": [
            {
                "completed_at": point["completedAt"],
                "score": point["score"],
                "interview_type": point.get("interviewType"),
                "company_name": point.get("companyName"),
            }
            for point in points
        ],
        "moving_average": moving,
        "moving_average_window": MOVING_AVERAGE_WINDOW,
        "slope": round(slope, 4),
        "direction": (
            "improving"
            if slope >= STEADY_SLOPE
            else "declining"
            if slope <= -STEADY_SLOPE
            else "steady"
        ),
        "window": TREND_WINDOW,
        "recent_average": _round2(recent_average),
        "previous_average": _round2(previous_average),
        "change": (
            round(recent_average - previous_average, 2)
            if recent_average is not None and previous_average is not None
            else None
        ),
    }


def _slope(scores):
    """Least-squares slope of score against interview number (0, 1, 2, …); 0 below 2 points."""
    count = len(scores)
    if count < 2:
        return 0.0
    mean_x = (count - 1) / 2
    mean_y = _mean(scores)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(scores))
    variance = sum((x - mean_x) ** 2 for x in range(count))
    return covariance / variance
