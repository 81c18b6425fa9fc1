/* cli.h: the jepatok command-line tool's subcommands. */
#ifndef JT_CLI_H
#define JT_CLI_H

/* Each returns the process exit status (0 success, 1 failure, 2 usage). */
int jt_cmd_bench(int argc, char **argv);

#endif
