"""A BitTorrent seeder in Python that lies once: it serves a v1 torrent's
file honestly except the first piece it is asked for, every block of which
it sends once with a byte flipped (asked again, it tells the truth: one
wrong piece, not a peer that can never deliver it). Issue 19: a downloader
must reject that piece, ban this peer and finish from the others.

Plain BEP 3 only (no extension bits): handshake, bitfield, unchoke, then it
answers requests. It listens on one loopback address; the test announces it
to a tracker from that address. Every connection has a thread and a read
timeout, every frame a size limit; close() ends them all.
"""

import os
import socket
import struct
import threading

PROTOCOL = b"\x13BitTorrent protocol"
BITFIELD, UNCHOKE, REQUEST, PIECE = 5, 1, 6, 7
MAX_MESSAGE_BYTES = 64 * 1024  # we only receive small messages; a request asks for at most 16 KiB
MAX_BLOCK_BYTES = 128 * 1024
READ_TIMEOUT_S = 30


def _read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class FakeSeeder:
    def __init__(self, ip, data, piece_bytes, info_hash, bad_pieces=1):
        self.data = data
        self.piece_bytes = piece_bytes
        self.info_hash = info_hash
        self.pieces = (len(data) + piece_bytes - 1) // piece_bytes
        self.bad_pieces = bad_pieces
        self.peer_id = b"-FK0001-" + os.urandom(6).hex().encode()
        self.lock = threading.Lock()
        self.corrupted = []  # piece indexes we sent wrong, in order
        self._corrupted_blocks = set()  # (piece, begin) sent wrong, once each
        self.blocks_sent = 0
        self.connections = []  # (remote ip:port, socket)
        self.closed = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((ip, 0))
        self.listener.listen(16)
        self.ip, self.port = self.listener.getsockname()
        self.thread = threading.Thread(target=self._accept, daemon=True, name="fake-seeder")
        self.thread.start()

    @property
    def address(self):
        return f"{self.ip}:{self.port}"

    def _accept(self):
        while not self.closed:
            try:
                sock, remote = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.closed or len(self.connections) >= 64:
                    sock.close()
                    continue
                self.connections.append((f"{remote[0]}:{remote[1]}", sock))
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _bitfield(self):
        bits = bytearray((self.pieces + 7) // 8)
        for i in range(self.pieces):
            bits[i // 8] |= 0x80 >> (i % 8)
        return bytes(bits)

    def _send(self, sock, msg_id, payload=b""):
        sock.sendall(struct.pack(">IB", 1 + len(payload), msg_id) + payload)

    def _is_bad(self, index, begin):
        """The first `bad_pieces` distinct pieces asked for are the ones we
        corrupt, each block the first time it is sent."""
        with self.lock:
            if index not in self.corrupted:
                if len(self.corrupted) >= self.bad_pieces:
                    return False
                self.corrupted.append(index)
            if (index, begin) in self._corrupted_blocks:
                return False
            self._corrupted_blocks.add((index, begin))
            return True

    def _serve(self, sock):
        try:
            sock.settimeout(READ_TIMEOUT_S)
            theirs = _read_exactly(sock, 68)
            if theirs[:20] != PROTOCOL or theirs[28:48] != self.info_hash:
                return
            sock.sendall(PROTOCOL + bytes(8) + self.info_hash + self.peer_id)
            self._send(sock, BITFIELD, self._bitfield())
            self._send(sock, UNCHOKE)
            while not self.closed:
                (length,) = struct.unpack(">I", _read_exactly(sock, 4))
                if length == 0:
                    continue  # keepalive
                if length > MAX_MESSAGE_BYTES:
                    return
                body = _read_exactly(sock, length)
                if body[0] == REQUEST and len(body) == 13:
                    self._answer(sock, *struct.unpack(">III", body[1:]))
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            sock.close()

    def _answer(self, sock, index, begin, length):
        offset = index * self.piece_bytes + begin
        if index >= self.pieces or length == 0 or length > MAX_BLOCK_BYTES or begin + length > self.piece_bytes \
                or offset + length > len(self.data):
            raise ConnectionError("bad request")
        block = bytearray(self.data[offset:offset + length])
        if self._is_bad(index, begin):
            block[0] ^= 0xFF
        self._send(sock, PIECE, struct.pack(">II", index, begin) + bytes(block))
        with self.lock:
            self.blocks_sent += 1

    def close(self):
        with self.lock:
            self.closed = True
            connections = list(self.connections)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        for _, sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.thread.join(5)
