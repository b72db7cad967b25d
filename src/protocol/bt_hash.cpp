#include "protocol/bt_hash.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>
#include <string>

namespace peerlab::protocol::bt {

namespace {

struct ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using ctx_ptr = std::unique_ptr<EVP_MD_CTX, ctx_deleter>;

// OpenSSL fails here only when it is out of memory, as in manifest.cpp.
void check(int ok) {
  if (ok != 1) throw std::runtime_error("OpenSSL digest failed");
}

ctx_ptr new_ctx(const EVP_MD* md) {
  ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  check(EVP_DigestInit_ex(ctx.get(), md, nullptr));
  return ctx;
}

template <std::size_t N>
std::array<std::uint8_t, N> finish_and_restart(EVP_MD_CTX* ctx, const EVP_MD* md) {
  std::array<std::uint8_t, N> out{};
  unsigned int length = 0;
  check(EVP_DigestFinal_ex(ctx, out.data(), &length));
  check(EVP_DigestInit_ex(ctx, md, nullptr));
  return out;
}

}  // namespace

bool is_valid_piece_length(std::uint64_t piece_length) {
  return std::has_single_bit(piece_length) && piece_length >= min_piece_bytes &&
         piece_length <= max_piece_bytes;
}

std::uint32_t piece_layout::piece_size(std::uint64_t i) const {
  const std::uint64_t start = i * piece_length;
  if (i >= piece_count()) return 0;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(piece_length, file_size - start));
}

std::string layout_problem(const piece_layout& layout) {
  if (!is_valid_piece_length(layout.piece_length)) {
    return "piece length " + std::to_string(layout.piece_length) +
           " is not a power of two between 16 KiB and 64 MiB";
  }
  if (layout.piece_count() > max_pieces) {
    return "a file of " + std::to_string(layout.file_size) + " bytes makes more than " +
           std::to_string(max_pieces) + " pieces of " + std::to_string(layout.piece_length);
  }
  return "";
}

std::uint32_t piece_length_for(std::uint64_t file_size, std::uint32_t preferred) {
  std::uint32_t length = std::max(min_piece_bytes, std::bit_ceil(std::max(preferred, 1u)));
  while (length < max_piece_bytes && (file_size + length - 1) / length > max_pieces)
    length *= 2;
  return std::min(length, max_piece_bytes);
}

struct range_hasher::state {
  piece_layout layout;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool keep_blocks = false;
  std::uint64_t fed = 0;  // bytes given to update(), past the end included
  ctx_ptr piece_sha1 = new_ctx(EVP_sha1());
  ctx_ptr block_sha256 = new_ctx(EVP_sha256());
  std::uint32_t in_block = 0;  // bytes of the current block hashed so far
  std::uint32_t in_piece = 0;
  std::vector<sha256_digest> piece_blocks;  // leaves of the current piece
  range_hashes out;

  void end_block() {
    piece_blocks.push_back(finish_and_restart<32>(block_sha256.get(), EVP_sha256()));
    in_block = 0;
  }
  void end_piece() {
    out.v1_pieces.push_back(finish_and_restart<20>(piece_sha1.get(), EVP_sha1()));
    out.v2_piece_roots.push_back(merkle_root(piece_blocks, layout.blocks_per_piece(), {}));
    if (keep_blocks)
      out.v2_blocks.insert(out.v2_blocks.end(), piece_blocks.begin(), piece_blocks.end());
    piece_blocks.clear();
    in_piece = 0;
  }
};

range_hasher::range_hasher(std::unique_ptr<state> s) : s_(std::move(s)) {}
range_hasher::range_hasher(range_hasher&&) noexcept = default;
range_hasher& range_hasher::operator=(range_hasher&&) noexcept = default;
range_hasher::~range_hasher() = default;

result<range_hasher> range_hasher::create(const piece_layout& layout, std::uint64_t offset,
                                          std::uint64_t length, bool keep_blocks) {
  if (auto problem = layout_problem(layout); !problem.empty()) return error{problem};
  if (offset > layout.file_size || length > layout.file_size - offset) {
    return error{"range outside the file"};
  }
  const std::uint64_t end = offset + length;
  if (offset % layout.piece_length != 0 ||
      (end % layout.piece_length != 0 && end != layout.file_size)) {
    return error{"range " + std::to_string(offset) + "+" + std::to_string(length) +
                 " is not aligned on pieces of " + std::to_string(layout.piece_length)};
  }
  auto s = std::make_unique<state>();
  s->layout = layout;
  s->offset = offset;
  s->length = length;
  // A one-piece file's root is taken over its leaves: keep them.
  s->keep_blocks = keep_blocks || layout.file_size <= layout.piece_length;
  s->out.offset = offset;
  s->out.length = length;
  s->out.v1_pieces.reserve((length + layout.piece_length - 1) / layout.piece_length);
  s->out.v2_piece_roots.reserve(s->out.v1_pieces.capacity());
  return range_hasher(std::move(s));
}

