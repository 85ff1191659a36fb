/*
 * mcptrace.sensor._fasthook: the audit hook's two hottest steps in C (optional accelerator).
 *
 * The pure-Python hook (sensor/hook.py) stays the reference: this module only answers, without
 * entering Python, the two questions that most audit events end at:
 *
 *   1. reject   is the event one the sensor looks at at all?  (a C hash table of the names;
 *               most events -- builtins.id, object.__getattr__, sys._getframe -- end here),
 *               and is it the importer reading a module's bytecode (.pyc, read-only)?  Not
 *               once a policy is locked in (pin()): then every open is judged in Python.
 *   2. count    is the event's span already past its log cap for the event's category, with
 *               no policy installed?  Then the Python hook would only count it
 *               (root.counts[category] += 1; root.dropped += 1), and so does this: into a
 *               small C table of (root, category) -> count, which drain() adds to those two
 *               Python counters (the recorder drains before it reads them, at span end).  A
 *               full table falls back to updating the Python objects at once.
 *   3. repeat   with a policy locked in (pin(decider)): is the event a plain open the policy
 *               already ALLOWED in this very span, with the same path string, mode and flags,
 *               while the path still leads to the same file (one stat: device and inode, and
 *               not a file with several names), and is the span past its cap?  Then the
 *               Python hook would judge it allowed again and only count it, and so does this
 *               (the same count as step 2).  What may be answered here is told by the Python
 *               hook itself: it returns the file's identity (st_dev, st_ino) for an open its
 *               policy allowed and may allow again (PolicyEngine._file_open_kept), None
 *               otherwise.  Only absolute ASCII str paths (no dir_fd or working directory
 *               involved; not .py or __pycache__, which the importer's opens share), only
 *               while the policy slot still holds the pinned policy, the sensor is on and
 *               the thread not paused (any switch flipped goes to Python, which sees the
 *               tamper).  The remembered verdicts are forgotten when the policy says so
 *               (forget(): any violation, a tool tainted, the policy restored), when a span
 *               ends (drain()), and in a forked child (drain()).  Denials are never kept.
 *
 *   4. library code   with detections on and no policy: a compile or exec made by library
 *               machinery (the standard library, the MCP stack) under a pseudo name, of code
 *               that plainly imports nothing, in start-up's bucket past its span cap: the
 *               Python hook would only count it, and so does this (see library_code());
 *               and a module body the importer runs there, an import only counted.
 *
 * Everything else is handed to the Python hook unchanged (same event name, same args), which
 * repeats its own checks.  The conditions of step 2 are exactly the Python hook's: sensor
 * active, thread not paused, context not suppressed, a tracked span in the current OTel
 * context, and no policy locked in (after pin() every event goes to the Python hook, so a
 * policy slot or sensor switch flipped by tool code cannot make this step skip the policy).  When in doubt this code falls through to the Python hook, which is always right.
 *
 * Audit hooks added with PySys_AddAuditHook are process-wide and cannot be removed, so there
 * is one hook state per process.  The hook ignores other (sub)interpreters and does nothing
 * once the interpreter is finalizing, as the Python hook does.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <opcode.h> /* IMPORT_NAME (step 4) */
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h> /* PyFrame_GetBack, f_globals (step 4) */
#endif

#ifndef O_ACCMODE
#define O_ACCMODE 3
#endif

#define TABLE_SIZE 512 /* power of two, at least 4x the number of interesting events */

typedef struct {
    char *name;          /* UTF-8 copy of the event name */
    uint64_t hash;
    PyObject *py_name;   /* the same name as a str, passed to the Python hook */
    PyObject *category;  /* set when the event always has this one category: step 2 applies */
} Entry;

typedef struct {
    int installed;
    PyInterpreterState *interp;
    Entry *entries;
    int table[TABLE_SIZE]; /* index into entries + 1; 0 = empty */
    int open_index;        /* entries index of "open", or -1 */
    PyObject *slow;        /* the Python hook: slow(event, args) */
    PyObject *sensor;      /* .active */
    PyObject *paused;      /* set of thread ids doing mcptrace's own work */
    PyObject *context_var; /* OTel's ContextVar, or NULL (then step 2 is skipped) */
    PyObject *suppress_key;
    PyObject *span_key;
    PyObject *by_span;     /* dict: live span object -> SpanState */
    PyObject *policy;      /* list whose [0] is the policy decider or None */
    long log_cap;
    int pinned;            /* a policy is locked in: step 1b and step 2 are off for good */
    int judge;             /* detections judge events past the cap: step 2 only for cleared opens */
    PyObject *decider;     /* the pinned policy (pin(decider)): step 3 only while policy[0] is it */
    unsigned long long fast_counted; /* events step 2 counted (for tests) */
} HookState;

static HookState state;

/* The contract with the Python state: the attributes this file reads and writes by name.
 * tests/sensor/test_native_contract.py reads the table below and every
 * PyUnicode_InternFromString in this file, and checks both against the Python classes;
 * renaming a slot there without changing it here fails that test.
 *
 *   NATIVE_CONTRACT  Sensor.active      bool            read     (sensor/hook.py)
 *   NATIVE_CONTRACT  SpanState.kept     dict[str, int]  read     (record/state.py)
 *   NATIVE_CONTRACT  SpanState.root     SpanState       read
 *   NATIVE_CONTRACT  SpanState.counts   dict[str, int]  read, +1 per category
 *   NATIVE_CONTRACT  SpanState.dropped  int             read, +1
 *   NATIVE_CONTRACT  SpanState.span_context  object     read (step 4: None)
 *   NATIVE_CONTRACT  SpanState.ended  bool              read (step 4)
 *   NATIVE_CONTRACT  Recorder.late_detector  object     read (step 4)
 *   NATIVE_CONTRACT  SpanRegistry.in_flight  dict[int, SpanState]  read (step 4)
 *   NATIVE_CONTRACT  SpanRegistry.process  object       read (step 4)
 *   NATIVE_CONTRACT  SpanRegistry.requests_seen  bool   read (step 4)
 *   NATIVE_CONTRACT  SpanRegistry.startup  SpanState    read (step 4)
 *   NATIVE_CONTRACT  SpanRegistry.unattributed  SpanState  read (step 4)
 *   NATIVE_CONTRACT  globals.__name__  str              read (step 4: a frame's module)
 *
 * install() receives the rest as objects, not names: the Python hook, the paused-thread set,
 * OTel's context ContextVar and keys, SpanRegistry.by_span, record/decide.py's POLICY list;
 * code_path() those of step 4 (translate's and origin's caches and sets, hook.py's main_input).
 */
static PyObject *str_active, *str_kept, *str_root, *str_counts, *str_dropped;

/* Step 2's counts not yet added to the Python objects: (root SpanState, category) -> count.
   Entries hold strong references until drain(); only touched with the GIL held. */
#define PENDING_SLOTS 32
typedef struct {
    PyObject *root;
    PyObject *category;
    long count;
} Pending;
static Pending pending[PENDING_SLOTS];
static int last_pending; /* the slot the previous event used: floods hit it again */

static uint64_t
fnv1a(const char *text)
{
    uint64_t hash = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ULL;
    }
    return hash;
}

static int
lookup(const char *event)
{
    uint64_t hash = fnv1a(event);
    for (size_t slot = hash & (TABLE_SIZE - 1);; slot = (slot + 1) & (TABLE_SIZE - 1)) {
        int index = state.table[slot];
        if (index == 0) {
            return -1;
        }
        Entry *entry = &state.entries[index - 1];
        if (entry->hash == hash && strcmp(entry->name, event) == 0) {
            return index - 1;
        }
    }
}

static int
is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* The importer opening a module's bytecode read-only: open(path ending ".pyc", _, flags). */
static int
is_bytecode_read(PyObject *args)
{
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 3) {
        return 0;
    }
    PyObject *path = PyTuple_GET_ITEM(args, 0);
    if (!PyUnicode_CheckExact(path)) {
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    if (length < 4) {
        return 0;
    }
    int kind = PyUnicode_KIND(path);
    const void *data = PyUnicode_DATA(path);
    if (PyUnicode_READ(kind, data, length - 4) != '.' || PyUnicode_READ(kind, data, length - 3) != 'p'
        || PyUnicode_READ(kind, data, length - 2) != 'y' || PyUnicode_READ(kind, data, length - 1) != 'c') {
        return 0;
    }
    PyObject *flags = PyTuple_GET_ITEM(args, 2);
    if (!PyLong_CheckExact(flags)) {
        return 0;
    }
    long value = PyLong_AsLong(flags);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return (value & O_ACCMODE) == 0;
}

