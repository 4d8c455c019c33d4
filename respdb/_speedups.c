/* respdb._speedups: the two per-request hot spots in C.
 *
 * 1. hiredis_whole / big_count: respdb/protocol/parser.py's hiredis fast path: feed a read to a
 *    hiredis.Reader and collect whole multibulk commands, checking each argument.
 * 2. execute_batch: the per-batch command loop of respdb/commands/dispatch.py.
 *
 * Why: at redis-benchmark -P 16 the interpreted loop around each handler (lookup, arity, timing,
 * stats, reply encoding) cost about as much as the handler itself; `python -m benchmarks.layers`
 * measures it. This file is the same loop as dispatch.py's `_execute_batch_py`, which stays the
 * reference (RESPDB_NO_EXTENSIONS=1 runs it) — any change to one is made to both.
 *
 * Handlers stay in Python. Everything rare is delegated to Python helpers passed to configure():
 * the slow path (`_execute_slow`), handler errors (`_fast_failed`), writes that must be propagated
 * or wake blocked clients (`_fast_dirty`), and encoding of reply types other than bytes/int/None/
 * list-of-bytes (`client.encode`).
 *
 * Server-wide flags (pause, maxmemory guard, slowlog threshold, post-command hooks, latency
 * tracking, RESP version) are read once per batch and again after any command that took the slow
 * path or is not `spec.data_only` (only @admin/@dangerous/@transaction commands and HELLO, RESET,
 * AUTH — CONFIG, CLIENT, MONITOR, DEBUG, ... — can change them).
 */
#include "_speedups.h"
#include <structmember.h>
#include <time.h>

/* Objects handed over by dispatch.py's configure(). */
static PyObject *g_lookup;        /* dict: raw command name → CommandSpec */
static PyObject *g_slow;          /* _execute_slow(client, argv) -> bytes | None */
static PyObject *g_failed;        /* _fast_failed(client, spec, argv, exc, elapsed_ns) -> bytes */
static PyObject *g_dirty;         /* _fast_dirty(client, spec, argv) -> None */
static PyObject *g_bucket_of;     /* latency_hist.bucket_of (only its formula is reproduced below) */
static PyTypeObject *g_raw_type;  /* protocol.types.Raw */
static PyTypeObject *g_block_type;
static PyTypeObject *g_noreply_type;
static PyTypeObject *g_spec_type; /* CommandSpec (slots dataclass) */
static PyTypeObject *g_map_type;  /* protocol.types.Map: flat k, v list; RESP3 map, RESP2 array */
static PyTypeObject *g_set_type;  /* protocol.types.Set: RESP3 set, RESP2 array */

/* Byte offsets of CommandSpec's slots: reading a slot through its offset avoids a getattr. */
static Py_ssize_t off_simple, off_arity, off_denyoom, off_fast, off_handler, off_calls, off_usec,
    off_latency, off_reads, off_name, off_native, off_stats_later;

static PyObject *s_propagate_hooks, *s_propagate_argv, *s_ready_keys;
static PyObject *s_server, *s_keyspace, *s_plain, *s_paused_until, *s_pause_holds, *s_oom_guard,
    *s_db, *s_slow_threshold, *s_post_command_needed, *s_config, *s_latency_tracking, *s_resp3,
    *s_dirty, *s_reading, *s_last_cmd, *s_observer, *s_record_slow, *s_after_write, *s_encode,
    *s_block_client, *s_blocked, *s_close_after_reply;

int slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *out)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL)
        return -1;
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
        ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
        Py_DECREF(descr);
        PyErr_Format(PyExc_TypeError, "CommandSpec.%s is not a slot", name);
        return -1;
    }
    *out = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return 0;
}

static PyObject *configure(PyObject *self, PyObject *args)
{
    PyObject *lookup, *slow, *failed, *dirty, *bucket_of, *raw, *block, *noreply, *spec, *map, *set;
    if (!PyArg_ParseTuple(args, "O!OOOOO!O!O!O!O!O!", &PyDict_Type, &lookup, &slow, &failed, &dirty,
                          &bucket_of, &PyType_Type, &raw, &PyType_Type, &block, &PyType_Type,
                          &noreply, &PyType_Type, &spec, &PyType_Type, &map, &PyType_Type, &set))
        return NULL;
    PyTypeObject *st = (PyTypeObject *)spec;
    if (slot_offset(st, "simple", &off_simple) || slot_offset(st, "arity", &off_arity) ||
        slot_offset(st, "denyoom", &off_denyoom) || slot_offset(st, "data_only", &off_fast) ||
        slot_offset(st, "handler", &off_handler) || slot_offset(st, "calls", &off_calls) ||
        slot_offset(st, "usec", &off_usec) || slot_offset(st, "latency", &off_latency) ||
        slot_offset(st, "reads", &off_reads) || slot_offset(st, "name", &off_name) ||
        slot_offset(st, "native", &off_native) || slot_offset(st, "stats_later", &off_stats_later))
        return NULL;
    Py_XSETREF(g_lookup, Py_NewRef(lookup));
    Py_XSETREF(g_slow, Py_NewRef(slow));
    Py_XSETREF(g_failed, Py_NewRef(failed));
    Py_XSETREF(g_dirty, Py_NewRef(dirty));
    Py_XSETREF(g_bucket_of, Py_NewRef(bucket_of));
    Py_XSETREF(g_raw_type, (PyTypeObject *)Py_NewRef(raw));
    Py_XSETREF(g_block_type, (PyTypeObject *)Py_NewRef(block));
    Py_XSETREF(g_noreply_type, (PyTypeObject *)Py_NewRef(noreply));
    Py_XSETREF(g_spec_type, (PyTypeObject *)Py_NewRef(spec));
    Py_XSETREF(g_map_type, (PyTypeObject *)Py_NewRef(map));
    Py_XSETREF(g_set_type, (PyTypeObject *)Py_NewRef(set));
    Py_RETURN_NONE;
}

