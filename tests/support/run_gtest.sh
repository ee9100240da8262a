#!/usr/bin/env bash
# Runs one gtest binary for ctest (the tests' CROSSCOMPILING_EMULATOR, which
# gtest_discover_tests puts before every test command and the discovery).
#
# Why: CMake 3.25's gtest_discover_tests always adds the skip pattern
# "[  SKIPPED ]", and ctest appends skip patterns rather than replacing them.
# gtest prints that marker for every test of a suite whose SetUpTestSuite
# failed, so a suite whose seed data failed to load was reported "Skipped"
# and counted as passed. This runner rewrites gtest's marker, so a test is
# skipped only when it says "APIMETER_TEST_SKIPPED: why" (tests/CMakeLists.txt)
# and a failed suite set-up fails its tests. The exit code is the binary's.
"$@" 2>&1 | sed -u 's/\[  SKIPPED \]/[ skipped  ]/g'
exit "${PIPESTATUS[0]}"
