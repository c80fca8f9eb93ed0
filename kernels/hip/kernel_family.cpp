// Names of the GPU kernel families, as the benchmark and the tests spell them on the command line.
#include <string>

#include "kernels/common/errors.hpp"
#include "kernels/hip/moe_launch.hpp"

namespace mxg::gpu {

std::string_view kernel_family_name(KernelFamily f) {
  switch (f) {
    case KernelFamily::Auto:
      return "auto";
    case KernelFamily::Gemv:
      return "gemv";
    case KernelFamily::GemvMma:
      return "gemv-mma";
    case KernelFamily::TiledSimt:
      return "tiled-simt";
    case KernelFamily::TiledMma:
      return "tiled-mma";
  }
  return "unknown";
}

KernelFamily parse_kernel_family(std::string_view s) {
  for (KernelFamily f : {KernelFamily::Auto, KernelFamily::Gemv, KernelFamily::GemvMma, KernelFamily::TiledSimt,
                         KernelFamily::TiledMma}) {
    if (kernel_family_name(f) == s) return f;
  }
  throw InputError("--family: unknown kernel family '" + std::string(s) +
                   "' (expected auto, gemv, gemv-mma, tiled-simt or tiled-mma)");
}

}  // namespace mxg::gpu
