// Refusing a case instance that cannot fit before allocating it. A schema-valid case with
// H = I = 65536 and E = 1024 (or T = 65536) used to end in std::bad_alloc (exit 3, "internal") or
// an OOM kill with no message; now it is exit 2 naming the fields and the estimate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/matrix/instance.hpp"

namespace mxg::matrix {

// Bytes an instance holds at once, estimated from below: the generated weights of the routed
// experts (MXFP4 blocks + E8M0 scales, whole I), their per-job prepared copies at the rank's I, the
// activations (hidden, outputs, reference intermediates). Deliberately not an upper bound: it must
// never refuse a case that runs.
double estimate_instance_bytes(const ShapeSpec& shape, std::int64_t tokens, int jobs);

// The memory a run may use when --max-memory is not given: MemAvailable from /proc/meminfo, else
// the physical memory; 0 when neither is known (no check).
double default_memory_limit_bytes();

// Throws mxg::InputError for the first instance whose estimate exceeds `limit_bytes` (> 0), naming
// the case, the shape fields, T, the estimate and --max-memory.
void check_memory(const std::vector<Instance>& instances, int jobs, double limit_bytes, bool limit_from_option);

// "1.5 GiB"
std::string format_bytes(double bytes);

}  // namespace mxg::matrix
