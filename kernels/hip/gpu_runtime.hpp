// Portability layer of the GPU backend: the HIP runtime names the code is written against, mapped to
// CUDA's under NVIDIA's toolchain (MXG_GPU_CUDA, set by kernels/hip/CMakeLists.txt), plus the checks
// that turn a failed runtime call into mxg::InfraError. Host files compiled by the C++ compiler
// include it too, so it pulls in only the runtime API unless a GPU compiler is at work.
#pragma once

#include <string>

#include "kernels/common/errors.hpp"

#if defined(MXG_GPU_CUDA)
#if defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#include <cuda_runtime_api.h>
#endif

#define hipError_t cudaError_t
#define hipSuccess cudaSuccess
#define hipErrorNoDevice cudaErrorNoDevice
#define hipGetErrorString cudaGetErrorString
#define hipGetLastError cudaGetLastError
#define hipMalloc cudaMalloc
#define hipFree cudaFree
#define hipMemcpy cudaMemcpy
#define hipMemcpyAsync cudaMemcpyAsync
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipMemset cudaMemset
#define hipMemsetAsync cudaMemsetAsync
#define hipStream_t cudaStream_t
#define hipStreamCreate cudaStreamCreate
#define hipStreamDestroy cudaStreamDestroy
#define hipStreamSynchronize cudaStreamSynchronize
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipGetDeviceCount cudaGetDeviceCount
#define hipGetDevice cudaGetDevice
#define hipDeviceProp_t cudaDeviceProp
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipDeviceGetAttribute cudaDeviceGetAttribute
#define hipDeviceAttributeMemoryClockRate cudaDevAttrMemoryClockRate
#define hipDeviceAttributeMemoryBusWidth cudaDevAttrGlobalMemoryBusWidth
#define hipDeviceAttributeMultiprocessorCount cudaDevAttrMultiProcessorCount
#define hipEvent_t cudaEvent_t
#define hipEventCreate cudaEventCreate
#define hipEventDestroy cudaEventDestroy
#define hipEventRecord cudaEventRecord
#define hipEventSynchronize cudaEventSynchronize
#define hipEventElapsedTime cudaEventElapsedTime
#define hipFuncSetAttribute cudaFuncSetAttribute
#define hipFuncAttributes cudaFuncAttributes
#define hipFuncGetAttributes cudaFuncGetAttributes
#define hipFuncAttributeMaxDynamicSharedMemorySize cudaFuncAttributeMaxDynamicSharedMemorySize
#define MXG_GPU_PLATFORM_NAME "cuda"

#else  // AMD ROCm
#if defined(__HIPCC__)
#include <hip/hip_runtime.h>
#else
#include <hip/hip_runtime_api.h>
#endif
#define MXG_GPU_PLATFORM_NAME "hip"
#endif

namespace mxg::gpu {

// Throws InfraError naming the call and the runtime's message: a failing GPU runtime is the
// environment's fault, never an accuracy verdict.
inline void check(hipError_t status, const char* what) {
  if (status != hipSuccess) {
    throw InfraError(std::string("GPU runtime: ") + what + " failed: " + hipGetErrorString(status));
  }
}

// After a kernel launch: reports a bad launch configuration or an earlier asynchronous fault.
inline void check_launch(const char* kernel) { check(hipGetLastError(), kernel); }

}  // namespace mxg::gpu
