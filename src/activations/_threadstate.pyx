# cython: language_level=3, boundscheck=False, wraparound=False
"""How many threads a kernel call uses: the one place that decides it.

One small module that every SIMD level's kernel module cimports (`_threadstate.pxd`),
so the state below exists once per process whichever level is in use.  The Python
face is `_threads.py`.

Design:
 1. Process-wide count.  `set_num_threads(n)` stores n in one atomic int that every
    thread reads, so Python threads started before or after the call see it (OpenMP's
    own omp_set_num_threads reaches only the calling thread).  Until it is called the
    count is OpenMP's default, read once at import (so OMP_NUM_THREADS applies).
 2. Bounded.  No count above MAX_THREADS (`max_threads()`): the runtime cannot create
    tens of thousands of threads, and asking it to kills the process.
 3. Per-thread limits.  A thread-local limit (`thread_limit` in _threads.py) caps the
    calls made from one thread; and an OpenMP limit set in the calling thread below
    the default (threadpoolctl.threadpool_limits calls omp_set_num_threads) caps them
    too.  Both reach the calling thread only, as OpenMP's limits do.
 4. Fork-safe.  GNU libgomp cannot run a parallel region in a child forked after the
    parent ran one (the child waits for ever for threads that were not copied).  A
    pthread_atfork handler makes the child run every call on one thread until
    set_num_threads is called in the child.
 5. Robust under load.  A parallel region ends when its slowest thread ends; when
    other processes take every core, a team member is descheduled for a whole time
    slice (milliseconds) and the call waits for it.  So `default_num_threads` caps the
    count by the cores other processes leave free, from the instantaneous run-queue
    length (/proc/loadavg's running count, minus this process's own running threads,
    which include our spinning OpenMP workers), read at most once per
    LOAD_PROBE_INTERVAL_NS by whichever call comes first.  Where /proc is missing the
    cap is off.  `configured_num_threads` is the count without this cap
    (get_num_threads reports it).
"""

