# harness/standin: mxg_standin, the stand-in GSM8K server behind `mxguard standin`, and its tests.
add_library(mxg_standin STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/options.cpp          # validate(): option ranges -> InputError
  ${CMAKE_CURRENT_SOURCE_DIR}/draws.cpp            # hash-based draws: correctness, faults, answer style
  ${CMAKE_CURRENT_SOURCE_DIR}/answer_writer.cpp    # the response texts (worked solution, wrong, rambling, degenerate)
  ${CMAKE_CURRENT_SOURCE_DIR}/fault_plan.cpp       # which fault a generation request gets
  ${CMAKE_CURRENT_SOURCE_DIR}/pipelining_server.cpp # every request of a pipelined connection answered
  ${CMAKE_CURRENT_SOURCE_DIR}/question_index.cpp   # which known question a prompt asks (own logic, not the probe's)
  ${CMAKE_CURRENT_SOURCE_DIR}/request_parse.cpp    # the three request shapes -> prompt, limit, stops
  ${CMAKE_CURRENT_SOURCE_DIR}/generation.cpp       # word counts, stop strings, token limits, finish reasons
  ${CMAKE_CURRENT_SOURCE_DIR}/response_shapes.cpp  # SGLang / OpenAI JSON bodies and error bodies
  ${CMAKE_CURRENT_SOURCE_DIR}/stats_recorder.cpp   # thread-safe StandinStats
  ${CMAKE_CURRENT_SOURCE_DIR}/standin_server.cpp)  # routing, faults applied, lifecycle
target_include_directories(mxg_standin PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(mxg_standin
  PUBLIC mxg_flags mxg_common mxg_probe_data
  PRIVATE PkgConfig::HTTPLIB nlohmann_json::nlohmann_json fmt::fmt)

mxg_add_test(NAME standin_test
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/options_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/answers_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/endpoints_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/faults_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/question_index_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/pipelining_test.cpp
  LIBS mxg_standin PkgConfig::HTTPLIB nlohmann_json::nlohmann_json fmt::fmt)
mxg_add_test(NAME standin_fuzz_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/request_fuzz_test.cpp LIBS mxg_standin)
