#!/usr/bin/env python3
"""Sharing and downloading files through real node processes: `share`, `get`, `files`.

A swarm of concurrent downloaders, a seeder that leaves, a downloader killed
half-way that resumes, a peer serving corrupted chunks, a 5 GiB sparse file,
and the command line's errors. Every download is checked by SHA-256 against
the original.

This file owns the loopback addresses 127.0.4.x among the e2e tests.
"""

import json
import os
import pty
import re
import select
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

MiB = e2e.MiB
GiB = 1024 * MiB
PIPELINE_DEPTH_CHUNKS = 8  # requests a downloader keeps in flight per transfer
CONNECT_DEADLINE_S = 15
ANNOUNCE_DEADLINE_S = 15
GET_DEADLINE_S = 120
# A `get` whose node is gone must say so; the CLI gives a silent node 15 s.
CLI_NOTICES_DEAD_NODE_S = 30
BIG_FILE_BYTES = 5 * GiB
BIG_FILE_DEADLINE_S = 240

# Test a/b: a seeder and three downloaders, then a late joiner.
SWARM_IPS = {name: f"127.0.4.{i}" for i, name in enumerate(("seeder", "bob", "carol", "dave", "erin"), start=1)}
RESUME_IPS = ("127.0.4.10", "127.0.4.11")
CORRUPT_IPS = ("127.0.4.20", "127.0.4.21", "127.0.4.22")
BIG_IPS = ("127.0.4.30", "127.0.4.31")
ERROR_IP = "127.0.4.40"
CATALOG_IPS = ("127.0.4.50", "127.0.4.51", "127.0.4.52")


def chunks_by_source(transfer):
    """{peer: chunks} for the peers that delivered at least one chunk."""
    return {peer: n for peer, n in (transfer.get("sources") or {}).items() if n > 0}


def names(node):
    """How a `sources` key may name a node: its name, id (or a prefix of it) or address."""
    return {node.name, node.id, node.listen}


def is_node(key, node):
    return key in names(node) or (len(key) >= 8 and node.id.startswith(key))


