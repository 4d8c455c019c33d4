/* Native handlers: the quiet common case of redis-benchmark's hottest commands in C.
 *
 * Why: after the command loop moved to C (_speedups.c), the Python handlers were most of what was
 * left per request at -P 16 (INCR 0.4-0.5 us of int parsing and formatting, pushes and HSET 0.25-0.4
 * us of method calls) — `python -m benchmarks.layers` measures it. Each function here does what its
 * Python handler does for the one case that dominates real traffic, and returns `native_pass` for
 * everything else, so the Python handler (the reference: RESPDB_NO_EXTENSIONS=1 runs only it) keeps
 * every rule: errors, WRONGTYPE, lazy expiry, key creation and deletion, WATCH, keyspace events,
 * access tracking, blocked clients, encoding history, list chunk changes. A native handler passes
 * when the key has a TTL or is WATCHed, when it would create or delete a key, and it runs only while
 * the keyspace is quiet (no notify/on_change hook, no access tracking).
 *
 * What the Python handler's helpers do on the quiet path and these reproduce: Database.get (no TTL,
 * so no expiry; hits/misses for reading commands), Database.write/changed (the dirty count; the
 * other hooks are off), QuickList's end operations on their no-new-chunk branch.
 */
#include "_speedups.h"
#include <stdlib.h>
#include <structmember.h>

PyObject *native_pass;

static PyTypeObject *g_db_type, *g_quicklist_type, *g_zset_type;
static PyObject *g_singletons; /* encoding_history.SINGLETONS: a set, non-empty rarely */
static PyObject *g_forced;     /* encoding_history._FORCED: (db, key) -> (value, encoding) */
static PyObject *g_ok, *g_pong;
static Py_ssize_t g_chunk;
static Py_ssize_t off_db_data, off_db_expires, off_db_watched, off_ql_chunks, off_ql_len, off_ql_off, off_zset_scores;
static PyObject *s_db, *s_notify, *s_on_change, *s_tracking, *s_touch_clock, *s_blocking_keys, *s_config,
    *s_hash_value, *s_hash_entries, *s_dirty, *s_hits, *s_misses, *s_add;

/* CommandSpec.native numbers: the position in this list, plus one. */
enum {
    N_PING = 1, N_GET, N_SET, N_INCR, N_DECR, N_INCRBY, N_DECRBY, N_LPUSH, N_RPUSH, N_LPOP, N_RPOP, N_SADD,
    N_HSET, N_MSET, N_ZADD, N_ZPOPMIN, N_ZPOPMAX, N_SPOP, N_EXISTS, N_HGET, N_HEXISTS, N_HLEN, N_LLEN, N_SCARD,
    N_SISMEMBER
};
static const char *const NAMES[] = {"ping", "get", "set", "incr", "decr", "incrby", "decrby", "lpush", "rpush",
                                    "lpop", "rpop", "sadd", "hset", "mset", "zadd", "zpopmin", "zpopmax",
                                    "spop", "exists", "hget", "hexists", "hlen", "llen", "scard", "sismember",
                                    NULL};

