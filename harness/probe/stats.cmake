# mxg_probe_stats: Wilson interval, Wald SPRT, exact McNemar, questions-to-verdict (Monte Carlo and
# exact). Included from CMakeLists.txt. Boost.Math is header-only; Debian's Boost 1.74 config
# provides Boost::headers.
add_library(mxg_probe_stats STATIC ${CMAKE_CURRENT_SOURCE_DIR}/stats.cpp ${CMAKE_CURRENT_SOURCE_DIR}/gate.cpp)
target_include_directories(mxg_probe_stats PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(mxg_probe_stats PUBLIC mxg_flags PRIVATE Boost::headers fmt::fmt)
mxg_add_test(NAME probe_stats_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/stats_test.cpp LIBS mxg_probe_stats)
mxg_add_test(NAME probe_gate_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/gate_test.cpp LIBS mxg_probe_stats Boost::headers)
