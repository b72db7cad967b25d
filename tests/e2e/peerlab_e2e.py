"""Shared helpers for peerlab's end-to-end tests: real node processes on loopback.

Every test file runs as its own process (see CMakeLists.txt) with
`--peerlab PATH` naming the binary under test. Nodes are started with port 0
on loopback addresses private to each file, waited for by polling node.json,
and stopped by PID. Nothing here sleeps blindly: every wait polls a condition
until a deadline.

Also here: a minimal, independent implementation of the wire protocol
(docs/protocol.md), so tests can play a hostile or broken peer.
"""

import errno
import hashlib
import json
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

PEERLAB = os.environ.get("PEERLAB_BIN", "")

# An ASan/UBSan build (set by tests/e2e/CMakeLists.txt): its resident memory
# is mostly the sanitizer's, so absolute memory bounds are not checked there.
SANITIZED = os.environ.get("PEERLAB_SANITIZED") == "1"

# Multiplies every deadline; set PEERLAB_E2E_TIME_SCALE=3 on a very slow machine.
TIME_SCALE = float(os.environ.get("PEERLAB_E2E_TIME_SCALE", "1"))


def seconds(value):
    return value * TIME_SCALE


# ---------------------------------------------------------------- waiting


class GiveUp(AssertionError):
    """Raised by a wait_until predicate when waiting longer cannot help."""


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns something truthy; returns that value.

    Raises AssertionError naming `what` (and the last value or exception
    seen) once `timeout` seconds have passed. A predicate raising GiveUp
    ends the wait at once.
    """
    deadline = time.monotonic() + seconds(timeout)
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - reported below if it persists
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {seconds(timeout):.1f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def hold_for(predicate, duration, what, interval=0.1):
    """Asserts predicate() stays truthy, polled, for `duration` seconds."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        value = predicate()
        if not value:
            raise AssertionError(f"{what} stopped holding: {value!r}")
        time.sleep(interval)


# ---------------------------------------------------------------- processes


def _die_with_parent():
    # If the test process is killed (e.g. a ctest timeout), its nodes go too.
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:  # noqa: BLE001 - best effort only
        pass


def run_cli(*args, timeout=30, env=None, cwd=None):
    """Runs `peerlab ARGS...` to completion; returns the CompletedProcess (text)."""
    return subprocess.run([PEERLAB, *args], capture_output=True, text=True, timeout=seconds(timeout), env=env,
                          cwd=cwd)


