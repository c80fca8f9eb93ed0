# GPU toolchain for kernels/hip, chosen by MXG_GPU (hip | cuda). Defines
#   MXG_GPU_RUNTIME   the runtime library target (CUDA::cudart or hip::host)
#   MXG_GPU_DEFINE    MXG_GPU_CUDA or MXG_GPU_HIP, the macro gpu_runtime.hpp switches on
#   mxg_gpu_sources(<target> <files>...)  compiles GPU sources (.hip) into <target>
# hip: CMake's HIP language where it can drive the installed compiler (ROCm under /opt/rocm);
# otherwise hipcc through a custom command. Debian 12's ROCm 5.2 is such a case: CMake 3.25 looks
# for hip-lang-config.cmake under <root>/lib/cmake, Debian installs it under lib/x86_64-linux-gnu.
# cuda: the same sources compiled as CUDA by nvcc.

if(MXG_GPU STREQUAL "cuda")
  enable_language(CUDA)
  # The project's C++20 requirement carries over to CUDA sources. CMake releases older than the
  # installed nvcc (3.25 with nvcc 13) do not know nvcc's C++20 flag; nvcc 12+ takes -std=c++20.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  endif()
  find_package(CUDAToolkit REQUIRED)
  set(MXG_GPU_RUNTIME CUDA::cudart)
  set(MXG_GPU_DEFINE MXG_GPU_CUDA)
elseif(MXG_GPU STREQUAL "hip")
  include(CheckLanguage)
  check_language(HIP)
  find_package(hip CONFIG REQUIRED)
  if(CMAKE_HIP_COMPILER)
    enable_language(HIP)
    set(MXG_GPU_HIP_MODE language)
  else()
    find_program(MXG_HIPCC hipcc REQUIRED)
    if(NOT CMAKE_HIP_ARCHITECTURES)
      message(FATAL_ERROR "MXG_GPU=hip with ${MXG_HIPCC}: set CMAKE_HIP_ARCHITECTURES (e.g. gfx942;gfx950)")
    endif()
    set(MXG_GPU_HIP_MODE hipcc)
    message(STATUS "GPU sources: CMake cannot use a HIP compiler here; compiling them with ${MXG_HIPCC} "
                   "for ${CMAKE_HIP_ARCHITECTURES}")
  endif()
  set(MXG_GPU_RUNTIME hip::host)
  set(MXG_GPU_DEFINE MXG_GPU_HIP)
else()
  message(FATAL_ERROR "MXG_GPU is '${MXG_GPU}'; kernels/hip needs hip or cuda")
endif()

function(mxg_gpu_sources target)
  foreach(src IN LISTS ARGN)
    get_filename_component(path ${src} ABSOLUTE)
    if(MXG_GPU STREQUAL "cuda")
      set_source_files_properties(${path} PROPERTIES LANGUAGE CUDA)
      target_sources(${target} PRIVATE ${path})
    elseif(MXG_GPU_HIP_MODE STREQUAL "language")
      set_source_files_properties(${path} PROPERTIES LANGUAGE HIP)
      target_sources(${target} PRIVATE ${path})
    else()
      get_filename_component(name ${src} NAME)
      set(object ${CMAKE_CURRENT_BINARY_DIR}/${name}.o)
      set(arch_flags "")
      foreach(arch IN LISTS CMAKE_HIP_ARCHITECTURES)
        list(APPEND arch_flags --offload-arch=${arch})
      endforeach()
      add_custom_command(
        OUTPUT ${object}
        COMMAND ${MXG_HIPCC} -std=c++20 -O3 -fPIC -Wall ${arch_flags} -D${MXG_GPU_DEFINE}=1
                -I${PROJECT_SOURCE_DIR} -MD -MF ${object}.d -c ${path} -o ${object}
        DEPENDS ${path}
        DEPFILE ${object}.d
        COMMENT "hipcc ${name} (${CMAKE_HIP_ARCHITECTURES})"
        VERBATIM)
      set_source_files_properties(${object} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
      target_sources(${target} PRIVATE ${object})
    endif()
  endforeach()
endfunction()
