// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// MessageTraits: what shmpipe needs to know about a FlatBuffers root type.
#pragma once

#include <concepts>
#include <string_view>

namespace shmpipe {

/// Specialized once per FlatBuffers root type. `identifier` is the schema's file_identifier
/// (exactly 4 characters): the builder writes it and the verifier insists on it, so a buffer
/// of one root type is never read as another. `name` is the fully qualified type name, for
/// error messages.
///
/// shmpipe_add_schemas() (CMake) generates the specialization for the root_type of every
/// schema it compiles; for a schema compiled by hand, use SHMPIPE_MESSAGE.
template <class Root> struct MessageTraits;

/// A FlatBuffers root type that shmpipe can send and receive.
template <class Root>
concept Message = requires {
  { MessageTraits<Root>::identifier } -> std::convertible_to<std::string_view>;
  { MessageTraits<Root>::name } -> std::convertible_to<std::string_view>;
};

namespace detail {
[[nodiscard]] consteval bool valid_identifier(const char *id) {
  return id[0] != '\0' && id[1] != '\0' && id[2] != '\0' && id[3] != '\0' && id[4] == '\0';
}
} // namespace detail

} // namespace shmpipe

/// Declares the MessageTraits of `Root` (a fully qualified type) with the 4-character file
/// identifier `Identifier` (a string literal). Use at global scope.
#define SHMPIPE_MESSAGE(Root, Identifier)                                                          \
  template <> struct shmpipe::MessageTraits<Root> {                                                \
    static_assert(::shmpipe::detail::valid_identifier(Identifier),                                 \
                  "a FlatBuffers file_identifier has exactly 4 characters");                       \
    static constexpr const char *identifier = Identifier;                                          \
    static constexpr const char *name = #Root;                                                     \
  }
