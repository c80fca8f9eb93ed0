// Device queries through the portable runtime names of gpu_runtime.hpp.
#include "kernels/hip/device_info.hpp"

#include "kernels/common/errors.hpp"
#include "kernels/hip/gpu_runtime.hpp"

namespace mxg::gpu {

int device_count() {
  int count = 0;
  if (hipGetDeviceCount(&count) != hipSuccess) {
    (void)hipGetLastError();  // no driver / no device: not an error for a query
    return 0;
  }
  return count;
}

DeviceInfo current_device() {
  if (device_count() == 0) throw InfraError("GPU backend: no GPU device is visible to the " MXG_GPU_PLATFORM_NAME " runtime");
  int device = 0;
  check(hipGetDevice(&device), "hipGetDevice");
  hipDeviceProp_t props{};
  check(hipGetDeviceProperties(&props, device), "hipGetDeviceProperties");
  int memory_khz = 0, bus_bits = 0;
  check(hipDeviceGetAttribute(&memory_khz, hipDeviceAttributeMemoryClockRate, device), "memory clock query");
  check(hipDeviceGetAttribute(&bus_bits, hipDeviceAttributeMemoryBusWidth, device), "memory bus query");
  DeviceInfo info;
  info.name = props.name;
  info.platform = MXG_GPU_PLATFORM_NAME;
  info.multiprocessors = props.multiProcessorCount;
  info.peak_bandwidth_bytes_per_s = 2.0 * memory_khz * 1e3 * (bus_bits / 8.0);
  return info;
}

}  // namespace mxg::gpu
