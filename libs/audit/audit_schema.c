/* audit_schema.c — the audit schema as versioned migrations (run at baton-audit's start-up,
 * under baton_pg_migrate's advisory lock). Extend with new versions only. */
#include "baton/audit.h"

/* 1: the append-only log, partitioned by month, with its chain heads and dedup ids. */
static const char m1_log[] =
    "CREATE TABLE audit_log ("
    " recorded_month date NOT NULL,"
    " topic text NOT NULL,"
    " kpartition integer NOT NULL,"
    " koffset bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " event_id text NOT NULL,"
    " event_type text NOT NULL,"
    " tenant text NOT NULL,"
    " instance_id text,"
    " task_id text,"
    " actor text,"
    " occurred_at_ms bigint NOT NULL,"
    " recorded_at_ms bigint NOT NULL,"
    " written_at timestamptz NOT NULL DEFAULT now(),"
    " payload json NOT NULL,"
    " prev_hash text NOT NULL,"
    " hash text NOT NULL"
    ") PARTITION BY RANGE (recorded_month);"
    "CREATE INDEX audit_log_chain ON audit_log (topic COLLATE \"C\", kpartition, seq);"
    "CREATE INDEX audit_log_instance ON audit_log (instance_id) WHERE instance_id IS NOT NULL;"
    "CREATE TABLE audit_chain_heads ("
    " topic text NOT NULL,"
    " kpartition integer NOT NULL,"
    " seq bigint NOT NULL,"
    " last_offset bigint NOT NULL,"
    " hash text NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (topic, kpartition));"
    /* dedup keys: the first 128 bits of SHA-256(topic "\n" event id), as a uuid (a small
     * fixed-width key keeps the one random index insert per row cheap) */
    "CREATE TABLE audit_event_ids ("
    " id_key uuid PRIMARY KEY,"
    " kpartition integer NOT NULL,"
    " koffset bigint NOT NULL);"
    /* the writer may not create tables: it asks for a month's partition through this */
    "CREATE FUNCTION baton_audit_ensure_partition(m date) RETURNS void"
    " LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$"
    " DECLARE first date := date_trunc('month', m)::date;"
    "         name text := 'audit_log_' || to_char(first, 'YYYY_MM');"
    " BEGIN"
    "  IF to_regclass(name) IS NULL THEN"
    "   BEGIN"
    "    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_log"
    " FOR VALUES FROM (%L) TO (%L)', name, first, (first + interval '1 month')::date);"
    /* two writers creating the same month at once: the second one waits, then finds it */
    "   EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;"
    "   END;"
    "  END IF;"
    " END $f$;"
    "CREATE FUNCTION baton_audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP"
    "   USING ERRCODE = 'insufficient_privilege';"
    " END $f$;"
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION baton_audit_reject_change();"
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION baton_audit_reject_change();";

