/* zlprof._speedups: the Block hot path (``__enter__``/``__exit__``) and ``cost`` in C.
 *
 * Optional accelerator for zlprof.profiler.Block; the pure-Python class in profiler/blocks.py is
 * the reference and the fallback, and this file must keep its semantics exactly:
 *
 *   enter: if prof._off: return self
 *          ts = prof._tls.ts  (prof._new_thread_state() on AttributeError)
 *          parent = ts.path
 *          pid = self._children.get(parent); if pid is None: pid = prof._intern(...)
 *          ts.stack.append((parent, perf_counter_ns())); ts.path = pid; return self
 *   exit:  t1 = perf_counter_ns()
 *          ts = prof._tls.ts; entry = ts.stack.pop()   (AttributeError/IndexError: False)
 *          ts.buf += (ts.path, t0, t1)
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
 *  - the ``__slots__`` of the thread-state class, and the profiler's ``_off`` and
 *    ``_flush_len`` slots, are read/written at their offsets, the way CPython's own
 *    LOAD_ATTR_SLOT specialisation does, guarded by the type's version tag (any change
 *    to the class invalidates it); other classes use getattr/setattr.
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
/* The atomicity arguments above rely on the GIL: let the import fail, profiler/accel.py then
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

static PyObject *s_tls, *s_ts, *s_new_thread_state, *s_intern, *s_flush_thread, *s_get, *s_pop, *s_append, *s_cache_key;

/* ------------------------------------------------------------------------ slots
 *
 * The thread state's fields and the profiler's ``_off``/``_flush_len`` are ``__slots__``:
 * read and written at their offsets (no getattr, which after a big mat-vec costs several
 * cache misses: method cache, shared keys, values), guarded by the type's version tag.
 * A class whose attributes are not such slots (or a subclass overriding one) is served
 * by getattr/setattr. */

enum { F_STACK, F_BUF, F_PATH, F_DEADLINE, F_COSTS, NF_TS };
enum { P_OFF, P_FLUSH_LEN, NF_PROF };
#define NF_MAX 5

typedef struct {
    int n;
    PyObject *names[NF_MAX];
    PyTypeObject *type; /* strong ref: the class the offsets below belong to */
    unsigned int tag;
    int fast;
    Py_ssize_t off[NF_MAX];
} Layout;

static Layout ts_lay = {.n = NF_TS};
static Layout prof_lay = {.n = NF_PROF};

/* Resolve the slot offsets of ``tp``; caches a negative answer too. */
static int
layout_refresh(Layout *L, PyTypeObject *tp)
{
    Py_ssize_t off[NF_MAX];
    int fast = 1;
    for (int i = 0; i < L->n; i++) {
        PyObject *d = PyObject_GetAttr((PyObject *)tp, L->names[i]);
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
    Py_XSETREF(L->type, tp);
    L->tag = tp->tp_version_tag;
    L->fast = fast;
    if (fast) {
        memcpy(L->off, off, sizeof(off));
    }
    return fast;
}

/* 1: the fields of ``obj`` are slots at L->off; 0: use getattr/setattr. Any change to the
 * class (PyType_Modified) sets its tp_version_tag to 0 and a new tag is never one given
 * before, so comparing the (non-zero) tag is the whole guard: one cache line of the type
 * (tp_flags would be another). */
static inline int
layout_of(Layout *L, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == L->type && tp->tp_version_tag == L->tag) {
        return L->fast;
    }
    return layout_refresh(L, tp);
}

/* New reference to obj.<field f>, or NULL with an exception set. */
static inline PyObject *
slot_get(Layout *L, PyObject *obj, int fast, int f)
{
    if (fast) {
        PyObject *v = *(PyObject **)((char *)obj + L->off[f]);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
        PyErr_Format(PyExc_AttributeError, "'%.200s' object has no attribute '%U'",
                     Py_TYPE(obj)->tp_name, L->names[f]);
        return NULL;
    }
    return PyObject_GetAttr(obj, L->names[f]);
}

