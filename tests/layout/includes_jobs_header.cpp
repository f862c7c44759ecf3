// Compiled by tests/layout/CMakeLists.txt once with runtime/jobs' include roots, where it must
// build, and once with kernels', where it must not: the roots alone decide.
#include "runtime/jobs/document_job.h"
