/* serve.c — attx-serve, a loopback-only static file server for the live teaching page (browsers
 * load WebAssembly over HTTP only) and for `make test-web`: serves the files under DIR (default
 * the current directory) to GET requests on 127.0.0.1 only, until it is killed. One request at
 * a time; paths with ".." are refused. The port: PORT, or with 0 a free one, written to
 * PORT_FILE once the socket listens (or printed, with PORT_FILE "-").
 *   usage: attx-serve PORT|0 PORT_FILE|- [DIR] */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript";
    if (!strcmp(dot, ".wasm")) return "application/wasm";
    if (!strcmp(dot, ".css")) return "text/css";
    if (!strcmp(dot, ".png")) return "image/png";
    return "application/octet-stream";
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) return;
        p += w;
        len -= (size_t)w;
    }
}

static void reply(int fd, const char *status, const char *type, const void *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                        "Connection: close\r\n\r\n", status, type, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* One request: "GET /path?query HTTP/1.x" */
static void serve(int fd)
{
    char req[8192];
    ssize_t got = read(fd, req, sizeof req - 1);
    if (got <= 0) return;
    req[got] = 0;
    char path[4096];
    if (sscanf(req, "GET %4095s", path) != 1) {
        reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
        return;
    }
    char *q = strchr(path, '?');
    if (q) *q = 0;
    const char *rel = path[0] == '/' ? path + 1 : path;
    struct stat st;
    if (strstr(rel, "..") || !*rel || stat(rel, &st) != 0 || !S_ISREG(st.st_mode)) {
        reply(fd, "404 Not Found", "text/plain", "not found\n", 10);
        return;
    }
    FILE *f = fopen(rel, "rb");
    char *body = malloc((size_t)st.st_size + 1);
    size_t len = f && body ? fread(body, 1, (size_t)st.st_size, f) : 0;
    if (f) fclose(f);
    if (!body || len != (size_t)st.st_size) reply(fd, "500 Internal Server Error", "text/plain", "read\n", 5);
    else reply(fd, "200 OK", content_type(rel), body, len);
    free(body);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: attx-serve PORT|0 PORT_FILE|- [DIR]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    if (port < 0 || port > 65535) {
        fprintf(stderr, "attx-serve: bad port '%s'\n", argv[1]);
        return 2;
    }
    if (argc == 4 && chdir(argv[3]) != 0) {
        perror(argv[3]);
        return 1;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   /* nothing beyond 127.0.0.1 */
    socklen_t alen = sizeof addr;
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&addr, &alen) != 0) {
        perror("attx-serve");
        return 1;
    }
    if (!strcmp(argv[2], "-")) {
        printf("attx-serve: http://127.0.0.1:%d/ (Ctrl-C stops it)\n", ntohs(addr.sin_port));
        fflush(stdout);
    } else {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
        FILE *pf = fopen(tmp, "w");
        if (!pf) {
            perror(tmp);
            return 1;
        }
        fprintf(pf, "%d\n", ntohs(addr.sin_port));
        fclose(pf);
        rename(tmp, argv[2]);   /* the port appears whole, once the socket listens */
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
}
