/* fixture.h — reading golden fixture files in the C tests (on top of test.h + json.h).
 *   json_value *v = fixture_json("tests/fixtures/...json");   // CHECK fails if unreadable
 *   int32_t *ids = fixture_ids(v->arr, &n);                    // JSON number array -> int32
 *   double e = fixture_max_err(out, golden_array, n);          // max |out - golden|, INF on shape mismatch
 *   fixture_track(&max, e); argmax(x, n)
 * Test-only code. */
#ifndef PLM_TEST_FIXTURE_H
#define PLM_TEST_FIXTURE_H
#include <math.h>
#include <stdint.h>
#include "json.h"
#include "test.h"

static inline json_value *fixture_json(const char *path) {
    size_t n = 0;
    char *s = test_read_file(path, &n);
    CHECK_MSG(s != NULL, "cannot read %s", path);
    if (!s) return NULL;
    json_value *v = json_parse(s, n);
    free(s);
    CHECK_MSG(v != NULL, "cannot parse %s", path);
    return v;
}

/* a JSON array of numbers as a malloc'ed int32 array (never NULL-sized) */
static inline int32_t *fixture_ids(const json_value *a, int *n) {
    *n = (int)a->n;
    int32_t *ids = malloc((a->n ? a->n : 1) * sizeof *ids);
    if (!ids) return NULL;
    for (size_t i = 0; i < a->n; i++) ids[i] = (int32_t)a->arr[i]->num;
    return ids;
}

/* max |out[i] - golden[i]| over n values; INFINITY if the golden array is missing or
 * has another length; a NaN anywhere propagates as a failure */
static inline double fixture_max_err(const float *out, const json_value *golden, int n) {
    if (!golden || (int)golden->n != n) return INFINITY;
    double e = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)out[i] - golden->arr[i]->num);
        if (!(d <= e)) e = d;
    }
    return e;
}

static inline void fixture_track(double *max, double e) {
    if (!(e <= *max)) *max = e;
}

static inline int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}
#endif
