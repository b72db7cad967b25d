"""The peerlab wire protocol in Python (standard library only), for tests
that play a peer: honest, or broken on purpose.

Everything follows docs/protocol.md byte by byte: frames are a big-endian
u32 length and a payload; a payload is the message type, the endianness flag
0x01, then cereal's portable binary fields (little-endian integers, u64
sizes, raw fixed-size ids). Every encoder takes optional overrides (a count,
a length) so a test can send a well-framed message whose sizes lie.

`FakePeer` dials a real node, completes the handshake and then answers the
node like a peer holding some files (`FakeFile`), unless a test tells it to
misbehave: serve forged manifests or bad chunks, never answer, trickle
bytes, or send anything at all with `send()`. `FakeListener` accepts the
node's dials instead.
"""

import errno
import hashlib
import os
import select
import socket
import struct
import threading
import time

import peerlab_e2e as e2e

# ---------------------------------------------------------------- constants (docs/protocol.md §9)

MAGIC = e2e.MAGIC
VERSION = e2e.VERSION
FLAG = 0x01
MAX_FRAME_BYTES = 4 * 1024 * 1024 + 4096
MAX_NAME_BYTES = 64
MAX_PEERS_PER_MESSAGE = 200
MAX_CATALOG_ENTRIES = 1000
MAX_FILE_NAME_BYTES = 255
MIN_CHUNK_BYTES = 256 * 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024
MAX_CHUNKS = 32768
MAX_MANIFEST_BYTES = 32 * MAX_CHUNKS + 1024
MAX_MANIFEST_DATA_BYTES = 4 * 1024 * 1024  # a folder manifest's bound (§4.4)
MAX_FILE_BYTES = MAX_CHUNKS * MAX_CHUNK_BYTES
MAX_CHUNK_MAP_BYTES = MAX_CHUNKS // 8

(HELLO, GET_PEERS, PEERS, KEEPALIVE, GET_CATALOG, CATALOG, GET_MANIFEST, MANIFEST_DATA, GET_CHUNK_MAP,
 CHUNK_MAP, HAVE, REQUEST, CHUNK, REJECT, CANCEL) = range(1, 16)

TYPE_NAMES = {
    HELLO: "hello", GET_PEERS: "get_peers", PEERS: "peers", KEEPALIVE: "keepalive", GET_CATALOG: "get_catalog",
    CATALOG: "catalog", GET_MANIFEST: "get_manifest", MANIFEST_DATA: "manifest_data",
    GET_CHUNK_MAP: "get_chunk_map", CHUNK_MAP: "chunk_map", HAVE: "have", REQUEST: "request", CHUNK: "chunk",
    REJECT: "reject", CANCEL: "cancel",
}

# ---------------------------------------------------------------- primitive encoders


def u8(n):
    return struct.pack("<B", n)


def u16(n):
    return struct.pack("<H", n)


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


def size_tag(n):
    """cereal's size tag: a u64, little-endian."""
    return u64(n)


def as_bytes(text):
    return text.encode() if isinstance(text, str) else bytes(text)


def string(text, length=None):
    """A size tag then the raw bytes; `length` overrides the announced size."""
    data = as_bytes(text)
    return size_tag(len(data) if length is None else length) + data


def payload(kind, body=b""):
    return bytes([kind, FLAG]) + body


def frame(body):
    return e2e.frame(body)


def check_id(content_id):
    content_id = bytes(content_id)
    assert len(content_id) == 32, f"a content id is 32 bytes, not {len(content_id)}"
    return content_id


# ---------------------------------------------------------------- messages (docs/protocol.md §5)


def hello(node_id, listen_port=0, name="fake", magic=MAGIC, version=VERSION, name_length=None):
    node_id = bytes(node_id)
    assert len(node_id) == 16
    return payload(HELLO, u32(magic) + u16(version) + node_id + u16(listen_port) + string(name, name_length))


def get_peers():
    return payload(GET_PEERS)


