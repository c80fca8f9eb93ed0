// Ctrl-C for long runs (matrix, probe): the first SIGINT or SIGTERM asks the run to stop and keep what
// it has (results already written, a summary marked interrupted); a second one ends the process at once.
#pragma once

#include <atomic>
#include <csignal>

#include "kernels/common/interrupt_flag.hpp"

namespace mxg {


extern "C" inline void mxg_on_interrupt_signal(int) {
  g_interrupt_requested.store(true);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

// Installs the handler for its lifetime (clearing the flag first) and restores the defaults after.
class ScopedInterruptHandler {
 public:
  ScopedInterruptHandler() {
    g_interrupt_requested.store(false);
    std::signal(SIGINT, mxg_on_interrupt_signal);
    std::signal(SIGTERM, mxg_on_interrupt_signal);
  }
  ~ScopedInterruptHandler() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
  ScopedInterruptHandler(const ScopedInterruptHandler&) = delete;
  ScopedInterruptHandler& operator=(const ScopedInterruptHandler&) = delete;
  bool requested() const { return g_interrupt_requested.load(); }
  const std::atomic<bool>& flag() const { return g_interrupt_requested; }
};

}  // namespace mxg
