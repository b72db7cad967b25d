#!/usr/bin/env python3
"""Hostile peers that speak the protocol, badly on purpose (GitHub issue 7).

A fake peer in Python (wire.py) completes real handshakes with real nodes,
advertises catalogs, serves manifests and chunks, and then lies: absurd sizes
inside well-formed frames, hostile file names, forged manifests, wrong or
unsolicited chunks, indexes past the end, floods, silence, a byte a second,
huge or poisonous peer lists, our own node id, 1 000 held connections. Fake
downloaders also watch how a node spends an upload limit (UploadOrderTest).

Every case asserts its outcome: the connection is closed or the peer banned,
the download completes from an honest peer with the right SHA-256, memory
stays bounded, and no file is written outside the download directory.
test_hostile.py covers the frame layer (random bytes, oversized length
prefixes, wrong magic, a silent client, 500 unfinished connections); this file
starts where a peer has finished its handshake.

One ctest entry per class (tests/e2e/CMakeLists.txt), so they run side by
side. This file owns the loopback addresses 127.0.11.x among the e2e tests;
each class has its own slice of them.
"""

import hashlib
import os
import re
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402
import wire  # noqa: E402

KiB = 1024
MiB = e2e.MiB
GiB = 1024 * MiB

PROMPT_CLOSE_S = 4        # a clear violation is answered at once; well below any timeout
CONNECT_DEADLINE_S = 15
LISTED_DEADLINE_S = 15
GET_DEADLINE_S = 90
BAN_LOG_DEADLINE_S = 10
# Peak RSS (VmHWM) growth allowed over a series of hostile messages. A defence
# that allocated what a length claims would cost 1 GiB or more.
PEAK_GROWTH_LIMIT_KIB = 48 * 1024
PEAK_GROWTH_LIMIT_ASAN_KIB = 192 * 1024
RSS_GROWTH_LIMIT_KIB = 64 * 1024
RSS_GROWTH_LIMIT_ASAN_KIB = 256 * 1024

FILE_BYTES = 4 * MiB  # 16 chunks of 256 KiB: enough for a fake to be asked for several
REQUESTS_PER_PEER = 8  # a downloader keeps up to 8 requests in flight per peer (docs/protocol.md §8.4)


def ip(n):
    return f"127.0.11.{n}"


def files_under(root):
    """Every file and symlink under root, as paths relative to it."""
    out = set()
    for folder, dirs, names in os.walk(root):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            out.add(os.path.relpath(os.path.join(folder, name), root))
    return out


