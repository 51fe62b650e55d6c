/* zlprof._speedups: the Block hot path (``__enter__``/``__exit__``) in C.
 *
 * Optional accelerator for zlprof.profiler.Block and zlprof.profiler._WideBlock; the
 * pure-Python classes in profiler.py are the reference and the fallback, and this file
 * must keep their semantics exactly:
 *
 *   enter: if prof._off: return self
 *          ts = prof._tls.ts  (prof._new_thread_state() on AttributeError)
 *          parent = ts.path
 *          pid = self._children.get(parent); if pid is None: pid = prof._intern(...)
 *          ts.stack.append((parent, perf_counter_ns())); ts.path = pid; return self
 *   exit:  t1 = perf_counter_ns()
 *          ts = prof._tls.ts; entry = ts.stack.pop()   (AttributeError/IndexError: False)
 *          ts.buf += (ts.path, t0, t1)        [wide: (ts.path, t0, t1, -1, -1)]
 *          ts.path = parent
 *          if t1 >= ts.deadline or len(ts.buf) >= prof._flush_len: prof._flush_thread(ts, t1)
 *          return False                        (exceptions of the body are never swallowed)
 *
 * Speed comes from three things, each with an exact fallback:
 *  - the clock is read directly (the same clock as time.perf_counter_ns(), see now_ns);
 *  - the thread state ``prof._tls.ts`` is cached per Python thread state (the same scope
 *    as threading.local), keyed by a weak reference to the profiler, so a dead profiler's
 *    address can never alias a live one. Each thread's cache object lives in its
 *    thread-state dict (released when the thread ends, like threading.local's data); a
 *    GIL-protected pointer remembers the cache of the thread that ran a block last, so
 *    the usual lookup is one pointer comparison;
 *  - the ``__slots__`` of the thread-state class are read/written at their offsets, the
 *    way CPython's own LOAD_ATTR_SLOT specialisation does, guarded by the type's version
 *    tag (any change to the class invalidates it); other classes use getattr/setattr.
 *
 * The whole record is appended to ts.buf inside one C call with the GIL held and with no
 * allocation of GC-tracked objects (so no Python code) between the first and last item:
 * other threads (the flusher, the sampler) never see a partial record.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

#ifdef Py_GIL_DISABLED
/* The atomicity arguments above rely on the GIL: let the import fail, profiler.py then
 * falls back to the pure-Python classes. */
#define ZLPROF_NO_GIL 1
#endif

#ifndef Py_T_OBJECT_EX
#define Py_T_OBJECT_EX T_OBJECT_EX
#endif
#ifndef Py_READONLY
#define Py_READONLY READONLY
#endif

/* ------------------------------------------------------------------------ the clock */

/* time.perf_counter_ns(): on CPython < 3.13 under Linux it is clock_gettime(CLOCK_MONOTONIC)
 * (time.get_clock_info("perf_counter").implementation says so; Python/pytime.c:
 * _PyTime_GetPerfCounter -> py_get_monotonic_clock), converted as tv_sec * 1e9 + tv_nsec.
 * 3.13 has the public PyTime_PerfCounterRaw; elsewhere the exported private function. */
static inline long long
now_ns(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyTime_t t;
    (void)PyTime_PerfCounterRaw(&t);
    return (long long)t;
#elif defined(__linux__)
    struct timespec tsp;
    clock_gettime(CLOCK_MONOTONIC, &tsp);
    return (long long)tsp.tv_sec * 1000000000LL + (long long)tsp.tv_nsec;
#else
    return (long long)_PyTime_GetPerfCounter();
#endif
}

/* ------------------------------------------------------------------------ strings */

static PyObject *s_off, *s_tls, *s_ts, *s_new_thread_state, *s_intern, *s_flush_len,
    *s_flush_thread, *s_get, *s_pop, *s_append, *s_cache_key;
static PyObject *minus_one; /* the int -1 */

/* ------------------------------------------------------------------------ thread state slots */

enum { F_STACK, F_BUF, F_PATH, F_DEADLINE, NF };
static PyObject *ts_names[NF];

static PyTypeObject *ts_type = NULL; /* strong ref */
static unsigned int ts_tag = 0;
static int ts_fast = 0;
static Py_ssize_t ts_off[NF];

