"""Cases 1 and 2, and the rate limit: moving a file, peerlab against curl from
nginx and aria2c BitTorrent, repetitions interleaved so noise hits every
contender alike. Every output is compared with the source byte for byte
(outside the timed part); a wrong byte fails the run."""

import os
import subprocess
import time

import addresses as ip
from peerlab import Node, stop_all
from procs import BenchError, PeakRss, run, status_kib, timed
from report import MiB
from torrent import Leecher, Seeder, Tracker, make_torrent


def check_same(what, source, output):
    if subprocess.run(["cmp", "-s", source, output]).returncode != 0:
        raise BenchError(f"{what}: wrong result: {output} differs from {source}")
    os.remove(output)


def curl(bench, url, output, timeout):
    return timed([bench.tools["curl"], "-sS", "--fail", "-o", output, url], timeout, f"curl {url}")


def curl_to_null(bench, url, size, timeout):
    """Seconds to receive `size` bytes and drop them: no disk, only the socket."""
    started = time.monotonic()
    got = run([bench.tools["curl"], "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}", url], timeout,
              f"curl {url}")
    seconds = time.monotonic() - started
    if int(got) != size:
        raise BenchError(f"curl {url} received {got} bytes, not {size}")
    return seconds


def start_downloader(bench, name, address, seeder, content_id):
    node = Node(bench, name, address, peers=[seeder.listen]).wait_ready()
    node.wait_lists(content_id)  # connected, and the seeder's catalog arrived
    return node


def start_torrent(bench, name):
    """The .torrent and an aria2c seeder for `name` (a data file), or None if a tool is missing."""
    if bench.missing("aria2c", "mktorrent"):
        return None
    tracker = Tracker(bench, ip.TRACKER)
    path = bench.data_path(name)
    torrent = make_torrent(bench, path, tracker.announce)
    seeder = Seeder(bench, tracker, torrent, os.path.dirname(path), ip.ARIA_SEEDER)
    return tracker, seeder, torrent


def one_to_one(bench, case):
    cfg = bench.cfg
    size = cfg["one_mib"] * MiB
    source = bench.data_file("one.bin", size)
    timeout = bench.transfer_timeout(size)
    case.facts.update(file_bytes=size, note="seconds from start until the verified file is in place; "
                      "curl and aria2c: until they exit")
    no_nginx = bench.missing("nginx", "curl")
    m_nginx = case.measurement("curl-nginx", "curl <- nginx (sendfile)", "s", size, missing=no_nginx)
    m_null = case.measurement("curl-nginx-null", "  limit: the same to /dev/null (loopback TCP)", "s", size,
                              missing=no_nginx)
    m_get = case.measurement("peerlab-get", "peerlab get: 1 seeder -> 1 downloader", "s", size)
    m_exit = case.measurement("peerlab-get-exit", "  the same, until `peerlab get` exits", "s", size)
    m_http = case.measurement("curl-peerlab", "curl <- peerlab GET /files/ID", "s", size,
                              missing=bench.missing("curl"))
    m_bt = case.measurement("aria2c", "aria2c BitTorrent: 1 seeder -> 1 leecher", "s", size,
                            missing=bench.missing("aria2c", "mktorrent"))
    m_seed_rss = case.measurement("seeder-rss", "peerlab seeder, peak RSS while sending", "MiB")
    m_down_rss = case.measurement("downloader-rss", "peerlab downloader, peak RSS", "MiB")
    m_nginx_rss = case.measurement("nginx-worker-rss", "nginx worker, peak RSS while sending", "MiB",
                                   missing=no_nginx)

    seeder = Node(bench, "seeder", ip.SEEDER).wait_ready()
    content_id = seeder.share(source)
    bt = start_torrent(bench, "one.bin")
    out = bench.out_dir()
    for rep in range(1, cfg["reps"] + 1):
        bench.say(f"1 -> 1, {size // MiB} MiB: repetition {rep} of {cfg['reps']}")
        if not no_nginx:
            workers = bench.nginx.worker_pids()
            with PeakRss(workers) as rss:
                m_nginx.add(curl(bench, bench.nginx.url("one.bin"), f"{out}/nginx.bin", timeout))
            m_nginx_rss.add(max(rss.peak_kib.values()) / 1024)
            check_same("curl from nginx", source, f"{out}/nginx.bin")
            m_null.add(curl_to_null(bench, bench.nginx.url("one.bin"), size, timeout))

        downloader = start_downloader(bench, "downloader", ip.DOWNLOADER, seeder, content_id)
        with PeakRss([seeder.pid]) as rss:
            in_place, exited = downloader.start_get(content_id, f"{out}/get.bin").wait(timeout)
        m_get.add(in_place)
        m_exit.add(exited)
        m_seed_rss.add(rss.peak_kib[seeder.pid] / 1024)
        m_down_rss.add(status_kib(downloader.pid, "VmHWM") / 1024)
        downloader.stop()
        check_same("peerlab get", source, f"{out}/get.bin")

        if not m_http.missing:
            m_http.add(curl(bench, f"http://{seeder.http}/files/{content_id}", f"{out}/http.bin", timeout))
            check_same("curl from peerlab", source, f"{out}/http.bin")

        if bt and rep <= cfg["bt_reps"]:
            leecher = Leecher(bench, "aria2-leecher", bt[2], ip.ARIA_LEECHERS[0])
            m_bt.add(leecher.wait(timeout))
            check_same("aria2c", source, os.path.join(leecher.dir, "one.bin"))
    if bt:
        bt[1].stop()
        bt[0].stop()
    seeder.stop()

    case.ratio("peerlab get / curl <- nginx", "peerlab-get", "curl-nginx", "<=", 1.0)
    case.ratio("peerlab get / aria2c", "peerlab-get", "aria2c", "<=", 0.33)
    case.ratio("curl <- peerlab / curl <- nginx", "curl-peerlab", "curl-nginx", "<=", 1.25)
    case.target("seeder peak RSS", m_seed_rss.median and max(m_seed_rss.values), "<=", 64, "MiB")
    case.target("downloader peak RSS", m_down_rss.median and max(m_down_rss.values), "<=", 64, "MiB")


