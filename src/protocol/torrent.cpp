// Building a single-file torrent in the three formats, and info-hashes.

#include "protocol/torrent.hpp"

#include <algorithm>

#include "protocol/bencode.hpp"
#include "protocol/manifest.hpp"

namespace peerlab::protocol::bt {

namespace {

std::string source_problem(const torrent_source& s, torrent_format format) {
  if (!is_safe_file_name(s.name)) return "torrent name is not a safe file name";
  if (s.size == 0) return "a torrent needs a file of at least one byte";
  const piece_layout layout{s.size, s.piece_length};
  if (auto problem = layout_problem(layout); !problem.empty()) return problem;
  if (format != torrent_format::v2 && s.hashes.v1_pieces.size() != layout.piece_count()) {
    return "v1 piece hashes do not match the file size";
  }
  if (format != torrent_format::v1) {
    const std::size_t layer = s.size > s.piece_length ? layout.piece_count() : 0;
    if (s.hashes.piece_layer.size() != layer) return "piece layer does not match the file size";
  }
  return "";
}

}  // namespace

std::string_view to_string(torrent_format f) {
  switch (f) {
    case torrent_format::v1:
      return "v1";
    case torrent_format::v2:
      return "v2";
    case torrent_format::hybrid:
      return "hybrid";
  }
  return "?";
}

sha1_digest info_hashes::truncate(const sha256_digest& v2) {
  sha1_digest out{};
  std::copy_n(v2.begin(), out.size(), out.begin());
  return out;
}

sha1_digest info_hashes::wire_id() const {
  if (v1) return *v1;
  if (v2) return truncate(*v2);
  return {};
}

info_hashes compute_info_hashes(std::span<const std::uint8_t> info_dict, torrent_format f) {
  info_hashes h;
  if (f != torrent_format::v2) h.v1 = sha1(info_dict);
  if (f != torrent_format::v1) h.v2 = sha256_of(info_dict);
  return h;
}

result<built_torrent> make_torrent(const torrent_source& s, torrent_format format) {
  if (auto problem = source_problem(s, format); !problem.empty()) return error{problem};
  const bool v1 = format != torrent_format::v2;
  const bool v2 = format != torrent_format::v1;

  auto info = bvalue::make_dict();
  info.set("name", s.name);
  info.set("piece length", s.piece_length);
  if (v1) {
    info.set("length", s.size);
    info.set("pieces", concatenated(s.hashes.v1_pieces));
  }
  if (v2) {
    // file tree: { name: { "": { length, pieces root } } } (BEP 52)
    auto leaf = bvalue::make_dict();
    leaf.set("length", s.size);
    leaf.set("pieces root", byte_string(s.hashes.pieces_root));
    auto file = bvalue::make_dict();
    file.set("", std::move(leaf));
    auto tree = bvalue::make_dict();
    tree.set(s.name, std::move(file));
    info.set("file tree", std::move(tree));
    info.set("meta version", 2);
  }

  built_torrent out;
  out.info_bytes = bencode(info);
  out.hashes = compute_info_hashes(out.info_bytes, format);

  auto root = bvalue::make_dict();
  if (!s.announce.empty()) root.set("announce", s.announce);
  if (!s.created_by.empty()) root.set("created by", s.created_by);
  if (s.creation_date) root.set("creation date", *s.creation_date);
  root.set("info", std::move(info));
  if (v2 && !s.hashes.piece_layer.empty()) {
    auto layers = bvalue::make_dict();
    layers.set(byte_string(s.hashes.pieces_root), concatenated(s.hashes.piece_layer));
    root.set("piece layers", std::move(layers));
  }
  out.bytes = bencode(root);
  return out;
}

}  // namespace peerlab::protocol::bt