/* 2: the read projections and the per-task telemetry facts. */
static const char m2_projections[] =
    "CREATE TABLE audit_instances ("
    " instance_id text PRIMARY KEY,"
    " tenant text NOT NULL DEFAULT '',"
    " pathway text NOT NULL DEFAULT '',"
    " pathway_version integer NOT NULL DEFAULT 0,"
    " facility text NOT NULL DEFAULT '',"
    " unit text NOT NULL DEFAULT '',"
    " correlation_key text NOT NULL DEFAULT '',"
    " patient text NOT NULL DEFAULT '',"
    " encounter text NOT NULL DEFAULT '',"
    " trigger_event_id text NOT NULL DEFAULT '',"
    " status text NOT NULL DEFAULT 'active',"
    " status_reason text NOT NULL DEFAULT '',"
    " started_at_ms bigint,"
    " closed_at_ms bigint,"
    " updated_at_ms bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX audit_instances_tenant ON audit_instances (tenant, started_at_ms DESC);"
    "CREATE TABLE audit_tasks ("
    " task_id text PRIMARY KEY,"
    " instance_id text NOT NULL DEFAULT '',"
    " tenant text NOT NULL DEFAULT '',"
    " facility text NOT NULL DEFAULT '',"
    " unit text NOT NULL DEFAULT '',"
    " pathway text NOT NULL DEFAULT '',"
    " pathway_version integer NOT NULL DEFAULT 0,"
    " stage text NOT NULL DEFAULT '',"
    " role text NOT NULL DEFAULT '',"
    " owner text NOT NULL DEFAULT '',"
    " status text NOT NULL DEFAULT '',"
    " status_reason text NOT NULL DEFAULT '',"
    " resolved_by text NOT NULL DEFAULT '',"
    " completed_by text NOT NULL DEFAULT '',"
    " escalation_level integer NOT NULL DEFAULT 0,"
    " ack_due_at_ms bigint,"
    " complete_due_at_ms bigint,"
    " activated_at_ms bigint,"
    " assigned_at_ms bigint,"
    " acknowledged_at_ms bigint,"
    " started_at_ms bigint,"
    " completed_at_ms bigint,"
    " closed_at_ms bigint,"
    " ack_breached boolean NOT NULL DEFAULT false,"
    " complete_breached boolean NOT NULL DEFAULT false,"
    " skipped boolean NOT NULL DEFAULT false,"
    " coverage_gap boolean NOT NULL DEFAULT false,"
    " reassign_count integer NOT NULL DEFAULT 0,"
    " decline_count integer NOT NULL DEFAULT 0,"
    " escalation_count integer NOT NULL DEFAULT 0,"
    " action_count integer NOT NULL DEFAULT 0,"
    " override_count integer NOT NULL DEFAULT 0,"
    " updated_at_ms bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX audit_tasks_instance ON audit_tasks (instance_id);"
    "CREATE INDEX audit_tasks_tenant ON audit_tasks (tenant, pathway, activated_at_ms);"
    "CREATE TABLE audit_escalations ("
    " event_id text PRIMARY KEY,"
    " task_id text NOT NULL,"
    " instance_id text NOT NULL,"
    " tenant text NOT NULL,"
    " level integer NOT NULL,"
    " step integer NOT NULL,"
    " step_action text NOT NULL,"
    " target_role text NOT NULL,"
    " at_ms bigint NOT NULL);"
    "CREATE INDEX audit_escalations_task ON audit_escalations (task_id);"
    "CREATE TABLE audit_notifications ("
    " notification_id text PRIMARY KEY,"
    " tenant text NOT NULL DEFAULT '',"
    " person text NOT NULL DEFAULT '',"
    " kind text NOT NULL DEFAULT '',"
    " task_id text NOT NULL DEFAULT '',"
    " instance_id text NOT NULL DEFAULT '',"
    " level integer NOT NULL DEFAULT 0,"
    " urgent boolean NOT NULL DEFAULT false,"
    " channel text NOT NULL DEFAULT '',"
    " outcome text NOT NULL DEFAULT 'requested',"
    " attempts integer NOT NULL DEFAULT 0,"
    " latency_ms bigint,"
    " requested_at_ms bigint,"
    " updated_at_ms bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX audit_notifications_task ON audit_notifications (task_id);";

/* 3: roles and grants. Roles are created only when the migrating user may create roles
 * (otherwise an operator creates them; grants to missing roles are skipped). */
static const char m3_roles[] =
    "REVOKE ALL ON audit_log, audit_chain_heads, audit_event_ids, audit_instances, audit_tasks,"
    " audit_escalations, audit_notifications FROM PUBLIC;"
    "REVOKE ALL ON FUNCTION baton_audit_ensure_partition(date) FROM PUBLIC;"
    "DO $f$"
    " DECLARE may boolean;"
    " BEGIN"
    "  SELECT rolsuper OR rolcreaterole INTO may FROM pg_roles WHERE rolname = current_user;"
    "  IF may AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_audit_writer') THEN"
    "   CREATE ROLE baton_audit_writer LOGIN;"
    "  END IF;"
    "  IF may AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_reader') THEN"
    "   CREATE ROLE baton_reader LOGIN;"
    "  END IF;"
    "  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_audit_writer') THEN"
    "   GRANT USAGE ON SCHEMA public TO baton_audit_writer;"
    "   GRANT INSERT ON audit_log TO baton_audit_writer;"
    "   GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO baton_audit_writer;"
    "   GRANT SELECT, INSERT ON audit_event_ids TO baton_audit_writer;"
    "   GRANT SELECT, INSERT, UPDATE ON audit_instances, audit_tasks, audit_notifications"
    "    TO baton_audit_writer;"
    "   GRANT SELECT, INSERT ON audit_escalations TO baton_audit_writer;"
    "   GRANT EXECUTE ON FUNCTION baton_audit_ensure_partition(date) TO baton_audit_writer;"
    "  END IF;"
    "  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_reader') THEN"
    "   GRANT USAGE ON SCHEMA public TO baton_reader;"
    "   GRANT SELECT ON audit_log, audit_chain_heads, audit_instances, audit_tasks,"
    "    audit_escalations, audit_notifications TO baton_reader;"
    "  END IF;"
    " END $f$;";

