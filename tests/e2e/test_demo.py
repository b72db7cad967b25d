#!/usr/bin/env python3
"""scripts/demo, the README's first command, run for real with the binary under test.

The demo is started with `--peerlab PATH` (no build), a 16 MiB file, 4 nodes
and ports 0 on 127.0.7.x, never on its default 127.0.0.2... (e2e.swarm's).
It must print every dashboard URL before the transfer, get every copy
verified, refuse a second demo on the same addresses in one sentence, and on
Ctrl-C (SIGINT, exit 0 once the demo has run) or SIGTERM (exit 143 while the
downloads still run) leave no node process, no temporary directory and no
lock file behind.

This file owns the loopback addresses 127.0.7.x among the e2e tests.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

DEMO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "demo"))
FIRST_IP = "127.0.7.2"
NAMES = ["alice", "bob", "carol", "dave"]
SIZE = "16MiB"
FILE_NAME = "demo-16MiB.bin"

# "  alice  127.0.7.2:40123  http://127.0.7.2:40124/  pid 12345  shares the file"
NODE_LINE = re.compile(r"^\s+(\w+)\s+(127\.0\.7\.\d+:\d+)\s+(http://127\.0\.7\.\d+:\d+/)\s+pid (\d+)\b", re.MULTILINE)
WORKDIR_LINE = re.compile(r"^demo: working directory (\S+) \(removed on exit\)\.$", re.MULTILINE)


def lock_file(first_ip, port):
    """Where the demo keeps its lock: $XDG_RUNTIME_DIR if usable, else /tmp."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    if not (os.path.isdir(runtime) and os.access(runtime, os.W_OK)):
        runtime = "/tmp"
    return os.path.join(runtime, f"peerlab-demo-{first_ip}-{port}.lock")


def demo_preexec():
    # Ctrl-C must reach the demo even if whoever started this test ignores
    # SIGINT; and if this test is killed (ctest timeout), the demo cleans up.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    e2e._die_with_parent()


