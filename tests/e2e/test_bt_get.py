#!/usr/bin/env python3
"""peerlab downloads from BitTorrent swarms (issue 19).

`peerlab get FILE.torrent` and `peerlab get 'magnet:?...'` against seeders
that are real clients from Debian: aria2c (v1), transmission-cli (v1, on a
LAN of namespaces: it ignores loopback peers), libtorrent (hybrid, v2, and
magnet links alone: metadata by BEP 9); trackers: Debian's opentracker over
HTTP and UDP, and another peerlab node's /announce. Then the hard parts: a
Python seeder that sends one corrupt piece beside an honest aria2c (rejected,
banned, file correct), a downloader SIGKILLed half-way (resumes, no piece
fetched twice), and a mixed swarm (libtorrent, two peerlab nodes, two
aria2c). Torrents are made here with libtorrent or transmission-create, with
piece lengths unlike peerlab's 256 KiB chunks and files not a multiple of them.

Every case checks the SHA-256 of what `get` wrote and the download's entry
in GET /api/transfers (id = SHA-256 of the info dictionary, one chunk per
piece, protocol "bittorrent", BitTorrent sources named "bt ...").

This file owns the loopback addresses 127.0.34.x (ten per case) and the
network namespaces pl-lan-<pid>-btget-*; one ctest entry per case.
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bittorrent_clients as bt  # noqa: E402
import bt_fake_seeder  # noqa: E402
import peerlab_e2e as e2e  # noqa: E402

KiB = 1024
MiB = 1024 * KiB
GET_TIMEOUT_S = 90
# Addresses 127.0.34.(base + n): n = 1 the downloader, 2 the tracker, 3... seeders and other clients.
CASE_BASE = {
    "test_aria2c_seeds_a_v1_torrent_through_opentracker_over_http": 10,
    "test_libtorrent_seeds_a_hybrid_torrent_through_opentracker_over_http": 20,
    "test_libtorrent_seeds_a_v2_torrent_through_opentracker_over_udp": 30,
    "test_magnet_link_of_a_v1_torrent_whose_only_seeder_is_libtorrent": 40,
    "test_magnet_links_btih_and_btmh_of_a_hybrid_torrent_whose_only_seeder_is_libtorrent": 100,
    "test_another_nodes_announce_is_the_tracker": 50,
    "test_a_corrupt_piece_is_rejected_and_its_sender_banned": 60,
    "test_killed_half_way_then_restarted_resumes_without_fetching_a_piece_twice": 70,
    "test_mixed_swarm_libtorrent_two_peerlab_nodes_two_aria2c": 80,
    "test_transmission_seeds_a_v1_torrent_on_a_namespace_lan": 90,  # unused: it runs in namespaces
    "test_magnet_link_of_a_v2_torrent_whose_only_seeder_is_libtorrent": 110,
}


class Torrent:
    """A .torrent written here, and what the test knows of it."""

    def __init__(self, path):
        import libtorrent as lt

        self.path = path
        info = lt.torrent_info(path)
        self.pieces = info.num_pieces()
        self.piece_bytes = info.piece_length()
        self.id = hashlib.sha256(info.info_section()).hexdigest()  # the contract's transfer id
        hashes = info.info_hashes()
        self.v1 = bytes.fromhex(str(hashes.v1)) if hashes.has_v1() else None
        self.v2 = bytes.fromhex(str(hashes.v2)) if hashes.has_v2() else None
        # What a tracker sees: the v1 hash, and v2's truncated to 20 bytes (BEP 52).
        self.tracker_hashes = [h for h in (self.v1, self.v2 and self.v2[:20]) if h]
        self.magnet = lt.make_magnet_uri(info)


def hash_file(source, fmt, piece_bytes):
    """libtorrent's metainfo dictionary of `source` (no tracker yet: trackers
    lie outside the info dictionary, so the info-hash is known before them)."""
    import libtorrent as lt

    files = lt.file_storage()
    lt.add_files(files, source)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[fmt]
    creator = lt.create_torrent(files, piece_bytes, flags=flags)
    lt.set_piece_hashes(creator, os.path.dirname(source))
    return creator.generate()


def write_torrent(meta, path, trackers=()):
    import libtorrent as lt

    meta = dict(meta)
    if trackers:
        meta[b"announce"] = trackers[0].encode()
        meta[b"announce-list"] = [[t.encode()] for t in trackers]
    with open(path, "wb") as f:
        f.write(lt.bencode(meta))
    return Torrent(path)


def scraped_seeders(announce_url, info_hash):
    """The tracker's count of complete peers of info_hash (BEP 48 scrape)."""
    import libtorrent as lt

    url = announce_url.rsplit("/announce", 1)[0] + "/scrape?info_hash=" + urllib.parse.quote(info_hash)
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = lt.bdecode(response.read()) or {}
    entry = answer.get(b"files", {}).get(info_hash, {})
    return entry.get(b"complete", 0)


