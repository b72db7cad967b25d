#!/usr/bin/env python3
"""peerlab's BitTorrent tracker (GET /announce) with real clients from Debian:
a libtorrent seeder, then a libtorrent leecher and aria2c, which know nothing
but the tracker URL in the .torrent (made by mktorrent) and must find the
seeder through it. Then hostile announces: a huge numwant, bad hashes and a
flood of made-up peer ids from one address stay bounded.

This file owns the loopback addresses 127.0.32.x among the e2e tests:
  .1 the peerlab node (tracker)   .2 libtorrent seeder   .3 libtorrent leecher
  .4 aria2c                       .8 a raw client        .9 a hostile client
"""

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

try:
    import libtorrent as lt
except ImportError:  # reported by the test, not at import
    lt = None

MiB = e2e.MiB
FILE_BYTES = 6 * MiB
NODE_IP = "127.0.32.1"
SEEDER_IP = "127.0.32.2"
LEECHER_IP = "127.0.32.3"
ARIA2_IP = "127.0.32.4"
RAW_IP = "127.0.32.8"
HOSTILE_IP = "127.0.32.9"
MAX_NUMWANT = 200  # tracker_settings
REQUEST_BURST = 200
MAX_ENTRIES_PER_ADDRESS = 256


def tool(name):
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} is not installed; scripts/setup --tests installs it")
    return path


def free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def lt_session(ip):
    """A libtorrent session that lives on one loopback address and knows no
    other way to find peers than the tracker."""
    return lt.session({
        "listen_interfaces": f"{ip}:0",
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "dht_bootstrap_nodes": "",
        "allow_multiple_connections_per_ip": True,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "alert_mask": lt.alert_category.error | lt.alert_category.tracker | lt.alert_category.status,
    })


def alerts_text(session, seen):
    for a in session.pop_alerts():
        seen.append(f"{type(a).__name__}: {a.message()}")
    return seen[-20:]


def q(raw):
    return urllib.parse.quote_from_bytes(raw, safe="")


class RawClient:
    """Announces by hand over one keep-alive connection from a given address."""

    def __init__(self, tracker, source_ip):
        host, port = e2e.split_endpoint(tracker)
        self.conn = http.client.HTTPConnection(host, port, timeout=10, source_address=(source_ip, 0))

    def get(self, target):
        self.conn.request("GET", target)
        response = self.conn.getresponse()
        body = response.read()
        return response.status, lt.bdecode(body)

    def announce(self, info_hash, peer_id, port, **extra):
        params = {"port": port, "uploaded": 0, "downloaded": 0, "left": 100, **extra}
        query = f"info_hash={q(info_hash)}&peer_id={q(peer_id)}&" + urllib.parse.urlencode(params)
        status, answer = self.get("/announce?" + query)
        if status != 200:
            raise AssertionError(f"/announce answered HTTP {status}")
        return answer

    def close(self):
        self.conn.close()


class TrackerTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        if lt is None:
            raise AssertionError("python3-libtorrent is not installed; scripts/setup --tests installs it")
        self.node_ = self.node("tracker", f"{NODE_IP}:0", f"{NODE_IP}:0").start()
        self.announce_url = f"http://{self.node_.http}/announce"
        self.seed_dir = os.path.join(self.tmp, "seed")
        os.makedirs(self.seed_dir)
        self.original = os.path.join(self.seed_dir, "lecture.bin")
        e2e.write_random_file(self.original, FILE_BYTES)
        self.digest = e2e.sha256_file(self.original)
        self.torrent_path = os.path.join(self.tmp, "lecture.torrent")
        made = subprocess.run([tool("mktorrent"), "-a", self.announce_url, "-l", "18", "-o", self.torrent_path,
                               self.original], capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr)
        self.info = lt.torrent_info(self.torrent_path)
        self.info_hash = bytes.fromhex(str(self.info.info_hash()))
        self.sessions = []

    def tearDown(self):
        for s in self.sessions:
            s.pause()
        self.sessions.clear()

    def tracker_status(self):
        return self.node_.api("/api/status")["tracker"]

    def start_seeder(self):
        session = lt_session(SEEDER_IP)
        self.sessions.append(session)
        handle = session.add_torrent({"ti": self.info, "save_path": self.seed_dir,
                                      "flags": lt.torrent_flags.seed_mode})
        alerts = []

        def registered():
            alerts_text(session, alerts)
            return handle.status().is_seeding and self.tracker_status()["seeders"] >= 1

        e2e.wait_until(registered, 20, f"the libtorrent seeder to announce itself (alerts: {alerts})")
        return session, handle

    def test_libtorrent_and_aria2c_find_a_libtorrent_seeder_only_through_the_tracker(self):
        self.start_seeder()

        # A libtorrent leecher on another address.
        leech_dir = os.path.join(self.tmp, "leech")
        os.makedirs(leech_dir)
        leecher = lt_session(LEECHER_IP)
        self.sessions.append(leecher)
        handle = leecher.add_torrent({"ti": self.info, "save_path": leech_dir})
        alerts = []
        e2e.wait_until(lambda: alerts_text(leecher, alerts) is not None and handle.status().is_seeding, 60,
                       f"the libtorrent leecher to finish (alerts: {alerts})")
        self.assertEqual(e2e.sha256_file(os.path.join(leech_dir, "lecture.bin")), self.digest)

        # aria2c (compact=1) on a third address, from the libtorrent seeders.
        aria_dir = os.path.join(self.tmp, "aria2")
        os.makedirs(aria_dir)
        port = free_port(ARIA2_IP)
        aria = subprocess.run(
            [tool("aria2c"), f"--dir={aria_dir}", f"--interface={ARIA2_IP}", f"--listen-port={port}",
             "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
             "--disable-ipv6=true", "--seed-time=0", "--file-allocation=none", "--summary-interval=0",
             "--console-log-level=warn", "--bt-stop-timeout=60", self.torrent_path],
            capture_output=True, text=True, timeout=e2e.seconds(90))
        self.assertEqual(aria.returncode, 0, aria.stdout[-2000:] + aria.stderr[-2000:])
        self.assertEqual(e2e.sha256_file(os.path.join(aria_dir, "lecture.bin")), self.digest)

        # The tracker saw all three (aria2c said `stopped` as it left).
        status = self.tracker_status()
        self.assertEqual(status["torrents"], 1)
        self.assertGreaterEqual(status["seeders"], 2)

    def test_answers_both_models_and_stays_bounded_under_hostile_announces(self):
        self.start_seeder()
        raw = RawClient(self.node_.http, RAW_IP)
        try:
            # Compact (BEP 23): the seeder as 6 bytes, at the address it announced from.
            answer = raw.announce(self.info_hash, b"-RAW001-aaaaaaaaaaaa", 6881, compact=1,
                                  numwant=1_000_000, ip="203.0.113.9")
            self.assertNotIn(b"failure reason", answer)
            self.assertEqual(answer[b"interval"], 120)
            self.assertEqual(answer[b"min interval"], 30)
            self.assertEqual(answer[b"complete"], 1)
            peers = answer[b"peers"]
            self.assertEqual(len(peers), 6)
            self.assertEqual(socket.inet_ntoa(peers[:4]), SEEDER_IP)
            # Dictionary model: with its peer id; and our `ip=` was ignored.
            answer = raw.announce(self.info_hash, b"-RAW001-bbbbbbbbbbbb", 6882, compact=0)
            listed = {(p[b"ip"].decode(), p[b"port"]) for p in answer[b"peers"]}
            self.assertIn((RAW_IP, 6881), listed)
            self.assertNotIn("203.0.113.9", {ip for ip, _ in listed})
            self.assertTrue(all(len(p[b"peer id"]) == 20 for p in answer[b"peers"]))

            # Bad requests: a failure reason, nothing registered.
            for target in ("/announce", "/announce?info_hash=short&peer_id=" + "p" * 20 + "&port=1",
                           f"/announce?info_hash={q(self.info_hash)}&peer_id={'p' * 20}",
                           f"/announce?info_hash={q(self.info_hash)}&peer_id={'p' * 20}&port=99999",
                           "/announce?" + "x" * 5000, "/scrape"):
                status, answer = raw.get(target)
                self.assertEqual(status, 200, target)
                self.assertIn(b"failure reason", answer, target)
            status, answer = raw.get(f"/scrape?info_hash={q(self.info_hash)}")
            self.assertEqual(answer[b"files"][self.info_hash][b"complete"], 1)
            self.assertEqual(answer[b"files"][self.info_hash][b"incomplete"], 2)
        finally:
            raw.close()

        # A flood of made-up peers from one address, for another torrent.
        hostile = RawClient(self.node_.http, HOSTILE_IP)
        refused = 0
        started = time.monotonic()
        try:
            for i in range(400):
                answer = hostile.announce(b"\x66" * 20, b"-EVIL0-" + b"%013d" % i, 1024 + i, compact=1,
                                          numwant=999_999)
                if b"failure reason" in answer:
                    refused += 1
                else:
                    self.assertLessEqual(len(answer[b"peers"]), 6 * MAX_NUMWANT)
        finally:
            hostile.close()
        # The rate limit bit: a burst, then 10 a second.
        allowed = REQUEST_BURST + 10 * (time.monotonic() - started) + 1
        self.assertGreaterEqual(refused, 400 - allowed)
        status = self.tracker_status()
        self.assertLessEqual(status["peers"], 3 + MAX_ENTRIES_PER_ADDRESS)
        self.assertLessEqual(status["torrents"], 2)

        # The honest swarm is still served.
        raw = RawClient(self.node_.http, RAW_IP)
        try:
            answer = raw.announce(self.info_hash, b"-RAW001-aaaaaaaaaaaa", 6881, compact=1)
            peers = answer[b"peers"]
            self.assertIn(SEEDER_IP, {socket.inet_ntoa(peers[i:i + 4]) for i in range(0, len(peers), 6)})
        finally:
            raw.close()
        self.node_.assert_alive()


if __name__ == "__main__":
    e2e.main()
