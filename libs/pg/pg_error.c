/* pg_error.c — error text without data values, SQLSTATE → BATON_E*. */
#include "pg_int.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *code, *name;
} states[] = {
    {"23505", "unique_violation"},
    {"23503", "foreign_key_violation"},
    {"23502", "not_null_violation"},
    {"23514", "check_violation"},
    {"23P01", "exclusion_violation"},
    {"22P02", "invalid_text_representation"},
    {"22001", "string_data_right_truncation"},
    {"22003", "numeric_value_out_of_range"},
    {"22007", "invalid_datetime_format"},
    {"22008", "datetime_field_overflow"},
    {"22012", "division_by_zero"},
    {"22021", "character_not_in_repertoire"},
    {"22P04", "bad_copy_file_format"},
    {"22004", "null_value_not_allowed"},
    {"40001", "serialization_failure"},
    {"40P01", "deadlock_detected"},
    {"57014", "query_canceled"},
    {"P0001", "raise_exception"},
};

/* SQLSTATE classes whose server messages talk about SQL text or server state, never about
 * row values: these are quoted, everything else is reduced to the condition's name. */
static const char *const safe_classes[] = {"08", "0A", "25", "28", "3D", "3F", "40",
                                           "42", "53", "54", "55", "57", "58"};

static const char *state_name(const char *code)
{
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(states[i].code, code) == 0)
            return states[i].name;
    if (strncmp(code, "22", 2) == 0)
        return "data_exception";
    if (strncmp(code, "23", 2) == 0)
        return "integrity_constraint_violation";
    return "error";
}

static int message_is_safe(const char *code)
{
    for (size_t i = 0; i < sizeof(safe_classes) / sizeof(safe_classes[0]); i++)
        if (strncmp(code, safe_classes[i], 2) == 0)
            return 1;
    return 0;
}

static void append_field(baton_buf_t *b, const PGresult *r, int field, const char *label)
{
    const char *v = PQresultErrorField(r, field);
    if (v && *v)
        baton_buf_appendf(b, " %s=%s", label, v);
}

static int code_for(const char *state)
{
    if (strcmp(state, "23505") == 0)
        return BATON_EEXIST;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return BATON_EAGAIN;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
        return BATON_EUNAVAIL;
    return BATON_EIO;
}

int baton_pg__set_error(baton_pg_t *pg, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(pg->conn) != CONNECTION_OK || !state) {
        char msg[256];
        baton_strlcpy(msg, PQerrorMessage(pg->conn), sizeof(msg));
        msg[strcspn(msg, "\n")] = '\0';
        baton_strlcpy(pg->sqlstate, state ? state : "", sizeof(pg->sqlstate));
        baton_seterr(pg->err, sizeof(pg->err), "pg: %s: connection lost: %s", what,
                     msg[0] ? msg : "no result");
        return PQstatus(pg->conn) != CONNECTION_OK ? BATON_EUNAVAIL : BATON_EIO;
    }
    baton_strlcpy(pg->sqlstate, state, sizeof(pg->sqlstate));
    baton_buf_t b = BATON_BUF_INIT;
    if (message_is_safe(state)) {
        const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        baton_buf_appendf(&b, "pg: %s: %s (SQLSTATE %s)", what, primary ? primary : "error", state);
    } else {
        baton_buf_appendf(&b, "pg: %s: %s (SQLSTATE %s)", what, state_name(state), state);
    }
    append_field(&b, r, PG_DIAG_CONSTRAINT_NAME, "constraint");
    append_field(&b, r, PG_DIAG_TABLE_NAME, "table");
    append_field(&b, r, PG_DIAG_COLUMN_NAME, "column");
    baton_strlcpy(pg->err, b.data, sizeof(pg->err));
    baton_buf_free(&b);
    return code_for(state);
}
