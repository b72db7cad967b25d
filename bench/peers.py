"""Holds N peer connections to one node, each a well-behaved (if dull) peer.

Every connection sends a valid hello (docs/protocol.md §5.1: a fresh random
node id, listen port 0 so the node never passes it on), answers `get_peers`
and `get_catalog` with empty lists, and sends a keepalive every 10 s so the
node's 45 s idle timeout never fires. The node caps handshakes in progress
(64), so connections are opened a few dozen at a time; one the node closes
is dialed again, up to a bounded number of attempts.

    python3 bench/peers.py TARGET_IP:PORT SOURCE_IP COUNT STATUS_FILE

runs until SIGTERM, writing {"held", "closed", "attempts"} as JSON to
STATUS_FILE twice a second ("held": connections open whose hello from the
node has arrived).
"""

import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

MAGIC, VERSION, FLAG = 0x504C4142, 1, 0x01
HELLO, GET_PEERS, PEERS, KEEPALIVE, GET_CATALOG, CATALOG = 1, 2, 3, 4, 5, 6
OPENING_AT_ONCE = 32      # below the node's 64 handshakes in progress
KEEPALIVE_EVERY_S = 10    # the node closes a connection silent for 45 s
MAX_ATTEMPTS_FACTOR = 3   # at most 3 dials per wanted connection in all


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def hello(index):
    name = f"held-{index}".encode()
    return frame(bytes([HELLO, FLAG]) + struct.pack("<IH", MAGIC, VERSION) + os.urandom(16) +
                 struct.pack("<HQ", 0, len(name)) + name)


EMPTY_PEERS = frame(bytes([PEERS, FLAG]) + struct.pack("<Q", 0))
EMPTY_CATALOG = frame(bytes([CATALOG, FLAG]) + struct.pack("<Q", 0))
KEEPALIVE_FRAME = frame(bytes([KEEPALIVE, FLAG]))


class Peer:
    def __init__(self, index, target, source_ip):
        self.index = index
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((source_ip, 0))
        self.sock.connect_ex(target)
        self.outbox = hello(index)
        self.inbox = b""
        self.greeted = False  # the node's hello arrived

    def on_readable(self):
        """Reads what the node sent and queues the answers; False once closed."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        self.inbox += data
        while len(self.inbox) >= 4:
            (length,) = struct.unpack(">I", self.inbox[:4])
            if len(self.inbox) < 4 + length:
                break
            kind = self.inbox[4] if length else 0
            self.inbox = self.inbox[4 + length:]
            if kind == HELLO:
                self.greeted = True
            elif kind == GET_PEERS:
                self.outbox += EMPTY_PEERS
            elif kind == GET_CATALOG:
                self.outbox += EMPTY_CATALOG
        return True

    def flush(self):
        try:
            sent = self.sock.send(self.outbox)
        except BlockingIOError:
            return True
        except OSError:
            return False
        self.outbox = self.outbox[sent:]
        return True


def main():
    target_text, source_ip, count, status_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    host, port = target_text.rsplit(":", 1)
    target = (host, int(port))
    selector = selectors.DefaultSelector()
    peers, closed, attempts = {}, 0, 0
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    last_keepalive = last_status = time.monotonic()

    def watch(peer):
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if peer.outbox else 0)
        selector.modify(peer.sock, events, peer)

    def drop(peer):
        nonlocal closed
        selector.unregister(peer.sock)
        peer.sock.close()
        del peers[peer.index]
        closed += 1

    next_index = 0
    while not stopping:
        opening = sum(1 for p in peers.values() if not p.greeted)
        while len(peers) < count and opening < OPENING_AT_ONCE and attempts < count * MAX_ATTEMPTS_FACTOR:
            peer = Peer(next_index, target, source_ip)
            next_index += 1
            attempts += 1
            opening += 1
            peers[peer.index] = peer
            selector.register(peer.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, peer)
        for key, events in selector.select(timeout=0.1):
            peer = key.data
            alive = True
            if events & selectors.EVENT_READ:
                alive = peer.on_readable()
            if alive and events & selectors.EVENT_WRITE or alive and peer.outbox:
                alive = peer.flush()
            if alive:
                watch(peer)
            else:
                drop(peer)
        now = time.monotonic()
        if now - last_keepalive >= KEEPALIVE_EVERY_S:
            last_keepalive = now
            for peer in list(peers.values()):
                if peer.greeted:
                    peer.outbox += KEEPALIVE_FRAME
                    watch(peer)
        if now - last_status >= 0.5:
            last_status = now
            held = sum(1 for p in peers.values() if p.greeted)
            with open(status_file + ".tmp", "w") as f:
                json.dump({"held": held, "closed": closed, "attempts": attempts}, f)
            os.replace(status_file + ".tmp", status_file)
    for peer in peers.values():
        peer.sock.close()


if __name__ == "__main__":
    main()
