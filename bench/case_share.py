"""Case 3: `peerlab share` of a page-cached file (the node hashes its chunks,
in parallel) against `openssl dgst -sha256` of the same file (one core)."""

import os
import re

import addresses as ip
from peerlab import Node
from procs import BenchError, cpu_seconds, run, timed
from report import MiB


def sha256_speed(bench):
    """MiB/s one core hashes in memory: the bound for hashing on one core."""
    report = run([bench.tools["openssl"], "speed", "-evp", "sha256", "-bytes", str(MiB), "-seconds", "1"], 60,
                 "openssl speed")
    found = re.search(r"^sha256\s+([\d.]+)k\s*$", report, re.MULTILINE)
    if not found:
        raise BenchError(f"openssl speed printed no sha256 line:\n{report}")
    return float(found.group(1)) * 1000 / MiB


def share(bench, case):
    cfg = bench.cfg
    size = cfg["one_mib"] * MiB
    source = bench.data_file("one.bin", size)
    case.facts.update(file_bytes=size, cores=os.cpu_count())
    m_share = case.measurement("peerlab-share", "peerlab share (a fresh node each time)", "s", size)
    m_cores = case.measurement("peerlab-share-cores", "  cores the node used (CPU time / wall time)", "x")
    m_openssl = case.measurement("openssl-dgst", "openssl dgst -sha256", "s", size,
                                 missing=bench.missing("openssl"))
    m_speed = case.measurement("sha256-speed", "  limit: SHA-256 on one core (openssl speed)", "MiB/s",
                               missing=bench.missing("openssl"))
    for rep in range(1, cfg["reps"] + 1):
        bench.say(f"share {size // MiB} MiB: repetition {rep} of {cfg['reps']}")
        # A node shares a file once: a new node (and data directory) for every repetition.
        node = Node(bench, "sharer", ip.SHARER).wait_ready()
        cpu_before = cpu_seconds(node.pid)
        seconds = timed([bench.peerlab, "share", source, "--dir", node.dir], 600, "peerlab share")
        m_share.add(seconds)
        m_cores.add((cpu_seconds(node.pid) - cpu_before) / seconds)
        node.stop()
        if not m_openssl.missing:
            m_openssl.add(timed([bench.tools["openssl"], "dgst", "-sha256", source], 600, "openssl dgst"))
            m_speed.add(sha256_speed(bench))
    case.ratio("peerlab share / openssl dgst -sha256", "peerlab-share", "openssl-dgst", "<=", 1.0)
