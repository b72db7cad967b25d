"""peerlab in BitTorrent swarms, each side against aria2c in the same run,
repetitions interleaved, everything through the bench's tracker:

- bt_seed (issue 18): one aria2c leecher fetching a file from a peerlab
  node's peer port, against the same aria2c fetching the same .torrent (the
  node's, 256 KiB pieces) from an aria2c seeder, each seeder alone in a
  swarm of its own tracker: only the seeder differs. Also shown: aria2c
  seeding mktorrent's .torrent of that file (1 MiB pieces);
- bt_leech (issue 19): `peerlab get FILE.torrent` on a fresh node fetching
  from one aria2c seeder, against an aria2c leecher fetching the same
  .torrent from the same seeder."""

import os
import urllib.parse
import urllib.request

import addresses as ip
from case_transfer import check_same, start_torrent
from peerlab import Node
from procs import wait_until
from report import MiB
from torrent import Leecher, Seeder, Tracker


def announce(tracker, info_hash, address):
    host, port = address.rsplit(":", 1)
    query = urllib.parse.urlencode({"info_hash": info_hash, "peer_id": b"-PL0001-benchmark000", "port": port,
                                    "left": 0, "event": "started", "compact": 1, "ip": host},
                                   quote_via=urllib.parse.quote)
    with urllib.request.urlopen(f"{tracker.announce}?{query}", timeout=5) as r:
        r.read()


def seed_to_aria2c(bench, case):
    cfg = bench.cfg
    size = cfg["one_mib"] * MiB
    source = bench.data_file("bt-seed.bin", size)
    timeout = bench.transfer_timeout(size)
    case.facts.update(file_bytes=size, note="seconds from aria2c's start until it exits with the verified file")
    missing = bench.missing("aria2c", "mktorrent")
    m_peerlab = case.measurement("peerlab-seeder", "aria2c <- peerlab seeder (v1 torrent)", "s", size,
                                 missing=missing)
    m_same = case.measurement("aria2c-seeder-same-torrent", "aria2c <- aria2c seeder (the same v1 torrent)", "s",
                              size, missing=missing)
    m_aria2 = case.measurement("aria2c-seeder", "aria2c <- aria2c seeder (mktorrent, 1 MiB pieces)", "s", size,
                               missing=missing)
    if missing:
        return
    bt = start_torrent(bench, "bt-seed.bin")  # the tracker, an aria2c seeder and mktorrent's .torrent
    tracker = bt[0]
    seeder = Node(bench, "bt-seeder", ip.BT_PEERLAB_SEEDER).wait_ready()
    content_id = seeder.share(source)

    def hashes():
        entry = next((f for f in seeder.api("files") if f["id"] == content_id), None)
        return entry and entry.get("bittorrent")

    info = wait_until(hashes, 60, "the peerlab seeder's BitTorrent hashes", proc=seeder.proc)
    torrent = os.path.join(bench.tmp, "bt-seed.peerlab.torrent")
    seeder.cli("torrent", content_id, "--format", "v1", "--tracker", tracker.announce, "-o", torrent)
    announce(tracker, bytes.fromhex(info["v1"]["btih"]), seeder.listen)
    # The node's .torrent once more, announcing to a tracker of its own: the
    # info-hash is the same, the swarm is not, so its leecher meets only the
    # aria2c seeder of that file.
    second_tracker = Tracker(bench, ip.SECOND_TRACKER)
    same_torrent = os.path.join(bench.tmp, "bt-seed.peerlab-second-tracker.torrent")
    seeder.cli("torrent", content_id, "--format", "v1", "--tracker", second_tracker.announce, "-o", same_torrent)
    same_seeder = Seeder(bench, second_tracker, same_torrent, os.path.dirname(source), ip.SECOND_ARIA_SEEDER)
    for rep in range(1, cfg["bt_reps"] + 1):
        bench.say(f"BitTorrent seeding, {size // MiB} MiB: repetition {rep} of {cfg['bt_reps']}")
        for i, (name, measurement, path) in enumerate((("peerlab", m_peerlab, torrent),
                                                       ("aria2c, the same torrent", m_same, same_torrent),
                                                       ("aria2c, mktorrent's", m_aria2, bt[2]))):
            leecher = Leecher(bench, f"bt-leecher-{i}", path, ip.ARIA_LEECHERS[i])
            measurement.add(leecher.wait(timeout))
            check_same(f"aria2c from {name}", source, os.path.join(leecher.dir, "bt-seed.bin"))
    seeder.stop()
    same_seeder.stop()
    second_tracker.stop()
    bt[1].stop()
    tracker.stop()
    case.ratio("peerlab seeding / aria2c seeding the same torrent", "peerlab-seeder", "aria2c-seeder-same-torrent",
               "<=", 1.0)
    case.ratio("peerlab seeding / aria2c seeding mktorrent's", "peerlab-seeder", "aria2c-seeder",
               "<=", 1.0)


def leech_from_aria2c(bench, case):
    cfg = bench.cfg
    size = cfg["one_mib"] * MiB
    source = bench.data_file("bt-leech.bin", size)
    timeout = bench.transfer_timeout(size)
    case.facts.update(file_bytes=size, note="seconds from the start of `peerlab get FILE.torrent` (on a node already "
                      "running) or of aria2c until it exits with the verified file; one aria2c seeder, mktorrent's "
                      "1 MiB pieces")
    missing = bench.missing("aria2c", "mktorrent")
    m_peerlab = case.measurement("peerlab-leecher", "peerlab get FILE.torrent <- aria2c seeder", "s", size,
                                 missing=missing)
    m_in_place = case.measurement("peerlab-leecher-in-place", "  the same, until the verified file is in place", "s",
                                  size, missing=missing)
    m_aria2 = case.measurement("aria2c-leecher", "aria2c <- aria2c seeder", "s", size, missing=missing)
    if missing:
        return
    tracker, seeder, torrent = start_torrent(bench, "bt-leech.bin")
    for rep in range(1, cfg["bt_reps"] + 1):
        bench.say(f"BitTorrent leeching, {size // MiB} MiB: repetition {rep} of {cfg['bt_reps']}")
        leecher = Leecher(bench, "bt-leecher-aria2c", torrent, ip.ARIA_LEECHERS[0])
        m_aria2.add(leecher.wait(timeout))
        check_same("aria2c from aria2c", source, os.path.join(leecher.dir, "bt-leech.bin"))
        # A fresh node each time: what a previous repetition fetched would be found on disk.
        node = Node(bench, "bt-leecher", ip.BT_PEERLAB_LEECHER).wait_ready()
        output = os.path.join(bench.out_dir(), "bt-leech.peerlab.bin")
        in_place, exited = node.start_get(torrent, output).wait(timeout)
        check_same("peerlab get from aria2c", source, output)
        node.stop()
        m_peerlab.add(exited)
        m_in_place.add(in_place)
    seeder.stop()
    tracker.stop()
    case.ratio("peerlab leeching / aria2c leeching", "peerlab-leecher", "aria2c-leecher", "<=", 1.0)
