/* main.c: the jepatok command-line tool: one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jepatok COMMAND [OPTIONS]\n"
            "\n"
            "Speech tokenizer: 24 kHz speech <-> 47.5 tokens/s (640 bit/s).\n"
            "\n"
            "commands:\n"
            "  encode     speech to tokens (.jtok, optionally .npy)\n"
            "  decode     tokens back to speech\n"
            "  roundtrip  encode and decode, with rates, real-time factor, STOI and ESTOI\n"
            "  train      train stage 1 (the encoder) or stage 2 (the decoder)\n"
            "  export     rewrite a model file (e.g. as float16 for shipping) or average several\n"
            "  spectrogram  picture of the spectrograms of several files, stacked\n"
            "  info       sizes, cost and rates of a configuration\n"
            "  devices    compute devices of every backend (cpu, opencl, vulkan)\n"
            "  bench      measure the compute layer (GEMM, convolutions, memory planning)\n"
            "  eval       score decoded speech against references (STOI, ESTOI, mel, SI-SDR, MR-STFT)\n"
            "\n"
            "  jepatok COMMAND --help   options of a command\n"
            "  jepatok --version        print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("jepatok %s\n", JT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "encode") == 0)
        return jt_cmd_encode(argc - 1, argv + 1);
    if (strcmp(cmd, "decode") == 0)
        return jt_cmd_decode(argc - 1, argv + 1);
    if (strcmp(cmd, "roundtrip") == 0)
        return jt_cmd_roundtrip(argc - 1, argv + 1);
    if (strcmp(cmd, "spectrogram") == 0)
        return jt_cmd_spectrogram(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return jt_cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0)
        return jt_cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "devices") == 0)
        return jt_cmd_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0)
        return jt_cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return jt_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return jt_cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "jepatok: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
