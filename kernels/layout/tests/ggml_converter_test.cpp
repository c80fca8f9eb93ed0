// Our model of llama.cpp's GPT-OSS converter against the converter itself: ci/tools/ggml_convert_layer.py
// runs upstream's conversion package (from the llama.cpp source: $MXG_GGML_SOURCE, else the
// configured default, .deps/llama.cpp) on GPT-OSS-shaped random checkpoint tensors, and every byte
// it writes must equal prepare_ggml_experts'. Then the stack-mode demonstration: one-line patches
// of a COPY of the converter change its output exactly as the matching GgmlPrep predicts.
//
// Skipped only when the llama.cpp source is absent. A converter that cannot be imported or run
// (no torch, an upstream change) fails with the script's one-line reason.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <vector>
#include <unistd.h>

#include <fmt/format.h>

#include "kernels/backend/subprocess.hpp"
#include "kernels/layout/ggml_experts_io.hpp"
#include "kernels/layout/tests/ggml_test_support.hpp"

#ifndef MXG_GGML_SOURCE_DEFAULT
#error "MXG_GGML_SOURCE_DEFAULT must name the default llama.cpp source folder"
#endif

namespace mxg::layout::ggml {
namespace {

namespace fs = std::filesystem;

fs::path llama_cpp_source() {
  const char* env = std::getenv("MXG_GGML_SOURCE");
  return env != nullptr && *env != '\0' ? fs::path(env) : fs::path(MXG_GGML_SOURCE_DEFAULT);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "tensor gate: identical" or where the first byte differs.
::testing::AssertionResult same_tensor(std::string_view name, const Tensor& ours, const Tensor& theirs) {
  if (ours.dtype() != theirs.dtype() || ours.shape() != theirs.shape()) {
    return ::testing::AssertionFailure() << name << ": ours " << dtype_name(ours.dtype()) << " "
                                         << shape_string(ours.shape()) << ", converter's " << dtype_name(theirs.dtype())
                                         << " " << shape_string(theirs.shape());
  }
  const auto a = ours.bytes(), b = theirs.bytes();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return ::testing::AssertionFailure() << name << ": first difference at byte " << i << " of " << a.size()
                                           << ": ours " << std::to_integer<int>(a[i]) << ", converter's "
                                           << std::to_integer<int>(b[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_experts(const GgmlExperts& ours, const GgmlExperts& theirs) {
  if (ours.merged() != theirs.merged()) return ::testing::AssertionFailure() << "one side merged gate and up";
  const std::pair<const char*, std::pair<const Tensor*, const Tensor*>> all[] = {
      {"gate", {&ours.gate, &theirs.gate}},           {"up", {&ours.up, &theirs.up}},
      {"down", {&ours.down, &theirs.down}},           {"gate_bias", {&ours.gate_bias, &theirs.gate_bias}},
      {"up_bias", {&ours.up_bias, &theirs.up_bias}},  {"down_bias", {&ours.down_bias, &theirs.down_bias}},
      {"gate_up", {&ours.gate_up, &theirs.gate_up}},  {"gate_up_bias", {&ours.gate_up_bias, &theirs.gate_up_bias}}};
  for (const auto& [name, pair] : all) {
    auto r = same_tensor(name, *pair.first, *pair.second);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

class GgmlConverter : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = llama_cpp_source();
    if (!fs::is_regular_file(source_ / "conversion" / "gpt_oss.py")) {
      GTEST_SKIP() << "no llama.cpp source at " << source_.string()
                   << " (set MXG_GGML_SOURCE to a llama.cpp checkout, or run ci/fetch-llama-cpp)";
    }
    dir_ = fs::temp_directory_path() / ("mxg_ggml_converter_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs the driver; its result (exit status, stderr) for the caller to judge.
  proc::CommandResult run_driver(const fs::path& in, const fs::path& out, const fs::path& converter_dir) {
    const std::string cmd = fmt::format("{} {} --quiet --in {} --out {} --llama-cpp {} --converter-dir {}",
                                        proc::shell_quote(MXG_TORCH_PYTHON), proc::shell_quote(MXG_CONVERT_SCRIPT),
                                        proc::shell_quote(in.string()), proc::shell_quote(out.string()),
                                        proc::shell_quote(source_.string()), proc::shell_quote(converter_dir.string()));
    return proc::run_shell(cmd, dir_, 120);
  }

  // The converter's output for `ck` under each converter folder, or a test failure carrying the
  // driver's reason. The runs go in parallel: each spends most of its time importing torch.
  std::vector<std::optional<GgmlExperts>> upstream(const CheckpointExperts& ck, const std::vector<fs::path>& converters) {
    const fs::path in = dir_ / "in.safetensors";
    write_checkpoint_experts(in, ck);
    std::vector<std::future<proc::CommandResult>> runs;
    for (std::size_t i = 0; i < converters.size(); ++i) {
      runs.push_back(std::async(std::launch::async, [this, in, i, dir = converters[i]] {
        return run_driver(in, dir_ / fmt::format("out-{}.safetensors", i), dir);
      }));
    }
    std::vector<std::optional<GgmlExperts>> outputs;
    for (std::size_t i = 0; i < converters.size(); ++i) {
      const proc::CommandResult r = runs[i].get();
      if (!r.ok()) {
        ADD_FAILURE() << "llama.cpp's converter (" << converters[i].string() << ") did not run: " << r.status()
                      << "\n" << r.stderr_tail << r.stdout_tail;
        outputs.emplace_back();
        continue;
      }
      outputs.emplace_back(load_ggml_experts(dir_ / fmt::format("out-{}.safetensors", i)));
    }
    return outputs;
  }

  // A copy of the converter package with `patches` (old line -> new line) applied to gpt_oss.py.
  // Each old line must occur exactly once, so an upstream change fails here rather than silently
  // patching nothing.
  fs::path patched_copy(const std::string& tag, const std::vector<std::pair<std::string, std::string>>& patches) {
    const fs::path copy = dir_ / tag / "conversion";
    fs::create_directories(copy.parent_path());
    fs::copy(source_ / "conversion", copy, fs::copy_options::recursive);
    std::string text = read_text(copy / "gpt_oss.py");
    for (const auto& [old_line, new_line] : patches) {
      const auto at = text.find(old_line);
      if (at == std::string::npos || text.find(old_line, at + 1) != std::string::npos) {
        ADD_FAILURE() << "gpt_oss.py does not contain exactly one '" << old_line << "' (upstream changed?)";
        continue;
      }
      text.replace(at, old_line.size(), new_line);
    }
    std::ofstream(copy / "gpt_oss.py", std::ios::binary | std::ios::trunc) << text;
    return copy;
  }

  fs::path source_, dir_;
};

TEST_F(GgmlConverter, OurConversionIsByteExactWithLlamaCppsConverter) {
  struct Case {
    const char* what;
    std::int64_t E, H, I;
    DType bias_dtype;
  };
  const Case cases[] = {
      {"GPT-OSS-20b layer, 4 experts", 4, 2880, 2880, DType::F32},
      {"small odd shape (H/32 = 3, I/32 = 5), BF16 biases", 3, 96, 160, DType::BF16},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    // Every scale byte value, including 0 and the NaN byte 255: the converter copies them all.
    const CheckpointExperts ck = testing::random_checkpoint(c.E, c.H, c.I, 2026 + c.E, c.bias_dtype, 0, 255);
    const auto theirs = upstream(ck, {source_ / "conversion"}).front();
    if (!theirs) continue;
    EXPECT_TRUE(same_experts(convert_checkpoint_experts(ck), *theirs));
  }
}

// Stack mode: the converter under test prepares the weights. Each patch is a bug someone could
// commit to gpt_oss.py; its output must be exactly the bytes of the GgmlPrep that models it, and
// not the right pipeline's. The unpatched copy must give the right pipeline's bytes.
TEST_F(GgmlConverter, PatchedConverterCopiesChangeTheOutputExactlyAsTheirPrepPredicts) {
  const std::string blocks_line = "blocks0, blocks1 = data_torch[:, ::2, :, :], data_torch[:, 1::2, :, :]";
  const std::string blocks_swapped = "blocks0, blocks1 = data_torch[:, 1::2, :, :], data_torch[:, ::2, :, :]";
  const std::string scales_line = "scales0, scales1 = data_torch[:, ::2, :], data_torch[:, 1::2, :]";
  const std::string scales_swapped = "scales0, scales1 = data_torch[:, 1::2, :], data_torch[:, ::2, :]";
  const std::string bias_line = "gate_proj_bias, up_proj_bias = data_torch[..., ::2], data_torch[..., 1::2]";
  const std::string bias_swapped = "gate_proj_bias, up_proj_bias = data_torch[..., 1::2], data_torch[..., ::2]";
  const std::string nibble_line = "blocks = self.transform_nibble_layout(blocks)";
  const std::string nibble_skipped = "blocks = blocks";

  struct Patch {
    const char* tag;
    std::vector<std::pair<std::string, std::string>> lines;
    const char* prep;  // the GgmlPrep id that models the patched converter
  };
  const Patch patches[] = {
      {"unpatched", {}, ""},
      {"blocks-swapped", {{blocks_line, blocks_swapped}}, "split=swapped/scale_split=right/bias_split=right"},
      {"all-swapped",
       {{blocks_line, blocks_swapped}, {scales_line, scales_swapped}, {bias_line, bias_swapped}},
       "split=swapped"},
      {"bias-swapped", {{bias_line, bias_swapped}}, "bias_split=swapped"},
      {"nibbles-skipped", {{nibble_line, nibble_skipped}}, "nibbles=skipped"},
  };
  const CheckpointExperts ck = testing::random_checkpoint(2, 64, 96, 77, DType::F32, 0, 255);
  const GgmlExperts right = convert_checkpoint_experts(ck);
  std::vector<fs::path> copies;
  for (const Patch& p : patches) copies.push_back(patched_copy(p.tag, p.lines));
  const auto outputs = upstream(ck, copies);
  for (std::size_t i = 0; i < std::size(patches); ++i) {
    const Patch& p = patches[i];
    SCOPED_TRACE(p.tag);
    const auto& theirs = outputs[i];
    if (!theirs) continue;
    const GgmlPrep predicted = parse_ggml_prep_id(p.prep);
    EXPECT_TRUE(same_experts(prepare_ggml_experts(ck, predicted), *theirs)) << ggml_prep_id(predicted);
    EXPECT_EQ(same_experts(right, *theirs), p.lines.empty()) << "the patch must change the output";
    EXPECT_EQ(derive_ggml_prep_effect(predicted).consistent(), p.lines.empty());
  }
}

TEST_F(GgmlConverter, ABrokenConverterIsAnInfrastructureErrorWithItsReason) {
  const fs::path broken = patched_copy("broken", {{"def transform_nibble_layout(self, tensor):", "def transform_nibble_layout(self, tensor)"}});
  const fs::path in = dir_ / "in.safetensors";
  write_checkpoint_experts(in, testing::random_checkpoint(1, 32, 32, 1));
  const proc::CommandResult r = run_driver(in, dir_ / "out.safetensors", broken);
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.stderr_tail.find("cannot import llama.cpp's converter from"), std::string::npos) << r.stderr_tail;
  EXPECT_NE(r.stderr_tail.find("SyntaxError"), std::string::npos) << r.stderr_tail;
  EXPECT_FALSE(fs::exists(dir_ / "out.safetensors"));

  const proc::CommandResult missing = run_driver(dir_ / "absent.safetensors", dir_ / "out.safetensors",
                                                 source_ / "conversion");
  EXPECT_EQ(missing.exit_code, 2) << missing.stderr_tail;
  EXPECT_NE(missing.stderr_tail.find("absent.safetensors: cannot read"), std::string::npos) << missing.stderr_tail;
}

}  // namespace
}  // namespace mxg::layout::ggml
