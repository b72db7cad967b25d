#!/usr/bin/env python3
"""The live dashboard at GET /, in headless Chromium, during a real download.

Three nodes: alice seeds a file at a limited upload rate, bob and carol fetch
it at once. bob's dashboard must show each of his connections with exactly
the 4-tuple his API reports, a chunk map that fills in while the download
runs and ends complete, no JavaScript errors, and "disconnected" while bob is
down, recovering when he is back. A screenshot is saved as a test artifact.

Needs chromium, chromium-driver and python3-selenium (Debian packages, which
scripts/setup installs); without them the test fails and says so.

This file owns the loopback addresses 127.0.5.x among the e2e tests.
"""

import os
import sys

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
WINDOW = (1600, 1000)  # a projector

ALICE_IP, BOB_IP, CAROL_IP = "127.0.5.2", "127.0.5.3", "127.0.5.4"
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
const connection = (row) => {
  const local = row.querySelector('[data-local]'), remote = row.querySelector('[data-remote]');
  return {id: row.dataset.peerId, direction: row.dataset.direction,
          name: row.querySelector('.name').textContent,
          local: local.dataset.local, local_text: local.textContent,
          remote: remote.dataset.remote, remote_text: remote.textContent};
};
return {
  offline: document.body.classList.contains('offline'),
  listen: document.getElementById('node-listen').textContent,
  connections: [...document.querySelectorAll('#connections tr[data-peer-id]')].map(connection),
  transfers: [...document.querySelectorAll('canvas[data-transfer-id]')].map(transfer),
};
"""


def artifacts_dir():
    return os.environ.get("PEERLAB_ARTIFACTS") or os.path.join(os.path.dirname(e2e.PEERLAB), "test-artifacts")


class DashboardTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.driver = None
        self.addCleanup(self.quit_browser)  # runs before the nodes are stopped

    def require_browser(self):
        """Fails (rather than skips) when the browser or its driver is missing."""
        if webdriver is None:
            self.fail(f"python3-selenium is missing ({SELENIUM_MISSING}); install it with scripts/setup "
                      f"or apt-get install python3-selenium")
        for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
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

        # b: both downloads at once; bob's chunk map fills in while it runs.
        gets = [self.cli_process(node.start_get(file_id, os.path.join(self.tmp, f"{node.name}.out"), quiet=True))
                for node in (bob, carol)]

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

        # c: nothing went wrong in the page's JavaScript (or its requests).
        self.assertEqual(self.severe_console_messages(), [], "errors in the browser console")

        # d: bob goes away: the page says so; he comes back on the same address: it recovers.
        bob.http_arg = bob.http
        self.assertEqual(bob.stop(), 0)
        self.wait_page(lambda page: page["offline"], "that bob is disconnected")
        bob.start()
        self.wait_page(lambda page: not page["offline"] and page["listen"] == bob.listen and
                       {c["id"] for c in page["connections"]} == {alice.id, carol.id},
                       "bob live again, with his connections", timeout=20, node=bob)


if __name__ == "__main__":
    e2e.main()
