/* cli.h: the jepatok command-line tool's subcommands. */
#ifndef JT_CLI_H
#define JT_CLI_H

#include <stddef.h>

#include "config.h"

/* Each returns the process exit status (0 success, 1 failure, 2 usage). */
int jt_cmd_bench(int argc, char **argv);
int jt_cmd_info(int argc, char **argv);
int jt_cmd_train(int argc, char **argv);
int jt_bench_stage1(int argc, char **argv);
int jt_bench_stage2(int argc, char **argv);
int jt_cmd_devices(int argc, char **argv);
int jt_bench_ops(int argc, char **argv);
int jt_cmd_eval(int argc, char **argv);
int jt_bench_codec(int argc, char **argv);
int jt_cmd_encode(int argc, char **argv);
int jt_cmd_export(int argc, char **argv);
int jt_cmd_spectrogram(int argc, char **argv);
int jt_cmd_decode(int argc, char **argv);
int jt_cmd_roundtrip(int argc, char **argv);

/* Shared option parsing: a preset name, or a JSON file of overrides on
 * top of the small configuration.  0, or -1 with a message. */
int jt_cli_config(const char *arg, jt_config *c, char *err, size_t errlen);

#endif
