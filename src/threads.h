/* threads.h — a tiny fork-join thread pool for the kernels.
 *
 * The pool is deliberately minimal so that it works in three settings:
 *   - native builds: worker threads are pthreads created by plm_threads_init();
 *   - WASM with shared memory (build "simd-mt"): the JS host creates Web
 *     Workers / worker_threads, each instantiates the same module on the same
 *     shared memory, sets its own stack and calls plm_thread_worker(i), which
 *     never returns;
 *   - single-threaded builds: plm_parallel_for runs the tasks inline.
 * Workers never allocate memory: everything a task needs is passed in `arg`.
 */
#ifndef PLM_THREADS_H
#define PLM_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*plm_task_fn)(void *arg, int task, int n_tasks);

/* Run fn(arg, i, n_tasks) for i in [0, n_tasks), spread over the pool, and
 * return when all are done. The calling thread takes part. Not reentrant:
 * tasks must not call plm_parallel_for. */
void plm_parallel_for(int n_tasks, plm_task_fn fn, void *arg);

/* Number of threads that take part in plm_parallel_for (>= 1). */
int plm_threads_count(void);

#ifdef __cplusplus
}
#endif
#endif
