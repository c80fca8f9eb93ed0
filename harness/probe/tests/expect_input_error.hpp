// Test helper of the probe's statistics tests: runs `f`, expects mxg::InputError, and checks that
// its message names `option`.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "kernels/common/errors.hpp"

namespace mxg::probe::testing {

inline void expect_input_error(const std::function<void()>& f, const std::string& option) {
  try {
    f();
    ADD_FAILURE() << "no InputError; expected one naming " << option;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
  }
}

}  // namespace mxg::probe::testing