def sources_of(transfer):
    return {k: n for k, n in (transfer.get("sources") or {}).items() if n > 0}


class NamespacedNode(e2e.Node):
    """A node, and the CLI talking to it, inside a network namespace."""

    def __init__(self, host, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.host = host

    def command(self):
        return self.host.command(super().command())

    def api(self, path):
        return self.host.call(e2e.http_get_json, f"http://{self.http}{path}")


class BitTorrentGetTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.base = CASE_BASE[self._testMethodName]
        self.seed_dir = os.path.join(self.tmp, "seed")
        os.makedirs(self.seed_dir)
        self.clients = []  # processes and trackers, stopped by PID; libtorrent sessions
        self.addCleanup(self._stop_clients)

    def _stop_clients(self):
        for client in reversed(self.clients):
            bt.stop(client)
        self.clients.clear()
        if self._failed():
            for name in sorted(os.listdir(self.tmp)):
                if name.endswith(".log") and not name.startswith(("leecher", "node", "tracker-node")):
                    with open(os.path.join(self.tmp, name), "rb") as f:
                        tail = f.read().decode(errors="replace")[-2500:]
                    sys.stderr.write(f"\n----- {name} -----\n{tail}\n")

    def ip(self, n):
        return f"127.0.34.{self.base + n}"

    def source(self, size):
        self.original = os.path.join(self.seed_dir, "payload.bin")
        e2e.write_random_file(self.original, size)
        self.expected = e2e.sha256_file(self.original)
        return self.original

    def torrent(self, fmt, piece_bytes, trackers=()):
        meta = hash_file(self.original, fmt, piece_bytes)
        return write_torrent(meta, os.path.join(self.tmp, f"payload.{fmt}.torrent"), trackers)

    def tracked_torrent(self, fmt, piece_bytes, udp=False):
        """A .torrent of the original and the opentracker it names (HTTP or UDP)."""
        meta = hash_file(self.original, fmt, piece_bytes)
        tracker = self.opentracker(write_torrent(meta, os.path.join(self.tmp, "bare.torrent")).tracker_hashes)
        # opentracker's UDP port (BEP 15) is its TCP port's number.
        url = f"udp://{tracker.ip}:{tracker.port}/announce" if udp else tracker.url
        return write_torrent(meta, os.path.join(self.tmp, f"payload.{fmt}.torrent"), [url]), tracker

    # -- the other side of the swarm

    def opentracker(self, hashes, n=2):
        tracker = bt.Tracker(self.ip(n), self.tmp, hashes)
        self.clients.append(tracker)
        return tracker

    def aria2c_seeder(self, torrent, n=3, extra=()):
        """aria2c seeding until stopped (bittorrent_clients.aria2c lifts its
        default --seed-ratio=1.0, which would end it after one copy)."""
        client = bt.aria2c(torrent.path, self.seed_dir, self.ip(n), os.path.join(self.tmp, f"aria2c-seeder-{n}.log"),
                           seed=True, extra=["--bt-seed-unverified=true", *extra])
        self.clients.append(client)
        return client

    def libtorrent_seeder(self, torrent, n=3, upload_bytes_per_s=0):
        """upload_bytes_per_s: the torrent's own limit (a limit on the "local"
        peer class, where loopback peers go, slows libtorrent 2.0.8 to about
        0.6 MiB/s whatever the figure)."""
        import libtorrent as lt

        session = bt.lt_session(self.ip(n))
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent.path)
        params.save_path = self.seed_dir
        params.flags |= lt.torrent_flags.seed_mode  # we made the file: no hashing first
        handle = session.add_torrent(params)
        if upload_bytes_per_s:
            handle.set_upload_limit(upload_bytes_per_s)
        self.clients.append(session)
        return handle

    def wait_seeders(self, announce_url, torrent, count=1, call=lambda f: f()):
        """Until the tracker lists `count` seeders under every hash a client may
        announce: a downloader asking earlier would wait a whole interval."""
        def listed():
            return all(call(lambda: scraped_seeders(announce_url, h)) >= count for h in torrent.tracker_hashes)

        e2e.wait_until(listed, 30, f"{count} seeder(s) listed by {announce_url}", interval=0.2)

    # -- the peerlab side

    def downloader(self, name="leecher", n=1, **kwargs):
        return self.node(name, f"{self.ip(n)}:0", f"{self.ip(n)}:0", **kwargs).start()

    def output(self, node):
        directory = os.path.join(self.tmp, f"{node.name}-out")
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, "payload.bin")

    def get(self, node, source):
        args = [e2e.PEERLAB, "get", source, "--dir", node.dir, "-o", self.output(node)]
        run = node.host.run if isinstance(node, NamespacedNode) else \
            lambda a, timeout: subprocess.run(a, capture_output=True, text=True, timeout=timeout)
        result = run(args, timeout=e2e.seconds(GET_TIMEOUT_S))
        node.assert_alive()
        self.assertEqual(result.returncode, 0, f"peerlab get {source[:60]} failed: {result.stderr[-2000:]}")
        return result

    def start_get(self, node, source):
        """`peerlab get` in the background: a CliProcess (poll, wait, kill)."""
        return self.cli_process(e2e.CliProcess(["get", source, "--dir", node.dir, "-o", self.output(node),
                                                "--quiet"]))

    def transfer(self, node, torrent):
        transfers = node.api("/api/transfers")
        mine = [t for t in transfers if t.get("id") == torrent.id]
        self.assertEqual(len(mine), 1, f"one transfer with id {torrent.id} (SHA-256 of the info dictionary): "
                                       f"{transfers}")
        return mine[0]

    def assert_downloaded(self, node, torrent):
        """The file is the original, and the node lists the download as the contract says."""
        self.assertEqual(e2e.sha256_file(self.output(node)), self.expected, "sha256 of the downloaded file")
        t = self.transfer(node, torrent)
        sys.stderr.write(f"\n{node.name}: {t['chunks_total']} pieces of {torrent.piece_bytes // KiB} KiB, "
                         f"resumed {t['chunks_resumed']}, fetched {t['chunks_fetched']}, "
                         f"rejected {t['chunks_rejected']}; sources {t.get('sources')}\n")
        self.assertEqual(t.get("protocol"), "bittorrent", t)
        self.assertEqual(t["state"], "complete", t)
        self.assertEqual(t["name"], "payload.bin", t)
        self.assertEqual(t["chunks_total"], torrent.pieces, t)
        self.assertEqual(t["chunks_resumed"] + t["chunks_fetched"], torrent.pieces, t)
        self.assertTrue(any(k.startswith("bt ") for k in sources_of(t)), f"no BitTorrent source: {t}")
        return t

    # -- cases: one client seeds, peerlab gets

    def test_aria2c_seeds_a_v1_torrent_through_opentracker_over_http(self):
        self.source(6 * MiB + 12345)
        torrent, tracker = self.tracked_torrent("v1", 32 * KiB)
        self.aria2c_seeder(torrent)
        self.wait_seeders(tracker.url, torrent)
        node = self.downloader()
        self.get(node, torrent.path)
        self.assert_downloaded(node, torrent)

    def test_libtorrent_seeds_a_hybrid_torrent_through_opentracker_over_http(self):
        self.source(10 * MiB + 777)
        torrent, tracker = self.tracked_torrent("hybrid", 1 * MiB)
        self.libtorrent_seeder(torrent)
        self.wait_seeders(tracker.url, torrent)
        node = self.downloader()
        self.get(node, torrent.path)
        self.assert_downloaded(node, torrent)

    def test_libtorrent_seeds_a_v2_torrent_through_opentracker_over_udp(self):
        self.source(7 * MiB + 4321)
        torrent, tracker = self.tracked_torrent("v2", 64 * KiB, udp=True)
        self.libtorrent_seeder(torrent)
        self.wait_seeders(tracker.url, torrent)  # scraped over HTTP: the same swarm
        node = self.downloader()
        self.get(node, torrent.path)
        self.assert_downloaded(node, torrent)

    def fetch_magnets(self, fmt, kinds):
        """`peerlab get` of the magnet links (of `kinds`: btih, btmh) of a torrent
        whose only seeder is libtorrent: no .torrent on this side, metadata by BEP 9."""
        self.source(5 * MiB + 999)
        torrent, tracker = self.tracked_torrent(fmt, 128 * KiB)
        self.libtorrent_seeder(torrent)
        self.wait_seeders(tracker.url, torrent)
        tr = "&tr=" + urllib.parse.quote(tracker.url, safe="")
        magnets = {"btih": torrent.v1 and f"magnet:?xt=urn:btih:{torrent.v1.hex()}&dn=payload.bin{tr}",
                   "btmh": torrent.v2 and f"magnet:?xt=urn:btmh:1220{torrent.v2.hex()}&dn=payload.bin{tr}"}
        for n, kind in enumerate(kinds, start=4):
            with self.subTest(kind):
                node = self.downloader(f"leecher-{kind}", n)
                self.get(node, magnets[kind])
                self.assert_downloaded(node, torrent)

    def test_magnet_link_of_a_v1_torrent_whose_only_seeder_is_libtorrent(self):
        self.fetch_magnets("v1", ["btih"])

    def test_magnet_links_btih_and_btmh_of_a_hybrid_torrent_whose_only_seeder_is_libtorrent(self):
        # The info dictionary a hybrid's magnet brings has no piece layers:
        # v1's SHA-1 pieces can check it, or BEP 52 hash requests fetch them.
        self.fetch_magnets("hybrid", ["btih", "btmh"])

    def test_magnet_link_of_a_v2_torrent_whose_only_seeder_is_libtorrent(self):
        # Nothing but the merkle tree checks a v2 torrent's pieces: the piece
        # layer comes by BEP 52 hash requests, proven by the pieces root.
        self.fetch_magnets("v2", ["btmh"])

    def test_another_nodes_announce_is_the_tracker(self):
        self.source(6 * MiB + 5)
        tracker_node = self.node("tracker-node", f"{self.ip(2)}:0", f"{self.ip(2)}:0").start()
        announce = f"http://{tracker_node.http}/announce"
        torrent = self.torrent("v1", 512 * KiB, [announce])
        self.aria2c_seeder(torrent)
        self.wait_seeders(announce, torrent)
        node = self.downloader()
        self.get(node, torrent.path)
        self.assert_downloaded(node, torrent)
        tracker_node.assert_alive()

    def test_transmission_seeds_a_v1_torrent_on_a_namespace_lan(self):
        # Transmission 3.00 drops every 127.0.0.0/8 peer a tracker names (it
        # takes them for martians): a LAN of two namespaces, the node (and its
        # own /announce, the tracker) on 10.77.34.1, Transmission on .2.
        import netns

        why = netns.unavailable()
        if why:
            self.skipTest(why)
        lan = netns.Lan(hosts=2, subnet="10.77.34", subnet6="fd77:0:34:1", prefix=f"pl-lan-{os.getpid()}-btget-")
        self.addCleanup(lan.delete)
        node_host, seed_host = lan.hosts
        self.source(6 * MiB + 4097)
        node = NamespacedNode(node_host, os.path.join(self.tmp, "leecher"), f"{node_host.ip}:0", f"{node_host.ip}:0",
                              name="leecher", extra=["--no-discovery"])
        self.nodes.append(node)
        node.start()
        announce = f"http://{node.http}/announce"
        path = os.path.join(self.tmp, "payload.transmission.torrent")
        made = subprocess.run(["transmission-create", "-o", path, "-s", "64", "-t", announce, self.original],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stdout + made.stderr)
        torrent = Torrent(path)
        self.assertEqual(torrent.piece_bytes, 64 * KiB)
        client = bt.transmission(path, self.seed_dir, os.path.join(self.tmp, "transmission-config"), seed_host.ip,
                                 os.path.join(self.tmp, "transmission.log"), wrap=seed_host.command)
        self.clients.append(client)
        self.wait_seeders(announce, torrent, call=node_host.call)
        self.get(node, path)
        self.assert_downloaded(node, torrent)

    # -- cases: hostile peers, kills, mixed swarms

    def test_a_corrupt_piece_is_rejected_and_its_sender_banned(self):
        data_bytes = 8 * MiB + 999
        self.source(data_bytes)
        torrent, tracker = self.tracked_torrent("v1", 64 * KiB)
        # The honest seeder is slow (2 MiB/s): the downloader must also ask the liar.
        self.aria2c_seeder(torrent, extra=["--max-upload-limit=2M"])
        with open(self.original, "rb") as f:
            fake = bt_fake_seeder.FakeSeeder(self.ip(4), f.read(), torrent.piece_bytes, torrent.v1)
        self.clients.append(fake)
        tracker.announce(torrent.v1, fake.ip, fake.port)
        self.wait_seeders(tracker.url, torrent, count=2)
        node = self.downloader()
        self.get(node, torrent.path)
        t = self.assert_downloaded(node, torrent)
        self.assertTrue(fake.corrupted, f"the liar was never asked for a piece ({fake.blocks_sent} blocks sent)")
        self.assertGreaterEqual(t["chunks_rejected"], 1, t)
        banned = [line for line in node.log().splitlines() if "banned" in line and fake.ip in line]
        self.assertTrue(banned, f"no log line says {fake.address} was banned")

    def test_killed_half_way_then_restarted_resumes_without_fetching_a_piece_twice(self):
        self.source(8 * MiB + 3)
        torrent, tracker = self.tracked_torrent("v1", 32 * KiB)
        self.aria2c_seeder(torrent, extra=["--max-upload-limit=2M"])  # ~1 MiB/s in fact: a third is seen
        self.wait_seeders(tracker.url, torrent)
        node = self.downloader()
        first = self.start_get(node, torrent.path)

        def a_third_done():
            node.assert_alive()
            if first.poll() is not None:
                raise e2e.GiveUp(f"get exited {first.poll()} before a third was done")
            mine = [t for t in node.api("/api/transfers") if t.get("id") == torrent.id]
            return mine and mine[0]["chunks_fetched"] * 3 >= torrent.pieces and mine[0]

        before = e2e.wait_until(a_third_done, 60, "a third of the pieces", interval=0.02)
        node.stop(signal.SIGKILL)
        first.kill()
        self.assertLess(before["chunks_fetched"], torrent.pieces, "killed after the end: the test proves nothing")
        self.assertFalse(os.path.exists(self.output(node)), "an unfinished download under its final name")

        node.start()
        self.get(node, torrent.path)
        t = self.assert_downloaded(node, torrent)  # resumed + fetched == total: nothing fetched twice
        sys.stderr.write(f"killed at {before['chunks_fetched']}/{torrent.pieces} pieces\n")
        self.assertGreater(t["chunks_resumed"], 0, t)

    def test_mixed_swarm_libtorrent_two_peerlab_nodes_two_aria2c(self):
        self.source(8 * MiB + 1234)
        torrent, tracker = self.tracked_torrent("v1", 128 * KiB)
        # A slow seeder (2 MiB/s for four leechers of 8 MiB): they must trade among themselves.
        self.libtorrent_seeder(torrent, upload_bytes_per_s=2 * MiB)
        self.wait_seeders(tracker.url, torrent)
        first = self.downloader("leecher-a", 1)
        second = self.downloader("leecher-b", 4, peers=[first.listen])
        gets = [(node, self.start_get(node, torrent.path)) for node in (first, second)]
        leechers = []
        for n in (5, 6):
            out = os.path.join(self.tmp, f"aria2c-{n}-out")
            leechers.append((bt.aria2c(torrent.path, out, self.ip(n), os.path.join(self.tmp, f"aria2c-{n}.log")), out))
            self.clients.append(leechers[-1][0])

        def everyone_done():
            return all(p.poll() is not None for _, p in gets) and all(c.exited() for c, _ in leechers)

        e2e.wait_until(everyone_done, 90, "every leecher to finish", interval=0.2)
        for node, process in gets:
            result = process.wait(1)
            self.assertEqual(result.returncode, 0, f"{node.name}: {result.stderr[-2000:]}")
        for client, out in leechers:
            self.assertEqual(client.proc.returncode, 0, client.output()[-2000:])
            self.assertEqual(e2e.sha256_file(os.path.join(out, "payload.bin")), self.expected)
        for node, other in ((first, second), (second, first)):
            sources = sources_of(self.assert_downloaded(node, torrent))
            names_other = re.compile(rf"{re.escape(other.name)}|{other.id}|{re.escape(other.ip)}(?![0-9])")
            from_other = [k for k in sources if names_other.search(k)]
            self.assertTrue(from_other, f"{node.name} got nothing from {other.name}: {sources}")
            from_bt = [k for k in sources if k.startswith("bt ") and k not in from_other]
            self.assertTrue(from_bt, f"{node.name} got nothing from a BitTorrent client: {sources}")


if __name__ == "__main__":
    e2e.main()
