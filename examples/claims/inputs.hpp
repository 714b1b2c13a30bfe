// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The claim scanner's inputs: a pattern file (one pattern per line, id = 0-based line number)
// and a document file (one document per line, id = 0-based line number). Lines are exact
// bytes: only '\n' separates them ('\r' stays part of the line); a final '\n' ends the last
// line rather than starting an empty one. The pattern file is read whole (the dictionary is
// compiled from it); the document file is read as it is scanned, one batch at a time
// (DocumentReader), so that memory does not grow with it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyperscan.hpp"
#include "protocol.hpp"

namespace claims {

/// A file's bytes and its lines (views into the bytes).
class LineFile {
public:
  /// Throws Failure naming the file when it cannot be read.
  static LineFile read(const std::string &path) {
    std::FILE *file = std::fopen(path.c_str(), "rbe");
    if (file == nullptr)
      throw Failure("cannot read '" + path + "': " + std::strerror(errno));
    LineFile f;
    char buffer[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
      f.bytes_.append(buffer, n);
    const bool failed = std::ferror(file) != 0;
    const int error = errno;
    std::fclose(file);
    if (failed)
      throw Failure("cannot read '" + path + "': " + std::strerror(error));
    f.split();
    return f;
  }

  /// From bytes in memory (tests, benchmarks).
  static LineFile from_bytes(std::string bytes) {
    LineFile f;
    f.bytes_ = std::move(bytes);
    f.split();
    return f;
  }

  [[nodiscard]] const std::vector<std::string_view> &lines() const noexcept { return lines_; }
  [[nodiscard]] std::size_t size_bytes() const noexcept { return bytes_.size(); }
  [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }

  LineFile(LineFile &&) noexcept = default;
  LineFile &operator=(LineFile &&) noexcept = default;
  LineFile(const LineFile &) = delete;
  LineFile &operator=(const LineFile &) = delete;
  ~LineFile() = default;

private:
  LineFile() = default;

  void split() {
    lines_.clear();
    const std::string_view all = bytes_;
    std::size_t begin = 0;
    while (begin < all.size()) {
      std::size_t end = all.find('\n', begin);
      if (end == std::string_view::npos)
        end = all.size();
      lines_.push_back(all.substr(begin, end - begin));
      begin = end + 1;
    }
  }

  std::string bytes_; // lines_ view into it: moving a std::string keeps its heap buffer,
                      // and a short (SSO) string holds at most one tiny line
  std::vector<std::string_view> lines_;
};

/// The pattern dictionary: the patterns, their lengths and the serialized Hyperscan database.
struct Dictionary {
  std::vector<std::string_view> patterns; ///< views into the file's bytes
  std::vector<std::uint32_t> lengths;
  std::string database; ///< hs_serialize_database's bytes

  /// Compiles the patterns of `file`. Throws Failure naming `name` and the line for an empty
  /// line, an empty dictionary, a pattern too long for a 32-bit length, or a pattern Hyperscan
  /// refuses.
  static Dictionary compile(const LineFile &file, const std::string &name) {
    Dictionary d;
    d.patterns = file.lines();
    if (d.patterns.empty())
      throw Failure("the dictionary '" + name + "' is empty: no patterns");
    d.lengths.reserve(d.patterns.size());
    for (std::size_t i = 0; i < d.patterns.size(); ++i) {
      if (d.patterns[i].empty())
        throw Failure("'" + name + "' line " + std::to_string(i + 1) + " (pattern id " +
                      std::to_string(i) + ") is empty: an empty pattern would match everywhere");
      if (d.patterns[i].size() > UINT32_MAX)
        throw Failure("'" + name + "' line " + std::to_string(i + 1) + " is longer than 4 GiB");
      d.lengths.push_back(static_cast<std::uint32_t>(d.patterns[i].size()));
    }
    try {
      d.database = compile_serialized(d.patterns);
    } catch (const RefusedPattern &e) {
      throw Failure("'" + name + "' line " + std::to_string(e.index() + 1) + " (pattern id " +
                    std::to_string(e.index()) + ", " + std::to_string(d.lengths[e.index()]) +
                    " bytes): Hyperscan refuses it: " + e.why());
    } catch (const Failure &e) {
      throw Failure("'" + name + "': " + e.what());
    }
    return d;
  }
};

/// What one TextBatch carries: whole documents, or one piece of a document longer than a
/// batch (see TextBatch.piece_offset and piece_length in schemas/claims.fbs).
struct DocumentBatch {
  std::uint64_t first_doc = 0;           ///< the id of text row 0; ids are consecutive
  std::vector<std::uint32_t> offsets{0}; ///< n + 1 offsets into text, as a StringColumn
  std::string text;                      ///< the documents' bytes, newlines left out
  std::uint64_t piece_offset = 0;        ///< a piece: where text[0] is in its document
  std::uint32_t piece_length = 0;        ///< a piece: its own bytes; 0: whole documents
  [[nodiscard]] std::size_t docs() const noexcept { return offsets.size() - 1; }
  [[nodiscard]] bool piece() const noexcept { return piece_length != 0; }
  [[nodiscard]] std::string_view doc(std::size_t i) const noexcept {
    return std::string_view(text).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
};

/// How documents are cut into batches.
struct Cut {
  /// Text per batch, each document counting its bytes and kTextBatchBytesPerDocument; a
  /// batch holds at least one document. A document longer than this travels in pieces that
  /// own batch_bytes of it each.
  std::size_t batch_bytes = std::size_t{256} << 10;
  /// What a piece carries past its own bytes: the longest pattern - 1, so that a match that
  /// starts in the piece is in its text whole.
  std::size_t lookahead = 0;
};

/// Reads a document file (or bytes) front to back and cuts it into DocumentBatches. It holds
/// at most one batch and its look-ahead (plus one read's worth), whatever the file: it never
/// needs a whole document, since a long one is cut into pieces as it is read. Not
/// thread-safe: one thread reads.
class DocumentReader {
public:
  /// Throws Failure naming the file when it cannot be opened or is a directory.
  static DocumentReader open(const std::string &path) {
    DocumentReader r;
    r.path_ = path;
    r.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r.fd_ < 0)
      throw Failure("cannot read '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(r.fd_, &st) == 0 && S_ISDIR(st.st_mode))
      throw Failure("cannot read '" + path + "': " + std::strerror(EISDIR));
    if (S_ISREG(st.st_mode))
      static_cast<void>(::posix_fadvise(r.fd_, 0, 0, POSIX_FADV_SEQUENTIAL)); // a hint only
    return r;
  }