/* A new reference to ``value + amount`` for an int (None counts as 0); NULL with an error set. */
static PyObject *
plus(PyObject *value, long amount)
{
    long current = 0;
    if (value != NULL) {
        current = PyLong_AsLong(value);
        if (current == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    return PyLong_FromLong(current + amount);
}

/* dict[key] += amount (from 0 when missing); -1 on error. */
static int
dict_add(PyObject *dict, PyObject *key, long amount)
{
    PyObject *old = PyDict_GetItemWithError(dict, key); /* borrowed */
    if (old == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *updated = plus(old, amount);
    if (updated == NULL) {
        return -1;
    }
    int result = PyDict_SetItem(dict, key, updated);
    Py_DECREF(updated);
    return result;
}

/* object.name += amount; -1 on error. */
static int
attribute_add(PyObject *object, PyObject *name, long amount)
{
    PyObject *old = PyObject_GetAttr(object, name);
    if (old == NULL) {
        return -1;
    }
    PyObject *updated = plus(old, amount);
    Py_DECREF(old);
    if (updated == NULL) {
        return -1;
    }
    int result = PyObject_SetAttr(object, name, updated);
    Py_DECREF(updated);
    return result;
}

/* root.counts[category] += amount; root.dropped += amount (the Python hook's count step) */
static int
add_to_root(PyObject *root, PyObject *category, long amount)
{
    PyObject *counts = PyObject_GetAttr(root, str_counts);
    if (counts == NULL) {
        return -1;
    }
    int result = -1;
    if (!PyDict_Check(counts)) {
        PyErr_SetString(PyExc_TypeError, "SpanState.counts is not a dict");
    } else if (dict_add(counts, category, amount) == 0) {
        result = attribute_add(root, str_dropped, amount);
    }
    Py_DECREF(counts);
    return result;
}

/* One more event for (root, category) in the pending table; -1 when the table is full. */
static int
pend(PyObject *root, PyObject *category)
{
    Pending *entry = &pending[last_pending];
    if (entry->root == root && entry->category == category) {
        entry->count++;
        return 0;
    }
    int free_slot = -1;
    for (int slot = 0; slot < PENDING_SLOTS; slot++) {
        entry = &pending[slot];
        if (entry->root == root && entry->category == category) {
            entry->count++;
            last_pending = slot;
            return 0;
        }
        if (entry->root == NULL && free_slot < 0) {
            free_slot = slot;
        }
    }
    if (free_slot < 0) {
        return -1;
    }
    entry = &pending[free_slot];
    Py_INCREF(root);
    Py_INCREF(category);
    entry->root = root;
    entry->category = category;
    entry->count = 1;
    last_pending = free_slot;
    return 0;
}

/* Add every pending count to its root's Python counters and empty the table; -1 if one
   failed (the others are still added). */
static int
drain_pending(void)
{
    int result = 0;
    for (int slot = 0; slot < PENDING_SLOTS; slot++) {
        Pending entry = pending[slot];
        if (entry.root == NULL) {
            continue;
        }
        pending[slot].root = NULL; /* emptied first: nothing below can add to it meanwhile */
        pending[slot].category = NULL;
        pending[slot].count = 0;
        if (add_to_root(entry.root, entry.category, entry.count) < 0) {
            result = -1;
            PyErr_Clear();
        }
        Py_DECREF(entry.root);
        Py_DECREF(entry.category);
    }
    return result;
}

/* No policy in force (policy[0] is None): steps 2 and 4 may answer for the Python hook. */
static int
no_policy(void)
{
    return PyList_GET_SIZE(state.policy) >= 1 && PyList_GET_ITEM(state.policy, 0) == Py_None;
}

/* Is this thread's event one the sensor watches: the sensor active, the thread not doing
   mcptrace's own work?  1 yes (``*thread_id`` then a new reference to the thread's id, when
   asked for), 0 no, -1 error.  Every C step that answers for the Python hook asks this
   first, as the Python hook does. */
static int
watched_thread(PyObject **thread_id)
{
    PyObject *active = PyObject_GetAttr(state.sensor, str_active);
    if (active == NULL) {
        return -1;
    }
    Py_DECREF(active); /* compared by identity only: Py_True is never freed */
    if (active != Py_True) {
        return 0;
    }
    PyObject *id = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (id == NULL) {
        return -1;
    }
    int paused = PySet_Contains(state.paused, id);
    if (paused != 0) {
        Py_DECREF(id);
        return paused < 0 ? -1 : 0;
    }
    if (thread_id != NULL) {
        *thread_id = id;
    } else {
        Py_DECREF(id);
    }
    return 1;
}

/* Step 2: 1 = counted (the Python hook would have done only that), 0 = not this case,
   -1 = error (the caller clears it and lets the Python hook decide). */
static int
count_if_saturated(PyObject *category)
{
    if (state.pinned) {
        return 0;
    }
    if (!no_policy()) {
        return 0; /* a policy judges every event: the Python hook must see it */
    }
    int watched = watched_thread(NULL);
    if (watched != 1) {
        return watched;
    }
    PyObject *context = NULL;
    if (PyContextVar_Get(state.context_var, NULL, &context) < 0) {
        return -1;
    }
    if (context == NULL) {
        return 0;
    }
    int result = 0;
    PyObject *span_state = NULL, *kept = NULL, *root = NULL;
    if (!PyDict_Check(context)) {
        goto done;
    }
    PyObject *suppressed = PyDict_GetItemWithError(context, state.suppress_key);
    if (suppressed != NULL || PyErr_Occurred()) {
        result = suppressed != NULL ? 0 : -1; /* the Python hook returns at once */
        goto done;
    }
    PyObject *span = PyDict_GetItemWithError(context, state.span_key);
    if (span == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    span_state = PyDict_GetItemWithError(state.by_span, span);
    if (span_state == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    Py_INCREF(span_state);
    kept = PyObject_GetAttr(span_state, str_kept);
    if (kept == NULL || !PyDict_Check(kept)) {
        result = kept == NULL ? -1 : 0;
        goto done;
    }
    PyObject *seen = PyDict_GetItemWithError(kept, category);
    if (seen == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    long seen_count = PyLong_AsLong(seen);
    if (seen_count == -1 && PyErr_Occurred()) {
        result = -1;
        goto done;
    }
    if (seen_count < state.log_cap) {
        goto done;
    }
    root = PyObject_GetAttr(span_state, str_root);
    if (root == NULL) {
        result = -1;
        goto done;
    }
    /* the table full: count on the objects at once */
    if (pend(root, category) < 0 && add_to_root(root, category, 1) < 0) {
        result = -1;
        goto done;
    }
    state.fast_counted++;
    result = 1;
done:
    Py_XDECREF(root);
    Py_XDECREF(kept);
    Py_XDECREF(span_state);
    Py_DECREF(context);
    return result;
}

/* An open past the cap no detection could be about (recorder.cleared_open, the same test):
   an absolute ASCII path without "/.", "-packages" or a system directory prefix. */
static int
is_cleared_open(PyObject *args)
{
    static const char *system[] = {"/etc/", "/proc/", "/var/", "/run/", "/root/", "/usr/", "/boot/"};
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1) {
        return 0;
    }
    PyObject *path = PyTuple_GET_ITEM(args, 0);
    if (!PyUnicode_CheckExact(path) || !PyUnicode_IS_ASCII(path)) {
        return 0;
    }
    const char *text = (const char *)PyUnicode_DATA(path);
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    if (length < 1 || text[0] != '/' || (Py_ssize_t)strlen(text) != length) {
        return 0;
    }
    if (strstr(text, "/.") != NULL || strstr(text, "-packages") != NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++) {
        if (strncmp(text, system[i], strlen(system[i])) == 0) {
            return 0;
        }
    }
    return 1;
}

/* Step 3's verdicts: plain opens the policy allowed, per span state.  Open addressing, no
   deletion: full at half the slots, then emptied at once.  Entries hold strong references
   (the span state, the path and mode objects) until forget(); only touched with the GIL. */
#define ALLOWED_SLOTS 2048 /* power of two */
#define ALLOWED_LIMIT (ALLOWED_SLOTS / 2)
typedef struct {
    PyObject *span_state; /* the SpanState the verdict was given in (NULL = empty slot) */
    PyObject *path;       /* exact str, absolute, ASCII */
    PyObject *mode;       /* None or an exact str: open()'s mode */
    long flags;           /* open(2) flags */
    Py_hash_t hash;
    unsigned long long device, inode; /* the file the policy judged */
} Allowed;
static Allowed allowed[ALLOWED_SLOTS];
static int allowed_count;
static unsigned long long generation; /* +1 whenever the table is emptied */
static unsigned long long fast_allowed; /* opens step 3 answered (for tests) */

static void
forget_allowed(void)
{
    generation++;
    if (allowed_count == 0) {
        return;
    }
    for (int slot = 0; slot < ALLOWED_SLOTS; slot++) {
        Allowed entry = allowed[slot];
        if (entry.span_state == NULL) {
            continue;
        }
        memset(&allowed[slot], 0, sizeof(Allowed)); /* emptied first: a decref may run code */
        allowed_count--;
        Py_DECREF(entry.span_state);
        Py_DECREF(entry.path);
        Py_DECREF(entry.mode);
    }
}

/* The open step 3 is about: the event's own arguments and the span state it happened in. */
typedef struct {
    PyObject *span_state; /* strong reference, or NULL: not a candidate */
    PyObject *path;       /* borrowed from the event's args */
    PyObject *mode;       /* borrowed */
    long flags;
    Py_hash_t hash;
} Candidate;

static int
same_text(PyObject *left, PyObject *right)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(left);
    return left == right
           || (length == PyUnicode_GET_LENGTH(right) && PyUnicode_KIND(left) == PyUnicode_KIND(right)
               && memcmp(PyUnicode_DATA(left), PyUnicode_DATA(right),
                         (size_t)length * PyUnicode_KIND(left)) == 0);
}

/* The slot holding the candidate's entry, or -1. */
static int
find_allowed(const Candidate *candidate)
{
    for (size_t slot = (size_t)candidate->hash & (ALLOWED_SLOTS - 1);;
         slot = (slot + 1) & (ALLOWED_SLOTS - 1)) {
        Allowed *entry = &allowed[slot];
        if (entry->span_state == NULL) {
            return -1;
        }
        if (entry->hash == candidate->hash && entry->span_state == candidate->span_state
            && entry->flags == candidate->flags && same_text(entry->path, candidate->path)
            && (entry->mode == candidate->mode
                || (entry->mode != Py_None && candidate->mode != Py_None
                    && same_text(entry->mode, candidate->mode)))) {
            return (int)slot;
        }
    }
}

/* Remember the candidate as allowed for the file ``identity`` = (st_dev, st_ino) (what the
   Python hook returned); anything else returned is ignored. */
static void
admit(const Candidate *candidate, PyObject *identity)
{
    if (!PyTuple_CheckExact(identity) || PyTuple_GET_SIZE(identity) != 2
        || !PyLong_CheckExact(PyTuple_GET_ITEM(identity, 0))
        || !PyLong_CheckExact(PyTuple_GET_ITEM(identity, 1))) {
        return;
    }
    unsigned long long device = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(identity, 0));
    unsigned long long inode = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(identity, 1));
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return;
    }
    int slot = find_allowed(candidate);
    if (slot >= 0) {
        allowed[slot].device = device;
        allowed[slot].inode = inode;
        return;
    }
    if (allowed_count >= ALLOWED_LIMIT) {
        forget_allowed();
    }
    size_t free_slot = (size_t)candidate->hash & (ALLOWED_SLOTS - 1);
    while (allowed[free_slot].span_state != NULL) {
        free_slot = (free_slot + 1) & (ALLOWED_SLOTS - 1);
    }
    Allowed *entry = &allowed[free_slot];
    Py_INCREF(candidate->span_state);
    Py_INCREF(candidate->path);
    Py_INCREF(candidate->mode);
    entry->span_state = candidate->span_state;
    entry->path = candidate->path;
    entry->mode = candidate->mode;
    entry->flags = candidate->flags;
    entry->hash = candidate->hash;
    entry->device = device;
    entry->inode = inode;
    allowed_count++;
}

/* The span state an event of this thread belongs to, if mcptrace is watching it: sensor on,
   thread not paused, not suppressed, a tracked span in the current OTel context.  A new
   reference; NULL with no error set when there is none, NULL with an error on failure. */
static PyObject *
current_span_state(void)
{
    if (watched_thread(NULL) != 1) {
        return NULL;
    }
    PyObject *context = NULL;
    if (PyContextVar_Get(state.context_var, NULL, &context) < 0 || context == NULL) {
        return NULL;
    }
    PyObject *span_state = NULL;
    if (PyDict_Check(context) && PyDict_GetItemWithError(context, state.suppress_key) == NULL
        && !PyErr_Occurred()) {
        PyObject *span = PyDict_GetItemWithError(context, state.span_key);
        if (span != NULL) {
            span_state = PyDict_GetItemWithError(state.by_span, span);
            Py_XINCREF(span_state);
        }
    }
    Py_DECREF(context);
    return span_state;
}

/* Is the span state past its log cap for ``category``?  1 yes, 0 no, -1 error. */
static int
past_cap(PyObject *span_state, PyObject *category)
{
    PyObject *kept = PyObject_GetAttr(span_state, str_kept);
    if (kept == NULL) {
        return -1;
    }
    int result = 0;
    if (PyDict_Check(kept)) {
        PyObject *seen = PyDict_GetItemWithError(kept, category);
        if (seen != NULL) {
            long seen_count = PyLong_AsLong(seen);
            result = seen_count == -1 && PyErr_Occurred() ? -1 : seen_count >= state.log_cap;
        } else if (PyErr_Occurred()) {
            result = -1;
        }
    }
    Py_DECREF(kept);
    return result;
}

/* Step 3: 1 = an allowed repeat, counted; 0 = for the Python hook (``candidate`` filled in
   when its answer may be remembered); -1 = error (the Python hook decides). */
static int
allowed_repeat(PyObject *args, PyObject *category, Candidate *candidate)
{
    if (state.decider == NULL || state.context_var == NULL
        || PyList_GET_SIZE(state.policy) < 1 || PyList_GET_ITEM(state.policy, 0) != state.decider) {
        return 0; /* no policy pinned for this, or its slot rebound: the Python hook sees it */
    }
    if (!PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != 3) {
        return 0;
    }
    PyObject *path = PyTuple_GET_ITEM(args, 0), *mode = PyTuple_GET_ITEM(args, 1);
    PyObject *flags = PyTuple_GET_ITEM(args, 2);
    if (!PyUnicode_CheckExact(path) || !PyUnicode_IS_ASCII(path) || !PyLong_CheckExact(flags)
        || (mode != Py_None && !PyUnicode_CheckExact(mode))) {
        return 0;
    }
    const char *text = (const char *)PyUnicode_DATA(path);
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    if (length < 1 || text[0] != '/' || (Py_ssize_t)strlen(text) != length
        || strstr(text, "__pycache__") != NULL
        || (length >= 3 && strcmp(text + length - 3, ".py") == 0)) {
        return 0; /* relative, a NUL inside, or what the importer's opens look like */
    }
    long flag_bits = PyLong_AsLong(flags);
    if (flag_bits == -1 && PyErr_Occurred()) {
        return -1;
    }
    Py_hash_t hash = PyObject_Hash(path);
    if (hash == -1) {
        return -1;
    }
    PyObject *span_state = current_span_state();
    if (span_state == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    candidate->span_state = span_state; /* the caller releases it */
    candidate->path = path;
    candidate->mode = mode;
    candidate->flags = flag_bits;
    candidate->hash = (Py_hash_t)((size_t)hash ^ ((size_t)flag_bits * 0x9E3779B97F4A7C15ULL)
                                  ^ ((size_t)(uintptr_t)span_state >> 4));
    int slot = find_allowed(candidate);
    if (slot < 0) {
        return 0;
    }
    int over = past_cap(span_state, category);
    if (over != 1) {
        return over; /* before the cap every open is recorded, by the Python hook */
    }
    if (state.judge && !is_cleared_open(args)) {
        return 0; /* detections judge it: the Python hook keeps it for them */
    }
    unsigned long long device = allowed[slot].device, inode = allowed[slot].inode;
    unsigned long long before = generation;
    struct stat status;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = stat(text, &status); /* as the open will: following every link */
    Py_END_ALLOW_THREADS
    if (failed != 0 || generation != before || (unsigned long long)status.st_dev != device
        || (unsigned long long)status.st_ino != inode
        || (S_ISREG(status.st_mode) && status.st_nlink > 1)) {
        return 0; /* somewhere else now, forgotten meanwhile, or a file with several names */
    }
    PyObject *root = PyObject_GetAttr(span_state, str_root);
    if (root == NULL) {
        return -1;
    }
    int result = pend(root, category) < 0 && add_to_root(root, category, 1) < 0 ? -1 : 1;
    Py_DECREF(root);
    if (result == 1) {
        fast_allowed++;
    }
    return result;
}

/* Step 4: library machinery's code at start-up, counted (issue 20).  Importing a large stack
 * makes typing, dataclasses and pydantic compile and run thousands of strings; with
 * detections on, each past start-up's span cap reaches the Python hook only to be counted
 * (``Recorder.record``: not ``_suspect``).  This answers the common case of that the same way,
 * and nothing else: every condition below is one the Python hook tests on that path, read
 * from the same objects, and whatever is doubtful goes to the Python hook, which is always
 * right.  Configured by code_path(); off until then, and when code_path_switch(False).
 *
 *   - no policy, none ever locked in; detections judge past the cap (judge_past_cap());
 *     the sensor active, the thread not paused, the program's own input already read
 *     (hook.py's main_input empty)
 *   - no span in the OTel context; no call in flight and no child process span: the event
 *     belongs to SpanRegistry.startup (or .unattributed once a request was seen), a bucket
 *     with no span context, not ended, past its span cap for "code", with a late judge
 *   - compile: an exact ASCII str or bytes source of at most 16,384 characters with none of
 *     SUSPECT_WORDS in it (which includes everything translate._imports_module looks for),
 *     under an exact str pseudo name ("<string>", not ending in ".py");
 *     exec: a code object under such a name whose names (nested code too) hold none of
 *     SUSPECT_NAMES and whose bytecode has no IMPORT_NAME
 *   - the frame that made the call, found as origin.mark_library_origin finds it (past
 *     mcptrace's frames and generated "<...>" ones), is classified by origin.classify's own
 *     cache (origin._kinds, keyed by the filename: a file not in it yet goes to Python, which
 *     fills it) as the standard library (its module not one of origin.EXECUTORS) or an
 *     installed package of origin.MACHINERY: library machinery
 *
 * And an exec of a module's body named by its file, run by the importer (or a "/...py" file),
 * in that bucket (before its cap too: the recorder only counts start-up's imports) when the
 * sensor records imports: kept["import"] += 1, root.counts["import"] += 1 (module_import()).
 *
 * And the importer's marshal.loads of a module's bytecode, which the Python hook translates
 * to nothing (importer_marshal(): detections on, no policy, no ended span to adopt).
 *
 * Then it does what the Python hook would: translate's pairing of a compile with the exec
 * that follows (_last_compile[thread] = name; an exec pops it, and is nothing when it
 * matches), the importer's own "<module>" exec being nothing (translate.from_importer), and
 * the recorder's count: kept["code"] += 1, root.counts["code"] += 1, root.dropped += 1. */
typedef struct {
    int configured;
    int enabled;
    PyObject *registry;     /* SpanRegistry */
    PyObject *recorder;     /* Recorder */
    PyObject *last_compile; /* translate._last_compile: dict thread id -> name */
    PyObject *kinds;        /* origin._kinds: dict filename -> (kind, top) */
    PyObject *executors;    /* origin.EXECUTORS */
    PyObject *machinery;    /* origin.MACHINERY */
    PyObject *package_dir;  /* origin._PACKAGE_DIRECTORY */
    PyObject *own_files;    /* translate._OWN_FILES */
    PyObject *importer;     /* translate._IMPORTER_FILES (tuple of str) */
    PyObject *main_input;   /* hook.py's main_input list */
    PyObject *category;     /* "code" */
    PyObject *import_category; /* "import" when the sensor records imports, else NULL */
    PyObject *words;        /* tuple of bytes: a source holding one goes to Python */
    PyObject *names;        /* frozenset of str: a code object naming one goes to Python */
    PyObject *frozen;       /* "<frozen " */
    PyObject *py_suffix;    /* ".py" */
    long span_cap;
    int compile_index, exec_index, marshal_index;
    unsigned long long counted;
} CodePath;
static CodePath code = {.compile_index = -1, .exec_index = -1, .marshal_index = -1};
static PyObject *str_span_context, *str_ended, *str_late_detector, *str_in_flight, *str_process,
    *str_requests_seen, *str_startup, *str_unattributed, *str_name_key;

#define SOURCE_SCANNED 16384 /* translate._SOURCE_SCANNED */
#define MAX_FRAMES 64        /* origin._MAX_FRAMES */
#define MAX_CODE_DEPTH 8     /* nested code objects looked into; deeper goes to Python */

static int
starts_with(PyObject *text, PyObject *prefix)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(prefix);
    if (PyUnicode_GET_LENGTH(text) < length) {
        return 0;
    }
    return PyUnicode_Tailmatch(text, prefix, 0, length, -1) == 1;
}

static int
contains_bytes(const char *data, Py_ssize_t size, const char *word, Py_ssize_t length)
{
    if (length == 0 || length > size) {
        return length == 0;
    }
    for (Py_ssize_t at = 0; at + length <= size; at++) {
        if (data[at] == word[0] && memcmp(data + at, word, (size_t)length) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 = a short ASCII source with none of the words; 0 = doubtful. */
static int
plain_source(PyObject *source)
{
    const char *data;
    Py_ssize_t size;
    if (PyUnicode_CheckExact(source)) {
        if (!PyUnicode_IS_ASCII(source)) {
            return 0;
        }
        data = (const char *)PyUnicode_DATA(source);
        size = PyUnicode_GET_LENGTH(source);
    } else if (PyBytes_CheckExact(source)) {
        data = PyBytes_AS_STRING(source);
        size = PyBytes_GET_SIZE(source);
        for (Py_ssize_t at = 0; at < size; at++) {
            if ((unsigned char)data[at] >= 0x80) {
                return 0; /* an encoding declaration could make it anything */
            }
        }
    } else {
        return 0;
    }
    if (size > SOURCE_SCANNED) {
        return 0;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(code.words);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *word = PyTuple_GET_ITEM(code.words, i);
        if (contains_bytes(data, size, PyBytes_AS_STRING(word), PyBytes_GET_SIZE(word))) {
            return 0;
        }
    }
    return 1;
}

/* 1 = a code object (and the code nested in it) naming none of SUSPECT_NAMES and importing
   nothing; 0 = doubtful; -1 = error. */
static int
plain_code(PyCodeObject *object, int depth)
{
    if (depth > MAX_CODE_DEPTH) {
        return 0;
    }
    PyObject *names = object->co_names;
    if (names == NULL || !PyTuple_Check(names)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        int found = PySet_Contains(code.names, PyTuple_GET_ITEM(names, i));
        if (found != 0) {
            return found < 0 ? -1 : 0;
        }
    }
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *bytecode = PyCode_GetCode(object);
#else
    PyObject *bytecode = object->co_code;
    Py_XINCREF(bytecode);
#endif
    if (bytecode == NULL) {
        return -1;
    }
    int result = 1;
    if (!PyBytes_Check(bytecode)) {
        result = 0;
    } else {
        const unsigned char *units = (const unsigned char *)PyBytes_AS_STRING(bytecode);
        for (Py_ssize_t at = 0; at + 1 < PyBytes_GET_SIZE(bytecode); at += 2) {
            if (units[at] == IMPORT_NAME) {
                result = 0;
                break;
            }
        }
    }
    Py_DECREF(bytecode);
    PyObject *constants = object->co_consts;
    if (result != 1 || constants == NULL || !PyTuple_Check(constants)) {
        return constants == NULL || !PyTuple_Check(constants) ? 0 : result;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(constants); i++) {
        PyObject *constant = PyTuple_GET_ITEM(constants, i);
        if (PyCode_Check(constant)) {
            result = plain_code((PyCodeObject *)constant, depth + 1);
            if (result != 1) {
                return result;
            }
        }
    }
    return 1;
}

static PyObject *
frame_filename(PyFrameObject *frame)
{
    PyCodeObject *frame_code = PyFrame_GetCode(frame); /* new reference */
    PyObject *filename = frame_code->co_filename;
    Py_INCREF(filename);
    Py_DECREF(frame_code);
    return filename;
}

/* translate.from_importer(), from the frame that made the call: 1, 0 or -1. */
static int
called_by_importer(void)
{
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed */
    Py_XINCREF(frame);
    int result = 0;
    while (frame != NULL) {
        PyObject *filename = frame_filename(frame);
        int own = PySet_Contains(code.own_files, filename);
        if (own == 0) {
            for (Py_ssize_t i = 0; PyUnicode_Check(filename) && i < PyTuple_GET_SIZE(code.importer); i++) {
                PyObject *prefix = PyTuple_GET_ITEM(code.importer, i);
                if (PyUnicode_Check(prefix) && starts_with(filename, prefix)) {
                    result = 1;
                }
            }
        } else if (own < 0) {
            result = -1;
        }
        Py_DECREF(filename);
        if (own != 1) {
            break;
        }
        PyFrameObject *back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    Py_XDECREF(frame);
    return result;
}

static PyObject *
frame_module_name(PyFrameObject *frame)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *globals = PyFrame_GetGlobals(frame); /* new reference */
#else
    PyObject *globals = frame->f_globals;
    Py_XINCREF(globals);
#endif
    if (globals == NULL) {
        return NULL;
    }
    PyObject *name = PyDict_Check(globals) ? PyDict_GetItemWithError(globals, str_name_key) : NULL;
    Py_XINCREF(name);
    Py_DECREF(globals);
    return name; /* NULL, maybe with an error set */
}

/* origin.mark_library_origin's answer for a code event, when it is "library" and needs no
   more than the classification cache: 1; anything else (the tool's own code, another
   installed package, an executor, a file not classified yet): 0; -1 = error. */
static int
made_by_library(void)
{
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed: the frame that made the call */
    Py_XINCREF(frame);
    int depth = 1; /* origin.py counts from the Python hook's own frame */
    PyObject *filename = NULL;
    while (frame != NULL && depth < MAX_FRAMES) {
        filename = frame_filename(frame);
        if (!PyUnicode_Check(filename)) {
            break;
        }
        int skip = starts_with(filename, code.package_dir)
                   || (PyUnicode_GET_LENGTH(filename) > 0 && PyUnicode_READ_CHAR(filename, 0) == '<'
                       && !starts_with(filename, code.frozen));
        if (!skip) {
            break;
        }
        Py_CLEAR(filename);
        PyFrameObject *back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
        depth++;
    }
    int result = 0;
    if (frame == NULL || depth >= MAX_FRAMES || filename == NULL || !PyUnicode_Check(filename)) {
        goto done;
    }
    PyObject *kind = PyDict_GetItemWithError(code.kinds, filename); /* borrowed */
    if (kind == NULL) {
        result = PyErr_Occurred() ? -1 : 0; /* not classified yet: Python does, and caches it */
        goto done;
    }
    if (!PyTuple_CheckExact(kind) || PyTuple_GET_SIZE(kind) != 2
        || !PyUnicode_CheckExact(PyTuple_GET_ITEM(kind, 0))) {
        goto done;
    }
    PyObject *what = PyTuple_GET_ITEM(kind, 0), *top = PyTuple_GET_ITEM(kind, 1);
    if (PyUnicode_CompareWithASCIIString(what, "site") == 0) {
        result = PySet_Contains(code.machinery, top); /* another package: its tool's? Python */
        goto done;
    }
    if (PyUnicode_CompareWithASCIIString(what, "stdlib") != 0) {
        goto done; /* the tool's own code */
    }
    PyObject *module = frame_module_name(frame);
    if (module == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    if (PyUnicode_CheckExact(module) && PyUnicode_GET_LENGTH(module) > 0) {
        Py_ssize_t dot = PyUnicode_FindChar(module, '.', 0, PyUnicode_GET_LENGTH(module), 1);
        PyObject *head = NULL;
        if (dot == -1) {
            head = module;
            Py_INCREF(head);
        } else if (dot >= 0) {
            head = PyUnicode_Substring(module, 0, dot);
        }
        if (head == NULL) {
            result = -1;
        } else {
            int executor = PySet_Contains(code.executors, head);
            result = executor < 0 ? -1 : !executor; /* timeit, runpy, code: the tool's code */
            Py_DECREF(head);
        }
    }
    Py_DECREF(module);
done:
    Py_XDECREF(filename);
    Py_XDECREF(frame);
    return result;
}

/* The bucket the Python hook would attribute this event to, if it is start-up's or the
   unattributed one (a new reference), else NULL (maybe with an error set). */
static PyObject *
bucket_without_span(void)
{
    if (state.context_var != NULL) {
        PyObject *context = NULL;
        if (PyContextVar_Get(state.context_var, NULL, &context) < 0) {
            return NULL;
        }
        if (context != NULL) {
            PyObject *span = PyDict_Check(context) ? PyDict_GetItemWithError(context, state.span_key)
                                                   : Py_None;
            int none = span == NULL ? !PyErr_Occurred() : span == Py_None;
            Py_DECREF(context);
            if (!none) {
                return NULL; /* a span (or not a dict): the Python hook attributes it */
            }
        }
    }
    PyObject *in_flight = PyObject_GetAttr(code.registry, str_in_flight);
    if (in_flight == NULL) {
        return NULL;
    }
    int idle = PyDict_Check(in_flight) && PyDict_GET_SIZE(in_flight) == 0;
    Py_DECREF(in_flight);
    if (!idle) {
        return NULL;
    }
    PyObject *process = PyObject_GetAttr(code.registry, str_process);
    if (process == NULL) {
        return NULL;
    }
    Py_DECREF(process);
    if (process != Py_None) {
        return NULL;
    }
    PyObject *seen = PyObject_GetAttr(code.registry, str_requests_seen);
    if (seen == NULL) {
        return NULL;
    }
    Py_DECREF(seen);
    if (seen != Py_True && seen != Py_False) {
        return NULL;
    }
    return PyObject_GetAttr(code.registry, seen == Py_True ? str_unattributed : str_startup);
}

/* The bucket, if the recorder would only count a code event made for it now (the hook's
   decide-and-record steps for a non-suspect one): a new reference with *root set (a new
   reference too), else NULL. */
static PyObject *
counting_bucket(PyObject **root)
{
    PyObject *bucket = bucket_without_span();
    if (bucket == NULL) {
        return NULL;
    }
    PyObject *value = NULL, *kept = NULL;
    PyObject *late = PyObject_GetAttr(code.recorder, str_late_detector);
    if (late == NULL || late == Py_None || (!PyFunction_Check(late) && !PyMethod_Check(late))) {
        goto fail; /* no late judge (or not a plain one): only_counts, judged_only differ */
    }
    value = PyObject_GetAttr(bucket, str_span_context);
    if (value == NULL || value != Py_None) {
        goto fail;
    }
    Py_CLEAR(value);
    value = PyObject_GetAttr(bucket, str_ended);
    if (value == NULL || value != Py_False) {
        goto fail;
    }
    Py_CLEAR(value);
    kept = PyObject_GetAttr(bucket, str_kept);
    if (kept == NULL || !PyDict_CheckExact(kept)) {
        goto fail;
    }
    PyObject *seen = PyDict_GetItemWithError(kept, code.category);
    if (seen == NULL || !PyLong_CheckExact(seen)) {
        goto fail;
    }
    long seen_count = PyLong_AsLong(seen);
    if (seen_count == -1 && PyErr_Occurred()) {
        goto fail;
    }
    if (seen_count < code.span_cap) {
        goto fail; /* before the cap: recorded (or kept for the judges), by Python */
    }
    *root = PyObject_GetAttr(bucket, str_root);
    if (*root == NULL) {
        goto fail;
    }
    value = PyObject_GetAttr(*root, str_ended);
    if (value == NULL || value != Py_False) {
        Py_CLEAR(*root);
        goto fail;
    }
    Py_DECREF(value);
    Py_DECREF(kept);
    Py_DECREF(late);
    return bucket;
fail:
    Py_XDECREF(value);
    Py_XDECREF(kept);
    Py_XDECREF(late);
    Py_DECREF(bucket);
    return NULL;
}

/* An exec of a module's body named by its file (translate._exec_code: an import when the
   importer runs it or it is a "/...py" file), in start-up's (or the unattributed) bucket,
   where the recorder only counts imports: kept["import"] += 1, root.counts["import"] += 1.
   1 = answered, 0 = the Python hook decides, -1 = error. */
static int
module_import(PyObject *thread_id, PyCodeObject *object, PyObject *filename)
{
    if (PyUnicode_READ_CHAR(filename, 0) == '<') {
        return 0; /* "<x.py": no file, the importer's is nothing, another's code: Python */
    }
    PyObject *bucket = bucket_without_span();
    if (bucket == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int result = 0;
    PyObject *root = NULL, *value = NULL, *kept = NULL, *totals = NULL;
    value = PyObject_GetAttr(bucket, str_span_context);
    if (value == NULL || value != Py_None) {
        result = value == NULL ? -1 : 0;
        goto done;
    }
    root = PyObject_GetAttr(bucket, str_root);
    if (root == NULL) {
        result = -1;
        goto done;
    }
    Py_CLEAR(value);
    value = PyObject_GetAttr(root, str_ended);
    if (value == NULL || value != Py_False) {
        result = value == NULL ? -1 : 0; /* an ended root counts no more: Python decides */
        goto done;
    }
    PyObject *paired = PyDict_GetItemWithError(code.last_compile, thread_id); /* borrowed */
    if (paired == NULL && PyErr_Occurred()) {
        result = -1;
        goto done;
    }
    int same = paired != NULL && PyUnicode_Check(paired) && PyUnicode_Compare(paired, filename) == 0;
    if (PyErr_Occurred()) {
        result = -1;
        goto done;
    }
    if (!same) {
        int importer = called_by_importer();
        if (importer < 0) {
            result = -1;
            goto done;
        }
        Py_ssize_t length = PyUnicode_GET_LENGTH(filename);
        if (!importer
            && !(PyUnicode_READ_CHAR(filename, 0) == '/'
                 && PyUnicode_Tailmatch(filename, code.py_suffix, 0, length, 1) == 1)) {
            goto done; /* code named by a file, not a module imported: Python */
        }
    }
    (void)object;
    if (paired != NULL && PyDict_DelItem(code.last_compile, thread_id) < 0) {
        result = -1;
        goto done;
    }
    if (!same) {
        kept = PyObject_GetAttr(bucket, str_kept);
        totals = PyObject_GetAttr(root, str_counts);
        if (kept == NULL || totals == NULL || !PyDict_Check(kept) || !PyDict_Check(totals)
            || dict_add(totals, code.import_category, 1) < 0
            || dict_add(kept, code.import_category, 1) < 0) {
            result = -1;
            goto done;
        }
    }
    code.counted++;
    result = 1;
done:
    Py_XDECREF(totals);
    Py_XDECREF(kept);
    Py_XDECREF(value);
    Py_XDECREF(root);
    Py_DECREF(bucket);
    return result;
}

/* The importer unmarshalling a module's bytecode (translate._marshal: nothing when
   from_importer()), with detections on and no policy, outside any span or in a live one (the
   Python hook's attribution then changes nothing): 1 = nothing to do, 0 = Python decides. */
static int
importer_marshal(void)
{
    if (!code.enabled || state.pinned || !state.judge || state.context_var == NULL
        || !no_policy()) {
        return 0;
    }
    int watched = watched_thread(NULL);
    if (watched != 1) {
        return watched;
    }
    PyObject *context = NULL;
    if (PyContextVar_Get(state.context_var, NULL, &context) < 0) {
        return -1;
    }
    if (context != NULL) {
        int plain = 0;
        if (PyDict_Check(context)) {
            PyObject *span = PyDict_GetItemWithError(context, state.span_key);
            if (span == NULL || span == Py_None) {
                plain = !PyErr_Occurred();
            } else {
                plain = PyDict_GetItemWithError(state.by_span, span) != NULL; /* a live span */
            }
        }
        Py_DECREF(context);
        if (!plain) {
            return PyErr_Occurred() ? -1 : 0; /* an ended span: attribution adopts it */
        }
    }
    int importer = called_by_importer();
    if (importer == 1) {
        code.counted++;
    }
    return importer;
}

/* Step 4: 1 = answered as the Python hook would (counted, or nothing), 0 = the Python hook
   decides, -1 = error (the caller clears it and lets the Python hook decide). */
static int
library_code(int index, PyObject *args)
{
    if (!code.enabled || state.pinned || !state.judge || state.context_var == NULL
        || !no_policy() || !PyList_Check(code.main_input) || PyList_GET_SIZE(code.main_input) != 0
        || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1) {
        return 0;
    }
    int is_compile = index == code.compile_index;
    PyObject *filename;
    PyCodeObject *object = NULL;
    if (is_compile) {
        if (PyTuple_GET_SIZE(args) < 2 || !plain_source(PyTuple_GET_ITEM(args, 0))) {
            return 0;
        }
        filename = PyTuple_GET_ITEM(args, 1);
    } else {
        if (!PyCode_Check(PyTuple_GET_ITEM(args, 0))) {
            return 0;
        }
        object = (PyCodeObject *)PyTuple_GET_ITEM(args, 0);
        filename = object->co_filename;
    }
    if (!PyUnicode_CheckExact(filename) || PyUnicode_GET_LENGTH(filename) < 1) {
        return 0;
    }
    int module_body = 0;
    if (PyUnicode_READ_CHAR(filename, 0) != '<'
        || PyUnicode_Tailmatch(filename, code.py_suffix, 0, PY_SSIZE_T_MAX, 1) != 0) {
        if (is_compile || code.import_category == NULL
            || PyUnicode_CompareWithASCIIString(object->co_name, "<module>") != 0) {
            return 0; /* named by a file: kept for the judges (or the importer's) */
        }
        module_body = 1; /* a module's body run: an import, only counted at start-up */
    }
    PyObject *thread_id = NULL;
    int watched = watched_thread(&thread_id);
    if (watched != 1) {
        return watched;
    }
    int result = 0;
    PyObject *root = NULL, *bucket = NULL;
    if (module_body) {
        result = module_import(thread_id, object, filename);
        goto done;
    }
    bucket = counting_bucket(&root);
    if (bucket == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    int counts = 1;
    if (!is_compile) {
        PyObject *paired = PyDict_GetItemWithError(code.last_compile, thread_id); /* borrowed */
        if (paired == NULL && PyErr_Occurred()) {
            result = -1;
            goto done;
        }
        int same = paired != NULL && PyUnicode_Check(paired)
                   && PyUnicode_Compare(paired, filename) == 0;
        if (PyErr_Occurred()) {
            result = -1;
            goto done;
        }
        if (same) {
            counts = 0; /* the exec half of exec(source): its compile was the event */
        } else if (PyUnicode_CompareWithASCIIString(object->co_name, "<module>") == 0) {
            int importer = called_by_importer();
            if (importer != 0) {
                result = importer < 0 ? -1 : 0;
                goto done;
            }
        }
        if (counts) {
            int plain = plain_code(object, 0);
            if (plain != 1) {
                result = plain;
                goto done;
            }
        }
    }
    if (counts) {
        int library = made_by_library();
        if (library != 1) {
            result = library;
            goto done;
        }
    }
    /* decided: now what the Python hook does (nothing above changed any state) */
    if (is_compile) {
        if (PyDict_GET_SIZE(code.last_compile) > 1024) {
            PyDict_Clear(code.last_compile);
        }
        if (PyDict_SetItem(code.last_compile, thread_id, filename) < 0) {
            result = -1;
            goto done;
        }
    } else if (PyDict_Contains(code.last_compile, thread_id) == 1
               && PyDict_DelItem(code.last_compile, thread_id) < 0) {
        result = -1;
        goto done;
    }
    if (counts) {
        PyObject *kept = PyObject_GetAttr(bucket, str_kept);
        PyObject *totals = PyObject_GetAttr(root, str_counts);
        if (kept == NULL || totals == NULL || !PyDict_Check(kept) || !PyDict_Check(totals)
            || dict_add(kept, code.category, 1) < 0 || dict_add(totals, code.category, 1) < 0
            || attribute_add(root, str_dropped, 1) < 0) {
            Py_XDECREF(kept);
            Py_XDECREF(totals);
            result = -1; /* not expected: the counts are plain dicts and an int */
            goto done;
        }
        Py_DECREF(kept);
        Py_DECREF(totals);
    }
    code.counted++;
    result = 1;
done:
    Py_XDECREF(root);
    Py_XDECREF(bucket);
    Py_DECREF(thread_id);
    return result;
}

static int
fast_audit_hook(const char *event, PyObject *args, void *user_data)
{
    (void)user_data;
    int index = lookup(event); /* 1. reject */
    if (index < 0) {
        return 0;
    }
    PyThreadState *thread_state = PyThreadState_Get();
    if (PyThreadState_GetInterpreter(thread_state) != state.interp || is_finalizing()) {
        return 0;
    }
    if (index == state.open_index && !state.pinned && is_bytecode_read(args)) {
        return 0; /* 1b. the importer reading a module's bytecode */
    }
    Entry *entry = &state.entries[index];
    if (entry->category != NULL && state.context_var != NULL
        && (!state.judge || (index == state.open_index && is_cleared_open(args)))) {
        int counted = count_if_saturated(entry->category); /* 2. count only */
        if (counted == 1) {
            return 0;
        }
        if (counted < 0) {
            PyErr_Clear();
        }
    }
    if (code.configured && (index == code.compile_index || index == code.exec_index
                            || index == code.marshal_index)) {
        int answered = index == code.marshal_index ? importer_marshal()
                                                   : library_code(index, args); /* 4. */
        if (answered == 1) {
            return 0;
        }
        if (answered < 0) {
            PyErr_Clear();
        }
    }
    Candidate candidate = {NULL, NULL, NULL, 0, 0};
    if (index == state.open_index && state.pinned && entry->category != NULL) {
        int answered = allowed_repeat(args, entry->category, &candidate); /* 3. repeat */
        if (answered == 1) {
            Py_XDECREF(candidate.span_state);
            return 0;
        }
        if (answered < 0) {
            PyErr_Clear();
        }
    }
    /* As CPython does for Python hooks: no tracing or profiling inside the hook */
#if PY_VERSION_HEX >= 0x030B0000
    PyThreadState_EnterTracing(thread_state);
#else
    thread_state->tracing++;
    thread_state->cframe->use_tracing = 0;
#endif
    PyObject *result = PyObject_CallFunctionObjArgs(state.slow, entry->py_name, args, NULL);
#if PY_VERSION_HEX >= 0x030B0000
    PyThreadState_LeaveTracing(thread_state);
#else
    thread_state->cframe->use_tracing = (thread_state->c_tracefunc || thread_state->c_profilefunc);
    thread_state->tracing--;
#endif
    if (candidate.span_state != NULL) {
        if (result != NULL && result != Py_None) {
            admit(&candidate, result); /* the policy allowed it and may again */
        }
        Py_DECREF(candidate.span_state);
    }
    if (result == NULL) {
        /* The Python hook swallows everything but a policy denial, once it runs.  Calling it
           can fail before it runs: at the recursion limit (the program may open a file there:
           a C call needs no frame) or out of memory.  That error is ours, not the program's,
           unless a policy is locked in: then an event it could not judge is refused. */
        if (!state.pinned && (PyErr_ExceptionMatches(PyExc_RecursionError)
                              || PyErr_ExceptionMatches(PyExc_MemoryError))) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

static int
add_entry(Py_ssize_t index, PyObject *name, PyObject *category)
{
    const char *text = PyUnicode_AsUTF8(name);
    if (text == NULL) {
        return -1;
    }
    Entry *entry = &state.entries[index];
    entry->name = PyMem_RawMalloc(strlen(text) + 1);
    if (entry->name == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    strcpy(entry->name, text);
    entry->hash = fnv1a(text);
    Py_INCREF(name);
    entry->py_name = name;
    Py_XINCREF(category);
    entry->category = category;
    for (size_t slot = entry->hash & (TABLE_SIZE - 1);; slot = (slot + 1) & (TABLE_SIZE - 1)) {
        if (state.table[slot] == 0) {
            state.table[slot] = (int)index + 1;
            break;
        }
    }
    if (strcmp(text, "open") == 0) {
        state.open_index = (int)index;
    } else if (strcmp(text, "compile") == 0) {
        code.compile_index = (int)index;
    } else if (strcmp(text, "exec") == 0) {
        code.exec_index = (int)index;
    } else if (strcmp(text, "marshal.loads") == 0) {
        code.marshal_index = (int)index;
    }
    return 0;
}

PyDoc_STRVAR(install_doc,
"install(events, slow, sensor, paused, context_var, suppress_key, span_key, by_span, policy,\n"
"        log_cap)\n--\n\n"
"Add the C audit hook (once per process).  ``events`` maps each interesting event name to\n"
"the one category its observations always have, or None (then step 2 never applies).\n"
"``context_var`` may be None: the hook then only rejects, and calls ``slow`` for the rest.");

static PyObject *
install(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "install() takes exactly 10 arguments");
        return NULL;
    }
    if (state.installed) {
        PyErr_SetString(PyExc_RuntimeError, "the mcptrace audit hook is already installed");
        return NULL;
    }
    PyObject *events = args[0];
    if (!PyDict_Check(events) || !PyCallable_Check(args[1]) || !PyAnySet_Check(args[3])
        || !PyDict_Check(args[7]) || !PyList_Check(args[8])) {
        PyErr_SetString(PyExc_TypeError, "install(): unexpected argument types");
        return NULL;
    }
    if (PyDict_GET_SIZE(events) * 4 > TABLE_SIZE) {
        PyErr_SetString(PyExc_ValueError, "install(): too many events");
        return NULL;
    }
    if (args[4] != Py_None && !PyContextVar_CheckExact(args[4])) {
        PyErr_SetString(PyExc_TypeError, "install(): context_var must be a ContextVar or None");
        return NULL;
    }
    long log_cap = PyLong_AsLong(args[9]);
    if (log_cap == -1 && PyErr_Occurred()) {
        return NULL;
    }
    state.entries = PyMem_RawCalloc((size_t)PyDict_GET_SIZE(events) + 1, sizeof(Entry));
    if (state.entries == NULL) {
        return PyErr_NoMemory();
    }
    state.open_index = -1;
    Py_ssize_t position = 0, index = 0;
    PyObject *name, *category;
    while (PyDict_Next(events, &position, &name, &category)) {
        if (!PyUnicode_Check(name) || (category != Py_None && !PyUnicode_Check(category))) {
            PyErr_SetString(PyExc_TypeError, "install(): events must map str to str or None");
            return NULL;
        }
        if (add_entry(index, name, category == Py_None ? NULL : category) < 0) {
            return NULL;
        }
        index++;
    }
    state.interp = PyInterpreterState_Get();
    PyObject **slots[] = {&state.slow, &state.sensor, &state.paused, &state.context_var,
                          &state.suppress_key, &state.span_key, &state.by_span, &state.policy};
    int from[] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
        PyObject *value = args[from[i]];
        if (value == Py_None) {
            *slots[i] = NULL;
        } else {
            Py_INCREF(value);
            *slots[i] = value;
        }
    }
    state.log_cap = log_cap;
    state.installed = 1; /* before adding: the hook may run while it is being added */
    if (PySys_AddAuditHook(fast_audit_hook, NULL) < 0) {
        state.installed = 0;
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(link_doc,
"link(context_var, suppress_key, span_key)\n--\n\n"
"Hand over OTel's context once it is set up (the sensor starts before it loads): from then\n"
"on step 2 counts events of spans past their cap.  Only once; later calls are ignored.");

static PyObject *
link_context(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "link() takes exactly 3 arguments");
        return NULL;
    }
    if (!state.installed) {
        PyErr_SetString(PyExc_RuntimeError, "the mcptrace audit hook is not installed");
        return NULL;
    }
    if (!PyContextVar_CheckExact(args[0]) || !PyUnicode_Check(args[1]) || !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "link(): expected a ContextVar and two str keys");
        return NULL;
    }
    if (state.context_var != NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(args[1]);
    Py_INCREF(args[2]);
    state.suppress_key = args[1];
    state.span_key = args[2];
    Py_INCREF(args[0]);
    state.context_var = args[0]; /* last: step 2 runs only once this is set */
    Py_RETURN_NONE;
}

PyDoc_STRVAR(pin_doc,
"pin(decider=None)\n--\n\nA policy is locked in for the life of the process: from now on every\n"
"interesting event goes to the Python hook (no bytecode-read or count-only shortcut), but\n"
"for step 3: an open the Python hook told this module it may answer again, while\n"
"``policy[0]`` is ``decider``.  There is no way back.");

static PyObject *
pin(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "pin() takes at most 1 argument");
        return NULL;
    }
    state.pinned = 1;
    if (nargs == 1 && args[0] != Py_None && state.decider == NULL) {
        forget_allowed();
        Py_INCREF(args[0]);
        state.decider = args[0];
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(forget_doc,
"forget()\n--\n\nForget every allowed open step 3 remembers: the next of each goes to the\n"
"Python hook (the policy changed its mind: a violation, a tainted tool, a restore).");

static PyObject *
forget(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    forget_allowed();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(fast_allowed_doc,
"fast_allowed()\n--\n\nHow many opens step 3 answered as allowed repeats without calling the\n"
"Python hook.");

static PyObject *
fast_allowed_count(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(fast_allowed);
}

PyDoc_STRVAR(judge_past_cap_doc,
"judge_past_cap()\n--\n\nDetections judge events past the cap: step 2 then counts only opens\n"
"that no detection could be about; every other event goes to the Python hook.");

static PyObject *
judge_past_cap(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    state.judge = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(fast_counted_doc,
"fast_counted()\n--\n\nHow many events the C step 2 counted without calling the Python hook.");

static PyObject *
fast_counted(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(state.fast_counted);
}

PyDoc_STRVAR(drain_doc,
"drain()\n--\n\nAdd the counts steps 2 and 3 keep in C to their SpanStates' ``counts`` and\n"
"``dropped`` (read them only after this), and release those SpanStates; step 3 forgets\n"
"every allowed open (called when a root span ends, and in a forked child).");

static PyObject *
drain(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    forget_allowed(); /* a span ended (its verdicts go with it), or a forked child */
    if (drain_pending() < 0) {
        PyErr_SetString(PyExc_RuntimeError, "a pending sensor count could not be added");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(code_path_doc,
"code_path(registry, recorder, last_compile, kinds, executors, machinery, package_dir,\n"
"          own_files, importer, main_input, category, words, names, span_cap,\n"
"          import_category)\n--\n\n"
"Configure step 4 (library code at start-up, counted) with the Python objects whose tests it\n"
"repeats, and switch it on.  Once; later calls are ignored.");

static PyObject *
code_path(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 15) {
        PyErr_SetString(PyExc_TypeError, "code_path() takes exactly 15 arguments");
        return NULL;
    }
    if (!state.installed) {
        PyErr_SetString(PyExc_RuntimeError, "the mcptrace audit hook is not installed");
        return NULL;
    }
    if (!PyDict_CheckExact(args[2]) || !PyDict_CheckExact(args[3]) || !PyAnySet_Check(args[4])
        || !PyAnySet_Check(args[5]) || !PyUnicode_Check(args[6]) || !PyAnySet_Check(args[7])
        || !PyTuple_Check(args[8]) || !PyList_Check(args[9]) || !PyUnicode_Check(args[10])
        || !PyTuple_Check(args[11]) || !PyAnySet_Check(args[12])
        || (args[14] != Py_None && !PyUnicode_Check(args[14]))) {
        PyErr_SetString(PyExc_TypeError, "code_path(): unexpected argument types");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[11]); i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(args[11], i))) {
            PyErr_SetString(PyExc_TypeError, "code_path(): words must be bytes");
            return NULL;
        }
    }
    long span_cap = PyLong_AsLong(args[13]);
    if (span_cap == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (code.configured) {
        Py_RETURN_NONE;
    }
    PyObject *frozen = PyUnicode_FromString("<frozen ");
    PyObject *py_suffix = PyUnicode_FromString(".py");
    if (frozen == NULL || py_suffix == NULL) {
        Py_XDECREF(frozen);
        Py_XDECREF(py_suffix);
        return NULL;
    }
    PyObject **slots[] = {&code.registry, &code.recorder, &code.last_compile, &code.kinds,
                          &code.executors, &code.machinery, &code.package_dir, &code.own_files,
                          &code.importer, &code.main_input, &code.category, &code.words,
                          &code.names};
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        Py_INCREF(args[i]);
        *slots[i] = args[i];
    }
    code.frozen = frozen;
    code.py_suffix = py_suffix;
    if (args[14] != Py_None) {
        Py_INCREF(args[14]);
        code.import_category = args[14];
    }
    code.span_cap = span_cap;
    code.enabled = 1;
    code.configured = code.compile_index >= 0 && code.exec_index >= 0;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(code_path_switch_doc,
"code_path_switch(on)\n--\n\nSwitch step 4 on or off (off: every code event goes to the Python\n"
"hook, as before it existed; the differential tests compare the two).  Returns the old state.");

static PyObject *
code_path_switch(PyObject *module, PyObject *value)
{
    (void)module;
    int on = PyObject_IsTrue(value);
    if (on < 0) {
        return NULL;
    }
    int before = code.enabled;
    code.enabled = on;
    return PyBool_FromLong(before);
}

PyDoc_STRVAR(fast_code_doc,
"fast_code()\n--\n\nHow many code events step 4 answered (counted, or nothing: the exec half of\n"
"a compile) without calling the Python hook.");

static PyObject *
fast_code(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(code.counted);
}

static PyMethodDef methods[] = {
    {"install", (PyCFunction)(void (*)(void))install, METH_FASTCALL, install_doc},
    {"link", (PyCFunction)(void (*)(void))link_context, METH_FASTCALL, link_doc},
    {"fast_counted", fast_counted, METH_NOARGS, fast_counted_doc},
    {"pin", (PyCFunction)(void (*)(void))pin, METH_FASTCALL, pin_doc},
    {"forget", forget, METH_NOARGS, forget_doc},
    {"fast_allowed", fast_allowed_count, METH_NOARGS, fast_allowed_doc},
    {"judge_past_cap", judge_past_cap, METH_NOARGS, judge_past_cap_doc},
    {"drain", drain, METH_NOARGS, drain_doc},
    {"code_path", (PyCFunction)(void (*)(void))code_path, METH_FASTCALL, code_path_doc},
    {"code_path_switch", code_path_switch, METH_O, code_path_switch_doc},
    {"fast_code", fast_code, METH_NOARGS, fast_code_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_fasthook",
    .m_doc = "The sensor's audit hook, its hottest steps in C (see sensor/hook.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__fasthook(void)
{
    str_active = PyUnicode_InternFromString("active");
    str_kept = PyUnicode_InternFromString("kept");
    str_root = PyUnicode_InternFromString("root");
    str_counts = PyUnicode_InternFromString("counts");
    str_dropped = PyUnicode_InternFromString("dropped");
    str_span_context = PyUnicode_InternFromString("span_context");
    str_ended = PyUnicode_InternFromString("ended");
    str_late_detector = PyUnicode_InternFromString("late_detector");
    str_in_flight = PyUnicode_InternFromString("in_flight");
    str_process = PyUnicode_InternFromString("process");
    str_requests_seen = PyUnicode_InternFromString("requests_seen");
    str_startup = PyUnicode_InternFromString("startup");
    str_unattributed = PyUnicode_InternFromString("unattributed");
    str_name_key = PyUnicode_InternFromString("__name__");
    if (!str_active || !str_kept || !str_root || !str_counts || !str_dropped || !str_span_context
        || !str_ended || !str_late_detector || !str_in_flight || !str_process
        || !str_requests_seen || !str_startup || !str_unattributed || !str_name_key) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