def cli_json(*args):
    result = run_cli(*args)
    if result.returncode != 0:
        raise AssertionError(f"peerlab {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return json.loads(result.stdout)


class CliProcess:
    """`peerlab ARGS...` running in the background (e.g. a `get` to watch).

    stdout and stderr go to files, so a chatty process never blocks on a
    full pipe; wait() returns a CompletedProcess like run_cli's.
    """

    def __init__(self, args, cwd=None, env=None, stderr=None):
        self.args = [PEERLAB, *args]
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile() if stderr is None else None
        self.proc = subprocess.Popen(self.args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err if stderr is None else stderr, preexec_fn=_die_with_parent)

    @property
    def pid(self):
        return self.proc.pid

    def poll(self):
        return self.proc.poll()

    def wait(self, timeout):
        """Waits (bounded) for the exit; kills the process and fails if it overruns."""
        try:
            self.proc.wait(timeout=seconds(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{' '.join(self.args[1:])} did not finish within {seconds(timeout):.0f}s; "
                                 f"stderr so far: {self._read(self._err)[-2000:]!r}")
        result = subprocess.CompletedProcess(self.args, self.proc.returncode, self._read(self._out),
                                             self._read(self._err))
        self._close()
        return result

    def kill(self):
        """SIGKILL by PID if still running; never raises."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
        self._close()

    def _close(self):
        for f in (self._out, self._err):
            if f is not None and not f.closed:
                f.close()

    @staticmethod
    def _read(f):
        if f is None or f.closed:
            return ""
        f.seek(0)
        return f.read().decode(errors="replace")


def split_endpoint(text):
    """'127.0.0.2:7070' -> ('127.0.0.2', 7070); '[::1]:7070' -> ('::1', 7070)."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def http_get_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=seconds(timeout)) as response:
        return json.loads(response.read().decode())


def http_post_json(url, body, token=None, timeout=10):
    """POSTs JSON; returns (status, parsed JSON body or None), also for error statuses."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=seconds(timeout)) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw.decode())
    except ValueError:
        return status, None


# ---------------------------------------------------------------- files

MiB = 1024 * 1024
HASH_BLOCK_BYTES = 8 * MiB


def write_random_file(path, size, block=HASH_BLOCK_BYTES):
    """Writes `size` random bytes to path; returns the path."""
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(block, left)
            f.write(os.urandom(n))
            left -= n
    return path


def sha256_file(path, block=HASH_BLOCK_BYTES):
    """Hex SHA-256 of a file, read in 8 MiB blocks (fine for multi-GiB files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            data = f.read(block)
            if not data:
                return digest.hexdigest()
            digest.update(data)


class Node:
    """One `peerlab node` process, its data directory and its log file."""

    def __init__(self, data_dir, listen, http, peers=(), name=None, log_level=None, extra=(), env=None):
        self.dir = str(data_dir)
        self.env = dict(env or {})  # added to the test's environment
        self.listen_arg = listen
        self.http_arg = http
        self.peer_args = list(peers)
        self.name = name
        self.log_level = log_level
        self.extra = list(extra)
        self.proc = None
        self.info = None
        self.log_path = None
        self._log_file = None
        self._starts = 0

    # -- life cycle

    def command(self):
        cmd = [PEERLAB, "node", "--dir", self.dir, "--listen", self.listen_arg, "--http", self.http_arg]
        for peer in self.peer_args:
            cmd += ["--peer", peer]
        if self.name:
            cmd += ["--name", self.name]
        if self.log_level:
            cmd += ["--log-level", self.log_level]
        return cmd + self.extra

    def spawn(self):
        """Starts the process without waiting for it to come up."""
        os.makedirs(self.dir, exist_ok=True)
        self._starts += 1
        # Next to the data dir, named for the node: two nodes may share a dir.
        label = self.name or os.path.basename(self.dir.rstrip("/"))
        self.log_path = os.path.join(os.path.dirname(self.dir.rstrip("/")) or ".", f"{label}.{self._starts}.log")
        self._log_file = open(self.log_path, "wb")
        self.info = None
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                     env=dict(os.environ, **self.env) if self.env else None)
        return self

    def start(self, timeout=15):
        """Starts the node and waits until node.json names this process."""
        self.spawn()

        def up():
            if self.proc.poll() is not None:
                raise GiveUp(f"node {self.name or self.dir} exited {self.proc.returncode} while starting:\n"
                             f"{self.log()}")
            info = self.read_info()
            return info if info and info.get("pid") == self.proc.pid else None

        self.info = wait_until(up, timeout, f"{self.node_json_path()} of pid {self.proc.pid}")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals the process (by PID) and waits for it; returns its exit code.

        If it does not exit in time it is killed and AssertionError raised.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=seconds(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_log()
                raise AssertionError(f"node {self.name or self.dir} (pid {self.proc.pid}) ignored signal {sig} "
                                     f"for {timeout}s and was killed")
        self._close_log()
        return self.proc.returncode

    def kill(self):
        """Best-effort cleanup: SIGTERM, then SIGKILL. Never raises."""
        if self.proc is None or self.proc.poll() is not None:
            self._close_log()
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        except OSError:
            pass
        self._close_log()

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    # -- what the node publishes

    def node_json_path(self):
        return os.path.join(self.dir, "node.json")

    def read_info(self):
        try:
            with open(self.node_json_path()) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @property
    def id(self):
        return self.info["id"]

    @property
    def listen(self):
        return self.info["listen"]

    @property
    def http(self):
        return self.info["http"]

    @property
    def ip(self):
        return split_endpoint(self.info["listen"])[0]

    def peers(self):
        return self._query("peers")

    def status(self):
        return self._query("status")

    def _query(self, command):
        try:
            return cli_json(command, "--dir", self.dir, "--json")
        except AssertionError:
            self.assert_alive()
            raise

    def assert_alive(self):
        """Raises GiveUp (ending any wait at once) if the node process has died."""
        if self.proc is not None and self.proc.poll() is not None:
            raise GiveUp(f"node {self.name or self.dir} (pid {self.pid}) died with exit {self.proc.returncode}; "
                         f"end of its log:\n{self.log_tail(30)}")

    def api(self, path):
        return http_get_json(f"http://{self.http}{path}")

    def peer_by_id(self):
        return {p["id"]: p for p in self.peers()}

    # -- files and transfers

    def share(self, path, timeout=600):
        """`peerlab share PATH`; returns the content id it prints."""
        result = run_cli("share", path, "--dir", self.dir, timeout=timeout)
        if result.returncode != 0:
            self.assert_alive()
            raise AssertionError(f"peerlab share {path} on {self.name} exited {result.returncode}: "
                                 f"{result.stderr.strip()}")
        return result.stdout.strip()

    def get_args(self, file_id, output=None, quiet=False):
        args = ["get", file_id, "--dir", self.dir]
        if output is not None:
            args += ["-o", str(output)]
        if quiet:
            args.append("--quiet")
        return args

    def get(self, file_id, output=None, quiet=False, cwd=None, timeout=120):
        """`peerlab get` to completion; returns the CompletedProcess."""
        return run_cli(*self.get_args(file_id, output, quiet), cwd=cwd, timeout=timeout)

    def start_get(self, file_id, output=None, quiet=False, cwd=None, stderr=None):
        """`peerlab get` in the background; returns a CliProcess."""
        return CliProcess(self.get_args(file_id, output, quiet), cwd=cwd, stderr=stderr)

    def files(self):
        return self._query("files")

    def file_entry(self, file_id):
        """This node's `files --json` entry for file_id, or None."""
        return next((f for f in self.files() if f["id"] == file_id), None)

    def transfer(self, file_id):
        return self.api(f"/api/transfers/{file_id}")

    def transfers(self):
        return self.api("/api/transfers")

    def post(self, path, body, token=True):
        """POSTs to the node's API, with its token unless token=False."""
        return http_post_json(f"http://{self.http}{path}", body, self.info["token"] if token else None)

    # -- diagnostics

    def log(self):
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError(f"no VmRSS for pid {self.pid}")

    def socket_fds(self):
        count = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                if os.readlink(f"/proc/{self.pid}/fd/{fd}").startswith("socket:"):
                    count += 1
            except OSError:
                pass
        return count

    def uses_asan(self):
        with open(f"/proc/{self.pid}/maps") as f:
            return "libasan" in f.read()


# A log line that reports a refused or closed connection.
CLOSE_WORDS = re.compile(
    r"clos|drop|reject|refus|error|invalid|bad|wrong|time|exceed|too |limit|malformed|unexpected|"
    r"truncat|eof|reset|disconnect|abort|fail|protocol|magic|version|self|unknown",
    re.IGNORECASE)


def log_lines_about(log_text, endpoint):
    """Lines of a node log that mention `endpoint` (IP:PORT, not a longer port)."""
    pattern = re.compile(re.escape(endpoint) + r"(?!\d)")
    return [line for line in log_text.splitlines() if pattern.search(line)]


# ---------------------------------------------------------------- test plumbing


def test_failed(case):
    """Whether `case` (or one of its subtests) has failed so far; for cleanups."""
    outcome = getattr(case, "_outcome", None)
    result = getattr(outcome, "result", None)
    if result is None:
        return False
    return any(test is case or getattr(test, "test_case", None) is case
               for test, _ in list(result.failures) + list(result.errors))


class NodeTestCase(unittest.TestCase):
    """Creates a temp dir per test, stops every node by PID afterwards, and
    prints the nodes' logs when a test failed."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=f"peerlab-e2e-{self._testMethodName}-")
        self.nodes = []
        self.processes = []  # background CliProcesses, killed by PID in cleanup
        self.addCleanup(self._cleanup)

    def cli_process(self, process):
        self.processes.append(process)
        return process

    def node(self, name, listen, http, peers=(), **kwargs):
        node = Node(os.path.join(self.tmp, name), listen, http, peers=peers, name=name, **kwargs)
        self.nodes.append(node)
        return node

    def _failed(self):
        return test_failed(self)

    def _cleanup(self):
        for process in self.processes:
            process.kill()
        for node in self.nodes:
            node.kill()
        if self._failed():
            for node in self.nodes:
                if node.log_path:
                    sys.stderr.write(f"\n----- log of {node.name} ({node.log_path}) -----\n{node.log_tail(int(os.environ.get('PEERLAB_E2E_LOG_LINES', '60')))}\n")
        else:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    """unittest.main() that first takes `--peerlab PATH` off the command line."""
    global PEERLAB
    argv = list(sys.argv)
    if "--peerlab" in argv:
        i = argv.index("--peerlab")
        PEERLAB = argv[i + 1]
        del argv[i:i + 2]
    if not PEERLAB:
        PEERLAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "peerlab")
    PEERLAB = os.path.abspath(PEERLAB)
    if not os.access(PEERLAB, os.X_OK):
        sys.exit(f"{PEERLAB} is not an executable; build first or pass --peerlab PATH")
    unittest.main(argv=argv, verbosity=2)


# ---------------------------------------------------------------- wire protocol

MAGIC = 0x504C4142  # "PLAB"
VERSION = 1
MAX_FRAME_BYTES = 4 * 1024 * 1024 + 4096  # the largest chunk (4 MiB) plus its fields: docs/protocol.md
HELLO, GET_PEERS, PEERS, KEEPALIVE = 1, 2, 3, 4
LITTLE_ENDIAN = 1


def frame(payload):
    """A frame: 4-byte big-endian length, then the payload."""
    return struct.pack(">I", len(payload)) + payload


def hello(node_id, listen_port=0, name="e2e", magic=MAGIC, version=VERSION):
    """A hello payload (type, endianness flag, then little-endian fields)."""
    name_bytes = name.encode() if isinstance(name, str) else name
    assert len(node_id) == 16
    return (bytes([HELLO, LITTLE_ENDIAN]) + struct.pack("<IH", magic, version) + bytes(node_id) +
            struct.pack("<HQ", listen_port, len(name_bytes)) + name_bytes)


def get_peers():
    return bytes([GET_PEERS, LITTLE_ENDIAN])


def keepalive():
    return bytes([KEEPALIVE, LITTLE_ENDIAN])


def peers_message(endpoints, count=None):
    """A peers payload; `count` overrides the announced number of entries."""
    out = bytes([PEERS, LITTLE_ENDIAN]) + struct.pack("<Q", len(endpoints) if count is None else count)
    for ip, port in endpoints:
        out += bytes([4]) + socket.inet_aton(ip) + struct.pack("<H", port)
    return out


def parse_hello(payload):
    """Returns (magic, version, id bytes, listen_port, name) of a hello payload."""
    if len(payload) < 2 or payload[0] != HELLO or payload[1] != LITTLE_ENDIAN:
        raise ValueError(f"not a hello: {payload[:8].hex()}")
    magic, version = struct.unpack_from("<IH", payload, 2)
    node_id = payload[8:24]
    listen_port, name_len = struct.unpack_from("<HQ", payload, 24)
    name = payload[34:34 + name_len].decode(errors="replace")
    if 34 + name_len != len(payload):
        raise ValueError("hello has trailing bytes")
    return magic, version, node_id, listen_port, name


class WireClient:
    """A raw TCP client towards a node's peer socket, bound to `source_ip`."""

    def __init__(self, target, source_ip, timeout=10):
        host, port = split_endpoint(target)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source_ip, 0))
        self.sock.settimeout(seconds(timeout))
        self.sock.connect((host, port))
        self.endpoint = "%s:%d" % self.sock.getsockname()
        self._buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self, timeout=5):
        """The next frame's payload, or None if the node closed the connection."""
        deadline = time.monotonic() + seconds(timeout)
        while True:
            if len(self._buffer) >= 4:
                (length,) = struct.unpack(">I", self._buffer[:4])
                if len(self._buffer) >= 4 + length:
                    payload = self._buffer[4:4 + length]
                    self._buffer = self._buffer[4 + length:]
                    return payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no complete frame from the node within {timeout}s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self._buffer += chunk

    def wait_closed(self, timeout):
        """Reads (and discards) until EOF or reset; returns seconds waited.

        Raises AssertionError if the node keeps the connection open longer.
        """
        start = time.monotonic()
        deadline = start + seconds(timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"node kept connection {self.endpoint} open for more than {timeout}s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as exc:
                if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
                    return time.monotonic() - start
                raise
            if not chunk:
                return time.monotonic() - start

    def send_ignoring_reset(self, data):
        """Sends what it can; a node that already closed is not an error here."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
