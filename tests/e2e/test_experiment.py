#!/usr/bin/python3
"""scripts/experiment, small: N = 1, 2 of a 1 MiB file at 8 MiB/s.

Runs the distribution-time experiment end to end against the binary under
test and checks what it writes: the CSV has one row per N and mode with
positive times and the textbook bounds, the SVG is well-formed XML with both
measured curves and both bounds, and nothing is left behind (temporary
directory, processes).

This file owns the loopback addresses 127.0.10.x among the e2e tests.
"""

import csv
import math
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlab_e2e as e2e  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "experiment")
IP_PREFIX = "127.0.10"
MiB = 1024 * 1024
F, U_S, U = 1 * MiB, 8 * MiB, 8 * MiB
RUN_S = 40  # the whole small experiment, generously
SVG = "{http://www.w3.org/2000/svg}"


def processes_mentioning(text):
    """PIDs whose command line contains `text` (to find leftovers by their temp paths)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


class ExperimentTest(e2e.NodeTestCase):
    def run_script(self, *args, timeout=RUN_S, env=None):
        return subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True,
                              timeout=e2e.seconds(timeout), env=env)

    def test_small_experiment_writes_csv_and_svg_with_both_curves(self):
        out = os.path.join(self.tmp, "out")
        scratch = os.path.join(self.tmp, "scratch")  # the script's mktemp -d goes here
        os.makedirs(scratch)
        env = dict(os.environ, TMPDIR=scratch)
        started = time.monotonic()
        result = self.run_script("--n", "1,2", "--size", "1MiB", "--seeder-up", "8MiB", "--peer-up", "8MiB",
                                 "--out", out, "--no-build", "--peerlab", e2e.PEERLAB, "--ip-prefix", IP_PREFIX,
                                 env=env)
        took = time.monotonic() - started
        self.assertEqual(result.returncode, 0, f"scripts/experiment failed:\n{result.stdout}\n{result.stderr}")
        self.assertLess(took, e2e.seconds(RUN_S))

        # The table on stdout: a header and one line per N and mode.
        table = [line.split() for line in result.stdout.splitlines() if line.strip()]
        self.assertEqual([(line[0], line[1]) for line in table[1:]],
                         [("1", "client-server"), ("1", "p2p"), ("2", "client-server"), ("2", "p2p")],
                         result.stdout)

        # The CSV.
        with open(os.path.join(out, "experiment.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(r["n"], r["mode"]) for r in rows],
                         [("1", "client-server"), ("1", "p2p"), ("2", "client-server"), ("2", "p2p")])
        for key in ("n", "mode", "seconds", "bound_seconds", "ratio", "last_exit_seconds", "seeder_copies",
                    "file_bytes", "seeder_up_bytes_per_s", "peer_up_bytes_per_s", "d_min_bytes_per_s"):
            self.assertIn(key, rows[0])
        for r in rows:
            where = f"row {r}"
            seconds, bound, ratio = float(r["seconds"]), float(r["bound_seconds"]), float(r["ratio"])
            self.assertGreater(seconds, 0, where)
            self.assertGreaterEqual(float(r["last_exit_seconds"]), seconds, where)
            self.assertAlmostEqual(ratio, seconds / bound, delta=0.01 * ratio, msg=where)  # ms rounding
            self.assertGreater(float(r["seeder_copies"]), 0, where)
            self.assertEqual((int(r["file_bytes"]), int(r["seeder_up_bytes_per_s"]), int(r["peer_up_bytes_per_s"])),
                             (F, U_S, U), where)
            self.assertTrue(math.isinf(float(r["d_min_bytes_per_s"])), f"{where}: no --down means d_min = inf")
            n = int(r["n"])
            expected = n * F / U_S if r["mode"] == "client-server" else max(F / U_S, n * F / (U_S + n * U))
            self.assertAlmostEqual(bound, expected, delta=0.001, msg=where)
            # A rate-limited transfer cannot beat its bound by much (a limiter saves up a small burst).
            self.assertGreater(ratio, 0.3, where)

        # The SVG: well-formed, with the four curves, a title naming the parameters and labelled axes.
        root = ET.parse(os.path.join(out, "experiment.svg")).getroot()
        self.assertEqual(root.tag, SVG + "svg")
        curves = {el.get("data-name"): el for el in root.iter(SVG + "polyline") if el.get("class") == "curve"}
        names = " | ".join(curves)
        for wanted in ("client-server, measured", "P2P, measured", "client-server bound", "P2P bound"):
            self.assertTrue(any(name.startswith(wanted) for name in curves), f"no curve '{wanted}' in: {names}")
        measured = {name: el for name, el in curves.items() if name.endswith("measured")}
        for name, el in measured.items():
            self.assertEqual(len(el.get("points").split()), 2, f"{name}: one point per N")
        text = " ".join("".join(el.itertext()) for el in root.iter(SVG + "text"))
        for wanted in ("F = 1 MiB", "u_s = 8 MiB/s", "u = 8 MiB/s", "d_min = ∞", "N, number of downloaders",
                       "(s)"):
            self.assertIn(wanted, text)

        # Nothing left behind: the temporary directory is gone and no process runs from it.
        self.assertEqual(os.listdir(scratch), [], "the script's temporary directory was not removed")
        self.assertEqual(processes_mentioning(scratch), [], "processes started by the script are still running")

    def test_help_and_bad_options(self):
        result = self.run_script("--help", timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        for option in ("--n", "--size", "--seeder-up", "--peer-up", "--down", "--out", "--no-build", "--peerlab",
                       "--ip-prefix"):
            self.assertIn(option, result.stdout)
        for bad in (["--n", "0,2"], ["--size", "lots"], ["--ip-prefix", "10.0.0"]):
            result = self.run_script(*bad, "--no-build", timeout=20)
            self.assertEqual(result.returncode, 2, f"{bad}: {result.stderr}")
            self.assertIn("error", result.stderr, bad)


if __name__ == "__main__":
    e2e.main()
