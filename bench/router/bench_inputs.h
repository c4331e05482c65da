/* bench_inputs.h — the input envelopes of bench/router's programs (router_bench: what it puts
 * on baton.inbound.v1; pathway_bench: what it steps the machine with): tenant acme, facility
 * F1, unit 4W, key acme/<encounter>, producer ingest, patient P<encounter>. */
#ifndef BATON_BENCH_INPUTS_H
#define BATON_BENCH_INPUTS_H

#include <stdint.h>

#include <baton/v1/events.pb-c.h>

/* traceparent: NULL leaves it empty. */
Baton__V1__Envelope *bench_envelope(const char *id, const char *type, int64_t at, const char *enc,
                                    const char *traceparent);
/* attrs: NULL, or key, value, ..., NULL. */
Baton__V1__Envelope *bench_clinical(const char *id, const char *type, int64_t at, const char *enc,
                                    const char *traceparent, const char *const *attrs);
/* to, note: NULL leaves them empty. */
Baton__V1__Envelope *bench_staff(const char *id, int64_t at, const char *enc,
                                 const char *traceparent, const char *iid, const char *tid,
                                 Baton__V1__Action action, const char *actor, const char *role,
                                 const char *to, const char *note);

#endif
