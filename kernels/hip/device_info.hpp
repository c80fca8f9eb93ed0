// What the GPU backend needs to know about the device it runs on: whether one exists, its name
// (BackendInfo.device) and the peak memory bandwidth the benchmark compares against.
#pragma once

#include <string>

namespace mxg::gpu {

struct DeviceInfo {
  std::string name;
  std::string platform;  // "cuda" or "hip": which runtime this build uses
  int multiprocessors = 0;
  double peak_bandwidth_bytes_per_s = 0;  // memory clock x bus width x 2 (double data rate)
};

// Devices the runtime sees; 0 when there is no device or no driver (never throws).
int device_count();
// The current device; InfraError when there is none.
DeviceInfo current_device();

}  // namespace mxg::gpu
