// The problem file: one safetensors file holding a FusedMoeProblem's device-layout tensors and its
// contract fields as __metadata__ strings. It is both the input of `mxguard kernel run --in` and
// what the external backend hands its command (kernels/backend/EXTERNAL_PROTOCOL.md).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "kernels/backend/fused_moe.hpp"

namespace mxg {

inline constexpr const char* kProblemProtocolVersion = "1";

// The __metadata__ written for `p`: protocol version, contract fields and derived shapes.
std::map<std::string, std::string> problem_metadata(const FusedMoeProblem& p);

// Validates `p`, then writes it (atomically).
void write_problem(const std::filesystem::path& path, const FusedMoeProblem& p);

// Reads and validates a problem file. InputError "FILE: field: ..." naming the missing or bad
// tensor, metadata key or value.
FusedMoeProblem read_problem(const std::filesystem::path& path);

// y as written by `kernel run --out` and by external commands: tensor "y".
void write_output(const std::filesystem::path& path, const Tensor& y,
                  const std::map<std::string, std::string>& metadata = {});

// Reads tensor "y" (BF16 or F32) of shape [tokens, hidden] and returns it as BF16 (F32 is rounded
// to nearest even). InputError "FILE: y: ..." when absent or of another dtype or shape.
Tensor read_output(const std::filesystem::path& path, std::int64_t tokens, std::int64_t hidden);

}  // namespace mxg