class HostilePeerCase(e2e.NodeTestCase):
    """Helpers shared by every class: fake peers, waits on logs, file-system and memory checks."""

    def setUp(self):
        super().setUp()
        self.fakes = []
        self.addCleanup(self._close_fakes)  # runs before NodeTestCase's cleanup (LIFO)

    def _close_fakes(self):
        for fake in self.fakes:
            fake.close()

    # -- fakes

    def fake(self, node, source_ip, files=(), name="fake", node_id=None, handshake=True, hello_payload=None,
             **behaviour):
        """A FakePeer dialing node from source_ip; `behaviour` (on_request, muted,
        manifests, chunk_maps, catalog_entries) is in place before the handshake."""
        fake = wire.FakePeer(node.listen, source_ip, node_id=node_id, name=name, files=files, **behaviour)
        self.fakes.append(fake)
        if handshake:
            fake.handshake(hello_payload=hello_payload)
            self.assertIsNotNone(fake.node_hello, f"{node.name} closed {fake.endpoint} before its hello")
            self.assertEqual(fake.node_hello.id.hex(), node.id, "the node's hello carries its id")
        return fake

    def connected_fake(self, node, source_ip, **kwargs):
        """A fake that completed its handshake and that the node lists as a peer."""
        fake = self.fake(node, source_ip, **kwargs)
        e2e.wait_until(lambda: fake.node_id.hex() in node.peer_by_id(), CONNECT_DEADLINE_S,
                       f"{node.name} to list {fake.peer_name} as a peer")
        return fake

    # -- waiting

    def wait_listed(self, node, file_id, holders=1, timeout=LISTED_DEADLINE_S):
        def listed():
            node.assert_alive()
            entry = node.file_entry(file_id)
            return entry if entry and entry["holders"] >= holders else None

        return e2e.wait_until(listed, timeout, f"{node.name} to list {file_id[:12]} with {holders} holder(s)")

    def wait_log(self, node, pattern, since=0, timeout=BAN_LOG_DEADLINE_S):
        """The first line of node's log (after offset `since`) matching pattern."""
        regex = re.compile(pattern)

        def found():
            node.assert_alive()
            return next((line for line in node.log()[since:].splitlines() if regex.search(line)), None)

        return e2e.wait_until(found, timeout, f"a line matching {pattern!r} in {node.name}'s log")

    def assert_closed_promptly(self, node, fake, reason, since=0):
        """The node closed fake's connection at once, and logged why (regex `reason`)."""
        waited = fake.wait_closed(PROMPT_CLOSE_S + 6)
        self.assertLess(waited, PROMPT_CLOSE_S, f"{fake.endpoint} must be closed at once, not after {waited:.1f}s")
        line = self.wait_log(node, rf"closed \S+ <- {re.escape(fake.endpoint)}(?!\d): .*(?:{reason})", since)
        node.assert_alive()
        return line

    def assert_banned(self, node, fake, reason, since=0):
        """fake was banned (log line with the reason), dropped, and refused when it comes back."""
        line = self.wait_log(node, rf"banning {re.escape(fake.peer_name)} \({fake.node_id.hex()[:8]}\).*(?:{reason})",
                             since)
        fake.wait_closed(PROMPT_CLOSE_S)
        e2e.wait_until(lambda: fake.node_id.hex() not in node.peer_by_id(), 10,
                       f"{node.name} to drop {fake.peer_name}")
        # The same node id from the same address: closed right after the handshake.
        again = self.fake(node, fake.endpoint.split(":")[0], node_id=fake.node_id, name=fake.peer_name)
        self.assertLess(again.wait_closed(PROMPT_CLOSE_S + 6), PROMPT_CLOSE_S, "a banned id must be refused at once")
        self.wait_log(node, rf"closed \S+ <- {re.escape(again.endpoint)}(?!\d): banned", since)
        self.assertNotIn(fake.node_id.hex(), node.peer_by_id(), "a banned peer must not be listed")
        return line

    # -- files

    def random_file(self, name, size, folder="src"):
        path = os.path.join(self.tmp, folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = os.urandom(size)
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def out_dir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def snapshot(self):
        return files_under(self.tmp)

    def assert_nothing_written_outside(self, before, allowed_dirs):
        """Since `before`, new files appeared only in allowed_dirs (absolute), in
        the nodes' own bookkeeping (data dir: manifests/, downloads/, catalog.json,
        node.json, lock, node_id) or as node logs: nowhere else under the test's directory."""
        allowed = [os.path.relpath(d, self.tmp) + os.sep for d in allowed_dirs]
        for node in self.nodes:
            rel = os.path.relpath(node.dir, self.tmp)
            allowed += [os.path.join(rel, "manifests") + os.sep, os.path.join(rel, "downloads") + os.sep]
            allowed += [os.path.join(rel, name) for name in ("catalog.json", "node.json", "lock", "node_id")]
        stray = [path for path in sorted(self.snapshot() - before)
                 if not (path.endswith(".log") and os.sep not in path)
                 and not any(path == a or (a.endswith(os.sep) and path.startswith(a)) for a in allowed)]
        self.assertEqual(stray, [], f"files written outside the download directory under {self.tmp}")

    # -- memory

    def peak_kib(self, node):
        return wire.peak_rss_kib(node.pid)

    def assert_peak_growth_bounded(self, node, start_kib, what):
        limit = PEAK_GROWTH_LIMIT_ASAN_KIB if node.uses_asan() else PEAK_GROWTH_LIMIT_KIB
        growth = self.peak_kib(node) - start_kib
        sys.stderr.write(f"\n{what}: peak RSS of {node.name} grew by {growth} KiB\n")
        self.assertLess(growth, limit, f"{what}: peak RSS grew by {growth} KiB (limit {limit} KiB)")

    def assert_rss_growth_bounded(self, node, start_kib, what):
        limit = RSS_GROWTH_LIMIT_ASAN_KIB if node.uses_asan() else RSS_GROWTH_LIMIT_KIB
        growth = node.rss_kib() - start_kib
        sys.stderr.write(f"\n{what}: RSS of {node.name} grew by {growth} KiB\n")
        self.assertLess(growth, limit, f"{what}: RSS grew by {growth} KiB (limit {limit} KiB)")


# ==================================================================== the fake peer is a real peer


class WireTest(HostilePeerCase):
    """The encoders are right: an honest fake peer trades files with a real node.
    Without this, every hostile case below could pass for the wrong reason."""

    NODE, FAKE = ip(1), ip(2)

    def test_an_honest_fake_peer_is_a_full_peer(self):
        node = self.node("real", f"{self.NODE}:0", f"{self.NODE}:0").start()
        # Three chunks, the last one short; and a one-byte file.
        served = wire.FakeFile(os.urandom(2 * 256 * KiB + 1234), name="from-fake.bin")
        tiny = wire.FakeFile(b"!", name="café tiny.txt")
        fake = self.connected_fake(node, self.FAKE, files=[served, tiny], name="honest-fake")
        self.assertEqual(fake.node_hello.listen_port, e2e.split_endpoint(node.listen)[1])
        self.assertEqual(fake.node_hello.node_name, "real")

        # Our catalog: the node lists both files, names and sizes as claimed.
        for f in (served, tiny):
            entry = self.wait_listed(node, f.hex)
            self.assertEqual((entry["name"], entry["size"], entry["holders"]),
                             (f.name.decode(), len(f.data), 1), f"files --json lists {f.name!r}")

        # Our manifest, chunk map and chunks: the node downloads from us alone.
        out = os.path.join(self.out_dir("out"), "copy.bin")
        result = node.get(served.hex, out, quiet=True, timeout=GET_DEADLINE_S)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(e2e.sha256_file(out), served.sha256)
        transfer = node.transfer(served.hex)
        self.assertEqual(transfer["sources"], {"honest-fake": served.count}, transfer)
        self.assertEqual(sorted(m.index for m in fake.received(wire.REQUEST)), list(range(served.count)),
                         "every chunk requested exactly once")
        self.assertEqual([m.id for m in fake.received(wire.GET_CHUNK_MAP)], [served.id])
        # ... and tells us so: a catalog listing it complete.
        fake.wait_for(lambda ms: any(m.kind == wire.CATALOG and (served.id, "from-fake.bin", len(served.data), True)
                                     in m.entries for m in ms), 10, "the node's catalog to list the copy")

        # The node's answers decode with our decoder: manifest, chunk map, chunks.
        shared_path, shared_data = self.random_file("shared.bin", 256 * KiB + 17)
        shared = wire.FakeFile(shared_data, name="shared.bin")
        self.assertEqual(node.share(shared_path), shared.hex, "our manifest encoding gives the node's content id")
        fake.send(wire.get_manifest(shared.id))
        m = fake.wait_message(wire.MANIFEST_DATA, where=lambda m: m.id == shared.id)
        self.assertEqual(m.bytes, shared.manifest)
        fake.send(wire.get_chunk_map(shared.id))
        m = fake.wait_message(wire.CHUNK_MAP, where=lambda m: m.id == shared.id)
        self.assertEqual(m.bits, shared.all_bits())
        for index in range(shared.count):
            fake.send(wire.request(shared.id, index))
        got = fake.wait_for(lambda ms: [m for m in ms if m.kind == wire.CHUNK and m.id == shared.id]
                            if len([m for m in ms if m.kind == wire.CHUNK and m.id == shared.id]) == shared.count
                            else None, 10, "both chunks")
        self.assertEqual(b"".join(m.data for m in sorted(got, key=lambda m: m.index)), shared_data)

        # Unknown content: empty answers and a reject, never a closed connection.
        unknown = os.urandom(32)
        fake.send(wire.get_manifest(unknown))
        self.assertEqual(fake.wait_message(wire.MANIFEST_DATA, where=lambda m: m.id == unknown).bytes, b"")
        fake.send(wire.get_chunk_map(unknown))
        self.assertEqual(fake.wait_message(wire.CHUNK_MAP, where=lambda m: m.id == unknown).bits, b"")
        fake.send(wire.request(unknown, 3))
        fake.wait_message(wire.REJECT, where=lambda m: m.id == unknown and m.index == 3)
        fake.send(wire.get_peers())
        fake.wait_message(wire.PEERS)
        self.assertTrue(fake.still_open_after(0.5), "a well-behaved peer stays connected")


# ==================================================================== absurd sizes in well-formed frames


class AbsurdSizesTest(HostilePeerCase):
    """Lengths and counts that lie, inside frames that are fine: each is refused
    before anything is allocated, and the node's peak memory does not move."""

    NODE, NEIGHBOUR, FAKE = ip(10), ip(11), ip(12)

    def test_absurd_lengths_and_counts_close_the_connection_without_allocating(self):
        node = self.node("target", f"{self.NODE}:0", f"{self.NODE}:0").start()
        neighbour = self.node("neighbour", f"{self.NEIGHBOUR}:0", f"{self.NEIGHBOUR}:0",
                              peers=[node.listen]).start()
        honest = e2e.wait_until(lambda: node.peer_by_id().get(neighbour.id), CONNECT_DEADLINE_S,
                                "the neighbour to connect")
        some_id = os.urandom(32)
        one_peer = wire.endpoint(ip(13), 7070)
        entry = wire.catalog_entry(some_id, "ok.txt", 5)
        four_gib, one_gib, huge = 2 ** 32, 2 ** 30, 2 ** 64 - 1
        cases = [
            # (what, the payload: a hostile hello or a message after the handshake, the logged reason)
            ("hello with a 1 GiB name", wire.hello(os.urandom(16), 0, "n", name_length=one_gib), "name length"),
            ("hello with a 2^64-1 name", wire.hello(os.urandom(16), 0, "n", name_length=huge), "name length"),
            ("peers announcing 2^32 entries", wire.payload(wire.PEERS, wire.size_tag(four_gib) + one_peer),
             "peer count"),
            ("peers with 100 000 real entries",
             wire.peers([(ip(200 + i // 5000), 60000 + i % 5000) for i in range(100_000)]), "peer count"),
            ("peers with 201 real entries", wire.peers([(ip(200), 61000 + i) for i in range(201)]), "peer count"),
            ("catalog announcing 2^32 entries", wire.payload(wire.CATALOG, wire.size_tag(four_gib) + entry),
             "catalog entry count"),
            ("catalog with 1001 real entries",
             wire.catalog([wire.catalog_entry(os.urandom(32), f"f{i}", i) for i in range(1001)]),
             "catalog entry count"),
            ("catalog name of 1 GiB", wire.catalog([wire.catalog_entry(some_id, "x", 5, name_length=one_gib)]),
             "file name length"),
            ("catalog name of 256 real bytes", wire.catalog([wire.catalog_entry(some_id, "y" * 256, 5)]),
             "file name length"),
            ("catalog size of 2^64-1", wire.catalog([wire.catalog_entry(some_id, "z", huge)]), "file size"),
            ("catalog size of 128 GiB + 1", wire.catalog([wire.catalog_entry(some_id, "z", wire.MAX_FILE_BYTES + 1)]),
             "file size"),
            ("catalog flags byte 4", wire.catalog([wire.catalog_entry(some_id, "z", 5, complete_byte=4)]),
             "catalog flags"),
            ("manifest_data of 2^32 bytes", wire.manifest_data(some_id, b"\x01", length=four_gib), "manifest length"),
            ("manifest_data of 4 MiB + 1 real bytes",
             wire.manifest_data(some_id, bytes(wire.MAX_MANIFEST_DATA_BYTES + 1)), "manifest length"),
            ("chunk_map of 2^32 bytes", wire.chunk_map(some_id, b"\xff", length=four_gib), "chunk map length"),
            ("chunk_map of 4097 real bytes", wire.chunk_map(some_id, bytes(4097)), "chunk map length"),
            ("chunk of 1 GiB", wire.chunk(some_id, 0, b"data", length=one_gib), "chunk length"),
            ("chunk of 2^64-1 bytes", wire.chunk(some_id, 0, b"data", length=huge), "chunk length"),
            ("chunk of 4 MiB + 1 real bytes", wire.chunk(some_id, 0, bytes(wire.MAX_CHUNK_BYTES + 1)),
             "chunk length"),
        ]
        peak_before = self.peak_kib(node)
        for n, (what, body, reason) in enumerate(cases):
            with self.subTest(what):
                since = len(node.log())
                if body[0] == wire.HELLO:
                    fake = self.fake(node, self.FAKE, handshake=False)
                    fake.handshake(hello_payload=body)
                else:
                    fake = self.fake(node, self.FAKE, name=f"sizes-{n}")
                    self.assertTrue(fake.send(body), f"{what}: the node closed before the message was sent")
                self.assert_closed_promptly(node, fake, reason, since)
                fake.close()
        self.assert_peak_growth_bounded(node, peak_before, "absurd sizes")
        # The neighbour never noticed: the very same connection, still up.
        entry_now = node.peer_by_id().get(neighbour.id)
        self.assertIsNotNone(entry_now, "the node lost its honest neighbour")
        self.assertEqual((entry_now["local"], entry_now["remote"]), (honest["local"], honest["remote"]))
        self.assertEqual(node.files(), [], "nothing from the refused catalogs may be listed")


# ==================================================================== hostile manifests and names


HOSTILE_NAMES = [
    b"../../x",
    b"/etc/x",
    b"a/../../b",
    b"",
    b".",
    b"..",
    b"x" * 10_000,
    b"..\\..\\x",
    b"x\x00/../../y",
    b"evil\nname",
]


class NamesTest(HostilePeerCase):
    """A manifest is authoritative for a file's name, so a hostile one could aim
    the download anywhere: the node must refuse the manifest itself."""

    NODE, FAKE = ip(20), ip(21)

    def test_hostile_names_in_a_manifest_fail_the_download_and_write_nothing(self):
        node = self.node("victim", f"{self.NODE}:0", f"{self.NODE}:0").start()
        # The id is the hash of the hostile manifest, so only the manifest can carry
        # the name; the catalog claims an innocent one (a hostile one is refused, below).
        hostile = [wire.FakeFile(b"pwned\n", name=name, claimed_name=f"innocent-{i}.txt")
                   for i, name in enumerate(HOSTILE_NAMES)]
        # Well-named but absurd manifests that hash to their id just as well.
        absurd = [
            ("size 2^64-1", wire.encode_manifest("big.bin", 2 ** 64 - 1, 256 * KiB, [])),
            ("chunk size 3", wire.encode_manifest("odd.bin", 5, 3, [hashlib.sha256(b"12345").digest()] * 2)),
            ("2^32 chunk hashes", wire.encode_manifest("many.bin", 5, 256 * KiB, [bytes(32)], count=2 ** 32)),
            ("name length 2^64-1", wire.encode_manifest("n.bin", 5, 256 * KiB, [bytes(32)], name_length=2 ** 64 - 1)),
            ("trailing byte", wire.encode_manifest("t.bin", 5, 256 * KiB, [bytes(32)]) + b"\0"),
        ]
        absurd_files = []
        for i, (what, manifest) in enumerate(absurd):
            f = wire.FakeFile(b"", name=f"placeholder-{i}", claimed_name=f"absurd-{i}.bin")
            f.manifest, f.id, f.hex = manifest, wire.content_id_of(manifest), wire.content_id_of(manifest).hex()
            f.what = what
            absurd_files.append(f)
        fake = self.connected_fake(node, self.FAKE, files=hostile + absurd_files, name="namer")
        for f in hostile + absurd_files:
            self.wait_listed(node, f.hex)

        etc_x = ["/etc/x", "/etc/x.peerlab-partial"]
        preexisting = {p for p in etc_x if os.path.lexists(p)}
        jail = os.path.join(self.tmp, "jail", "a", "b", "c")
        before = self.snapshot()
        peak_before = self.peak_kib(node)
        gets = {}
        for i, f in enumerate(hostile + absurd_files):
            cwd = os.path.join(jail, f"cwd{i}")  # `get` without -o: ./NAME in the caller's directory
            os.makedirs(cwd)
            gets[f] = (cwd, self.cli_process(node.start_get(f.hex, quiet=True, cwd=cwd)))
        try:
            for f, (cwd, get) in gets.items():
                what = getattr(f, "what", f"name {f.name[:40]!r}")
                with self.subTest(what):
                    result = get.wait(GET_DEADLINE_S)
                    self.assertNotEqual(result.returncode, 0, f"{what}: the download must fail")
                    self.assertRegex(result.stderr, r"^peerlab: .*manifest.*invalid", f"{what}: says why")
                    self.assertEqual(len(result.stderr.splitlines()), 1, f"{what}: one sentence: {result.stderr!r}")
                    transfer = node.transfer(f.hex)
                    self.assertEqual(transfer["state"], "failed", transfer)
                    self.assertIn(f.id, [m.id for m in fake.received(wire.GET_MANIFEST)], f"{what}: asked for")
                    self.assertEqual(os.listdir(cwd), [], f"{what}: nothing in the working directory")
                    self.assertFalse(os.path.exists(os.path.join(node.dir, "manifests", f.hex + ".manifest")),
                                     f"{what}: an invalid manifest is not stored")
        finally:
            created = [p for p in etc_x if os.path.lexists(p) and p not in preexisting]
            for p in created:
                os.remove(p)
        self.assertEqual(created, [], "a manifest name wrote into /etc")
        self.assert_nothing_written_outside(before, [])
        for path in self.snapshot():
            self.assertNotIn(os.path.basename(path), ("x", "b", "y", "x" * 255), f"{path} must not exist")
        self.assertFalse(fake.closed, "a manifest that hashes to its id is no reason to ban its sender")
        self.assertNotIn("banning", node.log())
        self.assert_peak_growth_bounded(node, peak_before, "hostile manifests")

    def test_hostile_names_in_a_catalog_close_the_connection(self):
        node = self.node("lister", f"{self.NODE}:0", f"{self.NODE}:0").start()
        ids = []
        for n, name in enumerate(HOSTILE_NAMES):
            with self.subTest(name[:40]):
                since = len(node.log())
                fake = self.fake(node, self.FAKE, name=f"catalog-{n}")
                ids.append(os.urandom(32))
                # A harmless entry first: the whole catalog goes with the bad one.
                fake.send(wire.catalog([wire.catalog_entry(os.urandom(32), "fine.txt", 3),
                                        wire.catalog_entry(ids[-1], name, 5)]))
                self.assert_closed_promptly(node, fake, "unsafe file name|file name length", since)
                fake.close()
        self.assertEqual(node.files(), [], "no entry of a refused catalog is listed")


# ==================================================================== a forged manifest


class ManifestTest(HostilePeerCase):
    NODE, SEEDER, FAKE = ip(30), ip(31), ip(32)

    def wait_connected_to_seeder(self, node, seeder):
        e2e.wait_until(lambda: seeder.id in node.peer_by_id(), CONNECT_DEADLINE_S, "the seeder to connect")

    def test_a_manifest_that_does_not_hash_to_its_id_bans_its_sender(self):
        source, data = self.random_file("report.bin", 2 * MiB)
        seeder = self.node("seeder", f"{self.SEEDER}:0", f"{self.SEEDER}:0").start()
        file_id = seeder.share(source)
        node = self.node("downloader", f"{self.NODE}:0", f"{self.NODE}:0", peers=[seeder.listen]).start()
        # The forger claims the real id but serves the (valid) manifest of other
        # bytes. Its id sorts first, so the downloader asks it before the seeder.
        decoy = wire.FakeFile(os.urandom(2 * MiB), name="report.bin")
        real_id = bytes.fromhex(file_id)
        forger = self.connected_fake(node, self.FAKE, name="forger", node_id=wire.random_node_id(0),
                                     catalog_entries=[wire.catalog_entry(real_id, "report.bin", len(data))],
                                     manifests={real_id: decoy.manifest})
        forger.files = {real_id: decoy}  # chunk maps and chunks of the decoy, under the real id
        self.wait_connected_to_seeder(node, seeder)
        self.wait_listed(node, file_id, holders=2)

        since = len(node.log())
        before = self.snapshot()
        out_dir = self.out_dir("out")
        out = os.path.join(out_dir, "report.bin")
        result = node.get(file_id, out, quiet=True, timeout=GET_DEADLINE_S)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(e2e.sha256_file(out), hashlib.sha256(data).hexdigest(), "the seeder's file, not the decoy")
        self.assertEqual([m.id.hex() for m in forger.received(wire.GET_MANIFEST)], [file_id],
                         "the forger was asked for the manifest (first) and only once")
        self.assert_banned(node, forger, "manifest that does not match", since)
        sources = node.transfer(file_id)["sources"]
        self.assertEqual(set(sources), {"seeder"}, sources)
        self.assertIn(seeder.id, node.peer_by_id(), "the honest seeder stays connected")
        self.assert_nothing_written_outside(before, [out_dir])


# ==================================================================== bad chunks


class ChunkScenario(HostilePeerCase):
    """A downloader whose only holder is a fake peer at first; once the fake has
    misbehaved, an honest seeder joins and the download must complete from it."""

    NODE, SEEDER, FAKE = None, None, None

    def start_scenario(self, fake_name, **behaviour):
        source, data = self.random_file("data.bin", FILE_BYTES)
        self.data = data
        self.file = wire.FakeFile(data, name="data.bin")
        self.node_under_test = self.node("downloader", f"{self.NODE}:0", f"{self.NODE}:0").start()
        self.rss_start = self.node_under_test.rss_kib()
        self.peak_start = self.peak_kib(self.node_under_test)
        fake = self.connected_fake(self.node_under_test, self.FAKE, files=[self.file], name=fake_name,
                                   **behaviour)
        self.wait_listed(self.node_under_test, self.file.hex)
        self.before = self.snapshot()
        self.out_dir_path = self.out_dir("out")
        self.output = os.path.join(self.out_dir_path, "data.bin")
        self.since = len(self.node_under_test.log())
        self.get = self.cli_process(self.node_under_test.start_get(self.file.hex, self.output, quiet=True))
        return fake

    def next_fake(self, fake_name, **behaviour):
        """The scenario's first fake (which starts the download), or another one."""
        if not hasattr(self, "file"):
            return self.start_scenario(fake_name, **behaviour)
        return self.fake(self.node_under_test, self.FAKE, files=[self.file], name=fake_name, **behaviour)

    def finish_with_honest_seeder(self, forbidden_sources=()):
        node = self.node_under_test
        self.assertIsNone(self.get.poll(), "the download cannot have finished from the fake peer alone")
        seeder = self.node("seeder", f"{self.SEEDER}:0", f"{self.SEEDER}:0", peers=[node.listen]).start()
        self.assertEqual(seeder.share(os.path.join(self.tmp, "src", "data.bin")), self.file.hex,
                         "the fake's manifest encoding matches the node's")
        result = self.get.wait(GET_DEADLINE_S)
        self.assertEqual(result.returncode, 0, f"the download must complete from the seeder: {result.stderr}")
        self.assertEqual(e2e.sha256_file(self.output), self.file.sha256)
        transfer = node.transfer(self.file.hex)
        for name in forbidden_sources:
            self.assertNotIn(name, transfer["sources"], f"no chunk of {name} may be kept: {transfer}")
        self.assertIn("seeder", transfer["sources"], transfer)
        self.assert_nothing_written_outside(self.before, [self.out_dir_path])
        self.assert_rss_growth_bounded(node, self.rss_start, self._testMethodName)
        return transfer


class ChunksTest(ChunkScenario):
    NODE, SEEDER, FAKE = ip(40), ip(41), ip(42)

    def wait_requests(self, fake, n=1):
        return fake.wait_for(lambda ms: [m for m in ms if m.kind == wire.REQUEST] if
                             len([m for m in ms if m.kind == wire.REQUEST]) >= n else None, 15, f"{n} request(s)")

    def test_a_chunk_with_wrong_data_bans_its_sender(self):
        def wrong_data(peer, m):
            peer.send(wire.chunk(m.id, m.index, os.urandom(len(peer.files[m.id].chunks[m.index]))))

        fake = self.start_scenario("wrong-data", on_request=wrong_data)
        self.assert_banned(self.node_under_test, fake, "does not match its hash", self.since)
        transfer = self.finish_with_honest_seeder(["wrong-data"])
        self.assertGreaterEqual(transfer["chunks_rejected"], 1, transfer)

    def test_chunks_of_the_wrong_length_ban_their_sender(self):
        cases = [("one byte short", lambda data: data[:-1]),
                 ("one byte long", lambda data: data + b"\0"),
                 ("empty", lambda data: b""),
                 ("4 MiB", lambda data: data + bytes(wire.MAX_CHUNK_BYTES - len(data)))]
        for n, (what, mangle) in enumerate(cases):
            with self.subTest(what):
                def wrong_length(peer, m, mangle=mangle):
                    peer.send(wire.chunk(m.id, m.index, mangle(peer.files[m.id].chunks[m.index])))

                fake = self.next_fake(f"wrong-length-{n}", on_request=wrong_length)
                self.assert_banned(self.node_under_test, fake, "wrong length", self.since)
        self.finish_with_honest_seeder([f"wrong-length-{n}" for n in range(len(cases))])

    def test_a_chunk_for_content_never_requested_bans_its_sender(self):
        other = wire.FakeFile(os.urandom(256 * KiB), name="other.bin")
        cases = [
            # A chunk of a file nobody downloads.
            ("another file", lambda peer, requested: wire.chunk(other.id, 0, other.chunks[0])),
            # A valid chunk of the very file, but one that was asked of nobody.
            ("an index not requested", lambda peer, requested: wire.chunk(
                self.file.id, min(set(range(self.file.count)) - requested), self.file.chunks[
                    min(set(range(self.file.count)) - requested)])),
        ]
        for n, (what, make) in enumerate(cases):
            with self.subTest(what):
                fake = self.next_fake(f"unsolicited-{n}", on_request=wire.FakePeer.ignore_request)
                # All 8 requests (sent together), so that "not requested" is not a race.
                requested = {m.index for m in self.wait_requests(fake, REQUESTS_PER_PEER)}
                self.assertLess(len(requested), self.file.count, "some chunk must be left unrequested")
                fake.send(make(fake, requested))
                self.assert_banned(self.node_under_test, fake, "never requested", self.since)
        self.finish_with_honest_seeder(["unsolicited-0", "unsolicited-1"])

    def test_a_flood_of_unsolicited_chunks_is_cut_off(self):
        fake = self.start_scenario("flooder", on_request=wire.FakePeer.ignore_request)
        self.wait_requests(fake)
        # 256 chunks of 4 MiB (1 GiB) as fast as the socket takes them, for
        # content nobody asked for; the node must cut the flood off, not buffer it.
        junk = os.urandom(wire.MAX_CHUNK_BYTES)
        frames = [wire.frame(wire.chunk(os.urandom(32), i, junk)) for i in range(4)]
        sent = 0
        deadline = time.monotonic() + e2e.seconds(30)
        while sent < 256 and time.monotonic() < deadline:
            if not fake.send_raw(frames[sent % len(frames)]):
                break
            sent += 1
        self.assertLess(sent, 256, "the node read a whole GiB of unsolicited chunks instead of closing")
        self.assert_banned(self.node_under_test, fake, "never requested", self.since)
        sys.stderr.write(f"\nflood: {sent} chunks of 4 MiB written before the node closed\n")
        self.assert_peak_growth_bounded(self.node_under_test, self.peak_start, "chunk flood")
        self.finish_with_honest_seeder(["flooder"])


class IndexesTest(ChunkScenario):
    """Indexes past the end of the file (negative as i32, or whose byte offset
    overflows 32 bits): a protocol violation, whatever message carries them."""

    NODE, SEEDER, FAKE, HOLDER = ip(50), ip(51), ip(52), ip(53)

    @staticmethod
    def bad_indexes():
        """The chunk count; the index at byte offset 4 GiB; 2^31 (negative as an i32); 2^32 - 1."""
        count = FILE_BYTES // (256 * KiB)
        return [count, (4 * GiB) // (256 * KiB), 2 ** 31, 2 ** 32 - 1]

    def test_indexes_past_the_end_from_a_holder_close_the_connection(self):
        cases = []
        for index in self.bad_indexes():
            cases.append((f"chunk {index}", "chunk", index))
            cases.append((f"have {index}", "have", index))
        cases.append(("chunk map of 3 bytes for 16 chunks", "chunk_map", 3))
        cases.append(("chunk map of 4096 bytes for 16 chunks", "chunk_map", 4096))
        for n, (what, kind, value) in enumerate(cases):
            with self.subTest(what):
                since = len(self.node_under_test.log()) if hasattr(self, "file") else 0
                if kind == "chunk_map":
                    # Set before the handshake: the node asks for the map as soon as it sees our catalog.
                    fake = self.next_fake(f"indexer-{n}", chunk_maps={self.file.id: b"\xff" * value})
                    fake.wait_message(wire.GET_CHUNK_MAP, 15)
                    reason = "chunk map"
                else:
                    fake = self.next_fake(f"indexer-{n}", on_request=wire.FakePeer.ignore_request)
                    requested = fake.wait_message(wire.REQUEST, 15)
                    data = self.file.chunks[requested.index]
                    fake.send(wire.chunk(self.file.id, value, data) if kind == "chunk"
                              else wire.have(self.file.id, value))
                    reason = "past the end|never requested"
                self.assert_closed_promptly(self.node_under_test, fake, reason, since)
                fake.close()
        self.finish_with_honest_seeder([f"indexer-{n}" for n in range(len(cases))])

    def test_requests_past_the_end_close_the_connection(self):
        path, data = self.random_file("held.bin", FILE_BYTES)
        held = wire.FakeFile(data, name="held.bin")
        holder = self.node("holder", f"{self.HOLDER}:0", f"{self.HOLDER}:0").start()
        self.assertEqual(holder.share(path), held.hex)
        peak_before = self.peak_kib(holder)
        for index in self.bad_indexes():
            with self.subTest(index=index):
                since = len(holder.log())
                fake = self.fake(holder, self.FAKE, name=f"asker-{index}")
                fake.send(wire.request(held.id, index))
                self.assert_closed_promptly(holder, fake, "past the end", since)
                fake.close()
        with self.subTest("controls: the last chunk is served; unknown content is rejected or ignored"):
            fake = self.fake(holder, self.FAKE, name="asker-ok")
            unknown = os.urandom(32)
            for body in (wire.request(unknown, 2 ** 32 - 1), wire.have(unknown, 2 ** 32 - 1),
                         wire.chunk_map(unknown, b"\xff" * 4096), wire.cancel(unknown, 7),
                         wire.reject(unknown, 7), wire.manifest_data(unknown, b"\x01" * 100),
                         wire.cancel(held.id, 2 ** 32 - 1), wire.reject(held.id, 2 ** 32 - 1),
                         wire.request(held.id, held.count - 1)):
                fake.send(body)
            fake.wait_message(wire.REJECT, where=lambda m: m.id == unknown and m.index == 2 ** 32 - 1)
            last = fake.wait_message(wire.CHUNK, where=lambda m: m.id == held.id)
            self.assertEqual((last.index, last.data), (held.count - 1, held.chunks[-1]))
            self.assertTrue(fake.still_open_after(1), "unknown content is no violation")
        self.assert_peak_growth_bounded(holder, peak_before, "requests past the end")


# ==================================================================== silent and slow peers


class SlowPeersTest(ChunkScenario):
    NODE, SEEDER, FAKE = ip(60), ip(61), ip(62)

    def test_a_peer_that_accepts_requests_and_never_answers_is_worked_around(self):
        fake = self.start_scenario("mute", on_request=wire.FakePeer.ignore_request)
        asked = fake.wait_message(wire.REQUEST, 15)
        started = time.monotonic()
        self.finish_with_honest_seeder(["mute"])
        elapsed = time.monotonic() - started
        sys.stderr.write(f"\nmute peer: download completed {elapsed:.1f}s after the seeder came\n")
        # The chunks it sat on were asked elsewhere and cancelled here.
        fake.wait_message(wire.CANCEL, 20, where=lambda m: m.id == self.file.id)
        self.assertIn(asked.index, [m.index for m in fake.received(wire.CANCEL)])

    def test_a_peer_answering_a_byte_a_second_does_not_hold_the_download(self):
        fake = self.start_scenario("trickler", on_request=wire.FakePeer.ignore_request)
        asked = fake.wait_message(wire.REQUEST, 15)
        # The right chunk, but at one byte per second: 262 190 seconds to arrive.
        trickle = fake.trickle(wire.frame(wire.chunk(self.file.id, asked.index, self.file.chunks[asked.index])))
        self.finish_with_honest_seeder(["trickler"])
        self.assertTrue(trickle.is_alive() and not fake.closed, "the trickle went on during the whole download")
        self.assertGreater(fake.trickled, 0)

    def test_a_manifest_at_a_byte_a_second_is_given_up_for_another_holder(self):
        # The fake sorts first, so it is asked for the manifest first; it answers
        # at one byte per second. After 10 s the downloader asks the seeder.
        def slow_manifest(peer, m):
            peer.trickle(wire.frame(wire.manifest_data(m.id, peer.files[m.id].manifest)))

        path, data = self.random_file("data.bin", FILE_BYTES)
        held = wire.FakeFile(data, name="data.bin")
        seeder = self.node("seeder", f"{self.SEEDER}:0", f"{self.SEEDER}:0").start()
        self.assertEqual(seeder.share(path), held.hex)
        node = self.node("downloader", f"{self.NODE}:0", f"{self.NODE}:0", peers=[seeder.listen]).start()
        fake = self.connected_fake(node, self.FAKE, files=[held], name="slow-manifest",
                                   node_id=wire.random_node_id(0), handlers={wire.GET_MANIFEST: slow_manifest})
        self.wait_listed(node, held.hex, holders=2)
        out = os.path.join(self.out_dir("out"), "data.bin")
        started = time.monotonic()
        result = node.get(held.hex, out, quiet=True, timeout=GET_DEADLINE_S)
        took = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(e2e.sha256_file(out), held.sha256)
        sys.stderr.write(f"\nslow manifest: download took {took:.1f}s\n")
        self.assertEqual(len(fake.received(wire.GET_MANIFEST)), 1, "asked first, and once")
        self.assertGreater(took, 9, "the slow holder was asked first and given its 10 s")
        self.assertEqual(set(node.transfer(held.hex)["sources"]), {"seeder"})
        self.assertFalse(fake.closed, "slow is no violation: the trickle went on")

    def test_a_hello_at_a_byte_a_second_is_cut_at_the_handshake_deadline(self):
        node = self.node("patient", f"{self.NODE}:0", f"{self.NODE}:0").start()
        fake = self.fake(node, self.FAKE, handshake=False, name="slow-hello")
        since = len(node.log())
        started = time.monotonic()
        fake.trickle(wire.frame(wire.hello(fake.node_id, 0, "slow-hello")), interval=0.5)  # 48 bytes: 24 s
        fake.start_reader()
        fake.wait_closed(15)
        waited = time.monotonic() - started
        self.assertGreater(waited, 4, "a peer has 5 s for its hello")
        self.assertLess(waited, 9, "bytes trickling in must not extend the handshake deadline")
        self.wait_log(node, rf"closed \S+ <- {re.escape(fake.endpoint)}(?!\d): handshake timeout", since)


# ==================================================================== peer lists


class PeerListsTest(HostilePeerCase):
    """Addresses come only in answers: a node takes `peers` from a connection
    it asked (get_peers, one outstanding per connection) and ignores any other
    (docs/protocol.md §7.5)."""

    NODE, FAKE, LISTENER = ip(70), ip(71), ip(72)

    def introducer(self, node, addresses, name):
        """A connected fake that answers the node's get_peers with `addresses`."""
        answered = threading.Event()

        def answer(peer, message):
            peer.answer(wire.peers(addresses))
            answered.set()

        fake = self.connected_fake(node, self.FAKE, name=name, handlers={wire.GET_PEERS: answer})
        self.assertTrue(answered.wait(e2e.seconds(10)), f"{node.name} asks a new peer for its peers")
        return fake

    def test_unasked_peer_lists_are_ignored_and_answers_keep_the_table_bounded(self):
        node = self.node("gossip", f"{self.NODE}:0", f"{self.NODE}:0").start()
        flooder = self.introducer(node, [], "flooder")
        rss_before = node.rss_kib()
        # 100 000 distinct loopback addresses where nobody listens, 200 per message
        # (the most one message may carry), as fast as the socket takes them: unasked.
        addresses = [(ip(200 + i // 4500), 61000 + i % 4500) for i in range(100_000)]
        for start in range(0, len(addresses), wire.MAX_PEERS_PER_MESSAGE):
            self.assertTrue(flooder.send(wire.peers(addresses[start:start + wire.MAX_PEERS_PER_MESSAGE])),
                            "valid peers messages must not close the connection")
        flooder.send(wire.get_peers())  # answered once everything before it was read
        flooder.wait_message(wire.PEERS, 30)
        self.assertEqual(node.status()["known_peers"], 0, "no unasked address is remembered")
        self.assertFalse(flooder.closed, "unasked peers messages are ignored, not a violation")
        self.assert_rss_growth_bounded(node, rss_before, "100 000 unasked addresses")
        # Answers from 6 peers, 200 addresses each: the table keeps at most 1000.
        most = 0
        for i in range(6):
            chunk = addresses[i * 200:(i + 1) * 200]
            self.introducer(node, chunk, f"introducer-{i}")
            most = max(most, node.status()["known_peers"])
        e2e.wait_until(lambda: node.status()["known_peers"] > 0, 10, "answered addresses to be remembered")
        most = max(most, node.status()["known_peers"])
        sys.stderr.write(f"\n1200 answered addresses: the node remembers at most {most}\n")
        self.assertLessEqual(most, 1000, "a node remembers at most 1000 addresses")

    def test_unspecified_multicast_foreign_and_own_addresses_are_ignored(self):
        node = self.node("filter", f"{self.NODE}:0", f"{self.NODE}:0", log_level="debug").start()
        own_ip, own_port = e2e.split_endpoint(node.listen)
        bad = [("0.0.0.0", 7070), ("224.0.0.1", 7070), ("239.255.255.250", 1900), ("255.255.255.255", 7070),
               ("192.0.2.1", 7070), ("198.51.100.7", 7070), ("203.0.113.9", 7070), ("10.11.12.13", 7070),
               ("::", 7070), ("ff02::1", 7070), ("2001:db8::1", 7070), ("::ffff:192.0.2.1", 7070),
               ("::ffff:224.0.0.1", 7070), (ip(73), 0), (own_ip, own_port)]
        control = (ip(74), 61234)  # loopback, nobody listens: remembered, as it should be
        fake = self.introducer(node, bad + [control], "poisoner")
        fake.send(wire.get_peers())
        fake.wait_message(wire.PEERS, 10)

        def known():
            return {k["address"] for k in node.api("/api/known-peers")}

        e2e.wait_until(lambda: f"{control[0]}:{control[1]}" in known(), 10, "the control address to be remembered")
        # The node knows no other address (the fake dialed it and listens nowhere),
        # so whatever it remembers beyond the control came from the poisoned list.
        self.assertEqual(known(), {f"{control[0]}:{control[1]}"}, "only the loopback address may be remembered")
        log = node.log()
        self.assertEqual(re.findall(r"learned of peer (\S+)", log), [f"{control[0]}:{control[1]}"])
        dialed = set(re.findall(r"dial (\S+) failed", log))
        self.assertLessEqual(dialed, {f"{control[0]}:{control[1]}"}, "only the loopback address may be dialed")
        self.assertFalse(fake.closed, "an address to ignore is no violation")

    def test_a_peer_answering_with_our_own_id_is_never_dialed_again(self):
        node = self.node("narcissus", f"{self.NODE}:0", f"{self.NODE}:0").start()
        own_id = bytes.fromhex(node.id)

        def impostor(sock):
            peer = wire.FakePeer(sock=sock, node_id=own_id, name="mirror", listen_port=0)
            peer.handshake()
            return peer

        listener = wire.FakeListener(self.LISTENER, impostor)
        self.addCleanup(listener.close)
        since = len(node.log())
        self.introducer(node, [(listener.ip, listener.port)], "introducer")
        e2e.wait_until(lambda: listener.count() >= 1, 15, "the node to dial the advertised address")
        self.wait_log(node, r"closed \S+ -> " + re.escape(listener.address) + r": connection to ourselves", since)
        # Redials would come after 1 s, 2 s, 4 s of backoff: none may come.
        e2e.hold_for(lambda: listener.count() == 1, 7.5, "a single dial of our own address")
        states = {k["address"]: k["state"] for k in node.api("/api/known-peers")}
        self.assertEqual(states.get(listener.address), "self", states)
        # Advertised again (by another peer), it is still not dialed.
        self.introducer(node, [(listener.ip, listener.port)], "second-introducer")
        e2e.hold_for(lambda: listener.count() == 1, 2, "no dial after a second advertisement")
        self.assertNotIn("".join(f"{b:02x}" for b in own_id), node.peer_by_id(), "a node never lists itself")


# ==================================================================== how an upload limit is spent


class UploadOrderTest(HostilePeerCase):
    """Fake downloaders watch a node spend its upload limit (docs/protocol.md
    §8.5): the peers waiting for chunks take turns, and a request for a chunk it
    has already sent elsewhere is turned away, once, when it waited too long."""

    NODE, FIRST, SECOND, THIRD = ip(90), ip(91), ip(92), ip(93)
    CHUNK = 256 * KiB

    def uploader(self, up_limit, chunks):
        node = self.node("uploader", f"{self.NODE}:0", f"{self.NODE}:0", extra=["--up-limit", up_limit]).start()
        path, data = self.random_file("data.bin", chunks * self.CHUNK)
        shared = wire.FakeFile(data, name="data.bin")
        self.assertEqual(node.share(path), shared.hex)
        return node, shared

    @staticmethod
    def chunks(fake, n, what):
        return fake.wait_for(lambda ms: [m for m in ms if m.kind == wire.CHUNK] if
                             len([m for m in ms if m.kind == wire.CHUNK]) >= n else None, 30, what)

    def test_peers_waiting_for_chunks_take_turns(self):
        node, shared = self.uploader("4MiB", 24)
        fakes = [self.connected_fake(node, address, name=name)
                 for address, name in ((self.FIRST, "first"), (self.SECOND, "second"), (self.THIRD, "third"))]
        for k, fake in enumerate(fakes):  # 8 different chunks each, all asked for at once
            for index in range(8 * k, 8 * k + 8):
                fake.send(wire.request(shared.id, index))
        arrivals = []
        for k, fake in enumerate(fakes):
            got = self.chunks(fake, 8, f"{fake.peer_name}'s 8 chunks")
            self.assertEqual(sorted(m.index for m in got), list(range(8 * k, 8 * k + 8)))
            for m in got:
                self.assertEqual(m.data, shared.chunks[m.index])
                arrivals.append((m.received_at, fake.peer_name))
        # Two chunks at a time, the next one to whoever was served longest ago:
        # the third to ask gets a chunk before the first two have two each.
        # (Without turns, the first two would take every chunk until done.)
        first_four = [name for _, name in sorted(arrivals)[:4]]
        self.assertEqual(set(first_four), {"first", "second", "third"}, first_four)

    def test_a_request_for_a_chunk_sent_elsewhere_is_turned_away_once_after_waiting(self):
        # 256 KiB/s, two chunks at a time: the first chunk out takes a second or more.
        node, shared = self.uploader("256KiB", 4)
        first, second, third = (self.connected_fake(node, address, name=name) for address, name in
                                ((self.FIRST, "first"), (self.SECOND, "second"), (self.THIRD, "third")))
        first.send(wire.request(shared.id, 0))
        third.send(wire.request(shared.id, 2))

        def chunks_on_their_way():  # from the node's message trace (GET /api/trace)
            return sorted((e["peer"], e["detail"].split("#")[1].split(",")[0]) for e in node.api("/api/trace")["events"]
                          if e["direction"] == "sent" and e["type"] == "chunk")

        e2e.wait_until(lambda: chunks_on_their_way() == [("first", "0"), ("third", "2")], 10,
                       "the node to start sending chunk 0 to first and chunk 2 to third")
        # Both slots are taken, chunk 0 has been sent (to `first`), and no
        # queue holds a chunk the node has not sent yet.
        asked = time.monotonic()
        second.send(wire.request(shared.id, 0))
        answer = second.wait_for(lambda ms: next((m for m in ms if m.kind in (wire.CHUNK, wire.REJECT)), None), 30,
                                 "an answer to the request for chunk 0")
        self.assertEqual((answer.kind, answer.index), (wire.REJECT, 0),
                         "a request that waited for a chunk already sent elsewhere is turned away")
        self.assertGreaterEqual(answer.received_at - asked, 0.5, "only after it has waited 0.5 s")
        # Asked again, it is served: a request is turned away at most once.
        second.send(wire.request(shared.id, 0))
        got = self.chunks(second, 1, "chunk 0, asked for again")
        self.assertEqual((got[0].index, got[0].data), (0, shared.chunks[0]))
        self.assertEqual([m.index for m in self.chunks(first, 1, "chunk 0")], [0])
        self.assertEqual([m.index for m in self.chunks(third, 1, "chunk 2")], [2])


# ==================================================================== 1 000 connections, held


class ConnectionsTest(HostilePeerCase):
    NODE, SEEDER, FLOOD = ip(80), ip(81), ip(82)
    CONNECTIONS = 1000
    WITH_HELLO = 600  # the rest say nothing at all
    MAX_CONNECTIONS, MAX_HANDSHAKES = 128, 64

    def test_1000_connections_opened_and_held_stay_within_the_limits(self):
        e2e.raise_fd_limit(self.CONNECTIONS * 2 + 512)
        source, data = self.random_file("big.bin", 16 * MiB)
        seeder = self.node("seeder", f"{self.SEEDER}:0", f"{self.SEEDER}:0", extra=["--up-limit", "4MiB"]).start()
        file_id = seeder.share(source)
        node = self.node("besieged", f"{self.NODE}:0", f"{self.NODE}:0", peers=[seeder.listen]).start()
        self.wait_listed(node, file_id)
        baseline_sockets = node.socket_fds()
        rss_before = node.rss_kib()
        out = os.path.join(self.out_dir("out"), "big.bin")
        get = self.cli_process(node.start_get(file_id, out, quiet=True))  # ~4 s at 4 MiB/s

        selector = selectors.DefaultSelector()
        socks, silent, pending_hello = {}, set(), {}
        target = e2e.split_endpoint(node.listen)
        for i in range(self.CONNECTIONS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((self.FLOOD, 0))
            s.connect_ex(target)
            socks[s.fileno()] = s
            if i < self.WITH_HELLO:
                pending_hello[s.fileno()] = wire.frame(wire.hello(os.urandom(16), 0, f"held-{i}"))
                selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            else:
                silent.add(s.fileno())
                selector.register(s, selectors.EVENT_READ)
        self.addCleanup(lambda: [s.close() for s in socks.values()])

        open_fds = set(socks)
        most = {"sockets": 0, "peers": 0}
        last_poll = [0.0]

        def pump():
            """Sends pending hellos, reads (and drops) what the node says, notes closes."""
            for key, events in selector.select(timeout=0.05):
                s = key.fileobj
                fd = s.fileno()
                if events & selectors.EVENT_WRITE and fd in pending_hello:
                    try:
                        s.send(pending_hello.pop(fd))
                    except OSError:
                        pass
                    selector.modify(s, selectors.EVENT_READ)
                    continue
                try:
                    data = s.recv(65536)  # the node's hello and questions: read, never answered
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(s)
                    open_fds.discard(fd)
            if time.monotonic() - last_poll[0] > 0.5:
                last_poll[0] = time.monotonic()
                most["sockets"] = max(most["sockets"], node.socket_fds())
                most["peers"] = max(most["peers"], len(node.peers()))

        class Pending:
            """A falsy wait_until value that says what is still pending."""

            def __init__(self, text):
                self.text = text

            def __bool__(self):
                return False

            def __repr__(self):
                return self.text

        def settled():
            pump()
            node.assert_alive()
            # Every silent connection gone (by the 5 s handshake deadline, or at
            # once if over the limits), and no more than the limit still held.
            if not (open_fds & silent) and len(open_fds) <= self.MAX_CONNECTIONS and not pending_hello:
                return True
            return Pending(f"{len(open_fds & silent)} silent and {len(open_fds - silent)} greeting connections "
                           f"still open, {len(pending_hello)} hellos unsent")

        started = time.monotonic()
        e2e.wait_until(settled, 30, "the node to close every silent and every excess connection", interval=0)
        took = time.monotonic() - started
        # Hold what is left a few seconds more, watching the limits.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            pump()
        held = len(open_fds)
        peers_now = len(node.peers())
        sys.stderr.write(f"\n1000 connections: settled after {took:.1f}s; {held} held open, node lists {peers_now} "
                         f"peers; at most {most['peers']} peers and {most['sockets']} sockets "
                         f"(baseline {baseline_sockets})\n")
        self.assertFalse(open_fds & silent, "connections that never said hello must be closed")
        self.assertLessEqual(most["peers"], self.MAX_CONNECTIONS, "at most 128 established connections")
        self.assertLessEqual(held, self.MAX_CONNECTIONS - 1, "the seeder holds one of the 128 places")
        self.assertGreater(held, 0, "connections with a valid hello are accepted up to the limit")
        self.assertLessEqual(most["sockets"], baseline_sockets + self.MAX_CONNECTIONS + self.MAX_HANDSHAKES + 8)
        self.assertIn(seeder.id, node.peer_by_id(), "the seeder keeps its place")

        # Meanwhile the download went on, from the seeder.
        result = get.wait(GET_DEADLINE_S)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(e2e.sha256_file(out), hashlib.sha256(data).hexdigest())
        self.assert_rss_growth_bounded(node, rss_before, "1000 held connections")

        # Let go: the node is back to its seeder alone.
        for s in socks.values():
            s.close()
        selector.close()
        e2e.wait_until(lambda: set(node.peer_by_id()) == {seeder.id}, 15, "the node to drop every held connection")
        e2e.wait_until(lambda: node.socket_fds() <= baseline_sockets + 2, 15, "the socket count to return")


if __name__ == "__main__":
    e2e.main()