class Demo:
    """One scripts/demo process; stdout and stderr go to files, read while it runs."""

    def __init__(self, workspace, label, *args, own_session=False):
        self.out_path = os.path.join(workspace, f"{label}.out")
        self.err_path = os.path.join(workspace, f"{label}.err")
        self.args = [DEMO, "--peerlab", e2e.PEERLAB, *args]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         preexec_fn=demo_preexec, start_new_session=own_session)

    @staticmethod
    def _read(path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def out(self):
        return self._read(self.out_path)

    def err(self):
        return self._read(self.err_path)

    def describe(self):
        return f"stdout:\n{self.out()}\nstderr:\n{self.err()}"

    def wait_for_output(self, text, timeout):
        def seen():
            if text in self.out():
                return True
            if self.proc.poll() is not None:
                raise e2e.GiveUp(f"the demo exited {self.proc.returncode} before printing {text!r}; "
                                 f"{self.describe()}")
            return False

        e2e.wait_until(seen, timeout, f"the demo to print {text!r}", interval=0.1)

    def wait(self, timeout):
        """Waits (bounded) for the exit and returns the exit code; kills it if it overruns."""
        try:
            return self.proc.wait(timeout=e2e.seconds(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the demo did not exit within {timeout}s; {self.describe()}")

    def kill(self):
        """Cleanup: SIGTERM (the demo stops its nodes), then SIGKILL. Never raises."""
        if self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=e2e.seconds(30))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        except OSError:
            pass


def running_node(pid, workdir):
    """Whether `pid` is still a node of the demo (and not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return workdir in cmdline and state != "Z"


class DemoTest(e2e.NodeTestCase):
    def demo(self, label, *args, own_session=False):
        demo = Demo(self.tmp, label, *args, own_session=own_session)
        self.addCleanup(demo.kill)  # runs before NodeTestCase's cleanup removes self.tmp
        return demo

    def nodes_of(self, demo):
        """[(name, listen, url, pid)] from the demo's table of nodes."""
        return [(name, listen, url, int(pid)) for name, listen, url, pid in NODE_LINE.findall(demo.out())]

    def assert_one_sentence(self, stderr, what):
        lines = stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"{what}: one sentence on stderr, got {stderr!r}")
        self.assertRegex(lines[0], r"^demo: .+[.)]$", what)

    def test_swarm_downloads_every_copy_refuses_a_second_demo_and_leaves_nothing_after_ctrl_c(self):
        args = ("--peers", str(len(NAMES)), "--size", SIZE, "--first-ip", FIRST_IP, "--port", "0",
                "--http-port", "0")
        demo = self.demo("first", *args)
        demo.wait_for_output("Press Ctrl-C", timeout=60)
        out = demo.out()

        # The table of nodes: names, one loopback address each, dashboards, pids.
        nodes = self.nodes_of(demo)
        self.assertEqual([n[0] for n in nodes], NAMES, f"the table of nodes; {demo.describe()}")
        for i, (name, listen, url, pid) in enumerate(nodes):
            ip = f"127.0.7.{2 + i}"
            self.assertEqual(e2e.split_endpoint(listen)[0], ip, f"{name} listens on its own address")
            self.assertTrue(url.startswith(f"http://{ip}:"), f"{name}'s dashboard is on its own address: {url}")
        workdir = WORKDIR_LINE.search(out)
        self.assertIsNotNone(workdir, f"the demo names its working directory; {demo.describe()}")
        workdir = workdir.group(1)
        for name, listen, url, pid in nodes:
            with open(os.path.join(workdir, "nodes", name, "node.json")) as f:
                info = json.load(f)
            self.assertEqual(info["pid"], pid, f"the pid printed for {name} is its node's")
            self.assertEqual(info["listen"], listen, name)

        # The URLs come before the transfer starts, so a class can watch it.
        first_get = out.index("run 'peerlab get")
        for name, _, url, _ in nodes:
            self.assertLess(out.index(url), first_get, f"{name}'s URL is printed before the downloads start")
            with urllib.request.urlopen(url, timeout=e2e.seconds(10)) as response:
                self.assertEqual(response.status, 200, f"GET {url}")
                self.assertIn("text/html", response.headers.get("Content-Type", ""), url)

        # Every downloader has its copy: the demo's own check, its summary, and ours.
        self.assertRegex(out, r"Summary: all 3 downloads done in [\d.]+ s; every copy has alice's SHA-256",
                         demo.describe())
        summary = out[out.index("Summary:"):]
        for name in NAMES[1:]:
            self.assertRegex(summary, rf"(?m)^  {name}\s+[\d.]+ s\s+[\d.]+ MiB/s\s+64 chunks from: \w+ \d+",
                             f"the summary shows how {name} got its chunks; {demo.describe()}")
        original = e2e.sha256_file(os.path.join(workdir, "files", "alice", FILE_NAME))
        for name in NAMES[1:]:
            copy = os.path.join(workdir, "files", name, FILE_NAME)
            self.assertEqual(e2e.sha256_file(copy), original, f"{name}'s copy")
        self.assertEqual(demo.err(), "", "a demo that works says nothing on stderr")

        # A second demo on the same addresses refuses in one sentence, touching nothing.
        lock = lock_file(FIRST_IP, 0)
        self.assertTrue(os.path.exists(lock), f"the demo holds {lock}")
        second = self.demo("second", *args)
        code = second.wait(timeout=30)
        self.assertNotEqual(code, 0, f"a second demo on {FIRST_IP} must fail; {second.describe()}")
        self.assert_one_sentence(second.err(), "the second demo")
        self.assertIn("already running", second.err())
        self.assertIn(str(demo.proc.pid), second.err(), "it names the running demo's pid")
        self.assertEqual(second.out(), "", "the second demo starts nothing")
        self.assertIsNone(demo.proc.poll(), "the first demo still runs")
        for name, _, url, pid in nodes:
            self.assertTrue(running_node(pid, workdir), f"{name} still runs")
            with urllib.request.urlopen(url, timeout=e2e.seconds(10)) as response:
                self.assertEqual(response.status, 200, f"{name}'s dashboard still answers")
        self.assertTrue(os.path.isdir(workdir), "the first demo's directory is untouched")
        self.assertTrue(os.path.exists(lock), "and so is its lock")

        # Ctrl-C: exit 0 (the demo had run), every node stopped, nothing left behind.
        demo.proc.send_signal(signal.SIGINT)
        code = demo.wait(timeout=30)
        self.assertEqual(code, 0, f"Ctrl-C ends a running demo with 0; {demo.describe()}")
        for name, _, _, pid in nodes:
            self.assertFalse(running_node(pid, workdir), f"{name} (pid {pid}) is stopped")
        self.assertFalse(os.path.exists(workdir), f"{workdir} is removed")
        self.assertFalse(os.path.exists(lock), f"{lock} is removed")
        self.assertIn("demo: stopped alice, bob, carol, dave.", demo.out())
        self.assertEqual(demo.err(), "", "every node exited 0 on SIGTERM")

    def interrupt_mid_transfer(self, first_ip, interrupt):
        """Starts a slow demo, calls interrupt(demo) once the downloads run;
        asserts the demo stops at once, leaving nothing behind; returns its exit code."""
        # Two copies of 16 MiB at 512 KiB/s per node take 20 s at least: the
        # signal lands mid-transfer, and the demo must act on it at once.
        demo = self.demo("slow", "--peers", "3", "--size", SIZE, "--up-limit", "512KiB", "--first-ip", first_ip,
                         "--port", "0", "--http-port", "0", own_session=True)
        demo.wait_for_output("0 of 2 done", timeout=60)
        nodes = self.nodes_of(demo)
        self.assertEqual([n[0] for n in nodes], NAMES[:3], demo.describe())
        workdir = WORKDIR_LINE.search(demo.out()).group(1)
        interrupt(demo)
        sent = time.monotonic()
        code = demo.wait(timeout=30)
        self.assertLess(time.monotonic() - sent, e2e.seconds(10), "the demo stops at once, mid-transfer")
        for name, _, _, pid in nodes:
            self.assertFalse(running_node(pid, workdir), f"{name} (pid {pid}) is stopped")
        self.assertFalse(os.path.exists(workdir), f"{workdir} is removed")
        self.assertFalse(os.path.exists(lock_file(first_ip, 0)), "the lock is removed")
        self.assertNotIn("Summary:", demo.out())
        self.assertIn("demo: stopped alice, bob, carol.", demo.out())
        self.assertEqual(demo.err(), "demo: interrupted; stopping.\n", "and every node exited 0 on SIGTERM")
        return code

    def test_sigterm_during_the_downloads_stops_every_node_and_removes_everything(self):
        code = self.interrupt_mid_transfer("127.0.7.40", lambda demo: demo.proc.send_signal(signal.SIGTERM))
        self.assertEqual(code, 143, "SIGTERM before the demo has run: 128 + 15")

    def test_ctrl_c_on_a_terminal_during_the_downloads_stops_every_node_and_removes_everything(self):
        # A terminal's Ctrl-C goes to the whole foreground process group: the
        # demo, and its helpers in that group, at the same moment.
        code = self.interrupt_mid_transfer("127.0.7.44", lambda demo: os.killpg(demo.proc.pid, signal.SIGINT))
        self.assertEqual(code, 130, "Ctrl-C before the demo has run: 128 + 2")

    def test_a_port_in_use_is_refused_in_one_sentence(self):
        # Something else listens on the second node's peer port.
        with socket.socket() as taken:
            taken.bind(("127.0.7.51", 0))
            taken.listen()
            port = taken.getsockname()[1]
            demo = self.demo("busy", "--peers", "2", "--size", "1MiB", "--first-ip", "127.0.7.50", "--port",
                             str(port), "--http-port", "0")
            code = demo.wait(timeout=30)
        self.assertEqual(code, 1, demo.describe())
        self.assert_one_sentence(demo.err(), "a port in use")
        self.assertIn(f"127.0.7.51:{port} is already in use", demo.err())
        self.assertEqual(demo.out(), "", "nothing was started")
        self.assertFalse(os.path.exists(lock_file("127.0.7.50", port)), "the lock is removed")

    def test_wrong_options_are_refused_in_one_sentence_with_status_2(self):
        for args in (["--peers", "1"], ["--peers", "21"], ["--size", "12XB"], ["--up-limit", "fast"],
                     ["--first-ip", "10.0.0.1"], ["--first-ip", "127.0.7.250", "--peers", "6"],
                     ["--port", "70000"], ["--bogus"]):
            with self.subTest(args=args):
                result = subprocess.run([DEMO, "--peerlab", e2e.PEERLAB, *args], capture_output=True, text=True,
                                        timeout=e2e.seconds(30), stdin=subprocess.DEVNULL)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assert_one_sentence(result.stderr, " ".join(args))
                self.assertEqual(result.stdout, "")

    def test_help_lists_the_options(self):
        result = subprocess.run([DEMO, "--help"], capture_output=True, text=True, timeout=e2e.seconds(10))
        self.assertEqual(result.returncode, 0)
        for option in ("--peers", "--size", "--up-limit", "--first-ip", "--port", "--http-port", "--peerlab",
                       "--no-setup"):
            self.assertIn(option, result.stdout)


if __name__ == "__main__":
    e2e.main()
