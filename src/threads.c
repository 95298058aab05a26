/* threads.c — the fork-join pool behind plm_parallel_for (see threads.h).
 *
 * One dispatch = one "generation". The caller publishes (fn, arg, n_tasks),
 * opens a claim word for the new generation and wakes the workers; then every
 * participant, the caller included, claims task indices one at a time with a
 * compare-and-swap on the claim word and runs them. The caller returns once
 * `done` reaches n_tasks.
 *
 * Why a claim word instead of "worker i runs task i": the caller never waits
 * for a particular worker. A worker that was never started (the JS host failed
 * to create it), is slow to wake up, or is descheduled simply claims nothing
 * and the others (at worst the caller alone) run all the tasks. So a missing
 * worker cannot deadlock a dispatch, and uneven tasks balance themselves.
 *
 * The claim word packs (generation << 32 | next task index). A participant
 * reads the claim word, then the job fields, then claims with a CAS that only
 * succeeds if the claim word is still exactly what it read. When a dispatch
 * ends the caller "closes" its generation (index = 0xFFFFFFFF) before the next
 * dispatch overwrites the job fields, so a late worker still holding an old
 * snapshot can never run a task of the next generation with stale fields.
 *
 * Sleeping: workers spin briefly on the generation counter, then block
 * (native: condition variable; wasm: memory.atomic.wait32 on the counter).
 * A `sleepers` count (Dekker-style, sequentially consistent) lets the caller
 * skip the wake-up call when everybody is still spinning.
 *
 * Builds:
 *   native              pthreads started by plm_threads_init(n)
 *   PLM_WASM_THREADS    the JS host starts workers that call plm_thread_worker(i)
 *   other wasm builds   single thread: tasks run inline
 * No allocation, no thread-local storage.
 */
#include "threads.h"

#include <stdint.h>

#include "common.h"

#if !defined(__wasm__)
#define PLM_NATIVE_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#endif

#define PLM_MAX_THREADS 64
#define CLAIM_CLOSED 0xFFFFFFFFu

/* Spin iterations before a worker goes to sleep / the caller starts yielding. */
#if defined(PLM_WASM_THREADS)
#define WORKER_SPIN 20000
#else
#define WORKER_SPIN 2000
#endif

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

static struct {
    uint64_t claim;     /* generation << 32 | next task index */
    uint32_t gen;       /* bumped once per dispatch; workers wait on it */
    int32_t done;       /* tasks finished in the current dispatch */
    int32_t sleepers;   /* workers blocked (or about to block) on gen */
    plm_task_fn fn;     /* the current job (read only between claim load and CAS) */
    void *arg;
    int32_t n_tasks;
    int32_t n_threads;  /* configured thread count, caller included (>= 1) */
    int32_t started;    /* workers that entered their loop */
    int32_t stop;       /* native: workers exit */
    int32_t in_dispatch; /* a dispatch is running (nested calls run inline) */
} pool = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};

#if defined(PLM_NATIVE_THREADS) || defined(PLM_WASM_THREADS)
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claim and run tasks of the current generation until none is left. */
static void run_tasks(void) {
    for (;;) {
        uint64_t c = LOAD(&pool.claim);
        uint32_t idx = (uint32_t)c;
        plm_task_fn fn = LOAD(&pool.fn);
        void *arg = LOAD(&pool.arg);
        int32_t n = LOAD(&pool.n_tasks);
        if (idx >= (uint32_t)n) return; /* all claimed, or closed */
        if (!__atomic_compare_exchange_n(&pool.claim, &c, c + 1, 0, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST))
            continue;
        fn(arg, (int)idx, n);
        ADD(&pool.done, 1);
    }
}

#endif

/* ------------------------------------------------------------ sleeping */
#if defined(PLM_NATIVE_THREADS)
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static pthread_t workers[PLM_MAX_THREADS];
static int n_workers; /* pthreads currently running */

static void sleep_while_gen_is(uint32_t seen) {
    pthread_mutex_lock(&wake_mu);
    ADD(&pool.sleepers, 1);
    while (LOAD(&pool.gen) == seen && !LOAD(&pool.stop)) pthread_cond_wait(&wake_cv, &wake_mu);
    ADD(&pool.sleepers, -1);
    pthread_mutex_unlock(&wake_mu);
}

static void wake_workers(void) {
    if (LOAD(&pool.sleepers) == 0) return;
    pthread_mutex_lock(&wake_mu);
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}
#elif defined(PLM_WASM_THREADS)
static void sleep_while_gen_is(uint32_t seen) {
    ADD(&pool.sleepers, 1);
    if (LOAD(&pool.gen) == seen)
        __builtin_wasm_memory_atomic_wait32((int32_t *)&pool.gen, (int32_t)seen, -1);
    ADD(&pool.sleepers, -1);
}

static void wake_workers(void) {
    if (LOAD(&pool.sleepers) == 0) return;
    __builtin_wasm_memory_atomic_notify((int32_t *)&pool.gen, 0xFFFFFFFFu);
}
#endif

