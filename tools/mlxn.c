/* The mlxn command: a dispatcher over the subcommands in tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "mlxn.h"
#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"info", mlxn_cmd_info, "version, build options, backends and devices"},
    {"demo", mlxn_cmd_demo, "run the elementwise ops on every present backend and print the results"},
    {"inspect", mlxn_cmd_inspect, "metadata and tensors of a GGUF or safetensors file (--json, --full, --upload)"},
    {"bench", mlxn_cmd_bench, "time ops on real model shapes against same-run ceilings (mlxn bench qmatmul ...)"},
};

int mlxn_cli_fail(const char *cmd, const char *what, int status) {
    fprintf(stderr, "mlxn %s: %s: %s: %s\n", cmd, what, mlxn_status_str((mlxn_status)status), mlxn_last_error());
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: mlxn <command> [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nmlxn %s\n", mlxn_version());
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mlxn %s\n", mlxn_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mlxn: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
