"""`make bench`: the service and a plain Flask + pymongo baseline, same gunicorn config, same data.

Starts SecantusDB (free port, temporary storage), the service (`wsgi:app`) and the baseline
(`bench.baseline:app`) under config/gunicorn.conf.py on loopback, bulk-loads performances in
the stored shape, drives every operation with wrk and writes docs/benchmarks.md. The service
runs as deployed, its rate limiter on (counting in the database, with a budget no run reaches).
Sizes and durations come from the environment (see SETTINGS); `BENCH_QUICK=1` (`make
bench-quick`) runs every target at reduced size in under three minutes and writes
docs/benchmarks-quick.md.
"""

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymongo
import requests
from bson import ObjectId

from bench import baseline as baseline_module
from interview_service.auth import issue_token
from scripts.devserver import Database, free_port, secantus_server, server_version, stop
from tests.factories import SESSION_CONFIG

ROOT = Path(__file__).resolve().parent.parent
# The checkout whose service is measured (e.g. an export of an earlier commit, for before/after).
SERVICE_ROOT = Path(os.environ.get("BENCH_SERVICE_ROOT", ROOT))
BIN = Path(sys.executable).parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
SETTINGS = {
    "BENCH_DURATION": 10,  # seconds of load per operation and server
    "BENCH_HEAVY_DURATION": 40,  # the same for the heavy reads (stats, CSV export)
    "BENCH_CONNECTIONS": 16,  # wrk connections (one for the heavy reads: stats, CSV export)
    "BENCH_THREADS": 2,  # wrk threads
    "BENCH_WORKERS": 2,  # gunicorn workers of each server (threads: GUNICORN_THREADS)
    "BENCH_TOTAL_PERFORMANCES": 100_000,  # stored performances, all users
    "BENCH_USER_PERFORMANCES": 10_000,  # of which the measured user owns this many
    "BENCH_SMALL_EXPORT": 1_000,  # rows of the small CSV export (the memory growth baseline)
    "BENCH_POOL": 20_000,  # interviews ready to be saved, per server
    "BENCH_SMALL_STATS": 200,  # performances of the user whose stats must answer in 50 ms
    "BENCH_SESSIONS": 10_000,  # sessions in the database for the second append/get round
    "BENCH_SESSION_MESSAGES": 10,  # messages of each of those sessions
    # Both servers' database time limit: the heavy reads take seconds on the embedded server,
    # and the benchmark measures them rather than the 503 the production limit would give.
    "BENCH_DB_TIMEOUT_MS": 120_000,
}
QUICK_SETTINGS = {
    "BENCH_DURATION": 3,
    "BENCH_HEAVY_DURATION": 5,
    "BENCH_TOTAL_PERFORMANCES": 8_000,
    "BENCH_USER_PERFORMANCES": 2_000,
    "BENCH_SMALL_EXPORT": 500,
    "BENCH_POOL": 3_000,
    "BENCH_SESSIONS": 2_000,
    "BENCH_SESSION_MESSAGES": 5,
}
if QUICK:
    SETTINGS.update(QUICK_SETTINGS)
SETTINGS = {name: int(os.environ.get(name, default)) for name, default in SETTINGS.items()}
REPORT = "benchmarks-quick.md" if QUICK else "benchmarks.md"
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "docs" / REPORT))
SECRET = "bench-secret-0123456789abcdef0123456789"
DATABASE = {}  # the benchmark's own client of the database, once started
HEAVY, SMALL, SMALL_STATS = "bench-heavy", "bench-small", "bench-stats-200"
WRITER = "bench-writer"

SESSION_BODY = {
    "config": SESSION_CONFIG,
    "resume": {"fileName": "cv.txt", "content": "Ten years of Python and MongoDB. " * 20},
}
MESSAGE_BODY = {"role": "user", "content": "I would shard by user id and keep reads local. " * 4}
REPORT_BODY = {
    "reportType": "feedback",
    "content": {
        "summary": "Solid answers.",
        "strengths": ["clear structure"],
        "weaknesses": ["time management"],
        "recommendations": ["practise system design"],
        "scores": {"overall": 78, "communication": 80, "technical": 75, "behavior": 79},
    },
}
INTERVIEW_BODY = {
    "jobTitle": "Backend Engineer",
    "companyName": "Acme",
    "interviewType": "technical",
    "experienceLevel": "mid",
}
SAVE_BODY = (
    '{"interviewId": "{id}", "score": 72, "totalQuestions": 10, "correctAnswers": 7,'
    ' "timeSpent": 35, "feedback": {"overall": "Good", "strengths": ["clarity"],'
    ' "improvements": ["pace"], "recommendations": ["mock more"]}}'
)


