// Folder manifests. The byte-layout test pins the format that
// docs/protocol.md §4.4 documents (the folder's content id is the SHA-256 of
// exactly these bytes); the rest prove the canonical order and that every
// hostile rule is refused with a sentence that names it.

#include "protocol/folder_manifest.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/hex.hpp"
#include "test_data.hpp"

namespace peerlab::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

folder_entry file(std::string path, std::uint64_t size = 1, std::uint8_t seed = 1) {
  folder_entry e{folder_entry_kind::file, std::move(path), size, {}};
  e.id.fill(seed);
  return e;
}

folder_entry dir(std::string path) {
  return {folder_entry_kind::empty_directory, std::move(path), 0, {}};
}

// The worked example of docs/protocol.md §4.4: "demo" holding hello.txt
// ("hello\n") and an empty directory "empty".
folder_manifest worked_example() {
  const std::string hello = "hello\n";
  const auto m = folder_file_manifest(
      hello.size(), {sha256({reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size()})});
  return {"demo", {dir("empty"), {folder_entry_kind::file, "hello.txt", 6, id_of(m)}}};
}

std::string refusal(const folder_manifest& f) {
  const auto r = decode_folder_manifest(encode_folder_manifest(f));
  return r.ok() ? "" : r.error_message();
}

void expect_refused(std::vector<folder_entry> entries, const std::string& why) {
  const auto r = refusal({"evil", std::move(entries)});
  EXPECT_NE(r.find(why), std::string::npos) << "got: '" << r << "', wanted: '" << why << "'";
}

TEST(FolderManifest, ByteLayoutMatchesTheWorkedExampleInProtocolMd) {
  const auto f = worked_example();
  const auto encoded = encode_folder_manifest(f);
  EXPECT_EQ(to_hex(encoded),
            "504c464401"  // "PLFD", version 1
            "0464656d6f"  // name: 4 bytes, "demo"
            "02000000"    // 2 entries
            "01"
            "0500"
            "656d707479"  // empty directory "empty"
            "00"
            "0900"
            "68656c6c6f2e747874"  // file "hello.txt"
            "0600000000000000"    // 6 bytes
                + to_hex(f.entries[1].id));
  EXPECT_EQ(to_hex(f.entries[1].id),
            "2bb0d86889b008211d15910c0be1ece6c8fd725fd06bc9365a15ea74634d874d");
  EXPECT_EQ(to_hex(id_of_encoded(encoded)),
            "1205d191eae1cf0b1dab74634e58fe8124bc5143ddc2911476bae35560263546");
  const auto back = decode_folder_manifest(encoded);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, f);
}

TEST(FolderManifest, IsToldApartFromAFileManifestByItsFirstByte) {
  EXPECT_TRUE(is_folder_manifest(encode_folder_manifest(worked_example())));
  EXPECT_FALSE(is_folder_manifest(encode_manifest(folder_file_manifest(0, {}))));
  EXPECT_FALSE(decode_manifest(encode_folder_manifest(worked_example())).ok());
}

TEST(FolderManifest, CanonicalOrderIsBytewiseByPathAndUnsortedIsRefused) {
  std::vector<folder_entry> entries{file("b"), file("a/z"), file("a-b"), file("Z"), dir("c")};
  sort_folder_entries(entries);
  std::vector<std::string> paths;
  for (const auto& e : entries)
    paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"Z", "a-b", "a/z", "b", "c"}));
  EXPECT_TRUE(decode_folder_manifest(encode_folder_manifest({"ok", entries})).ok());
  std::swap(entries[0], entries[1]);
  expect_refused(entries, "out of order");
}

TEST(FolderManifest, IdenticalFilesShareOneContentId) {
  const auto a = folder_file_manifest(5, {sha256(bytes{1, 2, 3, 4, 5})});
  const auto b = folder_file_manifest(5, {sha256(bytes{1, 2, 3, 4, 5})});
  EXPECT_EQ(id_of(a), id_of(b));
  EXPECT_EQ(a.name, folder_file_name);
  const folder_manifest f{"album",
                          {{folder_entry_kind::file, "a/logo.png", 5, id_of(a)},
                           {folder_entry_kind::file, "b/c/logo.png", 5, id_of(b)}}};
  EXPECT_TRUE(decode_folder_manifest(encode_folder_manifest(f)).ok());
}

TEST(FolderManifest, RefusesPathsThatLeaveTheTargetDirectory) {
  expect_refused({file("../escape")}, "'..' segment");
  expect_refused({file("a/../../escape")}, "'..' segment");
  expect_refused({file("a/..")}, "'..' segment");
  expect_refused({file("/etc/passwd")}, "absolute path");
  expect_refused({file("a\\..\\b")}, "backslash");
}