void range_hasher::update(std::span<const std::uint8_t> bytes) {
  state& s = *s_;
  const std::uint64_t room = s.fed < s.length ? s.length - s.fed : 0;
  s.fed += bytes.size();
  if (bytes.size() > room) bytes = bytes.first(static_cast<std::size_t>(room));
  while (!bytes.empty()) {
    // Blocks tile pieces (a piece is a power of two ≥ 16 KiB), so the step
    // up to the block's end never crosses a piece's end.
    const auto n = std::min<std::size_t>(bytes.size(), block_bytes - s.in_block);
    check(EVP_DigestUpdate(s.piece_sha1.get(), bytes.data(), n));
    check(EVP_DigestUpdate(s.block_sha256.get(), bytes.data(), n));
    s.in_block += static_cast<std::uint32_t>(n);
    s.in_piece += static_cast<std::uint32_t>(n);
    bytes = bytes.subspan(n);
    if (s.in_block == block_bytes) s.end_block();
    if (s.in_piece == s.layout.piece_length) s.end_piece();
  }
}

result<range_hashes> range_hasher::finish(tail_padding padding) {
  state& s = *s_;
  if (s.fed != s.length) {
    return error{"range of " + std::to_string(s.length) + " bytes was fed " +
                 std::to_string(s.fed)};
  }
  if (padding == tail_padding::also_with_pad && s.in_piece > 0) {
    // A copy of the piece's SHA-1 so far, fed the pad's zeros: costs as
    // much as hashing the pad, which a v1 client checking it does too.
    ctx_ptr padded(EVP_MD_CTX_new());
    if (!padded) throw std::bad_alloc();
    check(EVP_MD_CTX_copy_ex(padded.get(), s.piece_sha1.get()));
    static const std::array<std::uint8_t, block_bytes> zeros{};
    for (auto left = s.layout.piece_length - s.in_piece; left > 0;) {
      const auto n = std::min<std::uint32_t>(left, block_bytes);
      check(EVP_DigestUpdate(padded.get(), zeros.data(), n));
      left -= n;
    }
    s.out.v1_padded_last = finish_and_restart<20>(padded.get(), EVP_sha1());
  }
  // The file's last piece (and block) may be short: it ends with the file.
  if (s.in_block > 0) s.end_block();
  if (s.in_piece > 0) s.end_piece();
  return std::move(s.out);
}

result<file_hashes> combine(const piece_layout& layout, std::span<const range_hashes> ranges) {
  if (auto problem = layout_problem(layout); !problem.empty()) return error{problem};
  file_hashes out;
  out.v1_pieces.reserve(layout.piece_count());
  out.piece_layer.reserve(layout.piece_count());
  std::uint64_t next = 0;
  for (const auto& r : ranges) {
    const std::uint64_t pieces = (r.length + layout.piece_length - 1) / layout.piece_length;
    if (r.offset != next || r.length > layout.file_size - next) {
      return error{"ranges do not tile the file: expected one at " + std::to_string(next)};
    }
    if (r.v1_pieces.size() != pieces || r.v2_piece_roots.size() != pieces) {
      return error{"range at " + std::to_string(r.offset) + " has the wrong number of pieces"};
    }
    out.v1_pieces.insert(out.v1_pieces.end(), r.v1_pieces.begin(), r.v1_pieces.end());
    out.piece_layer.insert(out.piece_layer.end(), r.v2_piece_roots.begin(), r.v2_piece_roots.end());
    next += r.length;
  }
  if (next != layout.file_size) return error{"ranges end before the file does"};
  if (layout.file_size == 0) {
    out.piece_layer.clear();
    return out;
  }
  if (layout.file_size <= layout.piece_length) {
    // One piece: the tree is as wide as the file's blocks need, not a piece.
    const auto& blocks = ranges.front().v2_blocks;
    if (blocks.size() != layout.block_count()) return error{"one-piece range without its blocks"};
    out.pieces_root = merkle_root(blocks, merkle_width(blocks.size()), {});
    out.piece_layer.clear();
    return out;
  }
  out.pieces_root = merkle_root(out.piece_layer, merkle_width(out.piece_layer.size()),
                                merkle_pad(log2_exact(layout.blocks_per_piece())));
  return out;
}

result<file_hashes> hash_file(const piece_layout& layout, std::span<const std::uint8_t> bytes) {
  if (bytes.size() != layout.file_size) return error{"file size does not match the layout"};
  auto hasher = range_hasher::create(layout, 0, bytes.size());
  if (!hasher) return error{hasher.error_message()};
  hasher->update(bytes);
  auto range = hasher->finish();
  if (!range) return error{range.error_message()};
  return combine(layout, std::span<const range_hashes>(&*range, 1));
}

result<aligned_file_hashes> hash_file_aligned(const piece_layout& layout,
                                              std::span<const std::uint8_t> bytes) {
  if (bytes.size() != layout.file_size) return error{"file size does not match the layout"};
  auto hasher = range_hasher::create(layout, 0, bytes.size());
  if (!hasher) return error{hasher.error_message()};
  hasher->update(bytes);
  auto range = hasher->finish(tail_padding::also_with_pad);
  if (!range) return error{range.error_message()};
  auto padded = range->v1_padded_last;
  auto hashes = combine(layout, std::span<const range_hashes>(&*range, 1));
  if (!hashes) return error{hashes.error_message()};
  return aligned_file_hashes{std::move(*hashes), padded};
}

std::vector<sha256_digest> block_hashes(std::span<const std::uint8_t> piece) {
  std::vector<sha256_digest> out;
  out.reserve((piece.size() + block_bytes - 1) / block_bytes);
  for (std::size_t at = 0; at < piece.size(); at += block_bytes)
    out.push_back(
        sha256_of(piece.subspan(at, std::min<std::size_t>(block_bytes, piece.size() - at))));
  return out;
}

}  // namespace peerlab::protocol::bt
