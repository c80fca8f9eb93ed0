// `mxguard diagnose weights` end to end: the built binary on checkpoint / dump files written here
// (safetensors and .npy, with and without a sidecar), its exit codes (0 exact and consistent, 1
// inconsistent / partial / unknown, 2 bad input), the pipeline line, --json and --help.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/diagnose/weights/tests/dump_builder.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"
#include "kernels/tensor/npy.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "reference/tests/temp_dir.hpp"

namespace mxg::diagnose::weights {
namespace {

namespace fs = std::filesystem;
using layout::ExpertTensor;
using matrix::testing::ProcessOutcome;
using matrix::testing::run_mxguard;
using ref::testing::TempDir;
using testing::DumpSpec;
using testing::Form;

// I = 160 (5 blocks of 32): rank 1 of tp 2 loads units 96..159, a window no other (tp, rank) loads.
constexpr std::int64_t kExperts = 4, kI = 160, kH = 64;
const char* kW13 = "model.layers.0.mlp.experts.gate_up_proj_blocks";
const char* kPipeline =
    "tp-slice(tp=2, rank=1) → pad(I_p=256, H_p=256) → deinterleave → shuffle-weight(interleaved, gate-up)";

// A layer-0 checkpoint with gate_up blocks and bias, and dumps of rank 1 of tp 2 (SGLang's
// default pipeline: de-interleave, interleaved gate-up tiles).
struct Files {
  TempDir dir;
  Tensor blocks = testing::random_checkpoint(ExpertTensor::gate_up_proj_blocks, kExperts, kI, kH, 1);
  Tensor bias = testing::random_checkpoint(ExpertTensor::gate_up_proj_bias, kExperts, kI, kH, 2);
  DumpSpec spec{ExpertTensor::gate_up_proj_blocks, TpRank{2, 1}, true, Shuffle::interleaved, {}, Form::natural};
  fs::path checkpoint = dir / "model.safetensors";
  fs::path dump = dir / "rank1.safetensors";

  Files() {
    write_safetensors(checkpoint, {{kW13, blocks}, {"model.layers.0.mlp.experts.gate_up_proj_bias", bias}});
    write_safetensors(dump, {{"model.layers.0.mlp.experts.w13_weight", testing::build_dump(spec, blocks)}});
  }
  std::string path(const fs::path& p) const { return p.string(); }
};

ProcessOutcome diagnose(const Files& f, std::vector<std::string> args) {
  args.insert(args.begin(), {"diagnose", "weights", "--checkpoint", f.checkpoint.string(), "--layer", "0"});
  return run_mxguard(args, f.dir.path());
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(WeightsCli, ExactChainAndTheKernelRead) {
  const Files f;
  const auto plain = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string()});
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  EXPECT_TRUE(has(plain.out, std::string("EXACT    ") + kPipeline)) << plain.out;
  EXPECT_TRUE(has(plain.out, "units 96..159 of I = 160 (64 loaded) in I_p = 256")) << plain.out;

  // The incident: those bytes read by the separated preshuffle-off kernel.
  const auto bug = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--gate-mode",
                                "separated", "--is-shuffled", "false"});
  EXPECT_EQ(bug.exit_code, 1) << bug.out << bug.err;
  EXPECT_TRUE(has(bug.out, "kernel read with gate_mode=separated (--gate-mode), is_shuffled=false (--is-shuffled): "
                           "INCONSISTENT"))
      << bug.out;
  EXPECT_TRUE(has(bug.out, "historical scenario 'gptoss-rocm-gsm8k-0.21'")) << bug.out;

  const auto fixed = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--gate-mode",
                                  "interleave", "--is-shuffled", "true"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
  EXPECT_TRUE(has(fixed.out, "CONSISTENT")) << fixed.out;
}