/* Per-batch view of the server's flags. */
typedef struct {
    PyObject *paused_until; /* borrowed from a reference held in `refs` below */
    PyObject *oom_guard;
    double slow_threshold;
    int post_command_needed;
    int natives; /* native handlers may run: nothing (MONITOR) must see each command */
    int latency_tracking;
    int propagate_hooks;
    int resp3;
    int plain; /* client.plain */
    PyObject *refs[2];
} Flags;

static void flags_clear(Flags *f)
{
    Py_CLEAR(f->refs[0]);
    Py_CLEAR(f->refs[1]);
    f->paused_until = f->oom_guard = NULL;
}

int truthy_attr(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

static int flags_load(Flags *f, PyObject *server, PyObject *client)
{
    flags_clear(f);
    PyObject *v;
    if ((f->refs[0] = PyObject_GetAttr(server, s_paused_until)) == NULL)
        return -1;
    f->paused_until = f->refs[0] == Py_None ? NULL : f->refs[0];
    if ((f->refs[1] = PyObject_GetAttr(server, s_oom_guard)) == NULL)
        return -1;
    f->oom_guard = f->refs[1] == Py_None ? NULL : f->refs[1];
    if ((v = PyObject_GetAttr(server, s_slow_threshold)) == NULL)
        return -1;
    f->slow_threshold = PyFloat_AsDouble(v);
    Py_DECREF(v);
    if (f->slow_threshold == -1.0 && PyErr_Occurred())
        return -1;
    if ((f->post_command_needed = truthy_attr(server, s_post_command_needed)) < 0)
        return -1;
    f->natives = !f->post_command_needed;
    if ((f->propagate_hooks = truthy_attr(server, s_propagate_hooks)) < 0)
        return -1;
    PyObject *config = PyObject_GetAttr(server, s_config);
    if (config == NULL)
        return -1;
    f->latency_tracking = truthy_attr(config, s_latency_tracking);
    Py_DECREF(config);
    if (f->latency_tracking < 0)
        return -1;
    if ((f->resp3 = truthy_attr(client, s_resp3)) < 0)
        return -1;
    if ((f->plain = truthy_attr(client, s_plain)) < 0)
        return -1;
    return 0;
}

/* spec.calls += calls; spec.usec += seconds (the Python path's units). */
static int count_calls(PyObject *spec, long long n, double seconds)
{
    PyObject *calls = SLOT(spec, off_calls), *usec = SLOT(spec, off_usec);
    PyObject *nc, *nu;
    if (calls == NULL || usec == NULL) {
        PyErr_SetString(PyExc_AttributeError, "CommandSpec stats unset");
        return -1;
    }
    long long c = PyLong_AsLongLong(calls);
    if (c == -1 && PyErr_Occurred())
        return -1;
    if ((nc = PyLong_FromLongLong(c + n)) == NULL)
        return -1;
    double u = PyFloat_AsDouble(usec);
    if (u == -1.0 && PyErr_Occurred()) {
        Py_DECREF(nc);
        return -1;
    }
    if ((nu = PyFloat_FromDouble(u + seconds)) == NULL) {
        Py_DECREF(nc);
        return -1;
    }
    Py_SETREF(SLOT(spec, off_calls), nc);
    Py_SETREF(SLOT(spec, off_usec), nu);
    return 0;
}

/* latency_hist.bucket_of, reproduced: exact below 128 ns, then 64 sub-buckets per power of two. */
static long long bucket_of(long long ns)
{
    if (ns < 128)
        return ns > 0 ? ns : 0;
    int bits = 64 - __builtin_clzll((unsigned long long)ns);
    int shift = bits - 7;
    return (long long)shift * 64 + (ns >> shift);
}

/* spec.latency[bucket] += count */
static int record_bucket(PyObject *spec, long long bucket, long long count)
{
    PyObject *hist = SLOT(spec, off_latency);
    if (hist == NULL || !PyDict_CheckExact(hist))
        return 0; /* replaced by something else: leave it to Python code */
    PyObject *key = PyLong_FromLongLong(bucket);
    if (key == NULL)
        return -1;
    PyObject *old = PyDict_GetItemWithError(hist, key);
    long long n = 0;
    if (old != NULL) {
        n = PyLong_AsLongLong(old);
        if (n == -1 && PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    }
    PyObject *val = PyLong_FromLongLong(n + count);
    if (val == NULL) {
        Py_DECREF(key);
        return -1;
    }
    int r = PyDict_SetItem(hist, key, val);
    Py_DECREF(key);
    Py_DECREF(val);
    return r;
}

/* Statistics of a run of native commands of one spec, added to the spec when the run ends or
 * before any Python code runs (INFO, CONFIG RESETSTAT, LATENCY read them): the per-call work of
 * count_calls/record_bucket (two to four int objects and a dict store) is paid once per run. */
#define RUN_BUCKETS 8
typedef struct {
    PyObject *spec; /* strong */
    long long calls, ns;
    int n;
    long long bucket[RUN_BUCKETS], count[RUN_BUCKETS];
} RunStats;

static int run_flush(RunStats *rs)
{
    PyObject *spec = rs->spec;
    if (spec == NULL)
        return 0;
    int r = count_calls(spec, rs->calls, rs->ns / 1e9);
    for (int i = 0; r == 0 && i < rs->n; i++)
        r = record_bucket(spec, rs->bucket[i], rs->count[i]);
    rs->spec = NULL;
    rs->calls = rs->ns = 0;
    rs->n = 0;
    Py_DECREF(spec);
    return r;
}

static int run_add(RunStats *rs, PyObject *spec, long long ns, int latency)
{
    if (rs->spec != spec) {
        if (run_flush(rs) < 0)
            return -1;
        rs->spec = Py_NewRef(spec);
    }
    rs->calls++;
    rs->ns += ns;
    if (!latency)
        return 0;
    long long b = bucket_of(ns);
    for (int i = 0; i < rs->n; i++)
        if (rs->bucket[i] == b) {
            rs->count[i]++;
            return 0;
        }
    if (rs->n == RUN_BUCKETS) { /* flush and start a new run of the same spec */
        if (run_flush(rs) < 0)
            return -1;
        rs->spec = Py_NewRef(spec);
    }
    rs->bucket[rs->n] = b;
    rs->count[rs->n++] = 1;
    return 0;
}

static int append_bytes(PyObject *out, const char *s, Py_ssize_t n)
{
    PyObject *b = PyBytes_FromStringAndSize(s, n);
    if (b == NULL)
        return -1;
    int r = PyList_Append(out, b);
    Py_DECREF(b);
    return r;
}

/* Writes "<c><n>\r\n" at p, returns the end (sprintf costs ~50 ns; a long reply has one per item). */
static char *put_header(char *p, char c, Py_ssize_t n)
{
    char digits[24];
    int k = 0;
    *p++ = c;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    while (k > 0)
        *p++ = digits[--k];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* The size bound and the writing of "$<len>\r\n<data>\r\n" for each item, "<header><count>\r\n"
 * first when header is not 0 (`*` array, `%` map, `~` set). Items must be exact bytes. */
static Py_ssize_t bulks_bound(PyObject *const *items, Py_ssize_t n, char header)
{
    Py_ssize_t total = header ? 24 : 0;
    for (Py_ssize_t i = 0; i < n; i++)
        total += PyBytes_GET_SIZE(items[i]) + 26;
    return total;
}

static char *put_bulks(char *p, PyObject *const *items, Py_ssize_t n, char header, Py_ssize_t count)
{
    if (header)
        p = put_header(p, header, count);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = PyBytes_GET_SIZE(items[i]);
        p = put_header(p, '$', len);
        memcpy(p, PyBytes_AS_STRING(items[i]), len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }
    return p;
}

/* put_bulks into a bytes object of its own. */
static PyObject *encode_bulks(PyObject *const *items, Py_ssize_t n, char header, Py_ssize_t count)
{
    PyObject *res = PyBytes_FromStringAndSize(NULL, bulks_bound(items, n, header));
    if (res == NULL)
        return NULL;
    char *p = put_bulks(PyBytes_AS_STRING(res), items, n, header, count);
    if (_PyBytes_Resize(&res, p - PyBytes_AS_STRING(res)) < 0)
        return NULL;
    return res;
}

/* Replies encoded in C are gathered here and handed to `out` as one bytes object when Python code is
 * about to run or the batch ends (Python appends its own replies to `out`, so the order holds): one
 * allocation per run of replies instead of one per reply, and no join for the usual batch. */
#define OUT_STACK 8192
#define OUT_DIRECT 65536 /* a reply this large becomes its own bytes object (no second copy) */
typedef struct {
    char *p;
    Py_ssize_t len, cap;
    char stack[OUT_STACK];
} OutBuf;

static void out_init(OutBuf *ob)
{
    ob->p = ob->stack;
    ob->len = 0;
    ob->cap = OUT_STACK;
}

static void out_free(OutBuf *ob)
{
    if (ob->p != ob->stack)
        PyMem_Free(ob->p);
    out_init(ob);
}

/* Room for `need` more bytes; where to write them, NULL on memory error. */
static char *out_reserve(OutBuf *ob, Py_ssize_t need)
{
    if (ob->len + need > ob->cap) {
        Py_ssize_t cap = ob->cap * 2 > ob->len + need ? ob->cap * 2 : ob->len + need;
        char *p = PyMem_Malloc(cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        memcpy(p, ob->p, ob->len);
        if (ob->p != ob->stack)
            PyMem_Free(ob->p);
        ob->p = p;
        ob->cap = cap;
    }
    return ob->p + ob->len;
}

static int out_put(OutBuf *ob, const char *s, Py_ssize_t n)
{
    char *p = out_reserve(ob, n);
    if (p == NULL)
        return -1;
    memcpy(p, s, n);
    ob->len += n;
    return 0;
}

static int out_flush(OutBuf *ob, PyObject *out)
{
    if (ob->len == 0)
        return 0;
    int r = append_bytes(out, ob->p, ob->len);
    ob->len = 0;
    return r;
}

/* Append the RESP encoding of `reply`; 1 when the client blocked (stop the batch), -1 on error. */
static int emit(PyObject *client, PyObject *server, PyObject *reply, OutBuf *ob, PyObject *out, int resp3)
{
    PyTypeObject *t = Py_TYPE(reply);
    PyObject *const *items = NULL;
    Py_ssize_t n = 0, count = 0;
    char header = 0;
    if (t == &PyBytes_Type) {
        items = &reply;
        n = 1;
    } else if (t == g_raw_type) {
        return out_put(ob, PyBytes_AS_STRING(reply), PyBytes_GET_SIZE(reply));
    } else if (t == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(reply, &overflow);
        if (!overflow) {
            if (v == -1 && PyErr_Occurred())
                return -1;
            char *p = out_reserve(ob, 32), *e;
            if (p == NULL)
                return -1;
            p[0] = ':';
            e = put_ll(p + 1, v);
            *e++ = '\r';
            *e++ = '\n';
            ob->len += e - p;
            return 0;
        }
    } else if (reply == Py_None) {
        return resp3 ? out_put(ob, "_\r\n", 3) : out_put(ob, "$-1\r\n", 5);
    } else if (t == &PyList_Type || t == g_map_type || t == g_set_type) {
        Py_ssize_t len = PyList_GET_SIZE(reply), i;
        for (i = 0; i < len; i++)
            if (!PyBytes_CheckExact(PyList_GET_ITEM(reply, i)))
                break;
        if (i == len && (t != g_map_type || len % 2 == 0)) {
            items = ((PyListObject *)reply)->ob_item;
            n = count = len;
            header = '*';
            if (resp3 && t == g_map_type) {
                header = '%';
                count = len / 2;
            } else if (resp3 && t == g_set_type) {
                header = '~';
            }
        }
    } else if (t == g_block_type) {
        if (out_flush(ob, out) < 0)
            return -1;
        PyObject *r = PyObject_CallMethodObjArgs(server, s_block_client, client, reply, NULL);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
        return 1;
    } else if (t == g_noreply_type) {
        return 0;
    }
    if (n > 0 || header) { /* bulk strings, with an aggregate header when `header` is set */
        Py_ssize_t total = bulks_bound(items, n, header);
        if (total >= OUT_DIRECT) {
            PyObject *enc = encode_bulks(items, n, header, count);
            int r = enc == NULL || out_flush(ob, out) < 0 ? -1 : PyList_Append(out, enc);
            Py_XDECREF(enc);
            return r;
        }
        char *p = out_reserve(ob, total);
        if (p == NULL)
            return -1;
        ob->len += put_bulks(p, items, n, header, count) - p;
        return 0;
    }
    if (out_flush(ob, out) < 0)
        return -1;
    PyObject *enc = PyObject_CallMethodOneArg(client, s_encode, reply);
    if (enc == NULL)
        return -1;
    int r = PyList_Append(out, enc);
    Py_DECREF(enc);
    return r;
}

static inline long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int attr_is_not_none(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    int r = v != Py_None;
    Py_DECREF(v);
    return r;
}

/* Run the slow path for argv; 1 when the batch must stop (blocked / closing), -1 on error. */
static int run_slow(PyObject *client, PyObject *argv, PyObject *out)
{
    PyObject *reply = PyObject_CallFunctionObjArgs(g_slow, client, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply != Py_None && PyList_Append(out, reply) < 0) {
        Py_DECREF(reply);
        return -1;
    }
    Py_DECREF(reply);
    int b = attr_is_not_none(client, s_blocked);
    if (b != 0)
        return b;
    return truthy_attr(client, s_close_after_reply);
}

#define STACK_ARGS 16

/* server.observer.record_slow(client, spec, argv, seconds) */
static int record_slow(PyObject *server, PyObject *client, PyObject *spec, PyObject *argv, double seconds)
{
    PyObject *observer = PyObject_GetAttr(server, s_observer);
    PyObject *secs = PyFloat_FromDouble(seconds);
    PyObject *r = observer && secs ? PyObject_CallMethodObjArgs(observer, s_record_slow, client, spec, argv, secs, NULL) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(secs);
    Py_XDECREF(observer);
    return r == NULL ? -1 : 0;
}

/* Python code that may read INFO's counters is about to run: hand it the counts kept in C, and
 * forget what native handlers saw of the keyspace (that code may change it). */
#define BEFORE_PYTHON()                                                  \
    do {                                                                 \
        if (run_flush(&rs) < 0 || native_flush(&ns, ks) < 0)             \
            goto finish;                                                 \
        native_drop(&ns);                                                \
    } while (0)

static PyObject *execute_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "execute_batch(client, cmds, out, honor_pause=True)");
        return NULL;
    }
    if (g_lookup == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "respdb._speedups is not configured");
        return NULL;
    }
    PyObject *client = args[0], *out = args[2];
    int honor_pause = nargs == 4 ? PyObject_IsTrue(args[3]) : 1;
    if (honor_pause < 0 || !PyList_CheckExact(out)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "out must be a list");
        return NULL;
    }
    PyObject *cmds = PySequence_Fast(args[1], "cmds must be a sequence");
    if (cmds == NULL)
        return NULL;
    PyObject *server = NULL, *ks = NULL, *reading = NULL, *last_name = NULL;
    Flags f = {0};
    RunStats rs = {0};
    NativeState ns = {0};
    OutBuf ob;
    out_init(&ob);
    /* When a native command follows another, the clock reading that ended the first starts the
     * second: one clock_gettime per command instead of two (~18 ns each here). The second's time
     * then also holds the first's reply encoding and its own lookup, tens of ns. 0: read the clock. */
    long long t_chain = 0;
    Py_ssize_t done = 0, total = PySequence_Fast_GET_SIZE(cmds);
    int failed = 1;
    if ((server = PyObject_GetAttr(client, s_server)) == NULL ||
        (ks = PyObject_GetAttr(client, s_keyspace)) == NULL || flags_load(&f, server, client) < 0)
        goto finish;

    for (Py_ssize_t ci = 0; ci < total; ci++) {
        PyObject *argv = PySequence_Fast_GET_ITEM(cmds, ci);
        if (honor_pause && f.paused_until != NULL) {
            t_chain = 0;
            BEFORE_PYTHON();
            PyObject *held = PyObject_CallMethodOneArg(server, s_pause_holds, argv);
            if (held == NULL)
                goto finish;
            int h = PyObject_IsTrue(held);
            Py_DECREF(held);
            if (h < 0)
                goto finish;
            if (h)
                break;
        }
        done++;
        if (!PyList_CheckExact(argv) || PyList_GET_SIZE(argv) == 0) {
            PyErr_SetString(PyExc_TypeError, "argv must be a non-empty list");
            goto finish;
        }
        Py_ssize_t n = PyList_GET_SIZE(argv);
        PyObject *spec = PyDict_GetItemWithError(g_lookup, PyList_GET_ITEM(argv, 0));
        if (spec == NULL && PyErr_Occurred())
            goto finish;
        int slow = spec == NULL || !f.plain || !Py_IS_TYPE(spec, g_spec_type) || SLOT(spec, off_simple) != Py_True;
        /* A slot left unset (del spec.x) must not crash the server: the Python path raises instead. */
        slow = slow || SLOT(spec, off_arity) == NULL || SLOT(spec, off_handler) == NULL ||
               SLOT(spec, off_reads) == NULL || SLOT(spec, off_name) == NULL || SLOT(spec, off_fast) == NULL;
        if (!slow) {
            long arity = PyLong_AsLong(SLOT(spec, off_arity));
            if (arity == -1 && PyErr_Occurred())
                goto finish;
            slow = (arity > 0 && n != arity) || n < -arity;
            if (!slow && f.oom_guard != NULL && SLOT(spec, off_denyoom) == Py_True) {
                t_chain = 0;
                BEFORE_PYTHON();
                PyObject *db = PyObject_GetAttr(client, s_db);
                if (db == NULL)
                    goto finish;
                PyObject *oom = PyObject_CallOneArg(f.oom_guard, db);
                Py_DECREF(db);
                if (oom == NULL)
                    goto finish;
                slow = PyObject_IsTrue(oom);
                Py_DECREF(oom);
                if (slow < 0)
                    goto finish;
            }
        }
        long native = 0;
        if (!slow && f.natives && SLOT(spec, off_native) != NULL && (native = PyLong_AsLong(SLOT(spec, off_native))) > 0) {
            if (!ns.loaded && native_load(&ns, client, server, ks) < 0)
                goto finish;
            if (ns.quiet) {
                int wrote = 0;
                long long t0 = t_chain ? t_chain : now_ns();
                PyObject *reply = native_run(native, &ns, argv, &wrote);
                long long t1 = now_ns(), elapsed = t1 - t0;
                if (reply == NULL)
                    goto finish;
                if (reply != native_pass) {
                    t_chain = t1;
                    int bad = run_add(&rs, spec, elapsed, f.latency_tracking) < 0 ||
                              (SLOT(spec, off_name) != last_name && PyObject_SetAttr(client, s_last_cmd, SLOT(spec, off_name)) < 0);
                    last_name = SLOT(spec, off_name);
                    if (!bad && (elapsed / 1e9 >= f.slow_threshold || (wrote && f.propagate_hooks))) {
                        bad = run_flush(&rs) < 0 || native_flush(&ns, ks) < 0;
                        native_drop(&ns);
                        t_chain = 0; /* Python runs below */
                        if (!bad && elapsed / 1e9 >= f.slow_threshold)
                            bad = record_slow(server, client, spec, argv, elapsed / 1e9) < 0;
                        if (!bad && wrote && f.propagate_hooks) { /* AOF: _fast_dirty logs it */
                            PyObject *r = PyObject_CallFunctionObjArgs(g_dirty, client, spec, argv, NULL);
                            bad = r == NULL;
                            Py_XDECREF(r);
                        }
                    }
                    /* A native reply is bytes, an int, None or Raw: emit() encodes it in C. */
                    if (bad || emit(client, server, reply, &ob, out, f.resp3) < 0) {
                        Py_DECREF(reply);
                        goto finish;
                    }
                    Py_DECREF(reply);
                    continue;
                }
            }
        } else if (native == -1 && PyErr_Occurred()) {
            goto finish;
        }
        t_chain = 0;
        int later = !slow && SLOT(spec, off_stats_later) == Py_True;
        if (later)
            native_drop(&ns); /* its counts join the run's; what natives saw may change */
        else
            BEFORE_PYTHON();
        if (slow) {
            /* Unknown command, special client state, subcommands, arity error or maxmemory. */
            if (out_flush(&ob, out) < 0)
                goto finish;
            int r = run_slow(client, argv, out);
            if (r < 0)
                goto finish;
            Py_CLEAR(reading);
            last_name = NULL;
            if (r > 0)
                break;
            if (flags_load(&f, server, client) < 0)
                goto finish;
            continue;
        }
        Py_INCREF(spec); /* the handler may change the command table (it never should, but) */
        PyObject *spec_reads = SLOT(spec, off_reads);
        if (spec_reads != reading) {
            if (PyObject_SetAttr(ks, s_reading, spec_reads) < 0) {
                Py_DECREF(spec);
                goto finish;
            }
            Py_XSETREF(reading, Py_NewRef(spec_reads));
        }
        PyObject *dirty0 = PyObject_GetAttr(ks, s_dirty);
        if (dirty0 == NULL) {
            Py_DECREF(spec);
            goto finish;
        }
        PyObject *stack[STACK_ARGS], **callargs = stack;
        if (n > STACK_ARGS && (callargs = PyMem_Malloc(n * sizeof(PyObject *))) == NULL) {
            Py_DECREF(dirty0);
            Py_DECREF(spec);
            PyErr_NoMemory();
            goto finish;
        }
        callargs[0] = client;
        for (Py_ssize_t i = 1; i < n; i++)
            callargs[i] = PyList_GET_ITEM(argv, i);
        Py_INCREF(argv); /* argv items stay alive while the handler runs */
        long long t0 = now_ns();
        PyObject *reply = PyObject_Vectorcall(SLOT(spec, off_handler), callargs, n, NULL);
        long long elapsed = now_ns() - t0;
        if (callargs != stack)
            PyMem_Free(callargs);
        if (reply == NULL) {
            Py_DECREF(dirty0);
            if (!PyErr_ExceptionMatches(PyExc_Exception)) { /* KeyboardInterrupt, SystemExit */
                Py_DECREF(argv);
                Py_DECREF(spec);
                goto finish;
            }
            PyObject *etype, *exc, *tb;
            PyErr_Fetch(&etype, &exc, &tb);
            PyErr_NormalizeException(&etype, &exc, &tb);
            if (tb != NULL)
                PyException_SetTraceback(exc, tb);
            PyObject *ns_obj = PyLong_FromLongLong(elapsed);
            PyObject *err = ns_obj == NULL ? NULL : PyObject_CallFunctionObjArgs(g_failed, client, spec, argv, exc, ns_obj, NULL);
            Py_XDECREF(ns_obj);
            Py_XDECREF(etype);
            Py_XDECREF(exc);
            Py_XDECREF(tb);
            Py_DECREF(argv);
            int fast = SLOT(spec, off_fast) == Py_True;
            last_name = SLOT(spec, off_name); /* _fast_failed set client.last_cmd */
            Py_DECREF(spec);
            if (err == NULL || out_flush(&ob, out) < 0) {
                Py_XDECREF(err);
                goto finish;
            }
            int r = PyList_Append(out, err);
            Py_DECREF(err);
            if (r < 0)
                goto finish;
            if (!fast) { /* it may have changed state before it failed */
                Py_CLEAR(reading);
                last_name = NULL;
                if (flags_load(&f, server, client) < 0)
                    goto finish;
            }
            continue;
        }
        double seconds = elapsed / 1e9;
        int bad = (later ? run_add(&rs, spec, elapsed, f.latency_tracking) < 0
                         : count_calls(spec, 1, seconds) < 0 ||
                               (f.latency_tracking && record_bucket(spec, bucket_of(elapsed), 1) < 0)) ||
                  (SLOT(spec, off_name) != last_name && PyObject_SetAttr(client, s_last_cmd, SLOT(spec, off_name)) < 0);
        last_name = SLOT(spec, off_name); /* borrowed, for identity only: set once per run of a command */
        if (!bad && seconds >= f.slow_threshold)
            bad = record_slow(server, client, spec, argv, seconds) < 0;
        if (!bad) {
            PyObject *dirty1 = PyObject_GetAttr(ks, s_dirty);
            int changed = dirty1 == NULL ? -1 : PyObject_RichCompareBool(dirty0, dirty1, Py_NE);
            Py_XDECREF(dirty1);
            if (changed > 0 && !f.propagate_hooks) {
                /* _fast_dirty has nothing to do unless the handler rewrote its logged form or filled
                 * a key some client is blocked on (the usual write, without AOF: skip the call). */
                int busy = attr_is_not_none(client, s_propagate_argv);
                if (busy == 0)
                    busy = truthy_attr(ks, s_ready_keys);
                changed = busy;
            }
            if (changed > 0) {
                PyObject *r = PyObject_CallFunctionObjArgs(g_dirty, client, spec, argv, NULL);
                changed = r == NULL ? -1 : 0;
                Py_XDECREF(r);
            }
            bad = changed < 0;
        }
        if (!bad && f.post_command_needed) {
            PyObject *r = PyObject_CallMethodObjArgs(server, s_after_write, client, spec, argv, dirty0, NULL);
            bad = r == NULL;
            Py_XDECREF(r);
        }
        Py_DECREF(dirty0);
        int stop = bad ? -1 : emit(client, server, reply, &ob, out, f.resp3);
        Py_DECREF(reply);
        Py_DECREF(argv);
        int fast = SLOT(spec, off_fast) == Py_True;
        Py_DECREF(spec);
        if (stop != 0) {
            if (stop < 0)
                goto finish;
            break; /* blocked */
        }
        if (!fast) {
            Py_CLEAR(reading);
            last_name = NULL;
            int closing = truthy_attr(client, s_close_after_reply);
            if (closing < 0)
                goto finish;
            if (closing)
                break;
            if (flags_load(&f, server, client) < 0)
                goto finish;
        }
    }
    failed = 0;
