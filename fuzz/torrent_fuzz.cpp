// .torrent and magnet parsers: a file or link from anyone. Checks: a torrent
// that parses has only safe, bounded paths, sizes that add up, piece counts
// that match, info-hashes over exactly its info bytes, and parses again from
// those bytes alone; a magnet link that parses carries a hash and survives
// being written out and read back.

#include <span>
#include <string_view>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/manifest.hpp"
#include "protocol/torrent.hpp"
#include "protocol/torrent_files.hpp"

namespace peerlab::fuzz {

int fuzz_torrent(const std::uint8_t* data, std::size_t size) {
  using namespace protocol::bt;
  const std::span<const std::uint8_t> input(data, size);
  const torrent_limits limits;
  const auto t = parse_torrent(input, limits);
  if (t) {
    FUZZ_CHECK(!t->files.empty() && t->files.size() <= limits.max_files);
    FUZZ_CHECK(protocol::is_safe_file_name(t->name));
    FUZZ_CHECK(is_valid_piece_length(t->piece_length));
    std::uint64_t total = 0;
    for (const auto& f : t->files) {
      FUZZ_CHECK(!f.path.empty() && f.path.size() <= limits.max_path_depth);
      for (const auto& segment : f.path)
        FUZZ_CHECK(protocol::is_safe_file_name(segment));
      if (t->format != torrent_format::v2) FUZZ_CHECK(f.offset == total);
      total += f.length;
      if (t->format != torrent_format::v1 && !f.pad && f.length > 0) FUZZ_CHECK(f.pieces_root);
    }
    FUZZ_CHECK(total == t->total_size && total <= limits.max_total_bytes);
    if (t->format != torrent_format::v2) {
      FUZZ_CHECK(t->v1_pieces.size() == (total + t->piece_length - 1) / t->piece_length);
      FUZZ_CHECK(t->hashes.v1 && *t->hashes.v1 == sha1(t->info_bytes));
    }
    if (t->format != torrent_format::v1) {
      FUZZ_CHECK(t->hashes.v2 && *t->hashes.v2 == sha256_of(t->info_bytes));
    }
    const auto again = parse_info_dict(t->info_bytes, limits);
    FUZZ_CHECK(again.ok() && again->hashes == t->hashes && again->files.size() == t->files.size());
    // Its piece space maps onto its files: each piece's ranges lie inside
    // their files and cover the piece's bytes exactly, in order.
    if (const auto layout = make_file_layout(*t)) {
      for (std::uint64_t i = 0; i < layout->piece_count() && i < 64; ++i) {
        const auto offset = i * layout->piece_length;
        auto next = offset;
        for (const auto& r : ranges_of(*layout, offset, layout->piece_size(i))) {
          FUZZ_CHECK(r.space_offset == next && r.length > 0 && r.file < layout->files.size());
          FUZZ_CHECK(r.file_offset + r.length <= layout->files[r.file].length);
          next += r.length;
        }
        FUZZ_CHECK(next == offset + layout->piece_size(i));
      }
    }
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto m = parse_magnet(text);
  if (m) {
    FUZZ_CHECK(m->hashes.v1 || m->hashes.v2);
    FUZZ_CHECK(m->trackers.size() <= limits.max_trackers);
    const auto link = make_magnet(*m);
    const auto back = parse_magnet(link);
    // Escaping can make a link longer than the limit; below it, it reads back.
    if (link.size() <= 16 * 1024) {
      FUZZ_CHECK(back.ok() && back->hashes == m->hashes && back->name == m->name &&
                 back->trackers == m->trackers && back->size == m->size);
    }
  }
  return 0;
}

}  // namespace peerlab::fuzz
