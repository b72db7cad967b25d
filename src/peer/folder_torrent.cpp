#include "peer/folder_torrent.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>

#include "peer/on_every_core.hpp"
#include "protocol/bt_merkle.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {

constexpr std::string_view folder_bt_magic = "peerlab-folder-bt-1\n";
constexpr std::uint32_t read_bytes = 1024 * 1024;

std::vector<std::string> segments_of(const std::string& path) {
  std::vector<std::string> out;
  for (std::size_t at = 0;;) {
    const auto slash = path.find('/', at);
    out.push_back(path.substr(at, slash - at));
    if (slash == std::string::npos) return out;
    at = slash + 1;
  }
}

std::uint64_t pieces_of(std::uint64_t size, std::uint32_t piece_length) {
  return (size + piece_length - 1) / piece_length;
}

// Every file of the folder, with its hashes, as the torrent builder takes them.
bt::multi_torrent_source source_of(const protocol::folder_manifest& m, const folder_bt_hashes& h,
                                   std::vector<std::size_t>& entry_of) {
  bt::multi_torrent_source s;
  s.name = m.name;
  s.piece_length = h.piece_length;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    if (!m.entries[i].is_file()) continue;
    s.files.push_back({segments_of(m.entries[i].path), m.entries[i].size, h.files.at(i)});
    entry_of.push_back(i);
  }
  return s;
}

// Reads a file in place that is still as `stamp` says, hashing it for BitTorrent.
result<bt::aligned_file_hashes> hash_in_place(const fs::path& path, const file_stamp& stamp,
                                              std::uint32_t piece_length,
                                              std::vector<std::uint8_t>& buffer) {
  auto handle = store::open_shared(path, stamp);
  if (!handle) return error{handle.error_message()};
  const bt::piece_layout layout{stamp.size, piece_length};
  auto hasher = bt::range_hasher::create(layout, 0, stamp.size);
  if (!hasher) return error{hasher.error_message()};
  buffer.resize(read_bytes);
  for (std::uint64_t at = 0; at < stamp.size;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(read_bytes, stamp.size - at));
    if (!read_fully((*handle)->fd(), buffer.data(), at, n))
      return error{"cannot read " + path.string() + ": it shrank or failed"};
    hasher->update({buffer.data(), n});
    at += n;
  }
  auto range = hasher->finish(bt::tail_padding::also_with_pad);
  if (!range) return error{range.error_message()};
  if (auto now = store::stamp_of(path); !now || !(*now == stamp))
    return error{path.string() + " changed while it was being hashed"};
  auto padded = range->v1_padded_last;
  auto hashes = bt::combine(layout, std::span<const bt::range_hashes>(&*range, 1));
  if (!hashes) return error{hashes.error_message()};
  return bt::aligned_file_hashes{std::move(*hashes), padded};
}

template <class Digest>
void put(std::vector<std::uint8_t>& out, const Digest& d) {
  out.insert(out.end(), d.begin(), d.end());
}

// Reads digests off the front of `in`; false when it is too short.
template <class Digest>
bool take(std::span<const std::uint8_t>& in, Digest& d) {
  if (in.size() < d.size()) return false;
  std::memcpy(d.data(), in.data(), d.size());
  in = in.subspan(d.size());
  return true;
}

}  // namespace

std::uint32_t folder_piece_length(const protocol::folder_manifest& m) {
  std::vector<std::uint64_t> sizes;
  for (const auto& e : m.entries)
    if (e.is_file()) sizes.push_back(e.size);
  return bt::multi_torrent_piece_length(sizes);
}

void add_folder_info_hashes(folder_bt_hashes& h, const protocol::folder_manifest& m) {
  h.info_hashes.reset();
  std::vector<std::size_t> entry_of;
  const auto source = source_of(m, h, entry_of);
  std::array<bt::info_hashes, 3> all{};
  for (const auto f :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    auto built = bt::make_multi_torrent(source, f);
    if (!built) return;
    all[static_cast<std::size_t>(f)] = built->torrent.hashes;
  }
  h.info_hashes = all;
}

std::vector<std::uint8_t> encode_folder_bt(const folder_bt_hashes& h,
                                           const protocol::folder_manifest& m) {
  std::vector<std::uint8_t> out(folder_bt_magic.begin(), folder_bt_magic.end());
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::uint8_t>(h.piece_length >> (8 * i)));
  for (std::size_t i = 0; i < m.entries.size() && i < h.files.size(); ++i) {
    if (!m.entries[i].is_file()) continue;
    const auto& f = h.files[i];
    for (const auto& d : f.hashes.v1_pieces)
      put(out, d);
    out.push_back(f.v1_padded_last ? 1 : 0);
    if (f.v1_padded_last) put(out, *f.v1_padded_last);
    if (m.entries[i].size > 0) put(out, f.hashes.pieces_root);
    for (const auto& d : f.hashes.piece_layer)
      put(out, d);
  }
  return out;
}

