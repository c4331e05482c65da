/* http_fixture.h — the test server shared by test_http*.c. */
#ifndef BATON_TEST_HTTP_FIXTURE_H
#define BATON_TEST_HTTP_FIXTURE_H

#include "baton/http.h"
#include "http_client.h"
#include <stdatomic.h>

/* How many times the echo handler ran. */
extern atomic_int handler_calls;

/* Start a server on 127.0.0.1, a free port, with the fixture's routes (see http_fixture.c);
 * fails the test on error. */
baton_http_server_t *start_server(baton_http_config_t *cfg, baton_metrics_t *reg);
/* "http://127.0.0.1:<port><path>" (caller frees). */
char *url(baton_http_server_t *srv, const char *path);
/* Send a request and parse the JSON answer (fails the test when it is not JSON). */
json_t *call_json(baton_http_server_t *srv, const char *method, const char *path, const char *body,
                  const char *const *hdrs, reply_t *r);

#define J_STR(j, k) json_string_value(json_object_get((j), (k)))

#endif
