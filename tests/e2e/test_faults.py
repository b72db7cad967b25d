#!/usr/bin/env python3
"""Faults during downloads (GitHub issue 7): a downloader SIGKILLed ten times
at random moments, a seeder that vanishes half-way through a chunk, shared
files truncated, replaced, deleted or rewritten while peers download them,
and a download directory that fills up or turns read-only.

What every case holds peerlab to (SPEC.md, "Data directory"): only verified
bytes reach a download; an interrupted download never leaves a wrong file
under its final name; its partial file and chunk map stay intact; it
completes once the fault is gone, without fetching a verified chunk twice.

"Verified" is read from the download's chunk map on disk
(DIR/downloads/ID.chunks, one byte per chunk, 1 = verified and written),
which is stable once the node is dead; "fetched" from the node's
`--trace` log (every `request` it sends) and GET /api/transfers/ID. The
same log shows every `chunk` received: none may arrive twice except in the
endgame (issue 15), checked where a run's whole log is at hand.

Each test is its own ctest entry (e2e.faults.<case>) and runs side by side
with the others. This file owns the loopback addresses 127.0.12.100 and up
(test_http_abuse.py has 127.0.12.1-49). The tmpfs cases need root (mount);
without it they skip, saying so.
"""

import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

KiB = 1024
MiB = e2e.MiB
CHUNK = 256 * KiB  # every file here is below 8 GiB: docs/protocol.md §4.1
CHUNK_FRAME_OVERHEAD = 46  # type, flag, id, index, length (docs/protocol.md §5.11)
REQUEST_TIMEOUT_S = 15  # swarm_settings::request_timeout
FILE_CHECK_INTERVAL_S = 10  # swarm_settings::file_check_interval
GET_DEADLINE_S = 60
CLI_FAILS_DEADLINE_S = 20
RETRY_DEADLINE_S = 15  # a retry after a fault, for a download of a few MiB at 1 MiB/s or more
KILLS = 10

IPS = {
    "sigkill": ("127.0.12.100", "127.0.12.101"),                                   # seeder, sink
    "vanish": ("127.0.12.110", "127.0.12.111", "127.0.12.112", "127.0.12.113"),   # seeder, rescuer, sink, relay
    "partition": ("127.0.12.115", "127.0.12.116", "127.0.12.117", "127.0.12.118"),
    "changed": ("127.0.12.120", "127.0.12.121", "127.0.12.122"),                   # seeder, rescuer, sink
    "same_stamp": ("127.0.12.125", "127.0.12.126", "127.0.12.127"),
    "same_stamp_http": ("127.0.12.128",),
    "full": ("127.0.12.130", "127.0.12.131"),
    "read_only": ("127.0.12.140", "127.0.12.141"),
    "read_only_restart": ("127.0.12.145", "127.0.12.146"),
}


# ---------------------------------------------------------------- helpers


def chunk_map_on_disk(node, file_id):
    """The chunks the node's chunk map marks verified (bytes equal to 1)."""
    path = os.path.join(node.dir, "downloads", f"{file_id}.chunks")
    with open(path, "rb") as f:
        return {i for i, b in enumerate(f.read()) if b == 1}


def wrong_chunks(path, original, chunks):
    """Indices among `chunks` whose bytes in the file at `path` differ from `original`."""
    bad = []
    with open(path, "rb") as f:
        for i in sorted(chunks):
            f.seek(i * CHUNK)
            if f.read(CHUNK) != original[i * CHUNK:(i + 1) * CHUNK]:
                bad.append(i)
    return bad


def requested_in_log(log_text, file_id):
    """Chunk indices the node asked for, from its --trace log lines `... -> PEER  request ID8 #N`."""
    pattern = re.compile(r" -> \S+\s+request " + file_id[:8] + r" #(\d+)")
    return {int(m.group(1)) for m in pattern.finditer(log_text)}


def _TRACED(file_id):
    """--trace lines `LOCAL -> PEER  request ID8 #N` and `LOCAL <- PEER  chunk ID8 #N, ...`."""
    return re.compile(r" (->|<-) \S+\s+(request|chunk) " + file_id[:8] + r" #(\d+)")


def received_in_log(log_text, file_id):
    """{chunk index: times received}, from a --trace log."""
    received = {}
    for m in _TRACED(file_id).finditer(log_text):
        if m.group(1) == "<-" and m.group(2) == "chunk":
            received[int(m.group(3))] = received.get(int(m.group(3)), 0) + 1
    return received


