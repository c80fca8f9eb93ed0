# ggml (llama.cpp's tensor library) as an optional dependency: the production kernel of the ggml
# kernel family. Its source is not in this repository; ci/fetch-llama-cpp puts a verified copy in
# .deps/llama.cpp. With the source, ggml's CPU backend is built (only the targets we link) and
# MXG_HAVE_GGML is ON; without it one line says so and the rest of mxguard builds as before.
#
#   MXG_GGML_SOURCE   llama.cpp checkout (CMake or environment variable); default .deps/llama.cpp
#   MXG_HAVE_GGML     result: ON when the ggml target exists (kernels/ggml is then built, and
#                     targets linking mxg_ggml see the compile definition MXG_HAVE_GGML=1)

set(_mxg_ggml_default "${CMAKE_SOURCE_DIR}/.deps/llama.cpp")
if(DEFINED ENV{MXG_GGML_SOURCE} AND NOT "$ENV{MXG_GGML_SOURCE}" STREQUAL "")
  set(_mxg_ggml_default "$ENV{MXG_GGML_SOURCE}")
endif()
set(MXG_GGML_SOURCE "${_mxg_ggml_default}" CACHE PATH "llama.cpp source tree providing ggml")
unset(_mxg_ggml_default)

set(MXG_HAVE_GGML OFF)
# llama.cpp's root, not its ggml/ folder: ggml alone does not configure from this tree (it needs
# files the root provides), so the root is added with everything but ggml switched off.
if(NOT EXISTS "${MXG_GGML_SOURCE}/CMakeLists.txt" OR NOT EXISTS "${MXG_GGML_SOURCE}/ggml/include/ggml.h")
  message(STATUS "ggml backend absent: no llama.cpp source at ${MXG_GGML_SOURCE}; run ci/fetch-llama-cpp")
  return()
endif()

# A function gives ggml its own variable scope: what is set here reaches llama.cpp's directories
# and nothing of ours.
function(mxg_add_llama_cpp)
  set(BUILD_SHARED_LIBS OFF)
  set(LLAMA_BUILD_TESTS OFF)
  set(LLAMA_BUILD_EXAMPLES OFF)
  set(LLAMA_BUILD_TOOLS OFF)
  set(LLAMA_BUILD_SERVER OFF)
  set(LLAMA_BUILD_COMMON OFF)
  set(LLAMA_BUILD_APP OFF)
  set(LLAMA_OPENSSL OFF)
  # The CPU backend only; GGML_NATIVE follows our MXG_NATIVE unless the cache says otherwise.
  # Off, ggml still compiles its AVX2/FMA/F16C code (its default instruction set), so the MXFP4
  # repack kernels exist either way.
  if(NOT DEFINED CACHE{GGML_NATIVE})
    set(GGML_NATIVE ${MXG_NATIVE})
  endif()
  set(GGML_CUDA OFF)
  set(GGML_HIP OFF)
  set(GGML_METAL OFF)
  set(GGML_VULKAN OFF)
  set(GGML_BACKEND_DL OFF)
  # ggml brings its own warning flags; ours (the mxg_flags interface) never reach its targets.
  set(LLAMA_FATAL_WARNINGS OFF)
  # ccache for ggml's C sources too when the build uses it for C++.
  if(CMAKE_CXX_COMPILER_LAUNCHER AND NOT CMAKE_C_COMPILER_LAUNCHER)
    set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_CXX_COMPILER_LAUNCHER})
  endif()
  # Sanitizer and debug builds instrument our code, not ggml's: ggml is a dependency we test,
  # compiled optimised (with its asserts) so that sanitizer test runs stay fast.
  if(CMAKE_BUILD_TYPE STREQUAL "Debug")
    set(CMAKE_C_FLAGS_DEBUG "-O2 -g")
    set(CMAKE_CXX_FLAGS_DEBUG "-O2 -g")
  endif()
  add_subdirectory("${MXG_GGML_SOURCE}" "${CMAKE_BINARY_DIR}/_deps/llama.cpp" EXCLUDE_FROM_ALL SYSTEM)
endfunction()

mxg_add_llama_cpp()

if(NOT TARGET ggml)
  message(STATUS "ggml backend absent: ${MXG_GGML_SOURCE} did not define the ggml target; run ci/fetch-llama-cpp")
  return()
endif()
set(MXG_HAVE_GGML ON)
message(STATUS "ggml backend: CPU, from ${MXG_GGML_SOURCE}")
