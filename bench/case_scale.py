"""Case 5, scale: many nodes in one swarm on this machine, and one node
holding a crowd of peer connections while it still downloads."""

import os
import socket
import sys
import time

import addresses as ip
from case_transfer import check_same
from peerlab import Node, stop_all
from procs import BenchError, PeakRss, cpu_seconds
from report import MiB

STABLE_WITHOUT_FULL_MESH_S = 12  # longer than a peer-exchange round (10 s)


def port_free_everywhere(addresses, tries=20):
    """A port no one listens on at any of `addresses` right now, so every
    node can be told every other's address before any has started."""
    for _ in range(tries):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as s:
                    s.bind((address, port))
            return port
        except OSError:
            continue
    raise BenchError(f"found no port free on all of {addresses[0]} .. {addresses[-1]}")


def swarm(bench, case):
    """N nodes started at once, each told only of the first: the time until
    every node is connected to every other (or until the counts stop
    changing), then the CPU all of them use while idle."""
    cfg = bench.cfg
    n, idle_s = cfg["nodes"], cfg["idle_s"]
    addresses = ip.SWARM[:n]
    case.facts.update(nodes=n, idle_seconds=idle_s, bootstrap="every node --peer the first")
    m_mesh = case.measurement("overlay-stable", f"{n} nodes: from launch until the overlay is stable", "s")
    m_conn = case.measurement("connections", "  connections per node then (median)", "count")
    m_cpu = case.measurement("idle-cpu", f"  CPU of all {n} together while idle, % of one core", "%")
    m_rss = case.measurement("node-rss", "  RSS per node (median)", "MiB")
    port = port_free_everywhere(addresses)
    first = f"{addresses[0]}:{port}"
    started = time.monotonic()
    nodes = [Node(bench, f"swarm{i}", address, peers=[] if i == 0 else [first], port=port)
             for i, address in enumerate(addresses)]
    for node in nodes:
        node.wait_ready(60)

    deadline = started + cfg["swarm_wait_s"]
    last, last_change = None, time.monotonic()
    while True:
        counts = [node.connections() for node in nodes]
        now = time.monotonic()
        if counts != last:
            last, last_change = counts, now
        if all(c == n - 1 for c in counts):
            break  # full mesh
        if now - last_change >= STABLE_WITHOUT_FULL_MESH_S or now > deadline:
            break
        time.sleep(0.25)
    full = all(c == n - 1 for c in last)
    stable = full or time.monotonic() - last_change >= STABLE_WITHOUT_FULL_MESH_S
    # Still changing at the deadline: the time so far, a lower bound (and a miss).
    m_mesh.add((last_change if stable else time.monotonic()) - started)
    m_mesh.extra.update(full_mesh=full, stable=stable)
    m_conn.add(sorted(last)[n // 2])
    m_conn.extra.update(min=min(last), max=max(last), full_mesh_is=n - 1)

    before = sum(cpu_seconds(node.pid) for node in nodes)
    time.sleep(idle_s)
    m_cpu.add((sum(cpu_seconds(node.pid) for node in nodes) - before) / idle_s * 100)
    m_rss.add(sorted(node.rss_kib() for node in nodes)[n // 2] / 1024)
    stop_all(nodes)
    case.target(f"{n} nodes: overlay stable", m_mesh.median if stable else max(m_mesh.median, 10.001), "<=", 10,
                "s")
    case.target(f"{n} nodes: idle CPU, all together", m_cpu.median, "<=", 5, "%")


def connections(bench, case):
    """One node holding COUNT peer connections (bench/peers.py, from another
    process) while it downloads a file from a real seeder."""
    cfg = bench.cfg
    count, size = cfg["connections"], cfg["crowd_mib"] * MiB
    source = bench.data_file("crowd.bin", size)
    case.facts.update(connections=count, file_bytes=size)
    m_held = case.measurement("held", f"peer connections held (of {count})", "count")
    m_open = case.measurement("open-seconds", "  time to open them all", "s")
    m_rss_idle = case.measurement("rss-before", "node RSS before the crowd", "MiB")
    m_rss_held = case.measurement("rss-held", "node RSS holding the crowd", "MiB")
    m_rss_get = case.measurement("rss-get", "node peak RSS holding the crowd, during a get", "MiB")
    m_get = case.measurement("get", "peerlab get through that node", "s", size)

    seeder = Node(bench, "crowd-seeder", ip.BESIEGED_SEEDER).wait_ready()
    content_id = seeder.share(source)
    node = Node(bench, "besieged", ip.BESIEGED, peers=[seeder.listen],
                extra=["--max-peers", str(count + 16)]).wait_ready()
    node.wait_lists(content_id)
    m_rss_idle.add(node.rss_kib() / 1024)

    status_file = os.path.join(bench.tmp, "crowd.json")
    here = os.path.dirname(os.path.abspath(__file__))
    crowd = bench.procs.start("crowd", [sys.executable, os.path.join(here, "peers.py"), node.listen, ip.CROWD,
                                        str(count), status_file])
    started = time.monotonic()
    # Until every connection is established at the node, or the count stops growing for 5 s.
    best, best_at = 0, started
    while time.monotonic() - started < cfg["crowd_wait_s"]:
        held = node.connections() - 1  # the seeder is the one real peer
        if held > best:
            best, best_at = held, time.monotonic()
        if held >= count or time.monotonic() - best_at > 5:
            break
        if crowd.poll() is not None:
            raise BenchError(f"bench/peers.py exited with status {crowd.returncode}")
        time.sleep(0.2)
    m_open.add(best_at - started)
    time.sleep(1)  # let the last hellos, peer lists and catalogs settle
    m_rss_held.add(node.rss_kib() / 1024)

    out = os.path.join(bench.out_dir(), "crowd.bin")
    with PeakRss([node.pid]) as rss:
        in_place, _ = node.start_get(content_id, out).wait(bench.transfer_timeout(size))
    m_get.add(in_place)
    m_rss_get.add(rss.peak_kib[node.pid] / 1024)
    check_same("get through the crowded node", source, out)
    m_held.add(node.connections() - 1)  # still held after the download
    bench.procs.stop(crowd)
    node.stop()
    seeder.stop()
    case.target("connections held", m_held.median, ">=", count, "conn")
    case.target("node peak RSS with them", m_rss_get.median, "<=", 64, "MiB")
    case.target("a get through it completes", 1.0 if m_get.values else None, ">=", 1, "yes")
