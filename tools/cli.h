/* The mlxn command's subcommands: each takes argv from its own name on, returns the exit code. */
#ifndef MLXN_CLI_H
#define MLXN_CLI_H

int mlxn_cmd_info(int argc, char **argv);
int mlxn_cmd_demo(int argc, char **argv);
int mlxn_cmd_inspect(int argc, char **argv);

/* Prints "mlxn <cmd>: <what failed>: <status>: <last error>" to stderr; returns 1. */
int mlxn_cli_fail(const char *cmd, const char *what, int status);

#endif
