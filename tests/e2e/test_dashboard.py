#!/usr/bin/env python3
"""The live dashboard at GET /, in headless Chromium, during a real download.

Three nodes: alice seeds a file at a limited upload rate, bob and carol fetch
it at once. bob's dashboard must show each of his connections with exactly
the 4-tuple his API reports and its socket queues, his HTTP server's own
client sockets (one of them is the page's), a message trace with the
handshakes and then the chunk requests and chunks (which stops while paused,
and filters), a chunk map that fills in while the download runs and ends
complete, the sockets that curl opens and closes with `Connection: close`,
no JavaScript errors, and "disconnected" while bob is down, recovering (with
a fresh trace) when he is back. A screenshot is saved as a test artifact.

Needs chromium, chromium-driver, python3-selenium and curl (Debian packages,
which scripts/setup installs); without them the test fails and says so.

This file owns the loopback addresses 127.0.5.x among the e2e tests.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError as exc:  # reported by the test itself, as a failure
    webdriver = None
    SELENIUM_MISSING = str(exc)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CURL = "/usr/bin/curl"
WINDOW = (1600, 1000)  # a projector

ALICE_IP, BOB_IP, CAROL_IP = "127.0.5.2", "127.0.5.3", "127.0.5.4"
CURL_IP = "127.0.5.9"  # curl's source address: its sockets are told apart from the browser's
CURL_REQUESTS = 3
# 24 MiB in 256 KiB chunks (96 cells) from a seeder sending 4 MiB/s: at least
# 6 s of download, long enough to watch the chunk map fill in.
FILE_BYTES = 24 * e2e.MiB
SEEDER_UP_LIMIT = "4MiB"
CONNECT_DEADLINE_S = 10
PAGE_DEADLINE_S = 10  # the page polls once a second
GET_DEADLINE_S = 60

# Everything the test reads from the page, in one script: the page redraws its
# tables every second, so elements found in one call may be gone by the next.
READ_PAGE = """
const transfer = (canvas) => {
  const card = canvas.closest('.transfer');
  return {id: canvas.dataset.transferId, map: canvas.dataset.map, state: card.dataset.state,
          done: Number(canvas.dataset.chunksDone), total: Number(canvas.dataset.chunksTotal),
          drawn: canvas.width > 0 && canvas.height > 0,
          legend: card.querySelector('.legend').textContent};
};
const queues = (row) => Object.fromEntries([...row.querySelectorAll('td[data-queue]')].map(
    (td) => [td.dataset.queue, {bytes: td.dataset.bytes, text: td.textContent}]));
const tuple = (row) => {
  const local = row.querySelector('[data-local]'), remote = row.querySelector('[data-remote]');
  return {local: local.dataset.local, local_text: local.textContent,
          remote: remote.dataset.remote, remote_text: remote.textContent, queues: queues(row)};
};
const connection = (row) => Object.assign(tuple(row), {
  id: row.dataset.peerId, direction: row.dataset.direction, name: row.querySelector('.name').textContent});
const httpClient = (row) => Object.assign(tuple(row), {
  open: row.dataset.httpClient === 'open', state: row.dataset.state, requests: Number(row.dataset.requests)});
const message = (row) => ({
  seq: Number(row.dataset.seq), time: Number(row.dataset.time), type: row.dataset.type, kind: row.dataset.kind,
  direction: row.dataset.direction, peer: row.dataset.peer, remote: row.dataset.remote,
  detail: row.querySelector('.detail').textContent, text: row.textContent});