  /// Over bytes in memory, which the caller keeps alive (tests, benchmarks).
  static DocumentReader of_bytes(std::string_view bytes) {
    DocumentReader r;
    r.path_ = "(memory)";
    r.memory_ = bytes;
    return r;
  }

  DocumentReader(DocumentReader &&other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), memory_(other.memory_),
        buffer_(std::move(other.buffer_)), head_(other.head_), tail_(other.tail_), eof_(other.eof_),
        next_doc_(other.next_doc_), piece_done_(other.piece_done_), in_piece_(other.in_piece_),
        last_docs_(other.last_docs_), docs_(other.docs_), bytes_(other.bytes_) {}
  DocumentReader &operator=(DocumentReader &&) = delete;
  DocumentReader(const DocumentReader &) = delete;
  DocumentReader &operator=(const DocumentReader &) = delete;
  ~DocumentReader() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  /// The next batch, or nullopt after the last document (or once `stop` is set: a reader
  /// waiting on a pipe checks it every 100 ms). Throws Failure on a read error and for a
  /// document longer than 4 GiB - 1 bytes (claim offsets are 32-bit).
  std::optional<DocumentBatch> next(const Cut &cut, const std::atomic<bool> &stop) {
    stop_ = &stop;
    if (in_piece_)
      return next_piece(cut);
    DocumentBatch batch;
    batch.first_doc = next_doc_;
    batch.text.reserve(cut.batch_bytes); // once, rather than growing by doubling
    batch.offsets.reserve(last_docs_ + 1);
    std::size_t taken = 0; // buffer bytes (from head_) the batch holds, newlines included
    std::size_t cost = 0;
    for (;;) {
      // The longest document that may join: a first one up to batch_bytes, then what the
      // budget has left. Its newline is looked for no further than that.
      const bool first = batch.docs() == 0;
      if (!first && cost + kTextBatchBytesPerDocument > cut.batch_bytes)
        break; // not even an empty document fits
      const std::size_t room =
          first ? cut.batch_bytes : cut.batch_bytes - cost - kTextBatchBytesPerDocument;
      // Only the first document is waited for: a batch of what a slow pipe has given so far
      // goes now rather than when the pipe has given a batch's worth. (A regular file always
      // has its bytes ready, and batches stay full.)
      const std::size_t available = fill(taken + room + 1, first) - taken;
      if (available == 0 || stopped())
        break; // the end of the file (or stop)
      const char *begin = buffer_.data() + head_ + taken;
      const auto *newline =
          static_cast<const char *>(std::memchr(begin, '\n', std::min(available, room + 1)));
      std::size_t size = 0;
      if (newline != nullptr)
        size = static_cast<std::size_t>(newline - begin);
      else if (eof_ && available <= room)
        size = available; // the last document, without a final newline
      else if (first) {   // longer than a batch: it goes in pieces
        in_piece_ = true;
        return next_piece(cut);
      } else
        break; // it starts the next batch (it does not fit, or has not been read whole yet)
      batch.text.append(begin, size);
      batch.offsets.push_back(static_cast<std::uint32_t>(batch.text.size()));
      cost += size + kTextBatchBytesPerDocument;
      taken += size + (newline != nullptr ? 1 : 0);
      ++next_doc_;
      ++docs_;
      bytes_ += size;
    }
    consume(taken);
    last_docs_ = batch.docs();
    if (batch.docs() == 0)
      return std::nullopt;
    return batch;
  }

