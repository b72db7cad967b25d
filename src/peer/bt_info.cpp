#include "peer/bt_info.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/bencode.hpp"
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

bool bt_info::has(bt::torrent_format f) const {
  return std::find(formats.begin(), formats.end(), f) != formats.end();
}

std::size_t bt_info::piece_count() const {
  return static_cast<std::size_t>(bt::piece_layout{size, piece_length}.piece_count());
}

std::vector<std::pair<bt::sha1_digest, bt::torrent_format>> bt_info::wire_ids() const {
  std::vector<std::pair<bt::sha1_digest, bt::torrent_format>> out;
  for (const auto f : formats) {
    const auto& h = of(f).hashes;
    if (h.v1) out.emplace_back(*h.v1, f);
    if (h.v2) out.emplace_back(bt::info_hashes::truncate(*h.v2), f);
  }
  return out;
}

protocol::result<bt::built_torrent> bt_info::torrent(bt::torrent_format f,
                                                     const std::string& tracker) const {
  if (!has(f)) return error{"no " + std::string(bt::to_string(f)) + " torrent of " + name};
  if (downloaded) {
    std::vector<std::string> announced;
    if (!tracker.empty()) announced.push_back(tracker);
    for (const auto& t : trackers)
      if (t != tracker) announced.push_back(t);
    const auto& kept = of(f);
    return bt::built_torrent{torrent_file_around(kept.info_bytes, announced, hashes, layout.get()),
                             kept.info_bytes, kept.hashes};
  }
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
  for (const auto& t : trackers)  // a downloaded torrent's own
    if (t != tracker) m.trackers.push_back(t);
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
  info->formats = {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid};
  for (const auto f : info->formats) {
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

namespace {

// A multi-file torrent: one download over its piece space (torrent_files.hpp).
protocol::result<std::shared_ptr<const bt_info>> make_multi_file_bt_info(
    const bt::torrent_info& t) {
  auto layout = bt::make_file_layout(t);
  if (!layout) return error{layout.error_message()};
  if (layout->total_bytes == 0) return error{"the torrent's files are empty: nothing to download"};
  const bt::piece_layout space{layout->total_bytes, t.piece_length};
  if (auto problem = bt::layout_problem(space); !problem.empty()) return error{problem};
  if (t.info_bytes.empty() || bt::compute_info_hashes(t.info_bytes, t.format) != t.hashes)
    return error{"the torrent's info-hash does not match its info dictionary"};
  if (t.format != bt::torrent_format::v2 && t.v1_pieces.size() != space.piece_count())
    return error{"v1 piece hashes do not match the files' size"};
  if (t.format == bt::torrent_format::v2) {
    // Its pieces are checked against each file's layer (parse_torrent
    // checked each one against its file's root).
    for (const auto& f : layout->files) {
      if (f.pad || f.length == 0) continue;
      if (!f.pieces_root) return error{"a file of the torrent has no v2 pieces root"};
      const bt::piece_layout file{f.length, t.piece_length};
      if (f.length > t.piece_length && f.piece_layer.size() != file.piece_count())
        return error{"the torrent lacks its v2 piece layers"};
    }
  }
  auto info = std::make_shared<bt_info>();
  info->name = t.name;
  info->size = layout->total_bytes;
  info->piece_length = t.piece_length;
  info->downloaded = true;
  info->trackers = t.trackers;
  if (t.format != bt::torrent_format::v2) info->hashes.v1_pieces = t.v1_pieces;
  if (t.format != bt::torrent_format::v1) {
    const auto pad = bt::merkle_pad(bt::log2_exact(space.blocks_per_piece()));
    for (const auto& f : layout->files) {
      if (!f.pieces_root || f.piece_layer.empty()) continue;
      info->file_piece_trees.try_emplace(
          *f.pieces_root,
          bt::merkle_layers(f.piece_layer, bt::merkle_width(f.piece_layer.size()), pad));
    }
  }
  info->layout = std::make_shared<const bt::file_layout>(std::move(*layout));
  auto* slot = t.format == bt::torrent_format::v1   ? &info->v1
               : t.format == bt::torrent_format::v2 ? &info->v2
                                                    : &info->hybrid;
  *slot = {t.info_bytes, t.hashes};
  info->formats = {t.format};
  return std::shared_ptr<const bt_info>(std::move(info));
}

}  // namespace

protocol::result<std::shared_ptr<const bt_info>> make_bt_info(const bt::torrent_info& t) {
  if (t.multi_file || t.files.size() != 1 || t.files[0].pad || t.files[0].path.size() != 1)
    return make_multi_file_bt_info(t);
  const auto& file = t.files[0];
  if (file.length == 0 || t.total_size != file.length)
    return error{"the torrent's file is empty: nothing to download"};
  const bt::piece_layout layout{file.length, t.piece_length};
  if (auto problem = bt::layout_problem(layout); !problem.empty()) return error{problem};
  // The info-hash names the torrent: it must be the hash of these very bytes.
  if (t.info_bytes.empty() || bt::compute_info_hashes(t.info_bytes, t.format) != t.hashes)
    return error{"the torrent's info-hash does not match its info dictionary"};

  auto info = std::make_shared<bt_info>();
  info->name = t.name;
  info->size = file.length;
  info->piece_length = t.piece_length;
  info->downloaded = true;
  info->trackers = t.trackers;
  auto& h = info->hashes;
  if (t.format != bt::torrent_format::v2) {
    if (t.v1_pieces.size() != layout.piece_count())
      return error{"v1 piece hashes do not match the file size"};
    h.v1_pieces = t.v1_pieces;
  }
  if (t.format != bt::torrent_format::v1) {
    if (!file.pieces_root) return error{"the torrent's file has no v2 pieces root"};
    h.pieces_root = *file.pieces_root;
    // A hybrid's pieces are checked by their SHA-1s: its layer may come
    // later (a magnet gives none); then hash requests go unanswered. A v2
    // torrent needs it (BEP 52 hash requests could fetch it; not done yet).
    const bool layer_optional = t.format == bt::torrent_format::hybrid && file.piece_layer.empty();
    if (file.length > t.piece_length && !layer_optional) {
      if (file.piece_layer.size() != layout.piece_count())
        return error{"the torrent lacks its v2 piece layer"};
      h.piece_layer = file.piece_layer;
      const auto pad = bt::merkle_pad(bt::log2_exact(layout.blocks_per_piece()));
      if (bt::merkle_root(h.piece_layer, bt::merkle_width(h.piece_layer.size()), pad) !=
          h.pieces_root) {
        return error{"the torrent's piece layer does not hash to its pieces root"};
      }
      info->piece_tree =
          bt::merkle_layers(h.piece_layer, bt::merkle_width(h.piece_layer.size()), pad);
    }
  }
  auto* slot = t.format == bt::torrent_format::v1   ? &info->v1
               : t.format == bt::torrent_format::v2 ? &info->v2
                                                    : &info->hybrid;
  *slot = {t.info_bytes, t.hashes};
  info->formats = {t.format};
  return std::shared_ptr<const bt_info>(std::move(info));
}

protocol::content_id torrent_content_id(const bt::torrent_info& t) {
  return protocol::sha256(t.info_bytes);
}

std::vector<std::uint8_t> torrent_file_around(std::span<const std::uint8_t> info_bytes,
                                              const std::vector<std::string>& trackers,
                                              const bt::file_hashes& hashes,
                                              const bt::file_layout* layout) {
  // Built by hand in key order (announce, announce-list, info, piece
  // layers): the info dictionary goes in as it is, never re-encoded.
  std::vector<std::uint8_t> out{'d'};
  const auto entry = [&out](std::string_view key, const bt::bvalue& value) {
    bt::bencode_append(bt::bvalue(key), out);
    bt::bencode_append(value, out);
  };
  if (!trackers.empty()) entry("announce", trackers.front());
  if (trackers.size() > 1) {
    bt::bvalue::list tiers;
    for (const auto& t : trackers)
      tiers.emplace_back(bt::bvalue::list{bt::bvalue(t)});
    entry("announce-list", bt::bvalue(std::move(tiers)));
  }
  bt::bencode_append(bt::bvalue("info"), out);
  out.insert(out.end(), info_bytes.begin(), info_bytes.end());
  // Collected, then sorted once (bvalue(dict)): a torrent may have many files.
  bt::bvalue::dict layers;
  const auto add_layer = [&layers](const bt::sha256_digest& root,
                                   const std::vector<bt::sha256_digest>& piece_layer) {
    std::string layer;
    layer.reserve(piece_layer.size() * 32);
    for (const auto& d : piece_layer)
      layer.append(d.begin(), d.end());
    layers.emplace_back(std::string(root.begin(), root.end()), bt::bvalue(std::move(layer)));
  };
  if (!hashes.piece_layer.empty()) add_layer(hashes.pieces_root, hashes.piece_layer);
  if (layout) {
    for (const auto& f : layout->files)
      if (f.pieces_root && !f.piece_layer.empty()) add_layer(*f.pieces_root, f.piece_layer);
  }
  if (!layers.empty()) entry("piece layers", bt::bvalue(std::move(layers)));
  out.push_back('e');
  return out;
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
