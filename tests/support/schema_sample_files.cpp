// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The C++ side of tests/python/test_schema.py: writes every sample of schema_samples.hpp to a
// file, and checks a buffer built elsewhere (in Python) against the sample of the same name.
//
//   schema_sample_files write DIR          DIR/<Root>.<Sample>.bin for every sample
//   schema_sample_files check FILE ROOT SAMPLE
//                                          verifies FILE as ROOT (FlatBuffers verifier and
//                                          file_identifier), then compares it with SAMPLE
//
// Exit status 0 when all is well, 1 with the reason on stderr otherwise, 2 on bad usage.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "schema_samples.hpp"

namespace {

namespace sc = shmpipe::schema;
namespace fb = flatbuffers;

template <class Root>
bool write_all(const std::string &dir, const char *root,
               const std::vector<shmpipe::test::SampleOf<Root>> &samples) {
  for (const auto &sample : samples) {
    fb::FlatBufferBuilder b;
    b.Finish(sample.build(b), shmpipe::MessageTraits<Root>::identifier);
    const std::string path = dir + "/" + root + "." + sample.name + ".bin";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(b.GetBufferPointer()),
              static_cast<std::streamsize>(b.GetSize()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return false;
    }
  }
  return true;
}

/// 0 when `bytes` is a valid Root equal to the sample `name`; 1 (with the reason) otherwise.
template <class Root>
int check(const std::vector<std::uint8_t> &bytes, std::string_view name,
          const std::vector<shmpipe::test::SampleOf<Root>> &samples) {
  fb::Verifier verifier(bytes.data(), bytes.size());
  if (!verifier.VerifyBuffer<Root>(shmpipe::MessageTraits<Root>::identifier)) {
    std::fprintf(stderr, "not a valid buffer (verifier or file_identifier)\n");
    return 1;
  }
  for (const auto &sample : samples)
    if (name == sample.name) {
      const std::string why = sample.check(*fb::GetRoot<Root>(bytes.data()));
      if (!why.empty())
        std::fprintf(stderr, "%s\n", why.c_str());
      return why.empty() ? 0 : 1;
    }
  std::fprintf(stderr, "no sample named %.*s\n", static_cast<int>(name.size()), name.data());
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "write")
    return write_all(args[1], "Envelope", shmpipe::test::envelope_samples()) &&
                   write_all(args[1], "Extraction", shmpipe::test::extraction_samples()) &&
                   write_all(args[1], "Claims", shmpipe::test::claims_samples())
               ? 0
               : 1;
  if (args.size() == 4 && args[0] == "check") {
    std::ifstream in(args[1], std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    if (!in.eof() && !in) {
      std::fprintf(stderr, "cannot read %s\n", args[1].c_str());
      return 1;
    }
    if (args[2] == "Envelope")
      return check(bytes, args[3], shmpipe::test::envelope_samples());
    if (args[2] == "Extraction")
      return check(bytes, args[3], shmpipe::test::extraction_samples());
    if (args[2] == "Claims")
      return check(bytes, args[3], shmpipe::test::claims_samples());
  }
  std::fprintf(stderr, "usage: schema_sample_files write DIR | check FILE ROOT SAMPLE\n");
  return 2;
}