finish:
    if (failed) { /* keep the error while the counters and replies are handed over */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (run_flush(&rs) < 0 || native_flush(&ns, ks ? ks : Py_None) < 0 || out_flush(&ob, out) < 0)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
    } else if (run_flush(&rs) < 0 || native_flush(&ns, ks) < 0 || out_flush(&ob, out) < 0) {
        failed = 1;
    }
    out_free(&ob);
    native_drop(&ns);
    flags_clear(&f);
    Py_XDECREF(reading);
    Py_XDECREF(ks);
    Py_XDECREF(server);
    Py_DECREF(cmds);
    return failed ? NULL : PyLong_FromSsize_t(done);
}

static PyObject *s_feed, *s_gets, *s_has_data, *g_probe;

/* big_count(data) -> bool: a `*` then 6+ digits (optionally after '-') anywhere in data — parser.py's
 * _BIG_COUNT regex (hiredis preallocates a multibulk's whole array from its count). */
static PyObject *big_count(PyObject *self, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *p = view.buf, *end = p + view.len;
    int found = 0;
    while (!found && (p = memchr(p, '*', end - p)) != NULL) {
        const char *q = ++p;
        if (q < end && *q == '-')
            q++;
        int digits = 0;
        while (q < end && digits < 6 && *q >= '0' && *q <= '9') {
            q++;
            digits++;
        }
        found = digits == 6;
    }
    PyBuffer_Release(&view);
    return PyBool_FromLong(found);
}