TEST(FolderManifest, RefusesEmptyDotNulAndControlSegments) {
  expect_refused({file("")}, "empty path");
  expect_refused({file("a//b")}, "empty segment");
  expect_refused({file("a/")}, "empty segment");
  expect_refused({file("a/./b")}, "'.' segment");
  expect_refused({file(std::string("a\0b", 3))}, "NUL");
  expect_refused({file("a\nb")}, "control character");
  expect_refused({file("a\x7f")}, "control character");
  expect_refused({file("\xc0\xaf")}, "not UTF-8");
  expect_refused({file("\xed\xa0\x80")}, "not UTF-8");  // a surrogate
  expect_refused({file("abc\xe2\x82")}, "not UTF-8");   // cut short
}

TEST(FolderManifest, RefusesNamesAFileSystemWouldMerge) {
  expect_refused({file("README"), file("readme")}, "differ only in case");
  expect_refused({file("Docs/a"), file("docs/b")}, "");  // accepted: one directory, two files
  expect_refused({file("Docs/a"), file("docs")}, "both a file and a directory");
  expect_refused({file("a"), file("a/b")}, "both a file and a directory");
  expect_refused({file("a"), file("a")}, "twice");
  expect_refused({dir("a"), file("a/b")}, "empty directory 'a' has contents");
  expect_refused({file("a/b"), dir("a")}, "out of order");
  expect_refused({file("A/b"), dir("a")}, "listed empty but has contents");
}

TEST(FolderManifest, RefusesWhatBreaksItsBounds) {
  std::string deep = "d";
  for (std::size_t i = 0; i < max_folder_depth; ++i)
    deep += "/d";
  expect_refused({file(deep)}, "deeper than 32");
  expect_refused({file(std::string(max_folder_path_bytes + 1, 'a'))}, "bytes (at most 1024)");
  expect_refused({file(std::string(256, 'a'))}, "longer than 255");
  expect_refused({file("big", max_file_bytes + 1)}, "larger than 128 GiB");
  std::vector<folder_entry> many;
  for (int i = 0; i < 40; ++i)
    many.push_back(file("f" + std::to_string(100 + i), max_file_bytes));
  expect_refused(many, "larger than 4 TiB");
  auto directory = dir("d");
  directory.size = 1;  // cannot be encoded, but a folder made in memory is checked too
  EXPECT_EQ(folder_entries_problem({"f", {directory}}), "a directory with a size or id");
  EXPECT_NE(refusal({"..", {}}).find("unsafe folder name"), std::string::npos);
}

TEST(FolderManifest, RefusesBadBytesBeforeAllocating) {
  auto encoded = encode_folder_manifest(worked_example());
  for (std::size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(decode_folder_manifest(bytes(encoded.begin(), encoded.begin() + n)).ok()) << n;
  }
  auto longer = encoded;
  longer.push_back(0);
  EXPECT_NE(decode_folder_manifest(longer).error_message().find("unexpected bytes"),
            std::string::npos);
  auto version = encoded;
  version[4] = 2;
  EXPECT_NE(decode_folder_manifest(version).error_message().find("version 2"), std::string::npos);
  auto kind = encoded;
  kind[14] = 7;  // the first entry's kind
  EXPECT_NE(decode_folder_manifest(kind).error_message().find("unknown kind"), std::string::npos);
  // 12 bytes that claim 100 000 entries cost nothing.
  bytes claim{'P', 'L', 'F', 'D', 1, 1, 'x', 0xa0, 0x86, 0x01, 0x00};
  EXPECT_NE(decode_folder_manifest(claim).error_message().find("truncated"), std::string::npos);
  claim[10] = 0x10;  // and more than the limit is refused as such
  EXPECT_NE(decode_folder_manifest(claim).error_message().find("at most 100000"),
            std::string::npos);
}

TEST(FolderManifest, OnlySelectsAFileOrEverythingUnderADirectory) {
  const folder_manifest f{"f", {file("a/b/1"), file("a/b/2"), file("a/bc"), dir("e"), file("z")}};
  const auto sub = select_folder_entries(f, {"a/b/"});
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(*sub, (std::vector<std::size_t>{0, 1}));
  const auto two = select_folder_entries(f, {"z", "e"});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(select_folder_entries(f, {})->size(), 5u);
  EXPECT_NE(select_folder_entries(f, {"a/x"}).error_message().find("no file or directory 'a/x'"),
            std::string::npos);
  EXPECT_NE(select_folder_entries(f, {"../a"}).error_message().find("'..' segment"),
            std::string::npos);
}

}  // namespace
}  // namespace peerlab::protocol