static inline int
slot_set(Layout *L, PyObject *obj, int fast, int f, PyObject *v)
{
    if (fast) {
        PyObject **addr = (PyObject **)((char *)obj + L->off[f]);
        PyObject *old = *addr;
        Py_INCREF(v);
        *addr = v;
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(obj, L->names[f], v);
}

#define ts_layout(ts) layout_of(&ts_lay, (ts))
#define ts_get(ts, fast, f) slot_get(&ts_lay, (ts), (fast), (f))
#define ts_set(ts, fast, f, v) slot_set(&ts_lay, (ts), (fast), (f), (v))

/* Is prof._off true? 1/0, or -1 with an exception. */
static inline int
prof_is_off(PyObject *prof)
{
    PyObject *off = slot_get(&prof_lay, prof, layout_of(&prof_lay, prof), P_OFF);
    if (off == NULL) {
        return -1;
    }
    int r = off == Py_False ? 0 : off == Py_True ? 1 : PyObject_IsTrue(off);
    Py_DECREF(off);
    return r;
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

    int is_off = prof_is_off(prof);
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

/* __exit__ with ``nargs`` arguments (which are not used). */
static PyObject *
block_exit_impl(BlockObject *self, Py_ssize_t nargs)
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
    buf = ts_get(ts, fast, F_BUF);
    if (buf == NULL) {
        goto done;
    }
    path = ts_get(ts, fast, F_PATH);
    if (path == NULL) {
        goto done;
    }
    t1o = PyLong_FromLongLong(t1);
    if (t1o == NULL) {
        goto done;
    }
    Py_ssize_t buflen;
    if (PyList_CheckExact(buf)) {
        PyObject *items[3] = {path, t0, t1o};
        if (list_extend_items(buf, items, 3) < 0) {
            goto done;
        }
        buflen = PyList_GET_SIZE(buf);
    }
    else {
        PyObject *rec = PyTuple_Pack(3, path, t0, t1o);
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
        flush_len = slot_get(&prof_lay, prof, layout_of(&prof_lay, prof), P_FLUSH_LEN);
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

enum { K_ENTER = 0, K_EXIT = 1 };

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
    return block_exit_impl((BlockObject *)((HookObject *)h)->block, n);
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
    /* (profiler/accel.py's _CBlock derives directly from Block: skip the MRO walk) */
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp != &Block_Type && tp->tp_base != &Block_Type && !PyType_IsSubtype(tp, &Block_Type)) {
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

/* ------------------------------------------------------------------------ Cost
 *
 * Cost(prof): a callable with the semantics of zlprof.profiler.Profiler.cost, which
 * Profiler.__init__ installs as the instance's ``cost`` when the extension is built:
 *
 *   cost(flops, nbytes): if prof._off: return
 *                        ts = prof._tls.ts   (AttributeError: return)
 *                        ts.costs += (ts.path, flops, nbytes)
 *
 * The three items are appended in one C call (atomic under the GIL, like the Python
 * version's single list extend). It holds the profiler strongly (the profiler holds it
 * in its __dict__: a cycle for the collector, hence GC support). */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *prof;
} CostObject;

static PyObject *
cost_record(PyObject *prof, PyObject *flops, PyObject *nbytes)
{
    int is_off = prof_is_off(prof);
    if (is_off < 0) {
        return NULL;
    }
    if (is_off) {
        Py_RETURN_NONE;
    }
    int missing = 0;
    PyObject *ts = get_thread_state(prof, 0, &missing);
    if (ts == NULL) {
        if (missing) {
            Py_RETURN_NONE;
        }
        return NULL;
    }
    PyObject *costs = NULL, *path = NULL, *result = NULL;
    int fast = ts_layout(ts);
    costs = ts_get(ts, fast, F_COSTS);
    if (costs == NULL) {
        goto done;
    }
    path = ts_get(ts, fast, F_PATH);
    if (path == NULL) {
        goto done;
    }
    if (PyList_CheckExact(costs)) {
        PyObject *items[3] = {path, flops, nbytes};
        if (list_extend_items(costs, items, 3) < 0) {
            goto done;
        }
    }
    else {
        PyObject *rec = PyTuple_Pack(3, path, flops, nbytes);
        if (rec == NULL) {
            goto done;
        }
        PyObject *nc = PyNumber_InPlaceAdd(costs, rec);
        Py_DECREF(rec);
        if (nc == NULL) {
            goto done;
        }
        Py_SETREF(costs, nc);
        fast = ts_layout(ts); /* Python code may have run */
        if (ts_set(ts, fast, F_COSTS, costs) < 0) {
            goto done;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(path);
    Py_XDECREF(costs);
    Py_DECREF(ts);
    return result;
}

static PyObject *
cost_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyObject *prof = ((CostObject *)self)->prof;
    if (prof == NULL) {
        PyErr_SetString(PyExc_ValueError, "Cost object without a profiler");
        return NULL;
    }
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *res;
    Py_INCREF(prof); /* the call may run Python code that drops the Cost object */
    if (kwnames == NULL && nargs == 2) {
        res = cost_record(prof, args[0], args[1]);
    }
    else { /* keywords or a wrong count: the argument rules of cost(self, flops, nbytes) */
        static char *kwlist[] = {"flops", "nbytes", NULL};
        PyObject *flops, *nbytes;
        PyObject *tup = PyTuple_New(nargs);
        PyObject *kw = NULL;
        res = NULL;
        if (tup == NULL) {
            goto out;
        }
        for (Py_ssize_t i = 0; i < nargs; i++) {
            Py_INCREF(args[i]);
            PyTuple_SET_ITEM(tup, i, args[i]);
        }
        if (kwnames != NULL && PyTuple_GET_SIZE(kwnames)) {
            kw = PyDict_New();
            if (kw == NULL) {
                goto out;
            }
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
                if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
                    goto out;
                }
            }
        }
        if (PyArg_ParseTupleAndKeywords(tup, kw, "OO:cost", kwlist, &flops, &nbytes)) {
            res = cost_record(prof, flops, nbytes);
        }
    out:
        Py_XDECREF(tup);
        Py_XDECREF(kw);
    }
    Py_DECREF(prof);
    return res;
}

static PyObject *
cost_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prof", NULL};
    PyObject *prof;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Cost", kwlist, &prof)) {
        return NULL;
    }
    CostObject *self = (CostObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = cost_vectorcall;
    Py_INCREF(prof);
    self->prof = prof;
    return (PyObject *)self;
}

