"""`make bench`: the service and a plain Flask + pymongo baseline, same gunicorn config, same data.

Starts SecantusDB (free port, temporary storage), the service (`wsgi:app`) and the baseline
(`bench.baseline:app`) under config/gunicorn.conf.py on loopback, bulk-loads performances in
the stored shape, drives every operation with wrk and writes docs/benchmarks.md. Operations
whose route the service does not serve (yet) are reported as missing. Sizes and durations
come from the environment (see SETTINGS), so a quick run is e.g.
`BENCH_DURATION=3 BENCH_TOTAL_PERFORMANCES=20000 BENCH_USER_PERFORMANCES=2000 make bench`.
"""

import json
import os
import platform
import random
import re
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
from scripts.devserver import Database, free_port, stop

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
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
    # Both servers' database time limit: the heavy reads take seconds on the embedded server,
    # and the benchmark measures them rather than the 503 the production limit would give.
    "BENCH_DB_TIMEOUT_MS": 120_000,
}
SETTINGS = {name: int(os.environ.get(name, default)) for name, default in SETTINGS.items()}
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "docs" / "benchmarks.md"))
SECRET = "bench-secret-0123456789abcdef0123456789"
DATABASE = {}  # the benchmark's own client of the database, once started
HEAVY, SMALL, WRITER = "bench-heavy", "bench-small", "bench-writer"

