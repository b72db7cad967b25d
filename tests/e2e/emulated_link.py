"""Hosts in network namespaces joined by one emulated link (issue 15): a
slow uplink, a long round trip, a lossy path, for e2e tests and the bench.

    [SEED ns] tap_a ==== link_emulator ==== tap_b [SWITCH ns: bridge] --veth-- [HOST ns 0..n-1]

The emulated link is the seeder's uplink (a_to_b: seeder -> hosts) and
downlink (b_to_a); the hosts reach each other through the bridge at full
speed, as downloaders with fast links would. tests/link/link_emulator does the
emulation in userspace (this kernel has tbf but no netem): per direction a
rate, a tail-drop queue, a one-way delay and a seeded random loss.

Everything lives in namespaces named `pl-link-<pid>-<n>-...` with addresses
10.77.0.x that exist only inside them and no route out. Processes run
inside with `ip netns exec` and are stopped by PID; Network.close() (also
run at exit, on SIGTERM, and for leftovers of dead processes) deletes every
namespace. Needs root: skip_reason() says why not, for tests to skip.

Python's standard library only, so bench/ imports it too.
"""

import atexit
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time

SEEDER_IP = "10.77.0.1"
PREFIX = "pl-link-"
_numbers = itertools.count()
_open_networks = []


def host_ip(index):
    return f"10.77.0.{11 + index}"


def spec(rate=None, delay_ms=None, queue=None, loss=None):
    """One direction's settings for link_emulator: spec(rate='2mbit', delay_ms=20, queue='64KiB')."""
    parts = []
    if rate is not None:
        parts.append(f"rate={rate}")
    if queue is not None:
        parts.append(f"queue={queue}")
    if delay_ms is not None:
        parts.append(f"delay={delay_ms}ms")
    if loss is not None:
        parts.append(f"loss={loss}")
    return ",".join(parts)


def find_emulator(peerlab):
    """link_emulator next to a build's peerlab (build/tests/link/), or $PEERLAB_LINK_EMULATOR."""
    named = os.environ.get("PEERLAB_LINK_EMULATOR")
    if named:
        return os.path.abspath(named)
    return os.path.join(os.path.dirname(os.path.abspath(peerlab)), "tests", "link", "link_emulator")


