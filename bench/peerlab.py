"""peerlab nodes for the benchmark: start, share, get, and ask their HTTP API."""

import json
import os
import shutil
import threading
import time
import urllib.request

from procs import BenchError, run, status_kib, tail, wait_until


class Node:
    """One `peerlab node` process on IP with kernel-chosen ports (unless given)."""

    def __init__(self, bench, name, ip, peers=(), extra=(), port=0):
        self.bench, self.name = bench, name
        self.dir = os.path.join(bench.tmp, "nodes", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        args = [bench.peerlab, "node", "--dir", self.dir, "--name", name, "--listen", f"{ip}:{port}",
                "--http", f"{ip}:0", "--log-level", "warn", *extra]
        for peer in peers:
            args += ["--peer", peer]
        self.proc = bench.procs.start(f"node-{name}", args)
        self.pid = self.proc.pid
        self.info = None

    def wait_ready(self, timeout=30):
        path = os.path.join(self.dir, "node.json")

        def written():
            with open(path) as f:
                return json.load(f)

        self.info = wait_until(written, timeout, f"node {self.name} to start", proc=self.proc)
        return self

    @property
    def listen(self):
        return self.info["listen"]

    @property
    def http(self):
        return self.info["http"]

    def api(self, path, timeout=10):
        with urllib.request.urlopen(f"http://{self.http}/api/{path}", timeout=timeout) as r:
            return json.load(r)

    def connections(self):
        return self.api("status")["connections"]

    def cli(self, *args, timeout=60):
        return run([self.bench.peerlab, *args, "--dir", self.dir], timeout, f"peerlab {args[0]} on {self.name}")

    def share(self, path, timeout=600):
        content_id = self.cli("share", path, timeout=timeout).strip()
        if len(content_id) != 64:
            raise BenchError(f"peerlab share printed {content_id!r}, not a content id")
        return content_id

    def lists(self, content_id):
        return any(f["id"] == content_id for f in self.api("files"))

    def wait_lists(self, content_id, timeout=30):
        wait_until(lambda: self.lists(content_id), timeout, f"{self.name} to see {content_id[:8]} in the swarm",
                   proc=self.proc, interval=0.02)

    def start_get(self, content_id, output):
        """`peerlab get` in the background; see Get."""
        return Get(self, content_id, output)

    def rss_kib(self):
        return status_kib(self.pid, "VmRSS")

    def peak_rss_kib(self):
        return status_kib(self.pid, "VmHWM")

    def stop(self):
        status = self.bench.procs.stop(self.proc)
        if status != 0:
            raise BenchError(f"node {self.name} exited with status {status} after SIGTERM (the contract says 0); "
                             f"its log ends:\n{tail(self.proc.bench_log)}")
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_all(nodes):
    """Stops nodes side by side: SIGTERM to all first, then each is waited for."""
    for node in nodes:
        node.bench.procs.terminate(node.proc)
    for node in nodes:
        node.stop()


class Get:
    """A running `peerlab get`, timed two ways: until the verified file is in
    place (the node renames it there only once every chunk is verified: a
    thread polls every 2 ms) and until the command exits (its node answers
    it the moment the transfer ends, so this comes a little later)."""

    def __init__(self, node, content_id, output):
        self.node, self.output = node, output
        self.started = time.monotonic()
        self.in_place_at = None
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        args = [node.bench.peerlab, "get", content_id, "--dir", node.dir, "-o", output, "--quiet"]
        self.proc = node.bench.procs.start(f"get-{node.name}", args)

    def _watch(self):
        while not self._stop.is_set() and self.in_place_at is None:
            if os.path.exists(self.output):
                self.in_place_at = time.monotonic()
            time.sleep(0.002)

    def wait(self, timeout):
        """Returns (seconds until in place, seconds until exit)."""
        try:
            self.proc.wait(max(0.1, self.started + timeout - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - TimeoutExpired; report with the node's log
            self.node.bench.procs.stop(self.proc)
            raise BenchError(f"peerlab get on {self.node.name} did not finish within {timeout:.0f} s; "
                             f"the node's log ends:\n{tail(self.node.proc.bench_log)}") from exc
        exited_at = time.monotonic()
        self.node.bench.procs.stop(self.proc)
        self._watcher.join(1)
        self._stop.set()
        if self.proc.returncode != 0:
            raise BenchError(f"peerlab get on {self.node.name} failed (status {self.proc.returncode}): "
                             f"{tail(self.proc.bench_log, 3).strip()}")
        if self.in_place_at is None:
            raise BenchError(f"peerlab get on {self.node.name} exited 0 but {self.output} is not there")
        return self.in_place_at - self.started, exited_at - self.started