/* Resolve the slot offsets of ``tp``; caches a negative answer too. */
static int
ts_layout_refresh(PyTypeObject *tp)
{
    Py_ssize_t off[NF];
    int fast = 1;
    for (int i = 0; i < NF; i++) {
        PyObject *d = PyObject_GetAttr((PyObject *)tp, ts_names[i]);
        if (d == NULL) {
            PyErr_Clear();
            fast = 0;
            break;
        }
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            fast = 0;
        }
        else {
            PyMemberDescrObject *md = (PyMemberDescrObject *)d;
            PyMemberDef *m = md->d_member;
            if (m->type != Py_T_OBJECT_EX || (m->flags & Py_READONLY) ||
                !PyType_IsSubtype(tp, PyDescr_TYPE(d))) {
                fast = 0;
            }
            else {
                off[i] = m->offset;
            }
        }
        Py_DECREF(d);
        if (!fast) {
            break;
        }
    }
    /* The lookups above gave the type a version tag, unless tags ran out. */
    if (!(tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) || tp->tp_version_tag == 0) {
        return 0; /* cannot be guarded: do not cache, use getattr this time */
    }
    Py_INCREF(tp);
    Py_XSETREF(ts_type, tp);
    ts_tag = tp->tp_version_tag;
    ts_fast = fast;
    if (fast) {
        memcpy(ts_off, off, sizeof(off));
    }
    return fast;
}

static inline int
ts_layout(PyObject *ts)
{
    PyTypeObject *tp = Py_TYPE(ts);
    if (tp == ts_type && tp->tp_version_tag == ts_tag &&
        (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG)) {
        return ts_fast;
    }
    return ts_layout_refresh(tp);
}

/* New reference to ts.<field>, or NULL with an exception set. */
static inline PyObject *
ts_get(PyObject *ts, int fast, int f)
{
    if (fast) {
        PyObject *v = *(PyObject **)((char *)ts + ts_off[f]);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
        PyErr_Format(PyExc_AttributeError, "'%.200s' object has no attribute '%U'",
                     Py_TYPE(ts)->tp_name, ts_names[f]);
        return NULL;
    }
    return PyObject_GetAttr(ts, ts_names[f]);
}

