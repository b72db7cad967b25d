// Torrents and magnet links: ours carry the info-hashes mktorrent and
// libtorrent compute for the same file, and hostile torrents are refused.

#include "protocol/torrent.hpp"

#include <gtest/gtest.h>

#include <string>

#include "protocol/bencode.hpp"
#include "protocol/hex.hpp"
#include "test_data.hpp"

namespace peerlab::protocol::bt {
namespace {

constexpr const char* announce = "http://127.0.0.1:8080/announce";

torrent_source source_for(std::string name, std::size_t size, std::uint32_t piece_length) {
  torrent_source s;
  s.name = std::move(name);
  s.size = size;
  s.piece_length = piece_length;
  s.hashes = *hash_file({size, piece_length}, pattern(size));
  s.announce = announce;
  return s;
}

// Pinned from the tools, for files of i % 251 bytes: `mktorrent -l LOG2 -a
// URL FILE` (v1), and libtorrent 2.0.8's create_torrent (v1_only, v2_only,
// and hybrid flags) read back with torrent_info(…).info_hashes().
struct tool_vector {
  const char* name;
  std::size_t size;
  std::uint32_t piece_length;
  const char* v1;         // mktorrent and libtorrent agree
  const char* v2;         // libtorrent, v2 only
  const char* hybrid_v1;  // libtorrent, hybrid
  const char* hybrid_v2;
};
const tool_vector tool_vectors[] = {
    {"lecture.bin", 3'000'000, 262144, "9699215b86b261da67208d01007f6f7a27a770fb",
     "cf62908bfa641eefb8d0bc96de1520b196c246deccc7b4db39df3e04027b7ea0",
     "d3b1909e430953314b934ede99d5d4699654598a",
     "d7cde9f66e6856e37192fd61a196aafad96fa8c3056567b186e1e69127d4d3f3"},
    {"notes.txt", 40'000, 65536, "88f6ec63afed82deffebc4dac814b85445465267",
     "3001266f76a2fb58f47395c10f8129c22629c0a24bc30193bfba764202ea312d",
     "1945e61c5d08efe7cc114a99d4b7327e4898bf16",
     "1b6489ea0ec812f8a9d2cdcf38582a75e5e7b184ab3c08c037921ea4086e474a"},
    {"a", 1, 32768, "f6c4eb3535a3ed081cebf060c4b3b3a90e1298cf",
     "012b0b83e9f70394d4686d0ec77c5b9a529ef85e74d044f110eae5952e546b1d",
     "c5cc9f591420ba16a0bab569abef8d5eed9a047f",
     "e445ad3272bb235397de39bfad42f7810c7c44e285a87bfe3f9241546c36602e"},
};

TEST(Torrent, InfoHashesEqualMktorrentsAndLibtorrents) {
  for (const auto& v : tool_vectors) {
    const auto s = source_for(v.name, v.size, v.piece_length);
    const auto v1 = make_torrent(s, torrent_format::v1);
    const auto v2 = make_torrent(s, torrent_format::v2);
    const auto hybrid = make_torrent(s, torrent_format::hybrid);
    ASSERT_TRUE(v1.ok() && v2.ok() && hybrid.ok());
    EXPECT_EQ(to_hex(*v1->hashes.v1), v.v1) << v.name;
    EXPECT_FALSE(v1->hashes.v2);
    EXPECT_EQ(to_hex(*v2->hashes.v2), v.v2) << v.name;
    EXPECT_FALSE(v2->hashes.v1);
    EXPECT_EQ(to_hex(*hybrid->hashes.v1), v.hybrid_v1) << v.name;
    EXPECT_EQ(to_hex(*hybrid->hashes.v2), v.hybrid_v2) << v.name;
  }
}

TEST(Torrent, AV2TorrentIsKnownOnTheWireByItsTruncatedHash) {
  const auto t = make_torrent(source_for("a", 1, 32768), torrent_format::v2);
  EXPECT_EQ(to_hex(t->hashes.wire_id()), std::string(tool_vectors[2].v2).substr(0, 40));
  const auto hybrid = make_torrent(source_for("a", 1, 32768), torrent_format::hybrid);
  EXPECT_EQ(hybrid->hashes.wire_id(), *hybrid->hashes.v1);  // a hybrid joins the v1 swarm
}

TEST(Torrent, OurTorrentsParseBackWithTheirFieldsAndPieceLayers) {
  const auto s = source_for("lecture.bin", 3'000'000, 262144);
  for (const auto format : {torrent_format::v1, torrent_format::v2, torrent_format::hybrid}) {
    const auto built = make_torrent(s, format);
    const auto parsed = parse_torrent(built->bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.error_message();
    EXPECT_EQ(parsed->format, format);
    EXPECT_EQ(parsed->hashes, built->hashes);
    EXPECT_EQ(parsed->info_bytes, built->info_bytes);
    EXPECT_EQ(parsed->name, "lecture.bin");
    EXPECT_FALSE(parsed->multi_file);
    EXPECT_EQ(parsed->total_size, 3'000'000u);
    ASSERT_EQ(parsed->files.size(), 1u);
    EXPECT_EQ(parsed->files[0].path, std::vector<std::string>{"lecture.bin"});
    EXPECT_EQ(parsed->trackers, std::vector<std::string>{announce});
    EXPECT_TRUE(parsed->piece_layers_complete);
    if (format != torrent_format::v2) {
      EXPECT_EQ(parsed->v1_pieces, s.hashes.v1_pieces);
    }
    if (format != torrent_format::v1) {
      EXPECT_EQ(*parsed->files[0].pieces_root, s.hashes.pieces_root);
      EXPECT_EQ(parsed->files[0].piece_layer, s.hashes.piece_layer);
    }
    // The bare info dictionary (what BEP 9 delivers) parses to the same hashes.
    const auto info = parse_info_dict(built->info_bytes);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->hashes, built->hashes);
    EXPECT_EQ(info->piece_layers_complete, format == torrent_format::v1);
  }
}

// libtorrent 2.0.8's create_torrent(flags=0, piece 16 KiB) of a folder
// `course` (README 5000 bytes, slides/week1.pdf 20000, slides/week2.pdf
// 70000, bytes i % 251): a multi-file hybrid with BEP 47 pad files.
constexpr std::string_view libtorrent_course_hybrid =
    "6431333a6372656174696f6e2064617465693137393636303637363865343a696e666f64393a66696c652074"
    "72656564363a524541444d4564303a64363a6c656e67746869353030306531313a70696563657320726f6f74"
    "33323a69dbee893909fa17d1be397e0c07691336fe42049c29d403467d3d4a1fc3b5a16565363a736c696465"
    "7364393a7765656b312e70646664303a64363a6c656e6774686932303030306531313a70696563657320726f"
    "6f7433323a0d9a7d79e625f2aa31653463e4111041db33c9d69f30d23d920b2936c844c9166565393a776565"
    "6b322e70646664303a64363a6c656e6774686937303030306531313a70696563657320726f6f7433323a83de"
    "abd1fe1301daff7f0f151ac57676bb0de039ffc91faa63b02a3e0105bcd865656565353a66696c65736c6436"
    "3a6c656e677468693530303065343a706174686c363a524541444d45656564343a61747472313a70363a6c65"
    "6e67746869313133383465343a706174686c343a2e706164353a3131333834656564363a6c656e6774686932"
    "3030303065343a706174686c363a736c69646573393a7765656b312e706466656564343a61747472313a7036"
    "3a6c656e67746869313237363865343a706174686c343a2e706164353a3132373638656564363a6c656e6774"
    "6869373030303065343a706174686c363a736c69646573393a7765656b322e706466656564343a6174747231"
    "3a70363a6c656e67746869313139323065343a706174686c343a2e706164353a313139323065656531323a6d"
    "6574612076657273696f6e693265343a6e616d65363a636f7572736531323a7069656365206c656e67746869"
    "313633383465363a7069656365733136303a66f00d7fa7f149378c26567654cd14333d14ad8d68f3b81a11de"
    "1e1629e81555b4e70aed955d114086647aab3819a4fece7c115afc5cc397873c7bcb68f3b81a11de1e1629e8"
    "1555b4e70aed955d1140de9ee0222cd528efc5e01227e4bf16cf6ac6836a8b838c28e8ca3787c8b0fdaad393"
    "1ea3a8f290382d8d1f18379a9e19a274f8cba1280087fdfce2102902cd5c0ac00db2d62e535a9108926c7e80"
    "b5666531323a7069656365206c61796572736433323a0d9a7d79e625f2aa31653463e4111041db33c9d69f30"
    "d23d920b2936c844c91636343a4348e3b98e8a327b34ced39c1da9e67cdb4cd5e48e4d7960607a3ae403d35f"
    "0c011cc7f5e54cc4793b01cd178e966e7b1e96fc0316bc31a1e3c75359508f911433323a83deabd1fe1301da"
    "ff7f0f151ac57676bb0de039ffc91faa63b02a3e0105bcd83136303a4348e3b98e8a327b34ced39c1da9e67c"
    "db4cd5e48e4d7960607a3ae403d35f0cf7c9045c2a79a8a2a587efbf5b310652685b292e6fbb0b08c1df8575"
    "00da2699597f81859724f979aece03e95c048d6ee5c6d59351e6a4db048997db6f05c845e20f1d51951c26d9"
    "5412e711a195c74f1d4317ef260e98f2f86e74ed414c670f91537847f1e2552d0e2ccad2120d7028665f78ed"
    "bdcb74c36ee14d324b453b0e6565";

TEST(Torrent, ParsesLibtorrentsMultiFileHybridWithPadFiles) {
  std::vector<std::uint8_t> bytes(libtorrent_course_hybrid.size() / 2);
  ASSERT_TRUE(from_hex(libtorrent_course_hybrid, bytes));
  const auto t = parse_torrent(bytes);
  ASSERT_TRUE(t.ok()) << t.error_message();
  EXPECT_EQ(t->format, torrent_format::hybrid);
  EXPECT_TRUE(t->multi_file);
  EXPECT_EQ(t->name, "course");
  EXPECT_EQ(to_hex(*t->hashes.v1), "0121c74a623864e84c5a4df6f4e5996bcf3becf9");
  EXPECT_EQ(to_hex(*t->hashes.v2),
            "3c6554e9891a0f10a0dfbc0b930f4851ae669aed6f37340c85172bf9b94bc869");
  ASSERT_EQ(t->files.size(), 6u);  // three files, each followed by a pad
  EXPECT_EQ(t->files[0].path, std::vector<std::string>{"README"});
  EXPECT_TRUE(t->files[1].pad);
  EXPECT_EQ(t->files[2].path, (std::vector<std::string>{"slides", "week1.pdf"}));
  EXPECT_EQ(t->files[2].offset, 16384u);
  EXPECT_EQ(t->files[4].offset, 3u * 16384);
  EXPECT_TRUE(t->piece_layers_complete);
  EXPECT_EQ(t->files[4].piece_layer.size(), 5u);
  // The files' roots are what we compute for the same bytes.
  EXPECT_EQ(*t->files[0].pieces_root, hash_file({5000, 16384}, pattern(5000))->pieces_root);
  EXPECT_EQ(*t->files[4].pieces_root, hash_file({70000, 16384}, pattern(70000))->pieces_root);
  EXPECT_EQ(t->files[4].piece_layer, hash_file({70000, 16384}, pattern(70000))->piece_layer);
}

TEST(Torrent, RefusesToBuildFromInconsistentSources) {
  auto s = source_for("a", 1, 32768);
  s.name = "../a";
  EXPECT_FALSE(make_torrent(s, torrent_format::v1).ok());
  s = source_for("a", 1, 32768);
  s.size = 2 * 32768 + 1;  // hashes are for 1 byte
  EXPECT_FALSE(make_torrent(s, torrent_format::v1).ok());
  EXPECT_FALSE(make_torrent(s, torrent_format::v2).ok());
  s = source_for("a", 1, 32768);
  s.piece_length = 30000;
  EXPECT_FALSE(make_torrent(s, torrent_format::hybrid).ok());
  EXPECT_FALSE(make_torrent(source_for("empty", 0, 32768), torrent_format::v1).ok());
}

// A v1 info dict around the given `files` list (bencoded), 1 piece of 16 KiB.
std::vector<std::uint8_t> v1_multi(std::string_view files, std::size_t total) {
  const std::string pieces(20 * ((total + 16383) / 16384), 'x');
  return bytes_of("d4:infod5:files" + std::string(files) +
                  "4:name3:dir12:piece lengthi16384e6:pieces" + std::to_string(pieces.size()) +
                  ":" + pieces + "ee");
}

TEST(Torrent, ParsesAMultiFileV1Torrent) {
  const auto t =
      parse_torrent(v1_multi("ld6:lengthi10e4:pathl1:a5:b.txteed6:lengthi5e4:pathl1:ceee", 15));
  ASSERT_TRUE(t.ok()) << t.error_message();
  EXPECT_TRUE(t->multi_file);
  ASSERT_EQ(t->files.size(), 2u);
  EXPECT_EQ(t->files[0].path, (std::vector<std::string>{"a", "b.txt"}));
  EXPECT_EQ(t->files[1].offset, 10u);
  EXPECT_EQ(t->total_size, 15u);
}

TEST(Torrent, RefusesPathsThatWouldLeaveTheDownloadDirectory) {
  const std::vector<std::string> hostile = {
      "l2:..e",     "l1:.e",      "l0:e",     "le",
      "l4:/etce",   "l4:a/..e",   "l3:a\\be", std::string("l3:a\0be", 7),
      "l2:ok2:..e", "l4:\x1b[2Je"};
  for (const auto& path : hostile) {
    const auto t = parse_torrent(v1_multi("ld6:lengthi1e4:path" + path + "ee", 1));
    EXPECT_FALSE(t.ok()) << path;
  }
}

TEST(Torrent, RefusesTwoFilesAtOnePathOrAFileWhereADirectoryIs) {
  EXPECT_FALSE(
      parse_torrent(v1_multi("ld6:lengthi1e4:pathl1:aeed6:lengthi1e4:pathl1:aeee", 2)).ok());
  EXPECT_FALSE(
      parse_torrent(v1_multi("ld6:lengthi1e4:pathl1:aeed6:lengthi1e4:pathl1:a1:beee", 2)).ok());
}

TEST(Torrent, RefusesPieceCountsThatDoNotMatchTheSize) {
  EXPECT_FALSE(parse_torrent(v1_multi("ld6:lengthi20000e4:pathl1:aeee", 1)).ok());
  EXPECT_FALSE(parse_torrent(v1_multi("ld6:lengthi-1e4:pathl1:aeee", 1)).ok());
}

TEST(Torrent, RefusesDeepPathsAndTooManyFiles) {
  std::string deep = "l";
  for (int i = 0; i < 40; ++i)
    deep += "1:d";
  deep += "e";
  EXPECT_FALSE(parse_torrent(v1_multi("ld6:lengthi1e4:path" + deep + "ee", 1)).ok());
  torrent_limits limits;
  limits.max_files = 2;
  const auto three =
      v1_multi("ld6:lengthi1e4:pathl1:aeed6:lengthi1e4:pathl1:beed6:lengthi1e4:pathl1:ceee", 3);
  EXPECT_TRUE(parse_torrent(three).ok());
  EXPECT_FALSE(parse_torrent(three, limits).ok());
}

TEST(Torrent, ParsesAV2FileTreeAndRefusesHostileOnes) {
  const std::string root(32, 'r');
  const auto tree = [&](const std::string& t) {
    return bytes_of("d4:infod9:file tree" + t +
                    "12:meta versioni2e4:name3:dir12:piece lengthi16384eee");
  };
  const std::string file = "d0:d6:lengthi5e11:pieces root32:" + root + "ee";
  const auto ok = parse_torrent(tree("d3:subd1:x" + file + "e1:y" + file + "e"));
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(ok->multi_file);
  ASSERT_EQ(ok->files.size(), 2u);
  EXPECT_EQ(ok->files[0].path, (std::vector<std::string>{"sub", "x"}));
  EXPECT_EQ(ok->files[1].path, std::vector<std::string>{"y"});
  EXPECT_FALSE(parse_torrent(tree("d2:..d1:x" + file + "ee")).ok());
  EXPECT_FALSE(parse_torrent(tree("d1:." + file + "e")).ok());
  EXPECT_FALSE(parse_torrent(tree("de")).ok());                      // no file
  EXPECT_FALSE(parse_torrent(tree("d1:ad1:bdeee")).ok());            // empty directory
  EXPECT_FALSE(parse_torrent(tree("d1:xd0:d6:lengthi5eeee")).ok());  // no pieces root
  EXPECT_FALSE(parse_torrent(tree("d1:xd0:d6:lengthi5e11:pieces root1:xeeee")).ok());
}

TEST(Torrent, RefusesAHybridWhoseHalvesDescribeDifferentFiles) {
  auto s = source_for("a", 1, 32768);
  auto hybrid = make_torrent(s, torrent_format::hybrid);
  auto root = *bdecode(hybrid->bytes);
  auto info = *root.find_dict("info");
  info.set("length", 2);  // the v1 half now says 2 bytes, the v2 half 1
  root.set("info", info);
  EXPECT_FALSE(parse_torrent(bencode(root)).ok());
}

TEST(Torrent, RefusesAPieceLayerThatDoesNotHashToItsRoot) {
  auto built = make_torrent(source_for("lecture.bin", 3'000'000, 262144), torrent_format::v2);
  auto root = *bdecode(built->bytes);
  auto layers = *root.find_dict("piece layers");
  auto& layer = layers.as_dict()[0].second;
  std::string forged = layer.as_string();
  forged[0] ^= 1;
  layer = bvalue(forged);
  root.set("piece layers", layers);
  const auto parsed = parse_torrent(bencode(root));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error_message().find("pieces root"), std::string::npos);
}

TEST(Torrent, RefusesGarbageAndBombs) {
  EXPECT_FALSE(parse_torrent(bytes_of("")).ok());
  EXPECT_FALSE(parse_torrent(bytes_of("le")).ok());
  EXPECT_FALSE(parse_torrent(bytes_of("d4:infoi1ee")).ok());
  EXPECT_FALSE(parse_torrent(bytes_of("d4:infodee")).ok());
  EXPECT_FALSE(parse_torrent(bytes_of(std::string(50'000, 'l') + std::string(50'000, 'e'))).ok());
}

TEST(Magnet, CarriesBothHashesNameTrackerAndSize) {
  const auto t = make_torrent(source_for("notes.txt", 40'000, 65536), torrent_format::hybrid);
  const magnet_link m{t->hashes, "lecture notes.txt", {announce}, 40'000};
  const auto link = make_magnet(m);
  EXPECT_EQ(link,
            std::string("magnet:?xt=urn:btih:") + tool_vectors[1].hybrid_v1 + "&xt=urn:btmh:1220" +
                tool_vectors[1].hybrid_v2 +
                "&dn=lecture%20notes.txt&xl=40000&tr=http%3A%2F%2F127.0.0.1%3A8080%2Fannounce");
  const auto back = parse_magnet(link);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(back->hashes, t->hashes);
  EXPECT_EQ(back->name, "lecture notes.txt");
  EXPECT_EQ(back->trackers, std::vector<std::string>{announce});
  EXPECT_EQ(back->size, 40'000u);
}

TEST(Magnet, ReadsUppercaseHexAndBase32Btih) {
  const auto upper = parse_magnet("magnet:?xt=urn:btih:9699215B86B261DA67208D01007F6F7A27A770FB");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(to_hex(*upper->hashes.v1), tool_vectors[0].v1);
  // The same 20 bytes in base32.
  const auto base32 = parse_magnet("magnet:?xt=urn:btih:S2MSCW4GWJQ5UZZARUAQA73PPIT2O4H3&dn=x+y");
  ASSERT_TRUE(base32.ok()) << base32.error_message();
  EXPECT_EQ(to_hex(*base32->hashes.v1), tool_vectors[0].v1);
  EXPECT_EQ(base32->name, "x y");
}

TEST(Magnet, RefusesLinksWithoutAUsableInfoHash) {
  for (const char* bad : {"", "http://x", "magnet:?dn=x", "magnet:?xt=urn:btih:123",
                          "magnet:?xt=urn:btmh:1114aabb", "magnet:?xt=urn:sha1:abc",
                          "magnet:?xt=urn:btih:9699215b86b261da67208d01007f6f7a27a770fb&xl=-1",
                          "magnet:?xt=urn:btih:9699215b86b261da67208d01007f6f7a27a770fb&dn=%zz",
                          "magnet:?xt=urn:btih:9699215b86b261da67208d01007f6f7a27a770fb"
                          "&xt=urn:btih:88f6ec63afed82deffebc4dac814b85445465267"}) {
    EXPECT_FALSE(parse_magnet(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace peerlab::protocol::bt
