# Writes one CTest test per GoogleTest suite of the unit-test binary (run after each link of
# crest_tests; tests/CMakeLists.txt). Each unit-test process pays about 0.6 s to load and
# initialise LibTorch on a 2-core machine; one process per test, as gtest_discover_tests makes,
# spent about 190 s of the suite's CPU time on that alone. A suite's tests share a fixture and
# are written to run in sequence in one process, as `crest_tests` runs them all.
#
# Inputs (-D): TEST_EXECUTABLE, WORKING_DIR, SOURCE_DIR, CTEST_FILE.
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${WORKING_DIR}"
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE listing_err
  RESULT_VARIABLE listing_rc
  TIMEOUT 120)
if(NOT listing_rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${listing_rc}):\n"
                      "${listing}${listing_err}")
endif()

# The listing names each suite on an unindented line ending in '.' (a typed or parameterised
# suite may be followed by "  # TypeParam = ..."), then its tests, indented.
string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(suites "")
foreach(line IN LISTS lines)
  # A DISABLED_ suite runs nothing; GoogleTest reports its tests as disabled in every run.
  if(line MATCHES "^([^ #][^ ]*)\\.( |$)")
    set(suite "${CMAKE_MATCH_1}")
    if(NOT suite MATCHES "(^|/)DISABLED_")
      list(APPEND suites "${suite}")
    endif()
  endif()
endforeach()
list(LENGTH suites count)
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests listed no test suites")
endif()

set(content "# Written by tests/unit_suites.cmake from `crest_tests --gtest_list_tests`.\n")
foreach(suite IN LISTS suites)
  string(APPEND content
    "add_test([=[unit.${suite}]=] [==[${TEST_EXECUTABLE}]==] [=[--gtest_filter=${suite}.*]=])\n"
    "set_tests_properties([=[unit.${suite}]=] PROPERTIES WORKING_DIRECTORY [==[${WORKING_DIR}]==]"
    " ENVIRONMENT [==[CREST_SOURCE_DIR=${SOURCE_DIR}]==] LABELS unit)\n")
endforeach()
file(WRITE "${CTEST_FILE}.new" "${content}")
file(RENAME "${CTEST_FILE}.new" "${CTEST_FILE}")
