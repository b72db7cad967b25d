// The store's torrent downloads: a file born of a .torrent (or a magnet's
// metadata) rather than of a peerlab share. Its chunks are the torrent's
// pieces, checked against the torrent's own hashes; the torrent is kept in
// the data directory (torrents/ID.torrent) so a restarted node rebuilds it.

#include <fstream>

#include "peer/data_dir.hpp"
#include "peer/store.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {

// Room for the largest torrent make_bt_info accepts (max_pieces pieces: a
// v1 SHA-1 and a v2 layer hash each) and its trackers.
constexpr std::size_t max_kept_torrent_bytes = 64 * 1024 * 1024;

// A manifest in name and sizes only: the download machinery counts chunks
// and their offsets with it; the hashes that count are the torrent's. Never
// encoded (decode_manifest would refuse a 16 KiB chunk size) nor announced.
protocol::manifest placeholder_manifest(const bt::torrent_info& t, const bt_info& info) {
  protocol::manifest m;
  // The file's name (a v2 torrent's may differ from t.name); a tree's root.
  m.name = info.layout ? t.name : t.files.front().path.front();
  m.size = info.size;
  m.chunk_size = info.piece_length;
  m.chunk_hashes.resize(info.piece_count());
  return m;
}

std::optional<bt::torrent_format> format_named(std::string_view name) {
  for (const auto f : {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid})
    if (bt::to_string(f) == name) return f;
  return std::nullopt;
}

}  // namespace

chunk_check content::check(std::size_t index) const {
  const auto never = chunk_check::merkle({}, 0);  // matches no data
  if (index >= manifest.chunk_count()) return never;
  if (!torrent || !bt) return chunk_check::sha256(manifest.chunk_hashes[index]);
  const auto& h = bt->hashes;
  if (*torrent == bt::torrent_format::v2 && bt->layout) return check_v2_file_piece(index);
  if (*torrent != bt::torrent_format::v2) {
    if (index >= h.v1_pieces.size()) return never;
    return chunk_check::sha1(h.v1_pieces[index]);
  }
  // BEP 52: a piece of a longer file is checked against its piece-layer
  // hash (a tree of piece_length / 16 KiB leaves); a file of one piece
  // against its pieces root (a tree as wide as its blocks need).
  if (!h.piece_layer.empty()) {
    if (index >= h.piece_layer.size()) return never;
    return chunk_check::merkle(h.piece_layer[index], bt->piece_length / bt::block_bytes);
  }
  const bt::piece_layout layout{bt->size, bt->piece_length};
  return chunk_check::merkle(h.pieces_root,
                             static_cast<std::uint32_t>(bt::merkle_width(layout.block_count())));
}

// BEP 52 in a multi-file torrent: the piece belongs to one file (pieces
// never span files); it is checked as that file's piece, over the file's
// bytes only (the rest of it is the pad to the piece boundary: zeros).
chunk_check content::check_v2_file_piece(std::size_t index) const {
  const auto never = chunk_check::merkle({}, 0);
  const auto& layout = *bt->layout;
  const auto which = bt::file_at_piece(layout, index);
  if (!which) return never;
  const auto& f = layout.files[*which];
  if (!f.pieces_root) return never;
  const auto local = (index * std::uint64_t{layout.piece_length} - f.offset) / layout.piece_length;
  const bt::piece_layout file{f.length, layout.piece_length};
  const auto bytes = file.piece_size(local);
  if (f.length > layout.piece_length) {
    if (local >= f.piece_layer.size()) return never;
    return chunk_check::merkle(f.piece_layer[local], layout.piece_length / bt::block_bytes, bytes);
  }
  return chunk_check::merkle(
      *f.pieces_root, static_cast<std::uint32_t>(bt::merkle_width(file.block_count())), bytes);
}

fs::path store::torrent_path(const protocol::content_id& id) const {
  return dir_ / "torrents" / (protocol::to_hex(id) + ".torrent");
}

