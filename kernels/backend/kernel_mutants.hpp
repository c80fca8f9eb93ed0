// Kernel mutants: the host kernel with one bug of a real 2025-26 incident class built in
// (`--kernel-mutant NAME` on `mxguard matrix`, `kernel run`, `kernel worker`, host backend only).
// The layout the kernel is handed stays consistent, so the derivation expects PASS and a mutant the
// matrix can see turns those combinations into FAIL: the matrix's verdict on a kernel regression.
// (`matrix --mutants` is the other kind: it edits the bytes a correct kernel reads, and scores
// CAUGHT.) Each mutant names the incident it replays; README "Incidents replayed" has the verdicts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxg {

enum class KernelMutant : std::uint8_t {
  None,
  ZeroOutputInterleave,  // aiter #3586 / vllm #44893: a gate-mode dispatch whose kernel writes nothing
  InterDimTail256,       // aiter #5232: units past the last whole 256 never computed
  KPadTailNan,           // aiter #3117: the K-padding tail of the activation tile left uninitialised
  GuguRows,              // aiter #5549: interleave mode reads single-row gate/up (GUGU), not 16-row blocks (GGUU)
  ScaleTailOverrun,      // vllm #47303 / triton #10772: an unmasked tail load one scale past the w2 scales
};

struct KernelMutantInfo {
  KernelMutant mutant;
  std::string name;
  std::string incident;     // where the class comes from
  std::string description;  // what the mutated kernel does
};

const std::vector<KernelMutantInfo>& kernel_mutants();  // every mutant except None
// "" or "none" -> None; an unknown name throws InputError listing the names.
KernelMutant parse_kernel_mutant(std::string_view name);
std::string_view kernel_mutant_name(KernelMutant m);  // "none" for None

}  // namespace mxg