/* A line of data[:end] starting with a RESP3 aggregate type hiredis reads as a list or dict. */
static int resp3_aggregate_line(const char *p, Py_ssize_t end)
{
    const char *q = p, *stop = p + end - 1; /* a '\n' needs a byte after it */
    while (q < stop && (q = memchr(q, '\n', stop - q)) != NULL) {
        char c = q[1];
        if (c == '~' || c == '>' || c == '|' || c == '%')
            return 1;
        q++;
    }
    return 0;
}

/* hiredis moves the unread rest of its buffer down after each command once 1 KB is consumed, so one
 * feed of a large pipelined read costs quadratically (16 x 1 KB SETs: 273 vs 213 ns per command fed
 * one at a time; 64 x 4 KB: 1291 vs 233). Feeding slices bounds what each move carries. */
#define FEED_SLICE 4096

static int feed_slice(PyObject *reader, PyObject *data, Py_ssize_t off, Py_ssize_t n)
{
    PyObject *o = PyLong_FromSsize_t(off), *len = PyLong_FromSsize_t(n), *r = NULL;
    if (o != NULL && len != NULL)
        r = PyObject_CallMethodObjArgs(reader, s_feed, data, o, len, NULL);
    Py_XDECREF(o);
    Py_XDECREF(len);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static Py_ssize_t digits_of(Py_ssize_t n)
{
    Py_ssize_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Bytes of "*<n>\r\n" + "$<len>\r\n<arg>\r\n" per argument, over the commands (lists of bytes). */
static Py_ssize_t canonical_length(PyObject *cmds)
{
    Py_ssize_t total = 0;
    for (Py_ssize_t c = 0; c < PyList_GET_SIZE(cmds); c++) {
        PyObject *cmd = PyList_GET_ITEM(cmds, c);
        Py_ssize_t n = PyList_GET_SIZE(cmd);
        total += 3 + digits_of(n);
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t len = PyBytes_GET_SIZE(PyList_GET_ITEM(cmd, i));
            total += 5 + digits_of(len) + len;
        }
    }
    return total;
}

/* hiredis_whole(reader, data, end, max_len, need_more, partial): parser.py's _hiredis_whole —
 * the commands in data[:end] if it holds whole multibulk commands of bulk arguments; `partial` if it
 * ends inside one; None if anything is odd. The caller replaces the reader unless a list comes back. */
static PyObject *hiredis_whole(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "hiredis_whole(reader, data, end, max_len, need_more, partial)");
        return NULL;
    }
    PyObject *reader = args[0], *data = args[1], *need_more = args[4], *partial = args[5];
    Py_ssize_t end = PyLong_AsSsize_t(args[2]), max_len = PyLong_AsSsize_t(args[3]);
    if ((end == -1 || max_len == -1) && PyErr_Occurred())
        return NULL;
    if (end > PyBytes_GET_SIZE(data))
        end = PyBytes_GET_SIZE(data);
    PyObject *r;
    Py_ssize_t fed = 0;
    PyObject *cmds = PyList_New(0), *gets = NULL;
    int skipped = 0;
    if (cmds == NULL || (gets = PyObject_GetAttr(reader, s_gets)) == NULL)
        goto error;
    for (;;) {
        PyObject *cmd = PyObject_CallNoArgs(gets);
        if (cmd == NULL)
            goto odd;
        if (cmd == need_more) {
            Py_DECREF(cmd);
            if (fed >= end)
                break;
            Py_ssize_t n = end - fed < FEED_SLICE ? end - fed : FEED_SLICE;
            if (feed_slice(reader, data, fed, n) < 0)
                goto odd;
            fed += n;
            continue;
        }
        if (!PyList_CheckExact(cmd)) { /* $-1, $0, _, :0, #f... are inline commands to Redis */
            Py_DECREF(cmd);
            goto odd;
        }
        Py_ssize_t n = PyList_GET_SIZE(cmd);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *arg = PyList_GET_ITEM(cmd, i);
            if (!PyBytes_CheckExact(arg) || PyBytes_GET_SIZE(arg) > max_len) {
                Py_DECREF(cmd);
                goto odd;
            }
        }
        int rc = 0;
        if (n)
            rc = PyList_Append(cmds, cmd);
        else
            skipped = 1; /* `*0` is skipped, as Redis does */
        Py_DECREF(cmd);
        if (rc < 0)
            goto error;
    }
    if ((skipped || PyList_GET_SIZE(cmds) > 1) && resp3_aggregate_line(PyBytes_AS_STRING(data), end))
        goto odd;
    /* hiredis does not say whether it stopped inside a command. It reads only canonical lengths (no
     * sign, no leading zero), so when the commands' canonical encoding is exactly `end` bytes long it
     * consumed all of them: a boundary. Otherwise (a `*0` skipped, or a command cut short) probe with
     * an empty array: it comes back as [] only when the reader was at a command boundary. */
    if (!skipped && canonical_length(cmds) == end) {
        Py_DECREF(gets);
        return cmds;
    }
    int boundary = 0;
    if ((r = PyObject_CallMethodOneArg(reader, s_feed, g_probe)) != NULL) {
        Py_DECREF(r);
        PyObject *probe = PyObject_CallNoArgs(gets);
        if (probe != NULL) {
            boundary = PyList_CheckExact(probe) && PyList_GET_SIZE(probe) == 0;
            Py_DECREF(probe);
            if (boundary && (r = PyObject_CallMethodNoArgs(reader, s_has_data)) != NULL) {
                boundary = r == Py_False;
                Py_DECREF(r);
            } else if (boundary) {
                boundary = 0;
            }
        }
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            goto error;
        PyErr_Clear();
    }
    Py_DECREF(gets);
    if (boundary)
        return cmds;
    Py_DECREF(cmds);
    return Py_NewRef(partial);
