#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "harness.h"

int t_passed, t_failed, t_skipped;

int t_check(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        t_passed++;
        return 1;
    }
    t_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "FAIL %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
    fflush(stdout);
    return 0;
}

int t_check_status(mlxn_status got, mlxn_status want, const char *expr, const char *file, int line) {
    t_check(got == want, file, line, "%s returned %s, want %s (%s)", expr, mlxn_status_str(got),
            mlxn_status_str(want), mlxn_last_error());
    return got == want;
}

void t_skip(const char *fmt, ...) {
    t_skipped++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "skip: ");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
}

int t_finish(const char *prog) {
    printf("%s: %d passed, %d failed, %d skipped\n", prog, t_passed, t_failed, t_skipped);
    if (t_failed) return 1;
    if (t_passed == 0 && t_skipped > 0) return 77;
    return 0;
}

uint64_t t_rng_u64(t_rng *r) {
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float t_rng_uniform(t_rng *r, float lo, float hi) {
    double u = (double)(t_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

float t_rng_normal(t_rng *r) {
    double u1 = ((double)(t_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(t_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

#include "backends.h"

void t_each_backend(void (*fn)(mlxn_device *dev)) {
    const mlxn_backend bs[2] = {MLXN_BACKEND_CPU, MLXN_BACKEND_CUDA};
    for (int i = 0; i < 2; i++) {
        int n = 0;
        mlxn_device_count(bs[i], &n);
        if (n == 0) {
            t_skip("%s: no device here (%s)", mlxn_backend_name(bs[i]), mlxn_last_error());
            continue;
        }
        mlxn_device *dev = NULL;
        if (!CHECK_ST(mlxn_device_open(bs[i], 0, &dev), MLXN_OK)) continue;
        fn(dev);
        mlxn_device_close(dev);
    }
}
