#!/usr/bin/env python3
"""peerlab downloads multi-file torrents (issue 20).

A folder `course` (nested directories, an empty file, files smaller and
larger than a piece) is made into v2, hybrid (BEP 47 pad files) and unaligned
v1 torrents (libtorrent's create_torrent with v1_only: no pad files, so a
piece spans several files); libtorrent or aria2c seeds it, and `peerlab get
X.torrent -o OUT` must leave OUT a copy of the folder (`diff -r` clean: no
partial file, no pad file). Then `--only` (only the pieces touching the file
are fetched; no other file is created), a SIGKILL half-way (resumed, nothing
fetched twice), a magnet link, and a second peerlab node (and libtorrent)
getting the torrent from the first over BitTorrent, which serves pieces that
span files (v1) and pads as zeros (v2).

This file owns the loopback addresses 127.0.36.x (ten per case); one ctest
entry per case.
"""

import json
import os
import signal
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bittorrent_clients as bt  # noqa: E402
import peerlab_e2e as e2e  # noqa: E402
import test_bt_get as btget  # noqa: E402  (helpers only: no test class is imported)

KiB = 1024
MiB = 1024 * KiB
GET_TIMEOUT_S = 90
PIECE = 32 * KiB
CASE_BASE = {
    "test_libtorrent_seeds_a_v2_tree": 10,
    "test_libtorrent_seeds_a_hybrid_tree_with_pad_files": 20,
    "test_aria2c_seeds_an_unaligned_v1_tree": 30,
    "test_only_one_file_fetches_only_its_pieces": 40,
    "test_killed_half_way_then_restarted_resumes": 50,
    "test_a_peerlab_node_serves_pieces_that_span_files": 60,
    "test_a_peerlab_node_serves_a_v2_tree_its_pads_as_zeros": 70,
}


def hash_tree(folder, fmt, piece_bytes):
    """libtorrent's metainfo of `folder`: v2, hybrid (pads), or v1 with no pad file."""
    import libtorrent as lt

    files = lt.file_storage()
    lt.add_files(files, folder)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[fmt]
    creator = lt.create_torrent(files, piece_bytes, flags=flags)
    lt.set_piece_hashes(creator, os.path.dirname(folder))
    return creator.generate()


