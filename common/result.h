// Result<T>: a value or the Status explaining why there is none.
//
// Promise: exactly one of value() and status() is meaningful; status() of a
// Result holding a value is OK. Accessing value() of an error Result aborts
// (a bug, not an input problem). A small stand-in for std::expected, which
// g++ 12 in C++20 mode does not offer.
#pragma once

#include <cstdlib>
#include <utility>
#include <variant>

#include "common/status.h"

namespace apimeter {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(data_).ok()) std::abort();  // an OK status carries no value
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Checked(); }

 private:
  T& Checked() {
    if (!ok()) std::abort();
    return std::get<T>(data_);
  }
  std::variant<T, Status> data_;
};

}  // namespace apimeter

#define APIMETER_CONCAT_INNER(a, b) a##b
#define APIMETER_CONCAT(a, b) APIMETER_CONCAT_INNER(a, b)
// APIMETER_ASSIGN_OR_RETURN(auto x, MakeX()); returns the Status on error.
#define APIMETER_ASSIGN_OR_RETURN(lhs, expr)                          \
  auto APIMETER_CONCAT(_res_, __LINE__) = (expr);                     \
  if (!APIMETER_CONCAT(_res_, __LINE__).ok())                         \
    return APIMETER_CONCAT(_res_, __LINE__).status();                 \
  lhs = std::move(APIMETER_CONCAT(_res_, __LINE__)).value()
