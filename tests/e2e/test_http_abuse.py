#!/usr/bin/env python3
"""The embedded HTTP server under abuse (GitHub issue 7): slowloris while a
browser keeps polling the dashboard, 2 000 idle keep-alive connections,
request smuggling shapes, header floods and a Range header of 1 000 parts.

Every case checks what a client sees (status, `Connection: close`, the
connection really closed, nothing after an error read as a request) and that
the node stays healthy: alive, answering a fresh client quickly, with bounded
sockets and memory.

Each test is its own ctest entry (e2e.http_abuse.<case>) and starts its own
node, so they run side by side. This file owns the loopback addresses
127.0.12.1-127.0.12.49 among the e2e tests (test_faults.py has .100 and up).
slowhttptest cannot bind a source address: its connections come from
127.0.0.1 (the kernel's choice for loopback), which the polling "browser"
(127.0.12.x) is therefore distinguishable from.
"""

import errno
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

KiB = 1024
MiB = e2e.MiB

# What src/http/server.hpp and request_parser.hpp promise today.
MAX_CONNECTIONS = 256
MAX_HEAD_BYTES = 8 * KiB
MAX_HEADERS = 100

# Deadlines (seconds, scaled by PEERLAB_E2E_TIME_SCALE).
BROWSER_DEADLINE_S = 3        # one dashboard or API request of the "browser", retry included
FRESH_CLIENT_DEADLINE_S = 2   # a new client next to 2 000 idle connections
CLOSE_DEADLINE_S = 3          # the server closes after refusing a request
RANGE_DEADLINE_S = 2          # 1 000 ranges answered
RSS_GROWTH_LIMIT_KIB = 48 * 1024
RSS_GROWTH_LIMIT_ASAN_KIB = 192 * 1024

SLOWLORIS_ATTACK_S = 16       # slowhttptest's own test length (stopped when the watch ends)
SLOWLORIS_RATE = 200          # new attacker connections per second: more than the cap every 1.3 s
SLOWLORIS_PRESSURE = 240      # attacker sockets open at once before the browser's verdict counts
BROWSER_WATCH_S = 7           # how long the browser polls under full pressure,
BROWSER_REQUESTS = 10         # or longer until it has made this many (a loaded machine is slower)
IDLE_CONNECTIONS = 2000

IPS = {
    "slowloris": ("127.0.12.1", "127.0.12.2"),   # node, browser
    "idle": ("127.0.12.3", "127.0.12.4", "127.0.12.5"),  # node, idle clients, fresh client
    "smuggling": ("127.0.12.6", "127.0.12.7"),
    "headers": ("127.0.12.8", "127.0.12.9"),
    "ranges": ("127.0.12.10", "127.0.12.11"),
}


# ---------------------------------------------------------------- raw HTTP helpers


def parse_responses(data, head_only=False):
    """Splits a byte stream from the server into responses (to HEAD requests if `head_only`).

    Returns (responses, rest): each response a dict with status, headers
    (lower-case names) and body; rest is what could not be parsed (a
    response cut short). Bodies are delimited by Content-Length, as every
    peerlab response has one (304 and 204 have no body).
    """
    responses = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        match = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        if not match:
            break
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(match.group(1))
        length = 0 if head_only or status in (204, 304) else int(headers.get("content-length", "0"))
        if len(data) < end + 4 + length:
            break
        responses.append({"status": status, "headers": headers, "body": data[end + 4:end + 4 + length]})
        data = data[end + 4 + length:]
    return responses, data


def connect(address, source_ip, timeout=5):
    host, port = e2e.split_endpoint(address)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source_ip, 0))
    s.settimeout(e2e.seconds(timeout))
    s.connect((host, port))
    return s


def read_until_closed(s, timeout, limit=None):
    """Reads until the server closes (EOF or reset); returns (bytes, closed).

    closed is False if the connection was still open after `timeout`
    seconds (or once `limit` bytes arrived, for amplification checks).
    """
    chunks, total = [], 0
    deadline = time.monotonic() + e2e.seconds(timeout)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (limit is not None and total > limit):
            return b"".join(chunks), False
        s.settimeout(remaining)
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError as exc:
            if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
                return b"".join(chunks), True
            raise
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        total += len(data)


