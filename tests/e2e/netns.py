"""A small LAN made of Linux network namespaces, for tests that need real
machines: hosts joined by a bridge, each with its own network stack.

    lan = netns.Lan(hosts=4)   # pl-lan-<pid>-<n>-h1 ... h4, 10.77.0.1-4/24, fd77:0:0:1::1-4/64
    try:
        lan.hosts[0].run(["ip", "addr"])
        proc = lan.hosts[0].popen([peerlab, "node", ...])  # its PID is peerlab's own
        lan.hosts[1].call(urllib.request.urlopen, "http://10.77.0.1:8080/")
    finally:
        lan.delete()

Layout: one "switch" namespace holds the bridge `br0`; every host namespace
holds `eth0`, a veth whose other end is a port of that bridge, plus `lo`.
The addresses exist only inside these namespaces, and there is no default
route: nothing a test does here reaches the machine's real interfaces,
multicast included. Every name starts with a prefix unique to this process
(`pl-lan-<pid>-<n>-`), so tests running side by side never collide, and
everything is deleted again by delete(), which also runs at exit (and on
SIGTERM, which a Lan turns into a normal exit); what a killed run left
behind is swept by the next Lan (sweep_stale).

Host names: each host gets /etc/netns/<namespace>/hosts naming every host
of the LAN (and a resolv.conf whose name server is the namespace's own
loopback, so no DNS query leaves it); `ip netns exec` (run() and popen())
bind-mounts them over /etc, so programs started there resolve `h1`, `h2`, ... call() runs a
Python function on a thread that entered the namespace (sockets it opens
live there; name lookups in it still read the machine's /etc/hosts).

Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; unavailable()
says why a test must be skipped.
"""

import atexit
import ctypes
import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/var/run/netns"
NETNS_ETC_DIR = "/etc/netns"

_counter = itertools.count(1)
_libc = None


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)


def unique_prefix():
    """A name prefix no other process (and no other Lan of this one) uses."""
    return f"pl-lan-{os.getpid()}-{next(_counter)}-"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=check, timeout=30)


def unavailable():
    """None if this process can build a namespace LAN, else the reason why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the test as root, as CI does)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = unique_prefix() + "probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip() or 'ip netns add failed'}"
    _ip("netns", "delete", probe, check=False)
    return None


def sweep_stale():
    """Deletes namespaces (and hosts files) left by a Lan whose process died
    without cleaning up (SIGKILL, a ctest timeout): pl-lan-<pid>-* of a pid
    that no longer runs. Others' namespaces, and live runs', are left alone."""
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return []
    swept = []
    for name in names:
        parts = name.split("-")
        if len(parts) < 4 or parts[:2] != ["pl", "lan"] or not parts[2].isdigit():
            continue
        if os.path.exists(f"/proc/{parts[2]}"):
            continue
        _ip("netns", "delete", name, check=False)
        shutil.rmtree(os.path.join(NETNS_ETC_DIR, name), ignore_errors=True)
        swept.append(name)
    return swept


def _setns(namespace):
    """Moves the calling thread into a named network namespace."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_RUN_DIR, namespace), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {namespace}: {os.strerror(err)}")
    finally:
        os.close(fd)


