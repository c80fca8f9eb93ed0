// End-to-end tests of `mxguard preflight`: the built binary's exit codes (0 OK, 1 known-bad,
// 2 bad input), the historical configurations, and --json on stdout.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/matrix/tests/mxguard_process.hpp"

namespace {

namespace fs = std::filesystem;
using mxg::matrix::testing::ProcessOutcome;
using mxg::matrix::testing::run_mxguard;

const std::string kFixtures = MXG_PREFLIGHT_FIXTURES;
const std::string k20b = kFixtures + "/gpt-oss-20b.config.json";
const std::string k120b = kFixtures + "/gpt-oss-120b.config.json";

ProcessOutcome preflight(std::vector<std::string> args) {
  args.insert(args.begin(), "preflight");
  return run_mxguard(args, fs::temp_directory_path());
}

TEST(PreflightCli, HistoricalConfigurationsGetTheirExitCodes) {
  const auto incident = preflight({"--model-config", k120b, "--sglang-behaviour", "pre-fix", "--env",
                                   "SGLANG_USE_AITER=1", "--env", "SGLANG_USE_AITER_MOE_GU_ITLV=0"});
  EXPECT_EQ(incident.exit_code, 1) << incident.out << incident.err;
  EXPECT_NE(incident.out.find("BAD [layout-mismatch]"), std::string::npos) << incident.out;
  EXPECT_NE(incident.out.find("matches historical scenario(s): gptoss-rocm-gsm8k-0.21"), std::string::npos)
      << incident.out;

  const auto separated = preflight({"--model-config", k120b, "--sglang-behaviour", "separated", "--tp", "2"});
  EXPECT_EQ(separated.exit_code, 1) << separated.out << separated.err;
  EXPECT_NE(separated.out.find("BAD [separated-at-tp]"), std::string::npos) << separated.out;

  for (const auto& config : {k20b, k120b}) {
    for (const char* tp : {"1", "2"}) {
      const auto ok = preflight({"--model-config", config, "--env", "SGLANG_USE_AITER=1", "--tp", tp});
      EXPECT_EQ(ok.exit_code, 0) << config << " tp " << tp << "\n" << ok.out << ok.err;
      EXPECT_NE(ok.out.find("\nOK\n"), std::string::npos) << ok.out;
    }
    for (const char* tp : {"4", "8"}) {
      // The healthy interleave pipeline: only an exact-pad kernel would drop units -> WARN, exit 0.
      const auto warn = preflight({"--model-config", config, "--env", "SGLANG_USE_AITER=1", "--tp", tp});
      EXPECT_EQ(warn.exit_code, 0) << warn.out << warn.err;
      EXPECT_NE(warn.out.find("WARN [intermediate-pad-kernel-dependent]"), std::string::npos) << warn.out;
      EXPECT_EQ(warn.out.find("BAD ["), std::string::npos) << warn.out;
      const auto pad = preflight({"--model-config", config, "--tp", tp, "--kernel-pad-convention", "exact"});
      EXPECT_EQ(pad.exit_code, 1) << pad.out;
      EXPECT_NE(pad.out.find("BAD [intermediate-pad-drops-units]"), std::string::npos) << pad.out;
      const auto ck = preflight({"--model-config", config, "--tp", tp, "--kernel-pad-convention", "granule"});
      EXPECT_EQ(ck.exit_code, 0) << ck.out << ck.err;
      EXPECT_EQ(ck.out.find("WARN ["), std::string::npos) << ck.out;
      const auto fixed = preflight({"--model-config", config, "--tp", tp, "--intermediate-pad", "loaded"});
      EXPECT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
    }
  }
}

TEST(PreflightCli, JsonGoesToStdout) {
  // Separated at tp 4: two rules at once, and the pad scenario of cases/scenarios.json (whose
  // pattern is the separated pipeline with the I/tp pad).
  const auto r = preflight({"--model-config", k20b, "--tp", "4", "--env", "SGLANG_USE_AITER_MOE_GU_ITLV=0", "--json",
                            "--kernel-pad-convention", "exact"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("verdict"), "BAD");
  EXPECT_EQ(j.at("ranks").size(), 4u);
  EXPECT_EQ(j.at("ranks").at(0).at("loaded"), 736);
  std::vector<std::string> rules;
  for (const auto& f : j.at("findings")) {
    if (f.at("severity") == "bad") rules.push_back(f.at("rule"));
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"separated-at-tp", "intermediate-pad-drops-units"}));
  EXPECT_EQ(j.at("scenarios"), nlohmann::json::array({"intermediate-pad-from-i-over-tp"}));
}

TEST(PreflightCli, BadInputExitsTwoWithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--model-config", kFixtures + "/missing.json"}, "missing.json"},
      {{"--model-config", k20b, "--tp", "7"}, "not divisible by the MoE tp size 7"},
      {{"--model-config", k20b, "--env", "SGLANG_USE_AITER_MOE_GU_ITLV"}, "expected KEY=VALUE"},
      {{"--model-config", k20b, "--env", "SGLANG_USE_AITER_MOE_GU_ITLV=perhaps"}, "not a boolean"},
      {{"--model-config", k20b, "--backend", "triton"}, "triton"},
  };
  for (const auto& [args, needle] : cases) {
    const auto r = preflight(args);
    EXPECT_EQ(r.exit_code, 2) << needle << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
}

TEST(PreflightCli, HelpTeachesWithTheHistoricalExamples) {
  const auto r = preflight({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* needle : {"--sglang-behaviour pre-fix", "--sglang-behaviour separated --tp 2",
                             "SGLANG_USE_AITER_MOE_GU_ITLV", "intermediate-pad-drops-units",
                             "intermediate-pad-kernel-dependent", "--kernel-pad-convention exact"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
  }
}

}  // namespace
