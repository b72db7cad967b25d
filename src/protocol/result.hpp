#pragma once
// A value or an error message: how every decoder of untrusted bytes answers.
// Errors cross boundaries as values, never as exceptions (see STYLE.md).

#include <string>
#include <utility>
#include <variant>

namespace peerlab::protocol {

struct error {
  std::string message;
};

template <class T>
class result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  result(error e) : state_(std::in_place_index<1>, std::move(e)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() { return std::get<0>(state_); }
  const T& value() const { return std::get<0>(state_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const std::string& error_message() const { return std::get<1>(state_).message; }

 private:
  std::variant<T, error> state_;
};

}  // namespace peerlab::protocol