def keepalive():
    return payload(KEEPALIVE)


def get_catalog():
    return payload(GET_CATALOG)


def endpoint(ip, port):
    """One `peers` entry: family 4 or 6, the address in network order, the port little-endian."""
    try:
        return u8(4) + socket.inet_pton(socket.AF_INET, ip) + u16(port)
    except OSError:
        return u8(6) + socket.inet_pton(socket.AF_INET6, ip) + u16(port)


def peers(endpoints, count=None):
    """`peers`: (ip, port) pairs, IPv4 or IPv6; `count` overrides the announced number."""
    body = b"".join(endpoint(ip, port) for ip, port in endpoints)
    return payload(PEERS, size_tag(len(endpoints) if count is None else count) + body)


def catalog_entry(content_id, name, size, complete=True, name_length=None, complete_byte=None):
    flag = (1 if complete else 0) if complete_byte is None else complete_byte
    return check_id(content_id) + string(name, name_length) + u64(size) + u8(flag)


def catalog(entries, count=None):
    """`catalog`: entries are encoded entries (catalog_entry) or (id, name, size, complete) tuples."""
    encoded = [e if isinstance(e, (bytes, bytearray)) else catalog_entry(*e) for e in entries]
    return payload(CATALOG, size_tag(len(encoded) if count is None else count) + b"".join(encoded))


def get_manifest(content_id):
    return payload(GET_MANIFEST, check_id(content_id))


def manifest_data(content_id, manifest_bytes, length=None):
    return payload(MANIFEST_DATA, check_id(content_id) + string(manifest_bytes, length))


def get_chunk_map(content_id):
    return payload(GET_CHUNK_MAP, check_id(content_id))


def chunk_map(content_id, bits, length=None):
    return payload(CHUNK_MAP, check_id(content_id) + string(bits, length))


def _indexed(kind, content_id, index):
    return payload(kind, check_id(content_id) + u32(index))


def have(content_id, index):
    return _indexed(HAVE, content_id, index)


def request(content_id, index):
    return _indexed(REQUEST, content_id, index)


def reject(content_id, index):
    return _indexed(REJECT, content_id, index)


def cancel(content_id, index):
    return _indexed(CANCEL, content_id, index)


def chunk(content_id, index, data, length=None):
    return payload(CHUNK, check_id(content_id) + u32(index) + string(data, length))


# ---------------------------------------------------------------- manifests (docs/protocol.md §4)