static inline int
ts_set(PyObject *ts, int fast, int f, PyObject *v)
{
    if (fast) {
        PyObject **addr = (PyObject **)((char *)ts + ts_off[f]);
        PyObject *old = *addr;
        Py_INCREF(v);
        *addr = v;
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(ts, ts_names[f], v);
}

/* ------------------------------------------------------------------------ per-thread cache */

#define CACHE_N 4

typedef struct {
    PyObject_HEAD
    PyThreadState *tstate;
    PyObject *wr[CACHE_N]; /* weak references to profilers */
    PyObject *ts[CACHE_N]; /* their thread states (prof._tls.ts) for this thread */
    int next;
} TLCacheObject;

/* The cache of the thread that used it last (borrowed: owned by that thread's tstate dict;
 * cleared by the cache's dealloc). Only read and written with the GIL held. */
static TLCacheObject *tl_cache = NULL;

static void
tlcache_dealloc(TLCacheObject *self)
{
    if (tl_cache == self) {
        tl_cache = NULL;
    }
    for (int i = 0; i < CACHE_N; i++) {
        Py_CLEAR(self->wr[i]);
        Py_CLEAR(self->ts[i]);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject TLCache_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zlprof._speedups._ThreadCache",
    .tp_basicsize = sizeof(TLCacheObject),
    .tp_dealloc = (destructor)tlcache_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

/* This thread's cache (borrowed), switching ``tl_cache`` to it; created on demand when
 * ``create``. NULL (never with an exception set) when there is none. */
static TLCacheObject *
current_cache(int create)
{
    PyThreadState *tstate = PyThreadState_Get();
    TLCacheObject *c = tl_cache;
    if (c != NULL && c->tstate == tstate) {
        return c;
    }
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    c = NULL;
    PyObject *d = PyThreadState_GetDict(); /* this thread's; cleared when it ends */
    if (d != NULL) {
        PyObject *o = PyDict_GetItemWithError(d, s_cache_key);
        if (o != NULL && Py_IS_TYPE(o, &TLCache_Type) &&
            ((TLCacheObject *)o)->tstate == tstate) {
            c = (TLCacheObject *)o;
        }
        else if (create && !PyErr_Occurred()) {
            c = PyObject_New(TLCacheObject, &TLCache_Type);
            if (c != NULL) {
                c->tstate = tstate;
                c->next = 0;
                for (int i = 0; i < CACHE_N; i++) {
                    c->wr[i] = NULL;
                    c->ts[i] = NULL;
                }
                int r = PyDict_SetItem(d, s_cache_key, (PyObject *)c);
                Py_DECREF(c); /* the dict owns it */
                if (r < 0) {
                    c = NULL;
                }
            }
        }
    }
    if (c != NULL) {
        tl_cache = c;
    }
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return c;
}

/* Borrowed reference to the cached thread state of ``prof`` in this thread, or NULL. */
static inline PyObject *
cache_lookup(PyObject *prof)
{
    TLCacheObject *c = current_cache(0);
    if (c == NULL) {
        return NULL;
    }
    for (int i = 0; i < CACHE_N; i++) {
        PyObject *wr = c->wr[i];
        /* prof is alive (the caller holds it), so a match is prof and no other object */
        if (wr != NULL && ((PyWeakReference *)wr)->wr_object == prof) {
            return c->ts[i];
        }
    }
    return NULL;
}

/* Remember ts for prof in this thread. Failures only mean no caching. */
static void
cache_store(PyObject *prof, PyObject *ts)
{
    TLCacheObject *c = current_cache(1);
    if (c == NULL) {
        return;
    }
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *wr = PyWeakref_NewRef(prof, NULL); /* TypeError if not weak-referenceable */
    if (wr != NULL) {
        int slot = -1;
        for (int i = 0; i < CACHE_N; i++) {
            PyObject *w = c->wr[i];
            if (w == NULL || ((PyWeakReference *)w)->wr_object == prof ||
                ((PyWeakReference *)w)->wr_object == Py_None) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            slot = c->next;
            c->next = (c->next + 1) % CACHE_N;
        }
        PyObject *old_wr = c->wr[slot], *old_ts = c->ts[slot];
        Py_INCREF(ts);
        c->wr[slot] = wr;
        c->ts[slot] = ts;
        Py_XDECREF(old_wr);
        Py_XDECREF(old_ts);
    }
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

/* New reference to ``prof._tls.ts``. ``create``: call prof._new_thread_state() on
 * AttributeError (enter); otherwise return NULL with *missing = 1 and no exception (exit).
 * NULL with an exception set on other errors. */
static PyObject *
get_thread_state(PyObject *prof, int create, int *missing)
{
    PyObject *ts = cache_lookup(prof);
    if (ts != NULL) {
        Py_INCREF(ts);
        return ts;
    }
    PyObject *tls = PyObject_GetAttr(prof, s_tls);
    if (tls != NULL) {
        ts = PyObject_GetAttr(tls, s_ts);
        Py_DECREF(tls);
    }
    if (ts == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        if (!create) {
            *missing = 1;
            return NULL;
        }
        ts = PyObject_CallMethodNoArgs(prof, s_new_thread_state);
        if (ts == NULL) {
            return NULL;
        }
    }
    cache_store(prof, ts);
    return ts;
}

/* ------------------------------------------------------------------------ Block */

typedef struct {
    PyObject_HEAD
    PyObject *prof;
    PyObject *name;
    PyObject *children; /* dict: parent path id -> this block's path id under it */
    PyObject *hook[2];  /* cached bound __enter__ and __exit__ (HookObject), see below */
} BlockObject;

static PyTypeObject Block_Type;

static int
block_init(BlockObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prof", "name", NULL};
    PyObject *prof, *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:Block", kwlist, &prof, &name)) {
        return -1;
    }
    PyObject *children = PyDict_New();
    if (children == NULL) {
        return -1;
    }
    Py_INCREF(prof);
    Py_INCREF(name);
    Py_XSETREF(self->prof, prof);
    Py_XSETREF(self->name, name);
    Py_XSETREF(self->children, children);
    return 0;
}

static int
block_traverse(BlockObject *self, visitproc visit, void *arg)
{
    /* (a heap subclass's subtype_traverse visits the type itself) */
    Py_VISIT(self->prof);
    Py_VISIT(self->name);
    Py_VISIT(self->children);
    Py_VISIT(self->hook[0]);
    Py_VISIT(self->hook[1]);
    return 0;
}

static int
block_clear(BlockObject *self)
{
    Py_CLEAR(self->prof);
    Py_CLEAR(self->name);
    Py_CLEAR(self->children);
    Py_CLEAR(self->hook[0]);
    Py_CLEAR(self->hook[1]);
    return 0;
}

static void
block_dealloc(BlockObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    block_clear(self);
    /* a heap subclass's subtype_dealloc drops the type reference (static base) */
    tp->tp_free((PyObject *)self);
}

static PyObject *
missing_attr(BlockObject *self, const char *attr)
{
    PyErr_Format(PyExc_AttributeError, "'%.200s' object has no attribute '%s'",
                 Py_TYPE(self)->tp_name, attr);
    return NULL;
}

static PyObject *
block_enter(BlockObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *prof = self->prof;
    if (prof == NULL) {
        return missing_attr(self, "_prof");
    }
    Py_INCREF(prof);
    PyObject *ts = NULL, *parent = NULL, *pid = NULL, *stack = NULL, *entry = NULL;
    PyObject *children = NULL, *name = NULL, *result = NULL;

    PyObject *off = PyObject_GetAttr(prof, s_off);
    if (off == NULL) {
        goto done;
    }
    int is_off = off == Py_False ? 0 : off == Py_True ? 1 : PyObject_IsTrue(off);
    Py_DECREF(off);
    if (is_off < 0) {
        goto done;
    }
    if (is_off) {
        Py_INCREF(self);
        result = (PyObject *)self;
        goto done;
    }
    int missing = 0;
    ts = get_thread_state(prof, 1, &missing);
    if (ts == NULL) {
        goto done;
    }
    int fast = ts_layout(ts);
    parent = ts_get(ts, fast, F_PATH);
    if (parent == NULL) {
        goto done;
    }
    children = self->children;
    if (children == NULL) {
        missing_attr(self, "_children");
        goto done;
    }
    Py_INCREF(children);
    if (PyDict_CheckExact(children)) {
        pid = PyDict_GetItemWithError(children, parent);
        if (pid != NULL) {
            Py_INCREF(pid);
        }
        else if (PyErr_Occurred()) {
            goto done;
        }
    }
    else {
        pid = PyObject_CallMethodOneArg(children, s_get, parent);
        if (pid == NULL) {
            goto done;
        }
        if (pid == Py_None) {
            Py_CLEAR(pid);
        }
    }
    if (pid == NULL) {
        name = self->name;
        if (name == NULL) {
            missing_attr(self, "name");
            goto done;
        }
        Py_INCREF(name);
        pid = PyObject_CallMethodObjArgs(prof, s_intern, parent, name, children, NULL);
        if (pid == NULL) {
            goto done;
        }
        fast = ts_layout(ts); /* Python code ran */
    }
    stack = ts_get(ts, fast, F_STACK);
    if (stack == NULL) {
        goto done;
    }
    entry = PyTuple_New(2);
    if (entry == NULL) {
        goto done;
    }
    PyObject *t0 = PyLong_FromLongLong(now_ns());
    if (t0 == NULL) {
        goto done;
    }
    Py_INCREF(parent);
    PyTuple_SET_ITEM(entry, 0, parent);
    PyTuple_SET_ITEM(entry, 1, t0);
    if (PyList_CheckExact(stack)) {
        if (PyList_Append(stack, entry) < 0) {
            goto done;
        }
    }
    else {
        PyObject *r = PyObject_CallMethodOneArg(stack, s_append, entry);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    if (ts_set(ts, fast, F_PATH, pid) < 0) {
        goto done;
    }
    Py_INCREF(self);
    result = (PyObject *)self;
done:
    Py_XDECREF(entry);
    Py_XDECREF(stack);
    Py_XDECREF(pid);
    Py_XDECREF(name);
    Py_XDECREF(children);
    Py_XDECREF(parent);
    Py_XDECREF(ts);
    Py_DECREF(prof);
    return result;
}

/* Append items to the list atomically: all or nothing, no Python code in between. */
static int
list_extend_items(PyObject *buf, PyObject *const *items, Py_ssize_t n)
{
    Py_ssize_t n0 = PyList_GET_SIZE(buf);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyList_Append(buf, items[i]) < 0) {
            PyObject *exc_type, *exc_value, *exc_tb;
            PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
            (void)PyList_SetSlice(buf, n0, PY_SSIZE_T_MAX, NULL);
            PyErr_Restore(exc_type, exc_value, exc_tb);
            return -1;
        }
    }
    return 0;
}

/* Is int ``a`` >= ``b``? 1/0, or -1 with an exception. */
static inline int
ll_ge(long long a, PyObject *b)
{
    if (PyLong_CheckExact(b)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(b, &overflow);
        if (overflow == 0) {
            if (v == -1 && PyErr_Occurred()) {
                return -1;
            }
            return a >= v;
        }
        return overflow < 0;
    }
    PyObject *ao = PyLong_FromLongLong(a);
    if (ao == NULL) {
        return -1;
    }
    int r = PyObject_RichCompareBool(ao, b, Py_GE);
    Py_DECREF(ao);
    return r;
}

/* The shared __exit__; width 3 (Block) or 5 (_WideBlock). */
static PyObject *
block_exit_impl(BlockObject *self, Py_ssize_t nargs, int width)
{
    long long t1 = now_ns();
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *prof = self->prof;
    if (prof == NULL) {
        Py_RETURN_FALSE; /* AttributeError: caught like the Python version */
    }
    Py_INCREF(prof);
    PyObject *ts = NULL, *stack = NULL, *entry = NULL, *parent = NULL, *t0 = NULL;
    PyObject *buf = NULL, *path = NULL, *t1o = NULL, *flush_len = NULL;
    PyObject *result = NULL;
    int missing = 0;

    ts = get_thread_state(prof, 0, &missing);
    if (ts == NULL) {
        if (missing) {
            result = Py_False;
            Py_INCREF(result);
        }
        goto done;
    }
    int fast = ts_layout(ts);
    stack = ts_get(ts, fast, F_STACK);
    if (stack == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            result = Py_False;
            Py_INCREF(result);
        }
        goto done;
    }
    if (PyList_CheckExact(stack)) {
        Py_ssize_t n = PyList_GET_SIZE(stack);
        if (n == 0) {
            result = Py_False; /* IndexError: entered while disabled */
            Py_INCREF(result);
            goto done;
        }
        /* list.pop(): take the last item's reference, shrink by one (capacity kept) */
        entry = PyList_GET_ITEM(stack, n - 1);
        PyList_SET_ITEM(stack, n - 1, NULL);
        Py_SET_SIZE(stack, n - 1);
    }
    else {
        entry = PyObject_CallMethodNoArgs(stack, s_pop);
        if (entry == NULL) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError) ||
                PyErr_ExceptionMatches(PyExc_IndexError)) {
                PyErr_Clear();
                result = Py_False;
                Py_INCREF(result);
            }
            goto done;
        }
    }
    if (width == 3) {
        /* parent, t0 = entry */
        if (PyTuple_CheckExact(entry) && PyTuple_GET_SIZE(entry) == 2) {
            parent = PyTuple_GET_ITEM(entry, 0);
            t0 = PyTuple_GET_ITEM(entry, 1);
            Py_INCREF(parent);
            Py_INCREF(t0);
        }
        else {
            PyObject *tup = PySequence_Tuple(entry);
            if (tup == NULL) {
                goto done;
            }
            Py_ssize_t k = PyTuple_GET_SIZE(tup);
            if (k != 2) {
                if (k > 2) {
                    PyErr_SetString(PyExc_ValueError, "too many values to unpack (expected 2)");
                }
                else {
                    PyErr_Format(PyExc_ValueError,
                                 "not enough values to unpack (expected 2, got %zd)", k);
                }
                Py_DECREF(tup);
                goto done;
            }
            parent = PyTuple_GET_ITEM(tup, 0);
            t0 = PyTuple_GET_ITEM(tup, 1);
            Py_INCREF(parent);
            Py_INCREF(t0);
            Py_DECREF(tup);
        }
    }
    buf = ts_get(ts, fast, F_BUF);
    if (buf == NULL) {
        goto done;
    }
    path = ts_get(ts, fast, F_PATH);
    if (path == NULL) {
        goto done;
    }
    if (width != 3) {
        /* entry[1], entry[0] */
        if (PyTuple_CheckExact(entry) && PyTuple_GET_SIZE(entry) >= 2) {
            t0 = PyTuple_GET_ITEM(entry, 1);
            Py_INCREF(t0);
            parent = PyTuple_GET_ITEM(entry, 0);
            Py_INCREF(parent);
        }
        else {
            t0 = PySequence_GetItem(entry, 1);
            if (t0 == NULL) {
                goto done;
            }
        }
    }
    t1o = PyLong_FromLongLong(t1);
    if (t1o == NULL) {
        goto done;
    }
    Py_ssize_t buflen;
    if (PyList_CheckExact(buf)) {
        PyObject *items[5] = {path, t0, t1o, minus_one, minus_one};
        if (list_extend_items(buf, items, width) < 0) {
            goto done;
        }
        buflen = PyList_GET_SIZE(buf);
    }
    else {
        PyObject *rec = width == 3 ? PyTuple_Pack(3, path, t0, t1o)
                                   : PyTuple_Pack(5, path, t0, t1o, minus_one, minus_one);
        if (rec == NULL) {
            goto done;
        }
        PyObject *nb = PyNumber_InPlaceAdd(buf, rec);
        Py_DECREF(rec);
        if (nb == NULL) {
            goto done;
        }
        Py_SETREF(buf, nb);
        buflen = -1;
    }
    if (parent == NULL) { /* wide block, non-tuple entry */
        parent = PySequence_GetItem(entry, 0);
        if (parent == NULL) {
            goto done;
        }
        fast = ts_layout(ts);
    }
    if (ts_set(ts, fast, F_PATH, parent) < 0) {
        goto done;
    }
    /* if t1 >= ts.deadline or len(buf) >= prof._flush_len: prof._flush_thread(ts, t1) */
    PyObject *deadline = ts_get(ts, fast, F_DEADLINE);
    if (deadline == NULL) {
        goto done;
    }
    int flush = ll_ge(t1, deadline);
    Py_DECREF(deadline);
    if (flush < 0) {
        goto done;
    }
    if (!flush) {
        if (buflen < 0) {
            buflen = PyObject_Size(buf);
            if (buflen < 0) {
                goto done;
            }
        }
        flush_len = PyObject_GetAttr(prof, s_flush_len);
        if (flush_len == NULL) {
            goto done;
        }
        flush = ll_ge((long long)buflen, flush_len);
        if (flush < 0) {
            goto done;
        }
    }
    if (flush) {
        PyObject *r = PyObject_CallMethodObjArgs(prof, s_flush_thread, ts, t1o, NULL);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    result = Py_False;
    Py_INCREF(result);
done:
    Py_XDECREF(flush_len);
    Py_XDECREF(t1o);
    Py_XDECREF(path);
    Py_XDECREF(buf);
    Py_XDECREF(t0);
    Py_XDECREF(parent);
    Py_XDECREF(entry);
    Py_XDECREF(stack);
    Py_XDECREF(ts);
    Py_DECREF(prof);
    return result;
}