const text = (id) => document.getElementById(id).textContent;
const pause = document.getElementById('trace-pause');
return {
  offline: document.body.classList.contains('offline'),
  listen: text('node-listen'),
  connections: [...document.querySelectorAll('#connections tr[data-peer-id]')].map(connection),
  transfers: [...document.querySelectorAll('canvas[data-transfer-id]')].map(transfer),
  http: {listen: text('http-listen'), accepted: text('http-accepted'), served: text('http-served'),
         ratio: text('http-ratio'), summary: text('http-summary'),
         clients: [...document.querySelectorAll('#http tr[data-http-client]')].map(httpClient)},
  trace: [...document.querySelectorAll('#trace tr[data-seq]')].map(message),
  trace_paused: pause.dataset.paused === 'true', trace_pending: Number(pause.dataset.pending || 0),
};
"""
QUEUE_TEXT = re.compile(r"^\d+(\.\d+)? (B|KiB|MiB|GiB)$")


def artifacts_dir():
    return os.environ.get("PEERLAB_ARTIFACTS") or os.path.join(os.path.dirname(e2e.PEERLAB), "test-artifacts")


class DashboardTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.driver = None
        self.addCleanup(self.quit_browser)  # runs before the nodes are stopped

    def require_browser(self):
        """Fails (rather than skips) when the browser, its driver or curl is missing."""
        if webdriver is None:
            self.fail(f"python3-selenium is missing ({SELENIUM_MISSING}); install it with scripts/setup "
                      f"or apt-get install python3-selenium")
        for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver"), (CURL, "curl")):
            if not os.access(path, os.X_OK):
                self.fail(f"{path} is missing; install it with scripts/setup or apt-get install {package}")

    def start_browser(self):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--no-proxy-server",
                    f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={self.tmp}/chromium"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(e2e.seconds(20))
        self.set_viewport_height(WINDOW[1])
        return self.driver

    def set_viewport_height(self, height):
        """Resizes the window so that the page itself gets `height` pixels (the window has a frame)."""
        frame = self.driver.execute_script("return window.outerHeight - window.innerHeight")
        self.driver.set_window_size(WINDOW[0], height + frame)

    def quit_browser(self):
        if self.driver is not None:
            try:
                if self._failed():
                    self.screenshot("dashboard-failed.png")
            finally:
                self.driver.quit()
                self.driver = None

    def screenshot(self, name):
        """Saves the whole page (at least the projector's height) and prints where."""
        os.makedirs(artifacts_dir(), exist_ok=True)
        path = os.path.join(artifacts_dir(), name)
        self.set_viewport_height(max(WINDOW[1], self.driver.execute_script(
            "return document.documentElement.scrollHeight")))
        self.driver.save_screenshot(path)
        sys.stderr.write(f"\nscreenshot: {path}\n")
        return path

    def page(self):
        return self.driver.execute_script(READ_PAGE)

    def wait_page(self, predicate, what, timeout=PAGE_DEADLINE_S, node=None):
        """Polls the page until predicate(page state) is truthy; returns that value."""
        def check():
            if node is not None:
                node.assert_alive()
            return predicate(self.page())
        return e2e.wait_until(check, timeout, f"the dashboard to show {what}", interval=0.1)

    def severe_console_messages(self):
        try:
            entries = self.driver.get_log("browser")
        except Exception as exc:  # noqa: BLE001 - not every driver offers the log
            sys.stderr.write(f"\nbrowser console log not available: {exc}\n")
            return []
        return [e["message"] for e in entries if e.get("level") == "SEVERE"]

    def click(self, css):
        """Clicks a control of the page (the trace's, which are never redrawn)."""
        self.driver.find_element("css selector", css).click()

    def curl_connection_close(self, node, path):
        """One request with `Connection: close` from CURL_IP; returns curl's end, IP:PORT."""
        result = subprocess.run(
            [CURL, "--silent", "--show-error", "--fail", "--max-time", str(e2e.seconds(10)), "--interface", CURL_IP,
             "--header", "Connection: close", "--output", "/dev/null", "--write-out", "%{local_ip}:%{local_port}",
             f"http://{node.http}{path}"], capture_output=True, text=True, timeout=e2e.seconds(20))
        self.assertEqual(result.returncode, 0, f"curl {path}: {result.stderr.strip()}")
        return result.stdout.strip()

    def assert_queue_cells(self, row, which, who):
        """The row has the queue columns `which`, each a byte count (and its data-bytes a number)."""
        self.assertEqual(set(row["queues"]), set(which), f"{who}: the queue columns")
        for name, cell in row["queues"].items():
            self.assertRegex(cell["text"], QUEUE_TEXT, f"{who}: the {name} queue shown")
            self.assertGreaterEqual(int(cell["bytes"]), 0, f"{who}: the {name} queue, in bytes")

    def wait_connected(self, node, others):
        wanted = {o.id for o in others}
        return e2e.wait_until(lambda: wanted <= set(node.peer_by_id()), CONNECT_DEADLINE_S,
                              f"{node.name} to connect to {sorted(o.name for o in others)}")

    def test_dashboard_shows_four_tuples_and_a_filling_chunk_map_live(self):
        self.require_browser()
        alice = self.node("alice", f"{ALICE_IP}:0", f"{ALICE_IP}:0", extra=["--up-limit", SEEDER_UP_LIMIT]).start()
        bob = self.node("bob", f"{BOB_IP}:0", f"{BOB_IP}:0", peers=[alice.listen]).start()
        carol = self.node("carol", f"{CAROL_IP}:0", f"{CAROL_IP}:0", peers=[alice.listen]).start()
        original = e2e.write_random_file(os.path.join(self.tmp, "lecture.bin"), FILE_BYTES)
        file_id = alice.share(original)
        self.wait_connected(bob, [alice, carol])  # carol through peer exchange
        self.wait_connected(carol, [alice, bob])
        for node in (bob, carol):
            e2e.wait_until(lambda: node.file_entry(file_id), CONNECT_DEADLINE_S, f"{node.name} to list the file")

        driver = self.start_browser()
        driver.get(f"http://{bob.http}/")
        self.assertEqual(driver.title.split(" — ")[0], "peerlab", "the page's title")

        # a: one row per connection, with exactly the 4-tuple and direction the API reports.
        api_peers = {p["id"]: p for p in bob.api("/api/peers")}
        self.assertEqual(set(api_peers), {alice.id, carol.id}, "bob's connections, as his API reports them")
        expected = {i: (p["direction"], p["local"], p["remote"]) for i, p in api_peers.items()}

        def rows_match(page):
            shown = {c["id"]: (c["direction"], c["local"], c["remote"]) for c in page["connections"]}
            return page if shown == expected else None
        page = self.wait_page(rows_match, f"bob's connections {expected}", node=bob)
        self.assertEqual(page["listen"], bob.listen, "the listening socket")
        for row in page["connections"]:
            who = f"the row of {row['name']}"
            self.assertEqual(row["local_text"], row["local"], f"{who}: the local end shown is the one reported")
            self.assertEqual(row["remote_text"], row["remote"], f"{who}: the remote end shown is the one reported")
            self.assertEqual(row["name"], api_peers[row["id"]]["name"], who)
            self.assert_queue_cells(row, ("app", "send", "receive"), who)
        remote_of = {row["name"]: row["remote"] for row in page["connections"]}

        # a2: the HTTP server's own client sockets: the page's polling sockets are among them, with the
        # 4-tuples bob's /api/http reports; every one has bob's HTTP address as its local end.
        def http_sockets_match(page):
            api = bob.api("/api/http")
            shown = {(c["local"], c["remote"]) for c in page["http"]["clients"] if c["open"]}
            common = shown & {(c["local"], c["remote"]) for c in api["clients"]}
            return page if common else None
        page = self.wait_page(http_sockets_match, "an HTTP client socket that bob's /api/http reports", node=bob)
        self.assertEqual(page["http"]["listen"], bob.http, "the HTTP server's listening socket")
        self.assertIn(bob.http, page["http"]["summary"], "the one-line HTTP summary under the connections")
        self.assertGreaterEqual(int(page["http"]["accepted"]), 1, "connections accepted")
        self.assertGreaterEqual(int(page["http"]["served"]), 1, "requests served")
        for client in page["http"]["clients"]:
            who = f"the HTTP client socket {client['remote']}"
            self.assertEqual(client["local"], bob.http, f"{who}: its local end is the server's address")
            self.assertEqual((client["local_text"], client["remote_text"]), (client["local"], client["remote"]), who)
            if client["open"]:
                self.assertIn(client["state"], ("idle", "reading", "handling", "writing"), who)
                self.assert_queue_cells(client, ("send", "receive"), who)

        # b: the message trace, as bob's /api/trace reports it: both handshakes (a hello names its sender).
        def hellos(page):
            received = [m for m in page["trace"] if m["type"] == "hello" and m["direction"] == "received"]
            return page if all(any(m["detail"].startswith(name + " ") for m in received)
                               for name in ("alice", "carol")) else None
        page = self.wait_page(hellos, "the hellos bob received from alice and carol in the trace", node=bob)
        api_events = {e["seq"]: e for e in bob.api("/api/trace?after=0")["events"]}
        for m in page["trace"]:
            event = api_events.get(m["seq"])
            self.assertIsNotNone(event, f"trace row {m['seq']} is an event bob's /api/trace reports")
            self.assertEqual((m["type"], m["direction"], m["peer"], m["remote"]),
                             (event["type"], event["direction"], event["peer"], event["remote"]),
                             f"trace row {m['seq']}")
            self.assertAlmostEqual(m["time"], event["time"], places=3, msg=f"trace row {m['seq']}: its time")
            self.assertIn(m["detail"], event["detail"], f"trace row {m['seq']}: its detail")

        # c: paused, the trace stands still while messages keep coming (the downloads start now); resumed,
        # it shows them: bob's chunk requests and the chunks (or haves) of the transfer, with peer names.
        self.click("#trace-pause")
        paused = self.wait_page(lambda page: page if page["trace_paused"] else None, "the trace paused")
        frozen = max(m["seq"] for m in paused["trace"])
        gets = [self.cli_process(node.start_get(file_id, os.path.join(self.tmp, f"{node.name}.out"), quiet=True))
                for node in (bob, carol)]
        page = self.wait_page(lambda page: page if page["trace_pending"] > 0 else None,
                              "new messages counted while the trace is paused", node=bob)
        self.assertEqual(max(m["seq"] for m in page["trace"]), frozen, "no new trace rows while paused")
        self.click("#trace-pause")

        def transfer_messages(page):
            named = [m for m in page["trace"] if m["peer"] in ("alice", "carol")]
            requests = [m for m in named if m["type"] == "request" and m["direction"] == "sent"]
            chunks = [m for m in named if m["type"] in ("chunk", "have") and m["direction"] == "received"]
            return (requests, chunks) if requests and chunks and not page["trace_paused"] else None
        requests, chunks = self.wait_page(transfer_messages, "requests bob sent and chunks (or haves) he received, "
                                          "in the resumed trace", node=bob)
        for m in requests + chunks:
            self.assertEqual(m["remote"], remote_of[m["peer"]], f"trace row {m['seq']}: the connection's remote end")
            self.assertEqual(m["kind"], "transfer", f"trace row {m['seq']}")

        # d: bob's chunk map fills in while the download runs.

        def transfer_on_page(page):
            return next((t for t in page["transfers"] if t["id"] == file_id), None)

        def partial(page):
            t = transfer_on_page(page)
            return t if t and t["map"] and 0 < t["map"].count("1") < len(t["map"]) else None
        first = self.wait_page(partial, "bob's download under way", timeout=20, node=bob)
        self.assertEqual(len(first["map"]), first["total"], "one chunk map cell per chunk")
        self.assertTrue(first["drawn"], "the chunk map is drawn")

        def changed(page):
            t = partial(page)
            return t if t and t["map"] != first["map"] else None
        second = self.wait_page(changed, "bob's chunk map changing during the download", node=bob)
        self.assertGreaterEqual(second["map"].count("1"), first["map"].count("1"), "verified chunks stay verified")
        self.screenshot("dashboard.png")

        for process in gets:
            result = process.wait(GET_DEADLINE_S)
            self.assertEqual(result.returncode, 0, f"get: {result.stderr[-2000:]!r}")
        final_api = bob.transfer(file_id)
        self.assertEqual(final_api["state"], "complete")
        senders = [name for name, n in final_api["sources"].items() if n > 0]

        def complete(page):
            t = transfer_on_page(page)
            return t if (t and t["state"] == "complete" and t["map"] == "1" * t["total"] and
                         t["done"] == t["total"] == final_api["chunks_total"] and
                         all(name in t["legend"] for name in senders)) else None
        self.wait_page(complete, f"bob's download complete, with chunks from {senders}")

        # e: the trace's filters: without the transfer kind, no request, chunk or have is left; with
        # the text "carol", only carol's messages.
        self.click('#trace-section input[data-kind="transfer"]')
        self.wait_page(lambda page: all(m["kind"] != "transfer" for m in page["trace"]),
                       "no transfer messages with the transfer kind unticked")
        self.click('#trace-section input[data-kind="transfer"]')
        self.wait_page(lambda page: any(m["kind"] == "transfer" for m in page["trace"]),
                       "transfer messages again with the transfer kind ticked")
        self.driver.find_element("css selector", "#trace-filter").send_keys("carol")
        self.wait_page(lambda page: page["trace"] and all("carol" in m["text"] for m in page["trace"]),
                       "only carol's messages with the text filter 'carol'")
        self.driver.execute_script("const f = document.getElementById('trace-filter');"
                                   "f.value = ''; f.dispatchEvent(new Event('input'));")

        # f: non-persistent HTTP: each curl with `Connection: close` costs bob's server a socket, which
        # serves one request and closes; the page's totals follow.
        before = bob.api("/api/http")
        ends = [self.curl_connection_close(bob, "/api/status") for _ in range(CURL_REQUESTS)]
        after = bob.api("/api/http")
        self.assertGreaterEqual(after["connections_accepted"] - before["connections_accepted"], CURL_REQUESTS + 1,
                                "connections accepted: one per curl, and one for this very request")
        closed = {c["remote"]: c for c in after["recently_closed"]}
        for end in ends:
            self.assertIn(end, closed, f"curl's socket {end} among bob's recently closed HTTP sockets")
            self.assertEqual((closed[end]["local"], closed[end]["requests"], closed[end]["state"]),
                             (bob.http, 1, "closed"), f"curl's socket {end}")

        def totals_follow(page):
            shown = [c for c in page["http"]["clients"] if not c["open"] and c["remote"] in ends]
            return (page if int(page["http"]["accepted"]) >= after["connections_accepted"] and
                    int(page["http"]["served"]) >= after["requests_served"] and shown and
                    all(c["requests"] == 1 and c["state"] == "closed" for c in shown) else None)
        page = self.wait_page(totals_follow, f"the HTTP totals of at least {after['connections_accepted']} "
                              f"connections and curl's closed sockets {ends}")
        accepted, served = int(page["http"]["accepted"]), int(page["http"]["served"])
        self.assertAlmostEqual(float(page["http"]["ratio"]), served / accepted, delta=0.051,
                               msg="requests per connection")

        # g: nothing went wrong in the page's JavaScript (or its requests).
        self.assertEqual(self.severe_console_messages(), [], "errors in the browser console")

        # h: bob goes away: the page says so; he comes back on the same address: it recovers, and its
        # trace starts again with the new process's messages (whose numbering starts again).
        bob.http_arg = bob.http
        self.assertEqual(bob.stop(), 0)
        self.wait_page(lambda page: page["offline"], "that bob is disconnected")
        restarted_at = time.time()
        bob.start()
        self.wait_page(lambda page: not page["offline"] and page["listen"] == bob.listen and
                       {c["id"] for c in page["connections"]} == {alice.id, carol.id},
                       "bob live again, with his connections", timeout=20, node=bob)

        def fresh_trace(page):
            events = {e["seq"]: e for e in bob.api("/api/trace?after=0")["events"]}
            rows = page["trace"]
            return page if rows and all(m["seq"] in events and abs(m["time"] - events[m["seq"]]["time"]) < 1e-3 and
                                        m["time"] >= restarted_at for m in rows) else None
        self.wait_page(fresh_trace, "the trace of bob's new process only", node=bob)


if __name__ == "__main__":
    e2e.main()