static int
cost_traverse(CostObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->prof);
    return 0;
}

static int
cost_clear(CostObject *self)
{
    Py_CLEAR(self->prof);
    return 0;
}

static void
cost_dealloc(CostObject *self)
{
    PyObject_GC_UnTrack(self);
    cost_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
cost_repr(CostObject *self)
{
    return PyUnicode_FromFormat("<zlprof cost of %R>", self->prof);
}

static PyMemberDef cost_members[] = {
    {"__self__", Py_T_OBJECT_EX, offsetof(CostObject, prof), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject Cost_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zlprof._speedups.Cost",
    .tp_doc = "Cost(prof): prof.cost(flops, nbytes) in C (see Profiler.cost).",
    .tp_basicsize = sizeof(CostObject),
    .tp_dealloc = (destructor)cost_dealloc,
    .tp_vectorcall_offset = offsetof(CostObject, vectorcall),
    .tp_repr = (reprfunc)cost_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_traverse = (traverseproc)cost_traverse,
    .tp_clear = (inquiry)cost_clear,
    .tp_members = cost_members,
    .tp_new = cost_new,
};

/* ------------------------------------------------------------------------ flush helpers
 *
 * The writer (the sampler thread, or an owner flushing synchronously) turns the flat
 * lists into frame columns. These do it in one pass over the list with no Python objects
 * created per item; profiler/writer.py keeps NumPy versions with the same results (used when the
 * extension is not built) and falls back to them whenever these raise (an item that is
 * not an exact int, a value or a sum out of int64 range). */

/* The list's first n items as C int64s (n <= len(lst)); -1 with an exception. Only
 * exact ints are accepted, so no Python code runs while the items are read. */
static int
read_int64s(PyObject *lst, Py_ssize_t n, long long *out)
{
    if (!PyList_CheckExact(lst)) {
        PyErr_SetString(PyExc_TypeError, "expected a list");
        return -1;
    }
    if (n < 0 || n > PyList_GET_SIZE(lst)) {
        PyErr_SetString(PyExc_ValueError, "n out of range");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(lst, i);
        if (!PyLong_CheckExact(v)) {
            PyErr_SetString(PyExc_TypeError, "not an int");
            return -1;
        }
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError, "int out of int64 range");
            return -1;
        }
        out[i] = x;
    }
    return 0;
}

