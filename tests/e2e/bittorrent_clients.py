"""BitTorrent clients from Debian, driven for the e2e tests and the bench:
libtorrent sessions (python3-libtorrent, in this process), aria2c and
transmission-cli (processes, stopped by PID), and opentracker (a process on a
loopback address), which aria2c and Transmission need to find a peer.

Every client is confined to loopback: no DHT, LSD, UPnP or NAT-PMP, TCP only.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse

import peerlab_e2e as e2e


def free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def _die_with_parent():
    e2e._die_with_parent()


class Tracker:
    """opentracker on ip:port (TCP for HTTP announces, UDP off-loopback never)."""

    def __init__(self, ip, workdir, info_hashes, wrap=lambda args: args):
        """info_hashes: the 20-byte hashes it may track (Debian builds it
        with a whitelist, read from a file of 40-digit hex lines)."""
        self.ip = ip
        self.port = free_port(ip) if wrap(["x"]) == ["x"] else 6969  # in a namespace of its own: free
        self.log = open(os.path.join(workdir, f"opentracker-{ip}.log"), "wb")
        # Its own directory: it chroots there (-d) and then, as root, drops to
        # an unprivileged uid that must still read the whitelist.
        root = os.path.join(workdir, f"opentracker-{ip}")
        os.makedirs(root, mode=0o755)
        os.chmod(root, 0o755)
        whitelist = os.path.join(root, "whitelist")
        with open(whitelist, "w") as f:
            f.writelines(h.hex() + "\n" for h in info_hashes)
        os.chmod(whitelist, 0o644)
        self.proc = subprocess.Popen(wrap(["opentracker", "-i", ip, "-p", str(self.port), "-P", str(self.port),
                                           "-d", root, "-u", str(os.getuid()), "-w", "whitelist"]),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        if wrap(["x"]) == ["x"]:
            e2e.wait_until(self._up, 10, f"opentracker on {ip}:{self.port}")

    def _up(self):
        if self.proc.poll() is not None:
            raise e2e.GiveUp(f"opentracker exited {self.proc.returncode}")
        try:
            with socket.create_connection((self.ip, self.port), timeout=1):
                return True
        except OSError:
            return False

    @property
    def url(self):
        return f"http://{self.ip}:{self.port}/announce"

    def announce(self, info_hash, ip, port, left=0):
        """Registers ip:port as a peer of info_hash (20 bytes): the request is
        sent from `ip`, since opentracker takes a peer's address from its socket."""
        query = urllib.parse.urlencode({"info_hash": info_hash, "peer_id": b"-PLTEST-" + os.urandom(6).hex()[:12].encode(),
                                        "port": port, "uploaded": 0, "downloaded": 0, "left": left,
                                        "event": "started", "compact": 1, "numwant": 0},
                                       quote_via=urllib.parse.quote)  # a 0x20 byte as %20, never '+'
        answers = []

        def accepted():
            # It reads its whitelist on a thread of its own: refusals until then.
            conn = http.client.HTTPConnection(self.ip, self.port, timeout=5, source_address=(ip, 0))
            try:
                conn.request("GET", "/announce?" + query)
                answers.append(conn.getresponse().read())
            finally:
                conn.close()
            return b"failure" not in answers[-1]

        e2e.wait_until(accepted, 10, "opentracker to accept the announce", interval=0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Process:
    """A client process; stdout and stderr to a log file; stopped by PID."""

    def __init__(self, args, log_path, cwd=None, wrap=lambda args: args):
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(wrap(args), cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def exited(self):
        return self.proc.poll() is not None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


def aria2c(torrent, out_dir, ip, log_path, seed=False, extra=()):
    """aria2c downloading `torrent` into out_dir, listening on ip; exits when
    done unless seed (then it seeds until stopped)."""
    port = free_port(ip)
    args = ["aria2c", "--dir", out_dir, "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--listen-port", str(port), "--bt-external-ip", ip,
            "--interface", ip, "--disable-ipv6=true", "--console-log-level=warn", "--summary-interval=0",
            "--file-allocation=none", "--check-integrity=true", "--bt-stop-timeout=120",
            # A seeder seeds until stopped: by default aria2c stops at a share
            # ratio of 1.0, which it counts with blocks still in its queue.
            "--seed-time", "9999" if seed else "0", *(["--seed-ratio=0.0"] if seed else []),
            "--bt-tracker-connect-timeout=5",
            "--bt-tracker-interval=1", *extra, torrent]
    return Process(args, log_path)


def transmission(torrent, out_dir, config_dir, ip, log_path, wrap=lambda args: args):
    """transmission-cli downloading `torrent` (it then seeds until stopped).
    Its command line cannot turn DHT, LSD or PEX off: its settings.json can."""
    port = 51413  # its own namespace (Transmission takes 127.0.0.0/8 peers for martians)
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "settings.json"), "w") as f:
        json.dump({"dht-enabled": False, "lpd-enabled": False, "pex-enabled": False, "utp-enabled": False,
                   "port-forwarding-enabled": False, "bind-address-ipv4": ip,
                   "peer-port": port, "encryption": 0, "rpc-enabled": False, "blocklist-enabled": False,
                   "download-dir": out_dir, "speed-limit-up-enabled": False}, f)
    args = ["transmission-cli", "-w", out_dir, "-g", config_dir, "-p", str(port), "-M", "-U", "-D",
            torrent]
    return Process(args, log_path, wrap=wrap)


def lt_session(ip):
    import libtorrent as lt

    return lt.session({
        "listen_interfaces": f"{ip}:0", "outgoing_interfaces": ip, "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False, "enable_ip_notifier": False, "dht_bootstrap_nodes": "",
        "allow_multiple_connections_per_ip": True, "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "alert_mask": 0,
        # Plain BitTorrent (libtorrent would first try its obfuscation, MSE,
        # and fall back to this a second later).
        "out_enc_policy": 2, "in_enc_policy": 2,
    })


def stop(client):
    """Stops a process or tracker by its PID, or a libtorrent session at once:
    a dropped session lives on while any name still refers to it (a loop
    variable is enough), so it is paused (peers disconnected, new ones
    refused) and its torrents removed."""
    if hasattr(client, "stop"):
        client.stop()
    elif hasattr(client, "get_torrents"):
        client.pause()
        for handle in client.get_torrents():
            client.remove_torrent(handle)


def lt_download(session, save_path, peer, torrent=None, magnet=None):
    """Adds a torrent (file or magnet link) and tells it of the peer ip:port."""
    import libtorrent as lt

    params = lt.parse_magnet_uri(magnet) if magnet else lt.add_torrent_params()
    if torrent:
        params.ti = lt.torrent_info(torrent)
    params.save_path = save_path
    handle = session.add_torrent(params)
    ip, port = e2e.split_endpoint(peer)
    handle.connect_peer((ip, port))
    return handle


def lt_wait_seeding(handle, timeout, peer=None):
    """Waits until libtorrent has every piece verified (it then seeds);
    reconnects to `peer` meanwhile, in case a connect attempt was lost."""
    deadline = time.monotonic() + e2e.seconds(timeout)
    last_connect = time.monotonic()
    while time.monotonic() < deadline:
        status = handle.status()
        if status.is_seeding:
            return status
        if peer and time.monotonic() - last_connect > 2 and status.num_peers == 0:
            handle.connect_peer(e2e.split_endpoint(peer))
            last_connect = time.monotonic()
        time.sleep(0.05)
    status = handle.status()
    raise AssertionError(f"libtorrent did not finish within {timeout}s: state {status.state}, "
                         f"progress {status.progress:.3f}, peers {status.num_peers}, error {status.errc.message()}")
