// The process-wide "stop" request set by SIGINT/SIGTERM (harness/interrupt.hpp installs the handler).
// Here, below the harness, so that long waits in the backends (an external command, a persistent
// worker's answer) end within a fraction of a second instead of running to their --timeout.
#pragma once

#include <atomic>

namespace mxg {

// Set by the handler; polled by the run. A lock-free atomic is async-signal-safe to store.
inline std::atomic<bool> g_interrupt_requested{false};

}  // namespace mxg
