/* Module tests run on every backend present: CPU always, CUDA where a GPU is; a missing
 * GPU counts as one skip. */
#ifndef MLXN_TEST_BACKENDS_H
#define MLXN_TEST_BACKENDS_H

#include "harness.h"

/* Calls fn(dev) for the CPU and, if present, CUDA device 0. */
void t_each_backend(void (*fn)(mlxn_device *dev));

#endif
