# `mxguard probe` against llama.cpp's llama-server (ci/tests/llama_server_test.py). Label `slow`:
# building llama-server from source takes tens of minutes on 2 cores the first time (then it is
# cached in .deps/llama-server-build and the check is free); the tests themselves take about a minute.
# Both skip (exit 77) when the llama.cpp source cannot be had. Run them with
#   ctest --test-dir build/default -L slow -R llama_server
set(MXG_LLAMA_SERVER_SOURCE "${MXG_GGML_SOURCE}" CACHE PATH
    "llama.cpp source tree llama-server is built from (default: MXG_GGML_SOURCE)")
if(Python3_FOUND AND TARGET mxguard)
  set(_mxg_llama_env "PYTHONDONTWRITEBYTECODE=1;MXGUARD=$<TARGET_FILE:mxguard>;MXG_SOURCE=${PROJECT_SOURCE_DIR}")
  if(NOT "${MXG_LLAMA_SERVER_SOURCE}" STREQUAL "")
    string(APPEND _mxg_llama_env ";MXG_GGML_SOURCE=${MXG_LLAMA_SERVER_SOURCE}")
  endif()
  add_test(NAME llama_server_build COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/llama_server_test.py build)
  set_tests_properties(llama_server_build PROPERTIES LABELS slow TIMEOUT 7200 SKIP_RETURN_CODE 77
    FIXTURES_SETUP llama_server ENVIRONMENT "${_mxg_llama_env}")
  add_test(NAME llama_server_probe COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/llama_server_test.py -v)
  set_tests_properties(llama_server_probe PROPERTIES LABELS "slow;probe" TIMEOUT 1800 SKIP_RETURN_CODE 77
    FIXTURES_REQUIRED llama_server ENVIRONMENT "${_mxg_llama_env}")
endif()
