/* attx.c — the `attx` program: one binary, one subcommand per file. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTX_VERSION "0.1.0"

static const cli_command *const commands[] = {&cmd_predict, &cmd_explain, &cmd_embed, &cmd_similar, &cmd_info, &cmd_convert, &cmd_train,
                                              &cmd_vocab, &cmd_eval, &cmd_tcav, &cmd_tcav_check, &cmd_synth};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out)
{
    fprintf(out, "attx %s — transformer inference, autograd and attention-aware explanations\n\n"
                 "usage: attx COMMAND [ARGS]   (attx COMMAND --help for each)\n\ncommands:\n",
            ATTX_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nMODEL is a Hugging Face model directory or a .safetensors file made by attx.\n"
                 "Exit status: 0 success, 1 bad input, 2 usage error.\n");
}

/* Waiting OpenMP threads sleep (OMP_WAIT_POLICY=passive) unless the user chose how they wait:
 * spinning ones take the cores of a busy machine from the threads that have work (make demo
 * took 11-15 s on a loaded 2-core machine, 0.6-1.5 s with passive waits). libgomp reads its
 * environment in its own constructor, before main and before any constructor of this program,
 * so the variable is set and the program started again, once. Without /proc (exec fails) it
 * carries on as it is. */
static void wait_passively(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    wait_passively(argv);
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (cli_flag(name, "--help") || cli_flag(name, "-h") || cli_flag(name, "help")) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (!attx_cpu_isa_env_valid())
        fprintf(stderr, "attx: ATTX_ISA='%s' is not portable, avx2 or avx512; ignored\n", getenv("ATTX_ISA"));
    if (cli_flag(name, "--version")) {   /* and the kernels this machine runs (ATTX_ISA may lower them) */
        printf("attx %s (%s kernels)\n", ATTX_VERSION, attx_isa_name(attx_cpu_isa()));
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i]->name) != 0) continue;
        for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++)
            if (cli_flag(argv[a], "--help") || cli_flag(argv[a], "-h")) cli_help(commands[i]);
        return commands[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "attx: usage error: unknown command '%s'\nTry 'attx --help'.\n", name);
    return EXIT_USAGE;
}
