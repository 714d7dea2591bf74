/* The tests' shared harness: checks that count and print, a seeded RNG, backends present,
 * and the closing "N passed, N failed, N skipped" line every test program prints. */
#ifndef MLXN_TEST_HARNESS_H
#define MLXN_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include "mlxn.h"

extern int t_passed, t_failed, t_skipped;

/* One check: prints "FAIL file:line: what" on failure, counts either way; returns cond. */
#define CHECK(cond, ...) t_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
int t_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Expects call to return want; prints the status and mlxn_last_error otherwise. */
#define CHECK_ST(call, want) t_check_status((call), (want), #call, __FILE__, __LINE__)
int t_check_status(mlxn_status got, mlxn_status want, const char *expr, const char *file, int line);

void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the closing line; returns the exit code: 1 if any failed, 77 if everything was
 * skipped, else 0. */
int t_finish(const char *prog);

/* xoshiro128+-style seeded generator. */
typedef struct t_rng { uint64_t s; } t_rng;
uint64_t t_rng_u64(t_rng *r);
float t_rng_uniform(t_rng *r, float lo, float hi);
float t_rng_normal(t_rng *r);

#endif