cdef extern from *:
    """
    #include <limits.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <time.h>
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_max_threads(void) { return 1; }
    #endif
    #if defined(__linux__)
    #include <dirent.h>
    #include <fcntl.h>
    #include <unistd.h>
    #define ACT_HAVE_PROC 1
    #else
    #define ACT_HAVE_PROC 0
    #endif
    #if defined(__unix__) || defined(__APPLE__)
    #include <pthread.h>
    #include <unistd.h>
    #define ACT_HAVE_ATFORK 1
    #else
    #define ACT_HAVE_ATFORK 0
    #endif

    #if defined(__GNUC__) || defined(__clang__)
    #define ACT_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
    #define ACT_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
    #define ACT_CLAIM(p, expected, v) __atomic_compare_exchange_n((p), &(expected), (v), 0, \\
                                           __ATOMIC_RELAXED, __ATOMIC_RELAXED)
    #define ACT_THREAD_LOCAL __thread
    #else
    #define ACT_LOAD(p) (*(volatile __typeof__(*(p))*)(p))
    #define ACT_STORE(p, v) (*(p) = (v))
    #define ACT_CLAIM(p, expected, v) ((*(p) = (v)), 1)
    #define ACT_THREAD_LOCAL __declspec(thread)
    #endif

    /* The load probe runs at most this often (10 ms: a sudden load costs at most
       this long of slow calls; a probe costs ~10-40 us, so under 0.5% of the time). */
    #define ACT_LOAD_PROBE_INTERVAL_NS 10000000LL

    static int act_requested = 0;        /* set_num_threads' n; 0: never called */
    static int act_omp_default = 1;      /* omp_get_max_threads() at import */
    static int act_max_threads = 64;     /* the bound, set at import */
    static int act_online_cpus = 1;
    static int act_forked_child = 0;     /* 1 in a forked child until set_num_threads */
    static int act_load_adaptive = 1;
    static long long act_last_probe_ns = LLONG_MIN / 2;
    static int act_free_cpus = INT_MAX;  /* the last probe's result */
    static ACT_THREAD_LOCAL int act_thread_limit = 0;   /* 0: none */

    static long long act_now_ns(void) {
        struct timespec ts;
    #if defined(CLOCK_MONOTONIC_COARSE)
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);   /* a vDSO read, ~5 ns */
    #else
        clock_gettime(CLOCK_MONOTONIC, &ts);
    #endif
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }

    #if ACT_HAVE_PROC
    static long act_read_small(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        long k = (long)read(fd, buf, size - 1);
        close(fd);
        if (k < 0) return -1;
        buf[k] = 0;
        return k;
    }

    /* Runnable tasks on the whole system now: the 4th field of /proc/loadavg,
       "running/total" (the kernel's nr_running, not an average). */
    static int act_running_system(void) {
        char buf[128];
        if (act_read_small("/proc/loadavg", buf, sizeof buf) <= 0) return -1;
        char *p = buf;
        for (int field = 0; field < 3; field++) {
            p = strchr(p, ' ');
            if (p == NULL) return -1;
            p++;
        }
        return atoi(p);
    }

    /* Runnable threads of this process (state R in /proc/self/task/<tid>/stat): the
       caller and our OpenMP workers, which spin for a while after each region. */
    static int act_running_self(void) {
        DIR *dir = opendir("/proc/self/task");
        if (dir == NULL) return -1;
        struct dirent *entry;
        int running = 0, seen = 0;
        char path[64], buf[512];
        while ((entry = readdir(dir)) != NULL && seen < 256) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            seen++;
            snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", entry->d_name);
            if (act_read_small(path, buf, sizeof buf) <= 0) continue;
            char *close_paren = strrchr(buf, ')');   /* the name may hold spaces */
            if (close_paren != NULL && close_paren[1] == ' ' && close_paren[2] == 'R')
                running++;
        }
        closedir(dir);
        return running;
    }
    #endif

    /* Cores other processes leave free now; INT_MAX when unknown. */
    static int act_probe_free_cpus(void) {
    #if ACT_HAVE_PROC
        int system = act_running_system();
        int self = act_running_self();
        if (system < 0 || self < 0) return INT_MAX;
        int others = system - (self > 0 ? self : 1);
        if (others < 0) others = 0;
        return act_online_cpus - others;
    #else
        return INT_MAX;
    #endif
    }

    static int act_configured_num_threads(void) {
    #ifndef _OPENMP
        return 1;   /* a serial build: set_num_threads only stores the count */
    #endif
        if (ACT_LOAD(&act_forked_child)) return 1;
        int n = ACT_LOAD(&act_requested);
        if (n <= 0) n = act_omp_default;
        int limit = act_thread_limit;
        if (limit > 0 && limit < n) n = limit;
        int icv = omp_get_max_threads();   /* the calling thread's OpenMP limit */
        if (icv < act_omp_default && icv < n) n = icv;
        if (n > act_max_threads) n = act_max_threads;
        return n < 1 ? 1 : n;
    }

    static int act_fit_to_load(int n) {
        if (n <= 1 || !ACT_LOAD(&act_load_adaptive)) return n;
        long long now = act_now_ns();
        long long last = ACT_LOAD(&act_last_probe_ns);
        /* one caller per interval probes (the one that wins the exchange) */
        if (now - last >= ACT_LOAD_PROBE_INTERVAL_NS && ACT_CLAIM(&act_last_probe_ns, last, now))
            ACT_STORE(&act_free_cpus, act_probe_free_cpus());
        int free_cpus = ACT_LOAD(&act_free_cpus);
        if (free_cpus < n) n = free_cpus < 1 ? 1 : free_cpus;
        return n;
    }

    static void act_after_fork_in_child(void) {
        act_forked_child = 1;
        act_last_probe_ns = LLONG_MIN / 2;
        act_free_cpus = INT_MAX;
    }

    static void act_threadstate_init(void) {
        act_omp_default = omp_get_max_threads();
        if (act_omp_default < 1) act_omp_default = 1;
        long online = 1;
    #if defined(_SC_NPROCESSORS_ONLN)
        online = sysconf(_SC_NPROCESSORS_ONLN);
    #endif
        act_online_cpus = online > 0 ? (int)online : 1;
        act_max_threads = 4 * act_online_cpus > 64 ? 4 * act_online_cpus : 64;
    #if ACT_HAVE_ATFORK
        pthread_atfork(NULL, NULL, act_after_fork_in_child);
    #endif
    }

    static void act_set_requested(int n) {
        ACT_STORE(&act_requested, n);
        ACT_STORE(&act_forked_child, 0);
    }
    static int act_get_requested(void) { return ACT_LOAD(&act_requested); }
    static int act_get_thread_limit(void) { return act_thread_limit; }
    static void act_set_thread_limit(int n) { act_thread_limit = n; }
    static int act_set_load_adaptive(int on) {
        int old = ACT_LOAD(&act_load_adaptive);
        ACT_STORE(&act_load_adaptive, on);
        ACT_STORE(&act_last_probe_ns, LLONG_MIN / 2);
        return old;
    }
    """
    int act_configured_num_threads() noexcept nogil
    int act_fit_to_load(int n) noexcept nogil
    int act_probe_free_cpus() noexcept nogil
    void act_threadstate_init() noexcept nogil
    void act_set_requested(int n) noexcept nogil
    int act_get_requested() noexcept nogil
    int act_get_thread_limit() noexcept nogil
    void act_set_thread_limit(int n) noexcept nogil
    int act_set_load_adaptive(int on) noexcept nogil
    int act_max_threads
    int act_omp_default
    int act_forked_child

