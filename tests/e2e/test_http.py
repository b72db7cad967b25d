#!/usr/bin/env python3
"""Client-server downloads from a real node: GET /files/ID with curl, wget -c
and aria2c -x4, Range edge cases as RFC 9110 says, paths that must reach
nothing, and the API's defences against browsers (token, Origin, Host).

This file owns the loopback addresses 127.0.6.x among the e2e tests.
"""

import http.client
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

MiB = e2e.MiB
FILE_BYTES = 24 * MiB
IP = "127.0.6.2"
CLIENT_TIMEOUT_S = 60


def tool(name):
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} is not installed; scripts/setup --tests installs it")
    return path


def raw_request(address, request_bytes, timeout=10):
    """Sends bytes as they are (no client normalises the path) and returns the whole answer."""
    host, port = e2e.split_endpoint(address)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(request_bytes)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


class HttpDownloadTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.node("server", f"{IP}:0", f"{IP}:0").start()
        self.original = os.path.join(self.tmp, "lecture notes.bin")
        e2e.write_random_file(self.original, FILE_BYTES)
        self.digest = e2e.sha256_file(self.original)
        self.id = self.server.share(self.original)
        self.url = f"http://{self.server.http}/files/{self.id}"

    def request(self, method, target, headers=None, body=None):
        host, port = e2e.split_endpoint(self.server.http)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def run_tool(self, *args):
        result = subprocess.run(args, capture_output=True, text=True, timeout=e2e.seconds(CLIENT_TIMEOUT_S))
        self.assertEqual(result.returncode, 0, f"{args[0]} failed: {result.stderr[-2000:]}")
        return result

    # ------------------------------------------------------------ clients

    def test_curl_wget_resume_and_aria2c_get_the_exact_file(self):
        out = os.path.join(self.tmp, "curl.bin")
        self.run_tool(tool("curl"), "--silent", "--fail", "--output", out, self.url)
        self.assertEqual(e2e.sha256_file(out), self.digest, "curl")

        # wget -c: start from the first third, as if an earlier wget died there.
        out = os.path.join(self.tmp, "wget.bin")
        with open(self.original, "rb") as src, open(out, "wb") as dst:
            dst.write(src.read(FILE_BYTES // 3))
        result = self.run_tool(tool("wget"), "--server-response", "--continue", "--output-document", out,
                               self.url)
        self.assertIn("206 Partial Content", result.stderr, "wget -c must resume, not start over")
        self.assertEqual(e2e.sha256_file(out), self.digest, "wget -c")

        # aria2c: four connections, each fetching its own ranges.
        self.run_tool(tool("aria2c"), "--quiet=true", "--max-connection-per-server=4", "--split=4",
                      "--min-split-size=1M", "--allow-overwrite=true", "--dir", self.tmp,
                      "--out", "aria2.bin", self.url)
        self.assertEqual(e2e.sha256_file(os.path.join(self.tmp, "aria2.bin")), self.digest, "aria2c -x4")

        # The readable form /files/ID/NAME, as tools that name files after the URL want.
        out = os.path.join(self.tmp, "named")
        os.makedirs(out)
        self.run_tool(tool("wget"), "--quiet", "--directory-prefix", out, self.url + "/lecture%20notes.bin")
        self.assertEqual(e2e.sha256_file(os.path.join(out, "lecture notes.bin")), self.digest, "by name")
        self.server.assert_alive()

    def test_ranges_answer_as_rfc_9110_says(self):
        with open(self.original, "rb") as f:
            data = f.read()
        target = f"/files/{self.id}"
        status, headers, body = self.request("GET", target, {"Range": "bytes=0-0"})
        self.assertEqual((status, headers["Content-Range"], body), (206, f"bytes 0-0/{FILE_BYTES}", data[:1]))
        status, headers, body = self.request("GET", target, {"Range": "bytes=-1"})
        self.assertEqual((status, body), (206, data[-1:]))
        self.assertEqual(headers["Content-Range"], f"bytes {FILE_BYTES - 1}-{FILE_BYTES - 1}/{FILE_BYTES}")
        status, headers, body = self.request("GET", target, {"Range": f"bytes={FILE_BYTES - 10}-{FILE_BYTES * 2}"})
        self.assertEqual((status, body), (206, data[-10:]), "an end past the file is clamped")
        status, headers, _ = self.request("GET", target, {"Range": f"bytes={FILE_BYTES}-"})
        self.assertEqual((status, headers["Content-Range"]), (416, f"bytes */{FILE_BYTES}"), "start past the end")
        for malformed in ("bytes=abc", "bytes=9-3", "pages=1-2", "bytes=0-0,2-3"):
            status, headers, body = self.request("GET", target, {"Range": malformed})
            self.assertEqual((status, len(body)), (200, FILE_BYTES), f"{malformed}: ignored, whole file")
        status, headers, body = self.request("HEAD", target)
        self.assertEqual((status, headers["Content-Length"], body), (200, str(FILE_BYTES), b""))
        self.assertEqual(headers["ETag"], f'"{self.id}"')
        self.assertEqual(headers["Accept-Ranges"], "bytes")
        status, _, body = self.request("GET", target, {"If-None-Match": f'"{self.id}"'})
        self.assertEqual((status, body), (304, b""))

    def test_no_spelling_of_a_path_reaches_anything_but_shared_files(self):
        secret = os.path.join(self.tmp, "secret.txt")
        with open(secret, "w") as f:
            f.write("TOP-SECRET-CONTENT")
        relative = os.path.relpath(secret, "/")
        host = self.server.http
        targets = [
            "/files/../../etc/passwd",
            "/files/%2e%2e/%2e%2e/etc/passwd",
            "/files/..%2F..%2Fetc%2Fpasswd",
            "/files/%2F" + relative.replace("/", "%2F"),
            "/files/../../../../" + relative,
            "/files/" + self.id[:7],                       # too short a prefix
            "/files/" + "0" * 64,                          # unknown id
            "/files/" + self.id + "/../secret.txt",
            "/files/" + self.id + "/..%2Fsecret.txt",
            "/files/" + self.id.upper(),
            "/" + relative,
            "/api/../" + relative,
        ]
        for target in targets:
            answer = raw_request(host, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            status = int(answer.split(b" ", 2)[1])
            self.assertIn(status, (400, 404), f"{target}: {answer[:200]!r}")
            self.assertNotIn(b"root:", answer, target)
            self.assertNotIn(b"TOP-SECRET", answer, target)
        self.server.assert_alive()

    # ------------------------------------------------------------ the API against browsers

    def test_actions_need_the_token_and_a_page_of_this_node(self):
        other = os.path.join(self.tmp, "other.txt")
        with open(other, "w") as f:
            f.write("x" * 1000)
        body = f'{{"path": "{other}"}}'
        token = self.server.info["token"]
        host = self.server.http

        def post(headers):
            status, _, answer = self.request("POST", "/api/share", dict({"Content-Type": "application/json"},
                                                                        **headers), body)
            return status, answer

        def shared_count():
            return len(self.server.api("/api/files"))

        before = shared_count()
        self.assertEqual(post({})[0], 401, "no token")
        self.assertEqual(post({"Authorization": "Bearer wrong"})[0], 401, "wrong token")
        self.assertEqual(post({"Authorization": f"Bearer {token}", "Origin": "http://evil.example"})[0], 403,
                         "a foreign page's Origin")
        self.assertEqual(post({"Authorization": f"Bearer {token}", "Host": "evil.example"})[0], 403,
                         "a rebinding Host")
        self.assertEqual(shared_count(), before, "refused actions must change nothing")
        for path in ("/", "/api/status", f"/files/{self.id}"):
            status, _, _ = self.request("GET", path, {"Host": f"attacker.example:{host.split(':')[1]}"})
            self.assertEqual(status, 403, f"GET {path} with a foreign Host")
        status, answer = post({"Authorization": f"Bearer {token}", "Origin": f"http://{host}"})
        self.assertEqual(status, 200, f"the node's own page may act: {answer!r}")
        self.assertEqual(shared_count(), before + 1)


if __name__ == "__main__":
    e2e.main()
