#!/usr/bin/env python3
"""A real node under attack from broken and hostile clients.

The node under test listens on 127.0.2.1 and has one honest peer (127.0.2.2)
connected to it. Hostile clients connect from 127.0.2.100 and up. After every
case the node must still be alive, still hold the very same connection to
its honest peer, and have logged a line about the bad connection. At the end
its memory must not have grown by more than a bounded amount.

This file owns the loopback addresses 127.0.2.x among the e2e tests.
"""

import errno
import os
import random
import selectors
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

NODE_IP, HONEST_IP, HOSTILE_IP, FLOOD_IP = "127.0.2.1", "127.0.2.2", "127.0.2.100", "127.0.2.101"

HANDSHAKE_TIMEOUT_S = 5
PROMPT_CLOSE_S = 4          # a clear protocol violation is refused before the hello timeout could fire
SILENT_CLOSE_DEADLINE_S = 10  # handshake timeout plus slack
MAX_CONNECTIONS, MAX_HANDSHAKES = 128, 64
RSS_GROWTH_LIMIT_KIB = 64 * 1024
RSS_GROWTH_LIMIT_ASAN_KIB = 192 * 1024  # ASan keeps freed memory in quarantine
FLOOD_CONNECTIONS = 500


class HostileClientsTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peerlab-e2e-hostile-")
        cls.target = e2e.Node(os.path.join(cls.tmp, "target"), f"{NODE_IP}:0", f"{NODE_IP}:0", name="target")
        cls.honest = None
        try:
            cls.target.start()
            cls.honest = e2e.Node(os.path.join(cls.tmp, "honest"), f"{HONEST_IP}:0", f"{HONEST_IP}:0",
                                  peers=[cls.target.listen], name="honest")
            cls.honest.start()
            cls.honest_connection = e2e.wait_until(
                lambda: cls.target.peer_by_id().get(cls.honest.id), 10, "the honest peer to connect")
            cls.rss_start_kib = cls.target.rss_kib()
            cls.asan = cls.target.uses_asan()
            cls.baseline_sockets = cls.target.socket_fds()
        except BaseException:
            for node in (cls.target, cls.honest):
                if node is not None and node.log_path:
                    sys.stderr.write(f"\n----- log of {node.name} -----\n{node.log_tail(60)}\n")
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for node in (cls.target, cls.honest):
            if node is not None:
                node.kill()
        if os.environ.get("PEERLAB_E2E_KEEP"):
            sys.stderr.write(f"kept {cls.tmp}\n")
            return
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.log_before = len(self.target.log())

    def tearDown(self):
        if e2e.test_failed(self):
            sys.stderr.write(f"\n----- target log since this case -----\n"
                             f"{self.target.log()[self.log_before:][-6000:]}\n")

    # -- checks after every case

    def assert_healthy(self, client_endpoints):
        """Alive, same honest connection, and a log line about one of the clients."""
        self.target.assert_alive()
        entry = self.target.peer_by_id().get(self.honest.id)
        self.assertIsNotNone(entry, "the node lost its honest peer")
        self.assertEqual((entry["local"], entry["remote"]),
                         (self.honest_connection["local"], self.honest_connection["remote"]),
                         "the connection to the honest peer must be the same one, not a reconnection")
        self.assertTrue(self.honest.alive(), "the honest peer died")

        def logged():
            new_log = self.target.log()[self.log_before:]
            for endpoint in client_endpoints:
                if endpoint not in new_log:
                    continue
                lines = [l for l in e2e.log_lines_about(new_log, endpoint) if e2e.CLOSE_WORDS.search(l)]
                if lines:
                    return lines
            return None

        e2e.wait_until(logged, 5, f"a log line about closing {client_endpoints[0]}"
                       f"{' (or another client)' if len(client_endpoints) > 1 else ''}")

    def hostile(self):
        return e2e.WireClient(self.target.listen, HOSTILE_IP)

    def own_id(self):
        return bytes.fromhex(self.target.id)

    # -- cases

    def test_random_bytes_are_refused(self):
        rng = random.Random(20240501)
        with self.hostile() as client:
            client.send_ignoring_reset(bytes(rng.getrandbits(8) for _ in range(64 * 1024)))
            client.wait_closed(SILENT_CLOSE_DEADLINE_S)
            self.assert_healthy([client.endpoint])

    def test_random_payload_in_a_valid_frame_is_refused(self):
        rng = random.Random(7)
        with self.hostile() as client:
            payload = bytes([0x7f]) + bytes(rng.getrandbits(8) for _ in range(999))
            client.send_ignoring_reset(e2e.frame(payload))
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S,
                            "a frame that is no message must be refused at once")
            self.assert_healthy([client.endpoint])

    def test_length_prefix_of_4_gib_is_refused_before_reading_a_body(self):
        with self.hostile() as client:
            client.send_ignoring_reset(b"\xff\xff\xff\xff" + b"\x01\x01" + b"A" * 1000)
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S,
                            "an oversized length prefix must be refused at once")
            self.assert_healthy([client.endpoint])

    def test_length_just_above_the_maximum_is_refused(self):
        with self.hostile() as client:
            client.send_ignoring_reset((e2e.MAX_FRAME_BYTES + 1).to_bytes(4, "big") + b"\x01\x01")
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S,
                            "a length prefix above the frame maximum must be refused at once")
            self.assert_healthy([client.endpoint])

    def test_frame_cut_off_half_way_then_closed(self):
        with self.hostile() as client:
            whole = e2e.frame(e2e.hello(os.urandom(16), 1, "half"))
            client.send(whole[: len(whole) // 2])
            client.sock.shutdown(socket.SHUT_WR)  # the node reads EOF in the middle of a frame
            client.wait_closed(SILENT_CLOSE_DEADLINE_S)
            self.assert_healthy([client.endpoint])

    def test_hello_with_wrong_magic_is_refused(self):
        with self.hostile() as client:
            client.send_ignoring_reset(e2e.frame(e2e.hello(os.urandom(16), 1, "magic", magic=0xDEADBEEF)))
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])

    def test_hello_with_wrong_version_is_refused(self):
        with self.hostile() as client:
            client.send_ignoring_reset(e2e.frame(e2e.hello(os.urandom(16), 1, "version", version=2)))
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])

    def test_hello_with_oversized_name_is_refused(self):
        with self.hostile() as client:
            client.send_ignoring_reset(e2e.frame(e2e.hello(os.urandom(16), 1, "n" * 65)))
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])

    def test_first_message_other_than_hello_is_refused(self):
        with self.hostile() as client:
            client.send_ignoring_reset(e2e.frame(e2e.get_peers()))
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])

    def test_silent_connection_is_closed_after_the_handshake_timeout(self):
        with self.hostile() as client:
            waited = client.wait_closed(SILENT_CLOSE_DEADLINE_S)
            self.assertGreater(waited, HANDSHAKE_TIMEOUT_S - 0.5, "a peer has 5 s to say hello")
            self.assert_healthy([client.endpoint])

    def test_hello_with_the_nodes_own_id_is_refused(self):
        with self.hostile() as client:
            # The side that dialed speaks first (the node answers once the
            # first byte says which protocol: docs/protocol.md §2).
            client.send_ignoring_reset(e2e.frame(e2e.hello(self.own_id(), 1, "impostor")))
            # What the node says about itself on the wire matches node.json.
            payload = client.read_frame()
            self.assertIsNotNone(payload, "the node must answer with its hello")
            magic, version, node_id, listen_port, name = e2e.parse_hello(payload)
            self.assertEqual((magic, version), (e2e.MAGIC, e2e.VERSION))
            self.assertEqual(node_id.hex(), self.target.id)
            self.assertEqual(listen_port, e2e.split_endpoint(self.target.listen)[1])
            self.assertEqual(name, "target")
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])
        self.assertNotIn(self.target.id, self.target.peer_by_id(), "a node must never list itself")

    def test_hello_with_the_honest_peers_id_does_not_replace_it(self):
        with self.hostile() as client:
            client.send_ignoring_reset(e2e.frame(e2e.hello(bytes.fromhex(self.honest.id), 1, "honest")))
            # A second session claiming a connected peer's id is refused, and
            # the honest connection stays (checked by assert_healthy).
            client.wait_closed(PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])

    def test_garbage_after_a_valid_handshake_closes_the_session(self):
        with self.hostile() as client:
            client.send(e2e.frame(e2e.hello(os.urandom(16), 1, "liar")))
            self.assertIsNotNone(client.read_frame(), "the node must send its hello")
            # A peers message announcing 2^64-1 entries.
            client.send_ignoring_reset(e2e.frame(e2e.peers_message([("127.0.2.9", 1)], count=2**64 - 1)))
            self.assertLess(client.wait_closed(SILENT_CLOSE_DEADLINE_S), PROMPT_CLOSE_S)
            self.assert_healthy([client.endpoint])

    def test_flood_of_500_connections_stays_within_the_limits(self):
        e2e.raise_fd_limit(FLOOD_CONNECTIONS * 2 + 256)
        selector = selectors.DefaultSelector()
        socks, endpoints = {}, []
        for _ in range(FLOOD_CONNECTIONS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((FLOOD_IP, 0))
            endpoints.append("%s:%d" % s.getsockname())
            err = s.connect_ex(e2e.split_endpoint(self.target.listen))
            if err not in (0, errno.EINPROGRESS):  # refused outright: fine
                s.close()
                continue
            socks[s.fileno()] = s
            selector.register(s, selectors.EVENT_READ)
        opened = len(socks)

        # Poll: every client must see EOF, a reset or a refusal; meanwhile the
        # node may never hold more sockets than its limits allow.
        limit = self.baseline_sockets + MAX_HANDSHAKES + MAX_CONNECTIONS + 8
        most_sockets = 0
        deadline = time.monotonic() + e2e.seconds(45)
        while socks and time.monotonic() < deadline:
            most_sockets = max(most_sockets, self.target.socket_fds())
            for key, _ in selector.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as exc:  # reset or refused: closed as well
                    if exc.errno not in (errno.ECONNRESET, errno.ECONNREFUSED, errno.ETIMEDOUT):
                        raise
                    data = b""
                if not data:
                    selector.unregister(s)
                    del socks[s.fileno()]
                    s.close()
        still_open = len(socks)
        for s in socks.values():
            selector.unregister(s)
            s.close()
        selector.close()

        self.assertEqual(still_open, 0, f"{still_open} of {opened} flood connections were never closed by the node")
        self.assertLessEqual(most_sockets, limit, "the node held more sockets than its connection limits allow")
        e2e.wait_until(lambda: self.target.socket_fds() <= self.baseline_sockets + 2, 15,
                       f"the node's socket count to return to {self.baseline_sockets} after the flood")
        self.assert_healthy(endpoints)

    def test_zz_memory_growth_over_all_cases_is_bounded(self):
        # Runs last (alphabetical order): after every other case.
        growth = self.target.rss_kib() - self.rss_start_kib
        limit = RSS_GROWTH_LIMIT_ASAN_KIB if self.asan else RSS_GROWTH_LIMIT_KIB
        self.assertLess(growth, limit, f"RSS grew by {growth} KiB (limit {limit} KiB)")
        self.assertTrue(self.target.alive())


if __name__ == "__main__":
    e2e.main()
