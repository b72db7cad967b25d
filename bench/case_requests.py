"""Case 4 and the idle footprint: small requests per second under wrk (64
keep-alive connections, one thread) on GET /api/status against nginx
serving a 100-byte file; and the RSS of an idle node next to an nginx worker."""

import re
import time

import addresses as ip
from peerlab import Node
from procs import BenchError, run, status_kib

IDLE_SETTLE_S = 1  # a node that has just started is still allocating its first buffers


def wrk(bench, url, seconds):
    # A 10 s timeout: on a busy machine wrk's default 2 s would count slow answers as errors.
    report = run([bench.tools["wrk"], "-t1", "-c64", f"-d{seconds}s", "--timeout", "10s", url], seconds + 30,
                 f"wrk {url}")
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", report, re.MULTILINE)
    if not rate:
        raise BenchError(f"wrk printed no Requests/sec:\n{report}")
    # Errors (non-2xx, timeouts) would make a fast number meaningless.
    if "Non-2xx" in report or "Socket errors" in report:
        raise BenchError(f"wrk {url} saw errors:\n{report}")
    return float(rate.group(1))


def idle_footprint(bench, case):
    m_node = case.measurement("node-rss", "idle peerlab node, RSS", "MiB")
    m_nginx = case.measurement("nginx-worker-rss", "idle nginx worker, RSS (reference)", "MiB",
                               missing=bench.missing("nginx"))
    node = Node(bench, "idle", ip.IDLE).wait_ready()
    time.sleep(IDLE_SETTLE_S)
    m_node.add(node.rss_kib() / 1024)
    if not m_nginx.missing:
        m_nginx.add(max(status_kib(pid, "VmRSS") for pid in bench.nginx.worker_pids()) / 1024)
    case.target("idle node RSS", m_node.median, "<=", 8, "MiB")
    bench.idle_node = node  # case 4 asks it for /api/status


def requests(bench, case):
    cfg = bench.cfg
    case.facts.update(connections=64, threads=1, seconds_each=cfg["wrk_s"])
    no_wrk = bench.missing("wrk")
    m_nginx = case.measurement("wrk-nginx", "wrk -> nginx, 100-byte static file", "req/s",
                               missing=no_wrk or bench.missing("nginx"))
    m_status = case.measurement("wrk-status", "wrk -> peerlab GET /api/status", "req/s", missing=no_wrk)
    node = bench.idle_node
    for rep in range(1, cfg["reps"] + 1):
        if no_wrk:
            break
        bench.say(f"small requests under wrk, {cfg['wrk_s']} s each: repetition {rep} of {cfg['reps']}")
        if not m_nginx.missing:
            m_nginx.add(wrk(bench, bench.nginx.url("small.txt"), cfg["wrk_s"]))
        m_status.add(wrk(bench, f"http://{node.http}/api/status", cfg["wrk_s"]))
    node.stop()
    case.ratio("/api/status req/s / nginx req/s", "wrk-status", "wrk-nginx", ">=", 0.5)
