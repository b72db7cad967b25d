#!/usr/bin/env python3
"""Transfers over emulated links (issue 15): a seeder behind a slow uplink
with three downloaders, and one downloader over a long or lossy 100 Mbit/s
path. Hosts live in network namespaces joined by tests/link/link_emulator
(emulated_link.py); without root the tests skip, saying so.

What is asserted: every download completes within a generous deadline and
is byte for byte the source, the seeder sent at least one copy and every
byte it sent crossed the emulated link (which really did delay, queue or
drop). Wall-clock speed is never asserted: bench/case_links.py measures it.
What the seeder sent is printed, for people to compare.

Namespaces: pl-link-<pid>-<n>-*, addresses 10.77.0.x inside them only.
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulated_link as link  # noqa: E402
import peerlab_e2e as e2e  # noqa: E402

MiB = e2e.MiB
EMULATOR = None  # --link-emulator PATH, else next to the peerlab binary

SLOW_UPLINK = dict(up=link.spec(rate="2mbit", delay_ms=20, queue="64KiB"),
                   down=link.spec(rate="20mbit", delay_ms=20, queue="64KiB"))
SLOW_FILE_BYTES = 4 * MiB
SLOW_DEADLINE_S = 150  # the P2P bound is 17 s (4 MiB at 2 Mbit/s)
LOSSY = link.spec(rate="100mbit", delay_ms=100, queue="2500KB", loss="1%")  # 200 ms RTT, both ways
LONG = link.spec(rate="100mbit", delay_ms=200, queue="5MB")  # 400 ms RTT
FAST_FILE_BYTES = 16 * MiB
FAST_DEADLINE_S = 120


def say(text):
    print(f"links: {text}", file=sys.stderr, flush=True)


class LinksTest(unittest.TestCase):
    def setUp(self):
        self.emulator = EMULATOR or link.find_emulator(e2e.PEERLAB)
        reason = link.skip_reason(self.emulator)
        if reason:
            self.skipTest(reason)
        self.tmp = tempfile.mkdtemp(prefix=f"peerlab-links-{self._testMethodName}-")
        self.addCleanup(self._remove_tmp)

    def _remove_tmp(self):
        if e2e.test_failed(self):
            say(f"kept {self.tmp} (node and emulator logs) for a look")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def network(self, **settings):
        net = link.Network(self.emulator, os.path.join(self.tmp, "net"), **settings)
        self.addCleanup(net.close)
        return net.start()

    def wait_for_gets(self, net, seeder, gets, downloaders, content_id, size, deadline_s):
        """Until every `peerlab get` exited 0; on the deadline, fails saying how far each got."""
        deadline = time.monotonic() + e2e.seconds(deadline_s)
        while any(g.poll() is None for g in gets):
            if time.monotonic() > deadline:
                progress = []
                for d in downloaders:
                    t = d.progress(content_id) or {}
                    progress.append(f"{d.name} at {100 * t.get('bytes_done', 0) / size:.0f} % "
                                    f"({t.get('chunks_fetched')} chunks fetched, {t.get('rate')} B/s)")
                sent = seeder.status()["bytes_up"]
                self.fail(f"not every download finished within {e2e.seconds(deadline_s):.0f} s: "
                          + "; ".join(progress) + f"; the seeder sent {sent / size:.2f} x the file; "
                          f"the link: {net.counters()}")
            time.sleep(0.2)
        for g, d in zip(gets, downloaders):
            self.assertEqual(g.returncode, 0, f"peerlab get on {d.name} failed: {d.log_tail()}")

    def transfer(self, net, hosts, size, deadline_s):
        """The seeder shares `size` random bytes; every host gets them. Returns
        (seconds, the seeder's bytes_up, the link's counters)."""
        source = e2e.write_random_file(os.path.join(self.tmp, "source.bin"), size)
        want = e2e.sha256_file(source)
        seeder = link.Peer(net, "seed", e2e.PEERLAB, "seeder").start()
        content_id = seeder.share(source)
        downloaders = [link.Peer(net, i, e2e.PEERLAB, f"d{i}", peers=[seeder.listen]).start() for i in range(hosts)]
        for d in downloaders:
            d.wait_lists(content_id, timeout=e2e.seconds(30))
        outputs = [os.path.join(self.tmp, f"out{i}.bin") for i in range(hosts)]
        started = time.monotonic()
        gets = [d.start_get(content_id, out) for d, out in zip(downloaders, outputs)]
        self.wait_for_gets(net, seeder, gets, downloaders, content_id, size, deadline_s)
        took = time.monotonic() - started
        for out in outputs:
            self.assertEqual(e2e.sha256_file(out), want, f"{out} differs from the source")
        sent = seeder.status()["bytes_up"]
        counters = net.counters()
        for node in [seeder] + downloaders:
            self.assertEqual(node.stop(), 0, f"node {node.name} did not exit 0 on SIGTERM: {node.log_tail()}")
        self.assertEqual(net.stop_emulator(), 0, f"link_emulator did not exit 0; see {net.emulator_log}")
        # At least one copy left the seeder, and crossed the emulated link.
        # (Not all it sent: a chunk nobody needed any more may still be in
        # its kernel when the last get ends, counted as sent, never carried.)
        self.assertGreaterEqual(sent, size)
        self.assertGreaterEqual(counters["a_to_b"]["bytes"], size)
        return took, sent, counters

    def report(self, what, size, took, sent, counters):
        up, down = counters["a_to_b"], counters["b_to_a"]
        say(f"{what}: {size // MiB} MiB in {took:.1f} s; the seeder sent {sent / MiB:.1f} MiB "
            f"({sent / size:.2f} x the file); link from the seeder: {up['frames']} frames, "
            f"{up['queue_drops']} dropped by the queue, {up['loss_drops']} lost; towards it: {down['frames']} "
            f"frames, {down['queue_drops']} dropped by the queue, {down['loss_drops']} lost")

    def test_three_downloaders_behind_a_2_mbit_uplink_all_verify(self):
        net = self.network(hosts=3, **SLOW_UPLINK)
        took, sent, counters = self.transfer(net, 3, SLOW_FILE_BYTES, SLOW_DEADLINE_S)
        self.report("3 downloaders, seeder uplink 2 Mbit/s", SLOW_FILE_BYTES, took, sent, counters)
        # The link was the bottleneck: nothing crosses 2 Mbit/s faster than the rate allows.
        self.assertGreaterEqual(took, SLOW_FILE_BYTES * 8 / 2e6 * 0.95)

    def test_100_mbit_200_ms_round_trip_1_percent_loss_completes(self):
        net = self.network(hosts=1, up=LOSSY, down=LOSSY, seed=15)
        took, sent, counters = self.transfer(net, 1, FAST_FILE_BYTES, FAST_DEADLINE_S)
        self.report("100 Mbit/s, 200 ms RTT, 1 % loss", FAST_FILE_BYTES, took, sent, counters)
        self.assertGreater(counters["a_to_b"]["loss_drops"], 0, "the lossy link lost nothing")
        self.assertGreaterEqual(took, 0.2, "a 200 ms round trip took less than 200 ms")

    def test_100_mbit_400_ms_round_trip_completes(self):
        net = self.network(hosts=1, up=LONG, down=LONG)
        took, sent, counters = self.transfer(net, 1, FAST_FILE_BYTES, FAST_DEADLINE_S)
        self.report("100 Mbit/s, 400 ms RTT", FAST_FILE_BYTES, took, sent, counters)
        self.assertEqual(counters["a_to_b"]["loss_drops"], 0)
        self.assertGreaterEqual(took, 0.4, "a 400 ms round trip took less than 400 ms")


if __name__ == "__main__":
    if "--link-emulator" in sys.argv:
        i = sys.argv.index("--link-emulator")
        EMULATOR = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    e2e.main()