def one_to_eight(bench, case):
    cfg = bench.cfg
    size, n = cfg["eight_mib"] * MiB, cfg["eight"]
    source = bench.data_file("eight.bin", size)
    timeout = bench.transfer_timeout(size * n)
    case.facts.update(file_bytes=size, downloaders=n,
                      note="seconds from the start of the first download until the last is verified and in place")
    no_nginx = bench.missing("nginx", "curl")
    m_get = case.measurement("peerlab-get", f"{n} peerlab gets from 1 seeder, all done", "s", size * n)
    m_bt = case.measurement("aria2c", f"{n} aria2c leechers from 1 seeder, all done", "s", size * n,
                            missing=bench.missing("aria2c", "mktorrent"))
    m_curl = case.measurement("curl-nginx", f"{n} curls <- nginx at once, all done", "s", size * n,
                              missing=no_nginx)

    seeder = Node(bench, "seeder8", ip.SEEDER).wait_ready()
    content_id = seeder.share(source)
    bt = start_torrent(bench, "eight.bin")
    out = bench.out_dir()
    for rep in range(1, cfg["reps"] + 1):
        bench.say(f"1 -> {n}, {size // MiB} MiB: repetition {rep} of {cfg['reps']}")
        nodes = [Node(bench, f"d{i}", ip.DOWNLOADERS[i], peers=[seeder.listen]) for i in range(n)]
        for node in nodes:  # started side by side, then waited for
            node.wait_ready().wait_lists(content_id)
        started = time.monotonic()
        gets = [node.start_get(content_id, f"{out}/get{i}.bin") for i, node in enumerate(nodes)]
        for g in gets:
            g.wait(timeout)
        m_get.add(max(g.in_place_at for g in gets) - started)
        stop_all(nodes)
        for i in range(n):
            check_same("peerlab get", source, f"{out}/get{i}.bin")

        if not no_nginx:
            started = time.monotonic()
            curls = [subprocess.Popen([bench.tools["curl"], "-sS", "--fail", "-o", f"{out}/curl{i}.bin",
                                       bench.nginx.url("eight.bin")]) for i in range(n)]
            if any(c.wait(timeout) != 0 for c in curls):
                raise BenchError("one of the concurrent curls from nginx failed")
            m_curl.add(time.monotonic() - started)
            for i in range(n):
                check_same("curl from nginx", source, f"{out}/curl{i}.bin")

        if bt and rep <= cfg["bt_reps"]:
            started = time.monotonic()
            leechers = [Leecher(bench, f"aria2-leecher{i}", bt[2], ip.ARIA_LEECHERS[i]) for i in range(n)]
            for leecher in leechers:
                leecher.wait(timeout)
            m_bt.add(time.monotonic() - started)
            for leecher in leechers:
                check_same("aria2c", source, os.path.join(leecher.dir, "eight.bin"))
    if bt:
        bt[1].stop()
        bt[0].stop()
    seeder.stop()
    case.ratio(f"{n} peerlab / {n} aria2c", "peerlab-get", "aria2c", "<=", 0.5)
    case.ratio(f"{n} peerlab / {n} curls <- nginx", "peerlab-get", "curl-nginx", "<=", 1.0)


def rate_limit(bench, case):
    """Not a target of issue 8: how closely --up-limit holds its rate."""
    cfg = bench.cfg
    size, limit = cfg["limited_mib"] * MiB, 4 * MiB
    source = bench.data_file("limited.bin", size)
    m = case.measurement("peerlab-get", "peerlab get, seeder --up-limit 4MiB", "s", size)
    seeder = Node(bench, "limited", ip.LIMITED_SEEDER, extra=["--up-limit", "4MiB"]).wait_ready()
    content_id = seeder.share(source)
    out = bench.out_dir()
    for rep in range(1, cfg["reps"] + 1):
        bench.say(f"{size // MiB} MiB through --up-limit 4MiB: repetition {rep} of {cfg['reps']}")
        downloader = start_downloader(bench, "limited-downloader", ip.LIMITED_DOWNLOADER, seeder, content_id)
        in_place, _ = downloader.start_get(content_id, f"{out}/limited.bin").wait(size / limit * 3 + 30)
        m.add(in_place)
        downloader.stop()
        check_same("rate limit", source, f"{out}/limited.bin")
    seeder.stop()
    expected = size / limit
    # A limiter at rest saves up a burst of max(rate / 20, 64 KiB), which goes out at once.
    burst = max(limit // 20, 64 * 1024)
    m.extra.update(limit_bytes_per_s=limit, expected_s=expected, earliest_expected_s=(size - burst) / limit,
                   deviation_percent=(m.median / expected - 1) * 100)
    case.facts.update(file_bytes=size)
    case.target("time / (size / rate)", m.median / expected, "<=", 1.05, "x")
    case.target("time / ((size - burst) / rate)", m.median / ((size - burst) / limit), ">=", 0.95, "x")
