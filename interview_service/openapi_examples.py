"""Examples of the OpenAPI document by operationId: what Swagger UI's "Try it out" sends, and
answers as the service gives them. The ids are placeholders a client replaces with its own."""

# 26 base64url characters: room for the 128 random bits an anonymous session's id needs.
SESSION_ID = "sess-Vq3xT9kLm2PzR7wYc4Nd8Hb"
INTERVIEW_ID = "665f1c2ab3d4e5f601234567"
PERFORMANCE_ID = "665f1c2ab3d4e5f601234568"
REPORT_ID = "665f1c2ab3d4e5f601234504"
GENERATED_REPORT_ID = "665f1c2ab3d4e5f601234505"
USER_ID = "user-42"
STARTED = "2026-03-02T09:00:00.000Z"
ENDED = "2026-03-02T09:42:30.000Z"

PATH_EXAMPLES = {
    "session_id": SESSION_ID,
    "interview_id": INTERVIEW_ID,
    "performance_id": PERFORMANCE_ID,
    "report_id": REPORT_ID,
}

CONFIG = {
    "role": "Backend Engineer",
    "customRole": None,
    "companyName": "Acme",
    "interviewType": "technical",
    "difficulty": "mid",
    "interactionMode": "text",
    "interviewId": None,
}
STATISTICS = {"questionCount": 1, "totalMessages": 2, "userMessages": 1, "agentMessages": 1}
SESSION = {
    "_id": "665f1c2ab3d4e5f601234501",
    "id": "665f1c2ab3d4e5f601234501",
    "sessionId": SESSION_ID,
    "userId": USER_ID,
    "config": CONFIG,
    "resume": {"fileName": "resume.txt", "content": "Ten years of Python and distributed systems."},
    "startTime": STARTED,
    "endTime": None,
    "duration": None,
    "status": "in_progress",
    "statistics": STATISTICS,
    "createdAt": STARTED,
    "updatedAt": STARTED,
}
ENDED_SESSION = {
    **SESSION,
    "endTime": ENDED,
    "duration": 2_550_000,
    "status": "completed",
    "updatedAt": ENDED,
}
QUESTION = {
    "_id": "665f1c2ab3d4e5f601234502",
    "id": "665f1c2ab3d4e5f601234502",
    "sessionId": SESSION_ID,
    "role": "assistant",
    "content": "Tell me about a system you designed.",
    "timestamp": "2026-03-02T09:00:05.000Z",
    "messageIndex": 0,
    "metadata": {"isQuestion": True, "speakingDuration": None},
    "clientMessageId": "msg-0001",
    "createdAt": "2026-03-02T09:00:05.000Z",
}
ANSWER = {
    "_id": "665f1c2ab3d4e5f601234503",
    "id": "665f1c2ab3d4e5f601234503",
    "sessionId": SESSION_ID,
    "role": "user",
    "content": "I built a payments ledger that settles two million transfers a day.",
    "timestamp": "2026-03-02T09:00:40.000Z",
    "messageIndex": 1,
    "metadata": {"isQuestion": None, "speakingDuration": 31500.0},
    "clientMessageId": "msg-0002",
    "createdAt": "2026-03-02T09:00:40.000Z",
}
REPORT_CONTENT = {
    "summary": "Clear, structured answers; go deeper on trade-offs.",
    "strengths": ["Structured answers"],
    "weaknesses": ["Shallow on trade-offs"],
    "recommendations": ["Practise capacity estimates"],
    "scores": {"overall": 78.0, "communication": 82.0, "technical": 74.0, "behavior": 80.0},
}
STATISTICS_COMPUTED = {"totalDuration": 35000, "questionCount": 1, "averageResponseTime": 35000.0}
REPORT = {
    "id": REPORT_ID,
    "sessionId": SESSION_ID,
    "reportType": "summary",
    "status": "ready",
    "generatedAt": ENDED,
    "content": {
        **REPORT_CONTENT,
        "statistics": STATISTICS_COMPUTED,
        "evidence": None,
        "questions": [],
    },
    "generator": None,
    "createdAt": ENDED,
}
GENERATED_REPORT = {
    **REPORT,
    "id": GENERATED_REPORT_ID,
    "reportType": "feedback",
    "content": {
        **REPORT_CONTENT,
        "statistics": STATISTICS_COMPUTED,
        "evidence": {
            "strengths": [[1]],
            "weaknesses": [[1]],
            "recommendations": [[0, 1]],
        },
        "questions": [
            {
                "questionIndex": 0,
                "answerIndexes": [1],
                "score": 78.0,
                "feedback": "A concrete system with its numbers; say what you would change.",
            }
        ],
    },
    "generator": {
        "provider": "api.openai.com",
        "model": "gpt-4o-mini",
        "promptVersion": "feedback-2026-11-30.1",
        "latencyMs": 4210,
        "inputTokens": 1830,
        "outputTokens": 412,
        "attempts": 1,
        "error": None,
    },
}
QUEUED_REPORT = {
    **GENERATED_REPORT,
    "status": "pending",
    "content": None,
    "generator": None,
}
INTERVIEW = {
    "id": INTERVIEW_ID,
    "jobTitle": "Backend Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "experienceLevel": "mid",
    "status": "ready",
    "createdAt": STARTED,
    "completedAt": None,
    "performanceId": None,
}
FEEDBACK = {
    "overall": "Solid fundamentals; system design needs depth.",
    "strengths": ["Clear structure"],
    "improvements": ["System design depth"],
    "recommendations": ["Practise capacity estimates"],
}
ROUND = {
    "roundType": "technical",
    "score": 78.0,
    "questionsAnswered": 9,
    "totalQuestions": 10,
    "timeSpent": 42.5,
}
PERFORMANCE_BODY = {
    "score": 78,
    "totalQuestions": 10,
    "correctAnswers": 7,
    "timeSpent": 42.5,
    "feedback": FEEDBACK,
    "roundResults": [ROUND],
}
PERFORMANCE = {
    "id": PERFORMANCE_ID,
    "interviewId": INTERVIEW_ID,
    "jobTitle": "Backend Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "experienceLevel": "mid",
    "completedAt": ENDED,
    "totalQuestions": 10,
    "correctAnswers": 7,
    "score": 78.0,
    "timeSpent": 42.5,
    "feedback": FEEDBACK,
    "roundResults": [ROUND],
}
SAVED = {
    "success": True,
    "performanceId": PERFORMANCE_ID,
    "interviewUpdated": True,
    "message": "Performance saved",
    "performance": PERFORMANCE,
}
# The legacy paths answer `_id` beside `id`, as the original API did.
LEGACY_INTERVIEW = {"_id": INTERVIEW_ID, **INTERVIEW}
LEGACY_PERFORMANCE = {"_id": PERFORMANCE_ID, **PERFORMANCE}
GROUP = {
    "count": 1,
    "averageScore": 78.0,
    "bestScore": 78.0,
    "latestScore": 78.0,
    "averageTimeSpent": 42.5,
}
THEME = {"text": "system design depth", "count": 1}
STATS = {
    "success": True,
    "stats": {
        "totalInterviews": 1,
        "averageScore": 78,
        "totalTimeSpent": 42.5,
        "improvementTrend": 0,
        "strongestArea": "technical",
        "weakestArea": "technical",
        "recentPerformance": [78.0],
    },
    "performances": [LEGACY_PERFORMANCE],
    "summary": {
        "completedInterviews": 1,
        "activeInterviews": 0,
        "averageScore": 78.0,
        "bestScore": 78.0,
        "latestScore": 78.0,
        "totalTimeSpent": 42.5,
        "averageTimeSpent": 42.5,
        "accuracy": 0.7,
    },
    "trend": {
        "points": [
            {
                "completedAt": ENDED,
                "score": 78.0,
                "interviewType": "technical",
                "companyName": "Acme",
            }
        ],
        "movingAverage": [78.0],
        "movingAverageWindow": 3,
        "slope": 0.0,
        "direction": "steady",
        "window": 3,
        "recentAverage": None,
        "previousAverage": None,
        "change": None,
    },
    "byType": [{"key": "technical", **GROUP}],
    "byCompany": [{"key": "Acme", **GROUP, "topImprovements": [THEME]}],
    "byExperienceLevel": [{"key": "mid", **GROUP}],
    "rounds": [
        {
            "roundType": "technical",
            "count": 1,
            "averageScore": 78.0,
            "questionsAnswered": 9,
            "totalQuestions": 10,
            "answeredRatio": 0.9,
            "averageTimeSpent": 42.5,
        }
    ],
    "timeManagement": {
        "minutesPerQuestion": 4.25,
        "byType": [{"interviewType": "technical", "minutesPerQuestion": 4.25}],
    },
    "feedbackThemes": {
        "strengths": [{"text": "clear structure", "count": 1}],
        "improvements": [THEME],
    },
    "recent": [LEGACY_PERFORMANCE],
}
DELETED = {"success": True, "message": "Interview deleted"}
OK = {"success": True}
CSV = (
    "performanceId,interviewId,completedAt,jobTitle,companyName,interviewType,experienceLevel,"
    "score,totalQuestions,correctAnswers,accuracy,timeSpent,feedbackOverall,strengths,"
    "improvements,recommendations,roundCount,rounds\r\n"
    f"{PERFORMANCE_ID},{INTERVIEW_ID},{ENDED},Backend Engineer,Acme,technical,mid,78,10,7,0.7,"
    "42.5,Solid fundamentals; system design needs depth.,Clear structure,System design depth,"
    'Practise capacity estimates,1,"technical: score 78, answered 9/10, 42.5 min"\r\n'
)
METRICS = 'http_requests_total{method="GET",route="/api/sessions",status="200"} 3.0\n'