// The sidecar supplies tp, the gate mode and is_shuffled; flags win; the report says which is which.
TEST(WeightsCli, SidecarDefaultsAndFlagsWin) {
  const Files f;
  const nlohmann::json sidecar = {
      {"format", "mxguard-moe-dump"}, {"version", 1}, {"framework", "sglang"}, {"layer", 0},
      {"module", "model.layers.0.mlp.experts"}, {"module_class", "FusedMoE"}, {"gate_mode", "separated"},
      {"gate_mode_source", "env SGLANG_USE_AITER_MOE_GU_ITLV=0"}, {"tp_size", 2}, {"tp_rank", 1},
      {"ep_size", 1}, {"ep_rank", 0}, {"environment", nlohmann::json::object()},
      {"tensors",
       {{"model.layers.0.mlp.experts.w13_weight",
         {{"parameter", "w13_weight"}, {"dtype_in_process", "torch.uint8"},
          {"shape_in_process", {kExperts, 512, 128}}, {"dtype_saved", "U8"},
          {"shape_saved", {kExperts, 512, 128}}, {"is_shuffled", false}, {"attributes", nlohmann::json::object()}}}}}};
  write_text(f.dir / "rank1.safetensors.json", sidecar.dump());

  const auto side = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string()});
  EXPECT_EQ(side.exit_code, 1) << side.out << side.err;
  const std::string from = "sidecar " + (f.dir / "rank1.safetensors.json").string();
  EXPECT_TRUE(has(side.out, "only chains with tp=2 (" + from + ")")) << side.out;
  EXPECT_TRUE(has(side.out, "gate_mode=separated (" + from + ")")) << side.out;
  EXPECT_TRUE(has(side.out, "is_shuffled=false (" + from + " tensor 'model.layers.0.mlp.experts.w13_weight')"))
      << side.out;
  EXPECT_TRUE(has(side.out, "the sidecar's tp_rank 1 of tp 2 (MoE tp 2, rank 1) agrees with the slice found"))
      << side.out;

  const auto flags = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--gate-mode",
                                  "interleave", "--is-shuffled", "true"});
  EXPECT_EQ(flags.exit_code, 0) << flags.out << flags.err;
  EXPECT_TRUE(has(flags.out, "gate_mode=interleave (--gate-mode), is_shuffled=true (--is-shuffled)")) << flags.out;

  // A sidecar with a gate mode but no is_shuffled (SGLang never set the attribute on this tensor):
  // the layout is still named, the kernel read is left unjudged with a note, and one flag given
  // on the command line without the other is a usage error.
  nlohmann::json half = sidecar;
  half["tensors"]["model.layers.0.mlp.experts.w13_weight"]["is_shuffled"] = nullptr;
  write_text(f.dir / "rank1.safetensors.json", half.dump());
  const auto unjudged = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string()});
  EXPECT_EQ(unjudged.exit_code, 0) << unjudged.out << unjudged.err;
  EXPECT_TRUE(has(unjudged.out, std::string("EXACT    ") + kPipeline)) << unjudged.out;
  EXPECT_TRUE(has(unjudged.out, "kernel read not judged")) << unjudged.out;
  EXPECT_FALSE(has(unjudged.out, "CONSISTENT")) << unjudged.out;
  const auto one_flag = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--gate-mode",
                                     "interleave"});
  EXPECT_EQ(one_flag.exit_code, 2) << one_flag.out << one_flag.err;
  EXPECT_TRUE(has(one_flag.err, "needs --is-shuffled")) << one_flag.err;

  // A sidecar describing another tensor shape is an input error.
  nlohmann::json stale = sidecar;
  stale["tensors"]["model.layers.0.mlp.experts.w13_weight"]["shape_saved"] = {kExperts, 1024, 128};
  write_text(f.dir / "rank1.safetensors.json", stale.dump());
  const auto bad = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
}