@dataclass
class Operation:
    """One benchmarked request: `{id}` takes ids from the server's pool named `pool`."""

    name: str
    method: str
    path: str
    user: str = WRITER
    body: str | None = None
    pool: str | None = None
    target: str = "throughput ≥ 0.9× baseline"
    connections: int | None = None  # fewer than BENCH_CONNECTIONS for the heavy reads
    heavy: bool = False  # seconds per request: measured for BENCH_HEAVY_DURATION instead
    baseline: bool = True  # False: the target compares with another row, not the baseline
    compare_to: str | None = None  # that row (p50 within 1.5× of its p50)
    phase: str = "main"  # "small": first, ~200 sessions stored; "large": BENCH_SESSIONS stored


STATS_TARGET = "p50 ≤ 1.2× bare aggregation"
FLAT = "p50 ≤ 1.5× the same at ~200 sessions"


APPEND = ("POST", "/api/sessions/{id}/conversations")
GET_SESSION = ("GET", "/api/sessions/{id}")
OPERATIONS = [
    Operation(
        "append message", *APPEND, body=json.dumps(MESSAGE_BODY), pool="sessions", phase="small"
    ),
    Operation("get session (50 messages + report)", *GET_SESSION, pool="full", phase="small"),
    Operation("health (GET /healthz)", "GET", "/healthz"),
    Operation("create session", "POST", "/api/sessions", body=json.dumps(SESSION_BODY)),
    Operation("create interview", "POST", "/api/interviews", body=json.dumps(INTERVIEW_BODY)),
    Operation(
        "save performance", "POST", "/api/save-performance", body=SAVE_BODY, pool="interviews"
    ),
    Operation("list performances (first page)", "GET", "/api/performances?limit=20", user=HEAVY),
    Operation(
        "list performances (page 5)",
        "GET",
        "/api/performances?limit=20&cursor={page5}",
        user=HEAVY,
        target="p50 ≤ 1.5× first page",
        baseline=False,
        compare_to="list performances (first page)",
    ),
    Operation(
        "performance stats",
        "GET",
        "/api/performance-stats",
        user=HEAVY,
        target=STATS_TARGET,
        connections=1,
        heavy=True,
    ),
    Operation(
        "performance stats (200 performances)",
        "GET",
        "/api/performance-stats",
        user=SMALL_STATS,
        target="p50 ≤ 50 ms",
        connections=1,  # a latency target: one client, no queueing
    ),
    Operation(
        "CSV export (heavy user)",
        "GET",
        "/api/performances/export.csv",
        user=HEAVY,
        target="throughput ≥ 0.8× baseline; memory growth 1k → 10k rows < 50 MB",
        connections=1,
        heavy=True,
    ),
    Operation(
        f"append message ({SETTINGS['BENCH_SESSIONS']:,} sessions)",
        *APPEND,
        body=json.dumps(MESSAGE_BODY),
        pool="sessions",
        target=FLAT,
        compare_to="append message",
        phase="large",
    ),
    Operation(
        f"get session ({SETTINGS['BENCH_SESSIONS']:,} sessions)",
        *GET_SESSION,
        pool="full",
        target=FLAT,
        compare_to="get session (50 messages + report)",
        phase="large",
    ),
]


@dataclass
class Server:
    """A gunicorn-served app under test."""

    name: str
    port: int
    process: subprocess.Popen
    pools: dict = field(default_factory=dict)  # ids files for `{id}`
    cursors: dict = field(default_factory=dict)  # `{page5}` and the like

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    sys.exit(f"{what} not ready within {timeout}s")


def start_database(workdir):
    """SecantusDB on a free port with storage under `workdir`; returns (process, its uri)."""
    database = Database(workdir / "db", log=workdir / "db.log")
    database.start()
    print(f"database: {database.name}", flush=True)
    return database.process, database.uri


def database_uri(base, name):
    """Each server has a database of its own (same data, its own indexes) on the one process."""
    return f"{base}/{name}?directConnection=true"