/* pack_records(lst, n, width) -> [bytes] * width: the first n items of the flat list of
 * ``width``-wide records as columns, native byte order (little-endian hosts only, see
 * profiler/accel.py): column 0 (path ids) int32 (wrapping like NumPy's astype), the others
 * int64. */
static PyObject *
speedups_pack_records(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *lst;
    Py_ssize_t n, width;
    if (!PyArg_ParseTuple(args, "Onn:pack_records", &lst, &n, &width)) {
        return NULL;
    }
    if (width < 1 || width > 16 || n % width) {
        PyErr_SetString(PyExc_ValueError, "n must be a multiple of width (1..16)");
        return NULL;
    }
    long long *vals = PyMem_Malloc(sizeof(long long) * (size_t)(n ? n : 1));
    if (vals == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *out = NULL;
    if (read_int64s(lst, n, vals) < 0) {
        goto done;
    }
    Py_ssize_t rows = n / width;
    out = PyList_New(width);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t c = 0; c < width; c++) {
        size_t item = c == 0 ? sizeof(int32_t) : sizeof(int64_t);
        PyObject *b = PyBytes_FromStringAndSize(NULL, rows * (Py_ssize_t)item);
        if (b == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        char *dst = PyBytes_AS_STRING(b);
        if (c == 0) {
            for (Py_ssize_t r = 0; r < rows; r++) {
                int32_t v = (int32_t)(uint32_t)(unsigned long long)vals[r * width];
                memcpy(dst + r * 4, &v, 4);
            }
        }
        else {
            for (Py_ssize_t r = 0; r < rows; r++) {
                int64_t v = (int64_t)vals[r * width + c];
                memcpy(dst + r * 8, &v, 8);
            }
        }
        PyList_SET_ITEM(out, c, b);
    }
done:
    PyMem_Free(vals);
    return out;
}

/* sum_costs(lst, n) -> [(path, calls, flops, bytes)], ascending path, path 0 dropped: the
 * first n items of the flat list of (path, flops, nbytes) triples summed per path. Raises
 * (and profiler/writer.py falls back) on a path outside 0..65535, a non-int, or an overflow. */
static PyObject *
speedups_sum_costs(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *lst;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On:sum_costs", &lst, &n)) {
        return NULL;
    }
    if (n % 3) {
        PyErr_SetString(PyExc_ValueError, "n must be a multiple of 3");
        return NULL;
    }
    enum { MAX_PATHS = 1 << 16 };
    long long *vals = PyMem_Malloc(sizeof(long long) * (size_t)(n ? n : 1));
    long long *acc = NULL; /* per path: calls, flops, bytes */
    PyObject *out = NULL;
    if (vals == NULL) {
        return PyErr_NoMemory();
    }
    if (read_int64s(lst, n, vals) < 0) {
        goto done;
    }
    long long top = 0;
    for (Py_ssize_t i = 0; i < n; i += 3) {
        if (vals[i] < 0 || vals[i] >= MAX_PATHS) {
            PyErr_SetString(PyExc_ValueError, "path id out of range");
            goto done;
        }
        if (vals[i] > top) {
            top = vals[i];
        }
    }
    acc = PyMem_Calloc((size_t)(top + 1) * 3, sizeof(long long));
    if (acc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i += 3) {
        long long *a = acc + vals[i] * 3;
        a[0] += 1;
        if (__builtin_add_overflow(a[1], vals[i + 1], &a[1]) ||
            __builtin_add_overflow(a[2], vals[i + 2], &a[2])) {
            PyErr_SetString(PyExc_OverflowError, "cost sum out of int64 range");
            goto done;
        }
    }
    out = PyList_New(0);
    if (out == NULL) {
        goto done;
    }
    for (long long p = 1; p <= top; p++) {
        long long *a = acc + p * 3;
        if (!a[0]) {
            continue;
        }
        PyObject *row = Py_BuildValue("(LLLL)", p, a[0], a[1], a[2]);
        if (row == NULL || PyList_Append(out, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(row);
    }
done:
    PyMem_Free(vals);
    PyMem_Free(acc);
    return out;
}

/* ------------------------------------------------------------------------ module */

static PyObject *
speedups_perf_counter_ns(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(now_ns());
}

static PyMethodDef module_methods[] = {
    {"perf_counter_ns", speedups_perf_counter_ns, METH_NOARGS,
     "The clock the C blocks read (must agree with time.perf_counter_ns())."},
    {"pack_records", speedups_pack_records, METH_VARARGS,
     "pack_records(lst, n, width) -> list of width bytes: the columns of the first n items "
     "(column 0 int32, the others int64, native byte order)."},
    {"sum_costs", speedups_sum_costs, METH_VARARGS,
     "sum_costs(lst, n) -> [(path, calls, flops, bytes)] of the first n items of flat "
     "(path, flops, nbytes) triples, ascending path, path 0 dropped."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "zlprof._speedups",
    .m_doc = "C hot path of zlprof's Block context manager and Profiler.cost (optional; see "
             "zlprof/profiler/accel.py).",
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
    INTERN(s_tls, "_tls");
    INTERN(s_ts, "ts");
    INTERN(s_new_thread_state, "_new_thread_state");
    INTERN(s_intern, "_intern");
    INTERN(s_flush_thread, "_flush_thread");
    INTERN(s_get, "get");
    INTERN(s_pop, "pop");
    INTERN(s_append, "append");
    INTERN(s_cache_key, "zlprof._speedups.thread_cache");
    INTERN(ts_lay.names[F_STACK], "stack");
    INTERN(ts_lay.names[F_BUF], "buf");
    INTERN(ts_lay.names[F_PATH], "path");
    INTERN(ts_lay.names[F_DEADLINE], "deadline");
    INTERN(ts_lay.names[F_COSTS], "costs");
    INTERN(prof_lay.names[P_OFF], "_off");
    INTERN(prof_lay.names[P_FLUSH_LEN], "_flush_len");
    if (PyType_Ready(&TLCache_Type) < 0 || PyType_Ready(&Hook_Type) < 0 ||
        PyType_Ready(&HookDescr_Type) < 0 || PyType_Ready(&Block_Type) < 0 ||
        PyType_Ready(&Cost_Type) < 0) {
        return NULL;
    }
    if (add_hook(&Block_Type, "__enter__", K_ENTER, "Open the block; returns the block.") < 0 ||
        add_hook(&Block_Type, "__exit__", K_EXIT,
                 "Close the block and record (path, t0, t1); never swallows exceptions.") < 0) {
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
    Py_INCREF(&Cost_Type);
    if (PyModule_AddObject(m, "Cost", (PyObject *)&Cost_Type) < 0) {
        Py_DECREF(&Cost_Type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
