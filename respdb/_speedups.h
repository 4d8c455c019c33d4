/* Shared between _speedups.c (the command loop) and _native.c (native handlers). */
#ifndef RESPDB_SPEEDUPS_H
#define RESPDB_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* A __slots__ attribute read or written through its byte offset (no getattr). */
#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Writes v in decimal at p and returns the end (snprintf costs ~50 ns; an int reply has one). */
static inline char *put_ll(char *p, long long v)
{
    char digits[24];
    int k = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *p++ = '-';
    while (k > 0)
        *p++ = digits[--k];
    return p;
}

/* bool(obj.name); -1 with an exception. */
int truthy_attr(PyObject *obj, PyObject *name);

/* The byte offset of `type`'s __slots__ member `name`; -1 with an exception if it is not one. */
int slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *out);

/* What a native handler saw of the keyspace, loaded lazily before the first native command and
 * dropped (loaded = 0) whenever Python code runs, since that code may change any of it. */
typedef struct {
    int loaded;
    int quiet;    /* no keyspace events, no write hook, no access tracking: natives may run */
    int blocking; /* some client is blocked on a key: pushes go to Python (they must wake it) */
    PyObject *db; /* client.db (strong) */
    PyObject *data, *expires, *watched; /* db's dicts (borrowed from db) */
    long long hash_max_value, hash_max_entries;
    /* Counters not yet added to the Keyspace: flushed before any Python code runs. */
    long long dirty, hits, misses;
} NativeState;

/* Returned (borrowed) by native_run when the Python handler must run instead. */
extern PyObject *native_pass;

int native_init(PyObject *module);
int native_load(NativeState *st, PyObject *client, PyObject *server, PyObject *ks);
void native_drop(NativeState *st);
int native_flush(NativeState *st, PyObject *ks);
/* Run native handler `id` (CommandSpec.native) on argv; a new reference to the reply, native_pass,
 * or NULL with an exception. *wrote is set when the keyspace changed. */
PyObject *native_run(long id, NativeState *st, PyObject *argv, int *wrote);

#endif
