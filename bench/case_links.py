"""Slow links (issue 15): the swarm over one emulated link between network
namespaces (tests/e2e/emulated_link.py, tests/link/link_emulator), where
loopback hides what a real network does to it.

- Slow uplink: a seeder behind a 2 Mbit/s uplink (20 ms each way, a 64 KiB
  queue; 20 Mbit/s back), three downloaders behind a bridge at full speed
  among themselves. Without and with `--up-limit 240KiB`: the time until all
  three are verified against the P2P bound F / u_s (u_s: the uplink, or the
  limit if lower), and what the seeder sent against F.
- Long and lossy paths: 100 Mbit/s at 200 ms RTT with 1 % loss (each way),
  and at 400 ms RTT without loss; `peerlab get` against curl from nginx over
  the same link in the same run, repetitions interleaved.

A transfer that misses its deadline is recorded at the deadline (a lower
bound: the target is then MISSED) with how far each downloader got, so a
stuck swarm shows as a number, not as a failed run. Needs root (namespaces,
TAP devices): otherwise both cases are "skipped", saying why.
"""

import os
import subprocess
import sys
import time

from nginx import CONFIG as NGINX_CONFIG
from procs import BenchError
from report import MiB

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import emulated_link as link  # noqa: E402

UPLINK_KIB_PER_MBIT = 120  # --up-limit 240KiB on a 2 Mbit/s uplink, scaled with the rate
NGINX_PORT = 8080  # inside the seeder's namespace: no one else there


def _emulator(bench, case):
    """The link emulator, or None after marking the case skipped."""
    emulator = link.find_emulator(bench.peerlab)
    reason = link.skip_reason(emulator)
    if reason:
        case.skip(reason)
        return None
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        case.facts["tcp_congestion_control"] = f.read().strip()
    return emulator


def _network(bench, emulator, **settings):
    try:
        return link.Network(emulator, os.path.join(bench.tmp, "links"), **settings).start()
    except RuntimeError as exc:
        raise BenchError(f"could not build the emulated network: {exc}") from exc


def _same(what, source, output):
    with open(source, "rb") as a, open(output, "rb") as b:
        while True:
            x, y = a.read(MiB), b.read(MiB)
            if x != y:
                raise BenchError(f"{what}: wrong result: {output} differs from {source}")
            if not x:
                break
    os.remove(output)


def _progress(downloaders, content_id, size):
    parts = []
    for d in downloaders:
        t = d.progress(content_id) or {}
        parts.append(f"{d.name} {100 * t.get('bytes_done', 0) / size:.0f} % "
                     f"({t.get('chunks_fetched')} chunks fetched, {t.get('chunks_rejected')} rejected)")
    return "; ".join(parts)


