# ci/bisect's acceptance test: `git bisect run ci/bisect` over a throwaway history must name the
# commit that planted a gate/up layout bug, skip the one that does not build, and abort (never
# mark bad) on infrastructure failures, bad input and a missing mxguard. Needs git and bash.
add_test(NAME ci_bisect
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/bisect_test.sh $<TARGET_FILE:mxguard> ${PROJECT_SOURCE_DIR})
set_tests_properties(ci_bisect PROPERTIES LABELS unit TIMEOUT 300)