class TransferTest(e2e.NodeTestCase):
    # ------------------------------------------------------------ helpers

    def assert_one_sentence_error(self, result, what, exactly_one_line=True):
        self.assertNotEqual(result.returncode, 0, f"{what}: must fail")
        self.assertEqual(result.stdout, "", f"{what}: nothing on stdout")
        lines = result.stderr.splitlines()
        self.assertTrue(lines, f"{what}: must say why on stderr")
        if exactly_one_line:
            self.assertEqual(len(lines), 1, f"{what}: exactly one line on stderr, got {result.stderr!r}")
        self.assertRegex(lines[-1], r"^peerlab: \S", f"{what}: the last line is the error sentence")
        self.assertEqual(sum(line.startswith("peerlab: ") for line in lines), 1, f"{what}: one error sentence")
        self.assertNotRegex(result.stderr, r"terminate called|what\(\)|Aborted|Segmentation|Traceback",
                            f"{what}: a sentence, not a crash")

    def assert_get_succeeded(self, result, what):
        self.assertEqual(result.returncode, 0, f"{what}: exit code; stderr: {result.stderr[-2000:]!r}")
        self.assertEqual(result.stdout, "", f"{what}: get keeps stdout clean")

    def wait_connected(self, node, others, timeout=CONNECT_DEADLINE_S):
        wanted = {o.id for o in others}
        return e2e.wait_until(lambda: wanted <= set(node.peer_by_id()), timeout,
                              f"{node.name} to connect to {sorted(o.name for o in others)}")

    def wait_listed(self, node, file_id, holders=1, timeout=ANNOUNCE_DEADLINE_S):
        """Polls `files --json` on node until it lists file_id with at least `holders` holders."""
        def listed():
            entry = node.file_entry(file_id)
            return entry if entry and entry["holders"] >= holders else None
        return e2e.wait_until(listed, timeout, f"{node.name} to list {file_id[:12]} with {holders} holder(s)")

    def random_file(self, name, size):
        path = os.path.join(self.tmp, name)
        e2e.write_random_file(path, size)
        return path, e2e.sha256_file(path)

    def out_dir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    # ------------------------------------------------------------ a, b: a swarm, then the seeder leaves

    def test_three_concurrent_downloaders_swarm_and_survive_the_seeder_leaving(self):
        # On loopback a fast machine could move all 64 MiB from the seeder to
        # the first downloader before the others ask anyone, and then nobody
        # needs to swarm. A seeder limited to 16 MiB/s is the bottleneck (as a
        # home uplink is), so finishing needs the downloaders to trade chunks
        # among themselves: that is what we check, on any machine.
        original, digest = self.random_file("lecture.bin", 64 * MiB)
        ip = SWARM_IPS
        seeder = self.node("seeder", f"{ip['seeder']}:0", f"{ip['seeder']}:0",
                           extra=["--up-limit", "16MiB"]).start()
        file_id = seeder.share(original)
        self.assertRegex(file_id, r"^[0-9a-f]{64}$", "share prints the content id alone")
        downloaders = [self.node(n, f"{ip[n]}:0", f"{ip[n]}:0", peers=[seeder.listen]).start()
                       for n in ("bob", "carol", "dave")]
        bob, carol, dave = downloaders
        for node in downloaders:  # peer exchange: every downloader meets the other two
            self.wait_connected(node, [seeder] + [d for d in downloaders if d is not node])
            self.wait_listed(node, file_id)

        # bob writes ./NAME in his working directory; carol and dave use -o.
        bob_cwd = self.out_dir("bob-cwd")
        outputs = {bob: os.path.join(bob_cwd, "lecture.bin"),
                   carol: os.path.join(self.out_dir("carol-out"), "copy.bin"),
                   dave: os.path.join(self.out_dir("dave-out"), "copy.bin")}
        started = time.monotonic()
        gets = {bob: self.cli_process(bob.start_get(file_id[:16], cwd=bob_cwd)),
                carol: self.cli_process(carol.start_get(file_id, outputs[carol], quiet=True)),
                dave: self.cli_process(dave.start_get(file_id, outputs[dave]))}

        # b: once bob and carol are done, the seeder leaves; dave and a new node carry on.
        results = {}
        for node in (bob, carol):
            results[node] = gets[node].wait(GET_DEADLINE_S)
        self.assertEqual(seeder.stop(signal.SIGTERM), 0, "the seeder must exit 0 on SIGTERM")
        results[dave] = gets[dave].wait(GET_DEADLINE_S)
        elapsed = time.monotonic() - started

        for node in downloaders:
            self.assert_get_succeeded(results[node], f"get on {node.name}")
            self.assertEqual(e2e.sha256_file(outputs[node]), digest, f"{node.name}'s copy must be the original")
            transfer = node.transfer(file_id)
            self.assertEqual(transfer["state"], "complete", node.name)
            self.assertEqual(transfer["id"], file_id, f"{node.name}: the prefix resolves to the full id")
            self.assertEqual(transfer["chunks_done"], transfer["chunks_total"], node.name)
            self.assertEqual(os.path.realpath(transfer["output"]), os.path.realpath(outputs[node]), node.name)
            sources = chunks_by_source(transfer)
            self.assertGreater(len(sources), 1, f"{node.name} must have swarmed (chunks from more than one "
                                                f"peer), got sources {sources} in {elapsed:.1f}s")
            self.assertEqual(sum(sources.values()), transfer["chunks_fetched"],
                             f"{node.name}: sources count every fetched chunk")
            self.assertTrue(any(is_node(key, seeder) for key in sources), f"{node.name}: the seeder sent some")
            sys.stderr.write(f"\n{node.name} got {transfer['chunks_total']} chunks from {sources}\n")

        # What the user saw: nothing on stdout; progress and a summary on stderr, unless --quiet.
        self.assertEqual(results[carol].stderr, "", "--quiet prints nothing")
        for node in (bob, dave):
            lines = results[node].stderr.splitlines()
            self.assertTrue(lines, f"{node.name}: progress lines on stderr")
            self.assertTrue(any(re.search(r"\d+%", line) for line in lines), f"{node.name}: a percentage")
            summary = [line for line in lines if line.startswith("got ")]
            self.assertEqual(len(summary), 1, f"{node.name}: one summary line in {lines}")
            self.assertRegex(summary[0], r"^got (lecture|copy)\.bin \(64\.0 MiB\) in [\d.]+ s from \d+ peers?")

        # b, continued: erin joins late, knows only bob, and gets the file from bob, carol and dave.
        erin = self.node("erin", f"{ip['erin']}:0", f"{ip['erin']}:0", peers=[bob.listen]).start()
        self.wait_connected(erin, downloaders)
        self.wait_listed(erin, file_id, holders=3)
        erin_out = os.path.join(self.out_dir("erin-out"), "lecture.bin")
        result = erin.get(file_id, erin_out, quiet=True, timeout=GET_DEADLINE_S)
        self.assert_get_succeeded(result, "get on erin after the seeder left")
        self.assertEqual(e2e.sha256_file(erin_out), digest, "erin's copy must be the original")
        sources = chunks_by_source(erin.transfer(file_id))
        self.assertTrue(sources, "erin's transfer names who sent the chunks")
        for key in sources:
            self.assertTrue(any(is_node(key, d) for d in downloaders),
                            f"erin got chunks from {key!r}, which is none of bob, carol, dave")

    # ------------------------------------------------------------ c: killed half-way, resumed

    def test_download_killed_half_way_resumes_without_fetching_verified_chunks_again(self):
        # 8 MiB/s from the only seeder: a 32 MiB download takes ~4 s, so "half-way" can be observed.
        original, digest = self.random_file("dataset.bin", 32 * MiB)
        seeder = self.node("source", f"{RESUME_IPS[0]}:0", f"{RESUME_IPS[0]}:0",
                           extra=["--up-limit", "8MiB"]).start()
        file_id = seeder.share(original)
        sink = self.node("sink", f"{RESUME_IPS[1]}:0", f"{RESUME_IPS[1]}:0", peers=[seeder.listen]).start()
        self.wait_connected(sink, [seeder])
        self.wait_listed(sink, file_id)
        out_dir = self.out_dir("sink-out")
        output = os.path.join(out_dir, "dataset.bin")
        first_get = self.cli_process(sink.start_get(file_id, output, quiet=True))

        def half_way():
            sink.assert_alive()
            if first_get.poll() is not None:
                raise e2e.GiveUp(f"get exited {first_get.poll()} before half-way: {first_get.wait(1).stderr!r}")
            t = sink.transfer(file_id)
            return t if t["chunks_total"] and t["chunks_done"] * 2 >= t["chunks_total"] else None

        before = e2e.wait_until(half_way, 60, "the download to be half-way", interval=0.02)
        recorded, total = before["chunks_done"], before["chunks_total"]
        self.assertLess(recorded, total, "killed before the end, or the test proves nothing")
        sink.stop(signal.SIGKILL)

        # No wrong file under the final name; the partial data sits next to it.
        self.assertFalse(os.path.exists(output), "an interrupted download must not appear under its final name")
        self.assertTrue(os.listdir(out_dir), "the partial file is written next to the target")
        # The CLI following the dead node gives up with a sentence.
        self.assert_one_sentence_error(first_get.wait(CLI_NOTICES_DEAD_NODE_S), "get whose node was killed")

        sink.start()
        result = sink.get(file_id, output, quiet=True, timeout=GET_DEADLINE_S)
        self.assert_get_succeeded(result, "get after the restart")
        self.assertEqual(e2e.sha256_file(output), digest, "the resumed copy must be the original")
        after = sink.transfer(file_id)
        sys.stderr.write(f"\nkilled at {recorded}/{total} chunks; after the restart: "
                         f"{after['chunks_resumed']} resumed, {after['chunks_fetched']} fetched\n")
        self.assertEqual(after["state"], "complete")
        self.assertEqual(after["chunks_done"], total)
        slack = PIPELINE_DEPTH_CHUNKS  # chunks in flight at the kill may be fetched again
        self.assertLessEqual(after["chunks_fetched"], total - recorded + slack,
                             f"re-downloaded verified chunks: {recorded}/{total} were done before the kill; "
                             f"after: {after}")
        self.assertGreaterEqual(after["chunks_resumed"], recorded - slack,
                                f"{recorded}/{total} were done before the kill; after: {after}")

    # ------------------------------------------------------------ d: a peer serving corrupted chunks

    def test_corrupted_chunks_are_rejected_and_their_sender_dropped(self):
        original, digest = self.random_file("source.bin", 16 * MiB)
        honest = self.node("honest", f"{CORRUPT_IPS[0]}:0", f"{CORRUPT_IPS[0]}:0",
                           extra=["--up-limit", "4MiB"])  # slow: the downloader must also ask the liar
        # Test-only fault switch: the liar flips one byte in every chunk it uploads.
        liar = self.node("liar", f"{CORRUPT_IPS[1]}:0", f"{CORRUPT_IPS[1]}:0",
                         env={"PEERLAB_TEST_CORRUPT_UPLOADS": "1"})
        # Each seeder shares its own copy in place; same bytes and name, so the same content id.
        copies = {}
        for node in (honest, liar):
            copies[node] = os.path.join(self.out_dir(f"{node.name}-files"), "source.bin")
            with open(original, "rb") as src, open(copies[node], "wb") as dst:
                dst.write(src.read())
        honest.start()
        liar.start()
        file_id = honest.share(copies[honest])
        self.assertEqual(liar.share(copies[liar]), file_id, "the same file must get the same content id")

        sink = self.node("victim", f"{CORRUPT_IPS[2]}:0", f"{CORRUPT_IPS[2]}:0",
                         peers=[honest.listen, liar.listen]).start()
        self.wait_connected(sink, [honest, liar])
        self.wait_listed(sink, file_id, holders=2)
        output = os.path.join(self.out_dir("victim-out"), "source.bin")
        result = sink.get(file_id, output, quiet=True, timeout=GET_DEADLINE_S)
        self.assert_get_succeeded(result, "get with a corrupt peer in the swarm")
        self.assertEqual(e2e.sha256_file(output), digest, "only verified chunks may reach the file")

        transfer = sink.transfer(file_id)
        sys.stderr.write(f"\n{transfer['chunks_rejected']} corrupt chunks rejected; sources {transfer['sources']}\n")
        self.assertGreaterEqual(transfer["chunks_rejected"], 1,
                                f"the liar was asked (the honest seeder is slow), so some chunk must have been "
                                f"rejected: {transfer}")
        e2e.wait_until(lambda: liar.id not in sink.peer_by_id(), 10, "the victim to drop the corrupt peer")
        self.assertIn(honest.id, sink.peer_by_id(), "the honest seeder stays connected")
        for key in chunks_by_source(transfer):
            self.assertFalse(is_node(key, liar), f"no chunk of the liar may count as a source: {transfer}")

    # ------------------------------------------------------------ e: 5 GiB sparse file

    def test_five_gib_sparse_file_crosses_the_4_gib_boundary_intact(self):
        # Offsets above 2^32 catch 32-bit arithmetic anywhere on the path. The file
        # is mostly a hole (cheap to create); the copy is written in full (5 GiB on disk).
        free = os.statvfs(self.tmp)
        if free.f_bavail * free.f_frsize < BIG_FILE_BYTES + GiB:
            self.skipTest(f"needs {BIG_FILE_BYTES // GiB + 1} GiB free in {self.tmp}")
        original = os.path.join(self.tmp, "big.img")
        with open(original, "wb") as f:
            f.truncate(BIG_FILE_BYTES)
            for offset in (0, 4 * GiB - MiB, 4 * GiB + 3 * MiB, BIG_FILE_BYTES - 3 * MiB):
                f.seek(offset)
                f.write(os.urandom(3 * MiB))
        self.assertEqual(os.path.getsize(original), BIG_FILE_BYTES)

        seeder = self.node("bigsource", f"{BIG_IPS[0]}:0", f"{BIG_IPS[0]}:0").start()
        sink = self.node("bigsink", f"{BIG_IPS[1]}:0", f"{BIG_IPS[1]}:0", peers=[seeder.listen]).start()
        t0 = time.monotonic()
        file_id = seeder.share(original, timeout=BIG_FILE_DEADLINE_S)
        t_share = time.monotonic() - t0
        self.wait_connected(sink, [seeder])
        listed = self.wait_listed(sink, file_id)
        self.assertEqual(listed["size"], BIG_FILE_BYTES, "the size above 4 GiB must survive the catalog")
        output = os.path.join(self.out_dir("bigsink-out"), "big.img")
        t0 = time.monotonic()
        result = sink.get(file_id, output, quiet=True, timeout=BIG_FILE_DEADLINE_S)
        t_get = time.monotonic() - t0
        self.assert_get_succeeded(result, "get of 5 GiB")
        self.assertEqual(os.path.getsize(output), BIG_FILE_BYTES)
        t0 = time.monotonic()
        self.assertEqual(e2e.sha256_file(output), e2e.sha256_file(original), "the 5 GiB copy must be identical")
        t_hash = time.monotonic() - t0
        sys.stderr.write(f"\n5 GiB: share {t_share:.1f}s, get {t_get:.1f}s "
                         f"({BIG_FILE_BYTES / MiB / max(t_get, 1e-3):.0f} MiB/s), two sha256 {t_hash:.1f}s\n")
        os.remove(output)  # 5 GiB of disk back at once, even if cleanup is delayed

    # ------------------------------------------------------------ f: errors in one sentence

    def test_bad_ids_and_paths_fail_with_one_sentence(self):
        node = self.node("lonely", f"{ERROR_IP}:0", f"{ERROR_IP}:0").start()
        cwd = self.out_dir("cwd")

        # 7 characters: too short to be a prefix, refused by the CLI and by the API.
        short = "0123abc"
        self.assert_one_sentence_error(node.get(short, cwd=cwd), "get with a 7-character prefix")
        with self.subTest("the API refuses a 7-character prefix as a bad request"):
            status, body = node.post("/api/get", {"id": short, "output": None, "directory": cwd})
            self.assertIsInstance((body or {}).get("error"), str, f"an error sentence: {body}")
            self.assertEqual(status, 400, f"POST /api/get with a 7-character prefix: {body}")
        self.assert_one_sentence_error(node.get("not-hex-at-all", cwd=cwd), "get with a non-hex id")

        # An id nobody has: the node gives up and the CLI says so. Both at once,
        # as the node looks for holders a while before it gives up.
        unknown = os.urandom(32).hex()
        t0 = time.monotonic()
        gets = {quiet: self.cli_process(node.start_get(unknown, quiet=quiet, cwd=cwd)) for quiet in (True, False)}
        for quiet, get in gets.items():
            # Without --quiet, progress lines ("looking for peers...") may come first.
            self.assert_one_sentence_error(get.wait(GET_DEADLINE_S), f"get of an unknown id (quiet={quiet})",
                                           exactly_one_line=quiet)
        sys.stderr.write(f"\nget of an unknown id failed after {time.monotonic() - t0:.1f}s\n")
        self.assertEqual(os.listdir(cwd), [], "a failed get leaves nothing behind")

        # share: a missing file, a FIFO (a directory is a folder: test_folders.py), and no side
        # effect without the token.
        fifo = os.path.join(self.tmp, "pipe")
        os.mkfifo(fifo)
        for path, what in ((os.path.join(self.tmp, "missing.bin"), "a missing file"), (fifo, "a FIFO")):
            self.assert_one_sentence_error(e2e.run_cli("share", path, "--dir", node.dir), f"share of {what}")
        sneaky, _ = self.random_file("sneaky.bin", 64 * 1024)
        status, _ = node.post("/api/share", {"path": sneaky}, token=False)
        self.assertEqual(status, 401, "POST without the API token")
        self.assertEqual(node.files(), [], "nothing shared without the token")

    # ------------------------------------------------------------ g: the catalog and the progress bar

    def test_files_lists_name_size_and_holders_and_get_draws_a_bar_on_a_terminal(self):
        original, digest = self.random_file("notes.pdf", 3 * MiB + 12345)
        size = os.path.getsize(original)
        anna = self.node("anna", f"{CATALOG_IPS[0]}:0", f"{CATALOG_IPS[0]}:0").start()
        ben = self.node("ben", f"{CATALOG_IPS[1]}:0", f"{CATALOG_IPS[1]}:0", peers=[anna.listen]).start()
        cleo = self.node("cleo", f"{CATALOG_IPS[2]}:0", f"{CATALOG_IPS[2]}:0", peers=[anna.listen]).start()
        file_id = anna.share(original)
        for node in (ben, cleo):
            self.wait_connected(node, [anna])
            entry = self.wait_listed(node, file_id)
            self.assertEqual((entry["name"], entry["size"], entry["holders"]), ("notes.pdf", size, 1), node.name)
            self.assertIsNone(entry.get("local"), f"{node.name} has no copy yet")

        # ben downloads with stderr on a terminal: a bar redrawn with \r, ending at 100%.
        master, slave = pty.openpty()
        drawn = []
        finished = threading.Event()
        reader = threading.Thread(target=self.read_pty, args=(master, drawn, finished), daemon=True)
        reader.start()
        cwd = self.out_dir("ben-cwd")
        get = self.cli_process(ben.start_get(file_id[:8], cwd=cwd, stderr=slave))
        result = get.wait(GET_DEADLINE_S)
        # Keep our end of the terminal open until everything written is read:
        # once the last slave closes, Linux may drop what the master has not read.
        finished.set()
        reader.join(10)
        os.close(slave)
        os.close(master)
        self.assert_get_succeeded(result, "get with stderr on a terminal")
        self.assertEqual(e2e.sha256_file(os.path.join(cwd, "notes.pdf")), digest)
        screen = b"".join(drawn).decode(errors="replace")
        self.assertRegex(screen, r"\r\[#{20}\] 100%  3\.0/3\.0 MiB", f"the final bar; the terminal saw {screen!r}")
        self.assertRegex(screen, r"got notes\.pdf \(3\.0 MiB\) in [\d.]+ s from 1 peer\b", screen)

        # Now two holders; the catalog agrees on every node.
        for node in (anna, ben, cleo):
            entry = self.wait_listed(node, file_id, holders=2)
            self.assertEqual((entry["id"], entry["name"], entry["size"], entry["holders"]),
                             (file_id, "notes.pdf", size, 2), f"files --json on {node.name}")
        self.assertEqual(anna.file_entry(file_id).get("local"), "complete")
        self.assertEqual(ben.file_entry(file_id).get("local"), "complete")
        self.assertIsNone(cleo.file_entry(file_id).get("local"))
        table = e2e.run_cli("files", "--dir", cleo.dir)
        self.assertEqual(table.returncode, 0, table.stderr)
        row = next((line for line in table.stdout.splitlines() if file_id[:12] in line), "")
        self.assertRegex(row, rf"^{file_id[:12]}\s+notes\.pdf\s+3\.0 MiB\s+2\s+-$", table.stdout)
        self.assertNotIn(file_id[:13], table.stdout, "the table shows 12 hex digits of the id")
        self.assertRaises(json.JSONDecodeError, json.loads, table.stdout)

        # For the classroom: ben's transfer names who sent each chunk.
        transfers = ben.transfers()
        self.assertEqual([t["id"] for t in transfers], [file_id], "GET /api/transfers lists ben's download")
        sources = chunks_by_source(transfers[0])
        self.assertEqual(len(sources), 1, sources)
        self.assertTrue(is_node(next(iter(sources)), anna), f"anna sent every chunk: {sources}")
        self.assertEqual(sum(sources.values()), transfers[0]["chunks_total"])

    @staticmethod
    def read_pty(master, out, finished):
        """Reads the terminal until `finished` is set and it has gone quiet."""
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if finished.is_set():
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out.append(data)


if __name__ == "__main__":
    e2e.main()
