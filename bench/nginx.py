"""A private nginx (its own config, pid file, logs and temp paths in our
temporary directory), serving a directory with sendfile on: the
client-server baseline."""

import os
import socket
import subprocess
import urllib.error
import urllib.request

from procs import BenchError, children, tail, wait_until

CONFIG = """\
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 4096;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;  # wrk counts a server-side close as an error
  default_type application/octet-stream;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
{module_temp_paths}  server {{
    listen {ip}:{port};
    root {root};
  }}
}}
"""


def free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, bench, ip, root):
        self.bench, self.ip = bench, ip
        self.dir = os.path.join(bench.tmp, "nginx")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        binary = bench.tools["nginx"]
        build = subprocess.run([binary, "-V"], capture_output=True, text=True).stderr
        # Only the temp paths of modules this nginx has (nginx-light lacks some).
        module_temp_paths = "".join(f"  {m}_temp_path {self.dir}/{m};\n" for m in ("fastcgi", "uwsgi", "scgi")
                                    if f"--without-http_{m}_module" not in build)
        for _ in range(5):  # a free port may be taken before nginx binds it: try another
            self.port = free_port(ip)
            with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
                # As root, workers would otherwise switch to a user who cannot read our mktemp directory.
                f.write(CONFIG.format(user="user root;\n" if os.geteuid() == 0 else "", dir=self.dir, ip=ip,
                                      port=self.port, root=root, module_temp_paths=module_temp_paths))
            self.proc = bench.procs.start("nginx", [binary, "-p", self.dir, "-e", f"{self.dir}/error.log",
                                                    "-c", f"{self.dir}/nginx.conf", "-g", "daemon off;"])
            try:
                wait_until(self._answers, 10, "nginx to answer", proc=self.proc, interval=0.05)
                return
            except BenchError:
                bench.procs.stop(self.proc)
        raise BenchError(f"nginx did not start: {tail(os.path.join(self.dir, 'error.log'))}")

    def url(self, name):
        return f"http://{self.ip}:{self.port}/{name}"

    def _answers(self):
        try:
            with urllib.request.urlopen(self.url(""), timeout=2):
                return True
        except urllib.error.HTTPError:  # 403 for a directory: it answers, which is all we ask
            return True

    def worker_pids(self):
        return children(self.proc.pid)

    def stop(self):
        self.bench.procs.stop(self.proc)