/* ------------------------------------------------------------------------ bound hooks
 *
 * ``with blk:`` looks __enter__ and __exit__ up on the type and binds them to blk, which
 * for ordinary methods allocates two bound-method objects per block (about a third of the
 * cost of a C block). Here __enter__/__exit__ are descriptors whose __get__ returns a
 * bound callable created once per block and cached on it (like a bound method it holds a
 * strong reference to the block; the cycle is the collector's, as is the existing
 * block -> profiler -> block cycle). Calling the descriptor on the class works as for a
 * method: ``Block.__exit__(blk, None, None, None)``. */

enum { K_ENTER = 0, K_EXIT3 = 1, K_EXIT5 = 2 };

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *block; /* strong */
    int kind;
} HookObject;

static PyObject *
hook_call_enter(PyObject *h, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)args;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf) + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (n != 0) {
        PyErr_Format(PyExc_TypeError, "__enter__() takes no arguments (%zd given)", n);
        return NULL;
    }
    return block_enter((BlockObject *)((HookObject *)h)->block, NULL);
}

static PyObject *
hook_call_exit(PyObject *h, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)args;
    /* the arguments (exception type, value, traceback) are not used: only counted */
    Py_ssize_t n = PyVectorcall_NARGS(nargsf) + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    HookObject *hk = (HookObject *)h;
    return block_exit_impl((BlockObject *)hk->block, n, hk->kind == K_EXIT5 ? 5 : 3);
}

