"""The benchmark of issue 8, run by scripts/bench (which installs the tools
and builds peerlab first): every case against its baseline from the same
run, one table on stdout, the same numbers as JSON.

    python3 bench/run.py --mode full|quick|smoke --peerlab PATH --out PATH [--cases KEY,...]

A case whose baseline tool is missing is recorded as "missing tool"; any
other failure stops the run with the reason, writes what was measured so far
(the failed case says "failed", the rest "not run") and exits 1.
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import addresses as ip
import case_folder
import case_links
import case_requests
import case_scale
import case_share
import case_bittorrent
import case_transfer
from nginx import Nginx
from procs import BenchError, Processes, uses_asan
from report import FAILED, MiB, NOT_RUN, Case, render, write_json

# reps: repetitions of every measurement (median, min, max), but aria2c's
# only bt_reps times (its ~3 s start-up dominates a quick run's small files);
# sizes in MiB;
# eight: downloaders in case 2; nodes: the swarm of case 5; *_wait_s: bounds;
# uplink_*: the slow-uplink case (file, uplink rate, repetitions: each run takes
# F / u_s, 67 s in full), long_*: the long and lossy paths (file, repetitions).
MODES = {
    "full": dict(reps=5, bt_reps=5, one_mib=1024, eight_mib=256, eight=8, limited_mib=16, wrk_s=5,
                 nodes=50, idle_s=10, swarm_wait_s=60, connections=1000, crowd_mib=64, crowd_wait_s=60,
                 uplink_mib=16, uplink_mbit=2, uplink_reps=1, long_mib=128, long_reps=3,
                 folder_files=10000),
    "quick": dict(reps=5, bt_reps=3, one_mib=128, eight_mib=32, eight=8, limited_mib=4, wrk_s=1,
                  nodes=50, idle_s=3, swarm_wait_s=40, connections=1000, crowd_mib=16, crowd_wait_s=40,
                  uplink_mib=4, uplink_mbit=2, uplink_reps=1, long_mib=32, long_reps=1,
                  folder_files=2000),
    # Every case, as small as it gets: proves the harness works (tests/e2e/test_bench.py).
    "smoke": dict(reps=1, bt_reps=1, one_mib=2, eight_mib=1, eight=3, limited_mib=1, wrk_s=1,
                  nodes=4, idle_s=1, swarm_wait_s=20, connections=50, crowd_mib=1, crowd_wait_s=20,
                  uplink_mib=1, uplink_mbit=8, uplink_reps=1, long_mib=1, long_reps=1,
                  folder_files=200),
}

TOOLS = ("nginx", "curl", "aria2c", "mktorrent", "wrk", "openssl")

# (key, title, function), in the order they run; idle footprint first, on a quiet machine.
CASES = [
    ("idle", "Footprint: an idle node", case_requests.idle_footprint),
    ("requests", "Small requests: wrk, 64 keep-alive connections", case_requests.requests),
    ("one_to_one", "1 -> 1 (page-cached source, destination on the same disk)", case_transfer.one_to_one),
    ("one_to_eight", "1 -> 8 at once", case_transfer.one_to_eight),
    ("share", "share: hashing a page-cached file", case_share.share),
    ("folder", "Folders: many files of 16 KiB, shared and fetched", case_folder.folder),
    ("swarm", "Scale: many nodes in one swarm", case_scale.swarm),
    ("connections", "Scale: one node holding many peer connections", case_scale.connections),
    ("rate_limit", "Rate limit accuracy (no target in issue 8)", case_transfer.rate_limit),
    ("bt_seed", "BitTorrent: peerlab seeding to aria2c vs aria2c seeding to aria2c", case_bittorrent.seed_to_aria2c),
    ("bt_leech", "BitTorrent: peerlab leeching from aria2c vs aria2c leeching from aria2c",
     case_bittorrent.leech_from_aria2c),
    ("slow_uplink", "Slow links: 3 downloaders behind a seeder's slow uplink (emulated)", case_links.slow_uplink),
    ("long_links", "Slow links: 100 Mbit/s at 200 ms RTT + 1 % loss, and at 400 ms RTT (emulated)",
     case_links.long_links),
]


def find_tool(name):
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)),
                                      None)


class Bench:
    """What every case needs: the binary, tools, processes, data files, nginx."""

    def __init__(self, mode, peerlab, tmp):
        self.mode, self.cfg = mode, MODES[mode]
        self.peerlab, self.tmp = peerlab, tmp
        self.tools = {name: find_tool(name) for name in TOOLS}
        for sub in ("logs", "data", "nodes", "out"):
            os.makedirs(os.path.join(tmp, sub))
        self.procs = Processes(os.path.join(tmp, "logs"))
        self._nginx = None
        self.idle_node = None
        self.started = time.monotonic()

    def say(self, text):
        print(f"bench: [{time.monotonic() - self.started:5.1f} s] {text}", file=sys.stderr, flush=True)

    def missing(self, *names):
        """The absent tools among `names`, as text, or None."""
        absent = [n for n in names if not self.tools.get(n)]
        return ", ".join(absent) or None

    def data_path(self, name):
        return os.path.join(self.tmp, "data", name)

    def data_file(self, name, size):
        """A file of random (incompressible) bytes, written once, then page-cached."""
        path = self.data_path(name)
        if not os.path.exists(path):
            self.say(f"writing {size // MiB} MiB of random data")
            with open(path, "wb") as f:
                write_random(f, size, seed=name)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # into the page cache
        return path

    def out_dir(self):
        return os.path.join(self.tmp, "out")

    def transfer_timeout(self, total_bytes):
        """Generous: 4 MiB/s at worst (an ASan build on a busy machine), plus start-up."""
        return 60 + total_bytes / (4 * MiB)

    @property
    def nginx(self):
        if self._nginx is None:
            with open(self.data_path("small.txt"), "w") as f:
                f.write("0" * 100)  # the small static file for wrk
            self._nginx = Nginx(self, ip.NGINX, os.path.join(self.tmp, "data"))
        return self._nginx


def write_random(f, size, seed):
    """`size` pseudo-random bytes: an AES-CTR keystream from openssl (twice as
    fast as /dev/urandom here; a 1 GiB file is written in every full run),
    else os.urandom."""
    openssl = find_tool("openssl")
    if not openssl:
        for offset in range(0, size, MiB):
            f.write(os.urandom(min(MiB, size - offset)))
        return
    with subprocess.Popen([openssl, "enc", "-aes-128-ctr", "-nosalt", "-pbkdf2", "-pass", f"pass:peerlab-{seed}",
                           "-in", "/dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as stream:
        left = size
        while left > 0:
            block = stream.stdout.read(min(MiB, left))
            if not block:
                raise BenchError("openssl enc stopped early while writing random data")
            f.write(block)
            left -= len(block)
        stream.kill()


def tool_versions(tools):
    versions = {}
    for name, flag in (("nginx", "-v"), ("curl", "--version"), ("aria2c", "--version"), ("wrk", "--version"),
                       ("openssl", "version"), ("mktorrent", "-v")):
        if tools.get(name):
            done = subprocess.run([tools[name], flag], capture_output=True, text=True)
            text = (done.stdout or done.stderr).strip().splitlines()
            versions[name] = text[0] if text else ""
    return versions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="full")
    parser.add_argument("--peerlab", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--cases", help="comma-separated case keys to run (default: all), e.g. slow_uplink,long_links")
    args = parser.parse_args()
    chosen = CASES
    if args.cases:
        keys = args.cases.split(",")
        unknown = [k for k in keys if k not in {key for key, _, _ in CASES}]
        if unknown:
            parser.error(f"unknown case {', '.join(unknown)}; the cases are {', '.join(k for k, _, _ in CASES)}")
        chosen = [c for c in CASES if c[0] in keys]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = tempfile.mkdtemp(prefix="peerlab-bench.")
    bench = Bench(args.mode, os.path.abspath(args.peerlab), tmp)
    cases = [Case(key, title) for key, title, _ in chosen]
    header = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": args.commit, "mode": args.mode, "repetitions": bench.cfg["reps"],
              "cpus": os.cpu_count(), "kernel": platform.release(), "peerlab": bench.peerlab,
              "settings": bench.cfg, "tools": tool_versions(bench.tools),
              "missing_tools": [n for n, path in bench.tools.items() if not path]}
    started = time.monotonic()
    failed = None
    try:
        for case, (_, _, run_case) in zip(cases, chosen):
            case_started = time.monotonic()
            try:
                run_case(bench, case)
            except BenchError as exc:
                case.status, case.error, failed = FAILED, str(exc), case
                break
            finally:
                case.facts["case_seconds"] = round(time.monotonic() - case_started, 1)
            case.finish()
            if case.key == "idle" and bench.idle_node:
                header["asan"] = uses_asan(bench.idle_node.pid)
    except KeyboardInterrupt:
        failed = "interrupted"
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        bench.procs.stop_all()
        if os.environ.get("PEERLAB_BENCH_KEEP") and failed is not None:
            bench.say(f"kept {tmp} (logs in {tmp}/logs) for a look: PEERLAB_BENCH_KEEP is set")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    header["seconds"] = round(time.monotonic() - started, 1)
    header["ok"] = failed is None
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_json(args.out, header, cases)
    print(render(header, [c for c in cases if c.status != NOT_RUN]))
    print(f"results: {args.out} ({header['seconds']:.0f} s)")
    if failed is not None:
        reason = failed if isinstance(failed, str) else f"{failed.title}: {failed.error}"
        print(f"bench: FAILED: {reason}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
