"""BitTorrent baseline: a .torrent made by mktorrent, our tracker (tracker.py),
one aria2c seeder and aria2c leechers, each bound to its own loopback address
with DHT, LPD and IPv6 off so nothing leaves 127.0.0.0/8."""

import os
import shutil
import sys
import time
import urllib.request

from nginx import free_port
from procs import BenchError, run, tail, wait_until

PIECE_LENGTH_LOG2 = 20  # 1 MiB pieces: what common clients pick for files of this size

# Options every aria2c shares: loopback only, no preallocation (like curl), quiet.
COMMON = ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--disable-ipv6=true",
          "--file-allocation=none", "--summary-interval=0", "--console-log-level=warn",
          "--allow-overwrite=true", "--auto-file-renaming=false", "--bt-save-metadata=false",
          "--check-certificate=false", "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5"]


class Tracker:
    def __init__(self, bench, ip):
        self.bench = bench
        port_file = os.path.join(bench.tmp, f"tracker-{ip}.port")
        if os.path.exists(port_file):
            os.remove(port_file)  # the last tracker's on this address
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = bench.procs.start("tracker", [sys.executable, os.path.join(here, "tracker.py"), ip, port_file])

        def port():
            with open(port_file) as f:
                return int(f.read())

        self.base = f"http://{ip}:{wait_until(port, 10, 'the tracker to start', proc=self.proc)}"
        self.announce = self.base + "/announce"

    def seeders(self):
        with urllib.request.urlopen(self.base + "/seeders", timeout=5) as r:
            return int(r.read())

    def stop(self):
        self.bench.procs.stop(self.proc)


def make_torrent(bench, path, announce):
    torrent = path + ".torrent"
    if os.path.exists(torrent):
        os.remove(torrent)
    run([bench.tools["mktorrent"], "-l", str(PIECE_LENGTH_LOG2), "-t", str(os.cpu_count() or 1), "-a", announce,
         "-o", torrent, path], 300, "mktorrent")
    return torrent


class Seeder:
    """aria2c seeding `torrent` from the directory holding the file, forever,
    without hashing it first (we made it; --bt-seed-unverified)."""

    def __init__(self, bench, tracker, torrent, data_dir, ip):
        self.bench = bench
        self.proc = bench.procs.start(f"aria2-seeder-{ip}", [
            bench.tools["aria2c"], *COMMON, f"--interface={ip}", f"--bt-external-ip={ip}",
            f"--listen-port={free_port(ip)}", f"--dir={data_dir}", "--seed-ratio=0.0", "--bt-seed-unverified=true",
            torrent])
        # Leechers that asked before the seeder announced would wait a whole interval.
        wait_until(lambda: tracker.seeders() >= 1, 30, "the aria2c seeder to announce itself", proc=self.proc)

    def stop(self):
        self.bench.procs.stop(self.proc)


class Leecher:
    """aria2c downloading `torrent` into its own directory and exiting once
    every piece is verified (--seed-time=0)."""

    def __init__(self, bench, name, torrent, ip):
        self.bench = bench
        self.dir = os.path.join(bench.tmp, "out", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.started = time.monotonic()
        self.proc = bench.procs.start(name, [
            bench.tools["aria2c"], *COMMON, f"--interface={ip}", f"--bt-external-ip={ip}",
            f"--listen-port={free_port(ip)}", f"--dir={self.dir}", "--seed-time=0", torrent])

    def wait(self, timeout):
        """Seconds from start until aria2c exited 0."""
        try:
            self.proc.wait(max(0.1, self.started + timeout - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - TimeoutExpired
            self.bench.procs.stop(self.proc)
            raise BenchError(f"aria2c leecher did not finish within {timeout:.0f} s: {tail(self.proc.bench_log)}") \
                from exc
        seconds = time.monotonic() - self.started
        self.bench.procs.stop(self.proc)
        if self.proc.returncode != 0:
            raise BenchError(f"aria2c leecher failed (status {self.proc.returncode}): {tail(self.proc.bench_log)}")
        return seconds
