// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// SharedAtomic<T>: a plain integer in shared memory that is only ever accessed atomically.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace shmpipe::detail {

/// An integer field of a shared-memory structure, accessed only through std::atomic_ref.
///
/// Why not std::atomic<T>: the layout structs must stay trivially copyable and standard-layout
/// so that their size and offsets can be static_asserted and a program in another language can
/// read them as plain integers. atomic_ref gives the same machine instructions on a plain field.
/// Only always-lock-free types are allowed: a lock-based "atomic" would use a process-local
/// lock and silently stop being atomic across processes.
///
/// There is deliberately no default memory order: every call site names one.
template <class T> struct SharedAtomic {
  static_assert(std::is_integral_v<T>, "SharedAtomic holds integers only");
  static_assert(std::atomic_ref<T>::is_always_lock_free,
                "a SharedAtomic must work across process boundaries, so it must be lock-free");

  alignas(std::atomic_ref<T>::required_alignment) T raw;

  [[nodiscard]] T load(std::memory_order order) const noexcept {
    return std::atomic_ref<T>(const_cast<T &>(raw)).load(order);
  }
  void store(T value, std::memory_order order) noexcept {
    std::atomic_ref<T>(raw).store(value, order);
  }
  T fetch_add(T delta, std::memory_order order) noexcept {
    return std::atomic_ref<T>(raw).fetch_add(delta, order);
  }
  bool compare_exchange_strong(T &expected, T desired, std::memory_order order) noexcept {
    return std::atomic_ref<T>(raw).compare_exchange_strong(expected, desired, order);
  }
  /// For counters with exactly one writing process: a relaxed load and store, no locked
  /// read-modify-write instruction, because nobody else writes the field.
  void add_single_writer(T delta) noexcept {
    store(static_cast<T>(load(std::memory_order_relaxed) + delta), std::memory_order_relaxed);
  }
};

/// Copies `words` 8-byte words out of memory that another process may be writing, one relaxed
/// atomic load per word. Unlike memcpy this is not a data race, so the compiler may neither
/// re-read the source after the copy was checked nor tear a word: the copy is what gets
/// checked and used. `src` must be 8-byte aligned.
inline void copy_from_shared(void *dst, const void *src, std::size_t words) noexcept {
  auto *out = static_cast<unsigned char *>(dst);
  auto *in = static_cast<std::uint64_t *>(const_cast<void *>(src));
  for (std::size_t i = 0; i < words; ++i) {
    const std::uint64_t word =
        std::atomic_ref<std::uint64_t>(in[i]).load(std::memory_order_relaxed);
    std::memcpy(out + i * sizeof word, &word, sizeof word);
  }
}

static_assert(std::is_trivially_copyable_v<SharedAtomic<unsigned long>>);
static_assert(std::is_standard_layout_v<SharedAtomic<unsigned long>>);

} // namespace shmpipe::detail
