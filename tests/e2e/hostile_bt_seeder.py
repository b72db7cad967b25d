"""A BitTorrent seeder in Python that misbehaves on purpose, one way per
mode, for the e2e tests of a downloading peerlab node (test_hostile_bt_leech):

  flood            pushes blocks nobody asked for, right after unchoking
  wrong_length     answers every request with a block one byte short
  long_block       answers every request with a block one byte longer than
                   any block may be (16 KiB + 1)
  bitfield_short   a bitfield one byte shorter than the piece count needs
  bitfield_spare   a bitfield of the right size with its spare bits set
  have_past_end    a full bitfield, then `have` for the piece after the last
  never_unchoke    says it has everything, never lets us ask (keeps us interested)
  choke_flap       after its bitfield, unchoke and choke FLAP_PAIRS times over
                   (5 bytes each: cheap to send, each one a change of source)
  choke_mid_piece  sends half of a piece asked for, then chokes; unchokes a
                   moment later and does the same with the next piece asked for
  metadata_bad     (magnet) answers ut_metadata with bytes that do not hash
                   to the info-hash (the real info dictionary, one byte flipped)
  metadata_huge    (magnet) claims metadata_size of 100 MiB

It listens on one loopback address; a tracker names it to the node. Every
connection has a thread and a read timeout, every frame a size limit;
close() ends them all. What it saw and did is counted for the test.
"""

import os
import select
import socket
import struct
import threading
import time

from bt_fake_seeder import PROTOCOL, _read_exactly

CHOKE, UNCHOKE, INTERESTED, HAVE, BITFIELD, REQUEST, PIECE, EXTENDED = 0, 1, 2, 4, 5, 6, 7, 20
BLOCK_BYTES = 16 * 1024
MAX_MESSAGE_BYTES = 256 * 1024  # what the node sends us is small: requests, extension messages
READ_TIMEOUT_S = 30
FLOOD_BLOCKS = 1500  # more than the node drops before closing (1024 in a row)
OUR_METADATA_ID = 3  # ut_metadata, as our extension handshake names it
HUGE_METADATA_BYTES = 100 * 1024 * 1024
FLAP_PAIRS = 200_000  # choke_flap: 2 MB of unchoke + choke
CHOKE_PAUSE_S = 0.3  # choke_mid_piece: how long each choke lasts

MODES = ("flood", "wrong_length", "long_block", "bitfield_short", "bitfield_spare", "have_past_end", "never_unchoke",
         "choke_flap", "choke_mid_piece", "metadata_bad", "metadata_huge")


# ------------------------------------------------------------ bencoding


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value)}")


