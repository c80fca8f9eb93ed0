// The backend registry and gate-mode names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/common/errors.hpp"

namespace mxg {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(Registry, BuiltinBackendsArePresentWithoutAnyStaticRegistration) {
  const auto names = backend_names();
  EXPECT_THAT(names, Contains("host"));
  EXPECT_THAT(names, Contains("external"));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_THAT(backend_description("host"), HasSubstr("device layout"));
  EXPECT_EQ(make_backend("host")->info().backend, "host");
}

TEST(Registry, UnknownBackendListsTheKnownOnes) {
  try {
    make_backend("rocm");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'rocm'"));
    EXPECT_THAT(e.what(), HasSubstr("external, host"));
  }
  EXPECT_THROW(backend_description("rocm"), InputError);
}

class FixedBackend final : public FusedMoeBackend {
 public:
  explicit FixedBackend(int threads) : threads_(threads) {}
  BackendInfo info() const override { return {"fixed", "test", std::to_string(threads_)}; }
  Tensor run(const FusedMoeProblem&) override { return {}; }

 private:
  int threads_;
};

TEST(Registry, RegistersAndCreatesANewBackendWithItsOptions) {
  register_backend({"fixed-for-test", "a test double",
                    [](const BackendOptions& o) { return std::make_unique<FixedBackend>(o.threads); }});
  BackendOptions options;
  options.threads = 5;
  EXPECT_EQ(make_backend("fixed-for-test", options)->info().device, "5");
  EXPECT_EQ(backend_description("fixed-for-test"), "a test double");
  EXPECT_THROW(register_backend({"fixed-for-test", "again",
                                 [](const BackendOptions&) { return std::make_unique<FixedBackend>(0); }}),
               std::invalid_argument);
  EXPECT_THROW(register_backend({"host", "shadow", [](const BackendOptions&) { return std::make_unique<FixedBackend>(0); }}),
               std::invalid_argument);
}

TEST(Registry, BackendFactoriesRejectBadOptions) {
  BackendOptions negative;
  negative.threads = -1;
  EXPECT_THROW(make_backend("host", negative), InputError);
  EXPECT_THROW(make_backend("external"), InputError);  // no --kernel-cmd
  BackendOptions no_placeholder;
  no_placeholder.kernel_cmd = "python3 adapter.py";
  EXPECT_THROW(make_backend("external", no_placeholder), InputError);
  BackendOptions zero_timeout;
  zero_timeout.kernel_cmd = "cp {in} {out}";
  zero_timeout.timeout_seconds = 0;
  EXPECT_THROW(make_backend("external", zero_timeout), InputError);
}

TEST(GateMode, NamesRoundTripAndBadNamesAreInputErrors) {
  for (const GateMode m : {GateMode::Separated, GateMode::Interleave}) EXPECT_EQ(parse_gate_mode(gate_mode_name(m)), m);
  EXPECT_EQ(gate_mode_name(GateMode::Separated), "separated");
  EXPECT_EQ(gate_mode_name(GateMode::Interleave), "interleave");
  try {
    parse_gate_mode("interleaved");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("gate_mode: 'interleaved'"));
  }
}

}  // namespace
}  // namespace mxg