/* 4: room on every page of the projections for their rows' next versions. A projection row is
 * updated soon after it is inserted (a receipt, an acknowledgment, a completion) and none of
 * those updates changes an indexed column, so with room on the page PostgreSQL writes the new
 * version there as a heap-only tuple: no new entry in any of the table's indexes. On full pages
 * (the default fillfactor, 100) such an update goes to another page, with a new entry in every
 * index (in bench/e2e 18% of the notification updates were heap-only at 100, 64% at 70).
 * Applies to pages written from now on. */
static const char m4_fillfactor[] = "ALTER TABLE audit_instances SET (fillfactor = 70);"
                                    "ALTER TABLE audit_tasks SET (fillfactor = 70);"
                                    "ALTER TABLE audit_notifications SET (fillfactor = 70);";

/* 5: byte-order ("C") collation for the id columns that are indexed or joined on. Ids are opaque
 * ASCII, so a language's collation buys nothing, but in a database created with one (the
 * official postgres image and most managed services default to en_US.UTF-8) every comparison
 * in those btrees goes through strcoll: in bench/audit, PostgreSQL 14.6-15.2 µs/row against
 * 12.9-13.1 in a C database. Every column of one join key changes together (a C column joined
 * to a default-collation one would compare in C and could not use the other's index). The heap
 * is not rewritten; the indexes on these columns are rebuilt once, which holds writes to
 * audit_log for ~0.6 s per million rows on a 2-core machine (the audit catches up from Kafka). */
static const char m5_id_collation[] =
    "ALTER TABLE audit_log ALTER COLUMN tenant TYPE text COLLATE \"C\","
    " ALTER COLUMN instance_id TYPE text COLLATE \"C\","
    " ALTER COLUMN task_id TYPE text COLLATE \"C\";"
    "ALTER TABLE audit_instances ALTER COLUMN instance_id TYPE text COLLATE \"C\","
    " ALTER COLUMN tenant TYPE text COLLATE \"C\", ALTER COLUMN pathway TYPE text COLLATE \"C\";"
    "ALTER TABLE audit_tasks ALTER COLUMN task_id TYPE text COLLATE \"C\","
    " ALTER COLUMN instance_id TYPE text COLLATE \"C\", ALTER COLUMN tenant TYPE text COLLATE "
    "\"C\","
    " ALTER COLUMN pathway TYPE text COLLATE \"C\";"
    "ALTER TABLE audit_escalations ALTER COLUMN event_id TYPE text COLLATE \"C\","
    " ALTER COLUMN task_id TYPE text COLLATE \"C\", ALTER COLUMN instance_id TYPE text COLLATE "
    "\"C\","
    " ALTER COLUMN tenant TYPE text COLLATE \"C\";"
    "ALTER TABLE audit_notifications ALTER COLUMN notification_id TYPE text COLLATE \"C\","
    " ALTER COLUMN task_id TYPE text COLLATE \"C\", ALTER COLUMN instance_id TYPE text COLLATE "
    "\"C\","
    " ALTER COLUMN tenant TYPE text COLLATE \"C\";";

static const baton_pg_migration_t migrations[] = {
    {1, "audit_log", m1_log},
    {2, "audit_projections", m2_projections},
    {3, "audit_roles", m3_roles},
    {4, "audit_projection_fillfactor", m4_fillfactor},
    {5, "audit_id_collation", m5_id_collation},
};

const baton_pg_migration_t *baton_audit_migrations(size_t *n)
{
    *n = sizeof(migrations) / sizeof(migrations[0]);
    return migrations;
}

int baton_audit_migrate(baton_pg_t *pg, int *applied)
{
    size_t n;
    const baton_pg_migration_t *m = baton_audit_migrations(&n);
    return baton_pg_migrate(pg, m, n, applied);
}