def tree_files(root):
    """Every file under root (relative paths), and every directory."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


class MultiFileTorrentTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.base = CASE_BASE[self._testMethodName]
        self.seed_dir = os.path.join(self.tmp, "seed")
        os.makedirs(self.seed_dir)
        self.clients = []
        self.addCleanup(self._stop_clients)

    def _stop_clients(self):
        for client in reversed(self.clients):
            bt.stop(client)
        self.clients.clear()
        if self._failed():
            for name in sorted(os.listdir(self.tmp)):
                if name.endswith(".log") and not name.startswith(("leecher", "node", "first", "second")):
                    with open(os.path.join(self.tmp, name), "rb") as f:
                        tail = f.read().decode(errors="replace")[-2500:]
                    sys.stderr.write(f"\n----- {name} -----\n{tail}\n")

    def ip(self, n):
        return f"127.0.36.{self.base + n}"

    def course(self, big=700 * KiB + 123):
        """The folder: README (< a piece), an empty file, nested slides, a big file."""
        self.folder = os.path.join(self.seed_dir, "course")
        for path, size in (("README.txt", 5000), ("empty.txt", 0), ("slides/week1.pdf", 70000),
                           ("slides/deep/notes.txt", 300), ("video.bin", big)):
            full = os.path.join(self.folder, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            e2e.write_random_file(full, size)
        return self.folder

    def tracked_torrent(self, fmt):
        meta = hash_tree(self.folder, fmt, PIECE)
        bare = btget.write_torrent(meta, os.path.join(self.tmp, "bare.torrent"))
        tracker = bt.Tracker(self.ip(2), self.tmp, bare.tracker_hashes)
        self.clients.append(tracker)
        torrent = btget.write_torrent(meta, os.path.join(self.tmp, f"course.{fmt}.torrent"), [tracker.url])
        return torrent, tracker

    def libtorrent_seeder(self, torrent, n=3):
        import libtorrent as lt

        session = bt.lt_session(self.ip(n))
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent.path)
        params.save_path = self.seed_dir
        params.flags |= lt.torrent_flags.seed_mode
        session.add_torrent(params)
        self.clients.append(session)

    def aria2c_seeder(self, torrent, n=3, extra=()):
        client = bt.aria2c(torrent.path, self.seed_dir, self.ip(n), os.path.join(self.tmp, f"aria2c-seeder-{n}.log"),
                           seed=True, extra=["--bt-seed-unverified=true", *extra])
        self.clients.append(client)
        return client

    def wait_seeders(self, announce_url, torrent):
        def listed():
            return all(btget.scraped_seeders(announce_url, h) >= 1 for h in torrent.tracker_hashes)

        e2e.wait_until(listed, 30, f"a seeder listed by {announce_url}", interval=0.2)

    def downloader(self, name="leecher", n=1, **kwargs):
        return self.node(name, f"{self.ip(n)}:0", f"{self.ip(n)}:0", **kwargs).start()

    def output(self, node):
        directory = os.path.join(self.tmp, f"{node.name}-out")
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, "course")

    def get_args(self, node, torrent, only=()):
        args = ["get", torrent.path, "--dir", node.dir, "-o", self.output(node)]
        for path in only:
            args += ["--only", path]
        return args

    def get(self, node, torrent, only=()):
        result = subprocess.run([e2e.PEERLAB, *self.get_args(node, torrent, only)], capture_output=True, text=True,
                                timeout=e2e.seconds(GET_TIMEOUT_S))
        node.assert_alive()
        self.assertEqual(result.returncode, 0, f"peerlab get failed: {result.stderr[-2000:]}")

    def transfer(self, node, torrent):
        mine = [t for t in node.api("/api/transfers") if t.get("id") == torrent.id]
        self.assertEqual(len(mine), 1, f"one transfer with id {torrent.id}")
        return mine[0]

    def assert_tree(self, node, torrent):
        """OUT is the folder, byte for byte, and the transfer shows its files."""
        out = self.output(node)
        diff = subprocess.run(["diff", "-r", self.folder, out], capture_output=True, text=True)
        self.assertEqual(diff.returncode, 0, f"diff -r {self.folder} {out}:\n{diff.stdout[-2000:]}{diff.stderr}")
        t = self.transfer(node, torrent)
        sys.stderr.write(f"\n{node.name}: {t['chunks_total']} pieces, resumed {t['chunks_resumed']}, "
                         f"fetched {t['chunks_fetched']}; sources {t.get('sources')}\n")
        self.assertEqual(t["state"], "complete", t)
        self.assertEqual(t["protocol"], "bittorrent", t)
        self.assertEqual(t["chunks_total"], torrent.pieces, t)
        self.assertEqual(t["chunks_resumed"] + t["chunks_fetched"], torrent.pieces, t)
        detail = node.api(f"/api/transfers/{torrent.id}")
        self.assertTrue(detail.get("folder"), detail.keys())
        files = {f["path"]: f for f in detail["files"]}
        self.assertEqual(set(files), {p for p in tree_files(self.folder)
                                      if os.path.isfile(os.path.join(self.folder, p))}, files)
        self.assertTrue(all(f["state"] == "done" for f in files.values()), files)
        self.assertEqual(files["video.bin"]["bytes_done"], os.path.getsize(os.path.join(self.folder, "video.bin")))
        return t

    # -- (a) and (b): every format

    def seeded_get(self, fmt, seeder):
        self.course()
        torrent, self.tracker = self.tracked_torrent(fmt)
        seeder(torrent)
        self.wait_seeders(self.tracker.url, torrent)
        node = self.downloader()
        self.get(node, torrent)
        return node, torrent

    def test_libtorrent_seeds_a_v2_tree(self):
        node, torrent = self.seeded_get("v2", self.libtorrent_seeder)
        self.assert_tree(node, torrent)
        listed = subprocess.run([e2e.PEERLAB, "files", "--json", "--dir", node.dir], capture_output=True, text=True,
                                timeout=e2e.seconds(10))
        mine = [f for f in json.loads(listed.stdout) if f["id"] == torrent.id]
        self.assertEqual(len(mine), 1, listed.stdout)
        self.assertEqual((mine[0]["name"], mine[0]["local"]), ("course", "complete"), mine)
        # And by its magnet link: each file's piece layer by BEP 52 hash requests.
        self.get_magnet(f"magnet:?xt=urn:btmh:1220{torrent.v2.hex()}&dn=course")

    def get_magnet(self, magnet):
        tracker = urllib.parse.quote(self.tracker.url, safe="")
        other = self.downloader("magnet", 4)
        result = subprocess.run([e2e.PEERLAB, "get", f"{magnet}&tr={tracker}", "--dir", other.dir, "-o",
                                 self.output(other)], capture_output=True, text=True, timeout=e2e.seconds(GET_TIMEOUT_S))
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        diff = subprocess.run(["diff", "-r", self.folder, self.output(other)], capture_output=True, text=True)
        self.assertEqual(diff.returncode, 0, diff.stdout[-2000:])

    def test_libtorrent_seeds_a_hybrid_tree_with_pad_files(self):
        node, torrent = self.seeded_get("hybrid", self.libtorrent_seeder)
        self.assert_tree(node, torrent)
        # And by its magnet link (v1 hash): the info dictionary from libtorrent.
        self.get_magnet(f"magnet:?xt=urn:btih:{torrent.v1.hex()}&dn=course")

    def test_aria2c_seeds_an_unaligned_v1_tree(self):
        import libtorrent as lt

        self.course()
        info = lt.torrent_info(lt.bencode(hash_tree(self.folder, "v1", PIECE)))
        files = info.files()
        self.assertFalse(any(files.file_flags(i) & lt.file_storage.flag_pad_file for i in range(files.num_files())),
                         "a v1 torrent with no pad file")
        self.assertNotEqual(files.file_offset(files.num_files() - 1) % PIECE, 0, "pieces that span files")
        node, torrent = self.seeded_get("v1", self.aria2c_seeder)
        self.assert_tree(node, torrent)

    # -- (c) --only

    def test_only_one_file_fetches_only_its_pieces(self):
        import libtorrent as lt

        self.course()
        torrent, tracker = self.tracked_torrent("v1")
        self.libtorrent_seeder(torrent)
        self.wait_seeders(tracker.url, torrent)
        files = lt.torrent_info(torrent.path).files()
        which = [i for i in range(files.num_files()) if files.file_path(i).endswith("week1.pdf")][0]
        first = files.file_offset(which) // PIECE
        end = (files.file_offset(which) + files.file_size(which) + PIECE - 1) // PIECE
        node = self.downloader()
        self.get(node, torrent, only=["slides/week1.pdf"])
        out = self.output(node)
        self.assertEqual(tree_files(out), {"slides", "slides/week1.pdf"}, "only the file asked for")
        self.assertEqual(e2e.sha256_file(os.path.join(out, "slides/week1.pdf")),
                         e2e.sha256_file(os.path.join(self.folder, "slides/week1.pdf")))
        t = self.transfer(node, torrent)
        self.assertEqual(t["state"], "complete", t)
        self.assertEqual(t["chunks_fetched"], end - first, f"pieces {first}..{end - 1} only: {t}")
        detail = node.api(f"/api/transfers/{torrent.id}")
        states = {f["path"]: f["state"] for f in detail["files"]}
        self.assertEqual(states["slides/week1.pdf"], "done", states)
        self.assertEqual(states["video.bin"], "skipped", states)
        # The bytes of boundary pieces that belong to other files: in the side file, not the tree.
        self.assertTrue(os.path.exists(os.path.join(node.dir, "downloads", f"{torrent.id}.parts")))

    # -- (d) resume

    def test_killed_half_way_then_restarted_resumes(self):
        self.course(big=3 * MiB + 77)
        torrent, tracker = self.tracked_torrent("v1")
        self.aria2c_seeder(torrent, extra=["--max-upload-limit=1M"])
        self.wait_seeders(tracker.url, torrent)
        node = self.downloader()
        first = self.cli_process(e2e.CliProcess([*self.get_args(node, torrent), "--quiet"]))

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
        self.assertFalse(os.path.exists(os.path.join(self.output(node), "video.bin")),
                         "an unfinished file under its final name")
        node.start()
        self.get(node, torrent)
        t = self.assert_tree(node, torrent)  # resumed + fetched == total: nothing fetched twice
        self.assertGreater(t["chunks_resumed"], 0, t)

    # -- (e) serving

    def serve(self, fmt, seeder, magnet=False):
        """A node gets the tree from `seeder`, which then stops: a second node
        and libtorrent get it from the node alone (libtorrent by the magnet
        link: metadata, and v2 piece layers by hash requests, from the node)."""
        self.course()
        torrent, tracker = self.tracked_torrent(fmt)
        seeder(torrent)
        self.wait_seeders(tracker.url, torrent)
        first = self.downloader("first", 1)
        self.get(first, torrent)
        self.assert_tree(first, torrent)
        for client in list(self.clients):
            if client is not tracker:  # from now on the first node is the only seeder
                bt.stop(client)
                self.clients.remove(client)
        second = self.downloader("second", 4, peers=[first.listen])
        self.get(second, torrent)
        t = self.assert_tree(second, torrent)
        sources = btget.sources_of(t)
        self.assertTrue(sources and all(first.ip in k for k in sources), f"not all from the first node: {sources}")
        # libtorrent checks what the node serves against the torrent too.
        session = bt.lt_session(self.ip(5))
        self.clients.append(session)
        out = os.path.join(self.tmp, "libtorrent-out")
        if magnet:
            link = f"magnet:?xt=urn:btmh:1220{torrent.v2.hex()}&dn=course"
            handle = bt.lt_download(session, out, first.listen, magnet=link)
        else:
            handle = bt.lt_download(session, out, first.listen, torrent=torrent.path)
        bt.lt_wait_seeding(handle, 60, peer=first.listen)
        diff = subprocess.run(["diff", "-r", self.folder, os.path.join(out, "course")], capture_output=True, text=True)
        self.assertEqual(diff.returncode, 0, diff.stdout[-2000:])

    def test_a_peerlab_node_serves_pieces_that_span_files(self):
        self.serve("v1", self.aria2c_seeder)  # unaligned: pieces span files

    def test_a_peerlab_node_serves_a_v2_tree_its_pads_as_zeros(self):
        self.serve("v2", self.libtorrent_seeder, magnet=True)

if __name__ == "__main__":
    e2e.main()
