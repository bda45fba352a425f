/* The CLI's text output and number parsing, unit by unit (tools/bitnet.c compiled in, its main
   renamed): control characters in generated text are made visible for a terminal, numbers are
   parsed strictly, -f's reader handles files, pipes and directories. */
#define main bitnet_cli_main
#include "../tools/bitnet.c"
#undef main
#include "check.h"

/* The commands are not linked in: stubs for the dispatch table. */
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_quantize(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_chat(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_tokenize(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_logits(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_make_model(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_serve(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_perplexity(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_convert(int argc, char **argv) { (void)argc; (void)argv; return 0; }

/* What cli_write_visible writes for `in`, through a temporary file as stdout. */
static int visible(const char *in, size_t n, const char *want) {
    char path[] = "/tmp/bitnet_cli_text_XXXXXX", got[256];
    int fd = mkstemp(path), saved = dup(1), ok;
    size_t len = 0;
    FILE *f;
    if (fd < 0 || saved < 0) return 0;
    fflush(stdout);
    dup2(fd, 1);
    ok = cli_write_visible(in, n);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fd);
    if ((f = fopen(path, "rb")) != NULL) {
        len = fread(got, 1, sizeof got, f);
        fclose(f);
    }
    remove(path);
    return ok && len == strlen(want) && memcmp(got, want, len) == 0;
}

static void test_visible(void) {
    static const char esc[] = "a\x1b]0;pwned\x07 b\x1b[2J\r";
    CHECK(visible("plain text\n\tend", 15, "plain text\n\tend"));
    CHECK(visible(esc, sizeof esc - 1, "a^[]0;pwned^G b^[[2J^M"));
    CHECK(visible("x\x7fy\0z", 5, "x^?y^@z"));
    CHECK(visible("\xc2\x9b" "31m \xc2\xa0", 8, "\xef\xbf\xbd" "31m \xc2\xa0"));   /* C1 CSI; NBSP kept */
    CHECK(visible("\xe2\x96\x81 caf\xc3\xa9", 9, "\xe2\x96\x81 caf\xc3\xa9"));
}

/* stderr to /dev/null and back (the error lines themselves are checked by test_cli_strict.sh). */
static int quiet_begin(void) {
    int saved, fd;
    fflush(stderr);
    saved = dup(2);
    if ((fd = open("/dev/null", O_WRONLY)) >= 0) { dup2(fd, 2); close(fd); }
    return saved;
}

static void quiet_end(int saved) {
    fflush(stderr);
    if (saved >= 0) { dup2(saved, 2); close(saved); }
}

static void test_numbers(void) {
    long long x;
    int i = 7;
    float f = 1;
    uint64_t u = 3;
    int saved = quiet_begin();
    CHECK(cli_parse_i64("-n", "42", 0, 100, &x) && x == 42);
    CHECK(cli_parse_i64("-n", "-5", -10, 10, &x) && x == -5);
    CHECK(!cli_parse_i64("-n", "abc", 0, 100, &x) && !cli_parse_i64("-n", "12abc", 0, 100, &x));
    CHECK(!cli_parse_i64("-n", "", 0, 100, &x) && !cli_parse_i64("-n", " 5", 0, 100, &x));
    CHECK(!cli_parse_i64("-n", "101", 0, 100, &x) && !cli_parse_i64("-n", "99999999999999999999", 0, 100, &x));
    CHECK(cli_parse_int("-t", "1024", 0, 1024, &i) && i == 1024 && !cli_parse_int("-t", "1025", 0, 1024, &i) && i == 1024);
    CHECK(cli_parse_u64("-s", "18446744073709551615", &u) && u == UINT64_MAX);
    CHECK(!cli_parse_u64("-s", "18446744073709551616", &u) && !cli_parse_u64("-s", "-1", &u) && !cli_parse_u64("-s", "+1", &u));
    CHECK(cli_parse_float("--temp", "0.5", 0, 100, &f) && f == 0.5f);
    CHECK(!cli_parse_float("--temp", "nan", 0, 100, &f) && !cli_parse_float("--temp", "inf", 0, 100, &f));
    CHECK(!cli_parse_float("--temp", "1e999", 0, 100, &f) && !cli_parse_float("--temp", "0.5x", 0, 100, &f));
    CHECK(!cli_parse_float("--top-p", "-0.1", 0, 1, &f) && f == 0.5f);
    quiet_end(saved);
}

static void test_read_file(void) {
    char path[] = "/tmp/bitnet_cli_file_XXXXXX";
    int fd = mkstemp(path);
    size_t n = 0;
    char *text;
    int saved;
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, "one\0two\n", 8) == 8);
    close(fd);
    text = cli_read_file("-f", path, &n);
    CHECK(text && n == 8 && memcmp(text, "one\0two\n", 8) == 0 && text[8] == 0);
    free(text);
    remove(path);
    saved = quiet_begin();
    CHECK(cli_read_file("-f", path, &n) == NULL);          /* gone */
    CHECK(cli_read_file("-f", "/tmp", &n) == NULL);        /* a directory */
    quiet_end(saved);
    CHECK(cli_available_cpus() >= 1 && cli_available_cpus() <= bitnet_online_cores());
}

int main(void) {
    test_visible();
    test_numbers();
    test_read_file();
    return check_report("cli_text");
}
