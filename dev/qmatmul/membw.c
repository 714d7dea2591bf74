/* Streaming-read bandwidth of this machine: T threads sum disjoint parts of a buffer
 * larger than 4x the LLC, with AVX2 loads. cc -O2 -mavx2 -pthread membw.c */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static char *buf; static size_t bytes; static int T;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void *run(void *a) {
    long id = (long)a; size_t part = bytes / T; const __m256i *p = (const __m256i *)(buf + id * part);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < part / 32; i += 4) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256(p + i)); s1 = _mm256_add_epi64(s1, _mm256_load_si256(p + i + 1));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256(p + i + 2)); s3 = _mm256_add_epi64(s3, _mm256_load_si256(p + i + 3));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    return (void *)(long)_mm256_extract_epi64(s0, 0);
}
int main(int argc, char **argv) {
    T = argc > 1 ? atoi(argv[1]) : 2; bytes = (size_t)(argc > 2 ? atof(argv[2]) : 2.0) * (1u << 30);
    buf = aligned_alloc(64, bytes); memset(buf, 1, bytes);
    for (int r = 0; r < 5; r++) {
        pthread_t th[16]; double t0 = now();
        for (long i = 0; i < T; i++) pthread_create(&th[i], 0, run, (void *)i);
        for (int i = 0; i < T; i++) pthread_join(th[i], 0);
        double t = now() - t0; printf("%d threads: %.2f GB/s\n", T, bytes / t / 1e9);
    }
}
