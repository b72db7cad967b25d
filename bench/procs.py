"""Processes the benchmark starts: started with their output in a log,
stopped by PID (never by name), and what /proc says about them.

Every child is asked to die with us (PR_SET_PDEATHSIG), so a benchmark
killed by a timeout leaves nothing running; `Processes.stop_all()` stops the
rest in the normal case.
"""

import os
import signal
import subprocess
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A measurement went wrong: the run stops and says why, loudly."""


def _die_with_parent():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class Processes:
    """The background processes of one run, by name, each with its log file."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = []  # (name, Popen, log path)

    def start(self, name, args, cwd=None, env=None):
        log = os.path.join(self.log_dir, f"{name}.log")
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=cwd, env=env, preexec_fn=_die_with_parent)
        proc.bench_name, proc.bench_log = name, log
        self.running.append((name, proc, log))
        return proc

    @staticmethod
    def terminate(proc):
        """SIGTERM, once: a second one during a clean shutdown would kill it."""
        if proc.poll() is None and not getattr(proc, "bench_terminated", False):
            proc.bench_terminated = True
            proc.send_signal(signal.SIGTERM)

    def stop(self, proc, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit status."""
        if proc.poll() is None:
            self.terminate(proc)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.running = [entry for entry in self.running if entry[1] is not proc]
        return proc.returncode

    def stop_all(self):
        for _, proc, _ in list(self.running):
            self.terminate(proc)
        deadline = time.monotonic() + 10
        for _, proc, _ in list(self.running):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.running = []


def run(args, timeout, what, cwd=None, env=None):
    """Runs a command to completion; returns its stdout. A non-zero exit or a
    timeout is a BenchError that quotes the command's stderr."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                              preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what}: did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{what}: exit status {done.returncode}: {done.stderr.strip()[-600:]}")
    return done.stdout


def timed(args, timeout, what, cwd=None):
    """Seconds a command takes from exec to exit (it must exit 0)."""
    started = time.monotonic()
    run(args, timeout, what, cwd=cwd)
    return time.monotonic() - started


def wait_until(predicate, timeout, what, proc=None, interval=0.05):
    """Polls predicate() until truthy (returns its value); fails on the deadline
    or if `proc` (a Popen) has exited meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"gave up waiting for {what}: {proc.bench_name} exited with status "
                             f"{proc.returncode}; its log ends:\n{tail(proc.bench_log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(interval)


def status_kib(pid, field):
    """A field of /proc/PID/status in KiB: VmRSS (now) or VmHWM (the peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} for pid {pid}")


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14 and 15


def children(pid):
    """PIDs whose parent is `pid` (nginx's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def uses_asan(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


class PeakRss:
    """The highest VmRSS of some processes while a `with` block runs, sampled
    every 20 ms in a thread (VmHWM would also count what came before)."""

    def __init__(self, pids):
        self.peak_kib = {pid: 0 for pid in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        for pid in self.peak_kib:
            try:
                self.peak_kib[pid] = max(self.peak_kib[pid], status_kib(pid, "VmRSS"))
            except (OSError, BenchError):
                pass  # exited meanwhile

    def _run(self):
        while not self._stop.wait(0.02):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