def bdecode_prefix(data, at=0, depth=0):
    """(value, end) of the bencoded value at data[at:]; ValueError if bad."""
    if depth > 32 or at >= len(data):
        raise ValueError("bad bencoding")
    c = data[at:at + 1]
    if c == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1:end]), end + 1
    if c in (b"l", b"d"):
        at += 1
        items = []
        while data[at:at + 1] != b"e":
            value, at = bdecode_prefix(data, at, depth + 1)
            items.append(value)
        if c == b"l":
            return items, at + 1
        return dict(zip(items[::2], items[1::2])), at + 1
    colon = data.index(b":", at)
    n = int(data[at:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


# ------------------------------------------------------------ the seeder


class HostileSeeder:
    def __init__(self, ip, mode, data, piece_bytes, info_hash, info_bytes=None):
        """data: the file; info_bytes: the info dictionary (metadata modes)."""
        assert mode in MODES, mode
        self.mode = mode
        self.data = data
        self.piece_bytes = piece_bytes
        self.info_hash = info_hash
        self.info_bytes = info_bytes
        self.pieces = (len(data) + piece_bytes - 1) // piece_bytes
        self.peer_id = b"-HS0001-" + os.urandom(6).hex().encode()
        self.lock = threading.Lock()
        self.closed = False
        self.connections = []  # (remote ip:port, socket)
        self.dialers = {}  # remote ip -> connections from it
        # What happened, for the test's assertions.
        self.handshakes = 0
        self.interested = 0  # interested messages received
        self.requests = 0  # request messages received
        self.blocks_sent = 0  # blocks sent that were asked for
        self.pushed = 0  # blocks sent that were not
        self.chokes_sent = 0
        self.void_requests = 0  # choke_mid_piece: requests that arrived while we choked
        self.metadata_requests = 0
        self.metadata_sent = 0
        self.ended = []  # how each connection ended: "closed by the node" or an exception text
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((ip, 0))
        self.listener.listen(16)
        self.ip, self.port = self.listener.getsockname()
        self.thread = threading.Thread(target=self._accept, daemon=True, name=f"hostile-seeder-{mode}")
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
                self.dialers[remote[0]] = self.dialers.get(remote[0], 0) + 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    # -- sending

    def _send(self, sock, msg_id, payload=b""):
        sock.sendall(struct.pack(">IB", 1 + len(payload), msg_id) + payload)

    def _bitfield(self, spare=False):
        bits = bytearray((self.pieces + 7) // 8)
        for i in range(len(bits) * 8 if spare else self.pieces):
            bits[i // 8] |= 0x80 >> (i % 8)
        return bytes(bits)

    def _block(self, index, begin, length):
        offset = index * self.piece_bytes + begin
        return bytes(self.data[offset:offset + length])

    def _piece(self, sock, index, begin, block):
        self._send(sock, PIECE, struct.pack(">II", index, begin) + block)

    def _extended(self, sock, ext_id, payload):
        self._send(sock, EXTENDED, bytes([ext_id]) + payload)

    # -- one connection

    def _serve(self, sock):
        try:
            sock.settimeout(READ_TIMEOUT_S)
            theirs = _read_exactly(sock, 68)
            if theirs[:20] != PROTOCOL or theirs[28:48] != self.info_hash:
                return
            metadata_mode = self.mode.startswith("metadata")
            reserved = bytearray(8)
            if metadata_mode:
                reserved[5] |= 0x10  # BEP 10: the extension protocol
            sock.sendall(PROTOCOL + bytes(reserved) + self.info_hash + self.peer_id)
            with self.lock:
                self.handshakes += 1
            self._opening(sock)
            state = {"choked": self.mode == "never_unchoke", "piece": None, "sent_of_piece": 0,
                     "their_metadata_id": 0}
            while not self.closed:
                (length,) = struct.unpack(">I", _read_exactly(sock, 4))
                if length == 0:
                    continue  # keepalive
                if length > MAX_MESSAGE_BYTES:
                    raise ConnectionError(f"message of {length} bytes")
                self._on_message(sock, _read_exactly(sock, length), state)
        except (OSError, ConnectionError, struct.error, ValueError) as exc:
            with self.lock:
                self.ended.append("closed by the node" if str(exc) == "closed" or
                                  isinstance(exc, ConnectionResetError) else repr(exc))
        finally:
            sock.close()

    def _opening(self, sock):
        """What the peer says right after the handshake."""
        mode = self.mode
        if mode == "metadata_bad" or mode == "metadata_huge":
            size = HUGE_METADATA_BYTES if mode == "metadata_huge" else len(self.info_bytes)
            self._extended(sock, 0, bencode({"m": {"ut_metadata": OUR_METADATA_ID}, "metadata_size": size,
                                             "v": "hostile 0.1"}))
            self._send(sock, BITFIELD, self._bitfield())
            self._send(sock, UNCHOKE)
        elif mode == "bitfield_short":
            self._send(sock, BITFIELD, self._bitfield()[:-1])
            self._send(sock, UNCHOKE)
        elif mode == "bitfield_spare":
            self._send(sock, BITFIELD, self._bitfield(spare=True))
            self._send(sock, UNCHOKE)
        elif mode == "have_past_end":
            self._send(sock, BITFIELD, self._bitfield())
            self._send(sock, HAVE, struct.pack(">I", self.pieces))
            self._send(sock, UNCHOKE)
        elif mode == "never_unchoke":
            self._send(sock, BITFIELD, self._bitfield())
        else:
            self._send(sock, BITFIELD, self._bitfield())
            self._send(sock, UNCHOKE)
        if mode == "choke_flap":
            pair = struct.pack(">IB", 1, UNCHOKE) + struct.pack(">IB", 1, CHOKE)
            for _ in range(FLAP_PAIRS // 1000):
                sock.sendall(pair * 1000)
                with self.lock:
                    self.chokes_sent += 1000
        if mode == "flood":
            # Unaligned offsets: no request of the node's can ever match one.
            block = self._block(0, 1, BLOCK_BYTES)
            for _ in range(FLOOD_BLOCKS):
                self._piece(sock, 0, 1, block)
                with self.lock:
                    self.pushed += 1

    def _on_message(self, sock, body, state):
        msg_id = body[0]
        if msg_id == INTERESTED:
            with self.lock:
                self.interested += 1
        elif msg_id == REQUEST and len(body) == 13:
            with self.lock:
                self.requests += 1
            self._on_request(sock, *struct.unpack(">III", body[1:]), state)
        elif msg_id == EXTENDED and len(body) >= 2:
            self._on_extended(sock, body[1], body[2:], state)

    def _on_request(self, sock, index, begin, length, state):
        if index >= self.pieces or length == 0 or length > BLOCK_BYTES or begin + length > self.piece_bytes:
            raise ConnectionError("bad request")
        mode = self.mode
        if mode in ("never_unchoke", "flood", "choke_flap") or state["choked"]:
            return  # a choked peer's requests are void; a flooder never answers
        block = self._block(index, begin, length)
        if mode == "wrong_length":
            block = block[:-1]
        elif mode == "long_block":
            block = self._block(index, 0, BLOCK_BYTES + 1)
            block += bytes(BLOCK_BYTES + 1 - len(block))
        elif mode == "choke_mid_piece":
            # Half of the first piece asked for, then a choke; a moment later
            # an unchoke, and the same again with the next piece asked for.
            if state["piece"] is None:
                state["piece"] = index
            if index != state["piece"]:
                return
            if state["sent_of_piece"] * 2 >= self.piece_bytes:
                self._send(sock, CHOKE)
                with self.lock:
                    self.chokes_sent += 1
                self._unchoke_later(sock, state)
                return
            state["sent_of_piece"] += length
        self._piece(sock, index, begin, block)
        with self.lock:
            self.blocks_sent += 1

    def _unchoke_later(self, sock, state):
        """Requests sent before our choke arrive meanwhile and are void: read
        and dropped for CHOKE_PAUSE_S (a bounded wait), then an unchoke."""
        state["choked"] = True
        deadline = time.monotonic() + CHOKE_PAUSE_S
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
                break
            # A whole message once its first byte is here (the usual read timeout).
            (length,) = struct.unpack(">I", _read_exactly(sock, 4))
            if length > MAX_MESSAGE_BYTES:
                raise ConnectionError(f"message of {length} bytes")
            body = _read_exactly(sock, length) if length else b""
            if body and body[0] == REQUEST:
                with self.lock:
                    self.requests += 1
                    self.void_requests += 1
            elif body and body[0] == INTERESTED:
                with self.lock:
                    self.interested += 1
        state.update(choked=False, piece=None, sent_of_piece=0)
        self._send(sock, UNCHOKE)

    def _on_extended(self, sock, ext_id, payload, state):
        if ext_id == 0:
            handshake, _ = bdecode_prefix(payload)
            state["their_metadata_id"] = handshake.get(b"m", {}).get(b"ut_metadata", 0)
            return
        if ext_id != OUR_METADATA_ID or not state["their_metadata_id"]:
            return
        message, _ = bdecode_prefix(payload)
        if message.get(b"msg_type") != 0:
            return
        piece = message.get(b"piece", 0)
        with self.lock:
            self.metadata_requests += 1
        if self.mode != "metadata_bad":
            return  # metadata_huge: the node should never get this far
        info = bytearray(self.info_bytes)
        info[len(info) // 2] ^= 0xFF  # the same size, another hash
        data = bytes(info[piece * BLOCK_BYTES:(piece + 1) * BLOCK_BYTES])
        header = bencode({"msg_type": 1, "piece": piece, "total_size": len(info)})
        self._extended(sock, state["their_metadata_id"], header + data)
        with self.lock:
            self.metadata_sent += 1

    # -- the test's side

    def wait_for(self, predicate, timeout, what):
        """Polls predicate(self) under the lock until true or timeout (AssertionError)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.02)
        raise AssertionError(f"hostile seeder ({self.mode}) waited {timeout}s for {what}")

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

    stop = close  # the tests stop every client with stop()
