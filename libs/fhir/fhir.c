/* Entry points: parse, dispatch by resourceType, finish and check each canonical event. */
#include "fhir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fhir__supported(const char *rtype)
{
    return rtype && (strcmp(rtype, "Encounter") == 0 || strcmp(rtype, "ServiceRequest") == 0 ||
                     strcmp(rtype, "Task") == 0);
}

/* A resource type name safe to put in a diagnostic (letters only), else NULL. */
static const char *safe_type(const char *t)
{
    if (!t || !t[0] || strlen(t) > 64)
        return NULL;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return NULL;
    return t;
}

static int fhir_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            return 0;
    return 1;
}

/* Deterministic event id and source_message_id (see baton/fhir.h). */
static char *event_ids(fhir_ctx_t *c, const json_t *res, char id_out[BATON_ID_LEN])
{
    const char *id = json_string_value(json_object_get(res, "id"));
    const char *ver = json_string_value(json_object_get(json_object_get(res, "meta"), "versionId"));
    char *key, *smid;
    if (id && ver && ver[0]) {
        key = baton_xasprintf("fhir:%s/%s/_history/%s", c->rtype, id, ver);
        smid = baton_xasprintf("%s/%s/_history/%s", c->rtype, id, ver);
    } else {
        char *dump = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
        char hex[65];
        baton_sha256_hex(dump ? dump : "", dump ? strlen(dump) : 0, hex);
        free(dump);
        key = baton_xasprintf("fhir:%s/%s#%s", c->rtype, id ? id : "", hex);
        smid = id ? baton_xasprintf("%s/%s", c->rtype, id)
                  : baton_xasprintf("%s#%.16s", c->rtype, hex);
    }
    baton_derived_id(c->opts->tenant, key, id_out);
    free(key);
    return smid;
}

/* Run the canonical rules over the event; problems become issues at the source paths. */
static void check_canonical(fhir_ctx_t *c)
{
    baton_canon_opts_t co = {.auth_tenant = c->opts->tenant, .now_ms = c->opts->now_ms};
    baton_canon_problems_t probs = BATON_CANON_PROBLEMS_INIT;
    if (baton_canon_validate(c->event, &co, &probs) == 0)
        return;
    for (size_t i = 0; i < probs.n; i++) {
        const char *ptr = probs.items[i].pointer;
        if (strcmp(ptr, "/tenant") == 0) {
            fhir__issue(c, "processing", NULL, "the caller's tenant is not a valid tenant id");
            continue;
        }
        const char *expr = json_string_value(json_object_get(c->paths, ptr));
        fhir__issue(c, "value", expr ? expr : c->rtype, "%s: %s", ptr + 1, probs.items[i].detail);
    }
    baton_canon_problems_free(&probs);
}

/* A resource that names no facility the FHIR way (ServiceRequest and Task have no field for
 * it) may carry one in the extension BATON_FHIR_EXT_FACILITY: valueString, valueCode,
 * valueIdentifier.value or valueReference to an Organization. Without any, facility-scoped
 * roles cannot be resolved and the task would wait on a coverage gap. */
static void facility_extension(fhir_ctx_t *c, const json_t *res)
{
    if (json_object_get(c->event, "facility"))
        return;
    size_t i;
    const json_t *ext;
    char path[96];
    json_array_foreach(json_object_get(res, "extension"), i, ext)
    {
        const char *url = json_string_value(json_object_get(ext, "url"));
        if (!url || strcmp(url, BATON_FHIR_EXT_FACILITY) != 0)
            continue;
        snprintf(path, sizeof path, "%s.extension[%zu]", c->rtype, i);
        const char *v = json_string_value(json_object_get(ext, "valueString"));
        if (!v)
            v = json_string_value(json_object_get(ext, "valueCode"));
        if (!v)
            v = json_string_value(
                json_object_get(json_object_get(ext, "valueIdentifier"), "value"));
        char *ref =
            v ? NULL
              : fhir__ref_id(c, json_object_get(ext, "valueReference"), "Organization", path);
        if (v || ref)
            fhir__set(c, "facility", v ? v : ref, path);
        else
            fhir__issue(c, "value", path, "the facility extension has no usable value");
        free(ref);
        return;
    }
}

