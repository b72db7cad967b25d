"""Where everything listens: loopback only, and addresses no test uses
(tests/e2e owns 127.0.0.2-4 and 127.0.2.x-127.0.12.x), so a benchmark can run
while the test suite does. Ports are chosen by the kernel (port 0)."""

NGINX = "127.0.13.1"
TRACKER = "127.0.13.2"
SECOND_TRACKER = "127.0.13.4"  # bt_seed: a swarm of its own for the aria2c seeder of peerlab's .torrent
IDLE = "127.0.13.3"
SEEDER = "127.0.13.10"
DOWNLOADER = "127.0.13.11"
LIMITED_SEEDER = "127.0.13.12"
LIMITED_DOWNLOADER = "127.0.13.13"
SHARER = "127.0.13.14"
DOWNLOADERS = [f"127.0.13.{20 + i}" for i in range(16)]
ARIA_SEEDER = "127.0.13.40"
SECOND_ARIA_SEEDER = "127.0.13.39"
ARIA_LEECHERS = [f"127.0.13.{41 + i}" for i in range(16)]
BT_PEERLAB_SEEDER = "127.0.13.60"
BT_PEERLAB_LEECHER = "127.0.13.62"
SWARM = [f"127.0.14.{1 + i}" for i in range(250)]
BESIEGED = "127.0.15.1"
BESIEGED_SEEDER = "127.0.15.2"
FOLDER_SEEDER = "127.0.13.60"
FOLDER_DOWNLOADER = "127.0.13.61"
CROWD = "127.0.15.3"  # where the held peer connections come from
