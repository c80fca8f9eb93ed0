# Included into llama.cpp's configure by ci/build-llama-server (CMAKE_PROJECT_INCLUDE). llama-server
# only serves toy models in our tests, so everything outside ggml (model loading and graph building,
# the tokenizer, the HTTP server, JSON, the unused multimodal library) is compiled without
# optimisation: that roughly halves the first build on 2 shared cores. ggml's kernels keep the
# Release flags, since they do the arithmetic.
if(NOT CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR)
  return()  # ggml's own project() call includes this file too
endif()

function(mxg_unoptimised_targets dir)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(NOT t MATCHES "^ggml" AND type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|EXECUTABLE|SHARED_LIBRARY)$")
      set_property(TARGET ${t} APPEND PROPERTY COMPILE_OPTIONS -O0 -g0)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(d IN LISTS subdirs)
    mxg_unoptimised_targets("${d}")
  endforeach()
endfunction()

function(mxg_unoptimised_all)
  mxg_unoptimised_targets("${CMAKE_SOURCE_DIR}")
endfunction()
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL mxg_unoptimised_all)