def send_ignoring_reset(s, data):
    """Sends what the server takes; a server that already refused and closed is no error."""
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def exchange(address, source_ip, data, timeout=CLOSE_DEADLINE_S, limit=None, head=False):
    """Sends raw bytes on a new connection; returns (responses, rest, closed, seconds)."""
    with connect(address, source_ip) as s:
        started = time.monotonic()
        send_ignoring_reset(s, data)
        raw, closed = read_until_closed(s, timeout, limit)
        responses, rest = parse_responses(raw, head)
        return responses, rest, closed, time.monotonic() - started


class Browser:
    """A browser-like HTTP client: one persistent connection from `source_ip`.

    Like a browser, it sends a request again on a new connection when a
    reused keep-alive connection turns out to be closed (RFC 9112 §9.3.1:
    GETs are idempotent); a refusal such as 503 is not retried.
    """

    def __init__(self, address, source_ip, timeout):
        self.host, self.port = e2e.split_endpoint(address)
        self.source_ip = source_ip
        self.timeout = timeout
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                                   source_address=(self.source_ip, 0))
        return self.conn

    def get(self, path):
        """(status or the error's name, seconds) for one GET, retried once on a stale connection."""
        started = time.monotonic()
        for attempt in (1, 2):
            reused = self.conn is not None and self.conn.sock is not None
            conn = self._connection()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, time.monotonic() - started
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.BadStatusLine) as exc:
                self.close()
                if not reused or attempt == 2:
                    return type(exc).__name__, time.monotonic() - started
            except OSError as exc:  # timeout, refused
                self.close()
                return type(exc).__name__, time.monotonic() - started
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def start_chromium(profile_dir):
    """A headless Chromium (selenium), or None with the reason if it is not installed."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        return None, f"python3-selenium is missing ({exc})"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return None, f"{path} is missing"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--no-proxy-server",
                f"--user-data-dir={profile_dir}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(e2e.seconds(BROWSER_DEADLINE_S))
    driver.set_script_timeout(e2e.seconds(BROWSER_DEADLINE_S))
    return driver, None


def chromium_visit(driver, url):
    """Loads the dashboard and has the page fetch /api/status; (status or what failed, seconds)."""
    started = time.monotonic()
    try:
        driver.get(url)
        status = driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0")
        if status != 200 or not driver.title.startswith("peerlab"):
            return f"page: {status} {driver.title!r}", time.monotonic() - started
        status = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/api/status', {cache: 'no-store'}).then(r => done(r.status), e => done(String(e)));")
        return status, time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - a timeout or an error page is the verdict
        return type(exc).__name__, time.monotonic() - started


def established_from(source_ip, address):
    """How many TCP sockets from source_ip to address are ESTABLISHED, read from /proc/net/tcp.

    Counts the clients' ends, so it measures the pressure an attacker keeps
    up whether or not the server still answers.
    """
    host, port = e2e.split_endpoint(address)

    def hex_endpoint(ip, p):
        return "%08X:%04X" % (int.from_bytes(socket.inet_aton(ip), "little"), p)

    target = hex_endpoint(host, port)
    source = "%08X" % int.from_bytes(socket.inet_aton(source_ip), "little")
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and remote == target and local.startswith(source + ":"):
                count += 1
    return count


class HttpAbuseTest(e2e.NodeTestCase):
    def start_node(self, case, share_bytes=0):
        node_ip = IPS[case][0]
        node = self.node(f"{case}-node", f"{node_ip}:0", f"{node_ip}:0").start()
        self.file_id = self.file_data = None
        if share_bytes:
            path = os.path.join(self.tmp, "shared.bin")
            e2e.write_random_file(path, share_bytes)
            with open(path, "rb") as f:
                self.file_data = f.read()
            self.file_id = node.share(path)
        self.rss_start = node.rss_kib()
        self.asan = node.uses_asan()
        return node

    def assert_still_serves(self, node, source_ip, what):
        """Alive, a fresh client gets 200 for / and /api/status quickly, memory bounded."""
        node.assert_alive()
        browser = Browser(node.http, source_ip, e2e.seconds(FRESH_CLIENT_DEADLINE_S))
        try:
            for path in ("/", "/api/status"):
                status, took = browser.get(path)
                self.assertEqual(status, 200, f"after {what}: GET {path} from a fresh client")
                self.assertLess(took, e2e.seconds(FRESH_CLIENT_DEADLINE_S), f"after {what}: GET {path} took {took:.2f}s")
        finally:
            browser.close()
        growth = node.rss_kib() - self.rss_start
        limit = RSS_GROWTH_LIMIT_ASAN_KIB if self.asan else RSS_GROWTH_LIMIT_KIB
        self.assertLess(growth, limit, f"after {what}: RSS grew by {growth} KiB")

    def requests_served(self, node, source_ip):
        """The server's requests_served counter (this request included)."""
        with connect(node.http, source_ip) as s:
            s.sendall(f"GET /api/http HTTP/1.1\r\nHost: {node.http}\r\nConnection: close\r\n\r\n".encode())
            raw, _ = read_until_closed(s, 5)
        responses, _ = parse_responses(raw)
        self.assertEqual([r["status"] for r in responses], [200], f"GET /api/http: {raw[:300]!r}")
        return json.loads(responses[0]["body"])["requests_served"]

    # ------------------------------------------------------------ slowloris

    def test_slowloris_does_not_starve_a_browser(self):
        """slowhttptest -H keeps the server's connection cap full of half-sent
        requests. Browsers polling / and /api/status must still get every
        answer within BROWSER_DEADLINE_S: an open dashboard on its keep-alive
        connection and new visitors on new connections (Python's http.client
        with a browser's retry rule), and a headless Chromium loading the
        dashboard, when installed."""
        slowhttptest = shutil.which("slowhttptest")
        if not slowhttptest:
            raise AssertionError("slowhttptest is not installed; scripts/setup --tests installs it")
        node_ip, browser_ip = IPS["slowloris"]
        node = self.start_node("slowloris")
        e2e.raise_fd_limit(8192)
        # The real browser starts before the attack: its start-up is no part of the verdict.
        chromium, why_not = start_chromium(os.path.join(self.tmp, "chromium"))
        if chromium is None:
            sys.stderr.write(f"\nno headless Chromium ({why_not}): the Python browser alone polls\n")
        else:
            self.addCleanup(chromium.quit)
            self.assertEqual(chromium_visit(chromium, f"http://{node.http}/")[0], 200, "Chromium before the attack")
        attack_log = os.path.join(self.tmp, "slowhttptest.log")
        with open(attack_log, "wb") as log:
            attack = subprocess.Popen(
                [slowhttptest, "-H", "-c", str(SLOWLORIS_RATE * SLOWLORIS_ATTACK_S), "-r", str(SLOWLORIS_RATE),
                 "-i", "2", "-x", "10", "-l", str(SLOWLORIS_ATTACK_S), "-p", "2", "-v", "1",
                 "-u", f"http://{node.http}/"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=e2e._die_with_parent)
        self.addCleanup(self._stop_process, attack)

        # The verdict only counts once the attack really fills the server.
        def under_pressure():
            count = established_from("127.0.0.1", node.http)
            return count if count >= SLOWLORIS_PRESSURE else None

        pressure = e2e.wait_until(under_pressure, 8, f"slowhttptest to hold {SLOWLORIS_PRESSURE} connections open")
        browser = Browser(node.http, browser_ip, e2e.seconds(BROWSER_DEADLINE_S))
        results, most_pressure = [], 0
        end = time.monotonic() + BROWSER_WATCH_S
        paths = ("/", "/api/status")
        while (time.monotonic() < end or len(results) < BROWSER_REQUESTS) and attack.poll() is None:
            most_pressure = max(most_pressure, established_from("127.0.0.1", node.http))
            turn = len(results)
            path = paths[(turn // 2) % 2]
            if chromium is not None and turn % 5 == 4:
                path = "chromium: / then fetch /api/status"
                status, took = chromium_visit(chromium, f"http://{node.http}/")
            elif turn % 2 == 0:  # the open dashboard, on its keep-alive connection
                status, took = browser.get(path)
            else:  # a new visitor: a new connection
                visitor = Browser(node.http, browser_ip, e2e.seconds(BROWSER_DEADLINE_S))
                status, took = visitor.get(path)
                visitor.close()
                path = "new visitor " + path
            results.append((round(time.monotonic() - end + BROWSER_WATCH_S, 2), path, status, round(took, 2)))
            # The next poll when the dashboard's timer would fire (not a sleep to wait for anything).
            time.sleep(0.25)
        browser.close()
        attack_still_running = attack.poll() is None
        failed = [r for r in results if r[2] != 200 or r[3] > e2e.seconds(BROWSER_DEADLINE_S)]
        sys.stderr.write(f"\nslowloris: {len(results)} browser requests, {len(failed)} failed; "
                         f"attacker sockets open: {pressure}..{most_pressure}\n")
        if not attack_still_running:
            with open(attack_log, errors="replace") as f:
                self.fail(f"slowhttptest ended before the browser's watch did: {f.read()[-1500:]}")
        self.assertGreaterEqual(len(results), BROWSER_REQUESTS, f"too few browser requests to judge: {results}")
        self.assertEqual(failed, [], f"the browser was starved by slowloris: (t, path, status, seconds) "
                                     f"{failed[:10]} ... of {len(results)}")
        self._stop_process(attack)
        self.assert_still_serves(node, browser_ip, "slowloris")

    @staticmethod
    def _stop_process(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ------------------------------------------------------------ 2 000 idle keep-alive connections

    def test_2000_idle_keep_alive_connections_leave_room_for_a_fresh_client(self):
        """2 000 clients each make one keep-alive request and stay idle. The
        node holds a bounded number of sockets (it sheds idle ones, or refuses
        beyond its cap with 503), its memory stays bounded, and a fresh
        client is served within FRESH_CLIENT_DEADLINE_S."""
        node_ip, idle_ip, fresh_ip = IPS["idle"]
        node = self.start_node("idle")
        e2e.raise_fd_limit(IDLE_CONNECTIONS * 2 + 512)
        baseline_sockets = node.socket_fds()
        host, port = e2e.split_endpoint(node.http)
        request = f"GET /api/status HTTP/1.1\r\nHost: {node.http}\r\n\r\n".encode()

        selector = selectors.DefaultSelector()
        socks = {}
        try:
            most_sockets = 0
            for i in range(IDLE_CONNECTIONS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((idle_ip, 0))
                s.settimeout(e2e.seconds(5))
                s.connect((host, port))  # the kernel completes it even before the node accepts
                s.setblocking(False)
                try:
                    s.send(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                socks[s.fileno()] = {"sock": s, "data": b"", "closed": False}
                selector.register(s, selectors.EVENT_READ)
                if i % 100 == 0:
                    most_sockets = max(most_sockets, node.socket_fds())

            # Every client gets an answer (200, or 503 beyond the cap) or is closed.
            waiting = set(socks)

            def answered():
                for key, _ in selector.select(timeout=0.05):
                    fd = key.fileobj.fileno()
                    entry = socks[fd]
                    try:
                        data = key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        entry["data"] += data
                    else:
                        entry["closed"] = True
                        selector.unregister(key.fileobj)
                    if entry["closed"] or parse_responses(entry["data"])[0]:
                        waiting.discard(fd)
                return not waiting

            e2e.wait_until(answered, 20, f"each of {IDLE_CONNECTIONS} clients to get an answer or be closed",
                           interval=0)
            statuses = {}
            for entry in socks.values():
                responses, _ = parse_responses(entry["data"])
                key = responses[0]["status"] if responses else "closed without an answer"
                statuses[key] = statuses.get(key, 0) + 1
            most_sockets = max(most_sockets, node.socket_fds())
            sys.stderr.write(f"\n{IDLE_CONNECTIONS} idle clients: {statuses}; node sockets at most {most_sockets} "
                             f"(baseline {baseline_sockets})\n")
            self.assertLessEqual(set(statuses), {200, 503, "closed without an answer"}, statuses)
            self.assertGreaterEqual(statuses.get(200, 0), MAX_CONNECTIONS // 2, f"the first clients are served: "
                                                                               f"{statuses}")
            self.assertLessEqual(most_sockets, baseline_sockets + MAX_CONNECTIONS + 16,
                                 "the node held more sockets than its connection cap")

            # While all of them are still connected: a fresh client is served.
            browser = Browser(node.http, fresh_ip, e2e.seconds(FRESH_CLIENT_DEADLINE_S))
            try:
                outcomes = [browser.get(path) for path in ("/api/status", "/", "/api/status")]
            finally:
                browser.close()
            for status, took in outcomes:
                self.assertEqual(status, 200, f"a fresh client next to {IDLE_CONNECTIONS} idle ones: {outcomes}")
                self.assertLess(took, e2e.seconds(FRESH_CLIENT_DEADLINE_S), outcomes)
            growth = node.rss_kib() - self.rss_start
            limit = RSS_GROWTH_LIMIT_ASAN_KIB if self.asan else RSS_GROWTH_LIMIT_KIB
            self.assertLess(growth, limit, f"RSS grew by {growth} KiB with {IDLE_CONNECTIONS} idle clients")
        finally:
            for entry in socks.values():
                entry["sock"].close()
            selector.close()
        e2e.wait_until(lambda: node.socket_fds() <= baseline_sockets + 2, 10,
                       "the node to let go of the closed connections")
        self.assert_still_serves(node, fresh_ip, f"{IDLE_CONNECTIONS} idle connections")

    # ------------------------------------------------------------ request smuggling

    def test_request_smuggling_shapes_are_refused_and_the_connection_closed(self):
        """Conflicting message framing (RFC 9112 §6.1, §6.3) is refused with
        400 or 501 and `Connection: close`; the server then closes, and the
        request hidden after it is never answered (nor counted as served)."""
        node_ip, client_ip = IPS["smuggling"]
        node = self.start_node("smuggling")
        host = node.http
        hidden = f"GET /api/files HTTP/1.1\r\nHost: {host}\r\n\r\n"

        def post(headers, body):
            return (f"POST /api/share HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode() + body.encode())

        chunked = "0\r\n\r\n" + hidden  # a chunked body that ends at once: the rest is "the next request"
        cases = [
            ("two differing Content-Length", post(f"Content-Length: 0\r\nContent-Length: {len(hidden)}\r\n",
                                                  hidden), {400}),
            ("two differing Content-Length, reversed", post(f"Content-Length: {len(hidden)}\r\nContent-Length: 0\r\n",
                                                            hidden), {400}),
            ("Content-Length as a list", post(f"Content-Length: 0, {len(hidden)}\r\n", hidden), {400}),
            ("Transfer-Encoding plus Content-Length",
             post(f"Transfer-Encoding: chunked\r\nContent-Length: {len(chunked)}\r\n", chunked), {400, 501}),
            ("Content-Length plus Transfer-Encoding",
             post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", chunked), {400, 501}),
            ("Transfer-Encoding: chunked alone", post("Transfer-Encoding: chunked\r\n", chunked), {400, 501}),
            ("obfuscated Transfer-Encoding", post("Transfer-Encoding: xchunked\r\nContent-Length: 0\r\n", hidden),
             {400, 501}),
            ("Transfer-Encoding with a tab", post("Transfer-Encoding:\tchunked\r\n", chunked), {400, 501}),
            ("Transfer-Encoding list", post("Transfer-Encoding: chunked, identity\r\n", chunked), {400, 501}),
            ("space before the colon", post("Content-Length : 0\r\n", hidden), {400}),
            ("Transfer-Encoding with a space before the colon", post("Transfer-Encoding : chunked\r\n", chunked),
             {400}),
            ("obsolete line folding", post(f"X-Folded: a\r\n Content-Length: {len(hidden)}\r\n", hidden), {400}),
            ("a bare LF inside the head", post(f"X-Bare: a\nContent-Length: {len(hidden)}\r\n", hidden), {400}),
            ("Content-Length with a sign", post(f"Content-Length: +{len(hidden)}\r\n", hidden), {400}),
            ("Content-Length in hex", post("Content-Length: 0x10\r\n", hidden), {400}),
            ("negative Content-Length", post("Content-Length: -1\r\n", hidden), {400}),
            ("Content-Length beyond 64 bits", post("Content-Length: 18446744073709551617\r\n", hidden),
             {400, 413}),
        ]
        before = self.requests_served(node, client_ip)
        for what, data, expected in cases:
            with self.subTest(what):
                responses, rest, closed, _ = exchange(host, client_ip, data)
                statuses = [r["status"] for r in responses]
                self.assertEqual(len(responses), 1, f"{what}: exactly one response, the refusal; got {statuses} "
                                                    f"(a second one means the hidden request was served)")
                self.assertIn(statuses[0], expected, f"{what}: {responses[0]}")
                self.assertEqual(responses[0]["headers"].get("connection", "").lower(), "close",
                                 f"{what}: the refusal announces the close")
                self.assertEqual(rest, b"", f"{what}: nothing after the refusal")
                self.assertTrue(closed, f"{what}: the server must close the connection after refusing")
        after = self.requests_served(node, client_ip)
        self.assertEqual(after - before, 1, "no refused or hidden request may reach a handler "
                                            "(the only one served in between is the second /api/http)")

        # Controls: the same bytes without conflicting framing are two requests,
        # which proves the checks above would have seen a served hidden request.
        responses, _, _, _ = exchange(host, client_ip, (hidden + hidden.replace(
            "\r\n\r\n", "\r\nConnection: close\r\n\r\n")).encode())
        self.assertEqual([r["status"] for r in responses], [200, 200], "two pipelined requests, two answers")
        body_is_body = post(f"Content-Length: {len(hidden)}\r\nConnection: close\r\n", hidden)
        responses, _, closed, _ = exchange(host, client_ip, body_is_body)
        self.assertEqual([r["status"] for r in responses], [401], "a request inside a body stays a body")
        self.assert_still_serves(node, client_ip, "request smuggling")

    # ------------------------------------------------------------ header floods

    def test_header_floods_get_431_and_a_closed_connection(self):
        """Too many headers, one huge header, and a head that never ends:
        431, `Connection: close`, the connection closed, the node fine."""
        node_ip, client_ip = IPS["headers"]
        node = self.start_node("headers")
        host = node.http
        start = f"GET /api/status HTTP/1.1\r\nHost: {host}\r\n"
        many = "".join(f"X-Flood-{i}: {i}\r\n" for i in range(MAX_HEADERS + 50))
        huge = "X-Huge: " + "a" * (MAX_HEAD_BYTES + KiB) + "\r\n"
        huge_target = f"GET /api/status?{'q' * (MAX_HEAD_BYTES + KiB)} HTTP/1.1\r\nHost: {host}\r\n\r\n"
        cases = [
            (f"{MAX_HEADERS + 50} headers", (start + many + "\r\n").encode()),
            ("one header of 9 KiB", (start + huge + "\r\n").encode()),
            ("a request target of 9 KiB", huge_target.encode()),
        ]
        for what, data in cases:
            with self.subTest(what):
                responses, _, closed, took = exchange(host, client_ip, data)
                self.assertEqual([r["status"] for r in responses], [431], f"{what}: {responses}")
                self.assertEqual(responses[0]["headers"].get("connection", "").lower(), "close", what)
                self.assertTrue(closed, f"{what}: the server must close the connection")

        # A head that never ends: 1 MiB of header lines, sent as fast as the
        # server takes them. It must give up near its limit, not wait for the
        # end of the head: answer 431 and close while we are still sending.
        with self.subTest("an endless head"):
            with connect(host, client_ip) as s:
                s.sendall(start.encode())
                piece = (b"X-Endless: " + b"b" * 100 + b"\r\n") * 64
                sent, stopped = 0, None
                while sent < MiB:
                    try:
                        s.sendall(piece)
                    except (BrokenPipeError, ConnectionResetError):
                        stopped = "closed"
                        break
                    except socket.timeout:  # buffers full: the server stopped reading
                        stopped = "not reading"
                        break
                    sent += len(piece)
                raw, closed = read_until_closed(s, CLOSE_DEADLINE_S)
                self.assertTrue(closed, f"the server must close an endless head ({sent} bytes sent, {stopped})")
                responses, _ = parse_responses(raw)
                # The 431 may be lost to a reset: we were still sending when the server closed.
                if responses:
                    self.assertEqual([r["status"] for r in responses], [431])

        # Many clients at once, each with a head just under the limit: the
        # memory they can pin is bounded by the cap times the head limit.
        with self.subTest("300 clients with 8 KiB heads at once"):
            almost = (start + "X-Big: " + "c" * (MAX_HEAD_BYTES - len(start) - 200) + "\r\n").encode()
            socks = []
            try:
                for _ in range(300):
                    s = connect(host, client_ip)
                    send_ignoring_reset(s, almost)  # no final CRLF: incomplete heads
                    socks.append(s)
                growth = node.rss_kib() - self.rss_start
                limit = RSS_GROWTH_LIMIT_ASAN_KIB if self.asan else RSS_GROWTH_LIMIT_KIB
                self.assertLess(growth, limit, f"RSS grew by {growth} KiB with 300 incomplete 8 KiB heads")
            finally:
                for s in socks:
                    s.close()
        self.assert_still_serves(node, client_ip, "header floods")

    # ------------------------------------------------------------ ranges

    def test_a_thousand_ranges_get_one_answer_without_amplification(self):
        """`Range: bytes=0-0,0-0,...` ×1000 (and 0-,0-,... which would be
        1000 copies of the file): 200 with the file once (several ranges are
        ignored) or 416, never a multipart of 1000 parts, answered quickly."""
        node_ip, client_ip = IPS["ranges"]
        size = 256 * KiB
        node = self.start_node("ranges", share_bytes=size)
        host = node.http
        target = f"/files/{self.file_id}"
        cases = [
            ("bytes=0-0 ×1000", "bytes=" + ",".join(["0-0"] * 1000)),
            ("bytes=0- ×1000 (the whole file 1000 times)", "bytes=" + ",".join(["0-"] * 1000)),
            ("bytes=-1 ×1000", "bytes=" + ",".join(["-1"] * 1000)),
            ("1000 overlapping open ranges", "bytes=" + ",".join(f"{i}-" for i in range(1000))),
        ]
        for what, value in cases:
            with self.subTest(what):
                request = (f"GET {target} HTTP/1.1\r\nHost: {host}\r\nRange: {value}\r\n"
                           f"Connection: close\r\n\r\n").encode()
                self.assertLess(len(request), MAX_HEAD_BYTES, "the case must fit in the head limit")
                responses, rest, closed, took = exchange(host, client_ip, request, timeout=RANGE_DEADLINE_S,
                                                         limit=size + 64 * KiB)
                received = sum(len(r["body"]) for r in responses) + len(rest)
                self.assertLessEqual(received, size + 64 * KiB,
                                     f"{what}: {received} bytes for a {size}-byte file: amplification")
                self.assertTrue(closed, f"{what}: no complete answer within {RANGE_DEADLINE_S}s")
                self.assertEqual(len(responses), 1, f"{what}: {rest[:200]!r}")
                answer = responses[0]
                self.assertIn(answer["status"], (200, 416), f"{what}: {answer['headers']}")
                self.assertNotIn("multipart", answer["headers"].get("content-type", ""), what)
                if answer["status"] == 200:
                    self.assertEqual(answer["body"], self.file_data, f"{what}: the whole file, once")
                self.assertLess(took, e2e.seconds(RANGE_DEADLINE_S), f"{what} took {took:.2f}s")

        # The same 1000 ranges 50 times over one keep-alive connection (HEAD):
        # cheap for the server, every answer at most the file's length.
        value = "bytes=" + ",".join(["0-0"] * 1000)
        one = f"HEAD {target} HTTP/1.1\r\nHost: {host}\r\nRange: {value}\r\n\r\n"
        last = one.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
        started = time.monotonic()
        responses, rest, closed, _ = exchange(host, client_ip, (one * 49 + last).encode(), timeout=10, head=True)
        took = time.monotonic() - started
        self.assertEqual(len(responses), 50, f"50 pipelined HEADs; rest {rest[:200]!r}")
        for r in responses:
            self.assertIn(r["status"], (200, 416))
            if r["status"] == 200:
                self.assertEqual(int(r["headers"]["content-length"]), size)
        self.assertLess(took, e2e.seconds(5), f"50 × 1000 ranges took {took:.2f}s")

        # 2 500 ranges do not fit in the head: refused before any range is parsed.
        value = "bytes=" + ",".join(["0-0"] * 2500)
        responses, _, closed, _ = exchange(host, client_ip, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n"
                                                           f"Range: {value}\r\n\r\n".encode())
        self.assertEqual([r["status"] for r in responses], [431])
        self.assertTrue(closed)
        self.assert_still_serves(node, client_ip, "1000 ranges")


if __name__ == "__main__":
    e2e.main()
