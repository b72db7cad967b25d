// Compiles nothing of its own: the target built from this file makes the
// precompiled header that unit_tests and integration_tests share
// (tests/CMakeLists.txt), so neither binary waits for the other.
