/* nit_smtp.c — a minimal SMTP sink for the notifier's integration cases (see nit_util.h):
 * one session at a time on a thread, EHLO/HELO, MAIL, RCPT, DATA, QUIT; the last message is
 * kept. */
#include "nit_util.h"

#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the SMTP sink */

static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r <= 0)
            return -1;
        buf[n++] = c;
        if (c == '\n')
            break;
    }
    buf[n] = 0;
    return (int)n;
}

static void say(int fd, const char *s)
{
    ssize_t r = send(fd, s, strlen(s), MSG_NOSIGNAL);
    (void)r;
}

/* One SMTP session: EHLO/HELO, MAIL, RCPT, DATA ... ".", QUIT. */
static void smtp_session(nit_smtp_t *m, int fd)
{
    char line[2048];
    say(fd, "220 sink ESMTP\r\n");
    while (read_line(fd, line, sizeof line) > 0) {
        if (strncasecmp(line, "EHLO", 4) == 0) {
            say(fd, "250-sink\r\n250 8BITMIME\r\n");
        } else if (strncasecmp(line, "HELO", 4) == 0) {
            say(fd, "250 sink\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            pthread_mutex_lock(&m->lock);
            baton_strlcpy(m->mail_from, line + 10, sizeof m->mail_from);
            m->mail_from[strcspn(m->mail_from, "\r\n ")] = 0;
            pthread_mutex_unlock(&m->lock);
            say(fd, "250 OK\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            pthread_mutex_lock(&m->lock);
            baton_strlcpy(m->rcpt_to, line + 8, sizeof m->rcpt_to);
            m->rcpt_to[strcspn(m->rcpt_to, "\r\n ")] = 0;
            pthread_mutex_unlock(&m->lock);
            say(fd, "250 OK\r\n");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            say(fd, "354 go ahead\r\n");
            baton_buf_t b = BATON_BUF_INIT;
            while (read_line(fd, line, sizeof line) > 0 && strcmp(line, ".\r\n") != 0)
                baton_buf_puts(&b, line);
            pthread_mutex_lock(&m->lock);
            free(m->data);
            m->data = baton_buf_steal(&b);
            m->messages++;
            pthread_mutex_unlock(&m->lock);
            say(fd, "250 queued\r\n");
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            say(fd, "221 bye\r\n");
            break;
        } else if (strncasecmp(line, "RSET", 4) == 0 || strncasecmp(line, "NOOP", 4) == 0) {
            say(fd, "250 OK\r\n");
        } else {
            say(fd, "502 not implemented\r\n");
        }
    }
    close(fd);
}

static void *smtp_main(void *arg)
{
    nit_smtp_t *m = arg;
    while (!m->stop) {
        fd_set rs;
        FD_ZERO(&rs);
        FD_SET(m->fd, &rs);
        struct timeval tv = {0, 50000};
        if (select(m->fd + 1, &rs, NULL, NULL, &tv) <= 0)
            continue;
        int c = accept(m->fd, NULL, NULL);
        if (c >= 0) {
            struct timeval to = {5, 0};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof to);
            smtp_session(m, c);
        }
    }
    return NULL;
}

void nit_smtp_start(nit_smtp_t *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ_INT(bind(m->fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ_INT(listen(m->fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(m->fd, (struct sockaddr *)&a, &len);
    m->port = ntohs(a.sin_port);
    ASSERT_EQ_INT(pthread_create(&m->th, NULL, smtp_main, m), 0);
}

void nit_smtp_stop(nit_smtp_t *m)
{
    m->stop = 1;
    pthread_join(m->th, NULL);
    close(m->fd);
    free(m->data);
    pthread_mutex_destroy(&m->lock);
}