int fhir__map_resource(const baton_fhir_opts_t *opts, const json_t *res, const json_t *bundle,
                       const char *fallback_time, baton_fhir_item_t *item)
{
    fhir_ctx_t c = {.opts = opts, .bundle = bundle, .fallback_time = fallback_time};
    c.rtype = json_string_value(json_object_get(res, "resourceType"));
    c.outcome = baton_fhir_outcome_new();
    c.event = json_object();
    c.attrs = json_object();
    c.paths = json_object();
    memset(item, 0, sizeof *item);
    item->entry = -1;

    char idpath[64];
    snprintf(idpath, sizeof idpath, "%s.id", c.rtype);
    const char *rid = fhir__str(&c, res, "id", idpath);
    if (rid && !fhir_id_ok(rid))
        fhir__issue(&c, "value", idpath, "must be 1 to 64 letters, digits, '-' or '.'");
    if (strcmp(c.rtype, "Encounter") == 0)
        fhir__encounter(&c, res);
    else if (strcmp(c.rtype, "ServiceRequest") == 0)
        fhir__service_request(&c, res);
    else
        fhir__task(&c, res);
    if (!c.errors)
        facility_extension(&c, res);

    char evid[BATON_ID_LEN];
    if (!c.errors) {
        item->source_message_id = event_ids(&c, res, evid);
        fhir__set(&c, "id", evid, c.rtype);
        fhir__set(&c, "tenant", opts->tenant, NULL);
        if (json_object_size(c.attrs))
            json_object_set(c.event, "attributes", c.attrs);
        check_canonical(&c);
    }
    int rc = 0;
    if (c.errors) {
        item->kind = BATON_FHIR_ITEM_ERROR;
        item->outcome = c.outcome;
        c.outcome = NULL;
        free(item->source_message_id);
        item->source_message_id = NULL;
        rc = c.unsupported ? BATON_ENOENT : BATON_EINVAL;
    } else {
        item->kind = BATON_FHIR_ITEM_EVENT;
        item->event = c.event;
        c.event = NULL;
    }
    json_decref(c.outcome);
    json_decref(c.event);
    json_decref(c.attrs);
    json_decref(c.paths);
    free(c.time_path);
    return rc;
}

void fhir__push(baton_fhir_result_t *r, baton_fhir_item_t *item)
{
    r->items = baton_xrealloc(r->items, (r->n_items + 1) * sizeof *r->items);
    r->items[r->n_items++] = *item;
    if (item->kind == BATON_FHIR_ITEM_EVENT)
        r->n_events++;
    memset(item, 0, sizeof *item);
}

static int reject(baton_fhir_result_t *r, int rc, const char *code, const char *diag,
                  const char *expr)
{
    json_decref(r->outcome);
    r->outcome = baton_fhir_outcome_error(code, diag, expr);
    return rc;
}

int baton_fhir_map_json(const json_t *doc, const baton_fhir_opts_t *opts, baton_fhir_result_t *r)
{
    memset(r, 0, sizeof *r);
    if (!opts || !opts->tenant)
        return reject(r, BATON_EINVAL, "processing", "no tenant for this request", NULL);
    if (!json_is_object(doc))
        return reject(r, BATON_EINVAL, "structure", "the body must be a JSON object", NULL);
    json_t *rt = json_object_get(doc, "resourceType");
    if (!rt)
        return reject(r, BATON_EINVAL, "required", "resourceType is required", NULL);
    if (!json_is_string(rt))
        return reject(r, BATON_EINVAL, "structure", "resourceType must be a string", NULL);
    const char *rtype = json_string_value(rt);
    const char *safe = safe_type(rtype);
    char msg[200];
    if (opts->expect_type && strcmp(opts->expect_type, rtype) != 0) {
        snprintf(msg, sizeof msg, "this endpoint takes %s resources, not %s", opts->expect_type,
                 safe ? safe : "this resource type");
        return reject(r, BATON_EINVAL, "invalid", msg, NULL);
    }
    if (strcmp(rtype, "Bundle") == 0)
        return fhir__bundle(opts, doc, r);
    if (!fhir__supported(rtype)) {
        snprintf(msg, sizeof msg,
                 "resource type %s is not supported; Baton takes Encounter, ServiceRequest, "
                 "Task and Bundle (batch, transaction, subscription notification)",
                 safe ? safe : "(invalid name)");
        return reject(r, BATON_ENOENT, "not-supported", msg, NULL);
    }
    r->input = BATON_FHIR_RESOURCE;
    baton_fhir_item_t item;
    int rc = fhir__map_resource(opts, doc, NULL, NULL, &item);
    if (rc)
        r->outcome = json_incref(item.outcome);
    fhir__push(r, &item);
    return rc;
}

int baton_fhir_map(const char *body, size_t len, const baton_fhir_opts_t *opts,
                   baton_fhir_result_t *r)
{
    memset(r, 0, sizeof *r);
    if (len > BATON_FHIR_BODY_MAX)
        return reject(r, BATON_ETOOBIG, "too-costly", "the body is larger than 8 MiB", NULL);
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        len -= 3;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char msg[128];
        snprintf(msg, sizeof msg, "not valid JSON (line %d, column %d)", jerr.line, jerr.column);
        return reject(r, BATON_EPARSE, "structure", msg, NULL);
    }
    int rc = baton_fhir_map_json(doc, opts, r);
    json_decref(doc);
    return rc;
}

void baton_fhir_result_free(baton_fhir_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_items; i++) {
        json_decref(r->items[i].event);
        json_decref(r->items[i].outcome);
        free(r->items[i].source_message_id);
    }
    free(r->items);
    json_decref(r->outcome);
    memset(r, 0, sizeof *r);
}
