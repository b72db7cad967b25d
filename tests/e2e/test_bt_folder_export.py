#!/usr/bin/env python3
"""A shared folder exported as a multi-file torrent (issue 20): `peerlab share
DIR` then `peerlab torrent FOLDER_ID --format v1|v2|hybrid` writes torrents
that libtorrent (python3-libtorrent) reads with the info-hashes the node
reports and the folder's files (pads aside: v1 and hybrid align every file
on a piece with BEP 47 pad files), that aria2c lists (v1), and whose hashes
are right: libtorrent, given the folder's files on disk, checks every piece
and finds the torrent complete. `files --json` shows the folder's
info-hashes. And the node seeds them: aria2c (v1, through the node's own
tracker) and libtorrent (v2 and hybrid) fetch the folder from it alone.

This file owns the loopback addresses 127.0.37.x; one ctest entry per case.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bittorrent_clients as bt  # noqa: E402
import peerlab_e2e as e2e  # noqa: E402

NODE_IPS = {"export": "127.0.37.1", "recheck": "127.0.37.2", "rehash": "127.0.37.3", "seeded": "127.0.37.4"}
CLIENT_IP = "127.0.37.11"
FORMATS = ("v1", "v2", "hybrid")

# Sizes off and on piece boundaries, nested directories, an empty file, an
# empty directory (left out of torrents), and "code/…" beside "code.txt"
# (a v2 file tree sorts "code/…" first: the v1 list must follow it).
FILES = {
    "slides.pdf": 300_000,
    "code/main.c": 5_000,
    "code/lib/util.c": 70_000,
    "code.txt": 262_144,
    "empty.txt": 0,
    "notes/a.txt": 1,
}
EMPTY_DIRS = ["docs"]


class FolderExportTest(e2e.NodeTestCase):
    def setUp(self):
        super().setUp()
        case = self._testMethodName.split("_")[1]
        self.node = self.node("node", f"{NODE_IPS[case]}:0", f"{NODE_IPS[case]}:0").start()
        self.folder = os.path.join(self.tmp, "lecture")
        for path, size in FILES.items():
            os.makedirs(os.path.dirname(os.path.join(self.folder, path)), exist_ok=True)
            e2e.write_random_file(os.path.join(self.folder, path), size)
        for d in EMPTY_DIRS:
            os.makedirs(os.path.join(self.folder, d))
        self.folder_id = self.node.share(self.folder)

    def torrent(self, fmt):
        """`peerlab torrent ID --format FMT -o PATH --json`: (path, its JSON answer)."""
        path = os.path.join(self.tmp, f"lecture.{fmt}.torrent")
        result = e2e.run_cli("torrent", self.folder_id[:12], "--dir", self.node.dir, "--format", fmt, "-o", path,
                             "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        answer = json.loads(result.stdout)
        self.assertEqual(answer["file"], path)
        return path, answer

    def lt_files(self, info):
        """libtorrent's file list: {path: size}, and how many pad files between files."""
        import libtorrent as lt

        fs = info.files()
        files, pads = {}, 0
        for i in range(fs.num_files()):
            if fs.file_flags(i) & lt.file_storage.flag_pad_file:
                end = fs.file_offset(i) + fs.file_size(i)
                self.assertEqual(end % info.piece_length(), 0)
                # libtorrent pads a v2 torrent's last file too, in its own layout.
                pads += end != fs.total_size()
            else:
                self.assertEqual(fs.file_offset(i) % info.piece_length(), 0, fs.file_path(i))
                files[fs.file_path(i)] = fs.file_size(i)
        return files, pads

    def test_export_libtorrent_and_aria2c_read_every_format(self):
        import libtorrent as lt

        expected = {os.path.join("lecture", p): size for p, size in FILES.items()}
        entry = self.node.file_entry(self.folder_id)
        self.assertTrue(entry["folder"])
        listed = entry["bittorrent"]  # hashed in the share's own read
        self.assertIsNotNone(listed)
        for fmt in FORMATS:
            path, answer = self.torrent(fmt)
            info = lt.torrent_info(path)
            self.assertEqual(info.name(), "lecture")
            hashes = info.info_hashes()
            self.assertEqual(hashes.has_v1(), fmt != "v2", fmt)
            self.assertEqual(hashes.has_v2(), fmt != "v1", fmt)
            if fmt != "v2":
                self.assertEqual(str(hashes.v1), answer["btih"], fmt)
                self.assertEqual(listed[fmt]["btih"], answer["btih"], fmt)
            if fmt != "v1":
                self.assertEqual(str(hashes.v2), answer["btmh"], fmt)
                self.assertEqual(listed[fmt]["btmh"], answer["btmh"], fmt)
            self.assertTrue(answer["magnet"].startswith("magnet:?xt=urn:bt"), answer["magnet"])
            self.assertIn("/announce", [t.url for t in info.trackers()][0])
            files, pads = self.lt_files(info)
            self.assertEqual(files, expected, fmt)
            # v1 lists its pads; libtorrent pads v2 files the same way itself.
            self.assertEqual(pads, 3, fmt)  # after code/lib/util.c, code/main.c and notes/a.txt
            self.assertEqual(info.piece_length(), answer["piece_length"])
            if fmt == "v1":
                listing = subprocess.run(["aria2c", "-S", path], capture_output=True, text=True, timeout=30)
                self.assertEqual(listing.returncode, 0, listing.stderr)
                for p, size in FILES.items():
                    self.assertIn(f"lecture/{p}", listing.stdout)
                    self.assertIn(f"({size:,})", listing.stdout)

    def test_recheck_libtorrent_finds_every_piece_in_the_folder_on_disk(self):
        import libtorrent as lt

        session = bt.lt_session(CLIENT_IP)
        for fmt in FORMATS:
            path, _ = self.torrent(fmt)
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(path)
            params.save_path = self.tmp  # the folder's parent: libtorrent checks what is there
            handle = session.add_torrent(params)
            status = bt.lt_wait_seeding(handle, 30)
            self.assertEqual(status.num_pieces, params.ti.num_pieces(), fmt)
            session.remove_torrent(handle)

    def assert_same_tree(self, out):
        """The fetched folder is the shared one: torrents carry no empty
        directory, and aria2c writes BEP 47 pad files out as .pad/N."""
        diff = subprocess.run(["diff", "-r", "-x", ".pad", *[f"-x{d}" for d in EMPTY_DIRS], self.folder,
                               os.path.join(out, "lecture")], capture_output=True, text=True)
        self.assertEqual(diff.returncode, 0, diff.stdout[-2000:] + diff.stderr[-2000:])

    def test_seeded_to_aria2c_and_libtorrent_by_the_node_alone(self):
        path, _ = self.torrent("v1")  # announces to the node's own /announce
        out = os.path.join(self.tmp, "aria2")
        client = bt.aria2c(path, out, CLIENT_IP, os.path.join(self.tmp, "aria2.log"))
        self.addCleanup(client.stop)
        e2e.wait_until(client.exited, 60, "aria2c to finish")
        self.assertEqual(client.proc.returncode, 0, client.output()[-2000:])
        self.assert_same_tree(out)
        session = bt.lt_session(CLIENT_IP)
        for fmt in ("v2", "hybrid"):
            path, _ = self.torrent(fmt)
            out = os.path.join(self.tmp, f"libtorrent-{fmt}")
            handle = bt.lt_download(session, out, self.node.listen, torrent=path)
            bt.lt_wait_seeding(handle, 60, peer=self.node.listen)
            self.assert_same_tree(out)
            session.remove_torrent(handle)
        self.node.assert_alive()

    def test_rehash_lazily_without_saved_hashes_and_keep_those_of_unchanged_files(self):
        import libtorrent as lt

        _, first = self.torrent("hybrid")
        # As an older version left it: no folders/ID.bt. Hashed when asked for.
        self.node.stop()
        os.remove(os.path.join(self.node.dir, "folders", self.folder_id + ".bt"))
        self.node.start()
        self.assertIsNone(self.node.file_entry(self.folder_id)["bittorrent"])
        _, again = self.torrent("hybrid")
        self.assertEqual((again["btih"], again["btmh"]), (first["btih"], first["btmh"]))
        self.assertIn("for BitTorrent", self.node.log())
        self.assertTrue(os.path.exists(os.path.join(self.node.dir, "folders", self.folder_id + ".bt")))
        # One more file: shared anew, only it is read; the torrent still checks out.
        e2e.write_random_file(os.path.join(self.folder, "notes", "late.txt"), 3000)
        self.folder_id = self.node.share(self.folder)
        self.assertIn(f"({len(FILES) + 1} files, 1 hashed now)", self.node.log())
        path, _ = self.torrent("hybrid")
        session = bt.lt_session(CLIENT_IP)
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(path)
        params.save_path = self.tmp
        bt.lt_wait_seeding(session.add_torrent(params), 30)


if __name__ == "__main__":
    e2e.main()
