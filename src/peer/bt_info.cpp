#include "peer/bt_info.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/bt_merkle.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;
using protocol::error;

namespace {

constexpr std::string_view bt_hashes_magic = "peerlab-bt-hashes-1\n";

std::size_t layer_size(const protocol::manifest& m) {
  return m.size > m.chunk_size ? m.chunk_count() : 0;
}

}  // namespace

const bt_torrent& bt_info::of(bt::torrent_format f) const {
  switch (f) {
    case bt::torrent_format::v1:
      return v1;
    case bt::torrent_format::v2:
      return v2;
    case bt::torrent_format::hybrid:
      break;
  }
  return hybrid;
}

std::vector<std::pair<bt::sha1_digest, bt::torrent_format>> bt_info::wire_ids() const {
  using f = bt::torrent_format;
  return {{*v1.hashes.v1, f::v1},
          {*hybrid.hashes.v1, f::hybrid},
          {bt::info_hashes::truncate(*hybrid.hashes.v2), f::hybrid},
          {bt::info_hashes::truncate(*v2.hashes.v2), f::v2}};
}

protocol::result<bt::built_torrent> bt_info::torrent(bt::torrent_format f,
                                                     const std::string& tracker) const {
  bt::torrent_source s;
  s.name = name;
  s.size = size;
  s.piece_length = piece_length;
  s.hashes = hashes;
  s.announce = tracker;
  return bt::make_torrent(s, f);
}

std::string bt_info::magnet(bt::torrent_format f, const std::string& tracker) const {
  bt::magnet_link m;
  m.hashes = of(f).hashes;
  m.name = name;
  if (!tracker.empty()) m.trackers.push_back(tracker);
  m.size = size;
  return bt::make_magnet(m);
}

protocol::result<std::shared_ptr<const bt_info>> make_bt_info(const protocol::manifest& m,
                                                              bt::file_hashes hashes) {
  auto info = std::make_shared<bt_info>();
  info->name = m.name;
  info->size = m.size;
  info->piece_length = m.chunk_size;
  info->hashes = std::move(hashes);
  for (const auto f :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    auto built = info->torrent(f, "");
    if (!built) return error{"no torrent for " + m.name + ": " + built.error_message()};
    auto* slot = f == bt::torrent_format::v1   ? &info->v1
                 : f == bt::torrent_format::v2 ? &info->v2
                                               : &info->hybrid;
    *slot = {std::move(built->info_bytes), built->hashes};
  }
  if (!info->hashes.piece_layer.empty()) {
    const bt::piece_layout layout{m.size, m.chunk_size};
    const auto pad = bt::merkle_pad(bt::log2_exact(layout.blocks_per_piece()));
    info->piece_tree = bt::merkle_layers(info->hashes.piece_layer,
                                         bt::merkle_width(info->hashes.piece_layer.size()), pad);
  }
  return std::shared_ptr<const bt_info>(std::move(info));
}

std::vector<std::uint8_t> encode_bt_hashes(const bt::file_hashes& h) {
  std::vector<std::uint8_t> out(bt_hashes_magic.begin(), bt_hashes_magic.end());
  for (const auto& d : h.v1_pieces)
    out.insert(out.end(), d.begin(), d.end());
  out.insert(out.end(), h.pieces_root.begin(), h.pieces_root.end());
  for (const auto& d : h.piece_layer)
    out.insert(out.end(), d.begin(), d.end());
  return out;
}

protocol::result<bt::file_hashes> decode_bt_hashes(std::span<const std::uint8_t> bytes,
                                                   const protocol::manifest& m) {
  const auto pieces = m.chunk_count();
  const auto layer = layer_size(m);
  const auto expected = bt_hashes_magic.size() + 20 * pieces + 32 + 32 * layer;
  if (bytes.size() != expected ||
      !std::equal(bt_hashes_magic.begin(), bt_hashes_magic.end(), bytes.begin())) {
    return error{"BitTorrent hashes of the wrong size or format"};
  }
  bt::file_hashes h;
  auto at = bytes.subspan(bt_hashes_magic.size());
  h.v1_pieces.resize(pieces);
  for (auto& d : h.v1_pieces) {
    std::memcpy(d.data(), at.data(), d.size());
    at = at.subspan(d.size());
  }
  std::memcpy(h.pieces_root.data(), at.data(), 32);
  at = at.subspan(32);
  h.piece_layer.resize(layer);
  for (auto& d : h.piece_layer) {
    std::memcpy(d.data(), at.data(), d.size());
    at = at.subspan(d.size());
  }
  if (!h.piece_layer.empty()) {
    const bt::piece_layout layout{m.size, m.chunk_size};
    const auto pad = bt::merkle_pad(bt::log2_exact(layout.blocks_per_piece()));
    if (bt::merkle_root(h.piece_layer, bt::merkle_width(layer), pad) != h.pieces_root)
      return error{"BitTorrent piece layer does not hash to its root"};
  }
  return h;
}

}  // namespace peerlab::peer
