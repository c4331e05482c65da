/* metrics_process.c — the process-level set every service exposes. */
#include "metrics_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RSS_HELP "Resident memory size in bytes."
#define FDS_HELP "Number of open file descriptors."
#define CPU_HELP "Total user and system CPU time spent in seconds."

/* The collect hook looks its children up again at each render (renders are rare), so it needs
 * no state of its own. */
static void sample_proc(baton_metrics_t *reg, void *ud)
{
    struct {
        baton_gauge_t *rss, *fds;
        baton_counter_t *cpu;
    } s =
        {
            baton_metrics_gauge_child(
                baton_metrics_gauge(reg, "process_resident_memory_bytes", RSS_HELP, NULL)),
            baton_metrics_gauge_child(baton_metrics_gauge(reg, "process_open_fds", FDS_HELP, NULL)),
            baton_metrics_counter_child(
                baton_metrics_counter(reg, "process_cpu_seconds_total", CPU_HELP, NULL)),
        },
      *p = &s;
    if (!p->rss || !p->fds || !p->cpu)
        return;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* Fields after the ")" that closes comm: state(3) ... utime(14) stime(15) ... rss(24). */
        char *p2 = strrchr(buf, ')');
        unsigned long utime = 0, stime = 0;
        long rss = 0;
        if (p2 && sscanf(p2 + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                         "%*d %*d %*u %*u %ld",
                         &utime, &stime, &rss) == 3) {
            long tck = sysconf(_SC_CLK_TCK);
            if (tck > 0)
                baton_metrics__counter_set(p->cpu, (double)(utime + stime) / (double)tck);
            baton_gauge_set(p->rss, (double)rss * (double)sysconf(_SC_PAGESIZE));
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int count = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                count++;
        closedir(d);
        baton_gauge_set(p->fds, count - 1); /* minus the directory stream's own fd */
    }
}

int baton_metrics_register_process(baton_metrics_t *reg, const char *service, const char *version)
{
    baton_metric_t *start =
        baton_metrics_gauge(reg, "process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.", NULL);
    baton_metric_t *info =
        baton_metrics_gauge(reg, "baton_build_info", "Build information; the value is always 1.",
                            "service", "version", NULL);
    baton_metric_t *rss = baton_metrics_gauge(reg, "process_resident_memory_bytes", RSS_HELP, NULL);
    baton_metric_t *fds = baton_metrics_gauge(reg, "process_open_fds", FDS_HELP, NULL);
    baton_metric_t *cpu = baton_metrics_counter(reg, "process_cpu_seconds_total", CPU_HELP, NULL);
    if (!start || !info || !rss || !fds || !cpu)
        return BATON_EINVAL;
    /* Registration happens at start-up; close enough to exec time for restart detection. */
    baton_gauge_set(baton_metrics_gauge_child(start), (double)baton_now_ms() / 1000.0);
    baton_gauge_set(baton_metrics_gauge_child(info, service ? service : "", version ? version : ""),
                    1);
    baton_metrics_gauge_child(rss);
    baton_metrics_gauge_child(fds);
    baton_metrics_counter_child(cpu);
    return baton_metrics_on_collect(reg, sample_proc, NULL);
}
