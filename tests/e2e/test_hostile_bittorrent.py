#!/usr/bin/env python3
"""Hostile BitTorrent peers against a peerlab seeder (issue 18).

A raw BitTorrent client in Python speaks to the node's peer port: a broken
handshake, an info-hash the node does not seed, requests out of range, a
1 MiB block, a flood of requests, a bencode bomb in the extension handshake.
Each is closed promptly; the node stays up, and an honest BitTorrent peer
(the same client, behaving) is then served verified blocks and listed in the
dashboard's peer list with the client name its extension handshake gave.

This file owns the loopback addresses 127.0.31.x; one ctest entry per case.
"""

import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

SEEDER_IP = "127.0.31.1"
HOSTILE_IP = "127.0.31.66"
HONEST_IP = "127.0.31.10"
FILE_BYTES = 3 * 1024 * 1024 + 777
PIECE_BYTES = 256 * 1024
CLOSE_DEADLINE_S = 10
HONEST_CLIENT = "hostile-suite honest 1.0"

EXTENDED, REQUEST, PIECE, UNCHOKE, INTERESTED = 20, 6, 7, 1, 2


def handshake(info_hash, peer_id=b"-XX0001-abcdefghijkl", extensions=True):
    reserved = bytearray(8)
    if extensions:
        reserved[5] |= 0x10  # BEP 10
    reserved[7] |= 0x04  # BEP 6 fast
    return b"\x13BitTorrent protocol" + bytes(reserved) + info_hash + peer_id


def message(msg_id, payload=b""):
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


def request(piece, begin, length):
    return message(REQUEST, struct.pack(">III", piece, begin, length))


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(value[k]) for k in sorted(value)) + b"e"
    raise TypeError(value)


