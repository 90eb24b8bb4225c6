"""What the SPA team does with the API document: generate a TypeScript client and type-check a
typed use of it; open Swagger UI (served offline from the pinned package) in headless Chromium."""

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from scripts.devserver import free_port

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tests" / "typescript"
CACHE = ROOT / ".cache"

pytestmark = pytest.mark.slow


def run(command, cwd, timeout=300):
    """Run `command`; its output in the assertion message when it fails."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_generated_typescript_client_type_checks_a_typed_use():
    assert shutil.which("npm"), "node and npm are needed: `make node` installs them"
    work = CACHE / "ts-client"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "tsconfig.json", "usage.ts"):
        shutil.copy(TOOLS / name, work / name)
    npm = ["npm", "--cache", str(CACHE / "npm"), "--no-audit", "--no-fund"]
    run([*npm, "install"], work)
    document = ROOT / "docs" / "openapi.json"
    run(["npx", "--no-install", "openapi-typescript", str(document), "-o", "api.ts"], work)
    run(["npx", "--no-install", "tsc", "-p", "tsconfig.json"], work)
    assert components_shadowing_globals(work / "node_modules" / "typescript" / "lib") == set()


def components_shadowing_globals(typescript_lib):
    """Component names of the document that are also global types of TypeScript's libraries."""
    declaration = re.compile(r"^(?:declare )?(?:interface|type|var|class) ([A-Za-z_]\w*)", re.M)
    globals_ = set()
    for library in typescript_lib.glob("lib.*.d.ts"):
        globals_ |= set(declaration.findall(library.read_text()))
    assert {"Error", "Response", "Performance"} <= globals_
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    names = {name for kind in document["components"].values() for name in kind}
    return names & globals_


@pytest.fixture
def served_app(make_app):
    """The app served over HTTP on a free loopback port, for a browser."""
    app = make_app("mongomock://localhost/swagger-ui")
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join()


def test_swagger_ui_renders_the_operations_offline(served_app):
    app, base = served_app
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "headless Chromium is needed: `make chromium` installs it"
    page = app.test_client().get("/api/docs").get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in page
    assert "//" not in page.split("<script", 1)[1].split("</script>", 1)[0], "no remote script"
    dom = run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{base}/api/docs",
        ],
        ROOT,
        timeout=120,
    )
    for operation in (
        "sessions-createSession",
        "sessions-appendMessages",
        "performance-getPerformanceStats",
    ):
        assert f'id="operations-{operation}"' in dom, dom[:2000]
