// mxguard's own persistent worker (`mxguard kernel worker --backend B`): the external protocol v2
// served around a registered backend. The matrix runs isolated combinations (hip by default, host
// with --isolate) through it, so a GPU fault ends a worker, never the run.
#pragma once

#include <map>
#include <string>

#include "kernels/backend/fused_moe.hpp"

namespace mxg {

// Writes the hello (the backend's kernel and device, `versions`), then answers one request per
// stdin line until stdin closes. Returns the exit code: 0 at the end of input, 2 for a request line
// longer than the protocol allows, 3 after a fatal failure (InfraError or anything unexpected:
// the device may be unusable), which is answered with "fatal": true first. A problem file that
// cannot be read or run (InputError) is answered with an error and the loop goes on.
// While it runs, file descriptor 1 points at stderr: only protocol lines reach the real stdout,
// whatever a library prints.
int serve_worker(FusedMoeBackend& backend, const std::map<std::string, std::string>& versions);

}  // namespace mxg
