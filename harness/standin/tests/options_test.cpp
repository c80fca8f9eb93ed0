// validate(): every out-of-range option is rejected with an InputError naming it; the correctness draw
// answers_correctly() is a pure function with the right extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "harness/standin/standin_server.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::standin {
namespace {

void expect_rejected(const std::function<void(StandinOptions&)>& change, const std::string& option) {
  StandinOptions o;
  change(o);
  try {
    validate(o);
    ADD_FAILURE() << option << " accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
  }
}

TEST(StandinOptions, DefaultsAreValid) { EXPECT_NO_THROW(validate(StandinOptions{})); }

TEST(StandinOptions, BadValuesNameTheOption) {
  expect_rejected([](auto& o) { o.accuracy = 1.5; }, "--accuracy");
  expect_rejected([](auto& o) { o.accuracy = -0.1; }, "--accuracy");
  expect_rejected([](auto& o) { o.accuracy = std::nan(""); }, "--accuracy");
  expect_rejected([](auto& o) { o.collapse_accuracy = 2; }, "--collapse-accuracy");
  expect_rejected([](auto& o) { o.collapse_after = -2; }, "--collapse-after");
  expect_rejected([](auto& o) { o.error_rate = 1.01; }, "--error-rate");
  expect_rejected([](auto& o) { o.error_status = 404; }, "--error-status");
  expect_rejected([](auto& o) { o.latency_ms = -1; }, "--latency-ms");
  expect_rejected([](auto& o) { o.hang_rate = -1; }, "--hang-rate");
  expect_rejected([](auto& o) { o.malformed_rate = 3; }, "--malformed-rate");
  expect_rejected([](auto& o) { o.drop_rate = 1.5; }, "--drop-rate");
  expect_rejected([](auto& o) { o.abort_rate = -0.5; }, "--abort-rate");
  expect_rejected([](auto& o) { o.truncate_rate = 7; }, "--truncate-rate");
  expect_rejected([](auto& o) { o.ready_after_s = -3; }, "--ready-after");
  expect_rejected([](auto& o) { o.port = 70000; }, "--port");
  expect_rejected([](auto& o) { o.port = -1; }, "--port");
  expect_rejected([](auto& o) { o.threads = 0; }, "--threads");
  expect_rejected([](auto& o) { o.host = ""; }, "--host");
  expect_rejected([](auto& o) { o.model_path = ""; }, "--model-path");
  expect_rejected([](auto& o) { o.api_key = ""; }, "--api-key-env");
}

TEST(StandinOptions, ServerConstructorValidates) {
  StandinOptions o;
  o.error_rate = 2;
  EXPECT_THROW(StandinServer(o, {}), InputError);
}

TEST(AnswersCorrectly, ExtremesAndPurity) {
  int differing_seeds = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string q = "How many apples does person " + std::to_string(i) + " have?";
    EXPECT_TRUE(answers_correctly(1, 1.0, q));
    EXPECT_FALSE(answers_correctly(1, 0.0, q));
    EXPECT_EQ(answers_correctly(1, 0.5, q), answers_correctly(1, 0.5, q));
    // Monotone in the accuracy: one draw compared with the threshold.
    if (answers_correctly(1, 0.3, q)) {
      EXPECT_TRUE(answers_correctly(1, 0.6, q));
    }
    differing_seeds += answers_correctly(1, 0.5, q) != answers_correctly(2, 0.5, q);
  }
  // Two seeds agree on a question half the time: 200 questions differ on ~100.
  EXPECT_GT(differing_seeds, 60);
  EXPECT_LT(differing_seeds, 140);
}

}  // namespace
}  // namespace mxg::standin
