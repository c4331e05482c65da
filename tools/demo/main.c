/* baton-demo — see demo.h. Reads the stack's stack.env variables from the environment:
 *
 *   set -a; . DIR/stack.env; set +a; baton-demo [--duration 120] [--seed 7]
 */
#include "demo.h"

#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t running = 1;
static void on_signal(int sig)
{
    (void)sig;
    running = 0;
}

static const char *need(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "baton-demo: %s is not set (source the stack's stack.env)\n", name);
        exit(2);
    }
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    demo_conf_t c = {.duration_s = 120, .seed = 7, .tty = isatty(1)};
    static const struct option longopts[] = {{"duration", required_argument, 0, 'd'},
                                             {"seed", required_argument, 0, 's'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "d:s:h", longopts, NULL)) != -1) {
        if (o == 'd')
            c.duration_s = atoi(optarg);
        else if (o == 's')
            c.seed = (unsigned)atoi(optarg);
        else {
            printf("usage: baton-demo [--duration SECONDS] [--seed N]\n"
                   "Needs BATON_URL, BATON_API_KEY, BATON_JWT_SECRET, BATON_WEBHOOK_SECRET and\n"
                   "BATON_TENANT (scripts/stack writes them to DIR/stack.env).\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (c.duration_s < 30)
        c.duration_s = 30;
    c.url = need("BATON_URL");
    c.api_key = need("BATON_API_KEY");
    c.jwt_secret = need("BATON_JWT_SECRET");
    c.webhook_secret = need("BATON_WEBHOOK_SECRET");
    c.tenant = getenv("BATON_TENANT") ? getenv("BATON_TENANT") : "acme";
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);

    char err[512];
    if (demo_staff_start(&c, err, sizeof err) < 0) {
        fprintf(stderr, "baton-demo: webhook receiver: %s\n", err);
        return 1;
    }
    int64_t t0 = baton_now_ms();
    printf("Loading the health system: %zu people at North General and South Community, "
           "day and night shifts (handoff at %ds; no EVS on South 3S at night)...\n",
           demo_npeople, c.duration_s / 2);
    if (demo_world_load(&c, t0, err, sizeof err) != 0) {
        fprintf(stderr, "baton-demo: %s\n", err);
        demo_staff_stop();
        return 1;
    }
    demo_feed_init(&c, t0);
    int64_t last_draw = 0, end = t0 + (int64_t)c.duration_s * 1000;
    int64_t drain_end = end + 60 * 1000;
    for (;;) {
        int64_t now = baton_now_ms();
        if (!running)
            break;
        int left = demo_feed_tick(&c, now);
        demo_staff_tick(&c, now);
        if (now - last_draw >= (c.tty ? 1000 : 10000)) {
            demo_board_draw(&c, now - t0, left);
            last_draw = now;
        }
        if (now >= end && (demo_staff_pending() == 0 || now >= drain_end))
            break;
        sleep_ms(50);
    }
    demo_board_draw(&c, baton_now_ms() - t0, 0);
    demo_summary(&c);
    demo_staff_stop();
    curl_global_cleanup();
    return running ? 0 : 130;
}