TEST(WeightsCli, PartialAndUnknownExitOneWithJson) {
  const Files f;
  Tensor logical = testing::logical_dump(f.spec, f.blocks);  // [4, 512, 128]
  // Dump expert 2, row 300 (up unit 44: rows 256..319 hold the up half's loaded units), byte 20
  // (bytes 0..31 hold H = 64).
  logical.as_mut<std::uint8_t>()[(2 * 512 + 300) * 128 + 20] ^= 0x01;
  write_safetensors(f.dir / "corrupt.safetensors", {{"w13", testing::finish_dump(f.spec, logical)}});
  const auto partial = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", (f.dir / "corrupt.safetensors").string(),
                                    "--json"});
  EXPECT_EQ(partial.exit_code, 1) << partial.err;
  const auto j = nlohmann::json::parse(partial.out);
  EXPECT_EQ(j.at("schema"), "mxguard.diagnose.weights/1");
  EXPECT_EQ(j.at("verdict"), "PARTIAL");
  EXPECT_EQ(j.at("chain").at("pipeline"), kPipeline);
  ASSERT_EQ(j.at("mismatches").size(), 1u);
  EXPECT_EQ(j.at("mismatches")[0].at("dump_expert"), 2);
  EXPECT_EQ(j.at("mismatches")[0].at("row_block"), 300 / 16);
  EXPECT_EQ(j.at("mismatches")[0].at("col_block"), 20 / 16);
  EXPECT_EQ(j.at("tiles").at("matched").get<std::int64_t>() + 1, j.at("tiles").at("total").get<std::int64_t>());
  EXPECT_EQ(j.at("exit_code"), 1);

  Tensor noise(DType::U8, {kExperts, 512, 128});
  std::mt19937_64 rng(3);
  for (auto& b : noise.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(rng());
  write_safetensors(f.dir / "noise.safetensors", {{"w13", noise}});
  const auto unknown = diagnose(f, {"--tensor", "gate_up_proj_blocks", "--dump", (f.dir / "noise.safetensors").string()});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out << unknown.err;
  EXPECT_TRUE(has(unknown.out, "UNKNOWN  layout unknown: no chain of known transforms explains this dump")) << unknown.out;
}

// A .npy dump (the bias as SGLang hands it to AITER: F32, de-interleaved) and biases' kernel read.
TEST(WeightsCli, NpyBiasDump) {
  const Files f;
  const DumpSpec spec{ExpertTensor::gate_up_proj_bias, TpRank{2, 1}, false, Shuffle::none, {1, 2}, Form::f32};
  write_npy(f.dir / "w13_weight_bias.npy", testing::build_dump(spec, f.bias));
  const auto r = diagnose(f, {"--tensor", "gate_up_proj_bias", "--dump", (f.dir / "w13_weight_bias.npy").string(),
                              "--is-shuffled", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // left interleaved: the kernel reads [gate | up]
  EXPECT_TRUE(has(r.out, "EXACT    experts(1..2 of 4) → tp-slice(tp=2, rank=1) → pad(I_p=256) → cast(F32)")) << r.out;
  EXPECT_TRUE(has(r.out, "kernel read: INCONSISTENT")) << r.out;  // no flag matters for a bias
  EXPECT_TRUE(has(r.out, "this layout is historical scenario 'bias-left-interleaved'")) << r.out;
}

TEST(WeightsCli, BadInputExitsTwo) {
  const Files f;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tensor", "gate_up_proj_blocks", "--dump", (f.dir / "missing.safetensors").string()}, "missing.safetensors"},
      {{"--tensor", "up_proj", "--dump", f.dump.string()}, "up_proj"},
      {{"--tensor", "down_proj_blocks", "--dump", f.dump.string()}, "down_proj_blocks"},
      {{"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--gate-mode", "separated"}, "--is-shuffled"},
      {{"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--dump-tensor", "w2"}, "w2"},
      {{"--tensor", "gate_up_proj_blocks", "--dump", f.dump.string(), "--tp", "4", "--ep", "3"}, "does not divide"},
  };
  for (const auto& [args, needle] : cases) {
    const auto r = diagnose(f, args);
    EXPECT_EQ(r.exit_code, 2) << needle << "\n" << r.out << r.err;
    EXPECT_TRUE(has(r.err, needle)) << needle << "\n" << r.err;
  }
}

TEST(WeightsCli, HelpTeachesExitCodesWithExamples) {
  const Files f;
  const auto r = run_mxguard({"diagnose", "weights", "--help"}, f.dir.path());
  EXPECT_EQ(r.exit_code, 0);
  for (const char* needle : {"Exit codes: 0 EXACT", "1 EXACT but the kernel read is inconsistent",
                             "2 usage or input", "--gate-mode separated --is-shuffled false", "gptoss-rocm-gsm8k-0.21",
                             "tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072)"}) {
    EXPECT_TRUE(has(r.out, needle)) << needle << "\n" << r.out;
  }
}

}  // namespace
}  // namespace mxg::diagnose::weights
