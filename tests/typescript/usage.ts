// A small typed use of the generated client: session create → append → end → feedback;
// save → stats.
// Every access below needs the answer's fields to be required (no `| undefined`) under --strict.
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

type Session = components["schemas"]["Session"];
type Stats = components["schemas"]["PerformanceStats"];

const client = createClient<paths>({ baseUrl: "http://localhost:5000" });
const auth = { Authorization: "Bearer <token>" };

export async function interview(): Promise<Session["status"]> {
  const created = await client.POST("/api/sessions", {
    headers: auth,
    body: { config: { role: "Backend Engineer", interviewType: "technical", difficulty: "mid" } },
  });
  if (!created.data) throw new Error(created.error.message);
  const sessionId: string = created.data.sessionId;
  const started: "in_progress" | "completed" | "abandoned" = created.data.session.status;

  const appended = await client.POST("/api/sessions/{session_id}/conversations", {
    params: { path: { session_id: sessionId } },
    headers: auth,
    body: { role: "user", content: "Hello", metadata: { isQuestion: false } },
  });
  if (!appended.data) throw new Error(appended.error.message);
  const index: number = "messageIndex" in appended.data
    ? appended.data.messageIndex
    : appended.data.messageIndexes[0];

  const batch = await client.POST("/api/sessions/{session_id}/conversations", {
    params: { path: { session_id: sessionId } },
    body: { messages: [{ role: "assistant", content: "Tell me more", metadata: { isQuestion: true } }] },
  });
  if (batch.error) throw new Error(`${batch.error.code} ${batch.error.error}`);

  const ended = await client.PUT("/api/sessions/{session_id}/end", {
    params: { path: { session_id: sessionId } },
    body: { status: "completed" },
  });
  if (!ended.data) throw new Error(ended.error.message);
  const duration: number | null = ended.data.session.duration;
  const legacyId: string = ended.data.session._id;
  console.log(started, index, duration, legacyId, ended.data.session.statistics.totalMessages);
  return ended.data.session.status;
}

export async function feedback(sessionId: string): Promise<number | null> {
  const generated = await client.POST("/api/sessions/{session_id}/feedback/generate", {
    params: { path: { session_id: sessionId } },
    headers: auth,
  });
  if (!generated.data) throw new Error(`${generated.error.type}: ${generated.error.message}`);
  const status: "pending" | "ready" | "failed" = generated.data.report.status;
  const content = generated.data.report.content;
  const questions: number = content ? content.questions.length : 0;
  console.log(status, questions, generated.data.report.generator?.model);
  return content?.scores?.overall ?? null;
}

export async function analytics(interviewId: string): Promise<number> {
  const saved = await client.POST("/api/save-performance", {
    headers: auth,
    body: { interviewId, score: 78, timeSpent: 42.5, roundResults: [{ roundType: "technical", score: 78 }] },
  });
  if (!saved.data) throw new Error(saved.error.message);
  const performanceId: string = saved.data.performanceId;

  const stats = await client.GET("/api/performance-stats", {
    headers: auth,
    params: { query: { interviewType: "technical", limit: 50 } },
  });
  if (!stats.data) throw new Error(stats.error.message);
  const data: Stats = stats.data;
  const direction: "improving" | "declining" | "steady" = data.trend.direction;
  const average: number = data.stats.averageScore;
  const minutes: number | null = data.summary.averageTimeSpent;
  console.log(performanceId, direction, minutes, data.performances[0]?.roundResults);
  return average;
}
