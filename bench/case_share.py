"""Case 3: `peerlab share` of a page-cached file (the node hashes its chunks,
in parallel) against `openssl dgst -sha256` of the same file (one core)."""

import os

import addresses as ip
from peerlab import Node
from procs import cpu_seconds, timed
from report import MiB


def share(bench, case):
    cfg = bench.cfg
    size = cfg["one_mib"] * MiB
    source = bench.data_file("one.bin", size)
    case.facts.update(file_bytes=size, cores=os.cpu_count())
    m_share = case.measurement("peerlab-share", "peerlab share (a fresh node each time)", "s", size)
    m_cores = case.measurement("peerlab-share-cores", "  cores the node used (CPU time / wall time)", "x")
    m_openssl = case.measurement("openssl-dgst", "openssl dgst -sha256", "s", size,
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
    case.ratio("peerlab share / openssl dgst -sha256", "peerlab-share", "openssl-dgst", "<=", 1.0)