class Host:
    """One machine of the LAN: a network namespace with eth0 and lo."""

    def __init__(self, lan, index, name, namespace, ip, ip6):
        self.lan = lan
        self.index = index
        self.name = name  # its host name in every host's /etc/hosts
        self.namespace = namespace
        self.ip = ip
        self.ip6 = ip6

    def command(self, args):
        """`args`, to be run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *args]

    def run(self, args, check=False, timeout=30, **kwargs):
        """Runs a command here to completion (text output captured)."""
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.command(args), stdin=subprocess.DEVNULL, text=True, check=check,
                              timeout=timeout, **kwargs)

    def popen(self, args, **kwargs):
        """Starts a command here. `ip netns exec` execs it, so the PID is the
        command's own: stop it by that PID."""
        return subprocess.Popen(self.command(args), **kwargs)

    def call(self, fn, *args, **kwargs):
        """Runs fn(*args, **kwargs) on a thread inside this namespace; returns
        its result or raises its exception."""
        outcome = {}

        def body():
            try:
                _setns(self.namespace)
                outcome["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=body, name=f"in-{self.namespace}")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    def __repr__(self):
        return f"Host({self.name} {self.ip} in {self.namespace})"


class Lan:
    """`hosts` namespaces on one bridge, addresses SUBNET.1, SUBNET.2, ... /24
    and SUBNET6::1, SUBNET6::2, ... /64."""

    def __init__(self, hosts=4, subnet="10.77.0", subnet6="fd77:0:0:1", host_names=None, prefix=None):
        self.prefix = prefix or unique_prefix()
        self.subnet = subnet
        self.subnet6 = subnet6
        self.switch = self.prefix + "sw"
        self.hosts = []
        self._namespaces = []
        self._deleted = False
        atexit.register(self.delete)
        # SIGTERM (ctest, a CI runner) then unwinds like an exception, so
        # finally blocks and atexit still delete the namespaces.
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        names = list(host_names or [f"h{i}" for i in range(1, hosts + 1)])
        sweep_stale()
        try:
            self._add_namespace(self.switch)
            self._in(self.switch, "ip", "link", "add", "br0", "type", "bridge")
            self._in(self.switch, "ip", "link", "set", "br0", "up")
            for i, name in enumerate(names, start=1):
                self.hosts.append(self._add_host(i, name))
            self._write_hosts_files()
        except BaseException:
            self.delete()
            raise

    def _add_namespace(self, namespace):
        _ip("netns", "add", namespace)
        self._namespaces.append(namespace)

    def _in(self, namespace, *args):
        subprocess.run(["ip", "netns", "exec", namespace, *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, check=True, timeout=30)

    def _add_host(self, index, name):
        namespace = f"{self.prefix}{name}"
        self._add_namespace(namespace)
        # Both ends are created straight inside their namespaces: the
        # machine's own namespace never sees them, even for an instant.
        _ip("link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", f"port{index}",
            "netns", self.switch)
        self._in(self.switch, "ip", "link", "set", f"port{index}", "master", "br0")
        self._in(self.switch, "ip", "link", "set", f"port{index}", "up")
        ip = f"{self.subnet}.{index}"
        self._in(namespace, "ip", "link", "set", "lo", "up")
        self._in(namespace, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        # A unique-local IPv6 address too, usable at once (no duplicate detection).
        ip6 = f"{self.subnet6}::{index}"
        self._in(namespace, "ip", "-6", "addr", "add", f"{ip6}/64", "dev", "eth0", "nodad")
        self._in(namespace, "ip", "link", "set", "eth0", "up")
        return Host(self, index, name, namespace, ip, ip6)

    def _write_hosts_files(self):
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{h.ip}\t{h.name}" for h in self.hosts]
        files = {"hosts": "\n".join(lines) + "\n",
                 # DNS queries for other names stop at the namespace's own
                 # loopback (nothing listens there): none leaves the machine.
                 "resolv.conf": "nameserver 127.0.0.1\n"}
        for host in self.hosts:
            directory = os.path.join(NETNS_ETC_DIR, host.namespace)
            for attempt in range(2):  # another Lan may remove an empty /etc/netns meanwhile
                try:
                    os.makedirs(directory, exist_ok=True)
                    for name, text in files.items():
                        with open(os.path.join(directory, name), "w") as f:
                            f.write(text)
                    break
                except FileNotFoundError:
                    if attempt:
                        raise

    def set_hosts_entry(self, name, ip):
        """Points `name` at `ip` in every host's /etc/hosts (added, or moved).
        The file is rewritten in place: `ip netns exec` bind-mounted this inode."""
        for host in self.hosts:
            path = os.path.join(NETNS_ETC_DIR, host.namespace, "hosts")
            with open(path) as f:
                lines = [line for line in f.read().splitlines() if line.split()[1:] != [name]]
            with open(path, "r+") as f:
                f.write("\n".join(lines + [f"{ip}\t{name}"]) + "\n")
                f.truncate()

    def delete(self):
        """Deletes every namespace (and so every link in it) and hosts file
        this Lan made. Idempotent; never raises."""
        if self._deleted:
            return
        self._deleted = True
        for namespace in reversed(self._namespaces):
            _ip("netns", "delete", namespace, check=False)
            shutil.rmtree(os.path.join(NETNS_ETC_DIR, namespace), ignore_errors=True)
        try:
            os.rmdir(NETNS_ETC_DIR)  # only if no one else has files there
        except OSError:
            pass

    def leftovers(self):
        """Namespaces with this Lan's prefix that still exist (should be none)."""
        try:
            return [n for n in os.listdir(NETNS_RUN_DIR) if n.startswith(self.prefix)]
        except FileNotFoundError:
            return []
