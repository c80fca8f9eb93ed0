// Deterministic mutation fuzzing of the safetensors reader: every damaged file must either open
// with self-consistent tensors or raise InputError; never crash, never another exception (the
// ASan/UBSan build turns any out-of-bounds access into a failure).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <cstdio>
#include <string_view>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "kernels/tensor/tests/safetensors_test_util.hpp"

namespace mxg {
namespace {

constexpr std::uint32_t kSeed = 20240601u;
constexpr int kIterations = 2000;

std::string valid_file(const std::filesystem::path& path) {
  Tensor alpha(DType::F32, {2, 3});
  Tensor beta(DType::U8, {5});
  Tensor delta(DType::I64, {2});
  int i = 0;
  for (std::byte& b : alpha.mutable_bytes()) b = static_cast<std::byte>(++i);
  for (std::byte& b : beta.mutable_bytes()) b = static_cast<std::byte>(++i);
  for (std::byte& b : delta.mutable_bytes()) b = static_cast<std::byte>(++i);
  write_safetensors(path,
                    {{"alpha", alpha}, {"beta", beta}, {"gamma", Tensor(DType::BF16, {0, 4})}, {"delta", delta}},
                    {{"format", "pt"}});
  return test::read_file(path);
}

std::uint64_t header_length(const std::string& file) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{static_cast<unsigned char>(file[i])} << (8 * i);
  return n;
}

// One random damage of a few kinds, biased towards the header where the parser lives. Characters
// are drawn mostly from JSON's own alphabet so that many mutants still parse and reach the
// semantic checks (offsets, shapes, dtypes) instead of all dying in the JSON parser.
std::string mutate(const std::string& original, std::mt19937& rng) {
  static constexpr std::string_view kJsonish = "{}[]\",:0123456789-.eE FUI";
  std::string f = original;
  const std::size_t header_end = 8 + header_length(original);
  auto pick = [&](std::size_t lo, std::size_t hi) {  // uniform in [lo, hi)
    return std::uniform_int_distribution<std::size_t>(lo, hi - 1)(rng);
  };
  auto jsonish = [&] { return kJsonish[pick(0, kJsonish.size())]; };
  switch (pick(0, 6)) {
    case 0:  // replace a few header characters
      for (std::size_t n = pick(1, 5); n > 0; --n) {
        f[pick(8, header_end)] = pick(0, 8) == 0 ? static_cast<char>(rng() & 0xFF) : jsonish();
      }
      break;
    case 1: {  // change one digit: offsets and dimensions move while the JSON stays valid
      for (int tries = 0; tries < 100; ++tries) {
        const std::size_t at = pick(8, header_end);
        if (f[at] >= '0' && f[at] <= '9') {
          f[at] = static_cast<char>('0' + pick(0, 10));
          break;
        }
      }
      break;
    }
    case 2:  // truncate anywhere
      f.resize(pick(0, f.size()));
      break;
    case 3:  // damage the length prefix
      f[pick(0, 8)] = static_cast<char>(rng() & 0xFF);
      break;
    case 4:  // insert or delete one header byte without fixing the length
      if (pick(0, 2) == 0) {
        f.insert(f.begin() + static_cast<std::ptrdiff_t>(pick(8, header_end)), jsonish());
      } else {
        f.erase(pick(8, header_end), 1);
      }
      break;
    default:  // extra bytes after the data section
      f.append(pick(1, 20), static_cast<char>(rng() & 0xFF));
      break;
  }
  return f;
}

TEST(SafetensorsFuzz, MutatedFilesOpenConsistentlyOrRaiseInputError) {
  test::ScratchDir dir;
  const std::string original = valid_file(dir.path() / "valid.safetensors");
  const auto path = dir.path() / "mutant.safetensors";
  std::mt19937 rng(kSeed);
  int opened = 0, rejected = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    const std::string bytes = mutate(original, rng);
    test::write_file(path, bytes);
    try {
      const auto file = SafetensorsFile::open(path);
      for (const auto& name : file.names()) {
        const Tensor t = file.get(name);
        ASSERT_EQ(t.nbytes(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()))
            << "iteration " << iteration << " tensor " << name;
        ASSERT_LE(t.nbytes(), bytes.size()) << "iteration " << iteration << " tensor " << name;
        unsigned sum = 0;  // touch every byte: a view past the mapping would fault here
        for (std::byte b : t.bytes()) sum += std::to_integer<unsigned>(b);
        (void)sum;
      }
      ++opened;
    } catch (const InputError& e) {
      ASSERT_NE(std::string(e.what()).find(path.string()), std::string::npos) << "iteration " << iteration;
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iteration << " (seed " << kSeed << "): unexpected exception: " << e.what();
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the reader.
  EXPECT_GT(opened, 50) << "rejected " << rejected;
  EXPECT_GT(rejected, 500) << "opened " << opened;
  std::printf("fuzz: %d opened, %d rejected (seed %u)\n", opened, rejected, kSeed);
}

}  // namespace
}  // namespace mxg
