// The persistent-worker backend (external protocol v2, EXTERNAL_PROTOCOL.md): one long-lived
// process answers one request per combination over JSON lines, instead of a process per
// combination. Used for `--kernel-worker CMD` (the user's adapter) and for mxguard's own isolation
// (`mxguard kernel worker --backend hip|host`). A worker that exits, hangs past the timeout, answers
// garbage or outgrows its memory bound costs only the combination it was running (an InfraError,
// i.e. that combination's ERROR, with the worker's stderr tail); the next combination starts a
// fresh worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend/fused_moe.hpp"

namespace mxg {

struct WorkerBackendSettings {
  std::string command;                 // /bin/sh command line of the worker, run from the current directory
  std::string backend_name = "external";  // what results call the backend
  double timeout_seconds = 600;        // for the hello (start-up, imports, JIT) and for each request
  std::uint64_t rss_limit_bytes = 0;   // 0: none; else a request during which the worker's process group
                                       // grows past it is that combination's ERROR and the worker restarts
  std::optional<int> device;           // --devices: the GPU index (of those mxguard sees) this worker gets
  std::string device_note;             // appended to the device the worker reports
  // One line per worker start and restart (its kernel, device and versions, or why it restarted).
  // Default: a "mxguard: worker ..." line on stderr.
  std::function<void(const std::string&)> log;
};

// Starts the worker and waits for its hello, so a worker that cannot start fails the caller once,
// up front: InfraError with its status and stderr tail (InputError for settings that cannot work).
std::unique_ptr<FusedMoeBackend> make_worker_backend(WorkerBackendSettings settings);

// The environment that shows a child process only GPU `device` of those mxguard itself sees:
// HIP_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES (an index into a list mxguard already runs under is
// mapped through it), plus MXGUARD_DEVICE=device. InputError when `device` is not in such a list.
std::vector<std::pair<std::string, std::string>> device_environment(int device);

}  // namespace mxg
