/* platform.h - the few things the CLI asks of the OS beyond C99, for POSIX and Windows:
   UTF-8 arguments and file names, "is this a terminal", "are these two paths one file". */
#include <stdio.h>
#ifndef BITNET_CLI_PLATFORM_H
#define BITNET_CLI_PLATFORM_H
#include <stdlib.h>
#if defined(_WIN32)
#  if !defined(WIN32_LEAN_AND_MEAN)
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#  include <shellapi.h>
#  include <io.h>
#  if defined(_MSC_VER)
#    pragma comment(lib, "shell32.lib")
#  endif
#else
#  include <sys/stat.h>
#  include <unistd.h>
#endif

/* Windows hands main() its arguments in the ANSI code page; the library takes UTF-8 paths.
   Replaces argv by UTF-8 copies of the wide command line (kept for the life of the process)
   and prints UTF-8 to a console. Nothing to do elsewhere. */
static inline void cli_utf8_args(int *argc, char ***argv) {
#if defined(_WIN32)
    int n = 0, i;
    wchar_t **wide = CommandLineToArgvW(GetCommandLineW(), &n);
    char **out = wide && n > 0 ? (char **)calloc((size_t)n + 1, sizeof *out) : NULL;
    for (i = 0; out && i < n; i++) {
        int len = WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, NULL, 0, NULL, NULL);
        out[i] = len > 0 ? (char *)malloc((size_t)len) : NULL;
        if (!out[i] || WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, out[i], len, NULL, NULL) != len) out = NULL;
    }
    if (wide) LocalFree(wide);
    if (out) { *argc = n; *argv = out; }           /* else keep the ANSI ones */
    if (GetFileType(GetStdHandle(STD_OUTPUT_HANDLE)) == FILE_TYPE_CHAR) SetConsoleOutputCP(CP_UTF8);
#else
    (void)argc; (void)argv;
#endif
}

#if defined(_WIN32)
/* UTF-8 -> UTF-16 for the W functions; 0 when not valid UTF-8 or too long. */
static inline int cli_wide(const char *utf8, wchar_t *out, int cap) {
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, out, cap) > 0;
}
#endif

/* fopen and remove with UTF-8 names (Windows' own take the ANSI code page). */
static inline FILE *cli_fopen(const char *path, const char *mode) {
#if defined(_WIN32)
    wchar_t wpath[4096], wmode[8];
    if (!cli_wide(path, wpath, 4096) || !cli_wide(mode, wmode, 8)) return NULL;
    return _wfopen(wpath, wmode);
#else
    return fopen(path, mode);
#endif
}

static inline int cli_remove(const char *path) {
#if defined(_WIN32)
    wchar_t wpath[4096];
    return cli_wide(path, wpath, 4096) ? _wremove(wpath) : -1;
#else
    return remove(path);
#endif
}

static inline int cli_isatty(int fd) {
#if defined(_WIN32)
    return _isatty(fd);
#else
    return isatty(fd);
#endif
}

#if defined(_WIN32)
/* The volume and file index of an existing file (UTF-8 path); 0 if it cannot be opened. */
static inline int cli_file_id(const char *path, BY_HANDLE_FILE_INFORMATION *info) {
    wchar_t wide[4096];
    HANDLE h;
    int ok;
    if (!cli_wide(path, wide, 4096)) return 0;
    h = CreateFileW(wide, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h == INVALID_HANDLE_VALUE) return 0;
    ok = GetFileInformationByHandle(h, info) != 0;
    CloseHandle(h);
    return ok;
}
#endif

/* 1 when both paths exist and name the same file (links and different spellings included). */
static inline int cli_same_file(const char *a, const char *b) {
#if defined(_WIN32)
    BY_HANDLE_FILE_INFORMATION ia, ib;
    return cli_file_id(a, &ia) && cli_file_id(b, &ib) && ia.dwVolumeSerialNumber == ib.dwVolumeSerialNumber &&
           ia.nFileIndexHigh == ib.nFileIndexHigh && ia.nFileIndexLow == ib.nFileIndexLow;
#else
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
#endif
}
#endif