class RawPeer:
    def __init__(self, target, source_ip):
        host, port = e2e.split_endpoint(target)
        self.sock = socket.socket()
        self.sock.bind((source_ip, 0))
        self.sock.settimeout(5)
        self.sock.connect((host, port))
        self.buffer = b""

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_exactly(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {n} bytes from the node within {timeout}s")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the node closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_message(self, timeout=5):
        (length,) = struct.unpack(">I", self.read_exactly(4, timeout))
        if length == 0:
            return None, b""  # keepalive
        body = self.read_exactly(length, timeout)
        return body[0], body[1:]

    def wait_for(self, msg_id, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            got, payload = self.read_message(max(0.1, deadline - time.monotonic()))
            if got == msg_id:
                return payload

    def wait_closed(self, timeout=CLOSE_DEADLINE_S):
        """Reads and drops until EOF or reset; fails if still open after timeout."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 20):
                    return
            except socket.timeout:
                continue
            except OSError:
                return
        raise AssertionError(f"the node kept the connection open for {timeout}s")

    def close(self):
        self.sock.close()


class HostileBitTorrentTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.seeder = self.node("seeder", f"{SEEDER_IP}:0", f"{SEEDER_IP}:0").start()
        self.original = os.path.join(self.tmp, "shared.bin")
        e2e.write_random_file(self.original, FILE_BYTES)
        with open(self.original, "rb") as f:
            self.data = f.read()
        self.file_id = self.seeder.share(self.original)
        entry = e2e.wait_until(lambda: self.seeder.file_entry(self.file_id).get("bittorrent"), 10,
                               "BitTorrent hashes")
        self.info_hash = bytes.fromhex(entry["v1"]["btih"])
        self.peers = []
        self.addCleanup(lambda: [p.close() for p in self.peers])

    def peer(self, source_ip=HOSTILE_IP):
        p = RawPeer(self.seeder.listen, source_ip)
        self.peers.append(p)
        return p

    def hostile_handshake(self):
        p = self.peer()
        p.send(handshake(self.info_hash))
        self.assertEqual(p.read_exactly(68)[28:48], self.info_hash)
        return p

    def assert_honest_peer_is_served(self, client=HONEST_CLIENT):
        """A well-behaved peer gets unchoked and receives verified blocks."""
        p = self.peer(HONEST_IP)
        p.send(handshake(self.info_hash))
        theirs = p.read_exactly(68)
        self.assertEqual(theirs[:20], b"\x13BitTorrent protocol")
        self.assertEqual(theirs[28:48], self.info_hash)
        p.send(message(EXTENDED, b"\x00" + bencode({"m": {"ut_metadata": 3}, "v": client})))
        p.send(message(INTERESTED))
        p.wait_for(UNCHOKE)
        last = (FILE_BYTES - 1) // PIECE_BYTES
        for piece, begin, length in [(0, 0, 16384), (1, 16384, 16384), (last, 0, FILE_BYTES - last * PIECE_BYTES)]:
            p.send(request(piece, begin, length))
            payload = p.wait_for(PIECE)
            self.assertEqual(struct.unpack(">II", payload[:8]), (piece, begin))
            offset = piece * PIECE_BYTES + begin
            self.assertEqual(hashlib.sha256(payload[8:]).digest(),
                             hashlib.sha256(self.data[offset:offset + length]).digest())
        return p

    def assert_healthy(self):
        self.seeder.assert_alive()
        self.assert_honest_peer_is_served().close()

    # -- cases

    def test_bad_handshakes_are_closed(self):
        for bad in [b"\x13BitTorrent protocoX" + bytes(48),  # wrong protocol string
                    b"\x13" + os.urandom(4096),  # BitTorrent's first byte, then noise
                    b"\x13BitTorrent protocol" + bytes(8)]:  # cut short, then silence
            p = self.peer()
            p.send(bad)
            p.wait_closed()
        self.assert_healthy()

    def test_unknown_info_hash_is_closed(self):
        p = self.peer()
        p.send(handshake(os.urandom(20)))
        p.wait_closed()
        self.assertIn("unknown info-hash", self.seeder.log())
        self.assert_healthy()

    def test_requests_out_of_range_too_large_or_flooding_are_closed(self):
        pieces = (FILE_BYTES + PIECE_BYTES - 1) // PIECE_BYTES
        for bad in [request(pieces, 0, 16384),  # a piece past the end
                    request(pieces - 1, PIECE_BYTES - 16384, 16384),  # past the end of the short last piece
                    request(0, 0, 1024 * 1024)]:  # a 1 MiB block
            p = self.hostile_handshake()
            p.send(message(INTERESTED))
            p.wait_for(UNCHOKE)
            p.send(bad)
            p.wait_closed()
        # A flood: 20 000 distinct requests (tiny blocks) at once.
        p = self.hostile_handshake()
        p.send(message(INTERESTED))
        p.wait_for(UNCHOKE)
        flood = b"".join(request(i % 4, i, 7) for i in range(20000))
        p.send(flood)
        p.wait_closed()
        log = self.seeder.log()
        for reason in ["request out of range", "bad BitTorrent message", "request flood"]:
            self.assertIn(reason, log)
        self.assert_healthy()

    def test_bencode_bomb_in_the_extension_handshake_is_closed(self):
        p = self.hostile_handshake()
        bomb = b"d1:m" + b"l" * 5000 + b"e" * 5000 + b"e"
        p.send(message(EXTENDED, b"\x00" + bomb))
        p.wait_closed()
        self.assertIn("bad extension handshake", self.seeder.log())
        self.assert_healthy()

    def test_an_honest_peer_is_listed_with_its_client_and_served(self):
        p = self.assert_honest_peer_is_served()
        listed = [x for x in self.seeder.peers() if x.get("protocol") == "bittorrent"]
        self.assertEqual(len(listed), 1, listed)
        self.assertEqual(listed[0]["client"], HONEST_CLIENT)
        self.assertEqual(e2e.split_endpoint(listed[0]["remote"])[0], HONEST_IP)
        p.close()


if __name__ == "__main__":
    e2e.main()