def skip_reason(emulator):
    """Why emulated links cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces and TAP devices (CI runs as root)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun for TAP devices"
    if not shutil.which("ip"):
        return "needs iproute2 (the ip command)"
    if not os.access(emulator, os.X_OK):
        return f"{emulator} is not built (ninja -C build link_emulator)"
    return None


def _die_with_parent():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def _ip(*args, check=True):
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_leftovers():
    """Deletes namespaces of ours whose creating process is gone (killed by a timeout)."""
    listed = _ip("netns", "list", check=False).stdout
    for name in re.findall(rf"^({PREFIX}(\d+)-\S+)", listed, re.MULTILINE):
        if not _pid_alive(int(name[1])):
            _ip("netns", "delete", name[0], check=False)


def _close_all():
    for network in list(_open_networks):
        network.close()


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # so finally blocks and atexit clean up


atexit.register(_close_all)


class Network:
    """A seeder namespace, `hosts` host namespaces behind a bridge, and the
    emulated link between them. Use as a context manager or call close()."""

    def __init__(self, emulator, workdir, hosts=1, up="", down="", seed=1):
        self.emulator, self.workdir, self.hosts = emulator, workdir, hosts
        self.up, self.down, self.seed = up, down, seed
        number = next(_numbers)
        self.prefix = f"{PREFIX}{os.getpid()}-{number}-"
        self.taps = (f"plk{os.getpid()}x{number}a"[-15:], f"plk{os.getpid()}x{number}b"[-15:])
        self.namespaces = []
        self.processes = []  # Popen objects, stopped by PID in close()
        self.emulator_proc = None
        self.emulator_log = os.path.join(workdir, f"link_emulator.{number}.log")
        self.final_counters = None
        self.emulator_status = None

    # ---- names

    def ns(self, where):
        """The namespace of 'seed', 'switch' or a host index."""
        return self.prefix + (where if isinstance(where, str) else f"h{where}")

    def ip(self, where):
        return SEEDER_IP if where == "seed" else host_ip(where)

    # ---- life cycle

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self, timeout=20):
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
        remove_leftovers()
        _open_networks.append(self)
        try:
            self._build(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _build(self, timeout):
        names = [self.ns("seed"), self.ns("switch")] + [self.ns(i) for i in range(self.hosts)]
        for name in names:
            _ip("netns", "add", name)
            self.namespaces.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
            # IPv6 off: no router solicitations or DAD on the link, only our traffic.
            self.run(name, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])

        os.makedirs(self.workdir, exist_ok=True)
        args = [self.emulator, *self.taps, "--seed", str(self.seed)]
        if self.up:
            args += ["--a-to-b", self.up]
        if self.down:
            args += ["--b-to-a", self.down]
        with open(self.emulator_log, "wb") as log:
            self.emulator_proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                  preexec_fn=_die_with_parent)
        self._wait_for_line("ready ", timeout)

        seed, switch = self.ns("seed"), self.ns("switch")
        # The TAPs leave the root namespace at once; the emulator's fds stay valid.
        _ip("link", "set", self.taps[0], "netns", seed)
        _ip("link", "set", self.taps[1], "netns", switch)
        _ip("-n", seed, "addr", "add", f"{SEEDER_IP}/24", "dev", self.taps[0])
        _ip("-n", seed, "link", "set", self.taps[0], "up")
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", self.taps[1], "master", "br0")
        _ip("-n", switch, "link", "set", self.taps[1], "up")
        for i in range(self.hosts):
            host = self.ns(i)
            _ip("-n", switch, "link", "add", f"h{i}", "type", "veth", "peer", "name", "eth0", "netns", host)
            _ip("-n", switch, "link", "set", f"h{i}", "master", "br0")
            _ip("-n", switch, "link", "set", f"h{i}", "up")
            _ip("-n", host, "addr", "add", f"{host_ip(i)}/24", "dev", "eth0")
            _ip("-n", host, "link", "set", "eth0", "up")
        _ip("-n", switch, "link", "set", "br0", "up")

    def close(self):
        """Stops every process (by PID) and the emulator, deletes the namespaces. Never raises."""
        for proc in list(self.processes):  # SIGTERM to all first, then each is waited for
            self._terminate(proc)
        for proc in list(self.processes):
            self.stop(proc)
        self.stop_emulator()
        for name in self.namespaces:
            _ip("netns", "delete", name, check=False)
        self.namespaces = []
        if self in _open_networks:
            _open_networks.remove(self)

    def stop_emulator(self):
        """SIGTERM to the link (SIGKILL after 10 s); returns its exit status, which
        is 0 when it ended cleanly. Its last counters stay in final_counters."""
        if self.emulator_proc is not None:
            if self.emulator_proc.poll() is None:
                self.emulator_proc.send_signal(signal.SIGTERM)
                try:
                    self.emulator_proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.emulator_proc.kill()
                    self.emulator_proc.wait()
            self.final_counters = self._last_counters()
            self.emulator_status = self.emulator_proc.returncode
            self.emulator_proc = None
        return self.emulator_status

    # ---- processes inside namespaces

    def _netns(self, where):
        name = where if where in self.namespaces else self.ns(where)
        return ["ip", "netns", "exec", name]

    def run(self, where, args, timeout=60, check=True):
        """Runs a command inside a namespace to completion; returns the CompletedProcess (text)."""
        done = subprocess.run(self._netns(where) + list(args), capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_die_with_parent)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} in {where}: exit {done.returncode}: {done.stderr.strip()[-600:]}")
        return done

    def spawn(self, where, args, log_path, cwd=None):
        """Starts a command inside a namespace (`ip netns exec` execs it: its PID is the command's)."""
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(self._netns(where) + list(args), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=cwd, preexec_fn=_die_with_parent)
        proc.log_path = log_path
        self.processes.append(proc)
        return proc

    def stop(self, proc, timeout=10):
        """SIGTERM by PID, SIGKILL after `timeout` s; returns the exit status."""
        if proc.poll() is None:
            self._terminate(proc)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.processes:
            self.processes.remove(proc)
        return proc.returncode

    @staticmethod
    def _terminate(proc):
        """SIGTERM, once: a second one during a node's clean shutdown would cut it short."""
        if proc.poll() is None and not getattr(proc, "terminated", False):
            proc.terminated = True
            proc.send_signal(signal.SIGTERM)

    # ---- the emulator's counters and cost

    def _lines(self):
        try:
            with open(self.emulator_log, errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def _wait_for_line(self, start, timeout, after=0):
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self._lines() if line.startswith(start)]
            if len(lines) > after:
                return lines[-1]
            if self.emulator_proc.poll() is not None:
                raise RuntimeError(f"link_emulator exited {self.emulator_proc.returncode}: "
                                   f"{' '.join(self._lines()[-5:])}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"link_emulator did not print {start.strip()!r} within {timeout} s")
            time.sleep(0.02)

    def _last_counters(self):
        lines = [line for line in self._lines() if line.startswith("stats ")]
        return json.loads(lines[-1][len("stats "):]) if lines else None

    def counters(self, timeout=10):
        """Per direction (a_to_b: from the seeder, b_to_a: towards it): frames, bytes,
        queue_drops, loss_drops, ... as the emulator counts them now (or at its end)."""
        if self.emulator_proc is None:
            return self.final_counters
        seen = sum(1 for line in self._lines() if line.startswith("stats "))
        self.emulator_proc.send_signal(signal.SIGUSR1)
        self._wait_for_line("stats ", timeout, after=seen)
        return self._last_counters()

    def emulator_cpu_seconds(self):
        with open(f"/proc/{self.emulator_proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Peer:
    """A `peerlab node` inside one of the network's namespaces, listening on
    its namespace address (port 7070: every namespace has its own ports) with
    its HTTP API on the namespace's loopback; the CLI runs there too."""

    PORT = 7070

    def __init__(self, network, where, peerlab, name, peers=(), extra=()):
        self.net, self.where, self.peerlab, self.name = network, where, peerlab, name
        self.dir = os.path.join(network.workdir, name)
        self.listen = f"{network.ip(where)}:{self.PORT}"
        self.args = [peerlab, "node", "--dir", self.dir, "--name", name, "--listen", self.listen,
                     "--http", "127.0.0.1:0", "--log-level", "warn", *extra]
        for peer in peers:
            self.args += ["--peer", peer]
        self.proc = None
        self.log_path = os.path.join(network.workdir, f"{name}.log")

    def start(self, timeout=30):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.proc = self.net.spawn(self.where, self.args, self.log_path)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(os.path.join(self.dir, "node.json")) as f:
                    if json.load(f).get("pid") == self.proc.pid:
                        return self
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited {self.proc.returncode} while starting: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {self.name} did not start within {timeout} s: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self):
        """SIGTERM; returns the exit status (the contract says 0)."""
        return self.net.stop(self.proc) if self.proc else None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def cli(self, *args, timeout=60):
        return self.net.run(self.where, [self.peerlab, *args, "--dir", self.dir], timeout=timeout).stdout

    def query(self, *args):
        return json.loads(self.cli(*args, "--json"))

    def status(self):
        """`peerlab status --json`: bytes_up, bytes_down, connections, ..."""
        return self.query("status")

    def share(self, path, timeout=600):
        content_id = self.cli("share", path, timeout=timeout).strip()
        if len(content_id) != 64:
            raise RuntimeError(f"peerlab share printed {content_id!r}, not a content id")
        return content_id

    def lists(self, content_id):
        return any(f["id"] == content_id for f in self.query("files"))

    def wait_lists(self, content_id, timeout=30):
        """Until this node sees `content_id` in the swarm (connected, catalog received)."""
        deadline = time.monotonic() + timeout
        while not self.lists(content_id):
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not see {content_id[:8]} within {timeout} s")
            time.sleep(0.1)

    def api(self, path):
        """GET /api/PATH from inside the namespace (the API listens on its loopback)."""
        with open(os.path.join(self.dir, "node.json")) as f:
            http = json.load(f)["http"]
        code = ("import sys, urllib.request; "
                "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())")
        return json.loads(self.net.run(self.where, ["python3", "-c", code, f"http://{http}/api/{path}"]).stdout)

    def progress(self, content_id):
        """This node's transfer of `content_id` (bytes_done, chunks_fetched, ...), or None."""
        try:
            return self.api(f"transfers/{content_id}")
        except (RuntimeError, ValueError):
            return None

    def start_get(self, content_id, output):
        """`peerlab get` in the background; returns its Popen (stopped by close() at the latest)."""
        args = [self.peerlab, "get", content_id, "--dir", self.dir, "-o", output, "--quiet"]
        return self.net.spawn(self.where, args, os.path.join(self.net.workdir, f"get-{self.name}.log"))
