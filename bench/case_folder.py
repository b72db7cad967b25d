"""Folders (issue 20, acceptance 5): a folder of many small files.
- share: `peerlab share DIR` (a fresh node each time: every file hashed) against
  `tar -c DIR | sha256sum` (reading every file once, hashing the stream);
- fetch: `peerlab get ID` from one seeder against `aria2c -j 16 -i LIST` of the
  same files from nginx. Outputs are compared with `diff -r` outside the timing."""

import os
import shutil
import subprocess

import addresses as ip
from peerlab import Node
from procs import BenchError, run, timed
from report import MiB

FILE_BYTES = 16 * 1024


def make_folder(bench, files):
    """`files` files of 16 KiB, 100 to a directory, random bytes; page-cached."""
    root = bench.data_path("folder")
    if not os.path.exists(root):
        bench.say(f"writing a folder of {files} files of 16 KiB")
        for i in range(files):
            sub = os.path.join(root, f"d{i // 100:03d}")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, f"f{i:05d}.bin"), "wb") as f:
                f.write(os.urandom(FILE_BYTES))
    run(["tar", "-cf", "/dev/null", "-C", os.path.dirname(root), "folder"], 600, "tar (page cache)")
    return root


def same_tree(a, b):
    if subprocess.run(["diff", "-r", "-q", a, b], capture_output=True).returncode != 0:
        raise BenchError(f"folder fetch: {b} differs from {a}")
    shutil.rmtree(b)


def folder(bench, case):
    cfg = bench.cfg
    files = cfg["folder_files"]
    root = make_folder(bench, files)
    size = files * FILE_BYTES
    case.facts.update(files=files, file_bytes=FILE_BYTES, total_bytes=size, cores=os.cpu_count())
    m_share = case.measurement("peerlab-share", "peerlab share DIR (a fresh node each time)", "s", size)
    m_tar = case.measurement("tar-sha256", "tar -c DIR | sha256sum", "s", size)
    no_aria = bench.missing("nginx", "aria2c")
    m_get = case.measurement("peerlab-get", "peerlab get: 1 seeder -> 1 downloader, until it exits", "s", size)
    m_aria = case.measurement("aria2c-nginx", "aria2c -j 16 -i LIST <- nginx", "s", size, missing=no_aria)
    out = bench.out_dir()
    for rep in range(1, cfg["reps"] + 1):
        bench.say(f"folder of {files} files: share, repetition {rep} of {cfg['reps']}")
        sharer = Node(bench, "folder-sharer", ip.SHARER).wait_ready()
        m_share.add(timed([bench.peerlab, "share", root, "--dir", sharer.dir], 600, "peerlab share DIR"))
        sharer.stop()
        m_tar.add(timed(["bash", "-c", 'tar -c -C "$(dirname "$1")" folder | sha256sum >/dev/null', "-", root],
                        600, "tar | sha256sum"))

    seeder = Node(bench, "folder-seeder", ip.FOLDER_SEEDER).wait_ready()
    folder_id = seeder.share(root)
    aria_list = os.path.join(bench.tmp, "folder-aria2.txt")
    if not no_aria:
        base = f"http://{bench.nginx.ip}:{bench.nginx.port}/folder/"
        with open(aria_list, "w") as f:
            for top, _, names in sorted(os.walk(root)):
                for name in sorted(names):
                    rel = os.path.relpath(os.path.join(top, name), root)
                    f.write(f"{base}{rel}\n  out={rel}\n")
    for rep in range(1, cfg["reps"] + 1):
        bench.say(f"folder of {files} files: fetch, repetition {rep} of {cfg['reps']}")
        sink = Node(bench, "folder-sink", ip.FOLDER_DOWNLOADER, peers=[seeder.listen]).wait_ready()
        sink.wait_lists(folder_id)
        target = os.path.join(out, "folder-peerlab")
        m_get.add(timed([bench.peerlab, "get", folder_id, "--dir", sink.dir, "-o", target, "--quiet"],
                        bench.transfer_timeout(size) + 120, "peerlab get FOLDER"))
        sink.stop()
        same_tree(root, target)
        if not no_aria:
            target = os.path.join(out, "folder-aria2")
            m_aria.add(timed([bench.tools["aria2c"], "-q", "-j", "16", "--file-allocation=none", "-d", target,
                              "-i", aria_list], bench.transfer_timeout(size) + 120, "aria2c -i LIST"))
            same_tree(root, target)
    seeder.stop()
    case.ratio("peerlab share DIR / tar -c DIR | sha256sum", "peerlab-share", "tar-sha256", "<=", 1.0)
    case.ratio("peerlab get FOLDER / aria2c -j 16 -i LIST", "peerlab-get", "aria2c-nginx", "<=", 1.0)
