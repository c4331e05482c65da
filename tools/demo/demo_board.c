/* The live board (per unit: patient, pathway, stage, owner, what it waits on, escalation level)
 * and the closing summary, both read from Baton's read API as a charge nurse's screen would. */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

demo_stats_t demo_stats = {.lock = PTHREAD_MUTEX_INITIALIZER};

void demo_count(int *field, int n)
{
    pthread_mutex_lock(&demo_stats.lock);
    *field += n;
    pthread_mutex_unlock(&demo_stats.lock);
}

/* The list in a read API answer: a bare array, or the first array member of an object. */
static json_t *list_of(json_t *j, const char *key)
{
    if (json_is_array(j))
        return j;
    json_t *a = json_object_get(j, key);
    return json_is_array(a) ? a : NULL;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int demo_open_instances(const demo_conf_t *c)
{
    json_t *j = demo_get_json(c, "/v1/instances?status=active");
    json_t *l = list_of(j, "instances");
    int n = l ? (int)json_array_size(l) : -1;
    json_decref(j);
    return n;
}

/* One line per stage the instance waits on. */
static void board_instance(json_t *inst)
{
    size_t i;
    json_t *t;
    int shown = 0;
    json_array_foreach(json_object_get(inst, "waiting_on"), i, t)
    {
        const char *owner = str(t, "owner");
        char waiting[48];
        if (*owner)
            snprintf(waiting, sizeof waiting, "%s (%s)", owner, str(t, "waiting_for"));
        else
            snprintf(waiting, sizeof waiting, "nobody: %s gap", str(t, "role"));
        printf("  %-8s %-5s %-9s %-17s %-20s %-11s %-34s L%lld\n",
               shown ? "" : str(inst, "facility"), shown ? "" : str(inst, "unit"),
               shown ? "" : str(inst, "encounter"), shown ? "" : str(inst, "pathway"),
               str(t, "stage"), str(t, "status"), waiting,
               json_integer_value(json_object_get(t, "escalation_level")));
        shown++;
    }
}

void demo_board_draw(const demo_conf_t *c, int64_t elapsed_ms, int feed_left)
{
    json_t *j = demo_get_json(c, "/v1/instances?status=active");
    json_t *list = list_of(j, "instances");
    if (c->tty)
        printf("\033[H\033[2J");
    pthread_mutex_lock(&demo_stats.lock);
    demo_stats_t s = demo_stats;
    pthread_mutex_unlock(&demo_stats.lock);
    printf("Baton demo — %3llds of %ds | events sent %d (rejected %d), still to send %d | "
           "notifications %d, escalations %d | acks %d, completes %d, declines %d\n",
           (long long)(elapsed_ms / 1000), c->duration_s, s.events_sent, s.events_rejected,
           feed_left, s.notifications, s.by_kind[2], s.acks, s.completes, s.declines);
    printf("  %-8s %-5s %-9s %-17s %-20s %-11s %-34s %s\n", "HOSPITAL", "UNIT", "ENCOUNTER",
           "PATHWAY", "STAGE", "STATUS", "OWNER (WAITING FOR)", "ESC");
    size_t i;
    json_t *inst;
    json_array_foreach(list, i, inst) board_instance(inst);
    if (!list)
        printf("  (read API not answering yet)\n");
    fflush(stdout);
    json_decref(j);
}

/* A percentile in seconds as text; "-" when no task got there (null). */
static const char *pct(char *buf, size_t len, json_t *row, const char *which, const char *p)
{
    json_t *v = json_object_get(json_object_get(row, which), p);
    if (json_is_number(v))
        snprintf(buf, len, "%.1fs", json_number_value(v));
    else
        snprintf(buf, len, "-");
    return buf;
}

/* Per pathway stage (all units together would hide the per-unit view; the API gives both). */
static void print_stats(json_t *stats)
{
    size_t i;
    json_t *r;
    printf("\n%-17s %-20s %-6s %-4s %5s %8s %8s %8s %8s %6s %6s %5s\n", "PATHWAY", "STAGE", "HOSP",
           "UNIT", "TASKS", "ACK p50", "ACK p90", "DONE p50", "DONE p90", "BREACH", "ESCAL",
           "REASS");
    json_array_foreach(json_object_get(stats, "groups"), i, r)
    {
        json_t *br = json_object_get(r, "sla_breaches");
        char a50[16], a90[16], d50[16], d90[16];
        printf("%-17s %-20s %-6s %-4s %5lld %8s %8s %8s %8s %6lld %6lld %5lld\n", str(r, "pathway"),
               str(r, "stage"), str(r, "facility"), str(r, "unit"),
               json_integer_value(json_object_get(r, "tasks")),
               pct(a50, sizeof a50, r, "time_to_ack_s", "p50"),
               pct(a90, sizeof a90, r, "time_to_ack_s", "p90"),
               pct(d50, sizeof d50, r, "time_to_complete_s", "p50"),
               pct(d90, sizeof d90, r, "time_to_complete_s", "p90"),
               json_integer_value(json_object_get(br, "ack")) +
                   json_integer_value(json_object_get(br, "complete")),
               json_integer_value(json_object_get(r, "escalations")),
               json_integer_value(json_object_get(r, "reassignments")));
    }
}

/* Escalations per level over all groups. */
static void print_levels(json_t *stats)
{
    long long levels[16] = {0};
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(stats, "groups"), i, r)
    {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(r, "escalations_by_level"), k, v)
        {
            int l = atoi(k);
            if (l >= 0 && l < 16)
                levels[l] += json_integer_value(v);
        }
    }
    printf("escalations per level:");
    for (int l = 1; l < 16; l++)
        if (levels[l])
            printf("  L%d: %lld", l, levels[l]);
    printf("\n");
}

void demo_summary(const demo_conf_t *c)
{
    pthread_mutex_lock(&demo_stats.lock);
    demo_stats_t s = demo_stats;
    pthread_mutex_unlock(&demo_stats.lock);
    printf("\n==== What happened ====\n");
    json_t *stats = demo_get_json(c, "/v1/stats");
    if (stats) {
        print_stats(stats);
        printf(
            "(times from activation; BREACH = acknowledgment + completion windows missed; ESCAL = "
            "escalation steps fired; REASS = reassignments)\n\n");
        print_levels(stats);
        json_decref(stats);
    } else {
        printf("(GET /v1/stats did not answer)\n");
    }
    printf("\nseen by the simulated staff: %d notifications (assigned %d, reminders %d, "
           "escalations %d, reassigned %d, completed %d), %d bad signatures\n",
           s.notifications, s.by_kind[0], s.by_kind[1], s.by_kind[2], s.by_kind[3], s.by_kind[4],
           s.bad_signatures);
    printf("staff actions: %d acks, %d completions, %d declines, %d stalled, %d refused (task had "
           "moved on), %d errors\n",
           s.acks, s.completes, s.declines, s.stalls, s.action_conflicts, s.action_errors);
    printf("events sent: %d accepted, %d rejected\n", s.events_sent, s.events_rejected);
}