result<content> store::prepare_torrent_download(const bt::torrent_info& t, const fs::path& target,
                                                std::optional<content> earlier,
                                                const std::vector<std::string>& only) const {
  auto info = make_bt_info(t);
  if (!info) return error{info.error_message()};
  const auto id = torrent_content_id(t);
  std::shared_ptr<const torrent_tree> tree;
  if ((*info)->layout) {
    auto made = make_torrent_tree(id, target, dir_, (*info)->layout, only);
    if (!made) return error{made.error_message()};
    tree = std::move(*made);
  } else if (!only.empty()) {
    return error{"--only is for folders and multi-file torrents: this torrent is one file"};
  }
  // Kept before the catalog names the download, so a restart finds it.
  std::error_code ec;
  fs::create_directories(dir_ / "torrents", ec);
  const auto kept =
      torrent_file_around(t.info_bytes, t.trackers, (*info)->hashes, (*info)->layout.get());
  if (auto saved =
          write_file_atomically(torrent_path(id), std::string(kept.begin(), kept.end()), 0644);
      !saved) {
    return error{saved.error_message()};
  }
  // A download left by an earlier run that could not be reopened then.
  if (earlier && earlier->id == id && earlier->path == target) {
    content resumed = std::move(*earlier);
    auto opened = resumed.tree ? open_tree(resumed, false) : open_partial(resumed, false);
    if (!opened) return error{opened.error_message()};
    return resumed;
  }
  content c;
  c.id = id;
  c.manifest = placeholder_manifest(t, **info);
  c.path = target;
  c.torrent = t.format;
  c.bt = std::move(*info);
  c.tree = std::move(tree);
  c.have = chunk_set(c.manifest.chunk_count());
  auto opened = c.tree ? open_tree(c, true) : open_partial(c, true);
  if (!opened) return error{opened.error_message()};
  return c;
}

result<std::monostate> store::open_tree(content& c, bool create) const {
  // The chunk map, as for one file (open_partial makes no data file for a tree).
  if (auto opened = open_partial(c, create); !opened) return opened;
  auto placed = prepare_tree(*c.tree, c.have);
  if (!placed) return error{placed.error_message()};
  c.placed = std::move(*placed);
  return std::monostate{};
}

result<content> store::folder_torrent(const bt::torrent_info& t, const fs::path& root) const {
  auto info = make_bt_info(t);
  if (!info) return error{info.error_message()};
  if (!(*info)->layout) return error{"not a multi-file torrent"};
  content c;
  c.id = torrent_content_id(t);
  auto tree = make_torrent_tree(c.id, root, dir_, (*info)->layout, {});
  if (!tree) return error{tree.error_message()};
  c.tree = std::move(*tree);
  c.placed.assign((*info)->layout->files.size(), true);
  c.manifest = placeholder_manifest(t, **info);
  c.path = root;
  c.complete = true;
  c.have = chunk_set(c.manifest.chunk_count(), true);
  c.in_folder = true;  // neither in catalog.json nor announced: the folder is
  c.torrent = t.format;
  c.bt = std::move(*info);
  return c;
}

result<std::monostate> store::load_torrent(content& c, const std::string& format,
                                           const std::vector<std::string>& only) const {
  const auto f = format_named(format);
  if (!f) return error{"unknown torrent format '" + protocol::printable_name(format) + "'"};
  const auto path = torrent_path(c.id);
  // Hostile until checked, like any torrent: bounded, parsed, and of this id.
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) return error{"its torrent " + path.string() + " is missing"};
  if (size > max_kept_torrent_bytes) return error{"its torrent is too large"};
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::uint64_t>(in.gcount()) != size) return error{"its torrent is truncated"};
  bt::torrent_limits limits;
  limits.max_torrent_bytes = max_kept_torrent_bytes;
  auto t = bt::parse_torrent(bytes, limits);
  if (!t) return error{"its torrent is corrupt: " + t.error_message()};
  if (torrent_content_id(*t) != c.id || t->format != *f)
    return error{"its torrent is not the one recorded"};
  auto info = make_bt_info(*t);
  if (!info) return error{info.error_message()};
  if ((*info)->layout) {
    auto tree = make_torrent_tree(c.id, c.path, dir_, (*info)->layout, only);
    if (!tree) return error{tree.error_message()};
    c.tree = std::move(*tree);
  }
  c.manifest = placeholder_manifest(*t, **info);
  c.torrent = *f;
  c.bt = std::move(*info);
  return std::monostate{};
}

}  // namespace peerlab::peer
