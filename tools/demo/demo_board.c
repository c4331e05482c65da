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

/* One line per open stage of an instance. */
static void board_instance(json_t *inst)
{
    json_t *tasks = json_object_get(inst, "stages");
    if (!json_is_array(tasks))
        tasks = json_object_get(inst, "tasks");
    size_t i;
    json_t *t;
    int shown = 0;
    json_array_foreach(tasks, i, t)
    {
        const char *st = str(t, "status");
        if (!*st || strcmp(st, "completed") == 0 || strcmp(st, "cancelled") == 0)
            continue;
        const char *owner = str(t, "owner");
        char waiting[40];
        snprintf(waiting, sizeof waiting, "%s", *owner ? owner : "");
        if (!*owner)
            snprintf(waiting, sizeof waiting, "role %s (gap)", str(t, "role"));
        printf("  %-5s %-9s %-17s %-20s %-11s %-22s L%lld\n", str(inst, "unit"),
               shown ? "" : str(inst, "patient"), shown ? "" : str(inst, "pathway"),
               str(t, "stage"), st, waiting, json_integer_value(json_object_get(t, "escalation_level")));
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
    printf("  %-5s %-9s %-17s %-20s %-11s %-22s %s\n", "UNIT", "PATIENT", "PATHWAY", "STAGE",
           "STATUS", "OWNER / WAITING ON", "ESC");
    size_t i;
    json_t *inst;
    json_array_foreach(list, i, inst) board_instance(inst);
    if (!list)
        printf("  (read API not answering yet)\n");
    fflush(stdout);
    json_decref(j);
}

static void print_stats(json_t *stats)
{
    json_t *rows = list_of(stats, "stages");
    size_t i;
    json_t *r;
    printf("\n%-17s %-20s %8s %8s %8s %8s %9s %7s\n", "PATHWAY", "STAGE", "TASKS", "ACK p50",
           "ACK p90", "DONE p50", "DONE p90", "BREACH");
    json_array_foreach(rows, i, r)
    {
        json_t *ack = json_object_get(r, "time_to_ack_ms"), *done = json_object_get(r, "time_to_complete_ms");
        printf("%-17s %-20s %8lld %7.1fs %7.1fs %7.1fs %8.1fs %7lld\n", str(r, "pathway"),
               str(r, "stage"), json_integer_value(json_object_get(r, "tasks")),
               json_number_value(json_object_get(ack, "p50")) / 1000.0,
               json_number_value(json_object_get(ack, "p90")) / 1000.0,
               json_number_value(json_object_get(done, "p50")) / 1000.0,
               json_number_value(json_object_get(done, "p90")) / 1000.0,
               json_integer_value(json_object_get(r, "sla_breaches")));
    }
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
        json_t *esc = json_object_get(stats, "escalations_per_level");
        if (esc) {
            char *e = json_dumps(esc, JSON_COMPACT);
            printf("\nescalations per level: %s\n", e);
            free(e);
        }
        printf("coverage gaps: %lld, reassignment rate: %.2f, override frequency: %.2f\n",
               json_integer_value(json_object_get(stats, "coverage_gaps")),
               json_number_value(json_object_get(stats, "reassignment_rate")),
               json_number_value(json_object_get(stats, "override_frequency")));
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
