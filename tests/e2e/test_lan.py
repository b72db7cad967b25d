"""peerlab across real machines (issue 14): four hosts on a LAN made of
network namespaces (netns.py: veths on a bridge, 10.77.0.1-4/24, no route
out), each running `peerlab node` as a user would, with no --listen.

Nodes that listen on every interface or send LAN beacons run only inside
these namespaces: nothing reaches the machine's real interfaces. Needs root
(CI runs as root); otherwise every test is skipped, saying why. Namespaces
are named pl-lan-<pid>-<n>-*, so several runs can go side by side, and are
deleted at the end, also when a test fails (tearDownClass, and atexit).

  1. beacons alone: all four find each other within 5 s; a file shared on
     one host is fetched by the three others at once, from several hosts;
  2. --peer HOSTNAME:7070 with --no-discovery: the same mesh; a --peer that
     is down is reported once; a loopback --listen with a LAN --peer is
     refused at start in one sentence;
  3. --http 0.0.0.0:8080: the dashboard, API and files from another host;
     the CLI on the node's own host; Host checks and the token;
  4. no loopback address reaches a LAN peer; unasked `peers` change nothing;
  5. the one-machine classroom (127.0.0.x, --listen given) sends no beacon.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import netns  # noqa: E402
import peerlab_e2e as e2e  # noqa: E402
import wire  # noqa: E402

MiB = 1024 * 1024
MESH_DEADLINE_S = 5  # acceptance 1: the beacon mesh forms within this


class LanNode(e2e.Node):
    """A `peerlab node` inside one host's namespace, with exactly the flags given
    (no --listen or --http unless a test passes them); its CLI runs there too."""

    def __init__(self, host, data_dir, args=(), name=None):
        super().__init__(data_dir, None, None, name=name or host.name)
        self.host = host
        self.args = list(args)

    def command(self):
        return self.host.command([e2e.PEERLAB, "node", "--dir", self.dir, "--name", self.name, *self.args])

    def cli(self, *args, timeout=60):
        return self.host.run([e2e.PEERLAB, *args], timeout=e2e.seconds(timeout))

    def _query(self, command):
        result = self.cli(command, "--dir", self.dir, "--json")
        if result.returncode != 0:
            self.assert_alive()
            raise AssertionError(f"peerlab {command} on {self.name}: {result.stderr.strip()}")
        return json.loads(result.stdout)

    def api(self, path):
        return self.host.call(e2e.http_get_json, f"http://{self.http}{path}")

    def share(self, path, timeout=60):
        result = self.cli("share", path, "--dir", self.dir, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"share on {self.name}: {result.stderr.strip()}")
        return result.stdout.strip()

    def start_get(self, file_id, output):
        return self.host.popen([e2e.PEERLAB, "get", file_id, "--dir", self.dir, "-o", output, "--quiet"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=e2e._die_with_parent)

    def known(self):
        return {k["address"]: k for k in self.api("/api/known-peers")}

    def remotes(self):
        return sorted(e2e.split_endpoint(p["remote"])[0] for p in self.peers())


def http(host, url, method="GET", headers=None, body=None):
    """(status, body bytes) of one request made from inside `host`."""

    def request():
        req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=e2e.seconds(10)) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    return host.call(request)


class LanTest(unittest.TestCase):
    maxDiff = None
    lan = None

    @classmethod
    def setUpClass(cls):
        reason = netns.unavailable()
        if reason:
            raise unittest.SkipTest(f"no namespace LAN: {reason}")
        cls.lan = netns.Lan(hosts=4)

    @classmethod
    def tearDownClass(cls):
        if cls.lan:
            cls.lan.delete()
            leftovers = cls.lan.leftovers()
            assert not leftovers, f"namespaces left behind: {leftovers}"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=f"peerlab-lan-{self._testMethodName}-")
        self.nodes = []
        self.processes = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        for node in self.nodes:
            node.kill()
        if e2e.test_failed(self):
            for node in self.nodes:
                if node.log_path:
                    sys.stderr.write(f"\n----- log of {node.name} ({node.log_path}) -----\n{node.log_tail(60)}\n")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def node(self, host, *args, name=None):
        n = LanNode(host, os.path.join(self.tmp, name or host.name), args, name=name)
        self.nodes.append(n)
        return n

    def wait_mesh(self, nodes, timeout):
        want = len(nodes) - 1
        e2e.wait_until(lambda: all(len(n.peers()) == want for n in nodes), timeout,
                       f"every node connected to the {want} others")

    def assert_lan_mesh(self, nodes):
        ips = {n.host.ip for n in nodes}
        for n in nodes:
            peers = n.peers()
            self.assertEqual({e2e.split_endpoint(p["remote"])[0] for p in peers}, ips - {n.host.ip}, peers)
            for p in peers:
                # Both ends of every connection are LAN addresses, and each peer's
                # address is where it listens: its host's IP, port 7070.
                self.assertEqual(e2e.split_endpoint(p["local"])[0], n.host.ip, p)
                self.assertRegex(p["address"], r"^10\.77\.0\.\d:7070$", p)

    # ------------------------------------------------------------ 1. beacons

    def test_1_beacons_alone_form_the_mesh_and_three_hosts_fetch_at_once(self):
        nodes = [self.node(h) for h in self.lan.hosts]
        # Chunks should come from several hosts: the seeder's upload is limited,
        # so the downloaders pass chunks on to each other.
        nodes[0].args += ["--up-limit", "2MiB"]
        for n in nodes:
            n.start()
        started = time.monotonic()
        self.wait_mesh(nodes, MESH_DEADLINE_S)
        took = time.monotonic() - started
        sys.stderr.write(f"\nbeacon mesh of 4 hosts formed {took:.2f}s after the last node started\n")
        self.assert_lan_mesh(nodes)
        for n in nodes:
            self.assertIn("LAN discovery: beacons on 239.192.76.80:7071", n.log())
            self.assertEqual(n.read_info()["listen"], "[::]:7070")
            self.assertTrue(n.status()["lan_discovery"])
        # Each node heard the beacons of those started after it (the last one
        # was dialed by all the others before it heard anyone).
        heard = set(re.findall(r"LAN discovery: a node at (10\.77\.0\.\d:7070)", nodes[0].log()))
        self.assertEqual(heard, {f"{n.host.ip}:7070" for n in nodes[1:]})

        source = e2e.write_random_file(os.path.join(self.tmp, "lecture.bin"), 6 * MiB)
        digest = e2e.sha256_file(source)
        file_id = nodes[0].share(source)
        e2e.wait_until(lambda: all(n.file_entry(file_id) for n in nodes[1:]), 15, "the catalog on every host")
        started = time.monotonic()
        outputs = {}
        for n in nodes[1:]:
            outputs[n] = os.path.join(self.tmp, f"copy-{n.name}.bin")
            self.processes.append(n.start_get(file_id, outputs[n]))
        for p in self.processes:
            _, err = p.communicate(timeout=e2e.seconds(90))
            self.assertEqual(p.returncode, 0, err)
        took = time.monotonic() - started
        senders = {}
        for n in nodes[1:]:
            self.assertEqual(e2e.sha256_file(outputs[n]), digest, n.name)
            senders[n.name] = {k: v for k, v in n.transfer(file_id)["sources"].items() if v > 0}
        sys.stderr.write(f"6 MiB fetched by 3 hosts at once in {took:.1f}s; chunks by sender: {senders}\n")
        self.assertTrue(any(len(s) >= 2 for s in senders.values()),
                        f"some host must get chunks from several hosts: {senders}")
        self.assertTrue(any(set(s) - {"h1"} for s in senders.values()),
                        f"chunks must also come from hosts other than the seeder: {senders}")

    # ------------------------------------------------------------ 2. --peer by name

    def test_2_peer_by_host_name_without_discovery_forms_the_mesh(self):
        h1, h2, h3, h4 = self.lan.hosts
        # h2 first, while nobody listens on h1: it says so once, then keeps trying.
        early = self.node(h2, "--peer", "h1:7070", "--no-discovery").start()
        e2e.wait_until(lambda: any(k["failures"] >= 2 for k in early.api("/api/known-peers")), 10,
                       "two failed dials of h1")
        first = self.node(h1, "--no-discovery").start()
        others = [self.node(h, "--peer", "h1:7070", "--no-discovery").start() for h in (h3, h4)]
        nodes = [first, early, *others]
        started = time.monotonic()
        self.wait_mesh(nodes, 20)
        sys.stderr.write(f"\n--peer h1:7070 mesh formed {time.monotonic() - started:.2f}s after the last start\n")
        self.assert_lan_mesh(nodes)
        for n in nodes:
            self.assertNotIn("LAN discovery", n.log(), "--no-discovery: no beacon")
            self.assertFalse(n.status()["lan_discovery"])
        reports = re.findall(r"cannot reach --peer h1:7070 \(10\.77\.0\.1:7070: [^)]+\); .*", early.log())
        self.assertEqual(len(reports), 1, early.log())
        self.assertIn("firewall", reports[0])
        self.assertIn("reached --peer h1:7070 at 10.77.0.1:7070", early.log())

    def test_2_a_name_that_moves_is_looked_up_again_and_one_that_never_resolves_is_reported_once(self):
        h1, h2, h3 = self.lan.hosts[:3]
        self.lan.set_hosts_entry("teacher", h1.ip)  # nobody listens on h1 in this test
        moved_to = self.node(h3, "--no-discovery").start()
        student = self.node(h2, "--peer", "teacher:7070", "--peer", "nosuch:7070", "--no-discovery").start()
        e2e.wait_until(lambda: "cannot reach --peer teacher:7070 (10.77.0.1:7070" in student.log(), 10,
                       "the unreachable teacher reported")
        # The teacher's laptop got a new address: the name is looked up again.
        self.lan.set_hosts_entry("teacher", h3.ip)
        moved = time.monotonic()
        e2e.wait_until(lambda: [p["name"] for p in student.peers()] == [moved_to.name], 30,
                       "the student connected to the name's new address")
        sys.stderr.write(f"\nteacher:7070 moved to {h3.ip}: connected {time.monotonic() - moved:.1f}s later\n")
        log = student.log()
        self.assertIn("reached --peer teacher:7070 at 10.77.0.3:7070", log)
        self.assertNotIn("10.77.0.1:7070", student.known(), "the name's old address is dropped")
        self.assertEqual(len(re.findall(r"cannot resolve --peer nosuch:7070", log)), 1, log)
        self.assertEqual(len(re.findall(r"cannot reach --peer teacher:7070", log)), 1, log)

    def test_2_loopback_listen_with_a_lan_peer_is_refused_in_one_sentence(self):
        h = self.lan.hosts[3]
        n = self.node(h, "--listen", "127.0.0.1:7070", "--peer", "10.77.0.1:7070", name="confused")
        n.spawn()
        code = n.proc.wait(timeout=e2e.seconds(10))
        self.assertNotEqual(code, 0)
        lines = n.log().splitlines()
        self.assertEqual(len(lines), 1, n.log())
        self.assertIn("--listen 127.0.0.1:7070 is a loopback address", lines[0])
        self.assertIn("--peer 10.77.0.1:7070", lines[0])
        self.assertIn("leave out --listen", lines[0])
        self.assertFalse(os.path.exists(n.node_json_path()))

    def test_2_a_peer_that_is_this_node_itself_is_never_dialed_again(self):
        # Listening on every interface, a node cannot know 10.77.0.1 is its own
        # address until the hello comes back with its own id (protocol §7.2).
        h1 = self.lan.hosts[0]
        n = self.node(h1, "--peer", f"{h1.ip}:7070", "--no-discovery").start()
        e2e.wait_until(lambda: n.known().get(f"{h1.ip}:7070", {}).get("state") == "self", 10,
                       "its own address marked as such")
        self.assertIn(f"--peer {h1.ip}:7070 is this node itself", n.log())
        self.assertNotIn("cannot reach", n.log())
        e2e.hold_for(lambda: n.known()[f"{h1.ip}:7070"]["state"] == "self" and not n.peers(), 2.5,
                     "no second dial of itself")

    def test_2_an_ipv6_literal_peer_connects_over_ipv6(self):
        h1, h2 = self.lan.hosts[:2]
        server = self.node(h1, "--no-discovery", "--http", "[::]:8080").start()
        client = self.node(h2, "--peer", f"[{h1.ip6}]:7070", "--no-discovery").start()
        self.wait_mesh([server, client], 10)
        (p,) = client.peers()
        self.assertEqual(p["address"], f"[{h1.ip6}]:7070")
        self.assertEqual(p["local"].rsplit(":", 1)[0], f"[{h2.ip6}]", "dialed over IPv6")
        self.assertEqual(server.read_info()["http"], "[::1]:8080", "node.json: loopback for the local CLI")
        self.assertEqual(server.status()["id"], server.id, "the CLI reaches a node on [::]")
        self.assertIn(f"http://[{h1.ip6}]:8080/", server.log(), "a dashboard URL for the IPv6 address")
        status, _ = http(h2, f"http://[{h1.ip6}]:8080/api/status")
        self.assertEqual(status, 200)

    # ------------------------------------------------------------ 3. --http 0.0.0.0

    def test_3_dashboard_api_and_files_on_every_interface(self):
        h1, h2 = self.lan.hosts[:2]
        teacher = self.node(h1, "--http", "0.0.0.0:8080", "--allow-host", "classroom.example",
                            "--no-discovery").start()
        student = self.node(h2, "--peer", "h1:7070", "--no-discovery").start()
        info = teacher.read_info()
        self.assertEqual(info["http"], "127.0.0.1:8080", "node.json: an address the local CLI can use")
        self.assertIn("http://10.77.0.1:8080/", teacher.log(), "a dashboard URL for the LAN address")
        self.wait_mesh([teacher, student], 10)

        # The CLI on the teacher's own host: status, peers, share, get.
        self.assertEqual(teacher.status()["id"], teacher.id)
        self.assertEqual([p["name"] for p in teacher.peers()], ["h2"])
        source = e2e.write_random_file(os.path.join(self.tmp, "slides.bin"), 1 * MiB)
        file_id = teacher.share(source)
        notes = e2e.write_random_file(os.path.join(self.tmp, "notes.bin"), 300 * 1024)
        notes_id = student.share(notes)
        e2e.wait_until(lambda: teacher.file_entry(notes_id), 10, "the student's file in the teacher's list")
        got = teacher.cli("get", notes_id, "--dir", teacher.dir, "-o", os.path.join(self.tmp, "got.bin"),
                          "--quiet")
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(e2e.sha256_file(os.path.join(self.tmp, "got.bin")), e2e.sha256_file(notes))

        # From another host.
        base = "http://10.77.0.1:8080"
        status, page = http(h2, base + "/")
        self.assertEqual(status, 200)
        self.assertIn(b"<html", page.lower())
        status, body = http(h2, base + "/api/status")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["id"], teacher.id)
        status, body = http(h2, f"{base}/files/{file_id}")
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), e2e.sha256_file(source))
        status, _ = http(h2, base + "/api/status", headers={"Host": "classroom.example:8080"})
        self.assertEqual(status, 200, "--allow-host classroom.example")
        status, body = http(h2, base + "/api/status", headers={"Host": "evil.example:8080"})
        self.assertEqual(status, 403)
        self.assertIn(b"--allow-host evil.example", body)
        status, _ = http(h2, base + "/api/share", method="POST", body=b'{"path": "/etc/hostname"}',
                         headers={"Content-Type": "application/json"})
        self.assertEqual(status, 401, "POST without the token")

    # ------------------------------------------------------------ 4. address scopes

    def test_4_no_loopback_address_reaches_a_lan_peer_and_unasked_peers_change_nothing(self):
        h1, h2, h3 = self.lan.hosts[:3]
        hub = self.node(h1, "--no-discovery").start()
        # A one-machine neighbour of the hub, on the hub's loopback.
        local = self.node(h1, "--listen", "127.0.0.2:7071", "--http", "127.0.0.2:0", "--peer", "127.0.0.1:7070",
                          name="neighbour").start()
        e2e.wait_until(lambda: "127.0.0.2:7071" in {p["address"] for p in hub.peers()}, 10,
                       "the loopback neighbour connected to the hub")
        far = [self.node(h, "--peer", "h1:7070", "--no-discovery").start() for h in (h2, h3)]
        # Each far node learns the other through the hub: answers did arrive.
        e2e.wait_until(lambda: all(len(n.peers()) == 2 for n in far), 30, "the far nodes connected to each other")
        for n in far:
            known = n.known()
            loopback = [a for a in known if a.startswith("127.") or a.startswith("[::1]")]
            self.assertEqual(loopback, [], f"{n.name} knows {sorted(known)}")
        self.assertIn("127.0.0.2:7071", hub.known(), "the hub itself keeps its loopback neighbour")
        self.assertEqual(set(local.known()), {"127.0.0.1:7070"}, "a loopback node dials only loopback")

        # An unasked `peers` message from a peer on h3 changes nothing.
        target = far[0]
        answered = threading.Event()

        def answer(peer, message):
            # Asked: its LAN address is taken, its loopback one (meaningless here) is not.
            peer.answer(wire.peers([("127.0.0.5", 7070), ("10.77.0.97", 7070)]))
            answered.set()

        fake = h3.call(wire.FakePeer, f"{h2.ip}:7070", h3.ip, name="injector", handlers={wire.GET_PEERS: answer})
        self.addCleanup(fake.close)
        fake.handshake()
        self.assertTrue(answered.wait(e2e.seconds(10)), "the node asks a new peer for its peers")
        e2e.wait_until(lambda: "10.77.0.97:7070" in target.known(), 10, "the answered LAN address")
        before = set(target.known())
        self.assertNotIn("127.0.0.5:7070", before, "a loopback address from another host is ignored")
        fake.send(wire.peers([("10.77.0.99", 7070), ("10.77.0.98", 7070), ("127.0.0.1", 7070)]))
        fake.send(wire.get_peers())
        fake.wait_message(wire.PEERS, 10)
        after = set(target.known())
        self.assertEqual(after, before, "unasked peers were ignored")
        self.assertFalse(fake.closed, "ignored, not a violation")

    # ------------------------------------------------------------ 5. one machine

    def test_5_the_one_machine_classroom_sends_no_beacon(self):
        h = self.lan.hosts[0]
        alice = self.node(h, "--listen", "127.0.0.2:0", "--http", "127.0.0.2:0", name="alice").start()
        bob = self.node(h, "--listen", "127.0.0.3:0", "--http", "127.0.0.3:0", "--peer", alice.listen,
                        name="bob").start()
        self.wait_mesh([alice, bob], 10)
        for n, own in ((alice, "127.0.0.2"), (bob, "127.0.0.3")):
            self.assertNotIn("LAN discovery", n.log(), "loopback listeners send no beacon")
            self.assertFalse(n.status()["lan_discovery"])
            (p,) = n.peers()
            self.assertEqual(e2e.split_endpoint(p["local"])[0], own, "each dials from its own IP")
            self.assertEqual(n.read_info()["http"], n.http)


if __name__ == "__main__":
    why = netns.unavailable()
    if why:
        sys.stderr.write(f"test_lan skipped: {why}\n")
        sys.exit(77)  # ctest's SKIP_RETURN_CODE: reported as skipped, never as passed
    e2e.main()