odd:
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            goto error;
        PyErr_Clear();
    }
    Py_XDECREF(gets);
    Py_DECREF(cmds);
    Py_RETURN_NONE;
error:
    Py_XDECREF(gets);
    Py_XDECREF(cmds);
    return NULL;
}

static PyMethodDef methods[] = {
    {"hiredis_whole", (PyCFunction)(void (*)(void))hiredis_whole, METH_FASTCALL,
     "hiredis_whole(reader, data, end, max_len, need_more, partial): parser.py's _hiredis_whole in C."},
    {"big_count", big_count, METH_O, "big_count(data) -> bool: parser.py's _BIG_COUNT test in C."},
    {"configure", configure, METH_VARARGS, "Hand over the objects the loop needs (dispatch.py calls it once)."},
    {"execute_batch", (PyCFunction)(void (*)(void))execute_batch, METH_FASTCALL,
     "execute_batch(client, cmds, out, honor_pause=True) -> int: dispatch.execute_batch in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "respdb._speedups", NULL, -1, methods};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC PyInit__speedups(void)
{
    INTERN(s_server, "server");
    INTERN(s_propagate_hooks, "propagate_hooks");
    INTERN(s_propagate_argv, "propagate_argv");
    INTERN(s_ready_keys, "ready_keys");
    INTERN(s_keyspace, "keyspace");
    INTERN(s_plain, "plain");
    INTERN(s_paused_until, "paused_until");
    INTERN(s_pause_holds, "pause_holds");
    INTERN(s_oom_guard, "oom_guard");
    INTERN(s_db, "db");
    INTERN(s_slow_threshold, "slow_threshold");
    INTERN(s_post_command_needed, "post_command_needed");
    INTERN(s_config, "config");
    INTERN(s_latency_tracking, "latency_tracking");
    INTERN(s_resp3, "resp3");
    INTERN(s_dirty, "dirty");
    INTERN(s_reading, "reading");
    INTERN(s_last_cmd, "last_cmd");
    INTERN(s_observer, "observer");
    INTERN(s_record_slow, "record_slow");
    INTERN(s_after_write, "after_write");
    INTERN(s_encode, "encode");
    INTERN(s_block_client, "block_client");
    INTERN(s_blocked, "blocked");
    INTERN(s_close_after_reply, "close_after_reply");
    INTERN(s_feed, "feed");
    INTERN(s_gets, "gets");
    INTERN(s_has_data, "has_data");
    if ((g_probe = PyBytes_FromString("*0\r\n")) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && native_init(m) < 0)
        Py_CLEAR(m);
    return m;
}