/* configure_native(Database, QuickList, CHUNK, ZSet, SINGLETONS, _FORCED, OK, PONG) */
static PyObject *configure_native(PyObject *self, PyObject *args)
{
    PyObject *db, *ql, *zset, *singletons, *forced, *ok, *pong;
    Py_ssize_t chunk;
    if (!PyArg_ParseTuple(args, "O!O!nO!O!O!OO", &PyType_Type, &db, &PyType_Type, &ql, &chunk, &PyType_Type, &zset,
                          &PySet_Type, &singletons, &PyDict_Type, &forced, &ok, &pong))
        return NULL;
    PyTypeObject *dt = (PyTypeObject *)db, *qt = (PyTypeObject *)ql;
    if (slot_offset(dt, "data", &off_db_data) || slot_offset(dt, "expires", &off_db_expires) ||
        slot_offset(dt, "watched", &off_db_watched) || slot_offset(qt, "_chunks", &off_ql_chunks) ||
        slot_offset(qt, "_len", &off_ql_len) || slot_offset(qt, "_off", &off_ql_off) ||
        slot_offset((PyTypeObject *)zset, "scores", &off_zset_scores))
        return NULL;
    if (chunk < 1) {
        PyErr_SetString(PyExc_ValueError, "CHUNK must be positive");
        return NULL;
    }
    Py_XSETREF(g_db_type, (PyTypeObject *)Py_NewRef(db));
    Py_XSETREF(g_quicklist_type, (PyTypeObject *)Py_NewRef(ql));
    Py_XSETREF(g_zset_type, (PyTypeObject *)Py_NewRef(zset));
    Py_XSETREF(g_singletons, Py_NewRef(singletons));
    Py_XSETREF(g_forced, Py_NewRef(forced));
    Py_XSETREF(g_ok, Py_NewRef(ok));
    Py_XSETREF(g_pong, Py_NewRef(pong));
    g_chunk = chunk;
    Py_RETURN_NONE;
}