#if defined(PLM_NATIVE_THREADS) || defined(PLM_WASM_THREADS)
/* The body of every worker: wait for a new generation, help, repeat. */
static void worker_loop(void) {
    uint32_t seen = LOAD(&pool.gen);
    ADD(&pool.started, 1);
    for (;;) {
        int spins = 0;
        while (LOAD(&pool.gen) == seen && !LOAD(&pool.stop)) {
            if (++spins < WORKER_SPIN)
                cpu_relax();
            else
                sleep_while_gen_is(seen);
        }
        if (LOAD(&pool.stop)) break;
        seen = LOAD(&pool.gen);
        run_tasks();
    }
    ADD(&pool.started, -1);
}
#endif

/* ------------------------------------------------------------ dispatch */
static int workers_available(void) {
#if defined(PLM_NATIVE_THREADS) || defined(PLM_WASM_THREADS)
    return LOAD(&pool.started) > 0;
#else
    return 0;
#endif
}

void plm_parallel_for(int n_tasks, plm_task_fn fn, void *arg) {
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || pool.n_threads <= 1 || LOAD(&pool.in_dispatch) || !workers_available()) {
        for (int i = 0; i < n_tasks; i++) fn(arg, i, n_tasks);
        return;
    }
#if defined(PLM_NATIVE_THREADS) || defined(PLM_WASM_THREADS)
    STORE(&pool.in_dispatch, 1);
    uint32_t g = LOAD(&pool.gen) + 1;
    STORE(&pool.done, 0);
    STORE(&pool.fn, fn);
    STORE(&pool.arg, arg);
    STORE(&pool.n_tasks, (int32_t)n_tasks);
    STORE(&pool.claim, (uint64_t)g << 32);
    STORE(&pool.gen, g);
    wake_workers();

    run_tasks();
    for (int spins = 0; LOAD(&pool.done) < n_tasks; spins++) {
#if defined(PLM_NATIVE_THREADS)
        if (spins > WORKER_SPIN)
            sched_yield();
        else
#endif
            cpu_relax();
    }
    /* Close this generation before anyone may overwrite the job fields. */
    STORE(&pool.claim, ((uint64_t)g << 32) | CLAIM_CLOSED);
    STORE(&pool.in_dispatch, 0);
#endif
}

int plm_threads_count(void) {
#if defined(PLM_WASM_THREADS)
    int started = LOAD(&pool.started);
    return pool.n_threads <= 1 ? 1 : PLM_MIN(pool.n_threads, 1 + started);
#else
    return pool.n_threads;
#endif
}

/* ------------------------------------------------------------ public API */
#if defined(PLM_NATIVE_THREADS)
static void *worker_main(void *unused) {
    (void)unused;
    worker_loop();
    return NULL;
}

static void stop_workers(void) {
    if (n_workers == 0) return;
    STORE(&pool.stop, 1);
    pthread_mutex_lock(&wake_mu);
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
    for (int i = 0; i < n_workers; i++) pthread_join(workers[i], NULL);
    n_workers = 0;
    STORE(&pool.stop, 0);
}

int plm_threads_init(int n_threads) {
    if (pool.in_dispatch) return plm_fail(PLM_E_STATE, "plm_threads_init called from a task");
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > PLM_MAX_THREADS) n_threads = PLM_MAX_THREADS;
    stop_workers();
    pool.n_threads = 1;
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0) {
            stop_workers();
            return plm_fail(PLM_E_NOMEM, "could not start worker thread %d of %d", i + 1,
                            n_threads - 1);
        }
        n_workers++;
    }
    pool.n_threads = n_threads;
    /* Wait until every worker runs its loop, so that plm_parallel_for uses them at once. */
    while (LOAD(&pool.started) < n_workers) sched_yield();
    return n_threads;
}

void plm_thread_worker(int index) {
    (void)index; /* native workers are pthreads started by plm_threads_init */
}

int plm_threads_started(void) { return LOAD(&pool.started); }

#elif defined(PLM_WASM_THREADS)
int plm_threads_init(int n_threads) {
    if (pool.in_dispatch) return plm_fail(PLM_E_STATE, "plm_threads_init called from a task");
    if (n_threads <= 0) n_threads = 1;
    if (n_threads > PLM_MAX_THREADS) n_threads = PLM_MAX_THREADS;
    pool.n_threads = n_threads;
    return n_threads;
}

/* Called by each host worker (index 1..n-1) on its own stack; never returns. */
void plm_thread_worker(int index) {
    (void)index;
    worker_loop();
}

int plm_threads_started(void) { return LOAD(&pool.started); }

#else /* single-threaded wasm */
int plm_threads_init(int n_threads) {
    (void)n_threads;
    pool.n_threads = 1;
    return 1;
}

void plm_thread_worker(int index) { (void)index; }

int plm_threads_started(void) { return 0; }
#endif

int plm_threads_get(void) { return pool.n_threads; }