result<folder_bt_hashes> decode_folder_bt(std::span<const std::uint8_t> bytes,
                                          const protocol::folder_manifest& m) {
  const auto bad = [](const char* why) {
    return error{std::string("BitTorrent hashes of the folder: ") + why};
  };
  if (bytes.size() < folder_bt_magic.size() + 4 ||
      !std::equal(folder_bt_magic.begin(), folder_bt_magic.end(), bytes.begin()))
    return bad("not in our format");
  auto in = bytes.subspan(folder_bt_magic.size());
  folder_bt_hashes h;
  h.piece_length = static_cast<std::uint32_t>(in[0] | in[1] << 8 | in[2] << 16) |
                   static_cast<std::uint32_t>(in[3]) << 24;
  in = in.subspan(4);
  if (h.piece_length != folder_piece_length(m)) return bad("another piece length");
  const bt::piece_layout per_piece{0, h.piece_length};
  const auto pad = bt::merkle_pad(bt::log2_exact(per_piece.blocks_per_piece()));
  h.files.resize(m.entries.size());
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    if (!m.entries[i].is_file()) continue;
    const auto size = m.entries[i].size;
    const auto count = pieces_of(size, h.piece_length);
    // Sizes come from a manifest we checked: bound the counts by the bytes left anyway.
    if (count > in.size() / 20) return bad("too short");
    auto& f = h.files[i];
    f.hashes.v1_pieces.resize(count);
    for (auto& d : f.hashes.v1_pieces)
      take(in, d);
    if (in.empty() || in[0] > 1) return bad("corrupt");
    const bool padded = in[0] == 1;
    in = in.subspan(1);
    if (padded != (size % h.piece_length != 0)) return bad("a padded hash where none belongs");
    if (padded && !take(in, f.v1_padded_last.emplace())) return bad("too short");
    if (size > 0 && !take(in, f.hashes.pieces_root)) return bad("too short");
    if (size > h.piece_length) {
      if (count > in.size() / 32) return bad("too short");
      f.hashes.piece_layer.resize(count);
      for (auto& d : f.hashes.piece_layer)
        take(in, d);
      if (bt::merkle_root(f.hashes.piece_layer, bt::merkle_width(count), pad) !=
          f.hashes.pieces_root)
        return bad("a piece layer does not hash to its root");
    }
  }
  if (!in.empty()) return bad("longer than its files need");
  return h;
}

result<folder_bt_hashes> hash_folder_bt(const folder_record& r) {
  const auto& entries = r.manifest.entries;
  folder_bt_hashes out;
  out.piece_length = folder_piece_length(r.manifest);
  out.files.resize(entries.size());
  std::atomic<std::size_t> next{0};
  std::mutex failure_lock;
  std::string failure;
  const auto work = [&] {
    std::vector<std::uint8_t> buffer;
    for (std::size_t i = next++; i < entries.size(); i = next++) {
      if (!entries[i].is_file()) continue;
      auto h = !r.stamps[i] ? result<bt::aligned_file_hashes>(
                                  error{"the folder's file " + entries[i].path + " is not here"})
                            : hash_in_place(r.path_of(i), *r.stamps[i], out.piece_length, buffer);
      if (!h) {
        const std::lock_guard lock(failure_lock);
        failure = h.error_message();
        next = entries.size();
        return;
      }
      out.files[i] = std::move(*h);
    }
  };
  on_every_core(max_hash_threads, work);
  if (!failure.empty()) return error{failure};
  add_folder_info_hashes(out, r.manifest);
  return out;
}

result<folder_torrent> make_folder_torrent(const folder_record& r, bt::torrent_format format,
                                           const std::string& tracker) {
  if (!r.bt) return error{"the folder's BitTorrent hashes are not ready yet"};
  if (r.bt->files.size() != r.manifest.entries.size())
    return error{"the folder's BitTorrent hashes do not match it"};
  std::vector<std::size_t> entry_of;
  auto source = source_of(r.manifest, *r.bt, entry_of);
  source.announce = tracker;
  auto built = bt::make_multi_torrent(source, format);
  if (!built) return error{"no torrent of " + r.manifest.name + ": " + built.error_message()};

  folder_torrent out;
  out.format = format;
  out.piece_length = r.bt->piece_length;
  out.total_size = built->total_size;
  out.piece_count = static_cast<std::size_t>(pieces_of(built->total_size, out.piece_length));
  for (std::size_t k = 0; k < built->layout.size(); ++k) {
    auto& e = built->layout[k];
    folder_torrent_file f{std::move(e.path), e.offset, e.length, e.pad, {}, {}, {}, e.pieces_root};
    if (!e.pad) {
      const auto i = entry_of[built->source_index[k]];
      if (!r.stamps[i])
        return error{"the folder's file " + r.manifest.entries[i].path + " is not here"};
      f.disk_path = r.path_of(i);
      f.stamp = r.stamps[i];
      f.entry = i;
    }
    out.files.push_back(std::move(f));
  }
  bt::magnet_link m;
  m.hashes = built->torrent.hashes;
  m.name = r.manifest.name;
  if (!tracker.empty()) m.trackers.push_back(tracker);
  out.magnet = bt::make_magnet(m);
  out.torrent = std::move(built->torrent);
  return out;
}

}  // namespace peerlab::peer