def _wait_in_place(net, gets, outputs, deadline):
    """Seconds (since each get started) until every output is in place and its
    get exited 0, or None for those that missed the deadline."""
    done = [None] * len(gets)
    while time.monotonic() < deadline and None in done:
        for i, (get, out) in enumerate(zip(gets, outputs)):
            if done[i] is None and os.path.exists(out):
                done[i] = time.monotonic() - get.started
            elif done[i] is None and get.poll() not in (None, 0):
                raise BenchError(f"peerlab get failed (status {get.returncode}); see {get.log_path}")
        time.sleep(0.01)
    for get in gets:
        if get.poll() is None and None not in done:
            try:
                get.wait(max(1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - TimeoutExpired: stopped below, reported as not done
                pass
        if get.poll() is None:
            net.stop(get)
        elif get.returncode != 0:
            raise BenchError(f"peerlab get failed (status {get.returncode}); see {get.log_path}")
    return done


def _start_gets(downloaders, content_id, out_dir, tag):
    outputs = [os.path.join(out_dir, f"{tag}-{d.name}.bin") for d in downloaders]
    gets = []
    for d, out in zip(downloaders, outputs):
        get = d.start_get(content_id, out)
        get.started = time.monotonic()
        gets.append(get)
    return gets, outputs


# ---------------------------------------------------------------- slow uplink


def slow_uplink(bench, case):
    cfg = bench.cfg
    emulator = _emulator(bench, case)
    if not emulator:
        return
    size, rate_mbit = cfg["uplink_mib"] * MiB, cfg["uplink_mbit"]
    source = bench.data_file("uplink.bin", size)
    limit_kib = UPLINK_KIB_PER_MBIT * rate_mbit
    settings = dict(hosts=3, up=link.spec(rate=f"{rate_mbit}mbit", delay_ms=20, queue="64KiB"),
                    down=link.spec(rate=f"{10 * rate_mbit}mbit", delay_ms=20, queue="64KiB"))
    case.facts.update(file_bytes=size, downloaders=3, uplink=settings["up"], downlink=settings["down"],
                      note="seconds from the start of the three gets until the last file is verified and in "
                           "place; bound = F / u_s, u_s = the uplink's rate (or --up-limit if lower)")
    variants = [("no-limit", "no --up-limit", []),
                ("up-limit", f"--up-limit {limit_kib}KiB", ["--up-limit", f"{limit_kib}KiB"])]
    for key, label, extra in variants:
        uplink_bytes_per_s = rate_mbit * 1e6 / 8
        if extra:
            uplink_bytes_per_s = min(uplink_bytes_per_s, limit_kib * 1024)
        bound = size / uplink_bytes_per_s
        m_time = case.measurement(f"{key}-all-verified", f"{label}: 3 gets, all verified", "s")
        m_ratio = case.measurement(f"{key}-time-bound", f"  / the P2P bound F / u_s ({bound:.1f} s)", "x")
        m_sent = case.measurement(f"{key}-seeder-sent", "  seeder bytes sent / F", "x")
        for rep in range(1, cfg["uplink_reps"] + 1):
            bench.say(f"slow uplink, {label}, {size // MiB} MiB to 3: repetition {rep} of {cfg['uplink_reps']}")
            took, sent, facts = _uplink_run(bench, emulator, settings, source, extra, bound)
            m_time.add(took)
            m_ratio.add(took / bound)
            m_sent.add(sent / size)
            m_time.extra.setdefault("runs", []).append(facts)
        case.target(f"{label}: time / (F / u_s)", m_ratio.median, "<=", 1.15, "x")
        case.target(f"{label}: seeder sent / F", m_sent.median, "<=", 1.1, "x")


def _uplink_run(bench, emulator, settings, source, extra, bound):
    size = os.path.getsize(source)
    deadline_s = 3 * bound + 30
    net = _network(bench, emulator, **settings)
    try:
        cpu_before = net.emulator_cpu_seconds()
        seeder = link.Peer(net, "seed", bench.peerlab, "seeder", extra=extra).start()
        content_id = seeder.share(source)
        downloaders = [link.Peer(net, i, bench.peerlab, f"d{i}", peers=[seeder.listen]).start() for i in range(3)]
        for d in downloaders:
            d.wait_lists(content_id)
        gets, outputs = _start_gets(downloaders, content_id, bench.out_dir(), "uplink")
        started = time.monotonic()
        done = _wait_in_place(net, gets, outputs, started + deadline_s)
        facts = {"downloaders": [_transfer_facts(d.progress(content_id) or {}) for d in downloaders]}
        if None in done:
            facts["unfinished"] = f"not all verified after {deadline_s:.0f} s: " + _progress(downloaders, content_id,
                                                                                             size)
            bench.say(facts["unfinished"])
        took = max(t if t is not None else deadline_s for t in done)
        sent = seeder.status()["bytes_up"]
        # Per downloader: what the seeder sent it (to tell chunks sent twice from bytes nobody kept).
        facts["seeder_sent_to"] = {p["name"]: p["bytes_up"] for p in seeder.api("peers")}
        facts.update(seconds=took, seeder_bytes_up=sent, link=net.counters(),
                     link_emulator_cpu_s=round(net.emulator_cpu_seconds() - cpu_before, 2))
        for node in [seeder] + downloaders:
            if node.stop() != 0:
                raise BenchError(f"node {node.name} did not exit 0 on SIGTERM: {node.log_tail()}")
        for out, t in zip(outputs, done):
            if t is not None:
                _same("peerlab get over the slow uplink", source, out)
        return took, sent, facts
    except RuntimeError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        net.close()


def _transfer_facts(t):
    keys = ("bytes_done", "chunks_done", "chunks_total", "chunks_fetched", "chunks_rejected", "state", "sources")
    return {k: t.get(k) for k in keys}


# ---------------------------------------------------------------- long and lossy paths

# (key, label, the link's settings in both directions): 100 Mbit/s, queues of one BDP.
PATHS = [
    ("lossy", "200 ms RTT, 1 % loss", link.spec(rate="100mbit", delay_ms=100, queue="2500KB", loss="1%")),
    ("long", "400 ms RTT", link.spec(rate="100mbit", delay_ms=200, queue="5MB")),
]


def long_links(bench, case):
    cfg = bench.cfg
    emulator = _emulator(bench, case)
    if not emulator:
        return
    size = cfg["long_mib"] * MiB
    source = bench.data_file("long.bin", size)
    case.facts.update(file_bytes=size, paths={key: spec for key, _, spec in PATHS},
                      note="peerlab get: from the command's start until the verified file is in place; curl: "
                           "until it exits; the same link, repetitions interleaved")
    no_curl = bench.missing("nginx", "curl")
    for key, label, spec in PATHS:
        m_curl = case.measurement(f"{key}-curl", f"{label}: curl <- nginx", "s", size, missing=no_curl)
        m_get = case.measurement(f"{key}-get", f"{label}: peerlab get", "s", size)
        net = _network(bench, emulator, hosts=1, up=spec, down=spec, seed=15)
        try:
            cpu_before = net.emulator_cpu_seconds()
            seeder = link.Peer(net, "seed", bench.peerlab, "seeder").start()
            content_id = seeder.share(source)
            url = None if no_curl else _start_nginx(bench, net, os.path.dirname(source))
            for rep in range(1, cfg["long_reps"] + 1):
                bench.say(f"{label}, {size // MiB} MiB: repetition {rep} of {cfg['long_reps']}")
                if url:
                    m_curl.add(_curl(bench, net, f"{url}/{os.path.basename(source)}", source, size))
                m_get.add(_get(bench, net, seeder, content_id, source, f"d{rep}", m_get))
            m_get.extra["link_emulator_cpu_s"] = round(net.emulator_cpu_seconds() - cpu_before, 2)
            m_get.extra["link"] = net.counters()
            if seeder.stop() != 0:
                raise BenchError(f"the seeder did not exit 0 on SIGTERM: {seeder.log_tail()}")
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        finally:
            net.close()
        # Rates: curl's time / get's time = get's rate / curl's.
        case.ratio(f"{key}: get rate / curl rate", f"{key}-curl", f"{key}-get", ">=", 0.9)


def _deadline(size):
    return 60 + size / (MiB / 2)  # 0.5 MiB/s at worst


def _curl(bench, net, url, source, size):
    out = os.path.join(bench.out_dir(), "long-curl.bin")
    started = time.monotonic()
    net.run(0, [bench.tools["curl"], "-sS", "--fail", "-o", out, url], timeout=_deadline(size))
    took = time.monotonic() - started
    _same("curl from nginx over the emulated link", source, out)
    return took


def _get(bench, net, seeder, content_id, source, name, m_get):
    size = os.path.getsize(source)
    downloader = link.Peer(net, 0, bench.peerlab, name, peers=[seeder.listen]).start()
    downloader.wait_lists(content_id)
    gets, outputs = _start_gets([downloader], content_id, bench.out_dir(), "long")
    done = _wait_in_place(net, gets, outputs, time.monotonic() + _deadline(size))[0]
    if done is None:
        done = _deadline(size)
        m_get.extra.setdefault("unfinished", []).append(
            f"not verified after {done:.0f} s: " + _progress([downloader], content_id, size))
        bench.say(m_get.extra["unfinished"][-1])
    if downloader.stop() != 0:
        raise BenchError(f"node {name} did not exit 0 on SIGTERM: {downloader.log_tail()}")
    if os.path.exists(outputs[0]):
        _same("peerlab get over the emulated link", source, outputs[0])
    return done


def _start_nginx(bench, net, root):
    """nginx in the seeder's namespace, serving `root`; returns its base URL."""
    nginx_dir = os.path.join(net.workdir, "nginx")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(nginx_dir, sub), exist_ok=True)
    built = subprocess.run([bench.tools["nginx"], "-V"], capture_output=True, text=True).stderr
    # Only the temp paths of modules this nginx has (nginx-light lacks some).
    temp_paths = "".join(f"  {m}_temp_path {nginx_dir}/{m};\n" for m in ("fastcgi", "uwsgi", "scgi")
                         if f"--without-http_{m}_module" not in built)
    with open(os.path.join(nginx_dir, "nginx.conf"), "w") as f:
        f.write(NGINX_CONFIG.format(user="user root;\n", dir=nginx_dir, ip=link.SEEDER_IP, port=NGINX_PORT,
                                    root=root, module_temp_paths=temp_paths))
    net.spawn("seed", [bench.tools["nginx"], "-p", nginx_dir, "-e", f"{nginx_dir}/error.log", "-c",
                       f"{nginx_dir}/nginx.conf", "-g", "daemon off;"], os.path.join(net.workdir, "nginx.log"))
    url = f"http://{link.SEEDER_IP}:{NGINX_PORT}"
    deadline = time.monotonic() + 20
    while net.run("seed", [bench.tools["curl"], "-s", "-o", "/dev/null", url + "/"], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise BenchError("nginx did not answer in the seeder's namespace within 20 s")
        time.sleep(0.1)
    return url