EXAMPLES = {
    "getHealth": {"responses": {"200": OK}},
    "getReadiness": {"responses": {"200": OK}},
    "getMetrics": {"responses": {"200": METRICS}},
    "listSessions": {
        "parameters": {"status": "completed", "limit": 20},
        "responses": {
            "200": {
                "success": True,
                "nextCursor": None,
                "items": [{**ENDED_SESSION, "resume": {"fileName": "resume.txt"}}],
            }
        },
    },
    "createSession": {
        "request": {
            "sessionId": SESSION_ID,
            "config": {key: value for key, value in CONFIG.items() if value is not None},
            "resume": SESSION["resume"],
        },
        "responses": {
            "201": {"success": True, "sessionId": SESSION_ID, "session": SESSION},
            "200": {"success": True, "sessionId": SESSION_ID, "session": SESSION},
        },
    },
    "getSession": {
        "responses": {
            "200": {
                "success": True,
                "session": ENDED_SESSION,
                "conversations": [QUESTION, ANSWER],
                "report": REPORT,
            }
        }
    },
    "deleteSession": {},
    "listMessages": {
        "parameters": {"after": 0, "limit": 50},
        "responses": {
            "200": {
                "success": True,
                "nextCursor": None,
                "items": [ANSWER],
                "sessionId": SESSION_ID,
                "sessionStatus": "in_progress",
                "count": 2,
                "conversations": [ANSWER],
            }
        },
    },
    "appendMessages": {
        "request": {
            "role": "user",
            "content": "I built a payments ledger that settles two million transfers a day.",
            "metadata": {"speakingDuration": 31500},
            "clientMessageId": "msg-0002",
        },
        "parameters": {"Idempotency-Key": "msg-0002"},
        "responses": {"201": {"success": True, "messageIndex": 1, "conversation": ANSWER}},
    },
    "endSession": {
        "request": {"status": "completed"},
        "responses": {"200": {"success": True, "session": ENDED_SESSION}},
    },
    "listReports": {"responses": {"200": {"success": True, "items": [REPORT]}}},
    "createReport": {
        "request": {"reportType": "summary", "content": REPORT_CONTENT},
        "responses": {"201": {"success": True, "report": REPORT}},
    },
    "getReport": {"responses": {"200": {"success": True, "report": REPORT}}},
    "generateFeedback": {
        "parameters": {"Idempotency-Key": "feedback-0001"},
        "responses": {"201": {"success": True, "report": GENERATED_REPORT}},
    },
    "generateReport": {
        "parameters": {"Prefer": "respond-async", "Idempotency-Key": "report-0001"},
        "responses": {
            "202": {"success": True, "report": QUEUED_REPORT},
            "201": {"success": True, "report": GENERATED_REPORT},
        },
    },
    "getLatestReport": {
        "parameters": {"reportType": "summary"},
        "responses": {"200": {"success": True, "report": REPORT}},
    },
    "listInterviews": {
        "parameters": {"status": "ready", "limit": 20},
        "responses": {"200": {"success": True, "nextCursor": None, "items": [INTERVIEW]}},
    },
    "createInterview": {
        "request": {
            "jobTitle": "Backend Engineer",
            "companyName": "Acme",
            "interviewType": "technical",
            "experienceLevel": "mid",
        },
        "responses": {"201": {"success": True, "interview": INTERVIEW}},
    },
    "getInterview": {"responses": {"200": {"success": True, "interview": INTERVIEW}}},
    "startInterview": {
        "request": {"status": "in-progress"},
        "responses": {
            "200": {"success": True, "interview": {**INTERVIEW, "status": "in-progress"}}
        },
    },
    "deleteInterview": {"responses": {"200": DELETED}},
    "putInterviewPerformance": {
        "request": PERFORMANCE_BODY,
        "responses": {"201": SAVED, "200": SAVED},
    },
    "getUserInterviews": {
        "parameters": {"limit": 20},
        "responses": {
            "200": {
                "success": True,
                "interviews": [LEGACY_INTERVIEW],
                "stats": {"total": 2, "completed": 1, "inProgress": 1},
            }
        },
    },
    "deleteInterviewLegacy": {
        "request": {"interviewId": INTERVIEW_ID},
        "responses": {"200": DELETED},
    },
    "savePerformance": {
        "request": {"interviewId": INTERVIEW_ID, **PERFORMANCE_BODY},
        "responses": {"200": {**SAVED, "performance": LEGACY_PERFORMANCE}},
    },
    "listPerformances": {
        "parameters": {"interviewType": "technical", "sort": "-completedAt", "limit": 20},
        "responses": {"200": {"success": True, "nextCursor": None, "items": [PERFORMANCE]}},
    },
    "exportPerformancesCsv": {
        "parameters": {"companyName": "Acme", "sort": "-completedAt"},
        "responses": {"200": CSV},
    },
    "getPerformance": {"responses": {"200": {"success": True, "performance": PERFORMANCE}}},
    "getPerformanceStats": {"parameters": {"limit": 100}, "responses": {"200": STATS}},
    "deleteAccount": {
        "responses": {
            "200": {
                "success": True,
                "deleted": {
                    "sessions": 1,
                    "conversations": 2,
                    "reports": 1,
                    "interviews": 1,
                    "performances": 1,
                },
            }
        }
    },
    "exportAccount": {
        "responses": {
            "200": {
                "success": True,
                "userId": USER_ID,
                "exportedAt": ENDED,
                "sessions": [
                    {
                        "session": ENDED_SESSION,
                        "conversations": [QUESTION, ANSWER],
                        "reports": [REPORT],
                    }
                ],
                "interviews": [INTERVIEW],
                "performances": [PERFORMANCE],
            }
        }
    },
}
