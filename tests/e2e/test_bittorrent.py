#!/usr/bin/env python3
"""A peerlab node seeds to BitTorrent clients from Debian (issue 18).

One peerlab node shares a file; aria2c (v1 .torrent), transmission-cli (v1)
and libtorrent (hybrid, v2, and a magnet link alone: metadata by BEP 9)
download it from the node's peer port, and the SHA-256 of what they wrote
equals the original's. aria2c finds the node through the node's own tracker
(the .torrent's default announce URL: the node lists itself as a seeder),
Transmission too, on a LAN of namespaces (it ignores loopback peers);
libtorrent is given the node's address directly. Three aria2c
leechers at once also trade among themselves (the node's tracker tells them
of each other).

This file owns the loopback addresses 127.0.30.x; one ctest entry per case.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bittorrent_clients as bt  # noqa: E402
import peerlab_e2e as e2e  # noqa: E402

SEEDER_IP = "127.0.30.1"
CLIENT_IPS = ["127.0.30.11", "127.0.30.12", "127.0.30.13"]
FILE_BYTES = 6 * 1024 * 1024 + 12345  # a few pieces, and a short last one
# The acceptance's 64 MiB where a client is quick at it (a second or two).
BIG_FILE_CASES = {"test_aria2c_downloads_a_v1_torrent", "test_libtorrent_downloads_a_hybrid_torrent",
                  "test_libtorrent_downloads_a_v2_torrent"}
BIG_FILE_BYTES = 64 * 1024 * 1024 + 12345


class NamespacedNode(e2e.Node):
    """A node (and the CLI talking to it) inside a network namespace."""

    def __init__(self, host, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.host = host

    def command(self):
        return self.host.command(super().command())

    def run_ok(self, *args):
        result = self.host.run([e2e.PEERLAB, *args, "--dir", self.dir])
        if result.returncode != 0:
            raise AssertionError(f"peerlab {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result.stdout

    def _query(self, command):
        return json.loads(self.run_ok(command, "--json"))


class BitTorrentTest(e2e.NodeTestCase):
    SEEDER_FLAGS = ()

    def setUp(self):
        super().setUp()
        extra = list(self.SEEDER_FLAGS)
        if self._testMethodName == "test_three_aria2c_leechers_at_once_also_trade_among_themselves":
            # A seeder slower than loopback: each leecher gets part of the
            # file from the seeder and must take the rest from the others.
            extra += ["--up-limit", "2MiB"]
        self.seeder = self.node("seeder", f"{SEEDER_IP}:0", f"{SEEDER_IP}:0", extra=extra).start()
        self.original = os.path.join(self.tmp, "shared.bin")
        self.file_bytes = BIG_FILE_BYTES if self._testMethodName in BIG_FILE_CASES else FILE_BYTES
        e2e.write_random_file(self.original, self.file_bytes)
        self.file_id = self.seeder.share(self.original)
        self.expected = e2e.sha256_file(self.original)
        self.clients = []
        self.addCleanup(self._stop_clients)

    def _stop_clients(self):
        for c in self.clients:
            c.stop()
        if self._failed():
            for c in self.clients:
                if isinstance(c, bt.Process):
                    sys.stderr.write(f"\n----- {c.args[0]} ({c.log_path}) -----\n{c.output()[-3000:]}\n")

    def torrent(self, fmt, tracker=None):
        """`peerlab torrent`: writes the .torrent, returns (path, magnet link)."""
        path = os.path.join(self.tmp, f"shared.{fmt}.torrent")
        args = ["torrent", self.file_id, "--dir", self.seeder.dir, "--format", fmt, "-o", path]
        if tracker:
            args += ["--tracker", tracker]
        result = e2e.run_cli(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        magnet = result.stdout.strip()
        self.assertTrue(magnet.startswith("magnet:?xt=urn:btih:") or magnet.startswith("magnet:?xt=urn:btmh:"),
                        magnet)
        return path, magnet

    def assert_same_file(self, path):
        self.assertEqual(e2e.sha256_file(path), self.expected)

    def wait_for_bittorrent_hashes(self):
        e2e.wait_until(lambda: self.seeder.file_entry(self.file_id).get("bittorrent"), 10, "BitTorrent hashes")

    # -- cases

    def test_aria2c_downloads_a_v1_torrent(self):
        self.wait_for_bittorrent_hashes()
        path, _ = self.torrent("v1")  # announces to the node's own /announce
        out = os.path.join(self.tmp, "aria2")
        client = bt.aria2c(path, out, CLIENT_IPS[0], os.path.join(self.tmp, "aria2.log"))
        self.clients.append(client)
        e2e.wait_until(client.exited, 60, "aria2c to finish")
        self.assertEqual(client.proc.returncode, 0, client.output()[-2000:])
        self.assert_same_file(os.path.join(out, "shared.bin"))
        self.seeder.assert_alive()

    def test_transmission_downloads_a_v1_torrent(self):
        # Transmission 3.00 drops every 127.0.0.0/8 peer a tracker names (it
        # takes them for martians), so this case runs on a LAN of network
        # namespaces instead: the seeder (and its tracker) and Transmission on 10.77.30.x.
        import netns

        why = netns.unavailable()
        if why:
            self.skipTest(why)
        lan = netns.Lan(hosts=2, subnet="10.77.30", subnet6="fd77:0:30:1")
        self.addCleanup(lan.delete)
        seed_host, client_host = lan.hosts
        self.seeder.stop()
        seeder = NamespacedNode(seed_host, os.path.join(self.tmp, "ns-seeder"), f"{seed_host.ip}:0",
                                f"{seed_host.ip}:0", name="ns-seeder")
        self.nodes.append(seeder)
        seeder.start()
        file_id = seeder.run_ok("share", self.original).strip()
        e2e.wait_until(lambda: seeder.file_entry(file_id).get("bittorrent"), 10, "BitTorrent hashes")
        path = os.path.join(self.tmp, "ns.v1.torrent")
        # Announces to the node's own tracker, which lists the node itself.
        seeder.run_ok("torrent", file_id, "--format", "v1", "-o", path)
        out = os.path.join(self.tmp, "transmission")
        os.makedirs(out)
        client = bt.transmission(path, out, os.path.join(self.tmp, "transmission-config"), client_host.ip,
                                 os.path.join(self.tmp, "transmission.log"), wrap=client_host.command)
        self.clients.append(client)
        done = os.path.join(out, "shared.bin")

        def complete():
            if client.exited():
                raise e2e.GiveUp(f"transmission-cli exited {client.proc.returncode}")
            return os.path.exists(done) and os.path.getsize(done) == self.file_bytes and \
                e2e.sha256_file(done) == self.expected

        # Transmission writes in place and seeds on: done once the bytes match.
        e2e.wait_until(complete, 60, "transmission-cli to finish", interval=0.5)
        client.stop()
        seeder.assert_alive()

    def libtorrent_fetch(self, fmt, magnet_only=False):
        self.wait_for_bittorrent_hashes()
        path, magnet = self.torrent(fmt)
        session = bt.lt_session(CLIENT_IPS[0])
        out = os.path.join(self.tmp, f"lt-{fmt}{'-magnet' if magnet_only else ''}")
        os.makedirs(out)
        handle = bt.lt_download(session, out, self.seeder.listen, torrent=None if magnet_only else path,
                                magnet=magnet if magnet_only else None)
        bt.lt_wait_seeding(handle, 60, peer=self.seeder.listen)
        self.assert_same_file(os.path.join(out, "shared.bin"))
        del session
        self.seeder.assert_alive()

    def test_libtorrent_downloads_a_hybrid_torrent(self):
        self.libtorrent_fetch("hybrid")
        # --trace's events show the BitTorrent messages, named by the client
        # its extension handshake gave (the peer list shows it the same way:
        # test_hostile_bittorrent.py checks that on a connection that stays).
        events = self.seeder.api("/api/trace")["events"]
        types = {e["type"] for e in events}
        self.assertIn("bt piece", types)
        self.assertTrue(any("libtorrent" in e["peer"] for e in events if e["type"].startswith("bt ")), types)

    def test_libtorrent_downloads_a_v2_torrent(self):
        self.libtorrent_fetch("v2")

    def test_libtorrent_downloads_from_the_magnet_link_alone(self):
        self.libtorrent_fetch("hybrid", magnet_only=True)
        self.libtorrent_fetch("v1", magnet_only=True)
        # v2 alone: the info dictionary has no piece hashes, so libtorrent
        # asks for the piece layer with BEP 52 hash requests.
        self.libtorrent_fetch("v2", magnet_only=True)

    def test_three_aria2c_leechers_at_once_also_trade_among_themselves(self):
        self.wait_for_bittorrent_hashes()
        path, _ = self.torrent("v1")  # the node's own tracker
        clients = []
        for i, ip in enumerate(CLIENT_IPS):
            out = os.path.join(self.tmp, f"aria2-{i}")
            client = bt.aria2c(path, out, ip, os.path.join(self.tmp, f"aria2-{i}.log"),
                               extra=["--bt-max-peers=10", "--bt-request-peer-speed-limit=1M"])
            self.clients.append(client)
            clients.append((client, out))
        e2e.wait_until(lambda: all(c.exited() for c, _ in clients), 60, "three aria2c to finish", interval=0.2)
        for client, out in clients:
            self.assertEqual(client.proc.returncode, 0, client.output()[-2000:])
            self.assert_same_file(os.path.join(out, "shared.bin"))
        # The seeder uploaded less than three copies: the leechers traded the rest.
        uploaded = self.seeder.status()["bytes_up"]
        self.assertLess(uploaded, 3 * self.file_bytes, "the aria2c leechers took everything from the seeder")
        self.seeder.assert_alive()


if __name__ == "__main__":
    e2e.main()
