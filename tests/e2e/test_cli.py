#!/usr/bin/env python3
"""The peerlab command line as a user meets it: errors, --json, start-up refusals, signals.

This file owns the loopback addresses 127.0.3.x among the e2e tests.
"""

import json
import os
import signal
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

IP = "127.0.3.1"
PEER_IP = "127.0.3.2"


class CliTest(e2e.NodeTestCase):
    def assert_one_sentence_error(self, result, what):
        """Non-zero exit, nothing on stdout, exactly one non-empty line on stderr."""
        self.assertNotEqual(result.returncode, 0, f"{what}: must fail")
        self.assertEqual(result.stdout, "", f"{what}: nothing on stdout")
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"{what}: exactly one line on stderr, got {result.stderr!r}")
        self.assertTrue(lines[0].strip(), f"{what}: the line must say something")
        self.assertNotRegex(lines[0], r"terminate called|what\(\)|Aborted|Segmentation",
                            f"{what}: a sentence, not a crash")

    def wait_exit(self, node, timeout=15):
        """Waits (bounded) for a node expected to give up; returns its exit code."""
        code = e2e.wait_until(lambda: node.proc.poll() is not None and [node.proc.returncode], timeout,
                              f"{node.name} to exit")[0]
        node.stop()  # closes its log
        return code

    def test_queries_without_a_running_node_fail_with_one_sentence(self):
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        missing = os.path.join(self.tmp, "does-not-exist")
        for args in (["peers", "--dir", empty], ["peers", "--dir", empty, "--json"],
                     ["status", "--dir", empty], ["status", "--dir", empty, "--json"],
                     ["peers", "--dir", missing], ["status", "--dir", missing, "--json"]):
            with self.subTest(args=args):
                self.assert_one_sentence_error(e2e.run_cli(*args), " ".join(args))

    def test_queries_after_a_crashed_node_fail_with_one_sentence_and_a_restart_works(self):
        node = self.node("crashed", f"{IP}:0", f"{IP}:0").start()
        node.stop(signal.SIGKILL)  # leaves a stale node.json behind
        for args in (["peers", "--dir", node.dir, "--json"], ["status", "--dir", node.dir]):
            with self.subTest(args=args):
                self.assert_one_sentence_error(e2e.run_cli(*args), " ".join(args) + " (stale node.json)")
        node.start()  # the lock died with the process
        self.assertEqual(node.status()["id"], node.id)

    def test_json_output_parses_and_the_table_names_the_peer(self):
        a = self.node("anna", f"{IP}:0", f"{IP}:0").start()
        b = self.node("bert", f"{PEER_IP}:0", f"{PEER_IP}:0", peers=[a.listen]).start()
        e2e.wait_until(lambda: b.id in a.peer_by_id(), 10, "bert to connect to anna")

        peers = json.loads(e2e.run_cli("peers", "--dir", a.dir, "--json").stdout)
        self.assertIsInstance(peers, list)
        self.assertEqual(len(peers), 1)
        entry = peers[0]
        for key in ("id", "name", "address", "direction", "local", "remote", "bytes_up", "bytes_down",
                    "connected_seconds"):
            self.assertIn(key, entry)
        self.assertRegex(entry["id"], r"^[0-9a-f]{32}$")
        self.assertEqual(entry["id"], b.id)
        self.assertIn(entry["direction"], ("inbound", "outbound"))

        status = json.loads(e2e.run_cli("status", "--dir", a.dir, "--json").stdout)
        self.assertIsInstance(status, dict)
        for key in ("id", "name", "listen", "http", "connections", "known_peers"):
            self.assertIn(key, status)
        self.assertEqual(status["connections"], 1)

        table = e2e.run_cli("peers", "--dir", a.dir)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("bert", table.stdout)
        self.assertIn(entry["remote"], table.stdout, "the table shows the 4-tuple")
        self.assertRaises(json.JSONDecodeError, json.loads, table.stdout)

        human = e2e.run_cli("status", "--dir", a.dir)
        self.assertEqual(human.returncode, 0, human.stderr)
        self.assertIn(a.id, human.stdout)

        # Same answers without --dir: $PEERLAB_DIR, and --api/--token straight to the node.
        env = dict(os.environ, PEERLAB_DIR=a.dir)
        via_env = e2e.run_cli("status", "--json", env=env)
        self.assertEqual(via_env.returncode, 0, via_env.stderr)
        self.assertEqual(json.loads(via_env.stdout)["id"], a.id)
        via_api = e2e.run_cli("status", "--json", "--api", a.info["api"], "--token", a.info["token"])
        self.assertEqual(via_api.returncode, 0, via_api.stderr)
        self.assertEqual(json.loads(via_api.stdout)["id"], a.id)

    def test_a_transfer_asked_about_with_wait_is_answered_as_it_ends(self):
        """GET /api/transfers/ID?wait=MS holds its answer until the download ends (or MS pass): how
        `peerlab get` learns of the end without polling."""
        seeder = self.node("sara", f"{IP}:0", f"{IP}:0", extra=["--up-limit", "2MiB"]).start()
        getter = self.node("gus", f"{PEER_IP}:0", f"{PEER_IP}:0", peers=[seeder.listen]).start()
        source = os.path.join(self.tmp, "two.bin")
        with open(source, "wb") as f:
            f.write(os.urandom(2 * e2e.MiB))  # about a second at 2 MiB/s
        file_id = seeder.share(source)
        e2e.wait_until(lambda: file_id in {f["id"] for f in getter.files()}, 10, "gus to learn of the file")
        status, body = e2e.http_post_json(f"http://{getter.http}/api/get",
                                          {"id": file_id, "output": os.path.join(self.tmp, "copy.bin")},
                                          token=getter.info["token"])
        self.assertEqual(status, 200, body)

        asked = time.monotonic()
        answer = getter.api(f"/api/transfers/{file_id}?wait=5000")
        waited = time.monotonic() - asked
        self.assertEqual(answer["state"], "complete", "the answer waited for the end of the download")
        self.assertLess(waited, 4.5, "and came as the download ended, not when the 5 s ran out")
        self.assertEqual(e2e.sha256_file(os.path.join(self.tmp, "copy.bin")), e2e.sha256_file(source))
        # An ended transfer is answered at once.
        asked = time.monotonic()
        self.assertEqual(getter.api(f"/api/transfers/{file_id}?wait=5000")["state"], "complete")
        self.assertLess(time.monotonic() - asked, 4.5)

    def test_node_json_is_private_and_complete(self):
        node = self.node("private", f"{IP}:0", f"{IP}:0").start()
        mode = stat.S_IMODE(os.stat(node.node_json_path()).st_mode)
        self.assertEqual(mode, 0o600, f"node.json holds the API token: mode must be 0600, is {oct(mode)}")
        info = node.read_info()
        self.assertRegex(info["id"], r"^[0-9a-f]{32}$")
        self.assertRegex(info["token"], r"^[0-9a-f]{16,}$")
        self.assertEqual(info["name"], "private")
        self.assertEqual(info["api"], f"http://{info['http']}")
        self.assertEqual(info["pid"], node.pid)

    def test_node_on_a_busy_listen_port_fails_with_one_sentence(self):
        with socket.socket() as busy:
            busy.bind((IP, 0))
            busy.listen()
            port = busy.getsockname()[1]
            for flag in ("--listen", "--http"):
                with self.subTest(flag=flag):
                    listen = f"{IP}:{port}" if flag == "--listen" else f"{IP}:0"
                    http = f"{IP}:{port}" if flag == "--http" else f"{IP}:0"
                    node = self.node(f"busy{flag}", listen, http).spawn()
                    code = self.wait_exit(node)
                    self.assertNotEqual(code, 0, f"node with a busy {flag} port must fail")
                    lines = node.log().splitlines()
                    self.assertEqual(len(lines), 1, f"exactly one line on stderr, got {node.log()!r}")
                    self.assertIn(str(port), lines[0], "the sentence names the busy address")
                    self.assertRegex(lines[0], r"(?i)in use", "the sentence gives the reason: address in use")
                    self.assertFalse(os.path.exists(node.node_json_path()), "no node.json for a node that never ran")

    def test_second_node_on_the_same_dir_refuses_to_start(self):
        first = self.node("shared", f"{IP}:0", f"{IP}:0").start()
        second = e2e.Node(first.dir, f"{IP}:0", f"{IP}:0", name="second")
        self.nodes.append(second)
        second.spawn()
        code = self.wait_exit(second)
        self.assertNotEqual(code, 0, "a second node on a locked dir must fail")
        lines = second.log().splitlines()
        self.assertEqual(len(lines), 1, f"exactly one line on stderr, got {second.log()!r}")
        self.assertTrue(first.alive(), "the first node must keep running")
        self.assertEqual(first.read_info(), first.info, "the second node must leave node.json alone")
        self.assertEqual(first.status()["id"], first.id)

    def test_sigint_and_sigterm_exit_zero_and_remove_node_json(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                node = self.node(f"sig{sig.name}", f"{IP}:0", f"{IP}:0").start()
                self.assertEqual(node.stop(sig), 0, f"{sig.name} must end the node with exit 0")
                self.assertFalse(os.path.exists(node.node_json_path()), "node.json must be removed on exit")

    def test_node_id_persists_across_restarts(self):
        node = self.node("persist", f"{IP}:0", f"{IP}:0").start()
        first_id = node.id
        self.assertEqual(node.stop(), 0)
        node.start()
        self.assertEqual(node.id, first_id)


if __name__ == "__main__":
    e2e.main()