static PyMethodDef native_methods[] = {
    {"configure_native", configure_native, METH_VARARGS,
     "Hand over the types and objects the native handlers need (dispatch.py calls it once)."},
    {NULL, NULL, 0, NULL},
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return -1

int native_init(PyObject *module)
{
    INTERN(s_db, "db");
    INTERN(s_notify, "notify");
    INTERN(s_on_change, "on_change");
    INTERN(s_tracking, "tracking");
    INTERN(s_touch_clock, "touch_clock");
    INTERN(s_blocking_keys, "blocking_keys");
    INTERN(s_config, "config");
    INTERN(s_hash_value, "hash_max_listpack_value");
    INTERN(s_hash_entries, "hash_max_listpack_entries");
    INTERN(s_dirty, "dirty");
    INTERN(s_hits, "hits");
    INTERN(s_misses, "misses");
    INTERN(s_add, "add");
    if ((native_pass = PyObject_New(PyObject, &PyBaseObject_Type)) == NULL)
        return -1;
    PyObject *names = PyTuple_New(sizeof NAMES / sizeof NAMES[0] - 1);
    if (names == NULL)
        return -1;
    for (Py_ssize_t i = 0; NAMES[i] != NULL; i++) {
        PyObject *s = PyUnicode_FromString(NAMES[i]);
        if (s == NULL) {
            Py_DECREF(names);
            return -1;
        }
        PyTuple_SET_ITEM(names, i, s);
    }
    if (PyModule_AddObject(module, "NATIVE_COMMANDS", names) < 0) {
        Py_DECREF(names);
        return -1;
    }
    return PyModule_AddFunctions(module, native_methods);
}

void native_drop(NativeState *st)
{
    st->loaded = 0;
    Py_CLEAR(st->db);
    st->data = st->expires = st->watched = NULL;
}

static int attr_is_none(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    int r = v == Py_None;
    Py_DECREF(v);
    return r;
}

/* A config value as a C long long; 0 with quiet cleared if it is not an int that fits. */
static int config_ll(PyObject *config, PyObject *name, long long *out, int *ok)
{
    PyObject *v = PyObject_GetAttr(config, name);
    if (v == NULL)
        return -1;
    int overflow = 0;
    *out = PyLong_Check(v) ? PyLong_AsLongLongAndOverflow(v, &overflow) : 0;
    if (!PyLong_Check(v) || overflow)
        *ok = 0;
    Py_DECREF(v);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

int native_load(NativeState *st, PyObject *client, PyObject *server, PyObject *ks)
{
    native_drop(st);
    if (g_db_type == NULL) { /* configure_native not called: natives stay off */
        st->loaded = 1;
        st->quiet = 0;
        return 0;
    }
    PyObject *db = PyObject_GetAttr(client, s_db);
    if (db == NULL)
        return -1;
    st->db = db;
    int quiet = Py_IS_TYPE(db, g_db_type);
    if (quiet) {
        st->data = SLOT(db, off_db_data);
        st->expires = SLOT(db, off_db_expires);
        st->watched = SLOT(db, off_db_watched);
        quiet = st->data && st->expires && st->watched && PyDict_CheckExact(st->data) &&
                PyDict_CheckExact(st->expires) && PyDict_CheckExact(st->watched);
    }
    int r;
    if (quiet && ((r = attr_is_none(ks, s_notify)) <= 0 || (r = attr_is_none(ks, s_on_change)) <= 0 ||
                  (r = truthy_attr(ks, s_tracking)) != 0 || (r = attr_is_none(ks, s_touch_clock)) <= 0)) {
        if (r < 0)
            return -1;
        quiet = 0;
    }
    if (quiet && (st->blocking = truthy_attr(ks, s_blocking_keys)) < 0)
        return -1;
    if (quiet) {
        PyObject *config = PyObject_GetAttr(server, s_config);
        if (config == NULL)
            return -1;
        r = config_ll(config, s_hash_value, &st->hash_max_value, &quiet) < 0 ||
            config_ll(config, s_hash_entries, &st->hash_max_entries, &quiet) < 0;
        Py_DECREF(config);
        if (r)
            return -1;
    }
    st->quiet = quiet;
    st->loaded = 1;
    return 0;
}

static int add_counter(PyObject *ks, PyObject *name, long long *pending)
{
    if (*pending == 0)
        return 0;
    PyObject *old = PyObject_GetAttr(ks, name), *delta = NULL, *sum = NULL;
    int r = -1;
    if (old != NULL && (delta = PyLong_FromLongLong(*pending)) != NULL && (sum = PyNumber_Add(old, delta)) != NULL)
        r = PyObject_SetAttr(ks, name, sum);
    Py_XDECREF(old);
    Py_XDECREF(delta);
    Py_XDECREF(sum);
    if (r == 0)
        *pending = 0;
    return r;
}

int native_flush(NativeState *st, PyObject *ks)
{
    return add_counter(ks, s_dirty, &st->dirty) < 0 || add_counter(ks, s_hits, &st->hits) < 0 ||
                   add_counter(ks, s_misses, &st->misses) < 0
               ? -1
               : 0;
}

/* --- the handlers ------------------------------------------------------------------------------ */

/* 1 if the key has a TTL (Database.get may expire it), -1 on error. */
static int has_ttl(NativeState *st, PyObject *key)
{
    return PyDict_GET_SIZE(st->expires) ? PyDict_Contains(st->expires, key) : 0;
}

/* For writers: 1 if the key has a TTL or is WATCHed (the Python handler deals with both), -1 on error. */
static int guarded(NativeState *st, PyObject *key)
{
    int r = has_ttl(st, key);
    if (r != 0)
        return r;
    return PyDict_GET_SIZE(st->watched) ? PyDict_Contains(st->watched, key) : 0;
}

/* The value at key (borrowed; NULL when missing, with *err set on error), as Database.get sees it
 * for a key without a TTL. */
static PyObject *lookup(NativeState *st, PyObject *key, int *err)
{
    PyObject *v = PyDict_GetItemWithError(st->data, key);
    *err = v == NULL && PyErr_Occurred();
    return v;
}

/* Redis's string2ll on canonical input only: "0", or an optional '-' then 1-18 digits without a
 * leading zero (18 digits cannot overflow). Anything else is left to the Python parser (0). */
static int parse_ll(PyObject *b, long long *out)
{
    const char *p = PyBytes_AS_STRING(b);
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    int neg = n > 0 && p[0] == '-';
    p += neg;
    n -= neg;
    if (n == 1 && p[0] == '0' && !neg) {
        *out = 0;
        return 1;
    }
    if (n < 1 || n > 18 || p[0] < '1' || p[0] > '9')
        return 0;
    long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

/* A value of at most one byte may collide with an encoding-history entry (whole_singleton). */
static int singleton_risk(PyObject *value)
{
    return PyBytes_GET_SIZE(value) <= 1 && PySet_GET_SIZE(g_singletons) > 0;
}

/* strings.incr: INCR/DECR/INCRBY/DECRBY. */
static PyObject *incr(NativeState *st, PyObject *key, long long delta, int *wrote)
{
    int err, g = guarded(st, key);
    if (g)
        return g < 0 ? NULL : native_pass;
    PyObject *old = lookup(st, key, &err);
    if (err)
        return NULL;
    long long base = 0, result;
    if (old != NULL && (!PyBytes_CheckExact(old) || !parse_ll(old, &base)))
        return native_pass;
    if (__builtin_add_overflow(base, delta, &result))
        return native_pass;
    PyObject *num = PyLong_FromLongLong(result);
    if (num == NULL)
        return NULL;
    char buf[24];
    PyObject *text = PyBytes_FromStringAndSize(buf, put_ll(buf, result) - buf);
    if (text == NULL || singleton_risk(text)) {
        Py_XDECREF(text);
        Py_DECREF(num);
        return text == NULL ? NULL : native_pass;
    }
    int r = PyDict_SetItem(st->data, key, text);
    Py_DECREF(text);
    if (r < 0) {
        Py_DECREF(num);
        return NULL;
    }
    st->dirty++;
    *wrote = 1;
    return num;
}

/* The QuickList at key for an end operation, or NULL: *how says why (0 pass, 1 no such key,
 * -1 error). */
static PyObject *list_at(NativeState *st, PyObject *key, int *how)
{
    int g = guarded(st, key);
    *how = g < 0 ? -1 : 0;
    if (g)
        return NULL;
    int err;
    PyObject *ql = lookup(st, key, &err);
    if (err)
        *how = -1;
    else if (ql == NULL)
        *how = 1;
    if (ql == NULL || !Py_IS_TYPE(ql, g_quicklist_type))
        return NULL;
    PyObject *chunks = SLOT(ql, off_ql_chunks), *len = SLOT(ql, off_ql_len), *off = SLOT(ql, off_ql_off);
    if (chunks == NULL || len == NULL || off == NULL || !PyList_CheckExact(chunks) || PyList_GET_SIZE(chunks) < 1 ||
        !PyLong_CheckExact(len) || !PyLong_CheckExact(off))
        return NULL;
    return ql;
}

/* Store n into a QuickList int slot. */
static int set_slot_int(PyObject *ql, Py_ssize_t off, Py_ssize_t n)
{
    PyObject *v = PyLong_FromSsize_t(n);
    if (v == NULL)
        return -1;
    Py_SETREF(SLOT(ql, off), v);
    return 0;
}

/* QuickList.appendleft / append on their no-new-chunk branch (a free slot before the head; room
 * in the tail chunk). */
static PyObject *push(NativeState *st, PyObject *key, PyObject *element, int left, int *wrote)
{
    if (st->blocking)
        return native_pass;
    int how;
    PyObject *ql = list_at(st, key, &how);
    if (ql == NULL) /* (a missing key makes a new list: the Python handler's job) */
        return how < 0 ? NULL : native_pass;
    PyObject *chunks = SLOT(ql, off_ql_chunks);
    Py_ssize_t len = PyLong_AsSsize_t(SLOT(ql, off_ql_len)), off = PyLong_AsSsize_t(SLOT(ql, off_ql_off));
    if ((len == -1 || off == -1) && PyErr_Occurred())
        return NULL;
    if (left) {
        PyObject *head = PyList_GET_ITEM(chunks, 0);
        if (off < 1 || !PyList_CheckExact(head) || off > PyList_GET_SIZE(head))
            return native_pass;
        if (PyList_SetItem(head, off - 1, Py_NewRef(element)) < 0 || set_slot_int(ql, off_ql_off, off - 1) < 0)
            return NULL;
    } else {
        PyObject *tail = PyList_GET_ITEM(chunks, PyList_GET_SIZE(chunks) - 1);
        if (!PyList_CheckExact(tail) || PyList_GET_SIZE(tail) >= g_chunk)
            return native_pass;
        if (PyList_Append(tail, element) < 0)
            return NULL;
    }
    PyObject *n = PyLong_FromSsize_t(len + 1);
    if (n == NULL)
        return NULL;
    Py_SETREF(SLOT(ql, off_ql_len), Py_NewRef(n)); /* the new length is also the reply */
    st->dirty++;
    *wrote = 1;
    return n;
}

/* QuickList.popleft / pop when the list keeps an element and the end chunk keeps one too; None
 * (nil) for a missing key. */
static PyObject *pop(NativeState *st, PyObject *key, int left, int *wrote)
{
    int how;
    PyObject *ql = list_at(st, key, &how);
    if (ql == NULL)
        return how < 0 ? NULL : how > 0 ? Py_NewRef(Py_None) : native_pass;
    PyObject *chunks = SLOT(ql, off_ql_chunks), *x;
    Py_ssize_t len = PyLong_AsSsize_t(SLOT(ql, off_ql_len)), off = PyLong_AsSsize_t(SLOT(ql, off_ql_off));
    if ((len == -1 || off == -1) && PyErr_Occurred())
        return NULL;
    if (len < 2)
        return native_pass;
    if (left) {
        PyObject *head = PyList_GET_ITEM(chunks, 0);
        if (!PyList_CheckExact(head) || off < 0 || off + 1 >= PyList_GET_SIZE(head))
            return native_pass;
        x = Py_NewRef(PyList_GET_ITEM(head, off));
        if (PyList_SetItem(head, off, Py_NewRef(Py_None)) < 0 || set_slot_int(ql, off_ql_off, off + 1) < 0) {
            Py_DECREF(x);
            return NULL;
        }
    } else {
        PyObject *tail = PyList_GET_ITEM(chunks, PyList_GET_SIZE(chunks) - 1);
        Py_ssize_t n = PyList_CheckExact(tail) ? PyList_GET_SIZE(tail) : 0;
        if (n < 2)
            return native_pass;
        x = Py_NewRef(PyList_GET_ITEM(tail, n - 1));
        if (PyList_SetSlice(tail, n - 1, n, NULL) < 0) {
            Py_DECREF(x);
            return NULL;
        }
    }
    if (set_slot_int(ql, off_ql_len, len - 1) < 0) {
        Py_DECREF(x);
        return NULL;
    }
    st->dirty++;
    *wrote = 1;
    return x;
}

/* sets.sadd, one member, existing set. */
static PyObject *sadd(NativeState *st, PyObject *key, PyObject *member, int *wrote)
{
    int err, g = guarded(st, key);
    if (g)
        return g < 0 ? NULL : native_pass;
    PyObject *s = lookup(st, key, &err);
    if (err)
        return NULL;
    if (s == NULL || !PySet_CheckExact(s))
        return native_pass;
    Py_ssize_t before = PySet_GET_SIZE(s);
    if (PySet_Add(s, member) < 0)
        return NULL;
    Py_ssize_t added = PySet_GET_SIZE(s) - before;
    if (added) {
        st->dirty++;
        *wrote = 1;
    }
    return PyLong_FromSsize_t(added);
}

/* 1 if encoding_history already holds (h, b"hashtable") for key: record() would return at once. */
static int recorded_hashtable(NativeState *st, PyObject *key, PyObject *h)
{
    PyObject *entry_key = PyTuple_Pack(2, st->db, key);
    if (entry_key == NULL)
        return -1;
    PyObject *entry = PyDict_GetItemWithError(g_forced, entry_key);
    Py_DECREF(entry_key);
    if (entry == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2 || PyTuple_GET_ITEM(entry, 0) != h)
        return 0;
    PyObject *enc = PyTuple_GET_ITEM(entry, 1);
    return PyBytes_CheckExact(enc) && PyBytes_GET_SIZE(enc) == 9 && memcmp(PyBytes_AS_STRING(enc), "hashtable", 9) == 0;
}

/* hashes.hset, one pair, existing hash: within its encoding limits, or already recorded as a
 * hashtable (a hash of long values: record() has nothing to do); else record() must run. */
static PyObject *hset(NativeState *st, PyObject *key, PyObject *field, PyObject *value, int *wrote)
{
    int err, g = guarded(st, key);
    if (g)
        return g < 0 ? NULL : native_pass;
    PyObject *h = lookup(st, key, &err);
    if (err)
        return NULL;
    if (h == NULL || !PyDict_CheckExact(h))
        return native_pass;
    int present = PyDict_Contains(h, field);
    if (present < 0)
        return NULL;
    long long before = PyDict_GET_SIZE(h), after = before + !present;
    if (PyBytes_GET_SIZE(field) > st->hash_max_value || PyBytes_GET_SIZE(value) > st->hash_max_value ||
        (before <= st->hash_max_entries && st->hash_max_entries < after)) {
        int r = recorded_hashtable(st, key, h);
        if (r <= 0)
            return r < 0 ? NULL : native_pass;
    }
    if (PyDict_SetItem(h, field, value) < 0)
        return NULL;
    st->dirty++;
    *wrote = 1;
    return PyLong_FromLongLong(after - before);
}

/* Database.write_pairs's quiet branch (no TTL and no WATCH anywhere in the db). */
static PyObject *mset(NativeState *st, PyObject *argv, int *wrote)
{
    Py_ssize_t n = PyList_GET_SIZE(argv);
    if (n % 2 == 0 || PyDict_GET_SIZE(st->expires) || PyDict_GET_SIZE(st->watched))
        return native_pass;
    for (Py_ssize_t i = 2; i < n; i += 2)
        if (singleton_risk(PyList_GET_ITEM(argv, i)))
            return native_pass;
    for (Py_ssize_t i = 1; i < n; i += 2)
        if (PyDict_SetItem(st->data, PyList_GET_ITEM(argv, i), PyList_GET_ITEM(argv, i + 1)) < 0)
            return NULL;
    st->dirty += (n - 1) / 2;
    *wrote = 1;
    return Py_NewRef(g_ok);
}

/* zset.parse_score on the plain spellings only: an optional '-', 1-15 digits, optionally '.' and 1-15
 * digits. strtod and Python's float() both round those correctly, so they agree; anything else
 * (exponents, inf, '+', spaces, long mantissas) is left to the Python parser (0). */
static int parse_score(PyObject *b, double *out)
{
    const char *p = PyBytes_AS_STRING(b), *q = p;
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    if (n > 0 && *q == '-')
        q++;
    int whole = 0, frac = 0;
    while (q < p + n && *q >= '0' && *q <= '9' && whole <= 15)
        q++, whole++;
    if (q < p + n && *q == '.')
        for (q++, frac = -1; q < p + n && *q >= '0' && *q <= '9' && frac < 15; q++)
            frac = frac < 0 ? 1 : frac + 1;
    if (q != p + n || whole < 1 || whole > 15 || frac < 0)
        return 0;
    *out = strtod(p, NULL); /* the bytes object's NUL ends the number */
    return 1;
}

/* zsets.zadd's `ZADD key score member` branch on an existing zset: the change itself is ZSet.add
 * (the Python method: SortedList, encoding flag, -0 in listpacks). */
static PyObject *zadd(NativeState *st, PyObject *argv, int *wrote)
{
    PyObject *key = PyList_GET_ITEM(argv, 1), *member = PyList_GET_ITEM(argv, 3);
    double score;
    int err, g = 0;
    if (!parse_score(PyList_GET_ITEM(argv, 2), &score) || (g = guarded(st, key)) != 0)
        return g < 0 ? NULL : native_pass;
    PyObject *z = lookup(st, key, &err);
    if (err)
        return NULL;
    if (z == NULL || !Py_IS_TYPE(z, g_zset_type))
        return native_pass;
    PyObject *scores = SLOT(z, off_zset_scores);
    if (scores == NULL || !PyDict_CheckExact(scores))
        return native_pass;
    PyObject *old = PyDict_GetItemWithError(scores, member);
    if (old == NULL && PyErr_Occurred())
        return NULL;
    if (old != NULL && !PyFloat_CheckExact(old))
        return native_pass;
    if (old != NULL && PyFloat_AS_DOUBLE(old) == score) /* Redis compares with ==: -0 is 0 */
        return PyLong_FromLong(0);
    PyObject *value = PyFloat_FromDouble(score), *r = NULL;
    if (value != NULL)
        r = PyObject_CallMethodObjArgs(z, s_add, member, value, NULL);
    Py_XDECREF(value);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    st->dirty++;
    *wrote = 1;
    return PyLong_FromLong(old == NULL);
}

/* A pop without a count from a missing key (a worker polling an empty queue): `empty`, else pass. */
static PyObject *pop_missing(NativeState *st, PyObject *key, PyObject *(*empty)(void))
{
    int err, g = has_ttl(st, key);
    if (g)
        return g < 0 ? NULL : native_pass;
    PyObject *v = lookup(st, key, &err);
    if (err)
        return NULL;
    return v == NULL ? empty() : native_pass;
}

static PyObject *new_none(void)
{
    return Py_NewRef(Py_None);
}

static PyObject *new_empty_list(void)
{
    return PyList_New(0);
}

/* EXISTS: Database.get per key (a hit or a miss each, in order); any key with a TTL passes. */
static PyObject *exists(NativeState *st, PyObject *argv)
{
    Py_ssize_t n = PyList_GET_SIZE(argv), found = 0;
    for (Py_ssize_t i = 1; i < n; i++) {
        int g = has_ttl(st, PyList_GET_ITEM(argv, i));
        if (g)
            return g < 0 ? NULL : native_pass;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        int r = PyDict_Contains(st->data, PyList_GET_ITEM(argv, i));
        if (r < 0)
            return NULL;
        found += r;
    }
    st->hits += found;
    st->misses += n - 1 - found;
    return PyLong_FromSsize_t(found);
}

/* The read commands on one key of one type (Database.get_typed, then a look at the value): HGET,
 * HEXISTS, HLEN, LLEN, SCARD, SISMEMBER. A missing key is a miss and answers as an empty value. */
static PyObject *typed_read(NativeState *st, long id, PyObject *argv)
{
    PyObject *key = PyList_GET_ITEM(argv, 1), *arg = PyList_GET_SIZE(argv) > 2 ? PyList_GET_ITEM(argv, 2) : NULL;
    int err, g = has_ttl(st, key);
    if (g)
        return g < 0 ? NULL : native_pass;
    PyObject *v = lookup(st, key, &err), *reply;
    if (err)
        return NULL;
    if (v == NULL) {
        st->misses++;
        return id == N_HGET ? Py_NewRef(Py_None) : PyLong_FromLong(0);
    }
    switch (id) {
    case N_HGET:
    case N_HEXISTS:
    case N_HLEN:
        if (!PyDict_CheckExact(v))
            return native_pass;
        if (id == N_HLEN) {
            reply = PyLong_FromSsize_t(PyDict_GET_SIZE(v));
        } else {
            PyObject *field = PyDict_GetItemWithError(v, arg);
            if (field == NULL && PyErr_Occurred())
                return NULL;
            if (id == N_HEXISTS)
                reply = PyLong_FromLong(field != NULL);
            else if (field == NULL || PyBytes_CheckExact(field))
                reply = Py_NewRef(field != NULL ? field : Py_None);
            else
                return native_pass;
        }
        break;
    case N_LLEN: {
        PyObject *len = Py_IS_TYPE(v, g_quicklist_type) ? SLOT(v, off_ql_len) : NULL;
        if (len == NULL || !PyLong_CheckExact(len))
            return native_pass;
        reply = Py_NewRef(len);
        break;
    }
    default: /* N_SCARD, N_SISMEMBER */
        if (!PySet_CheckExact(v))
            return native_pass;
        if (id == N_SCARD) {
            reply = PyLong_FromSsize_t(PySet_GET_SIZE(v));
        } else {
            int r = PySet_Contains(v, arg);
            if (r < 0)
                return NULL;
            reply = PyLong_FromLong(r);
        }
    }
    if (reply != NULL)
        st->hits++;
    return reply;
}

PyObject *native_run(long id, NativeState *st, PyObject *argv, int *wrote)
{
    Py_ssize_t n = PyList_GET_SIZE(argv);
    PyObject *key = n > 1 ? PyList_GET_ITEM(argv, 1) : NULL;
    int err, g;
    long long delta;
    switch (id) {
    case N_PING:
        return n == 1 ? Py_NewRef(g_pong) : native_pass;
    case N_GET: {
        if (n != 2 || (g = has_ttl(st, key)) != 0)
            return n == 2 && g < 0 ? NULL : native_pass;
        PyObject *v = lookup(st, key, &err);
        if (err)
            return NULL;
        if (v == NULL) {
            st->misses++;
            return Py_NewRef(Py_None);
        }
        if (!PyBytes_CheckExact(v))
            return native_pass;
        st->hits++;
        return Py_NewRef(v);
    }
    case N_SET: {
        if (n != 3)
            return native_pass;
        PyObject *value = PyList_GET_ITEM(argv, 2);
        if ((g = guarded(st, key)) != 0 || singleton_risk(value))
            return g < 0 ? NULL : native_pass;
        if (PyDict_SetItem(st->data, key, value) < 0)
            return NULL;
        st->dirty++;
        *wrote = 1;
        return Py_NewRef(g_ok);
    }
    case N_INCR:
    case N_DECR:
        return n == 2 ? incr(st, key, id == N_INCR ? 1 : -1, wrote) : native_pass;
    case N_INCRBY:
    case N_DECRBY:
        if (n != 3 || !parse_ll(PyList_GET_ITEM(argv, 2), &delta))
            return native_pass;
        return incr(st, key, id == N_INCRBY ? delta : -delta, wrote); /* |delta| < 1e18: no overflow */
    case N_LPUSH:
    case N_RPUSH:
        return n == 3 ? push(st, key, PyList_GET_ITEM(argv, 2), id == N_LPUSH, wrote) : native_pass;
    case N_LPOP:
    case N_RPOP:
        return n == 2 ? pop(st, key, id == N_LPOP, wrote) : native_pass;
    case N_SADD:
        return n == 3 ? sadd(st, key, PyList_GET_ITEM(argv, 2), wrote) : native_pass;
    case N_HSET:
        return n == 4 ? hset(st, key, PyList_GET_ITEM(argv, 2), PyList_GET_ITEM(argv, 3), wrote) : native_pass;
    case N_MSET:
        return mset(st, argv, wrote);
    case N_ZADD:
        return n == 4 ? zadd(st, argv, wrote) : native_pass;
    case N_ZPOPMIN:
    case N_ZPOPMAX:
        return n == 2 ? pop_missing(st, key, new_empty_list) : native_pass;
    case N_SPOP:
        return n == 2 ? pop_missing(st, key, new_none) : native_pass;
    case N_EXISTS:
        return exists(st, argv);
    case N_HLEN:
    case N_LLEN:
    case N_SCARD:
        return n == 2 ? typed_read(st, id, argv) : native_pass;
    case N_HGET:
    case N_HEXISTS:
    case N_SISMEMBER:
        return n == 3 ? typed_read(st, id, argv) : native_pass;
    }
    return native_pass;
}
