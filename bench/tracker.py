"""A minimal BitTorrent HTTP tracker for the benchmark (standard library only).

aria2c has no option to add a peer by hand, and Debian ships no small
tracker; an HTTP tracker is just a GET /announce answered with a bencoded
dictionary, so this one remembers who announced which info_hash and hands
back everyone else in the compact form (BEP 23). Loopback only: it binds to
the address given and never forwards anything.

    python3 bench/tracker.py IP PORT_FILE    # writes the chosen port to PORT_FILE
"""

import http.server
import os
import socket
import struct
import sys
import threading
import urllib.parse

ANNOUNCE_INTERVAL_S = 2  # leechers ask often: a benchmark swarm forms in seconds


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, (bytes, str)):
        raw = value.encode() if isinstance(value, str) else value
        return b"%d:%s" % (len(raw), raw)
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


class Swarms:
    """info_hash -> {(ip, port): complete?}, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.peers = {}

    def announce(self, info_hash, ip, port, event, complete):
        with self.lock:
            swarm = self.peers.setdefault(info_hash, {})
            if event == "stopped":
                swarm.pop((ip, port), None)
            else:
                swarm[(ip, port)] = complete
            others = [p for p in swarm if p != (ip, port)]
            seeders = sum(1 for done in swarm.values() if done)
            return others, seeders, len(swarm) - seeders

    def seeders(self):
        with self.lock:
            return sum(done for swarm in self.peers.values() for done in swarm.values())


SWARMS = Swarms()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 - the name http.server wants
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/seeders":  # for the benchmark: has the seeder announced itself yet?
            return self.reply_text(str(SWARMS.seeders()))
        # info_hash is 20 raw bytes, percent-encoded: decode to bytes, not text.
        query = urllib.parse.parse_qs(url.query, encoding="latin-1")
        try:
            info_hash = query["info_hash"][0].encode("latin-1")
            port = int(query["port"][0])
        except (KeyError, ValueError):
            return self.reply({"failure reason": "info_hash and port are required"})
        ip = query.get("ip", [self.client_address[0]])[0]
        event = query.get("event", [""])[0]
        complete = query.get("left", ["1"])[0] == "0"
        others, seeders, leechers = SWARMS.announce(info_hash, ip, port, event, complete)
        compact = b"".join(socket.inet_aton(p_ip) + struct.pack(">H", p_port) for p_ip, p_port in others)
        self.reply({"interval": ANNOUNCE_INTERVAL_S, "min interval": 1, "complete": seeders,
                    "incomplete": leechers, "peers": compact})

    def reply(self, fields):
        self.reply_text(bencode(fields))

    def reply_text(self, body):
        body = body.encode() if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: the benchmark prints its own story
        pass


def main():
    ip, port_file = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer((ip, 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)  # the reader never sees half a number
    server.serve_forever()


if __name__ == "__main__":
    main()