  [[nodiscard]] std::uint64_t docs() const noexcept { return docs_; }   ///< read so far
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; } ///< their text bytes

private:
  DocumentReader() = default;

  /// The next piece of the document at head_, of which piece_done_ bytes went already.
  std::optional<DocumentBatch> next_piece(const Cut &cut) {
    const std::size_t span = cut.batch_bytes + cut.lookahead; // the most text a piece has
    const std::size_t available = fill(span + 1);
    if (stopped())
      return std::nullopt;
    const char *begin = buffer_.data() + head_;
    const auto *newline =
        static_cast<const char *>(std::memchr(begin, '\n', std::min(available, span + 1)));
    // The rest of the document, when it ends within span bytes.
    std::optional<std::size_t> rest;
    if (newline != nullptr)
      rest = static_cast<std::size_t>(newline - begin);
    else if (eof_ && available <= span)
      rest = available;
    const std::size_t own = rest ? std::min(*rest, cut.batch_bytes) : cut.batch_bytes;
    const std::size_t text = rest ? std::min(*rest, span) : span;
    if (piece_done_ + text > UINT32_MAX)
      throw Failure("'" + path_ + "' line " + std::to_string(next_doc_ + 1) + " (document " +
                    std::to_string(next_doc_) +
                    ") is longer than 4 GiB - 1 bytes: claim offsets are 32-bit");
    DocumentBatch batch;
    batch.first_doc = next_doc_;
    batch.text.assign(begin, text);
    batch.offsets.push_back(static_cast<std::uint32_t>(text));
    batch.piece_offset = piece_done_;
    batch.piece_length = static_cast<std::uint32_t>(own);
    bytes_ += own;
    if (rest && *rest <= cut.batch_bytes) { // the last piece
      consume(*rest + (newline != nullptr ? 1 : 0));
      in_piece_ = false;
      piece_done_ = 0;
      ++next_doc_;
      ++docs_;
    } else {
      consume(own);
      piece_done_ += own;
    }
    return batch;
  }

  [[nodiscard]] bool stopped() const noexcept {
    return stop_ != nullptr && stop_->load(std::memory_order_relaxed); // a flag only
  }

  void consume(std::size_t n) noexcept { head_ += n; }

  /// Reads until `need` unread bytes are buffered or the file ends (or stop is set), or, with
  /// `block` false, until a pipe has nothing more to read now; returns the unread bytes
  /// buffered. The buffer grows to the largest `need` (plus one read), never with the file.
  std::size_t fill(std::size_t need, bool block = true) {
    constexpr std::size_t kRead = std::size_t{64} << 10;
    while (tail_ - head_ < need && !eof_ && !stopped()) {
      if (buffer_.size() - head_ < need + kRead) { // make room: move the unread bytes down
        if (head_ != 0)
          std::memmove(buffer_.data(), buffer_.data() + head_, tail_ - head_);
        tail_ -= head_;
        head_ = 0;
        if (buffer_.size() < need + kRead)
          buffer_.resize(need + kRead);
      }
      std::size_t n = 0;
      if (fd_ < 0) {
        n = std::min(memory_.size(), buffer_.size() - tail_);
        if (n != 0)
          std::memcpy(buffer_.data() + tail_, memory_.data(), n);
        memory_.remove_prefix(n);
      } else {
        // A pipe may keep us waiting: wake every 100 ms to look at stop.
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, block ? 100 : 0);
        if (ready == 0 && !block)
          break;
        if (ready == 0 || (ready < 0 && errno == EINTR))
          continue;
        const ssize_t got =
            ready < 0 ? -1 : ::read(fd_, buffer_.data() + tail_, buffer_.size() - tail_);
        if (got < 0 && errno == EINTR)
          continue;
        if (got < 0)
          throw Failure("cannot read '" + path_ + "': " + std::strerror(errno));
        n = static_cast<std::size_t>(got);
      }
      eof_ = n == 0;
      tail_ += n;
    }
    return tail_ - head_;
  }

  std::string path_;
  int fd_ = -1;
  std::string_view memory_; // of_bytes(): what is left to "read"
  std::vector<char> buffer_;
  std::size_t head_ = 0; // buffer_[head_, tail_) is read and not yet consumed
  std::size_t tail_ = 0;
  bool eof_ = false;
  std::uint64_t next_doc_ = 0;   // the id of the document at head_
  std::uint64_t piece_done_ = 0; // in_piece_: bytes of that document that went in pieces
  bool in_piece_ = false;
  std::size_t last_docs_ = 0; // in the last batch of whole documents: a guess at the next's
  std::uint64_t docs_ = 0;
  std::uint64_t bytes_ = 0;
  const std::atomic<bool> *stop_ = nullptr;
};

} // namespace claims
