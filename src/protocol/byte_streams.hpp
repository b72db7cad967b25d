#pragma once
// std::streambufs over our byte vectors, so cereal reads and writes them
// without an extra copy through std::string. Shared by every encoder here.

#include <cstddef>
#include <cstdint>
#include <span>
#include <streambuf>
#include <vector>

namespace peerlab::protocol {

class span_source : public std::streambuf {
 public:
  explicit span_source(std::span<const std::uint8_t> bytes) {
    auto* begin = reinterpret_cast<char*>(const_cast<std::uint8_t*>(bytes.data()));
    setg(begin, begin, begin + bytes.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

class vector_sink : public std::streambuf {
 public:
  explicit vector_sink(std::vector<std::uint8_t>& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.insert(out_.end(), s, s + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<std::uint8_t>(c));
    return c;
  }

 private:
  std::vector<std::uint8_t>& out_;
};

}  // namespace peerlab::protocol
