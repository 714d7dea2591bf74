/* The mlxn command's subcommands: each takes argv from its own name on, returns the exit code. */
#ifndef MLXN_CLI_H
#define MLXN_CLI_H

int mlxn_cmd_info(int argc, char **argv);
int mlxn_cmd_demo(int argc, char **argv);
int mlxn_cmd_inspect(int argc, char **argv);
/* mlxn bench attention (argv[0] = "attention") */
int mlxn_bench_attention(int argc, char **argv);
/* mlxn bench <op>: dispatches to the mlxn_bench_* below (tools/cmd_bench.c) */
int mlxn_cmd_bench(int argc, char **argv);
/* mlxn bench qmatmul (argv[0] = "qmatmul") */
int mlxn_bench_qmatmul(int argc, char **argv);
/* mlxn bench ops (argv[0] = "ops") */
int mlxn_bench_ops(int argc, char **argv);

/* Prints "mlxn <cmd>: <what failed>: <status>: <last error>" to stderr; returns 1. */
int mlxn_cli_fail(const char *cmd, const char *what, int status);

#endif
