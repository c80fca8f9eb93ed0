// Deterministic mutation fuzzing of the .npy reader: every damaged file (and every run of random
// bytes) must either parse into a self-consistent tensor or raise InputError; never crash, never
// another exception. Each mutant is parsed from a heap buffer of exactly its size, so the
// ASan/UBSan build turns any read past the end into a failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/npy.hpp"
#include "kernels/tensor/tests/safetensors_test_util.hpp"

namespace mxg {
namespace {

constexpr std::uint32_t kSeed = 20240917u;
constexpr int kIterations = 4000;

// Valid files to damage: the writer's (version 1.0, aligned) and hand-made 2.0 / 3.0 ones.
std::vector<std::string> originals(const std::filesystem::path& dir) {
  std::vector<std::string> files;
  Tensor a(DType::F32, {2, 3});
  int i = 0;
  for (std::byte& b : a.mutable_bytes()) b = static_cast<std::byte>(++i);
  write_npy(dir / "a.npy", a);
  files.push_back(test::read_file(dir / "a.npy"));
  write_npy(dir / "b.npy", Tensor(DType::U8, {5}));
  files.push_back(test::read_file(dir / "b.npy"));
  write_npy(dir / "c.npy", Tensor(DType::I64, {}));
  files.push_back(test::read_file(dir / "c.npy"));
  const std::string header = "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 1, 2), }\n";
  for (char major : {'\x02', '\x03'}) {
    std::string f("\x93NUMPY", 6);
    f += major;
    f += '\0';
    const auto n = static_cast<std::uint32_t>(header.size());
    for (int k = 0; k < 4; ++k) f.push_back(static_cast<char>((n >> (8 * k)) & 0xFF));
    files.push_back(f + header + std::string(12, '\x5a'));
  }
  return files;
}

std::size_t header_end(const std::string& file) {
  if (file.size() < 10) return file.size();
  if (file[6] == '\x01') return std::min(file.size(), 10 + (static_cast<unsigned char>(file[8]) |
                                                           static_cast<std::size_t>(static_cast<unsigned char>(file[9])) << 8));
  return std::min(file.size(), std::size_t{12} + static_cast<unsigned char>(file[8]) +
                                   (static_cast<std::size_t>(static_cast<unsigned char>(file[9])) << 8));
}

// One random damage, biased towards the header. Characters come mostly from the header literal's
// own alphabet so that many mutants still parse and reach the field checks.
std::string mutate(const std::string& original, std::mt19937& rng) {
  static constexpr std::string_view kLiteralish = "{}()[]'\",:0123456789-+ \nLTrueFalsNon<|>=uifbcOUV";
  std::string f = original;
  const std::size_t hdr_begin = f[6] == '\x01' ? 10 : 12;
  const std::size_t hdr_end = header_end(f);
  auto pick = [&](std::size_t lo, std::size_t hi) {  // uniform in [lo, hi)
    return std::uniform_int_distribution<std::size_t>(lo, hi - 1)(rng);
  };
  auto literalish = [&] { return kLiteralish[pick(0, kLiteralish.size())]; };
  switch (pick(0, 8)) {
    case 0:  // replace a few header characters
      for (std::size_t n = pick(1, 5); n > 0; --n) {
        f[pick(hdr_begin, hdr_end)] = pick(0, 8) == 0 ? static_cast<char>(rng() & 0xFF) : literalish();
      }
      break;
    case 1:  // change one digit: shape moves while the literal stays valid
      for (int tries = 0; tries < 100; ++tries) {
        const std::size_t at = pick(hdr_begin, hdr_end);
        if (f[at] >= '0' && f[at] <= '9') {
          f[at] = static_cast<char>('0' + pick(0, 10));
          break;
        }
      }
      break;
    case 2:  // truncate anywhere
      f.resize(pick(0, f.size()));
      break;
    case 3:  // damage the magic, version or length bytes
      f[pick(0, hdr_begin)] = static_cast<char>(rng() & 0xFF);
      break;
    case 4:  // insert or delete one header byte without fixing the length
      if (pick(0, 2) == 0) {
        f.insert(f.begin() + static_cast<std::ptrdiff_t>(pick(hdr_begin, hdr_end)), literalish());
      } else {
        f.erase(pick(hdr_begin, hdr_end), 1);
      }
      break;
    case 5:  // extra bytes after the data
      f.append(pick(1, 20), static_cast<char>(rng() & 0xFF));
      break;
    case 6: {  // the valid preamble followed by random bytes
      f.resize(hdr_begin);
      for (std::size_t n = pick(0, 120); n > 0; --n) f.push_back(pick(0, 2) ? literalish() : static_cast<char>(rng()));
      break;
    }
    default: {  // random bytes, sometimes behind the magic
      f = pick(0, 2) ? std::string("\x93NUMPY", 6) : std::string();
      for (std::size_t n = pick(0, 200); n > 0; --n) f.push_back(static_cast<char>(rng() & 0xFF));
      break;
    }
  }
  return f;
}

TEST(NpyFuzz, MutatedFilesParseConsistentlyOrRaiseInputError) {
  test::ScratchDir dir;
  const std::vector<std::string> seeds = originals(dir.path());
  const auto path = dir.path() / "mutant.npy";
  std::mt19937 rng(kSeed);
  int parsed = 0, rejected = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    const std::string bytes = mutate(seeds[iteration % seeds.size()], rng);
    // Exactly sized, so a read one byte past the end is an ASan error.
    std::unique_ptr<std::byte[]> buffer(new std::byte[bytes.size() + (bytes.empty() ? 1 : 0)]);
    std::memcpy(buffer.get(), bytes.data(), bytes.size());
    const bool via_file = iteration % 8 == 0;  // exercise the mapping path too
    if (via_file) test::write_file(path, bytes);
    try {
      const Tensor t = via_file ? read_npy(path)
                                : parse_npy({buffer.get(), bytes.size()}, nullptr, "mutant");
      ASSERT_EQ(t.nbytes(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype())) << "iteration " << iteration;
      ASSERT_LE(t.nbytes() + 10, bytes.size()) << "iteration " << iteration;
      unsigned sum = 0;  // touch every byte: a view past the buffer would fault here
      for (std::byte b : t.bytes()) sum += std::to_integer<unsigned>(b);
      (void)sum;
      ++parsed;
    } catch (const InputError& e) {
      const std::string expected_label = via_file ? path.string() + ": " : "mutant: ";
      ASSERT_EQ(std::string(e.what()).rfind(expected_label, 0), 0u) << "iteration " << iteration << ": " << e.what();
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iteration << " (seed " << kSeed << "): unexpected exception: " << e.what();
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the reader.
  EXPECT_GT(parsed, 100) << "rejected " << rejected;
  EXPECT_GT(rejected, 1000) << "parsed " << parsed;
  std::printf("fuzz: %d parsed, %d rejected (seed %u)\n", parsed, rejected, kSeed);
}

}  // namespace
}  // namespace mxg