static int
hook_traverse(HookObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->block);
    return 0;
}

static int
hook_clear(HookObject *self)
{
    Py_CLEAR(self->block);
    return 0;
}

static void
hook_dealloc(HookObject *self)
{
    PyObject_GC_UnTrack(self);
    hook_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *
hook_repr(HookObject *self)
{
    return PyUnicode_FromFormat("<bound method %s of %R>",
                                self->kind == K_ENTER ? "__enter__" : "__exit__", self->block);
}

static PyMemberDef hook_members[] = {
    {"__self__", Py_T_OBJECT_EX, offsetof(HookObject, block), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject Hook_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zlprof._speedups.bound_hook",
    .tp_basicsize = sizeof(HookObject),
    .tp_dealloc = (destructor)hook_dealloc,
    .tp_vectorcall_offset = offsetof(HookObject, vectorcall),
    .tp_repr = (reprfunc)hook_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_traverse = (traverseproc)hook_traverse,
    .tp_clear = (inquiry)hook_clear,
    .tp_members = hook_members,
};

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int kind;
    PyObject *name; /* "__enter__" / "__exit__" */
    PyObject *doc;
} HookDescrObject;

static PyObject *
hookdescr_get(HookDescrObject *d, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(d);
        return (PyObject *)d;
    }
    if (!PyObject_TypeCheck(obj, &Block_Type)) {
        PyErr_Format(PyExc_TypeError,
                     "descriptor '%U' for 'zlprof._speedups.Block' objects doesn't apply to "
                     "a '%.100s' object",
                     d->name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    BlockObject *b = (BlockObject *)obj;
    int slot = d->kind == K_ENTER ? 0 : 1;
    HookObject *h = (HookObject *)b->hook[slot];
    if (h != NULL && h->kind == d->kind) {
        Py_INCREF(h);
        return (PyObject *)h;
    }
    h = PyObject_GC_New(HookObject, &Hook_Type);
    if (h == NULL) {
        return NULL;
    }
    h->vectorcall = d->kind == K_ENTER ? hook_call_enter : hook_call_exit;
    Py_INCREF(obj);
    h->block = obj;
    h->kind = d->kind;
    PyObject_GC_Track(h);
    if (b->hook[slot] == NULL) { /* cache it (a foreign descriptor's hook is not cached) */
        Py_INCREF(h);
        b->hook[slot] = (PyObject *)h;
    }
    return (PyObject *)h;
}

/* Block.__exit__(blk, et, ev, tb): bind to the first argument and call. */
static PyObject *
hookdescr_vectorcall(PyObject *d, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "unbound method %U() needs an argument",
                     ((HookDescrObject *)d)->name);
        return NULL;
    }
    PyObject *bound = hookdescr_get((HookDescrObject *)d, args[0], NULL);
    if (bound == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_Vectorcall(bound, args + 1, nargs - 1, kwnames);
    Py_DECREF(bound);
    return r;
}

static void
hookdescr_dealloc(HookDescrObject *d)
{
    Py_XDECREF(d->name);
    Py_XDECREF(d->doc);
    PyObject_Del(d);
}

static PyMemberDef hookdescr_members[] = {
    {"__name__", Py_T_OBJECT_EX, offsetof(HookDescrObject, name), Py_READONLY, NULL},
    {"__doc__", Py_T_OBJECT_EX, offsetof(HookDescrObject, doc), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject HookDescr_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zlprof._speedups.hook_descriptor",
    .tp_basicsize = sizeof(HookDescrObject),
    .tp_dealloc = (destructor)hookdescr_dealloc,
    .tp_vectorcall_offset = offsetof(HookDescrObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_members = hookdescr_members,
    .tp_descr_get = (descrgetfunc)hookdescr_get,
};

/* Put a hook descriptor named ``name`` in the dict of the (static, ready) type ``tp``. */
static int
add_hook(PyTypeObject *tp, const char *name, int kind, const char *doc)
{
    HookDescrObject *d = PyObject_New(HookDescrObject, &HookDescr_Type);
    if (d == NULL) {
        return -1;
    }
    d->vectorcall = hookdescr_vectorcall;
    d->kind = kind;
    d->name = PyUnicode_InternFromString(name);
    d->doc = PyUnicode_FromString(doc);
    if (d->name == NULL || d->doc == NULL) {
        Py_DECREF(d);
        return -1;
    }
    int r = PyDict_SetItem(tp->tp_dict, d->name, (PyObject *)d);
    Py_DECREF(d);
    PyType_Modified(tp);
    return r;
}

static PyMemberDef block_members[] = {
    {"_prof", Py_T_OBJECT_EX, offsetof(BlockObject, prof), 0, NULL},
    {"name", Py_T_OBJECT_EX, offsetof(BlockObject, name), 0, NULL},
    {"_children", Py_T_OBJECT_EX, offsetof(BlockObject, children), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject Block_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zlprof._speedups.Block",
    .tp_doc = "Block(prof, name): the C hot path of zlprof.profiler.Block.",
    .tp_basicsize = sizeof(BlockObject),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)block_traverse,
    .tp_clear = (inquiry)block_clear,
    .tp_members = block_members,
    .tp_init = (initproc)block_init,
    .tp_new = PyType_GenericNew,
};

static PyTypeObject WideBlock_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zlprof._speedups.WideBlock",
    .tp_doc = "WideBlock(prof, name): a Block whose records carry two -1 memory columns.",
    .tp_basicsize = sizeof(BlockObject),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)block_traverse,
    .tp_clear = (inquiry)block_clear,
    .tp_init = (initproc)block_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------ module */

static PyObject *
speedups_perf_counter_ns(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(now_ns());
}

static PyMethodDef module_methods[] = {
    {"perf_counter_ns", speedups_perf_counter_ns, METH_NOARGS,
     "The clock the C blocks read (must agree with time.perf_counter_ns())."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "zlprof._speedups",
    .m_doc = "C hot path of zlprof's Block context manager (optional; see profiler.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

#define INTERN(var, text)                                  \
    do {                                                   \
        if ((var = PyUnicode_InternFromString(text)) == NULL) \
            return NULL;                                   \
    } while (0)

PyMODINIT_FUNC
PyInit__speedups(void)
{
#ifdef ZLPROF_NO_GIL
    PyErr_SetString(PyExc_ImportError,
                    "zlprof._speedups needs the GIL; the pure-Python blocks are used instead");
    return NULL;
#endif
    INTERN(s_off, "_off");
    INTERN(s_tls, "_tls");
    INTERN(s_ts, "ts");
    INTERN(s_new_thread_state, "_new_thread_state");
    INTERN(s_intern, "_intern");
    INTERN(s_flush_len, "_flush_len");
    INTERN(s_flush_thread, "_flush_thread");
    INTERN(s_get, "get");
    INTERN(s_pop, "pop");
    INTERN(s_append, "append");
    INTERN(s_cache_key, "zlprof._speedups.thread_cache");
    INTERN(ts_names[F_STACK], "stack");
    INTERN(ts_names[F_BUF], "buf");
    INTERN(ts_names[F_PATH], "path");
    INTERN(ts_names[F_DEADLINE], "deadline");
    if ((minus_one = PyLong_FromLong(-1)) == NULL) {
        return NULL;
    }
    if (PyType_Ready(&TLCache_Type) < 0 || PyType_Ready(&Hook_Type) < 0 ||
        PyType_Ready(&HookDescr_Type) < 0 || PyType_Ready(&Block_Type) < 0) {
        return NULL;
    }
    if (add_hook(&Block_Type, "__enter__", K_ENTER, "Open the block; returns the block.") < 0 ||
        add_hook(&Block_Type, "__exit__", K_EXIT3,
                 "Close the block and record (path, t0, t1); never swallows exceptions.") < 0) {
        return NULL;
    }
    WideBlock_Type.tp_base = &Block_Type;
    if (PyType_Ready(&WideBlock_Type) < 0) {
        return NULL;
    }
    if (add_hook(&WideBlock_Type, "__exit__", K_EXIT5,
                 "Close the block and record (path, t0, t1, -1, -1); never swallows "
                 "exceptions.") < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&Block_Type);
    if (PyModule_AddObject(m, "Block", (PyObject *)&Block_Type) < 0) {
        Py_DECREF(&Block_Type);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&WideBlock_Type);
    if (PyModule_AddObject(m, "WideBlock", (PyObject *)&WideBlock_Type) < 0) {
        Py_DECREF(&WideBlock_Type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