def server_env(uri, port, limited=False):
    """The environment of both servers: production settings, loopback; the service with its
    rate limiter on as deployed (a budget no run reaches), the baseline without one."""
    return {
        **os.environ,
        "APP_ENV": "production",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MONGODB_URI": uri,
        "BASELINE_MONGODB_URI": uri,
        "JWT_SECRET": SECRET,
        "CORS_ORIGINS": "http://bench.test",
        "RATE_LIMIT_ENABLED": "true" if limited else "false",
        "RATE_LIMIT_DEFAULT": "100000000 per minute",
        "MONGODB_TIMEOUT_MS": str(SETTINGS["BENCH_DB_TIMEOUT_MS"]),
        "WEB_CONCURRENCY": str(SETTINGS["BENCH_WORKERS"]),
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
    }


def start_server(name, wsgi_app, uri, workdir):
    """gunicorn with config/gunicorn.conf.py serving `wsgi_app`; waits for /healthz."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), wsgi_app],
        cwd=SERVICE_ROOT if name == "service" else ROOT,
        env=server_env(uri, port, limited=name == "service"),
        stdout=open(workdir / f"{name}.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(name, port, process)

    def healthy():
        try:
            return requests.get(f"{server.base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:  # not listening yet, or too busy starting
            return False

    try:
        wait_until(healthy, 60, name)
    except BaseException:  # never healthy (wait_until exits): do not leave it running
        stop(process)
        raise
    return server


# --- data ------------------------------------------------------------------------------------


def load_performances(database):
    """Bulk-load performances (and the measured users' interviews) in the stored shape."""
    total, heavy, small = (
        SETTINGS["BENCH_TOTAL_PERFORMANCES"],
        SETTINGS["BENCH_USER_PERFORMANCES"],
        SETTINGS["BENCH_SMALL_EXPORT"],
    )
    owners = [HEAVY] * heavy + [SMALL] * small + [SMALL_STATS] * SETTINGS["BENCH_SMALL_STATS"]
    owners += [f"bench-other-{n % 1000}" for n in range(max(total - len(owners), 0))]
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    types = ("technical", "behavioral", "mixed", "dsa", "aptitude", "system-design")
    companies = [f"Company {n}" for n in range(40)]
    strengths = ["clear structure", "good examples", "calm delivery", "strong coding"]
    improvements = ["time management", "edge cases", "more detail", "conciseness"]
    batch, interviews = [], []
    for number, owner in enumerate(owners):
        interview_id, performance_id = ObjectId(), ObjectId()
        kind, company = rng.choice(types), rng.choice(companies)
        completed = start + timedelta(minutes=37 * number)
        picked = {
            "strengths": rng.sample(strengths, 2),
            "improvements": rng.sample(improvements, 2),
        }
        batch.append(
            {
                "_id": performance_id,
                "userId": owner,
                "interviewId": interview_id,
                "jobTitle": "Backend Engineer",
                "companyName": company,
                "interviewType": kind,
                "experienceLevel": rng.choice(("entry", "mid", "senior")),
                "completedAt": completed,
                "totalQuestions": 10,
                "correctAnswers": rng.randint(0, 10),
                "score": float(rng.randint(30, 100)),
                "timeSpent": float(rng.randint(10, 60)),
                "feedback": {"overall": "Good progress", **picked, "recommendations": ["practise"]},
                "roundResults": [
                    {
                        "roundType": round_type,
                        "score": float(rng.randint(30, 100)),
                        "questionsAnswered": 4,
                        "totalQuestions": 5,
                        "timeSpent": 15.0,
                    }
                    for round_type in ("coding", "behavioral")
                ],
                "searchTerms": ["backend", "engineer", *company.lower().split(), "good"],
                "themes": picked,
            }
        )
        if owner in (HEAVY, SMALL, SMALL_STATS):
            interviews.append(
                {
                    "_id": interview_id,
                    "userId": owner,
                    "jobTitle": "Backend Engineer",
                    "companyName": company,
                    "interviewType": kind,
                    "experienceLevel": "mid",
                    "status": "completed",
                    "createdAt": completed - timedelta(minutes=40),
                    "completedAt": completed,
                    "performanceId": performance_id,
                }
            )
        if len(batch) == 5000:
            database.performances.insert_many(batch, ordered=False)
            batch = []
    if batch:
        database.performances.insert_many(batch, ordered=False)
    if interviews:
        database.interviews.insert_many(interviews, ordered=False)


def interview_pool(database, workdir, name):
    """Ready interviews of the writer, one per save-performance request; returns the ids file."""
    documents = [
        {**INTERVIEW_BODY, "userId": WRITER, "status": "ready", "createdAt": datetime.now(UTC)}
        for _ in range(SETTINGS["BENCH_POOL"])
    ]
    ids = database.interviews.insert_many(documents).inserted_ids
    return write_ids(workdir / f"{name}-interviews.ids", ids)


def write_ids(path, ids):
    path.write_text("".join(f"{item}\n" for item in ids))
    return path


def session_pools(server, workdir):
    """Sessions to append to, and sessions with 50 messages and a report, made via the API."""
    headers = {"Authorization": f"Bearer {token(WRITER)}"}
    url = f"{server.base}/api/sessions"

    def create():
        response = requests.post(url, json=SESSION_BODY, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()["sessionId"]

    pools = {
        "sessions": write_ids(
            workdir / f"{server.name}-sessions.ids", [create() for _ in range(200)]
        )
    }
    full = [create() for _ in range(5)]
    for session_id in full:
        for number in range(50):
            role = "assistant" if number % 2 == 0 else "user"
            body = {**MESSAGE_BODY, "role": role}
            requests.post(
                f"{url}/{session_id}/conversations", json=body, headers=headers, timeout=10
            )
        requests.post(f"{url}/{session_id}/reports", json=REPORT_BODY, headers=headers, timeout=10)
    pools["full"] = write_ids(workdir / f"{server.name}-full.ids", full)
    return pools


def grow_sessions(database):
    """Copies of a stored session, each with copies of stored messages, up to BENCH_SESSIONS
    sessions in the database: append and get-session must not slow down as they grow."""
    session = database.sessions.find_one({"status": "in_progress"})
    messages = list(database.conversations.find().limit(SETTINGS["BENCH_SESSION_MESSAGES"]))
    missing = SETTINGS["BENCH_SESSIONS"] - database.sessions.count_documents({})
    for start in range(0, max(missing, 0), 1000):
        grown = [
            {**session, "_id": ObjectId(), "sessionId": f"bench-grown-{start + n:08d}-padding"}
            for n in range(min(1000, missing - start))
        ]
        database.sessions.insert_many(grown)
        database.conversations.insert_many(
            [
                {**message, "_id": ObjectId(), "sessionId": _reference(message, copy)}
                for copy in grown
                for message in messages
            ]
        )


def _reference(message, session):
    """A copied message's reference to `session`, of the kind the original holds."""
    return session["sessionId"] if isinstance(message["sessionId"], str) else session["_id"]


def page_cursor(server, user, page):
    """The cursor of page `page` of the user's performance list (20 a page)."""
    headers = {"Authorization": f"Bearer {token(user)}"}
    cursor = None
    for _ in range(page - 1):
        query = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        answer = requests.get(
            f"{server.base}/api/performances", params=query, headers=headers, timeout=60
        )
        cursor = answer.json()["nextCursor"]
    return cursor


def token(user):
    return issue_token(user, {"JWT_SECRET": SECRET})


# --- measuring -------------------------------------------------------------------------------


def warm_up(server, operation, path):
    """One request of a read before measuring it: the steady state is measured (connections
    open, the stats answer cached as it is after a user's first visit)."""
    if operation.method == "GET" and "{id}" not in path:
        headers = {"Authorization": f"Bearer {token(operation.user)}"}
        requests.get(server.base + path, headers=headers, timeout=300)


def run_wrk(server, operation):
    """Drive one operation with wrk; returns rps, p50/p99 in ms and the error counts."""
    path = operation.path.format_map({"id": "{id}", **server.cursors})
    warm_up(server, operation, path)
    settle(server)
    connections = operation.connections or SETTINGS["BENCH_CONNECTIONS"]
    threads = min(SETTINGS["BENCH_THREADS"], connections)  # wrk needs a connection per thread
    env = {
        **os.environ,
        "BENCH_METHOD": operation.method,
        "BENCH_PATH": path,
        "BENCH_BODY": operation.body or "",
        "BENCH_TOKEN": token(operation.user),
        "BENCH_THREADS": str(threads),
        "BENCH_IDS_FILE": str(server.pools.get(operation.pool, "")),
    }
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{SETTINGS['BENCH_HEAVY_DURATION' if operation.heavy else 'BENCH_DURATION']}s",
        "--timeout",
        "30s",
        "-s",
        str(ROOT / "bench" / "request.lua"),
        server.base,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    values = dict(pair.split("=") for pair in output.split("RESULT ")[1].split())
    seconds = int(values["duration_us"]) / 1e6
    return {
        "rps": int(values["requests"]) / seconds,
        "p50": int(values["p50_us"]) / 1000,
        "p99": int(values["p99_us"]) / 1000,
        "errors": int(values["non2xx"]) + int(values["socket_errors"]),
    }


def measure(server, operation):
    """run_wrk, with a failed run reported as a row of zeros rather than ending the benchmark."""
    try:
        return run_wrk(server, operation)
    except (subprocess.CalledProcessError, IndexError, ValueError) as error:
        print(f"  {server.name}: wrk failed: {error}", flush=True)
        return {"rps": 0.0, "p50": 0.0, "p99": 0.0, "errors": -1}


def bare_aggregation_ms(database, runs=7):
    """p50 of the service's stats pipeline run directly with pymongo (no HTTP, no Python work)."""
    from interview_service.performance.stats import pipeline

    stages = [{"$match": {"userId": HEAVY}}, {"$sort": {"completedAt": 1, "_id": 1}}]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        next(database.performances.aggregate(stages + pipeline(100), allowDiskUse=True))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def worker_pids(server):
    """The gunicorn workers of `server` (children of its master)."""
    path = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def memory_kb(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def export_memory(server, user, rows, repeats=3):
    """Peak RSS (MB) of the workers while exporting `user`'s CSV; also seconds per export."""
    pids = worker_pids(server)
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
    headers = {"Authorization": f"Bearer {token(user)}"}
    timings, lines, statuses = [], 0, set()
    for _ in range(repeats):
        started = time.perf_counter()
        with requests.get(
            f"{server.base}/api/performances/export.csv", headers=headers, stream=True, timeout=300
        ) as response:
            statuses.add(response.status_code)
            lines = sum(chunk.count(b"\n") for chunk in response.iter_content(65536))
        timings.append(time.perf_counter() - started)
    peak = max(memory_kb(pid, "VmHWM") for pid in pids) / 1024
    return {
        "rows": rows,
        "lines": lines,
        "statuses": sorted(statuses),
        "peak_mb": peak,
        "seconds": statistics.median(timings),
    }


def settle(server, timeout=300):
    """Wait until requests wrk abandoned have drained from the server and the database:
    /healthz and a database ping both answer fast three times in a row."""
    deadline, fast = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and fast < 3:
        started = time.perf_counter()
        try:
            requests.get(f"{server.base}/healthz", timeout=deadline - time.monotonic())
            DATABASE["client"].admin.command("ping")
        except (requests.RequestException, pymongo.errors.PyMongoError):
            continue
        fast = fast + 1 if time.perf_counter() - started < 0.05 else 0
        time.sleep(0.2)


# --- report ----------------------------------------------------------------------------------


def verdict(operation, service, baseline, bare_ms, memory, rows):
    """Whether the operation meets its target, in words."""
    if not service["rps"] or service["errors"]:
        return "no clean measurement (no answers, or errors)", False
    if operation.compare_to:
        ratio = service["p50"] / rows[operation.compare_to]["p50"]
        return f"{ratio:.2f}× the p50 of “{operation.compare_to}”", ratio <= 1.5
    if operation.target == "p50 ≤ 50 ms":
        return f"{service['p50']:.1f} ms", service["p50"] <= 50
    ratio = service["rps"] / baseline["rps"] if baseline and baseline["rps"] else 0
    throughput = (f"{ratio:.2f}× baseline", ratio >= 0.9)
    if operation.target == STATS_TARGET and bare_ms:
        ratio = service["p50"] / bare_ms
        return f"{ratio:.2f}× bare ({bare_ms:.1f} ms)", ratio <= 1.2
    if operation.name.startswith("CSV") and memory.get("service"):
        small, large = memory["service"]
        growth = large["peak_mb"] - small["peak_mb"]
        text = f"{throughput[0]}; +{growth:.1f} MB from {small['rows']} to {large['rows']} rows"
        return text, throughput[1] and growth < 50
    return throughput


MARKS = {True: "✅", False: "❌", None: ""}


def cell(result, key, fmt):
    return format(result[key], fmt) if result else "—"


def database_version():
    """The wire server the run used, by name and package version."""
    name, command = secantus_server()
    return f"{name} (SecantusDB {server_version(command)})"


def write_report(results, bare_ms, memory, started):
    """docs/benchmarks.md: settings, the table, the CSV memory figures, what is missing."""
    lines = [
        "# Benchmarks",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `make {'bench-quick' if QUICK else 'bench'}`"
        " (bench/run.py): wrk against the",
        "service and a plain Flask + pymongo baseline (bench/baseline.py), both under",
        "config/gunicorn.conf.py on loopback, each on its own database (same data, its own",
        f"indexes) of one {database_version()} process. The service runs with its rate limiter",
        "on, as deployed; the baseline has none."
        + (" Quick mode (`BENCH_QUICK=1`)." if QUICK else ""),
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; load generator,",
        "servers and database share those CPUs, so figures compare the two apps, they are not",
        "capacity numbers. Settings: "
        + ", ".join(f"`{name}={value}`" for name, value in SETTINGS.items())
        + ".",
        "",
        "| operation | service req/s | p50 ms | p99 ms | baseline req/s | p50 ms | p99 ms "
        "| errors (service/baseline) | target | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = {operation.name: service for operation, service, _ in results}
    for operation, service, baseline in results:
        text, ok = verdict(operation, service, baseline, bare_ms, memory, rows)
        errors = f"{cell(service, 'errors', 'd')}/{cell(baseline, 'errors', 'd')}"
        lines.append(
            f"| {operation.name} | {cell(service, 'rps', '.0f')} | {cell(service, 'p50', '.1f')} "
            f"| {cell(service, 'p99', '.1f')} | {cell(baseline, 'rps', '.0f')} "
            f"| {cell(baseline, 'p50', '.1f')} | {cell(baseline, 'p99', '.1f')} | {errors} "
            f"| {operation.target} | {text} {MARKS[ok]} |"
        )
    if memory:
        lines += ["", "CSV export, peak RSS of a worker (VmHWM, reset before each size):", ""]
        lines += [
            "| server | rows | lines | statuses | peak MB | seconds per export |",
            "|---|---|---|---|---|---|",
        ]
        for name, sizes in memory.items():
            for size in sizes:
                lines.append(
                    f"| {name} | {size['rows']} | {size['lines']} | {size['statuses']} "
                    f"| {size['peak_mb']:.1f} "
                    f"| {size['seconds']:.2f} |"
                )
    lines += ["", "Reproduce: `make bench` (quick run: `make bench-quick`).", ""]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(lines))
    print("\n".join(lines))


def main():
    if not shutil.which("wrk"):
        sys.exit("make bench needs wrk (Debian: apt-get install -y wrk)")
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    processes = []
    try:
        database_process, base_uri = start_database(workdir)
        processes.append(database_process)
        client = pymongo.MongoClient(base_uri, directConnection=True, tz_aware=True)
        DATABASE["client"] = client
        uris = {name: database_uri(base_uri, f"bench_{name}") for name in ("service", "baseline")}
        init = [str(BIN / "flask"), "--app", "wsgi", "init-db"]
        env = server_env(uris["service"], 0)
        subprocess.run(init, cwd=SERVICE_ROOT, env=env, check=True, capture_output=True)
        baseline_module.ensure_indexes(client["bench_baseline"])
        for name in uris:
            print(f"loading {SETTINGS['BENCH_TOTAL_PERFORMANCES']} performances ({name}) …")
            load_performances(client[f"bench_{name}"])

        service = start_server("service", "wsgi:app", uris["service"], workdir)
        baseline = start_server("baseline", "bench.baseline:app", uris["baseline"], workdir)
        processes += [service.process, baseline.process]
        for server in (service, baseline):
            server.pools.update(session_pools(server, workdir))
            database = client[f"bench_{server.name}"]
            server.pools["interviews"] = interview_pool(database, workdir, server.name)
        service.cursors["page5"] = page_cursor(service, HEAVY, 5)

        results = []
        for phase in ("small", "main", "large"):
            if phase == "large":
                for server in (service, baseline):
                    print(f"growing to {SETTINGS['BENCH_SESSIONS']} sessions ({server.name}) …")
                    grow_sessions(client[f"bench_{server.name}"])
            for operation in (item for item in OPERATIONS if item.phase == phase):
                print(f"measuring {operation.name} …", flush=True)
                service_result = measure(service, operation)
                baseline_result = measure(baseline, operation) if operation.baseline else None
                results.append((operation, service_result, baseline_result))

        memory = {}
        for server in (service, baseline):
            settle(server)
            memory[server.name] = [
                export_memory(server, SMALL, SETTINGS["BENCH_SMALL_EXPORT"]),
                export_memory(server, HEAVY, SETTINGS["BENCH_USER_PERFORMANCES"]),
            ]
        bare_ms = bare_aggregation_ms(client["bench_service"])
        write_report(results, bare_ms, memory, started)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