def chunk_size_for(size):
    """The smallest power of two >= 256 KiB that keeps the file at or below 32 768 chunks."""
    chunk_size = MIN_CHUNK_BYTES
    while chunk_size < MAX_CHUNK_BYTES and -(-size // chunk_size) > MAX_CHUNKS:
        chunk_size *= 2
    return chunk_size


def encode_manifest(name, size, chunk_size, hashes, name_length=None, count=None):
    """The encoded manifest: flag, name, size, chunk size, the chunk hashes. No validation:
    a test may encode any name or size it likes."""
    return (u8(FLAG) + string(name, name_length) + u64(size) + u32(chunk_size) +
            size_tag(len(hashes) if count is None else count) + b"".join(hashes))


def content_id_of(manifest_bytes):
    return hashlib.sha256(manifest_bytes).digest()


def bits_of(flags):
    """A chunk map: chunk i is bit 7 - i % 8 of byte i / 8; `flags` is a list of booleans."""
    out = bytearray((len(flags) + 7) // 8)
    for i, flag in enumerate(flags):
        if flag:
            out[i // 8] |= 0x80 >> (i % 8)
    return bytes(out)


class FakeFile:
    """A file a fake peer holds: its bytes, chunks, manifest and content id.

    `name` goes into the manifest as is (so it may be hostile); the catalog
    claims `claimed_name` (default: the name) and `claimed_size`.
    """

    def __init__(self, data, name="file.bin", chunk_size=None, claimed_name=None, claimed_size=None,
                 complete=True):
        self.data = bytes(data)
        self.name = as_bytes(name)
        self.chunk_size = chunk_size or chunk_size_for(len(self.data))
        self.chunks = [self.data[i:i + self.chunk_size] for i in range(0, len(self.data), self.chunk_size)]
        self.hashes = [hashlib.sha256(c).digest() for c in self.chunks]
        self.manifest = encode_manifest(self.name, len(self.data), self.chunk_size, self.hashes)
        self.id = content_id_of(self.manifest)
        self.hex = self.id.hex()
        self.claimed_name = as_bytes(claimed_name) if claimed_name is not None else self.name
        self.claimed_size = len(self.data) if claimed_size is None else claimed_size
        self.complete = complete
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    @property
    def count(self):
        return len(self.chunks)

    def catalog_entry(self):
        return catalog_entry(self.id, self.claimed_name, self.claimed_size, self.complete)

    def all_bits(self):
        return bits_of([True] * self.count)


# ---------------------------------------------------------------- decoding what a node sends


class Message:
    """A decoded payload: `kind` (the type number), `name`, and its fields as attributes."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.name = TYPE_NAMES.get(kind, f"type {kind}")
        self.fields = fields
        self.__dict__.update(fields)

    def __repr__(self):
        shown = {k: (v.hex()[:16] if isinstance(v, (bytes, bytearray)) and k != "name" else v)
                 for k, v in self.fields.items() if k not in ("data", "bytes", "bits")}
        for k in ("data", "bytes", "bits"):
            if k in self.fields:
                shown[k] = f"<{len(self.fields[k])} bytes>"
        return f"{self.name}({shown})"


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError(f"truncated: wanted {n} bytes at {self.pos} of {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def sized(self, limit, what):
        n = self.u64()
        if n > limit:
            raise ValueError(f"{what} of {n} exceeds {limit}")
        return self.take(n)

    def end(self):
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} trailing bytes")


def decode(data):
    """Decodes one payload strictly (as docs/protocol.md §5.12 says); raises ValueError."""
    data = bytes(data)
    if len(data) < 2 or data[1] != FLAG:
        raise ValueError(f"bad payload start {data[:2].hex()}")
    kind = data[0]
    r = _Reader(data)
    r.pos = 2
    if kind == HELLO:
        m = Message(kind, magic=r.u32(), version=r.u16(), id=r.take(16), listen_port=r.u16(),
                    node_name=r.sized(MAX_NAME_BYTES, "name").decode(errors="replace"))
    elif kind in (GET_PEERS, KEEPALIVE, GET_CATALOG):
        m = Message(kind)
    elif kind == PEERS:
        count = r.u64()
        if count > MAX_PEERS_PER_MESSAGE:
            raise ValueError(f"peer count {count}")
        addresses = []
        for _ in range(count):
            family = r.u8()
            if family not in (4, 6):
                raise ValueError(f"address family {family}")
            raw = r.take(4 if family == 4 else 16)
            ip = socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, raw)
            addresses.append((ip, r.u16()))
        m = Message(kind, addresses=addresses)
    elif kind == CATALOG:
        count = r.u64()
        if count > MAX_CATALOG_ENTRIES:
            raise ValueError(f"catalog count {count}")
        entries = []
        for _ in range(count):
            content_id = r.take(32)
            name = r.sized(MAX_FILE_NAME_BYTES, "file name").decode(errors="replace")
            size = r.u64()
            flags = r.u8()  # 1: complete, 2: a folder
            if flags > 3:
                raise ValueError("catalog flags")
            entries.append((content_id, name, size, bool(flags & 1)))
        m = Message(kind, entries=entries)
    elif kind in (GET_MANIFEST, GET_CHUNK_MAP):
        m = Message(kind, id=r.take(32))
    elif kind == MANIFEST_DATA:
        m = Message(kind, id=r.take(32), bytes=r.sized(MAX_MANIFEST_DATA_BYTES, "manifest"))
    elif kind == CHUNK_MAP:
        m = Message(kind, id=r.take(32), bits=r.sized(MAX_CHUNK_MAP_BYTES, "chunk map"))
    elif kind in (HAVE, REQUEST, REJECT, CANCEL):
        m = Message(kind, id=r.take(32), index=r.u32())
    elif kind == CHUNK:
        m = Message(kind, id=r.take(32), index=r.u32(), data=r.sized(MAX_CHUNK_BYTES, "chunk"))
    else:
        raise ValueError(f"unknown type {kind}")
    r.end()
    return m


def decode_manifest(data):
    """(name bytes, size, chunk_size, hashes) of an encoded manifest; raises ValueError."""
    r = _Reader(bytes(data))
    if r.u8() != FLAG:
        raise ValueError("manifest flag")
    name = r.sized(MAX_FILE_NAME_BYTES, "name")
    size, chunk_size, count = r.u64(), r.u32(), r.u64()
    hashes = [r.take(32) for _ in range(min(count, MAX_CHUNKS + 1))]
    r.end()
    return name, size, chunk_size, hashes


# ---------------------------------------------------------------- a fake peer


def random_node_id(first_byte=None):
    """16 random bytes; `first_byte=0` makes an id that sorts before any real node's
    (in practice), so a node asks this peer first (nodes walk peers by id)."""
    node_id = bytearray(os.urandom(16))
    if first_byte is not None:
        node_id[0:8] = bytes([first_byte]) * 8
    return bytes(node_id)


def _is_reset(exc):
    return isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED,
                                                      errno.ENOTCONN, errno.EBADF)


class FakePeer:
    """A peer in Python that dials a real node (or is handed a socket it accepted).

    After the handshake a reader thread records every message (`messages`)
    and answers like an honest peer holding `files`: get_peers, get_catalog,
    get_manifest, get_chunk_map and request. Tests change that through the
    hooks below, or send anything with `send()`:

    - `manifests[id] = bytes`: what to answer to get_manifest (forged, empty, ...);
    - `chunk_maps[id] = bits`: what to answer to get_chunk_map;
    - `on_request(peer, message)`: called for every request (default: serve
      the chunk honestly); return nothing, send whatever it likes;
    - `on_request=FakePeer.ignore_request`: a peer that accepts requests and
      never answers them;
    - `handlers[type] = handler(peer, message)`: any other answer replaced;
    - `mute()`: answer nothing at all any more (trickle() does, as it owns
      the socket then).
    """

    def __init__(self, target=None, source_ip=None, node_id=None, name="fake", listen_port=0, files=(),
                 sock=None, send_timeout=30, on_request=None, muted=False, manifests=None, chunk_maps=None,
                 catalog_entries=None, handlers=None):
        self.node_id = node_id or random_node_id()
        self.peer_name = name
        self.listen_port = listen_port
        self.files = {f.id: f for f in files}
        self.manifests = dict(manifests or {})
        self.chunk_maps = dict(chunk_maps or {})
        # What get_catalog is answered with: encoded entries, or None for the files' own.
        self.catalog_entries = catalog_entries
        self.on_request = on_request or FakePeer.serve_honestly
        # {message type: handler(peer, message)}: replaces the default answer to that type.
        self.handlers = dict(handlers or {})
        self.messages = []
        self.node_hello = None
        self.closed_at = None
        self.trickled = 0
        self.error = None  # set if the node sent something our decoder refuses
        self._muted = muted
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._buffer = b""
        self._thread = None
        if sock is None:
            host, port = e2e.split_endpoint(target)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((source_ip, 0))
            sock.settimeout(e2e.seconds(10))
            sock.connect((host, port))
        # One timeout for the socket's life: it bounds every sendall (in total,
        # since Python 3.5). Reads wait in select() first, so they never block.
        sock.settimeout(e2e.seconds(send_timeout))
        self.sock = sock
        self.endpoint = "%s:%d" % sock.getsockname()[:2]

    # -- life cycle

    def handshake(self, timeout=10, hello_payload=None):
        """Sends our hello, reads the node's, starts answering; returns self.

        The node's hello is in `node_hello` (None if it closed before sending one).
        """
        self.send(hello_payload or hello(self.node_id, self.listen_port, self.peer_name))
        first = self._read_payload(timeout)
        if first is not None:
            self.node_hello = decode(first)
            assert self.node_hello.kind == HELLO, f"the node's first message must be a hello, not {self.node_hello}"
        else:
            self.closed_at = time.monotonic()
        return self.start_reader()

    def start_reader(self):
        """Starts recording (and answering) what the node sends; handshake() calls it."""
        self._thread = threading.Thread(target=self._run, name=f"fake-peer-{self.endpoint}", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def mute(self):
        self._muted = True

    # -- sending

    def send(self, body):
        """Sends one payload in a frame; False if the node already closed."""
        return self.send_raw(frame(body))

    def send_raw(self, data):
        with self._send_lock:
            try:
                self.sock.sendall(data)
                return True
            except OSError as exc:
                if _is_reset(exc) or isinstance(exc, socket.timeout):
                    return False
                raise

    def answer(self, body):
        """Sends unless muted (the automatic answers go through here)."""
        if not self._muted:
            self.send(body)

    def trickle(self, data, interval=1.0):
        """Writes `data` one byte every `interval` seconds in a thread (mutes the
        automatic answers, which would corrupt the stream). Stops at close()."""
        self.mute()

        def run():
            for i in range(len(data)):
                if self._stop.is_set() or self.closed:
                    return
                if not self.send_raw(data[i:i + 1]):
                    return
                self.trickled = i + 1
                if self._stop.wait(interval):
                    return

        thread = threading.Thread(target=run, name=f"trickle-{self.endpoint}", daemon=True)
        thread.start()
        return thread

    # -- default behaviour

    @staticmethod
    def ignore_request(peer, m):
        """An on_request for a peer that accepts requests and never answers them."""

    @staticmethod
    def serve_honestly(peer, m):
        f = peer.files.get(m.id)
        if f is None or m.index >= f.count:
            peer.answer(reject(m.id, m.index))
        else:
            peer.answer(chunk(m.id, m.index, f.chunks[m.index]))

    def catalog_payload(self):
        if self.catalog_entries is not None:
            return catalog(self.catalog_entries)
        return catalog([f.catalog_entry() for f in self.files.values()])

    def _respond(self, m):
        if self._muted:
            return
        if m.kind in self.handlers:
            self.handlers[m.kind](self, m)
        elif m.kind == GET_PEERS:
            self.answer(peers([]))
        elif m.kind == GET_CATALOG:
            self.answer(self.catalog_payload())
        elif m.kind == GET_MANIFEST:
            f = self.files.get(m.id)
            self.answer(manifest_data(m.id, self.manifests.get(m.id, f.manifest if f else b"")))
        elif m.kind == GET_CHUNK_MAP:
            f = self.files.get(m.id)
            self.answer(chunk_map(m.id, self.chunk_maps.get(m.id, f.all_bits() if f else b"")))
        elif m.kind == REQUEST:
            self.on_request(self, m)

    # -- receiving

    def _read_payload(self, timeout):
        deadline = time.monotonic() + e2e.seconds(timeout)
        while True:
            if len(self._buffer) >= 4:
                (length,) = struct.unpack(">I", self._buffer[:4])
                if length > MAX_FRAME_BYTES:
                    raise ValueError(f"the node sent a frame of {length} bytes")
                if len(self._buffer) >= 4 + length:
                    body = self._buffer[4:4 + length]
                    self._buffer = self._buffer[4 + length:]
                    return body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.endpoint}: no complete frame from the node within {timeout}s")
            try:
                readable, _, _ = select.select([self.sock], [], [], min(remaining, 0.5))
            except (OSError, ValueError):  # closed under us
                return None
            if not readable:
                if self._stop.is_set():
                    return None
                continue
            try:
                data = self.sock.recv(1 << 20)
            except OSError as exc:
                if _is_reset(exc):
                    return None
                raise
            if not data:
                return None
            self._buffer += data

    def _run(self):
        try:
            while not self._stop.is_set() and self.closed_at is None:
                try:
                    body = self._read_payload(timeout=3600)
                except OSError:
                    body = None
                if body is None:
                    break
                try:
                    m = decode(body)
                except ValueError as exc:
                    self.error = f"undecodable payload from the node ({exc}): {body[:48].hex()}"
                    break
                m.received_at = time.monotonic()
                with self._cond:
                    self.messages.append(m)
                    self._cond.notify_all()
                self._respond(m)
        finally:
            with self._cond:
                if self.closed_at is None:
                    self.closed_at = time.monotonic()
                self._cond.notify_all()

    @property
    def closed(self):
        return self.closed_at is not None

    def received(self, kind=None):
        with self._cond:
            return [m for m in self.messages if kind is None or m.kind == kind]

    def wait_for(self, predicate, timeout, what):
        """Waits until predicate(messages so far) is truthy; returns its value."""
        deadline = time.monotonic() + e2e.seconds(timeout)
        with self._cond:
            while True:
                value = predicate(self.messages)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.endpoint}: timed out after {timeout}s waiting for {what}; "
                                         f"received {self.messages[-8:]}; closed: {self.closed}")
                if self.closed_at is not None:
                    raise AssertionError(f"{self.endpoint}: the connection ended while we waited for {what} "
                                         f"({self.error or 'closed by the node'}); received {self.messages[-8:]}")
                self._cond.wait(min(remaining, 0.5))

    def wait_message(self, kind, timeout=10, where=lambda m: True):
        return self.wait_for(lambda ms: next((m for m in ms if m.kind == kind and where(m)), None), timeout,
                             f"a {TYPE_NAMES[kind]}")

    def wait_closed(self, timeout):
        """Seconds from now until the node closed the connection; fails past `timeout`."""
        start = time.monotonic()
        deadline = start + e2e.seconds(timeout)
        with self._cond:
            while self.closed_at is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"the node kept {self.endpoint} open for more than {timeout}s; "
                                         f"last messages {self.messages[-5:]}")
                self._cond.wait(min(remaining, 0.5))
        return max(0.0, self.closed_at - start)

    def still_open_after(self, seconds):
        """True if the node has not closed the connection after `seconds` more."""
        with self._cond:
            deadline = time.monotonic() + seconds
            while self.closed_at is None and time.monotonic() < deadline:
                self._cond.wait(max(0.01, deadline - time.monotonic()))
            return self.closed_at is None


class FakeListener:
    """Accepts connections on (ip, port 0) and hands each one to `on_accept(sock)`
    in its own thread; counts them. Stops (and closes everything) at close()."""

    def __init__(self, ip, on_accept):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.ip, self.port = self.sock.getsockname()[:2]
        self.address = f"{self.ip}:{self.port}"
        self.accepted = []  # (time, remote endpoint)
        self.peers = []
        self._on_accept = on_accept
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"listener-{self.address}", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, remote = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted.append((time.monotonic(), "%s:%d" % remote[:2]))
            try:
                peer = self._on_accept(conn)
                if peer is not None:
                    with self._lock:
                        self.peers.append(peer)
            except Exception:  # noqa: BLE001 - a broken handshake is the node's business
                conn.close()

    def count(self):
        with self._lock:
            return len(self.accepted)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        with self._lock:
            peers = list(self.peers)
        for peer in peers:
            peer.close()


# ---------------------------------------------------------------- process memory


def proc_status_kib(pid, field):
    """A `VmRSS`/`VmHWM`-style field of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def peak_rss_kib(pid):
    """The highest resident set size the process ever had (VmHWM)."""
    return proc_status_kib(pid, "VmHWM")
