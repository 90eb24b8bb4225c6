"""Development servers, shared by `make run`, the test fixtures and the benchmark: a free
loopback port, a SecantusDB process (the fastest server installed) and stopping a process.

SecantusDB is GPL: it runs as a separate process here, never imported.
"""

import ctypes
import ctypes.util
import fcntl
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The Rust server comes from an older SecantusDB wheel, so it lives in a tool environment of
# its own (`make` installs it) and the `embedded` extra keeps its pin.
RS_BIN = ROOT / ".venv-rs" / "bin"
# SECANTUS_SERVER=secantusd-rs (or secantusd-py) picks one; by default the first one found:
# the Rust server is the faster. It keeps an updated document's old keys in unique indexes, so
# the models never update a key a unique index holds (see Report.generation).
SERVER_NAMES = ("secantusd-rs", "secantusd-py")
STOP_TIMEOUT = 10
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port, host="127.0.0.1"):
    """Whether binding `host:port` would fail right now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError:
            return True
    return False


def listening(port):
    """Whether something accepts connections on loopback `port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_for_port(port, process, timeout=60):
    """Block until something accepts on `port`; RuntimeError if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        if listening(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def die_with_parent():
    """In a child before exec (Linux): SIGTERM it when the process that started it dies, even
    by SIGKILL, so a killed `make run` leaves no database holding var/."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(process, timeout=STOP_TIMEOUT, stop_signal=signal.SIGTERM):
    """Send `stop_signal`, wait up to `timeout` seconds, then SIGKILL; returns once it is gone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)


def kill(process):
    """SIGKILL `process`, and its process group when it leads one (gunicorn and its workers)."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
    process.wait()


def secantus_server(name=None):
    """(name, path) of the SecantusDB daemon to run: `name`, SECANTUS_SERVER, else the first of
    SERVER_NAMES found."""
    wanted = name or os.environ.get("SECANTUS_SERVER")
    for candidate in [wanted] if wanted else SERVER_NAMES:
        found = shutil.which(candidate, path=f"{BIN}{os.pathsep}{RS_BIN}") or shutil.which(
            candidate
        )
        if found:
            return candidate, found
    raise RuntimeError(
        f"{wanted or 'secantusd-py'} not found: install the `embedded` extra (make does)"
    )


def server_version(command):
    """The SecantusDB wheel version of the environment the server `command` comes from."""
    sites = [str(path) for path in Path(command).parent.parent.glob("lib/python*/site-packages")]
    for distribution in importlib.metadata.distributions(name="SecantusDB", path=sites):
        return distribution.version
    return "version unknown"


def storage_in_use(storage):
    """Whether another process holds the WiredTiger lock of `storage` (a running database)."""
    lock = Path(storage) / "WiredTiger.lock"
    if not lock.exists():
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(handle, fcntl.LOCK_UN)
    return False


# The Rust server's write-ahead log file is written out to its full size (2 GB by default) and
# read back whole by a restart on the same storage: 10 s, against 0.3 s at 100 MB.
LOG_FILE_MAX = "100MB"


class Database:
    """A SecantusDB process on a loopback port and on-disk storage, which can stop and restart.

    `durable` fsyncs the log on every commit: without it SecantusDB buffers its log in process
    and a SIGKILL loses the last ~100 ms of acknowledged writes (w:1 and w:majority alike;
    `j: true` on each write closes the gap too, at a higher cost per write).
    `test_commands` allows `configureFailPoint` (the Rust server always allows it).
    """

    def __init__(self, storage, *, port=None, durable=False, test_commands=False, log=None):
        self.name, self.command = secantus_server()
        self.storage = Path(storage)
        self.port = port or free_port()
        self.durable = durable
        self.test_commands = test_commands
        self.log = log
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}"

    def arguments(self):
        """The command line: loopback only, WARNING logs, the flags this server knows.

        Never `--standalone`: faster on writes, but drivers then see a standalone server and
        retry no write, which the service relies on (the fault tests fail without it)."""
        arguments = [self.command, "--host", "127.0.0.1", "--port", str(self.port)]
        arguments += ["--storage-path", str(self.storage), "--log-level", "WARNING"]
        if self.durable:
            arguments.append("--sync-on-commit")
        if self.name == "secantusd-rs":
            arguments += ["--cache-size", "1G"]  # its default is 4G
            arguments += ["--log-file-max", LOG_FILE_MAX]
        elif self.test_commands:
            arguments.append("--enable-test-commands")
        return arguments

    def start(self, timeout=60):
        """Start (or restart) on the same port and storage; return once it listens."""
        self.storage.mkdir(parents=True, exist_ok=True)
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL
        # A session of its own: a Ctrl-C meant for `make run` must not reach it before gunicorn
        # has stopped (the caller stops it last).
        self.process = subprocess.Popen(
            self.arguments(),
            stdout=output,
            stderr=output,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        if self.log:
            output.close()  # the child has its own copy
        wait_for_port(self.port, self.process, timeout)

    def stop(self, stop_signal=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stop with `stop_signal` (SIGKILL after `timeout` seconds) and wait until it is gone."""
        stop(self.process, timeout, stop_signal)
