// NumPy .npy files (format versions 1.0, 2.0 and 3.0): a memory-mapped reader whose header parser
// accepts exactly the dict literal numpy writes (any key order, trailing commas) and refuses
// everything else with an InputError naming the file, the field and the value; and a writer
// (version 1.0 header, atomic rename) for tests and tools.
//
// Supported descr: '|u1' '|i1' '<i2' '<i4' '<i8' '<f2' '<f4' '<f8' and '|b1' (read as U8); the
// one-byte types may also be spelt with '<'. There is no unsigned 16-bit dtype in mxguard: '<u2'
// is refused with a hint (save bf16 tensors to safetensors, or view them as int16).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "kernels/tensor/tensor.hpp"

namespace mxg {

// Maps PATH read-only and returns a zero-copy view of its array (copied only when the data does
// not start aligned to its element size). InputError "PATH: FIELD ...: VALUE" on any defect.
Tensor read_npy(const std::filesystem::path& path);

// Parses a whole .npy file held in FILE_BYTES; the result views those bytes and holds KEEPALIVE
// (pass nullptr when the caller guarantees the bytes outlive the tensor, or the tensor is copied).
// LABEL prefixes every error message (normally the file name).
Tensor parse_npy(std::span<const std::byte> file_bytes, std::shared_ptr<const void> keepalive,
                 std::string_view label);

// Writes TENSOR as a version 1.0 .npy (C order, little-endian). BF16 has no numpy descr: InputError.
// Writes to PATH.tmp-<pid> then renames, like write_safetensors.
void write_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace mxg