SESSION_BODY = {
    "config": {
        "role": "Backend Engineer",
        "companyName": "Acme",
        "interviewType": "technical",
        "difficulty": "mid",
        "interactionMode": "text",
    },
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
    target: str = "throughput ≥ 0.8× baseline"
    connections: int | None = None  # fewer than BENCH_CONNECTIONS for the heavy reads
    heavy: bool = False  # seconds per request: measured for BENCH_HEAVY_DURATION instead


OPERATIONS = [
    Operation("health (GET /healthz)", "GET", "/healthz"),
    Operation("create session", "POST", "/api/sessions", body=json.dumps(SESSION_BODY)),
    Operation(
        "append message",
        "POST",
        "/api/sessions/{id}/conversations",
        body=json.dumps(MESSAGE_BODY),
        pool="sessions",
    ),
    Operation("get session (50 messages + report)", "GET", "/api/sessions/{id}", pool="full"),
    Operation("create interview", "POST", "/api/interviews", body=json.dumps(INTERVIEW_BODY)),
    Operation(
        "save performance", "POST", "/api/save-performance", body=SAVE_BODY, pool="interviews"
    ),
    Operation("list performances (first page)", "GET", "/api/performances?limit=20", user=HEAVY),
    Operation(
        "performance stats",
        "GET",
        "/api/performance-stats",
        user=HEAVY,
        target="p50 ≤ 1.2× bare aggregation",
        connections=1,
        heavy=True,
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
]


@dataclass
class Server:
    """A gunicorn-served app under test."""

    name: str
    port: int
    process: subprocess.Popen
    routes: set = field(default_factory=set)  # (method, path template) it serves
    pools: dict = field(default_factory=dict)  # ids files for `{id}`

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def serves(self, method, path):
        return (method, template(path)) in self.routes


def template(path):
    """`/api/sessions/{sessionId}?x=1` → `/api/sessions/{}`: paths compare on their shape."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


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


def server_env(uri, port):
    """The environment of both servers: production settings, limits off, loopback."""
    return {
        **os.environ,
        "APP_ENV": "production",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MONGODB_URI": uri,
        "BASELINE_MONGODB_URI": uri,
        "JWT_SECRET": SECRET,
        "CORS_ORIGINS": "http://bench.test",
        "RATE_LIMIT_ENABLED": "false",
        "MONGODB_TIMEOUT_MS": str(SETTINGS["BENCH_DB_TIMEOUT_MS"]),
        "WEB_CONCURRENCY": str(SETTINGS["BENCH_WORKERS"]),
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
    }


def start_server(name, wsgi_app, uri, workdir):
    """gunicorn with config/gunicorn.conf.py serving `wsgi_app`; waits for /healthz."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), wsgi_app],
        cwd=ROOT,
        env=server_env(uri, port),
        stdout=open(workdir / f"{name}.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(name, port, process)

    def healthy():
        try:
            return requests.get(f"{server.base}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, 60, name)
    return server


def discover_routes(server, app):
    """The routes a server serves: the service's OpenAPI document, the baseline's url_map."""
    if server.name == "service":
        paths = requests.get(f"{server.base}/api/openapi.json", timeout=10).json()["paths"]
        server.routes = {(m.upper(), template(p)) for p, item in paths.items() for m in item}
    else:
        server.routes = {
            (method, template(re.sub(r"<([^>]+)>", r"{\1}", rule.rule)))
            for rule in app.url_map.iter_rules()
            for method in rule.methods
        }


# --- data ------------------------------------------------------------------------------------


def load_performances(database):
    """Bulk-load performances (and the measured users' interviews) in the stored shape."""
    total, heavy, small = (
        SETTINGS["BENCH_TOTAL_PERFORMANCES"],
        SETTINGS["BENCH_USER_PERFORMANCES"],
        SETTINGS["BENCH_SMALL_EXPORT"],
    )
    owners = [HEAVY] * heavy + [SMALL] * small
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
        if owner in (HEAVY, SMALL):
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
        if server.serves("POST", "/api/sessions/{id}/reports"):
            requests.post(
                f"{url}/{session_id}/reports", json=REPORT_BODY, headers=headers, timeout=10
            )
    pools["full"] = write_ids(workdir / f"{server.name}-full.ids", full)
    return pools


def token(user):
    return issue_token(user, {"JWT_SECRET": SECRET})


# --- measuring -------------------------------------------------------------------------------


def run_wrk(server, operation):
    """Drive one operation with wrk; returns rps, p50/p99 in ms and the error counts."""
    settle(server)
    connections = operation.connections or SETTINGS["BENCH_CONNECTIONS"]
    threads = min(SETTINGS["BENCH_THREADS"], connections)  # wrk needs a connection per thread
    env = {
        **os.environ,
        "BENCH_METHOD": operation.method,
        "BENCH_PATH": operation.path,
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
    try:
        from interview_service.performance.stats import pipeline
    except ImportError:
        return None
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


def verdict(operation, service, baseline, bare_ms, memory):
    """Whether the operation meets its target, in words."""
    if service is None:
        return "not served by the service yet", None
    if not service["rps"] or service["errors"]:
        return "no clean measurement (no answers, or errors)", False
    ratio = service["rps"] / baseline["rps"] if baseline and baseline["rps"] else 0
    throughput = (f"{ratio:.2f}× baseline", ratio >= 0.8)
    if operation.name.startswith("performance stats") and bare_ms:
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


def write_report(results, missing, bare_ms, memory, started):
    """docs/benchmarks.md: settings, the table, the CSV memory figures, what is missing."""
    lines = [
        "# Benchmarks",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `make bench` (bench/run.py): wrk against the",
        "service and a plain Flask + pymongo baseline (bench/baseline.py), both under",
        "config/gunicorn.conf.py on loopback, each on its own database (same data, its own",
        "indexes) of one SecantusDB process.",
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
    for operation, service, baseline in results:
        text, ok = verdict(operation, service, baseline, bare_ms, memory)
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
    if missing:
        lines += ["", "Not served by the service yet (not measured): " + ", ".join(missing) + "."]
    lines += ["", "Reproduce: `make bench` (quick run: `BENCH_DURATION=3 make bench`).", ""]
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
        subprocess.run(init, cwd=ROOT, env=env, check=True, capture_output=True)
        baseline_module.ensure_indexes(client["bench_baseline"])
        for name in uris:
            print(f"loading {SETTINGS['BENCH_TOTAL_PERFORMANCES']} performances ({name}) …")
            load_performances(client[f"bench_{name}"])

        service = start_server("service", "wsgi:app", uris["service"], workdir)
        baseline = start_server("baseline", "bench.baseline:app", uris["baseline"], workdir)
        processes += [service.process, baseline.process]
        discover_routes(service, None)
        discover_routes(baseline, baseline_module.app)
        for server in (service, baseline):
            if server.serves("POST", "/api/sessions"):
                server.pools.update(session_pools(server, workdir))
            database = client[f"bench_{server.name}"]
            server.pools["interviews"] = interview_pool(database, workdir, server.name)

        results, missing = [], []
        for operation in OPERATIONS:
            print(f"measuring {operation.name} …", flush=True)
            measured = [
                measure(server, operation)
                if server.serves(operation.method, operation.path)
                else None
                for server in (service, baseline)
            ]
            if measured[0] is None:
                missing.append(f"{operation.method} {template(operation.path)}")
            results.append((operation, *measured))

        memory = {}
        if service.serves("GET", "/api/performances/export.csv"):
            for server in (service, baseline):
                settle(server)
                memory[server.name] = [
                    export_memory(server, SMALL, SETTINGS["BENCH_SMALL_EXPORT"]),
                    export_memory(server, HEAVY, SETTINGS["BENCH_USER_PERFORMANCES"]),
                ]
        bare_ms = (
            bare_aggregation_ms(database)
            if service.serves("GET", "/api/performance-stats")
            else None
        )
        write_report(results, missing, bare_ms, memory, started)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
