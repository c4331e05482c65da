/* harness_int.h — internals shared by the harness's files. */
#ifndef BATON_HARNESS_INT_H
#define BATON_HARNESS_INT_H

#include "harness.h"

typedef struct {
    uid_t run_as_uid; /* > 0: setgid/setuid to this user in the child before exec */
    gid_t run_as_gid;
    const char *cwd; /* NULL: the tmp dir */
} harness_spawn_opts_t;

void harness__init(void);
void harness__sleep_ms(int ms);
pid_t harness__spawn_ex(const char *name, char *const argv[], char *const envp_extra[],
                        const char *log_path, const harness_spawn_opts_t *o);
int harness__wait_group_gone(pid_t pgid, int timeout_ms);
/* "harness: <what> (log <log>)" and the log's tail on stderr. */
void harness__report_failure(const char *what, pid_t pid, const char *log);
/* Poll ready(ctx) every 20 ms until it returns non-zero; fail early (with the log's tail)
 * when pid exits, or after timeout_ms (then the process is stopped). 0 or negative. */
int harness__wait_ready(pid_t pid, const char *what, const char *log, int timeout_ms,
                        int (*ready)(void *), void *ctx);
/* Connect to 127.0.0.1:port with a socket timeout; fd or -1. */
int harness__connect(int port, int timeout_ms);

#endif
