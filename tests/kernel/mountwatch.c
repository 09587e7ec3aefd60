/* mountwatch: run a command and record every change to a mount table while it runs.
 *
 *   mountwatch LOG MOUNTINFO -- COMMAND [ARG...]
 *
 * A before/after snapshot misses a leak that heals itself: with `/` shared, a tmpfs mounted in a
 * sandbox that did not make `/` private appears in the host's table, and the umount that follows
 * propagates too, so the table afterwards equals the table before. The kernel flags every change
 * to a mount namespace's table to poll(2) on its mountinfo file (POLLPRI; the flag stays set until
 * the next poll, so no change goes unnoticed). At each change this appends "# change N" and the
 * whole table to LOG; at the end "# changes N". Exits with COMMAND's exit status (128+signal if
 * killed). Built by scripts/vm-test.sh for the test VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void dump(int table, FILE *log, unsigned long n) {
    char buf[65536];
    ssize_t got;
    fprintf(log, "# change %lu\n", n);
    if (lseek(table, 0, SEEK_SET) < 0) {
        fprintf(log, "# lseek: %s\n", strerror(errno));
        return;
    }
    while ((got = read(table, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)got, log);
    fflush(log);
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: mountwatch LOG MOUNTINFO -- COMMAND [ARG...]\n");
        return 2;
    }
    FILE *log = fopen(argv[1], "w");
    int table = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (!log || table < 0) {
        perror("mountwatch: open");
        return 2;
    }
    /* The first poll reports the table as changed (nothing seen yet): consume that. */
    struct pollfd first = {.fd = table, .events = POLLPRI};
    poll(&first, 1, 0);

    pid_t child = fork();
    if (child < 0) {
        perror("mountwatch: fork");
        return 2;
    }
    if (child == 0) {
        execvp(argv[4], argv + 4);
        fprintf(stderr, "mountwatch: %s: %s\n", argv[4], strerror(errno));
        _exit(127);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    if (pidfd < 0) {
        perror("mountwatch: pidfd_open");
        return 2;
    }
    unsigned long changes = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = table, .events = POLLPRI}, {.fd = pidfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            perror("mountwatch: poll");
            return 2;
        }
        if (p[0].revents & (POLLPRI | POLLERR)) dump(table, log, ++changes);
        if (p[1].revents & POLLIN) break;
    }
    /* A change in the instant before the command exited. */
    struct pollfd last = {.fd = table, .events = POLLPRI};
    if (poll(&last, 1, 0) > 0 && (last.revents & (POLLPRI | POLLERR))) dump(table, log, ++changes);
    fprintf(log, "# changes %lu\n", changes);
    fclose(log);

    int status;
    if (waitpid(child, &status, 0) < 0) {
        perror("mountwatch: waitpid");
        return 2;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