def received_twice_outside_the_endgame(log_text, file_id, total, resumed=()):
    """From a --trace log: chunks received more than once whose second
    request was not made in the endgame (docs/protocol.md §8.4: only once
    every missing chunk is already requested may one be asked of a second
    peer). Returns {index: times received} of those; empty is good."""
    received, requested, endgame_requests = {}, set(), set()
    for m in _TRACED(file_id).finditer(log_text):
        index = int(m.group(3))
        if m.group(2) == "chunk" and m.group(1) == "<-":
            received[index] = received.get(index, 0) + 1
        elif m.group(2) == "request" and m.group(1) == "->":
            if index in requested:
                missing = set(range(total)) - set(resumed) - set(received)
                if missing <= requested:
                    endgame_requests.add(index)
            requested.add(index)
    return {i: n for i, n in received.items() if n > 1 and i not in endgame_requests}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_get(url):
    """(status, body) of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=e2e.seconds(10)) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def random_bytes(size, seed):
    return random.Random(seed).randbytes(size)


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


class Relay(threading.Thread):
    """A TCP relay from a downloader to a seeder that follows the seeder's
    frames and cuts the stream half-way through its `cut_at`-th chunk frame.

    `on_cut(chunk_index)` runs at that moment (e.g. SIGKILL the seeder).
    mode "close": then both sockets are closed, as when the seeder's process
    dies. mode "blackhole": nothing more is forwarded either way and the
    sockets stay open, as when the seeder's network vanishes.
    Upstream connections come from `source_ip`, an address where nothing
    listens, so the seeder cannot reach the downloader except through here.
    """

    def __init__(self, listen_ip, target, source_ip, cut_at, mode, on_cut):
        super().__init__(daemon=True)
        self.target = e2e.split_endpoint(target)
        self.source_ip = source_ip
        self.cut_at, self.mode, self.on_cut = cut_at, mode, on_cut
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((listen_ip, 0))
        self.listener.listen(8)
        self.address = "%s:%d" % self.listener.getsockname()
        self.chunk_frames = 0
        self.cut_index = None
        self.cut_done = threading.Event()
        self.stopping = False
        self.pairs = []  # [downstream, upstream, parser state]
        self.held = []   # sockets kept open after a blackhole cut

    def stop(self):
        self.stopping = True
        self.join(5)
        for s in [self.listener] + [s for p in self.pairs for s in p[:2]] + self.held:
            try:
                s.close()
            except OSError:
                pass

    def run(self):
        while not self.stopping:
            sockets = [self.listener] + [s for p in self.pairs for s in p[:2]]
            try:
                readable, _, _ = select.select(sockets, [], [], 0.05)
            except (OSError, ValueError):
                continue
            for s in readable:
                if s is self.listener:
                    self._accept()
                    continue
                pair = next((p for p in self.pairs if s in p[:2]), None)
                if pair is None:
                    continue
                try:
                    data = s.recv(256 * KiB)
                except OSError:
                    data = b""
                if not data:
                    self._drop(pair)
                    continue
                if s is pair[0]:
                    self._send(pair, pair[1], data)
                else:
                    self._from_seeder(pair, data)

    def _accept(self):
        down, _ = self.listener.accept()
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.bind((self.source_ip, 0))
        up.settimeout(2)
        try:
            up.connect(self.target)
        except OSError:  # the seeder is gone: the downloader sees its dial fail
            up.close()
            down.close()
            return
        up.settimeout(None)
        self.pairs.append([down, up, {"buffer": b"", "left": 0, "type": None, "header": b""}])

    def _send(self, pair, s, data):
        try:
            s.sendall(data)
        except OSError:
            self._drop(pair)

    def _drop(self, pair):
        if pair in self.pairs:
            self.pairs.remove(pair)
        for s in pair[:2]:
            s.close()

    def _from_seeder(self, pair, data):
        """Forwards seeder bytes frame by frame, cutting inside the chosen chunk frame."""
        state = pair[2]
        out = b""
        while data:
            if state["left"] == 0:  # a frame header (4 bytes) and its type byte
                need = 5 - len(state["header"])
                state["header"] += data[:need]
                out += data[:need]
                data = data[need:]
                if len(state["header"]) < 5:
                    break
                (length,) = struct.unpack(">I", state["header"][:4])
                state["type"] = state["header"][4]
                state["left"] = length - 1
                state["payload"] = state["header"][4:]
                state["header"] = b""
                if state["type"] == 13:
                    self.chunk_frames += 1
                continue
            take = data[:state["left"]]
            if state["type"] == 13 and self.chunk_frames == self.cut_at and not self.cut_done.is_set():
                # Payload: type, flag, id (32), index (u32 LE), length (u64 LE), data.
                seen = len(state["payload"])
                half = CHUNK_FRAME_OVERHEAD + CHUNK // 2
                if seen + len(take) >= half:
                    take = take[:half - seen]
                    out += take
                    state["payload"] += take
                    self._send(pair, pair[0], out)
                    self.cut_index = struct.unpack_from("<I", state["payload"], 34)[0]
                    self.on_cut(self.cut_index)
                    self.cut_done.set()
                    if self.mode == "close":
                        self._drop(pair)
                    else:
                        self.pairs.remove(pair)
                        self.held.extend(pair[:2])
                    return
                state["payload"] += take
            elif state["type"] == 13 and len(state["payload"]) < 38:
                state["payload"] += take[:38]
            out += take
            state["left"] -= len(take)
            data = data[len(take):]
        if out:
            self._send(pair, pair[0], out)


class FaultTest(e2e.NodeTestCase):
    # ------------------------------------------------------------ plumbing

    def setUp(self):
        super().setUp()
        self.mounts = []
        self.immutable = []
        # Runs before NodeTestCase's cleanup (LIFO): nodes die first, then the mounts go.
        self.addCleanup(self._release_mounts)

    def _release_mounts(self):
        for process in self.processes:
            process.kill()
        for node in self.nodes:
            node.kill()
        for path in self.immutable:
            subprocess.run(["chattr", "-i", path], capture_output=True)
        for path in reversed(self.mounts):
            if subprocess.run(["umount", path], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", path], capture_output=True)

    def mount_tmpfs(self, path, size):
        """A tmpfs of `size` bytes at path; skips the test (saying why) if mounting is not allowed."""
        os.makedirs(path, exist_ok=True)
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root (not root here)")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                                capture_output=True, text=True)
        if result.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        self.mounts.append(path)
        return path

    def remount(self, path, options):
        result = subprocess.run(["mount", "-o", f"remount,{options}", path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, f"mount -o remount,{options} {path}: {result.stderr.strip()}")

    def make_immutable(self, path):
        result = subprocess.run(["chattr", "+i", path], capture_output=True, text=True)
        if result.returncode != 0:
            self.skipTest(f"chattr +i is not supported here: {result.stderr.strip()}")
        self.immutable.append(path)

    def make_mutable(self, path):
        subprocess.run(["chattr", "-i", path], check=True)
        self.immutable.remove(path)

    def original(self, name, size, seed):
        data = random_bytes(size, seed)
        return write_bytes(os.path.join(self.tmp, name), data), data

    def out_dir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def start_get(self, node, file_id, output):
        status, body = node.post("/api/get", {"id": file_id, "output": output})
        self.assertEqual(status, 200, f"POST /api/get on {node.name}: {body}")

    def wait_chunks(self, node, file_id, at_least, timeout=30, what=None):
        def enough():
            node.assert_alive()
            t = node.transfer(file_id)
            if t["state"] == "failed":
                raise e2e.GiveUp(f"the download failed: {t['error']}")
            return t if t["chunks_done"] >= at_least else None
        return e2e.wait_until(enough, timeout, what or f"{node.name} to have {at_least} chunks", interval=0.02)

    def wait_state(self, node, file_id, state, timeout):
        def reached():
            node.assert_alive()
            t = node.transfer(file_id)
            return t if t["state"] == state else None
        return e2e.wait_until(reached, timeout, f"the transfer on {node.name} to be {state}")

    def assert_one_sentence(self, result, pattern, what):
        self.assertNotEqual(result.returncode, 0, f"{what}: must fail")
        lines = result.stderr.strip().splitlines()
        self.assertTrue(lines, f"{what}: must say why on stderr")
        self.assertRegex(lines[-1], r"^peerlab: \S", f"{what}: one error sentence: {result.stderr!r}")
        self.assertRegex(lines[-1], pattern, f"{what}: the sentence names the cause")
        self.assertNotRegex(result.stderr, r"terminate called|what\(\)|Aborted|Segmentation", what)

    def assert_partial_intact(self, node, file_id, output, original, total, what):
        """No file under the final name; the partial file and chunk map there, holding only verified bytes."""
        self.assertFalse(os.path.exists(output), f"{what}: nothing may appear under the final name")
        partial = output + ".peerlab-partial"
        self.assertTrue(os.path.exists(partial), f"{what}: the partial file must stay: {os.listdir(os.path.dirname(output))}")
        marked = chunk_map_on_disk(node, file_id)
        self.assertLess(len(marked), total + 1, what)
        self.assertEqual(wrong_chunks(partial, original, marked), [], f"{what}: chunks marked verified hold other bytes")
        return marked

    def assert_completed(self, node, file_id, output, original, what):
        result = node.get(file_id, output, quiet=True, timeout=GET_DEADLINE_S)
        self.assertEqual(result.returncode, 0, f"{what}: get must complete: {result.stderr.strip()!r}")
        with open(output, "rb") as f:
            self.assertTrue(f.read() == original, f"{what}: the completed file must be the original")
        self.assertFalse(os.path.exists(output + ".peerlab-partial"), f"{what}: the partial file is renamed away")
        t = node.transfer(file_id)
        self.assertEqual(t["state"], "complete", what)
        return t

    # ------------------------------------------------------------ SIGKILL ×10

    def test_sigkill_ten_times_at_random_moments_then_complete_verifying_no_chunk_twice(self):
        """The downloader is SIGKILLed ten times, each when a randomly chosen
        number of chunks is verified (some right after a restart). Between
        runs: the chunk map on disk only grows, marks only correct bytes, and
        the next run resumes exactly those chunks and never requests one of
        them again. The last run completes the correct file."""
        seed = int(os.environ.get("PEERLAB_E2E_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        sys.stderr.write(f"\nseed {seed} (PEERLAB_E2E_SEED={seed} repeats this run)\n")
        seeder_ip, sink_ip = IPS["sigkill"]
        size = 24 * MiB
        total = size // CHUNK
        path, original = self.original("dataset.bin", size, seed)
        # 6 MiB/s: 24 chunks a second, so every run moves a few chunks.
        seeder = self.node("seeder", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--up-limit", "6MiB"]).start()
        file_id = seeder.share(path)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[seeder.listen], extra=["--trace"]).start()
        output = os.path.join(self.out_dir("sink-out"), "dataset.bin")
        self.start_get(sink, file_id, output)

        verified = set()  # on disk after the previous kill
        history = []
        for run in range(1, KILLS + 1):
            # The moment: a few more chunks verified, or none at all (right after a
            # restart; the first run waits for one chunk, so the download exists).
            step = 0 if run > 1 and rng.random() < 0.2 else rng.randint(1, 10)
            target = min(len(verified) + step, total - 12)
            seen = self.wait_chunks(sink, file_id, target, what=f"run {run}: {target} chunks verified")
            seen_verified = {i for i, c in enumerate(seen.get("chunk_map", "")) if c == "1"}
            sink.stop(signal.SIGKILL)
            log = sink.log()
            on_disk = chunk_map_on_disk(sink, file_id)
            requested = requested_in_log(log, file_id)
            history.append((run, target, len(on_disk), len(requested)))
            self.assertLessEqual(verified, on_disk, f"run {run}: chunks verified before were lost")
            self.assertLessEqual(seen_verified, on_disk, f"run {run}: chunks the API showed verified were not on disk")
            self.assertEqual(requested & verified, set(),
                             f"run {run}: requested again chunks verified in an earlier run")
            self.assertEqual(received_twice_outside_the_endgame(log, file_id, total, verified), {},
                             f"run {run}: chunks received twice outside the endgame (issue 15)")
            self.assert_partial_intact(sink, file_id, output, original, total, f"after kill {run}")
            verified = on_disk

            sink.start()
            t = sink.transfer(file_id)
            self.assertEqual(t["chunks_resumed"], len(verified),
                             f"restart {run}: resumes exactly the {len(verified)} chunks on disk: {t}")
            self.assertIn(t["state"], ("downloading", "complete"), t)

        last = self.assert_completed(sink, file_id, output, original, "the last run")
        requested = requested_in_log(sink.log(), file_id)
        sys.stderr.write(f"(run, kill target, verified on disk, requested in the run): {history}; "
                         f"last run: resumed {last['chunks_resumed']}, fetched {last['chunks_fetched']}\n")
        self.assertEqual(requested & verified, set(), "the last run requested chunks verified before")
        self.assertEqual(received_twice_outside_the_endgame(sink.log(), file_id, total, verified), {},
                         "the last run received chunks twice outside the endgame (issue 15)")
        self.assertEqual(set(received_in_log(sink.log(), file_id)), set(range(total)) - verified,
                         "the last run received each missing chunk")
        self.assertEqual(last["chunks_resumed"], len(verified), last)
        self.assertEqual(last["chunks_fetched"], total - len(verified), f"each missing chunk fetched once: {last}")
        self.assertEqual(last["chunks_rejected"], 0, last)
        self.assertFalse(os.path.exists(os.path.join(sink.dir, "downloads", f"{file_id}.chunks")),
                         "the chunk map goes once the download is complete")

    # ------------------------------------------------------------ the seeder vanishes mid-chunk

    def test_seeder_killed_mid_chunk_then_another_peer_completes_the_file(self):
        """The only seeder is SIGKILLed when half of a chunk has reached the
        downloader (a relay cuts the stream there). The half chunk is never
        used; the download waits, intact; a new seeder finishes it."""
        seeder_ip, rescuer_ip, sink_ip, relay_ip = IPS["vanish"]
        size = 4 * MiB
        total = size // CHUNK
        path, original = self.original("vanish.bin", size, 11)
        seeder = self.node("vanishing", f"{seeder_ip}:0", f"{seeder_ip}:0").start()
        file_id = seeder.share(path)
        relay = Relay(sink_ip, seeder.listen, relay_ip, cut_at=3, mode="close",
                      on_cut=lambda index: seeder.proc.kill())
        relay.start()
        self.addCleanup(relay.stop)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[relay.address]).start()
        output = os.path.join(self.out_dir("sink-out"), "vanish.bin")
        self.start_get(sink, file_id, output)

        self.assertTrue(relay.cut_done.wait(e2e.seconds(20)), "the relay never saw a third chunk")
        cut = relay.cut_index
        seeder.proc.wait(5)
        e2e.wait_until(lambda: not sink.peers(), 10, "the sink to notice the seeder is gone")
        t = sink.transfer(file_id)
        self.assertEqual((t["state"], t["chunks_rejected"]), ("downloading", 0), f"waiting, nothing rejected: {t}")
        self.assertEqual(t["chunk_map"][cut], "0", f"chunk {cut} arrived only half: it must not count: {t}")
        marked = self.assert_partial_intact(sink, file_id, output, original, total, "after the seeder vanished")
        self.assertNotIn(cut, marked, f"chunk {cut} (cut in half) must not be marked verified")
        self.assertLess(len(marked), total)

        rescuer_copy = write_bytes(os.path.join(self.out_dir("rescuer-files"), "vanish.bin"), original)
        rescuer = self.node("rescuer", f"{rescuer_ip}:0", f"{rescuer_ip}:0", peers=[sink.listen]).start()
        self.assertEqual(rescuer.share(rescuer_copy), file_id)
        t = self.assert_completed(sink, file_id, output, original, "after a new seeder came")
        self.assertEqual(t["chunks_rejected"], 0, t)
        self.assertEqual(t["chunk_sources"][cut], "rescuer", f"chunk {cut} came whole from the new seeder: {t}")
        self.assertEqual(t["chunks_fetched"], total, t)

    def test_seeder_network_vanishes_mid_chunk_and_its_chunks_are_asked_elsewhere(self):
        """Half-way through a chunk, nothing more comes from one seeder (no
        FIN, no RST: a network that vanished). Its requests time out and go
        to the other seeder; the file completes, correct, within the request
        timeout plus slack."""
        seeder_ip, other_ip, sink_ip, relay_ip = IPS["partition"]
        size = 4 * MiB
        total = size // CHUNK
        path, original = self.original("partition.bin", size, 12)
        # One connection at most: the relay's. Through peer exchange it would
        # learn of `other`, then of the sink's own address, and dial around the relay.
        seeder = self.node("silent", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--max-peers", "1"]).start()
        file_id = seeder.share(path)
        other_copy = write_bytes(os.path.join(self.out_dir("other-files"), "partition.bin"), original)
        # Slow, so the silent seeder gets requests too; it stays slower than the cut takes.
        other = self.node("other", f"{other_ip}:0", f"{other_ip}:0", extra=["--up-limit", "1MiB"]).start()
        self.assertEqual(other.share(other_copy), file_id)
        relay = Relay(sink_ip, seeder.listen, relay_ip, cut_at=2, mode="blackhole", on_cut=lambda index: None)
        relay.start()
        self.addCleanup(relay.stop)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[relay.address, other.listen],
                         extra=["--trace"]).start()
        e2e.wait_until(lambda: len(sink.peers()) == 2, 10, "the sink to reach both seeders")
        e2e.wait_until(lambda: (sink.file_entry(file_id) or {}).get("holders") == 2, 10, "both to offer the file")
        output = os.path.join(self.out_dir("sink-out"), "partition.bin")
        started = time.monotonic()
        self.start_get(sink, file_id, output)
        self.assertTrue(relay.cut_done.wait(e2e.seconds(20)), "the relay never saw a second chunk")
        cut = relay.cut_index
        t = self.assert_completed(sink, file_id, output, original, "with one seeder silent mid-chunk")
        took = time.monotonic() - started
        sys.stderr.write(f"\ncut chunk {cut}; complete in {took:.1f}s; sources {t['sources']}\n")
        self.assertEqual(t["chunks_rejected"], 0, t)
        self.assertEqual(t["chunk_sources"][cut], "other", f"the cut chunk {cut} came from the other seeder: {t}")
        self.assertLess(took, e2e.seconds(REQUEST_TIMEOUT_S + 20), "the silent seeder's chunks went elsewhere in time")
        self.assertEqual(t["chunks_fetched"], total, t)
        self.assertEqual(received_twice_outside_the_endgame(sink.log(), file_id, total), {},
                         "chunks received twice outside the endgame (issue 15)")
        self.assertEqual(set(received_in_log(sink.log(), file_id)), set(range(total)), "every chunk was received")

    # ------------------------------------------------------------ shared files changing under the swarm

    def test_shared_files_truncated_replaced_or_deleted_are_not_served_changed(self):
        """While a peer downloads three files, the seeder's copies are
        truncated, replaced (a new file renamed over it) and deleted. The
        seeder must not send the changed bytes (nothing is rejected by the
        downloader), stop offering them over P2P and HTTP, and a second
        seeder with the originals completes all three."""
        seeder_ip, rescuer_ip, sink_ip = IPS["changed"]
        size = 6 * MiB
        total = size // CHUNK
        seeder = self.node("editor", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--up-limit", "3MiB"]).start()
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[seeder.listen]).start()
        files = {}
        for seed, kind in enumerate(("truncated", "replaced", "deleted"), start=20):
            data = random_bytes(size, seed)
            shared = write_bytes(os.path.join(self.out_dir("editor-files"), f"{kind}.bin"), data)
            file_id = seeder.share(shared)
            files[kind] = {"data": data, "shared": shared, "id": file_id,
                           "output": os.path.join(self.out_dir("sink-out"), f"{kind}.bin")}
        e2e.wait_until(lambda: all(sink.file_entry(f["id"]) for f in files.values()), 10, "the sink to see the files")
        for f in files.values():
            self.start_get(sink, f["id"], f["output"])
        for f in files.values():
            self.wait_chunks(sink, f["id"], 2)

        # The edits, all at once.
        with open(files["truncated"]["shared"], "r+b") as fh:
            fh.truncate(size // 2)
        replacement = write_bytes(os.path.join(self.tmp, "replacement.bin"), random_bytes(size, 99))
        os.replace(replacement, files["replaced"]["shared"])
        os.remove(files["deleted"]["shared"])

        def no_longer_offered():
            entries = {e["id"]: e for e in seeder.api("/api/files")}
            return all((entries.get(f["id"]) or {}).get("local") != "complete" for f in files.values())

        e2e.wait_until(no_longer_offered, FILE_CHECK_INTERVAL_S + 5, "the seeder to stop sharing the edited files")
        for kind, f in files.items():
            with self.subTest(f"HTTP, {kind}"):
                status, _ = http_get(f"http://{seeder.http}/files/{f['id']}")
                self.assertEqual(status, 404, f"{kind}: GET /files/ID must not serve the edited file")
        for kind, f in files.items():
            with self.subTest(f"P2P, {kind}"):
                t = sink.transfer(f["id"])
                self.assertEqual(t["chunks_rejected"], 0, f"{kind}: the seeder sent bytes that failed verification")
                self.assertEqual(t["state"], "downloading", f"{kind}: {t}")
                self.assert_partial_intact(sink, f["id"], f["output"], f["data"], total, kind)

        rescuer = self.node("rescuer", f"{rescuer_ip}:0", f"{rescuer_ip}:0", peers=[sink.listen]).start()
        for kind, f in files.items():
            copy = write_bytes(os.path.join(self.out_dir("rescuer-files"), f"{kind}.bin"), f["data"])
            self.assertEqual(rescuer.share(copy), f["id"])
        for kind, f in files.items():
            t = self.assert_completed(sink, f["id"], f["output"], f["data"], f"{kind}, from the second seeder")
            self.assertEqual(t["chunks_rejected"], 0, t)

    def test_shared_file_rewritten_in_place_with_its_old_timestamp_is_caught_by_verification(self):
        """The seeder's file is overwritten in place with other bytes and its
        mtime put back: size, mtime and inode unchanged. Either the seeder
        notices (and stops offering it) or it serves the new bytes and the
        downloader rejects every such chunk (and drops the seeder). Either
        way only verified bytes reach the download, which completes, the
        original, from another seeder."""
        seeder_ip, rescuer_ip, sink_ip = IPS["same_stamp"]
        size = 6 * MiB
        total = size // CHUNK
        path, original = self.original("stamp.bin", size, 30)
        seeder = self.node("forger", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--up-limit", "2MiB"]).start()
        file_id = seeder.share(path)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[seeder.listen]).start()
        output = os.path.join(self.out_dir("sink-out"), "stamp.bin")
        self.start_get(sink, file_id, output)
        self.wait_chunks(sink, file_id, 3)
        rewrite_keeping_stamp(path, random_bytes(size, 31))

        def caught():
            accepted = wrong_chunks(output + ".peerlab-partial", original, chunk_map_on_disk(sink, file_id))
            if accepted:
                raise e2e.GiveUp(f"the sink accepted rewritten bytes as chunks {accepted}")
            t = sink.transfer(file_id)
            if t["state"] == "complete":
                raise e2e.GiveUp(f"the sink completed the download from rewritten bytes: {t}")
            if t["chunks_rejected"] >= 1:
                return "rejected by the downloader"
            offered = {e["id"]: e for e in seeder.api("/api/files")}.get(file_id) or {}
            return "refused by the seeder" if offered.get("local") != "complete" else None

        how = e2e.wait_until(caught, 15, "the rewritten bytes to be refused by the seeder or rejected by the sink")
        sys.stderr.write(f"\nthe rewrite was {how}\n")
        if how == "rejected by the downloader":
            e2e.wait_until(lambda: seeder.id not in sink.peer_by_id(), 10, "the sink to drop the seeder")
        t = sink.transfer(file_id)
        self.assertEqual(t["state"], "downloading", t)
        marked = self.assert_partial_intact(sink, file_id, output, original, total, "after the rewrite")
        self.assertLess(len(marked), total)

        copy = write_bytes(os.path.join(self.out_dir("rescuer-files"), "stamp.bin"), original)
        rescuer = self.node("rescuer", f"{rescuer_ip}:0", f"{rescuer_ip}:0", peers=[sink.listen]).start()
        self.assertEqual(rescuer.share(copy), file_id)
        t = self.assert_completed(sink, file_id, output, original, "from the honest seeder")
        self.assertEqual(t["chunks_resumed"] + t["chunks_fetched"], total, t)

    def test_http_does_not_serve_a_file_rewritten_with_its_old_timestamp(self):
        """GET /files/ID promises the verified file (ETag = content id). A
        file rewritten in place with its mtime put back must not be served
        as that content: HTTP clients cannot verify chunks themselves."""
        (node_ip,) = IPS["same_stamp_http"]
        size = 1 * MiB
        path, original = self.original("http-stamp.bin", size, 40)
        node = self.node("server", f"{node_ip}:0", f"{node_ip}:0").start()
        file_id = node.share(path)
        rewrite_keeping_stamp(path, random_bytes(size, 41))
        status, body = http_get(f"http://{node.http}/files/{file_id}")
        self.assertFalse(status == 200 and body != original,
                         "GET /files/ID served bytes that are not the content id's file (ETag "
                         f"\"{file_id[:12]}…\"): the change kept size, mtime and inode, but not ctime")

    # ------------------------------------------------------------ the download directory fills up

    def test_download_directory_full_fails_clearly_and_completes_once_space_returns(self):
        """The download directory (a small tmpfs) fills up half-way: `get`
        fails with one sentence about space, the node stays up and idle, the
        partial file and chunk map stay with only verified chunks. Space is
        freed and `get` run again at once: it completes, resuming every
        verified chunk and fetching each missing one once."""
        seeder_ip, sink_ip = IPS["full"]
        size = 4 * MiB
        total = size // CHUNK
        path, original = self.original("full.bin", size, 50)
        # 1 MiB/s: chunks the sink asked for are still coming when the user retries.
        seeder = self.node("seeder", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--up-limit", "1MiB"]).start()
        file_id = seeder.share(path)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[seeder.listen]).start()
        disk = self.mount_tmpfs(os.path.join(self.tmp, "disk"), 6 * MiB)
        filler = write_bytes(os.path.join(disk, "other-stuff.bin"), b"\0" * (4 * MiB + 512 * KiB))
        output = os.path.join(disk, "full.bin")
        e2e.wait_until(lambda: sink.file_entry(file_id), 10, "the sink to see the file")

        result = sink.start_get(file_id, output, quiet=True)
        self.processes.append(result)
        result = result.wait(CLI_FAILS_DEADLINE_S + 10)
        self.assert_one_sentence(result, r"(?i)space|full", "get into a full directory")
        t = sink.transfer(file_id)
        self.assertEqual(t["state"], "failed", t)
        self.assertRegex(t["error"] or "", r"(?i)no space left|full", t)
        sink.assert_alive()
        cpu_before, wall_before = cpu_seconds(sink.pid), time.monotonic()
        marked = self.assert_partial_intact(sink, file_id, output, original, total, "directory full")
        self.assertTrue(0 < len(marked) < total, f"{len(marked)} of {total} verified: the disk filled half-way")
        self.assertEqual(t["chunks_done"], len(marked), f"the API and the chunk map agree: {t}")

        os.remove(filler)  # space returns; the user tries again at once
        retried = time.monotonic()
        after = self.assert_completed(sink, file_id, output, original, "after space returned")
        # What is missing takes ~2.5 s at the seeder's 1 MiB/s: no long stall either.
        self.assertLess(time.monotonic() - retried, e2e.seconds(RETRY_DEADLINE_S), "the retry stalled")
        self.assertEqual(after["chunks_resumed"], len(marked), f"resumes the {len(marked)} verified chunks: {after}")
        self.assertEqual(after["chunks_fetched"], total - len(marked), f"each missing chunk fetched once: {after}")
        busy = (cpu_seconds(sink.pid) - cpu_before) / max(time.monotonic() - wall_before, 0.1)
        self.assertLess(busy, 0.9, "the node must not spin after a write error")

    # ------------------------------------------------------------ the download directory turns read-only

    def test_read_only_download_directory_fails_clearly_and_completes_once_writable(self):
        """A read-only download directory (a tmpfs mounted ro): `get` fails
        with one sentence and leaves nothing. Made writable: the download
        runs; made unwritable again before the end (chattr +i: a mount
        cannot turn ro while the partial file is open for writing), the
        rename into place fails with one sentence, every verified chunk
        intact. Writable again: `get` completes without fetching anything."""
        seeder_ip, sink_ip = IPS["read_only"]
        size = 4 * MiB
        total = size // CHUNK
        path, original = self.original("ro.bin", size, 60)
        seeder = self.node("seeder", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--up-limit", "2MiB"]).start()
        file_id = seeder.share(path)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[seeder.listen]).start()
        disk = self.mount_tmpfs(os.path.join(self.tmp, "disk"), 16 * MiB)
        out = os.path.join(disk, "out")
        os.makedirs(out)
        output = os.path.join(out, "ro.bin")
        e2e.wait_until(lambda: sink.file_entry(file_id), 10, "the sink to see the file")

        self.remount(disk, "ro")
        result = sink.get(file_id, output, quiet=True, timeout=CLI_FAILS_DEADLINE_S + 10)
        self.assert_one_sentence(result, r"(?i)read-only", "get into a read-only directory")
        self.assertEqual(os.listdir(out), [], "a refused download leaves nothing behind")
        self.remount(disk, "rw")

        self.start_get(sink, file_id, output)  # the node starts over; the CLI then follows it
        get = sink.start_get(file_id, output, quiet=True)
        self.processes.append(get)
        self.wait_chunks(sink, file_id, 2)
        self.make_immutable(out)
        result = get.wait(CLI_FAILS_DEADLINE_S + 10)
        self.assert_one_sentence(result, r"(?i)not permitted|read-only|permission", "get whose directory froze")
        t = sink.transfer(file_id)
        self.assertEqual(t["state"], "failed", t)
        marked = self.assert_partial_intact(sink, file_id, output, original, total, "directory frozen")
        self.assertEqual(len(marked), total, "every chunk was verified; only the rename failed")

        self.make_mutable(out)
        after = self.assert_completed(sink, file_id, output, original, "once writable again")
        self.assertEqual((after["chunks_resumed"], after["chunks_fetched"]), (total, 0), after)

    def test_restart_with_a_read_only_download_directory_keeps_the_partial_download(self):
        """The node stops half-way through a download; it restarts while the
        download directory is read-only (a tmpfs remounted ro). It must say
        so and keep the download; once the directory is writable, `get`
        resumes every verified chunk instead of starting over."""
        seeder_ip, sink_ip = IPS["read_only_restart"]
        size = 6 * MiB
        total = size // CHUNK
        path, original = self.original("rorestart.bin", size, 70)
        seeder = self.node("seeder", f"{seeder_ip}:0", f"{seeder_ip}:0", extra=["--up-limit", "3MiB"]).start()
        file_id = seeder.share(path)
        sink = self.node("sink", f"{sink_ip}:0", f"{sink_ip}:0", peers=[seeder.listen]).start()
        disk = self.mount_tmpfs(os.path.join(self.tmp, "disk"), 16 * MiB)
        output = os.path.join(disk, "rorestart.bin")
        self.start_get(sink, file_id, output)
        self.wait_chunks(sink, file_id, total // 3)
        self.assertEqual(sink.stop(signal.SIGTERM), 0)
        marked = self.assert_partial_intact(sink, file_id, output, original, total, "after the stop")
        self.assertTrue(0 < len(marked) < total, marked)

        self.remount(disk, "ro")
        sink.start()
        with self.subTest("the node says why it cannot carry on"):
            def told():
                sink.assert_alive()
                try:
                    t = sink.transfer(file_id)
                except urllib.error.HTTPError:
                    t = None
                if t and re.search(r"(?i)read-only", t.get("error") or ""):
                    return t
                return None
            e2e.wait_until(told, 10, "GET /api/transfers/ID to show the download failed on a read-only directory")
        self.remount(disk, "rw")
        after = self.assert_completed(sink, file_id, output, original, "once writable again")
        self.assertEqual(after["chunks_resumed"], len(marked),
                         f"the {len(marked)} verified chunks on disk must be resumed, not fetched again: {after}")
        self.assertEqual(after["chunks_fetched"], total - len(marked), after)


def rewrite_keeping_stamp(path, data):
    """Overwrites the file in place (same inode, same size) and puts its atime and mtime back."""
    st = os.stat(path)
    assert len(data) == st.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


if __name__ == "__main__":
    e2e.main()
