#!/usr/bin/env python3
"""A three-node swarm of real processes on 127.0.0.2, .3 and .4.

B is told about A, C about B; C must learn A through peer exchange and dial
it. Every connection must show the right direction and 4-tuple on both ends.
Then B leaves (SIGTERM) and comes back with the same data directory.

This file owns the loopback addresses 127.0.0.2-127.0.0.4 among the e2e tests.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

A_IP, B_IP, C_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4"
SWARM_DEADLINE_S = 5  # acceptance: the swarm forms within 5 seconds


class SwarmTest(e2e.NodeTestCase):
    def start_swarm(self):
        a = self.node("alice", f"{A_IP}:0", f"{A_IP}:0").start()
        b = self.node("bob", f"{B_IP}:0", f"{B_IP}:0", peers=[a.listen]).start()
        c = self.node("carol", f"{C_IP}:0", f"{C_IP}:0", peers=[b.listen]).start()
        return a, b, c

    def wait_connected(self, node, others, timeout=SWARM_DEADLINE_S):
        """Polls `peers --json` on node until it lists every node in `others`."""
        wanted = {o.id for o in others}
        return e2e.wait_until(lambda: (lambda p: p if wanted <= set(p) else None)(node.peer_by_id()),
                              timeout, f"{node.name} to list {sorted(o.name for o in others)}")

    def assert_connection(self, node, peers_by_id, other, direction):
        """One connection as `node` reports it, towards `other`."""
        where = f"on {node.name}, the connection to {other.name}"
        entry = peers_by_id[other.id]
        self.assertEqual(entry["name"], other.name, where)
        self.assertEqual(entry["address"], other.listen, f"{where}: address must be where {other.name} listens")
        self.assertEqual(entry["direction"], direction, where)
        local_ip, local_port = e2e.split_endpoint(entry["local"])
        remote_ip, remote_port = e2e.split_endpoint(entry["remote"])
        self.assertEqual(local_ip, node.ip, f"{where}: local IP must be {node.name}'s own")
        self.assertEqual(remote_ip, other.ip, f"{where}: remote IP must be {other.name}'s")
        if direction == "outbound":
            self.assertEqual(entry["remote"], other.listen, f"{where}: we dialed its listening socket")
            self.assertNotEqual(local_port, e2e.split_endpoint(node.listen)[1],
                                f"{where}: an active socket has its own ephemeral port")
        else:
            self.assertEqual(entry["local"], node.listen, f"{where}: accepted on our listening socket")
            self.assertNotEqual(entry["remote"], other.listen, f"{where}: the peer dialed from an ephemeral port")
        for key in ("bytes_up", "bytes_down", "connected_seconds"):
            self.assertIn(key, entry, where)
            self.assertGreaterEqual(entry[key], 0, f"{where}: {key}")
        self.assertGreater(entry["bytes_up"], 0, f"{where}: at least our hello went out")
        self.assertGreater(entry["bytes_down"], 0, f"{where}: at least its hello came in")
        return entry

    def assert_same_connection(self, x_entry, y_entry, what):
        """The two ends' reports of one TCP connection mirror each other."""
        self.assertEqual(x_entry["local"], y_entry["remote"], what)
        self.assertEqual(x_entry["remote"], y_entry["local"], what)
        self.assertNotEqual(x_entry["direction"], y_entry["direction"], what)

    def check_full_mesh(self, a, b, c):
        on_a = self.wait_connected(a, [b, c])
        on_b = self.wait_connected(b, [a, c])
        on_c = self.wait_connected(c, [a, b])
        for node, peers in ((a, on_a), (b, on_b), (c, on_c)):
            self.assertEqual(len(node.peers()), 2,
                             f"{node.name} must hold exactly one connection to each other node: {peers}")
        ab = self.assert_connection(a, on_a, b, "inbound")
        ac = self.assert_connection(a, on_a, c, "inbound")
        ba = self.assert_connection(b, on_b, a, "outbound")
        bc = self.assert_connection(b, on_b, c, "inbound")
        ca = self.assert_connection(c, on_c, a, "outbound")  # learned through bob, then dialed
        cb = self.assert_connection(c, on_c, b, "outbound")
        self.assert_same_connection(ab, ba, "alice<->bob")
        self.assert_same_connection(ac, ca, "alice<->carol")
        self.assert_same_connection(bc, cb, "bob<->carol")
        return ca

    def test_swarm_forms_survives_a_departure_and_a_rejoin(self):
        a, b, c = self.start_swarm()
        ca = self.check_full_mesh(a, b, c)

        # The HTTP API serves the same data as the CLI.
        for node in (a, b, c):
            api_peers = {p["id"]: p for p in node.api("/api/peers")}
            self.assertEqual(set(api_peers), set(node.peer_by_id()), f"/api/peers of {node.name}")

        # Bob leaves: clean exit, node.json gone, alice and carol keep their connection.
        bob_id = b.id
        self.assertEqual(b.stop(signal.SIGTERM), 0, "bob must exit 0 on SIGTERM")
        self.assertFalse(os.path.exists(b.node_json_path()), "bob must remove node.json on a clean exit")
        for node in (a, c):
            e2e.wait_until(lambda node=node: bob_id not in node.peer_by_id(), 10,
                           f"{node.name} to notice that bob left")

        def alice_carol_still_connected():
            on_c = c.peer_by_id()
            on_a = a.peer_by_id()
            return (a.id in on_c and on_c[a.id]["local"] == ca["local"] and on_c[a.id]["remote"] == ca["remote"]
                    and c.id in on_a)

        e2e.hold_for(alice_carol_still_connected, 3.0, "the alice<->carol connection after bob left")

        # Bob comes back with the same directory: same id, and both others see him again.
        b.start()
        self.assertEqual(b.id, bob_id, "the node id must persist in the data directory")
        self.assertEqual(b.status()["id"], bob_id, "status --json must report the persisted id")
        self.wait_connected(b, [a, c], timeout=15)
        self.wait_connected(a, [b, c], timeout=15)
        self.wait_connected(c, [a, b], timeout=15)
        self.assertEqual(a.peer_by_id()[bob_id]["address"], b.listen, "alice must know bob's new address")
        self.assertEqual(c.peer_by_id()[bob_id]["address"], b.listen, "carol must know bob's new address")

    def test_status_reports_the_node_and_its_connections(self):
        a, b, c = self.start_swarm()
        self.check_full_mesh(a, b, c)
        for node in (a, b, c):
            status = node.status()
            self.assertEqual(status["id"], node.id, f"{node.name}: id")
            self.assertRegex(status["id"], r"^[0-9a-f]{32}$")
            self.assertEqual(status["name"], node.name)
            self.assertEqual(status["listen"], node.listen)
            self.assertEqual(status["http"], node.http)
            self.assertEqual(status["connections"], 2, f"{node.name}: connections")
            self.assertGreaterEqual(status["known_peers"], 2, f"{node.name}: known_peers")
            self.assertEqual(node.api("/api/status")["id"], node.id, f"{node.name}: /api/status")
        # All ids differ, and node.json agrees with what the node says about itself.
        self.assertEqual(len({a.id, b.id, c.id}), 3)
        for node in (a, b, c):
            info = node.read_info()
            self.assertEqual(info["pid"], node.pid)
            self.assertEqual(info["api"], f"http://{node.http}")
            self.assertEqual(e2e.split_endpoint(info["listen"])[0], node.ip)
            self.assertNotEqual(e2e.split_endpoint(info["listen"])[1], 0, "node.json must name the chosen port")
            self.assertNotEqual(e2e.split_endpoint(info["http"])[1], 0, "node.json must name the chosen port")


if __name__ == "__main__":
    e2e.main()
