// Error kinds shared by every mxguard component; each maps to one process exit code (DESIGN.md).
#pragma once

#include <stdexcept>
#include <string>

namespace mxg {

// Bad input from the user: a file, a tensor, a flag or a shape that cannot be used. Exit code 2.
// Messages name the file, the tensor / field and the offending value in one line.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The environment failed, not the code under test: server unreachable, GPU missing,
// external command crashed or timed out. Exit code 3.
struct InfraError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace exit_code {
inline constexpr int kPass = 0;
inline constexpr int kRegression = 1;  // accuracy regression, FAIL or BLIND
inline constexpr int kUsage = 2;       // usage or input error
inline constexpr int kInfra = 3;       // infrastructure error
inline constexpr int kInterrupted = 130;  // SIGINT/SIGTERM: partial results kept
inline constexpr int kBisectSkip = 125;
inline constexpr int kBisectAbort = 129;
}  // namespace exit_code

}  // namespace mxg