act_threadstate_init()


cdef int configured_num_threads() noexcept nogil:
    """The count a call may use: set_num_threads' (or OpenMP's default), capped by the
    calling thread's limits, 1 in a forked child (see the design above)."""
    return act_configured_num_threads()


cdef int default_num_threads() noexcept nogil:
    """The thread count of a call that names none: `configured_num_threads` capped by
    the cores other processes leave free."""
    return act_fit_to_load(act_configured_num_threads())


cdef int bounded_num_threads(int n) noexcept nogil:
    """An explicit count n >= 1 (the C API's nthreads) made safe: at most
    `max_threads()` (more could fail to create threads), and 1 in a forked child."""
    if act_forked_child:
        return 1
    return n if n < act_max_threads else act_max_threads


def get_num_threads():
    return configured_num_threads()


def set_num_threads(int n):
    """Store the process-wide count (validated by _threads.set_num_threads)."""
    act_set_requested(n)


def requested_num_threads():
    """set_num_threads' value, or 0 when it was never called."""
    return act_get_requested()


def max_threads():
    """The largest count a call may use (4 x the online CPUs, at least 64)."""
    return act_max_threads


def openmp_default():
    """OpenMP's default count, read at import (OMP_NUM_THREADS applies)."""
    return act_omp_default


def in_forked_child():
    """Whether this process is a forked child still held at one thread."""
    return bool(act_forked_child)


def get_thread_limit():
    """The calling thread's limit (0: none)."""
    return act_get_thread_limit()


def set_thread_limit(int n):
    """Set the calling thread's limit (0: none); returns the previous one."""
    cdef int old = act_get_thread_limit()
    act_set_thread_limit(n)
    return old


def call_num_threads():
    """What a call made now from this thread would use (`default_num_threads`)."""
    return default_num_threads()


def free_cpus():
    """The load probe's answer now: cores other processes leave free (a large
    number when unknown)."""
    return act_probe_free_cpus()


def _set_load_adaptive(bint on):
    """Turn the load cap on or off (benchmarks); returns the previous setting."""
    return bool(act_set_load_adaptive(on))
